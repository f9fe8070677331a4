//! Rate limits and the failure cool-down, over real HTTP on loopback, on a `ManualClock`
//! whose sleeps return at once (no test races a timer). Each test but the last two came
//! from an adversarial review, and failed on the code before its fix.

mod common;
#[path = "common/memory_store.rs"]
mod memory_store;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::on_manual_clock;
use common::scripted::{Gate, Reply, Scripted, eventually};
use memory_store::MemoryStore;
use partner_auth::store::{StoreEntry, StoreError, TokenStore};
use partner_auth::time::{InstantSleep, ManualClock};
use partner_auth::{CachePolicy, Client, ErrorKind, Provider, RetryPolicy, TokenSource};
use serde_json::json;

const S: Duration = Duration::from_secs(1);

fn client(provider: Provider, server: &Scripted) -> Client {
    common::client(provider, server.base_url())
}

fn too_many() -> Reply {
    Reply::json(429, json!({"error": "rate_limited"}))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A standard source on a manual clock, and its server: `first` answers the first token
/// request, a token every later one.
async fn standard_after(first: Reply) -> (Scripted, TokenSource, ManualClock, InstantSleep) {
    let server = Scripted::sequence(vec![first], Reply::token("tok", 3600)).await;
    let (source, clock, sleep) =
        on_manual_clock(client(Provider::Standard, &server), CachePolicy::default());
    (server, source, clock, sleep)
}

/// The cool-down lasts as long as the provider asked, in full (it was cut to 5 minutes),
/// and the error served during it counts the wait down (it said "retry in 600 s" all
/// along).
#[tokio::test]
async fn the_cooldown_lasts_the_whole_wait_asked_and_counts_it_down() {
    let dinie_reset = (unix_now() + 600).to_string();
    for (provider, reply) in [
        (Provider::Standard, too_many().header("retry-after", "600")),
        // Dinie's documented 429: a reset as a Unix time, ten minutes out.
        (
            Provider::Dinie,
            Reply::json(
                429,
                json!({"type": "about:blank", "title": "Too Many Requests", "status": 429}),
            )
            .header("X-RateLimit-Reset", &dinie_reset),
        ),
    ] {
        let server = Scripted::sequence(vec![reply], Reply::token("tok", 3600)).await;
        let (source, clock, _) = on_manual_clock(
            client(provider, &server),
            CachePolicy::default().with_retry(RetryPolicy::none()),
        );
        let err = source.token().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RateLimited, "{provider}");
        let asked = err.retry_after().unwrap();
        assert!(asked > 590 * S && asked <= 600 * S, "{provider}: {asked:?}");
        clock.advance(301 * S);
        let again = source.token().await.unwrap_err();
        assert_eq!(
            server.count(),
            1,
            "{provider}: asked again 301 s into the wait"
        );
        let left = again.retry_after().unwrap();
        assert_eq!(left, asked - 301 * S, "{provider}");
        assert!(
            again
                .to_string()
                .ends_with(&format!("retry in {} s", left.as_secs_f64().ceil())),
            "{again}"
        );
        clock.advance(asked - 301 * S);
        assert_eq!(source.token().await.unwrap().expose_secret(), "tok");
        assert_eq!(server.count(), 2, "{provider}");
    }
}

/// `refresh()` during the cool-down returns the failure instead of asking again (each call
/// was a request).
#[tokio::test]
async fn refresh_during_the_cooldown_returns_the_failure() {
    let server = Scripted::sequence(vec![], too_many().header("retry-after", "120")).await;
    let (source, clock, _) =
        on_manual_clock(client(Provider::Standard, &server), CachePolicy::default());
    let err = source.token().await.unwrap_err();
    assert_eq!(err.retry_after(), Some(120 * S));
    for _ in 0..5 {
        clock.advance(10 * S);
        let err = source.refresh().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RateLimited);
    }
    assert_eq!(server.count(), 1);
    assert_eq!(source.stats().cooldown_rejections, 5);
    clock.advance(70 * S);
    source.refresh().await.unwrap_err();
    assert_eq!(server.count(), 2, "after the wait, a request");
}

/// A fractional `Retry-After` is a wait like any other (it was dropped and the 429 retried
/// within 200 ms): longer than `max_retry_after`, it ends the fetch; within it, it is
/// waited for to the millisecond.
#[tokio::test]
async fn a_fractional_retry_after_is_a_wait_not_ignored() {
    let (server, source, _, sleep) =
        standard_after(too_many().header("retry-after", "120.5")).await;
    let err = source.token().await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_millis(120_500)));
    assert_eq!(server.count(), 1);
    assert!(sleep.sleeps().is_empty());

    let (server, source, _, sleep) = standard_after(too_many().header("retry-after", "2.25")).await;
    source.token().await.unwrap();
    assert_eq!(server.count(), 2);
    assert!(sleep.sleeps()[0] >= Duration::from_millis(2_250));
}

/// A garbled or enormous wait does not hold a source for long (found by review of the fix
/// above: more digits than a u64 holds were read as a day, and with the cool-down taken
/// in full, every caller, `refresh()` included, got the error for a day). Garbled is no
/// wait: retried as usual. A wait over an hour (a misread unit, say) holds the source an
/// hour, as the docs say, and its error still says what the provider asked.
#[tokio::test]
async fn a_garbled_or_enormous_wait_holds_a_source_an_hour_at_most() {
    let (server, source, _, sleep) =
        standard_after(too_many().header("retry-after", "99999999999999999999")).await;
    source.token().await.unwrap();
    assert_eq!(server.count(), 2, "retried after its backoff");
    assert!(sleep.sleeps()[0] < S);

    let (server, source, clock, _) =
        standard_after(too_many().header("retry-after", "86400")).await;
    let err = source.token().await.unwrap_err();
    assert_eq!(err.retry_after(), Some(86_400 * S));
    clock.advance(3599 * S);
    let err = source.refresh().await.unwrap_err();
    assert_eq!(err.retry_after(), Some(S), "what is left of the cool-down");
    assert_eq!(server.count(), 1);
    clock.advance(S);
    assert_eq!(source.token().await.unwrap().expose_secret(), "tok");
    assert_eq!(server.count(), 2);
}

/// A reset header in Unix milliseconds, from a provider that documents no unit, is read as
/// such (it was a wait of 57,000 years).
#[tokio::test]
async fn a_reset_in_unix_milliseconds_is_read_as_such() {
    let reset_ms = (unix_now() + 30) * 1000;
    let server = Scripted::sequence(
        vec![],
        Reply::json(
            429,
            json!({"statusCode": 429, "message": "Too many requests"}),
        )
        .header("x-ratelimit-reset", &reset_ms.to_string()),
    )
    .await;
    let err = client(Provider::Teez, &server)
        .fetch_token()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    let wait = err.retry_after().unwrap();
    assert!(wait > 20 * S && wait <= 30 * S, "{wait:?}: {err}");
}

/// What the docs say of a fleet sharing a store: a failure the provider answered is shared
/// for its cool-down, so the fleet learns a rate limit from one request, and holds back
/// (each process asked once before the failure was shared).
#[tokio::test]
async fn a_fleet_sharing_a_store_learns_a_rate_limit_once() {
    let server = Scripted::sequence(vec![], too_many().header("retry-after", "120")).await;
    let store = Arc::new(MemoryStore::default());
    let clock = ManualClock::new();
    let fleet: Vec<TokenSource> = (0..5)
        .map(|_| {
            TokenSource::builder(client(Provider::Standard, &server))
                .time_source(clock.clone())
                .sleep(InstantSleep::new(clock.clone()))
                .store(store.clone())
                .build()
                .unwrap()
        })
        .collect();
    for _ in 0..3 {
        for process in &fleet {
            let err = process.token().await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::RateLimited);
        }
        clock.advance(30 * S);
    }
    assert_eq!(server.count(), 1, "one request for the fleet");
}

/// A source in its cool-down still takes a token another process put in the shared store
/// (found by review: it served the 429 for the whole 600 s wait, the token beside it). It
/// looks once per `failure_cooldown`, not at every call.
#[tokio::test]
async fn a_source_in_its_cooldown_takes_a_token_another_process_stored() {
    let server = Scripted::sequence(
        vec![too_many().header("retry-after", "600")],
        Reply::token("tok-from-b", 3600),
    )
    .await;
    let store = Arc::new(MemoryStore::default());
    let clock = ManualClock::new();
    let process = || {
        TokenSource::builder(client(Provider::Standard, &server))
            .policy(CachePolicy::default().with_failure_cooldown(5 * S))
            .time_source(clock.clone())
            .sleep(InstantSleep::new(clock.clone()))
            .store(store.clone())
            .build()
            .unwrap()
    };
    let reads = || store.readers.lock().unwrap().len();
    let a = process();
    assert_eq!(a.token().await.unwrap_err().kind(), ErrorKind::RateLimited);
    let before = reads();
    // Within the first `failure_cooldown`: the fetch has just looked.
    for _ in 0..10 {
        assert_eq!(a.token().await.unwrap_err().kind(), ErrorKind::RateLimited);
    }
    assert_eq!(reads(), before, "no look yet");
    // Another process, which does not share failures (a version from before, in a rolling
    // deploy), gets a token into the store.
    let b = TokenSource::builder(client(Provider::Standard, &server))
        .time_source(clock.clone())
        .sleep(InstantSleep::new(clock.clone()))
        .store(Arc::new(TokensOnly {
            inner: store.clone(),
            key: a.store_key().unwrap().to_owned(),
        }))
        .build()
        .unwrap();
    assert_eq!(b.token().await.unwrap().expose_secret(), "tok-from-b");
    let before = reads();
    clock.advance(5 * S);
    assert_eq!(a.token().await.unwrap().expose_secret(), "tok-from-b");
    assert_eq!(reads(), before + 1, "one look");
    // The cool-down is over: refresh() asks again.
    a.refresh().await.unwrap();
    assert_eq!(server.count(), 3);
}

/// A store that shows only one credential's entries (`key`): a process that sees no
/// failure another kept.
#[derive(Debug)]
struct TokensOnly {
    inner: Arc<MemoryStore>,
    key: String,
}

#[async_trait::async_trait]
impl TokenStore for TokensOnly {
    async fn get(&self, key: &str) -> Result<Option<StoreEntry>, StoreError> {
        if key != self.key {
            return Ok(None);
        }
        self.inner.get(key).await
    }
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        self.inner.put(key, value, ttl).await
    }
    async fn compare_and_delete(&self, key: &str, expected: &[u8]) -> Result<bool, StoreError> {
        self.inner.compare_and_delete(key, expected).await
    }
    async fn try_lease(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.inner.try_lease(key, owner, ttl).await
    }
    async fn release_lease(&self, key: &str, owner: &str) -> Result<(), StoreError> {
        self.inner.release_lease(key, owner).await
    }
    async fn wait(&self, key: &str, timeout: Duration) -> Result<(), StoreError> {
        self.inner.wait(key, timeout).await
    }
}

/// Many concurrent callers during a rate-limited period make no request; once it is over,
/// they make one between them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_around_a_rate_limit_make_one_request() {
    let gate = Gate::new();
    let server = Scripted::sequence(
        vec![too_many().header("retry-after", "60")],
        Reply::token("tok", 3600).held(&gate),
    )
    .await;
    let (source, clock, _) = on_manual_clock(
        client(Provider::Standard, &server),
        CachePolicy::default().with_retry(RetryPolicy::none()),
    );
    source.token().await.unwrap_err();
    let callers = |source: &TokenSource| -> Vec<_> {
        (0..200)
            .map(|_| {
                let source = source.clone();
                tokio::spawn(async move { source.token().await })
            })
            .collect()
    };
    for caller in callers(&source) {
        let err = caller.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RateLimited);
    }
    assert_eq!(server.count(), 1);
    clock.advance(60 * S);
    let waiting = callers(&source);
    eventually("the one request arrives", || server.count() == 2).await;
    gate.open();
    for caller in waiting {
        assert_eq!(caller.await.unwrap().unwrap().expose_secret(), "tok");
    }
    assert_eq!(server.count(), 2);
}

/// A `retry_after` longer than what is left of the deadline ends the fetch at once, with
/// the 429; the cool-down then lasts exactly that long.
#[tokio::test]
async fn a_retry_after_past_the_deadline_ends_the_fetch_without_sleeping() {
    let server = Scripted::sequence(
        vec![too_many().header("retry-after", "20")],
        Reply::token("tok", 3600),
    )
    .await;
    let retry = RetryPolicy::default()
        .with_max_attempts(5)
        .with_deadline(10 * S);
    let (source, clock, sleep) = on_manual_clock(
        client(Provider::Standard, &server),
        CachePolicy::default().with_retry(retry),
    );
    let err = source.token().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(20 * S));
    assert!(sleep.sleeps().is_empty(), "{:?}", sleep.sleeps());
    clock.advance(19 * S);
    source.token().await.unwrap_err();
    assert_eq!(server.count(), 1);
    clock.advance(S);
    source.token().await.unwrap();
    assert_eq!(server.count(), 2);
}
