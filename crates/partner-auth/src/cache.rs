//! [`TokenCache`]: token sources for several providers and tenants in one application.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::{Mutex, PoisonError};

use secrecy::ExposeSecret;

use crate::{AccessToken, CachePolicy, Client, Error, Provider, TokenSource};

/// One [`TokenSource`] per provider, base URL, client id and secret.
///
/// The key includes a fingerprint of the secret (a keyed hash, random per cache, never
/// shown), so a rotated secret gets a new source and never the old secret's token, and two
/// tenants sharing a client id never share a token.
pub struct TokenCache {
    policy: CachePolicy,
    fingerprints: RandomState,
    sources: Mutex<HashMap<Key, TokenSource>>,
}

#[derive(Hash, PartialEq, Eq)]
struct Key {
    provider: Provider,
    base_url: String,
    client_id: String,
    secret_fingerprint: u64,
}

impl TokenCache {
    /// An empty cache whose sources use the default [`CachePolicy`].
    pub fn new() -> Self {
        Self::with_policy(CachePolicy::default())
    }

    /// An empty cache whose sources use `policy`.
    pub fn with_policy(policy: CachePolicy) -> Self {
        Self {
            policy,
            fingerprints: RandomState::new(),
            sources: Mutex::new(HashMap::new()),
        }
    }

    /// The token source for `client`'s provider, base URL and credentials, created on first
    /// use.
    pub fn source(&self, client: &Client) -> TokenSource {
        let key = Key {
            provider: client.provider(),
            base_url: client.base_url().to_owned(),
            client_id: client.client_id().to_owned(),
            secret_fingerprint: self
                .fingerprints
                .hash_one(client.credentials().client_secret().expose_secret()),
        };
        let mut sources = self.sources.lock().unwrap_or_else(PoisonError::into_inner);
        sources
            .entry(key)
            .or_insert_with(|| TokenSource::with_policy(client.clone(), self.policy.clone()))
            .clone()
    }

    /// A valid token for `client` (see [`TokenSource::token`]).
    pub async fn token(&self, client: &Client) -> Result<AccessToken, Error> {
        self.source(client).token().await
    }

    /// How many sources the cache holds.
    pub fn len(&self) -> usize {
        self.sources
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether the cache holds no source.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
            .field("policy", &self.policy)
            .finish()
    }
}
