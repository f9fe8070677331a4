//! `TokenSource`, `TokenCache` and `AuthMiddleware` against real loopback servers; request
//! counts come from the servers.
//!
//! Time-dependent tests run their source on a `ManualClock` the test moves, with retry
//! sleeps that return at once (`InstantSleep`), and hold server replies behind a `Gate`
//! where a fetch must be seen in flight: lifetimes, windows, back-offs and cool-downs are
//! exact, and no test races a timer.

mod common;
#[path = "common/races.rs"]
mod races;

use std::sync::Arc;
use std::time::Duration;

use common::scripted::{Gate, Reply, Scripted, eventually};
use common::{CLIENT_ID, SECRET};
use partner_auth::time::{InstantSleep, ManualClock};
use partner_auth::{
    AuthMiddleware, CachePolicy, Client, Credentials, ErrorKind, Provider, RetryPolicy, TokenCache,
    TokenSource,
};
use races::invalidate_rounds;
use serde_json::json;

fn client(base_url: &str) -> Client {
    Client::builder(Provider::Dinie)
        .base_url(base_url)
        .credentials(Credentials::new(CLIENT_ID, SECRET))
        .build()
        .unwrap()
}

/// No jitter, no retries, short cool-downs: each test states what it needs on top.
fn policy() -> CachePolicy {
    common::short_policy()
}

/// A source on the real clock.
fn source(server: &Scripted, policy: CachePolicy) -> TokenSource {
    TokenSource::builder(client(server.base_url()))
        .policy(policy)
        .build()
        .unwrap()
}

/// A source on a manual clock whose retry sleeps return at once, moving the clock.
fn manual(server: &Scripted, policy: CachePolicy) -> (TokenSource, ManualClock, InstantSleep) {
    common::on_manual_clock(client(server.base_url()), policy)
}

fn middleware(source: &TokenSource, api: &Scripted) -> AuthMiddleware {
    AuthMiddleware::new(source.clone(), api.base_url()).unwrap()
}

const MS: Duration = Duration::from_millis(1);

/// `n` tasks each calling `source.token()` at once.
fn spawn_callers(
    source: &TokenSource,
    n: usize,
) -> Vec<tokio::task::JoinHandle<Result<partner_auth::AccessToken, partner_auth::Error>>> {
    (0..n)
        .map(|_| {
            let source = source.clone();
            tokio::spawn(async move { source.token().await })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_cold_callers_share_one_request() {
    let server = Scripted::sequence(
        vec![],
        Reply::token("tok-1", 3600).delayed(Duration::from_millis(300)),
    )
    .await;
    let source = source(&server, policy());
    let callers = spawn_callers(&source, 10_000);
    let mut tokens = Vec::with_capacity(callers.len());
    for caller in callers {
        tokens.push(caller.await.unwrap().unwrap());
    }
    assert_eq!(server.count(), 1, "token requests");
    assert!(tokens.iter().all(|t| t.same_as(&tokens[0])));
    assert_eq!(tokens[0].expose_secret(), "tok-1");
    let stats = source.stats();
    assert_eq!(stats.token_requests, 1);
    assert_eq!(stats.cache_hits + stats.cache_misses, 10_000);
}

#[tokio::test]
async fn in_the_refresh_window_one_background_request_and_no_caller_waits() {
    // Lifetime 3 s: margin 0.3 s, window 0.6 s, so the refresh starts at 2.1 s.
    let gate = Gate::new();
    let server = Scripted::sequence(
        vec![Reply::token("tok-1", 3)],
        Reply::token("tok-2", 3).held(&gate),
    )
    .await;
    let (source, clock, _) = manual(&server, policy());
    let first = source.token().await.unwrap();
    clock.advance(2099 * MS);
    assert!(source.token().await.unwrap().same_as(&first));
    assert_eq!(source.stats().refreshes, 0, "not before the window");
    clock.advance(MS);

    // The refresh is held at the server: every caller must get the current token anyway.
    let callers: Vec<_> = (0..200)
        .map(|_| {
            let source = source.clone();
            tokio::spawn(async move { source.token().await.unwrap() })
        })
        .collect();
    for caller in callers {
        assert!(
            caller.await.unwrap().same_as(&first),
            "callers keep the current token"
        );
    }
    eventually("the refresh reaches the server", || server.count() == 2).await;
    assert_eq!(source.stats().refreshes, 1);
    gate.open();
    eventually("the refreshed token is cached", || {
        source.cached().is_some_and(|t| !t.same_as(&first))
    })
    .await;
    assert_eq!(source.token().await.unwrap().expose_secret(), "tok-2");
    assert_eq!(server.count(), 2, "exactly one background request");
}

#[tokio::test]
async fn a_failed_refresh_keeps_serving_the_valid_token_then_recovers() {
    let server = Scripted::sequence(
        vec![
            Reply::token("tok-1", 3),
            Reply::json(503, json!({"error": "maintenance"})),
        ],
        Reply::token("tok-2", 3),
    )
    .await;
    let (source, clock, _) = manual(&server, policy());
    let first = source.token().await.unwrap();
    clock.advance(2150 * MS);

    // In the window: this call starts the refresh, which fails with 503.
    assert!(source.token().await.unwrap().same_as(&first));
    eventually("the refresh fails", || source.stats().failures == 1).await;
    assert_eq!(server.count(), 2);
    // Still the valid token, and no new request until the backoff (here the 200 ms
    // cool-down) is over.
    clock.advance(199 * MS);
    for _ in 0..10 {
        assert!(source.token().await.unwrap().same_as(&first));
    }
    tokio::task::yield_now().await;
    assert_eq!(server.count(), 2);

    clock.advance(MS);
    assert!(
        source.token().await.unwrap().same_as(&first),
        "still served while refreshing"
    );
    eventually("the second refresh lands", || {
        source.cached().is_some_and(|t| !t.same_as(&first))
    })
    .await;
    assert_eq!(server.count(), 3);
    assert_eq!(source.token().await.unwrap().expose_secret(), "tok-2");
}

/// `TokenSource`'s docs: "A failed refresh is retried with backoff (doubling, up to a
/// minute) while the current token stays valid": the gaps between refreshes of a provider
/// that keeps failing, measured on the manual clock in steps of 100 ms.
#[tokio::test]
async fn failed_refreshes_back_off_doubling_up_to_a_minute() {
    let server = Scripted::sequence(
        vec![Reply::token("tok-1", 3600)],
        Reply::json(503, json!({"error": "maintenance"})),
    )
    .await;
    let (source, clock, _) = manual(&server, policy());
    let first = source.token().await.unwrap();
    // In the refresh window (the last 300 s), with room for the whole schedule.
    clock.advance(Duration::from_secs(3600 - 295));
    assert!(source.token().await.unwrap().same_as(&first));
    let step = 100 * MS;
    let mut gaps = Vec::new();
    for round in 1..=12 {
        assert_eq!(source.stats().refreshes, round, "a refresh started");
        eventually("the refresh fails", || source.stats().failures == round).await;
        let mut gap = Duration::ZERO;
        while source.stats().refreshes == round {
            clock.advance(step);
            gap += step;
            assert!(gap <= Duration::from_secs(61), "round {round}: {gaps:?}");
            assert!(source.token().await.unwrap().same_as(&first));
        }
        gaps.push(gap);
    }
    assert_eq!(server.count(), 13, "one request per refresh: {gaps:?}");
    // The short policy's 200 ms cool-down first, then 50 ms doubling, up to a minute.
    assert!(gaps.windows(2).all(|w| w[0] <= w[1]), "{gaps:?}");
    assert_eq!(gaps[0], 200 * MS, "{gaps:?}");
    assert!(gaps[5] >= 2 * gaps[4], "doubling: {gaps:?}");
    assert_eq!(gaps[10..], [Duration::from_secs(60); 2], "{gaps:?}");
}

#[tokio::test]
async fn past_expiry_callers_wait_for_one_fetch() {
    let gate = Gate::new();
    let server = Scripted::sequence(
        vec![Reply::token("tok-1", 1)],
        Reply::token("tok-2", 60).held(&gate),
    )
    .await;
    let (source, clock, _) = manual(&server, policy());
    source.token().await.unwrap();
    clock.advance(1000 * MS);

    let callers = spawn_callers(&source, 100);
    eventually("the fetch reaches the server", || server.count() == 2).await;
    assert!(
        callers.iter().all(|c| !c.is_finished()),
        "nobody got the expired token"
    );
    gate.open();
    for caller in callers {
        assert_eq!(caller.await.unwrap().unwrap().expose_secret(), "tok-2");
    }
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn a_429_with_retry_after_2_is_retried_no_sooner_than_2_s() {
    let server = Scripted::sequence(
        vec![Reply::json(429, json!({})).header("retry-after", "2")],
        Reply::token("tok-1", 60),
    )
    .await;
    let retry = RetryPolicy::default().with_max_attempts(3);
    let (source, _, sleep) = manual(&server, policy().with_retry(retry));
    let token = source.token().await.unwrap();
    assert_eq!(token.expose_secret(), "tok-1");
    assert_eq!(server.count(), 2);
    let waited = sleep.sleeps();
    assert_eq!(waited.len(), 1);
    assert!(
        (2000 * MS..3000 * MS).contains(&waited[0]),
        "retried after {waited:?}"
    );
}

#[tokio::test]
async fn retryable_failures_back_off_and_give_up_after_the_attempts() {
    let server = Scripted::sequence(vec![], Reply::json(503, json!({}))).await;
    let retry = RetryPolicy::default()
        .with_max_attempts(3)
        .with_backoff(100 * MS, Duration::from_secs(1));
    let (source, _, sleep) = manual(&server, policy().with_retry(retry));
    let err = source.token().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ProviderUnavailable);
    assert_eq!(server.count(), 3);
    // Backoff 100 ms then 200 ms, each with up to half taken off by jitter.
    let waited = sleep.sleeps();
    assert_eq!(waited.len(), 2, "{waited:?}");
    assert!((50 * MS..=100 * MS).contains(&waited[0]), "{waited:?}");
    assert!((100 * MS..=200 * MS).contains(&waited[1]), "{waited:?}");
}

#[tokio::test]
async fn invalid_credentials_are_not_retried_and_the_cooldown_holds() {
    let server = Scripted::sequence(
        vec![],
        Reply::json(
            401,
            json!({"type": "about:blank", "title": "Unauthorized", "status": 401,
                                "detail": "bad credentials", "code": "invalid_token"}),
        ),
    )
    .await;
    let retry = RetryPolicy::default().with_max_attempts(5);
    let (source, clock, _) = manual(
        &server,
        policy()
            .with_retry(retry)
            .with_failure_cooldown(Duration::from_millis(500)),
    );
    let err = source.token().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCredentials);
    assert_eq!(server.count(), 1, "no retry");
    for _ in 0..50 {
        let again = source.token().await.unwrap_err();
        assert_eq!(again.kind(), ErrorKind::InvalidCredentials);
    }
    assert_eq!(server.count(), 1, "the cool-down answered");
    assert_eq!(source.stats().cooldown_rejections, 50);

    clock.advance(499 * MS);
    source.token().await.unwrap_err();
    assert_eq!(server.count(), 1, "still in the cool-down");
    clock.advance(MS);
    source.token().await.unwrap_err();
    assert_eq!(server.count(), 2, "after the cool-down a new request");
}

/// `TokenSource`'s docs: "`token()` and `refresh()` need a Tokio runtime (without one they
/// return an `ErrorKind::Configuration` error)": nothing sent, and no failure kept, so the
/// first call inside a runtime fetches at once.
#[test]
fn without_a_runtime_token_and_refresh_are_configuration_errors_and_nothing_is_kept() {
    let runtime = common::two_worker_runtime();
    let server = runtime.block_on(Scripted::sequence(vec![], Reply::token("tok-1", 3600)));
    let source = source(
        &server,
        policy().with_failure_cooldown(Duration::from_secs(3600)),
    );
    for (what, result) in [
        ("token()", common::poll_once(source.token())),
        ("refresh()", common::poll_once(source.refresh())),
    ] {
        let err = result
            .unwrap_or_else(|| panic!("{what} waited"))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Configuration, "{what}: {err}");
        assert!(err.to_string().contains("runtime"), "{what}: {err}");
    }
    assert_eq!(server.count(), 0, "nothing sent");
    let token = runtime.block_on(source.token()).unwrap();
    assert_eq!(token.expose_secret(), "tok-1");
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn invalid_requests_are_not_retried() {
    let server = Scripted::sequence(
        vec![],
        Reply::json(
            400,
            json!({"type": "about:blank", "title": "Bad Request", "status": 400,
                   "detail": "grant_type is not supported", "code": "invalid_grant"}),
        ),
    )
    .await;
    let retry = RetryPolicy::default().with_max_attempts(5);
    let (source, _, sleep) = manual(&server, policy().with_retry(retry));
    let err = source.token().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
    assert_eq!(server.count(), 1, "no retry");
    assert!(sleep.sleeps().is_empty(), "{:?}", sleep.sleeps());
}

/// README's "Errors" table says, per kind, whether `TokenSource` retries it: the column
/// and `ErrorKind::is_retryable` (which the source's retry loop asks) agree, row by row,
/// and every kind has its row.
#[test]
fn the_readme_error_table_retries_what_the_source_retries() {
    let readme = include_str!("../../../README.md");
    let table = readme
        .split("| kind | when | retried by `TokenSource` |")
        .nth(1)
        .expect("the README's error table");
    let mut rows = 0;
    for line in table.lines().skip(2).take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.split(" | ").collect();
        let name = cells[0].trim_start_matches("| ").trim_matches('`');
        let retried = cells.last().unwrap().trim_end_matches(" |");
        let kind = ErrorKind::ALL
            .iter()
            .copied()
            .find(|k| format!("{k:?}") == name)
            .unwrap_or_else(|| panic!("no ErrorKind {name}"));
        assert_eq!(
            kind.is_retryable(),
            retried.starts_with("yes"),
            "{name}: README says {retried:?}"
        );
        rows += 1;
    }
    assert_eq!(rows, ErrorKind::ALL.len(), "a row per kind");
}

#[tokio::test]
async fn a_caller_that_gives_up_does_not_stall_the_rest() {
    let gate = Gate::new();
    let server = Scripted::sequence(vec![], Reply::token("tok-1", 60).held(&gate)).await;
    let source = source(&server, policy());
    let first = {
        let source = source.clone();
        tokio::spawn(async move { source.token().await })
    };
    eventually("the fetch reaches the server", || server.count() == 1).await;
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    let others = spawn_callers(&source, 10);
    gate.open();
    for other in others {
        assert_eq!(other.await.unwrap().unwrap().expose_secret(), "tok-1");
    }
    assert_eq!(server.count(), 1, "the abandoned fetch answered everyone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_invalidations_of_one_token_cause_one_fetch() {
    let server = Scripted::sequence(
        vec![Reply::token("tok-1", 3600)],
        Reply::token("tok-2", 3600).delayed(Duration::from_millis(50)),
    )
    .await;
    let source = source(&server, policy());
    // One round: each call gets tok-2 (the server's only other token), none tok-1.
    assert_eq!(invalidate_rounds(&source, 1, 50).await, 0);
    assert_eq!(server.count(), 2);
    assert_eq!(source.stats().invalidations, 1);
}

#[tokio::test]
async fn a_forced_refresh_replaces_a_fresh_token() {
    let server = Scripted::sequence(
        vec![Reply::token("tok-1", 3600)],
        Reply::token("tok-2", 3600),
    )
    .await;
    let source = source(&server, policy());
    assert_eq!(source.token().await.unwrap().expose_secret(), "tok-1");
    assert_eq!(source.refresh().await.unwrap().expose_secret(), "tok-2");
    assert_eq!(source.token().await.unwrap().expose_secret(), "tok-2");
    assert_eq!(server.count(), 2);
}

async fn api_server(accepted: &'static str) -> Scripted {
    Scripted::respond(move |hit| {
        if hit.authorization.as_deref() == Some(accepted) {
            Reply::json(200, json!({"ok": true}))
        } else {
            Reply::json(401, json!({"error": "invalid_token"}))
        }
    })
    .await
}

#[tokio::test]
async fn the_middleware_retries_once_on_401_with_a_fresh_token() {
    let tokens = Scripted::sequence(
        vec![Reply::token("tok-1", 3600)],
        Reply::token("tok-2", 3600),
    )
    .await;
    let api = api_server("Bearer tok-2").await;
    let source = source(&tokens, policy());
    let http = common::api_client(middleware(&source, &api));

    let response = http
        .get(format!("{}/orders", api.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let hits = api.hits();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].authorization.as_deref(), Some("Bearer tok-1"));
    assert_eq!(hits[1].authorization.as_deref(), Some("Bearer tok-2"));
    assert_eq!(tokens.count(), 2);

    // The fresh token is cached: the next call is one request.
    http.get(format!("{}/orders", api.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(api.count(), 3);
    assert_eq!(tokens.count(), 2);
}

#[tokio::test]
async fn the_middleware_returns_a_second_401_instead_of_looping() {
    let tokens = Scripted::sequence(vec![], Reply::token("tok-x", 3600)).await;
    let api = api_server("Bearer never").await;
    let http = common::api_client(middleware(&source(&tokens, policy()), &api));
    let response = http
        .get(format!("{}/orders", api.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(api.count(), 2, "one retry, no loop");
    assert_eq!(tokens.count(), 2);
}

#[tokio::test]
async fn a_token_failure_reaches_the_caller_as_a_typed_error() {
    let tokens =
        Scripted::sequence(vec![], Reply::json(401, json!({"error": "invalid_client"}))).await;
    let api = api_server("Bearer tok").await;
    let http = common::api_client(middleware(&source(&tokens, policy()), &api));
    let err = http
        .get(format!("{}/orders", api.base_url()))
        .send()
        .await
        .unwrap_err();
    let token_error = partner_auth::token_error(&err).expect("a token error");
    assert_eq!(token_error.kind(), ErrorKind::InvalidCredentials);
    assert_eq!(api.count(), 0, "no API call without a token");
}

#[tokio::test]
async fn tenants_with_the_same_client_id_never_share_a_token() {
    let server = Scripted::respond(|hit| {
        // Dinie sends the credentials as Basic: answer per secret.
        let token = match hit.authorization.as_deref() {
            Some(basic) if basic == basic_header("tenant-a-secret1") => "tok-a",
            Some(basic) if basic == basic_header("tenant-b-secret2") => "tok-b",
            _ => return Reply::json(401, json!({})),
        };
        Reply::token(token, 3600)
    })
    .await;
    let cache = TokenCache::builder().policy(policy()).build().unwrap();
    let tenant = |secret: &str| {
        Client::builder(Provider::Dinie)
            .base_url(server.base_url())
            .credentials(Credentials::new("shared-id", secret))
            .build()
            .unwrap()
    };
    let (a, b) = (tenant("tenant-a-secret1"), tenant("tenant-b-secret2"));
    assert_eq!(cache.token(&a).await.unwrap().expose_secret(), "tok-a");
    assert_eq!(cache.token(&b).await.unwrap().expose_secret(), "tok-b");
    assert_eq!(cache.token(&a).await.unwrap().expose_secret(), "tok-a");
    assert_eq!(cache.len(), 2);
    assert_eq!(server.count(), 2);
    // The same tenant through another Client value shares the source.
    let a_again = tenant("tenant-a-secret1");
    assert_eq!(
        cache.token(&a_again).await.unwrap().expose_secret(),
        "tok-a"
    );
    assert_eq!(server.count(), 2);
}

fn basic_header(secret: &str) -> String {
    use base64::Engine as _;
    let joined = format!("shared-id:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(joined)
    )
}

#[test]
fn a_token_source_is_send_sync_and_cheap_to_share() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<TokenSource>();
    assert_send_sync::<AuthMiddleware>();
    let _: Arc<TokenCache> = Arc::new(TokenCache::new());
}

/// Every caller waiting in `token()` holds its future (10,000 at a stampede): the read
/// path's future stays a few words, and a miss's state lives on the heap only while it
/// is needed. At 720 bytes (the miss inline), 10,000 cold callers cost 2.5× the harness
/// floor in the stampede bench; at 24 bytes, 1.03×.
#[tokio::test]
async fn the_token_future_is_a_few_words() {
    let server = Scripted::sequence(vec![], Reply::token("tok-small", 3600)).await;
    let source = source(&server, policy());
    let call = source.token();
    assert!(
        std::mem::size_of_val(&call) <= 4 * std::mem::size_of::<usize>(),
        "token() future of {} bytes",
        std::mem::size_of_val(&call)
    );
    assert_eq!(call.await.unwrap().expose_secret(), "tok-small");
}

/// What `Stats` counts during a failure's cool-down (found by review: the docs said a miss
/// "waited for a fetch" and a rejection was a `token()` call): every `token()` call is a
/// hit or a miss, and `refresh()` calls answered with the error count as rejections too.
#[tokio::test]
async fn stats_count_every_token_call_and_every_rejection_in_the_cooldown() {
    let server =
        Scripted::sequence(vec![], Reply::json(401, json!({"error": "invalid_client"}))).await;
    let (source, _, _) = common::on_manual_clock(
        common::client(Provider::Standard, server.base_url()),
        CachePolicy::default().with_retry(RetryPolicy::none()),
    );
    let first = source.token().await.unwrap_err();
    assert_eq!(first.kind(), ErrorKind::InvalidCredentials);
    for _ in 0..4 {
        source.token().await.unwrap_err();
    }
    for _ in 0..3 {
        source.refresh().await.unwrap_err();
    }
    let stats = source.stats();
    assert_eq!(server.count(), 1, "one request only");
    assert_eq!(
        (
            stats.token_requests,
            stats.cache_hits,
            stats.cache_misses,
            stats.cooldown_rejections
        ),
        (1, 0, 5, 7),
        "{stats:?}"
    );
}

/// `refreshes` counts fetches started in the background (found by review: a caller in the
/// refresh window that joined a `refresh()` under way counted one, as did every call in
/// the window with no runtime to start one on).
#[tokio::test]
async fn refreshes_count_only_background_fetches_started() {
    let gate = Gate::new();
    let server = Scripted::sequence(
        vec![
            Reply::token("tok-1", 100),
            Reply::token("tok-2", 3600).held(&gate),
        ],
        Reply::token("tok-n", 100),
    )
    .await;
    let (source, clock, _) = common::on_manual_clock(
        common::client(Provider::Standard, server.base_url()),
        CachePolicy::default()
            .with_refresh_jitter(0.0)
            .with_retry(RetryPolicy::none()),
    );
    assert_eq!(source.token().await.unwrap().expose_secret(), "tok-1");
    let forced = tokio::spawn({
        let source = source.clone();
        async move { source.refresh().await }
    });
    eventually("the forced refresh reached the server", || {
        server.count() == 2
    })
    .await;
    // Into the refresh window (100 s lifetime: usable 95 s, window 20 s, from 75 s).
    clock.advance(Duration::from_secs(80));
    assert_eq!(source.token().await.unwrap().expose_secret(), "tok-1");
    gate.open();
    assert_eq!(forced.await.unwrap().unwrap().expose_secret(), "tok-2");
    assert_eq!(server.count(), 2);
    assert_eq!(source.stats().refreshes, 0, "{:?}", source.stats());
}

#[test]
fn calls_in_the_refresh_window_without_a_runtime_count_no_refresh() {
    let runtime = common::two_worker_runtime();
    let server = runtime.block_on(Scripted::sequence(vec![], Reply::token("tok", 100)));
    let (source, clock, _) = common::on_manual_clock(
        common::client(Provider::Standard, server.base_url()),
        CachePolicy::default().with_refresh_jitter(0.0),
    );
    let token = runtime.block_on(source.token()).unwrap();
    clock.advance(Duration::from_secs(80));
    for _ in 0..10 {
        // Polled outside any runtime: the cached token is ready at the first poll.
        let again = common::poll_once(source.token())
            .expect("a fresh cached token is ready at once")
            .unwrap();
        assert!(again.same_as(&token));
    }
    assert_eq!(server.count(), 1, "no refresh was sent");
    assert_eq!(source.stats().refreshes, 0, "{:?}", source.stats());
    // With a runtime, the next call in the window starts one.
    runtime.block_on(source.token()).unwrap();
    assert_eq!(source.stats().refreshes, 1, "{:?}", source.stats());
}
