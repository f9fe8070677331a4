//! 10,000 concurrent cold callers against a loopback token server (the sandbox): the
//! token requests they make (must be 1) and their wall time beside one single fetch, and
//! beside the harness alone (10,000 spawned tasks that do nothing).
//!
//! The three run interleaved (`support/rounds.rs`): one of each per round in a shuffled
//! order, so that the shared machine's changing load falls on all of them alike (run one
//! after another, as criterion runs its functions, the ratio read between 1.27× and 2.72×
//! with no change to the code). It prints the medians and writes them to `stampede.json`
//! for `cargo xtask bench`.
//!
//! `cargo bench -p partner-auth --bench stampede`

#[path = "support/rounds.rs"]
mod rounds;
#[path = "../tests/common/sandbox.rs"]
mod sandbox_client;

use std::time::Instant;

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
    let measure = |way: usize| async move {
        match way {
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
    let measured = rounds::medians("stampede", &NAMES, WARM_UP, ROUNDS, measure);
    let Some(medians) = runtime.block_on(measured) else {
        return;
    };
    for (name, median) in NAMES.iter().zip(&medians) {
        println!(
            "stampede/{name}: median {:.1} µs over {ROUNDS} interleaved rounds",
            median / 1e3
        );
    }
    println!(
        "stampede: 10,000 cold callers / (10,000 no-op tasks + one fetch) = {:.2}x; token \
         requests per 10,000 cold callers = 1 (asserted every round)",
        medians[2] / (medians[1] + medians[0])
    );
    rounds::write_medians("stampede.json", &NAMES, &medians);
}
