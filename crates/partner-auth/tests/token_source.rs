//! `TokenSource`, `TokenCache` and `AuthMiddleware` against real loopback servers; request
//! counts come from the servers.
//!
//! Timing here runs on the real clock with short lifetimes: Tokio's paused clock advances
//! by itself while the runtime waits on sockets, which fires request timeouts at once.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::scripted::{Reply, Scripted};
use common::{CLIENT_ID, SECRET};
use partner_auth::{
    AuthMiddleware, CachePolicy, Client, Credentials, ErrorKind, Provider, RetryPolicy, TokenCache,
    TokenSource,
};
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
    CachePolicy::default()
        .with_refresh_jitter(0.0)
        .with_failure_cooldown(Duration::from_millis(200))
        .with_retry(
            RetryPolicy::none().with_backoff(Duration::from_millis(50), Duration::from_millis(50)),
        )
}

fn source(server: &Scripted, policy: CachePolicy) -> TokenSource {
    TokenSource::with_policy(client(server.base_url()), policy)
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_the_refresh_window_one_background_request_and_no_caller_waits() {
    // Lifetime 3 s: margin 0.3 s, window 0.6 s, so the refresh starts at 2.1 s.
    let server = Scripted::sequence(
        vec![Reply::token("tok-1", 3)],
        Reply::token("tok-2", 3).delayed(Duration::from_millis(800)),
    )
    .await;
    let source = source(&server, policy());
    let first = source.token().await.unwrap();
    tokio::time::sleep_until((first.issued_at_instant() + Duration::from_millis(2200)).into())
        .await;

    let started = Instant::now();
    let callers: Vec<_> = (0..200)
        .map(|_| {
            let source = source.clone();
            tokio::spawn(async move { (source.token().await.unwrap(), Instant::now()) })
        })
        .collect();
    for caller in callers {
        let (token, answered) = caller.await.unwrap();
        assert!(token.same_as(&first), "callers keep the current token");
        assert!(
            answered - started < Duration::from_millis(400),
            "a caller waited for the 800 ms refresh"
        );
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(server.count(), 2, "exactly one background request");
    assert_eq!(source.stats().refreshes, 1);
    assert_eq!(source.token().await.unwrap().expose_secret(), "tok-2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_refresh_keeps_serving_the_valid_token_then_recovers() {
    let server = Scripted::sequence(
        vec![
            Reply::token("tok-1", 3),
            Reply::json(503, json!({"error": "maintenance"})),
        ],
        Reply::token("tok-2", 3),
    )
    .await;
    let source = source(&server, policy());
    let first = source.token().await.unwrap();
    tokio::time::sleep_until((first.issued_at_instant() + Duration::from_millis(2150)).into())
        .await;

    // In the window: this call starts the refresh, which fails with 503.
    assert!(source.token().await.unwrap().same_as(&first));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.count(), 2);
    assert_eq!(source.stats().failures, 1);
    // Still the valid token, and no new request until the backoff is over.
    assert!(source.token().await.unwrap().same_as(&first));
    assert_eq!(server.count(), 2);

    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(
        source.token().await.unwrap().same_as(&first),
        "still served while refreshing"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.count(), 3);
    assert_eq!(source.token().await.unwrap().expose_secret(), "tok-2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_expiry_callers_wait_for_one_fetch() {
    let server = Scripted::sequence(
        vec![Reply::token("tok-1", 1)],
        Reply::token("tok-2", 60).delayed(Duration::from_millis(200)),
    )
    .await;
    let source = source(&server, policy());
    let first = source.token().await.unwrap();
    tokio::time::sleep_until((first.issued_at_instant() + Duration::from_millis(1000)).into())
        .await;

    for caller in spawn_callers(&source, 100) {
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
    let source = source(&server, policy().with_retry(retry));
    let token = source.token().await.unwrap();
    assert_eq!(token.expose_secret(), "tok-1");
    let hits = server.hits();
    assert_eq!(hits.len(), 2);
    let gap = hits[1].at - hits[0].at;
    assert!(gap >= Duration::from_secs(2), "retried after {gap:?}");
    assert!(gap < Duration::from_secs(3), "retried after {gap:?}");
}

#[tokio::test]
async fn retryable_failures_back_off_and_give_up_after_the_attempts() {
    let server = Scripted::sequence(vec![], Reply::json(503, json!({}))).await;
    let retry = RetryPolicy::default()
        .with_max_attempts(3)
        .with_backoff(Duration::from_millis(100), Duration::from_secs(1));
    let source = source(&server, policy().with_retry(retry));
    let err = source.token().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ProviderUnavailable);
    let hits = server.hits();
    assert_eq!(hits.len(), 3);
    // Backoff 100 ms then 200 ms, each with up to half taken off by jitter.
    assert!(hits[1].at - hits[0].at >= Duration::from_millis(50));
    assert!(hits[2].at - hits[1].at >= Duration::from_millis(100));
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
    let source = source(
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

    tokio::time::sleep(Duration::from_millis(600)).await;
    source.token().await.unwrap_err();
    assert_eq!(server.count(), 2, "after the cool-down a new request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_gives_up_does_not_stall_the_rest() {
    let server = Scripted::sequence(
        vec![],
        Reply::token("tok-1", 60).delayed(Duration::from_millis(300)),
    )
    .await;
    let source = source(&server, policy());
    let first = {
        let source = source.clone();
        tokio::spawn(async move { source.token().await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    first.abort();
    let gave_up = tokio::time::timeout(Duration::from_millis(10), source.token()).await;
    assert!(gave_up.is_err(), "the fetch is still under way");
    for other in spawn_callers(&source, 10) {
        assert_eq!(other.await.unwrap().unwrap().expose_secret(), "tok-1");
    }
    assert_eq!(server.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_invalidations_of_one_token_cause_one_fetch() {
    let server = Scripted::sequence(
        vec![Reply::token("tok-1", 3600)],
        Reply::token("tok-2", 3600).delayed(Duration::from_millis(50)),
    )
    .await;
    let source = source(&server, policy());
    let stale = source.token().await.unwrap();
    let callers: Vec<_> = (0..50)
        .map(|_| {
            let (source, stale) = (source.clone(), stale.clone());
            tokio::spawn(async move {
                let dropped = source.invalidate(&stale);
                (dropped, source.token().await.unwrap())
            })
        })
        .collect();
    let mut dropped = 0;
    for caller in callers {
        let (did_drop, token) = caller.await.unwrap();
        dropped += usize::from(did_drop);
        assert_eq!(token.expose_secret(), "tok-2");
    }
    assert_eq!(dropped, 1);
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
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(AuthMiddleware::new(source.clone()))
        .build();

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
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(AuthMiddleware::new(source(&tokens, policy())))
        .build();
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
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(AuthMiddleware::new(source(&tokens, policy())))
        .build();
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
    let cache = TokenCache::with_policy(policy());
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

/// Each thread keeps a copy of the token per source, keyed by the source's address: a new
/// source at a freed source's address must never see the old source's copy.
#[tokio::test(flavor = "current_thread")]
async fn a_new_source_never_sees_a_dropped_sources_token() {
    let mut servers = Vec::new();
    for i in 0..20 {
        servers.push(Scripted::sequence(vec![], Reply::token(&format!("tok-{i}"), 3600)).await);
    }
    for (i, server) in servers.iter().enumerate() {
        let source = source(server, policy());
        assert_eq!(
            source.token().await.unwrap().expose_secret(),
            format!("tok-{i}")
        );
        // The second read comes from this thread's copy.
        assert_eq!(
            source.token().await.unwrap().expose_secret(),
            format!("tok-{i}")
        );
        drop(source);
    }
}
