//! The HTTP side: one accept loop per provider, and the request handler.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;

use crate::limits::{Fault, Faults, RateLimiter};
use crate::providers::Dialect;
use crate::reply::Reply;
use crate::request::TokenRequest;
use crate::spec::{self, OperationCheck, SpecRequest};
use crate::tokens::{TokenCheck, TokenStore};

/// What one provider's endpoint has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderStats {
    /// Requests to the token endpoint, whatever their outcome.
    pub token_requests: u64,
    /// Tokens issued.
    pub tokens_issued: u64,
    /// Token requests refused for their credentials or form.
    pub rejected: u64,
    /// Token requests answered 429 by the rate limit.
    pub rate_limited: u64,
    /// Token requests that got an injected fault.
    pub faults: u64,
    /// Token requests the provider's spec does not allow (method, content type, body
    /// schema, security requirement); see [`Sandbox::spec_violations`](crate::Sandbox::spec_violations).
    pub spec_violations: u64,
    /// Requests to the protected resource. One with two `Authorization` headers (400
    /// `invalid_request`) is counted here alone, in none of the three below.
    pub api_requests: u64,
    /// Of those, accepted with a valid token.
    pub api_accepted: u64,
    /// Of those, refused because the token had expired (one issued since the last sweep:
    /// when the sandbox holds 10,000 tokens, or twice the live ones at the last sweep,
    /// every expired token is forgotten at once, and is then unknown).
    pub api_expired_token: u64,
    /// Of those, refused because the token was missing or unknown.
    pub api_unknown_token: u64,
}

#[derive(Default)]
struct Counters([AtomicU64; 10]);

impl Counters {
    fn add(&self, i: usize) {
        self.0[i].fetch_add(1, Ordering::Relaxed);
    }
    fn get(&self, i: usize) -> u64 {
        self.0[i].load(Ordering::Relaxed)
    }
}

const TOKEN_REQUESTS: usize = 0;
const ISSUED: usize = 1;
const REJECTED: usize = 2;
const RATE_LIMITED: usize = 3;
const FAULTS: usize = 4;
const API: usize = 5;
const API_OK: usize = 6;
const API_EXPIRED: usize = 7;
const API_UNKNOWN: usize = 8;
const SPEC_VIOLATIONS: usize = 9;

/// A token request the provider's spec does not allow, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpecViolation {
    /// The provider's name.
    pub provider: &'static str,
    /// The request's method.
    pub method: String,
    /// The request's path.
    pub path: String,
    /// Each rule of the spec it broke (field names and rules, never a value sent).
    pub problems: Vec<String>,
}

impl std::fmt::Display for SpecViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} to {}: {}",
            self.method,
            self.path,
            self.provider,
            self.problems.join("; ")
        )
    }
}

/// At most this many violations are kept with their details (all are counted).
const KEPT_VIOLATIONS: usize = 1000;

pub(crate) struct ProviderState {
    dialect: &'static dyn Dialect,
    check: OperationCheck,
    lifetime: Duration,
    limiter: Option<RateLimiter>,
    counters: Counters,
    /// The token requests that get a token, numbering them for [`Faults::stall_first`]
    /// (found by review: numbered among all token requests, a refused one used up a
    /// hold).
    checked: AtomicU64,
}

impl ProviderState {
    pub fn new(
        dialect: &'static dyn Dialect,
        check: OperationCheck,
        lifetime: Duration,
        limit: Option<u32>,
    ) -> Self {
        Self {
            dialect,
            check,
            lifetime,
            limiter: limit.map(RateLimiter::new),
            counters: Counters::default(),
            checked: AtomicU64::new(0),
        }
    }
}

pub(crate) struct Shared {
    providers: HashMap<&'static str, ProviderState>,
    tokens: TokenStore,
    faults: Faults,
    violations: Mutex<Vec<SpecViolation>>,
    /// Set when the sandbox is dropped: every connection ends, a stalled request too,
    /// unanswered (found by review: open keep-alive connections went on answering).
    stopped: tokio::sync::watch::Sender<bool>,
}

impl Shared {
    pub fn new(providers: HashMap<&'static str, ProviderState>, faults: Faults) -> Self {
        Self {
            providers,
            tokens: TokenStore::default(),
            faults,
            violations: Mutex::default(),
            stopped: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Ends every connection, and refuses new ones in the accept loops still running.
    pub fn stop(&self) {
        self.stopped.send_replace(true);
    }

    /// The violations kept so far (the first [`KEPT_VIOLATIONS`]).
    pub fn violations(&self) -> Vec<SpecViolation> {
        self.violations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// What `provider`'s endpoint has seen; `None` for a name the sandbox does not serve.
    pub fn stats(&self, provider: &str) -> Option<ProviderStats> {
        let state = self.providers.get(provider)?;
        let c = &state.counters;
        Some(ProviderStats {
            token_requests: c.get(TOKEN_REQUESTS),
            tokens_issued: c.get(ISSUED),
            rejected: c.get(REJECTED),
            rate_limited: c.get(RATE_LIMITED),
            faults: c.get(FAULTS),
            api_requests: c.get(API),
            api_accepted: c.get(API_OK),
            api_expired_token: c.get(API_EXPIRED),
            api_unknown_token: c.get(API_UNKNOWN),
            spec_violations: c.get(SPEC_VIOLATIONS),
        })
    }
}

/// Accepts connections for `provider` until the sandbox stops (or the task is aborted);
/// when it stops, every connection ends, unanswered, before this returns and the listener
/// goes.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    provider: &'static str,
    shared: Arc<Shared>,
) {
    let mut stopped = shared.stopped.subscribe();
    // Its connections: aborted with it, and awaited when the sandbox stops.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        // Biased: once stopped, nothing more is accepted.
        let accepted = tokio::select! {
            biased;
            _ = stopped.wait_for(|stopped| *stopped) => None,
            accepted = listener.accept() => Some(accepted),
        };
        let Some(accepted) = accepted else {
            connections.shutdown().await;
            return;
        };
        while connections.try_join_next().is_some() {}
        let stream = match accepted {
            Ok((stream, _)) => stream,
            // Out of file descriptors, say: wait rather than spin on the error.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let mut stopped = shared.stopped.subscribe();
        let shared = Arc::clone(&shared);
        connections.spawn(async move {
            let service = service_fn(move |request| {
                let shared = Arc::clone(&shared);
                async move { handle(&shared, provider, request).await }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            // Ended when the sandbox stops, a stalled request too: the socket closes,
            // unanswered (found by review: open keep-alive connections went on answering
            // after the drop). Biased: a request that arrives after the stop is not read.
            tokio::select! {
                biased;
                _ = stopped.wait_for(|stopped| *stopped) => {}
                _ = connection => {}
            }
        });
    }
}

/// Why a connection is closed without an answer (an injected reset).
#[derive(Debug)]
struct Reset;

impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("injected connection reset")
    }
}

impl std::error::Error for Reset {}

async fn handle(
    shared: &Shared,
    provider: &'static str,
    request: http::Request<Incoming>,
) -> Result<http::Response<Full<Bytes>>, Reset> {
    let Some(state) = shared.providers.get(provider) else {
        return Ok(not_found());
    };
    let dialect = state.dialect;
    let path = request.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(dialect.profile().base_path) else {
        return Ok(not_found());
    };
    if rest == dialect.profile().token_path {
        return token_endpoint(shared, state, provider, request).await;
    }
    if rest == "/sandbox/protected" {
        return Ok(protected(shared, state, provider, &request).into_response());
    }
    Ok(not_found())
}

async fn token_endpoint(
    shared: &Shared,
    state: &ProviderState,
    provider: &'static str,
    request: http::Request<Incoming>,
) -> Result<http::Response<Full<Bytes>>, Reset> {
    let counters = &state.counters;
    counters.add(TOKEN_REQUESTS);
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, 64 * 1024).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            counters.add(REJECTED);
            return Ok(state
                .dialect
                .malformed(413, "the request body is over 64 KiB")
                .into_response());
        }
    };
    // Singletons (RFC 9110 §5.3): a second one is a client's bug, refused rather than read
    // as the first (found by review: a Basic header followed by a wrong one got a token).
    for (name, shown) in [
        (http::header::AUTHORIZATION, "Authorization"),
        (http::header::CONTENT_TYPE, "Content-Type"),
    ] {
        if parts.headers.get_all(name).iter().nth(1).is_some() {
            counters.add(REJECTED);
            return Ok(state
                .dialect
                .malformed(400, &format!("the {shown} header is repeated"))
                .into_response());
        }
    }
    let header = |name: http::header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header(http::header::CONTENT_TYPE).map(|ct| {
        ct.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    let token_request = TokenRequest {
        content_type,
        // Its bytes as they came, a byte outside visible ASCII (obs-text) replaced, not the
        // header dropped (found by review: `to_str` failed on one, and Teez, Cobee and
        // Tradevest, which take no Authorization header, saw none and issued a token).
        authorization: parts
            .headers
            .get(http::header::AUTHORIZATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        body: body.to_vec(),
    };
    let problems = state.check.violations(&SpecRequest {
        method: &parts.method,
        query: parts.uri.query(),
        headers: &parts.headers,
        content_type: token_request.content_type.as_deref(),
        body: &body,
    });
    if !problems.is_empty() {
        counters.add(SPEC_VIOLATIONS);
        counters.add(REJECTED);
        let summary = problems.join("; ");
        tracing::warn!(
            provider,
            method = spec::method_name(&parts.method),
            path = parts.uri.path(),
            problems = %summary,
            "token request not allowed by the provider's spec"
        );
        let mut kept = shared.violations.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() < KEPT_VIOLATIONS {
            kept.push(SpecViolation {
                provider,
                method: spec::method_name(&parts.method).to_owned(),
                path: parts.uri.path().to_owned(),
                problems,
            });
        }
        drop(kept);
        if parts.method != http::Method::POST {
            return Ok(state
                .dialect
                .malformed(405, "the token endpoint takes POST")
                .header("allow", "POST")
                .into_response());
        }
        // The provider's own answer where its checks catch the request, else a 400 in its
        // error format.
        let reply = match state.dialect.check(&token_request) {
            Err(refusal) => refusal,
            Ok(()) => state.dialect.malformed(400, &summary),
        };
        return Ok(reply.into_response());
    }
    // A request stalled by chance is not held again by `stall_first` (found by review: it
    // slept twice and counted two faults).
    let mut stalled = false;
    if let Some(fault) = shared.faults.draw() {
        counters.add(FAULTS);
        match fault {
            Fault::Reset => return Err(Reset),
            Fault::Stall(wait) => {
                stalled = true;
                tokio::time::sleep(wait).await;
            }
            Fault::RateLimited => {
                // As the provider's rate limit answers: the headers it sends, no others.
                let limit = state.limiter.as_ref().map_or(10, RateLimiter::limit);
                return Ok(state
                    .dialect
                    .rate_limited(Duration::from_secs(1), limit)
                    .into_response());
            }
            Fault::ServerError => return Ok(state.dialect.failure().into_response()),
        }
    }
    if let Some(limiter) = &state.limiter
        && let Err(wait) = limiter.admit(state.dialect.rate_limit_key(&token_request))
    {
        counters.add(RATE_LIMITED);
        return Ok(state
            .dialect
            .rate_limited(wait, limiter.limit())
            .into_response());
    }
    let reply = match state.dialect.check(&token_request) {
        Ok(()) => {
            // `stall_first` holds the first requests that get a token, however many were
            // refused before them (found by review: a request refused by the spec, the
            // rate limit or for its credentials used up a hold).
            let index = state.checked.fetch_add(1, Ordering::Relaxed);
            if index < shared.faults.stall_first && !stalled {
                counters.add(FAULTS);
                tokio::time::sleep(shared.faults.stall_for).await;
            }
            counters.add(ISSUED);
            let token = state.dialect.mint(state.lifetime);
            let token = shared.tokens.issue(provider, token, state.lifetime);
            state.dialect.issued(&token, state.lifetime)
        }
        Err(refusal) => {
            counters.add(REJECTED);
            refusal
        }
    };
    Ok(reply.into_response())
}

fn protected(
    shared: &Shared,
    state: &ProviderState,
    provider: &'static str,
    request: &http::Request<Incoming>,
) -> Reply {
    let counters = &state.counters;
    counters.add(API);
    // RFC 6750 §3.1: the token sent more than once is a malformed request, whichever copy
    // is valid.
    if request
        .headers()
        .get_all(http::header::AUTHORIZATION)
        .iter()
        .nth(1)
        .is_some()
    {
        return Reply::json(400, json!({"error": "invalid_request"}))
            .header("www-authenticate", "Bearer error=\"invalid_request\"");
    }
    let token = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    let check = token.map_or(TokenCheck::Unknown, |t| shared.tokens.check(provider, t));
    match check {
        TokenCheck::Valid => {
            counters.add(API_OK);
            Reply::json(200, json!({"ok": true, "provider": provider}))
        }
        TokenCheck::Expired => {
            counters.add(API_EXPIRED);
            Reply::json(401, json!({"error": "token_expired"}))
                .header("www-authenticate", "Bearer error=\"invalid_token\"")
        }
        TokenCheck::Unknown => {
            counters.add(API_UNKNOWN);
            Reply::json(401, json!({"error": "invalid_token"}))
                .header("www-authenticate", "Bearer error=\"invalid_token\"")
        }
    }
}

/// The token of a Bearer `Authorization` value: the scheme in any case (RFC 9110 §11.1;
/// found by review: `bearer`, the type Dinie's and Alternative Payments' own tokens name,
/// was refused), then one or more spaces.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start_matches(' '))
}

fn not_found() -> http::Response<Full<Bytes>> {
    Reply::json(404, json!({"error": "not found"})).into_response()
}
