//! Soak test: 1,000 tasks call a provider API through `AuthMiddleware` for 60 seconds
//! against the sandbox with injected faults (10 % 5xx, 5 % 429 with Retry-After, 2 % stalls
//! past the timeout, 1 % connection resets) and 2-second tokens. Prints its figures and
//! exits non-zero on any violation: an API request sent with an expired token, a panic, or
//! memory growth. Loopback only; bounded; stops by itself.
//!
//! `cargo run --release -p partner-token --example soak [-- --seconds 60 --tasks 1000]`

use std::process::ExitCode;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use partner_auth::{
    AuthMiddleware, CachePolicy, Client, Credentials, Provider, RetryPolicy, TokenSource,
};
use partner_sandbox::{Faults, Sandbox};

const LIFETIME: Duration = Duration::from_secs(2);
const CLIENT_TIMEOUT: Duration = Duration::from_millis(300);

struct Args {
    seconds: u64,
    tasks: usize,
}

fn args() -> Args {
    let mut args = Args {
        seconds: 60,
        tasks: 1000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().and_then(|v| v.parse::<u64>().ok());
        match (flag.as_str(), value) {
            ("--seconds", Some(v)) => args.seconds = v.clamp(1, 3600),
            ("--tasks", Some(v)) => args.tasks = (v as usize).clamp(5, 100_000),
            _ => {
                eprintln!("usage: soak [--seconds N] [--tasks N]");
                std::process::exit(2);
            }
        }
    }
    args
}

/// Resident memory of this process, from /proc (None elsewhere).
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[derive(Default)]
struct TaskReport {
    token_latency: Option<Histogram<u64>>,
    api_ok: u64,
    api_unauthorized: u64,
    api_other: u64,
    token_errors: u64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = args();
    let faults = Faults {
        server_errors: 0.10,
        rate_limited: 0.05,
        stalls: 0.02,
        resets: 0.01,
        stall_for: CLIENT_TIMEOUT * 3,
        ..Faults::default()
    };
    let sandbox = Sandbox::builder()
        .token_lifetime(LIFETIME)
        .rate_limit(Provider::AlternativePayments, None)
        .faults(faults)
        .start()
        .await
        .expect("sandbox on loopback");
    let policy = CachePolicy::default()
        .with_failure_cooldown(Duration::from_millis(100))
        .with_retry(
            RetryPolicy::default()
                .with_max_attempts(4)
                .with_backoff(Duration::from_millis(20), Duration::from_millis(200))
                .with_deadline(Duration::from_secs(1)),
        );
    let mut sources = Vec::new();
    for &provider in Provider::ALL {
        let endpoint = sandbox.endpoint(provider);
        let client = Client::builder(provider)
            .base_url(&endpoint.base_url)
            .credentials(Credentials::new(endpoint.client_id, endpoint.client_secret))
            .timeout(CLIENT_TIMEOUT)
            .build()
            .expect("client");
        let source = TokenSource::builder(client)
            .policy(policy.clone())
            .build()
            .expect("a valid policy");
        sources.push((provider, source));
    }
    // The sandbox is on loopback: no proxy from the environment sees the tokens.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .no_proxy()
        .build()
        .expect("http");

    println!(
        "soak: {} tasks, {} s, token lifetime {} s, faults 10% 5xx / 5% 429 / 2% stalls / 1% resets",
        args.tasks,
        args.seconds,
        LIFETIME.as_secs()
    );
    let rss_start = rss_kib();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let mut tasks = Vec::with_capacity(args.tasks);
    for i in 0..args.tasks {
        let (provider, source) = sources[i % sources.len()].clone();
        let endpoint = sandbox.endpoint(provider);
        let url = endpoint.protected_url();
        let auth = AuthMiddleware::new(source.clone(), &endpoint.base_url).expect("a base URL");
        let api = reqwest_middleware::ClientBuilder::new(http.clone())
            .with(auth)
            .build();
        tasks.push(tokio::spawn(async move {
            let mut report = TaskReport {
                token_latency: Histogram::new_with_bounds(1, 60_000_000, 2).ok(),
                ..TaskReport::default()
            };
            while Instant::now() < deadline {
                let asked = Instant::now();
                let token = source.token().await;
                let micros = asked.elapsed().as_micros() as u64;
                if let Some(h) = report.token_latency.as_mut() {
                    let _ = h.record(micros.clamp(1, 60_000_000));
                }
                if token.is_err() {
                    report.token_errors += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                match api.get(&url).send().await {
                    Ok(r) if r.status() == 200 => report.api_ok += 1,
                    Ok(r) if r.status() == 401 => report.api_unauthorized += 1,
                    _ => report.api_other += 1,
                }
            }
            report
        }));
    }

    let warm_at = started + Duration::from_secs((args.seconds / 6).max(1));
    tokio::time::sleep_until(warm_at.into()).await;
    let rss_warm = rss_kib();

    let mut total = TaskReport {
        token_latency: Histogram::new_with_bounds(1, 60_000_000, 2).ok(),
        ..TaskReport::default()
    };
    let mut panics = 0;
    for task in tasks {
        match task.await {
            Ok(report) => {
                if let (Some(all), Some(h)) = (total.token_latency.as_mut(), &report.token_latency)
                {
                    let _ = all.add(h);
                }
                total.api_ok += report.api_ok;
                total.api_unauthorized += report.api_unauthorized;
                total.api_other += report.api_other;
                total.token_errors += report.token_errors;
            }
            Err(e) if e.is_panic() => panics += 1,
            Err(_) => {}
        }
    }
    let elapsed = started.elapsed();
    let rss_end = rss_kib();

    let mut expired = 0;
    let mut token_requests = 0;
    let mut faults_seen = 0;
    println!(
        "\n{:<22} {:>14} {:>9} {:>12} {:>14}",
        "provider", "token requests", "faults", "api ok", "expired token"
    );
    for (provider, _) in &sources {
        let stats = sandbox.stats(*provider);
        expired += stats.api_expired_token;
        token_requests += stats.token_requests;
        faults_seen += stats.faults;
        println!(
            "{:<22} {:>14} {:>9} {:>12} {:>14}",
            provider.name(),
            stats.token_requests,
            stats.faults,
            stats.api_accepted,
            stats.api_expired_token
        );
    }
    // The fewest token requests possible: one per usable lifetime per provider.
    let usable = LIFETIME.as_secs_f64() * 0.9;
    let minimum = ((elapsed.as_secs_f64() / usable).ceil() as u64) * sources.len() as u64;
    let (p50, p99, max) = total
        .token_latency
        .as_ref()
        .map(|h| (h.value_at_quantile(0.5), h.value_at_quantile(0.99), h.max()))
        .unwrap_or_default();
    let mib = |kib: Option<u64>| {
        kib.map_or("n/a".to_owned(), |k| {
            format!("{:.1} MiB", k as f64 / 1024.0)
        })
    };

    println!("\nran {:.1} s", elapsed.as_secs_f64());
    println!(
        "API requests: {} ok, {} answered 401, {} other failures",
        total.api_ok, total.api_unauthorized, total.api_other
    );
    println!("API requests sent with an expired token: {expired}");
    println!("panics: {panics}");
    println!(
        "token requests: {token_requests} made ({faults_seen} hit an injected fault), minimum possible {minimum}, ratio {:.2}",
        token_requests as f64 / minimum as f64
    );
    println!(
        "token() calls: {} failed (fault outlasted the retries)",
        total.token_errors
    );
    println!("token() latency: p50 {p50} µs, p99 {p99} µs, max {max} µs");
    println!(
        "memory (RSS): start {}, after warm-up {}, end {}",
        mib(rss_start),
        mib(rss_warm),
        mib(rss_end)
    );

    let mut violations = Vec::new();
    if expired > 0 {
        violations.push(format!("{expired} API requests carried an expired token"));
    }
    if panics > 0 {
        violations.push(format!("{panics} tasks panicked"));
    }
    if let (Some(warm), Some(end)) = (rss_warm, rss_end) {
        // Growth past warm-up beyond 25 % and 16 MiB is a leak, not noise.
        if end > warm + warm / 4 && end > warm + 16 * 1024 {
            violations.push(format!(
                "memory grew from {} to {}",
                mib(Some(warm)),
                mib(Some(end))
            ));
        }
    }
    if violations.is_empty() {
        println!("\nsoak passed");
        ExitCode::SUCCESS
    } else {
        for v in &violations {
            println!("VIOLATION: {v}");
        }
        ExitCode::FAILURE
    }
}
