//! `cargo xtask build-cost`: what depending on `partner-auth` costs an application, as
//! clean release builds (each in an empty target directory, one after another, so they
//! see the same machine) and the number of crates each compiles: `partner-auth` with its
//! default features and trimmed to one partner, beside the `oauth2` crate with reqwest and
//! rustls and a minimal reqwest + tokio + serde_json crate. Rewrites its own section of
//! `BENCHMARKS.md`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::bench::{BenchError, cargo, machine, replace_section};

/// Where this command's part of `BENCHMARKS.md` starts and ends.
const BEGIN: &str = "<!-- build-cost:begin (written by `cargo xtask build-cost`; edit outside) -->";
const END: &str = "<!-- build-cost:end -->";

/// One clean build's cost.
struct Build {
    what: &'static str,
    time: Duration,
    crates: usize,
}

/// Runs the four clean builds, rewrites the section and returns it.
pub fn run(root: &Path) -> Result<String, BenchError> {
    let scratch =
        std::env::temp_dir().join(format!("partner-auth-build-cost-{}", std::process::id()));
    let result = builds(root, &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    let table = render(&result?);
    replace_section(root, BEGIN, END, &table)?;
    Ok(table)
}

fn builds(root: &Path, scratch: &Path) -> Result<Vec<Build>, BenchError> {
    let oauth2 = scratch_crate(
        scratch,
        "oauth2-reqwest",
        "oauth2 = { version = \"5\", default-features = false, features = [\"reqwest\", \"rustls-tls\"] }\n\
         tokio = { version = \"1\", features = [\"rt-multi-thread\", \"macros\"] }\n",
        "fn main() {\n    let client = oauth2::basic::BasicClient::new(oauth2::ClientId::new(\"id\".into()));\n    \
         let _ = client.set_client_secret(oauth2::ClientSecret::new(\"secret\".into()));\n    \
         let _ = oauth2::reqwest::Client::new();\n}\n",
    )?;
    let minimal = scratch_crate(
        scratch,
        "minimal",
        "reqwest = { version = \"0.13\", default-features = false, features = [\"rustls\", \"json\", \"form\"] }\n\
         tokio = { version = \"1\", features = [\"rt-multi-thread\", \"macros\"] }\n\
         serde_json = \"1\"\n",
        "#[tokio::main]\nasync fn main() {\n    let client = reqwest::Client::new();\n    \
         let _ = client.post(\"http://127.0.0.1:9/token\").form(&[(\"grant_type\", \"client_credentials\")]);\n    \
         println!(\"{}\", serde_json::json!({\"ok\": true}));\n}\n",
    )?;
    let partner_auth = |features: &[&str]| {
        let mut command = Command::new(cargo());
        command
            .current_dir(root)
            .args(["build", "--release", "--locked", "-p", "partner-auth"])
            .args(features);
        command
    };
    Ok(vec![
        Build::measure(
            "`partner-auth`, default features (five partners, rustls on aws-lc-rs)",
            partner_auth(&[]),
            &scratch.join("target-default"),
        )?,
        Build::measure(
            "`partner-auth`, one partner: `--no-default-features --features dinie,rustls-ring`",
            partner_auth(&["--no-default-features", "--features", "dinie,rustls-ring"]),
            &scratch.join("target-one"),
        )?,
        Build::measure(
            "the `oauth2` crate 5 with `reqwest` and `rustls-tls` (+ tokio)",
            in_dir(&oauth2),
            &scratch.join("target-oauth2"),
        )?,
        Build::measure(
            "floor: reqwest (rustls) + tokio + serde_json",
            in_dir(&minimal),
            &scratch.join("target-minimal"),
        )?,
    ])
}

impl Build {
    /// Runs `command` (a `cargo build`) into the empty `target`, timing it and counting
    /// the crates it compiles.
    fn measure(
        what: &'static str,
        mut command: Command,
        target: &Path,
    ) -> Result<Self, BenchError> {
        command
            .arg("--target-dir")
            .arg(target)
            .stdout(Stdio::null());
        let shown = format!("{command:?}");
        let started = Instant::now();
        let out = command.output().map_err(|e| BenchError::Command {
            command: shown.clone(),
            detail: e.to_string(),
        })?;
        let time = started.elapsed();
        let log = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(BenchError::Command {
                command: shown,
                detail: format!("{}: {}", out.status, log.lines().last().unwrap_or("")),
            });
        }
        Ok(Build {
            what,
            time,
            crates: compiled_crates(&log),
        })
    }
}

/// How many crates a clean `cargo build` compiled, from its `Compiling name version` lines.
pub fn compiled_crates(log: &str) -> usize {
    let mut seen: Vec<&str> = log
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("Compiling "))
        .map(|rest| rest.split(" (").next().unwrap_or(rest))
        .collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len()
}

fn in_dir(dir: &Path) -> Command {
    let mut command = Command::new(cargo());
    command.current_dir(dir).args(["build", "--release"]);
    command
}

/// A binary crate in `scratch/name` with these dependency lines and `main.rs`, its own
/// workspace.
fn scratch_crate(
    scratch: &Path,
    name: &str,
    dependencies: &str,
    main: &str,
) -> Result<std::path::PathBuf, BenchError> {
    let dir = scratch.join(name);
    let io = |what: String, e| BenchError::Io(what, e);
    std::fs::create_dir_all(dir.join("src")).map_err(|e| io(dir.display().to_string(), e))?;
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [dependencies]\n{dependencies}\n[workspace]\n"
        ),
    )
    .map_err(|e| io(format!("{name}/Cargo.toml"), e))?;
    std::fs::write(dir.join("src/main.rs"), main).map_err(|e| io(format!("{name}/main.rs"), e))?;
    Ok(dir)
}

fn render(builds: &[Build]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", machine());
    let _ = writeln!(
        out,
        "| clean release build | time | crates compiled | time ÷ floor |\n| --- | ---: | ---: | ---: |"
    );
    let floor = builds.last().map_or(f64::NAN, |b| b.time.as_secs_f64());
    for build in builds {
        let _ = writeln!(
            out,
            "| {} | {:.0} s | {} | {:.2}× |",
            build.what,
            build.time.as_secs_f64(),
            build.crates,
            build.time.as_secs_f64() / floor
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crates_are_counted_once_from_compiling_lines() {
        let log = "   Compiling proc-macro2 v1.0.95\n   Compiling libc v0.2.174\n\
                   warning: something\n   Compiling libc v0.2.174\n\
                   Compiling partner-auth v0.1.0 (/work/crates/partner-auth)\n\
                   Finished `release` profile [optimized] target(s) in 1m 02s\n";
        assert_eq!(compiled_crates(log), 3);
        assert_eq!(compiled_crates(""), 0);
    }
}
