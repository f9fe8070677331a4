//! What an application sees through the `metrics` facade (feature `metrics`): the counters
//! and the latency histogram, and never a secret.
//!
//! `cargo test -p partner-auth --features metrics --test metrics`

#![cfg(feature = "metrics")]

mod common;

use std::collections::BTreeMap;

use common::SECRET;
use common::scripted::{Reply, Scripted};
use partner_auth::{CachePolicy, Provider, RetryPolicy, TokenSource};
use serde_json::json;

const TOKEN_ONE: &str = "tok-observed-1";
const TOKEN_TWO: &str = "tok-observed-2";

/// A Dinie source allowing one retry, on a manual clock.
fn source(tokens: &Scripted) -> TokenSource {
    let client = common::client(Provider::Dinie, tokens.base_url());
    let policy = CachePolicy::default().with_retry(RetryPolicy::default().with_max_attempts(2));
    common::on_manual_clock(client, policy).0
}

/// What a local recorder saw while a [`source`] met `replies` (then `fallback`): a token,
/// its invalidation, then a fetch that fails.
fn recorded(replies: Vec<Reply>, fallback: Reply) -> metrics_util::debugging::Snapshot {
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let tokens = Scripted::sequence(replies, fallback).await;
            let source = source(&tokens);
            let token = source.token().await.unwrap();
            assert!(source.invalidate(&token));
            source.token().await.unwrap_err();
        });
    });
    snapshotter.snapshot()
}

#[test]
fn token_requests_failures_and_invalidations_reach_the_metrics_recorder() {
    use metrics_util::debugging::DebugValue;

    let snapshot = recorded(
        vec![
            Reply::json(503, json!({})),
            Reply::token(TOKEN_ONE, 3600),
            Reply::json(401, json!({"error": "invalid_client"})),
        ],
        Reply::token(TOKEN_TWO, 3600),
    );
    let mut seen = BTreeMap::new();
    for (key, _, _, value) in snapshot.into_vec() {
        let key = key.key();
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        let value = match value {
            DebugValue::Counter(n) => n.to_string(),
            DebugValue::Histogram(samples) => format!("{} samples", samples.len()),
            DebugValue::Gauge(g) => g.to_string(),
        };
        seen.insert(format!("{} {}", key.name(), labels.join(",")), value);
    }
    let expect = |name: &str, labels: &str, value: &str| {
        let mut labels: Vec<&str> = labels.split(',').collect();
        labels.sort();
        let labels = labels.join(",");
        assert_eq!(
            seen.get(&format!("{name} {labels}")).map(String::as_str),
            Some(value),
            "{name} {labels} in {seen:#?}"
        );
    };
    let at = "environment=custom,provider=dinie";
    expect(
        "partner_auth_token_requests_total",
        &format!("{at},outcome=ok"),
        "1",
    );
    expect(
        "partner_auth_token_requests_total",
        &format!("{at},outcome=provider_unavailable"),
        "1",
    );
    expect(
        "partner_auth_token_requests_total",
        &format!("{at},outcome=invalid_credentials"),
        "1",
    );
    expect(
        "partner_auth_token_request_duration_seconds",
        at,
        "3 samples",
    );
    expect(
        "partner_auth_token_fetch_failures_total",
        &format!("{at},kind=invalid_credentials"),
        "1",
    );
    expect("partner_auth_token_invalidations_total", at, "1");
    assert!(!format!("{seen:?}").contains(SECRET));
}

/// Found by review: the metrics had no unit and no description, so a Prometheus exporter
/// wrote no `# HELP` line and an OpenTelemetry bridge knew no unit for the histogram.
#[test]
fn every_metric_is_described_with_its_unit() {
    use metrics::Unit;

    let refused = || Reply::json(401, json!({"error": "invalid_client"}));
    let described: BTreeMap<String, (Option<Unit>, bool)> =
        recorded(vec![Reply::token(TOKEN_ONE, 3600), refused()], refused())
            .into_vec()
            .into_iter()
            .map(|(key, unit, description, _)| {
                let described = description.is_some_and(|d| !d.is_empty());
                (key.key().name().to_owned(), (unit, described))
            })
            .collect();
    for (name, unit) in [
        ("partner_auth_token_requests_total", Unit::Count),
        ("partner_auth_token_request_duration_seconds", Unit::Seconds),
        ("partner_auth_token_fetch_failures_total", Unit::Count),
        ("partner_auth_token_invalidations_total", Unit::Count),
    ] {
        assert_eq!(
            described.get(name),
            Some(&(Some(unit), true)),
            "{name} in {described:?}"
        );
    }
}

/// lib.rs ("Observability"): a request "is counted, and timed, when it ends with an
/// outcome: one whose fetch was stopped on the way (... its runtime shut down) has none,
/// and only `Stats::token_requests` ... has it"; the histogram is in seconds; "cache hits
/// are counted in `Stats` only".
#[test]
fn a_stopped_fetch_records_nothing_a_latency_is_in_seconds_and_hits_are_not_metrics() {
    use metrics_util::debugging::DebugValue;

    let server_runtime = common::two_worker_runtime();
    let gate = common::scripted::Gate::new();
    let tokens = server_runtime.block_on(Scripted::sequence(
        vec![
            Reply::token(TOKEN_ONE, 3600).held(&gate),
            Reply::token(TOKEN_TWO, 3600).delayed(std::time::Duration::from_millis(300)),
        ],
        Reply::token(TOKEN_TWO, 3600),
    ));
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let names = |snapshot: metrics_util::debugging::Snapshot| -> Vec<String> {
        snapshot
            .into_vec()
            .into_iter()
            .map(|(key, ..)| key.key().name().to_owned())
            .collect()
    };
    metrics::with_local_recorder(&recorder, || {
        // A fetch under way when its runtime shuts down.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let source = runtime.block_on(async { source(&tokens) });
        runtime.block_on(async {
            let caller = source.clone();
            tokio::spawn(async move { caller.token().await });
            common::scripted::eventually("the request in flight", || tokens.count() == 1).await;
        });
        assert_eq!(source.stats().token_requests, 1);
        drop(runtime);
        gate.open();
        assert_eq!(names(snapshotter.snapshot()), Vec::<String>::new());

        // A request answered after 300 ms, then a hundred cache hits.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            assert_eq!(source.token().await.unwrap().expose_secret(), TOKEN_TWO);
            for _ in 0..100 {
                source.token().await.unwrap();
            }
        });
    });
    let snapshot = snapshotter.snapshot().into_vec();
    let mut seen: Vec<&str> = snapshot.iter().map(|(key, ..)| key.key().name()).collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            "partner_auth_token_request_duration_seconds",
            "partner_auth_token_requests_total"
        ],
        "no metric for a hit"
    );
    for (key, _, _, value) in &snapshot {
        match value {
            DebugValue::Histogram(samples) => {
                assert_eq!(samples.len(), 1, "{key:?}");
                let seconds = samples[0].into_inner();
                assert!((0.3..5.0).contains(&seconds), "{seconds} s");
            }
            DebugValue::Counter(n) => assert_eq!(*n, 1, "{key:?}"),
            DebugValue::Gauge(_) => panic!("{key:?}"),
        }
    }
}
