//! A caller's own store read and the shared fetch against `invalidate`, expiry, panics,
//! runtimes without timers and callers left unpolled: probes of an adversarial review of
//! the caller's store read, kept as regression tests (six failed on 8e65c6b; the impatient
//! callers and the runtime without timers held), and a read that answers late with an
//! older token. Gated by `Notify`s where order matters.

#[path = "common/memory_store.rs"]
mod memory_store;
#[path = "common/races.rs"]
mod races;
#[path = "common/sandbox.rs"]
mod sandbox_client;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use memory_store::{Get, MemoryStore};
use partner_auth::store::{StorePolicy, TokenStore};
use partner_auth::time::{ManualClock, TimeSource};
use partner_auth::{ErrorKind, Provider, TokenSource};
use partner_sandbox::Sandbox;
use races::impatient_calls;
use sandbox_client::SandboxExt as _;

const PROVIDER: Provider = Provider::Tradevest;

fn requests(sandbox: &Sandbox) -> u64 {
    sandbox.stats(PROVIDER).token_requests
}

fn build(sandbox: &Sandbox, store: Arc<dyn TokenStore>) -> TokenSource {
    TokenSource::builder(sandbox.client_builder(PROVIDER).build().unwrap())
        .store(store)
        .build()
        .unwrap()
}

/// A fetch adopts `t` from the store; `invalidate(&t)` returns (`false`: `t` is not cached
/// here, another process's copy got a 401) before the fetch ends. A `token()` started
/// after it joins the fetch: it must not get `t`, and `t` must not be cached (on 8e65c6b
/// it was: the fetch cached store tokens without checking what was invalidated).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_does_not_bring_back_a_token_invalidated_while_it_ran() {
    let sandbox = Sandbox::start().await.unwrap();
    let store = Arc::new(MemoryStore::default());
    let writer = build(&sandbox, store.clone());
    let t = writer.token().await.unwrap();

    let source = build(&sandbox, store.clone());
    // The flight's first read finds an entry that does not open: it leases, reads `t`
    // again, adopts it, and releases the lease (held here).
    store.script.lock().unwrap().push_back(Get::Garbage);
    store.hold_release.store(true, Ordering::SeqCst);
    let refresh = tokio::spawn({
        let source = source.clone();
        async move { source.refresh().await }
    });
    store.release_entered.notified().await; // `t` adopted, not yet cached
    assert!(!source.invalidate(&t), "t is not cached here");
    // Started after invalidate returned: joins the flight.
    let mut later = Box::pin(source.token());
    assert!((&mut later).now_or_never().is_none());
    store.release_release.notify_one();
    let _ = refresh.await.unwrap();
    let later = later.await.unwrap();
    let after = source.token().await.unwrap();
    eprintln!("stats {:?}", source.stats());
    assert_ne!(
        later.expose_secret(),
        t.expose_secret(),
        "a token() started after invalidate(&t) returned got t (joined flight)"
    );
    assert_ne!(
        after.expose_secret(),
        t.expose_secret(),
        "t was cached again after invalidate(&t) returned"
    );
}

/// The everyday case: `t` is cached here by a caller's own read and dropped by
/// `invalidate` (`true`) while a fetch that adopted `t` too is still under way. The fetch
/// must neither cache `t` again nor hand it to a caller that started after the
/// `invalidate`, and `t` counts as one store hit (on 8e65c6b: both broken).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_does_not_cache_again_a_token_dropped_while_it_ran() {
    let sandbox = Sandbox::start().await.unwrap();
    let store = Arc::new(MemoryStore::default());
    let writer = build(&sandbox, store.clone());
    let t = writer.token().await.unwrap();

    let source = build(&sandbox, store.clone());
    {
        let mut script = store.script.lock().unwrap();
        script.push_back(Get::Hold); // caller A's own read
        script.push_back(Get::Garbage); // the flight's first read
    }
    store.hold_release.store(true, Ordering::SeqCst);
    let a = tokio::spawn({
        let source = source.clone();
        async move { source.token().await }
    });
    store.get_entered.notified().await; // A is reading (reading = true)
    let b = tokio::spawn({
        let source = source.clone();
        async move { source.token().await } // goes to the flight
    });
    store.release_entered.notified().await; // flight adopted `t`, releasing its lease
    store.get_release.notify_one(); // A's read finishes: A caches `t`
    let got_a = a.await.unwrap().unwrap();
    assert_eq!(got_a.expose_secret(), t.expose_secret());
    assert!(source.invalidate(&got_a), "the cached token is dropped");
    let mut later = Box::pin(source.token());
    assert!((&mut later).now_or_never().is_none()); // joined the flight
    store.release_release.notify_one();
    let _ = b.await.unwrap();
    let later = later.await.unwrap();
    let after = source.token().await.unwrap();
    let stats = source.stats();
    eprintln!("stats {stats:?}, requests {}", requests(&sandbox));
    assert_ne!(
        later.expose_secret(),
        t.expose_secret(),
        "joined flight returned t"
    );
    assert_ne!(after.expose_secret(), t.expose_secret(), "t cached again");
    assert_eq!(stats.store_hits, 1, "one adopted token counted twice");
}

/// A clock that panics at its `n`th reading only.
#[derive(Debug)]
struct ClockPanickingAfter {
    readings: AtomicUsize,
    n: usize,
}

impl TimeSource for ClockPanickingAfter {
    fn now(&self) -> Instant {
        if self.readings.fetch_add(1, Ordering::SeqCst) + 1 == self.n {
            panic!("clock exploded");
        }
        Instant::now()
    }
}

/// A clock that panics (its 3rd reading: the first after the origin and the read path's
/// check of the empty cache) never reaches the caller as a panic, with a store or without
/// (on 8e65c6b, with a store it did: the caller's store read read the clock outside any
/// `catch_unwind`).
#[tokio::test]
async fn a_panicking_clock_does_not_reach_the_caller_with_a_store() {
    let sandbox = Sandbox::start().await.unwrap();
    for with_store in [false, true] {
        let mut builder = TokenSource::builder(sandbox.client_builder(PROVIDER).build().unwrap())
            .time_source(ClockPanickingAfter {
                readings: AtomicUsize::new(0),
                n: 3,
            });
        if with_store {
            builder = builder.store(Arc::new(MemoryStore::default()));
        }
        let source = builder.build().unwrap();
        let outcome = std::panic::AssertUnwindSafe(source.token())
            .catch_unwind()
            .await;
        match &outcome {
            Ok(Ok(_)) => eprintln!("store={with_store}: a token"),
            Ok(Err(e)) => eprintln!("store={with_store}: error {:?}: {e}", e.kind()),
            Err(_) => eprintln!("store={with_store}: PANIC reached the caller"),
        }
        assert!(
            outcome.is_ok(),
            "store={with_store}: a panic reached the caller"
        );
    }
}

/// On the source's (manual) clock `t` is past its lifetime while the store still holds
/// it (its time to live is on the wall clock). The next `token()` must not return `t`
/// again, from the caller's read or from the fetch, and after `invalidate(&t)` it must
/// not come back either (on 8e65c6b the fetch re-adopted it under a new identity).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_does_not_adopt_the_token_the_source_stopped_using() {
    let sandbox = Sandbox::start().await.unwrap();
    let lifetime = sandbox.endpoint(PROVIDER).token_lifetime;
    let store = Arc::new(MemoryStore::default());
    let clock = ManualClock::new();
    let source = TokenSource::builder(sandbox.client_builder(PROVIDER).build().unwrap())
        .time_source(clock.clone())
        .store(store.clone())
        .build()
        .unwrap();
    let t = source.token().await.unwrap();
    clock.advance(lifetime + Duration::from_secs(1)); // t has expired on this clock
    let again = source.token().await.unwrap();
    let stats = source.stats();
    eprintln!(
        "lifetime {lifetime:?}; same secret: {}; stats {stats:?}",
        again.expose_secret() == t.expose_secret()
    );
    let dropped = source.invalidate(&t);
    let after = source.token().await.unwrap();
    eprintln!(
        "invalidate(&t) -> {dropped}; token() after it returns t: {}",
        after.expose_secret() == t.expose_secret()
    );
    assert_ne!(
        again.expose_secret(),
        t.expose_secret(),
        "returned a token expired per the source's clock"
    );
    assert_ne!(after.expose_secret(), t.expose_secret(), "P1 by secret");
}

/// Two sources on one store (two processes' view, in one process): B adopted A's token.
/// `B.invalidate(&token_from_A)` drops B's copy, the same secret under another identity
/// (on 8e65c6b it compared identities and B kept serving the secret).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidate_drops_the_same_secret_read_from_the_store() {
    let sandbox = Sandbox::start().await.unwrap();
    let store = Arc::new(MemoryStore::default());
    let a = build(&sandbox, store.clone());
    let b = build(&sandbox, store.clone());
    let t = a.token().await.unwrap();
    let tb = b.token().await.unwrap();
    assert_eq!(t.expose_secret(), tb.expose_secret());
    let dropped = b.invalidate(&t);
    let after = b.token().await.unwrap();
    eprintln!("b.invalidate(&t) -> {dropped}");
    assert_ne!(after.expose_secret(), t.expose_secret());
}

/// Sequential callers with deadlines (80 ms) shorter than every store read (300 ms,
/// under the 500 ms operation timeout), store holding a token: they still get tokens, and
/// the fleet still makes no request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_impatient_callers_still_get_the_stored_token() {
    let sandbox = Sandbox::start().await.unwrap();
    let store = Arc::new(MemoryStore::default());
    let writer = build(&sandbox, store.clone());
    writer.token().await.unwrap();
    store.get_delay_ms.store(300, Ordering::SeqCst);
    let source = build(&sandbox, store.clone());
    let answered = impatient_calls(
        &source,
        20,
        Duration::from_millis(80),
        Duration::from_millis(20),
    )
    .await;
    let stats = source.stats();
    eprintln!("answered {answered} of 20, stats {stats:?}");
    assert!(answered >= 10, "{stats:?}");
    assert_eq!(requests(&sandbox), 1);
    assert_eq!(stats.store_hits, 1, "{stats:?}");
}

/// A runtime without the time driver: the store cannot be timed. Compare with and
/// without a store (no panic reaching the caller, and what comes back).
#[test]
fn a_runtime_without_timers_gets_no_panic() {
    let server_rt = tokio::runtime::Runtime::new().unwrap();
    let sandbox = server_rt.block_on(Sandbox::start()).unwrap();
    for with_store in [false, true] {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        let mut builder = TokenSource::builder(sandbox.client_builder(PROVIDER).build().unwrap());
        if with_store {
            builder = builder.store(Arc::new(MemoryStore::default()));
        }
        let source = builder.build().unwrap();
        let outcome = rt.block_on(async {
            std::panic::AssertUnwindSafe(source.token())
                .catch_unwind()
                .await
        });
        match &outcome {
            Ok(Ok(_)) => eprintln!("store={with_store}: a token"),
            Ok(Err(e)) => eprintln!("store={with_store}: error {:?}: {e}", e.kind()),
            Err(_) => eprintln!("store={with_store}: PANIC reached the caller"),
        }
        assert!(outcome.is_ok(), "store={with_store}");
        if let Ok(Err(e)) = &outcome {
            assert_ne!(e.kind(), ErrorKind::Configuration);
        }
        drop(source);
        drop(rt);
    }
}

/// A caller polled once (its own store read under way) and kept unpolled past the
/// operation timeout, then polled again: its read, whose store takes two 50 ms steps
/// (well inside the 200 ms timeout in wall time), times out at that poll. That is no
/// store failure: no error counted, no breaker opened, and the token the store holds is
/// used, not a new request (on 8e65c6b the breaker opened and the process fetched).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_caller_neither_trips_the_breaker_nor_costs_a_request() {
    let sandbox = Sandbox::start().await.unwrap();
    let store = Arc::new(MemoryStore::default());
    let policy = StorePolicy::default().with_operation_timeout(Duration::from_millis(200));
    let writer = build(&sandbox, store.clone());
    writer.token().await.unwrap();
    store.get_delay_ms.store(50, Ordering::SeqCst);
    store.second_step_ms.store(50, Ordering::SeqCst);
    let source = TokenSource::builder(sandbox.client_builder(PROVIDER).build().unwrap())
        .store(store.clone())
        .store_policy(policy)
        .build()
        .unwrap();
    let mut parked = Box::pin(source.token());
    assert!((&mut parked).now_or_never().is_none()); // its read is under way
    // Not a race: nothing is polled meanwhile; every deadline involved is fixed already.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = parked.await;
    let stats = source.stats();
    eprintln!(
        "ok: {}, stats {stats:?}, provider requests {}",
        got.is_ok(),
        requests(&sandbox)
    );
    assert_eq!(stats.store_errors, 0, "a healthy store counted as failing");
    assert_eq!(
        requests(&sandbox),
        1,
        "the fleet fetched twice for one credential"
    );
}

/// A caller's read that answers with an older token after a newer one was cached
/// meanwhile does not replace it: the caller gets the newer one, and the cache keeps it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_stale_read_does_not_replace_a_newer_cached_token() {
    let sandbox = Sandbox::start().await.unwrap();
    let store = Arc::new(MemoryStore::default());
    let writer = build(&sandbox, store.clone());
    let older = writer.token().await.unwrap();
    let source = build(&sandbox, store.clone());
    store.script.lock().unwrap().push_back(Get::HoldAfterRead);
    let caller = tokio::spawn({
        let source = source.clone();
        async move { source.token().await.unwrap() }
    });
    store.get_entered.notified().await; // the caller has read `older`
    let newer = writer.refresh().await.unwrap(); // the store now holds `newer`
    assert_ne!(newer.expose_secret(), older.expose_secret());
    let cached = source.refresh().await.unwrap(); // the source caches `newer`
    assert_eq!(cached.expose_secret(), newer.expose_secret());
    store.get_release.notify_one();
    let got = caller.await.unwrap();
    assert_eq!(got.expose_secret(), newer.expose_secret());
    assert_eq!(
        source.cached().unwrap().expose_secret(),
        newer.expose_secret(),
        "the older token replaced the newer one"
    );
}

/// A store that lost its later writes (a replica after a failover) keeps answering with the
/// first token: once invalidated, it is never adopted again while it is among the last
/// 1,024 the source invalidated, as its docs say (found by review: a source remembered only
/// its last 16, and after 17 more the first came back).
#[tokio::test]
async fn an_invalidated_token_a_store_replays_is_never_adopted_again() {
    let sandbox = Sandbox::start().await.unwrap();
    let store = Arc::new(MemoryStore::default());
    store.loses_token_writes.store(true, Ordering::SeqCst);
    let source = build(&sandbox, store);
    let mut rejected = Vec::new();
    for round in 0..1_024 {
        let token = source.token().await.unwrap();
        assert!(
            !rejected.contains(&token.expose_secret().to_owned()),
            "round {round}: an invalidated token came back"
        );
        rejected.push(token.expose_secret().to_owned());
        assert!(source.invalidate(&token));
    }
    assert_eq!(requests(&sandbox), 1_024);
}
