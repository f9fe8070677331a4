//! What the token store logs, captured at TRACE: one warning per outage, and never a
//! token, a client secret or a Redis password.
//!
//! One test in this file: a thread-local subscriber and callsites hit by other tests on
//! other threads at the same time do not mix (tracing caches each callsite's interest).

#[path = "support/captured_logs.rs"]
mod captured_logs;

use std::sync::Arc;
use std::time::Duration;

use captured_logs::capture_logs;
use partner_auth::store::{RedisStore, StorePolicy};
use partner_auth::{Provider, TokenSource};
use partner_sandbox::Sandbox;
use secrecy::ExposeSecret as _;
use workspace_tests::redis_server::RedisServer;
use workspace_tests::sandbox_client::{EndpointExt as _, SandboxExt as _};

const PROVIDER: Provider = Provider::Cobee;

#[tokio::test]
async fn store_logs_show_no_secret_and_one_warning_per_outage() {
    use partner_auth::time::{InstantSleep, ManualClock};
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let sandbox = Sandbox::start().await.unwrap();
    let (logs, _guard) = capture_logs();
    let clock = ManualClock::new();
    let url = server.url();
    let build = || {
        TokenSource::builder(sandbox.client_builder(PROVIDER).build().unwrap())
            .store(Arc::new(RedisStore::new(&url).unwrap()))
            .store_policy(StorePolicy::default().with_outage_backoff(Duration::from_secs(5)))
            .time_source(clock.clone())
            .sleep(InstantSleep::new(clock.clone()))
            .build()
            .unwrap()
    };
    let (one, two) = (build(), build());
    let token = one.token().await.unwrap();
    let read = two.token().await.unwrap();
    assert_eq!(read.expose_secret(), token.expose_secret());
    assert!(two.invalidate(&read));
    two.token().await.unwrap();

    server.stop(); // a blocking moment on this test's only thread
    for _ in 0..5 {
        one.refresh().await.unwrap(); // the store is down: fetched here
    }
    clock.advance(Duration::from_secs(6)); // past the back-off: the store is tried again
    one.refresh().await.unwrap();
    let stats = one.stats();
    assert_eq!(stats.store_errors, 2, "{stats:?}");
    server.restart();
    clock.advance(Duration::from_secs(6));
    // The connection manager may need one failed command to notice the restart.
    let mut shared_again = false;
    for _ in 0..3 {
        one.refresh().await.unwrap();
        clock.advance(Duration::from_secs(6));
        let written = one.cached().unwrap();
        let reader = build();
        if reader.token().await.unwrap().expose_secret() == written.expose_secret() {
            shared_again = true;
            break;
        }
    }
    assert!(shared_again, "sharing resumed after the restart");

    // A wrong password: one warning, without the password.
    let wrong = TokenSource::builder(sandbox.client_builder(PROVIDER).build().unwrap())
        .store(Arc::new(
            RedisStore::new(&url.replace("redis://", "redis://:wrong-pw-0xDEAD@")).unwrap(),
        ))
        .build()
        .unwrap();
    wrong.token().await.unwrap();
    assert_eq!(wrong.stats().store_errors, 1);

    let text = logs.text();
    assert!(!text.contains("wrong-pw"), "{text}");
    let warnings = text.matches("the token store failed").count();
    assert_eq!(
        warnings, 2,
        "one warning for the outage, one for the password:\n{text}"
    );
    assert_eq!(
        text.matches("the token store answers again").count(),
        1,
        "{text}"
    );
    let credentials = sandbox.endpoint(PROVIDER).credentials();
    for needle in [
        token.expose_secret(),
        credentials.client_secret().expose_secret(),
    ] {
        assert!(!text.contains(needle), "a secret in the logs:\n{text}");
    }
}
