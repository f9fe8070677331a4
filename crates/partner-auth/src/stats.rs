//! Counters a [`TokenSource`](crate::TokenSource) keeps, cheap enough for the read path.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// A snapshot of a token source's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// `token()` calls answered from the cache.
    pub cache_hits: u64,
    /// `token()` calls that waited for a fetch.
    pub cache_misses: u64,
    /// Token requests sent to the provider (each retry counts).
    pub token_requests: u64,
    /// Fetches started in the background to refresh a token before it expires.
    pub refreshes: u64,
    /// Fetches that ended in an error (after their retries).
    pub failures: u64,
    /// `token()` calls answered with the last error during the failure cool-down.
    pub cooldown_rejections: u64,
    /// Tokens dropped by `invalidate`.
    pub invalidations: u64,
}

const STRIPES: usize = 16;

/// A counter split over cache lines, so threads counting at once do not contend.
#[derive(Default)]
struct StripedCounter([Padded; STRIPES]);

#[derive(Default)]
#[repr(align(128))]
struct Padded(AtomicU64);

impl StripedCounter {
    fn add(&self) {
        thread_local! {
            static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
        }
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let stripe = STRIPE.with(|s| {
            if s.get() == usize::MAX {
                s.set(NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES);
            }
            s.get()
        });
        self.0[stripe].0.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.iter().map(|p| p.0.load(Ordering::Relaxed)).sum()
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    hits: StripedCounter,
    misses: AtomicU64,
    token_requests: AtomicU64,
    refreshes: AtomicU64,
    failures: AtomicU64,
    cooldown_rejections: AtomicU64,
    invalidations: AtomicU64,
}

pub(crate) enum Counter {
    Miss,
    TokenRequest,
    Refresh,
    Failure,
    CooldownRejection,
    Invalidation,
}

impl Counters {
    pub(crate) fn hit(&self) {
        self.hits.add();
    }

    pub(crate) fn add(&self, counter: Counter) {
        let cell = match counter {
            Counter::Miss => &self.misses,
            Counter::TokenRequest => &self.token_requests,
            Counter::Refresh => &self.refreshes,
            Counter::Failure => &self.failures,
            Counter::CooldownRejection => &self.cooldown_rejections,
            Counter::Invalidation => &self.invalidations,
        };
        cell.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            cache_hits: self.hits.get(),
            cache_misses: get(&self.misses),
            token_requests: get(&self.token_requests),
            refreshes: get(&self.refreshes),
            failures: get(&self.failures),
            cooldown_rejections: get(&self.cooldown_rejections),
            invalidations: get(&self.invalidations),
        }
    }
}
