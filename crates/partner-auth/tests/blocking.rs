//! The blocking API (feature `blocking`), from plain threads without a runtime, against a
//! loopback server running on a runtime of its own.
//!
//! `cargo test -p partner-auth --features blocking --test blocking`

#![cfg(feature = "blocking")]

mod common;

use std::time::Duration;

use common::scripted::{Reply, Scripted};
use partner_auth::{CachePolicy, ErrorKind, Provider, blocking};

fn server(replies: Vec<Reply>, fallback: Reply) -> (tokio::runtime::Runtime, Scripted) {
    let runtime = multi_thread(1);
    let server = runtime.block_on(Scripted::sequence(replies, fallback));
    (runtime, server)
}

fn multi_thread(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap()
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A blocking source and a blocking client for Dinie at `server`.
fn source_and_client(server: &Scripted) -> (blocking::TokenSource, blocking::Client) {
    let client = || common::client(Provider::Dinie, server.base_url());
    (
        blocking::TokenSource::new(client()).unwrap(),
        blocking::Client::new(client()).unwrap(),
    )
}

#[test]
fn a_blocking_source_caches_and_shares_one_request_across_threads() {
    let (_runtime, server) = server(vec![], Reply::token("tok-1", 3600));
    let source =
        blocking::TokenSource::new(common::client(Provider::Dinie, server.base_url())).unwrap();
    let tokens: Vec<_> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| source.token().unwrap()))
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert!(tokens.iter().all(|t| t.expose_secret() == "tok-1"));
    assert_eq!(server.count(), 1);
    assert!(source.invalidate(&tokens[0]));
    assert_eq!(source.token().unwrap().expose_secret(), "tok-1");
    assert_eq!(server.count(), 2, "invalidated: fetched again");
    assert_eq!(source.stats().token_requests, 2);
}

#[test]
fn its_own_runtime_refreshes_in_the_background_while_the_caller_does_not_wait() {
    let (_runtime, server) = server(
        vec![Reply::token("tok-1", 3600)],
        Reply::token("tok-2", 3600),
    );
    let (source, clock, _) = common::on_manual_clock(
        common::client(Provider::Dinie, server.base_url()),
        CachePolicy::default().with_refresh_jitter(0.0),
    );
    let source = blocking::TokenSource::with_source(source).unwrap();
    let first = source.token().unwrap();
    clock.advance(Duration::from_secs(3400)); // in the refresh window
    assert!(source.token().unwrap().same_as(&first), "answered at once");
    let started = std::time::Instant::now();
    while server.count() < 2
        || source
            .as_async()
            .cached()
            .is_some_and(|t| t.same_as(&first))
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never refreshed"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(source.token().unwrap().expose_secret(), "tok-2");
}

#[test]
fn a_blocking_client_fetches_and_reports_typed_errors() {
    let (_runtime, server) = server(
        vec![Reply::token("tok-1", 60)],
        Reply::json(401, serde_json::json!({"error": "invalid_client"})),
    );
    let client = blocking::Client::new(common::client(Provider::Dinie, server.base_url())).unwrap();
    assert_eq!(client.fetch_token().unwrap().expose_secret(), "tok-1");
    let err = client.fetch_token().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCredentials);
    let policy = CachePolicy::default().with_refresh_jitter(f64::NAN);
    let refused = blocking::TokenSource::with_policy(client.as_async().clone(), policy);
    assert_eq!(refused.unwrap_err().kind(), ErrorKind::Configuration);
}

#[test]
fn one_blocking_miss_counts_once() {
    let (_runtime, server) = server(vec![], Reply::token("tok-1", 3600));
    let source =
        blocking::TokenSource::new(common::client(Provider::Dinie, server.base_url())).unwrap();
    source.token().unwrap();
    source.token().unwrap();
    let stats = source.stats();
    assert_eq!(server.count(), 1);
    assert_eq!((stats.cache_misses, stats.cache_hits), (1, 1), "{stats:?}");
}

#[test]
fn it_works_from_spawn_blocking_and_multi_thread_workers() {
    let (runtime, server) = server(vec![], Reply::token("tok-1", 3600));
    let (source, client) = source_and_client(&server);
    let (from_pool, from_worker, fetched) = runtime.block_on(async {
        let pooled = {
            let source = source.clone();
            tokio::task::spawn_blocking(move || source.token())
        };
        let worker = {
            let source = source.clone();
            tokio::spawn(async move { source.token() })
        };
        let fetched = client.fetch_token();
        (pooled.await.unwrap(), worker.await.unwrap(), fetched)
    });
    assert_eq!(from_pool.unwrap().expose_secret(), "tok-1");
    assert_eq!(from_worker.unwrap().expose_secret(), "tok-1");
    assert_eq!(fetched.unwrap().expose_secret(), "tok-1");
}

#[test]
fn on_a_current_thread_runtime_it_is_an_error_not_a_panic_and_it_drops_cleanly() {
    let (_runtime, server) = server(vec![], Reply::token("tok-1", 3600));
    let (source, client) = source_and_client(&server);
    current_thread().block_on(async move {
        let err = source.token().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Configuration);
        assert!(err.to_string().contains("current-thread"), "{err}");
        assert_eq!(
            client.fetch_token().unwrap_err().kind(),
            ErrorKind::Configuration
        );
        // Dropped here, inside the runtime: no panic.
        drop((source, client));
    });
    assert_eq!(server.count(), 0);
}

#[test]
fn on_a_current_thread_runtime_its_spawn_blocking_threads_get_the_error_too() {
    let source =
        blocking::TokenSource::new(common::client(Provider::Dinie, "http://127.0.0.1:9")).unwrap();
    let result = current_thread()
        .block_on(async move { tokio::task::spawn_blocking(move || source.token()).await })
        .unwrap();
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Configuration);
}

/// Tokio refuses `block_in_place` inside a `LocalSet` and on a current-thread runtime's
/// thread where a multi-thread runtime's handle is entered (on 1db9132 both panicked:
/// "can call blocking only when running on the multi-threaded runtime").
#[test]
fn in_a_local_set_and_under_an_entered_handle_it_answers_without_panicking() {
    let (_server_runtime, server) = server(vec![], Reply::token("tok-1", 3600));
    let (source, client) = source_and_client(&server);
    let runtime = multi_thread(1);
    let (first, fetched) = runtime.block_on(async {
        tokio::task::LocalSet::new()
            .run_until(async { (source.token(), client.fetch_token()) })
            .await
    });
    assert_eq!(first.unwrap().expose_secret(), "tok-1");
    assert_eq!(fetched.unwrap().expose_secret(), "tok-1");

    let (again, fetched) = current_thread().block_on(async {
        let _entered = runtime.handle().enter();
        (source.token(), client.fetch_token())
    });
    assert_eq!(again.unwrap().expose_secret(), "tok-1", "from the cache");
    assert_eq!(fetched.unwrap().expose_secret(), "tok-1");
    assert_eq!(
        server.count(),
        3,
        "one fetch for the source, two for the client"
    );
}

/// A miss inside a `LocalSet` fetches on the source's own runtime: the token arrives and is
/// cached, once, for callers from every kind of thread.
#[test]
fn a_miss_in_a_local_set_fetches_once_for_every_caller() {
    let (_runtime, server) = server(vec![], Reply::token("tok-1", 3600));
    let source =
        blocking::TokenSource::new(common::client(Provider::Dinie, server.base_url())).unwrap();
    let runtime = multi_thread(2);
    let tokens: Vec<_> = runtime.block_on(async {
        let local = tokio::task::LocalSet::new();
        let in_set = local.run_until(async { source.token() }).await;
        // A task of the set: Tokio refuses `block_in_place` there (it prints that panic's
        // message); the call goes on on a thread of its own.
        let in_set_task = {
            let source = source.clone();
            local.spawn_local(async move { source.token() })
        };
        let in_set_task = local.run_until(in_set_task).await.unwrap();
        let on_worker = {
            let source = source.clone();
            tokio::spawn(async move { source.token() }).await.unwrap()
        };
        vec![in_set, in_set_task, on_worker, source.token()]
    });
    for token in tokens {
        assert_eq!(token.unwrap().expose_secret(), "tok-1");
    }
    assert_eq!(server.count(), 1);
    assert_eq!(source.stats().cache_misses, 1);
}

/// A blocking source for Dinie at `base_url` sharing a file store in `dir`.
#[cfg(feature = "file-store")]
fn stored_source(base_url: &str, dir: &std::path::Path) -> blocking::TokenSource {
    use partner_auth::store::{FileStore, StorePolicy};

    let source = partner_auth::TokenSource::builder(common::client(Provider::Dinie, base_url))
        .store(std::sync::Arc::new(FileStore::new(dir).unwrap()))
        // A file operation has taken longer than the default on a loaded CI machine.
        .store_policy(StorePolicy::default().with_operation_timeout(Duration::from_secs(10)))
        .build()
        .unwrap();
    blocking::TokenSource::with_source(source).unwrap()
}

/// How many tokens the file store in `dir` holds.
#[cfg(feature = "file-store")]
fn stored_tokens(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "token")
        })
        .count()
}

/// Dropped on a plain thread, where its async source can spawn nothing, the last clone of
/// a blocking source deletes the stored token `invalidate` left to the next fetch, on its
/// own runtime, before the drop returns: the next source, sharing the store, fetches anew.
#[cfg(feature = "file-store")]
#[test]
fn the_last_clone_dropped_outside_a_runtime_deletes_the_invalidated_stored_token() {
    let (_runtime, server) = server(
        vec![Reply::token("tok-1", 3600)],
        Reply::token("tok-2", 3600),
    );
    let dir = tempfile::tempdir().unwrap();
    let first = stored_source(server.base_url(), dir.path());
    let rejected = first.token().unwrap();
    assert_eq!(rejected.expose_secret(), "tok-1");
    assert_eq!(stored_tokens(dir.path()), 1);
    assert!(first.invalidate(&rejected));
    let clone = first.clone();
    drop(first);
    assert_eq!(
        stored_tokens(dir.path()),
        1,
        "a clone still holds the source"
    );
    drop(clone);
    assert_eq!(
        stored_tokens(dir.path()),
        0,
        "the rejected token is still stored after the drop"
    );
    let next = stored_source(server.base_url(), dir.path())
        .token()
        .unwrap();
    assert_eq!(next.expose_secret(), "tok-2");
    assert_eq!(server.count(), 2);
}

/// Dropped inside a runtime, where it must not block, the last clone still deletes the
/// stored token `invalidate` left to the next fetch, on its own runtime, soon after (the
/// README's promise for a source dropped in a task).
#[cfg(feature = "file-store")]
#[test]
fn the_last_clone_dropped_inside_a_runtime_deletes_the_invalidated_stored_token_soon_after() {
    let (runtime, server) = server(vec![], Reply::token("tok-1", 3600));
    let dir = tempfile::tempdir().unwrap();
    let source = stored_source(server.base_url(), dir.path());
    let rejected = source.token().unwrap();
    assert!(source.invalidate(&rejected));
    runtime.block_on(async move { drop(source) });
    // Generous: left, the entry would live out its hour.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while stored_tokens(dir.path()) > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the rejected token is still stored after the drop"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The same from a thread-local's destructor at thread exit, where Tokio's own
/// thread-locals may be gone already (found by review: `block_on` panicked there, and a
/// panic in a thread-local's destructor aborts the process).
#[cfg(feature = "file-store")]
#[test]
fn a_source_held_in_a_thread_local_deletes_the_invalidated_stored_token_at_thread_exit() {
    use std::cell::RefCell;

    thread_local! {
        static HELD: RefCell<Option<blocking::TokenSource>> = const { RefCell::new(None) };
    }
    let (_runtime, server) = server(
        vec![Reply::token("tok-1", 3600)],
        Reply::token("tok-2", 3600),
    );
    let dir = tempfile::tempdir().unwrap();
    // Joined with `JoinHandle::join`, which returns once the thread, its thread-locals'
    // destructors included, has ended; a scoped thread counts as done before those run.
    let (base_url, path) = (server.base_url().to_owned(), dir.path().to_owned());
    std::thread::spawn(move || {
        // Held before its first use: the thread-local's destructor is registered before
        // Tokio's, so it runs after Tokio's thread-locals are gone.
        HELD.with(|held| {
            *held.borrow_mut() = Some(stored_source(&base_url, &path));
            let held = held.borrow();
            let source = held.as_ref().unwrap();
            let rejected = source.token().unwrap();
            assert!(source.invalidate(&rejected));
        });
    })
    .join()
    .unwrap();
    assert_eq!(
        stored_tokens(dir.path()),
        0,
        "the rejected token is still stored after the thread ended"
    );
    assert_eq!(server.count(), 1);
}

/// A thread's name and id.
type ThreadSeen = (Option<String>, std::thread::ThreadId);

/// A retry sleep that notes the thread it runs on, and returns at once.
#[derive(Debug, Default, Clone)]
struct ThreadNotingSleep(std::sync::Arc<std::sync::Mutex<Vec<ThreadSeen>>>);

impl partner_auth::time::AsyncSleep for ThreadNotingSleep {
    fn sleep(&self, _: Duration) -> partner_auth::time::Sleep {
        let thread = std::thread::current();
        self.0
            .lock()
            .unwrap()
            .push((thread.name().map(str::to_owned), thread.id()));
        partner_auth::time::Sleep::new(std::future::ready(()))
    }
}

/// The module docs: a blocking source's runtime has "one worker thread, named
/// `partner-auth-blocking`", which runs its fetches (their retries seen from the sleeps
/// between them), whichever thread calls.
#[test]
fn its_fetches_run_on_one_thread_named_partner_auth_blocking() {
    let (_runtime, server) = server(
        vec![
            Reply::json(503, serde_json::json!({})),
            Reply::json(503, serde_json::json!({})),
        ],
        Reply::token("tok-1", 3600),
    );
    let sleep = ThreadNotingSleep::default();
    let policy = CachePolicy::default()
        .with_retry(partner_auth::RetryPolicy::default().with_max_attempts(3));
    let source =
        partner_auth::TokenSource::builder(common::client(Provider::Dinie, server.base_url()))
            .policy(policy)
            .sleep(sleep.clone())
            .build()
            .unwrap();
    let source = blocking::TokenSource::with_source(source).unwrap();
    let token = std::thread::scope(|scope| scope.spawn(|| source.token()).join().unwrap());
    assert_eq!(token.unwrap().expose_secret(), "tok-1");
    assert_eq!(server.count(), 3);
    let seen = sleep.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for (name, id) in &seen {
        assert_eq!(name.as_deref(), Some("partner-auth-blocking"), "{seen:?}");
        assert_eq!(*id, seen[0].1, "one thread: {seen:?}");
    }
}
