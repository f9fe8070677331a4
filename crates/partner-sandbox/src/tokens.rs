//! Tokens the sandbox issues, and checking them on the protected resource.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

// Tokio's clock: a test on paused time (`start_paused`, `tokio::time::advance`) expires the
// sandbox's tokens as it moves (found by review: they followed the system clock only).
use tokio::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

/// What the protected resource makes of a bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenCheck {
    Valid,
    Expired,
    Unknown,
}

#[derive(Default)]
pub(crate) struct TokenStore {
    issued: Mutex<Issued>,
}

#[derive(Default)]
struct Issued {
    tokens: HashMap<String, (&'static str, Instant)>,
    /// Expired tokens are swept when the map grows past this; it doubles with the number
    /// of live tokens, so sweeping stays amortized O(1) per token.
    sweep_at: usize,
}

impl TokenStore {
    /// Records `token`, minted by `provider`'s emulation, as valid for `lifetime`.
    pub fn issue(&self, provider: &'static str, token: String, lifetime: Duration) -> String {
        let now = Instant::now();
        let mut issued = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        if issued.tokens.len() >= issued.sweep_at.max(10_000) {
            issued.tokens.retain(|_, (_, expires)| *expires > now);
            issued.sweep_at = issued.tokens.len() * 2;
        }
        issued
            .tokens
            .insert(token.clone(), (provider, now + lifetime));
        token
    }

    /// Whether `token` was issued by `provider`'s endpoint and is unexpired.
    pub fn check(&self, provider: &str, token: &str) -> TokenCheck {
        let issued = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        match issued.tokens.get(token) {
            Some((p, expires)) if *p == provider && Instant::now() < *expires => TokenCheck::Valid,
            Some((p, _)) if *p == provider => TokenCheck::Expired,
            _ => TokenCheck::Unknown,
        }
    }
}

/// The Unix times a token minted now for `lifetime` is issued at and expires at.
pub(crate) fn issued_and_expiry(lifetime: Duration) -> (u64, u64) {
    let exp = (SystemTime::now() + lifetime)
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    (exp.saturating_sub(lifetime.as_secs()), exp)
}

/// An opaque random token (the shape of providers that document none).
pub(crate) fn opaque() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(32))
}

/// A JWT-shaped token with these claims and a random signature.
pub(crate) fn jwt(alg: &str, claims: &serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT"}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signature = URL_SAFE_NO_PAD.encode(random_bytes(32));
    format!("{header}.{payload}.{signature}")
}

/// `bytes` random bytes in lowercase hex.
pub(crate) fn hex(bytes: usize) -> String {
    random_bytes(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Random bytes from the standard library's randomly keyed hasher: unpredictable enough
/// for sandbox tokens, which protect nothing.
pub(crate) fn random_bytes(n: usize) -> Vec<u8> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let state = RandomState::new();
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        let mut hasher = state.build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        out.extend_from_slice(&hasher.finish().to_le_bytes());
    }
    out.truncate(n);
    out
}

/// A random number in `[0, 1)`.
pub(crate) fn random_fraction() -> f64 {
    let bytes: [u8; 8] = random_bytes(8).try_into().unwrap_or_default();
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}
