//! An emulation of the five partner token endpoints, and of a standard RFC 6749 one, on
//! loopback, in process.
//!
//! [`Sandbox::start`] binds one free loopback port per provider and answers the way that
//! provider's spec and notes say it does: the same path, content type, body fields and
//! encoding, Basic header where required and refused where not, Teez's secret rules,
//! `grant_type`; errors in each provider's own format and status; 429 with its rate-limit
//! headers above a configurable rate (Alternative Payments: 5 per second by default). It
//! issues fresh random tokens with each provider's documented lifetime (configurable, so
//! tests can use seconds): JWT-shaped with a correct `exp` for Cobee, `dinie_at_` JWTs for
//! Dinie. It counts requests per provider, so a test or demo shows how many token requests
//! were really made.
//!
//! Each provider also serves `GET {base_url}/sandbox/protected`, which accepts only an
//! unexpired `Bearer` token that provider issued: a stand-in for the provider's API.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use partner_auth::Provider;
//! use partner_sandbox::Sandbox;
//!
//! let sandbox = Sandbox::start().await?;
//! let client = sandbox.client_builder(Provider::Dinie).build()?;
//! let token = client.fetch_token().await?;
//! assert!(token.expose_secret().starts_with("dinie_at_"));
//! assert_eq!(sandbox.stats(Provider::Dinie).tokens_issued, 1);
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
mod tokens;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use partner_auth::{Client, ClientBuilder, Credentials, Provider};

pub use limits::Faults;
pub use server::ProviderStats;

/// Where one emulated provider listens, and its demo credentials.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The provider.
    pub provider: Provider,
    /// Base URL to give [`ClientBuilder::base_url`] (`http://127.0.0.1:<port>[/api/v3]`).
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
    /// port).
    pub fn protected_url(&self) -> String {
        self.protected_url.clone()
    }

    /// The demo credentials.
    pub fn credentials(&self) -> Credentials {
        Credentials::new(self.client_id, self.client_secret)
    }
}

/// The running emulation; stops when dropped.
pub struct Sandbox {
    endpoints: Vec<Endpoint>,
    shared: Arc<server::Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Sandbox {
    /// Starts all five providers with their documented lifetimes and Alternative Payments'
    /// 5 requests per second.
    pub async fn start() -> std::io::Result<Self> {
        Self::builder().start().await
    }

    /// Configures a sandbox.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder {
            lifetime: None,
            base_port: None,
            rate_limits: HashMap::from([(Provider::AlternativePayments, 5)]),
            faults: Faults::default(),
        }
    }

    /// The endpoint of `provider` ([`Provider::Standard`] included).
    ///
    /// # Panics
    ///
    /// Never for a provider of [`Provider::ALL`] or `Standard`:
    /// [`start`](SandboxBuilder::start) fails unless it serves every one.
    pub fn endpoint(&self, provider: Provider) -> &Endpoint {
        self.endpoints
            .iter()
            .find(|e| e.provider == provider)
            .unwrap_or_else(|| panic!("the sandbox serves no endpoint for {provider}"))
    }

    /// Every partner's endpoint, in [`Provider::ALL`] order (the standard one is
    /// [`standard_endpoint`](Self::standard_endpoint)).
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints[..Provider::ALL.len()]
    }

    /// The standard RFC 6749 endpoint ([`Provider::Standard`]): its `base_url` is the
    /// token endpoint's URL; it takes the client by HTTP Basic or in the body.
    pub fn standard_endpoint(&self) -> &Endpoint {
        self.endpoint(Provider::Standard)
    }

    /// A client builder for `provider` pointed at this sandbox with its demo credentials.
    pub fn client_builder(&self, provider: Provider) -> ClientBuilder {
        let endpoint = self.endpoint(provider);
        Client::builder(provider)
            .base_url(&endpoint.base_url)
            .credentials(endpoint.credentials())
    }

    /// What `provider`'s endpoint has seen so far.
    pub fn stats(&self, provider: Provider) -> ProviderStats {
        self.shared.stats(provider)
    }

    /// Stops listening.
    pub fn shutdown(self) {}
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
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
    rate_limits: HashMap<Provider, u32>,
    faults: Faults,
}

impl SandboxBuilder {
    /// Issues every provider's tokens with this lifetime instead of its documented one.
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime);
        self
    }

    /// Binds fixed ports instead of free ones the system picks: the providers of
    /// [`Provider::ALL`], in order, on `port`, `port + 1`, … `port + 4` (Teez on `port`,
    /// Dinie on `port + 4`), and the standard endpoint on `port + 5`, so scripts can know
    /// the URLs in advance.
    pub fn base_port(mut self, port: u16) -> Self {
        self.base_port = Some(port);
        self
    }

    /// Answers 429 above `per_second` token requests per second to `provider`
    /// (`None`: no limit).
    pub fn rate_limit(mut self, provider: Provider, per_second: Option<u32>) -> Self {
        match per_second {
            Some(limit) => self.rate_limits.insert(provider, limit.max(1)),
            None => self.rate_limits.remove(&provider),
        };
        self
    }

    /// Injects faults into token requests.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Binds the five loopback ports and starts answering. With a
    /// [`base_port`](Self::base_port), an error names the port that could not be bound.
    pub async fn start(self) -> std::io::Result<Sandbox> {
        let mut endpoints = Vec::new();
        let mut listeners = Vec::new();
        let mut states = HashMap::new();
        // The five partners, then the standard endpoint.
        for (offset, provider) in
            (0u16..).zip(Provider::ALL.iter().copied().chain([Provider::Standard]))
        {
            let dialect = providers::dialect(provider).ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::Unsupported,
                    format!(
                        "the sandbox has no emulation of {provider}: add one under \
                         crates/partner-sandbox/src/providers/"
                    ),
                )
            })?;
            let port = match self.base_port {
                None => 0,
                Some(base) => base.checked_add(offset).ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!("base port {base} + {offset} for {provider} is above 65535"),
                    )
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
            let profile = dialect.profile();
            let lifetime = self.lifetime.unwrap_or(profile.lifetime);
            let origin = format!("http://{}{}", listener.local_addr()?, profile.base_path);
            endpoints.push(Endpoint {
                provider,
                base_url: match provider {
                    Provider::Standard => format!("{origin}{}", profile.token_path),
                    _ => origin.clone(),
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
                    lifetime,
                    self.rate_limits.get(&provider).copied(),
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn base_port_binds_five_consecutive_ports_in_provider_order() {
        // A free port from the system as the base; retried, as another process may take
        // one of the next four meanwhile.
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
            let client = sandbox.client_builder(Provider::Dinie).build().unwrap();
            client.fetch_token().await.unwrap();
            return;
        }
        panic!("no five free consecutive loopback ports in 20 tries");
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
