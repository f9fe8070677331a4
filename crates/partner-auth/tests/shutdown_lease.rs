//! Graceful shutdown with a shared token store: a runtime that ends (the end of `main`, of a
//! `#[tokio::test]`) while its source's fetch holds the store's lease ends that lease, so
//! other processes do not wait it out (`StorePolicy::lease_ttl`, 15 s by default). Found by
//! an application's review: the release was spawned on the runtime that was going away,
//! which never ran it, and the next process on the store waited the whole 15 s.

#[path = "common/memory_store.rs"]
mod memory_store;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use memory_store::MemoryStore;
use partner_auth::{Client, Credentials, Provider, TokenSource};

/// A loopback listener that takes connections and never answers: a fetch stays under way.
fn silent_endpoint() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v3", listener.local_addr().unwrap());
    (listener, url)
}

fn source(url: &str, store: &Arc<MemoryStore>) -> TokenSource {
    let client = Client::builder(Provider::Dinie)
        .base_url(url)
        .credentials(Credentials::new("client-7", "s3cret-value-42"))
        .build()
        .unwrap();
    TokenSource::builder(client)
        .store(store.clone())
        .build()
        .unwrap()
}

/// Runs a runtime until its source's fetch holds the lease, then lets it end; with
/// `drop_first`, the application drops its last handle to the source just before.
fn end_runtime_during_a_fetch(store: &Arc<MemoryStore>, url: &str, drop_first: bool) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let key = runtime.block_on(async {
        let source = source(url, store);
        let key = source.store_key().unwrap().to_owned();
        let caller = tokio::spawn({
            let source = source.clone();
            async move { source.token().await }
        });
        for _ in 0..100_000 {
            if store.leases.load(Ordering::SeqCst) == 1 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(store.leases.load(Ordering::SeqCst), 1, "no lease taken");
        if drop_first {
            caller.abort();
            let _ = caller.await;
            drop(source);
        }
        key
    });
    drop(runtime);
    key
}

/// Waits for the lease's release, which runs on a thread of its own once the runtime is
/// gone; fails after 10 s (a hang, not a timing assertion).
fn released(store: &MemoryStore, key: &str) {
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.releases.load(Ordering::SeqCst) == 0 {
        assert!(std::time::Instant::now() < give_up, "the lease was left");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(store.releases.load(Ordering::SeqCst), 1);
    assert!(store.slot(&format!("{key}:lease")).is_none());
}

#[test]
fn a_runtime_that_ends_during_a_fetch_ends_its_lease() {
    let (_listener, url) = silent_endpoint();
    let store = Arc::new(MemoryStore::default());
    let key = end_runtime_during_a_fetch(&store, &url, false);
    released(&store, &key);
}

#[test]
fn a_source_dropped_just_before_its_runtime_ends_ends_its_lease() {
    let (_listener, url) = silent_endpoint();
    let store = Arc::new(MemoryStore::default());
    let key = end_runtime_during_a_fetch(&store, &url, true);
    released(&store, &key);
}
