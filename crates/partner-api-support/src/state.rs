//! The state a generated `Client` carries for its request hooks.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::limit::limit_and_tap;
use crate::{BasicCredentials, DEFAULT_MAX_RESPONSE_BYTES};

/// What a generated client's request hooks need: credentials for operations secured with
/// HTTP Basic, headers and a timeout for every request, the largest response body to
/// accept, and an optional observer of response heads.
///
/// Generated crates keep it as progenitor's "inner type" and expose builder methods on their
/// `Client`; applications rarely build one themselves.
#[derive(Clone, Debug)]
pub struct ClientState {
    basic: Option<BasicCredentials>,
    max_response_bytes: u64,
    default_headers: HeaderMap,
    request_timeout: Option<Duration>,
    observer: Option<ResponseObserver>,
    redirects_refused: bool,
    once_only_bodies: bool,
}

impl Default for ClientState {
    fn default() -> Self {
        Self {
            basic: None,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            default_headers: HeaderMap::new(),
            request_timeout: None,
            observer: None,
            redirects_refused: false,
            once_only_bodies: false,
        }
    }
}

impl ClientState {
    /// Sends `credentials` as `Authorization: Basic` on operations that require HTTP Basic.
    pub fn with_basic_credentials(mut self, credentials: BasicCredentials) -> Self {
        self.basic = Some(credentials);
        self
    }

    /// Refuses response bodies larger than `max_bytes` (default
    /// [`DEFAULT_MAX_RESPONSE_BYTES`]).
    pub fn with_max_response_bytes(mut self, max_bytes: u64) -> Self {
        self.max_response_bytes = max_bytes;
        self
    }

    /// Adds `name: value` to every request that does not already carry `name`.
    pub fn with_default_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.default_headers.insert(name, value);
        self
    }

    /// Gives every request a total timeout, even on a caller-supplied `reqwest::Client`.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// Records the status and headers of every response into `observer`.
    pub fn with_response_observer(mut self, observer: ResponseObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// For a caller's `reqwest::Client`, which may follow redirects where these requests
    /// must not: a response from another URL than the one sent (a redirect the client
    /// followed) is marked [`redirected`](ResponseHead::redirected) for the caller to
    /// refuse. A redirect chain that ends at the URL sent is not seen. A client built with
    /// `redirect::Policy::none()` needs none of this.
    pub fn with_redirects_refused(mut self) -> Self {
        self.redirects_refused = true;
        self
    }

    /// Sends each request's body so that it cannot be sent again, which keeps reqwest from
    /// following a 307 or 308 with it (it returns the redirect as it is): for bodies that
    /// hold a secret, on a client that may follow redirects. The body still goes out with
    /// its `Content-Length`. The cost: reqwest cannot retry such a request on a refused
    /// HTTP/2 stream either, which it does only with a body it can send again.
    ///
    /// Without this, [`prepare`](Self::prepare) already sends the body of every operation
    /// not secured with HTTP Basic so (its body may hold the client secret, as a token
    /// request that is not Basic does, and the `reqwest::Client` may be a caller's that
    /// follows redirects): this makes the bodies of Basic operations once-only too.
    pub fn with_once_only_bodies(mut self) -> Self {
        self.once_only_bodies = true;
        self
    }

    /// The Basic credentials, if any.
    pub fn basic_credentials(&self) -> Option<&BasicCredentials> {
        self.basic.as_ref()
    }

    /// The response size limit in bytes.
    pub fn max_response_bytes(&self) -> u64 {
        self.max_response_bytes
    }

    /// The generated `ClientHooks::pre`: adds the default headers, the timeout, and
    /// `Authorization: Basic` to a request for one of `basic_operations`, or refuses to send
    /// such a request when no credentials were given. The body of a request for any other
    /// operation, and with [`with_once_only_bodies`](Self::with_once_only_bodies) of every
    /// request, is made one that reqwest does not resend to where a 307 or 308 points.
    pub fn prepare(
        &self,
        request: &mut reqwest::Request,
        operation_id: &str,
        basic_operations: &[&str],
    ) -> Result<(), String> {
        for (name, value) in &self.default_headers {
            if !request.headers().contains_key(name) {
                request.headers_mut().insert(name, value.clone());
            }
        }
        if let Some(timeout) = self.request_timeout {
            *request.timeout_mut() = Some(timeout);
        }
        let basic = basic_operations.contains(&operation_id);
        // Credentials not in a Basic header may be in the body: reqwest would send it on
        // to where a 307 or 308 points, another host included (it strips only headers).
        if self.once_only_bodies || !basic {
            once_only_body(request);
        }
        if !basic {
            return Ok(());
        }
        let credentials = self.basic.as_ref().ok_or_else(|| {
            format!(
                "operation `{operation_id}` requires HTTP Basic client credentials; \
                 give them with `Client::with_credentials`"
            )
        })?;
        request.headers_mut().insert(
            reqwest::header::AUTHORIZATION,
            credentials.authorization_header(),
        );
        Ok(())
    }

    /// The generated `ClientHooks::exec`: sends `request`, records the response head, and
    /// limits the response body.
    pub async fn execute(
        &self,
        client: &reqwest::Client,
        request: reqwest::Request,
    ) -> reqwest::Result<reqwest::Response> {
        let sent = self.redirects_refused.then(|| request.url().clone());
        let response = client.execute(request).await?;
        let redirected = sent.is_some_and(|sent| *response.url() != sent);
        let tap = match &self.observer {
            Some(observer) => observer.observe(&response, redirected),
            None => SCOPED
                .try_with(|observer| observer.observe(&response, redirected))
                .ok()
                .flatten(),
        };
        Ok(limit_and_tap(response, self.max_response_bytes, tap))
    }
}

/// Replaces a request's body with the same bytes in a body that cannot be cloned, which
/// reqwest does not send again to where a 307 or 308 points. Its length is exact, so it
/// still goes out with a `Content-Length`, not chunked.
fn once_only_body(request: &mut reqwest::Request) {
    let Some(bytes) = request.body().and_then(reqwest::Body::as_bytes) else {
        return;
    };
    let bytes = bytes::Bytes::copy_from_slice(bytes);
    *request.body_mut() = Some(reqwest::Body::wrap(http_body_util::Full::new(bytes)));
}

/// Status and headers of a response.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ResponseHead {
    /// The status code.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// Whether the response came from another URL than the request was sent to: a
    /// redirect the HTTP client followed. Known only for a state built
    /// [`with_redirects_refused`](ClientState::with_redirects_refused); `false` otherwise.
    pub redirected: bool,
}

/// Keeps the head of the last response a client received (and, when asked, the body bytes
/// as they are read), so a caller still knows the status, headers and body when progenitor
/// reports only that a body failed to decode.
///
/// Give each request its own observer (clones share one slot): either in a client's state
/// ([`ClientState::with_response_observer`]), or, for one client shared by concurrent
/// requests, around each request with [`scope`](Self::scope).
///
/// `Debug` shows the head and how many body bytes were kept, never the bytes: a token
/// response's body is the token.
#[derive(Clone, Default)]
pub struct ResponseObserver {
    head: Arc<Mutex<Option<ResponseHead>>>,
    body: Option<Arc<Mutex<Vec<u8>>>>,
    /// Whether a success body is copied too, or only error bodies.
    success_bodies: bool,
}

tokio::task_local! {
    /// The observer of the request running in this task, for clients without their own.
    static SCOPED: ResponseObserver;
}

impl ResponseObserver {
    /// An observer of status and headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// An observer that also keeps a copy of the body bytes the client reads (at most the
    /// client's response size limit, plus one chunk).
    pub fn capturing_body() -> Self {
        Self {
            head: Arc::default(),
            body: Some(Arc::default()),
            success_bodies: true,
        }
    }

    /// An observer that keeps a copy of error bodies only (status not 2xx): for a caller
    /// whose typed success decode never needs the raw bytes.
    pub fn capturing_error_bodies() -> Self {
        Self {
            success_bodies: false,
            ..Self::capturing_body()
        }
    }

    /// Runs `work` with this observer seeing every response received, while `work` runs, by
    /// a client whose state has no observer of its own: one client can then serve
    /// concurrent requests, each observed on its own.
    pub fn scope<F: std::future::Future>(
        self,
        work: F,
    ) -> impl std::future::Future<Output = F::Output> {
        SCOPED.scope(self, work)
    }

    /// The last response head recorded, if any.
    pub fn last(&self) -> Option<ResponseHead> {
        lock(&self.head).clone()
    }

    /// The header `name` of the last response head recorded, if any: one value, without
    /// copying the whole head as [`last`](Self::last) does.
    pub fn last_header(&self, name: impl reqwest::header::AsHeaderName) -> Option<HeaderValue> {
        lock(&self.head).as_ref()?.headers.get(name).cloned()
    }

    /// Whether the last response head recorded came from another URL than the request was
    /// sent to (see [`ResponseHead::redirected`]), without copying the head.
    pub fn last_redirected(&self) -> bool {
        lock(&self.head)
            .as_ref()
            .is_some_and(|head| head.redirected)
    }

    /// The body bytes read so far, if this observer captures bodies.
    pub fn body(&self) -> Option<Vec<u8>> {
        self.body.as_ref().map(|body| lock(body).clone())
    }

    /// Records the head of `response` and returns the buffer its body should be copied
    /// into, if this observer captures bodies.
    fn observe(
        &self,
        response: &reqwest::Response,
        redirected: bool,
    ) -> Option<Arc<Mutex<Vec<u8>>>> {
        *lock(&self.head) = Some(ResponseHead {
            status: response.status(),
            headers: response.headers().clone(),
            redirected,
        });
        let captured = self.body.clone()?;
        lock(&captured).clear();
        (self.success_bodies || !response.status().is_success()).then_some(captured)
    }
}

impl fmt::Debug for ResponseObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseObserver")
            .field("last", &*lock(&self.head))
            .field(
                "body",
                &self
                    .body
                    .as_ref()
                    .map(|body| format!("[{} bytes]", lock(body).len())),
            )
            .field("success_bodies", &self.success_bodies)
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> reqwest::Request {
        reqwest::Request::new(
            reqwest::Method::POST,
            "http://127.0.0.1/token".parse().unwrap(),
        )
    }

    #[test]
    fn basic_operations_get_the_header_and_others_do_not() {
        let state =
            ClientState::default().with_basic_credentials(BasicCredentials::new("id", "secret1"));
        let mut secured = request();
        state.prepare(&mut secured, "token", &["token"]).unwrap();
        assert!(secured.headers()["authorization"].is_sensitive());

        let mut open = request();
        state.prepare(&mut open, "other", &["token"]).unwrap();
        assert!(open.headers().get("authorization").is_none());
    }

    #[test]
    fn a_body_that_may_hold_the_secret_cannot_be_sent_again() {
        let with_body = || {
            let mut request = request();
            *request.body_mut() = Some("grant_type=client_credentials".into());
            request
        };
        let state =
            ClientState::default().with_basic_credentials(BasicCredentials::new("id", "secret1"));
        // The secret is in the Basic header, which reqwest strips on a cross-origin redirect.
        let mut basic = with_body();
        state.prepare(&mut basic, "token", &["token"]).unwrap();
        assert!(basic.try_clone().is_some());
        // Not Basic: the body may hold the secret.
        let mut in_body = with_body();
        state.prepare(&mut in_body, "token", &[]).unwrap();
        assert!(in_body.try_clone().is_none());
        let mut once = with_body();
        let once_only = state.with_once_only_bodies();
        once_only.prepare(&mut once, "token", &["token"]).unwrap();
        assert!(once.try_clone().is_none());
    }

    #[test]
    fn missing_credentials_stop_a_basic_operation() {
        let err = ClientState::default()
            .prepare(&mut request(), "token", &["token"])
            .unwrap_err();
        assert!(err.contains("with_credentials"), "{err}");
    }

    #[test]
    fn default_headers_and_timeout_apply_without_overriding() {
        let state = ClientState::default()
            .with_default_header(
                reqwest::header::USER_AGENT,
                HeaderValue::from_static("partner/1"),
            )
            .with_default_header(
                reqwest::header::ACCEPT,
                HeaderValue::from_static("text/plain"),
            )
            .with_request_timeout(Duration::from_secs(3));
        let mut req = request();
        req.headers_mut().insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        state.prepare(&mut req, "x", &[]).unwrap();
        assert_eq!(req.headers()["user-agent"], "partner/1");
        assert_eq!(req.headers()["accept"], "application/json");
        assert_eq!(req.timeout(), Some(&Duration::from_secs(3)));
    }

    #[tokio::test]
    async fn the_observer_sees_the_status_and_headers() {
        let server = httpmock::MockServer::start_async().await;
        server.mock(|_, then| {
            then.status(429).header("retry-after", "2").body("{");
        });
        let observer = ResponseObserver::new();
        let state = ClientState::default().with_response_observer(observer.clone());
        let request =
            reqwest::Request::new(reqwest::Method::POST, server.url("/token").parse().unwrap());
        state
            .execute(
                &reqwest::Client::builder().no_proxy().build().unwrap(),
                request,
            )
            .await
            .unwrap();
        let head = observer.last().unwrap();
        assert_eq!(head.status, 429);
        assert_eq!(head.headers["retry-after"], "2");
        assert_eq!(observer.last_header("Retry-After").unwrap(), "2");
        assert_eq!(
            observer.last_header("date"),
            head.headers.get("date").cloned()
        );
        assert_eq!(observer.last_header("x-absent"), None);
        assert_eq!(observer.body(), None);
    }

    #[tokio::test]
    async fn a_capturing_observer_keeps_the_body_it_passes_on() {
        let server = httpmock::MockServer::start_async().await;
        server.mock(|_, then| {
            then.status(200).body(r#"{"accessToken":"t"}"#);
        });
        let observer = ResponseObserver::capturing_body();
        let state = ClientState::default().with_response_observer(observer.clone());
        let request =
            reqwest::Request::new(reqwest::Method::POST, server.url("/token").parse().unwrap());
        let response = state
            .execute(
                &reqwest::Client::builder().no_proxy().build().unwrap(),
                request,
            )
            .await
            .unwrap();
        assert_eq!(response.text().await.unwrap(), r#"{"accessToken":"t"}"#);
        assert_eq!(observer.body().unwrap(), br#"{"accessToken":"t"}"#);
    }

    #[tokio::test]
    async fn a_scoped_observer_sees_only_its_own_request_and_can_skip_success_bodies() {
        let server = httpmock::MockServer::start_async().await;
        server.mock(|when, then| {
            when.path("/ok");
            then.status(200).body("fine");
        });
        server.mock(|when, then| {
            when.path("/bad");
            then.status(400).body("broken");
        });
        // One state without an observer, shared by two requests each with its own.
        let state = ClientState::default();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let send = |path: &str| {
            let request =
                reqwest::Request::new(reqwest::Method::POST, server.url(path).parse().unwrap());
            let (state, http) = (state.clone(), http.clone());
            async move {
                state
                    .execute(&http, request)
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            }
        };
        let (ok, bad) = (
            ResponseObserver::capturing_error_bodies(),
            ResponseObserver::capturing_error_bodies(),
        );
        let (ok_text, bad_text) = tokio::join!(
            ok.clone().scope(send("/ok")),
            bad.clone().scope(send("/bad"))
        );
        assert_eq!((ok_text.as_str(), bad_text.as_str()), ("fine", "broken"));
        assert_eq!(ok.last().unwrap().status, 200);
        assert_eq!(ok.body().unwrap(), b"", "a success body is not kept");
        assert_eq!(bad.last().unwrap().status, 400);
        assert_eq!(bad.body().unwrap(), b"broken");
        // Outside any scope, nothing is observed and nothing fails.
        assert_eq!(send("/ok").await, "fine");
    }
}
