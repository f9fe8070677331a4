//! One member of a fleet for the multi-process tests (`tests/fleet.rs`): a process with a
//! `TokenSource` on a shared `RedisStore`, driven by environment variables, reporting one
//! JSON line on stdout. Never prints a token: only a hash of it. With `FLEET_START=on-go`
//! it prints `ready` once its source is built and starts when a line arrives on stdin, so
//! a fleet's members start together (`workspace_tests::fleet::start_together`).

use std::collections::BTreeSet;
use std::hash::{Hash as _, Hasher as _};
use std::sync::Arc;
use std::time::{Duration, Instant};

use partner_auth::store::{RedisStore, StorePolicy};
use partner_auth::{CachePolicy, Client, Credentials, Provider, TokenSource};
use serde_json::json;

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

fn ms(name: &str, default: u64) -> Duration {
    Duration::from_millis(std::env::var(name).map_or(default, |v| v.parse().expect(name)))
}

/// A stable fingerprint of a token (the same in every process), not the token.
fn fingerprint(token: &str) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    token.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let provider: Provider = var("FLEET_PROVIDER").parse().expect("a provider");
    let client = Client::builder(provider)
        .base_url(var("FLEET_BASE_URL"))
        .credentials(Credentials::new(
            var("FLEET_CLIENT_ID"),
            var("FLEET_CLIENT_SECRET"),
        ))
        .timeout(ms("FLEET_FETCH_TIMEOUT_MS", 10_000))
        .build()
        .expect("a client");
    // An empty FLEET_REDIS: no store (each process on its own, for comparison).
    let redis = var("FLEET_REDIS");
    let policy = StorePolicy::default()
        .with_lease_ttl(ms("FLEET_LEASE_MS", 15_000))
        .with_operation_timeout(ms("FLEET_OP_TIMEOUT_MS", 500))
        .with_outage_backoff(ms("FLEET_BACKOFF_MS", 5_000));
    let mut cache = CachePolicy::default();
    if let Ok(fraction) = std::env::var("FLEET_REFRESH_FRACTION") {
        cache = cache.with_refresh_window(Duration::from_secs(300), fraction.parse().unwrap());
    }
    if std::env::var("FLEET_EXPIRY_MARGIN_MS").is_ok() {
        cache = cache.with_expiry_margin(ms("FLEET_EXPIRY_MARGIN_MS", 0));
    }
    let mut builder = TokenSource::builder(client)
        .policy(cache)
        .store_policy(policy);
    if !redis.is_empty() {
        builder = builder.store(Arc::new(RedisStore::new(&redis).expect("a Redis URL")));
    }
    let source = builder.build().expect("a source");
    if std::env::var("FLEET_START").as_deref() == Ok("on-go") {
        println!("ready");
        let mut go = String::new();
        std::io::stdin()
            .read_line(&mut go)
            .expect("a go line on stdin");
    }
    let report = match var("FLEET_MODE").as_str() {
        "burst" => burst(&source).await,
        "steady" => steady(&source).await,
        mode => panic!("unknown FLEET_MODE {mode}"),
    };
    println!("{report}");
}

/// FLEET_CALLERS concurrent `token()` calls, at once.
async fn burst(source: &TokenSource) -> serde_json::Value {
    let callers: usize = var("FLEET_CALLERS").parse().expect("FLEET_CALLERS");
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..callers {
        let source = source.clone();
        calls.spawn(async move {
            let started = Instant::now();
            let result = source.token().await;
            (
                result.map(|t| fingerprint(t.expose_secret())),
                started.elapsed(),
            )
        });
    }
    let mut tokens = BTreeSet::new();
    let mut errors = Vec::new();
    let mut max_wait = Duration::ZERO;
    for (result, waited) in calls.join_all().await {
        max_wait = max_wait.max(waited);
        match result {
            Ok(token) => {
                tokens.insert(token);
            }
            Err(error) => errors.push(error.to_string()),
        }
    }
    json!({
        "tokens": tokens,
        "errors": errors.len(),
        "first_error": errors.first(),
        "max_wait_ms": max_wait.as_millis() as u64,
        "max_wait_us": max_wait.as_micros() as u64,
        "stats": stats(source),
    })
}

/// For FLEET_SECONDS, every FLEET_INTERVAL_MS: a token, then the protected endpoint with
/// it. Stats are also taken at FLEET_MARK_MS, to report what happened after it.
async fn steady(source: &TokenSource) -> serde_json::Value {
    let run = ms("FLEET_RUN_MS", 20_000);
    let interval = ms("FLEET_INTERVAL_MS", 50);
    let mark = std::env::var("FLEET_MARK_MS")
        .ok()
        .map(|_| ms("FLEET_MARK_MS", 0));
    let protected = var("FLEET_PROTECTED");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let started = Instant::now();
    let (mut calls, mut errors, mut rejected) = (0u64, Vec::new(), 0u64);
    let mut at_mark = None;
    let mut tokens = BTreeSet::new();
    while started.elapsed() < run {
        if at_mark.is_none() && mark.is_some_and(|m| started.elapsed() >= m) {
            at_mark = Some(source.stats());
        }
        calls += 1;
        match source.token().await {
            Ok(token) => {
                tokens.insert(fingerprint(token.expose_secret()));
                let answer = http
                    .get(&protected)
                    .header("authorization", token.authorization_header().unwrap())
                    .send()
                    .await;
                if !answer.is_ok_and(|a| a.status().is_success()) {
                    rejected += 1;
                }
            }
            Err(error) => errors.push(error.to_string()),
        }
        tokio::time::sleep(interval).await;
    }
    let end = source.stats();
    json!({
        "calls": calls,
        "errors": errors.len(),
        "first_error": errors.first(),
        "rejected": rejected,
        "distinct_tokens": tokens.len(),
        "stats": stats(source),
        "store_hits_after_mark": at_mark.map(|m| end.store_hits - m.store_hits),
        "requests_after_mark": at_mark.map(|m| end.token_requests - m.token_requests),
    })
}

fn stats(source: &TokenSource) -> serde_json::Value {
    let s = source.stats();
    json!({
        "token_requests": s.token_requests,
        "store_hits": s.store_hits,
        "store_misses": s.store_misses,
        "lease_waits": s.lease_waits,
        "lease_takeovers": s.lease_takeovers,
        "store_errors": s.store_errors,
        "store_decrypt_failures": s.store_decrypt_failures,
    })
}
