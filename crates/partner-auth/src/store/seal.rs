//! Sealing a token for a store: the store key of a credential, and authenticated
//! encryption of what is stored under it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use hkdf::Hkdf;
use secrecy::ExposeSecret as _;
use sha2::{Digest as _, Sha256};

use crate::Client;

/// What a sealed value starts with: the format's version (`pat1` was ChaCha20-Poly1305,
/// stored under another key; such an entry is another version, a miss).
pub(crate) const MAGIC: &[u8; 4] = b"pat2";
const NONCE_LEN: usize = 12;

/// The most of a stored value that a store reads: twice a response body's bound (1 MiB),
/// more than a token and its scope take sealed, so a larger value was written by something
/// else. Read only this far, it fails to open (a counted miss), and the next write
/// replaces it.
#[cfg(any(feature = "file-store", feature = "redis"))]
pub(crate) const MAX_SEALED_LEN: usize = 2 << 20;
/// HKDF's salt: fixed, naming the scheme.
const SALT: &[u8] = b"partner-auth token store v1";

/// A credential's store key and the cipher its entries are sealed with.
pub(crate) struct Sealer {
    key: String,
    /// Where a failed token request is kept for the fleet's cool-down: another key of the
    /// same shape, so a store treats it as one more entry.
    failure_key: String,
    cipher: Aes256Gcm,
}

/// What a sealed entry holds.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Plain {
    pub access_token: String,
    pub token_type: String,
    /// The lifetime the provider reported, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_ms: Option<u64>,
    /// The lifetime caching used (after the JWT check), in milliseconds.
    pub lifetime_ms: u64,
    /// When the token was requested, in milliseconds since the Unix epoch.
    pub issued_at_ms: u64,
    /// When the writer stopped using it (writer's wall clock), in milliseconds since the
    /// Unix epoch: an entry replayed long after is refused.
    pub usable_until_ms: u64,
    /// The scope granted (standard providers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// What a sealed failure entry holds: a token request the provider refused or failed,
/// kept for its cool-down so that the processes waiting for it do not each ask in turn.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Failure {
    pub kind: crate::ErrorKind,
    /// The provider's status.
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The provider's message (scrubbed of the secret, as the error shows it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the request was sent and until when the fleet waits (the writer's wall
    /// clock), in milliseconds since the Unix epoch.
    pub failed_at_ms: u64,
    pub until_ms: u64,
    /// Whether the provider asked for that wait (a `Retry-After` or a reset time).
    #[serde(default)]
    pub asked: bool,
}

/// Why a sealed value was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Not this format (too short, another version).
    Malformed,
    /// Tampered, truncated, or sealed under another key.
    Forged,
}

impl Sealer {
    /// The sealer of `client`'s credential: provider, base URL, client id and secret.
    pub(crate) fn new(client: &Client) -> Self {
        let secret = client
            .credentials()
            .client_secret()
            .expose_secret()
            .as_bytes();
        let identity = identity(client);
        let hkdf = Hkdf::<Sha256>::new(Some(SALT), secret);
        let mut fingerprint = [0u8; 32];
        let mut aead_key = [0u8; 32];
        // Both lengths are valid for HKDF-SHA-256 (at most 255 × 32 bytes).
        hkdf.expand_multi_info(&[b"fingerprint\0", &identity], &mut fingerprint)
            .expect("32 bytes is a valid HKDF output length");
        hkdf.expand_multi_info(&[b"aes-256-gcm key\0", &identity], &mut aead_key)
            .expect("32 bytes is a valid HKDF output length");
        let mut hash = Sha256::new();
        // v2 with the pat2 format: versions in one fleet keep separate entries.
        hash.update(b"partner-auth store key v2\0");
        hash.update(&identity);
        hash.update(fingerprint);
        let key = hex(&hash.finalize());
        // One per way of sending the credential: a refusal of one is not the other's, and
        // one slot for both let each erase the other's (found by review, twice).
        let failure_key = hex(&Sha256::digest(format!(
            "failed token request\0{key}\0{}",
            client.auth()
        )));
        let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(aead_key));
        Self {
            key,
            failure_key,
            cipher,
        }
    }

    /// The credential's key in the store: 64 hex digits, nothing readable.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// The key of the credential's failure entry: 64 hex digits, like [`key`](Self::key).
    pub(crate) fn failure_key(&self) -> &str {
        &self.failure_key
    }

    /// Encrypts `plain`, bound to this credential's key.
    pub(crate) fn seal(&self, plain: &Plain) -> Vec<u8> {
        let message = serde_json::to_vec(plain).expect("a Plain always serializes");
        self.seal_bytes(&message, &self.key)
    }

    /// Decrypts a value sealed by [`seal`](Self::seal) under this credential's key.
    pub(crate) fn open(&self, value: &[u8]) -> Result<Plain, OpenError> {
        let message = self.open_bytes(value, &self.key)?;
        // Authenticated, so ours: a parse failure means another version of this crate.
        serde_json::from_slice(&message).map_err(|_| OpenError::Malformed)
    }

    /// Encrypts `failure`, bound to the failure key (a token entry cannot pass for one).
    pub(crate) fn seal_failure(&self, failure: &Failure) -> Vec<u8> {
        let message = serde_json::to_vec(failure).expect("a Failure always serializes");
        self.seal_bytes(&message, &self.failure_key)
    }

    /// Decrypts a value sealed by [`seal_failure`](Self::seal_failure).
    pub(crate) fn open_failure(&self, value: &[u8]) -> Result<Failure, OpenError> {
        let message = self.open_bytes(value, &self.failure_key)?;
        serde_json::from_slice(&message).map_err(|_| OpenError::Malformed)
    }

    fn seal_bytes(&self, message: &[u8], aad: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        // Without an operating-system RNG nothing is sealed safely: a fixed nonce would
        // break the cipher, so fail loudly instead.
        getrandom::fill(&mut nonce).expect("the operating system's random source failed");
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: message,
                    aad: aad.as_bytes(),
                },
            )
            .expect("AES-256-GCM encrypts any message this size");
        let mut out = Vec::with_capacity(MAGIC.len() + NONCE_LEN + sealed.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    fn open_bytes(&self, value: &[u8], aad: &str) -> Result<Vec<u8>, OpenError> {
        let rest = value.strip_prefix(MAGIC).ok_or(OpenError::Malformed)?;
        if rest.len() < NONCE_LEN {
            return Err(OpenError::Malformed);
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| OpenError::Malformed)?;
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| OpenError::Forged)
    }
}

/// A digest of a token, to remember which ones were invalidated without keeping them.
pub(crate) fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The credential's identity (and the scope and extra parameters it asks with: a token for
/// one scope or audience is no token for another), each part length-prefixed so no two
/// identities collide. Without a scope or parameters, what it was before either existed.
fn identity(client: &Client) -> Vec<u8> {
    let mut out = Vec::new();
    for part in [
        client.provider().name(),
        client.base_url(),
        client.client_id(),
    ] {
        out.extend_from_slice(&(part.len() as u64).to_be_bytes());
        out.extend_from_slice(part.as_bytes());
    }
    if let Some(scope) = client.scope() {
        out.extend_from_slice(b"scope");
        out.extend_from_slice(&(scope.len() as u64).to_be_bytes());
        out.extend_from_slice(scope.as_bytes());
    }
    // Sorted by name, stably, as `TokenCache` keys them: names in another order ask for
    // the same token, a name's values in another order do not (found by review). Without
    // a repeated name, the order sorting whole pairs gave.
    let mut params: Vec<&(String, String)> = client.extra_params().iter().collect();
    params.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, value) in params {
        out.extend_from_slice(b"param");
        for part in [name, value] {
            out.extend_from_slice(&(part.len() as u64).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Milliseconds since the Unix epoch (0 before it).
pub(crate) fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis().min(u128::from(u64::MAX)) as u64)
}

/// The time `ms` milliseconds after the Unix epoch, saturating far in the future.
pub(crate) fn from_unix_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_millis(ms))
        .unwrap_or(UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Credentials, Provider};

    fn client(base_url: &str, id: &str, secret: &str) -> Client {
        Client::builder(Provider::Tradevest)
            .base_url(base_url)
            .credentials(Credentials::new(id, secret))
            .build()
            .unwrap()
    }

    fn plain() -> Plain {
        Plain {
            access_token: "tok-abc".into(),
            token_type: "Bearer".into(),
            reported_ms: Some(3_600_000),
            lifetime_ms: 3_600_000,
            issued_at_ms: 1,
            usable_until_ms: 2,
            scope: None,
        }
    }

    #[test]
    fn a_sealed_token_opens_only_with_its_own_credential() {
        let sealer = Sealer::new(&client("http://127.0.0.1:1/", "id", "secret-one-1234567"));
        let sealed = sealer.seal(&plain());
        assert_eq!(sealer.open(&sealed).unwrap().access_token, "tok-abc");
        // No plaintext in the value, and a fresh nonce each time.
        assert!(!sealed.windows(7).any(|w| w == b"tok-abc"));
        assert_ne!(sealed, sealer.seal(&plain()));

        let rotated = Sealer::new(&client("http://127.0.0.1:1/", "id", "secret-two-1234567"));
        assert_ne!(rotated.key(), sealer.key());
        assert_eq!(rotated.open(&sealed).err(), Some(OpenError::Forged));
        let other_url = Sealer::new(&client("http://127.0.0.1:2/", "id", "secret-one-1234567"));
        assert_eq!(other_url.open(&sealed).err(), Some(OpenError::Forged));

        for cut in [0, 3, 4, 10, 16, sealed.len() - 1] {
            assert!(sealer.open(&sealed[..cut]).is_err(), "truncated at {cut}");
        }
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            assert!(sealer.open(&tampered).is_err(), "bit flipped in byte {i}");
        }
    }

    #[test]
    fn a_failure_entry_opens_only_as_a_failure() {
        let sealer = Sealer::new(&client("http://127.0.0.1:1/", "id", "secret-one-1234567"));
        let failure = Failure {
            kind: crate::ErrorKind::RateLimited,
            status: 429,
            code: Some("rate_limit_exceeded".into()),
            message: None,
            failed_at_ms: 1,
            until_ms: 5,
            asked: false,
        };
        let sealed = sealer.seal_failure(&failure);
        let opened = sealer.open_failure(&sealed).unwrap();
        assert_eq!(
            (opened.kind, opened.status),
            (crate::ErrorKind::RateLimited, 429)
        );
        // Bound to its own key: neither passes for the other.
        assert_eq!(sealer.open(&sealed).err(), Some(OpenError::Forged));
        let token = sealer.seal(&plain());
        assert_eq!(sealer.open_failure(&token).err(), Some(OpenError::Forged));
        assert_eq!(sealer.failure_key().len(), 64);
        assert_ne!(sealer.failure_key(), sealer.key());
        assert!(sealer.failure_key().bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn the_key_is_hex_and_names_nothing() {
        let sealer = Sealer::new(&client(
            "http://127.0.0.1:1/",
            "client-xyz",
            "s3cret-value-123",
        ));
        assert_eq!(sealer.key().len(), 64);
        assert!(sealer.key().bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(!sealer.key().contains("client-xyz"));
    }
}
