//! What every [`TokenStore`] owes [`TokenStore::get_or_lease`], run against each store
//! (the file store's tests and, through `workspace_tests`, Redis's).

use std::time::Duration;

use partner_auth::store::{Lookup, StoreEntry, TokenStore};

/// The credential `key` holds nothing: the first owner gets the lease, the next finds it
/// held; once a token is stored, it is found (checked by `found`) and no lease is taken.
/// Leaves `key` with the token stored and no lease.
pub async fn get_or_lease_reads_or_leases(
    store: &dyn TokenStore,
    key: &str,
    found: impl FnOnce(&StoreEntry),
) {
    let ttl = Duration::from_secs(30);
    assert_eq!(
        store.get_or_lease(key, "a", ttl).await.unwrap(),
        Lookup::Leased
    );
    assert_eq!(
        store.get_or_lease(key, "b", ttl).await.unwrap(),
        Lookup::Held
    );
    store.release_lease(key, "a").await.unwrap();
    store.put(key, b"sealed", ttl).await.unwrap();
    match store.get_or_lease(key, "b", ttl).await.unwrap() {
        Lookup::Found(entry) => {
            assert_eq!(entry.value, b"sealed");
            found(&entry);
        }
        other => panic!("expected the token, got {other:?}"),
    }
    // Finding the token took no lease.
    assert!(store.try_lease(key, "c", ttl).await.unwrap());
    store.release_lease(key, "c").await.unwrap();
}
