//! A blocking API (feature `blocking`) for applications without an async runtime, the way
//! `reqwest::blocking` and the `oauth2` crate offer one.
//!
//! [`TokenSource`] and [`Client`] each own a small Tokio runtime (one worker thread, named
//! `partner-auth-blocking`) that runs the requests and the background refreshes; a fresh
//! cached token is answered without waiting on it. They work from plain threads and
//! anywhere on a multi-thread runtime: in `spawn_blocking`, on a worker (which hands its
//! other tasks to another thread while it waits, except under `panic = "abort"`: below), in a `block_on` or a `LocalSet` (the
//! wait blocks that thread; in a `LocalSet`'s tasks Tokio refuses to hand the thread over
//! with a panic that is caught, though the standard panic hook still prints its
//! message). On a current-thread runtime, where blocking would stall the only
//! thread and could deadlock, they return an
//! [`ErrorKind::Configuration`](crate::ErrorKind::Configuration) error instead of
//! panicking; Tokio does not tell its `spawn_blocking` threads apart from the runtime's
//! own, so those get the error too. Use the async [`crate::TokenSource`] there. Called
//! from a thread-local's destructor, after Tokio's own thread-locals are gone, a call
//! waits for its work on a thread of its own (where Tokio can no longer park this one,
//! its panic is caught, and the standard panic hook prints its message). Built with
//! `panic = "abort"`, where no panic can be caught, a call that has to wait never tries
//! what Tokio may refuse: it waits for its work on a thread of its own, from any thread
//! (a worker's other tasks then wait for it too, or for another worker to take them).
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let runtime = tokio::runtime::Runtime::new()?;
//! # let sandbox = runtime.block_on(partner_sandbox::Sandbox::start())?;
//! # let endpoint = sandbox.endpoint(partner_auth::Provider::Tradevest);
//! # let client = partner_auth::Client::builder(partner_auth::Provider::Tradevest)
//! #     .base_url(&endpoint.base_url)
//! #     .credentials(partner_auth::Credentials::new(endpoint.client_id, endpoint.client_secret))
//! #     .build()?;
//! let source = partner_auth::blocking::TokenSource::new(client)?;
//! let token = source.token()?; // blocks for the one request
//! assert!(token.same_as(&source.token()?)); // from the cache
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;

use futures_util::FutureExt as _;

use crate::store::tracker::{self, Tracker};
use crate::{AccessToken, CachePolicy, Error, Stats};

/// A [`crate::Client`] for code without an async runtime: one token request per call.
#[derive(Clone, Debug)]
pub struct Client {
    client: crate::Client,
    runtime: Arc<OwnedRuntime>,
}

impl Client {
    /// Wraps `client` with a runtime of its own.
    pub fn new(client: crate::Client) -> Result<Self, Error> {
        Ok(Self {
            client,
            runtime: Arc::new(OwnedRuntime::start(None)?),
        })
    }

    /// Sends one token request (see [`crate::Client::fetch_token`]) and waits for it.
    pub fn fetch_token(&self) -> Result<AccessToken, Error> {
        self.runtime.run(self.client.fetch_token())
    }

    /// The async client inside.
    pub fn as_async(&self) -> &crate::Client {
        &self.client
    }
}

/// A [`crate::TokenSource`] for code without an async runtime. Cheap to clone; clones share
/// the cache and the runtime, which shuts down when the last clone is dropped.
///
/// With a store, dropping the last clone first stops the fetch its calls started, ends the
/// lease that fetch held, and deletes the stored token that
/// [`invalidate`](Self::invalidate) left to the next fetch, so that other processes
/// neither wait out the lease nor adopt that token. Outside any runtime, the dropping
/// thread waits for this, at most the store's operation timeout (longer only for a store
/// that blocks inside `poll`, which no timer can cut short); inside one, where it must not
/// block, a thread of its own waits, then shuts the runtime down. A fetch that a clone of
/// the [async source](Self::as_async) started on another runtime is neither stopped nor
/// waited for; one this source's calls started is stopped even if such a clone awaits it
/// too, and that clone's call then fetches again. Store work still under way after the
/// timeout goes with the runtime; a lease it took is then ended on a thread of its own, not
/// waited for, or lasts its time to live (`FileStore` at least takes none for a call that
/// has gone).
#[derive(Clone, Debug)]
pub struct TokenSource {
    inner: Arc<Owned>,
}

#[derive(Debug)]
struct Owned {
    // Dropped first: the source's fetches run on the runtime.
    source: crate::TokenSource,
    runtime: OwnedRuntime,
    /// Counts the store tasks its calls and its runtime spawn (not its async clones').
    tracker: Arc<Tracker>,
}

/// Whether a panic can be caught here. With `panic = "abort"` none can: the waits that Tokio
/// may refuse with a panic (blocking on this thread, `block_in_place`) are not tried, and the
/// work goes on on a thread of its own while this one waits.
const CATCHES_PANICS: bool = cfg!(panic = "unwind");

/// A runtime that shuts down in the background when dropped, wherever that happens.
#[derive(Debug)]
struct OwnedRuntime(Option<tokio::runtime::Runtime>);

impl TokenSource {
    /// A blocking token source for `client` with the default [`CachePolicy`].
    pub fn new(client: crate::Client) -> Result<Self, Error> {
        Self::with_source(crate::TokenSource::new(client))
    }

    /// A blocking token source for `client` with `policy` (checked here).
    pub fn with_policy(client: crate::Client, policy: CachePolicy) -> Result<Self, Error> {
        Self::with_source(crate::TokenSource::builder(client).policy(policy).build()?)
    }

    /// Wraps an async source configured with its builder (clock, sleep, policy); the
    /// wrapper's runtime runs its fetches.
    pub fn with_source(source: crate::TokenSource) -> Result<Self, Error> {
        let tracker = Arc::default();
        Ok(Self {
            inner: Arc::new(Owned {
                source,
                runtime: OwnedRuntime::start(Some(&tracker))?,
                tracker,
            }),
        })
    }

    /// A valid token (see [`crate::TokenSource::token`]): at once while the cached one is
    /// fresh, otherwise after the shared fetch.
    pub fn token(&self) -> Result<AccessToken, Error> {
        self.inner.run(self.inner.source.token())
    }

    /// Fetches a new token now (see [`crate::TokenSource::refresh`]).
    pub fn refresh(&self) -> Result<AccessToken, Error> {
        self.inner.run(self.inner.source.refresh())
    }

    /// Drops `token` if it is still the cached one (see
    /// [`crate::TokenSource::invalidate`]).
    pub fn invalidate(&self, token: &AccessToken) -> bool {
        self.inner.source.invalidate(token)
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.inner.source.stats()
    }

    /// The async source inside, sharing this one's cache.
    pub fn as_async(&self) -> &crate::TokenSource {
        &self.inner.source
    }
}

impl OwnedRuntime {
    /// A runtime whose threads count their store tasks with `tracker`, if given.
    fn start(tracker: Option<&Arc<Tracker>>) -> Result<Self, Error> {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if let Some(tracker) = tracker {
            let tracker = Arc::clone(tracker);
            builder.on_thread_start(move || tracker::on_this_thread(&tracker));
        }
        builder
            .worker_threads(1)
            .thread_name("partner-auth-blocking")
            .enable_all()
            .build()
            .map(|runtime| Self(Some(runtime)))
            .map_err(|e| Error::configuration(format!("could not start the token runtime: {e}")))
    }

    /// Runs `work` to completion on this runtime, from whatever thread calls.
    fn run<T: Send>(
        &self,
        work: impl std::future::Future<Output = Result<T, Error>> + Send,
    ) -> Result<T, Error> {
        let caller = tokio::runtime::Handle::try_current();
        if let Ok(caller) = &caller
            && caller.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread
        {
            return Err(Error::configuration(
                "the partner_auth::blocking API was called on a current-thread Tokio \
                 runtime, whose only thread it would block (and could deadlock)",
            )
            .with_hint("use the async API there (TokenSource, Client) and .await it"));
        }
        let runtime = self
            .0
            .as_ref()
            .ok_or_else(|| Error::configuration("the token runtime has shut down"))?;
        let mut work = std::pin::pin!(work);
        // In a thread-local's destructor after Tokio's own are gone, this thread can enter
        // no runtime: the work goes on on a thread of its own (below).
        let gone = matches!(&caller, Err(e) if e.is_thread_local_destroyed());
        // A fresh cached token is ready at the first poll: no waiting, no thread. What the
        // poll starts (a fetch, a background refresh) is spawned on this runtime.
        if !gone {
            let _entered = runtime.enter();
            let mut context = std::task::Context::from_waker(std::task::Waker::noop());
            if let std::task::Poll::Ready(result) = work.as_mut().poll(&mut context) {
                return result;
            }
        }
        if CATCHES_PANICS && caller.is_err() && !gone {
            // A plain thread: wait on it. Tokio panics where it cannot park this thread (in
            // a thread-local's destructor, after its parker is gone): the work, caught
            // apart, goes on on a thread of its own, as below.
            let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                runtime.block_on(std::panic::AssertUnwindSafe(work.as_mut()).catch_unwind())
            }));
            match waited {
                Ok(Ok(result)) => return result,
                Ok(Err(panic)) => std::panic::resume_unwind(panic),
                Err(_cannot_park) => {}
            }
        }
        // Inside a runtime's context Tokio refuses `block_on`. In a task (a worker's, or
        // `spawn_blocking`) `block_in_place` allows it, handing a worker's other tasks to
        // another thread first. Tokio refuses that too where the thread runs a `LocalSet`
        // or a current-thread runtime (a multi-thread handle entered there): it panics
        // before running the closure, and the work goes on on a thread of its own, as it
        // does outside any task (a `block_on`'s future, a `LocalSet::run_until`), while
        // this thread waits for it.
        if CATCHES_PANICS && tokio::task::try_id().is_some() {
            let mut started = false;
            let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                tokio::task::block_in_place(|| {
                    started = true;
                    runtime.block_on(work.as_mut())
                })
            }));
            match attempt {
                Ok(result) => return result,
                Err(panic) if started => std::panic::resume_unwind(panic),
                Err(_refused) => {}
            }
        }
        std::thread::scope(|scope| {
            scope
                .spawn(|| runtime.block_on(work))
                .join()
                .unwrap_or_else(|_| {
                    Err(Error::new(
                        crate::ErrorKind::Internal,
                        "the blocking token call's thread panicked; this is a bug in \
                         partner-auth or in an injected clock or sleep",
                    ))
                })
        })
    }
}

impl Owned {
    /// Runs one of the source's calls on the runtime, its store tasks counted (with a
    /// store: without one, nothing is left to finish at the drop).
    fn run<T: Send>(
        &self,
        call: impl std::future::Future<Output = Result<T, Error>> + Send,
    ) -> Result<T, Error> {
        if self.source.store_key().is_some() {
            let counted = tracker::counting(&self.tracker, call);
            self.runtime.run(counted)
        } else {
            self.runtime.run(call)
        }
    }
}

impl Drop for Owned {
    /// With a store, the runtime does not go before the store work its tasks leave: the
    /// fetch this wrapper's calls started is stopped, and the lease it held ended, and a
    /// stored token that `invalidate` left to the next fetch is deleted, all within the
    /// store's operation timeout (for a store that does not block inside `poll`). Outside
    /// any runtime, the dropping thread waits for that; inside one, where it must not
    /// block, it does not wait. Either way a thread of its own runs it, then shuts the
    /// runtime down: this thread may be a thread-local's destructor, after Tokio's own
    /// thread-locals for blocking on a runtime are gone.
    fn drop(&mut self) {
        let Some(settle) = self.source.stop_for_shutdown(&self.tracker) else {
            return;
        };
        let runtime = std::mem::replace(&mut self.runtime, OwnedRuntime(None));
        let settle_then_shut_down = move || {
            if let Some(tokio_runtime) = &runtime.0 {
                tokio_runtime.block_on(settle);
            }
            drop(runtime);
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            // If no thread can be started, the closure is dropped and the runtime with
            // it, in the background: a lease then expires.
            let _ = std::thread::Builder::new()
                .name("partner-auth-shutdown".into())
                .spawn(settle_then_shut_down);
        } else {
            std::thread::scope(|scope| {
                let _ = scope.spawn(settle_then_shut_down).join();
            });
        }
    }
}

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        // Dropping a runtime where blocking is not allowed panics: let it go in the
        // background instead.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}
