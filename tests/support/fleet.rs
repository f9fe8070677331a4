//! The `fleet-member` process (`bin/fleet_member.rs`) as tests and benches start it.

use std::io::{Read as _, Write as _};
use std::process::{Child, Command, Stdio};

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

/// Makes a [`member`] wait, once its source is built, for [`start_together`] to start it.
pub fn wait_for_go(command: &mut Command) -> &mut Command {
    command.env("FLEET_START", "on-go").stdin(Stdio::piped())
}

/// Waits until every member (each made with [`wait_for_go`]) says it is ready, then starts
/// them all at once: a fleet's cold start without process start-up staggering it.
pub fn start_together(children: &mut [Child]) {
    for child in children.iter_mut() {
        let stdout = child.stdout.as_mut().expect("a member's stdout is piped");
        // Byte by byte: what follows the line stays in the pipe for the report.
        let mut line = Vec::new();
        let mut byte = [0];
        while stdout.read(&mut byte).expect("a member's stdout") == 1 && byte[0] != b'\n' {
            line.push(byte[0]);
        }
        assert_eq!(
            line, b"ready",
            "a member that waits for go says it is ready"
        );
    }
    for child in children.iter_mut() {
        let mut stdin = child.stdin.take().expect("a member's stdin is piped");
        stdin.write_all(b"go\n").expect("the member reads its go");
    }
}
