//! A token source runs under valgrind: the fast clock finds the vDSO through the C
//! library's view of the auxiliary vector, which valgrind rewrites (read from the kernel,
//! it named a vDSO valgrind does not map, and the first `token()` died of SIGSEGV).
//!
//! The test runs this binary's `#[ignore]`d child test under `valgrind --tool=none`. Where
//! valgrind is not installed it prints one loud line and passes, except with `CI` set.

#[path = "common/sandbox.rs"]
mod sandbox_client;

use std::io::Write as _;
use std::process::Command;

use partner_auth::{Provider, TokenSource};
use partner_sandbox::Sandbox;
use sandbox_client::SandboxExt as _;

#[test]
fn a_token_source_runs_under_valgrind() {
    let installed = Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        let line = "valgrind is not installed: the valgrind test did NOT run \
                    (`apt-get install -y valgrind` to run it).";
        assert!(std::env::var_os("CI").is_none(), "{line} CI must run it.");
        // Straight to stderr: the harness captures `eprintln!` of a passing test.
        let _ = writeln!(std::io::stderr(), "\n!!! SKIPPED: {line}\n");
        return;
    }
    let output = Command::new("valgrind")
        .args(["--tool=none", "--quiet"])
        .arg(std::env::current_exe().expect("this test binary"))
        .args([
            "--exact",
            "child_fetches_a_token",
            "--ignored",
            "--nocapture",
        ])
        .output()
        .expect("valgrind runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "under valgrind: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Run by the test above under valgrind: a cold `token()` and a cached one, on the
/// source's own fast clock.
#[tokio::test]
#[ignore = "run under valgrind by a_token_source_runs_under_valgrind"]
async fn child_fetches_a_token() {
    let sandbox = Sandbox::start().await.unwrap();
    let source = TokenSource::new(sandbox.client_builder(Provider::Dinie).build().unwrap());
    let first = source.token().await.unwrap();
    assert!(first.same_as(&source.token().await.unwrap()));
    assert_eq!(sandbox.stats(Provider::Dinie).token_requests, 1);
}
