//! The read path across many threads: each thread clones the cached token from a replica
//! of its own stripe, and every copy must still be the one token. Threads beyond the
//! stripes, threads exiting and handing stripes on, `token()` from a thread-local's
//! destructor, invalidation with any thread's copy, the refresh window, the middleware's
//! 401 and the blocking API, each against its promise (written by an adversarial review
//! of the replicas; each was seen failing on a build with a broken replica).

mod common;
#[path = "common/memory_store.rs"]
mod memory_store;

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use common::scripted::{Gate, Reply, Scripted};
use partner_auth::{AccessToken, CachePolicy, Provider, TokenSource};
use serde_json::json;

/// No jitter, no retries, short cool-downs: each test states what it needs on top.
fn policy() -> CachePolicy {
    common::short_policy()
}

/// A token server answering every request with a new secret (`tok-1`, `tok-2`, …), so
/// the secret comparison in `invalidate` cannot hide a wrong identity.
async fn unique_tokens() -> Scripted {
    let n = AtomicUsize::new(0);
    Scripted::respond(move |_| {
        let i = n.fetch_add(1, Ordering::SeqCst) + 1;
        Reply::token(&format!("tok-{i}"), 3600)
    })
    .await
}

fn source(server: &Scripted) -> TokenSource {
    TokenSource::builder(common::client(Provider::Dinie, server.base_url()))
        .policy(policy())
        .build()
        .unwrap()
}

/// A two-worker runtime, a server of unique tokens on it, a source of that server, and the
/// token the source first got.
fn started() -> (tokio::runtime::Runtime, Scripted, TokenSource, AccessToken) {
    let rt = common::two_worker_runtime();
    let server = rt.block_on(unique_tokens());
    let source = source(&server);
    let first = rt.block_on(source.token()).unwrap();
    (rt, server, source, first)
}

/// More threads alive at once than owned stripes (32), so some read replica 0
/// on the shared stripe; every thread's copy is the same token, the hit count is exact,
/// 60 threads invalidating their own copies at once drop it exactly once, and no call
/// after that returns it.
#[test]
fn sixty_threads_beyond_the_stripes_one_token_exact_hits_one_invalidation() {
    const THREADS: usize = 60;
    const READS: usize = 2_000;
    let (rt, server, source, first) = started();
    let barrier = Barrier::new(THREADS);
    let dropped = AtomicUsize::new(0);
    let wrong = AtomicUsize::new(0);
    let after: Vec<AccessToken> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    let mut mine = None;
                    for _ in 0..READS {
                        // No panics before the barriers: the other threads would wait.
                        let t = common::poll_once(source.token()).and_then(Result::ok);
                        if let Some(t) = t.filter(|t| {
                            t.same_as(&first)
                                && t.expose_secret() == first.expose_secret()
                                && t.expires_at_instant() == first.expires_at_instant()
                        }) {
                            mine = Some(t);
                        } else {
                            wrong.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    // Everyone alive at once, each with the copy of its own stripe.
                    barrier.wait();
                    if mine.is_some_and(|mine| source.invalidate(&mine)) {
                        dropped.fetch_add(1, Ordering::SeqCst);
                    }
                    barrier.wait();
                    rt.block_on(source.token()).unwrap()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(
        wrong.load(Ordering::SeqCst),
        0,
        "copies that were not the token"
    );
    assert_eq!(dropped.load(Ordering::SeqCst), 1, "exactly one drop");
    assert!(after.iter().all(|t| !t.same_as(&first)));
    assert!(after.iter().all(|t| t.same_as(&after[0])));
    assert_eq!(server.count(), 2);
    let stats = source.stats();
    assert_eq!(stats.invalidations, 1);
    assert_eq!(
        stats.cache_hits + stats.cache_misses,
        1 + (THREADS * READS + THREADS) as u64
    );
    assert!(stats.cache_hits >= (THREADS * READS) as u64, "{stats:?}");
}

/// Waves of 40 threads exit and hand their stripes (and so replicas) on to the
/// next wave; between waves a copy read on a random stripe of the last wave invalidates.
#[test]
fn waves_of_threads_handing_stripes_on_keep_identity_and_exact_counts() {
    const WAVES: usize = 5;
    const THREADS: usize = 40;
    const READS: usize = 500;
    let (rt, _server, source, mut current) = started();
    for wave in 0..WAVES {
        let copies: Vec<AccessToken> = (0..THREADS)
            .map(|_| {
                let source = source.clone();
                std::thread::spawn(move || {
                    let mut last = None;
                    for _ in 0..READS {
                        last = Some(common::poll_once(source.token()).expect("a hit").unwrap());
                    }
                    last.unwrap()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        assert!(copies.iter().all(|c| c.same_as(&current)), "wave {wave}");
        let pick = (wave * 7 + 3) % THREADS;
        assert!(source.invalidate(&copies[pick]), "wave {wave}");
        assert!(!source.invalidate(&current), "dropped once");
        assert!(!source.invalidate(&copies[(pick + 1) % THREADS]));
        let next = rt.block_on(source.token()).unwrap();
        assert!(!next.same_as(&current));
        current = next;
    }
    let stats = source.stats();
    assert_eq!(
        stats.cache_hits,
        (WAVES * THREADS * READS) as u64,
        "{stats:?}"
    );
    assert_eq!(stats.cache_misses, 1 + WAVES as u64);
    assert_eq!(stats.invalidations, WAVES as u64);
}

/// What a thread-local's destructor saw.
#[derive(Debug, Default)]
struct Seen {
    hit_same: bool,
    invalidated: bool,
    after: Option<String>,
}

struct Hook {
    source: TokenSource,
    expect: AccessToken,
    invalidate: bool,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Drop for Hook {
    fn drop(&mut self) {
        // No panics here: a panic in a thread-local's destructor aborts.
        let mut seen = Seen::default();
        if let Some(Ok(t)) = common::poll_once(self.source.token()) {
            seen.hit_same =
                t.same_as(&self.expect) && t.expose_secret() == self.expect.expose_secret();
            if self.invalidate {
                seen.invalidated = self.source.invalidate(&t);
                // No runtime here: not a hit, so an error or pending, never `t` again.
                seen.after = match common::poll_once(self.source.token()) {
                    Some(Ok(again)) if again.same_as(&t) => {
                        Some("GOT THE INVALIDATED TOKEN".into())
                    }
                    Some(Ok(_)) => Some("another token".into()),
                    Some(Err(e)) => Some(format!("error: {:?}", e.kind())),
                    None => Some("pending".into()),
                };
            }
        }
        self.seen.lock().unwrap().push(seen);
    }
}

thread_local! {
    static HOOK: RefCell<Option<Hook>> = const { RefCell::new(None) };
}

/// `token()` (and `invalidate`) from a thread-local's destructor, with the
/// stripe's thread-local destroyed before (hook registered first), after (hook registered
/// last), or first touched there (never read on the thread before); 40 threads of each at
/// once so some hold no stripe. The copy is the token, hits are counted exactly, and an
/// invalidation from a destructor holds.
#[test]
fn token_from_a_thread_locals_destructor_in_every_order() {
    const THREADS: usize = 40;
    const READS: usize = 100;
    let (rt, _server, source, first) = started();
    let seen = Arc::new(Mutex::new(Vec::new()));
    // 0: hook first, reads after (stripe's thread-local dies before the hook's);
    // 1: reads first, hook after (hook's dies first); 2: hook only (stripe first taken in
    // the destructor).
    let mut expected_hits = 0;
    let threads: Vec<_> = (0..3 * THREADS)
        .map(|i| {
            let order = i % 3;
            expected_hits += 1 + if order == 2 { 0 } else { READS };
            let hook = Hook {
                source: source.clone(),
                expect: first.clone(),
                invalidate: false,
                seen: Arc::clone(&seen),
            };
            let source = source.clone();
            std::thread::spawn(move || {
                let read = || {
                    for _ in 0..READS {
                        common::poll_once(source.token()).unwrap().unwrap();
                    }
                };
                match order {
                    0 => {
                        HOOK.with(|h| *h.borrow_mut() = Some(hook));
                        read();
                    }
                    1 => {
                        read();
                        HOOK.with(|h| *h.borrow_mut() = Some(hook));
                    }
                    _ => HOOK.with(|h| *h.borrow_mut() = Some(hook)),
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3 * THREADS);
    assert!(seen.iter().all(|s| s.hit_same), "{seen:?}");
    assert_eq!(
        source.stats().cache_hits,
        expected_hits as u64,
        "{:?}",
        source.stats()
    );

    // An invalidation from a destructor (after the stripe is gone) holds for everyone.
    let seen2 = Arc::new(Mutex::new(Vec::new()));
    let hook = Hook {
        source: source.clone(),
        expect: first.clone(),
        invalidate: true,
        seen: Arc::clone(&seen2),
    };
    let s = source.clone();
    std::thread::spawn(move || {
        HOOK.with(|h| *h.borrow_mut() = Some(hook));
        common::poll_once(s.token()).unwrap().unwrap();
    })
    .join()
    .unwrap();
    let seen2 = seen2.lock().unwrap();
    assert!(seen2[0].hit_same && seen2[0].invalidated, "{seen2:?}");
    assert_ne!(seen2[0].after.as_deref(), Some("GOT THE INVALIDATED TOKEN"));
    assert!(!rt.block_on(source.token()).unwrap().same_as(&first));
    assert!(source.cached().is_some_and(|c| !c.same_as(&first)));
}

/// Readers on 12 threads race rounds of `invalidate` made with another thread's
/// copy; no `token()` call that starts after an `invalidate` returned gets that token.
#[test]
fn no_call_started_after_invalidate_returns_the_token_whichever_copy_invalidated() {
    const READERS: usize = 12;
    const ROUNDS: usize = 150;
    let (rt, server, source, _) = started();
    let invalidated: Mutex<Vec<AccessToken>> = Mutex::new(Vec::new());
    let epoch = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<AccessToken>>> = (0..READERS).map(|_| Mutex::new(None)).collect();
    let stop = AtomicBool::new(false);
    let violations = AtomicUsize::new(0);
    let drops = std::thread::scope(|scope| {
        for (i, slot) in slots.iter().enumerate() {
            let (source, rt, invalidated, epoch, stop, violations) =
                (&source, &rt, &invalidated, &epoch, &stop, &violations);
            scope.spawn(move || {
                let mut n = 0usize;
                while !stop.load(Ordering::SeqCst) {
                    let started = epoch.load(Ordering::SeqCst);
                    let t = rt.block_on(source.token()).unwrap();
                    let gone = invalidated.lock().unwrap()[..started]
                        .iter()
                        .any(|old| old.same_as(&t) || old.expose_secret() == t.expose_secret());
                    if gone {
                        violations.fetch_add(1, Ordering::SeqCst);
                    }
                    n += 1;
                    if n % 16 == i % 16 {
                        *slot.lock().unwrap() = Some(t);
                    }
                }
            });
        }
        struct StopOnDrop<'a>(&'a AtomicBool);
        impl Drop for StopOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let _stop = StopOnDrop(&stop);
        let mut drops = 0;
        for round in 0..ROUNDS {
            // Another thread's copy of the current token.
            let give_up = std::time::Instant::now() + Duration::from_secs(10);
            let copy = loop {
                assert!(
                    std::time::Instant::now() < give_up,
                    "no reader's copy is ever the cached token"
                );
                let current = source.cached();
                let candidate = slots[round % READERS].lock().unwrap().clone();
                match (current, candidate) {
                    (Some(c), Some(t)) if c.same_as(&t) => break t,
                    _ => std::thread::yield_now(),
                }
            };
            // Only this thread invalidates: the copy is the cached token until it does.
            let mut list = invalidated.lock().unwrap();
            if source.invalidate(&copy) {
                drops += 1;
            }
            list.push(copy);
            drop(list);
            epoch.fetch_add(1, Ordering::SeqCst);
        }
        stop.store(true, Ordering::SeqCst);
        drops
    });
    assert_eq!(drops, ROUNDS, "every round's copy dropped the cached token");
    assert_eq!(violations.load(Ordering::SeqCst), 0);
    assert_eq!(source.stats().invalidations, ROUNDS as u64);
    // One fetch per round (the last round's only if a reader got there before the stop).
    assert!(
        (ROUNDS..=ROUNDS + 1).contains(&server.count()),
        "{}",
        server.count()
    );
}

/// The refresh window read on 40 threads (each its own replica): one background
/// refresh, every caller gets the current token meanwhile, then the new one.
#[test]
fn refresh_ahead_from_forty_threads_starts_one_refresh() {
    let rt = common::two_worker_runtime();
    let gate = Gate::new();
    let server = rt.block_on(Scripted::sequence(
        vec![Reply::token("tok-1", 3)],
        Reply::token("tok-2", 3).held(&gate),
    ));
    let (source, clock, _sleep) = {
        let _e = rt.enter();
        common::on_manual_clock(common::client(Provider::Dinie, server.base_url()), policy())
    };
    let first = rt.block_on(source.token()).unwrap();
    clock.advance(Duration::from_millis(2150));
    let barrier = Barrier::new(40);
    std::thread::scope(|scope| {
        for _ in 0..40 {
            scope.spawn(|| {
                barrier.wait();
                for _ in 0..200 {
                    let t = rt.block_on(source.token()).unwrap();
                    assert!(t.same_as(&first));
                }
            });
        }
    });
    assert_eq!(source.stats().refreshes, 1);
    rt.block_on(common::scripted::eventually("refresh sent", || {
        server.count() == 2
    }));
    gate.open();
    rt.block_on(common::scripted::eventually("refreshed", || {
        source.cached().is_some_and(|t| !t.same_as(&first))
    }));
    let copies: Vec<_> = std::thread::scope(|scope| {
        let ts: Vec<_> = (0..40)
            .map(|_| scope.spawn(|| common::poll_once(source.token()).unwrap().unwrap()))
            .collect();
        ts.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert!(
        copies
            .iter()
            .all(|t| t.expose_secret() == "tok-2" && !t.same_as(&first))
    );
    assert_eq!(server.count(), 2);
    assert_eq!(source.stats().refreshes, 1);
}

/// `cached()` (the primary) against `token()` (a replica) across threads.
#[test]
fn cached_and_token_copies_are_interchangeable() {
    let (rt, _server, source, first) = started();
    let copies: Vec<_> = std::thread::scope(|scope| {
        let ts: Vec<_> = (0..20)
            .map(|_| scope.spawn(|| common::poll_once(source.token()).unwrap().unwrap()))
            .collect();
        ts.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let primary = source.cached().unwrap();
    for c in &copies {
        assert!(c.same_as(&primary) && primary.same_as(c));
        assert_eq!(format!("{c:?}"), format!("{primary:?}"));
        assert_eq!(c.to_string(), primary.to_string());
        assert_eq!(
            serde_json::to_value(c).unwrap(),
            serde_json::to_value(&primary).unwrap()
        );
        // The secret is one allocation, not copied per replica.
        assert_eq!(c.expose_secret().as_ptr(), primary.expose_secret().as_ptr());
        assert!(
            !format!("{c:?}{c}{}", serde_json::to_string(c).unwrap()).contains(c.expose_secret())
        );
    }
    assert!(source.invalidate(&primary));
    assert!(!source.invalidate(&copies[5]));
    assert!(!rt.block_on(source.token()).unwrap().same_as(&first));
}

/// The middleware's 401 path on 40 threads at once, each holding its own stripe's
/// copy: exactly one invalidation, one new fetch, every request retried with it.
#[test]
fn forty_threads_of_401s_through_the_middleware_invalidate_once() {
    let rt = common::two_worker_runtime();
    let tokens = rt.block_on(unique_tokens());
    let api = rt.block_on(Scripted::respond(|hit| {
        if hit.authorization.as_deref() == Some("Bearer tok-2") {
            Reply::json(200, json!({"ok": true}))
        } else {
            Reply::json(401, json!({"error": "invalid_token"}))
        }
    }));
    let source = source(&tokens);
    rt.block_on(source.token()).unwrap();
    let http = common::api_client(
        partner_auth::AuthMiddleware::new(source.clone(), api.base_url()).unwrap(),
    );
    let barrier = Barrier::new(40);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let ts: Vec<_> = (0..40)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    rt.block_on(http.get(format!("{}/orders", api.base_url())).send())
                        .unwrap()
                        .status()
                        .as_u16()
                })
            })
            .collect();
        ts.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(tokens.count(), 2);
    assert_eq!(source.stats().invalidations, 1);
}

/// The blocking API from 40 plain threads: one token, exact hits, any copy drops it.
#[cfg(feature = "blocking")]
#[test]
fn blocking_copies_from_forty_threads() {
    let rt = common::two_worker_runtime();
    let server = rt.block_on(unique_tokens());
    let source = partner_auth::blocking::TokenSource::with_source(
        TokenSource::builder(common::client(Provider::Dinie, server.base_url()))
            .policy(policy())
            .build()
            .unwrap(),
    )
    .unwrap();
    let first = source.token().unwrap();
    let copies: Vec<_> = std::thread::scope(|scope| {
        let ts: Vec<_> = (0..40)
            .map(|_| {
                scope.spawn(|| {
                    let mut last = None;
                    for _ in 0..100 {
                        last = Some(source.token().unwrap());
                    }
                    last.unwrap()
                })
            })
            .collect();
        ts.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert!(copies.iter().all(|c| c.same_as(&first)));
    assert_eq!(source.stats().cache_hits, 4000);
    assert!(source.invalidate(&copies[39]));
    assert!(!source.invalidate(&copies[0]));
    assert!(!source.token().unwrap().same_as(&first));
    assert_eq!(server.count(), 2);
}

/// A token read back from a store is another token to `same_as` (its identity is this
/// process's), with the same secret, and `invalidate` drops it given the fetched copy.
#[tokio::test]
async fn a_token_read_from_a_store_is_not_same_as_the_fetched_one_but_invalidates_it() {
    let server = unique_tokens().await;
    let store = Arc::new(memory_store::MemoryStore::default());
    let with_store = || {
        TokenSource::builder(common::client(Provider::Dinie, server.base_url()))
            .policy(policy())
            .store(store.clone())
            .build()
            .unwrap()
    };
    let (fetching, reading) = (with_store(), with_store());
    let fetched = fetching.token().await.unwrap();
    let restored = reading.token().await.unwrap();
    assert_eq!(server.count(), 1, "the second read the store");
    assert_eq!(restored.expose_secret(), fetched.expose_secret());
    assert!(!restored.same_as(&fetched));
    assert!(reading.token().await.unwrap().same_as(&restored));
    assert!(reading.invalidate(&fetched), "the same secret");
    assert!(!reading.cached().is_some_and(|c| c.same_as(&restored)));
}
