//! Kept failures, one entry per way of sending the credential: a refusal of one way does
//! not erase the other's, and the best-effort delete of a kept failure that has ended
//! never keeps a process off the store. From an adversarial review; each test (but the
//! control) failed on the code before its fix.

mod common;
#[path = "common/memory_store.rs"]
mod memory_store;

use std::sync::Arc;
use std::time::Duration;

use common::scripted::{Reply, Scripted};
use memory_store::MemoryStore;
use partner_auth::{
    CachePolicy, Client, ClientAuth, Credentials, ErrorKind, Provider, RetryPolicy, TokenSource,
};
use serde_json::json;

fn policy() -> CachePolicy {
    CachePolicy::default()
        .with_failure_cooldown(Duration::from_secs(30))
        .with_retry(RetryPolicy::none())
}

fn source_with(client: Client, store: Arc<MemoryStore>) -> TokenSource {
    TokenSource::builder(client)
        .store(store)
        .policy(policy())
        .build()
        .unwrap()
}

fn standard(server: &Scripted, auth: ClientAuth) -> Client {
    Client::builder(Provider::Standard)
        .base_url(common::base_url(Provider::Standard, server.base_url()))
        .credentials(Credentials::new(common::CLIENT_ID, common::SECRET))
        .client_auth(auth)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// Promise (README, Sharing; a0c2042): a failure the provider answered is kept under the
/// credential's failure key for its cool-down, and "a refusal holds only for processes
/// that send the credential the same way (`client_auth`)", recorded in the entry.
///
/// The failure key is one slot per credential. A refusal kept for `Body` is "stale" for a
/// `Basic` client, which asks, is refused too, and overwrites the slot with its own
/// refusal: the `Body` refusal, still inside its cool-down, is gone, and the next `Body`
/// process asks the provider again. With both ways refused (a fleet half-migrated to a
/// provider that rejects both), each process's refusal erases the other's and the fleet
/// asks once per process, the very load the kept failure exists to stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_kept_for_one_client_auth_is_not_erased_by_another_ways_refusal() {
    let server = Scripted::sequence(
        vec![
            Reply::json(401, json!({"error": "invalid_client"})),
            Reply::json(401, json!({"error": "invalid_client"})),
        ],
        Reply::json(401, json!({"error": "invalid_client"})),
    )
    .await;
    let store = Arc::new(MemoryStore::default());
    // Process 1 (Body): refused; kept for 30 s, for Body clients.
    let body_1 = source_with(standard(&server, ClientAuth::Body), store.clone());
    let error = body_1.token().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidCredentials, "{error}");
    // Process 2 (Basic): Body's refusal is not its own: it asks, and is refused.
    let basic = source_with(standard(&server, ClientAuth::Basic), store.clone());
    let error = basic.token().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidCredentials, "{error}");
    assert_eq!(server.count(), 2);
    // Process 3 (Body, as process 1), a moment later: process 1's refusal still holds.
    let body_2 = source_with(standard(&server, ClientAuth::Body), store.clone());
    let error = body_2.token().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidCredentials, "{error}");
    assert_eq!(
        server.count(),
        2,
        "a Body process asked the provider again within the cool-down of a Body refusal \
         kept moments ago: a Basic client's refusal overwrote it in the one failure slot \
         ({error})"
    );
}

/// A store that refuses every delete (a Redis ACL without DEL or EVAL on delete scripts,
/// say): the rest works.
#[derive(Debug, Default)]
struct RefusesDeletes(MemoryStore);

#[async_trait::async_trait]
impl partner_auth::store::TokenStore for RefusesDeletes {
    async fn get(
        &self,
        key: &str,
    ) -> Result<Option<partner_auth::store::StoreEntry>, partner_auth::store::StoreError> {
        self.0.get(key).await
    }
    async fn put(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<(), partner_auth::store::StoreError> {
        self.0.put(key, value, ttl).await
    }
    async fn compare_and_delete(
        &self,
        _key: &str,
        _expected: &[u8],
    ) -> Result<bool, partner_auth::store::StoreError> {
        Err(partner_auth::store::StoreError::new(
            "NOPERM this user has no permissions to run the 'del' command",
        ))
    }
    async fn try_lease(
        &self,
        key: &str,
        owner: &str,
        ttl: Duration,
    ) -> Result<bool, partner_auth::store::StoreError> {
        self.0.try_lease(key, owner, ttl).await
    }
    async fn release_lease(
        &self,
        key: &str,
        owner: &str,
    ) -> Result<(), partner_auth::store::StoreError> {
        self.0.release_lease(key, owner).await
    }
    async fn wait(
        &self,
        key: &str,
        timeout: Duration,
    ) -> Result<(), partner_auth::store::StoreError> {
        self.0.wait(key, timeout).await
    }
}

/// Promise (shared.rs, `delete_pending`): "A delete the store refuses is counted and
/// logged but does not keep the flight off the store ... (a store that refuses deletes
/// alone would otherwise share nothing until then)". a0c2042 adds a second delete, of the
/// kept failure a lease winner found ended, after it stored its token.
///
/// That delete goes through the generic `call`, whose failure opens the store's back-off:
/// a process that stored a token and then had the (best-effort) failure delete refused
/// stops using the store for `outage_backoff`. Here it then invalidates its token and
/// fetches a new one that it neither leases for nor writes, so the next process adopts the
/// token the API rejected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_delete_of_an_ended_failure_does_not_take_the_process_off_the_store() {
    let server = Scripted::sequence(
        vec![
            Reply::json(401, json!({"error": "invalid_client"})),
            Reply::token("tok-1", 3600),
            Reply::token("tok-2", 3600),
        ],
        Reply::token("tok-later", 3600),
    )
    .await;
    let store = Arc::new(RefusesDeletes::default());
    let source = |auth| {
        TokenSource::builder(standard(&server, auth))
            .store(store.clone())
            .policy(policy())
            .build()
            .unwrap()
    };
    // Process 1 (Body): refused; kept for Body clients.
    let body = source(ClientAuth::Body);
    assert!(body.token().await.is_err());
    // Process 2 (Basic): not its refusal; stores tok-1, then tries to delete the refusal.
    let basic = source(ClientAuth::Basic);
    let token = basic.token().await.unwrap();
    assert_eq!(token.expose_secret(), "tok-1");
    // The API rejects tok-1: invalidate, fetch again (its delete refused, as before).
    assert!(basic.invalidate(&token));
    assert_eq!(basic.token().await.unwrap().expose_secret(), "tok-2");
    // Process 3 (Basic): should find tok-2 in the store.
    let third = source(ClientAuth::Basic);
    let got = third.token().await.unwrap();
    assert_eq!(
        got.expose_secret(),
        "tok-2",
        "after its best-effort delete of an ended kept failure was refused, the process \
         backed off the store: its next token was not written, and the next process adopted \
         the token the API rejected ({} requests; stats of process 2: {:?})",
        server.count(),
        basic.stats()
    );
}

/// Control for the test above: the same store and steps without a kept failure to delete
/// pass (the refused invalidate delete alone does not take the process off the store).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_without_a_kept_failure_the_refused_delete_is_harmless() {
    let server = Scripted::sequence(
        vec![Reply::token("tok-1", 3600), Reply::token("tok-2", 3600)],
        Reply::token("tok-later", 3600),
    )
    .await;
    let store = Arc::new(RefusesDeletes::default());
    let source = |auth| {
        TokenSource::builder(standard(&server, auth))
            .store(store.clone())
            .policy(policy())
            .build()
            .unwrap()
    };
    let basic = source(ClientAuth::Basic);
    let token = basic.token().await.unwrap();
    assert_eq!(token.expose_secret(), "tok-1");
    assert!(basic.invalidate(&token));
    assert_eq!(basic.token().await.unwrap().expose_secret(), "tok-2");
    let third = source(ClientAuth::Basic);
    assert_eq!(third.token().await.unwrap().expose_secret(), "tok-2");
}
