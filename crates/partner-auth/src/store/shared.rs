//! How a token source uses its store: the read-lease-fetch-write protocol that gives a
//! fleet one fetch per credential, and the circuit breaker that keeps a failing store
//! from costing anything but one warning.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures_util::FutureExt as _;

use super::seal::{self, OpenError, Plain, Sealer};
use super::{Lookup, StoreError, StorePolicy, TokenStore};
use crate::source::{Arrival, Fetch};
use crate::stats::Counter;
use crate::sync::lock;
use crate::{AccessToken, Client, Error, ErrorKind};

/// How many invalidated tokens a source remembers, each until it expires, so as never to
/// adopt one again (a store that lost writes may answer with an old entry). Each is one
/// fetch: a thousand within a token's lifetime is a fetch storm already.
const REMEMBERED_INVALIDATIONS: usize = 1024;

/// How long after its expiry an invalidated token is still remembered: a store entry of
/// the same token written by another process may say it is usable a little longer.
const REMEMBERED_PAST_EXPIRY: Duration = Duration::from_secs(60);

/// A source's view of its store.
pub(crate) struct Shared {
    store: Arc<dyn TokenStore>,
    policy: StorePolicy,
    sealer: Sealer,
    /// The store is left alone until then (0: it is in use).
    open_until: AtomicU64,
    /// The back-off (its `open_until`) during which a delete was last tried: one attempt
    /// per back-off, so a dead store does not cost every fetch of it a timeout.
    delete_tried_in: AtomicU64,
    /// From a failure until an operation that shows the store works again (see
    /// [`ends_outage`]: a store that answers reads and leases but refuses token writes is one outage, not
    /// one per read): the failed operation, and one warning per outage.
    outage: Mutex<Option<&'static str>>,
    /// Digests of the tokens this source invalidated, oldest first, each with when to
    /// forget it.
    invalidated: Mutex<VecDeque<([u8; 32], SystemTime)>>,
    /// When the newest token this source has taken (fetched or read from the store) was
    /// requested, on the writer's wall clock, in milliseconds since the Unix epoch: a kept
    /// failure older than that is over, even once that token is gone (found by review: a
    /// token invalidated within a kept failure's cool-down brought the failure back).
    newest_token_ms: AtomicU64,
    /// The stored value of the last invalidated token, to delete before the next read,
    /// until the delete works or the token has expired (the entry has gone with it).
    pending_delete: Mutex<Option<PendingDelete>>,
}

/// A delete of an invalidated token's stored copy, not yet made.
struct PendingDelete {
    /// The stored value to delete (only if it is still stored).
    sealed: Arc<[u8]>,
    /// When it no longer matters, on the source's clock: the token's end of use, and the
    /// allowance for a writer's clock behind ours that [`REMEMBERED_PAST_EXPIRY`] makes.
    until: crate::time::Nanos,
}

/// What a lease winner found of a failed request kept in the store.
enum KeptFailure {
    /// None, or none it can read.
    None,
    /// One that holds: this flight's outcome.
    Fail(Error),
    /// One that does not hold for this flight; its stored value.
    Stale(Vec<u8>),
}

/// What a caller's own read of the store found.
pub(crate) enum Read {
    /// A usable token.
    Found(Arrival),
    /// No entry.
    Empty,
    /// An entry it does not use (does not open, expired, invalidated here), or the store
    /// failed or is backing off.
    Undecided,
    /// No answer within the operation timeout.
    TimedOut,
}

/// What a flight is for.
#[derive(Clone, Copy)]
pub(crate) enum Want {
    /// Any usable token.
    Usable,
    /// A token other than the one with this digest, not itself due for refresh.
    Replacing([u8; 32]),
    /// Any usable token but the one with this digest (which the source stopped using:
    /// the store may keep it a little longer).
    Other([u8; 32]),
}

impl Shared {
    pub(crate) fn new(store: Arc<dyn TokenStore>, policy: StorePolicy, client: &Client) -> Self {
        Self {
            store,
            policy,
            sealer: Sealer::new(client),
            open_until: AtomicU64::new(0),
            delete_tried_in: AtomicU64::new(u64::MAX),
            newest_token_ms: AtomicU64::new(0),
            outage: Mutex::new(None),
            invalidated: Mutex::new(VecDeque::new()),
            pending_delete: Mutex::new(None),
        }
    }

    /// How the store is used.
    pub(crate) fn policy(&self) -> &StorePolicy {
        &self.policy
    }

    /// The credential's key in the store.
    pub(crate) fn key(&self) -> &str {
        self.sealer.key()
    }

    /// `token` was invalidated here (whether or not it was the cached one): never adopt
    /// it again.
    pub(crate) fn forget(&self, token: &AccessToken) {
        let digest = seal::token_digest(token.expose_secret());
        let now = SystemTime::now();
        let until = token
            .expires_at()
            .checked_add(REMEMBERED_PAST_EXPIRY)
            .unwrap_or(now);
        let mut remembered = lock(&self.invalidated);
        if remembered.iter().any(|(d, _)| *d == digest) {
            return;
        }
        // No store entry of an expired token is used: forget those first.
        remembered.retain(|(_, until)| *until > now);
        if remembered.len() == REMEMBERED_INVALIDATIONS {
            remembered.pop_front();
        }
        remembered.push_back((digest, until));
    }

    /// Whether the token `secret` was invalidated here.
    pub(crate) fn was_invalidated(&self, secret: &str) -> bool {
        let remembered = lock(&self.invalidated);
        if remembered.is_empty() {
            return false;
        }
        let digest = seal::token_digest(secret);
        remembered.iter().any(|(d, _)| *d == digest)
    }

    /// The cached token, stored as `sealed` and usable until `usable_until` (on the
    /// source's clock, `clock`), was invalidated: delete it from the store before the next
    /// read.
    pub(crate) fn delete_before_next_read(
        &self,
        sealed: &Arc<[u8]>,
        usable_until: crate::time::Nanos,
        clock: &crate::time::Clock,
    ) {
        *lock(&self.pending_delete) = Some(PendingDelete {
            sealed: Arc::clone(sealed),
            until: clock.deadline(usable_until, REMEMBERED_PAST_EXPIRY),
        });
    }

    /// The delete still to make at `now`, if any: one whose token has expired is dropped
    /// (no process uses the entry any more, and the store's time to live removes it).
    fn pending_delete(&self, now: crate::time::Nanos) -> Option<Arc<[u8]>> {
        let mut slot = lock(&self.pending_delete);
        if slot.as_ref()?.until <= now {
            *slot = None;
            return None;
        }
        slot.as_ref().map(|p| Arc::clone(&p.sealed))
    }

    /// The source is gone with a delete still pending: one bounded attempt in the
    /// background now, on the runtime if there still is one (else the entry expires with
    /// its time to live), unless the store is backing off at `now`.
    pub(crate) fn delete_pending_in_background(&self, now: crate::time::Nanos) {
        if let Ok(runtime) = tokio::runtime::Handle::try_current()
            && let Some(delete) = self.take_pending_delete(now)
        {
            super::tracker::spawn(&runtime, delete);
        }
    }

    /// The delete still pending, taken as one bounded attempt for the caller to run, unless
    /// the store is backing off at `now` (then it stays pending).
    pub(crate) fn take_pending_delete(
        &self,
        now: crate::time::Nanos,
    ) -> Option<impl Future<Output = ()> + Send + use<>> {
        // Left in place while the store backs off: a source that lives on (a clone of the
        // blocking API's) still deletes it at its next fetch.
        if now < self.open_until.load(Ordering::Acquire) {
            return None;
        }
        let pending = lock(&self.pending_delete).take()?;
        if pending.until <= now {
            return None;
        }
        let sealed = pending.sealed;
        let (store, key) = (Arc::clone(&self.store), self.sealer.key().to_owned());
        let timeout = self.policy.operation_timeout;
        Some(async move {
            match bounded(timeout, || store.compare_and_delete(&key, &sealed)).await {
                Some(Ok(_)) => {}
                Some(Err(error)) => tracing::debug!(
                    error = %chain(&error),
                    "the invalidated token was not deleted from the store; it expires"
                ),
                None => tracing::debug!(
                    "deleting the invalidated token from the store timed out; it expires"
                ),
            }
        })
    }

    /// Whether a caller may read the store itself at `now` (on the source's clock): it is
    /// not backing off, and no delete is pending (the shared fetch does that first).
    pub(crate) fn readable(&self, now: crate::time::Nanos) -> bool {
        now >= self.open_until.load(Ordering::Acquire) && self.pending_delete(now).is_none()
    }

    /// One read of the stored token, for a caller on a level-1 miss. An entry it cannot
    /// use is neither counted nor logged here: the shared fetch reads it again and does.
    /// A read that times out is [`Read::TimedOut`], not a store failure: its caller may
    /// have left it unpolled (parked in a `select!`), and the shared fetch, polled by the
    /// runtime, reads again and judges the store.
    pub(crate) async fn read(&self, fetch: &Fetch) -> Read {
        if self.backing_off(fetch) {
            return Read::Undecided;
        }
        let timeout = self.policy.operation_timeout;
        let Some(result) = bounded(timeout, || self.store.get(self.key())).await else {
            return Read::TimedOut;
        };
        match self.settle(fetch, "read", result) {
            Some(None) => Read::Empty,
            Some(Some(entry)) => match self.adopt(fetch, entry, fetch.want, None) {
                Some(arrival) => Read::Found(arrival),
                None => Read::Undecided,
            },
            None => Read::Undecided,
        }
    }

    /// A flight through the store: adopt a stored token, or fetch under the lease and
    /// store the result, or wait for whoever holds the lease. Without the store (down, or
    /// backing off) it is a plain fetch.
    pub(crate) async fn fetch(self: &Arc<Self>, fetch: &Fetch) -> Result<Arrival, Error> {
        let want = fetch.want;
        let key = self.sealer.key();
        let started = fetch.clock.now();
        // Long enough for the lease held now to end (crashed holder: its TTL) and for
        // whoever takes it over to fetch; past that, every holder is stuck: fetch here.
        let wait_until = fetch.clock.deadline(
            started,
            self.policy
                .lease_ttl
                .saturating_add(fetch.policy.retry.deadline),
        );
        let ttl = self.policy.lease_ttl;
        let mut waited = false;
        // When the last wait for the lease began, on Tokio's timer.
        let mut last_wait: Option<tokio::time::Instant> = None;
        let mut first_read = true;
        // The last entry that did not open: read again, it is not counted again.
        let mut unopened = None;
        // The caller found no entry just now: go straight to the lease (which looks again).
        let mut skip_get = fetch.store_empty;
        loop {
            // Before every read; an invalidate while this flight waits for another
            // process's lease too (found by review: its delete waited for the next flight,
            // and the fleet adopted the rejected token meanwhile).
            self.delete_pending(fetch).await;
            let mut owner = owner_id();
            // The stored token, the common case, in a read of its own; when there is none,
            // the lease in one step with a second look. Each is one operation, within one
            // operation timeout.
            // Armed before every attempt at the lease, until it is known not to be ours or
            // is handed to `fetch_and_put`: however the attempt ends (an error, a timeout,
            // this flight dropped), a lease it may have taken is ended (only ours is), in
            // the background, so the fleet does not wait it out.
            let mut guard = None;
            let got = if std::mem::take(&mut skip_get) {
                Some(None)
            } else {
                self.call(fetch, "read", || self.store.get(key)).await
            };
            let lookup = match got {
                Some(Some(entry)) => Some(Lookup::Found(entry)),
                Some(None) => {
                    if !self.backing_off(fetch) {
                        guard = Some(self.lease_guard(&owner));
                    }
                    let lookup = self
                        .lease_attempt(
                            fetch,
                            READ_OR_LEASE,
                            &owner,
                            move |store, key, owner| async move {
                                store.get_or_lease(&key, &owner, ttl).await
                            },
                            |lookup| matches!(lookup, Lookup::Leased),
                        )
                        .await;
                    // A token found shows reads work; a lease taken or held, changes too.
                    match &lookup {
                        Some(Lookup::Found(_)) => self.worked("read"),
                        Some(_) => self.worked("lease"),
                        None => {}
                    }
                    lookup
                }
                None => None,
            };
            let Some(lookup) = lookup else {
                drop(guard);
                return fetch.ask_provider().await;
            };
            let leased = match lookup {
                Lookup::Found(entry) => {
                    // A lease the store's read-or-lease took and failed to end (a default
                    // `get_or_lease` that found a token on its second look) is ended in the
                    // background; the next attempt is under a new owner, so it never waits
                    // for a lease of its own.
                    if guard.is_some() {
                        drop(guard);
                        owner = owner_id();
                    }
                    if let Some(arrival) = self.adopt(fetch, entry, want, Some(&mut unopened)) {
                        return Ok(arrival);
                    }
                    // A token this flight does not want (the one it replaces, one
                    // invalidated here, or one that does not open): lease to replace it.
                    let guard = self.lease_guard(&owner);
                    let taken = self
                        .lease_attempt(
                            fetch,
                            "lease",
                            &owner,
                            move |store, key, owner| async move {
                                store.try_lease(&key, &owner, ttl).await
                            },
                            |taken| *taken,
                        )
                        .await;
                    match taken {
                        None => {
                            drop(guard);
                            return fetch.ask_provider().await;
                        }
                        Some(false) => {
                            disarm(Some(guard));
                            false
                        }
                        Some(true) => {
                            // Whoever held the lease before may have written a token and
                            // released it between our read and our lease: look once more.
                            let again = self.call(fetch, "read", || self.store.get(key)).await;
                            if let Some(arrival) = again
                                .flatten()
                                .and_then(|e| self.adopt(fetch, e, want, Some(&mut unopened)))
                            {
                                self.release(&owner).await;
                                disarm(Some(guard));
                                return Ok(arrival);
                            }
                            // `fetch_and_put` guards it from here, with no await between.
                            disarm(Some(guard));
                            true
                        }
                    }
                }
                Lookup::Leased => {
                    disarm(guard);
                    true
                }
                Lookup::Held => {
                    disarm(guard);
                    false
                }
            };
            if first_read {
                fetch.count(Counter::StoreMiss);
                first_read = false;
            }
            if leased {
                // A request that failed moments ago under the lease, kept for its cool-down:
                // taken as this flight's outcome instead of asking again (found by review:
                // each process waiting for a failing holder asked in turn, one request per
                // process to a provider already refusing).
                if waited {
                    fetch.count(Counter::Takeover);
                    tracing::info!("the lease ended without a token; taking it over");
                }
                let guard = self.lease_guard(&owner);
                let stale = match self.recent_failure(fetch).await {
                    KeptFailure::Fail(error) => {
                        self.release(&owner).await;
                        disarm(Some(guard));
                        return Err(error);
                    }
                    KeptFailure::Stale(value) => Some(value),
                    KeptFailure::None => None,
                };
                disarm(Some(guard));
                return self.fetch_and_put(fetch, Some(&owner), stale).await;
            }
            let now = fetch.clock.now();
            if now >= wait_until {
                // A lease and a fetch later it is still held: its holders are stuck.
                tracing::warn!(
                    waited_ms =
                        Duration::from_nanos(now.saturating_sub(started)).as_millis() as u64,
                    "the token store's lease is still held after a lease time and a fetch; \
                     fetching here"
                );
                // A failure kept meanwhile holds here too (left out before: this fetch
                // asked within its cool-down).
                let stale = match self.recent_failure(fetch).await {
                    KeptFailure::Fail(error) => return Err(error),
                    KeptFailure::Stale(value) => Some(value),
                    KeptFailure::None => None,
                };
                return self.fetch_and_put(fetch, None, stale).await;
            }
            if !waited {
                fetch.count(Counter::LeaseWait);
                waited = true;
                tracing::debug!("another process holds the lease; waiting for its token");
            }
            // A wait that came back with the lease still held and sooner than a round
            // takes: pause for the rest of it (found by review: a store whose `wait`
            // returns at once, which its docs allow, made 800,000 calls in 2 s). A wake that
            // finds the token or the lease free is not delayed; a token written during
            // the pause is seen up to 20 ms late.
            if let Some(previous) = last_wait.replace(tokio::time::Instant::now()) {
                let round = previous.elapsed();
                if round < MIN_WAIT_ROUND {
                    tokio::time::sleep(MIN_WAIT_ROUND - round).await;
                    last_wait = Some(tokio::time::Instant::now());
                }
            }
            let left = Duration::from_nanos(wait_until.saturating_sub(now));
            let woke = self
                .call_within(fetch, "wait", left + self.policy.operation_timeout, || {
                    self.store.wait(key, left)
                })
                .await;
            if woke.is_none() {
                return fetch.ask_provider().await;
            }
        }
    }

    /// Deletes the stored copy of the token this source invalidated, if one is pending.
    ///
    /// The fleet's copy of a token the API rejected is deleted unless someone has already
    /// replaced it; whoever deletes it first wins, the rest find the new one. It is tried
    /// even while the store backs off, as a lease's release is (found by review: skipped
    /// then and forgotten, the rejected token stayed stored and the fleet adopted it), one
    /// bounded attempt per back-off (found by review: with a dead store, each fetch of the
    /// back-off waited an operation timeout on it). A delete that fails stays pending
    /// until one works, a token this source writes replaces the entry, or the token has
    /// expired (found by review: one failure outside a back-off dropped it). A delete the
    /// store refuses is counted and logged but does not keep the flight off the store: the
    /// flight reads past the rejected token, never adopting it, and the token it writes
    /// replaces it (a store that refuses deletes alone would otherwise share nothing until
    /// then). One that gets no answer opens the back-off, as any operation's does.
    async fn delete_pending(&self, fetch: &Fetch) {
        let Some(sealed) = self.pending_delete(fetch.clock.now()) else {
            return;
        };
        let key = self.sealer.key();
        let backing_off = self.backing_off(fetch);
        if backing_off {
            let backoff = self.open_until.load(Ordering::Acquire);
            if self.delete_tried_in.swap(backoff, Ordering::AcqRel) == backoff {
                return;
            }
        }
        let timeout = self.policy.operation_timeout;
        let attempt = bounded(timeout, || self.store.compare_and_delete(key, &sealed)).await;
        let settled = match attempt {
            Some(Ok(_)) => {
                if !backing_off {
                    self.worked("delete");
                }
                true
            }
            // No answer: the store may be dead, and the flight must not wait on it again
            // (found by review: a dead store then cost the call a read's timeout too).
            None => {
                if !backing_off {
                    let error = StoreError::new(format!(
                        "no answer within {}",
                        humantime::format_duration(timeout)
                    ));
                    let _ = self.settle::<()>(fetch, "delete", Err(error));
                }
                false
            }
            Some(Err(error)) => {
                if backing_off {
                    tracing::debug!(
                        error = %chain(&error),
                        "the invalidated token was not deleted from the store; tried again later"
                    );
                } else {
                    self.note_failure(fetch, "delete", &error);
                }
                false
            }
        };
        // Settled only once tried: a flight dropped before (its source dropped) leaves it
        // to the source's drop. A newer invalidate's delete stays.
        let mut slot = lock(&self.pending_delete);
        if settled
            && slot
                .as_ref()
                .is_some_and(|p| Arc::ptr_eq(&p.sealed, &sealed))
        {
            *slot = None;
        }
    }

    /// One attempt at the lease (`make` builds it from the store, key and owner) in a task
    /// of its own: if this flight stops waiting for it (the operation timed out, or the
    /// flight was dropped) and it turns out to have taken the lease (`took`), that task ends
    /// it. A file store's attempt goes on in a blocking thread after its caller gave up,
    /// and could take the lease after a release sent in its place. That task waits as long
    /// as a lease lives ([`StorePolicy::lease_ttl`](super::StorePolicy::lease_ttl)) at most.
    async fn lease_attempt<T, Fut>(
        self: &Arc<Self>,
        fetch: &Fetch,
        what: &'static str,
        owner: &str,
        make: impl FnOnce(Arc<dyn TokenStore>, String, String) -> Fut,
        took: fn(&T) -> bool,
    ) -> Option<T>
    where
        T: Send + 'static,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        if self.backing_off(fetch) {
            return None;
        }
        let (store, key) = (Arc::clone(&self.store), self.sealer.key().to_owned());
        let owner = owner.to_owned();
        let timeout = self.policy.operation_timeout;
        let made = std::panic::catch_unwind(AssertUnwindSafe(|| {
            make(Arc::clone(&store), key.clone(), owner.clone())
        }));
        let Ok(attempt) = made else {
            let panicked = Err(StoreError::new("the token store panicked"));
            return self.settle(fetch, what, panicked);
        };
        let (answer, answered) = tokio::sync::oneshot::channel();
        // Waited for as long as a lease lives at most: a store that never answers (a
        // stalled Redis, whose commands have no response timeout of their own) would
        // otherwise keep this task, and the store, past the source (found by review). A
        // lease taken later still expires.
        let linger = self.policy.lease_ttl.max(timeout);
        super::tracker::spawn(&tokio::runtime::Handle::current(), async move {
            let attempt = AssertUnwindSafe(attempt).catch_unwind();
            let result = match tokio::time::timeout(linger, attempt).await {
                Ok(Ok(result)) => result,
                Ok(Err(_)) => Err(StoreError::new("the token store panicked")),
                Err(_) => Err(StoreError::new("the lease attempt never answered")),
            };
            // Nobody took the answer: end a lease it took.
            if let Err(Ok(value)) = answer.send(result)
                && took(&value)
            {
                release_within(&store, &key, &owner, timeout).await;
            }
        });
        let answered = async {
            answered
                .await
                .unwrap_or_else(|_| Err(StoreError::new("the lease attempt ended unanswered")))
        };
        self.call(fetch, what, || answered).await
    }

    /// Fetches from the provider, stores the token, and ends the lease (if held).
    async fn fetch_and_put(
        self: &Arc<Self>,
        fetch: &Fetch,
        owner: Option<&str>,
        stale_failure: Option<Vec<u8>>,
    ) -> Result<Arrival, Error> {
        // If this flight is dropped (its source dropped, its runtime shut down) while it
        // holds the lease, the guard still ends the lease, so nobody waits it out.
        let guard = owner.map(|owner| self.lease_guard(owner));
        let mut result = fetch.ask_provider().await;
        match &mut result {
            Ok(arrival) => {
                let issued = seal::unix_ms(arrival.token.issued_at());
                self.newest_token_ms.fetch_max(issued, Ordering::AcqRel);
                self.put_token(fetch, arrival, stale_failure.as_deref())
                    .await;
            }
            // Dated at its final answer: a token requested during its retries does not end
            // it (found by review).
            Err(error) => self.keep_failure(fetch, error, SystemTime::now()).await,
        }
        // Released, then disarmed: a flight dropped during the release still has the guard
        // end the lease.
        if let Some(owner) = guard.as_ref().and_then(|g| g.owner.as_deref()) {
            self.release(owner).await;
        }
        disarm(guard);
        result
    }

    /// Stores a fetched token (unless the store backs off or the token is already past its
    /// use) and notes its stored value in `arrival`.
    async fn put_token(&self, fetch: &Fetch, arrival: &mut Arrival, stale_failure: Option<&[u8]>) {
        let now = fetch.clock.now();
        let ttl = Duration::from_nanos(arrival.usable_until.saturating_sub(now));
        if ttl.is_zero() || self.backing_off(fetch) {
            return;
        }
        let until = SystemTime::now() + ttl;
        let sealed: Arc<[u8]> = self.sealer.seal(&plain(&arrival.token, until)).into();
        let key = self.sealer.key();
        let written = self
            .call(fetch, "write", || self.store.put(key, &sealed, ttl))
            .await;
        if written.is_some() {
            // The entry is replaced: a delete still pending has nothing to do.
            *lock(&self.pending_delete) = None;
            if let Some(value) = stale_failure {
                self.delete_ended_failure(value).await;
            }
        }
        // Kept even when the write failed or timed out: it may have landed (a reply late or
        // lost), and an invalidate must then delete it (found by review: nothing was
        // deleted, and the fleet adopted the rejected token). Deleting a value that is not
        // there changes nothing.
        arrival.sealed = Some(sealed);
    }

    /// Deletes a kept failure that did not hold, once a token is stored, so it does not
    /// come back in force when that token goes. Best effort, and no back-off if it fails
    /// (found by review: a store refusing deletes then kept this process off the store).
    async fn delete_ended_failure(&self, value: &[u8]) {
        let key = self.sealer.failure_key();
        let timeout = self.policy.operation_timeout;
        let deleted = bounded(timeout, || self.store.compare_and_delete(key, value)).await;
        if !matches!(deleted, Some(Ok(_))) {
            tracing::debug!("an ended kept failure was not deleted; it expires");
        }
    }

    /// Keeps a failed request for its cool-down, for the processes waiting on this one:
    /// one the provider answered with an error status, as a refusal, a rate limit or a
    /// 5xx; not one cut or timed out on the way (found by review: a reset mid-body, with
    /// its 200 status, was kept), nor a body that is no token (a proxy's page, say), nor a
    /// 408: this process's network or client may be the one at fault.
    async fn keep_failure(&self, fetch: &Fetch, error: &Error, sent: SystemTime) {
        let Some(status) = error.status() else {
            return;
        };
        let provider_said_no = matches!(
            error.kind(),
            ErrorKind::RateLimited
                | ErrorKind::ProviderUnavailable
                | ErrorKind::InvalidCredentials
                | ErrorKind::InvalidRequest
        );
        if !(provider_said_no && (status.is_client_error() || status.is_server_error())) {
            return;
        }
        if self.backing_off(fetch) {
            return;
        }
        let wait = fetch
            .policy
            .failure_cooldown
            .max(error.retry_after().unwrap_or_default())
            .min(crate::source::MAX_COOLDOWN);
        let failure = seal::Failure {
            kind: error.kind(),
            status: status.as_u16(),
            code: error.code().map(str::to_owned),
            message: error.message().map(str::to_owned),
            failed_at_ms: seal::unix_ms(sent),
            until_ms: seal::unix_ms(SystemTime::now() + wait),
            asked: error.retry_after().is_some(),
        };
        let sealed = self.sealer.seal_failure(&failure);
        let key = self.sealer.failure_key();
        let _ = self
            .call(fetch, "write", || self.store.put(key, &sealed, wait))
            .await;
    }

    /// A request of this credential (sent the same way: the failure key covers
    /// `client_auth`) that failed within its cool-down, kept in the store, as this flight's
    /// error; or the stored value of one kept that a token requested since and stored has
    /// ended, to delete once this flight has stored a token (found by review: left in
    /// place, it came back in force when that token went).
    async fn recent_failure(&self, fetch: &Fetch) -> KeptFailure {
        let key = self.sealer.failure_key();
        let Some(Some(entry)) = self.call(fetch, "read", || self.store.get(key)).await else {
            return KeptFailure::None;
        };
        // One that does not open is not this credential's (or not this version's): no
        // failure to share.
        let Ok(failure) = self.sealer.open_failure(&entry.value) else {
            return KeptFailure::None;
        };
        let now = SystemTime::now();
        let left = sealed_left(failure.until_ms, now).min(entry.ttl);
        if left.is_zero() {
            return KeptFailure::None;
        }
        let stale = KeptFailure::Stale(entry.value);
        if self.newest_token_ms.load(Ordering::Acquire) >= failure.failed_at_ms {
            return stale;
        }
        // A token requested after it failed says the failure is over (found by review: a
        // token another way stored during the cool-down left the failure in force).
        let Some(token) = self
            .call(fetch, "read", || self.store.get(self.key()))
            .await
        else {
            return KeptFailure::None;
        };
        if token
            .and_then(|entry| self.sealer.open(&entry.value).ok())
            .is_some_and(|plain| plain.issued_at_ms >= failure.failed_at_ms)
        {
            return stale;
        }
        let Ok(status) = reqwest::StatusCode::from_u16(failure.status) else {
            return KeptFailure::None;
        };
        let ago = sealed_left(seal::unix_ms(now), seal::from_unix_ms(failure.failed_at_ms));
        let whole =
            |d: Duration| humantime::format_duration(Duration::from_secs(d.as_secs().max(1)));
        tracing::info!(
            status = failure.status,
            wait_ms = left.as_millis() as u64,
            "this credential's last token request failed; the store keeps its answer for its \
             cool-down, and no request is made before it ends"
        );
        KeptFailure::Fail(
            Error::new(
                failure.kind,
                format!(
                    "this credential's last token request, {} ago, failed, and the shared \
                     token store keeps that answer for {} more; no request is made before then",
                    whole(ago),
                    whole(left),
                ),
            )
            .with_status(status)
            .with_provider_details(failure.code, failure.message, Vec::new())
            // Only a wait the provider asked for: a script that sleeps for it and retries
            // must not loop on refused credentials (found by review).
            .with_retry_after(failure.asked.then_some(left))
            .with_hint(
                "the token store keeps this failure until its cool-down ends: wait for it, or \
                 remove the store's entries to ask again now (`partner-token cache clear`, or \
                 `--no-cache` for one run; FileStore::clear, RedisStore::clear)",
            )
            .at(
                fetch.client.provider(),
                fetch.client.environment().to_owned().into(),
            ),
        )
    }

    /// A guard that ends `owner`'s lease unless disarmed.
    fn lease_guard(self: &Arc<Self>, owner: &str) -> LeaseGuard {
        LeaseGuard {
            shared: Arc::clone(self),
            owner: Some(owner.to_owned()),
        }
    }

    /// Ends a lease this flight holds, even while the breaker is open (a write that just
    /// failed must not leave the fleet waiting a whole lease): one bounded attempt.
    async fn release(&self, owner: &str) {
        let key = self.sealer.key();
        release_within(&self.store, key, owner, self.policy.operation_timeout).await;
    }

    /// A stored entry as a cached token, if it opens and is what the flight wants. An
    /// entry that does not open is counted and logged once per `unopened` (the last one
    /// seen), or not at all without it.
    fn adopt(
        &self,
        fetch: &Fetch,
        entry: super::StoreEntry,
        want: Want,
        unopened: Option<&mut Option<Vec<u8>>>,
    ) -> Option<Arrival> {
        let plain = match self.sealer.open(&entry.value) {
            Ok(plain) => plain,
            Err(reason) => {
                let unopened = unopened?;
                if unopened.as_ref() == Some(&entry.value) {
                    return None;
                }
                *unopened = Some(entry.value);
                fetch.count(Counter::DecryptFailure);
                tracing::warn!(
                    reason = match reason {
                        OpenError::Malformed => "not a sealed token",
                        OpenError::Forged => "does not authenticate",
                    },
                    "ignoring a token store entry that does not open with this credential \
                     (tampered, truncated, another version, or sealed under another secret)"
                );
                return None;
            }
        };
        if self.was_invalidated(&plain.access_token) {
            return None;
        }
        // The writer's word on when to stop using it, sealed: however long the store says
        // the entry has left (a replayed entry, a rewritten expiry), never longer.
        let wall_now = SystemTime::now();
        let writers_left = sealed_left(plain.usable_until_ms, wall_now);
        if writers_left.is_zero() {
            tracing::debug!("ignoring a token store entry its writer stopped using");
            return None;
        }
        let now = fetch.clock.now();
        let lifetime = Duration::from_millis(plain.lifetime_ms);
        // Nor into this reader's own expiry margin, if longer than the writer's (found by
        // review: a reader with a 300 s margin handed out a token 200 s from expiry).
        let (_, margin) = fetch.policy.window_and_margin(lifetime);
        let expires_ms = plain.issued_at_ms.saturating_add(plain.lifetime_ms);
        let margin_ms = u64::try_from(margin.as_millis()).unwrap_or(u64::MAX);
        let readers_left = sealed_left(expires_ms.saturating_sub(margin_ms), wall_now);
        // A store cannot extend a token's life.
        let ttl = entry.ttl.min(lifetime).min(writers_left).min(readers_left);
        if ttl.is_zero() {
            return None;
        }
        let (refresh_offset, usable_for) = fetch.policy.schedule(lifetime);
        let usable_until = fetch.clock.deadline(now, ttl);
        // The reader's window, but never before half of the writer's use, from its request
        // to its end of use (found by review, twice: a writer with a longer expiry margin,
        // then a reader with one, made a reader refresh before that point).
        let writer_use_ms = plain
            .usable_until_ms
            .saturating_sub(plain.issued_at_ms)
            .min(plain.lifetime_ms);
        let halfway = sealed_left(
            plain.issued_at_ms.saturating_add(writer_use_ms / 2),
            wall_now,
        );
        let window = usable_for.saturating_sub(refresh_offset);
        let refresh_from = usable_until
            .saturating_sub(crate::time::nanos(window))
            .max(fetch.clock.deadline(now, halfway))
            .min(usable_until);
        let wanted = match want {
            Want::Usable => usable_until > now,
            Want::Other(old) => {
                usable_until > now && seal::token_digest(&plain.access_token) != old
            }
            Want::Replacing(old) => {
                refresh_from > now && seal::token_digest(&plain.access_token) != old
            }
        };
        if !wanted {
            return None;
        }
        let mut plain = plain;
        // An entry from before the scope was stored has none (the partners ask for none).
        plain.scope = crate::providers::standard::granted_scope(plain.scope, fetch.client.scope());
        self.newest_token_ms
            .fetch_max(plain.issued_at_ms, Ordering::AcqRel);
        let token = AccessToken::restored(
            plain,
            ttl,
            fetch.client.provider(),
            fetch.client.environment().to_owned().into(),
        );
        Some(Arrival {
            token,
            refresh_from,
            usable_until,
            sealed: Some(entry.value.into()),
            from_store: true,
        })
    }

    /// Whether the store is left alone for now (after a failure).
    fn backing_off(&self, fetch: &Fetch) -> bool {
        fetch.clock.now() < self.open_until.load(Ordering::Acquire)
    }

    /// One store operation within the operation timeout; `None` when the store is backing
    /// off or the operation failed.
    async fn call<T, F: Future<Output = Result<T, StoreError>>>(
        &self,
        fetch: &Fetch,
        what: &'static str,
        operation: impl FnOnce() -> F,
    ) -> Option<T> {
        self.call_within(fetch, what, self.policy.operation_timeout, operation)
            .await
    }

    async fn call_within<T, F: Future<Output = Result<T, StoreError>>>(
        &self,
        fetch: &Fetch,
        what: &'static str,
        timeout: Duration,
        operation: impl FnOnce() -> F,
    ) -> Option<T> {
        if self.backing_off(fetch) {
            return None;
        }
        let result = bounded(timeout, operation).await.unwrap_or_else(|| {
            Err(StoreError::new(format!(
                "no answer within {}",
                humantime::format_duration(timeout)
            )))
        });
        self.settle(fetch, what, result)
    }

    /// `what` worked: ends an outage it shows is over (see [`ends_outage`]).
    fn worked(&self, what: &'static str) {
        let mut outage = lock(&self.outage);
        if outage.is_some_and(|failed| ends_outage(failed, what)) {
            *outage = None;
            drop(outage);
            tracing::warn!("the token store answers again; sharing tokens resumes");
        }
    }

    /// Counts an operation's failure and opens the breaker, or closes it on a success.
    fn settle<T>(
        &self,
        fetch: &Fetch,
        what: &'static str,
        result: Result<T, StoreError>,
    ) -> Option<T> {
        match result {
            Ok(value) => {
                // What a read-or-lease showed depends on its answer: its caller says.
                if what != READ_OR_LEASE {
                    self.worked(what);
                }
                Some(value)
            }
            Err(error) => {
                let until = fetch.clock.after(self.policy.outage_backoff);
                self.open_until.store(until, Ordering::Release);
                self.note_failure(fetch, what, &error);
                None
            }
        }
    }

    /// Counts a failed operation, and warns once per outage.
    fn note_failure(&self, fetch: &Fetch, what: &'static str, error: &StoreError) {
        fetch.count(Counter::StoreError);
        let first = {
            let mut outage = lock(&self.outage);
            let first = outage.is_none();
            if first {
                *outage = Some(what);
            }
            first
        };
        if !first {
            tracing::debug!(operation = what, error = %error, "the token store is still failing");
        } else if what == "delete" {
            // No back-off: the flight goes on with the store (see `delete_pending`).
            tracing::warn!(
                operation = what,
                error = %chain(error),
                "the token store failed to delete an invalidated token; it is tried again \
                 at the next fetch"
            );
        } else {
            tracing::warn!(
                operation = what,
                error = %chain(error),
                backoff_ms = self.policy.outage_backoff.as_millis() as u64,
                "the token store failed; fetching tokens in this process until it answers \
                 again"
            );
        }
    }
}

/// One store operation within `timeout`, or `None` when it timed out. An I/O timeout on
/// Tokio's timer, like the HTTP client's: the injected sleep is for back-offs (a test's
/// instant sleep would time every operation out). A store that panics is a failing store,
/// not a failed fetch.
async fn bounded<T, F>(
    timeout: Duration,
    operation: impl FnOnce() -> F,
) -> Option<Result<T, StoreError>>
where
    F: Future<Output = Result<T, StoreError>>,
{
    // A store's method may panic when called, before its future exists (found by review:
    // that panic escaped into the fetch, which ended as an `Internal` error): caught too.
    let Ok(operation) = std::panic::catch_unwind(AssertUnwindSafe(operation)) else {
        return Some(Err(StoreError::new("the token store panicked")));
    };
    let guarded = AssertUnwindSafe(operation).catch_unwind();
    match tokio::time::timeout(timeout, guarded).await {
        Ok(Ok(result)) => Some(result),
        Ok(Err(_)) => Some(Err(StoreError::new("the token store panicked"))),
        Err(_) => None,
    }
}

/// Ends the lease if the flight holding it ends without doing so.
struct LeaseGuard {
    shared: Arc<Shared>,
    owner: Option<String>,
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        let Some(owner) = self.owner.take() else {
            return;
        };
        let release = Release {
            store: Arc::clone(&self.shared.store),
            key: self.shared.sealer.key().to_owned(),
            owner,
            timeout: self.shared.policy.operation_timeout,
            done: false,
        };
        // One bounded release on the runtime, if there still is one. A runtime that is
        // shutting down (the end of `main` or of a test, the usual way a fetch is cut
        // short) refuses the task or drops it unrun: the release then runs on a thread of
        // its own (found by an application's review: the lease was left, and the next
        // process on the store waited out its time to live).
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                super::tracker::spawn(&runtime, release.run());
            }
            Err(_) => drop(release),
        }
    }
}

/// A lease to end. Run on a runtime ([`run`](Self::run)), it is done; dropped before that
/// (its task refused or dropped by a runtime shutting down, or no runtime at all), it ends
/// the lease on a thread of its own, not waited for: a shutdown is not held up, and a
/// process that exits at once may end that thread first (the lease then expires).
struct Release {
    store: Arc<dyn TokenStore>,
    key: String,
    owner: String,
    timeout: Duration,
    done: bool,
}

/// How many bounded attempts a release on a thread of its own makes: a store whose
/// connection ran on the runtime that is going may hold the first until it times out, and
/// reconnect for the second once that runtime is gone.
const RELEASE_ATTEMPTS_ALONE: usize = 2;

impl Release {
    async fn run(mut self) {
        release_within(&self.store, &self.key, &self.owner, self.timeout).await;
        self.done = true;
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        let (store, key, owner, timeout) = (
            Arc::clone(&self.store),
            std::mem::take(&mut self.key),
            std::mem::take(&mut self.owner),
            self.timeout,
        );
        let release = move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                for _ in 0..RELEASE_ATTEMPTS_ALONE {
                    if release_within(&store, &key, &owner, timeout).await {
                        break;
                    }
                }
            });
        };
        // If no thread can be started, the lease expires.
        let _ = std::thread::Builder::new()
            .name("partner-auth-release".into())
            .spawn(release);
    }
}

/// The label of a `get_or_lease` call: a read, and a change when it finds nothing.
const READ_OR_LEASE: &str = "read or lease";

/// Whether a success of the operation `succeeded` ends an outage that a failure of `failed`
/// began: after a failed read (the store unreachable), anything that works does; after a
/// failed change, only a change of the same kind, to the token or to the lease (a store
/// that answers reads and leases but refuses token writes is still failing).
fn ends_outage(failed: &str, succeeded: &str) -> bool {
    /// What an operation changes, if anything.
    fn changes(operation: &str) -> Option<&'static str> {
        match operation {
            "read" => None,
            "write" | "delete" => Some("token"),
            // "lease", "release", READ_OR_LEASE
            _ => Some("lease"),
        }
    }
    match changes(failed) {
        None => true,
        failed => changes(succeeded) == failed,
    }
}

/// What is left at `now`, on the reader's wall clock, of an entry its writer sealed to stop
/// using at `usable_until_ms`, on the writer's: a reader whose clock runs behind the
/// writer's uses it as much longer, one whose clock runs ahead stops as much earlier.
fn sealed_left(usable_until_ms: u64, now: SystemTime) -> Duration {
    seal::from_unix_ms(usable_until_ms)
        .duration_since(now)
        .unwrap_or(Duration::ZERO)
}

/// Drops `guard` without ending the lease: it is not ours, or was ended.
fn disarm(guard: Option<LeaseGuard>) {
    if let Some(mut guard) = guard {
        guard.owner = None;
    }
}

/// The shortest round of waiting for another process's lease (its `wait`, then a look at
/// the store): a store whose `wait` returns at once polls no faster than this.
const MIN_WAIT_ROUND: Duration = Duration::from_millis(20);

/// One release attempt within `timeout`; a failure only means the lease expires.
async fn release_within(
    store: &Arc<dyn TokenStore>,
    key: &str,
    owner: &str,
    timeout: Duration,
) -> bool {
    match bounded(timeout, || store.release_lease(key, owner)).await {
        Some(Ok(())) => true,
        Some(Err(error)) => {
            tracing::debug!(error = %chain(&error), "the lease was not released; it expires");
            false
        }
        None => {
            tracing::debug!("releasing the lease timed out; it expires");
            false
        }
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("store", &self.store)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// What is sealed for `token`.
fn plain(token: &AccessToken, usable_until: SystemTime) -> Plain {
    Plain {
        access_token: token.expose_secret().to_owned(),
        token_type: token.token_type().as_str().to_owned(),
        reported_ms: token
            .lifetime()
            .map(|l| l.as_millis().min(u128::from(u64::MAX)) as u64),
        lifetime_ms: token
            .expires_at_instant()
            .saturating_duration_since(token.issued_at_instant())
            .as_millis()
            .min(u128::from(u64::MAX)) as u64,
        issued_at_ms: seal::unix_ms(token.issued_at()),
        usable_until_ms: seal::unix_ms(usable_until),
        scope: token.scope().map(str::to_owned),
    }
}

/// A lease owner: 128 random bits.
fn owner_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // Unique within the process at least; another process's lease is still refused.
        let n = NEXT_OWNER.fetch_add(1, Ordering::Relaxed);
        bytes[..8].copy_from_slice(&n.to_be_bytes());
        bytes[8..].copy_from_slice(&u64::from(std::process::id()).to_be_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

static NEXT_OWNER: AtomicU64 = AtomicU64::new(1);

/// An error and its causes, `: `-separated.
fn chain(error: &StoreError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::sealed_left;

    /// The README's promise: the sealed expiry is judged on the reader's clock.
    #[test]
    fn a_sealed_expiry_is_judged_on_the_readers_clock() {
        let secs = Duration::from_secs;
        // The writer, at 1,800,000,000 s on its clock, stops using the token a minute on.
        let written = UNIX_EPOCH + secs(1_800_000_000);
        let until_ms = (written + secs(60)).duration_since(UNIX_EPOCH).unwrap();
        let until_ms = until_ms.as_millis() as u64;
        // 50 s later, read by a reader whose clock agrees, runs 5 s behind, or 5 s ahead.
        let later = written + secs(50);
        assert_eq!(sealed_left(until_ms, later), secs(10));
        assert_eq!(sealed_left(until_ms, later - secs(5)), secs(15));
        assert_eq!(sealed_left(until_ms, later + secs(5)), secs(5));
        // Past it on the reader's clock: nothing left, whatever the writer's says.
        assert_eq!(sealed_left(until_ms, later + secs(11)), Duration::ZERO);
    }
}
