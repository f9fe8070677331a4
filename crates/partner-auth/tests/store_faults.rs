//! The level-2 store under faults, found by adversarial reviews and kept as regression
//! tests: a dropped lease holder, a write racing a compare-and-delete, a panicking store,
//! a replayed entry, a slow write, a hanging read with impatient callers, a caller kept
//! but not polled, a lookup that times out after taking the lease; and the caller's own
//! read of the store on a miss: in its task, counted once, never an invalidated token.

#[path = "common/memory_store.rs"]
mod memory_store;
#[path = "common/races.rs"]
mod races;
#[path = "common/sandbox.rs"]
mod sandbox_client;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use memory_store::{Get, MemoryStore};
use partner_auth::store::{FileStore, StoreEntry, StoreError, StorePolicy, TokenStore};
use partner_auth::{Provider, TokenSource};
use partner_sandbox::{Faults, Sandbox};
use races::{impatient_calls, invalidate_rounds};
use sandbox_client::SandboxExt as _;

const PROVIDER: Provider = Provider::Tradevest;
const MS: Duration = Duration::from_millis(1);

fn requests(sandbox: &Sandbox) -> u64 {
    sandbox.stats(PROVIDER).token_requests
}

fn build(sandbox: &Sandbox, store: Arc<dyn TokenStore>, policy: StorePolicy) -> TokenSource {
    TokenSource::builder(sandbox.client_builder(PROVIDER).build().unwrap())
        .store(store)
        .store_policy(policy)
        .build()
        .unwrap()
}

/// Dropping a source whose flight holds the lease ends the lease: later misses, on this
/// store instance or another (another process), do not wait it out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_lease_holder_leaves_no_lease_behind() {
    let sandbox = Sandbox::builder()
        .faults(Faults::hold_first(1, Duration::from_secs(3)))
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStore::new(dir.path()).unwrap());
    let policy = StorePolicy::default().with_lease_ttl(Duration::from_secs(30));

    let doomed = build(&sandbox, store.clone(), policy.clone());
    let caller = tokio::spawn({
        let doomed = doomed.clone();
        async move { doomed.token().await.map(|_| ()) }
    });
    while requests(&sandbox) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The flight holds the lease and waits on the stalled request: drop everything.
    caller.abort();
    let _ = caller.await;
    drop(doomed);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Well within the lease's 30 s, misses on the same store instance and on another
    // instance (another process) on the directory do not wait for it.
    let mut waits = Vec::new();
    for round in 0..3 {
        store.clear().unwrap();
        let instance: Arc<dyn TokenStore> = if round % 2 == 0 {
            store.clone()
        } else {
            Arc::new(FileStore::new(dir.path()).unwrap())
        };
        let source = build(&sandbox, instance, policy.clone());
        let started = Instant::now();
        source.token().await.unwrap();
        let took = started.elapsed();
        eprintln!(
            "round {round}: miss took {took:?}, stats {:?}",
            source.stats()
        );
        waits.push((took, source.stats().lease_waits));
    }
    assert!(
        waits
            .iter()
            .all(|(took, w)| *took < Duration::from_secs(10) && *w == 0),
        "a miss waited out a lease nobody holds: {waits:?}"
    );
}

/// compare_and_delete deletes exactly the value given: a put racing it is never lost
/// (before both took the credential's lock, 15 of 4,000 rounds lost the new token).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_racing_compare_and_delete_is_never_lost() {
    let dir = tempfile::tempdir().unwrap();
    let a = Arc::new(FileStore::new(dir.path()).unwrap());
    let b = Arc::new(FileStore::new(dir.path()).unwrap());
    let key = "ab".repeat(32);
    let old = b"old-sealed-value".to_vec();
    let new = b"new-sealed-value".to_vec();
    let ttl = Duration::from_secs(60);
    let lost = AtomicU64::new(0);
    let rounds = 2000;
    for round in 0..rounds {
        a.put(&key, &old, ttl).await.unwrap();
        // Stagger the delete by 0..400 us so it lands anywhere within the put.
        let stagger = Duration::from_micros((round * 7919 % 400) as u64);
        let (deleted, put) = tokio::join!(
            tokio::spawn({
                let (a, key, old) = (a.clone(), key.clone(), old.clone());
                async move {
                    let until = Instant::now() + stagger;
                    while Instant::now() < until {
                        std::hint::spin_loop();
                    }
                    a.compare_and_delete(&key, &old).await
                }
            }),
            tokio::spawn({
                let (b, key, new) = (b.clone(), key.clone(), new.clone());
                async move { b.put(&key, &new, ttl).await }
            }),
        );
        deleted.unwrap().unwrap();
        put.unwrap().unwrap();
        // Either order leaves the new token: deleted-then-put, or put-then-not-matched.
        if a.get(&key).await.unwrap().is_none() {
            lost.fetch_add(1, Ordering::Relaxed);
        }
    }
    let lost = lost.load(Ordering::Relaxed);
    eprintln!("new token deleted in {lost} of {rounds} rounds");
    assert_eq!(
        lost, 0,
        "compare_and_delete deleted a token it was not given"
    );
}

/// A store that panics in `get`.
#[derive(Debug)]
struct Panicking;

#[async_trait::async_trait]
impl TokenStore for Panicking {
    async fn get(&self, _: &str) -> Result<Option<StoreEntry>, StoreError> {
        panic!("store bug")
    }
    async fn put(&self, _: &str, _: &[u8], _: Duration) -> Result<(), StoreError> {
        Ok(())
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

/// A store that panics is a failing store: the tokens are fetched without it.
#[tokio::test]
async fn a_panicking_store_costs_no_token() {
    let sandbox = Sandbox::start().await.unwrap();
    let source = build(&sandbox, Arc::new(Panicking), StorePolicy::default());
    let mut failures = 0;
    for _ in 0..3 {
        if let Err(error) = source.token().await {
            eprintln!("token(): {error}");
            failures += 1;
        }
    }
    eprintln!(
        "stats {:?}, sandbox requests {}",
        source.stats(),
        requests(&sandbox)
    );
    assert_eq!(failures, 0, "a panicking store should cost no token");
    assert_eq!(
        source.stats().store_errors,
        1,
        "one failure opens the breaker"
    );
}

/// A store cannot extend a token's life: an entry whose token has expired at the provider,
/// written back with an expiry an hour ahead, is not adopted.
#[tokio::test]
async fn a_replayed_entry_never_outlives_its_sealed_expiry() {
    let sandbox = Sandbox::builder()
        .token_lifetime(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStore::new(dir.path()).unwrap());
    // A loaded machine's disk must not time the write out: this test needs the entry.
    let patient = StorePolicy::default().with_operation_timeout(Duration::from_secs(30));
    let writer = build(&sandbox, store.clone(), patient);
    let original = writer.token().await.unwrap();
    let path = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "token"))
        .unwrap_or_else(|| panic!("no entry written; stats {:?}", writer.stats()));
    let sealed = std::fs::read(&path).unwrap()[8..].to_vec();

    // Wait until the provider no longer accepts the token.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let protected = sandbox.endpoint(PROVIDER).protected_url();
    let status = |token: String| {
        let http = http.clone();
        let protected = protected.clone();
        async move {
            http.get(protected)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    eprintln!(
        "original token at the provider now: {}",
        status(original.expose_secret().to_owned()).await
    );

    // Replay: the same sealed bytes with a store expiry one hour ahead (what any writer
    // to the directory, or Redis with SET PX, can do without the secret).
    let later = SystemTime::now() + Duration::from_secs(3600);
    let ms = later.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let mut replay = ms.to_be_bytes().to_vec();
    replay.extend_from_slice(&sealed);
    std::fs::write(&path, replay).unwrap();

    let reader = build(&sandbox, store.clone(), StorePolicy::default());
    let before = requests(&sandbox);
    let adopted = reader.token().await.unwrap();
    let code = status(adopted.expose_secret().to_owned()).await;
    eprintln!(
        "reader: same token as the expired one: {}, expires_in {:?}, provider says {code}, \
         requests {} -> {}, stats {:?}",
        adopted.expose_secret() == original.expose_secret(),
        adopted.expires_in(),
        before,
        requests(&sandbox),
        reader.stats()
    );
    assert_ne!(
        adopted.expose_secret(),
        original.expose_secret(),
        "a replayed, expired token was adopted"
    );
}

/// A FileStore whose disk is slow on writes once (the first put takes 600 ms, longer than
/// the 500 ms operation timeout): what a loaded disk or NFS does.
#[derive(Debug)]
struct SlowFirstPut {
    inner: FileStore,
    slow: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl TokenStore for SlowFirstPut {
    async fn get(&self, key: &str) -> Result<Option<StoreEntry>, StoreError> {
        self.inner.get(key).await
    }
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        if self.slow.swap(false, Ordering::AcqRel) {
            tokio::time::sleep(Duration::from_millis(600)).await;
        }
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

/// One write slower than the operation timeout opens the breaker, but does not leave the
/// lease behind: later misses do not wait it out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_write_leaves_no_lease_behind() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let policy = StorePolicy::default()
        .with_lease_ttl(Duration::from_secs(30))
        .with_outage_backoff(Duration::from_millis(200));
    let flaky = Arc::new(SlowFirstPut {
        inner: FileStore::new(dir.path()).unwrap(),
        slow: true.into(),
    });
    let first = build(&sandbox, flaky.clone(), policy.clone());
    first.token().await.unwrap();
    eprintln!("first: {:?}", first.stats());
    // Past the outage back-off (not the lease's 30 s): the store is healthy again.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut took = Vec::new();
    for round in 0..3 {
        flaky.inner.clear().unwrap();
        let other: Arc<dyn TokenStore> = if round % 2 == 0 {
            flaky.clone()
        } else {
            Arc::new(FileStore::new(dir.path()).unwrap())
        };
        let source = build(&sandbox, other, policy.clone());
        let started = Instant::now();
        source.token().await.unwrap();
        eprintln!(
            "round {round}: {:?} {:?}",
            started.elapsed(),
            source.stats()
        );
        took.push(started.elapsed());
    }
    assert!(
        took.iter().all(|t| *t < Duration::from_secs(10)),
        "misses wait out a lease nobody will release: {took:?}"
    );
}

/// A store read that hangs (2 s, past the 500 ms operation timeout) and callers whose own
/// deadline (300 ms) is shorter than the operation timeout: the fetch goes on without
/// them, times the store out, fetches on its own, and later callers get its token (a
/// review found a design where each departing caller restarted the read and nobody ever
/// got a token).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_with_short_deadlines_still_get_tokens_past_a_hanging_store() {
    let sandbox = Sandbox::start().await.unwrap();
    let store = Arc::new(MemoryStore::default());
    store.get_delay_ms.store(2_000, Ordering::SeqCst);
    let policy = StorePolicy::default().with_operation_timeout(Duration::from_millis(500));
    let source = build(&sandbox, store.clone(), policy);
    let answered = impatient_calls(
        &source,
        12,
        Duration::from_millis(300),
        Duration::from_millis(50),
    )
    .await;
    let stats = source.stats();
    assert!(answered >= 6, "{answered} of 12 answered: {stats:?}");
    assert_eq!(
        (stats.store_errors, requests(&sandbox)),
        (1, 1),
        "{stats:?}"
    );
}

/// A caller whose `token()` future was polled once and is then kept without being polled
/// (a `select!` branch that lost, a future parked in a struct) holds nobody up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_kept_but_not_polled_holds_nobody_up() {
    use futures_util::FutureExt as _;
    let sandbox = Sandbox::start().await.unwrap();
    let store = Arc::new(MemoryStore::default());
    store.get_delay_ms.store(50, Ordering::SeqCst);
    let source = build(&sandbox, store.clone(), StorePolicy::default());
    let mut parked = Box::pin(source.token());
    assert!((&mut parked).now_or_never().is_none());
    let other = tokio::time::timeout(Duration::from_secs(10), source.token()).await;
    assert!(
        matches!(other, Ok(Ok(_))),
        "a caller waited for a future nobody polls"
    );
    drop(parked);
    assert_eq!(requests(&sandbox), 1);
}

/// The provided `get_or_lease` timed out between taking the lease and reading again: the
/// lease is ended all the same, so another process does not wait it out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_timed_out_after_leasing_leaves_no_lease() {
    let sandbox = Sandbox::start().await.unwrap();
    let store = Arc::new(MemoryStore::default());
    let policy = StorePolicy::default()
        .with_lease_ttl(Duration::from_secs(30))
        .with_operation_timeout(Duration::from_millis(300))
        .with_outage_backoff(Duration::from_millis(100));
    store.slow_get_after_lease_ms.store(600, Ordering::SeqCst);
    let first = build(&sandbox, store.clone(), policy.clone());
    first.token().await.unwrap();
    store.slow_get_after_lease_ms.store(0, Ordering::SeqCst);
    let lease = format!("{}:lease", first.store_key().unwrap());
    assert_eq!(first.stats().store_errors, 1);
    assert!(store.slot(&lease).is_none(), "the lease was left behind");
    assert_eq!(
        store.leases.load(Ordering::SeqCst),
        store.releases.load(Ordering::SeqCst)
    );
    // Past the back-off, another process on the store takes the lease at once.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = build(&sandbox, store.clone(), policy);
    second.token().await.unwrap();
    assert_eq!(second.stats().lease_waits, 0, "{:?}", second.stats());
}

/// A token another process stored is read in the caller's own task, in one store read (no
/// hand-off to a fetch task and back), and counted as one store hit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_hit_is_read_in_the_callers_own_task() {
    let sandbox = Sandbox::start().await.unwrap();
    let store = Arc::new(MemoryStore::default());
    let writer = build(&sandbox, store.clone(), StorePolicy::default());
    let token = writer.token().await.unwrap();
    store.readers.lock().unwrap().clear();
    let reader = build(&sandbox, store.clone(), StorePolicy::default());
    let (caller, read, stats) = tokio::spawn(async move {
        let read = reader.token().await.unwrap();
        (tokio::task::id(), read, reader.stats())
    })
    .await
    .unwrap();
    assert_eq!(read.expose_secret(), token.expose_secret());
    assert_eq!(*store.readers.lock().unwrap(), vec![Some(caller)]);
    assert_eq!(
        (stats.store_hits, stats.token_requests),
        (1, 0),
        "{stats:?}"
    );
}

/// Many callers miss at once on a store that holds a token: one reads it in its own task
/// while the rest share the fetch, which reads it too; the source caches it once and
/// counts one store hit, and every caller gets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_adopt_a_stored_token_once() {
    let sandbox = Sandbox::start().await.unwrap();
    let store = Arc::new(MemoryStore::default());
    let writer = build(&sandbox, store.clone(), StorePolicy::default());
    let token = writer.token().await.unwrap();
    // Slow reads, so that the other callers arrive while the first one is reading.
    store.get_delay_ms.store(20, Ordering::SeqCst);
    for _ in 0..20 {
        let reader = build(&sandbox, store.clone(), StorePolicy::default());
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let reader = reader.clone();
            calls.spawn(async move { reader.token().await.unwrap() });
        }
        let tokens = calls.join_all().await;
        assert!(
            tokens
                .iter()
                .all(|t| t.expose_secret() == token.expose_secret())
        );
        let stats = reader.stats();
        assert_eq!(
            (stats.store_hits, stats.token_requests),
            (1, 0),
            "{stats:?}"
        );
    }
    assert_eq!(requests(&sandbox), 1);
}

/// `invalidate` racing callers that read the store themselves: the store still holds the
/// token until the next fetch deletes it, and a caller reading it then must not cache it
/// again. Once any `invalidate(&t)` has returned, no `token()` started afterwards gets `t`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_store_read_never_brings_back_an_invalidated_token() {
    let sandbox = Sandbox::start().await.unwrap();
    let store = Arc::new(MemoryStore::default());
    let source = build(&sandbox, store.clone(), StorePolicy::default());
    const ROUNDS: usize = 200;
    assert_eq!(
        invalidate_rounds(&source, ROUNDS, 16).await,
        0,
        "calls that got an invalidated token back"
    );
    assert_eq!(
        requests(&sandbox),
        ROUNDS as u64 + 1,
        "one fetch per invalidation"
    );
}

/// A token invalidated while a caller is reading it from the store (so `invalidate`
/// returns `false`: it was not cached here) is not cached by that read: no `token()` that
/// starts after the `invalidate` returned gets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_invalidated_during_a_callers_store_read_is_not_cached() {
    let sandbox = Sandbox::start().await.unwrap();
    let store = Arc::new(MemoryStore::default());
    let writer = build(&sandbox, store.clone(), StorePolicy::default());
    let rejected = writer.token().await.unwrap();
    let source = build(&sandbox, store.clone(), StorePolicy::default());
    store.script.lock().unwrap().push_back(Get::Hold);
    let first = tokio::spawn({
        let source = source.clone();
        async move { source.token().await.unwrap() }
    });
    store.get_entered.notified().await; // the first caller is reading the store
    assert!(!source.invalidate(&rejected), "not cached here yet");
    store.get_release.notify_one();
    first.await.unwrap();
    let later = source.token().await.unwrap();
    assert_ne!(later.expose_secret(), rejected.expose_secret());
    assert_eq!(requests(&sandbox), 2);
}

/// A `MemoryStore` that records what the source asks of it: how many reads, how long each
/// read that hangs (while `hang` is set) was waited for before being given up, on Tokio's
/// clock, and the TTL of every lease asked for.
#[derive(Debug, Default)]
struct Recording {
    inner: MemoryStore,
    hang: std::sync::atomic::AtomicBool,
    gets: AtomicU64,
    fail_next_get: std::sync::atomic::AtomicBool,
    gets_given_up_after: std::sync::Mutex<Vec<Duration>>,
    lease_ttls: std::sync::Mutex<Vec<Duration>>,
}

/// Records, when dropped, how long ago it was made.
struct GivenUp<'a>(&'a Recording, tokio::time::Instant);

impl Drop for GivenUp<'_> {
    fn drop(&mut self) {
        let waited = self.1.elapsed();
        self.0.gets_given_up_after.lock().unwrap().push(waited);
    }
}

#[async_trait::async_trait]
impl TokenStore for Recording {
    async fn get(&self, key: &str) -> Result<Option<StoreEntry>, StoreError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        if self.fail_next_get.swap(false, Ordering::SeqCst) {
            return Err(StoreError::new("a transient failure"));
        }
        if self.hang.load(Ordering::SeqCst) {
            let _given_up = GivenUp(self, tokio::time::Instant::now());
            std::future::pending::<()>().await;
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
        self.lease_ttls.lock().unwrap().push(ttl);
        self.inner.try_lease(key, owner, ttl).await
    }
    async fn release_lease(&self, key: &str, owner: &str) -> Result<(), StoreError> {
        self.inner.release_lease(key, owner).await
    }
    async fn wait(&self, key: &str, timeout: Duration) -> Result<(), StoreError> {
        self.inner.wait(key, timeout).await
    }
}

/// README ("Sharing tokens across processes"): "Every store operation has a timeout
/// (500 ms)": a read that never answers is given up after 500 ms by default, on Tokio's
/// paused clock, and the token is fetched without the store.
#[tokio::test(start_paused = true)]
async fn by_default_a_store_operation_is_given_up_after_500_ms() {
    let sandbox = Sandbox::start().await.unwrap();
    let store = Arc::new(Recording::default());
    store.hang.store(true, Ordering::SeqCst);
    let source = build(&sandbox, store.clone(), StorePolicy::default());
    let _ = source.token().await;
    let waits = store.gets_given_up_after.lock().unwrap().clone();
    assert!(!waits.is_empty(), "the store was not read");
    assert!(
        waits.iter().all(|w| *w == Duration::from_millis(500)),
        "reads given up after {waits:?}"
    );
    assert_eq!(source.stats().store_errors, 1, "{:?}", source.stats());
}

/// README ("Sharing tokens across processes"): after a store failure "the source fetches
/// on its own ... for `StorePolicy::outage_backoff` (5 s) before it tries the store
/// again", and "nobody waits longer than the lease (`StorePolicy::lease_ttl`, 15 s by
/// default)": the defaults, on a manual clock.
#[tokio::test]
async fn by_default_the_store_is_left_alone_5_s_after_a_failure_and_leases_last_15_s() {
    use partner_auth::time::{InstantSleep, ManualClock};
    let sandbox = Sandbox::start().await.unwrap();
    let store = Arc::new(Recording::default());
    store.fail_next_get.store(true, Ordering::SeqCst);
    let clock = ManualClock::new();
    let source = TokenSource::builder(sandbox.client_builder(PROVIDER).build().unwrap())
        .store(store.clone())
        .time_source(clock.clone())
        .sleep(InstantSleep::new(clock.clone()))
        .build()
        .unwrap();
    let gets = || store.gets.load(Ordering::SeqCst);

    let mut token = source.token().await.unwrap();
    assert_eq!(source.stats().store_errors, 1, "{:?}", source.stats());
    assert_eq!(requests(&sandbox), 1);
    let failed_at = gets();
    assert!(failed_at >= 1);
    // Until 5 s have passed, an invalidated token is replaced without reading the store.
    for step in [
        Duration::from_secs(1),
        Duration::from_secs(3),
        Duration::from_millis(999),
    ] {
        clock.advance(step);
        source.invalidate(&token);
        token = source.token().await.unwrap();
        assert_eq!(gets(), failed_at, "the store was read during the back-off");
    }
    assert_eq!(requests(&sandbox), 4);
    assert!(store.lease_ttls.lock().unwrap().is_empty());
    // At 5 s, the store is read again, and the lease taken for the fetch lasts 15 s.
    clock.advance(MS);
    source.invalidate(&token);
    source.token().await.unwrap();
    assert!(
        gets() > failed_at,
        "the store was not read after the back-off"
    );
    assert_eq!(requests(&sandbox), 5);
    assert_eq!(
        *store.lease_ttls.lock().unwrap(),
        [Duration::from_secs(15)],
        "{:?}",
        source.stats()
    );
}
