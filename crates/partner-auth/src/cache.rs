//! [`TokenCache`]: token sources for several providers and tenants in one application.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use secrecy::ExposeSecret;

use crate::store::{StorePolicy, TokenStore};
use crate::time::{AsyncSleep, Clock, Nanos, TimeSource, TokioTime, nanos};
use crate::{AccessToken, CachePolicy, Client, Error, Provider, TokenSource};

/// One [`TokenSource`] per provider, base URL, client id and secret, bounded in size.
/// Cheap to clone: clones share the sources.
///
/// The key includes a fingerprint of the secret (a keyed hash, random per cache, never
/// shown), so a rotated secret gets a new source and never the old secret's token, and two
/// tenants sharing a client id never share a token.
///
/// A source is *used* when it is looked up. One an application keeps a clone of (in an
/// [`AuthMiddleware`](crate::AuthMiddleware), say) is *held*: it is in use whenever it was
/// last looked up, and neither bound below drops it (only [`remove`](Self::remove) and
/// [`clear`](Self::clear) do), so its key never gets a second source fetching beside it.
///
/// The cache holds at most [`max_sources`](TokenCacheBuilder::max_sources) sources
/// besides the held ones it has set aside: beyond that, a lookup drops the least recently
/// used, up to 8 a lookup (a lookup or a new source costs about the same with 10 sources
/// or 10,000). A held one it reaches there is set aside instead, out of that count and of
/// the order of use (its holder uses it without lookups, so it would stand in the way of
/// the ones to drop), and looked at again, one set-aside source per lookup: let go of, it
/// rejoins the order of use as the least recently used, and the next lookups drop it. A
/// source not used for [`idle_timeout`](TokenCacheBuilder::idle_timeout) is idle and
/// counts as gone: looking it up again starts a new source. Every lookup sweeps up to 8
/// sources past the timeout, least recently used first, dropping them or, when held,
/// setting them aside (until a sweep reaches them, [`len`](Self::len) counts idle
/// sources), so a multi-tenant service does not keep every tenant it ever saw and no
/// lookup pays for a whole idle spell at once.
///
/// A source fetches with the [`Client`] that created it: a client with the same provider,
/// base URL, credentials, scope and extra parameters but other settings (client
/// authentication, HTTP client, timeouts, default lifetime) gets that source and its
/// settings. To apply new settings, [`remove`](Self::remove) the source first.
///
/// A lookup takes a [`Client`], and building one builds an HTTP client with its TLS
/// configuration, which costs far more than the lookup: keep each tenant's `Client`, or
/// build them all on one HTTP client ([`ClientBuilder::http_client`](crate::ClientBuilder::http_client)).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use partner_auth::{Provider, TokenCache};
/// # let sandbox = partner_sandbox::Sandbox::start().await?;
/// # let endpoint = sandbox.endpoint(Provider::Dinie);
/// # let client = partner_auth::Client::builder(Provider::Dinie)
/// #     .base_url(&endpoint.base_url)
/// #     .credentials(partner_auth::Credentials::new(endpoint.client_id, endpoint.client_secret))
/// #     .build()?;
///
/// let cache = TokenCache::builder()
///     .max_sources(1_000)
///     .idle_timeout(Duration::from_secs(30 * 60))
///     .build()?;
/// let token = cache.token(&client).await?; // one request
/// assert!(token.same_as(&cache.token(&client).await?)); // from the cache
/// assert_eq!(cache.len(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct TokenCache(Arc<Shared>);

/// What the clones of a [`TokenCache`] share.
struct Shared {
    policy: CachePolicy,
    max_sources: usize,
    idle_timeout: Duration,
    time: Option<Arc<dyn TimeSource>>,
    sleep: Arc<dyn AsyncSleep>,
    store: Option<Arc<dyn TokenStore>>,
    store_policy: StorePolicy,
    clock: Clock,
    fingerprints: RandomState,
    sources: Mutex<Sources>,
}

/// The sources the cache holds.
struct Sources {
    /// In order of use, least recently used last: a lookup moves its source to the front,
    /// and the one to drop is at the back (both O(1)). The clock is read under the lock, so
    /// the order of use is the order of last use: the idle sources are the ones at the
    /// back. The size bound applies to these.
    used: lru::LruCache<Key, Entry>,
    /// Sources the size bound or the idle sweep found held elsewhere: out of the order of
    /// use (their holders use them without a lookup, so they would sink to its back and
    /// stand in the way of the ones to drop). Checked again one per lookup, least recently
    /// checked first; one held nowhere else any more goes back to the back of `used`.
    held: lru::LruCache<Key, Entry>,
}

impl Sources {
    fn new() -> Self {
        Sources {
            used: lru::LruCache::unbounded(),
            held: lru::LruCache::unbounded(),
        }
    }

    fn len(&self) -> usize {
        self.used.len() + self.held.len()
    }

    /// Takes `key`'s source out, wherever it is.
    fn take(&mut self, key: &Key) -> Option<(Key, Entry)> {
        self.used
            .pop_entry(key)
            .or_else(|| self.held.pop_entry(key))
    }

    /// Looks at the least recently checked held source: still held, it waits for its
    /// next turn; held nowhere else, it goes back among the used, as the least recent.
    fn check_one_held(&mut self) {
        let Some((key, entry)) = self.held.pop_lru() else {
            return;
        };
        if entry.source.has_other_handles() {
            self.held.push(key, entry);
        } else {
            self.used.push(key.clone(), entry);
            self.used.demote(&key);
        }
    }

    /// The least recently used source out of the order of use: dropped (into `dropped`)
    /// unless it is held elsewhere, which sets it aside.
    fn drop_or_set_aside_oldest(&mut self, dropped: &mut Vec<(Key, Entry)>) {
        if let Some((key, entry)) = self.used.pop_lru() {
            if entry.source.has_other_handles() {
                self.held.push(key, entry);
            } else {
                dropped.push((key, entry));
            }
        }
    }
}

/// Configures a [`TokenCache`]; from [`TokenCache::builder`].
#[must_use]
#[derive(Debug)]
pub struct TokenCacheBuilder {
    policy: CachePolicy,
    max_sources: usize,
    idle_timeout: Duration,
    time: Option<Arc<dyn TimeSource>>,
    sleep: Arc<dyn AsyncSleep>,
    store: Option<Arc<dyn TokenStore>>,
    store_policy: StorePolicy,
}

#[derive(Clone, Hash, PartialEq, Eq)]
struct Key {
    provider: Provider,
    base_url: String,
    client_id: String,
    secret_fingerprint: u64,
    /// A token for one scope (or audience, or resource) is no token for another.
    scope: Option<String>,
    extra_params: Vec<(String, String)>,
}

struct Entry {
    source: TokenSource,
    /// When it was last looked up (or found held elsewhere), for the idle timeout.
    last_used: Nanos,
}

/// The most sources past the idle timeout one lookup looks at (dropping them, or setting
/// the held ones aside), and the most a lookup takes out of the order of use to bring the
/// cache back to its bound. All 10,000 of a full cache dropped in one lookup took
/// about 7 ms, 4.5 of them holding the lock every lookup takes; 8 a lookup, the first
/// lookup after the spell takes about 9 µs and the slowest of the next 1,250 about 18 µs
/// (`benches/token_cache.rs`).
const SWEEP_PER_LOOKUP: usize = 8;

/// How many sources a cache holds by default.
pub const DEFAULT_MAX_SOURCES: usize = 10_000;
/// How long a source may go unused before a cache drops it, by default.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60 * 60);

impl TokenCache {
    /// An empty cache with the defaults: [`CachePolicy::default`], at most
    /// [`DEFAULT_MAX_SOURCES`] sources, each dropped after [`DEFAULT_IDLE_TIMEOUT`] unused.
    pub fn new() -> Self {
        Self::builder()
            .build()
            .expect("the default configuration is valid")
    }

    /// Starts configuring a cache.
    pub fn builder() -> TokenCacheBuilder {
        TokenCacheBuilder {
            policy: CachePolicy::default(),
            max_sources: DEFAULT_MAX_SOURCES,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            time: None,
            sleep: Arc::new(TokioTime),
            store: None,
            store_policy: StorePolicy::default(),
        }
    }

    /// The token source for `client`'s provider, base URL and credentials, created on first
    /// use.
    pub fn source(&self, client: &Client) -> TokenSource {
        let key = self.key(client);
        let idle = nanos(self.0.idle_timeout);
        // What leaves the cache, keys included, is dropped once the lock is released.
        let mut dropped: Vec<(Key, Entry)> = Vec::new();
        let mut sources = self.lock();
        // Read under the lock, so that the order of lookups is the order of their times.
        let now = self.0.clock.now();
        let unused = |entry: &Entry| now.saturating_sub(entry.last_used) >= idle;
        sources.check_one_held();
        // A few sources past the timeout, least recently looked up first (they are at the
        // back): an idle spell's worth goes over the next lookups, not all in one. One that
        // is held elsewhere is in use: it is set aside, not dropped.
        for _ in 0..SWEEP_PER_LOOKUP {
            match sources.used.peek_lru() {
                Some((_, oldest)) if unused(oldest) => {
                    sources.drop_or_set_aside_oldest(&mut dropped);
                }
                _ => break,
            }
        }
        let found = sources.take(&key);
        let kept = match found {
            Some((key, mut entry)) if !unused(&entry) || entry.source.has_other_handles() => {
                entry.last_used = now;
                let source = entry.source.clone();
                sources.used.push(key, entry);
                Some(source)
            }
            found => {
                dropped.extend(found);
                None
            }
        };
        // Beyond the bound (counting the new source, if one is to be made): up to 8 of the
        // least recently used make room, a held one set aside rather than dropped (that
        // would free nothing, and give its key a second source).
        let bound = self.0.max_sources - usize::from(kept.is_none());
        for _ in 0..SWEEP_PER_LOOKUP {
            if sources.used.len() <= bound {
                break;
            }
            sources.drop_or_set_aside_oldest(&mut dropped);
        }
        if let Some(source) = kept {
            drop(sources);
            drop(dropped);
            return source;
        }
        let mut builder = TokenSource::builder(client.clone())
            .policy(self.0.policy.clone())
            .store_policy(self.0.store_policy.clone())
            .with_clock(self.0.time.clone())
            .with_sleep(Arc::clone(&self.0.sleep));
        if let Some(store) = &self.0.store {
            builder = builder.store(Arc::clone(store));
        }
        let source = builder.build_prevalidated();
        sources.used.push(
            key,
            Entry {
                source: source.clone(),
                last_used: now,
            },
        );
        drop(sources);
        drop(dropped);
        source
    }

    /// A valid token for `client` (see [`TokenSource::token`]).
    pub async fn token(&self, client: &Client) -> Result<AccessToken, Error> {
        self.source(client).token().await
    }

    /// Drops the source for `client` (its cached token with it), and says whether there was
    /// one. The next [`token`](Self::token) for `client` starts a new source: it fetches,
    /// or, with a [store](TokenCacheBuilder::store), first reads the token the store holds,
    /// as any new source does.
    pub fn remove(&self, client: &Client) -> bool {
        let key = self.key(client);
        // Key and source dropped once the lock is released.
        let removed = self.lock().take(&key);
        removed.is_some()
    }

    /// Drops every source.
    pub fn clear(&self) {
        let all = std::mem::replace(&mut *self.lock(), Sources::new());
        drop(all);
    }

    /// How many sources the cache holds: the held ones set aside included, and idle ones
    /// until lookups drop them.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the cache holds no source.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn key(&self, client: &Client) -> Key {
        Key {
            provider: client.provider(),
            base_url: client.base_url().to_owned(),
            client_id: client.client_id().to_owned(),
            secret_fingerprint: self
                .0
                .fingerprints
                .hash_one(client.credentials().client_secret().expose_secret()),
            scope: client.scope().map(str::to_owned),
            // Sorted by name, stably: names in another order ask for the same token; a
            // name's values in another order do not (a server may keep only the first).
            extra_params: {
                let mut params = client.extra_params().to_vec();
                params.sort_by(|a, b| a.0.cmp(&b.0));
                params
            },
        }
    }

    fn lock(&self) -> MutexGuard<'_, Sources> {
        crate::sync::lock(&self.0.sources)
    }
}

impl TokenCacheBuilder {
    /// The policy of every source (default [`CachePolicy::default`]); checked by
    /// [`build`](Self::build).
    pub fn policy(mut self, policy: CachePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The most sources the cache holds besides the held ones it sets aside; beyond, a
    /// lookup drops the least recently used (default [`DEFAULT_MAX_SOURCES`]; at least 1).
    pub fn max_sources(mut self, max: usize) -> Self {
        self.max_sources = max;
        self
    }

    /// How long a source may go unused before the cache drops it (default
    /// [`DEFAULT_IDLE_TIMEOUT`]; more than zero).
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }

    /// The clock of the cache and its sources (see [`TokenSourceBuilder::time_source`]).
    ///
    /// [`TokenSourceBuilder::time_source`]: crate::TokenSourceBuilder::time_source
    pub fn time_source(mut self, time: impl TimeSource) -> Self {
        self.time = Some(Arc::new(time));
        self
    }

    /// How the sources wait between retries (see [`TokenSourceBuilder::sleep`]).
    ///
    /// [`TokenSourceBuilder::sleep`]: crate::TokenSourceBuilder::sleep
    pub fn sleep(mut self, sleep: impl AsyncSleep) -> Self {
        self.sleep = Arc::new(sleep);
        self
    }

    /// A level-2 store every source shares with other processes (see
    /// [`TokenSourceBuilder::store`](crate::TokenSourceBuilder::store)).
    pub fn store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// How the sources use the store (default [`StorePolicy::default`]).
    pub fn store_policy(mut self, policy: StorePolicy) -> Self {
        self.store_policy = policy;
        self
    }

    /// Checks the configuration and builds the cache.
    pub fn build(self) -> Result<TokenCache, Error> {
        self.policy.validate()?;
        self.store_policy.validate()?;
        if self.max_sources == 0 {
            return Err(Error::configuration(
                "TokenCache::max_sources must be at least 1",
            ));
        }
        if self.idle_timeout.is_zero() {
            return Err(Error::configuration(
                "TokenCache::idle_timeout must be more than zero",
            ));
        }
        let clock = match &self.time {
            Some(time) => Clock::custom(Arc::clone(time)),
            None => Clock::System,
        };
        Ok(TokenCache(Arc::new(Shared {
            policy: self.policy,
            max_sources: self.max_sources,
            idle_timeout: self.idle_timeout,
            time: self.time,
            sleep: self.sleep,
            store: self.store,
            store_policy: self.store_policy,
            clock,
            fingerprints: RandomState::new(),
            sources: Mutex::new(Sources::new()),
        })))
    }
}

impl Default for TokenCache {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("sources", &self.len())
            .field("max_sources", &self.0.max_sources)
            .field("idle_timeout", &self.0.idle_timeout)
            .field("policy", &self.0.policy)
            .finish_non_exhaustive()
    }
}
