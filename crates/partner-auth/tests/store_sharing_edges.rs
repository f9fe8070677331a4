//! A token store shared by a fleet, at its edges (from adversarial reviews): which failed
//! requests are kept for their cool-down and which are not (a reset mid-body, a body that
//! is no token, one process's wrong client authentication), one entry per way of sending
//! the credential, a kept failure that a newer token has ended, a delete that gets no
//! answer or is refused, a kept failure cleared, a lease taken over from a failed holder,
//! and a reader's own margin and schedule. Each test failed on the code before its fix,
//! but the one control and the clear test (the behaviour was there; its docs were wrong).
//!
//! All traffic is on loopback. A source stands for a process; sources that share a store
//! stand for a fleet.

mod common;
#[path = "common/memory_store.rs"]
mod memory_store;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::scripted::{Gate, Reply, Scripted, eventually};
use memory_store::MemoryStore;
use partner_auth::store::{StorePolicy, TokenStore};
use partner_auth::time::ManualClock;
use partner_auth::{
    CachePolicy, Client, ClientAuth, Credentials, ErrorKind, Provider, RetryPolicy, TokenSource,
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

fn standard(server: &Scripted, auth: ClientAuth) -> Client {
    Client::builder(Provider::Standard)
        .base_url(common::base_url(Provider::Standard, server.base_url()))
        .credentials(Credentials::new(common::CLIENT_ID, common::SECRET))
        .client_auth(auth)
        .timeout(Duration::from_secs(5))
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
    let store = Arc::new(MemoryStore::default());
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

/// Promise (README, Sharing; commit 11fba34): a kept failure is "ignored once a token
/// requested after it is stored".
///
/// The proof that the provider has recovered is only the stored token: the failure entry
/// is neither deleted nor superseded when that token is written. When the token goes
/// (here: the API rejects it, the process invalidates it, and the pending delete removes
/// it before the next read) the failure is back in force for the rest of its cool-down,
/// and the process that invalidated is refused "a token request ... failed moments ago;
/// not asking again" although it holds, in memory, a token the provider issued after
/// that failure. The same happens when such a token expires, or is deleted by another
/// process's invalidate, during a long cool-down (a 429 with `Retry-After: 3600` keeps the
/// failure an hour).
///
/// The token after the failure comes from a process that authenticates the other way
/// (Basic where the first used the body, and was refused): a refusal holds only for
/// clients that send the credential the same way, the token for all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_failure_does_not_come_back_when_the_newer_token_is_invalidated() {
    let server = Scripted::sequence(
        vec![
            Reply::json(401, json!({"error": "invalid_client"})),
            Reply::token("tok-after-the-401", 3600),
        ],
        Reply::token("tok-new", 3600),
    )
    .await;
    let store = Arc::new(MemoryStore::default());
    // Process 1 (Body): refused; its 401 is kept for 30 s.
    let first = source_with(standard(&server, ClientAuth::Body), store.clone());
    let error = first.token().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidCredentials, "{error}");
    // Process 2 (Basic): the refusal is not its own; its token is stored.
    let second = source_with(standard(&server, ClientAuth::Basic), store.clone());
    assert_eq!(
        second.token().await.unwrap().expose_secret(),
        "tok-after-the-401"
    );
    // Process 3 (Body, as process 1): takes the stored token; the failure is ignored.
    let third = source_with(standard(&server, ClientAuth::Body), store.clone());
    let token = third.token().await.unwrap();
    assert_eq!(token.expose_secret(), "tok-after-the-401");
    assert_eq!(server.count(), 2);
    // The API rejects it (revoked, say): invalidate, then the next call.
    assert!(third.invalidate(&token));
    let next = third.token().await.map(|t| t.expose_secret().to_owned());
    assert_eq!(
        next.as_deref().ok(),
        Some("tok-new"),
        "a process that invalidated a token the provider issued after a kept failure was \
         refused that (older, stale) failure instead of asking: {next:?} ({} requests)",
        server.count()
    );
}

/// Promise (`CachePolicy::refresh_fraction`, README): "a token is not refreshed before
/// half of its use ..., nor one read from a store before half of its writer's use".
///
/// The reader's window is capped at half of the writer's use, but counted back from the
/// reader's own end of use. A reader whose expiry margin is longer than the writer's ends
/// earlier, so its refresh starts before the writer's half point: here a 1 h token written
/// with the default 5 s margin (writer's use 3595 s, half 1797.5 s) is refreshed by a
/// reader with a 300 s margin and a long window at 1650 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_read_from_a_store_is_not_refreshed_before_half_of_its_writers_use() {
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
    let reader = TokenSource::builder(common::client(Provider::Dinie, server.base_url()))
        .store(store.clone())
        .policy(
            policy()
                .with_expiry_margin(Duration::from_secs(300))
                .with_refresh_window(Duration::from_secs(3600), 1.0)
                .with_refresh_jitter(0.0),
        )
        .time_source(clock.clone())
        .build()
        .unwrap();
    assert_eq!(reader.token().await.unwrap().expose_secret(), "tok-1");
    assert_eq!(reader.stats().store_hits, 1);
    // 1700 s into the writer's 3595 s of use: before its half (1797.5 s).
    clock.advance(Duration::from_secs(1700));
    assert_eq!(reader.token().await.unwrap().expose_secret(), "tok-1");
    assert_eq!(
        reader.stats().refreshes,
        0,
        "a token read from the store was refreshed 1700 s into its writer's 3595 s of use, \
         before half of it"
    );
}

/// Promise (`Stats::lease_takeovers`): "Leases taken over after their holder ended
/// without a token (crashed or failed)."
///
/// A waiter whose holder failed takes the lease over, finds the kept failure and returns
/// it: the lease was taken over after its holder failed, but it is not counted (it is
/// counted only when the taker then asks the provider itself). A status page then shows a
/// fleet where every waiter took a failed holder's lease as one with no takeovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_taken_over_from_a_failed_holder_is_counted_when_the_failure_is_shared() {
    let gate = Gate::new();
    let server = Scripted::sequence(
        vec![Reply::json(503, json!({"error": "temporarily_unavailable"})).held(&gate)],
        Reply::token("tok-later", 3600),
    )
    .await;
    let store = Arc::new(MemoryStore::default());
    let client = || common::client(Provider::Dinie, server.base_url());
    let holder = source_with(client(), store.clone());
    let waiter = source_with(client(), store.clone());
    let first = {
        let holder = holder.clone();
        tokio::spawn(async move { holder.token().await })
    };
    eventually("the holder's request reaches the server", || {
        server.count() == 1
    })
    .await;
    let second = {
        let waiter = waiter.clone();
        tokio::spawn(async move { waiter.token().await })
    };
    eventually("the waiter waits for the lease", || {
        waiter.stats().lease_waits == 1
    })
    .await;
    gate.open();
    assert!(first.await.unwrap().is_err());
    let error = second.await.unwrap().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ProviderUnavailable, "{error}");
    assert_eq!(server.count(), 1);
    assert_eq!(store.leases.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(
        waiter.stats().lease_takeovers,
        1,
        "the waiter took the failed holder's lease over (the store granted it), but \
         Stats says it took none: {:?}",
        waiter.stats()
    );
}

/// Promise (README, Sharing; a0c2042): a failure the provider answered is kept under the
/// credential's failure key for its cool-down, and "a refusal holds only for processes
/// that send the credential the same way (`client_auth`)", recorded in the entry.
///
/// The failure key is one slot per credential. A refusal kept for `Body` is "stale" for a
/// `Basic` client, which asks, is refused too, and overwrites the slot with its own
/// refusal: the `Body` refusal, still inside its cool-down, is gone, and the next `Body`
/// process asks the provider again. With both ways refused (a fleet half-migrated to a
/// provider that rejects both), each process's refusal erases the other's and the fleet
/// asks once per process, the very load the kept failure exists to stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_kept_for_one_client_auth_is_not_erased_by_another_ways_refusal() {
    let server = Scripted::sequence(
        vec![
            Reply::json(401, json!({"error": "invalid_client"})),
            Reply::json(401, json!({"error": "invalid_client"})),
        ],
        Reply::json(401, json!({"error": "invalid_client"})),
    )
    .await;
    let store = Arc::new(MemoryStore::default());
    // Process 1 (Body): refused; kept for 30 s, for Body clients.
    let body_1 = source_with(standard(&server, ClientAuth::Body), store.clone());
    let error = body_1.token().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidCredentials, "{error}");
    // Process 2 (Basic): Body's refusal is not its own: it asks, and is refused.
    let basic = source_with(standard(&server, ClientAuth::Basic), store.clone());
    let error = basic.token().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidCredentials, "{error}");
    assert_eq!(server.count(), 2);
    // Process 3 (Body, as process 1), a moment later: process 1's refusal still holds.
    let body_2 = source_with(standard(&server, ClientAuth::Body), store.clone());
    let error = body_2.token().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidCredentials, "{error}");
    assert_eq!(
        server.count(),
        2,
        "a Body process asked the provider again within the cool-down of a Body refusal \
         kept moments ago: a Basic client's refusal overwrote it in the one failure slot \
         ({error})"
    );
}

/// Promise (shared.rs, `delete_pending`): "A delete the store refuses is counted and
/// logged but does not keep the flight off the store ... (a store that refuses deletes
/// alone would otherwise share nothing until then)". a0c2042 adds a second delete, of the
/// kept failure a lease winner found ended, after it stored its token.
///
/// That delete goes through the generic `call`, whose failure opens the store's back-off:
/// a process that stored a token and then had the (best-effort) failure delete refused
/// stops using the store for `outage_backoff`. Here it then invalidates its token and
/// fetches a new one that it neither leases for nor writes, so the next process adopts the
/// token the API rejected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_delete_of_an_ended_failure_does_not_take_the_process_off_the_store() {
    let server = Scripted::sequence(
        vec![
            Reply::json(503, json!({"error": "temporarily_unavailable"})),
            Reply::token("tok-0", 3600),
            Reply::token("tok-1", 3600),
            Reply::token("tok-2", 3600),
        ],
        Reply::token("tok-later", 3600),
    )
    .await;
    let store = Arc::new(MemoryStore::refusing_deletes());
    let source = |auth| {
        TokenSource::builder(standard(&server, auth))
            .store(store.clone())
            .policy(policy())
            .build()
            .unwrap()
    };
    // Process 1 (Basic): a 503, kept for Basic clients.
    let first = source(ClientAuth::Basic);
    assert!(first.token().await.is_err());
    // Process 0 (Body, its own entry empty): stores tok-0, requested after the 503.
    assert_eq!(
        source(ClientAuth::Body)
            .token()
            .await
            .unwrap()
            .expose_secret(),
        "tok-0"
    );
    // Process 2 (Basic) takes tok-0, so the kept 503 is over for it. The API rejects tok-0:
    // it fetches tok-1, stores it, and tries to delete the ended 503 (refused).
    let basic = source(ClientAuth::Basic);
    let token = basic.token().await.unwrap();
    assert_eq!(token.expose_secret(), "tok-0");
    assert!(basic.invalidate(&token));
    let token = basic.token().await.unwrap();
    assert_eq!(token.expose_secret(), "tok-1");
    // The API rejects tok-1: invalidate, fetch again (its delete refused, as before).
    assert!(basic.invalidate(&token));
    assert_eq!(basic.token().await.unwrap().expose_secret(), "tok-2");
    // Process 3 (Basic): should find tok-2 in the store.
    let third = source(ClientAuth::Basic);
    let got = third.token().await.unwrap();
    assert_eq!(
        got.expose_secret(),
        "tok-2",
        "after its best-effort delete of an ended kept failure was refused, the process \
         backed off the store: its next token was not written, and the next process adopted \
         the token the API rejected ({} requests; stats of process 2: {:?})",
        server.count(),
        basic.stats()
    );
}

/// Control for the test above: the same store and steps without a kept failure to delete
/// pass (the refused invalidate delete alone does not take the process off the store).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_without_a_kept_failure_the_refused_delete_is_harmless() {
    let server = Scripted::sequence(
        vec![Reply::token("tok-1", 3600), Reply::token("tok-2", 3600)],
        Reply::token("tok-later", 3600),
    )
    .await;
    let store = Arc::new(MemoryStore::refusing_deletes());
    let source = |auth| {
        TokenSource::builder(standard(&server, auth))
            .store(store.clone())
            .policy(policy())
            .build()
            .unwrap()
    };
    let basic = source(ClientAuth::Basic);
    let token = basic.token().await.unwrap();
    assert_eq!(token.expose_secret(), "tok-1");
    assert!(basic.invalidate(&token));
    assert_eq!(basic.token().await.unwrap().expose_secret(), "tok-2");
    let third = source(ClientAuth::Basic);
    assert_eq!(third.token().await.unwrap().expose_secret(), "tok-2");
}
