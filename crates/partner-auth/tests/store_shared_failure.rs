//! A failed token request is shared through the store for its cool-down: the processes
//! waiting on the one that made it take its outcome instead of each asking in turn (found
//! by review: a failing provider cost one request per waiting process, one after another).
//! A failure that never reached the provider is not shared.
//!
//! All traffic is on loopback. A source stands for a process; the sources share one
//! in-memory store, and the first one's request is held at the server until the second is
//! seen waiting for its lease.

mod common;
#[path = "common/memory_store.rs"]
mod memory_store;

use std::sync::Arc;
use std::time::Duration;

use common::scripted::{Gate, Reply, Scripted, eventually};
use memory_store::MemoryStore;
use partner_auth::{CachePolicy, ErrorKind, Provider, RetryPolicy, TokenSource};
use serde_json::json;

fn source(server: &Scripted, store: &Arc<MemoryStore>) -> TokenSource {
    TokenSource::builder(common::client(Provider::Dinie, server.base_url()))
        .store(store.clone())
        .policy(
            CachePolicy::default()
                .with_failure_cooldown(Duration::from_secs(30))
                .with_retry(RetryPolicy::none()),
        )
        .build()
        .unwrap()
}

/// Starts `first`'s fetch (its request held at the server by `gate`), then `others`'
/// fetches, each waiting for `first`'s lease; lets the request go, and returns every
/// outcome, `first`'s first.
async fn one_holder_and_waiters(
    server: &Scripted,
    gate: &Gate,
    store: &Arc<MemoryStore>,
    waiters: usize,
) -> Vec<Result<String, partner_auth::Error>> {
    let sources: Vec<TokenSource> = (0..=waiters).map(|_| source(server, store)).collect();
    let fetch = |source: &TokenSource| {
        let source = source.clone();
        tokio::spawn(async move { source.token().await.map(|t| t.expose_secret().to_owned()) })
    };
    let first = fetch(&sources[0]);
    eventually("the first request reaches the server", || {
        server.count() == 1
    })
    .await;
    let rest: Vec<_> = sources[1..].iter().map(fetch).collect();
    eventually("the others wait for the lease", || {
        sources[1..].iter().all(|s| s.stats().lease_waits == 1)
    })
    .await;
    gate.open();
    let mut outcomes = vec![first.await.unwrap()];
    for task in rest {
        outcomes.push(task.await.unwrap());
    }
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_waiting_on_a_failed_request_take_its_error_instead_of_asking_in_turn() {
    let gate = Gate::new();
    let problem = json!({
        "type": "about:blank", "title": "Too Many Requests", "status": 429,
        "detail": "slow down", "code": "rate_limit_exceeded",
    });
    let server = Scripted::sequence(
        vec![
            Reply::json(429, problem)
                .header("retry-after", "40")
                .held(&gate),
        ],
        Reply::token("tok-later", 3600),
    )
    .await;
    let store = Arc::new(MemoryStore::default());
    let outcomes = one_holder_and_waiters(&server, &gate, &store, 3).await;
    assert_eq!(
        server.count(),
        1,
        "one request for the four processes: {outcomes:?}"
    );
    for outcome in &outcomes {
        let error = outcome.as_ref().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::RateLimited, "{error}");
        assert_eq!(error.status().map(|s| s.as_u16()), Some(429));
        assert_eq!(error.code(), Some("rate_limit_exceeded"));
        // The wait the provider asked for, less what has passed.
        let wait = error.retry_after().unwrap();
        assert!(
            wait > Duration::from_secs(35) && wait <= Duration::from_secs(40),
            "{wait:?}"
        );
    }
    let shared = outcomes[1].as_ref().unwrap_err();
    let text = shared.to_string();
    assert!(text.contains("token store keeps that answer"), "{text}");
    // It says how to ask anyway.
    assert!(shared.hint().contains("cache clear"), "{}", shared.hint());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_are_shared_too() {
    let gate = Gate::new();
    let problem = json!({
        "type": "about:blank", "title": "Unauthorized", "status": 401,
        "detail": "bad credentials", "code": "invalid_credentials",
    });
    let server = Scripted::sequence(
        vec![Reply::json(401, problem).held(&gate)],
        Reply::token("tok-later", 3600),
    )
    .await;
    let store = Arc::new(MemoryStore::default());
    let outcomes = one_holder_and_waiters(&server, &gate, &store, 2).await;
    assert_eq!(server.count(), 1, "{outcomes:?}");
    for outcome in &outcomes {
        let error = outcome.as_ref().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidCredentials, "{error}");
    }
}

/// A request that never reached the provider (its connection reset) may be this process's
/// own trouble: the next process asks for itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_never_reached_the_provider_is_not_shared() {
    let gate = Gate::new();
    let server = Scripted::sequence(
        vec![Reply::close().held(&gate)],
        Reply::token("tok-later", 3600),
    )
    .await;
    let store = Arc::new(MemoryStore::default());
    let outcomes = one_holder_and_waiters(&server, &gate, &store, 1).await;
    assert!(outcomes[0].is_err(), "{outcomes:?}");
    assert_eq!(outcomes[1].as_deref().ok(), Some("tok-later"));
    assert_eq!(server.count(), 2);
}

/// shared.rs: past its bound (a lease time and a fetch) a waiter takes the lease's holder
/// for stuck and fetches itself. With a failure kept for the cool-down, that fetch asked
/// the provider anyway, the request the kept failure is there to spare (left out by an
/// earlier session): it takes the kept failure as every lease winner does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_past_its_bound_takes_the_kept_failure_too() {
    use partner_auth::store::{StorePolicy, TokenStore};
    let server = Scripted::sequence(
        vec![Reply::json(
            503,
            json!({"type": "about:blank", "title": "Service Unavailable", "status": 503}),
        )],
        Reply::token("tok-later", 3600),
    )
    .await;
    let store = Arc::new(MemoryStore::default());
    let first = source(&server, &store).token().await.unwrap_err();
    assert_eq!(first.kind(), ErrorKind::ProviderUnavailable, "{first}");
    assert_eq!(server.count(), 1);

    // Another process holds the lease and never writes (stuck): the next one waits its
    // bound out, a 100 ms lease time and a fetch's 200 ms deadline.
    let waiter = TokenSource::builder(common::client(Provider::Dinie, server.base_url()))
        .store(store.clone())
        .store_policy(StorePolicy::default().with_lease_ttl(Duration::from_millis(100)))
        .policy(
            CachePolicy::default()
                .with_failure_cooldown(Duration::from_secs(30))
                .with_retry(RetryPolicy::none().with_deadline(Duration::from_millis(200))),
        )
        .build()
        .unwrap();
    let key = waiter.store_key().unwrap().to_owned();
    assert!(
        store
            .try_lease(&key, "stuck", Duration::from_secs(600))
            .await
            .unwrap()
    );
    let outcome = waiter.token().await;
    assert_eq!(waiter.stats().lease_waits, 1, "it waited for the lease");
    assert_eq!(
        server.count(),
        1,
        "the waiter asked within the kept cool-down: {outcome:?}"
    );
    let error = outcome.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ProviderUnavailable, "{error}");
    assert!(
        error.to_string().contains("token store keeps that answer"),
        "{error}"
    );
}

/// The README: a failure kept in the store is held for its cool-down, or as long as the
/// provider asked, up to an hour: a 503 or 429 asking for a day (`Retry-After: 86400`) is
/// written with an hour's time to live, and another process is told to wait at most that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_failure_is_held_at_most_an_hour_when_the_provider_asks_for_a_day() {
    const HOUR: Duration = Duration::from_secs(60 * 60);
    for (status, title, kind) in [
        (503, "Service Unavailable", ErrorKind::ProviderUnavailable),
        (429, "Too Many Requests", ErrorKind::RateLimited),
    ] {
        let problem = json!({"type": "about:blank", "title": title, "status": status});
        let server = Scripted::sequence(
            vec![Reply::json(status, problem).header("retry-after", "86400")],
            Reply::token("tok-later", 3600),
        )
        .await;
        let store = Arc::new(MemoryStore::default());
        let first = source(&server, &store);
        let error = first.token().await.unwrap_err();
        assert_eq!(error.kind(), kind, "{error}");
        let token_key = first.store_key().unwrap();
        let kept: Vec<(String, Duration)> = store
            .put_ttls
            .lock()
            .unwrap()
            .iter()
            .filter(|(key, _)| key != token_key)
            .cloned()
            .collect();
        assert_eq!(
            kept.len(),
            1,
            "{status}: the failure is kept once: {kept:?}"
        );
        let ttl = kept[0].1;
        assert!(
            ttl <= HOUR && ttl > HOUR - Duration::from_secs(60),
            "{status}: a day asked for was kept {ttl:?}, not an hour"
        );

        // Another process takes it, told to wait no more than the hour.
        let other = source(&server, &store).token().await.unwrap_err();
        assert_eq!(
            server.count(),
            1,
            "{status}: the kept failure was not taken"
        );
        assert!(
            other.to_string().contains("token store keeps that answer"),
            "{other}"
        );
        let wait = other.retry_after().unwrap();
        assert!(
            wait <= HOUR && wait > HOUR - Duration::from_secs(60),
            "{status}: {wait:?}"
        );
    }
}
