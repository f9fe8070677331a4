//! The facade pointed at the sandbox. The sandbox knows providers only by name and
//! nothing of partner-auth (so it can check the facade); this is the bridge, for tests and
//! benches (`#[path]`-included where `common` is not).

#![allow(dead_code)]

use partner_auth::{Client, ClientBuilder, Credentials, Provider};
use partner_sandbox::{Endpoint, Sandbox};

/// `sandbox.client_builder(provider)`.
pub trait SandboxExt {
    /// A client builder for `provider` pointed at this sandbox with its demo credentials.
    fn client_builder(&self, provider: Provider) -> ClientBuilder;
}

impl SandboxExt for Sandbox {
    fn client_builder(&self, provider: Provider) -> ClientBuilder {
        let endpoint = self.endpoint(provider);
        Client::builder(provider)
            .base_url(&endpoint.base_url)
            .credentials(endpoint.credentials())
    }
}

/// `endpoint.credentials()`.
pub trait EndpointExt {
    /// The endpoint's demo credentials.
    fn credentials(&self) -> Credentials;
}

impl EndpointExt for Endpoint {
    fn credentials(&self) -> Credentials {
        Credentials::new(self.client_id, self.client_secret)
    }
}
