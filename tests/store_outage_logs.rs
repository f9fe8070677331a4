//! A store that answers reads but refuses writes (a Redis replica answering `READONLY`, a
//! full disk, a read-only directory) is one outage, logged with one warning, however many
//! reads succeed in between; it ends when a write does. A failed delete, which runs only
//! after an invalidation, ends when a change to the token works again, and a store that
//! refuses token writes while leases work is one outage too.
//!
//! One test in this file: see `support/captured_logs.rs`.

#[path = "support/captured_logs.rs"]
mod captured_logs;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use captured_logs::capture_logs;
use partner_auth::store::{StoreEntry, StoreError, StorePolicy, TokenStore};
use partner_auth::time::{InstantSleep, ManualClock};
use partner_auth::{Provider, TokenSource};
use partner_sandbox::Sandbox;
use workspace_tests::sandbox_client::SandboxExt as _;

/// Reads find nothing; everything else fails until `writable`, deletes while
/// `deletes_fail`, and leases work whatever `writable` says while `leases_work`.
#[derive(Debug, Default)]
struct ReadOnly {
    writable: AtomicBool,
    deletes_fail: AtomicBool,
    leases_work: AtomicBool,
}

impl ReadOnly {
    fn lease(&self) -> Result<(), StoreError> {
        if self.leases_work.load(Ordering::SeqCst) {
            Ok(())
        } else {
            self.write()
        }
    }

    fn write(&self) -> Result<(), StoreError> {
        if self.writable.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(StoreError::new(
                "READONLY You can't write against a read only replica.",
            ))
        }
    }
}

#[async_trait::async_trait]
impl TokenStore for ReadOnly {
    async fn get(&self, _: &str) -> Result<Option<StoreEntry>, StoreError> {
        Ok(None)
    }
    async fn put(&self, _: &str, _: &[u8], _: Duration) -> Result<(), StoreError> {
        self.write()
    }
    async fn compare_and_delete(&self, _: &str, _: &[u8]) -> Result<bool, StoreError> {
        if self.deletes_fail.load(Ordering::SeqCst) {
            return Err(StoreError::new("delete timed out"));
        }
        self.write().map(|()| false)
    }
    async fn try_lease(&self, _: &str, _: &str, _: Duration) -> Result<bool, StoreError> {
        self.lease().map(|()| true)
    }
    async fn release_lease(&self, _: &str, _: &str) -> Result<(), StoreError> {
        self.lease()
    }
    async fn wait(&self, _: &str, _: Duration) -> Result<(), StoreError> {
        Ok(())
    }
}

#[tokio::test]
async fn a_store_that_reads_but_refuses_writes_is_one_outage() {
    let sandbox = Sandbox::start().await.unwrap();
    let (logs, _guard) = capture_logs();
    let clock = ManualClock::new();
    let store = Arc::new(ReadOnly::default());
    let source = TokenSource::builder(sandbox.client_builder(Provider::Dinie).build().unwrap())
        .store(Arc::clone(&store) as Arc<dyn TokenStore>)
        .store_policy(StorePolicy::default().with_outage_backoff(Duration::from_secs(5)))
        .time_source(clock.clone())
        .sleep(InstantSleep::new(clock.clone()))
        .build()
        .unwrap();
    for _ in 0..4 {
        // Past the back-off each time: a read that succeeds, then a lease that fails.
        let token = source.token().await.unwrap();
        assert!(source.invalidate(&token));
        clock.advance(Duration::from_secs(6));
    }
    assert!(source.stats().store_errors >= 4, "{:?}", source.stats());
    let text = logs.text();
    assert_eq!(text.matches("the token store failed").count(), 1, "{text}");
    assert_eq!(
        text.matches("the token store answers again").count(),
        0,
        "{text}"
    );

    // Writes work again: the outage ends, once.
    store.writable.store(true, Ordering::SeqCst);
    source.token().await.unwrap();
    let text = logs.text();
    assert_eq!(
        text.matches("the token store answers again").count(),
        1,
        "{text}"
    );
    assert_eq!(text.matches("the token store failed").count(), 1, "{text}");

    // A delete fails (a new outage, warned); deletes are not tried again, but a lease
    // works: the outage is over, and says so (found by review: it lasted until a delete
    // worked, and hid the next outage).
    store.deletes_fail.store(true, Ordering::SeqCst);
    clock.advance(Duration::from_secs(6));
    let token = source.token().await.unwrap();
    assert!(source.invalidate(&token));
    source.token().await.unwrap();
    clock.advance(Duration::from_secs(6));
    source.refresh().await.unwrap();
    let text = logs.text();
    assert_eq!(text.matches("the token store failed").count(), 2, "{text}");
    let again = text.matches("the token store answers again").count();
    assert_eq!(again, 2, "{text}");

    // Token writes fail for good while leases work (a directory planted at a FileStore's
    // token path, say): one outage, one warning, however many back-offs (found by review:
    // a lease that worked ended it, and each back-off warned twice).
    store.writable.store(false, Ordering::SeqCst);
    store.deletes_fail.store(false, Ordering::SeqCst);
    store.leases_work.store(true, Ordering::SeqCst);
    let errors = source.stats().store_errors;
    for _ in 0..5 {
        clock.advance(Duration::from_secs(6));
        let token = source.token().await.unwrap();
        assert!(source.invalidate(&token));
    }
    assert!(
        source.stats().store_errors >= errors + 3,
        "the store kept failing: {:?}",
        source.stats()
    );
    let text = logs.text();
    assert_eq!(text.matches("the token store failed").count(), 3, "{text}");
    let again = text.matches("the token store answers again").count();
    assert_eq!(again, 2, "{text}");
}
