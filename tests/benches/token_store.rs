//! The shared token store's cost, side by side with what it is measured against:
//!
//! - a level-1 hit (a fresh token in memory) with a Redis store configured ÷ without one:
//!   the store must add nothing to the read path;
//! - a level-2 hit (level 1 empty, the token in Redis on loopback: read, decrypt, adopt)
//!   ÷ one `GET` round trip of the `redis` crate on a connection manager;
//! - a cold fleet, 8 processes × 1,000 callers on an empty Redis ÷ 1 process × 1,000
//!   callers: the slowest caller's wait, median of 15 rounds, and token requests per round;
//!   and 2 processes × 1,000 callers (one process per core on a two-core machine) ÷ 1.
//!
//! Needs `redis-server` on the PATH (the bench starts its own on a free loopback port).
//! `cargo bench -p workspace-tests --bench token_store`

#[allow(dead_code)] // only its figures file: the rounds are the partner-auth benches'
#[path = "../../crates/partner-auth/benches/support/rounds.rs"]
mod rounds;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use partner_auth::store::{RedisStore, TokenStore};
use partner_auth::{Provider, TokenSource};
use partner_sandbox::Sandbox;
use workspace_tests::fleet;
use workspace_tests::redis_server::RedisServer;
use workspace_tests::sandbox_client::SandboxExt as _;

const PROVIDER: Provider = Provider::Dinie;

/// Cold-fleet rounds: the slowest caller's wait moves by several times between rounds.
const ROUNDS: usize = 15;

fn main() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sandbox = runtime.block_on(Sandbox::start()).unwrap();
    let mut criterion = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    read_path(&mut criterion, &runtime, &sandbox, &redis);
    level_two(&mut criterion, &runtime, &sandbox, &redis);
    criterion.final_summary();
    cold_fleet(&runtime, &redis);
}

fn store(redis: &RedisServer) -> Arc<dyn TokenStore> {
    Arc::new(RedisStore::new(&redis.url()).unwrap())
}

fn read_path(
    c: &mut Criterion,
    runtime: &tokio::runtime::Runtime,
    sandbox: &Sandbox,
    redis: &RedisServer,
) {
    let client = sandbox.client_builder(PROVIDER).build().unwrap();
    let plain = TokenSource::new(client.clone());
    let shared = TokenSource::builder(client)
        .store(store(redis))
        .build()
        .unwrap();
    runtime.block_on(async {
        plain.token().await.unwrap();
        shared.token().await.unwrap();
    });
    let mut group = c.benchmark_group("store_read_path");
    group.bench_function("level1_hit_without_store", |b| {
        b.to_async(runtime)
            .iter(|| async { black_box(plain.token().await.unwrap()) })
    });
    group.bench_function("level1_hit_with_redis_store", |b| {
        b.to_async(runtime)
            .iter(|| async { black_box(shared.token().await.unwrap()) })
    });
    group.finish();
}

fn level_two(
    c: &mut Criterion,
    runtime: &tokio::runtime::Runtime,
    sandbox: &Sandbox,
    redis: &RedisServer,
) {
    let client = sandbox.client_builder(PROVIDER).build().unwrap();
    let store = store(redis);
    let writer = TokenSource::builder(client.clone())
        .store(Arc::clone(&store))
        .build()
        .unwrap();
    runtime.block_on(writer.token()).unwrap();
    let key = format!("partner-auth:{}:token", writer.store_key().unwrap());
    let manager = runtime
        .block_on(
            redis::Client::open(redis.url())
                .unwrap()
                .get_connection_manager(),
        )
        .unwrap();
    // Both sides run inside a task on the runtime, where applications call `token()`,
    // and each call is timed on its own: building the new source and dropping it after
    // are not timed.
    let mut group = c.benchmark_group("store_level2");
    group.bench_function("level2_hit", |b| {
        b.to_async(runtime).iter_custom(|iters| {
            let client = client.clone();
            let store = Arc::clone(&store);
            in_task(async move {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    // Level 1 empty: a new source on the same store.
                    let source = TokenSource::builder(client.clone())
                        .store(Arc::clone(&store))
                        .build()
                        .unwrap();
                    let start = Instant::now();
                    let token = source.token().await.unwrap();
                    timed += start.elapsed();
                    debug_assert_eq!(source.stats().store_hits, 1);
                    black_box((token, source));
                }
                timed
            })
        })
    });
    group.bench_function("redis_get_round_trip", |b| {
        b.to_async(runtime).iter_custom(|iters| {
            let mut manager = manager.clone();
            let key = key.clone();
            in_task(async move {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let value: Option<Vec<u8>> = redis::cmd("GET")
                        .arg(&key)
                        .query_async(&mut manager)
                        .await
                        .unwrap();
                    timed += start.elapsed();
                    black_box(value.unwrap());
                }
                timed
            })
        })
    });
    group.finish();
    let requests = sandbox.stats(PROVIDER).token_requests;
    assert!(
        requests <= 3,
        "the level-2 hits made token requests: {requests}"
    );
}

/// Runs `work` as a task of the current runtime (not on the thread that blocks on it).
async fn in_task(work: impl Future<Output = Duration> + Send + 'static) -> Duration {
    tokio::spawn(work).await.unwrap()
}

/// The slowest caller's wait (µs) and the token requests, for `processes` × 1,000 callers
/// on an empty Redis.
fn fleet_round(
    runtime: &tokio::runtime::Runtime,
    redis: Option<&RedisServer>,
    processes: usize,
) -> (u64, u64) {
    let sandbox = runtime.block_on(Sandbox::start()).unwrap();
    let endpoint = sandbox.endpoint(PROVIDER);
    let redis = redis.map(RedisServer::url).unwrap_or_default();
    let mut children: Vec<_> = (0..processes)
        .map(|_| {
            let mut member = fleet::member(env!("CARGO_BIN_EXE_fleet-member"), endpoint, &redis);
            fleet::wait_for_go(&mut member)
                .env("FLEET_MODE", "burst")
                .env("FLEET_CALLERS", "1000")
                .spawn()
                .unwrap()
        })
        .collect();
    fleet::start_together(&mut children);
    let mut slowest = 0;
    for child in children {
        let output = child.wait_with_output().unwrap();
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["errors"], 0, "{report}");
        slowest = slowest.max(report["max_wait_us"].as_u64().unwrap());
    }
    (slowest, sandbox.stats(PROVIDER).token_requests)
}

fn cold_fleet(runtime: &tokio::runtime::Runtime, redis: &RedisServer) {
    let (mut one, mut two, mut eight, mut alone) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        // Interleaved, so all four see the same machine load.
        one.push(fleet_round(runtime, Some(redis), 1));
        two.push(fleet_round(runtime, Some(redis), 2));
        eight.push(fleet_round(runtime, Some(redis), 8));
        alone.push(fleet_round(runtime, None, 8));
    }
    let median = |rounds: &mut Vec<(u64, u64)>| {
        rounds.sort();
        rounds[rounds.len() / 2]
    };
    let most = |rounds: &[(u64, u64)]| rounds.iter().map(|r| r.1).max().unwrap_or(0);
    let (one_us, _) = median(&mut one);
    let (two_us, _) = median(&mut two);
    let (eight_us, _) = median(&mut eight);
    let (alone_us, _) = median(&mut alone);
    println!(
        "cold_fleet: slowest caller, median of {ROUNDS} rounds: 8 processes x 1000 callers sharing Redis \
         {eight_us} µs (at most {} token request(s) per round); 1 process x 1000 callers \
         {one_us} µs; 8 processes x 1000 callers without a store {alone_us} µs ({} requests \
         per round); fleet / one process {:.2}x; fleet / fleet without store {:.2}x; \
         2 processes x 1000 callers sharing Redis {two_us} µs (at most {} token request(s) per \
         round), / one process {:.2}x",
        most(&eight),
        most(&alone),
        eight_us as f64 / one_us.max(1) as f64,
        eight_us as f64 / alone_us.max(1) as f64,
        most(&two),
        two_us as f64 / one_us.max(1) as f64,
    );
    // For `cargo xtask bench`, beside criterion's estimates.
    let figures = serde_json::json!({
        "fleet_us": eight_us,
        "one_process_us": one_us,
        "fleet_without_store_us": alone_us,
        "fleet_requests_max": most(&eight),
        "fleet_without_store_requests": most(&alone),
        "pair_us": two_us,
        "pair_requests_max": most(&two),
    });
    rounds::write("token_store_cold_fleet.json", &figures);
}
