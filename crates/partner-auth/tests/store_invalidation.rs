//! A token source with a store, at its edges: the stored copy of an invalidated token
//! (deleted before the source next reads the store, whatever the write's or the delete's
//! fate, an invalidate mid-flight included) and the refresh of a token adopted from the
//! store. Each test failed on the code before its fix (found by review).
//!
//! All traffic is on loopback; time-dependent tests run on a `ManualClock`.

mod common;
#[path = "common/memory_store.rs"]
mod memory_store;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::scripted::{Reply, Scripted, eventually};
use memory_store::MemoryStore;
use partner_auth::store::{StorePolicy, TokenStore};
use partner_auth::time::ManualClock;
use partner_auth::{CachePolicy, Provider, RetryPolicy, TokenSource};
use serde_json::json;

/// `CachePolicy::refresh_fraction` (5ca16bb): "Whatever the window and its jitter, a token
/// is not refreshed before half of its use (its lifetime less the expiry_margin) has
/// passed"; README: "never before half of the token's use, whatever the policy".
///
/// A token adopted from a store is scheduled from the reader's window but the writer's end
/// of use: `refresh_from = usable_until (writer's) - (usable - refresh_offset) (reader's)`.
/// A writer whose `expiry_margin` is larger than the reader's (two services sharing a
/// credential, configured apart) makes the reader refresh well before half of the token's
/// use, by either process's measure. Here: a one-hour token, the writer keeping a 6-minute
/// margin (usable 54 min, half 27 min), the reader none (usable 60 min, half 30 min) with a
/// window as long as the token: the reader refreshes at 24 min.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_adopted_from_a_store_is_not_refreshed_before_half_of_its_use() {
    let server = Scripted::sequence(vec![], Reply::token("tok-1", 3600)).await;
    let client = || common::client(Provider::Tradevest, server.base_url());
    let store = Arc::new(MemoryStore::default());
    let writer = TokenSource::builder(client())
        .store(store.clone())
        .policy(CachePolicy::default().with_expiry_margin(Duration::from_secs(600)))
        .build()
        .unwrap();
    writer.token().await.unwrap();

    let clock = ManualClock::new();
    let reader = TokenSource::builder(client())
        .store(store.clone())
        .time_source(clock.clone())
        .policy(
            CachePolicy::default()
                .with_expiry_margin(Duration::ZERO)
                .with_refresh_window(Duration::from_secs(7200), 1.0)
                .with_refresh_jitter(0.0),
        )
        .build()
        .unwrap();
    assert_eq!(reader.token().await.unwrap().expose_secret(), "tok-1");
    assert_eq!(reader.stats().store_hits, 1, "adopted from the store");

    // 25 minutes on: before half of the writer's use (27 min) and the reader's (30 min).
    clock.advance(Duration::from_secs(25 * 60));
    reader.token().await.unwrap();
    assert_eq!(
        reader.stats().refreshes,
        0,
        "a token adopted from the store was refreshed 25 min into its hour, before half of \
         its use (27 min by the writer's margin, 30 min by the reader's)"
    );
}

/// `TokenSource::invalidate`: "With a store, the stored copy is deleted too (only if it is
/// still `token`): before this source next reads the store"; README: "`invalidate` deletes
/// exactly the stored token it was given ... so fifty replicas reporting one 401 cause one
/// new fetch".
///
/// The write of `tok-1` lands in the store, but its answer comes after the operation
/// timeout (a Redis reply late or lost): the source counts it failed and keeps no sealed
/// copy, so `invalidate(tok-1)` schedules no delete at all. When the source next reads
/// the store, the rejected token is still there, and every other process adopts it until
/// its time to live ends (here: another source built after the invalidation gets it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_landed_late_is_still_deleted_when_its_token_is_invalidated() {
    let server = Scripted::sequence(
        vec![Reply::token("tok-1", 3600)],
        Reply::token("tok-2", 3600),
    )
    .await;
    let client = || common::client(Provider::Tradevest, server.base_url());
    let store = Arc::new(MemoryStore::default());
    let store_policy = StorePolicy::default().with_operation_timeout(Duration::from_millis(200));
    let clock = ManualClock::new();
    let b = TokenSource::builder(client())
        .store(store.clone())
        .store_policy(store_policy.clone())
        .time_source(clock.clone())
        .policy(CachePolicy::default().with_retry(RetryPolicy::none()))
        .build()
        .unwrap();
    store.put_lands_then_hangs.store(true, Ordering::SeqCst);
    let tok1 = b.token().await.unwrap();
    assert_eq!(tok1.expose_secret(), "tok-1");
    let key = b.store_key().unwrap().to_owned();
    let sealed_tok1 = store.puts.lock().unwrap()[0].clone();
    assert_eq!(
        store.token(&key).as_deref(),
        Some(&sealed_tok1[..]),
        "the write landed"
    );

    // The API rejects tok-1.
    assert!(b.invalidate(&tok1));
    // Past the back-off the late write opened, B reads the store again.
    clock.advance(Duration::from_secs(10));
    let gets_before = store.gets().len();
    assert_eq!(b.token().await.unwrap().expose_secret(), "tok-2");
    let first_read = store.gets().get(gets_before).cloned().flatten();
    assert!(
        first_read.as_deref() != Some(&sealed_tok1[..]),
        "B read the store with the token it invalidated still stored ({} deletes tried)",
        store.deletes.load(Ordering::SeqCst)
    );
}

/// The same promise, raced with a flight: `invalidate` while this source's refresh waits
/// for another process's lease. The flight keeps reading the store (every 20 ms) with the
/// rejected token in it and never tries the delete: the delete waits for the *next* flight,
/// and until this one ends (up to a lease time and a fetch deadline) the rejected token
/// stays stored for the fleet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidate_during_a_lease_wait_deletes_before_the_flight_reads_again() {
    let server = Scripted::sequence(
        vec![Reply::token("tok-1", 3600)],
        Reply::token("tok-2", 3600),
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
    assert_eq!(b.stats().store_hits, 1);
    let key = b.store_key().unwrap().to_owned();
    let sealed_tok1 = store.token(&key).unwrap();

    // Another process is refreshing: it holds the lease.
    assert!(
        store
            .try_lease(&key, "another-process", Duration::from_secs(600))
            .await
            .unwrap()
    );
    let before_refresh = store.gets().len();
    let refresh = tokio::spawn({
        let b = b.clone();
        async move { b.refresh().await }
    });
    eventually("B waits for the lease", || {
        store.gets().len() >= before_refresh + 3
    })
    .await;

    // The API rejects tok-1; B invalidates it mid-flight.
    assert!(b.invalidate(&tok1));
    let after_invalidate = store.gets().len();
    eventually("B's flight reads the store again", || {
        store.gets().len() >= after_invalidate + 3
    })
    .await;
    let deletes = store.deletes.load(Ordering::SeqCst);
    let stale_reads = store.gets()[after_invalidate..]
        .iter()
        .filter(|g| g.as_deref() == Some(&sealed_tok1[..]))
        .count();

    // Let the flight end.
    store.release_lease(&key, "another-process").await.unwrap();
    let _ = refresh.await;

    assert!(
        // One read may have begun before `invalidate` returned.
        deletes > 0 || stale_reads <= 1,
        "B read the store {stale_reads} times after invalidating tok-1, each finding it \
         still stored, without trying to delete it ({deletes} deletes)"
    );
}

/// README: "a delete that fails is tried again at the source's next fetches, until one
/// works, a token it writes replaces the entry, or ...".
///
/// While the store backs off, the flight's one attempt at the delete fails as the back-off
/// ends (an attempt that takes its operation timeout, started in the last moments of the
/// back-off). The flight then went on to read the store and left the rejected token in
/// it; it now writes the new token over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_that_fails_at_the_end_of_a_back_off_leaves_no_rejected_token_stored() {
    let server = Scripted::sequence(
        vec![
            Reply::token("tok-1", 3600),
            Reply::json(503, json!({"error": "temporarily_unavailable"})),
        ],
        Reply::token("tok-2", 3600),
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
    assert_eq!(b.stats().store_hits, 1);
    let key = b.store_key().unwrap().to_owned();
    let sealed_tok1 = store.token(&key).unwrap();

    // A store blip: B backs off for 5 s (its refresh fails at the provider: tok-1 stays).
    store.fail_next_get.store(true, Ordering::SeqCst);
    assert!(b.refresh().await.is_err());
    assert_eq!(b.stats().store_errors, 1);
    // The API rejects tok-1; past the failure's cool-down (2 s), in the back-off (5 s).
    assert!(b.invalidate(&tok1));
    clock.advance(Duration::from_secs(3));
    // The delete attempt takes 2.5 s (the back-off ends meanwhile), then fails.
    *store.slow_failing_delete.lock().unwrap() = Some((clock.clone(), Duration::from_millis(2500)));
    let gets_before = store.gets().len();
    assert_eq!(b.token().await.unwrap().expose_secret(), "tok-2");
    let deletes = store.deletes.load(Ordering::SeqCst);
    let reads = store.gets()[gets_before..].to_vec();
    let stale = reads
        .iter()
        .filter(|g| g.as_deref() == Some(&sealed_tok1[..]))
        .count();
    // The flight goes on with the store (the back-off is over): it reads past tok-1 and
    // writes tok-2 over it, or, if it reads no tok-1, the delete was made.
    let stored = store.token(&key);
    assert!(
        stored.as_deref() != Some(&sealed_tok1[..]),
        "after its delete of tok-1 failed, B read the store {} times ({stale} finding tok-1 \
         still stored, {deletes} deletes) and left tok-1 stored for the fleet",
        reads.len()
    );
}
