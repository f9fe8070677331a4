//! An in-memory `TokenStore` with knobs for fault tests: slow, scripted or failing reads,
//! failing or hanging writes and deletes, a store that dies, a gate on the next read and on
//! the lease release, and records of what it was asked and answered.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use partner_auth::store::{StoreEntry, StoreError, TokenStore};
use partner_auth::time::ManualClock;
use tokio::sync::Notify;

/// What the next `get`s do (front first); none left: answer normally.
#[derive(Debug, Clone, Copy)]
#[allow(dead_code)] // each test file uses some
pub enum Get {
    /// Say so on `get_entered`, wait for `get_release`, then answer normally.
    Hold,
    /// An entry that does not open.
    Garbage,
    /// Read the value, then say so on `get_entered` and wait for `get_release` before
    /// answering with what was read (by then a stale answer).
    HoldAfterRead,
}

#[derive(Debug, Default)]
#[allow(dead_code)] // each test file uses some knobs
pub struct MemoryStore {
    map: Mutex<HashMap<String, (Vec<u8>, Instant)>>,
    /// The task each `get` ran in, in order.
    pub readers: Mutex<Vec<Option<tokio::task::Id>>>,
    /// What the next `get`s do.
    pub script: Mutex<VecDeque<Get>>,
    pub get_entered: Notify,
    pub get_release: Notify,
    /// Every `get` takes this long, then `second_step_ms` more (a second round trip).
    pub get_delay_ms: AtomicU64,
    pub second_step_ms: AtomicU64,
    /// The first `get` after a lease it granted takes this much longer (once).
    pub slow_get_after_lease_ms: AtomicU64,
    slow_get_pending: AtomicBool,
    /// The next `release_lease` says so on `release_entered` and waits for
    /// `release_release` (once).
    pub hold_release: AtomicBool,
    pub release_entered: Notify,
    pub release_release: Notify,
    /// Leases granted, and leases ended by their owner.
    pub leases: AtomicU64,
    pub releases: AtomicU64,
    /// Keeps the first token written and loses every later write and delete, as a replica
    /// that missed them would answer after a failover.
    pub loses_token_writes: AtomicBool,
    /// The next `get` fails.
    pub fail_next_get: AtomicBool,
    /// What each `get` that answered normally found, in order.
    pub gets: Mutex<Vec<Option<Vec<u8>>>>,
    /// Every value `put` was given, in order.
    pub puts: Mutex<Vec<Vec<u8>>>,
    /// The key and time to live of every `put`, in order.
    pub put_ttls: Mutex<Vec<(String, Duration)>>,
    /// Every `put` fails while set.
    pub failing_puts: AtomicBool,
    /// The next `put` stores its value, then never answers (a reply lost or late).
    pub put_lands_then_hangs: AtomicBool,
    /// `compare_and_delete` calls, and how many of the next ones fail.
    pub deletes: AtomicU64,
    pub failing_deletes: AtomicU64,
    /// The next `compare_and_delete` moves this clock this far, then fails (an attempt
    /// that takes its time).
    pub slow_failing_delete: Mutex<Option<(ManualClock, Duration)>>,
    /// Every operation hangs while set (a store that stopped answering), and is recorded
    /// by name in `asked_while_dead`.
    pub dead: AtomicBool,
    pub asked_while_dead: Mutex<Vec<&'static str>>,
}

#[allow(dead_code)]
impl MemoryStore {
    /// The live value under `key` (`…:token` or `…:lease`) and when it expires.
    pub fn slot(&self, key: &str) -> Option<(Vec<u8>, Instant)> {
        let map = self.map.lock().unwrap();
        map.get(key)
            .filter(|(_, until)| *until > Instant::now())
            .cloned()
    }

    /// The live token value under the credential `key`.
    pub fn token(&self, key: &str) -> Option<Vec<u8>> {
        self.slot(&format!("{key}:token")).map(|(value, _)| value)
    }

    /// What each `get` that answered normally found, so far.
    pub fn gets(&self) -> Vec<Option<Vec<u8>>> {
        self.gets.lock().unwrap().clone()
    }

    /// A store that refuses every delete (a Redis ACL without the command, say); the
    /// rest works.
    pub fn refusing_deletes() -> Self {
        let store = Self::default();
        store.failing_deletes.store(u64::MAX, Ordering::SeqCst);
        store
    }

    async fn hang_if_dead(&self, what: &'static str) {
        if self.dead.load(Ordering::SeqCst) {
            self.asked_while_dead.lock().unwrap().push(what);
            std::future::pending::<()>().await;
        }
    }
}

async fn sleep_ms(ms: u64) {
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

#[async_trait::async_trait]
impl TokenStore for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<StoreEntry>, StoreError> {
        self.hang_if_dead("get").await;
        if self.fail_next_get.swap(false, Ordering::SeqCst) {
            return Err(StoreError::new("a transient failure"));
        }
        self.readers.lock().unwrap().push(tokio::task::try_id());
        let step = self.script.lock().unwrap().pop_front();
        match step {
            Some(Get::Hold) => {
                self.get_entered.notify_one();
                self.get_release.notified().await;
            }
            Some(Get::Garbage) => {
                return Ok(Some(StoreEntry {
                    value: b"pat2 not a sealed entry at all, just garbage bytes".to_vec(),
                    ttl: Duration::from_secs(600),
                }));
            }
            Some(Get::HoldAfterRead) => {
                let read = self.slot(&format!("{key}:token"));
                self.get_entered.notify_one();
                self.get_release.notified().await;
                return Ok(read.map(|(value, until)| StoreEntry {
                    value,
                    ttl: until.saturating_duration_since(Instant::now()),
                }));
            }
            None => {}
        }
        if self.slow_get_pending.swap(false, Ordering::SeqCst) {
            sleep_ms(self.slow_get_after_lease_ms.load(Ordering::SeqCst)).await;
        }
        sleep_ms(self.get_delay_ms.load(Ordering::SeqCst)).await;
        sleep_ms(self.second_step_ms.load(Ordering::SeqCst)).await;
        let entry = self
            .slot(&format!("{key}:token"))
            .map(|(value, until)| StoreEntry {
                value,
                ttl: until.saturating_duration_since(Instant::now()),
            });
        let found = entry.as_ref().map(|e| e.value.clone());
        self.gets.lock().unwrap().push(found);
        Ok(entry)
    }
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        self.hang_if_dead("put").await;
        if self.failing_puts.load(Ordering::SeqCst) {
            return Err(StoreError::new("writes refused"));
        }
        let entry = (value.to_vec(), Instant::now() + ttl);
        {
            let mut map = self.map.lock().unwrap();
            let key = format!("{key}:token");
            if !(self.loses_token_writes.load(Ordering::SeqCst) && map.contains_key(&key)) {
                map.insert(key, entry);
            }
        }
        self.puts.lock().unwrap().push(value.to_vec());
        self.put_ttls.lock().unwrap().push((key.to_owned(), ttl));
        if self.put_lands_then_hangs.swap(false, Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        Ok(())
    }
    async fn compare_and_delete(&self, key: &str, expected: &[u8]) -> Result<bool, StoreError> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        self.hang_if_dead("delete").await;
        let slow = self.slow_failing_delete.lock().unwrap().take();
        if let Some((clock, took)) = slow {
            clock.advance(took);
            return Err(StoreError::new("no answer"));
        }
        let failing = &self.failing_deletes;
        if failing
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(StoreError::new("a transient failure"));
        }
        let mut map = self.map.lock().unwrap();
        let key = format!("{key}:token");
        let matches = map.get(&key).is_some_and(|(value, _)| value == expected);
        if matches && !self.loses_token_writes.load(Ordering::SeqCst) {
            map.remove(&key);
        }
        Ok(matches)
    }
    async fn try_lease(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.hang_if_dead("lease").await;
        let key = format!("{key}:lease");
        if self.slot(&key).is_some() {
            return Ok(false);
        }
        let entry = (owner.as_bytes().to_vec(), Instant::now() + ttl);
        self.map.lock().unwrap().insert(key, entry);
        self.leases.fetch_add(1, Ordering::SeqCst);
        if self.slow_get_after_lease_ms.load(Ordering::SeqCst) > 0 {
            self.slow_get_pending.store(true, Ordering::SeqCst);
        }
        Ok(true)
    }
    async fn release_lease(&self, key: &str, owner: &str) -> Result<(), StoreError> {
        self.hang_if_dead("release").await;
        if self.hold_release.swap(false, Ordering::SeqCst) {
            self.release_entered.notify_one();
            self.release_release.notified().await;
        }
        let mut map = self.map.lock().unwrap();
        let key = format!("{key}:lease");
        if map
            .get(&key)
            .is_some_and(|(holder, _)| holder == owner.as_bytes())
        {
            map.remove(&key);
            self.releases.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
    async fn wait(&self, _key: &str, timeout: Duration) -> Result<(), StoreError> {
        self.hang_if_dead("wait").await;
        tokio::time::sleep(timeout.min(Duration::from_millis(20))).await;
        Ok(())
    }
}
