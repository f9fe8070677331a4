//! Cost of a cached `TokenSource::token()` in one run beside the honest floor (an
//! `ArcSwap::load()` and one clone of the token) and what a Rust user would write instead
//! (a `tokio::sync::RwLock<Option<AccessToken>>`, a `moka::future::Cache`): 1, 8 and 100
//! sources read round-robin, on one thread, on two threads at once (thread start-up not
//! timed) and from 1,000 tasks on a two-worker runtime (task spawning not timed).
//!
//! `cargo bench -p partner-auth --bench cached_read`

#[path = "../tests/common/sandbox.rs"]
mod sandbox_client;

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use criterion::{Criterion, criterion_group, criterion_main};
use partner_auth::{AccessToken, Provider, TokenSource};
use partner_sandbox::Sandbox;
use sandbox_client::SandboxExt as _;

/// `n` caches of each kind, each holding its own fresh token.
#[derive(Clone)]
struct Caches {
    sources: Arc<Vec<TokenSource>>,
    floor: Arc<Vec<ArcSwap<AccessToken>>>,
    rwlock: Arc<Vec<tokio::sync::RwLock<Option<AccessToken>>>>,
    moka: moka::future::Cache<usize, AccessToken>,
}

#[derive(Clone, Copy)]
enum Which {
    TokenSource,
    Floor,
    RwLock,
    Moka,
}

const ALL: [(&str, Which); 4] = [
    ("token_source", Which::TokenSource),
    ("arc_swap_load_floor", Which::Floor),
    ("tokio_rwlock", Which::RwLock),
    ("moka_future_cache", Which::Moka),
];

const SOURCE_COUNTS: [usize; 3] = [1, 8, 100];

impl Caches {
    async fn read(&self, which: Which, i: usize) -> AccessToken {
        match which {
            Which::TokenSource => self.sources[i].token().await.expect("cached"),
            Which::Floor => (**self.floor[i].load()).clone(),
            Which::RwLock => self.rwlock[i].read().await.clone().expect("cached"),
            Which::Moka => self.moka.get(&i).await.expect("cached"),
        }
    }

    /// `reads` reads, round-robin over the `n` caches, starting at `offset`.
    async fn read_many(&self, which: Which, n: usize, offset: usize, reads: u64) {
        let mut i = offset % n;
        for _ in 0..reads {
            black_box(self.read(which, i).await);
            i += 1;
            if i == n {
                i = 0;
            }
        }
    }
}

fn setup(runtime: &tokio::runtime::Runtime, n: usize) -> (Sandbox, Caches) {
    runtime.block_on(async {
        let sandbox = Sandbox::start().await.expect("sandbox");
        let mut sources = Vec::with_capacity(n);
        let moka = moka::future::Cache::new(1_000);
        let (mut floor, mut rwlock) = (Vec::new(), Vec::new());
        for i in 0..n {
            // Separate sources, each with its own token, as a multi-tenant cache holds.
            let client = sandbox
                .client_builder(Provider::Dinie)
                .build()
                .expect("client");
            let source = TokenSource::new(client);
            let token = source.token().await.expect("first token");
            floor.push(ArcSwap::from_pointee(token.clone()));
            rwlock.push(tokio::sync::RwLock::new(Some(token.clone())));
            moka.insert(i, token).await;
            sources.push(source);
        }
        let caches = Caches {
            sources: Arc::new(sources),
            floor: Arc::new(floor),
            rwlock: Arc::new(rwlock),
            moka,
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
    for n in SOURCE_COUNTS {
        let (_sandbox, caches) = setup(&runtime, n);

        let mut group = c.benchmark_group(format!("cached_read_1_thread_{n}_sources"));
        for (name, which) in ALL {
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let local = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .expect("runtime");
                    local.block_on(async {
                        let start = Instant::now();
                        caches.read_many(which, n, 0, iters).await;
                        start.elapsed()
                    })
                })
            });
        }
        group.finish();

        // Each thread makes `iters` reads at once with the other; the time of the slower
        // thread counts, from a common start after both threads are up.
        let mut group = c.benchmark_group(format!("cached_read_2_threads_{n}_sources"));
        for (name, which) in ALL {
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let ready = Barrier::new(2);
                    std::thread::scope(|scope| {
                        let threads: Vec<_> = (0..2)
                            .map(|t| {
                                let (caches, ready) = (&caches, &ready);
                                scope.spawn(move || {
                                    let local = tokio::runtime::Builder::new_current_thread()
                                        .build()
                                        .expect("runtime");
                                    ready.wait();
                                    let start = Instant::now();
                                    local.block_on(caches.read_many(which, n, t * 7, iters));
                                    start.elapsed()
                                })
                            })
                            .collect();
                        threads
                            .into_iter()
                            .map(|t| t.join().expect("thread"))
                            .max()
                            .expect("two threads")
                    })
                })
            });
        }
        group.finish();

        // 1,000 tasks on two workers, released together once all are spawned; time per
        // read as if exactly `iters` reads were made.
        let mut group = c.benchmark_group(format!("cached_read_1000_tasks_{n}_sources"));
        for (name, which) in ALL {
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let per_task = iters.div_ceil(1000).max(1);
                    runtime.block_on(async {
                        let go = Arc::new(tokio::sync::Barrier::new(1001));
                        let tasks: Vec<_> = (0..1000)
                            .map(|t| {
                                let (caches, go) = (caches.clone(), Arc::clone(&go));
                                tokio::spawn(async move {
                                    go.wait().await;
                                    caches.read_many(which, n, t, per_task).await;
                                })
                            })
                            .collect();
                        go.wait().await;
                        let start = Instant::now();
                        for task in tasks {
                            task.await.expect("task");
                        }
                        start
                            .elapsed()
                            .mul_f64(iters as f64 / (per_task * 1000) as f64)
                    })
                })
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    targets = cached_read
}
criterion_main!(benches);
