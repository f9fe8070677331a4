//! What a [`TokenCache`] adds to a multi-tenant service's lookups, on a cache full of
//! 10,000 tenants (its default bound):
//!
//! - a new tenant, which evicts the least recently used, beside the floor: building that
//!   tenant's `TokenSource` alone (the work any cache of sources does for a new tenant);
//! - a cached tenant's lookup (`TokenCache::source`), for the record.
//!
//! Nothing is fetched (the sources are only built and looked up), so no server is needed;
//! the base URL is a reserved `.invalid` name that is never resolved.
//!
//! `cargo bench -p partner-auth --bench token_cache`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use partner_auth::{Client, Credentials, Provider, TokenCache, TokenSource};

/// The cache's bound, and so its size once full.
const FULL: usize = 10_000;

/// `n` tenants of one provider, told apart by their secrets, sharing one HTTP client.
fn tenants(n: usize) -> Vec<Client> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
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

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    targets = token_cache
}
criterion_main!(benches);
