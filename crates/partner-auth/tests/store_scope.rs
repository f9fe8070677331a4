//! From review: `AccessToken::scope()` is the response's scope, or, where a standard
//! response has none, the scope asked for, and the token stores keep it. A store entry
//! written before the scope was stored (the same sealed JSON without the field) reads back
//! with the scope asked for, as a fresh token from the same response has it.

mod common;
#[path = "common/memory_store.rs"]
mod memory_store;

use std::sync::Arc;
use std::time::Duration;

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use common::*;
use hkdf::Hkdf;
use httpmock::prelude::*;
use memory_store::MemoryStore;
use partner_auth::store::TokenStore as _;
use partner_auth::{Client, Credentials, Provider, TokenSource};
use sha2::Sha256;

/// The cipher `store/seal.rs` seals a client's entries with (format `pat2`), rebuilt here
/// to write an entry as the previous version of the crate wrote it.
fn cipher(client: &Client) -> Aes256Gcm {
    let mut identity = Vec::new();
    for part in [
        client.provider().name(),
        client.base_url(),
        client.client_id(),
    ] {
        identity.extend_from_slice(&(part.len() as u64).to_be_bytes());
        identity.extend_from_slice(part.as_bytes());
    }
    if let Some(scope) = client.scope() {
        identity.extend_from_slice(b"scope");
        identity.extend_from_slice(&(scope.len() as u64).to_be_bytes());
        identity.extend_from_slice(scope.as_bytes());
    }
    let hkdf = Hkdf::<Sha256>::new(Some(b"partner-auth token store v1"), SECRET.as_bytes());
    let mut key = [0u8; 32];
    hkdf.expand_multi_info(&[b"aes-256-gcm key\0", &identity], &mut key)
        .unwrap();
    Aes256Gcm::new(&Key::<Aes256Gcm>::from(key))
}

#[tokio::test]
async fn a_store_entry_from_before_the_scope_reads_back_with_the_scope_asked_for() {
    let server = MockServer::start_async().await;
    let endpoint = server
        .mock_async(|when, then| {
            when.method(POST);
            then.status(200)
                .header("content-type", "application/json")
                .body(
                    r#"{"access_token":"tok-scoped-1234","token_type":"Bearer","expires_in":3600}"#,
                );
        })
        .await;
    let client = Client::builder(Provider::Standard)
        .base_url(server.url("/oauth2/token"))
        .credentials(Credentials::new(CLIENT_ID, SECRET))
        .scope("orders:read")
        .build()
        .unwrap();
    let store = Arc::new(MemoryStore::default());
    let writer = TokenSource::builder(client.clone())
        .store(store.clone())
        .build()
        .unwrap();
    let fresh = writer.token().await.unwrap();
    assert_eq!(fresh.scope(), Some("orders:read"));
    let key = writer.store_key().unwrap().to_owned();

    // The entry as the version before `scope` wrote it: the same JSON without the field.
    let (sealed, _) = store.slot(&format!("{key}:token")).unwrap();
    let cipher = cipher(&client);
    let nonce: [u8; 12] = sealed[4..16].try_into().unwrap();
    let plain = cipher
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &sealed[16..],
                aad: key.as_bytes(),
            },
        )
        .expect("the cipher is the crate's");
    let mut json: serde_json::Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(json["scope"], "orders:read", "{json}");
    json.as_object_mut().unwrap().remove("scope");
    let old = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: json.to_string().as_bytes(),
                aad: key.as_bytes(),
            },
        )
        .unwrap();
    let mut entry = b"pat2".to_vec();
    entry.extend_from_slice(&nonce);
    entry.extend_from_slice(&old);
    store
        .put(&key, &entry, Duration::from_secs(3000))
        .await
        .unwrap();

    // Another process (a new source) reads the old entry.
    let reader = TokenSource::builder(client.clone())
        .store(store.clone())
        .build()
        .unwrap();
    let read = reader.token().await.unwrap();
    assert_eq!(read.expose_secret(), "tok-scoped-1234");
    assert_eq!(
        endpoint.calls_async().await,
        1,
        "read from the store, not fetched"
    );
    assert_eq!(
        read.scope(),
        Some("orders:read"),
        "a standard client that asked for orders:read, its response naming none"
    );
}
