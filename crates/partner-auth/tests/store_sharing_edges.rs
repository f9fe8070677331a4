//! A token store shared by a fleet, at its edges (from an adversarial review): which failed
//! requests are shared for their cool-down and which are not (a reset mid-body, a body
//! that is no token, one process's wrong client authentication), a delete that gets no
//! answer, a kept failure cleared, and a reader's own expiry margin. Each test failed on
//! the code before its fix.
//!
//! All traffic is on loopback. A source stands for a process; sources that share a store
//! stand for a fleet.

mod common;
#[path = "common/memory_store.rs"]
mod memory_store;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::scripted::{Reply, Scripted};
use memory_store::MemoryStore;
use partner_auth::store::{StoreEntry, StoreError, StorePolicy, TokenStore};
use partner_auth::{
    CachePolicy, Client, ClientAuth, Credentials, Provider, RetryPolicy, TokenSource,
};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn policy() -> CachePolicy {
    CachePolicy::default()
        .with_failure_cooldown(Duration::from_secs(30))
        .with_retry(RetryPolicy::none())
}

fn source_with(client: Client, store: Arc<dyn TokenStore>) -> TokenSource {
    TokenSource::builder(client)
        .store(store)
        .policy(policy())
        .build()
        .unwrap()
}

/// A loopback server whose first answer is a `200` whose body is cut short (the connection
/// closed after a few of the bytes its `content-length` announced: a reset mid-body), and
/// every later one a token. Each answer closes its connection.
async fn cut_then_token() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                // The request: its head, then its body (content-length).
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while buf.len() < head_end + length {
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let n = seen.fetch_add(1, Ordering::SeqCst);
                let reply = if n == 0 {
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 400\r\n\
                     connection: close\r\n\r\n{\"access_token\":\"tok-"
                        .to_owned()
                } else {
                    let body = json!({"access_token": "tok-good", "token_type": "bearer", "expires_in": 3600})
                        .to_string();
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                         connection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                let _ = stream.write_all(reply.as_bytes()).await;
                let _ = stream.flush().await;
                // Closed: the cut answer ends mid-body.
                drop(stream);
            });
        }
    });
    (base, count)
}

/// README (Sharing): "one that never reached the provider (a timeout, a reset) is not
/// kept, and the next process asks for itself."
///
/// A connection reset while the body of a `200` was arriving is a reset (it may well be
/// this process's network): but the error carries the status already received, and
/// `keep_failure` keeps any error with a status. The next process is handed "another
/// process's token request failed" (a `Connection` error with status 200, for the whole
/// 30 s cool-down) instead of asking. The same holds for a body that times out (a
/// `Timeout` error with a status).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_mid_body_is_not_shared_with_the_next_process() {
    let (base, count) = cut_then_token().await;
    let store = Arc::new(MemoryStore::default());
    let first = source_with(common::client(Provider::Dinie, &base), store.clone());
    let error = first.token().await.unwrap_err();
    eprintln!(
        "first process: {:?} status {:?}: {error}",
        error.kind(),
        error.status()
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);

    let next = source_with(common::client(Provider::Dinie, &base), store.clone());
    let outcome = next.token().await.map(|t| t.expose_secret().to_owned());
    assert_eq!(
        (outcome.as_deref().ok(), count.load(Ordering::SeqCst)),
        (Some("tok-good"), 2),
        "a reset mid-body was shared with the next process instead of it asking for \
         itself: {outcome:?}"
    );
}

/// README (Sharing): "A request the provider answered with an error (a refusal, a rate
/// limit, a 5xx) is kept". A `200` whose body is not a token response is no refusal, rate
/// limit or 5xx (an `InvalidResponse`: a proxy's page, a half-deployed endpoint), yet it is
/// kept and every process that takes the lease gets it for the cool-down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_status_with_a_body_that_is_not_a_token_is_not_shared() {
    let server = Scripted::sequence(
        vec![Reply::json(200, json!({"maintenance": "back soon"}))],
        Reply::token("tok-good", 3600),
    )
    .await;
    let store = Arc::new(MemoryStore::default());
    let first = source_with(
        common::client(Provider::Dinie, server.base_url()),
        store.clone(),
    );
    let error = first.token().await.unwrap_err();
    eprintln!(
        "first process: {:?} status {:?}",
        error.kind(),
        error.status()
    );
    let next = source_with(
        common::client(Provider::Dinie, server.base_url()),
        store.clone(),
    );
    let outcome = next.token().await.map(|t| t.expose_secret().to_owned());
    assert_eq!(
        (outcome.as_deref().ok(), server.count()),
        (Some("tok-good"), 2),
        "a 200 that is not a token response (no refusal, rate limit or 5xx) was shared: \
         {outcome:?}"
    );
}

/// A store that, once `dead`, never answers (a host that dropped off the network: every
/// operation hangs until its timeout), recording what was asked of it meanwhile.
#[derive(Debug, Default)]
struct Dying {
    inner: MemoryStore,
    dead: AtomicBool,
    asked_while_dead: Mutex<Vec<&'static str>>,
}

impl Dying {
    async fn gate(&self, what: &'static str) {
        if self.dead.load(Ordering::SeqCst) {
            self.asked_while_dead.lock().unwrap().push(what);
            std::future::pending::<()>().await;
        }
    }
}

#[async_trait::async_trait]
impl TokenStore for Dying {
    async fn get(&self, key: &str) -> Result<Option<StoreEntry>, StoreError> {
        self.gate("get").await;
        self.inner.get(key).await
    }
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        self.gate("put").await;
        self.inner.put(key, value, ttl).await
    }
    async fn compare_and_delete(&self, key: &str, expected: &[u8]) -> Result<bool, StoreError> {
        self.gate("delete").await;
        self.inner.compare_and_delete(key, expected).await
    }
    async fn try_lease(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.gate("lease").await;
        self.inner.try_lease(key, owner, ttl).await
    }
    async fn release_lease(&self, key: &str, owner: &str) -> Result<(), StoreError> {
        self.gate("release").await;
        self.inner.release_lease(key, owner).await
    }
    async fn wait(&self, key: &str, timeout: Duration) -> Result<(), StoreError> {
        self.gate("wait").await;
        self.inner.wait(key, timeout).await
    }
}

/// README (Redis failing costs one warning, not a token): "Every store operation has a
/// timeout (500 ms); after a failure (an error, a timeout, even a panic in a store of your
/// own) the source fetches on its own, as without a store, for
/// `StorePolicy::outage_backoff` (5 s) before it tries the store again". And shared.rs:
/// "one bounded attempt per back-off (found by review: with a dead store, each fetch of
/// the back-off waited an operation timeout on it)".
///
/// Since e2d4de8 a failed delete opens no back-off, whether the store refused it or never
/// answered: with a store that went dead after an `invalidate`, the next `token()` call
/// waits one operation timeout on the delete, then reads the dead store and waits a second
/// one before fetching on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_that_times_out_is_the_only_store_operation_of_the_call() {
    let server = Scripted::sequence(
        vec![Reply::token("tok-1", 3600)],
        Reply::token("tok-2", 3600),
    )
    .await;
    let store = Arc::new(Dying::default());
    let timeout = Duration::from_millis(200);
    let source = TokenSource::builder(common::client(Provider::Dinie, server.base_url()))
        .store(store.clone())
        .policy(policy())
        .store_policy(
            StorePolicy::default()
                .with_operation_timeout(timeout)
                .with_outage_backoff(Duration::from_secs(60)),
        )
        .build()
        .unwrap();
    let first = source.token().await.unwrap();
    assert_eq!(first.expose_secret(), "tok-1");

    store.dead.store(true, Ordering::SeqCst);
    assert!(source.invalidate(&first));
    let started = Instant::now();
    let second = source.token().await.unwrap();
    let took = started.elapsed();
    assert_eq!(second.expose_secret(), "tok-2");
    let asked = store.asked_while_dead.lock().unwrap().clone();
    assert_eq!(
        asked,
        vec!["delete"],
        "after the delete timed out, the call went on asking the dead store ({asked:?}): \
         {took:?} for one token() call with an operation timeout of {timeout:?}"
    );
}

/// `FileStore::clear`: "Removes every stored entry, lease and lock file; how many entries
/// it removed (tokens, and failed requests kept for their cool-down)". Found by review: it
/// said tokens only, and `partner-token cache clear` reported a refusal kept for its
/// cool-down as a cached token. After the clear, the failure is gone too: the next request
/// is asked.
#[cfg(feature = "file-store")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clearing_a_file_store_removes_a_kept_failure_too() {
    use partner_auth::store::FileStore;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStore::new(dir.path().join("tokens")).unwrap());
    let server = Scripted::sequence(
        vec![
            Reply::json(
                429,
                json!({"title": "Too Many Requests", "status": 429, "detail": "slow down"}),
            )
            .header("retry-after", "40"),
        ],
        Reply::token("tok-later", 3600),
    )
    .await;
    let client = || common::client(Provider::Dinie, server.base_url());
    let source = source_with(client(), store.clone());
    assert!(source.token().await.is_err());
    // Another process is refused the kept failure, without asking.
    assert!(source_with(client(), store.clone()).token().await.is_err());
    assert_eq!(server.hits().len(), 1);
    assert_eq!(store.clear().unwrap(), 1, "the failure entry");
    let after = source_with(client(), store.clone());
    assert_eq!(after.token().await.unwrap().expose_secret(), "tok-later");
}

/// Two processes of one credential, one of them misconfigured (`client_auth: body` where
/// the endpoint wants HTTP Basic, a rolling deploy's new version, say). The store key does
/// not include how the client authenticates (rightly for tokens: a token is a token), so
/// the misconfigured process's 401 is kept under the credential's failure key, and the
/// correctly configured process, which would get a token, is refused for the cool-down
/// without asking. README: the failure is shared with "the processes that then take the
/// lease" because they would only repeat the request; this one would not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_caused_by_one_processs_client_auth_is_not_anothers() {
    let server = Scripted::respond(|hit| match &hit.authorization {
        Some(basic) if basic.starts_with("Basic ") => Reply::token("tok-good", 3600),
        _ => Reply::json(
            401,
            json!({"error": "invalid_client", "error_description": "use HTTP Basic"}),
        ),
    })
    .await;
    let build = |auth: ClientAuth| {
        Client::builder(Provider::Standard)
            .base_url(common::base_url(Provider::Standard, server.base_url()))
            .credentials(Credentials::new(common::CLIENT_ID, common::SECRET))
            .client_auth(auth)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap()
    };
    let store = Arc::new(MemoryStore::default());
    let wrong = source_with(build(ClientAuth::Body), store.clone());
    let error = wrong.token().await.unwrap_err();
    eprintln!("misconfigured process: {:?}: {error}", error.kind());
    let right = source_with(build(ClientAuth::Basic), store.clone());
    let outcome = right.token().await.map(|t| t.expose_secret().to_owned());
    assert_eq!(
        (outcome.as_deref().ok(), server.count()),
        (Some("tok-good"), 2),
        "a correctly configured process got the refusal of another's client \
         authentication: {outcome:?}"
    );
}

/// `CachePolicy::expiry_margin`: "A token is not handed out in its last `expiry_margin`
/// (default 5 s, at most a tenth of its lifetime), so a request made with it does not
/// arrive after it expired."
///
/// A reader with a margin of 5 minutes adopts a token its writer (default margin, 5 s)
/// stored: the reader's end of use is the writer's (the store's time to live), so it hands
/// the token out in its own last 5 minutes, down to the writer's last 5 seconds. Fetched
/// by the reader itself, the same token would stop at 55 minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_read_from_a_store_is_not_handed_out_in_the_readers_last_expiry_margin() {
    use partner_auth::time::ManualClock;
    let server = Scripted::sequence(
        vec![Reply::token("tok-1", 3600)],
        Reply::token("tok-2", 3600),
    )
    .await;
    let store = Arc::new(MemoryStore::default());
    let writer = source_with(
        common::client(Provider::Dinie, server.base_url()),
        store.clone(),
    );
    assert_eq!(writer.token().await.unwrap().expose_secret(), "tok-1");

    let clock = ManualClock::new();
    let margin = Duration::from_secs(300);
    let reader = TokenSource::builder(common::client(Provider::Dinie, server.base_url()))
        .store(store.clone())
        .policy(policy().with_expiry_margin(margin))
        .time_source(clock.clone())
        .build()
        .unwrap();
    assert_eq!(reader.token().await.unwrap().expose_secret(), "tok-1");
    assert_eq!(reader.stats().store_hits, 1);
    // 200 s of the token's hour left: inside the reader's 300 s margin.
    clock.advance(Duration::from_secs(3400));
    let late = reader.token().await.unwrap();
    assert_ne!(
        late.expose_secret(),
        "tok-1",
        "the reader handed out a token with 200 s of its lifetime left, inside its own \
         expiry margin of {margin:?}"
    );
}
