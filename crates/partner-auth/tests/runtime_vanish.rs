//! A call whose fetch ended without a result because *other* runtimes shut down (a fetch it
//! joined, started by a call on a runtime per job) is not told its own runtime is at fault:
//! that `Configuration` error would make an application give up on a runtime that works.

use std::time::Duration;

use partner_auth::{Client, Credentials, ErrorKind, Provider, TokenSource};

/// A loopback listener that takes connections and never answers: a fetch stays under way.
fn silent_endpoint() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v3", listener.local_addr().unwrap());
    (listener, url)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `runtime` until `source` has a fetch under way there, started by a call of its own.
fn start_a_fetch_on(runtime: &tokio::runtime::Runtime, source: &TokenSource) {
    runtime.block_on(async {
        let source = source.clone();
        tokio::spawn(async move { source.token().await });
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    });
}

fn yields(runtime: &tokio::runtime::Runtime) {
    runtime.block_on(async {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    });
}

#[test]
fn a_call_whose_joined_fetches_vanish_with_other_runtimes_is_not_a_configuration_error() {
    let (_listener, url) = silent_endpoint();
    let client = Client::builder(Provider::Dinie)
        .base_url(&url)
        .credentials(Credentials::new("client-7", "s3cret-value-42"))
        .build()
        .unwrap();
    let source = TokenSource::new(client);
    // The caller's runtime, which runs fine throughout.
    let here = runtime();
    let job = runtime();
    start_a_fetch_on(&job, &source);
    let caller = here.spawn({
        let source = source.clone();
        async move { source.token().await }
    });
    // The caller joins that job's fetch; the job's runtime ends, and the next job's call
    // starts the next fetch before the caller looks again; three times.
    let mut job = Some(job);
    for _ in 0..3 {
        yields(&here);
        drop(job.take());
        let next = runtime();
        start_a_fetch_on(&next, &source);
        job = Some(next);
    }
    let error = here
        .block_on(async { tokio::time::timeout(Duration::from_secs(10), caller).await })
        .expect("the caller started a fetch of its own instead of joining the jobs'")
        .unwrap()
        .unwrap_err();
    assert_ne!(error.kind(), ErrorKind::Configuration, "{error}");
    assert!(error.is_retryable(), "{error}");
    assert!(!error.hint().contains("call it from a running"), "{error}");
    assert_eq!(error.provider(), Some(Provider::Dinie));
}
