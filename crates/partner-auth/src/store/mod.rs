//! The level-2 cache: a [`TokenStore`] shares one token per credential among processes,
//! with a lease so that one process fetches while the others wait for its result.
//!
//! A [`TokenSource`](crate::TokenSource) built with a store
//! ([`TokenSourceBuilder::store`](crate::TokenSourceBuilder::store)) still answers a fresh
//! token from memory with no store round trip; it consults the store only when its own
//! token is missing, due for refresh, or invalidated:
//!
//! 1. read the store: a usable token there is adopted (a *store hit*). On a miss the
//!    caller reads it in its own task (one caller at a time; the others, and any caller
//!    after one that gave up mid-read, go to the shared fetch, which reads it too), so a
//!    hit costs one store round trip;
//! 2. otherwise take the lease ([`TokenStore::get_or_lease`]: in the same step as the
//!    read where the store allows): the process that gets it fetches from the provider,
//!    writes the token, and releases the lease;
//! 3. the others wait for the written token (woken by the store), then read it; if the
//!    lease ends without a token (its holder crashed or failed), one of them takes it over
//!    and the rest wait for that one. A waiter gives up on the lease only after the lease's
//!    time to live plus a fetch ([`RetryPolicy::deadline`](crate::RetryPolicy)) and fetches
//!    on its own.
//!
//! What the store holds is sealed by this crate before the store sees it: the value is
//! encrypted with AES-256-GCM under a key derived with HKDF-SHA-256 from the client
//! secret and the credential's identity, and the key is a SHA-256 hash of the provider,
//! base URL, client id (with the scope and extra parameters, where set) and a fingerprint
//! of the secret. Whoever reads the store without
//! the client secret learns neither the token nor the secret; an entry that fails to
//! decrypt (tampered, truncated, written for another credential or under a rotated secret)
//! is a miss, counted in [`Stats::store_decrypt_failures`](crate::Stats).
//!
//! The store is never a single point of failure: every operation is bounded by
//! [`StorePolicy::operation_timeout`]; after a failure (but a delete the store refuses)
//! the source stops asking the store for [`StorePolicy::outage_backoff`] and fetches on its
//! own, as without a store, logging one warning per outage.
//!
//! Two stores ship: `FileStore` (feature `file-store`; processes on one machine) and
//! `RedisStore` (feature `redis`; a fleet). Another database needs one implementation of
//! [`TokenStore`].

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::Error;

#[cfg(feature = "file-store")]
mod file;
#[cfg(feature = "redis")]
mod redis;
pub(crate) mod seal;
pub(crate) mod shared;
pub(crate) mod tracker;

#[cfg(feature = "file-store")]
pub use file::FileStore;
#[cfg(feature = "redis")]
pub use redis::{RedisStore, RedisStoreBuilder};

/// The attribute a [`TokenStore`] implementation puts on its `impl` block (the trait's
/// methods are `async`), re-exported so that an implementation needs no `async-trait`
/// dependency of its own.
pub use async_trait::async_trait;

/// A shared key-value store with expiry, compare-and-delete and leases: the level-2 token
/// cache behind a [`TokenSource`](crate::TokenSource).
///
/// Implementations store opaque bytes under opaque keys; sealing, key derivation and the
/// single-flight protocol are this crate's. Each `key` is a credential (64 hex digits):
/// an implementation keeps the credential's value and its lease apart (e.g. `key:token`
/// and `key:lease`). A credential also has further keys of the same shape, one per way of
/// sending it (`ClientAuth`), where a token request that the provider refused or failed is
/// kept (with `put`, and read with `get`) for its cool-down, so the processes waiting on it
/// take its outcome instead of each asking in turn. Every method may fail with a [`StoreError`]; the caller then fetches
/// without the store for a while, so an implementation should fail fast rather than retry.
///
/// The methods:
///
/// - [`get`](Self::get): the value and how long it has left to live, as the store measures
///   it (so clocks of different machines never meet);
/// - [`put`](Self::put): replace the value, to expire after `ttl`, and wake the
///   [`wait`](Self::wait)ers;
/// - [`compare_and_delete`](Self::compare_and_delete): delete the value only if it is
///   exactly `expected` (atomically), and say whether it did;
/// - [`try_lease`](Self::try_lease): take the credential's lease for `owner` if nobody
///   holds it, to expire after `ttl` (or when its holder dies, where the store can tell);
/// - [`release_lease`](Self::release_lease): end the lease if `owner` still holds it, and
///   wake the waiters;
/// - [`wait`](Self::wait): return once the value may have been written or the lease may
///   have ended, or after `timeout` at the latest. A spurious return is fine (the caller
///   checks again, and waits again no sooner than 20 ms after the last wait began); a
///   missed wake-up only costs latency, never correctness;
/// - [`get_or_lease`](Self::get_or_lease) (provided): `get`, and `try_lease` when there is
///   no value, in one step; override it where the store can do that in one round trip.
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use std::time::{Duration, Instant};
/// use partner_auth::store::{StoreEntry, StoreError, TokenStore};
///
/// /// One process's memory: only useful to show the contract (a real store is shared).
/// #[derive(Debug, Default)]
/// struct Memory(Mutex<HashMap<String, (Vec<u8>, Instant)>>);
///
/// #[partner_auth::store::async_trait]
/// impl TokenStore for Memory {
///     async fn get(&self, key: &str) -> Result<Option<StoreEntry>, StoreError> {
///         let map = self.0.lock().unwrap();
///         Ok(map.get(&format!("{key}:token")).and_then(|(value, until)| {
///             let ttl = until.checked_duration_since(Instant::now())?;
///             Some(StoreEntry { value: value.clone(), ttl })
///         }))
///     }
///     async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
///         let until = Instant::now() + ttl;
///         self.0.lock().unwrap().insert(format!("{key}:token"), (value.to_vec(), until));
///         Ok(())
///     }
///     async fn compare_and_delete(&self, key: &str, expected: &[u8]) -> Result<bool, StoreError> {
///         let mut map = self.0.lock().unwrap();
///         let key = format!("{key}:token");
///         let matches = map.get(&key).is_some_and(|(value, _)| value == expected);
///         if matches {
///             map.remove(&key);
///         }
///         Ok(matches)
///     }
///     async fn try_lease(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
///         let mut map = self.0.lock().unwrap();
///         let key = format!("{key}:lease");
///         if map.get(&key).is_some_and(|(_, until)| *until > Instant::now()) {
///             return Ok(false);
///         }
///         map.insert(key, (owner.as_bytes().to_vec(), Instant::now() + ttl));
///         Ok(true)
///     }
///     async fn release_lease(&self, key: &str, owner: &str) -> Result<(), StoreError> {
///         let mut map = self.0.lock().unwrap();
///         let key = format!("{key}:lease");
///         if map.get(&key).is_some_and(|(holder, _)| holder == owner.as_bytes()) {
///             map.remove(&key);
///         }
///         Ok(())
///     }
///     async fn wait(&self, _key: &str, timeout: Duration) -> Result<(), StoreError> {
///         // No notifications here: poll (a real store wakes its waiters).
///         tokio::time::sleep(timeout.min(Duration::from_millis(20))).await;
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let sandbox = partner_sandbox::Sandbox::start().await?;
/// # let endpoint = sandbox.endpoint(partner_auth::Provider::Teez);
/// # let client = partner_auth::Client::builder(partner_auth::Provider::Teez)
/// #     .base_url(&endpoint.base_url)
/// #     .credentials(partner_auth::Credentials::new(endpoint.client_id, endpoint.client_secret))
/// #     .build()?;
/// let store = std::sync::Arc::new(Memory::default());
/// let first = partner_auth::TokenSource::builder(client.clone()).store(store.clone()).build()?;
/// let second = partner_auth::TokenSource::builder(client).store(store).build()?;
/// let token = first.token().await?; // fetched, and written to the store
/// let shared = second.token().await?; // read from the store: no second request
/// assert_eq!(token.expose_secret(), shared.expose_secret());
/// assert_eq!(second.stats().token_requests, 0);
/// assert_eq!(second.stats().store_hits, 1);
/// # Ok(())
/// # }
/// ```
#[async_trait::async_trait]
pub trait TokenStore: Send + Sync + fmt::Debug + 'static {
    /// The credential's value and its time left to live, or `None`.
    async fn get(&self, key: &str) -> Result<Option<StoreEntry>, StoreError>;
    /// Replaces the credential's value, to expire after `ttl`; wakes the waiters. A store
    /// may drop a write of a value it compare-and-deleted moments before (one that landed
    /// late: `RedisStore` does, see its docs); every value a
    /// source writes is sealed afresh, so no new value is ever that one.
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError>;
    /// Deletes the credential's value if it is exactly `expected`; whether it did.
    async fn compare_and_delete(&self, key: &str, expected: &[u8]) -> Result<bool, StoreError>;
    /// Takes the credential's lease for `owner` unless someone holds it; whether it did.
    async fn try_lease(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError>;
    /// Ends the lease if `owner` holds it; wakes the waiters.
    async fn release_lease(&self, key: &str, owner: &str) -> Result<(), StoreError>;
    /// Returns once the value may have been written or the lease may have ended, or after
    /// `timeout`.
    async fn wait(&self, key: &str, timeout: Duration) -> Result<(), StoreError>;

    /// Reads the credential's value and, if there is none, takes its lease for `owner`
    /// (to expire after `ttl`) in the same step: [`Lookup::Leased`] promises that no value
    /// was stored when the lease was taken. A source calls it after [`get`](Self::get)
    /// found nothing. A store that can do both in one round trip (Redis: one script)
    /// should; this default reads, takes the lease, and reads again.
    async fn get_or_lease(
        &self,
        key: &str,
        owner: &str,
        ttl: Duration,
    ) -> Result<Lookup, StoreError> {
        if let Some(entry) = self.get(key).await? {
            return Ok(Lookup::Found(entry));
        }
        if !self.try_lease(key, owner, ttl).await? {
            return Ok(Lookup::Held);
        }
        // Whoever held the lease before may have written and released it in between.
        match self.get(key).await {
            Ok(None) => Ok(Lookup::Leased),
            Ok(Some(entry)) => {
                // The token is what counts; a lease left behind only matters once the
                // token is gone, and then it expires.
                let _ = self.release_lease(key, owner).await;
                Ok(Lookup::Found(entry))
            }
            Err(error) => {
                // No telling what is stored: end the lease rather than leave it to expire.
                let _ = self.release_lease(key, owner).await;
                Err(error)
            }
        }
    }
}

/// What [`TokenStore::get_or_lease`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A stored value (the lease was not taken).
    Found(StoreEntry),
    /// No value; the lease is now the caller's.
    Leased,
    /// No value, and someone else holds the lease.
    Held,
}

/// A value read from a [`TokenStore`].
#[derive(Clone, PartialEq, Eq)]
pub struct StoreEntry {
    /// The bytes as written (sealed: unreadable without the client secret).
    pub value: Vec<u8>,
    /// Time left until the value expires, as the store measures it.
    pub ttl: Duration,
}

impl fmt::Debug for StoreEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreEntry")
            .field("value", &format_args!("{} sealed bytes", self.value.len()))
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// Where a store is, as a configuration file or a command line names it: a `redis://` or
/// `rediss://` URL, or a directory.
///
/// ```
/// use partner_auth::store::StoreLocation;
///
/// assert!(matches!(StoreLocation::parse("redis://:pw@cache.invalid:6379/0")?, StoreLocation::Redis(_)));
/// assert!(matches!(StoreLocation::parse("/var/cache/tokens")?, StoreLocation::Dir(_)));
/// // Never a directory named after a URL (with its password): an error instead.
/// assert!(StoreLocation::parse("valkey://:pw@cache.invalid").is_err());
/// assert!(StoreLocation::parse("REDIS://cache.invalid").is_err());
/// // A Redis address without its scheme, or nothing: an error, not a directory.
/// assert!(StoreLocation::parse("127.0.0.1:6379").is_err());
/// assert!(StoreLocation::parse("cache.invalid:6379/0").is_err());
/// assert!(StoreLocation::parse("[::1]:6379").is_err());
/// assert!(StoreLocation::parse(" ").is_err());
/// assert!(matches!(StoreLocation::parse("./cache:6379")?, StoreLocation::Dir(_)));
/// # Ok::<(), partner_auth::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreLocation<'a> {
    /// A Redis URL (feature `redis` opens it).
    Redis(&'a str),
    /// A directory (feature `file-store` opens it).
    Dir(&'a Path),
}

impl<'a> StoreLocation<'a> {
    /// Reads `spec`. A URL of another scheme, what looks like a mistyped Redis URL
    /// (`redis:/host`, `REDIS://host`, `valkey://…`) or a Redis address without its scheme
    /// (`host:6379`, `host:6379/0`; a directory so named is `./host:6379`), and a blank
    /// `spec`, are a
    /// [`Configuration`] error that does not repeat it: it may hold a password.
    ///
    /// [`Configuration`]: crate::ErrorKind::Configuration
    pub fn parse(spec: &'a str) -> Result<Self, Error> {
        // The `redis` crate takes the scheme in lower case only.
        if spec.starts_with("redis://") || spec.starts_with("rediss://") {
            return Ok(StoreLocation::Redis(spec));
        }
        let lower = spec.to_ascii_lowercase();
        let looks_like_url = spec.contains("://")
            || ["redis", "rediss", "valkey", "valkeys", "unix"]
                .iter()
                .any(|scheme| {
                    lower.starts_with(&format!("{scheme}:"))
                        || lower.starts_with(&format!("{scheme}/"))
                });
        if looks_like_url {
            return Err(Error::configuration(
                "the token store looks like a URL but is not redis://host[:port] or \
                 rediss://host[:port]; give one of those, or a directory",
            ));
        }
        // `host:port`, or `host:port/db`: a Redis address without its scheme (found by
        // review: it became a directory of that name).
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let address = match spec.split_once('/') {
            Some((address, db)) if digits(db) => address,
            _ => spec,
        };
        let host_and_port = !address.contains(['/', '\\'])
            && address
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && digits(port));
        if host_and_port {
            return Err(Error::configuration(
                "the token store looks like host:port; give redis://host:port (or rediss://), \
                 or for a directory of that name ./host:port",
            ));
        }
        if spec.trim().is_empty() {
            return Err(Error::configuration(
                "the token store is blank; give a redis:// or rediss:// URL, or a directory",
            ));
        }
        Ok(StoreLocation::Dir(Path::new(spec)))
    }

    /// Opens the store, if this build has its feature.
    pub fn open(self) -> Result<Arc<dyn TokenStore>, Error> {
        match self {
            #[cfg(feature = "redis")]
            StoreLocation::Redis(url) => Ok(Arc::new(RedisStore::new(url)?)),
            #[cfg(not(feature = "redis"))]
            StoreLocation::Redis(_) => Err(Error::configuration(
                "a Redis token store needs partner-auth's `redis` feature",
            )),
            #[cfg(feature = "file-store")]
            StoreLocation::Dir(dir) => match FileStore::new(dir) {
                Ok(store) => Ok(Arc::new(store)),
                Err(e) => Err(Error::configuration(format!(
                    "the token store directory {} is not usable",
                    dir.display()
                ))
                .with_source(e)),
            },
            #[cfg(not(feature = "file-store"))]
            StoreLocation::Dir(_) => Err(Error::configuration(
                "a token store in a directory needs partner-auth's `file-store` feature",
            )),
        }
    }
}

impl fmt::Debug for StoreLocation<'_> {
    /// A Redis URL without its user or password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Redis(url) => f.debug_tuple("Redis").field(&shown_url(url)).finish(),
            StoreLocation::Dir(dir) => f.debug_tuple("Dir").field(dir).finish(),
        }
    }
}

/// A store URL as it may be shown: scheme, host and port only (no user, password, path).
/// Not the host either when an `@` follows it: a password with an unescaped `/` or `@`
/// ends the URL's authority early, and what it parses as the host is then a piece of the
/// password (`redis://:pa@ss/word@host` has the host `ss`; found by review).
pub(crate) fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => {
            let after_host = url.split_once("://").map_or("", |(_, rest)| rest);
            let after_host = after_host
                .find(['/', '?', '#'])
                .map_or("", |at| &after_host[at..]);
            if after_host.contains('@') {
                return format!(
                    "{}://(host not shown: an `@` after it, as a password with an unescaped \
                     `/` or `@` makes)",
                    parsed.scheme()
                );
            }
            format!(
                "{}://{}{}",
                parsed.scheme(),
                parsed.host_str().unwrap_or(""),
                parsed.port().map(|p| format!(":{p}")).unwrap_or_default()
            )
        }
        Err(_) => "(not a URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::shown_url;

    #[test]
    fn a_shown_store_url_holds_no_piece_of_a_password() {
        assert_eq!(
            shown_url("redis://:pw@cache.invalid:6380/0"),
            "redis://cache.invalid:6380"
        );
        assert_eq!(
            shown_url("rediss://user:pw@cache.invalid"),
            "rediss://cache.invalid"
        );
        for raw in [
            "redis://:pa@ss/word@cache.invalid",
            "redis://:pa@ss?word@cache.invalid",
            "redis://:pa@ss#word@cache.invalid",
            "redis://user:pa@ssword/x@cache.invalid:6379/0",
        ] {
            let shown = shown_url(raw);
            assert!(
                shown.starts_with("redis://(host not shown"),
                "{raw}: {shown}"
            );
        }
    }
}

/// `wait` from now on Tokio's clock, or a deadline that never comes (about thirty years
/// off) for a wait longer than the clock holds (`Duration::MAX`), rather than a panic.
#[cfg(any(feature = "redis", feature = "file-store"))]
pub(crate) fn deadline_after(wait: std::time::Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(wait)
        .unwrap_or_else(|| far_after(now.into_std()).into())
}

/// About thirty years after `now` (or `now`, on a clock that cannot hold that).
#[cfg(any(feature = "redis", feature = "file-store"))]
pub(crate) fn far_after(now: std::time::Instant) -> std::time::Instant {
    now.checked_add(std::time::Duration::from_secs(30 * 365 * 86_400))
        .unwrap_or(now)
}

/// A [`TokenStore`] operation failed: the store is down, slow, or answered something else.
///
/// Its message must not contain a secret (a password in a URL, a token): the source logs
/// it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StoreError {
    message: String,
    refused: bool,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StoreError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            refused: false,
            source: None,
        }
    }

    /// An error with a message and its cause.
    pub fn with_source(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            message: message.into(),
            refused: false,
            source: Some(source.into()),
        }
    }

    /// Marks the error as the store refusing the access it was given (see
    /// [`is_refused`](Self::is_refused)).
    pub fn refused(mut self) -> Self {
        self.refused = true;
        self
    }

    /// Whether the store refused the access it was given: a wrong password, or an ACL that
    /// forbids a command (`RedisStore`: Redis's `WRONGPASS`, `NOAUTH`, `NOPERM`). That is
    /// configuration to fix, not an outage that waiting ends.
    pub fn is_refused(&self) -> bool {
        self.refused
    }
}

/// How a [`TokenSource`](crate::TokenSource) uses its [`TokenStore`].
///
/// ```
/// use std::time::Duration;
/// use partner_auth::store::StorePolicy;
///
/// let policy = StorePolicy::default()
///     .with_lease_ttl(Duration::from_secs(20))
///     .with_operation_timeout(Duration::from_millis(200))
///     .with_outage_backoff(Duration::from_secs(10));
/// policy.validate()?;
/// assert!(StorePolicy::default().with_lease_ttl(Duration::ZERO).validate().is_err());
/// # Ok::<(), partner_auth::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct StorePolicy {
    /// How long a lease lasts (default 15 s): the longest a process waits for another's
    /// fetch before it takes over. A fetch that outlasts it (a slow provider retried:
    /// the default retries may take up to 30 s, plus their requests) is taken over, which
    /// costs one more token request, never a wrong token; make it longer than your
    /// fetches take, retries included.
    #[serde(with = "humantime_serde")]
    pub lease_ttl: Duration,
    /// The longest any one store operation may take (default 500 ms, on Tokio's timer like
    /// the HTTP timeouts); a slower one counts as a store failure.
    #[serde(with = "humantime_serde")]
    pub operation_timeout: Duration,
    /// After a store failure, how long the source leaves the store alone and fetches on its
    /// own (default 5 s).
    #[serde(with = "humantime_serde")]
    pub outage_backoff: Duration,
}

impl Default for StorePolicy {
    fn default() -> Self {
        Self {
            lease_ttl: Duration::from_secs(15),
            operation_timeout: Duration::from_millis(500),
            outage_backoff: Duration::from_secs(5),
        }
    }
}

impl StorePolicy {
    /// With a lease time to live.
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// With a timeout per store operation.
    pub fn with_operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// With a back-off after a store failure.
    pub fn with_outage_backoff(mut self, backoff: Duration) -> Self {
        self.outage_backoff = backoff;
        self
    }

    /// Checks every duration: all must be positive, and at most a day; the lease at least
    /// 100 ms and the outage back-off at least 1 ms.
    pub fn validate(&self) -> Result<(), Error> {
        for (name, value) in [
            ("lease_ttl", self.lease_ttl),
            ("operation_timeout", self.operation_timeout),
            ("outage_backoff", self.outage_backoff),
        ] {
            if value.is_zero() || value > Duration::from_secs(86_400) {
                return Err(Error::configuration(format!(
                    "StorePolicy::{name} must be more than zero and at most a day; it is {}",
                    humantime::format_duration(value)
                )));
            }
        }
        // Found by review: `1ns` (a unit typo) kept the breaker from ever staying open,
        // and a dead store cost every call an operation timeout.
        if self.outage_backoff < Duration::from_millis(1) {
            return Err(Error::configuration(format!(
                "StorePolicy::outage_backoff must be at least 1ms: shorter, a failing store \
                 is tried at every call; it is {}",
                humantime::format_duration(self.outage_backoff)
            )));
        }
        if self.lease_ttl < Duration::from_millis(100) {
            return Err(Error::configuration(
                "StorePolicy::lease_ttl must be at least 100ms: a lease must outlast a token fetch",
            ));
        }
        Ok(())
    }
}
