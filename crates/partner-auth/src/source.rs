//! [`TokenSource`]: a cached token for one client, fetched once for any number of callers
//! and refreshed before it expires.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use futures_util::FutureExt as _;
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tracing::Instrument as _;

use crate::policy::CachePolicy;
use crate::stats::{Counter, Counters, Stats};
use crate::store::shared::{Shared, Want};
use crate::store::{StorePolicy, TokenStore};
use crate::store::{seal, tracker};
use crate::sync::lock;
use crate::time::{AsyncSleep, Clock, Nanos, TimeSource, TokioTime};
use crate::{AccessToken, Client, Error, ErrorKind};

mod store_read;

/// Hands out a valid token for one [`Client`], asking the provider as rarely as possible.
///
/// Ask it for a token before every API call; it makes that free:
///
/// - **Read path.** While the cached token is fresh, [`token`](Self::token) takes no lock
///   and awaits nothing: one atomic load, a clock read, a thread-local read (on a
///   thread's first call, it takes the thread's number), one reference-count increment.
///   The cached token is held in 8 replicas (the secret once), and a thread clones the
///   one of its number: the first 32 threads alive at once get numbers of their own
///   (threads 8 apart share a replica), later ones share the first. So threads reading one
///   token mostly increment counts on different cache lines instead of contending for
///   one. Every copy is the same token ([`AccessToken::same_as`]), and any copy
///   [invalidates](Self::invalidate) it.
/// - **Single flight.** Any number of concurrent callers that find no usable token share
///   one request to the token endpoint. It runs in its own task: a caller that gives up
///   cancels nothing for the others; a failure reaches every waiter; the next call after
///   it tries again. A fetch whose task is gone (its runtime shut down) is replaced by the
///   next caller, and so is one that has run longer than any fetch can (its retries'
///   deadline, every attempt's request timeout, a store's lease wait and a second: its runtime no longer
///   runs it, a current-thread runtime that nothing blocks on) by a caller waiting on it
///   from another runtime (on Tokio's timer, where that runtime has one, and in real
///   time: a paused runtime's clock jumping ahead does not count);
///   a fetch that panics is recorded as an [`ErrorKind::Internal`] failure.
/// - **Refresh ahead.** In the refresh window before expiry (by default the smaller of
///   5 minutes and 20 % of the lifetime, plus jitter) the first caller starts one
///   background refresh and every caller keeps getting the current token at once. A failed
///   refresh is retried with backoff (from the failure cool-down, doubling up to a
///   minute) while the current token stays valid; past expiry
///   (minus a small margin) callers wait for the single fetch.
/// - **Lifetimes** are applied from when the request was sent, on this source's clock; a
///   token that is unusable on arrival (expired in transit, or by its own JWT) is an
///   [`ErrorKind::InvalidResponse`] failure, not a success. The default clock is the
///   coarse monotonic one, which on Linux does not count a system suspend: after one past
///   a token's expiry, the token can be handed out for what was left of its lifetime.
/// - **Retries** of retryable failures only, with backoff, the provider's `retry_after`
///   honoured, within a deadline ([`RetryPolicy`](crate::RetryPolicy)). After a failure,
///   callers (of [`refresh`](Self::refresh) too) get the same error during a cool-down
///   instead of a new request: a short one, or as long as the provider asked to wait, up
///   to an hour.
///   With a store, a failure the provider answered (a refusal, a rate limit, a 5xx) is
///   shared for its cool-down: the processes that then take the store's lease get that
///   error instead of asking again, so a fleet learns a rate limit from one request.
/// - [`invalidate`](Self::invalidate) drops a token the API rejected, once, however many
///   callers report it; once it has returned, no later `token()` call returns that token.
/// - **Ownership.** Dropping the last clone stops any fetch or retry under way.
/// - **Sharing.** With a [store](TokenSourceBuilder::store), misses and refreshes go
///   through it first, so a fleet of processes makes one token request per credential
///   (see [`store`](crate::store)); during a failure's cool-down, a miss still looks there
///   once per `failure_cooldown`, and a token another process stored ends it. On a miss, one caller at a time reads the store in its
///   own task before joining the shared fetch; no caller ever waits for another's read.
///
/// Cheap to clone; clones share the cache. `token()` and `refresh()` need a Tokio runtime
/// (without one they return an [`ErrorKind::Configuration`] error).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use partner_auth::{CachePolicy, Provider, TokenSource};
/// # let sandbox = partner_sandbox::Sandbox::start().await?;
/// # let endpoint = sandbox.endpoint(Provider::Tradevest);
/// # let client = partner_auth::Client::builder(Provider::Tradevest)
/// #     .base_url(&endpoint.base_url)
/// #     .credentials(partner_auth::Credentials::new(endpoint.client_id, endpoint.client_secret))
/// #     .build()?;
///
/// let source = TokenSource::builder(client)
///     .policy(CachePolicy::default().with_failure_cooldown(Duration::from_secs(5)))
///     .build()?;
/// let token = source.token().await?; // one request
/// let again = source.token().await?; // from the cache
/// assert!(token.same_as(&again));
/// assert_eq!(source.stats().token_requests, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

/// Configures a [`TokenSource`]; from [`TokenSource::builder`].
#[must_use]
#[derive(Debug)]
pub struct TokenSourceBuilder {
    client: Client,
    policy: CachePolicy,
    time: Option<Arc<dyn TimeSource>>,
    sleep: Arc<dyn AsyncSleep>,
    store: Option<Arc<dyn TokenStore>>,
    store_policy: StorePolicy,
}

struct Inner {
    client: Client,
    policy: CachePolicy,
    clock: Clock,
    sleep: Arc<dyn AsyncSleep>,
    current: ArcSwapOption<Cached>,
    flight: Mutex<Option<Flight>>,
    failure: ArcSwapOption<Failure>,
    counters: Counters,
    /// The level-2 cache, if any.
    shared: Option<Arc<Shared>>,
    /// A caller is reading the store itself (see `read_store`).
    reading: AtomicBool,
    /// A caller's own store read was abandoned (its caller gave up): until the next token
    /// is cached, misses go straight to the shared fetch, so they cannot starve.
    skip_read: AtomicBool,
    /// The longest a fetch can take ([`longest_fetch`]), if bounded: a flight that has not
    /// ended by then is no longer run by its runtime, and a caller waiting on it replaces it.
    longest_fetch: Option<Duration>,
}

/// How many replicas of a cached token the read path spreads its clones over: 256 bytes
/// each (the reference counts on a cache line of their own), the secret not copied (an
/// environment name or token type that is not a constant is), built once per token.
const REPLICAS: usize = 8;

/// A cached token with its schedule on the source's clock.
struct Cached {
    /// The token as it arrived, then [`REPLICAS`]` - 1` copies in allocations of their
    /// own, read by thread stripe: threads reading one cached token clone it on different
    /// cache lines instead of all contending for one reference count.
    replicas: [AccessToken; REPLICAS],
    refresh_from: Nanos,
    usable_until: Nanos,
    refresh_started: AtomicBool,
    /// The token as the store holds it, if it went through one.
    sealed: Option<Arc<[u8]>>,
}

impl Cached {
    /// The token as it arrived (the first replica).
    fn token(&self) -> &AccessToken {
        &self.replicas[0]
    }
}

/// A token a flight got, with its schedule on the source's clock.
pub(crate) struct Arrival {
    pub(crate) token: AccessToken,
    pub(crate) refresh_from: Nanos,
    pub(crate) usable_until: Nanos,
    pub(crate) sealed: Option<Arc<[u8]>>,
    /// Read from the store (a store hit once cached), not fetched here.
    pub(crate) from_store: bool,
}

/// The last failed fetch.
pub(super) struct Failure {
    error: Error,
    /// Callers get `error` until then.
    pub(super) cooldown_until: Nanos,
    /// A background refresh may start again from then.
    retry_refresh_at: Nanos,
    /// During the cool-down, a caller's miss may look at the store (where another process
    /// may have put a token) from then; each look puts it one `failure_cooldown` later.
    pub(super) store_look_at: AtomicU64,
    consecutive: u32,
}

impl Failure {
    /// The error as a caller in the cool-down gets it: a wait the provider asked for is
    /// counted down, to what is left of the cool-down it set.
    fn served(&self, now: Nanos) -> Error {
        match self.error.retry_after() {
            Some(_) => {
                let left = Duration::from_nanos(self.cooldown_until.saturating_sub(now));
                self.error.clone().with_retry_after(Some(left))
            }
            None => self.error.clone(),
        }
    }
}

type Outcome = Option<Result<AccessToken, Error>>;

/// Who starts a flight: a caller that waits for it (the flight's span is a child of the
/// caller's), or a background refresh that nobody waits for (a span of its own, which
/// follows from the caller's: as its child, it kept the caller's span open until the
/// refresh ended, and exporters measured that request as lasting as long; found by review).
#[derive(Clone, Copy)]
enum Starter {
    Waiting,
    Background,
}

/// The fetch in progress: its waiters watch for the outcome.
#[derive(Clone)]
struct Flight {
    id: u64,
    outcome: watch::Receiver<Outcome>,
    task: Option<AbortHandle>,
    /// When its task was spawned (in real time: the clock of the runtime it runs on, if
    /// paused, may jump, and means nothing on another), and on which runtime (`None` for
    /// an outcome already known).
    started: Option<std::time::Instant>,
    runtime: Option<tokio::runtime::Id>,
    /// The blocking source whose call started it (its task runs on that source's runtime).
    #[cfg(feature = "blocking")]
    tracker: Option<Arc<tracker::Tracker>>,
    /// Its `token_fetch` span, which a caller joining it follows from.
    span: tracing::Span,
}

impl TokenSource {
    /// A token source for `client` with the default [`CachePolicy`] and clock.
    pub fn new(client: Client) -> Self {
        Inner::source(
            client,
            CachePolicy::default(),
            Clock::System,
            Arc::new(TokioTime),
            None,
        )
    }

    /// Starts configuring a token source for `client`: its policy, clock and sleep.
    pub fn builder(client: Client) -> TokenSourceBuilder {
        TokenSourceBuilder {
            client,
            policy: CachePolicy::default(),
            time: None,
            sleep: Arc::new(TokioTime),
            store: None,
            store_policy: StorePolicy::default(),
        }
    }

    /// A valid token: the cached one while it is fresh, otherwise the result of the one
    /// fetch all concurrent callers share.
    #[inline]
    pub async fn token(&self) -> Result<AccessToken, Error> {
        if let Some(token) = self.inner.cached_token() {
            return Ok(token);
        }
        self.inner.counters.add(Counter::Miss);
        // Boxed: the read path's future stays a few words, whatever a miss needs.
        Box::pin(self.inner.miss()).await
    }

    /// Gets a new token now (sharing a fetch already under way), whatever the cache holds,
    /// and caches it. With a [store](TokenSourceBuilder::store), a token another process
    /// already put there in place of the current one counts as new. During the cool-down
    /// after a failure it returns that failure instead of asking again (a rate limit's
    /// wait counted down), as `token()` does.
    pub async fn refresh(&self) -> Result<AccessToken, Error> {
        self.inner.fetch(true, false).await
    }

    /// Drops `token` from the cache if it is still the cached one (the same token, or the
    /// same secret read from a store), and says whether it was. Call it when an API answers
    /// 401 to `token`: fifty concurrent 401s for the same token drop it once, and the next
    /// `token()` calls share one fetch. Once any
    /// `invalidate(&token)` has returned, no `token()` call that starts afterwards returns
    /// `token` (with a store, which may answer with an old entry, the source remembers the
    /// last 1,024 tokens it invalidated, each until a minute after it expires: each one
    /// is a fetch, so more within a token's lifetime would be a fetch storm). With a
    /// [store](TokenSourceBuilder::store), the stored copy is deleted too
    /// (only if it is still `token`): before this source next reads the store, or, if the
    /// source is dropped first, by a task spawned on the runtime it is dropped on (one
    /// attempt within the store's operation timeout). That task is not waited for: a
    /// runtime shut down right after may never run it, another source may read the store
    /// before it lands, and without a runtime, or while the store is failing, there is
    /// none; the entry then lives out its time to live. A token whose write failed is
    /// deleted too (the write may have landed). A delete that fails is tried again at this
    /// source's next fetches, until one works, a token it writes replaces the entry, or the
    /// token's end of use is a minute past; meanwhile it reads past the rejected token,
    /// never adopting it. (The blocking API's source makes
    /// the attempt on its own runtime before that shuts down; dropped outside any runtime,
    /// its drop waits for it.)
    pub fn invalidate(&self, token: &AccessToken) -> bool {
        // With a store, under the flight lock: a caller caching what it read from the
        // store (see `Inner::read_store`) does so under it too, after checking the tokens
        // invalidated here, so it cannot put `token` back once this has returned.
        let slot = self.inner.shared.as_ref().map(|shared| {
            let slot = lock(&self.inner.flight);
            shared.forget(token);
            slot
        });
        let current = self.inner.current.load();
        let Some(cached) = current.as_ref() else {
            return false;
        };
        // The same token, or the same secret read from the store (another process's copy).
        if !cached.token().same_as(token) && cached.token().expose_secret() != token.expose_secret()
        {
            return false;
        }
        let previous = self.inner.current.compare_and_swap(&*current, None);
        let dropped = matches!((&*previous, &*current), (Some(p), Some(c)) if Arc::ptr_eq(p, c));
        drop(slot);
        if dropped {
            if let (Some(shared), Some(sealed)) = (&self.inner.shared, &cached.sealed) {
                shared.delete_before_next_read(sealed, cached.usable_until, &self.inner.clock);
            }
            self.inner.counters.add(Counter::Invalidation);
            #[cfg(feature = "metrics")]
            crate::observe::invalidation(&self.inner.client);
            tracing::info!(
                provider = %self.inner.client.provider(),
                environment = self.inner.client.environment(),
                "cached token invalidated"
            );
        }
        dropped
    }

    /// For a blocking source about to shut down its runtime, whose calls counted their
    /// tasks with `tracker`: stops the fetch one of them started, and returns the store
    /// work to finish on that runtime first, bounded by the store's operation timeout: the
    /// delete [`invalidate`](Self::invalidate) left to the next fetch, and every task
    /// `tracker` counts (the stopped fetch's lease release among them). `None` without a
    /// store.
    #[cfg(feature = "blocking")]
    pub(crate) fn stop_for_shutdown(
        &self,
        tracker: &Arc<tracker::Tracker>,
    ) -> Option<impl std::future::Future<Output = ()> + Send + 'static> {
        let shared = self.inner.shared.as_ref()?;
        let ours = |f: &&Flight| f.tracker.as_ref().is_some_and(|t| Arc::ptr_eq(t, tracker));
        if let Some(task) = lock(&self.inner.flight)
            .as_ref()
            .filter(ours)
            .and_then(|f| f.task.clone())
        {
            task.abort();
        }
        let delete = shared.take_pending_delete(self.inner.clock.now());
        let (timeout, tracker) = (shared.policy().operation_timeout, Arc::clone(tracker));
        Some(async move {
            let delete = async {
                if let Some(delete) = delete {
                    delete.await;
                }
            };
            let work = futures_util::future::join(delete, tracker.settled());
            let _ = tokio::time::timeout(timeout, work).await;
        })
    }

    /// The cached token, if any, without fetching (it may be in its refresh window or
    /// expired).
    pub fn cached(&self) -> Option<AccessToken> {
        self.inner
            .current
            .load()
            .as_ref()
            .map(|c| c.token().clone())
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.inner.counters.snapshot()
    }

    /// The client tokens are fetched with.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Whether another handle to this source exists (a clone, or a task of the source's
    /// own for the moment it looks at it): for [`TokenCache`](crate::TokenCache), which
    /// does not count such a source as idle.
    pub(crate) fn has_other_handles(&self) -> bool {
        Arc::strong_count(&self.inner) > 1
    }

    /// The policy in force.
    pub fn policy(&self) -> &CachePolicy {
        &self.inner.policy
    }

    /// The key this source's credential has in its [store](TokenSourceBuilder::store)
    /// (64 hex digits, a hash that names nothing), or `None` without a store: to find or
    /// delete its entry by hand.
    pub fn store_key(&self) -> Option<&str> {
        self.inner.shared.as_deref().map(Shared::key)
    }
}

impl TokenSourceBuilder {
    /// When to refresh and how to retry (default [`CachePolicy::default`]); checked by
    /// [`build`](Self::build).
    pub fn policy(mut self, policy: CachePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The clock lifetimes, deadlines and cool-downs are measured on (default: the system's
    /// monotonic clock; [`TokioTime`] follows Tokio's paused time in tests).
    pub fn time_source(mut self, time: impl TimeSource) -> Self {
        self.time = Some(Arc::new(time));
        self
    }

    /// How retries wait (default [`TokioTime`]).
    pub fn sleep(mut self, sleep: impl AsyncSleep) -> Self {
        self.sleep = Arc::new(sleep);
        self
    }

    /// A level-2 cache shared with other processes (see [`store`](crate::store)): on a
    /// miss or refresh the source reads it first, and one process per credential fetches
    /// while the others wait for its token. A fresh token is still answered from memory.
    pub fn store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// How the store is used (default [`StorePolicy::default`]); checked by
    /// [`build`](Self::build).
    pub fn store_policy(mut self, policy: StorePolicy) -> Self {
        self.store_policy = policy;
        self
    }

    /// Checks the policies ([`CachePolicy::validate`], [`StorePolicy::validate`]) and
    /// builds the source.
    pub fn build(self) -> Result<TokenSource, Error> {
        self.policy.validate()?;
        self.store_policy.validate()?;
        Ok(self.build_prevalidated())
    }

    /// The clock as given, for a cache building many sources.
    pub(crate) fn with_clock(mut self, time: Option<Arc<dyn TimeSource>>) -> Self {
        self.time = time;
        self
    }

    /// The sleep as given, for a cache building many sources.
    pub(crate) fn with_sleep(mut self, sleep: Arc<dyn AsyncSleep>) -> Self {
        self.sleep = sleep;
        self
    }

    /// Builds with a policy the caller has already validated.
    pub(crate) fn build_prevalidated(self) -> TokenSource {
        let clock = match self.time {
            Some(time) => Clock::custom(time),
            None => Clock::System,
        };
        let shared = self
            .store
            .map(|store| Arc::new(Shared::new(store, self.store_policy, &self.client)));
        Inner::source(self.client, self.policy, clock, self.sleep, shared)
    }
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("client", &self.inner.client)
            .field("cached", &self.cached())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Inner {
    fn source(
        client: Client,
        policy: CachePolicy,
        clock: Clock,
        sleep: Arc<dyn AsyncSleep>,
        shared: Option<Arc<Shared>>,
    ) -> TokenSource {
        let longest_fetch = longest_fetch(&client, &policy, shared.as_deref());
        TokenSource {
            inner: Arc::new(Inner {
                client,
                policy,
                clock,
                sleep,
                current: ArcSwapOption::empty(),
                flight: Mutex::new(None),
                failure: ArcSwapOption::empty(),
                counters: Counters::default(),
                shared,
                reading: AtomicBool::new(false),
                skip_read: AtomicBool::new(false),
                longest_fetch,
            }),
        }
    }

    /// The read path: the cached token if it is usable; in the refresh window it also
    /// starts the background refresh (once).
    #[inline]
    fn cached_token(self: &Arc<Self>) -> Option<AccessToken> {
        // The clock before the load: the token is judged at an instant just before it is
        // read, as a caller descheduled after the check holds a token judged earlier
        // still. On two workers under 1,000 tasks this order measured 1.3× the floor,
        // against 2.0× with the clock read between the load and the clone (BENCHMARKS.md).
        let now = self.clock.now();
        let guard = self.current.load();
        let cached = guard.as_ref()?;
        let stripe = crate::stats::this_stripe();
        let replica = &cached.replicas[stripe % REPLICAS];
        if now < cached.refresh_from {
            self.counters.hit(stripe);
            return Some(replica.clone());
        }
        if now >= cached.usable_until {
            return None;
        }
        self.counters.hit(stripe);
        self.refresh_in_background(cached, now);
        Some(replica.clone())
    }

    fn refresh_in_background(self: &Arc<Self>, cached: &Cached, now: Nanos) {
        if cached.refresh_started.load(Ordering::Relaxed) {
            return;
        }
        if let Some(failure) = self.failure.load().as_ref()
            && now < failure.retry_refresh_at
        {
            return;
        }
        if cached.refresh_started.swap(true, Ordering::AcqRel) {
            return;
        }
        // The flight's outcome lands in the cache; nobody waits for it here. Without a
        // runtime to run it on, the current token is still served, and the next caller
        // past the window fetches. Counted only when it starts a fetch: joining one under
        // way (a `refresh()`'s) starts none.
        match self.join_or_start(true, false, Starter::Background) {
            Ok((_, true)) => {
                self.counters.add(Counter::Refresh);
                tracing::debug!(
                    provider = %self.client.provider(),
                    environment = self.client.environment(),
                    "started a background refresh"
                );
            }
            Ok((_, false)) => {}
            Err(error) => {
                cached.refresh_started.store(false, Ordering::Release);
                tracing::debug!(%error, "background refresh not started");
            }
        }
    }

    /// Waits for the shared fetch, starting one if none is under way. A fetch whose task
    /// vanished without an outcome (its runtime shut down), or that has run longer than any
    /// fetch can (its runtime no longer runs it), is replaced, a few times at most.
    async fn fetch(self: &Arc<Self>, force: bool, store_empty: bool) -> Result<AccessToken, Error> {
        // Whether a fetch this call started, on its own runtime, vanished: only that says
        // this runtime is at fault. Fetches it joined that vanished ran on other runtimes
        // (one per job, shut down), which says nothing of this one.
        let mut own_vanished = false;
        for _ in 0..ABANDONED_FLIGHT_RETRIES {
            let (flight, started) = self.join_or_start(force, store_empty, Starter::Waiting)?;
            if !started {
                // Joined: the caller's span follows from the fetch it waits for.
                tracing::Span::current().follows_from(&flight.span);
            }
            // A flight on the runtime polling this call runs while this call waits. One on
            // another runtime may be on one that no longer runs it: wait no longer than any
            // fetch can take.
            let elsewhere = flight.runtime.is_some_and(|runtime| {
                tokio::runtime::Handle::try_current().map_or(true, |here| here.id() != runtime)
            });
            let bound = match (self.longest_fetch, flight.started) {
                (Some(longest), Some(started)) if elsewhere => Some((started, longest)),
                _ => None,
            };
            let outcome = match bound {
                Some((started, longest)) => self.wait_at_most(flight, started, longest).await,
                None => flight.wait().await,
            };
            if let Some(outcome) = outcome {
                return outcome;
            }
            own_vanished |= started;
        }
        if !own_vanished {
            // Found by review: a call on a healthy runtime that joined, three times, a
            // fetch started on a runtime that then shut down was told to fix its own.
            return Err(Error::new(
                ErrorKind::Connection,
                "the token fetches this call joined ended without a result several times: \
                 the Tokio runtimes they ran on (other callers') shut down",
            )
            .with_hint("retry: this call's own runtime can run a fetch")
            .at(
                self.client.provider(),
                self.client.environment().to_owned().into(),
            ));
        }
        // Not a network failure (found by an application's review: a `Connection` error,
        // retryable, sent the caller to check the base URL and DNS): the runtime this call
        // spawns its fetch on has shut down, or does not run it.
        Err(Error::configuration(
            "the token fetch task ended without a result several times: the Tokio runtime \
             this call runs on has shut down, or does not run the tasks it spawns",
        )
        .with_hint(
            "call it from a running Tokio runtime (a Handle kept past its runtime's shutdown \
             spawns nothing)",
        )
        .at(
            self.client.provider(),
            self.client.environment().to_owned().into(),
        ))
    }

    /// Joins the fetch in flight or starts one, and says whether it started one. Unless
    /// `force`, a usable token cached in the meantime answers instead; forced or not, a
    /// failure in its cool-down does. `store_empty`: this caller has just found the store
    /// empty, so a new flight goes straight to the lease.
    fn join_or_start(
        self: &Arc<Self>,
        force: bool,
        store_empty: bool,
        starter: Starter,
    ) -> Result<(Flight, bool), Error> {
        let mut slot = lock(&self.flight);
        if let Some(flight) = slot.as_ref() {
            if flight.is_alive() {
                return Ok((flight.clone(), false));
            }
            // Its task is gone without an outcome: replace it.
            *slot = None;
        }
        if !force && let Some(token) = self.usable_now() {
            return Ok((Flight::done(Ok(token)), false));
        }
        // Forced or not: a refresh asked for during the cool-down would only repeat the
        // request the provider just refused (or asked us to hold back).
        if let Some(failure) = self.failure.load().as_ref() {
            let now = self.clock.now();
            if now < failure.cooldown_until {
                self.counters.add(Counter::CooldownRejection);
                return Err(failure.served(now));
            }
        }
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::runtime("TokenSource needs a Tokio runtime to fetch a token"))?;
        let (sender, outcome) = watch::channel(None);
        let id = next_flight_id();
        let guard = FlightGuard {
            inner: Arc::downgrade(self),
            id,
            sender: Some(sender),
        };
        let mut fetch = self.plan(self.want(force));
        fetch.store_empty = store_empty;
        let span = match starter {
            Starter::Waiting => tracing::info_span!(
                "token_fetch",
                provider = %self.client.provider(),
                environment = self.client.environment(),
                refresh = self.current.load().is_some(),
                attempts = tracing::field::Empty,
                outcome = tracing::field::Empty,
            ),
            Starter::Background => {
                let span = tracing::info_span!(
                    parent: None,
                    "token_fetch",
                    provider = %self.client.provider(),
                    environment = self.client.environment(),
                    refresh = true,
                    attempts = tracing::field::Empty,
                    outcome = tracing::field::Empty,
                );
                span.follows_from(tracing::Span::current());
                span
            }
        };
        let flight = Flight {
            id,
            outcome,
            task: None,
            started: Some(std::time::Instant::now()),
            runtime: Some(runtime.id()),
            #[cfg(feature = "blocking")]
            tracker: self.shared.as_ref().and_then(|_| tracker::current()),
            span: span.clone(),
        };
        *slot = Some(flight.clone());
        // Spawn without the lock: on a runtime that has shut down, `spawn` drops the task
        // (and its guard, which takes the lock to clear the slot) before returning.
        drop(slot);
        // The guard lives in the task from the start: if the task is dropped before it
        // ever runs, the guard still clears the slot.
        let work = async move {
            let result = AssertUnwindSafe(fetch.run()).catch_unwind().await;
            guard.finish(result);
        }
        .instrument(span);
        // With a store, counted under a blocking source's call: it lets the flight end its
        // lease before its runtime goes.
        let task = match &self.shared {
            Some(_) => tracker::spawn(&runtime, work),
            None => runtime.spawn(work),
        };
        let mut slot = lock(&self.flight);
        if let Some(current) = slot.as_mut().filter(|f| f.id == id) {
            current.task = Some(task.abort_handle());
        }
        Ok((flight, true))
    }

    /// The flight's outcome, or `None` once it ended without one or it has run `longest`
    /// since `started` (then it is [abandoned](Self::abandon)). On Tokio's timer, as the
    /// HTTP client's timeouts are: the injected sleep is for back-offs (a test's instant
    /// sleep would end every wait at once). On a runtime without timers (the timer
    /// panics), it waits as long as the flight takes. Real time must agree: a paused
    /// runtime's clock jumps to its next timer whenever it idles (found by review: a caller
    /// on one replaced a healthy fetch at once), so once this runtime's timer says the time
    /// is up, the rest is waited on real time, in naps of a second on a thread.
    async fn wait_at_most(
        &self,
        flight: Flight,
        started: std::time::Instant,
        longest: Duration,
    ) -> Option<Result<AccessToken, Error>> {
        let id = flight.id;
        let timed = {
            let flight = flight.clone();
            let left = longest.saturating_sub(started.elapsed());
            async move {
                // A deadline past what the clock holds (timeouts of decades, which
                // validation accepts) is no deadline.
                match tokio::time::Instant::now().checked_add(left) {
                    Some(deadline) => tokio::time::timeout_at(deadline, flight.wait()).await,
                    None => Ok(flight.wait().await),
                }
            }
        };
        match AssertUnwindSafe(timed).catch_unwind().await {
            Ok(Ok(outcome)) => return outcome,
            Ok(Err(_)) => {}
            Err(_) => return flight.wait().await,
        }
        loop {
            let left = longest.saturating_sub(started.elapsed());
            if left.is_zero() {
                self.abandon(id);
                return None;
            }
            let Some(nap) = real_nap(left.min(Duration::from_secs(1))) else {
                return flight.wait().await;
            };
            let outcome = std::pin::pin!(flight.clone().wait());
            if let futures_util::future::Either::Left((outcome, _)) =
                futures_util::future::select(outcome, nap).await
            {
                return outcome;
            }
        }
    }

    /// The flight `id` has run longer than any fetch can: its runtime no longer runs it (a
    /// current-thread runtime that nothing blocks on). Its slot is cleared for a new one,
    /// and its task aborted (dropped the next time that runtime runs, or with it).
    fn abandon(&self, id: u64) {
        let mut slot = lock(&self.flight);
        if let Some(flight) = slot.take_if(|f| f.id == id) {
            drop(slot);
            tracing::warn!(
                provider = %self.client.provider(),
                environment = self.client.environment(),
                "a token fetch outlived the longest a fetch can take (its runtime no longer \
                 runs it?); starting another"
            );
            if let Some(task) = flight.task {
                task.abort();
            }
        }
    }

    /// What a fetch from the store takes: a refresh (background or forced) a token other
    /// than the current one, a miss past the current one's use any usable token but that
    /// one (the store may keep it a little longer), a miss with nothing cached any token.
    fn want(&self, force: bool) -> Want {
        match self.current.load().as_ref() {
            None => Want::Usable,
            Some(cached) => {
                let digest = seal::token_digest(cached.token().expose_secret());
                if force || self.usable_now().is_some() {
                    Want::Replacing(digest)
                } else {
                    Want::Other(digest)
                }
            }
        }
    }

    /// What a fetch for `want` needs.
    fn plan(self: &Arc<Self>, want: Want) -> Fetch {
        Fetch {
            inner: Arc::downgrade(self),
            client: self.client.clone(),
            policy: self.policy.clone(),
            clock: self.clock.clone(),
            sleep: Arc::clone(&self.sleep),
            shared: self.shared.clone(),
            want,
            store_empty: false,
        }
    }

    fn usable_now(&self) -> Option<AccessToken> {
        let guard = self.current.load();
        let cached = guard.as_ref()?;
        (self.clock.now() < cached.usable_until).then(|| cached.token().clone())
    }

    /// Caches a token a flight (or a caller's own store read) got; call it under the
    /// flight lock.
    fn store(&self, arrival: Arrival) -> AccessToken {
        self.skip_read.store(false, Ordering::Release);
        let token = arrival.token.clone();
        self.current.store(Some(Arc::new(Cached {
            refresh_from: arrival.refresh_from,
            usable_until: arrival.usable_until,
            replicas: std::array::from_fn(|i| match i {
                0 => arrival.token.clone(),
                _ => arrival.token.replica(),
            }),
            refresh_started: AtomicBool::new(false),
            sealed: arrival.sealed,
        })));
        token
    }

    /// Caches what a flight or a caller's own store read got, under the flight lock. A
    /// token read from the store is a store hit, unless the cache already holds it (the
    /// other reader was first: that one is kept); one invalidated here since it was read
    /// (`invalidate` runs under the same lock) is not cached: `None`.
    fn store_arrival(&self, arrival: Arrival) -> Option<AccessToken> {
        if !arrival.from_store {
            return Some(self.store(arrival));
        }
        let secret = arrival.token.expose_secret();
        if self
            .shared
            .as_ref()
            .is_some_and(|shared| shared.was_invalidated(secret))
        {
            return None;
        }
        if let Some(cached) = self.current.load().as_ref()
            && cached.token().expose_secret() == secret
            && self.clock.now() < cached.usable_until
        {
            return Some(cached.token().clone());
        }
        self.counters.add(Counter::StoreHit);
        Some(self.store(arrival))
    }

    fn record_failure(&self, error: &Error) {
        let consecutive = self.failure.load().as_ref().map_or(0, |f| f.consecutive) + 1;
        // Up to an hour: a longer wait (a garbled header, a misread unit) would hold every
        // caller, `refresh()` included, for that long.
        let asked = error.retry_after().unwrap_or_default().min(MAX_COOLDOWN);
        let cooldown = self.policy.failure_cooldown.max(asked);
        // Background refreshes back off exponentially while the current token lasts.
        let backoff = self
            .policy
            .retry
            .initial_backoff
            .saturating_mul(1 << consecutive.min(16))
            .min(MAX_REFRESH_BACKOFF)
            .max(cooldown);
        self.failure.store(Some(Arc::new(Failure {
            error: error.clone(),
            cooldown_until: self.clock.after(cooldown),
            retry_refresh_at: self.clock.after(backoff),
            // The failed fetch has just looked at the store itself.
            store_look_at: AtomicU64::new(self.clock.after(self.policy.failure_cooldown)),
            consecutive,
        })));
        // Let the next caller in the refresh window try again once the backoff is over.
        if let Some(cached) = self.current.load().as_ref() {
            cached.refresh_started.store(false, Ordering::Release);
        }
    }
}

impl Drop for Inner {
    /// The last handle is gone: nobody can read what a fetch under way would store.
    fn drop(&mut self) {
        let slot = self
            .flight
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(task) = slot.take().and_then(|flight| flight.task) {
            task.abort();
        }
        // A token invalidated here whose delete was left to the next fetch: there is none.
        if let Some(shared) = &self.shared {
            shared.delete_pending_in_background(self.clock.now());
        }
    }
}

/// What a fetch task needs, without keeping its source alive.
pub(crate) struct Fetch {
    inner: Weak<Inner>,
    pub(crate) client: Client,
    pub(crate) policy: CachePolicy,
    pub(crate) clock: Clock,
    pub(crate) sleep: Arc<dyn AsyncSleep>,
    shared: Option<Arc<Shared>>,
    /// What token it takes from the store.
    pub(crate) want: Want,
    /// The caller found the store empty just before starting this fetch.
    pub(crate) store_empty: bool,
}

impl Fetch {
    /// Through the store if there is one, else from the provider.
    async fn run(self) -> Result<Arrival, Error> {
        match &self.shared {
            Some(shared) => shared.fetch(&self).await,
            None => self.ask_provider().await,
        }
    }

    /// Counts on the source's counters, if it is still there.
    pub(crate) fn count(&self, counter: Counter) {
        if let Some(inner) = self.inner.upgrade() {
            inner.counters.add(counter);
        }
    }

    /// Token requests with retries; the token scheduled from when its request was sent.
    pub(crate) async fn ask_provider(&self) -> Result<Arrival, Error> {
        let retry = &self.policy.retry;
        let deadline = self.clock.after(retry.deadline);
        let mut attempt = 0;
        loop {
            attempt += 1;
            tracing::Span::current().record("attempts", attempt);
            match self.inner.upgrade() {
                Some(inner) => inner.counters.add(Counter::TokenRequest),
                None => return Err(source_dropped()),
            }
            let sent = self.clock.now();
            let error = match self.client.fetch_token().await {
                Ok(token) => return self.schedule(token, sent),
                Err(error) => error,
            };
            if !error.is_retryable() || attempt >= retry.max_attempts {
                return Err(error);
            }
            let Some(wait) = retry.delay(attempt, error.retry_after()) else {
                return Err(error);
            };
            if self.clock.after(wait) > deadline {
                return Err(error);
            }
            tracing::info!(
                attempt,
                kind = error.kind().as_str(),
                wait_ms = wait.as_millis() as u64,
                "retrying token request"
            );
            self.sleep.sleep(wait).await;
        }
    }

    /// Schedules a fetched token from when its request was `sent`; a token that is not
    /// usable any more by the time it arrived is an error instead.
    fn schedule(&self, token: AccessToken, sent: Nanos) -> Result<Arrival, Error> {
        let lifetime = token
            .expires_at_instant()
            .saturating_duration_since(token.issued_at_instant());
        let (refresh_from, usable_for) = self.policy.schedule(lifetime);
        let usable_until = self.clock.deadline(sent, usable_for);
        let now = self.clock.now();
        if now >= usable_until {
            let took = Duration::from_nanos(now.saturating_sub(sent));
            return Err(Error::new(
                ErrorKind::InvalidResponse,
                format!(
                    "the token was unusable on arrival: its lifetime of {} (less the expiry \
                     margin) was over when the response arrived {} after the request",
                    humantime::format_duration(lifetime),
                    humantime::format_duration(round_ms(took)),
                ),
            )
            .with_hint(crate::client::ARRIVED_EXPIRED_HINT)
            .at(token.provider(), token.environment().to_owned().into()));
        }
        Ok(Arrival {
            refresh_from: self.clock.deadline(sent, refresh_from),
            usable_until,
            token,
            sealed: None,
            from_store: false,
        })
    }
}

/// Publishes a flight's outcome, and clears its slot however the task ends.
struct FlightGuard {
    inner: Weak<Inner>,
    id: u64,
    sender: Option<watch::Sender<Outcome>>,
}

impl FlightGuard {
    fn finish(mut self, result: Result<Result<Arrival, Error>, Box<dyn Any + Send>>) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        let provider = inner.client.provider();
        let environment = inner.client.environment().to_owned();
        // Store and clear under the slot's lock: a caller that starts after an
        // `invalidate` of this token cannot join this flight and get it.
        let mut slot = lock(&inner.flight);
        if slot.as_ref().is_none_or(|f| f.id != self.id) {
            // Abandoned (it outlived the longest a fetch can take, and its task was
            // aborted while it ran): what it brings is older than what replaced it, so it
            // is neither cached nor recorded. Its waiters, if any, join the current flight.
            drop(slot);
            self.sender = None;
            return;
        }
        let internal = |panic: Box<dyn Any + Send>| {
            Error::new(
                ErrorKind::Internal,
                format!(
                    "the token fetch panicked ({}); this is a bug in partner-auth or in an \
                     injected clock or sleep",
                    // Read as an error body is: a bounded part, scrubbed, then cut short.
                    crate::body::excerpt(
                        panic_message(&*panic).as_bytes(),
                        inner.client.sensitive()
                    )
                    .unwrap_or_default()
                ),
            )
            .at(provider, environment.clone().into())
        };
        // Storing reads the (injectable) clock: a panic there is an Internal failure too,
        // delivered to the waiters rather than an abandoned flight.
        let outcome = match result {
            Ok(Ok(arrival)) => {
                match std::panic::catch_unwind(AssertUnwindSafe(|| inner.store_arrival(arrival))) {
                    Ok(Some(token)) => Ok(token),
                    // Read from the store and invalidated here since: no outcome, so the
                    // waiters start a new fetch, which will not adopt it.
                    Ok(None) => return,
                    Err(panic) => Err(internal(panic)),
                }
            }
            Ok(Err(error)) => Err(error),
            Err(panic) => Err(internal(panic)),
        };
        match &outcome {
            Ok(token) => {
                tracing::Span::current().record("outcome", "ok");
                inner.failure.store(None);
                tracing::info!(
                    lifetime_s = token.lifetime().map(|l| l.as_secs()),
                    outcome = "ok",
                    "token fetched"
                );
            }
            Err(error) => {
                tracing::Span::current().record("outcome", error.kind().as_str());
                #[cfg(feature = "metrics")]
                crate::observe::fetch_failure(&inner.client, error);
                inner.counters.add(Counter::Failure);
                // Recording reads the clock too; if it panics, the waiters still get the
                // error (without a cool-down: there is no clock to time one by).
                let _ = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    inner.record_failure(error);
                }));
                // All a `warn` filter shows (the span is at `info`): what failed, where.
                tracing::warn!(
                    provider = %inner.client.provider(),
                    environment = inner.client.environment(),
                    kind = error.kind().as_str(),
                    status = error.status().map(|s| s.as_u16()),
                    outcome = "error",
                    error = %error,
                    "token fetch failed"
                );
            }
        }
        if slot.as_ref().is_some_and(|f| f.id == self.id) {
            *slot = None;
        }
        drop(slot);
        if let Some(sender) = self.sender.take() {
            let _ = sender.send(Some(outcome));
        }
    }
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        if self.sender.is_none() {
            return;
        }
        // Ended without an outcome (aborted, or its runtime shut down): clear the slot so
        // the next caller starts a new fetch, and let the next caller in the refresh
        // window start a new refresh; dropping the sender tells the waiters.
        if let Some(inner) = self.inner.upgrade() {
            let mut slot = lock(&inner.flight);
            if slot.as_ref().is_some_and(|f| f.id == self.id) {
                *slot = None;
            }
            drop(slot);
            if let Some(cached) = inner.current.load().as_ref() {
                cached.refresh_started.store(false, Ordering::Release);
            }
        }
    }
}

impl Flight {
    fn done(outcome: Result<AccessToken, Error>) -> Self {
        let (_, receiver) = watch::channel(Some(outcome));
        Flight {
            id: 0,
            outcome: receiver,
            task: None,
            started: None,
            runtime: None,
            #[cfg(feature = "blocking")]
            tracker: None,
            span: tracing::Span::none(),
        }
    }

    /// Whether the task can still deliver an outcome.
    fn is_alive(&self) -> bool {
        self.outcome.has_changed().is_ok()
    }

    /// The outcome, or `None` when the task ended without one.
    async fn wait(mut self) -> Option<Result<AccessToken, Error>> {
        match self.outcome.wait_for(Option::is_some).await {
            Ok(outcome) => outcome.clone(),
            Err(_) => None,
        }
    }
}

/// A wait of `duration` in real time on a thread of its own (no runtime's timer, which a
/// paused runtime jumps), or `None` if no thread can be started. A waiter that gives up
/// leaves the thread to end on its own, holding nothing.
fn real_nap(duration: Duration) -> Option<tokio::sync::oneshot::Receiver<()>> {
    let (done, nap) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("partner-auth-nap".into())
        .spawn(move || {
            std::thread::sleep(duration);
            let _ = done.send(());
        })
        .ok()?;
    Some(nap)
}

/// How often a caller replaces a fetch whose task vanished before giving up.
const ABANDONED_FLIGHT_RETRIES: usize = 3;

/// The longest a fetch can take: its retries' deadline (the sleeps between attempts) and
/// every attempt's request timeout (on an injected clock the deadline counts only those
/// sleeps: found by review, a fetch of five slow attempts was replaced while it ran), and
/// with a store the wait for another process's lease (its time to live and that holder's
/// fetch) and the store operations around it; a second to spare. `None` when a request
/// has no timeout ([`ClientBuilder::timeout`](crate::ClientBuilder::timeout) set to
/// `None`): such a fetch may take any time.
fn longest_fetch(
    client: &Client,
    policy: &CachePolicy,
    shared: Option<&Shared>,
) -> Option<Duration> {
    let request = client.request_timeout()?;
    let attempts = request.saturating_mul(policy.retry.max_attempts.max(1));
    let provider = policy.retry.deadline.saturating_add(attempts);
    let store = shared.map_or(Duration::ZERO, |shared| {
        let store = shared.policy();
        store
            .lease_ttl
            .saturating_add(policy.retry.deadline)
            .saturating_add(
                store
                    .operation_timeout
                    .saturating_mul(STORE_OPERATIONS_PER_FETCH),
            )
    });
    Some(
        provider
            .saturating_add(store)
            .saturating_add(Duration::from_secs(1)),
    )
}

/// More store operations than a fetch makes outside its lease wait (a pending delete, reads,
/// the lease, the write, the release).
const STORE_OPERATIONS_PER_FETCH: u32 = 10;
/// Longest cool-down a provider's `retry_after` can impose.
pub(crate) const MAX_COOLDOWN: Duration = Duration::from_secs(60 * 60);
/// Longest wait between background refresh attempts.
const MAX_REFRESH_BACKOFF: Duration = Duration::from_secs(60);

fn next_flight_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn source_dropped() -> Error {
    Error::new(
        ErrorKind::Configuration,
        "the token source was dropped during the fetch",
    )
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned())
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis().min(u128::from(u64::MAX)) as u64)
}
