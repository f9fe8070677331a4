//! Counters a [`TokenSource`](crate::TokenSource) keeps, cheap enough for the read path.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// A snapshot of a token source's counters ([`TokenSource::stats`](crate::TokenSource::stats)).
/// Serializes (serde) as an object of its fields, for a status page.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let sandbox = partner_sandbox::Sandbox::start().await?;
/// # let endpoint = sandbox.endpoint(partner_auth::Provider::Cobee);
/// # let client = partner_auth::Client::builder(partner_auth::Provider::Cobee)
/// #     .base_url(&endpoint.base_url)
/// #     .credentials(partner_auth::Credentials::new(endpoint.client_id, endpoint.client_secret))
/// #     .build()?;
/// let source = partner_auth::TokenSource::new(client);
/// for _ in 0..3 {
///     source.token().await?;
/// }
/// let stats = source.stats();
/// assert_eq!((stats.token_requests, stats.cache_misses, stats.cache_hits), (1, 1, 2));
/// assert_eq!(serde_json::to_value(stats)?["cache_hits"], 2);
/// # Ok(())
/// # }
/// ```
///
/// With feature `schemars`, `schemars::schema_for!(Stats)` is the JSON Schema of that
/// object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schemars",
    schemars(
        deny_unknown_fields,
        description = "A partner-auth token source's counters, as it serializes them.",
        transform = crate::schema::every_property_required
    )
)]
#[non_exhaustive]
pub struct Stats {
    /// `token()` calls answered from the cache.
    pub cache_hits: u64,
    /// `token()` calls not answered from the cache: they waited for a fetch, or got the
    /// last error during the failure cool-down (with `cache_hits`, every `token()` call).
    pub cache_misses: u64,
    /// Token requests sent to the provider (each retry counts).
    pub token_requests: u64,
    /// Fetches started in the background to refresh a token before it expires (a
    /// `token()` call in the refresh window that finds a fetch under way starts none).
    pub refreshes: u64,
    /// Fetches that ended in an error (after their retries).
    pub failures: u64,
    /// `token()` and `refresh()` calls answered with the last error during the failure
    /// cool-down.
    pub cooldown_rejections: u64,
    /// Tokens dropped by `invalidate`.
    pub invalidations: u64,
    /// Fetches answered by a token another process wrote to the store.
    pub store_hits: u64,
    /// Fetches that found no usable token in the store.
    pub store_misses: u64,
    /// Fetches that waited for another process holding the store's lease.
    pub lease_waits: u64,
    /// Leases taken over after their holder ended without a token (crashed or failed).
    pub lease_takeovers: u64,
    /// Store operations that failed or timed out (each one but a delete the store refused
    /// makes the source fetch on its own for a while).
    pub store_errors: u64,
    /// Store entries that did not decrypt with this credential (tampered, truncated,
    /// foreign, or sealed under another secret): each is a miss.
    pub store_decrypt_failures: u64,
}

/// Threads with a stripe of their own in every counter; later threads share one.
const OWNED: usize = 32;

/// A counter for the read path: each of the first [`OWNED`] threads alive at once counts
/// on its own cache line with a plain load and store (no locked instruction, no
/// contention); any further thread counts on a shared line with an atomic add. Exact
/// either way: a stripe has one writer at a time, and it changes hands only through
/// [`FREE_STRIPES`] (released with `Release`, taken with `Acquire`) when its thread exits.
#[derive(Default)]
struct StripedCounter {
    owned: [Padded; OWNED],
    shared: Padded,
}

#[derive(Default)]
#[repr(align(64))]
struct Padded(AtomicU64);

/// One bit per owned stripe, set while no thread holds it.
static FREE_STRIPES: AtomicU32 = AtomicU32::new(u32::MAX);

/// This thread's stripe number (`OWNED` or more: none of its own), returned on exit.
struct Stripe(usize);

impl Stripe {
    fn take() -> Self {
        let mut free = FREE_STRIPES.load(Ordering::Acquire);
        while free != 0 {
            let bit = free.trailing_zeros();
            match FREE_STRIPES.compare_exchange_weak(
                free,
                free & !(1 << bit),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Stripe(bit as usize),
                Err(now) => free = now,
            }
        }
        Stripe(OWNED)
    }
}

impl Drop for Stripe {
    fn drop(&mut self) {
        if self.0 < OWNED {
            FREE_STRIPES.fetch_or(1 << self.0, Ordering::Release);
        }
    }
}

thread_local! {
    static STRIPE: Stripe = Stripe::take();
}

/// This thread's stripe: below [`OWNED`] while it holds one of its own, `OWNED` when it
/// has none (too many threads, or its thread-locals are being torn down). The read path
/// takes it once and counts a hit and picks a token replica with it.
#[inline]
pub(crate) fn this_stripe() -> usize {
    STRIPE.try_with(|stripe| stripe.0).unwrap_or(OWNED)
}

impl StripedCounter {
    /// Counts one on `stripe`, which must be the calling thread's ([`this_stripe`], read
    /// on this thread): an owned stripe has one writer, and its plain load and store rely
    /// on it.
    #[inline]
    fn add(&self, stripe: usize) {
        match self.owned.get(stripe) {
            // This thread is the stripe's only writer.
            Some(Padded(count)) => {
                count.store(count.load(Ordering::Relaxed) + 1, Ordering::Relaxed)
            }
            None => {
                self.shared.0.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn get(&self) -> u64 {
        self.owned
            .iter()
            .chain([&self.shared])
            .map(|p| p.0.load(Ordering::Relaxed))
            .sum()
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
    store_hits: AtomicU64,
    store_misses: AtomicU64,
    lease_waits: AtomicU64,
    takeovers: AtomicU64,
    store_errors: AtomicU64,
    decrypt_failures: AtomicU64,
}

pub(crate) enum Counter {
    Miss,
    TokenRequest,
    Refresh,
    Failure,
    CooldownRejection,
    Invalidation,
    StoreHit,
    StoreMiss,
    LeaseWait,
    Takeover,
    StoreError,
    DecryptFailure,
}

impl Counters {
    /// A cache hit, counted on `stripe`: this thread's [`this_stripe`], as
    /// [`StripedCounter::add`] requires.
    #[inline]
    pub(crate) fn hit(&self, stripe: usize) {
        self.hits.add(stripe);
    }

    pub(crate) fn add(&self, counter: Counter) {
        let cell = match counter {
            Counter::Miss => &self.misses,
            Counter::TokenRequest => &self.token_requests,
            Counter::Refresh => &self.refreshes,
            Counter::Failure => &self.failures,
            Counter::CooldownRejection => &self.cooldown_rejections,
            Counter::Invalidation => &self.invalidations,
            Counter::StoreHit => &self.store_hits,
            Counter::StoreMiss => &self.store_misses,
            Counter::LeaseWait => &self.lease_waits,
            Counter::Takeover => &self.takeovers,
            Counter::StoreError => &self.store_errors,
            Counter::DecryptFailure => &self.decrypt_failures,
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
            store_hits: get(&self.store_hits),
            store_misses: get(&self.store_misses),
            lease_waits: get(&self.lease_waits),
            lease_takeovers: get(&self.takeovers),
            store_errors: get(&self.store_errors),
            store_decrypt_failures: get(&self.decrypt_failures),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_counter_is_exact_across_more_threads_than_stripes() {
        let counter = StripedCounter::default();
        // Three waves of 40 threads at once (more than the owned stripes, so some share),
        // each wave's threads exiting and handing their stripes on to the next.
        std::thread::scope(|scope| {
            for _ in 0..3 {
                let wave: Vec<_> = (0..40)
                    .map(|_| {
                        scope.spawn(|| {
                            for _ in 0..10_000 {
                                counter.add(this_stripe());
                            }
                        })
                    })
                    .collect();
                for thread in wave {
                    thread.join().unwrap();
                }
            }
        });
        assert_eq!(counter.get(), 3 * 40 * 10_000);
    }
}
