//! Every error's `Display` "ends with what to do next" (README, "Errors"): what it says to
//! do fits what happened (found by an application developer's review, from the docs alone).

use std::time::Duration;

use httpmock::prelude::*;
use partner_auth::{Client, Credentials, ErrorKind, Provider, TokenSource};

/// A client of the standard provider at `server`'s `/token`.
fn standard(server: &MockServer) -> Client {
    Client::builder(Provider::Standard)
        .base_url(format!("{}/token", server.base_url()))
        .credentials(Credentials::new("client-7", "s3cret-value-42"))
        .build()
        .unwrap()
}

/// A server whose `/token` answers every POST 400 with the JSON `body`.
async fn answering_400(body: &str) -> MockServer {
    let server = MockServer::start_async().await;
    server.mock(|when, then| {
        when.method(POST).path("/token");
        then.status(400)
            .header("content-type", "application/json")
            .body(body);
    });
    server
}

fn dinie(server: &MockServer) -> Client {
    Client::builder(Provider::Dinie)
        .base_url(format!("{}/api/v3", server.base_url()))
        .credentials(Credentials::new("client-7", "s3cret-value-42"))
        .build()
        .unwrap()
}

/// A 503 with `Retry-After`: the provider said when to come back, and the error knows it
/// (`retry_after()`); its `Display` says it too, as a 429's does, not "retry later".
#[tokio::test]
async fn a_503_with_retry_after_says_when_to_retry() {
    let server = MockServer::start_async().await;
    server.mock(|when, then| {
        when.method(POST).path("/api/v3/auth/token");
        then.status(503)
            .header("retry-after", "120")
            .body("down for maintenance");
    });
    let error = dinie(&server).fetch_token().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ProviderUnavailable);
    assert_eq!(error.retry_after(), Some(Duration::from_secs(120)));
    assert!(error.to_string().ends_with("retry in 120 s"), "{error}");
    assert_eq!(error.hint(), "the provider is failing; retry in 120 s");
}

/// A 408 is the provider giving up on the request, not this client's timer: raising the
/// client's timeout changes nothing, so the hint does not suggest it.
#[tokio::test]
async fn a_408_does_not_tell_the_caller_to_raise_its_timeout() {
    let server = MockServer::start_async().await;
    server.mock(|when, then| {
        when.method(POST).path("/api/v3/auth/token");
        then.status(408).body("request timeout");
    });
    let error = dinie(&server).fetch_token().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert!(!error.to_string().contains("raise the timeout"), "{error}");
    assert_eq!(
        error.hint(),
        "the provider gave up waiting for the request; retry later"
    );
}

/// A call made on a runtime that has shut down (a `Handle` kept past its runtime) can never
/// run its fetch: that is a runtime problem, not a network one. It is not a retryable
/// `Connection` error that sends the caller to check the base URL and DNS, and it names the
/// provider, as every other error of the source does.
#[test]
fn a_call_on_a_runtime_that_has_shut_down_is_a_runtime_error() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(MockServer::start_async());
    let token = server.mock(|when, then| {
        when.method(POST).path("/api/v3/auth/token");
        then.status(200)
            .header("content-type", "application/json")
            .body(r#"{"access_token":"tok","token_type":"Bearer","expires_in":3600}"#);
    });
    let source = TokenSource::new(dinie(&server));
    let handle = runtime.handle().clone();
    // The mock server's runtime is its own: this one only ran its start.
    drop(runtime);
    let error = handle.block_on(source.token()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Configuration, "{error}");
    assert!(!error.is_retryable());
    assert_eq!(error.provider(), Some(Provider::Dinie));
    assert!(error.hint().contains("runtime"), "{error}");
    assert!(!error.to_string().contains("DNS"), "{error}");
    assert_eq!(token.calls(), 0);
}

/// A 400 that names no field (RFC 6749's `invalid_scope`, say) does not send the caller to
/// "the fields the provider names": `field_errors()` is empty. The hint points at what the
/// provider did say, its code and message.
#[tokio::test]
async fn a_400_without_field_errors_points_at_the_providers_code_not_at_fields() {
    let server = answering_400(
        r#"{"error":"invalid_scope","error_description":"scope orders:write is unknown"}"#,
    )
    .await;
    let error = Client::builder(Provider::Standard)
        .base_url(format!("{}/token", server.base_url()))
        .credentials(Credentials::new("client-7", "s3cret-value-42"))
        .scope("orders:write")
        .build()
        .unwrap()
        .fetch_token()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidRequest);
    assert_eq!(error.code(), Some("invalid_scope"));
    assert!(error.field_errors().is_empty());
    assert!(!error.hint().contains("fields"), "{error}");
    assert!(error.hint().contains("code and message"), "{error}");
}

/// A token expired on arrival is no sign of a wrong base URL (the `InvalidResponse` hint
/// said to check it, found by an application's review): its lifetime was over when the
/// answer came, and the hint says what to look at, the lifetime the provider issues.
#[tokio::test]
async fn a_token_expired_on_arrival_points_at_its_lifetime_not_at_the_base_url() {
    let server = MockServer::start_async().await;
    // A JWT whose `exp` is its `iat`: no lifetime at all, on the provider's own clock.
    let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMDAwMH0.c2ln";
    server.mock(|when, then| {
        when.method(POST).path("/api/v3/auth/token");
        then.status(200)
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"access_token":"{jwt}","token_type":"Bearer","expires_in":3600}}"#
            ));
    });
    let error = dinie(&server).fetch_token().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidResponse, "{error}");
    assert!(error.to_string().contains("expired on arrival"), "{error}");
    assert!(!error.hint().contains("base URL"), "{error}");
    assert!(error.hint().contains("lifetime"), "{error}");
}

/// A redirect that a caller's HTTP client followed: the hint says what the headline does,
/// to build that client with `redirect::Policy::none()` (it said to check the base URL,
/// found by an application's review), whether the redirect led to an answer or into a loop.
#[tokio::test]
async fn a_followed_redirect_says_to_stop_following_not_to_check_the_base_url() {
    for looped in [false, true] {
        let server = MockServer::start_async().await;
        let location = if looped {
            "/api/v3/auth/token"
        } else {
            "/elsewhere"
        };
        server.mock(|when, then| {
            when.path("/api/v3/auth/token");
            then.status(302).header("location", location);
        });
        server.mock(|when, then| {
            when.path("/elsewhere");
            then.status(200)
                .header("content-type", "application/json")
                .body(r#"{"access_token":"tok","token_type":"Bearer","expires_in":3600}"#);
        });
        let follows = reqwest::Client::builder().no_proxy().build().unwrap();
        let error = Client::builder(Provider::Dinie)
            .base_url(format!("{}/api/v3", server.base_url()))
            .credentials(Credentials::new("client-7", "s3cret-value-42"))
            .http_client(follows)
            .build()
            .unwrap()
            .fetch_token()
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidResponse, "{error}");
        assert!(error.hint().contains("redirect::Policy::none()"), "{error}");
        assert!(!error.hint().contains("base URL"), "{error}");
    }
}

/// A 400 whose field errors name no field (an empty or blank name, as `{"errors": {"":
/// [...]}}` parses) does not send the caller to "the fields the provider names".
#[tokio::test]
async fn field_errors_that_name_no_field_do_not_point_at_fields() {
    for body in [
        r#"{"error":"invalid_request","errors":{"":["must not be blank"]}}"#,
        r#"{"error":"invalid_request","errors":[{"field":"  ","message":""}]}"#,
    ] {
        let server = answering_400(body).await;
        let error = standard(&server).fetch_token().await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidRequest);
        assert!(!error.field_errors().is_empty(), "{body}");
        assert!(!error.hint().contains("fields"), "{body}: {error}");
    }
}

/// A 400 with no body says neither a code nor a message: the hint does not point at them.
#[tokio::test]
async fn a_400_that_says_nothing_does_not_point_at_its_code_and_message() {
    let server = MockServer::start_async().await;
    server.mock(|when, then| {
        when.method(POST).path("/token");
        then.status(400);
    });
    let error = standard(&server).fetch_token().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidRequest);
    assert_eq!((error.code(), error.message()), (None, None));
    assert!(!error.hint().contains("code and message"), "{error}");
    assert!(error.hint().contains("will not succeed as is"), "{error}");
}

/// A 408 with `Retry-After`: the provider said when, and the hint says it, as a 503's does.
#[tokio::test]
async fn a_408_with_retry_after_says_when_to_retry() {
    let server = MockServer::start_async().await;
    server.mock(|when, then| {
        when.method(POST).path("/api/v3/auth/token");
        then.status(408).header("retry-after", "30");
    });
    let error = dinie(&server).fetch_token().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert_eq!(error.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(
        error.hint(),
        "the provider gave up waiting for the request; retry in 30 s"
    );
}

/// A loopback listener that takes connections and never answers: a fetch stays under way.
fn silent_endpoint() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v3", listener.local_addr().unwrap());
    (listener, url)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `runtime` until `source` has a fetch under way there, started by a call of its own.
fn start_a_fetch_on(runtime: &tokio::runtime::Runtime, source: &TokenSource) {
    runtime.block_on(async {
        let source = source.clone();
        tokio::spawn(async move { source.token().await });
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    });
}

fn yields(runtime: &tokio::runtime::Runtime) {
    runtime.block_on(async {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    });
}

/// A call whose fetch ended without a result because *other* runtimes shut down (a fetch it
/// joined, started by a call on a runtime per job) is not told its own runtime is at fault:
/// that `Configuration` error would make an application give up on a runtime that works.
#[test]
fn a_call_whose_joined_fetches_vanish_with_other_runtimes_is_not_a_configuration_error() {
    let (_listener, url) = silent_endpoint();
    let client = Client::builder(Provider::Dinie)
        .base_url(&url)
        .credentials(Credentials::new("client-7", "s3cret-value-42"))
        .build()
        .unwrap();
    let source = TokenSource::new(client);
    // The caller's runtime, which runs fine throughout.
    let here = runtime();
    let job = runtime();
    start_a_fetch_on(&job, &source);
    let caller = here.spawn({
        let source = source.clone();
        async move { source.token().await }
    });
    // The caller joins that job's fetch; the job's runtime ends, and the next job's call
    // starts the next fetch before the caller looks again; three times.
    let mut job = Some(job);
    for _ in 0..3 {
        yields(&here);
        drop(job.take());
        let next = runtime();
        start_a_fetch_on(&next, &source);
        job = Some(next);
    }
    let error = here
        .block_on(async { tokio::time::timeout(Duration::from_secs(10), caller).await })
        .expect("the caller started a fetch of its own instead of joining the jobs'")
        .unwrap()
        .unwrap_err();
    assert_ne!(error.kind(), ErrorKind::Configuration, "{error}");
    assert!(error.is_retryable(), "{error}");
    assert!(!error.hint().contains("call it from a running"), "{error}");
    assert_eq!(error.provider(), Some(Provider::Dinie));
}

/// A provider's empty or blank text is no message (found by review: `{"param":""}` showed
/// `("")` in the headline, and a blank `error_description` did too).
#[tokio::test]
async fn blank_text_from_the_provider_is_no_message() {
    for body in [
        r#"{"param":""}"#,
        r#"{"error":"invalid_request","error_description":"  "}"#,
        r#"{"message":""}"#,
    ] {
        let server = answering_400(body).await;
        let error = standard(&server).fetch_token().await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidRequest, "{body}");
        assert_eq!(error.message(), None, "{body}: {error}");
        assert!(!error.to_string().contains("\"\""), "{body}: {error}");
        assert!(!error.to_string().contains("\"  \""), "{body}: {error}");
    }
}
