//! [`RedisStore`]: a token store in Redis (or Valkey) for a fleet of processes.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{PushInfo, PushKind, Value};
use tokio::sync::{OnceCell, watch};

use super::seal::MAX_SEALED_LEN;
use super::{Lookup, StoreEntry, StoreError, TokenStore, shown_url};
use crate::Error;
use crate::sync::lock;

/// How long a waiter listens for a wake-up before it checks the keys itself: the fallback
/// for a lost notification.
const POLL: Duration = Duration::from_millis(500);

/// The token (its first `ARGV[3]` + 1 bytes) and its time to live if there is one;
/// otherwise the lease for `ARGV[1]` (`SET NX PX ARGV[2]`), taken atomically with finding
/// no token. Replies `{token, ttl}`, `{false, 1}` (leased, or already held by that owner:
/// see [`TRY_LEASE`]) or `{false, 0}` (held by someone else). Something other than a
/// string at the token key is no token: the write that follows the lease replaces it.
static GET_OR_LEASE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local token = redis.pcall('GETRANGE', KEYS[1], 0, ARGV[3])
local ttl = redis.call('PTTL', KEYS[1])
if type(token) == 'string' and ttl > 0 then
  return {token, ttl}
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2])
  or redis.call('GET', KEYS[2]) == ARGV[1] then
  return {false, 1}
end
return {false, 0}",
    )
});

/// The lease for `ARGV[1]` (`SET NX PX ARGV[2]`); 1 if taken, or already held by that
/// owner (a repeat, after a connection lost on the way, of an attempt that took it), else 0.
const TRY_LEASE: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
  or redis.call('GET', KEYS[1]) == ARGV[1] then
  return 1
end
return 0";

/// Writes the token and wakes the waiters, unless the value is the one last deleted (see
/// [`COMPARE_AND_DELETE`]): then it is a write that landed late, and is dropped. The
/// wake-up is best effort (`pcall`): a user whose ACL grants no pub/sub channel (Redis 7's
/// default for a new user) has the `SET` land and the `PUBLISH` refused, and a refused
/// wake-up only costs latency (found by review: it failed every write, after the token had
/// landed).
const PUT: &str = r"
if redis.pcall('GET', KEYS[3]) == redis.sha1hex(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.pcall('PUBLISH', KEYS[2], 'put')
return 1";

/// Deletes the token only if it is exactly the one given, and, found or not, notes that
/// value (its SHA-1, under `KEYS[2]` for `ARGV[2]` ms) as deleted: a write of it that got
/// no answer in time may still be on its way, on a stalled connection or on another
/// runtime's, and landing after this delete it would restore the token an invalidate
/// deleted (found by review). Every value a source writes is sealed with a nonce of its
/// own, so the note stops that one write and no other. The delete comes first and the note
/// is best effort (`pcall`): a full Redis (`noeviction`) refuses the note's `SET` but not
/// the `DEL`, and a refused note failed the whole script, leaving the token the API
/// rejected for the fleet (found by review). A write that lands on a full Redis fails
/// anyway.
const COMPARE_AND_DELETE: &str = r"
local deleted = 0
if redis.call('GET', KEYS[1]) == ARGV[1] then
  deleted = redis.call('DEL', KEYS[1])
end
redis.pcall('SET', KEYS[2], redis.sha1hex(ARGV[1]), 'PX', ARGV[2])
return deleted";

/// How long a deleted value is kept from being written again ([`COMPARE_AND_DELETE`]):
/// longer than a write can take to land. A connection whose data goes unacknowledged for
/// 20 s is closed on Linux ([`tcp_settings`]), and elsewhere the system gives up
/// retransmitting within about 15 minutes.
const DELETED_MS: u64 = 15 * 60 * 1000;

/// Deletes each of `KEYS` (shaped as this store's keys) that holds what this store writes
/// there: a sealed token (it starts with `ARGV[1]`, the seal's magic) under a `:token`
/// key, a lease owner (32 hex digits) under a `:lease` key, a deleted value's SHA-1 (40 hex
/// digits) under a `:deleted` key. Replies how many tokens.
const CLEAR: &str = r"
local tokens = 0
for _, key in ipairs(KEYS) do
  local value = redis.pcall('GET', key)
  if type(value) == 'string' then
    if string.sub(key, -6) == ':token' then
      if string.sub(value, 1, #ARGV[1]) == ARGV[1] then
        tokens = tokens + redis.call('DEL', key)
      end
    elseif string.match(value, '^%x+$')
      and ((string.sub(key, -6) == ':lease' and #value == 32)
        or (string.sub(key, -8) == ':deleted' and #value == 40)) then
      redis.call('DEL', key)
    end
  end
end
return tokens";

/// Ends the lease only for its owner, and wakes the waiters (best effort, as in [`PUT`]).
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.pcall('PUBLISH', KEYS[2], 'released')
  return 1
end
return 0";

/// `$op` (an expression building a command's future, evaluated again for the second
/// try), and once more if it
/// failed because the connection was closed under it: Redis closes an idle connection
/// (its `timeout`, a managed service's idle limit, a failover), and the connection manager
/// reconnects only once a command has failed on it. A source uses its store about twice
/// per token lifetime, so without the second try every refresh found it closed, and every
/// process fetched on its own (found by review). Each operation so tried is safe to repeat:
/// reads, compare-and-deletes, releases, and leases, which count as taken when their owner
/// already holds them. A write is not: its first try may have landed with only its reply
/// lost, and a second would restore the value if another process deleted it in between (a
/// token the API rejected; found by review; [`COMPARE_AND_DELETE`]'s note now drops such a
/// second try, but it could still replace a token written in between). A write follows a read or a lease on the same
/// connection moments before (each runtime has its own: see
/// [`connection`](RedisStore::connection)), so an idle connection is found closed by those.
macro_rules! retried {
    ($op:expr) => {
        match $op.await {
            Err(error) if closed_under_us(&error) => $op.await,
            result => result,
        }
    };
}

/// How the store's TCP connections treat a peer that went quiet. A NAT or firewall that
/// forgets an idle connection (AWS's NAT gateway after 350 s, Azure's load balancer after 4
/// minutes) drops it silently: no reset reaches either end, and the next operation of
/// every process waited out its timeout and fetched a token of its own (found by review).
/// A keep-alive probe after 60 s idle keeps such a mapping alive, and a peer that answers
/// none of 4 probes 15 s apart is gone; on Linux, data (a probe too) unacknowledged for
/// 20 s closes the connection (`TCP_USER_TIMEOUT`) instead of 15 minutes of
/// retransmissions. The manager opens another on the next operation.
fn tcp_settings() -> redis::io::tcp::TcpSettings {
    use redis::io::tcp::socket2::TcpKeepalive;
    let keepalive = TcpKeepalive::new().with_time(Duration::from_secs(60));
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "windows"
    ))]
    let keepalive = keepalive
        .with_interval(Duration::from_secs(15))
        .with_retries(4);
    let settings = redis::io::tcp::TcpSettings::default().set_keepalive(keepalive);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let settings = settings.set_user_timeout(Duration::from_secs(20));
    settings
}

/// Whether `error` says the connection was lost (not refused: a Redis that is down is
/// tried once, as before).
fn closed_under_us(error: &redis::RedisError) -> bool {
    let refused = std::error::Error::source(error)
        .and_then(|source| source.downcast_ref::<std::io::Error>())
        .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
    error.is_connection_dropped() && !refused
}

/// A [`TokenStore`] in Redis 7 or Valkey, shared by every process that points at it.
///
/// Per credential (each key a hash, prefixed with [`key_prefix`](RedisStoreBuilder::key_prefix)):
///
/// - `<prefix><key>:token`, the sealed token, set with `PX` to expire with the token;
/// - `<prefix><key>:lease`, the lease: `SET … NX PX ttl` with a random owner, ended by a
///   compare-and-delete script, so only its owner can end it and a crashed owner's lease
///   expires;
/// - `<prefix><failure key>:token`, where a failed request is kept, sealed, for its
///   cool-down (a failure key, one per way of sending the credential, is another hash of
///   the same shape, so it is stored as one more credential's token; nobody takes its
///   lease or waits on it);
/// - `<prefix><key>:deleted` (and `<prefix><failure key>:deleted`), the SHA-1 of the
///   value last deleted there (an invalidated token, an ended failure), for 15 minutes
///   (when Redis has room: a full one still deletes, without the note): a write of that value that lands later (one that got no answer in time, on a stalled
///   connection) is dropped instead of restoring it;
/// - `<prefix><key>:events`, a pub/sub channel: writing the token and ending the lease
///   publish on it, and waiters listen to it (looking at the keys again every 500 ms as a
///   fallback), so nobody busy-polls. A store subscribes on a RESP3 connection of its
///   own (one for each Tokio runtime that waits, as its command connections below), once
///   per credential, the first time it waits (and again after that connection was
///   lost); every later wait on that runtime listens on it. A server that does not
///   speak RESP3 (before Redis 6) leaves the waiters to the 500 ms fallback.
///
/// [`get`](TokenStore::get) reads a token with its time to live in one transaction
/// (`MULTI`, `GETRANGE`, `PTTL`, `EXEC`: cheaper for Redis than a script), and a source
/// reads that way first; [`get_or_lease`](TokenStore::get_or_lease) is one script that
/// reads again and takes the lease, so no other process takes the lease in between. Both
/// read at most 2 MiB of a value, more than this crate writes: a larger value (put
/// there by something else) fails to open, a counted miss, and is replaced; something
/// other than a string there (a hash, a list) is no token, and is replaced too. An ACL user
/// needs `GET`, `GETRANGE`, `PTTL`, `SET`, `DEL` (run by the scripts too), `EXISTS` (a
/// wait looks whether the lease is still there), `MULTI`, `EXEC`, `EVALSHA` and `SCRIPT
/// LOAD`; `PUBLISH` (run by the scripts), `HELLO`, `SUBSCRIBE` and the channels under the
/// prefix (`&<prefix>*`: Redis 7 grants a new user none) for waits woken by messages
/// (without them a write wakes nobody and waits poll every 500 ms); `SCAN` for
/// [`clear`](Self::clear).
///
/// It connects lazily, once for each Tokio runtime that uses it (a connection's I/O runs
/// on the runtime that opened it: a store shared by runtimes that come and go, a runtime
/// per job or `#[tokio::test]`s, sends each runtime's commands on a connection that runtime
/// drives), and reconnects on its own (a `redis` connection manager): a Redis
/// that is down when the process starts, or goes away later, costs each source one
/// warning and it fetches on its own until Redis answers again. Its connections probe a
/// peer idle for 60 s (TCP keep-alive: a NAT or firewall that forgets idle connections
/// keeps them), and on Linux one whose data goes unacknowledged for 20 s is closed and
/// opened again. A command waits for Redis's answer as long as it takes: a
/// [`TokenSource`](crate::TokenSource) bounds each of its operations by
/// [`StorePolicy::operation_timeout`](crate::store::StorePolicy::operation_timeout) (any
/// length); bound your own calls ([`clear`](Self::clear), the [`TokenStore`] methods) with
/// `tokio::time::timeout`. `redis://` and `rediss://`
/// (TLS) URLs, with a password or an ACL user and password, and a database number, work
/// as the `redis` crate reads them.
///
/// ```no_run
/// # async fn run(client: partner_auth::Client) -> Result<(), partner_auth::Error> {
/// use std::sync::Arc;
/// use partner_auth::{TokenSource, store::RedisStore};
///
/// let store = RedisStore::builder("redis://:password@redis.internal.invalid:6379/0")
///     .key_prefix("billing:")
///     .build()?;
/// let source = TokenSource::builder(client).store(Arc::new(store)).build()?;
/// let token = source.token().await?; // one fetch for the whole fleet
/// # Ok(())
/// # }
/// ```
pub struct RedisStore {
    client: redis::Client,
    /// The same server, spoken to in RESP3 (pushes) for pub/sub.
    events_client: redis::Client,
    prefix: String,
    connect_timeout: Duration,
    /// The connections of each Tokio runtime that uses the store (see
    /// [`connection`](Self::connection)).
    runtimes: Mutex<Vec<Arc<PerRuntime>>>,
    /// The URL without its password, for `Debug`.
    shown: String,
}

/// Configures a [`RedisStore`]; from [`RedisStore::builder`].
#[must_use]
pub struct RedisStoreBuilder {
    url: String,
    prefix: String,
    connect_timeout: Duration,
    root_certificate: Option<Vec<u8>>,
}

impl RedisStore {
    /// A store at `url` with the default key prefix (`partner-auth:`).
    pub fn new(url: &str) -> Result<Self, Error> {
        Self::builder(url).build()
    }

    /// Starts configuring a store at `url`.
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
            prefix: "partner-auth:".to_owned(),
            connect_timeout: Duration::from_secs(2),
            root_certificate: None,
        }
    }

    /// The URL without its user or password: `redis://host:port`.
    pub fn url(&self) -> &str {
        &self.shown
    }

    /// The key prefix.
    pub fn key_prefix(&self) -> &str {
        &self.prefix
    }

    /// Deletes every token and lease a [`TokenSource`](crate::TokenSource) wrote through
    /// this store under its key prefix, and nothing else that shares the prefix: a key
    /// shaped as this store's, `<prefix><64 hex>:token`, `:lease` or `:deleted`, is deleted
    /// only when it holds what a source writes there, a sealed token, a lease owner (32 hex
    /// digits) or a deleted value's SHA-1 (40 hex digits).
    /// A value put through this store's [`TokenStore`] methods by other code is left.
    /// Returns how many entries (tokens, and failed requests kept for their cool-down).
    /// It waits for Redis as long as Redis takes: bound it with `tokio::time::timeout`.
    pub async fn clear(&self) -> Result<usize, StoreError> {
        let mut connection = self.connection()?;
        let pattern = format!("{}*", escape_glob(&self.prefix));
        let mut cursor: u64 = 0;
        let mut tokens = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut connection)
                .await
                .map_err(|e| failed("Redis SCAN failed", e))?;
            let ours: Vec<&String> = keys.iter().filter(|k| self.is_ours(k)).collect();
            if !ours.is_empty() {
                let script = redis::Script::new(CLEAR);
                let mut invocation = script.prepare_invoke();
                invocation.arg(&super::seal::MAGIC[..]);
                for key in &ours {
                    invocation.key(*key);
                }
                let deleted: usize = invocation
                    .invoke_async(&mut connection)
                    .await
                    .map_err(|e| failed("Redis clear failed", e))?;
                tokens += deleted;
            }
            cursor = next;
            if cursor == 0 {
                return Ok(tokens);
            }
        }
    }

    /// Whether `key` is a token, lease or deleted value's note this store writes:
    /// `<prefix><64 hex>:token|lease|deleted`.
    fn is_ours(&self, key: &str) -> bool {
        let Some(rest) = key.strip_prefix(&self.prefix) else {
            return false;
        };
        let Some((hash, kind)) = rest.split_once(':') else {
            return false;
        };
        hash.len() == 64
            && hash.bytes().all(|b| b.is_ascii_hexdigit())
            && matches!(kind, "token" | "lease" | "deleted")
    }

    fn keys(&self, key: &str) -> (String, String, String) {
        let base = format!("{}{key}", self.prefix);
        (
            format!("{base}:token"),
            format!("{base}:lease"),
            format!("{base}:events"),
        )
    }

    /// Where the last value deleted from `key` is noted (see [`COMPARE_AND_DELETE`]).
    fn deleted_key(&self, key: &str) -> String {
        format!("{}{key}:deleted", self.prefix)
    }

    /// The command connection of the runtime this is called on (see [`Self::this_runtime`]).
    fn connection(&self) -> Result<ConnectionManager, StoreError> {
        Ok(self.this_runtime()?.manager.clone())
    }

    /// The connections of the runtime this is called on. A connection's I/O runs on the
    /// runtime that opened it: once that runtime has shut down (the end of a
    /// `#[tokio::test]`, of a runtime per job), a command sent on it fails without leaving
    /// the process, and while that runtime sits idle (a current-thread runtime between its
    /// `block_on`s) a command waits unanswered and a message goes unread. One connection
    /// for the whole store made a token write from any other runtime fail, tried once, and
    /// the next process fetched again; and one subscription left every other runtime's
    /// waits to the 500 ms fallback (found by review). So each runtime gets connections of
    /// its own; those of runtimes that have shut down are dropped when a runtime is first
    /// seen.
    fn this_runtime(&self) -> Result<Arc<PerRuntime>, StoreError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| StoreError::new("the Redis store was used outside a Tokio runtime"))?;
        let id = runtime.id();
        let mut runtimes = lock(&self.runtimes);
        if let Some(ours) = runtimes.iter().find(|r| r.runtime == id) {
            return Ok(Arc::clone(ours));
        }
        runtimes.retain(|r| !r.sentinel.is_finished());
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            // The source bounds every operation itself (`StorePolicy::operation_timeout`):
            // no response timeout of the `redis` crate's under it (its 500 ms cut every
            // longer operation timeout short; found by review). A few quick reconnects at
            // most.
            .set_response_timeout(None)
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(200));
        let manager = ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            .map_err(|e| failed("could not set up the Redis connection", e))?;
        let ours = Arc::new(PerRuntime {
            runtime: id,
            manager,
            events: OnceLock::new(),
            sentinel: runtime.spawn(std::future::pending()),
        });
        runtimes.push(Arc::clone(&ours));
        Ok(ours)
    }

    /// This runtime's pub/sub connection, set up on first use (it connects on its first
    /// command).
    fn events(&self) -> Option<Events> {
        let ours = self.this_runtime().ok()?;
        ours.events
            .get_or_init(|| {
                let channels = Arc::new(Mutex::new(HashMap::new()));
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.connect_timeout))
                    .set_response_timeout(None)
                    .set_number_of_retries(2)
                    .set_max_delay(Duration::from_millis(200))
                    .set_push_sender(wake_listeners(Arc::clone(&channels)))
                    // Needed with the push handler's forgetting for the subscription to
                    // come back after Redis restarts (redis_store.rs tests both).
                    .set_automatic_resubscription();
                match ConnectionManager::new_lazy_with_config(self.events_client.clone(), config) {
                    Ok(manager) => Some(Events { manager, channels }),
                    Err(error) => {
                        tracing::debug!(kind = ?error.kind(), "no Redis pub/sub connection; waiters poll");
                        None
                    }
                }
            })
            .clone()
    }

    /// The wake-ups of `channel`, subscribed (once per store and runtime); `None` if the
    /// subscription failed (this wait polls instead).
    async fn listen(&self, channel: &str) -> Option<watch::Receiver<u64>> {
        let events = self.events()?;
        let listened = Arc::clone(
            lock(&events.channels)
                .entry(channel.to_owned())
                .or_insert_with(|| {
                    Arc::new(Channel {
                        wakes: watch::Sender::new(0),
                        subscribed: OnceCell::new(),
                    })
                }),
        );
        // Listening from before the subscription is confirmed: nothing published after it
        // is missed.
        let wakes = listened.wakes.subscribe();
        let subscribe = async {
            let mut manager = events.manager.clone();
            match tokio::time::timeout(self.connect_timeout, manager.subscribe(channel)).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => Err(format!("{:?}", error.kind())),
                Err(_) => Err("timed out".to_owned()),
            }
        };
        match listened.subscribed.get_or_try_init(|| subscribe).await {
            Ok(()) => Some(wakes),
            Err(reason) => {
                tracing::debug!(%reason, "Redis SUBSCRIBE failed; this wait polls");
                None
            }
        }
    }

    /// Whether a waiter can stop waiting: the lease is gone (its holder wrote the token and
    /// released it, failed, or expired). A token already there does not count: a refresh
    /// waits for a new one.
    async fn lease_gone(
        &self,
        connection: &mut ConnectionManager,
        lease: &str,
    ) -> Result<bool, StoreError> {
        let held: bool = retried!(
            redis::cmd("EXISTS")
                .arg(lease)
                .query_async(&mut *connection)
        )
        .map_err(|e| failed("Redis EXISTS failed", e))?;
        Ok(!held)
    }
}

impl RedisStoreBuilder {
    /// What every key starts with (default `partner-auth:`), to share a Redis with other
    /// applications or keep environments apart.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long each attempt to connect may take (default 2 s). A connection is tried three
    /// times, 0.1 to 0.2 s and then 0.2 to 0.4 s apart, so an operation on a Redis that
    /// never completes a connection (a firewall that drops packets) fails after three
    /// times this and up to 0.6 s more: about 6.5 s by default. A
    /// [`TokenSource`](crate::TokenSource) bounds each of its operations by
    /// [`StorePolicy::operation_timeout`](crate::store::StorePolicy::operation_timeout)
    /// (500 ms by default) all the same; bound your own calls with `tokio::time::timeout`.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// For `rediss://`: trust the certificate authority in `pem` (PEM) instead of the
    /// system's roots, e.g. a private CA of your Redis.
    pub fn root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificate = Some(pem.into());
        self
    }

    /// Checks the URL (`redis://` or `rediss://`); connects on first use.
    pub fn build(self) -> Result<RedisStore, Error> {
        let shown = shown_url(&self.url);
        let open = |info: redis::ConnectionInfo| match &self.root_certificate {
            Some(root) => redis::Client::build_with_tls(
                info,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(root.clone()),
                },
            ),
            None => redis::Client::open(info),
        };
        let unusable = |e: redis::RedisError| {
            Error::configuration(format!(
                "the Redis URL {shown} is not usable ({:?}); expected \
                 redis://[user:password@]host[:port][/db] or rediss://…",
                e.kind()
            ))
        };
        let info = redis::IntoConnectionInfo::into_connection_info(self.url.as_str())
            .map_err(unusable)?
            .set_tcp_settings(tcp_settings());
        let resp3 = info
            .redis_settings()
            .clone()
            .set_protocol(redis::ProtocolVersion::RESP3);
        let events_client = open(info.clone().set_redis_settings(resp3)).map_err(unusable)?;
        let client = open(info).map_err(unusable)?;
        // As redis parsed the URL: TLS means rustls, which must have a crypto provider.
        let tls = matches!(
            client.get_connection_info().addr(),
            redis::ConnectionAddr::TcpTls { .. }
        );
        if tls && !crate::tls::ensure_rustls_provider() {
            return Err(Error::configuration(format!(
                "the Redis store {shown} speaks TLS through rustls, which has no crypto \
                 provider in this build: enable partner-auth's `rustls` or `rustls-ring` \
                 feature, or install one (rustls::crypto::CryptoProvider::install_default) \
                 before building the store"
            )));
        }
        if self.connect_timeout.is_zero() {
            return Err(Error::configuration(
                "the Redis connect timeout must be more than zero",
            ));
        }
        Ok(RedisStore {
            client,
            events_client,
            prefix: self.prefix,
            connect_timeout: self.connect_timeout,
            runtimes: Mutex::new(Vec::new()),
            shown,
        })
    }
}

#[async_trait::async_trait]
impl TokenStore for RedisStore {
    async fn get(&self, key: &str) -> Result<Option<StoreEntry>, StoreError> {
        let (token, _, _) = self.keys(key);
        read(&mut self.connection()?, &token).await
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let (token, _, events) = self.keys(key);
        let mut connection = self.connection()?;
        let ms = millis(ttl);
        let script = redis::Script::new(PUT);
        let mut invocation = script.key(token);
        invocation
            .key(events)
            .key(self.deleted_key(key))
            .arg(value)
            .arg(ms);
        // Tried once: see `retried!`.
        invocation
            .invoke_async::<i64>(&mut connection)
            .await
            .map_err(|e| failed("Redis SET failed", e))?;
        Ok(())
    }

    async fn compare_and_delete(&self, key: &str, expected: &[u8]) -> Result<bool, StoreError> {
        let (token, _, _) = self.keys(key);
        let mut connection = self.connection()?;
        let script = redis::Script::new(COMPARE_AND_DELETE);
        let mut invocation = script.key(token);
        invocation
            .key(self.deleted_key(key))
            .arg(expected)
            .arg(DELETED_MS);
        let deleted: i64 = retried!(invocation.invoke_async(&mut connection))
            .map_err(|e| failed("Redis compare-and-delete failed", e))?;
        Ok(deleted == 1)
    }

    async fn try_lease(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let (_, lease, _) = self.keys(key);
        let mut connection = self.connection()?;
        let ms = millis(ttl);
        let script = redis::Script::new(TRY_LEASE);
        let mut invocation = script.key(lease);
        invocation.arg(owner).arg(ms);
        let taken: i64 = retried!(invocation.invoke_async(&mut connection))
            .map_err(|e| failed("Redis SET NX failed", e))?;
        Ok(taken == 1)
    }

    async fn release_lease(&self, key: &str, owner: &str) -> Result<(), StoreError> {
        let (_, lease, events) = self.keys(key);
        let mut connection = self.connection()?;
        let script = redis::Script::new(RELEASE);
        let mut invocation = script.key(lease);
        invocation.key(events).arg(owner);
        retried!(invocation.invoke_async::<i64>(&mut connection))
            .map_err(|e| failed("Redis lease release failed", e))?;
        Ok(())
    }

    async fn wait(&self, key: &str, timeout: Duration) -> Result<(), StoreError> {
        let (_, lease, events) = self.keys(key);
        let deadline = super::deadline_after(timeout);
        let mut wakes = self.listen(&events).await;
        let mut connection = self.connection()?;
        // Listening first, then looked: a release in between is seen either way.
        loop {
            if self.lease_gone(&mut connection, &lease).await? {
                return Ok(());
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(());
            }
            let slice = (deadline - now).min(POLL);
            match &mut wakes {
                // Woken, or the subscription was dropped (connection lost): look again.
                Some(wakes) => {
                    if tokio::time::timeout(slice, wakes.changed()).await.is_ok() {
                        return Ok(());
                    }
                }
                None => tokio::time::sleep(slice).await,
            }
        }
    }

    async fn get_or_lease(
        &self,
        key: &str,
        owner: &str,
        ttl: Duration,
    ) -> Result<Lookup, StoreError> {
        let (token, lease, _) = self.keys(key);
        let mut connection = self.connection()?;
        let ms = millis(ttl);
        let mut invocation = GET_OR_LEASE.key(&token);
        invocation
            .key(&lease)
            .arg(owner)
            .arg(ms)
            .arg(LAST_BYTE_READ);
        let (value, n): (Option<Vec<u8>>, i64) = retried!(invocation.invoke_async(&mut connection))
            .map_err(|e| failed("Redis GET or lease failed", e))?;
        Ok(match value {
            Some(value) if n > 0 => Lookup::Found(StoreEntry {
                value,
                ttl: Duration::from_millis(n as u64),
            }),
            Some(_) => {
                return Err(StoreError::new(
                    "the Redis GET-or-lease script answered a token without a time to live",
                ));
            }
            None if n == 1 => Lookup::Leased,
            None => Lookup::Held,
        })
    }
}

/// `ttl` in whole milliseconds for `PX`: at least 1 (0 is an error to Redis), at most
/// `u64::MAX`.
fn millis(ttl: Duration) -> u64 {
    ttl.as_millis().clamp(1, u128::from(u64::MAX)) as u64
}

/// The index of the last byte of a value that is read (`GETRANGE`'s end is inclusive).
const LAST_BYTE_READ: usize = MAX_SEALED_LEN - 1;

/// The token at `token` (at most [`MAX_SEALED_LEN`] bytes of it) and its time to live,
/// read in one transaction; `None` without a token or without an expiry (not an entry a
/// store wrote).
async fn read(
    connection: &mut ConnectionManager,
    token: &str,
) -> Result<Option<StoreEntry>, StoreError> {
    let mut pipe = redis::pipe();
    pipe.atomic()
        .getrange(token, 0, LAST_BYTE_READ as isize)
        .pttl(token);
    let read: Result<(Option<Vec<u8>>, i64), _> = retried!(pipe.query_async(&mut *connection));
    let (value, pttl) = match read {
        Ok(read) => read,
        // Something other than a string at the token key (put there by something else) is
        // no token: the lease and the write after it replace it (found by review: every
        // read was a store error, and sharing was off for as long as it was there).
        Err(e) if wrong_type(&e) => return Ok(None),
        Err(e) => return Err(failed("Redis GET/PTTL transaction failed", e)),
    };
    // PTTL is -1 for a key without expiry (not ours) and -2 for no key.
    Ok(value.filter(|_| pttl > 0).map(|value| StoreEntry {
        value,
        ttl: Duration::from_millis(pttl as u64),
    }))
}

/// Whether `error` (of a command, or of one in a transaction) is Redis's `WRONGTYPE`.
fn wrong_type(error: &redis::RedisError) -> bool {
    error.code() == Some("WRONGTYPE")
        || error
            .clone()
            .into_server_errors()
            .is_some_and(|errors| errors.iter().any(|(_, e)| e.code() == "WRONGTYPE"))
}

/// One runtime's connections: for commands, and for pub/sub once it waits.
struct PerRuntime {
    runtime: tokio::runtime::Id,
    manager: ConnectionManager,
    events: OnceLock<Option<Events>>,
    /// A task on that runtime that never ends on its own: finished once the runtime has
    /// shut down, and aborted with the store.
    sentinel: tokio::task::JoinHandle<()>,
}

impl Drop for PerRuntime {
    fn drop(&mut self) {
        self.sentinel.abort();
    }
}

/// A runtime's pub/sub connection and the channels it listens to.
#[derive(Clone)]
struct Events {
    manager: ConnectionManager,
    channels: Arc<Mutex<HashMap<String, Arc<Channel>>>>,
}

/// One credential's channel: a count of its messages, watched by its waiters.
struct Channel {
    wakes: watch::Sender<u64>,
    subscribed: OnceCell<()>,
}

/// The pub/sub connection's push handler: a message wakes its channel's waiters; a lost
/// connection wakes them all (they look at the keys again) and forgets the subscriptions.
fn wake_listeners(
    channels: Arc<Mutex<HashMap<String, Arc<Channel>>>>,
) -> impl Fn(PushInfo) -> Result<(), std::convert::Infallible> + Send + Sync + 'static {
    move |push| {
        let wake = |channel: &Channel| channel.wakes.send_modify(|n| *n = n.wrapping_add(1));
        match push.kind {
            PushKind::Message => {
                if let Some(Value::BulkString(name)) = push.data.first()
                    && let Ok(name) = std::str::from_utf8(name)
                    && let Some(channel) = lock(&channels).get(name)
                {
                    wake(channel);
                }
            }
            PushKind::Disconnection => {
                // Everyone looks again; the next wait subscribes anew (which reconnects),
                // however long the connection stays lost.
                let mut channels = lock(&channels);
                channels.values().for_each(|c| wake(c));
                channels.clear();
            }
            _ => {}
        }
        Ok(())
    }
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.shown)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("url", &shown_url(&self.url))
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// `text` with Redis glob characters escaped.
fn escape_glob(text: &str) -> String {
    text.chars().fold(String::new(), |mut out, c| {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

/// A store error from a Redis error (whose text names no URL or password); refused when
/// Redis refused the password or a command.
fn failed(what: &str, error: redis::RedisError) -> StoreError {
    let refused = error.kind() == redis::ErrorKind::AuthenticationFailed
        || matches!(error.code(), Some("WRONGPASS" | "NOAUTH" | "NOPERM"));
    let error = StoreError::with_source(what.to_owned(), error);
    if refused { error.refused() } else { error }
}
