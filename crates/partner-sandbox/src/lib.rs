//! An emulation of the partners' token endpoints, and of a standard RFC 6749 one, on
//! loopback, in process.
//!
//! [`Sandbox::start`] binds one free loopback port per provider and answers the way that
//! provider's spec and notes say it does. Every token request (but one whose body is over
//! 64 KiB, answered 413 once that much is read, unchecked) is first checked against the
//! provider's own OpenAPI document, the one its generated crate was made from (method,
//! content type, body schema with its required fields, types, enums and
//! `additionalProperties`, security requirement), by a JSON Schema validator: a request the
//! spec does not allow is answered with the provider's documented error, counted in
//! [`ProviderStats::spec_violations`] and kept in [`Sandbox::spec_violations`]. The
//! provider's own behaviour comes on top: the Basic header refused where the provider
//! refuses it, Teez's secret rules, `grant_type`, the demo credentials; errors in each
//! provider's format and status; 429 with its rate-limit headers above a configurable rate
//! (Alternative Payments: 5 per second per client id by default). It issues fresh random tokens with
//! each provider's documented lifetime (configurable, so tests can use seconds):
//! JWT-shaped with a correct `exp` for Cobee, `dinie_at_` JWTs for Dinie. It counts
//! requests per provider, so a test or demo shows how many token requests were really
//! made.
//!
//! **Dropping a sandbox that saw a request its spec does not allow panics**, listing the
//! violations, so a test that drops its sandbox cannot forget to assert that every request
//! was valid (unless
//! built with [`SandboxBuilder::allow_spec_violations`], for tests that send bad requests
//! on purpose and for long-running demos).
//!
//! Each provider also serves `GET {base_url}/sandbox/protected`, which accepts only an
//! unexpired `Bearer` token that provider issued (the scheme in any case): a stand-in for
//! the provider's API.
//!
//! Whether a token has expired, and a rate limit's one-second window, are measured on
//! Tokio's clock: in a test on paused time (`#[tokio::test(start_paused = true)]`,
//! `tokio::time::advance`) they move with it. The times a token states (`expires_in`, a
//! JWT's `iat` and `exp`) are the system's wall-clock time.
//!
//! The sandbox knows providers by name (`"teez"`, `"alternative-payments"`, `"cobee"`,
//! `"tradevest"`, `"dinie"`, `"standard"`: `partner_auth::Provider`'s names) and nothing of
//! `partner-auth`: it is built on the specs, so it can check the facade.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use partner_sandbox::Sandbox;
//!
//! let sandbox = Sandbox::start().await?;
//! let dinie = sandbox.endpoint("dinie");
//! // On loopback: no proxy from the environment.
//! let http = reqwest::Client::builder().no_proxy().build()?;
//! let response = http
//!     .post(format!("{}/auth/token", dinie.base_url))
//!     .basic_auth(dinie.client_id, Some(dinie.client_secret))
//!     .form(&[("grant_type", "client_credentials")])
//!     .send()
//!     .await?;
//! assert_eq!(response.status(), 200);
//! assert_eq!(sandbox.stats("dinie").tokens_issued, 1);
//! assert!(sandbox.spec_violations().is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! Traffic never leaves the machine: every port is bound on `127.0.0.1`.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod limits;
mod providers;
mod reply;
mod request;
mod server;
mod spec;
mod tokens;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

pub use limits::Faults;

/// How many token endpoints a sandbox serves, on as many ports: the partners', then the
/// standard RFC 6749 one.
pub const ENDPOINTS: usize = providers::PARTNERS.len() + 1;
pub use server::{ProviderStats, SpecViolation};

/// Where one emulated provider listens, and its demo credentials.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The provider's name (`partner_auth::Provider::name`).
    pub provider: &'static str,
    /// Base URL to give `partner_auth::ClientBuilder::base_url`
    /// (`http://127.0.0.1:<port>[/api/v3]`; for the standard endpoint, the token URL).
    pub base_url: String,
    /// The demo client id.
    pub client_id: &'static str,
    /// The demo client secret (public: it opens nothing but the sandbox).
    pub client_secret: &'static str,
    /// The token lifetime this sandbox issues.
    pub token_lifetime: Duration,
    /// The stand-in protected resource.
    protected_url: String,
}

impl Endpoint {
    /// URL of the stand-in protected resource (`{base_url}/sandbox/protected`; for the
    /// standard endpoint, whose base URL is the token URL, `/sandbox/protected` on its
    /// port): 200 for an unexpired token of this sandbox's sent once as `Bearer`, 401
    /// (`token_expired`, `invalid_token`) for an expired, unknown or missing one, 400
    /// (`invalid_request`) for two `Authorization` headers.
    pub fn protected_url(&self) -> String {
        self.protected_url.clone()
    }
}

/// The running emulation; stops when dropped (see [`shutdown`](Self::shutdown)).
pub struct Sandbox {
    endpoints: Vec<Endpoint>,
    shared: Arc<server::Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    allow_spec_violations: bool,
}

impl Sandbox {
    /// Starts every partner's endpoint and the standard one, with their documented
    /// lifetimes and Alternative Payments' 5 requests per second.
    pub async fn start() -> std::io::Result<Self> {
        Self::builder().start().await
    }

    /// Configures a sandbox.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder {
            lifetime: None,
            base_port: None,
            rate_limits: HashMap::from([("alternative-payments".to_owned(), 5)]),
            named: Vec::new(),
            faults: Faults::default(),
            allow_spec_violations: false,
        }
    }

    /// The endpoint of the provider named `provider` (`"standard"` included).
    ///
    /// # Panics
    ///
    /// If the sandbox serves no provider of that name; the message lists those it serves.
    pub fn endpoint(&self, provider: impl AsRef<str>) -> &Endpoint {
        let name = provider.as_ref();
        self.endpoints
            .iter()
            .find(|e| e.provider == name)
            .unwrap_or_else(|| panic!("{}", self.unknown(name)))
    }

    /// Every partner's endpoint, in `partner_auth::Provider::ALL` order (the standard one
    /// is [`standard_endpoint`](Self::standard_endpoint)).
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints[..providers::PARTNERS.len()]
    }

    /// The standard RFC 6749 endpoint (`partner_auth::Provider::Standard`): its `base_url`
    /// is the token endpoint's URL; it takes the client by HTTP Basic or in the body.
    pub fn standard_endpoint(&self) -> &Endpoint {
        self.endpoint(providers::STANDARD.profile().name)
    }

    /// What the endpoint of the provider named `provider` has seen so far.
    ///
    /// # Panics
    ///
    /// If the sandbox serves no provider of that name, as [`endpoint`](Self::endpoint).
    pub fn stats(&self, provider: impl AsRef<str>) -> ProviderStats {
        let name = provider.as_ref();
        self.shared
            .stats(name)
            .unwrap_or_else(|| panic!("{}", self.unknown(name)))
    }

    /// The token requests so far that their provider's spec does not allow, with what each
    /// broke (the first 1,000; [`ProviderStats::spec_violations`] counts them all).
    pub fn spec_violations(&self) -> Vec<SpecViolation> {
        self.shared.violations()
    }

    fn unknown(&self, name: &str) -> String {
        let served: Vec<&str> = self.endpoints.iter().map(|e| e.provider).collect();
        format!(
            "the sandbox serves no provider named `{name}`; it serves {}",
            served.join(", ")
        )
    }

    /// Stops serving and waits for it: when this returns, every port is closed (free to
    /// bind again) and every connection ended, a stalled request unanswered. Dropping the
    /// sandbox stops it too, without waiting: from the drop on, no request is answered,
    /// and the ports close as soon as the runtime runs again (found by review: open
    /// connections went on answering after the drop, and the ports stayed bound after
    /// this returned). Then, as a drop does, it panics if it saw a request its
    /// provider's spec does not allow.
    pub async fn shutdown(mut self) {
        self.shared.stop();
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shared.stop();
        for task in &self.tasks {
            task.abort();
        }
        if self.allow_spec_violations || std::thread::panicking() {
            return;
        }
        let violations = self.spec_violations();
        if !violations.is_empty() {
            let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
            panic!(
                "the sandbox answered {} token request(s) their provider's spec does not \
                 allow (build it with `allow_spec_violations()` if that was the point):\n  {}",
                violations.len(),
                list.join("\n  ")
            );
        }
    }
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Sandbox`]; from [`Sandbox::builder`].
#[must_use]
#[derive(Debug, Clone)]
pub struct SandboxBuilder {
    lifetime: Option<Duration>,
    base_port: Option<u16>,
    rate_limits: HashMap<String, u32>,
    /// Every name given to `rate_limit`, checked by `start`.
    named: Vec<String>,
    faults: Faults,
    allow_spec_violations: bool,
}

/// The longest [`SandboxBuilder::token_lifetime`]: a year of 365 days, as
/// `partner_auth::MAX_LIFETIME`.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(365 * 24 * 60 * 60);

impl SandboxBuilder {
    /// Issues every provider's tokens with this lifetime instead of its documented one: at
    /// least a second, as providers report lifetimes in whole seconds, and at most a year
    /// (365 days, the most `partner-auth` keeps a token for); another is an `InvalidInput`
    /// error from [`start`](Self::start). A fraction is reported rounded down.
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime);
        self
    }

    /// Binds fixed ports instead of free ones the system picks: the partners, in
    /// `partner_auth::Provider::ALL` order, on `port`, `port + 1`, … (Teez on `port`, Dinie
    /// on `port + 4`, a partner added later after them), and the standard endpoint on the
    /// last, `port + ENDPOINTS - 1` ([`ENDPOINTS`]), so scripts can know the URLs in
    /// advance.
    pub fn base_port(mut self, port: u16) -> Self {
        self.base_port = Some(port);
        self
    }

    /// Answers 429 above `per_second` token requests per second (Alternative Payments:
    /// per client id, as it limits each key) to the provider named
    /// `provider` (`None`: no limit; `Some(0)`: every token request; found by review, 0
    /// was taken as 1). [`start`](Self::start) fails on a name it does not serve.
    pub fn rate_limit(mut self, provider: impl AsRef<str>, per_second: Option<u32>) -> Self {
        let name = provider.as_ref().to_owned();
        self.named.push(name.clone());
        match per_second {
            Some(limit) => self.rate_limits.insert(name, limit),
            None => self.rate_limits.remove(&name),
        };
        self
    }

    /// Lets the sandbox be dropped after answering requests their provider's spec does not
    /// allow (they are still answered with the provider's error and counted). Without it,
    /// dropping such a sandbox panics with the list.
    pub fn allow_spec_violations(mut self) -> Self {
        self.allow_spec_violations = true;
        self
    }

    /// Injects faults into token requests. Each probability is a number from 0 to 1, and
    /// together they are at most 1; others are an `InvalidInput` error from
    /// [`start`](Self::start).
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Binds the [`ENDPOINTS`] loopback ports and starts answering. With a
    /// [`base_port`](Self::base_port), an error names the port that could not be bound.
    pub async fn start(self) -> std::io::Result<Sandbox> {
        let invalid =
            |message: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, message);
        let dialects: Vec<&'static dyn providers::Dialect> = providers::PARTNERS
            .iter()
            .copied()
            .chain([providers::STANDARD])
            .collect();
        if let Some(lifetime) = self.lifetime.filter(|l| *l < Duration::from_secs(1)) {
            return Err(invalid(format!(
                "token_lifetime: {lifetime:?} is under a second; providers report lifetimes \
                 in whole seconds, so it would read as 0 (no lifetime)"
            )));
        }
        if let Some(lifetime) = self.lifetime.filter(|l| *l > MAX_TOKEN_LIFETIME) {
            return Err(invalid(format!(
                "token_lifetime: {lifetime:?} is over a year, the most a token is kept for"
            )));
        }
        self.faults.check().map_err(invalid)?;
        if let Some(name) = self
            .named
            .iter()
            .find(|name| !dialects.iter().any(|d| d.profile().name == name.as_str()))
        {
            return Err(invalid(format!(
                "rate_limit: the sandbox serves no provider named `{name}`"
            )));
        }
        let mut endpoints = Vec::new();
        let mut listeners = Vec::new();
        let mut states = HashMap::new();
        // The partners, then the standard endpoint.
        for (offset, dialect) in (0u16..).zip(dialects) {
            let profile = dialect.profile();
            let provider = profile.name;
            let check =
                spec::OperationCheck::new(dialect.spec(), profile.base_path, profile.token_path)
                    .map_err(|e| {
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!("the emulation of {provider} does not fit its spec: {e}"),
                        )
                    })?;
            let port = match self.base_port {
                None => 0,
                Some(base) => base.checked_add(offset).ok_or_else(|| {
                    invalid(format!(
                        "base port {base} + {offset} for {provider} is above 65535"
                    ))
                })?,
            };
            let listener =
                tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
                    .await
                    .map_err(|e| match port {
                        0 => e,
                        port => std::io::Error::new(
                            e.kind(),
                            format!("could not bind 127.0.0.1:{port} for {provider}: {e}"),
                        ),
                    })?;
            let lifetime = self.lifetime.unwrap_or(profile.lifetime);
            let origin = format!("http://{}{}", listener.local_addr()?, profile.base_path);
            let standard = provider == providers::STANDARD.profile().name;
            endpoints.push(Endpoint {
                provider,
                base_url: if standard {
                    format!("{origin}{}", profile.token_path)
                } else {
                    origin.clone()
                },
                protected_url: format!("{origin}/sandbox/protected"),
                client_id: profile.client_id,
                client_secret: profile.client_secret,
                token_lifetime: lifetime,
            });
            states.insert(
                provider,
                server::ProviderState::new(
                    dialect,
                    check,
                    lifetime,
                    self.rate_limits.get(provider).copied(),
                ),
            );
            listeners.push((provider, listener));
        }
        let shared = Arc::new(server::Shared::new(states, self.faults));
        let tasks = listeners
            .into_iter()
            .map(|(provider, listener)| {
                tokio::spawn(server::serve(listener, provider, Arc::clone(&shared)))
            })
            .collect();
        Ok(Sandbox {
            endpoints,
            shared,
            tasks,
            allow_spec_violations: self.allow_spec_violations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn base_port_binds_consecutive_ports_in_provider_order() {
        // A free port from the system as the base; retried, as another process may take
        // one of the ports after it meanwhile.
        for _ in 0..20 {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let base = probe.local_addr().unwrap().port();
            drop(probe);
            let Ok(sandbox) = Sandbox::builder().base_port(base).start().await else {
                continue;
            };
            for (offset, endpoint) in (0u16..).zip(sandbox.endpoints()) {
                let prefix = format!("http://127.0.0.1:{}", base + offset);
                assert!(endpoint.base_url.starts_with(&prefix), "{endpoint:?}");
            }
            assert_eq!(sandbox.endpoints().len() + 1, ENDPOINTS);
            let last = format!("http://127.0.0.1:{}/", base + ENDPOINTS as u16 - 1);
            let standard = sandbox.standard_endpoint();
            assert!(standard.base_url.starts_with(&last), "{standard:?}");
            let response = dinie_token_request(&sandbox).await;
            assert_eq!(response.status(), 200);
            return;
        }
        panic!("no {ENDPOINTS} free consecutive loopback ports in 20 tries");
    }

    /// Dinie's token request, as its spec writes it.
    async fn dinie_token_request(sandbox: &Sandbox) -> reqwest::Response {
        let dinie = sandbox.endpoint("dinie");
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .post(format!("{}/auth/token", dinie.base_url))
            .basic_auth(dinie.client_id, Some(dinie.client_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
    }

    /// Found by review: a lifetime under a second was reported as `expires_in: 0` (no
    /// lifetime: a client cached the token for its default) and, in a JWT, as `exp == iat`
    /// (expired on arrival); one too long to add to an instant panicked the server on its
    /// first request. Both are refused; a second is the least.
    #[tokio::test]
    async fn a_token_lifetime_under_a_second_or_over_a_year_is_refused() {
        for out_of_range in [
            Duration::ZERO,
            Duration::from_millis(999),
            Duration::from_secs(365 * 24 * 60 * 60 + 1),
            Duration::MAX,
        ] {
            let err = Sandbox::builder()
                .token_lifetime(out_of_range)
                .start()
                .await
                .map(|_| ())
                .unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
            assert!(err.to_string().contains("token_lifetime: "), "{err}");
        }
        let sandbox = Sandbox::builder()
            .token_lifetime(Duration::from_secs(1))
            .start()
            .await
            .unwrap();
        let body: serde_json::Value = dinie_token_request(&sandbox).await.json().await.unwrap();
        assert_eq!(body["expires_in"], 1, "{body}");
    }

    #[tokio::test]
    async fn a_port_that_cannot_be_bound_is_named() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = Sandbox::builder()
            .base_port(port)
            .start()
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("could not bind 127.0.0.1:{port} for teez")),
            "{err}"
        );
        // 65533 + 3 overflows at tradevest (ports above the ephemeral range: free).
        let err = Sandbox::builder()
            .base_port(65533)
            .start()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
        assert!(err.to_string().contains("above 65535"), "{err}");
    }
}
