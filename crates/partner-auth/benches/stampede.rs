//! 10,000 concurrent cold callers against a loopback token server (the sandbox): the
//! token requests they make (must be 1) and their wall time beside one single fetch, and
//! beside the harness alone (10,000 spawned tasks that do nothing).
//!
//! The three run interleaved, one of each per round in a rotating order, so that the
//! shared machine's changing load falls on all of them alike (run one after another, as
//! criterion runs its functions, the ratio moved between 1.27× and 2.72× with no change
//! to the code). It prints the medians and writes them to
//! `<target>/criterion/stampede.json` for `cargo xtask bench`.
//!
//! `cargo bench -p partner-auth --bench stampede`

#[path = "../tests/common/sandbox.rs"]
mod sandbox_client;

use std::time::{Duration, Instant};

use partner_auth::{Provider, TokenSource};
use partner_sandbox::Sandbox;
use sandbox_client::SandboxExt as _;

const CALLERS: usize = 10_000;
/// Rounds timed, after the warm-up rounds.
const ROUNDS: usize = 500;
const WARM_UP: usize = 30;

const NAMES: [&str; 3] = ["single_fetch", "10000_noop_tasks", "10000_cold_callers"];

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let sandbox = runtime.block_on(Sandbox::start()).expect("sandbox");
    let client = sandbox
        .client_builder(Provider::Dinie)
        .build()
        .expect("client");
    let (client, sandbox) = (&client, &sandbox);
    let measure = |which: usize| async move {
        match which {
            // One plain fetch.
            0 => {
                let start = Instant::now();
                client.fetch_token().await.expect("token");
                start.elapsed()
            }
            // The harness alone: spawning and joining 10,000 tasks that do nothing.
            1 => {
                let start = Instant::now();
                let tasks: Vec<_> = (0..CALLERS).map(|_| tokio::spawn(async {})).collect();
                for task in tasks {
                    task.await.expect("task");
                }
                start.elapsed()
            }
            // 10,000 callers of one cold source: one token request between them.
            _ => {
                let source = TokenSource::new(client.clone());
                let before = sandbox.stats(Provider::Dinie).token_requests;
                let start = Instant::now();
                let callers: Vec<_> = (0..CALLERS)
                    .map(|_| {
                        let source = source.clone();
                        tokio::spawn(async move { source.token().await })
                    })
                    .collect();
                for caller in callers {
                    caller.await.expect("task").expect("token");
                }
                let elapsed = start.elapsed();
                let requests = sandbox.stats(Provider::Dinie).token_requests - before;
                assert_eq!(requests, 1, "10,000 cold callers made {requests} requests");
                elapsed
            }
        }
    };
    let mut times: [Vec<Duration>; 3] = Default::default();
    runtime.block_on(async {
        for round in 0..WARM_UP + ROUNDS {
            for step in 0..NAMES.len() {
                let which = (round + step) % NAMES.len();
                let elapsed = measure(which).await;
                if round >= WARM_UP {
                    times[which].push(elapsed);
                }
            }
        }
    });
    let medians: Vec<f64> = times
        .iter_mut()
        .map(|t| {
            t.sort();
            t[t.len() / 2].as_nanos() as f64
        })
        .collect();
    let mut figures = serde_json::Map::new();
    for (name, median) in NAMES.iter().zip(&medians) {
        println!(
            "stampede/{name}: median {:.1} µs over {ROUNDS} interleaved rounds",
            median / 1e3
        );
        figures.insert(format!("{name}_ns"), (*median).into());
    }
    println!(
        "stampede: 10,000 cold callers / (10,000 no-op tasks + one fetch) = {:.2}x; token \
         requests per 10,000 cold callers = 1 (asserted every round)",
        medians[2] / (medians[1] + medians[0])
    );
    let dir = criterion_dir();
    let path = dir.join("stampede.json");
    if let Err(e) = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, serde_json::Value::Object(figures).to_string()))
    {
        eprintln!("could not write {}: {e}", path.display());
    }
}

/// `<target>/criterion`: this bench runs as `<target>/<profile>/deps/stampede-…`.
fn criterion_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            Some(exe.ancestors().nth(3)?.to_path_buf())
        })
        .unwrap_or_else(|| "target".into())
        .join("criterion")
}
