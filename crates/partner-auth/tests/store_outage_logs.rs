//! What a source logs about a store whose token writes keep failing (found by review).
//! Needs feature `file-store`:
//! `cargo test -p partner-auth --features file-store --test store_outage_logs`.
//!
//! One test in this file: a thread-local subscriber and callsites hit by other tests on
//! other threads at the same time do not mix.
#![cfg(feature = "file-store")]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::scripted::{Reply, Scripted};
use partner_auth::store::{FileStore, StorePolicy, TokenStore};
use partner_auth::time::{InstantSleep, ManualClock};
use partner_auth::{Provider, TokenSource};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt as _};

#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

struct Message<'a>(&'a mut String);

impl Visit for Message<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.push_str(&format!("{value:?}"));
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Warnings {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if *event.metadata().level() == tracing::Level::WARN {
            let mut message = String::new();
            event.record(&mut Message(&mut message));
            self.0.lock().unwrap().push(message);
        }
    }
}

/// README: "logs one warning per outage (an outage lasts until the kind of operation that
/// failed works again, among reads, token writes and leases: a store that answers reads
/// and leases but refuses token writes is one outage)".
///
/// A directory with a file in it at the credential's token path: every token write fails,
/// for good, while reads and leases work. Before, a lease that worked was taken as writes
/// working again: "the token store failed" and "the token store answers again" once per
/// `outage_backoff`, forever (5 and 4 of them here).
#[tokio::test(flavor = "current_thread")]
async fn token_writes_that_always_fail_are_one_outage_and_one_warning() {
    let warnings = Warnings::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(warnings.clone()));
    let n = Arc::new(AtomicUsize::new(0));
    let server = Scripted::respond(move |_| {
        let i = n.fetch_add(1, Ordering::SeqCst) + 1;
        Reply::token(&format!("tok-{i}"), 3600)
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStore::new(dir.path().join("tokens")).unwrap());
    let clock = ManualClock::new();
    let source = TokenSource::builder(common::client(Provider::Standard, server.base_url()))
        .store(Arc::clone(&store) as Arc<dyn TokenStore>)
        .store_policy(StorePolicy::default().with_outage_backoff(Duration::from_secs(5)))
        .time_source(clock.clone())
        .sleep(InstantSleep::new(clock.clone()))
        .build()
        .unwrap();
    // Whatever put it there (a mistaken mkdir, a restore): a directory at the token path.
    let key = source.store_key().unwrap().to_owned();
    let planted = dir.path().join("tokens").join(format!("{key}.token"));
    std::fs::create_dir(&planted).unwrap();
    std::fs::write(planted.join("kept"), b"not the store's").unwrap();
    for _ in 0..5 {
        let token = source.token().await.unwrap();
        assert!(source.invalidate(&token));
        clock.advance(Duration::from_secs(6));
    }
    let stats = source.stats();
    let warnings = warnings.0.lock().unwrap().clone();
    let failed = warnings
        .iter()
        .filter(|w| w.contains("the token store failed"))
        .count();
    let again = warnings
        .iter()
        .filter(|w| w.contains("the token store answers again"))
        .count();
    assert!(stats.store_errors >= 5, "{stats:?}");
    assert_eq!(
        (failed, again),
        (1, 0),
        "one outage of token writes (every write failed; {} store errors), yet {} \
         warnings in all:\n{}",
        stats.store_errors,
        warnings.len(),
        warnings.join("\n")
    );
}
