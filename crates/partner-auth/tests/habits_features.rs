//! What an application that trims the features compiles: `default-features = false` with
//! one partner builds none of what the features it left off bring (here: Tokio's
//! multi-thread runtime, which only `blocking` needs, and its macros, which none of this
//! crate's own code uses). Read from `cargo tree` on this workspace's lock file, offline:
//! the builds asked about (one partner, no TLS) need no crate that the default build of
//! these tests has not already downloaded.

use std::process::Command;

/// Tokio's features in a build of partner-auth alone with `features`, default ones off
/// (normal dependencies only: what an application depending on it compiles).
fn tokio_features(features: &str) -> Vec<String> {
    let output = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "tree",
            "--offline",
            "--locked",
            "-p",
            "partner-auth",
            "--no-default-features",
            "--features",
            features,
            "--edges",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p} [{f}]",
        ])
        .output()
        .expect("cargo tree runs");
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = tree
        .lines()
        .find(|line| line.starts_with("tokio v"))
        .unwrap_or_else(|| panic!("no tokio in {tree}"));
    let features = &line[line.find('[').unwrap() + 1..line.rfind(']').unwrap()];
    features.split(',').map(str::to_owned).collect()
}

#[test]
fn one_partner_without_blocking_compiles_neither_tokios_multi_thread_runtime_nor_its_macros() {
    let trimmed = tokio_features("dinie");
    for unwanted in ["rt-multi-thread", "macros"] {
        assert!(
            !trimmed.iter().any(|f| f == unwanted),
            "tokio feature {unwanted} without `blocking`: {trimmed:?}"
        );
    }
    let blocking = tokio_features("dinie,blocking");
    assert!(
        blocking.iter().any(|f| f == "rt-multi-thread"),
        "{blocking:?}"
    );
}
