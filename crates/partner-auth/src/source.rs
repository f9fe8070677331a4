//! [`TokenSource`]: a cached token for one client, fetched once for any number of callers
//! and refreshed before it expires.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use tokio::sync::watch;
use tracing::Instrument as _;

use crate::clock::{self, Nanos};
use crate::policy::CachePolicy;
use crate::stats::{Counter, Counters, Stats};
use crate::{AccessToken, Client, Error, ErrorKind};

/// Hands out a valid token for one [`Client`], asking the provider as rarely as possible.
///
/// Ask it for a token before every API call; it makes that free:
///
/// - **Read path.** While the cached token is fresh, [`token`](Self::token) takes no lock
///   and awaits nothing: one atomic load, a clock read, an `Arc` clone. Each thread keeps
///   its own copy of the current token (for up to 8 sources), so readers on different
///   threads never contend for one reference count; a copy is replaced as soon as the
///   token is, and zeroized when dropped.
/// - **Single flight.** Any number of concurrent callers that find no usable token share
///   one request to the token endpoint. It runs in its own task: a caller that gives up
///   cancels nothing for the others; a failure reaches every waiter; the next call after
///   it tries again.
/// - **Refresh ahead.** In the refresh window before expiry (by default the smaller of
///   5 minutes and 20 % of the lifetime, plus jitter) the first caller starts one
///   background refresh and every caller keeps getting the current token at once. A failed
///   refresh is retried with backoff while the current token stays valid; past expiry
///   (minus a small margin) callers wait for the single fetch.
/// - **Retries** of retryable failures only, with backoff, the provider's `retry_after`
///   honoured, within a deadline ([`RetryPolicy`](crate::RetryPolicy)). After a failure,
///   callers get the same error during a short cool-down instead of a new request.
/// - [`invalidate`](Self::invalidate) drops a token the API rejected, once, however many
///   callers report it.
///
/// Cheap to clone; clones share the cache. Needs a Tokio runtime.
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    policy: CachePolicy,
    current: ArcSwapOption<Cached>,
    /// Renewed after every change of `current`, so a thread's copy knows it is stale.
    /// Values are unique across all sources ([`next_generation`]): a source allocated
    /// where a dropped one was can never match that one's copies.
    generation: AtomicU64,
    flight: Mutex<Option<Flight>>,
    failure: ArcSwapOption<Failure>,
    counters: Counters,
}

/// A cached token with its schedule, on the cache clock ([`clock`]).
struct Cached {
    token: AccessToken,
    refresh_from: Nanos,
    usable_until: Nanos,
    refresh_started: AtomicBool,
}

/// The last failed fetch.
struct Failure {
    error: Error,
    /// Callers get `error` until then.
    cooldown_until: Nanos,
    /// A background refresh may start again from then.
    retry_refresh_at: Nanos,
    consecutive: u32,
}

type Outcome = Option<Result<AccessToken, Error>>;

/// The fetch in progress: its waiters watch for the outcome.
#[derive(Clone)]
struct Flight {
    outcome: watch::Receiver<Outcome>,
}

impl TokenSource {
    /// A token source for `client` with the default [`CachePolicy`].
    pub fn new(client: Client) -> Self {
        Self::with_policy(client, CachePolicy::default())
    }

    /// A token source for `client` with `policy`.
    pub fn with_policy(client: Client, policy: CachePolicy) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                policy,
                current: ArcSwapOption::empty(),
                generation: AtomicU64::new(next_generation()),
                flight: Mutex::new(None),
                failure: ArcSwapOption::empty(),
                counters: Counters::default(),
            }),
        }
    }

    /// A valid token: the cached one while it is fresh, otherwise the result of the one
    /// fetch all concurrent callers share.
    pub async fn token(&self) -> Result<AccessToken, Error> {
        if let Some(token) = self.inner.cached_token() {
            return Ok(token);
        }
        self.inner.counters.add(Counter::Miss);
        let flight = self.inner.join_or_start(false)?;
        flight.wait().await
    }

    /// Fetches a new token now (sharing a fetch already under way), whatever the cache
    /// holds, and caches it.
    pub async fn refresh(&self) -> Result<AccessToken, Error> {
        let flight = self.inner.join_or_start(true)?;
        flight.wait().await
    }

    /// Drops `token` from the cache if it is still the cached one, and says whether it
    /// was. Call it when an API answers 401 to `token`: fifty concurrent 401s for the same
    /// token drop it once, and the next `token()` calls share one fetch.
    pub fn invalidate(&self, token: &AccessToken) -> bool {
        let current = self.inner.current.load();
        let Some(cached) = current.as_ref() else {
            return false;
        };
        if !cached.token.same_as(token) {
            return false;
        }
        let previous = self.inner.current.compare_and_swap(&*current, None);
        let dropped = match (&*previous, &*current) {
            (Some(p), Some(c)) => Arc::ptr_eq(p, c),
            _ => false,
        };
        if dropped {
            self.inner
                .generation
                .store(next_generation(), Ordering::Release);
            self.inner.counters.add(Counter::Invalidation);
            tracing::info!(
                provider = %self.inner.client.provider(),
                environment = self.inner.client.environment(),
                "cached token invalidated"
            );
        }
        dropped
    }

    /// The cached token, if any, without fetching (it may be in its refresh window or
    /// expired).
    pub fn cached(&self) -> Option<AccessToken> {
        self.inner.current.load().as_ref().map(|c| c.token.clone())
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.inner.counters.snapshot()
    }

    /// The client tokens are fetched with.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The policy in force.
    pub fn policy(&self) -> &CachePolicy {
        &self.inner.policy
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
    /// The read path: the cached token if it is usable; in the refresh window it also
    /// starts the background refresh (once).
    ///
    /// A thread first looks at its own copy of the token: if no token was stored or
    /// invalidated since it made the copy (same generation) and the copy is before its
    /// refresh window, that is the answer, without touching anything another thread
    /// writes. Otherwise it reads the shared entry and renews its copy.
    fn cached_token(self: &Arc<Self>) -> Option<AccessToken> {
        let key = Arc::as_ptr(self) as usize;
        // Read the generation before the entry: a copy is never newer than its label.
        let generation = self.generation.load(Ordering::Acquire);
        let now = clock::now();
        let hit = THREAD_COPIES
            .try_with(|copies| {
                copies
                    .borrow()
                    .iter()
                    .find(|c| c.source == key && c.generation == generation)
                    .filter(|c| now < c.refresh_from)
                    .map(|c| c.token.clone())
            })
            .ok()
            .flatten();
        if let Some(token) = hit {
            self.counters.hit();
            return Some(token);
        }

        let guard = self.current.load();
        let cached = guard.as_ref()?;
        if now >= cached.usable_until {
            return None;
        }
        self.counters.hit();
        if now >= cached.refresh_from {
            // In the window a thread copy would be stale at once: share the entry's token
            // until the refresh stores a new one.
            self.refresh_in_background(cached, now);
            return Some(cached.token.clone());
        }
        Some(self.renew_thread_copy(key, generation, cached))
    }

    /// Replaces this thread's copy for this source with `cached`'s token, labelled with
    /// `generation`, and returns a clone of it.
    fn renew_thread_copy(&self, key: usize, generation: u64, cached: &Cached) -> AccessToken {
        THREAD_COPIES
            .try_with(|copies| {
                let mut copies = copies.borrow_mut();
                let copy = ThreadCopy {
                    source: key,
                    generation,
                    refresh_from: cached.refresh_from,
                    token: cached.token.duplicate(),
                };
                let token = copy.token.clone();
                match copies.iter_mut().find(|c| c.source == key) {
                    Some(slot) => *slot = copy,
                    None => {
                        if copies.len() >= THREAD_COPY_SLOTS {
                            copies.remove(0);
                        }
                        copies.push(copy);
                    }
                }
                token
            })
            // During thread teardown the thread-local is gone: share the token instead.
            .unwrap_or_else(|_| cached.token.clone())
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
        self.counters.add(Counter::Refresh);
        tracing::debug!(
            provider = %self.client.provider(),
            environment = self.client.environment(),
            "starting background refresh"
        );
        // The flight's outcome lands in the cache; nobody waits for it here.
        let _ = self.join_or_start(true);
    }

    /// Joins the fetch in flight or starts one. Unless `force`, a usable token cached in
    /// the meantime, or a failure in its cool-down, answers instead.
    fn join_or_start(self: &Arc<Self>, force: bool) -> Result<Flight, Error> {
        let mut slot = lock(&self.flight);
        if let Some(flight) = slot.as_ref() {
            return Ok(flight.clone());
        }
        if !force {
            if let Some(token) = self.usable_now() {
                return Ok(Flight::done(Ok(token)));
            }
            if let Some(failure) = self.failure.load().as_ref()
                && clock::now() < failure.cooldown_until
            {
                self.counters.add(Counter::CooldownRejection);
                return Err(failure.error.clone());
            }
        }
        let (sender, outcome) = watch::channel(None);
        let flight = Flight { outcome };
        *slot = Some(flight.clone());
        drop(slot);

        let span = tracing::info_span!(
            "token_fetch",
            provider = %self.client.provider(),
            environment = self.client.environment(),
        );
        tokio::spawn(Arc::clone(self).run_flight(sender).instrument(span));
        Ok(flight)
    }

    fn usable_now(&self) -> Option<AccessToken> {
        let guard = self.current.load();
        let cached = guard.as_ref()?;
        (clock::now() < cached.usable_until).then(|| cached.token.clone())
    }

    /// The fetch task: retries, then publishes the outcome to the cache and the waiters.
    async fn run_flight(self: Arc<Self>, sender: watch::Sender<Outcome>) {
        // Clears the slot however this task ends, so nothing stays poisoned.
        let clear = ClearFlight(&self.flight);
        let started = Instant::now();
        let result = self.fetch_with_retries().await;
        match &result {
            Ok(token) => {
                self.store(token.clone());
                self.failure.store(None);
                tracing::info!(
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    lifetime_s = token.lifetime().map(|l| l.as_secs()),
                    outcome = "ok",
                    "token fetched"
                );
            }
            Err(error) => {
                self.counters.add(Counter::Failure);
                self.record_failure(error);
                tracing::warn!(
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    kind = ?error.kind(),
                    status = error.status().map(|s| s.as_u16()),
                    outcome = "error",
                    "token fetch failed"
                );
            }
        }
        drop(clear);
        let _ = sender.send(Some(result));
    }

    async fn fetch_with_retries(&self) -> Result<AccessToken, Error> {
        let retry = &self.policy.retry;
        let deadline = after(Instant::now(), retry.deadline);
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.counters.add(Counter::TokenRequest);
            let error = match self.client.fetch_token().await {
                Ok(token) => return Ok(token),
                Err(error) => error,
            };
            if !error.is_retryable() || attempt >= retry.max_attempts {
                return Err(error);
            }
            let Some(wait) = retry.delay(attempt, error.retry_after()) else {
                return Err(error);
            };
            if after(Instant::now(), wait) > deadline {
                return Err(error);
            }
            tracing::info!(
                attempt,
                kind = ?error.kind(),
                wait_ms = wait.as_millis() as u64,
                "retrying token request"
            );
            tokio::time::sleep(wait).await;
        }
    }

    fn store(&self, token: AccessToken) {
        let issued = token.issued_at_instant();
        let lifetime = token.expires_at_instant().saturating_duration_since(issued);
        let (refresh_from, usable_for) = self.policy.schedule(lifetime);
        self.current.store(Some(Arc::new(Cached {
            refresh_from: clock::deadline(issued + refresh_from),
            usable_until: clock::deadline(issued + usable_for),
            token,
            refresh_started: AtomicBool::new(false),
        })));
        // After the store: a reader that sees the new generation then sees the new entry.
        self.generation.store(next_generation(), Ordering::Release);
    }

    fn record_failure(&self, error: &Error) {
        let consecutive = self.failure.load().as_ref().map_or(0, |f| f.consecutive) + 1;
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
            cooldown_until: clock::after(cooldown),
            retry_refresh_at: clock::after(backoff),
            consecutive,
        })));
        // Let the next caller in the refresh window try again once the backoff is over.
        if let Some(cached) = self.current.load().as_ref() {
            cached.refresh_started.store(false, Ordering::Release);
        }
    }
}

/// A generation no source has had yet.
fn next_generation() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Token sources a thread keeps a copy for; the oldest is dropped past this.
const THREAD_COPY_SLOTS: usize = 8;

/// A thread's copy of one source's current token, valid while the source's generation is
/// still `generation` and the cache clock is before `refresh_from`.
struct ThreadCopy {
    source: usize,
    generation: u64,
    refresh_from: Nanos,
    token: AccessToken,
}

thread_local! {
    static THREAD_COPIES: std::cell::RefCell<Vec<ThreadCopy>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Longest cool-down a provider's `retry_after` can impose.
const MAX_COOLDOWN: Duration = Duration::from_secs(300);
/// Longest wait between background refresh attempts.
const MAX_REFRESH_BACKOFF: Duration = Duration::from_secs(60);

impl Flight {
    fn done(outcome: Result<AccessToken, Error>) -> Self {
        let (_, receiver) = watch::channel(Some(outcome));
        Flight { outcome: receiver }
    }

    async fn wait(mut self) -> Result<AccessToken, Error> {
        match self.outcome.wait_for(Option::is_some).await {
            Ok(outcome) => outcome.clone().unwrap_or_else(|| Err(Self::abandoned())),
            // The fetch task ended without an outcome (its runtime shut down).
            Err(_) => Err(Self::abandoned()),
        }
    }

    fn abandoned() -> Error {
        Error::new(
            ErrorKind::Connection,
            "the token fetch task ended without a result (was its runtime shut down?)",
        )
    }
}

struct ClearFlight<'a>(&'a Mutex<Option<Flight>>);

impl Drop for ClearFlight<'_> {
    fn drop(&mut self) {
        *lock(self.0) = None;
    }
}

/// `instant + wait`, saturating (a policy may say `Duration::MAX` for "forever").
fn after(instant: Instant, wait: Duration) -> Instant {
    instant
        .checked_add(wait)
        .unwrap_or_else(|| instant + Duration::from_secs(100 * 365 * 24 * 3600))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
