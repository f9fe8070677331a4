//! The `fleet-member` process (`bin/fleet_member.rs`) as tests and benches start it.

use std::process::{Command, Stdio};

use partner_sandbox::Endpoint;

/// A `fleet-member` command (`binary`: `env!("CARGO_BIN_EXE_fleet-member")` of the test or
/// bench) for `endpoint`'s provider, its token store at `redis` (empty: none), its report
/// piped from stdout. The caller adds the `FLEET_MODE` and the rest of its `FLEET_*`.
pub fn member(binary: &str, endpoint: &Endpoint, redis: &str) -> Command {
    let mut command = Command::new(binary);
    command
        .env("FLEET_PROVIDER", endpoint.provider)
        .env("FLEET_BASE_URL", &endpoint.base_url)
        .env("FLEET_CLIENT_ID", endpoint.client_id)
        .env("FLEET_CLIENT_SECRET", endpoint.client_secret)
        .env("FLEET_REDIS", redis)
        .env("FLEET_PROTECTED", endpoint.protected_url())
        .stdout(Stdio::piped());
    command
}
