//! 10,000 concurrent cold callers against a loopback token server (the sandbox): the
//! token requests they make (must be 1) and their wall time beside one single fetch, and
//! beside the harness alone (10,000 spawned tasks that do nothing).
//!
//! `cargo bench -p partner-auth --bench stampede`

#[path = "../tests/common/sandbox.rs"]
mod sandbox_client;

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use partner_auth::{Provider, TokenSource};
use partner_sandbox::Sandbox;
use sandbox_client::SandboxExt as _;

const CALLERS: usize = 10_000;

fn stampede(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let sandbox = runtime.block_on(Sandbox::start()).expect("sandbox");
    let client = sandbox
        .client_builder(Provider::Dinie)
        .build()
        .expect("client");

    let mut group = c.benchmark_group("stampede");
    group.bench_function("single_fetch", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    client.fetch_token().await.expect("token");
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("10000_noop_tasks", |b| {
        // The harness alone: spawning and joining 10,000 tasks that do nothing.
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let tasks: Vec<_> = (0..CALLERS).map(|_| tokio::spawn(async {})).collect();
                    for task in tasks {
                        task.await.expect("task");
                    }
                    total += start.elapsed();
                }
                total
            })
        })
    });
    group.bench_function("10000_cold_callers", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let source = TokenSource::new(client.clone());
                    let before = sandbox.stats(Provider::Dinie).token_requests;
                    let start = Instant::now();
                    let callers: Vec<_> = (0..CALLERS)
                        .map(|_| {
                            let source = source.clone();
                            tokio::spawn(async move { source.token().await })
                        })
                        .collect();
                    for caller in callers {
                        caller.await.expect("task").expect("token");
                    }
                    total += start.elapsed();
                    let requests = sandbox.stats(Provider::Dinie).token_requests - before;
                    assert_eq!(requests, 1, "10,000 cold callers made {requests} requests");
                }
                total
            })
        })
    });
    group.finish();
    println!("stampede: token requests per 10,000 cold callers = 1 (asserted on every iteration)");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4));
    targets = stampede
}
criterion_main!(benches);
