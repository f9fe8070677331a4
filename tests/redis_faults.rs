//! `RedisStore` under faults, found by an adversarial review and kept as regression tests:
//! a waiting refresh, a shared key prefix, Redis full during a write, a dropped waiter.

use std::sync::Arc;
use std::time::{Duration, Instant};

use partner_auth::store::{RedisStore, StorePolicy, TokenStore as _};
use partner_auth::{Provider, TokenSource};
use partner_sandbox::{Faults, Sandbox};
use redis::AsyncCommands as _;
use workspace_tests::latency_proxy;
use workspace_tests::redis_server::{self, RedisServer};
use workspace_tests::sandbox_client::SandboxExt as _;
#[cfg(target_os = "linux")]
use workspace_tests::sockets;

const PROVIDER: Provider = Provider::Cobee;

async fn info_stat(server: &RedisServer, name: &str) -> u64 {
    let value = server.info("stats", name).await;
    value.and_then(|v| v.parse().ok()).expect(name)
}

fn build(sandbox: &Sandbox, url: &str, policy: StorePolicy) -> TokenSource {
    let client = sandbox.client_builder(PROVIDER).build().unwrap();
    redis_server::source_on(url, client, policy)
}

/// A refresh waiting for another's lease listens; it does not poll: B refreshes under the
/// lease (its request stalled 1.5 s) while A refreshes too. (When a stored token ended the
/// wait, A spun: 682 connections and 5,462 commands in 1.5 s.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_refresh_does_not_poll_redis() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let sandbox = Sandbox::builder()
        .faults(Faults::hold_first(2, Duration::from_millis(1500)))
        .start()
        .await
        .unwrap();
    let policy = StorePolicy::default();
    let a = build(&sandbox, &server.url(), policy.clone());
    let b = build(&sandbox, &server.url(), policy.clone());
    a.token().await.unwrap(); // request 0, stalled 1.5 s
    b.token().await.unwrap(); // adopted
    let (connections, commands) = (
        info_stat(&server, "total_connections_received").await,
        info_stat(&server, "total_commands_processed").await,
    );
    let refresher = tokio::spawn({
        let b = b.clone();
        async move { b.refresh().await.map(|_| ()) } // request 1, stalled 1.5 s
    });
    while sandbox.stats(PROVIDER).token_requests < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    a.refresh().await.unwrap();
    let waited = started.elapsed();
    refresher.await.unwrap().unwrap();
    let connections = info_stat(&server, "total_connections_received").await - connections;
    let commands = info_stat(&server, "total_commands_processed").await - commands;
    eprintln!(
        "A waited {waited:?}; during it Redis saw {connections} new connections and \
         {commands} commands; requests {}; A {:?}",
        sandbox.stats(PROVIDER).token_requests,
        a.stats()
    );
    assert!(
        connections < 20 && commands < 200,
        "busy polling: {connections} connections, {commands} commands in {waited:?}"
    );
}

/// `clear()` deletes only this store's keys, not other keys under a shared prefix.
#[tokio::test]
async fn clear_leaves_other_applications_keys_alone() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mut c = server.connection().await;
    let _: () = c
        .set("billing:session:42:token", "someone else's")
        .await
        .unwrap();
    let _: () = c
        .set("billing:job:7:lease", "someone else's")
        .await
        .unwrap();
    let _: () = c
        .set(
            "partner-auth:staging:".to_owned() + &"a".repeat(64) + ":token",
            "x",
        )
        .await
        .unwrap();
    let billing = RedisStore::builder(server.url())
        .key_prefix("billing:")
        .build()
        .unwrap();
    let removed = billing.clear().await.unwrap();
    let default = RedisStore::new(&server.url()).unwrap();
    let removed_default = default.clear().await.unwrap();
    let left: Vec<String> = c.keys("*").await.unwrap();
    eprintln!(
        "billing: clear() removed {removed}; default prefix removed {removed_default}; left {left:?}"
    );
    assert_eq!(
        left.len(),
        3,
        "clear deleted keys that are not partner-auth's"
    );
}

/// Found by review: `clear()` deleted every key shaped as this store's under its prefix,
/// whoever wrote it. Such a key is deleted only when it holds what this store writes
/// there: a sealed token, a lease owner, a deleted value's SHA-1 (40 hex digits: a
/// `:deleted` key holding a number, hex digits too, was deleted).
#[tokio::test]
async fn clear_deletes_only_what_this_store_wrote_among_keys_shaped_as_its_own() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let sandbox = Sandbox::start().await.unwrap();
    let store = Arc::new(
        RedisStore::builder(server.url())
            .key_prefix("app:")
            .build()
            .unwrap(),
    );
    let writer = TokenSource::builder(sandbox.client_builder(PROVIDER).build().unwrap())
        .store(store.clone())
        .build()
        .unwrap();
    writer.token().await.unwrap();
    let mut c = server.connection().await;
    // Another application's keys under the same prefix, each shaped as this store's.
    let (session, job, list) = (
        format!("app:{}:token", "ab".repeat(32)),
        format!("app:{}:lease", "cd".repeat(32)),
        format!("app:{}:token", "ef".repeat(32)),
    );
    let _: () = c.set(&session, "someone else's session").await.unwrap();
    let _: () = c.set(&job, "worker-7 (not hex)").await.unwrap();
    let _: () = c.rpush(&list, "a list, not a string").await.unwrap();
    let count = format!("app:{}:deleted", "12".repeat(32));
    let _: () = c.set(&count, "2024").await.unwrap();
    // Hex, but not a lease owner (32 hex digits) this store takes.
    let year = format!("app:{}:lease", "34".repeat(32));
    let _: () = c.set(&year, "2024").await.unwrap();
    // A lease this store's sources take (an owner of 128 random bits) is its own.
    let ours = "56".repeat(32);
    assert!(
        store
            .try_lease(&ours, &"0a".repeat(16), Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert_eq!(store.clear().await.unwrap(), 1, "the one token written");
    let mut left: Vec<String> = c.keys("app:*").await.unwrap();
    left.sort();
    let mut theirs = vec![session, job, list, count, year];
    theirs.sort();
    assert_eq!(left, theirs, "clear() removed a key it never wrote");
}

/// Redis full (noeviction) exactly when A writes its token: the write fails and opens A's
/// breaker, but A still ends its lease, so B does not wait it out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_does_not_make_the_fleet_wait_a_lease() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let sandbox = Sandbox::builder()
        .faults(Faults::hold_first(1, Duration::from_millis(400)))
        .start()
        .await
        .unwrap();
    let policy = StorePolicy::default().with_lease_ttl(Duration::from_secs(5));
    let a = build(&sandbox, &server.url(), policy.clone());
    let b = build(&sandbox, &server.url(), policy.clone());
    let mut c = server.connection().await;
    let first = tokio::spawn({
        let a = a.clone();
        async move { a.token().await.map(|_| ()) }
    });
    while sandbox.stats(PROVIDER).token_requests == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let config = |value: &'static str| {
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory")
            .arg(value)
            .clone()
    };
    let _: () = config("1").query_async(&mut c).await.unwrap();
    first.await.unwrap().unwrap();
    let _: () = config("0").query_async(&mut c).await.unwrap();
    let keys: Vec<String> = c.keys("*").await.unwrap();
    eprintln!("A: {:?}; keys now {keys:?}", a.stats());
    let started = Instant::now();
    b.token().await.unwrap();
    let waited = started.elapsed();
    eprintln!("B waited {waited:?}: {:?}", b.stats());
    assert!(
        waited < Duration::from_secs(1),
        "B waited {waited:?} for a lease nobody holds"
    );
}

/// Redis full (noeviction) when a token the API rejected is invalidated: the delete still
/// happens (Redis runs `DEL` when full), so no other process adopts the rejected token.
/// (The delete script noted the deleted value first, a `SET` that Redis refuses when full,
/// and the whole script failed: the rejected token stayed in Redis for the fleet.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidate_on_a_full_redis_still_deletes_the_token() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let sandbox = Sandbox::builder().start().await.unwrap();
    let a = build(&sandbox, &server.url(), StorePolicy::default());
    let mut c = server.connection().await;
    let rejected = a.token().await.unwrap();
    let maxmemory = |value: &'static str| {
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory")
            .arg(value)
            .clone()
    };
    let _: () = maxmemory("1").query_async(&mut c).await.unwrap();
    assert!(a.invalidate(&rejected));
    // A's next fetch deletes the invalidated token first; its own write then fails (full).
    let fresh = a.token().await.unwrap();
    assert_ne!(fresh.expose_secret(), rejected.expose_secret());
    let tokens: Vec<String> = c.keys("*:token").await.unwrap();
    let _: () = maxmemory("0").query_async(&mut c).await.unwrap();
    assert_eq!(
        tokens,
        Vec::<String>::new(),
        "the token A invalidated on a full Redis is still there for the fleet; A: {:?}",
        a.stats()
    );
}

/// No task outlives its owner: drop a source (and its RedisStore) while its flight waits
/// on another's lease, then count the runtime's live tasks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_waiting_source_leaves_no_task() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let sandbox = Sandbox::builder()
        .faults(Faults::hold_first(1, Duration::from_secs(2)))
        .start()
        .await
        .unwrap();
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline = metrics.num_alive_tasks();
    let holder = build(&sandbox, &server.url(), StorePolicy::default());
    let h = tokio::spawn({
        let holder = holder.clone();
        async move { holder.token().await.map(|_| ()) }
    });
    while sandbox.stats(PROVIDER).token_requests == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let waiter = build(&sandbox, &server.url(), StorePolicy::default());
    let w = tokio::spawn({
        let waiter = waiter.clone();
        async move { waiter.token().await.map(|_| ()) }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    eprintln!(
        "during: {} tasks (baseline {baseline}), waiter {:?}",
        metrics.num_alive_tasks(),
        waiter.stats()
    );
    w.abort();
    let _ = w.await;
    drop(waiter);
    h.await.unwrap().unwrap();
    drop(holder);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = metrics.num_alive_tasks();
    eprintln!("after dropping both: {after} tasks (baseline {baseline})");
    assert!(after <= baseline, "{after} tasks outlive their sources");
}

/// Glob characters in the key prefix are escaped by clear().
#[tokio::test]
async fn clear_escapes_glob_characters_in_the_prefix() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mut c = server.connection().await;
    let hex = "a".repeat(64);
    let _: () = c.set(format!("ab[c]:{hex}:token"), "other").await.unwrap();
    // Ours: a sealed token starts with the seal's magic.
    let _: () = c
        .set(format!("a*:{hex}:token"), "pat2 sealed")
        .await
        .unwrap();
    let store = RedisStore::builder(server.url())
        .key_prefix("a*:")
        .build()
        .unwrap();
    let removed = store.clear().await.unwrap();
    let left: Vec<String> = c.keys("*").await.unwrap();
    assert_eq!((removed, left), (1, vec![format!("ab[c]:{hex}:token")]));
}

/// Two cold sources of one credential sharing `store` under `policy`, one after the other:
/// their stats, and whether the second got the first's token.
async fn two_cold_sources(
    sandbox: &Sandbox,
    store: &Arc<RedisStore>,
    policy: StorePolicy,
) -> (partner_auth::Stats, partner_auth::Stats, bool) {
    let source = || {
        TokenSource::builder(sandbox.client_builder(PROVIDER).build().unwrap())
            .store(store.clone())
            .store_policy(policy.clone())
            .build()
            .unwrap()
    };
    let (first, second) = (source(), source());
    let token = first.token().await.unwrap();
    let shared = second.token().await.unwrap().expose_secret() == token.expose_secret();
    (first.stats(), second.stats(), shared)
}

/// Every store operation has its own timeout: a Redis 200 ms a round trip away, with a
/// 300 ms operation timeout, still shares one token between two cold sources (a read that
/// finds nothing, then the lease, are two operations, not one bound for both).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_store_operation_fits_its_own_timeout_on_a_distant_redis() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let port = latency_proxy::start(server.port(), Duration::from_millis(100)).await;
    let store = Arc::new(RedisStore::new(&format!("redis://127.0.0.1:{port}/")).unwrap());
    // Connected, and every script loaded, before the sources start: only their own
    // operations are timed.
    let warm = "ab".repeat(32);
    store.get(&warm).await.unwrap();
    store
        .get_or_lease(&warm, "warm", Duration::from_secs(1))
        .await
        .unwrap();
    store
        .put(&warm, b"x", Duration::from_secs(1))
        .await
        .unwrap();
    store.release_lease(&warm, "warm").await.unwrap();
    let started = Instant::now();
    store.get(&warm).await.unwrap();
    let round_trip = started.elapsed();
    assert!(round_trip >= Duration::from_millis(200), "{round_trip:?}");
    let sandbox = Sandbox::start().await.unwrap();
    let policy = StorePolicy::default().with_operation_timeout(Duration::from_millis(300));
    let (a, b, shared) = two_cold_sources(&sandbox, &store, policy).await;
    assert!(shared, "the second source got a token of its own");
    assert_eq!(
        (a.store_errors, b.store_errors, a.store_misses, b.store_hits),
        (0, 0, 1, 1),
        "{a:?} {b:?}"
    );
    assert_eq!(sandbox.stats(PROVIDER).token_requests, 1);
}

/// `StorePolicy::operation_timeout` is what bounds an operation, longer than 500 ms too:
/// with a Redis 600 ms a round trip away and a 3 s operation timeout, two cold sources
/// share one token without a store error (found by review: the `redis` crate's own 500 ms
/// response timeout cut every command first, and each source fetched on its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_timeout_over_500_ms_is_the_one_that_applies() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let port = latency_proxy::start(server.port(), Duration::from_millis(300)).await;
    let store = Arc::new(RedisStore::new(&format!("redis://127.0.0.1:{port}/")).unwrap());
    let sandbox = Sandbox::start().await.unwrap();
    let policy = StorePolicy::default().with_operation_timeout(Duration::from_secs(3));
    let (a, b, shared) = two_cold_sources(&sandbox, &store, policy).await;
    assert_eq!((a.store_errors, b.store_errors), (0, 0), "{a:?} {b:?}");
    assert!(shared, "the second source got a token of its own");
    assert_eq!(sandbox.stats(PROVIDER).token_requests, 1);
}

/// A stored value far larger than any token this crate seals (written by something else
/// with access to Redis) is read only up to a bound: a counted miss, replaced by the
/// fetched token, and Redis sends less than the value itself. (Before, each of the three
/// reads took the whole value: 96 MiB here, and over a slow link the operation timed out.)
#[tokio::test]
async fn an_oversized_stored_value_is_read_only_up_to_a_bound() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let sandbox = Sandbox::start().await.unwrap();
    let source = build(&sandbox, &server.url(), StorePolicy::default());
    let key = format!("partner-auth:{}:token", source.store_key().unwrap());
    let mut connection = server.connection().await;
    let planted = vec![b'x'; 32 << 20];
    let _: () = connection.pset_ex(&key, planted, 60_000).await.unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut connection)
        .await
        .unwrap();

    source.token().await.unwrap();
    let sent = info_stat(&server, "total_net_output_bytes").await;
    let stats = source.stats();
    assert_eq!(
        (
            stats.store_decrypt_failures,
            stats.store_errors,
            stats.token_requests
        ),
        (1, 0, 1),
        "decrypt failures, store errors, token requests"
    );
    assert!(sent < 8 << 20, "Redis sent {sent} bytes");
    let stored: Vec<u8> = connection.get(&key).await.unwrap();
    assert!(stored.len() < 4096, "not replaced: {} bytes", stored.len());
}

/// Something other than a string at the token key (a hash, a list, put there by something
/// else) is no token: the first source leases, fetches and writes over it, and the next
/// reads what it wrote (found by review: GETRANGE answered WRONGTYPE, every read was a
/// store error, and every process fetched on its own for as long as the key was there).
#[tokio::test]
async fn a_hash_or_a_list_at_the_token_key_is_no_token_and_is_replaced() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    for kind in ["HSET", "RPUSH"] {
        let sandbox = Sandbox::start().await.unwrap();
        let first = build(&sandbox, &server.url(), StorePolicy::default());
        let key = format!("partner-auth:{}:token", first.store_key().unwrap());
        let mut connection = server.connection().await;
        let _: () = redis::cmd("DEL")
            .arg(&key)
            .query_async(&mut connection)
            .await
            .unwrap();
        let mut plant = redis::cmd(kind);
        plant.arg(&key).arg("field");
        if kind == "HSET" {
            plant.arg("value");
        }
        let _: () = plant.query_async(&mut connection).await.unwrap();
        first.token().await.unwrap();
        let second = build(&sandbox, &server.url(), StorePolicy::default());
        second.token().await.unwrap();
        let stored: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut connection)
            .await
            .unwrap();
        let errors = first.stats().store_errors + second.stats().store_errors;
        assert_eq!(
            (
                sandbox.stats(PROVIDER).token_requests,
                stored.as_str(),
                errors
            ),
            (1, "string", 0),
            "{kind}: token requests, the key's type, store errors"
        );
    }
}

/// Promise (`RedisStore` docs): "An ACL user needs `GET`, `GETRANGE`, `PTTL`, `SET`, `DEL`,
/// `PUBLISH` (run by the scripts), `EXISTS` …, `MULTI`, `EXEC`, `EVALSHA` and `SCRIPT
/// LOAD`; `HELLO` and `SUBSCRIBE` for waits woken by messages (without them waits poll)";
/// and (README) "Redis failing costs one warning".
///
/// A user with exactly those commands and its key pattern but no pub/sub channel (Redis
/// 7's default for a new user, `acl-pubsub-default resetchannels`; spelled out here): the
/// write script's `PUBLISH` is refused after its `SET` has landed, so every token write is
/// a store error and opens the back-off (the token is stored regardless), and a lease's
/// release fails the same way after its `DEL`. Wake-ups are a latency matter: a refused
/// one must not fail the write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_channel_access_writes_and_releases_without_store_errors() {
    let user = [
        "--user",
        "alice",
        "on",
        ">alice-pw-0xBEEF",
        "~partner-auth:*",
        "resetchannels",
    ];
    let Some(server) =
        RedisServer::start_with(&[&user, redis_server::DOCUMENTED_COMMANDS].concat())
    else {
        return;
    };
    let sandbox = Sandbox::start().await.unwrap();
    let url = format!("redis://alice:alice-pw-0xBEEF@127.0.0.1:{}/", server.port());
    let writer = build(&sandbox, &url, StorePolicy::default());
    let token = writer.token().await.unwrap();
    assert_eq!(
        writer.stats().store_errors,
        0,
        "writing the token (a script whose PUBLISH the user's ACL refuses) was a store error"
    );
    let reader = build(&sandbox, &url, StorePolicy::default());
    assert_eq!(
        reader.token().await.unwrap().expose_secret(),
        token.expose_secret()
    );
    assert_eq!(reader.stats().store_hits, 1);

    // A lease's release, and a wait for one (it polls: no subscription).
    let store = RedisStore::new(&url).unwrap();
    let key = "cd".repeat(32);
    assert!(
        store
            .try_lease(&key, "someone", Duration::from_secs(30))
            .await
            .unwrap()
    );
    store
        .release_lease(&key, "someone")
        .await
        .expect("releasing a lease (a script whose PUBLISH the ACL refuses) failed");
    store.wait(&key, Duration::from_millis(300)).await.unwrap();
    assert!(
        store
            .try_lease(&key, "another", Duration::from_secs(30))
            .await
            .unwrap()
    );
}

/// Promise (README): "One fetch per fleet. ... Refresh ahead works the same way: one process
/// refreshes while the rest keep serving their token and pick up the new one"; and "Redis
/// failing costs one warning".
///
/// Redis (or the proxy in front of it) closes a connection that has been idle: Redis's
/// `timeout`, a managed service's idle limit (ten minutes on some), a failover. A token
/// source uses its store about twice per token lifetime, so at each refresh its connection
/// has long been closed. The first operation on it failed (the manager reconnects only
/// after that failure), which opened the back-off: every process then fetched a token of
/// its own, wrote none, and warned of an outage, at every refresh, with Redis healthy.
/// Closed here with `CLIENT KILL`, as an idle timeout would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_redis_closed_while_idle_costs_no_token_and_no_store_error() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let sandbox = Sandbox::start().await.unwrap();
    let a = build(&sandbox, &server.url(), StorePolicy::default());
    let b = build(&sandbox, &server.url(), StorePolicy::default());
    let first = a.token().await.unwrap();
    assert_eq!(
        b.token().await.unwrap().expose_secret(),
        first.expose_secret()
    );
    // Both connections idle, then closed by the server.
    let mut admin = server.connection().await;
    let killed: i64 = redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "normal", "SKIPME", "yes"][..])
        .query_async(&mut admin)
        .await
        .unwrap();
    assert!(killed >= 2, "{killed} connections closed");
    // A refresh, then the other process's: one new token for both.
    let second = a.refresh().await.unwrap();
    assert_ne!(second.expose_secret(), first.expose_secret());
    let picked_up = b.refresh().await.unwrap();
    let (sa, sb) = (a.stats(), b.stats());
    assert_eq!(
        (sa.store_errors, sb.store_errors),
        (0, 0),
        "a connection the server closed while idle was a store failure: {sa:?} {sb:?}"
    );
    assert_eq!(picked_up.expose_secret(), second.expose_secret());
    assert_eq!(sandbox.stats(PROVIDER).token_requests, 2);
}

/// Closes every client connection but `admin`'s, as Redis's idle `timeout` would; returns
/// how many.
async fn kill_idle_connections(admin: &mut redis::aio::MultiplexedConnection) -> i64 {
    redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "normal", "SKIPME", "yes"][..])
        .query_async(admin)
        .await
        .unwrap()
}

/// The README: a connection Redis closed while idle is reopened and the operation tried
/// once more, without an error, for a delete, a lease and a release as for a read (only
/// the read was tested; each of these failed when its second try was taken out).
#[tokio::test]
async fn a_delete_a_lease_and_a_release_on_a_connection_closed_while_idle_succeed() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::new(&server.url()).unwrap();
    let mut admin = server.connection().await;
    let key = "cd".repeat(32);
    let lease = format!("partner-auth:{key}:lease");
    let ttl = Duration::from_secs(60);
    store.put(&key, b"token-1", ttl).await.unwrap();

    assert_eq!(kill_idle_connections(&mut admin).await, 1);
    let deleted = store.compare_and_delete(&key, b"token-1").await;
    assert!(matches!(deleted, Ok(true)), "a delete: {deleted:?}");
    assert_eq!(store.get(&key).await.unwrap(), None);

    assert_eq!(kill_idle_connections(&mut admin).await, 1);
    let taken = store.try_lease(&key, "owner-1", ttl).await;
    assert!(matches!(taken, Ok(true)), "a lease: {taken:?}");
    let owner: Option<String> = admin.get(&lease).await.unwrap();
    assert_eq!(owner.as_deref(), Some("owner-1"));

    assert_eq!(kill_idle_connections(&mut admin).await, 1);
    let released = store.release_lease(&key, "owner-1").await;
    assert!(released.is_ok(), "a release: {released:?}");
    let held: bool = admin.exists(&lease).await.unwrap();
    assert!(!held, "the lease outlived its release");

    assert_eq!(kill_idle_connections(&mut admin).await, 1);
    let lookup = store.get_or_lease(&key, "owner-2", ttl).await;
    assert!(
        matches!(lookup, Ok(partner_auth::store::Lookup::Leased)),
        "a read that leases: {lookup:?}"
    );
}

/// The same through a source: an `invalidate` whose delete finds the connection closed
/// deletes the stored token without a store error (nor the outage that would follow).
#[tokio::test]
async fn an_invalidate_on_a_connection_closed_while_idle_costs_no_store_error() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let sandbox = Sandbox::start().await.unwrap();
    let a = build(&sandbox, &server.url(), StorePolicy::default());
    let first = a.token().await.unwrap();
    let key = format!("partner-auth:{}:token", a.store_key().unwrap());
    let mut admin = server.connection().await;
    let stored: bool = admin.exists(&key).await.unwrap();
    assert!(stored);
    assert_eq!(kill_idle_connections(&mut admin).await, 1);
    assert!(a.invalidate(&first));
    // The delete runs before the source reads the store again: here.
    let second = a.token().await.unwrap();
    assert_ne!(second.expose_secret(), first.expose_secret());
    let stats = a.stats();
    assert_eq!(
        stats.store_errors, 0,
        "a delete on a connection the server closed while idle was a store failure: {stats:?}"
    );
    assert_eq!(sandbox.stats(PROVIDER).token_requests, 2);
    // The stored token is the new one (written after the delete).
    let b = build(&sandbox, &server.url(), StorePolicy::default());
    assert_eq!(
        b.token().await.unwrap().expose_secret(),
        second.expose_secret()
    );
    assert_eq!(sandbox.stats(PROVIDER).token_requests, 2);
}

/// The second try after a lost connection may repeat a lease attempt that took the lease:
/// its owner already holds it, which counts as taken (not as someone else's lease to wait
/// out); another owner's attempt still does not take it.
#[tokio::test]
async fn a_lease_attempt_repeated_by_its_owner_counts_as_taken() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::new(&server.url()).unwrap();
    let key = "ef".repeat(32);
    let ttl = Duration::from_secs(30);
    assert!(store.try_lease(&key, "owner-1", ttl).await.unwrap());
    assert!(store.try_lease(&key, "owner-1", ttl).await.unwrap());
    assert!(!store.try_lease(&key, "owner-2", ttl).await.unwrap());
    let again = store.get_or_lease(&key, "owner-1", ttl).await.unwrap();
    assert_eq!(again, partner_auth::store::Lookup::Leased);
    let other = store.get_or_lease(&key, "owner-2", ttl).await.unwrap();
    assert_eq!(other, partner_auth::store::Lookup::Held);
}

/// A proxy to Redis on `target` that, once armed, forwards the next client chunk holding an
/// `EVALSHA` to Redis, swallows Redis's reply and closes the client's connection (a reply
/// lost with the connection: a failover, a network blip); the connection made after that is
/// joined to Redis only once `release` fires. Says on `dropped` when the reply was lost.
async fn reply_dropper(
    target: u16,
) -> (
    u16,
    Arc<std::sync::atomic::AtomicBool>,
    tokio::sync::oneshot::Receiver<()>,
    tokio::sync::oneshot::Sender<()>,
) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let armed = Arc::new(AtomicBool::new(false));
    let (dropped_tx, dropped) = tokio::sync::oneshot::channel();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let arm = Arc::clone(&armed);
    tokio::spawn(async move {
        let mut dropped_tx = Some(dropped_tx);
        let mut released = Some(released);
        while let Ok((client, _)) = listener.accept().await {
            // After the drop, the next connection waits for the release.
            if dropped_tx.is_none()
                && let Some(released) = released.take()
            {
                let _ = released.await;
            }
            let server = tokio::net::TcpStream::connect(("127.0.0.1", target))
                .await
                .unwrap();
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            let swallow = Arc::new(AtomicBool::new(false));
            let (to_redis, from_redis) = (Arc::clone(&swallow), swallow);
            let arm = Arc::clone(&arm);
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = client_read.read(&mut buffer).await {
                    let chunk = &buffer[..n];
                    if arm.load(Ordering::SeqCst)
                        && chunk.windows(7).any(|w| w.eq_ignore_ascii_case(b"EVALSHA"))
                    {
                        arm.store(false, Ordering::SeqCst);
                        to_redis.store(true, Ordering::SeqCst);
                    }
                    if server_write.write_all(chunk).await.is_err() {
                        return;
                    }
                }
            });
            let mut dropped_tx = dropped_tx.take();
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = server_read.read(&mut buffer).await {
                    if from_redis.load(Ordering::SeqCst) {
                        // The reply is lost with the connection.
                        drop(client_write);
                        if let Some(tx) = dropped_tx.take() {
                            let _ = tx.send(());
                        }
                        return;
                    }
                    if client_write.write_all(&buffer[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, armed, dropped, release)
}

/// Promise (`RedisStore`, its second try after a lost connection): "Each operation is safe
/// to repeat: reads, a write of the same value, …". A write whose first try landed and whose
/// reply was lost with the connection is written again once reconnected; a delete of that
/// value in between (another process invalidating the token the API rejected, or a kept
/// failure ended) is undone, and the fleet adopts the rejected token again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_tried_again_after_a_lost_reply_does_not_restore_a_value_deleted_since() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let (port, armed, dropped, release) = reply_dropper(server.port()).await;
    let through = Arc::new(RedisStore::new(&format!("redis://127.0.0.1:{port}/")).unwrap());
    let direct = RedisStore::new(&server.url()).unwrap();
    let key = "ab".repeat(32);
    let ttl = Duration::from_secs(60);
    // Connected, and the write script loaded.
    through.put(&key, b"warm-up", ttl).await.unwrap();
    armed.store(true, std::sync::atomic::Ordering::SeqCst);
    let put = tokio::spawn({
        let (through, key) = (Arc::clone(&through), key.clone());
        async move { through.put(&key, b"token-1", ttl).await }
    });
    dropped.await.expect("the write's reply was lost");
    // The write landed: another process reads the token, has it rejected, and deletes it.
    let landed = direct.get(&key).await.unwrap().expect("the write landed");
    assert_eq!(landed.value, b"token-1");
    assert!(direct.compare_and_delete(&key, b"token-1").await.unwrap());
    release.send(()).unwrap();
    let _ = put.await.unwrap();
    let now = direct.get(&key).await.unwrap().map(|entry| entry.value);
    assert_eq!(
        now, None,
        "the write's second try restored the token deleted after its first landed"
    );
}

/// The store's connections (commands and pub/sub) probe an idle peer: a NAT or firewall
/// that forgets an idle connection (AWS's NAT gateway after 350 s, Azure's after 4
/// minutes) dropped it silently, and the next operation of every process waited out its
/// timeout and fetched a token of its own (found by review). Read back from the sockets
/// themselves: `SO_KEEPALIVE` with the first probe after 60 s idle, then every 15 s, 4 of
/// them; and `TCP_USER_TIMEOUT` of 20 s, so a peer gone while data is in flight closes the
/// connection (and the manager opens another) instead of Linux's 15 minutes of
/// retransmissions.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_stores_connections_probe_an_idle_peer() {
    use rustix::net::sockopt;

    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::new(&server.url()).unwrap();
    assert!(
        store
            .try_lease("probe", "me", Duration::from_secs(5))
            .await
            .unwrap()
    );
    // A wait subscribes on the pub/sub connection; the lease is there, so it times out.
    store
        .wait("probe", Duration::from_millis(200))
        .await
        .unwrap();

    let sockets = sockets::sockets_to(server.port(), sockets::ESTABLISHED);
    assert_eq!(
        sockets.len(),
        2,
        "a command and a pub/sub connection: {sockets:?}"
    );
    for socket in sockets {
        let options = (
            sockopt::socket_keepalive(&socket).unwrap(),
            sockopt::tcp_keepidle(&socket).unwrap(),
            sockopt::tcp_keepintvl(&socket).unwrap(),
            sockopt::tcp_keepcnt(&socket).unwrap(),
            sockopt::tcp_user_timeout(&socket).unwrap(),
        );
        assert_eq!(
            options,
            (
                true,
                Duration::from_secs(60),
                Duration::from_secs(15),
                4,
                20_000
            ),
            "{socket:?}: keepalive, idle, interval, probes, user timeout (ms)"
        );
    }
}

/// A current-thread runtime for one job, ended after it (a `#[tokio::test]`, a sync
/// wrapper's runtime per job).
fn job_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A store used from successive runtimes (a static store or source, a runtime per job):
/// a token written as the first operation of a job lands, though the connection was made
/// on a runtime that has ended since. (Its connection's I/O ran on that runtime and went
/// with it; the write, tried once, failed.)
#[test]
fn a_write_on_a_runtime_after_the_one_that_connected_ended_lands() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::new(&server.url()).unwrap();
    let key = "cd".repeat(32);
    let ttl = Duration::from_secs(60);
    job_runtime().block_on(async { store.get(&key).await.unwrap() });
    let written = job_runtime().block_on(store.put(&key, b"token-1", ttl));
    assert!(
        written.is_ok(),
        "a write on the next runtime failed: {written:?}"
    );
    let stored = job_runtime().block_on(async { store.get(&key).await.unwrap() });
    assert_eq!(stored.map(|entry| entry.value), Some(b"token-1".to_vec()));
}

/// Promise (README): "One fetch per fleet". Runtimes that overlap share one store (jobs on
/// several threads, each with a runtime of its own, and a static source or store): runtime
/// A made the store's connection, and B fetches a token meanwhile. A ends (or, a runtime
/// kept between jobs, sits idle: a current-thread runtime nothing blocks on runs no I/O)
/// while B's request is under way; B's token must still reach Redis, so that the next
/// process reads it instead of asking. (It failed: B's write went to A's connection,
/// broken or never driven, and was tried once; 1 store error, 2 token requests.)
#[test]
fn a_token_fetched_while_the_runtime_that_connected_ends_or_idles_reaches_redis() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    for idle in [false, true] {
        let sandbox = server_runtime
            .block_on(
                Sandbox::builder()
                    .faults(Faults::hold_first(1, Duration::from_millis(300)))
                    .start(),
            )
            .unwrap();
        let store = Arc::new(
            RedisStore::builder(server.url())
                .key_prefix(format!("idle-{idle}:"))
                .build()
                .unwrap(),
        );
        let b = TokenSource::builder(sandbox.client_builder(PROVIDER).build().unwrap())
            .store(Arc::clone(&store) as Arc<dyn partner_auth::store::TokenStore>)
            .build()
            .unwrap();
        let (connected, a_connected) = std::sync::mpsc::channel::<()>();
        let (end_a, a_ends) = tokio::sync::oneshot::channel::<()>();
        let (a_gone, a_is_gone) = std::sync::mpsc::channel::<()>();
        let (b_done, b_is_done) = std::sync::mpsc::channel::<()>();
        let a = std::thread::spawn({
            let store = Arc::clone(&store);
            move || {
                let runtime = job_runtime();
                runtime.block_on(async {
                    store.get(&"cd".repeat(32)).await.unwrap();
                    connected.send(()).unwrap();
                    let _ = a_ends.await;
                });
                if idle {
                    // Kept, idle, until B is done.
                    a_gone.send(()).unwrap();
                    let _ = b_is_done.recv();
                    drop(runtime);
                } else {
                    drop(runtime);
                    a_gone.send(()).unwrap();
                }
            }
        });
        a_connected.recv().unwrap();
        job_runtime().block_on(async {
            let fetch = tokio::spawn({
                let b = b.clone();
                async move { b.token().await.map(|_| ()) }
            });
            while sandbox.stats(PROVIDER).token_requests == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            end_a.send(()).unwrap();
            tokio::task::spawn_blocking(move || a_is_gone.recv().unwrap())
                .await
                .unwrap();
            fetch.await.unwrap().unwrap();
        });
        let _ = b_done.send(());
        a.join().unwrap();
        // Another process, later.
        let c = TokenSource::builder(sandbox.client_builder(PROVIDER).build().unwrap())
            .store(Arc::new(
                RedisStore::builder(server.url())
                    .key_prefix(format!("idle-{idle}:"))
                    .build()
                    .unwrap(),
            ))
            .build()
            .unwrap();
        job_runtime().block_on(async { c.token().await.unwrap() });
        assert_eq!(
            (
                b.stats().store_errors,
                sandbox.stats(PROVIDER).token_requests
            ),
            (0, 1),
            "runtime A {}: store errors, token requests; {:?}",
            if idle { "idle" } else { "ended" },
            b.stats()
        );
    }
}

/// Promise (README): waiters are "woken by pub/sub". A wait on a runtime after the one
/// whose wait subscribed (a runtime per job) is woken by the release too. (That
/// subscription went with its runtime, or sat unread while it idled; the store still
/// counted the channel as subscribed, and every later runtime's waits woke only to look
/// every 500 ms.) Here the lease is released and taken again by another owner in one
/// step: only the message ends the wait before its 60 s.
#[test]
fn a_wait_on_a_later_runtime_is_woken_by_the_release() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    for idle in [false, true] {
        let prefix = format!("idle-{idle}:");
        let store = RedisStore::builder(server.url())
            .key_prefix(&prefix)
            .build()
            .unwrap();
        let key = "ef".repeat(32);
        let (lease, events) = (
            format!("{prefix}{key}:lease"),
            format!("{prefix}{key}:events"),
        );
        let hand_over = |owner: &'static str| {
            let (lease, events) = (lease.clone(), events.clone());
            let server = &server;
            async move {
                redis::Script::new(
                    "redis.call('DEL', KEYS[1]) redis.call('PUBLISH', KEYS[2], 'released') \
                     redis.call('SET', KEYS[1], ARGV[1], 'PX', 60000)",
                )
                .key(lease)
                .key(events)
                .arg(owner)
                .invoke_async::<()>(&mut server.connection().await)
                .await
                .unwrap();
            }
        };
        let waited_on = |runtime: &tokio::runtime::Runtime, owner: &'static str| {
            runtime.block_on(async {
                let listening = server.command_calls("exists").await;
                let wait = store.wait(&key, Duration::from_secs(60));
                let release = async {
                    // The wait looks at the lease once it listens.
                    while server.command_calls("exists").await == listening {
                        tokio::task::yield_now().await;
                    }
                    hand_over(owner).await;
                };
                let (woken, ()) =
                    tokio::join!(tokio::time::timeout(Duration::from_secs(10), wait), release);
                woken.is_ok()
            })
        };
        let first = job_runtime();
        first.block_on(hand_over("holder-0"));
        assert!(
            waited_on(&first, "holder-1"),
            "the first wait was not woken"
        );
        let kept = if idle { Some(first) } else { None };
        assert!(
            waited_on(&job_runtime(), "holder-2"),
            "a wait on the next runtime (the first {}) was not woken by the release",
            if idle { "idle" } else { "ended" }
        );
        drop(kept);
    }
}

/// A proxy to Redis on `target` that holds back, on its way to Redis, the first client
/// chunk holding `marker` (and what follows it on that connection) until `release` fires:
/// a write stuck in the network (a stalled connection retransmitting) while other
/// connections go through. Says on `held` when it holds one.
async fn write_holder(
    target: u16,
    marker: &'static [u8],
) -> (
    u16,
    tokio::sync::oneshot::Receiver<()>,
    tokio::sync::oneshot::Sender<()>,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (held_tx, held) = tokio::sync::oneshot::channel();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let stall = Arc::new(tokio::sync::Mutex::new(Some((held_tx, released))));
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = tokio::net::TcpStream::connect(("127.0.0.1", target))
                .await
                .unwrap();
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            let stall = Arc::clone(&stall);
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = client_read.read(&mut buffer).await {
                    let chunk = &buffer[..n];
                    if chunk.windows(marker.len()).any(|w| w == marker)
                        && let Some((held, released)) = stall.lock().await.take()
                    {
                        let _ = held.send(());
                        let _ = released.await;
                    }
                    if server_write.write_all(chunk).await.is_err() {
                        return;
                    }
                }
            });
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                let _ = client_write.shutdown().await;
            });
        }
    });
    (port, held, release)
}

/// No task outlives its owner, on a Redis that stops answering (a stalled connection): a
/// source's lease attempt, given up after its operation timeout, is waited for in a task
/// of its own (to end a lease it takes late) only as long as a lease lives, and with it
/// goes the last hold on the store. (That task waited unbounded, since the store sets no
/// response timeout, holding the store and its connections for as long as Redis stayed
/// silent: one more such task for each fetch.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_attempt_on_a_stalled_redis_ends_with_its_timeout() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let sandbox = Sandbox::builder().start().await.unwrap();
    // Every script call is held: the reads go through, the lease attempt never returns.
    let (port, held, release) = write_holder(server.port(), b"EVALSHA").await;
    let store = Arc::new(RedisStore::new(&format!("redis://127.0.0.1:{port}/")).unwrap());
    let kept = Arc::downgrade(&store);
    let source = TokenSource::builder(sandbox.client_builder(PROVIDER).build().unwrap())
        .store(store as Arc<dyn partner_auth::store::TokenStore>)
        .store_policy(StorePolicy::default().with_lease_ttl(Duration::from_secs(1)))
        .build()
        .unwrap();
    source.token().await.unwrap();
    held.await.expect("the lease attempt was held");
    drop(source);
    // Given up by the source after 500 ms, waited for 1 s (the lease's life): 5 s allowed.
    let deadline = Instant::now() + Duration::from_secs(5);
    while kept.strong_count() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let left = kept.strong_count();
    let _ = release.send(());
    assert_eq!(
        left, 0,
        "the store is still held 5 s after its source was dropped (a task waits on Redis)"
    );
}

/// Promise (`invalidate`): the stored token it was given is deleted. A write that got no
/// answer within its timeout may still land (it is kept for that reason, and deleted on
/// invalidate). Here it lands after the delete, which went on another connection (another
/// runtime's, or one opened after a reconnect) and found nothing yet: the rejected token
/// must not come back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_lands_after_the_delete_of_its_value_does_not_restore_it() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let (port, held, release) = write_holder(server.port(), b"token-1").await;
    let through = Arc::new(RedisStore::new(&format!("redis://127.0.0.1:{port}/")).unwrap());
    let direct = RedisStore::new(&server.url()).unwrap();
    let key = "ab".repeat(32);
    let ttl = Duration::from_secs(60);
    // Connected, and the write script loaded.
    through.put(&key, b"warm-up", ttl).await.unwrap();
    let put = tokio::spawn({
        let (through, key) = (Arc::clone(&through), key.clone());
        async move {
            tokio::time::timeout(
                Duration::from_millis(500),
                through.put(&key, b"token-1", ttl),
            )
            .await
        }
    });
    held.await.expect("the write was held");
    let answered = put.await.unwrap();
    // Timed out by the caller, or by the connection's own response timeout.
    assert!(
        !matches!(answered, Ok(Ok(()))),
        "the write was answered: {answered:?}"
    );
    // The source gives up on the write, and its token is rejected: deleted.
    direct.compare_and_delete(&key, b"token-1").await.unwrap();
    release.send(()).unwrap();
    // The write lands now; the connection's next command is answered after it.
    through.get(&"cd".repeat(32)).await.unwrap();
    let now = direct.get(&key).await.unwrap().map(|entry| entry.value);
    assert_ne!(
        now.as_deref(),
        Some(&b"token-1"[..]),
        "the write landed after the delete of its value and restored it"
    );
}
