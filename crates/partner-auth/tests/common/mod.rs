//! Per-provider fixtures for the facade tests: where each token endpoint lives, what its
//! success body looks like, and its documented errors with the kind each must map to.

#![allow(dead_code)]

pub mod fields;
pub mod scripted;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use httpmock::prelude::*;
use partner_auth::time::{InstantSleep, ManualClock};
use partner_auth::{CachePolicy, Client, Credentials, ErrorKind, Provider, TokenSource};
use serde_json::{Value, json};

/// A client secret that meets every provider's rules.
pub const SECRET: &str = "s3cret-value-42";
pub const CLIENT_ID: &str = "client-7";

pub struct Fixture {
    pub provider: Provider,
    pub path: &'static str,
    /// The success body in the provider's dialect.
    pub success: fn(token: &str, expires_in: Value) -> Value,
    pub documented_errors: Vec<DocumentedError>,
}

pub struct DocumentedError {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
    pub kind: ErrorKind,
    pub code: Option<&'static str>,
    pub message: Option<&'static str>,
    pub field: Option<&'static str>,
    pub retry_after: Option<Duration>,
}

impl DocumentedError {
    /// The error a client of `fixture`'s provider gets from a loopback server that
    /// answers with this.
    #[allow(dead_code)] // each test file uses some
    pub async fn fetched(&self, fixture: &Fixture) -> partner_auth::Error {
        let server = serve(
            fixture,
            self.status,
            self.content_type,
            self.body.to_string(),
            &self.headers,
        )
        .await;
        client(fixture.provider, &server.base_url())
            .fetch_token()
            .await
            .unwrap_err()
    }

    fn new(status: u16, content_type: &'static str, body: Value, kind: ErrorKind) -> Self {
        Self {
            status,
            content_type,
            headers: Vec::new(),
            body,
            kind,
            code: None,
            message: None,
            field: None,
            retry_after: None,
        }
    }
    fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }
    fn message(mut self, message: &'static str) -> Self {
        self.message = Some(message);
        self
    }
    fn field(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }
    fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
    fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }
}

const JSON: &str = "application/json";
const PROBLEM: &str = "application/problem+json";

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn fixtures() -> Vec<Fixture> {
    vec![
        Fixture {
            provider: Provider::Teez,
            path: "/api/v1/auth/token",
            success: |token, expires_in| {
                json!({"accessToken": token, "expiresIn": expires_in, "tokenType": "Bearer"})
            },
            documented_errors: vec![
                DocumentedError::new(
                    400,
                    PROBLEM,
                    json!({"statusCode": 400, "message": "One or more errors occurred!",
                           "errors": {"clientSecret": ["Invalid client credentials"]}}),
                    ErrorKind::InvalidCredentials,
                )
                .message("One or more errors occurred!")
                .field("clientSecret"),
                DocumentedError::new(
                    400,
                    JSON,
                    json!({"status": 400, "errorCode": "B2B-4001",
                           "errors": {"ClientId": [{"code": "NotFound", "description": "Client not found"}]}}),
                    ErrorKind::InvalidCredentials,
                )
                .code("B2B-4001")
                .field("ClientId"),
                DocumentedError::new(
                    400,
                    PROBLEM,
                    json!({"statusCode": 400, "message": "One or more errors occurred!",
                           "errors": {"clientId": ["Required"], "warehouseId": ["Unknown field"]}}),
                    ErrorKind::InvalidRequest,
                )
                .field("clientId"),
            ],
        },
        Fixture {
            provider: Provider::AlternativePayments,
            path: "/oauth/token",
            success: |token, expires_in| {
                json!({"access_token": token, "expires_in": expires_in, "token_type": "bearer"})
            },
            documented_errors: vec![
                DocumentedError::new(
                    403,
                    JSON,
                    json!({"message": "Invalid client credentials"}),
                    ErrorKind::InvalidCredentials,
                )
                .message("Invalid client credentials"),
            ],
        },
        Fixture {
            provider: Provider::Cobee,
            path: "/oauth/token",
            success: |token, expires_in| {
                json!({"accessToken": token, "tokenType": "Bearer", "expiresIn": expires_in})
            },
            documented_errors: vec![
                DocumentedError::new(
                    400,
                    JSON,
                    json!({"code": "validation_error", "message": "body: must have required property 'clientId'"}),
                    ErrorKind::InvalidRequest,
                )
                .code("validation_error")
                .message("body: must have required property 'clientId'"),
                DocumentedError::new(
                    401,
                    JSON,
                    json!({"message": "Unauthorized"}),
                    ErrorKind::InvalidCredentials,
                )
                .message("Unauthorized"),
                DocumentedError::new(
                    429,
                    JSON,
                    json!({"error": "Too Many Requests",
                           "error_description": "Rate limit exceeded, retry in 119 seconds"}),
                    ErrorKind::RateLimited,
                )
                .header("x-ratelimit-limit", "10".into())
                .header("x-ratelimit-remaining", "0".into())
                .header("x-ratelimit-reset", "119".into())
                .message("Rate limit exceeded, retry in 119 seconds")
                .retry_after(Duration::from_secs(119)),
            ],
        },
        Fixture {
            provider: Provider::Tradevest,
            path: "/oauth2/token",
            success: |token, expires_in| {
                json!({"access_token": token, "expires_in": expires_in, "token_type": "Bearer"})
            },
            documented_errors: vec![
                DocumentedError::new(
                    400,
                    JSON,
                    json!({"error": "invalid_client"}),
                    ErrorKind::InvalidCredentials,
                )
                .code("invalid_client"),
                DocumentedError::new(
                    400,
                    JSON,
                    json!({"error": "unsupported_grant_type"}),
                    ErrorKind::InvalidRequest,
                )
                .code("unsupported_grant_type"),
            ],
        },
        Fixture {
            provider: Provider::Dinie,
            path: "/auth/token",
            success: |token, expires_in| {
                json!({"access_token": token, "token_type": "bearer", "expires_in": expires_in})
            },
            documented_errors: vec![
                DocumentedError::new(
                    400,
                    PROBLEM,
                    problem(400, "invalid_request", "grant_type must be client_credentials"),
                    ErrorKind::InvalidRequest,
                )
                .code("invalid_request")
                .message("grant_type must be client_credentials")
                .field("grant_type"),
                DocumentedError::new(
                    401,
                    PROBLEM,
                    problem(401, "invalid_token", "Invalid client credentials"),
                    ErrorKind::InvalidCredentials,
                )
                .code("invalid_token")
                .message("Invalid client credentials"),
                DocumentedError::new(
                    429,
                    PROBLEM,
                    problem(429, "rate_limit_exceeded", "Too many requests"),
                    ErrorKind::RateLimited,
                )
                .header("X-RateLimit-Reset", (unix_now() + 600).to_string())
                .code("rate_limit_exceeded")
                .retry_after(Duration::from_secs(600)),
                DocumentedError::new(
                    500,
                    PROBLEM,
                    problem(500, "internal_error", "Something went wrong"),
                    ErrorKind::ProviderUnavailable,
                )
                .code("internal_error"),
            ],
        },
        Fixture {
            provider: Provider::Standard,
            path: STANDARD_TOKEN_PATH,
            success: |token, expires_in| {
                json!({"access_token": token, "token_type": "Bearer", "expires_in": expires_in})
            },
            documented_errors: vec![
                DocumentedError::new(
                    400,
                    JSON,
                    json!({"error": "invalid_scope", "error_description": "unknown scope"}),
                    ErrorKind::InvalidRequest,
                )
                .code("invalid_scope")
                .message("unknown scope"),
                DocumentedError::new(
                    401,
                    JSON,
                    json!({"error": "invalid_client", "error_description": "client authentication failed"}),
                    ErrorKind::InvalidCredentials,
                )
                .code("invalid_client")
                .message("client authentication failed"),
            ],
        },
    ]
}

fn problem(status: u16, code: &str, detail: &str) -> Value {
    json!({
        "type": "https://docs.dinie.com.br/errors", "title": "Error", "status": status,
        "detail": detail, "code": code,
        "errors": [{"param": "grant_type", "detail": detail}]
    })
}

/// A default `reqwest` client behind `middleware`: how an application calls its API.
pub fn api_client(
    middleware: partner_auth::AuthMiddleware,
) -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::builder().no_proxy().build().unwrap())
        .with(middleware)
        .build()
}

/// A token source for `client` on a manual clock, with retry sleeps that return at once
/// and move that clock: time passes only when the test (or a retry) moves it.
pub fn on_manual_clock(
    client: Client,
    policy: CachePolicy,
) -> (TokenSource, ManualClock, InstantSleep) {
    let clock = ManualClock::new();
    let sleep = InstantSleep::new(clock.clone());
    let source = TokenSource::builder(client)
        .policy(policy)
        .time_source(clock.clone())
        .sleep(sleep.clone())
        .build()
        .unwrap();
    (source, clock, sleep)
}

/// Where the standard provider's fixture answers: its client's base URL is the token URL.
pub const STANDARD_TOKEN_PATH: &str = "/oauth2/token";

/// The base URL a client of `provider` gets for a mock server at `server`: the server's,
/// or for [`Provider::Standard`] the token endpoint's under it.
pub fn base_url(provider: Provider, server: &str) -> String {
    match provider {
        Provider::Standard => format!("{server}{STANDARD_TOKEN_PATH}"),
        _ => server.to_owned(),
    }
}

/// A client of `provider` pointed at a mock server at `server` with the test credentials.
pub fn client(provider: Provider, server: &str) -> Client {
    Client::builder(provider)
        .base_url(base_url(provider, server))
        .credentials(Credentials::new(CLIENT_ID, SECRET))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// A JWT with the given `exp`, unsigned (its signature is never checked).
pub fn jwt(exp: u64) -> String {
    jwt_with(json!({"exp": exp, "sub": "partner"}))
}

/// A JWT with the given claims, unsigned.
pub fn jwt_with(claims: Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.c2ln")
}

/// Serves one response on a new loopback server; returns the server (keep it alive).
pub async fn serve(
    fixture: &Fixture,
    status: u16,
    content_type: &str,
    body: impl Into<String>,
    headers: &[(&str, String)],
) -> MockServer {
    let server = MockServer::start_async().await;
    let body = body.into();
    server.mock(|when, then| {
        when.method(POST).path(fixture.path);
        let mut then = then.status(status).header("content-type", content_type);
        for (name, value) in headers {
            then = then.header(*name, value);
        }
        then.body(body);
    });
    server
}

/// A multi-thread runtime with two workers.
#[allow(dead_code)] // each test file uses some
pub fn two_worker_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// `future`'s first poll, outside any runtime: `None` if it waits (a cached `token()`
/// answers at once).
#[allow(dead_code)]
pub fn poll_once<T>(future: impl std::future::Future<Output = T>) -> Option<T> {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

/// No jitter, no retries, short cool-downs (200 ms, back-offs of 50 ms): a test states
/// what it needs on top.
#[allow(dead_code)]
pub fn short_policy() -> partner_auth::CachePolicy {
    use std::time::Duration;
    partner_auth::CachePolicy::default()
        .with_refresh_jitter(0.0)
        .with_failure_cooldown(Duration::from_millis(200))
        .with_retry(
            partner_auth::RetryPolicy::none()
                .with_backoff(Duration::from_millis(50), Duration::from_millis(50)),
        )
}
