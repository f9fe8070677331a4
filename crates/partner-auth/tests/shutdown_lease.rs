//! Graceful shutdown with a shared token store: a runtime that ends (the end of `main`, of a
//! `#[tokio::test]`) while its source's fetch holds the store's lease ends that lease, so
//! other processes do not wait it out (`StorePolicy::lease_ttl`, 15 s by default). Found by
//! an application's review: the release was spawned on the runtime that was going away,
//! which never ran it, and the next process on the store waited the whole 15 s.
//!
//! The release runs on a thread of its own once a runtime shuts down mid-fetch
//! (README, "shared token stores"): it ends only our lease, only when a fetch was cut
//! short, and its thread ends on its own within two operation timeouts, whatever the store
//! does. The tests count this process's release threads (`/proc/self/task/*/comm`), or
//! start some, so they run one at a time.

#[path = "common/memory_store.rs"]
mod memory_store;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use httpmock::prelude::*;
use memory_store::MemoryStore;
use partner_auth::store::{StoreEntry, StoreError, StorePolicy, TokenStore};
use partner_auth::{Client, Credentials, Provider, TokenSource};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const HANG: u8 = 1;
const PANIC: u8 = 2;

/// A store without expiry (a test ends or replaces a lease itself) that records the thread
/// each release ran on.
#[derive(Debug, Default)]
struct Store {
    map: Mutex<HashMap<String, Vec<u8>>>,
    release_mode: AtomicU8,
    leases: AtomicU64,
    /// The thread of every release, and whether it ended a lease.
    releases: Mutex<Vec<(String, bool)>>,
}

impl Store {
    fn releases(&self) -> Vec<(String, bool)> {
        self.releases.lock().unwrap().clone()
    }
    fn lease(&self, key: &str) -> Option<Vec<u8>> {
        self.map
            .lock()
            .unwrap()
            .get(&format!("{key}:lease"))
            .cloned()
    }
}

#[async_trait::async_trait]
impl TokenStore for Store {
    async fn get(&self, key: &str) -> Result<Option<StoreEntry>, StoreError> {
        let map = self.map.lock().unwrap();
        Ok(map.get(&format!("{key}:token")).map(|value| StoreEntry {
            value: value.clone(),
            ttl: Duration::from_secs(600),
        }))
    }
    async fn put(&self, key: &str, value: &[u8], _ttl: Duration) -> Result<(), StoreError> {
        let mut map = self.map.lock().unwrap();
        map.insert(format!("{key}:token"), value.to_vec());
        Ok(())
    }
    async fn compare_and_delete(&self, key: &str, expected: &[u8]) -> Result<bool, StoreError> {
        let mut map = self.map.lock().unwrap();
        let key = format!("{key}:token");
        if map.get(&key).is_some_and(|v| v == expected) {
            map.remove(&key);
            return Ok(true);
        }
        Ok(false)
    }
    async fn try_lease(&self, key: &str, owner: &str, _ttl: Duration) -> Result<bool, StoreError> {
        let mut map = self.map.lock().unwrap();
        let key = format!("{key}:lease");
        if map.contains_key(&key) {
            return Ok(false);
        }
        map.insert(key, owner.as_bytes().to_vec());
        self.leases.fetch_add(1, Ordering::SeqCst);
        Ok(true)
    }
    async fn release_lease(&self, key: &str, owner: &str) -> Result<(), StoreError> {
        let thread = std::thread::current().name().unwrap_or("").to_owned();
        match self.release_mode.load(Ordering::SeqCst) {
            HANG => {
                self.releases.lock().unwrap().push((thread.clone(), false));
                std::future::pending::<()>().await;
            }
            PANIC => {
                self.releases.lock().unwrap().push((thread.clone(), false));
                panic!("a store bug");
            }
            _ => {}
        }
        let mut map = self.map.lock().unwrap();
        let key = format!("{key}:lease");
        let ours = map.get(&key).is_some_and(|v| v == owner.as_bytes());
        if ours {
            map.remove(&key);
        }
        self.releases.lock().unwrap().push((thread, ours));
        Ok(())
    }
    async fn wait(&self, _key: &str, timeout: Duration) -> Result<(), StoreError> {
        tokio::time::sleep(timeout.min(Duration::from_millis(20))).await;
        Ok(())
    }
}

/// This process's threads named as the release's (`comm` keeps 15 bytes).
fn release_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim_end() == "partner-auth-re")
        .count()
}

/// Polls `ready` until it holds; fails after 10 s, naming `what` (a hang, not a timing
/// check).
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let give_up = std::time::Instant::now() + Duration::from_secs(10);
    while !ready() {
        assert!(
            std::time::Instant::now() < give_up,
            "never happened: {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits until no release thread is left; fails after 10 s (a hang, not a timing check).
/// A thread names itself once it runs: one just started may not show yet, so a caller
/// first waits for what its threads do (found by CI: the count was read between a
/// thread's start and its name, and two releases had not happened yet).
fn no_release_thread_left() {
    wait_until("no release thread lives on", || release_threads() == 0);
}

/// A Dinie client of `url`.
fn client(url: &str) -> Client {
    Client::builder(Provider::Dinie)
        .base_url(url)
        .credentials(Credentials::new("client-7", "s3cret-value-42"))
        .build()
        .unwrap()
}

fn source(url: &str, store: &Arc<Store>, timeout: Duration) -> TokenSource {
    TokenSource::builder(client(url))
        .store(store.clone())
        .store_policy(StorePolicy::default().with_operation_timeout(timeout))
        .build()
        .unwrap()
}

/// A loopback listener that takes connections and never answers: a fetch stays under way.
fn silent_endpoint() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v3", listener.local_addr().unwrap());
    (listener, url)
}

/// A runtime (paused, or not) that ends while `source`'s fetch holds the lease.
fn end_a_runtime_mid_fetch(store: &Arc<Store>, source: &TokenSource, paused: bool) {
    drop(a_runtime_mid_fetch(store, source, paused));
}

/// A runtime (paused, or not) on which `source`'s fetch holds the lease, left for the
/// caller to end.
fn a_runtime_mid_fetch(
    store: &Arc<Store>,
    source: &TokenSource,
    paused: bool,
) -> tokio::runtime::Runtime {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.enable_all().start_paused(paused);
    let runtime = builder.build().unwrap();
    let leases = store.leases.load(Ordering::SeqCst);
    runtime.block_on(async {
        let source = source.clone();
        tokio::spawn(async move { source.token().await });
        for _ in 0..100_000 {
            if store.leases.load(Ordering::SeqCst) > leases {
                break;
            }
            tokio::task::yield_now().await;
        }
    });
    assert_eq!(
        store.leases.load(Ordering::SeqCst),
        leases + 1,
        "no lease taken"
    );
    runtime
}

/// Fetches that end normally end their leases on their runtime: no thread.
#[test]
fn fetches_that_end_normally_start_no_release_thread() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store = Arc::new(Store::default());
    runtime.block_on(async {
        let server = MockServer::start_async().await;
        server.mock(|when, then| {
            when.method(POST).path("/api/v3/auth/token");
            then.status(200)
                .header("content-type", "application/json")
                .body(r#"{"access_token":"tok","token_type":"Bearer","expires_in":3600}"#);
        });
        let url = format!("{}/api/v3", server.base_url());
        let source = source(&url, &store, Duration::from_millis(500));
        for _ in 0..100 {
            source.refresh().await.unwrap();
            assert_eq!(release_threads(), 0);
        }
    });
    drop(runtime);
    let releases = store.releases();
    assert_eq!(store.leases.load(Ordering::SeqCst), 100);
    assert_eq!(releases.len(), 100, "{releases:?}");
    assert!(
        releases
            .iter()
            .all(|(thread, ours)| *ours && thread != "partner-auth-release"),
        "{releases:?}"
    );
    assert_eq!(release_threads(), 0);
}

/// A runtime per job, each ended mid-fetch: each lease ended once, from a thread that
/// then ends; none left behind.
#[test]
fn a_runtime_per_job_ended_mid_fetch_leaves_no_lease_and_no_thread() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (_listener, url) = silent_endpoint();
    let store = Arc::new(Store::default());
    let source = source(&url, &store, Duration::from_millis(500));
    let key = source.store_key().unwrap().to_owned();
    for job in 0..40 {
        end_a_runtime_mid_fetch(&store, &source, job % 2 == 1);
        wait_until(&format!("job {job}: the lease ended"), || {
            store.lease(&key).is_none()
        });
    }
    no_release_thread_left();
    let releases = store.releases();
    assert_eq!(releases.len(), 40, "{releases:?}");
    assert!(
        releases
            .iter()
            .all(|(thread, ours)| *ours && thread == "partner-auth-release"),
        "{releases:?}"
    );
}

/// Another process took the lease after ours expired: the late release leaves it alone.
#[test]
fn a_release_after_the_runtime_ended_does_not_end_someone_elses_lease() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (_listener, url) = silent_endpoint();
    let store = Arc::new(Store::default());
    let source = source(&url, &store, Duration::from_millis(500));
    let key = source.store_key().unwrap().to_owned();
    let runtime = a_runtime_mid_fetch(&store, &source, false);
    // Ours expired and another process took it.
    store
        .map
        .lock()
        .unwrap()
        .insert(format!("{key}:lease"), b"someone-else".to_vec());
    drop(runtime);
    wait_until("a release", || !store.releases().is_empty());
    no_release_thread_left();
    assert_eq!(store.lease(&key).as_deref(), Some(&b"someone-else"[..]));
    assert_eq!(
        store.releases(),
        [("partner-auth-release".to_owned(), false)]
    );
}

/// A store whose release never answers, or panics: each thread makes its two attempts and
/// ends, and the process lives on.
#[test]
fn a_release_thread_ends_whatever_the_store_does() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (_listener, url) = silent_endpoint();
    for mode in [HANG, PANIC] {
        let store = Arc::new(Store::default());
        store.release_mode.store(mode, Ordering::SeqCst);
        let source = source(&url, &store, Duration::from_millis(50));
        let key = source.store_key().unwrap().to_owned();
        for _ in 0..10 {
            end_a_runtime_mid_fetch(&store, &source, false);
            // Never released: it expires.
            store.map.lock().unwrap().remove(&format!("{key}:lease"));
        }
        // Two attempts on each of the ten threads.
        wait_until(&format!("mode {mode}: 20 release attempts"), || {
            store.releases().len() >= 20
        });
        no_release_thread_left();
        let releases = store.releases();
        assert_eq!(releases.len(), 20, "mode {mode}: {releases:?}");
    }
}

thread_local! {
    static JOB_RUNTIME: std::cell::RefCell<Option<tokio::runtime::Runtime>> =
        const { std::cell::RefCell::new(None) };
}

/// A runtime kept in a thread-local, dropped with the thread mid-fetch (after Tokio's own
/// thread-locals, maybe): the release does not panic there (a panic in a thread-local's
/// destructor aborts the process), and the lease is ended or left to expire.
#[test]
fn a_runtime_dropped_with_its_thread_mid_fetch_does_not_abort_the_process() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (_listener, url) = silent_endpoint();
    let store = Arc::new(Store::default());
    let source = source(&url, &store, Duration::from_millis(500));
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let runtime = a_runtime_mid_fetch(&store, &source, false);
            JOB_RUNTIME.with(|slot| *slot.borrow_mut() = Some(runtime));
        });
    });
    wait_until("the lease's release", || !store.releases().is_empty());
    no_release_thread_left();
    assert_eq!(
        store.releases(),
        [("partner-auth-release".to_owned(), true)]
    );
}

/// `FileStore`: a runtime per job, each ended mid-fetch, leaves no lease file and no
/// thread (its blocking work runs on the release thread's own runtime).
#[cfg(feature = "file-store")]
#[test]
fn a_file_store_lease_is_ended_after_its_runtime_ends_mid_fetch() {
    use partner_auth::store::FileStore;
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (_listener, url) = silent_endpoint();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStore::new(dir.path().join("tokens")).unwrap());
    let source = TokenSource::builder(client(&url))
        .store(store)
        .store_policy(StorePolicy::default().with_lease_ttl(Duration::from_secs(300)))
        .build()
        .unwrap();
    let lease = dir
        .path()
        .join("tokens")
        .join(format!("{}.lease", source.store_key().unwrap()));
    for job in 0..10 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let source = source.clone();
            tokio::spawn(async move { source.token().await });
            let give_up = std::time::Instant::now() + Duration::from_secs(10);
            while !lease.exists() {
                assert!(std::time::Instant::now() < give_up, "job {job}: no lease");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        drop(runtime);
        wait_until(&format!("job {job}: the lease ended"), || !lease.exists());
    }
    no_release_thread_left();
}

fn memory_source(url: &str, store: &Arc<MemoryStore>) -> TokenSource {
    TokenSource::builder(client(url))
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
        let source = memory_source(url, store);
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
    wait_until("the lease's release", || {
        store.releases.load(Ordering::SeqCst) > 0
    });
    assert_eq!(store.releases.load(Ordering::SeqCst), 1);
    assert!(store.slot(&format!("{key}:lease")).is_none());
}

#[test]
fn a_runtime_that_ends_during_a_fetch_ends_its_lease() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (_listener, url) = silent_endpoint();
    let store = Arc::new(MemoryStore::default());
    let key = end_runtime_during_a_fetch(&store, &url, false);
    released(&store, &key);
}

#[test]
fn a_source_dropped_just_before_its_runtime_ends_ends_its_lease() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (_listener, url) = silent_endpoint();
    let store = Arc::new(MemoryStore::default());
    let key = end_runtime_during_a_fetch(&store, &url, true);
    released(&store, &key);
}
