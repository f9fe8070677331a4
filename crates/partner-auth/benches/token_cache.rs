//! What a [`TokenCache`] adds to a multi-tenant service's lookups, on a cache full of
//! 10,000 tenants (its default bound):
//!
//! - a new tenant, which evicts the least recently used, beside the floor: building that
//!   tenant's `TokenSource` alone (the work any cache of sources does for a new tenant);
//! - a cached tenant's lookup (`TokenCache::source`), for the record;
//! - the first lookup after all 10,000 went idle beside a new tenant in a full cache with
//!   none idle, and the slowest of the 1,250 lookups that then drop them beside the slowest
//!   of as many with none idle, in interleaved rounds (each round fills a cache of its own,
//!   untimed): idle sources go a few per lookup, so no lookup pays for the whole spell.
//!
//! Nothing is fetched (the sources are only built and looked up), so no server is needed;
//! the base URL is a reserved `.invalid` name that is never resolved.
//!
//! `cargo bench -p partner-auth --bench token_cache`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use partner_auth::time::ManualClock;
use partner_auth::{Client, Credentials, Provider, TokenCache, TokenSource};

#[path = "support/rounds.rs"]
mod rounds;

/// The cache's bound, and so its size once full.
const FULL: usize = 10_000;

/// `n` tenants of one provider, told apart by their secrets, sharing one HTTP client.
fn tenants(n: usize) -> Vec<Client> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("http");
    (0..n)
        .map(|i| {
            Client::builder(Provider::Dinie)
                .base_url("https://tenants.example.invalid/api/v3")
                .credentials(Credentials::new("bench-client", format!("secret-{i}")))
                .http_client(http.clone())
                .build()
                .expect("client")
        })
        .collect()
}

fn token_cache(c: &mut Criterion) {
    // Twice as many tenants as the cache holds, looked up in turn: every lookup is a new
    // tenant (the one looked up 2 × FULL lookups ago was evicted FULL lookups ago).
    let clients = tenants(2 * FULL);
    let cache = TokenCache::builder()
        .max_sources(FULL)
        .build()
        .expect("cache");
    for client in &clients[..FULL] {
        cache.source(client);
    }
    assert_eq!(cache.len(), FULL);

    let mut group = c.benchmark_group("token_cache_10000_full");
    // From the first tenant the cache does not hold.
    let mut next = FULL - 1;
    group.bench_function("new_tenant_evicting_the_lru", |b| {
        b.iter(|| {
            next = (next + 1) % clients.len();
            black_box(cache.source(&clients[next]));
        })
    });
    assert_eq!(cache.len(), FULL, "a full cache stays full");
    let last = next;
    let mut next = 0;
    group.bench_function("token_source_build_floor", |b| {
        b.iter(|| {
            next = (next + 1) % clients.len();
            black_box(TokenSource::new(clients[next].clone()));
        })
    });
    // Lookups of the FULL tenants the cache holds now (the last FULL looked up), oldest
    // first, so each stays held.
    let held: Vec<&Client> = (0..FULL)
        .map(|i| &clients[(last + 1 + FULL + i) % clients.len()])
        .collect();
    let hits = cache.len();
    let mut at = 0;
    group.bench_function("cached_tenant_lookup", |b| {
        b.iter(|| {
            at = (at + 1) % held.len();
            black_box(cache.source(held[at]));
        })
    });
    assert_eq!(cache.len(), hits);
    group.finish();
}

/// The idle-spell rounds' ways, in the figures file's names.
const IDLE_SPELL: [&str; 4] = [
    "first_lookup_after_an_idle_spell",
    "slowest_lookup_dropping_the_idle",
    "new_tenant_into_a_full_cache",
    "slowest_lookup_none_idle",
];

/// Lookups after the first that drop 10,000 idle sources at 8 a lookup.
const DRAIN: usize = FULL / 8;

fn idle_spell() {
    let clients = tenants(FULL + 1);
    let (newcomer, held) = clients.split_last().expect("tenants");
    let measure = |way: usize| {
        let clock = ManualClock::new();
        let cache = TokenCache::builder()
            .max_sources(FULL)
            .idle_timeout(Duration::from_secs(60))
            .time_source(clock.clone())
            .build()
            .expect("cache");
        for client in held {
            cache.source(client);
        }
        let idle = way < 2;
        if idle {
            clock.advance(Duration::from_secs(60));
        }
        let start = Instant::now();
        black_box(cache.source(newcomer));
        let mut took = start.elapsed();
        if way % 2 == 1 {
            // As many lookups as drop the idle ones (or would), the slowest counts.
            took = Duration::ZERO;
            for _ in 0..DRAIN {
                let start = Instant::now();
                black_box(cache.source(newcomer));
                took = took.max(start.elapsed());
            }
        }
        // Up to 8 idle sources a lookup (the docs' figure); a full cache stays full.
        let expected = [FULL - 8 + 1, 1, FULL, FULL][way];
        assert_eq!(cache.len(), expected, "{}", IDLE_SPELL[way]);
        // Dropped outside the timing.
        drop(cache);
        std::future::ready(took)
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let measured = rounds::medians("token_cache_idle_spell", &IDLE_SPELL, 3, 30, measure);
    let Some(medians) = runtime.block_on(measured) else {
        return;
    };
    for (name, median) in IDLE_SPELL.iter().zip(&medians) {
        println!(
            "token_cache_idle_spell/{name}: median {:.1} µs over 30 interleaved rounds",
            median / 1e3
        );
    }
    rounds::write_medians("token_cache_idle_spell.json", &IDLE_SPELL, &medians);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    targets = token_cache
}

fn main() {
    idle_spell();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
