//! Reading the `exp` claim of a JWT access token. The token is decoded, never verified, and
//! `exp` is used for one thing only: never to treat a token as valid past it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The `exp` claim of `token` (after `prefix`, if the token starts with it), or `None`
/// when the token is not a JWT with a numeric `exp`.
pub(crate) fn expiry(token: &str, prefix: Option<&str>) -> Option<SystemTime> {
    let token = prefix.and_then(|p| token.strip_prefix(p)).unwrap_or(token);
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || payload.len() > 16 * 1024 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    /// Only `exp`; serde skips every other claim without allocating for it.
    #[derive(serde::Deserialize)]
    struct Claims {
        exp: Option<serde_json::Number>,
    }
    let claims: Claims = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.exp?.as_f64()?;
    if !(0.0..=253_402_300_799.0).contains(&exp) {
        return None;
    }
    Some(UNIX_EPOCH + Duration::from_secs_f64(exp))
}

#[cfg(test)]
pub(crate) fn encode_for_test(claims: &serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.c2lnbmF0dXJl")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_exp_with_or_without_a_prefix() {
        let jwt = encode_for_test(&json!({"exp": 1_800_000_000, "sub": "x"}));
        let expected = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(expiry(&jwt, None), Some(expected));
        assert_eq!(
            expiry(&format!("dinie_at_{jwt}"), Some("dinie_at_")),
            Some(expected)
        );
    }

    #[test]
    fn anything_else_has_no_expiry() {
        for token in [
            "580defdbe1d21e0001c67e5c2a0a6c98",
            "a.b",
            "a.b.c.d",
            "x.!!!.y",
            &encode_for_test(&json!({"sub": "no exp"})),
            &encode_for_test(&json!({"exp": "tomorrow"})),
            &encode_for_test(&json!({"exp": -5})),
            &encode_for_test(&json!({"exp": 1e300})),
        ] {
            assert_eq!(expiry(token, None), None, "{token}");
        }
    }
}
