//! A miss with a store: the caller reads the store itself before it joins or starts the
//! shared fetch, so a token another process stored costs one store round trip and no
//! task hand-offs.
//!
//! Nobody ever waits for another caller's read: one caller at a time reads (the others go
//! straight to the shared fetch, as without it), a caller that gives up mid-read only
//! makes the next misses skip it until a token is cached, and what it read is cached
//! under the flight lock only if nothing was cached or invalidated since it looked.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::FutureExt as _;

use super::Inner;
use crate::store::shared::{Read, Shared};
use crate::sync::lock;
use crate::{AccessToken, Error};

/// What the caller's own read of the store came to.
enum StoreRead {
    /// A usable token, now cached.
    Token(AccessToken),
    /// The store holds nothing for this credential.
    Empty,
    /// Not read, or nothing usable: the shared fetch decides.
    Undecided,
}

impl Inner {
    /// A level-1 miss: the store first (with one), then the shared fetch.
    pub(super) async fn miss(self: &Arc<Self>) -> Result<AccessToken, Error> {
        let Some(shared) = &self.shared else {
            return self.fetch(false, false).await;
        };
        // An injected clock or a store that panics: the shared fetch answers (and records
        // a panic as its own failure).
        let read = AssertUnwindSafe(self.read_store(shared))
            .catch_unwind()
            .await;
        match read.unwrap_or(StoreRead::Undecided) {
            StoreRead::Token(token) => Ok(token),
            StoreRead::Empty => self.fetch(false, true).await,
            StoreRead::Undecided => self.fetch(false, false).await,
        }
    }

    /// Reads the store in the caller's task, unless the shared fetch should answer: one
    /// is under way, another caller is reading, a read was abandoned, the store is backing
    /// off or has a delete pending, there is no runtime to time the read on, or a failure
    /// is in its cool-down and the store was looked at less than a `failure_cooldown` ago
    /// (another process may have stored a token since: one look per cool-down's length).
    async fn read_store(self: &Arc<Self>, shared: &Arc<Shared>) -> StoreRead {
        let (seen, want) = {
            let slot = lock(&self.flight);
            let now = self.clock.now();
            let failure = self.failure.load();
            let cooling = failure.as_ref().filter(|f| now < f.cooldown_until);
            // Last: taking the turn to look is only for a caller that will read.
            let look = || {
                cooling.is_none_or(|f| {
                    let due = now >= f.store_look_at.load(Ordering::Relaxed);
                    if due {
                        let next = self.clock.after(self.policy.failure_cooldown);
                        f.store_look_at.store(next, Ordering::Relaxed);
                    }
                    due
                })
            };
            if slot.as_ref().is_some_and(|flight| flight.is_alive())
                || self.reading.load(Ordering::Acquire)
                || self.skip_read.load(Ordering::Acquire)
                || !shared.readable(now)
                || tokio::runtime::Handle::try_current().is_err()
                || !look()
            {
                return StoreRead::Undecided;
            }
            self.reading.store(true, Ordering::Release);
            // Not the token this caller missed: the store may keep it a little past the
            // point where this source stopped using it.
            (self.current.load_full(), self.want(false))
        };
        let mut reading = Reading {
            inner: self,
            finished: false,
        };
        let fetch = self.plan(want);
        let read = shared.read(&fetch).await;
        reading.finished = true;
        drop(reading);
        let arrival = match read {
            Read::Found(arrival) => arrival,
            Read::Empty => return StoreRead::Empty,
            Read::Undecided => return StoreRead::Undecided,
            // Maybe the store, maybe this caller's own lateness: the shared fetch reads
            // again in its own task, and later misses go to it until a token is cached.
            Read::TimedOut => {
                self.skip_read.store(true, Ordering::Release);
                return StoreRead::Undecided;
            }
        };
        let slot = lock(&self.flight);
        // Cached only if the cache still holds what this caller looked at (nothing newer
        // came meanwhile), and on the terms of a fetch's store token (not invalidated
        // here since it was read).
        let unchanged = match (&*self.current.load(), &seen) {
            (None, None) => true,
            (Some(now), Some(then)) => Arc::ptr_eq(now, then),
            _ => false,
        };
        let Some(token) = unchanged.then(|| self.store_arrival(arrival)).flatten() else {
            return StoreRead::Undecided;
        };
        // A token came: a failure's cool-down, if any, is over.
        self.failure.store(None);
        drop(slot);
        tracing::debug!(
            provider = %self.client.provider(),
            environment = self.client.environment(),
            "token read from the store"
        );
        StoreRead::Token(token)
    }
}

/// Marks a caller's store read as under way; if the caller gives up before it ends,
/// misses skip the read until a token is cached.
struct Reading<'a> {
    inner: &'a Inner,
    finished: bool,
}

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.inner.skip_read.store(true, Ordering::Release);
        }
        self.inner.reading.store(false, Ordering::Release);
    }
}
