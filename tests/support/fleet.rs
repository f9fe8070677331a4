//! The `fleet-member` process (`bin/fleet_member.rs`) as tests and benches start it.

use std::process::{Command, Stdio};

use partner_sandbox::Endpoint;
use secrecy::ExposeSecret as _;

/// A `fleet-member` command (`binary`: `env!("CARGO_BIN_EXE_fleet-member")` of the test or
/// bench) for `endpoint`'s provider, its token store at `redis` (empty: none), its report
/// piped from stdout. The caller adds the `FLEET_MODE` and the rest of its `FLEET_*`.
pub fn member(binary: &str, endpoint: &Endpoint, redis: &str) -> Command {
    let credentials = endpoint.credentials();
    let mut command = Command::new(binary);
    command
        .env("FLEET_PROVIDER", endpoint.provider.name())
        .env("FLEET_BASE_URL", &endpoint.base_url)
        .env("FLEET_CLIENT_ID", credentials.client_id())
        .env(
            "FLEET_CLIENT_SECRET",
            credentials.client_secret().expose_secret(),
        )
        .env("FLEET_REDIS", redis)
        .env("FLEET_PROTECTED", endpoint.protected_url())
        .stdout(Stdio::piped());
    command
}
