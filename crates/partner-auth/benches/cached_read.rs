//! Cost of a cached `TokenSource::token()`, beside the floor (a bare `ArcSwap::load_full`)
//! and a naive `Mutex<Option<AccessToken>>` cache, in the same run: one task, two threads,
//! and 1,000 tasks on a two-worker runtime.
//!
//! `cargo bench -p partner-auth --bench cached_read`

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use criterion::{Criterion, criterion_group, criterion_main};
use partner_auth::{AccessToken, Provider, TokenSource};
use partner_sandbox::Sandbox;

/// The three caches under test, all holding the same fresh token.
#[derive(Clone)]
struct Caches {
    source: TokenSource,
    mutex: Arc<Mutex<Option<AccessToken>>>,
    floor: Arc<ArcSwap<AccessToken>>,
}

impl Caches {
    async fn read(&self, which: Which) -> AccessToken {
        match which {
            Which::TokenSource => self.source.token().await.expect("cached"),
            Which::Mutex => self
                .mutex
                .lock()
                .expect("unpoisoned")
                .clone()
                .expect("cached"),
            Which::ArcSwapFloor => (*self.floor.load_full()).clone(),
        }
    }
}

#[derive(Clone, Copy)]
enum Which {
    TokenSource,
    Mutex,
    ArcSwapFloor,
}

const ALL: [(&str, Which); 3] = [
    ("token_source", Which::TokenSource),
    ("mutex_baseline", Which::Mutex),
    ("arc_swap_floor", Which::ArcSwapFloor),
];

fn setup(runtime: &tokio::runtime::Runtime) -> (Sandbox, Caches) {
    runtime.block_on(async {
        let sandbox = Sandbox::start().await.expect("sandbox");
        let client = sandbox
            .client_builder(Provider::Dinie)
            .build()
            .expect("client");
        let source = TokenSource::new(client);
        let token = source.token().await.expect("first token");
        let caches = Caches {
            source,
            mutex: Arc::new(Mutex::new(Some(token.clone()))),
            floor: Arc::new(ArcSwap::from_pointee(token)),
        };
        (sandbox, caches)
    })
}

fn cached_read(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (_sandbox, caches) = setup(&runtime);

    let mut group = c.benchmark_group("cached_read_single_task");
    for (name, which) in ALL {
        let caches = caches.clone();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(caches.read(which).await);
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("cached_read_2_threads");
    for (name, which) in ALL {
        let caches = caches.clone();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let per_thread = iters.div_ceil(2);
                let start = Instant::now();
                std::thread::scope(|scope| {
                    for _ in 0..2 {
                        let caches = caches.clone();
                        scope.spawn(move || {
                            let local = tokio::runtime::Builder::new_current_thread()
                                .enable_all()
                                .build()
                                .expect("runtime");
                            local.block_on(async {
                                for _ in 0..per_thread {
                                    black_box(caches.read(which).await);
                                }
                            });
                        });
                    }
                });
                start.elapsed()
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("cached_read_1000_tasks");
    for (name, which) in ALL {
        let caches = caches.clone();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let per_task = iters.div_ceil(1000).max(1);
                runtime.block_on(async {
                    let start = Instant::now();
                    let tasks: Vec<_> = (0..1000)
                        .map(|_| {
                            let caches = caches.clone();
                            tokio::spawn(async move {
                                for _ in 0..per_task {
                                    black_box(caches.read(which).await);
                                }
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await.expect("task");
                    }
                    // Per read, as if exactly `iters` reads were made.
                    start
                        .elapsed()
                        .mul_f64(iters as f64 / (per_task * 1000) as f64)
                })
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = cached_read
}
criterion_main!(benches);
