//! Edges of the shared-store layer found by an adversarial review of the stores' promises
//! (each test failed before its fix): a store of your own that panics when a method is
//! called, before its future exists; the delete of an invalidated token while the store
//! backs off.

mod common;
#[path = "common/memory_store.rs"]
mod memory_store;
#[path = "common/sandbox.rs"]
mod sandbox_client;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::scripted::{Reply, Scripted};
use memory_store::MemoryStore;
use partner_auth::store::{StoreEntry, StoreError, StorePolicy, TokenStore};
use partner_auth::time::ManualClock;
use partner_auth::{CachePolicy, Provider, RetryPolicy, TokenSource};
use partner_sandbox::Sandbox;
use sandbox_client::SandboxExt as _;

const PROVIDER: Provider = Provider::Tradevest;

/// A store whose `get`, `put` and `compare_and_delete` panic when called, before they
/// return a future (a store that picks a shard among none, say): written by hand, as
/// `async_trait` would put the panic inside the future.
#[derive(Debug)]
struct PanicsOnCall {
    /// In `get` (else `get` finds nothing and `put` panics, after the fetch).
    in_get: bool,
}

type Boxed<'c, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>;

#[async_trait::async_trait]
impl TokenStore for PanicsOnCall {
    fn get<'a, 'b, 'c>(&'a self, _key: &'b str) -> Boxed<'c, Option<StoreEntry>>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        let shards: Vec<u8> = Vec::new();
        if self.in_get {
            let _shard = shards[0];
        }
        Box::pin(async { Ok(None) })
    }
    fn put<'a, 'b, 'd, 'c>(
        &'a self,
        _key: &'b str,
        _value: &'d [u8],
        _ttl: Duration,
    ) -> Boxed<'c, ()>
    where
        'a: 'c,
        'b: 'c,
        'd: 'c,
        Self: 'c,
    {
        panic!("a store bug in put");
    }
    async fn compare_and_delete(&self, _: &str, _: &[u8]) -> Result<bool, StoreError> {
        Ok(false)
    }
    async fn try_lease(&self, _: &str, _: &str, _: Duration) -> Result<bool, StoreError> {
        Ok(true)
    }
    async fn release_lease(&self, _: &str, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
    async fn wait(&self, _: &str, _: Duration) -> Result<(), StoreError> {
        Ok(())
    }
}

/// README: "after a failure (an error, a timeout, even a panic in a store of your own) the
/// source fetches on its own, as without a store". A panic when `get` was called escaped
/// into the fetch: an `Internal` error and no request; one when `put` was called lost the
/// token just fetched.
#[tokio::test]
async fn a_store_that_panics_when_called_costs_no_token() {
    let sandbox = Sandbox::start().await.unwrap();
    for in_get in [true, false] {
        let store = Arc::new(PanicsOnCall { in_get });
        let source = TokenSource::builder(sandbox.client_builder(PROVIDER).build().unwrap())
            .store(store)
            .store_policy(StorePolicy::default())
            .build()
            .unwrap();
        let token = source.token().await;
        assert!(token.is_ok(), "in get: {in_get}: {}", token.unwrap_err());
        assert!(source.stats().store_errors >= 1, "{:?}", source.stats());
    }
    assert_eq!(sandbox.stats(PROVIDER).token_requests, 2);
}

/// README: "`invalidate` deletes exactly the stored token it was given (before that source
/// reads the store again, ...) so fifty replicas reporting one 401 cause one new fetch";
/// `TokenSource::invalidate`: "the stored copy is deleted too (only if it is still
/// `token`): before this source next reads the store". (`take_pending_delete` even says
/// the delete is "left in place while the store backs off: ... still deletes it at its
/// next fetch".)
///
/// Source B caches the fleet's token `tok-1`. One store read fails (a blip): B backs off
/// for 5 s. The API answers 401 to `tok-1`; B invalidates it and fetches `tok-2` on its
/// own (the store backing off). The delete of `tok-1` is dropped without being tried: the
/// store keeps `tok-1`, every other replica keeps adopting the rejected token, and when
/// B reads the store again (after its back-off) `tok-1` is still there, never deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidated_tokens_delete_is_not_dropped_while_the_store_backs_off() {
    let server = Scripted::sequence(
        vec![
            Reply::token("tok-1", 3600),
            Reply::json(503, serde_json::json!({"error": "temporarily_unavailable"})),
            Reply::token("tok-2", 3600),
        ],
        Reply::token("tok-later", 3600),
    )
    .await;
    let client = || common::client(Provider::Tradevest, server.base_url());
    let store = Arc::new(MemoryStore::default());

    // A: another replica, fetches tok-1 and stores it.
    let a = TokenSource::builder(client())
        .store(store.clone())
        .build()
        .unwrap();
    assert_eq!(a.token().await.unwrap().expose_secret(), "tok-1");

    // B: adopts tok-1 from the store. Its clock is a manual one, to step over its failure
    // cool-down (2 s) without leaving the store's back-off (5 s).
    let clock = ManualClock::new();
    let b = TokenSource::builder(client())
        .store(store.clone())
        .time_source(clock.clone())
        .policy(CachePolicy::default().with_retry(RetryPolicy::none()))
        .build()
        .unwrap();
    let tok1 = b.token().await.unwrap();
    assert_eq!(tok1.expose_secret(), "tok-1");
    assert_eq!(b.stats().store_hits, 1);
    let key = b.store_key().unwrap().to_owned();
    let sealed_tok1 = store.token(&key).unwrap();

    // A store blip during a refresh (whose request fails too): B still caches tok-1, and
    // leaves the store alone for 5 s.
    store.fail_next_get.store(true, Ordering::SeqCst);
    let refreshed = b.refresh().await;
    assert!(refreshed.is_err(), "the scripted refresh fails");
    assert_eq!(b.stats().store_errors, 1);
    assert_eq!(b.cached().unwrap().expose_secret(), "tok-1");

    // The API rejects tok-1: B invalidates it, and (cool-down over) gets a new token.
    clock.advance(Duration::from_secs(3));
    assert!(b.invalidate(&tok1));
    let tok2 = b.token().await.unwrap();
    assert_eq!(tok2.expose_secret(), "tok-2");
    let deletes_during_backoff = store.deletes.load(Ordering::SeqCst);

    // Past the back-off, B reads the store again (a refresh).
    clock.advance(Duration::from_secs(10));
    let gets_before = store.gets.lock().unwrap().len();
    let _ = b.refresh().await;
    let first_read_after = store
        .gets
        .lock()
        .unwrap()
        .get(gets_before)
        .cloned()
        .flatten();
    let still_there_at_bs_next_read = first_read_after.as_deref() == Some(&sealed_tok1[..]);

    // Another replica that misses meanwhile.
    let c_store_had_tok1 = store.token(&key).as_deref() == Some(&sealed_tok1[..]);
    eprintln!(
        "deletes tried by B during/after back-off: {deletes_during_backoff} / {}; \
         tok-1 still stored when B next read the store: {still_there_at_bs_next_read}; \
         stored now is tok-1: {c_store_had_tok1}; B stats {:?}",
        store.deletes.load(Ordering::SeqCst),
        b.stats()
    );
    assert!(
        !still_there_at_bs_next_read,
        "B invalidated tok-1 but read the store again with tok-1 still stored: the \
         delete was dropped untried while the store backed off ({} compare_and_delete \
         calls in all)",
        store.deletes.load(Ordering::SeqCst)
    );
}

/// The same, seen from the fleet: a replica that misses after B invalidated the token (and
/// B has already got its new one) adopts the token the API rejected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_invalidate_while_the_store_backs_off_the_fleet_does_not_adopt_the_rejected_token()
{
    let server = Scripted::sequence(
        vec![
            Reply::token("tok-1", 3600),
            Reply::json(503, serde_json::json!({"error": "temporarily_unavailable"})),
            Reply::token("tok-2", 3600),
        ],
        Reply::token("tok-later", 3600),
    )
    .await;
    let client = || common::client(Provider::Tradevest, server.base_url());
    let store = Arc::new(MemoryStore::default());
    let a = TokenSource::builder(client())
        .store(store.clone())
        .build()
        .unwrap();
    a.token().await.unwrap();
    let clock = ManualClock::new();
    let b = TokenSource::builder(client())
        .store(store.clone())
        .time_source(clock.clone())
        .policy(CachePolicy::default().with_retry(RetryPolicy::none()))
        .build()
        .unwrap();
    let tok1 = b.token().await.unwrap();
    store.fail_next_get.store(true, Ordering::SeqCst);
    let _ = b.refresh().await;
    clock.advance(Duration::from_secs(3));
    assert!(b.invalidate(&tok1));
    assert_eq!(b.token().await.unwrap().expose_secret(), "tok-2");
    // The delete is part of B's fetch: nothing left in the background to wait for.

    let c = TokenSource::builder(client())
        .store(store.clone())
        .build()
        .unwrap();
    let got = c.token().await.unwrap();
    eprintln!(
        "replica C got {:?} (B invalidated tok-1); C stats {:?}; provider requests {}",
        got.expose_secret(),
        c.stats(),
        server.count()
    );
    assert_ne!(
        got.expose_secret(),
        "tok-1",
        "a replica adopted the token B invalidated: its stored copy was never deleted"
    );
}

/// `TokenSource::invalidate`: "the stored copy is deleted too (only if it is still
/// `token`)". The delete fails once, with the store otherwise well (a blip): it was dropped
/// after that one try, and the flight backed off, so the rejected token stayed stored for
/// the whole fleet to adopt. Now the flight goes on with the store: it reads past the
/// rejected token, fetches, and writes the new one over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_that_fails_once_leaves_no_rejected_token_for_the_fleet() {
    let server = Scripted::sequence(
        vec![Reply::token("tok-1", 3600), Reply::token("tok-2", 3600)],
        Reply::token("tok-later", 3600),
    )
    .await;
    let client = || common::client(Provider::Tradevest, server.base_url());
    let store = Arc::new(MemoryStore::default());
    let a = TokenSource::builder(client())
        .store(store.clone())
        .build()
        .unwrap();
    assert_eq!(a.token().await.unwrap().expose_secret(), "tok-1");
    let b = TokenSource::builder(client())
        .store(store.clone())
        .build()
        .unwrap();
    let tok1 = b.token().await.unwrap();
    assert_eq!(b.stats().store_hits, 1);
    let key = b.store_key().unwrap().to_owned();
    let sealed_tok1 = store.token(&key).unwrap();

    // The API rejects tok-1; B's delete of it fails; B fetches tok-2 and stores it.
    store.failing_deletes.store(1, Ordering::SeqCst);
    assert!(b.invalidate(&tok1));
    assert_eq!(b.token().await.unwrap().expose_secret(), "tok-2");
    assert_eq!(store.deletes.load(Ordering::SeqCst), 1);
    assert_eq!(b.stats().store_errors, 1);
    assert_ne!(
        store.token(&key).as_deref(),
        Some(&sealed_tok1[..]),
        "the rejected token is still stored"
    );
    // A replica that misses now adopts tok-2, with no request of its own.
    let c = TokenSource::builder(client())
        .store(store.clone())
        .build()
        .unwrap();
    assert_eq!(c.token().await.unwrap().expose_secret(), "tok-2");
    assert_eq!(server.count(), 2);
    // Nothing left to delete: B's later flights try no delete.
    let _ = b.refresh().await;
    assert_eq!(store.deletes.load(Ordering::SeqCst), 1);
}

/// A delete that keeps failing (a store refusing deletes and writes, so no new token
/// replaces the entry) is tried once per flight, and not after the token has expired: its
/// entry is gone with it then, and nobody uses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_delete_is_dropped_once_its_token_has_expired() {
    let server = Scripted::sequence(
        vec![Reply::token("tok-1", 3600), Reply::token("tok-2", 600)],
        Reply::token("tok-later", 3600),
    )
    .await;
    let client = || common::client(Provider::Tradevest, server.base_url());
    let store = Arc::new(MemoryStore::default());
    let a = TokenSource::builder(client())
        .store(store.clone())
        .build()
        .unwrap();
    a.token().await.unwrap();
    let clock = ManualClock::new();
    let b = TokenSource::builder(client())
        .store(store.clone())
        .time_source(clock.clone())
        .build()
        .unwrap();
    let tok1 = b.token().await.unwrap();
    store.failing_deletes.store(u64::MAX, Ordering::SeqCst);
    store.failing_puts.store(true, Ordering::SeqCst);
    assert!(b.invalidate(&tok1));
    assert_eq!(b.token().await.unwrap().expose_secret(), "tok-2");
    clock.advance(Duration::from_secs(10));
    let _ = b.refresh().await;
    assert_eq!(
        store.deletes.load(Ordering::SeqCst),
        2,
        "tried at each flight"
    );
    // Past tok-1's end of use (an hour) and the minute allowed for skew.
    clock.advance(Duration::from_secs(3700));
    assert_eq!(b.token().await.unwrap().expose_secret(), "tok-later");
    assert_eq!(
        store.deletes.load(Ordering::SeqCst),
        2,
        "the delete of an expired token was tried again"
    );
}

/// A store where another process holds the lease, and whose `wait` returns at once.
#[derive(Debug, Default)]
struct ImpatientWait {
    calls: AtomicU64,
}

#[async_trait::async_trait]
impl TokenStore for ImpatientWait {
    async fn get(&self, _: &str) -> Result<Option<StoreEntry>, StoreError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok(None)
    }
    async fn put(&self, _: &str, _: &[u8], _: Duration) -> Result<(), StoreError> {
        Ok(())
    }
    async fn compare_and_delete(&self, _: &str, _: &[u8]) -> Result<bool, StoreError> {
        Ok(false)
    }
    async fn try_lease(&self, _: &str, _: &str, _: Duration) -> Result<bool, StoreError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok(false)
    }
    async fn release_lease(&self, _: &str, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
    async fn wait(&self, _: &str, _: Duration) -> Result<(), StoreError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// The `TokenStore` docs: "A spurious return is fine". A `wait` that always returned at
/// once turned the wait for another's lease into a busy loop on the store (about 800,000
/// calls in 2 s); rounds now take at least 20 ms. The waiter gives up after the lease's
/// time to live and the retry deadline (300 ms each here) and fetches on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_that_returns_at_once_does_not_spin_on_the_store() {
    let sandbox = Sandbox::start().await.unwrap();
    let store = Arc::new(ImpatientWait::default());
    let source = TokenSource::builder(sandbox.client_builder(PROVIDER).build().unwrap())
        .store(store.clone())
        .store_policy(StorePolicy::default().with_lease_ttl(Duration::from_millis(300)))
        .policy(
            CachePolicy::default()
                .with_retry(RetryPolicy::default().with_deadline(Duration::from_millis(300))),
        )
        .build()
        .unwrap();
    source.token().await.unwrap();
    // 600 ms of rounds of at least 20 ms, three calls each: about 90.
    let calls = store.calls.load(Ordering::Relaxed);
    assert!(
        calls < 300,
        "{calls} store calls waiting 600 ms for a lease"
    );
    assert_eq!(source.stats().lease_waits, 1, "{:?}", source.stats());
}

/// README: "after a failure (an error, a timeout ...) the source fetches on its own, as
/// without a store, for `StorePolicy::outage_backoff` (5 s) before it tries the store
/// again". With a delete pending (0dbaa10: "tried even while the store backs off ...
/// otherwise the next flight tries again"), a store that stopped answering costs every
/// fetch of the back-off one whole operation timeout: the failed attempt leaves the delete
/// pending, and nothing ever clears it until the back-off ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_store_costs_a_back_off_one_attempt_at_a_delete_not_one_per_fetch() {
    let server = Scripted::sequence(
        vec![
            Reply::token("tok-1", 3600),
            Reply::json(503, serde_json::json!({"error": "temporarily_unavailable"})),
        ],
        Reply::token("tok-later", 3600),
    )
    .await;
    let client = || common::client(Provider::Tradevest, server.base_url());
    let store = Arc::new(MemoryStore::default());
    let timeout = Duration::from_millis(400);
    let store_policy = StorePolicy::default()
        .with_operation_timeout(timeout)
        .with_outage_backoff(Duration::from_secs(600));

    let a = TokenSource::builder(client())
        .store(store.clone())
        .store_policy(store_policy.clone())
        .build()
        .unwrap();
    a.token().await.unwrap();

    let clock = ManualClock::new();
    let b = TokenSource::builder(client())
        .store(store.clone())
        .store_policy(store_policy)
        .time_source(clock.clone())
        .policy(CachePolicy::default().with_retry(RetryPolicy::none()))
        .build()
        .unwrap();
    let tok1 = b.token().await.unwrap();
    assert_eq!(tok1.expose_secret(), "tok-1");

    // The store dies; a refresh finds out (its read times out: back-off for 600 s on B's
    // clock) and its request fails too.
    store.dead.store(true, Ordering::SeqCst);
    assert!(b.refresh().await.is_err());
    assert!(b.stats().store_errors >= 1, "{:?}", b.stats());

    clock.advance(Duration::from_secs(3));
    assert!(b.invalidate(&tok1));
    let mut costs = Vec::new();
    let mut token = None;
    for _ in 0..4 {
        if let Some(t) = token.take() {
            // The API rejects the token fetched on its own too.
            clock.advance(Duration::from_secs(3));
            assert!(b.invalidate(&t));
        }
        let started = Instant::now();
        let t = b.token().await.unwrap();
        costs.push(started.elapsed());
        token = Some(t);
    }
    let deletes = store.deletes.load(Ordering::SeqCst);
    // One attempt at the delete may be granted; every later fetch of the back-off is
    // "as without a store".
    for (i, cost) in costs.iter().enumerate().skip(1) {
        assert!(
            *cost < timeout,
            "fetch #{} during the store's back-off took {cost:?} (the operation timeout is \
             {timeout:?}): it waited on the dead store; all: {costs:?}, {deletes} deletes tried",
            i + 1
        );
    }
}
