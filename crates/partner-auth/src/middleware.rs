//! [`AuthMiddleware`]: attaches the token to API requests made with `reqwest-middleware`,
//! only where the token is meant to go, and recovers once from a 401.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use http::Extensions;
use reqwest::header::{AUTHORIZATION, HOST};
use reqwest::{Request, Response, StatusCode, Url};
use reqwest_middleware::{Middleware, Next};
use tracing::Instrument as _;

use crate::sync::lock;
use crate::{AccessToken, Error, TokenSource};

/// A `reqwest-middleware` middleware that sends requests to the API the token is for with
/// `Authorization: Bearer <token>` from a [`TokenSource`].
///
/// - **Scope.** The token is attached only to requests under one of the base URLs it was
///   built with: same scheme, host and port, and a path under the base path (segment by
///   segment, `.` and `..` resolved; one with an encoded `/` or `\`, or a `..;` segment,
///   which some servers route out of it, is not under it, encoded once or more, whole
///   or in part; nor is one that decodes to bytes that are not UTF-8, such as the
///   overlong `%c0%af`, or holds a character that Unicode compatibility normalization
///   makes `/`, `\` or `.`, such as a fullwidth `／`, or a `%` that, decoded after it,
///   encodes one, such as `％2F`); a `Host` header set on the request must name the
///   URL's host and port, which a server or a shared front routes by: one in `reqwest`'s
///   `default_headers` is not on the request yet when the middleware sees it, so set none
///   there). Any other request goes out
///   untouched, so one client can also call third parties without handing them the
///   token. Base URLs must be `https://`, except to loopback.
/// - A request that already has an `Authorization` header is left alone, and so is one
///   carrying the [`NoAuth`] extension. (A header from `reqwest`'s `default_headers` is
///   not on the request yet when the middleware sees it: the token replaces it.)
/// - **Redirects** are the `reqwest` client's: by default it follows them and keeps the
///   header when scheme, host and port stay the same, whatever the path (it drops it
///   otherwise). To keep the token strictly under the base paths, build that client with
///   `reqwest::redirect::Policy::none()` (or a policy that stays under them).
/// - **401.** The token the API rejected is invalidated, then the request is sent once more
///   with a fresh token if it can be cloned (a streaming body cannot: that 401 is returned,
///   and the next request gets a fresh token). A second 401 is returned to the caller. If
///   its token was fetched for that retry, it is kept: refused fresh, it says the API
///   refuses this client's tokens (a missing permission, say), not one token, so later
///   401s with it are returned as they are, without a token fetch each, until the source
///   replaces it (refresh or expiry) or a request with it succeeds (a 2xx). (A token
///   another request had cached meanwhile is not kept so: the next 401 invalidates it.)
///   A 401 from where a redirect led is returned as
///   it is, as one that did not reject the token, when that URL is outside the scope (the
///   token was not for it) or on another scheme, host or port than the request's
///   (`reqwest` sent it no token: it drops the header at the first such hop, and never
///   puts it back). `reqwest` does not say which hosts a chain of redirects passed
///   through, so a 401 at the end of one that left the request's host and came back to it
///   counts as a rejection, although that last hop got no token either.
/// - **Proxies.** A `reqwest` client sends `http://` requests through the proxy its
///   environment names (`HTTP_PROXY`, `ALL_PROXY`) unless `NO_PROXY` exempts the host: a
///   loopback base URL's token then crosses that proxy in the clear. Build the client
///   with `.no_proxy()` (as this crate's own token client goes direct to loopback), or use
///   `https://`.
/// - A failure to get a token is returned as a middleware error wrapping the
///   [`Error`](crate::Error), which [`token_error`] gets back; nothing is sent.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use partner_auth::{AuthMiddleware, NoAuth, Provider, TokenSource};
/// # let sandbox = partner_sandbox::Sandbox::start().await?;
/// # let endpoint = sandbox.endpoint(Provider::Cobee);
/// # let client = partner_auth::Client::builder(Provider::Cobee)
/// #     .base_url(&endpoint.base_url)
/// #     .credentials(partner_auth::Credentials::new(endpoint.client_id, endpoint.client_secret))
/// #     .build()?;
/// # let source = TokenSource::new(client);
/// # let api_base = sandbox.endpoint(Provider::Cobee).base_url.clone();
/// # // The sandbox is on loopback: no proxy may see the token.
/// # let http = reqwest::Client::builder().no_proxy().build()?;
///
/// let api = reqwest_middleware::ClientBuilder::new(http) // reqwest::Client::new(), say
///     .with(AuthMiddleware::new(source, &api_base)?) // e.g. "https://partners-api.cobee.io/api/v3"
///     .build();
/// // Under the base URL: the token is attached.
/// # let url = sandbox.endpoint(Provider::Cobee).protected_url();
/// let response = api.get(url).send().await?;
/// # assert_eq!(response.status(), 200);
/// // Opted out: sent as is.
/// # let url = sandbox.endpoint(Provider::Cobee).protected_url();
/// let response = api.get(url).with_extension(NoAuth).send().await?;
/// # assert_eq!(response.status(), 401);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct AuthMiddleware {
    source: TokenSource,
    scope: Vec<Url>,
    /// A fresh token the API refused too (on a retry after a 401): later 401s with it are
    /// returned as they are, without a fetch each. Shared by the middleware's clones.
    refused: Arc<Refused>,
}

/// The token the API refused fresh, if any; `any` lets a success skip the lock.
#[derive(Debug, Default)]
struct Refused {
    any: AtomicBool,
    token: Mutex<Option<AccessToken>>,
}

impl Refused {
    fn is(&self, token: &AccessToken) -> bool {
        self.any.load(Ordering::Acquire)
            && lock(&self.token).as_ref().is_some_and(|t| t.same_as(token))
    }

    fn set(&self, token: AccessToken) {
        *lock(&self.token) = Some(token);
        self.any.store(true, Ordering::Release);
    }

    /// A request with `token` got through: the API takes it after all.
    fn clear_if(&self, token: &AccessToken) {
        if self.any.load(Ordering::Acquire) {
            let mut refused = lock(&self.token);
            if refused.as_ref().is_some_and(|t| t.same_as(token)) {
                *refused = None;
                self.any.store(false, Ordering::Release);
            }
        }
    }
}

/// Configures an [`AuthMiddleware`] with several base URLs; from
/// [`AuthMiddleware::builder`].
#[must_use]
pub struct AuthMiddlewareBuilder {
    source: TokenSource,
    base_urls: Vec<String>,
}

/// A request extension that keeps [`AuthMiddleware`] from touching one request:
/// `client.get(url).with_extension(NoAuth)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAuth;

impl AuthMiddleware {
    /// A middleware attaching tokens from `source` to requests under `base_url`.
    pub fn new(source: TokenSource, base_url: impl AsRef<str>) -> Result<Self, Error> {
        Self::builder(source).base_url(base_url).build()
    }

    /// Starts configuring a middleware whose token goes to several base URLs.
    pub fn builder(source: TokenSource) -> AuthMiddlewareBuilder {
        AuthMiddlewareBuilder {
            source,
            base_urls: Vec::new(),
        }
    }

    /// Whether the token may be attached to a request for `url`.
    pub fn covers(&self, url: &Url) -> bool {
        self.scope.iter().any(|base| within(base, url))
    }

    async fn authorize(&self, request: &mut Request) -> reqwest_middleware::Result<AccessToken> {
        let token = self.source.token().await.map_err(to_middleware)?;
        let header = token.authorization_header().map_err(to_middleware)?;
        request.headers_mut().insert(AUTHORIZATION, header);
        Ok(token)
    }
}

impl std::fmt::Debug for AuthMiddlewareBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not checked yet, so possibly with a password or a query: shown as a client's URL
        // is, without user, password, query or fragment.
        let base_urls: Vec<String> = self
            .base_urls
            .iter()
            .map(|raw| crate::client::shown_url(raw))
            .collect();
        f.debug_struct("AuthMiddlewareBuilder")
            .field("source", &self.source)
            .field("base_urls", &base_urls)
            .finish()
    }
}

impl AuthMiddlewareBuilder {
    /// Adds a base URL the token is for (`https://`, or `http://` to loopback).
    pub fn base_url(mut self, base_url: impl AsRef<str>) -> Self {
        self.base_urls.push(base_url.as_ref().to_owned());
        self
    }

    /// Checks the base URLs and builds the middleware.
    pub fn build(self) -> Result<AuthMiddleware, Error> {
        if self.base_urls.is_empty() {
            return Err(Error::configuration(
                "AuthMiddleware needs at least one base URL the token is for",
            ));
        }
        let scope = self
            .base_urls
            .iter()
            .map(|raw| parse_scope(raw))
            .collect::<Result<_, _>>()?;
        Ok(AuthMiddleware {
            source: self.source,
            scope,
            refused: Arc::default(),
        })
    }
}

/// A base URL as a client's: `http(s)://host[:port][/path]`, no user, password, query or
/// fragment, never repeated whole in an error (it may hold a password); https except to
/// loopback.
fn parse_scope(raw: &str) -> Result<Url, Error> {
    let url = partner_api_support::parse_base_url(raw)
        .map_err(|e| Error::configuration(format!("AuthMiddleware: {e}")))?;
    if url.scheme() == "http" && !partner_api_support::is_loopback(&url) {
        return Err(Error::new(
            crate::ErrorKind::InsecureTransport,
            format!(
                "AuthMiddleware refuses to send tokens over plain http to {}",
                url.host_str().unwrap_or("")
            ),
        )
        .with_hint("give the API's https:// base URL (plain http only to a loopback address)"));
    }
    Ok(url)
}

/// Whether `url` is under `base`: same scheme, host and port; path under the base path,
/// with nothing under it that some servers read as a way out of it: an encoded `/` or `\`
/// (`%2F`, `%5C`: decoded before routing by some), or a `..;` or `.;` segment, its dots and
/// `;` encoded or not (`..` to Tomcat and the servers that copy it), each also encoded
/// again, whole or in part (`%252F`, `%25%32%46`, `%252e%252e`: for a server that decodes
/// twice or more); and a segment that, decoded, is not UTF-8 (an overlong `%c0%af` is `/`
/// to a lenient decoder) or holds a character that compatibility normalization (NFKC)
/// turns into one of those (a fullwidth `／`, a fullwidth or small full stop, a two-dot
/// leader `‥`), for a server that normalizes paths, or into a `%` that encodes one, for a
/// server that decodes again after normalizing (`％2F`); IIS's `%uXXXX` escapes are decoded
/// too, and a segment of dots and spaces alone, or holding a NUL, is a way out (see
/// [`windows_or_c_dots`]). Such a request goes out without the token.
fn within(base: &Url, url: &Url) -> bool {
    if base.scheme() != url.scheme()
        || base.port_or_known_default() != url.port_or_known_default()
        || !matches!((base.host_str(), url.host_str()), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
    {
        return false;
    }
    let base_path = base.path().trim_end_matches('/');
    let Some(rest) = url.path().strip_prefix(base_path) else {
        return false;
    };
    let way_out = |segment: &str| {
        let mut bytes = segment.as_bytes().to_vec();
        let mut decodings = 0;
        for _ in 0..NORMALIZATION_ROUNDS {
            // Decoded as often as it changes, as a server that decodes twice or more reads
            // it: `%252F`, `%25%32%46` and `%252%46` are all `/` to one that decodes twice
            // (found by review). Still changing after more decodings than any server
            // applies, it is a way out: decoding it to the end cost time in the square of
            // its length (`%2525…`: found by review).
            loop {
                let decoded: Vec<u8> = percent_encoding::percent_decode(&bytes).collect();
                let decoded = iis_decoded(&decoded);
                if decoded == bytes {
                    break;
                }
                decodings += 1;
                if decodings > MAX_DECODINGS {
                    return true;
                }
                bytes = decoded;
            }
            // Not UTF-8: read by some as the overlong form of `/`, `\\` or `.` it may be.
            let Ok(text) = std::str::from_utf8(&bytes) else {
                return true;
            };
            if way_out_ascii(text.as_bytes()) || windows_or_c_dots(text) {
                return true;
            }
            // ASCII is its own normal form: the usual path pays one scan.
            if text.is_ascii() {
                return false;
            }
            let normal = NFKC.normalize(text);
            if normal == text {
                return false;
            }
            // Normalized, then decoded again by a server that does both: NFKC makes `%`
            // too (a fullwidth `％`, a small `﹪`), and `％2F` is `/` to it (found by review).
            bytes = normal.into_owned().into_bytes();
        }
        // Still changing: no server is assumed to stop where this did.
        true
    };
    (rest.is_empty() || rest.starts_with('/')) && !rest.split('/').any(way_out)
}

/// How many times a segment is decoded (as often as that changes it) then normalized, as a
/// server that normalizes between decodings reads it, before it counts as a way out for
/// still changing.
const NORMALIZATION_ROUNDS: usize = 8;

/// How many times a segment is decoded, in all, before it counts as a way out for still
/// changing.
const MAX_DECODINGS: usize = 16;

/// Unicode compatibility composition, as a server normalizing paths applies it.
const NFKC: icu_normalizer::ComposingNormalizerBorrowed<'static> =
    icu_normalizer::ComposingNormalizer::new_nfkc();

/// Whether a decoded segment is dots to Windows or to a server in C: Windows drops a
/// segment's trailing dots and spaces (`.. `, `...` are `..` or less), and C stops at a
/// NUL (`..%00`); so a segment of dots and spaces alone (a dot at least: spaces alone
/// leave an empty segment), or holding a NUL, is a way out (found by review). What comes
/// before a `;` counts alone, as Tomcat drops a segment's parameters (`...;x`, `.. ;x`:
/// found by review).
fn windows_or_c_dots(text: &str) -> bool {
    let name = text.split(';').next().unwrap_or(text);
    text.contains('\0') || (name.contains('.') && name.bytes().all(|b| b == b'.' || b == b' '))
}

/// `bytes` with IIS's `%uXXXX` escapes decoded (`%u002e` is `.`, `%u002f` is `/`: found by
/// review); an escape of half a surrogate pair, or not followed by four hex digits, is
/// left as it is.
fn iis_decoded(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some((&first, tail)) = rest.split_first() {
        if first == b'%'
            && let [u, digits @ ..] = tail
            && u.eq_ignore_ascii_case(&b'u')
            && let Some(hex) = digits.get(..4)
            && let Some(c) = std::str::from_utf8(hex)
                .ok()
                .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .and_then(char::from_u32)
        {
            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            rest = &tail[5..];
            continue;
        }
        out.push(first);
        rest = tail;
    }
    out
}

/// Whether a decoded segment is, or holds, a way out of the base path: `/` or `\\`
/// anywhere, `..` or `.`, or `..;` / `.;` first (dots and `;` as Tomcat reads them:
/// `%2e%2e;` is `..;`; found by review).
fn way_out_ascii(bytes: &[u8]) -> bool {
    bytes.contains(&b'/')
        || bytes.contains(&b'\\')
        || bytes == b".."
        || bytes == b"."
        || bytes.starts_with(b"..;")
        || bytes.starts_with(b".;")
}

/// Whether a `Host` header the caller set, if any, names the URL's host and port (as
/// `host` or `host:port`, any case): a server, or a front shared by many hosts, routes a
/// request by that header, so one naming another host is a request for that host, whatever
/// its URL (found by review). Anything else, several such headers included, gets no token.
fn host_header_names_url(request: &Request) -> bool {
    let mut named = request.headers().get_all(HOST).iter();
    let Some(value) = named.next() else {
        return true;
    };
    if named.next().is_some() {
        return false;
    }
    let url = request.url();
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return false;
    };
    let value = value.as_bytes();
    let with_port = format!("{host}:{port}");
    value.eq_ignore_ascii_case(with_port.as_bytes())
        || (url.port().is_none() && value.eq_ignore_ascii_case(host.as_bytes()))
}

/// Same scheme, host and port: where `reqwest` keeps the `Authorization` header on a
/// redirect.
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

#[async_trait::async_trait]
impl Middleware for AuthMiddleware {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        if extensions.get::<NoAuth>().is_some()
            || request.headers().contains_key(AUTHORIZATION)
            || !self.covers(request.url())
            || !host_header_names_url(&request)
        {
            return next.run(request, extensions).await;
        }
        let url = request.url();
        let span = tracing::info_span!(
            "authorized_request",
            provider = %self.source.client().provider(),
            environment = self.source.client().environment(),
            method = %request.method(),
            host = url.host_str().unwrap_or_default(),
            path = url.path(),
            status = tracing::field::Empty,
            retried_after_401 = false,
        );
        let response = self
            .send_authorized(request, extensions, next)
            .instrument(span.clone())
            .await;
        if let Ok(response) = &response {
            span.record("status", response.status().as_u16());
        }
        response
    }
}

impl AuthMiddleware {
    /// Sends `request` with the token, and once more with a fresh one after a 401.
    async fn send_authorized(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let retry = request.try_clone();
        let token = self.authorize(&mut request).await?;
        let sent_to = request.url().clone();
        let response = next.clone().run(request, extensions).await?;
        // A 401 from where a redirect led did not reject this token if that is outside the
        // scope, or on another origin than the request's: reqwest drops the header at the
        // first change of scheme, host or port, and never puts it back.
        if response.status() != StatusCode::UNAUTHORIZED {
            // Taken after all (a 429, a 503 or a 403 says nothing of the token).
            if response.status().is_success() {
                self.refused.clear_if(&token);
            }
            return Ok(response);
        }
        if !same_origin(&sent_to, response.url()) || !self.covers(response.url()) {
            return Ok(response);
        }
        // A token that was fresh when the API refused it before: the API refuses this
        // client's tokens, not this one. Another would cost a fetch and be refused too.
        if self.refused.is(&token) {
            tracing::debug!(
                provider = %self.source.client().provider(),
                "API answered 401 with a token it refused fresh; returned as it is"
            );
            return Ok(response);
        }
        // Drop the rejected token first, whether or not this request can be retried. If it
        // was not the cached one any more (another request replaced it meanwhile), the
        // retry's token is that one, not one fetched for this retry.
        let dropped = self.source.invalidate(&token);
        let Some(mut retry) = retry else {
            tracing::info!(
                provider = %self.source.client().provider(),
                "API answered 401 to a request that cannot be retried; token invalidated"
            );
            return Ok(response);
        };
        let fresh = self.authorize(&mut retry).await?;
        tracing::Span::current().record("retried_after_401", true);
        tracing::info!(
            provider = %self.source.client().provider(),
            same_token = fresh.same_as(&token),
            "API answered 401; retrying once with a fresh token"
        );
        let sent_to = retry.url().clone();
        let response = next.run(retry, extensions).await?;
        // Kept as refused only when it was fetched for this retry (found by review: a
        // cached token that had worked, refused once, was kept and never invalidated).
        if dropped
            && !fresh.same_as(&token)
            && response.status() == StatusCode::UNAUTHORIZED
            && same_origin(&sent_to, response.url())
            && self.covers(response.url())
        {
            tracing::warn!(
                provider = %self.source.client().provider(),
                "API answered 401 to a fresh token too: it refuses this client's tokens (a \
                 missing permission?); later 401s with this token are returned without \
                 fetching another"
            );
            self.refused.set(fresh);
        }
        Ok(response)
    }
}

fn to_middleware(error: crate::Error) -> reqwest_middleware::Error {
    reqwest_middleware::Error::Middleware(anyhow::Error::new(error))
}

/// The token error behind a middleware error, if that is what it is.
///
/// Once the middleware's error is an `anyhow::Error` (a `?` in a function returning
/// `anyhow::Result`), the token error is not in its `chain()`: reqwest-middleware's error
/// passes its inner error's source through. Downcast to `reqwest_middleware::Error` first:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use partner_auth::{AuthMiddleware, Credentials, ErrorKind, Provider, TokenSource, token_error};
/// # let sandbox = partner_sandbox::Sandbox::start().await?;
/// # let endpoint = sandbox.endpoint(Provider::Dinie);
/// let client = partner_auth::Client::builder(Provider::Dinie)
///     .base_url(&endpoint.base_url)
///     .credentials(Credentials::new(endpoint.client_id, "not-the-secret"))
///     .build()?;
/// let http = reqwest::Client::builder().no_proxy().build()?; // the sandbox is on loopback
/// let api = reqwest_middleware::ClientBuilder::new(http)
///     .with(AuthMiddleware::new(TokenSource::new(client), &endpoint.base_url)?)
///     .build();
/// let call = async { anyhow::Ok(api.get(endpoint.protected_url()).send().await?) };
/// let error: anyhow::Error = call.await.unwrap_err();
/// assert!(error.chain().all(|e| !e.is::<partner_auth::Error>()));
/// let token = error
///     .downcast_ref::<reqwest_middleware::Error>()
///     .and_then(token_error)
///     .expect("a token error");
/// assert_eq!(token.kind(), ErrorKind::InvalidCredentials);
/// # Ok(())
/// # }
/// ```
pub fn token_error(error: &reqwest_middleware::Error) -> Option<&crate::Error> {
    match error {
        reqwest_middleware::Error::Middleware(inner) => inner.downcast_ref(),
        reqwest_middleware::Error::Reqwest(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn scope_is_scheme_host_port_and_path_segments() {
        let base = url("https://api.partner.example/v3");
        for inside in [
            "https://api.partner.example/v3",
            "https://api.partner.example/v3/",
            "https://API.partner.example/v3/orders?x=1",
            "https://api.partner.example:443/v3/orders",
        ] {
            assert!(within(&base, &url(inside)), "{inside}");
        }
        for outside in [
            "http://api.partner.example/v3/orders",
            "https://api.partner.example/v30/orders",
            "https://api.partner.example/v2/orders",
            "https://api.partner.example:8443/v3/orders",
            "https://evil.example/v3/orders",
            "https://api.partner.example.evil.example/v3",
        ] {
            assert!(!within(&base, &url(outside)), "{outside}");
        }
        let root = url("https://api.partner.example/");
        assert!(within(&root, &url("https://api.partner.example/anything")));
    }

    #[test]
    fn base_urls_must_be_https_except_to_loopback() {
        assert!(parse_scope("https://api.partner.example/v3").is_ok());
        assert!(parse_scope("http://127.0.0.1:8080/v3").is_ok());
        assert!(parse_scope("http://[::1]:8080/").is_ok());
        let err = parse_scope("http://api.partner.example/v3").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InsecureTransport);
        // Found by review: the hint named allow_insecure_http, which the middleware lacks.
        assert!(!err.hint().contains("allow_insecure_http"), "{err}");
        assert!(err.hint().contains("https://"), "{err}");
        for bad in [
            "not a url",
            "ftp://x.example/",
            "https://x.example/?a=1",
            "file:///tmp",
            "https://user:hunter2pw@x.example/v1",
            "https://user:hunter2pw@x.example/v1?x=1",
            "https://:hunter2pw@[::1/v1",
        ] {
            let err = parse_scope(bad).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Configuration, "{bad}");
            // The password is never repeated (found by review: the URL was, whole).
            assert!(!format!("{err} {err:?}").contains("hunter2pw"), "{err}");
        }
    }
}
