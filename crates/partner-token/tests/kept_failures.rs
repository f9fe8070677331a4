//! A failure kept in the CLI's cache, as a later run reports it within the cool-down: how
//! long is left and how to ask anyway, and no wait the provider never asked for. From an
//! adversarial review; each test failed on the code before its fix.

mod common;

use common::*;
use serde_json::Value;

/// A token endpoint answering every request with `status` and `body` (and `headers`).
async fn refusing(
    status: u16,
    body: &'static str,
    headers: &'static [(&'static str, &'static str)],
) -> (httpmock::MockServer, String) {
    let server = httpmock::MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(httpmock::Method::POST).path("/token");
            let mut then = then
                .status(status)
                .header("content-type", "application/json");
            for (name, value) in headers {
                then = then.header(*name, *value);
            }
            then.body(body);
        })
        .await;
    let url = server.url("/token");
    (server, url)
}

fn fetch_with(url: &str, store: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "fetch",
        "--provider",
        "standard",
        "--base-url",
        url,
        "--store",
        store,
    ];
    args.extend_from_slice(extra);
    run(&args, "id", Some("secret-1"))
}

/// Promise (`partner-token schema --error`, `retry_after_ms`): "How long the provider
/// asked to wait, in milliseconds."; README (CLI): "a run within it gets that error
/// without asking again".
///
/// The first run's 401 carries no wait (`retry_after_ms: null`): the provider asked for
/// none. The second run, handed that 401 from the cache, reports `retry_after_ms` of
/// about 2000: the cache's cool-down, presented as the provider's request. A script that
/// sleeps `retry_after_ms` and retries (as it would for a 429) now loops on refused
/// credentials, and "that error" is not the same error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_refusal_reports_no_wait_the_provider_never_asked_for() {
    let (server, url) = refusing(
        401,
        r#"{"error":"invalid_client","error_description":"unknown client"}"#,
        &[],
    )
    .await;
    let dir = fresh_dir("store");
    let store = dir.to_str().unwrap();
    let first = fetch_with(&url, store, &["--json"]);
    let second = fetch_with(&url, store, &["--json"]);
    let (first_err, second_err) = (text(&first.stderr), text(&second.stderr));
    eprintln!("first:  {first_err}\nsecond: {second_err}");
    assert_eq!((code(&first), code(&second)), (3, 3));
    let first: Value = serde_json::from_str(&first_err).unwrap();
    let second: Value = serde_json::from_str(&second_err).unwrap();
    assert_eq!(first["retry_after_ms"], Value::Null);
    drop(server);
    assert_eq!(
        second["retry_after_ms"], first["retry_after_ms"],
        "a refusal read from the cache claims the provider asked to wait: {second}"
    );
}

/// Promise (README, CLI): "A refusal, rate limit or 5xx the provider answered is kept
/// too, for its cool-down (2 s, or as long as the provider asked, up to an hour): a run
/// within it gets that error without asking again ... (`--no-cache` asks anyway; `cache
/// clear` forgets it)."
///
/// A 503 with `Retry-After: 600` is kept ten minutes. A run within them says the request
/// "failed moments ago" and "not asking again before its cool-down ends", with the hint
/// "the provider is failing; retry later": neither how long the cool-down still lasts
/// (the text shows no wait for a 503), nor that the answer came from the cache, nor the
/// two ways past it the README names. A user who retries "later" within the ten minutes
/// gets the same answer without any request being made, and cannot tell.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_handed_a_kept_failure_says_how_long_and_how_to_ask_anyway() {
    let (_server, url) = refusing(
        503,
        r#"{"error":"temporarily_unavailable"}"#,
        &[("retry-after", "600")],
    )
    .await;
    let dir = fresh_dir("store");
    let store = dir.to_str().unwrap();
    let first = fetch_with(&url, store, &["--header"]);
    assert_eq!(code(&first), 5, "{}", text(&first.stderr));
    let second = fetch_with(&url, store, &["--header"]);
    let stderr = text(&second.stderr);
    assert_eq!(code(&second), 5, "{stderr}");
    assert!(
        stderr.contains("--no-cache") || stderr.contains("cache clear"),
        "a run refused by a failure kept in the cache does not say how to ask anyway:\n{stderr}"
    );
    assert!(
        stderr.contains("for 9m 5") || stderr.contains("for 10m more"),
        "a run refused for ten minutes by a kept 503 does not say how long:\n{stderr}"
    );
}

/// README (CLI): a kept failure is answered "without asking again ... (`--no-cache` asks
/// anyway; `cache clear` forgets it)".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cache_asks_anyway_and_cache_clear_forgets_a_kept_failure() {
    let server = httpmock::MockServer::start_async().await;
    let refused = server
        .mock_async(|when, then| {
            when.method(httpmock::Method::POST).path("/token");
            then.status(503)
                .header("content-type", "application/json")
                .header("retry-after", "600")
                .body(r#"{"error":"temporarily_unavailable"}"#);
        })
        .await;
    let url = server.url("/token");
    let dir = fresh_dir("store");
    let store = dir.to_str().unwrap();
    let asked = || async { refused.calls_async().await };
    for extra in [&[][..], &[]] {
        assert_eq!(code(&fetch_with(&url, store, extra)), 5);
    }
    assert_eq!(asked().await, 1, "the second run took the kept failure");
    assert_eq!(code(&fetch_with(&url, store, &["--no-cache"])), 5);
    assert_eq!(asked().await, 2, "--no-cache asks anyway");
    let cleared = command()
        .args(["cache", "clear", "--store", store])
        .output()
        .unwrap();
    assert!(cleared.status.success(), "{}", text(&cleared.stderr));
    assert_eq!(code(&fetch_with(&url, store, &[])), 5);
    assert_eq!(asked().await, 3, "cache clear forgot the kept failure");
}
