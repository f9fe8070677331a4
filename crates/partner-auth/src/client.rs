//! [`Client`] and its [`ClientBuilder`]: one provider, one environment, one set of
//! credentials.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use tracing::Instrument as _;

use partner_api_support::ClientState;
use reqwest::header::{HeaderValue, USER_AGENT};
use secrecy::{ExposeSecret as _, SecretString};

use crate::body::Sensitive;
use crate::exchange::Exchange;
use crate::provider::ClientAuth;
use crate::token::{DEFAULT_LIFETIME, Issued};
use crate::{AccessToken, Credentials, Error, ErrorKind, Provider, providers};

/// Default connect timeout: 5 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default total timeout of one token request: 10 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The TCP_USER_TIMEOUT reqwest sets by default, raised where the client waits longer for
/// a connection.
const REQWEST_TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);

/// Gets access tokens from one provider. Cheap to clone; share one per set of credentials.
///
/// Each [`fetch_token`](Self::fetch_token) sends one token request. Applications that ask
/// for a token per API call want the caching layer on top of this.
#[derive(Clone)]
pub struct Client {
    config: Arc<Config>,
}

/// Everything a token request needs, fixed at build time.
pub(crate) struct Config {
    pub provider: Provider,
    pub environment: Cow<'static, str>,
    pub base_url: String,
    pub credentials: Credentials,
    /// The provider's generated client, with the User-Agent, timeout and Basic credentials
    /// in its state.
    pub generated: providers::Generated,
    pub default_lifetime: Duration,
    /// The scope asked for (standard providers only): part of the token's identity.
    pub scope: Option<String>,
    /// Further form parameters (standard providers only): part of the token's identity.
    pub extra_params: Vec<(String, String)>,
    /// What no text taken from a response may show: the client secret and the token URL's
    /// query values (standard providers only: the query may hold a key).
    pub sensitive: Sensitive,
    /// The longest a token request takes, if bounded ([`ClientBuilder::timeout`]).
    pub request_timeout: Option<Duration>,
    /// How the client authenticates.
    pub auth: ClientAuth,
}

/// The generated client's state: the User-Agent, the timeout and redirects refused when the
/// HTTP client is the caller's (ours has them built in), and the Basic credentials where the provider takes
/// them so. The response observer is set per request instead.
fn client_state(
    auth: ClientAuth,
    basic_encoding: providers::BasicEncoding,
    user_agent: Option<HeaderValue>,
    request_timeout: Option<Duration>,
    credentials: &Credentials,
) -> Result<ClientState, Error> {
    let mut state = ClientState::default();
    if let Some(user_agent) = user_agent {
        // The caller's client, which may follow redirects: no token may come back from
        // where one led, and a secret in the body must not go on to where a 307 points.
        state = state
            .with_default_header(USER_AGENT, user_agent)
            .with_redirects_refused();
        if auth == ClientAuth::Body {
            state = state.with_once_only_bodies();
        }
    }
    if let Some(timeout) = request_timeout {
        state = state.with_request_timeout(timeout);
    }
    Ok(match auth {
        ClientAuth::Basic => state.with_basic_credentials(credentials.basic(basic_encoding)?),
        ClientAuth::Body => state,
    })
}

impl Client {
    /// Starts configuring a client for `provider`.
    pub fn builder(provider: Provider) -> ClientBuilder {
        ClientBuilder {
            provider,
            environment: None,
            base_url: None,
            credentials: None,
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            timeout: Some(DEFAULT_TIMEOUT),
            http: None,
            allow_insecure_http: false,
            default_lifetime: DEFAULT_LIFETIME,
            client_auth: None,
            scope: None,
            extra_params: Vec::new(),
        }
    }

    /// Sends one token request and maps the answer into an [`AccessToken`] or an [`Error`].
    ///
    /// Runs in a `token_request` tracing span (provider, environment, and once answered
    /// its outcome, and for an error its kind and HTTP status; never a secret), and with the `metrics`
    /// feature counts the request and its latency (see the crate docs).
    pub async fn fetch_token(&self) -> Result<AccessToken, Error> {
        // reqwest panics without one: an error says so instead.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::runtime("Client::fetch_token needs a Tokio runtime")
                .at(self.config.provider, self.config.environment.clone()));
        }
        let span = tracing::info_span!(
            "token_request",
            provider = %self.config.provider,
            environment = %self.config.environment,
            outcome = tracing::field::Empty,
            status = tracing::field::Empty,
            error_kind = tracing::field::Empty,
        );
        #[cfg(feature = "metrics")]
        let started = Instant::now();
        // A Tokio runtime without its time or I/O driver makes reqwest panic: an error.
        let result =
            std::panic::AssertUnwindSafe(self.send_token_request())
                .catch_unwind()
                .instrument(span.clone())
                .await
                .unwrap_or_else(|_| {
                    Err(Error::new(ErrorKind::Internal, "a panic inside the token request")
                    .with_hint(
                        "a Tokio runtime without its time or I/O driver makes reqwest panic: \
                         build it with enable_all(); otherwise report this bug to \
                         partner-auth",
                    )
                    .at(self.config.provider, self.config.environment.clone()))
                });
        match &result {
            Ok(_) => {
                span.record("outcome", "ok");
            }
            Err(error) => {
                span.record("outcome", "error");
                span.record("error_kind", error.kind().as_str());
                if let Some(status) = error.status() {
                    span.record("status", status.as_u16());
                }
            }
        }
        #[cfg(feature = "metrics")]
        crate::observe::token_request(&self.config, &result, started.elapsed());
        result
    }

    async fn send_token_request(&self) -> Result<AccessToken, Error> {
        let config = &self.config;
        let issued = Issued::now();
        let exchange = Exchange {
            provider: config.provider,
            environment: &config.environment,
            sensitive: &config.sensitive,
            observer: providers::observer(config.provider),
            error_details: providers::facts(config.provider).error_details,
        };
        let result = providers::request_token(config, &exchange).await;
        let arrived = Instant::now();
        let result = result.and_then(|raw| {
            let date = || {
                let value = exchange.observer.last_header(reqwest::header::DATE)?;
                crate::date::parse(value.to_str().ok()?)
            };
            usable_token(
                AccessToken::new(
                    raw,
                    issued,
                    config.provider,
                    config.environment.clone(),
                    config.default_lifetime,
                    date,
                ),
                issued,
                arrived,
            )
        });
        let elapsed_ms = arrived
            .saturating_duration_since(issued.instant)
            .as_millis() as u64;
        match result {
            Ok(token) => {
                tracing::debug!(
                    provider = %config.provider,
                    environment = %config.environment,
                    elapsed_ms,
                    lifetime_s = token.lifetime().map(|l| l.as_secs()),
                    "token request succeeded"
                );
                Ok(token)
            }
            Err(error) => {
                tracing::debug!(
                    provider = %config.provider,
                    environment = %config.environment,
                    elapsed_ms,
                    kind = error.kind().as_str(),
                    status = error.status().map(|s| s.as_u16()),
                    "token request failed"
                );
                Err(error)
            }
        }
    }

    /// The provider.
    pub fn provider(&self) -> Provider {
        self.config.provider
    }

    /// The environment's name, or `custom` for a base URL.
    pub fn environment(&self) -> &str {
        &self.config.environment
    }

    /// The base URL token requests go to, normalized as a URL is (a standard provider's
    /// query included, which `Debug` leaves out: it may hold a key).
    pub fn base_url(&self) -> &str {
        &self.config.base_url
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        self.config.credentials.client_id()
    }

    /// What no text taken from a response may show (the secret, the token URL's query).
    pub(crate) fn sensitive(&self) -> &Sensitive {
        &self.config.sensitive
    }

    /// The longest a token request takes, if bounded.
    pub(crate) fn request_timeout(&self) -> Option<Duration> {
        self.config.request_timeout
    }

    /// How the client authenticates (Basic, or the secret in the body).
    pub(crate) fn auth(&self) -> ClientAuth {
        self.config.auth
    }

    /// The credentials (the secret stays redacted in `Debug`).
    pub fn credentials(&self) -> &Credentials {
        &self.config.credentials
    }

    /// The scope a [`Provider::Standard`] client asks for, if any.
    pub fn scope(&self) -> Option<&str> {
        self.config.scope.as_deref()
    }

    /// The further form parameters a [`Provider::Standard`] client sends, as `(name,
    /// value)` in the order given (see [`ClientBuilder::extra_param`]).
    pub fn extra_params(&self) -> &[(String, String)] {
        &self.config.extra_params
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("provider", &self.config.provider)
            .field("environment", &self.config.environment)
            .field("base_url", &shown_url(&self.config.base_url))
            .field("credentials", &self.config.credentials)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Client`]; from [`Client::builder`]. Clone one to build clients that
/// differ in a setting or two (tenants' credentials, say).
#[must_use]
#[derive(Clone)]
pub struct ClientBuilder {
    provider: Provider,
    environment: Option<String>,
    base_url: Option<String>,
    credentials: Option<Credentials>,
    connect_timeout: Option<Duration>,
    timeout: Option<Duration>,
    http: Option<reqwest::Client>,
    allow_insecure_http: bool,
    default_lifetime: Duration,
    client_auth: Option<ClientAuth>,
    scope: Option<String>,
    extra_params: Vec<(String, String)>,
}

impl std::fmt::Debug for ClientBuilder {
    /// The base URL as a [`Client`] shows it: no query, fragment, user name or password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("provider", &self.provider)
            .field("environment", &self.environment)
            .field("base_url", &self.base_url.as_deref().map(shown_url))
            .field("credentials", &self.credentials)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("client_auth", &self.client_auth)
            .field("scope", &self.scope)
            .field("extra_params", &ParamNames(&self.extra_params))
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// How a [`Provider::Standard`] client authenticates: [`ClientAuth::Basic`] (the
    /// default) or [`ClientAuth::Body`]. The partners' ways are fixed: asking one of them
    /// for another is a configuration error.
    pub fn client_auth(mut self, auth: ClientAuth) -> Self {
        self.client_auth = Some(auth);
        self
    }

    /// The `scope` a [`Provider::Standard`] client asks for (space-separated, RFC 6749
    /// §3.3); none by default. The partners take no scope: giving one is a configuration
    /// error.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Adds a form parameter to a [`Provider::Standard`] client's token requests, after
    /// the ones this crate writes: Auth0's `audience`, RFC 8707's `resource` (which may
    /// be given more than once); sent in the order given. Like the scope, the parameters
    /// are part of the token's identity: a [`TokenCache`](crate::TokenCache) and a token
    /// store keep one token per set of them (names in whatever order; a name given more than
    /// once, its values in theirs). `grant_type`,
    /// `client_id`, `client_secret` and `scope` (in any case) are this crate's to write,
    /// and the partners take no parameter: giving either is a configuration error. `Debug`
    /// shows the names, not the values.
    pub fn extra_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_params.push((name.into(), value.into()));
        self
    }

    /// Uses the named environment (see [`Provider::environments`]); default `production`.
    pub fn environment(mut self, name: impl Into<String>) -> Self {
        self.environment = Some(name.into());
        self
    }

    /// Sends token requests to `base_url` instead of a named environment (a proxy, a
    /// sandbox, a test server). The environment is reported as `custom`. A partner's base
    /// URL takes no query; a [`Provider::Standard`] token URL may have one. No URL takes a
    /// fragment, a user name or a password.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// The client credentials.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Timeout for establishing a connection (default [`DEFAULT_CONNECT_TIMEOUT`]; `None`
    /// for none, the request's [`timeout`](Self::timeout) then bounding it; zero is refused
    /// by [`build`](Self::build)); applies to the HTTP client this builder creates. A wait
    /// over 30 s raises the socket's `TCP_USER_TIMEOUT` (reqwest's 30 s, which on Linux
    /// cuts the connection's retries too) to match.
    pub fn connect_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.connect_timeout = timeout.into();
        self
    }

    /// Total timeout of one token request, response body included (default
    /// [`DEFAULT_TIMEOUT`]); applies to a caller-supplied HTTP client too. `None` sets no
    /// timer at all, for a caller that bounds requests itself; zero is refused by
    /// [`build`](Self::build).
    pub fn timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.timeout = timeout.into();
        self
    }

    /// Sends through a `reqwest::Client` the caller configured (proxies, TLS roots). Build
    /// it with `redirect::Policy::none()`: a token request must not follow a redirect. One
    /// that follows them anyway (reqwest's default) is contained as far as reqwest lets it
    /// be: a body holding the secret is not sent again to where a 307 or 308 points, and an
    /// answer from another URL than the token URL (a 301, 302 or 303 followed, without the
    /// body) is an [`InvalidResponse`](ErrorKind::InvalidResponse), as any redirect is with
    /// the client this crate builds. What it cannot stop: reqwest sends Basic credentials
    /// again on a redirect within the same origin, and the token URL, its query included,
    /// as the `Referer` (`referer(false)` turns that off); an answer from a chain of
    /// redirects that ends at the token URL itself reads as a direct one; and a body that
    /// holds the secret is not retried on a refused HTTP/2 stream. For a plain `http://`
    /// URL, give it `no_proxy()`: its proxies would see the secret. (The client this crate
    /// builds otherwise goes direct for `http://` and loopback URLs, and takes the
    /// environment's proxies for the rest.)
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Allows credentials over plain `http://` to non-loopback hosts. Only for test
    /// networks; plain http to loopback (`127.0.0.0/8`, `::1`, `127.0.0.0/8` mapped into
    /// IPv6, `localhost`) is always allowed.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Lifetime assumed when the provider reports none usable (default 5 minutes); zero is
    /// refused by [`build`](Self::build).
    pub fn default_lifetime(mut self, lifetime: Duration) -> Self {
        self.default_lifetime = lifetime;
        self
    }

    /// Checks the configuration and builds the client. Nothing is sent; no DNS lookup or
    /// connection is made.
    pub fn build(self) -> Result<Client, Error> {
        let provider = self.provider;
        let (environment, base_url): (Cow<'static, str>, String) =
            match (self.environment, self.base_url) {
                (Some(_), Some(_)) => {
                    return Err(Error::configuration(
                        "both an environment and a base URL were given; choose one",
                    ));
                }
                (None, Some(url)) => (Cow::Borrowed("custom"), url),
                (Some(_), None) if provider.environments().is_empty() => {
                    return Err(Error::configuration(format!(
                        "{provider} has no named environments: give its token endpoint's URL \
                         with .base_url(…)"
                    )));
                }
                (Some(name), None) => {
                    let env = provider.environment(&name).ok_or_else(|| {
                        let known: Vec<&str> =
                            provider.environments().iter().map(|e| e.name).collect();
                        Error::configuration(format!(
                            "{provider} has no environment `{name}`; it has: {}",
                            known.join(", ")
                        ))
                    })?;
                    (Cow::Borrowed(env.name), env.base_url.to_owned())
                }
                (None, None) => {
                    let env = provider.environments().first().ok_or_else(|| {
                        Error::configuration(format!(
                            "{provider} has no named environments: give its token endpoint's \
                             URL with .base_url(…)"
                        ))
                    })?;
                    (Cow::Borrowed(env.name), env.base_url.to_owned())
                }
            };
        let at = |e: Error| e.at(provider, environment.clone());
        let auth = if provider == Provider::Standard {
            self.client_auth.unwrap_or(ClientAuth::Basic)
        } else {
            match self.client_auth {
                Some(chosen) if chosen != provider.client_auth() => {
                    return Err(at(Error::configuration(format!(
                        "{provider} authenticates clients by {}, not {chosen}; client_auth is \
                         for Provider::Standard",
                        provider.client_auth()
                    ))));
                }
                _ => provider.client_auth(),
            }
        };
        if provider != Provider::Standard && self.scope.is_some() {
            return Err(at(Error::configuration(format!(
                "{provider} takes no scope; scope is for Provider::Standard"
            ))));
        }
        if let Some(scope) = &self.scope
            && !is_rfc6749_scope(scope)
        {
            return Err(at(Error::configuration(
                "a scope is one or more space-separated tokens of printable ASCII, without \
                 `\"` or `\\` (RFC 6749 §3.3)",
            )));
        }
        check_extra_params(provider, &self.extra_params).map_err(at)?;
        if self.default_lifetime.is_zero() {
            return Err(at(Error::configuration(
                "a default_lifetime of zero would make every token without a reported \
                 lifetime expired on arrival; give a positive duration",
            )));
        }
        for (name, timeout) in [
            ("timeout", self.timeout),
            ("connect_timeout", self.connect_timeout),
        ] {
            if timeout.is_some_and(|t| t.is_zero()) {
                return Err(at(Error::configuration(format!(
                    "a {name} of zero would fail every request; give a positive duration, or \
                     None for no timer at all"
                ))));
            }
        }

        let url = parse_url(provider, &base_url).map_err(at)?;
        if url.scheme() == "http"
            && !self.allow_insecure_http
            && !partner_api_support::is_loopback(&url)
        {
            return Err(at(Error::new(
                ErrorKind::InsecureTransport,
                format!(
                    "refusing to send client credentials over plain http to {}",
                    url.host_str().unwrap_or("")
                ),
            )));
        }

        #[cfg(not(any(feature = "rustls", feature = "rustls-ring", feature = "native-tls")))]
        if url.scheme() == "https" && self.http.is_none() {
            return Err(at(Error::configuration(
                "partner-auth was built without a TLS backend, so it cannot reach an https:// \
                 base URL: enable its `rustls`, `rustls-ring` or `native-tls` feature, or give \
                 ClientBuilder::http_client a reqwest client built with one",
            )));
        }
        let credentials = self.credentials.ok_or_else(|| {
            at(Error::configuration(
                "no client credentials; give them with .credentials(Credentials::new(id, secret))",
            ))
        })?;
        credentials.validate(provider).map_err(at)?;

        let user_agent = HeaderValue::try_from(format!(
            "partner-auth/{} ({}-api; api-version {})",
            env!("CARGO_PKG_VERSION"),
            provider,
            provider.api_version()
        ))
        .map_err(|_| {
            at(Error::configuration(
                "the User-Agent is not a valid header value",
            ))
        })?;
        let (http, user_agent, request_timeout) = match self.http {
            Some(http) => (http, Some(user_agent), self.timeout),
            None => {
                // With `rustls-ring`, reqwest has no provider it would pick by itself.
                #[cfg(feature = "rustls-ring")]
                crate::tls::ensure_rustls_provider();
                let mut http = reqwest::Client::builder();
                // A proxy (`HTTP_PROXY`, `ALL_PROXY`) would see credentials sent over plain
                // http, and would take a loopback URL to its own machine's loopback: both
                // go direct. An https URL elsewhere may go through one (a tunnel).
                if url.scheme() == "http" || partner_api_support::is_loopback(&url) {
                    http = http.no_proxy();
                }
                if let Some(timeout) = self.connect_timeout {
                    http = http.connect_timeout(timeout);
                }
                if let Some(timeout) = self.timeout {
                    http = http.timeout(timeout);
                }
                // reqwest's TCP_USER_TIMEOUT (30 s), which on Linux bounds a connection's
                // SYN retries too, would cut a longer wait for the connection (the connect
                // timeout, or the request's where there is none) at 30 s (found by review).
                let wait = self.connect_timeout.or(self.timeout);
                if let Some(wait) = wait.filter(|&wait| wait > REQWEST_TCP_USER_TIMEOUT) {
                    http = http.tcp_user_timeout(wait);
                }
                let http = http
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(user_agent)
                    .build()
                    .map_err(|e| {
                        at(Error::configuration("could not create the HTTP client").with_source(e))
                    })?;
                (http, None, None)
            }
        };
        // A partner's base URL is a prefix the generated paths join; a standard provider's
        // is the token URL itself, sent as parsed.
        let base_url = if provider == Provider::Standard {
            url.as_str().to_owned()
        } else {
            url.as_str().trim_end_matches('/').to_owned()
        };
        let state = client_state(
            auth,
            providers::facts(provider).basic_encoding,
            user_agent,
            request_timeout,
            &credentials,
        )
        .map_err(at)?;
        // What a server that echoes what it got may show: the secret, the token URL's
        // query values, and the `Authorization: Basic` value (base64 of the credentials).
        let basic = state.basic_credentials().map(|c| c.authorization_header());
        let basic = basic
            .as_ref()
            .and_then(|header| header.to_str().ok()?.strip_prefix("Basic "));
        let secret = credentials.client_secret().expose_secret();
        // And the pair as a server may encode it again, without RFC 6749's form encoding.
        let raw_basic = basic.map(|_| {
            use base64::Engine as _;
            let pair = secrecy::SecretString::from(format!("{}:{secret}", credentials.client_id()));
            secrecy::SecretString::from(
                base64::engine::general_purpose::STANDARD.encode(pair.expose_secret()),
            )
        });
        let raw_basic = raw_basic.as_ref().map(|b| b.expose_secret());
        let sensitive = Sensitive::new(
            std::iter::once(secret)
                .chain(query_values(&url).iter().map(|v| v.expose_secret()))
                .chain(basic)
                .chain(raw_basic)
                .chain(
                    [basic, raw_basic]
                        .into_iter()
                        .flatten()
                        .map(|b| b.trim_end_matches('=')),
                ),
        )
        .with_short_word(secret);
        let form = providers::standard::Form {
            scope: self.scope.clone(),
            extra_params: self.extra_params.clone(),
        };
        let generated =
            providers::Generated::new(provider, &base_url, http, state, |url, http, state| {
                providers::standard::Standard::new(url, http, state, auth, form)
            });

        Ok(Client {
            config: Arc::new(Config {
                provider,
                environment,
                base_url,
                credentials,
                generated,
                default_lifetime: self.default_lifetime,
                scope: self.scope,
                extra_params: self.extra_params,
                sensitive,
                request_timeout: self.timeout,
                auth,
            }),
        })
    }
}

/// The form parameters this crate writes itself; [`ClientBuilder::extra_param`] refuses them.
const WRITTEN_PARAMS: [&str; 4] = ["grant_type", "client_id", "client_secret", "scope"];

/// Extra parameters are for a standard provider, and none may be nameless or one this crate
/// writes. A value is not shown: it is the caller's, and may be meant to stay private.
fn check_extra_params(provider: Provider, params: &[(String, String)]) -> Result<(), Error> {
    if provider != Provider::Standard && !params.is_empty() {
        return Err(Error::configuration(format!(
            "{provider} takes no extra parameters; extra_param is for Provider::Standard"
        )));
    }
    for (name, _) in params {
        if name.is_empty() {
            return Err(Error::configuration(
                "an extra parameter needs a name (`audience`, `resource`, …)",
            ));
        }
        // As a server that reads names without case or surrounding space would read it.
        let read_as = name.trim().to_ascii_lowercase();
        if WRITTEN_PARAMS.contains(&read_as.as_str()) {
            let instead = match read_as.as_str() {
                "scope" => "give the scope with .scope(…)",
                "grant_type" => "the grant is always client_credentials",
                _ => "give the credentials with .credentials(…) and .client_auth(…)",
            };
            return Err(Error::configuration(format!(
                "`{name}` is not an extra parameter: the client writes it itself; {instead}"
            )));
        }
    }
    Ok(())
}

/// Extra parameters' names, for `Debug`: their values may be meant to stay private.
struct ParamNames<'a>(&'a [(String, String)]);

impl std::fmt::Debug for ParamNames<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}

/// `base_url` parsed: a partner's base URL takes no query; a standard provider's token
/// URL may have one (an identity provider's policy or tenant), sent with it. Neither takes
/// a fragment, a user name or a password.
fn parse_url(provider: Provider, base_url: &str) -> Result<reqwest::Url, Error> {
    let (without_query, query) = match base_url.split_once('?') {
        Some((url, query)) if provider == Provider::Standard => (url, Some(query)),
        _ => (base_url, None),
    };
    let mut url = partner_api_support::parse_base_url(without_query)
        .map_err(|e| Error::configuration(e.to_string()))?;
    if let Some(query) = query {
        if query.contains('#') {
            return Err(Error::configuration(format!(
                "invalid token URL {:?}: a token URL takes no fragment",
                shown_url(base_url)
            )));
        }
        url.set_query(Some(query));
    }
    Ok(url)
}

/// What a token URL's query may hide a key in, as a server may echo it: each value (pairs
/// split at `&` and `;`) as the URL carries it and decoded (`+` kept, and `+` as a space,
/// as forms decode it), and each name that has no value (`?key`); names of values are not
/// secret.
fn query_values(url: &reqwest::Url) -> Box<[SecretString]> {
    let mut values: Vec<String> = Vec::new();
    // `;` separates pairs too for some servers: splitting on it as well only hides more.
    for pair in url.query().unwrap_or("").split(['&', ';']) {
        let sent = pair.split_once('=').map_or(pair, |(_, value)| value);
        let decoded = |plus_as_space: bool| {
            let sent = if plus_as_space {
                Cow::Borrowed(sent)
            } else {
                Cow::Owned(sent.replace('+', "%2B"))
            };
            url::form_urlencoded::parse(format!("v={sent}").as_bytes())
                .next()
                .map(|(_, value)| value.into_owned())
        };
        for value in [Some(sent.to_owned()), decoded(false), decoded(true)]
            .into_iter()
            .flatten()
        {
            if !value.is_empty() && !values.contains(&value) {
                values.push(value);
            }
        }
    }
    values.into_iter().map(SecretString::from).collect()
}

/// `url` for `Debug` and messages: a user name and password, a query and a fragment, any
/// of which may hold a key, are left out (`?…` says something was); `(not a URL)` if it
/// does not parse.
pub(crate) fn shown_url(url: &str) -> String {
    let Ok(mut url) = reqwest::Url::parse(url) else {
        return "(not a URL)".to_owned();
    };
    // Both fail only for URLs that cannot have a user (no host): nothing to remove.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let hidden =
        url.query().is_some_and(|q| !q.is_empty()) || url.fragment().is_some_and(|f| !f.is_empty());
    url.set_query(None);
    url.set_fragment(None);
    if hidden {
        format!("{url}?…")
    } else {
        url.into()
    }
}

/// `token` if it can be used: not blank, sendable in a header, not expired when it
/// `arrived`.
fn usable_token(
    token: AccessToken,
    issued: Issued,
    arrived: Instant,
) -> Result<AccessToken, Error> {
    let at = |e: Error| e.at(token.provider(), token.environment().to_owned().into());
    let secret = token.expose_secret();
    if secret.trim().is_empty() {
        let what = if secret.is_empty() {
            "the success response has an empty access token"
        } else {
            "the success response has a blank access token"
        };
        return Err(at(Error::new(ErrorKind::InvalidResponse, what)));
    }
    // What `HeaderValue::from_str` accepts (tab, and any byte from space up but DEL),
    // without a copy; every byte looked at, without a branch, so that it vectorizes.
    let sendable = secret.bytes().fold(true, |ok, b| {
        ok & ((b == b'\t') | ((b >= 0x20) & (b != 0x7f)))
    });
    if !sendable {
        return Err(at(Error::new(
            ErrorKind::InvalidResponse,
            "the access token contains characters not allowed in an HTTP header",
        )));
    }
    if token.expires_at_instant() <= arrived {
        let lifetime = token
            .expires_at_instant()
            .saturating_duration_since(issued.instant);
        let took = arrived.saturating_duration_since(issued.instant);
        return Err(at(Error::new(
            ErrorKind::InvalidResponse,
            format!(
                "the token was expired on arrival: its lifetime of {} s (by `expires_in` or \
                 the JWT's own claims) was over when the response arrived {} ms after the \
                 request",
                lifetime.as_secs_f64(),
                took.as_millis()
            ),
        )
        .with_hint(ARRIVED_EXPIRED_HINT)));
    }
    Ok(token)
}

/// What to do about a token whose lifetime was over on arrival.
pub(crate) const ARRIVED_EXPIRED_HINT: &str = "the provider issued a lifetime its answer outlasted (a JWT's `exp` at or before its \
     `iat`, or a `Date` header after it): ask the provider about the lifetime it issues, \
     or look at what slows its answers";

/// RFC 6749 §3.3: `scope-token *( SP scope-token )`, each token one or more of
/// `%x21 / %x23-5B / %x5D-7E` (printable ASCII but `"` and `\`), single spaces between.
fn is_rfc6749_scope(scope: &str) -> bool {
    scope.split(' ').all(|token| {
        !token.is_empty()
            && token
                .bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\')
    })
}
