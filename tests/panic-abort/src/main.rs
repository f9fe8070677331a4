//! The `blocking` API in a build with `panic = "abort"`, where no panic can be caught: a
//! call has to wait from every kind of thread the `blocking` docs name, and gets its token
//! rather than ending the process. CI runs it as
//!
//! ```sh
//! cargo run -p panic-abort-check --profile panic-abort
//! ```
//!
//! (the profile is the workspace's; a `cargo test`, whose harness needs unwinding, cannot
//! check this). On 708c7a3 the call in a `LocalSet`'s task aborted the process (exit 134):
//! Tokio refuses `block_in_place` there with a panic, which that code caught.

use std::cell::RefCell;
use std::process::ExitCode;

use partner_auth::{Client, Credentials, Provider, blocking};

fn main() -> ExitCode {
    if !cfg!(panic = "abort") {
        eprintln!("built with panic = \"unwind\": run it with --profile panic-abort");
        return ExitCode::from(2);
    }
    let server = tokio::runtime::Runtime::new().expect("the sandbox's runtime");
    let sandbox = server
        .block_on(partner_sandbox::Sandbox::start())
        .expect("the sandbox starts");
    let endpoint = sandbox.endpoint(Provider::Tradevest);
    // A new source per case: each call misses its cache and waits for a fetch.
    let source = || {
        let client = Client::builder(Provider::Tradevest)
            .base_url(&endpoint.base_url)
            .credentials(Credentials::new(endpoint.client_id, endpoint.client_secret))
            .build()
            .expect("a client");
        blocking::TokenSource::new(client).expect("a blocking source")
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");

    let mut results = Vec::new();
    results.push(("a plain thread", source().token().map(drop)));
    let s = source();
    let on_worker = runtime.block_on(async move { tokio::spawn(async move { s.token() }).await });
    results.push(("a worker's task", on_worker.expect("the task").map(drop)));
    let s = source();
    let in_blocking = runtime.block_on(runtime.spawn_blocking(move || s.token()));
    results.push(("spawn_blocking", in_blocking.expect("the task").map(drop)));
    let s = source();
    let in_block_on = runtime.block_on(async move { s.token() });
    results.push(("a block_on's future", in_block_on.map(drop)));
    let s = source();
    let local = tokio::task::LocalSet::new();
    let task = local.spawn_local(async move { s.token() });
    let in_local_set = runtime.block_on(local.run_until(task));
    results.push((
        "a LocalSet's task",
        in_local_set.expect("the task").map(drop),
    ));
    results.push((
        "a thread-local's destructor",
        in_a_thread_local_destructor(source()),
    ));

    let mut failed = false;
    for (place, result) in &results {
        match result {
            Ok(()) => println!("ok: a token, called from {place}"),
            Err(e) => {
                failed = true;
                println!("FAILED: called from {place}: {e}");
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Calls `source.token()` from a thread-local's destructor that runs after Tokio's own
/// thread-locals are gone (registered before them, so destroyed after them).
fn in_a_thread_local_destructor(source: blocking::TokenSource) -> Result<(), partner_auth::Error> {
    struct CallOnDrop(
        Option<blocking::TokenSource>,
        std::sync::mpsc::Sender<Result<(), partner_auth::Error>>,
    );
    impl Drop for CallOnDrop {
        fn drop(&mut self) {
            if let Some(source) = self.0.take() {
                let _ = self.1.send(source.token().map(drop));
            }
        }
    }
    thread_local! {
        static HELD: RefCell<Option<CallOnDrop>> = const { RefCell::new(None) };
    }
    let (sent, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        HELD.with(|held| *held.borrow_mut() = Some(CallOnDrop(Some(source), sent)));
        // Tokio's thread-locals, registered after this one's.
        let scratch = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        scratch.block_on(async {});
    })
    .join()
    .expect("the thread");
    received.recv().expect("the destructor ran")
}
