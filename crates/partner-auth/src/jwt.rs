//! Reading the `exp` and `iat` claims of a JWT access token. The token is decoded, never
//! verified, and the claims are used for one thing only: the token's lifetime as the
//! provider meant it (capping a longer `expires_in`, or standing in for a missing one).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The times a JWT states, on the issuer's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Claims {
    /// `exp`: when it expires.
    pub exp: SystemTime,
    /// `iat`: when it was issued, if stated.
    pub iat: Option<SystemTime>,
}

/// The `exp` (and `iat`) claims of `token` (after `prefix`, if the token starts with it),
/// or `None` when the token is not a JWT with a numeric `exp`.
pub(crate) fn claims(token: &str, prefix: Option<&str>) -> Option<Claims> {
    let token = prefix.and_then(|p| token.strip_prefix(p)).unwrap_or(token);
    let (_header, rest) = token.split_once('.')?;
    let (payload, signature) = rest.split_once('.')?;
    if signature.contains('.') {
        return None;
    }
    let payload = payload.trim_end_matches('=');
    // Decoded on the stack when it fits, as the payloads of access tokens do.
    let mut on_stack = [0u8; 1024];
    let on_heap;
    let bytes = if base64::decoded_len_estimate(payload.len()) <= on_stack.len() {
        let len = URL_SAFE_NO_PAD.decode_slice(payload, &mut on_stack).ok()?;
        &on_stack[..len]
    } else {
        on_heap = URL_SAFE_NO_PAD.decode(payload).ok()?;
        &on_heap[..]
    };
    /// Only `exp` and `iat`; every other claim is read through without allocating for it.
    #[derive(serde::Deserialize)]
    struct Raw {
        exp: Option<Number>,
        iat: Option<Number>,
    }
    let raw: Raw = serde_json::from_slice(bytes).ok()?;
    let time = |n: Option<Number>| {
        let secs = n?.0?;
        (0.0..=253_402_300_799.0)
            .contains(&secs)
            .then(|| UNIX_EPOCH + Duration::from_secs_f64(secs))
    };
    Some(Claims {
        exp: time(raw.exp)?,
        iat: time(raw.iat),
    })
}

/// A claim read as a number of seconds: any JSON value, `None` unless a number (a claim of
/// another type reads as absent), read without building a `serde_json::Value` but checked
/// as strictly as one: arrays and objects are read through, so what `Value` refuses inside
/// them (invalid UTF-8, a lone surrogate) is refused here too.
struct Number(Option<f64>);

impl<'de> serde::Deserialize<'de> for Number {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{self, MapAccess, SeqAccess};

        struct Visitor;

        impl<'de> de::Visitor<'de> for Visitor {
            type Value = Number;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Number, E> {
                Ok(Number(Some(v as f64)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Number, E> {
                Ok(Number(Some(v as f64)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Number, E> {
                Ok(Number(Some(v)))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Number, E> {
                Ok(Number(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Number, E> {
                Ok(Number(None))
            }
            fn visit_unit<E>(self) -> Result<Number, E> {
                Ok(Number(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Number, A::Error> {
                while seq.next_element::<Number>()?.is_some() {}
                Ok(Number(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Number, A::Error> {
                while map.next_entry::<Number, Number>()?.is_some() {}
                Ok(Number(None))
            }
        }

        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
pub(crate) fn encode_for_test(claims: &serde_json::Value) -> String {
    encode_payload_for_test(claims.to_string().as_bytes())
}

/// A JWT whose payload is `payload`, byte for byte.
#[cfg(test)]
fn encode_payload_for_test(payload: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(payload);
    format!("{header}.{payload}.c2lnbmF0dXJl")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn expiry(token: &str, prefix: Option<&str>) -> Option<SystemTime> {
        claims(token, prefix).map(|c| c.exp)
    }

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
    fn reads_iat_when_it_is_a_time() {
        let jwt = encode_for_test(&json!({"exp": 1_800_003_600, "iat": 1_800_000_000}));
        let read = claims(&jwt, None).unwrap();
        assert_eq!(
            read.exp.duration_since(read.iat.unwrap()).unwrap(),
            Duration::from_secs(3600)
        );
        for iat in [
            json!("yesterday"),
            json!(-1),
            json!(1e300),
            json!(null),
            json!(true),
            json!([1_800_000_000]),
            json!({"secs": 1_800_000_000}),
        ] {
            let jwt = encode_for_test(&json!({"exp": 1_800_003_600, "iat": iat}));
            assert_eq!(claims(&jwt, None).unwrap().iat, None, "{iat}");
        }
    }

    #[test]
    fn other_claims_of_any_shape_are_skipped() {
        let jwt = encode_for_test(&json!({
            "aud": ["a", "b"],
            "ctx": {"k": [1, {"x": null}], "s": "q\"uoted"},
            "exp": 1_800_000_000.5,
            "nbf": 1_700_000_000,
        }));
        assert_eq!(
            expiry(&jwt, None),
            Some(UNIX_EPOCH + Duration::from_secs_f64(1_800_000_000.5))
        );
    }

    /// What `serde_json::Value` refuses anywhere in `exp` or `iat`, or a payload that is
    /// not an object of them, has no claims at all (not `exp` alone).
    #[test]
    fn a_payload_a_json_value_would_refuse_has_no_claims() {
        for payload in [
            &b"[1800000000]"[..],
            b"{\"exp\":1800000600,\"iat\":[\"\xff\"]}",
            br#"{"exp":1800000600,"iat":{"a":"\ud800"}}"#,
            br#"{"exp":1800000600,"iat":[0e0,{"exp":1e309}]}"#,
            br#"{"exp":1800000600,"exp":1800000700}"#,
        ] {
            let jwt = encode_payload_for_test(payload);
            assert_eq!(
                claims(&jwt, None),
                None,
                "{}",
                String::from_utf8_lossy(payload)
            );
        }
        // Deep but within serde_json's limit: read through.
        let deep = format!(
            "{{\"exp\":1800000600,\"iat\":{}1{}}}",
            "[".repeat(100),
            "]".repeat(100)
        );
        assert!(claims(&encode_payload_for_test(deep.as_bytes()), None).is_some());
    }

    /// Small payloads decode on the stack, larger ones on the heap: the same claims either
    /// side of the bound, and in a payload of hundreds of KiB (found by review: one over 16
    /// KiB was not read, so its `exp` capped nothing).
    #[test]
    fn payloads_of_every_size_are_read() {
        let expected = Some(UNIX_EPOCH + Duration::from_secs(1_800_000_000));
        for pad in (990..1040).chain([4_000, 12_300, 300_000]) {
            let jwt = encode_for_test(&json!({"exp": 1_800_000_000, "pad": "p".repeat(pad)}));
            assert_eq!(expiry(&jwt, None), expected, "pad {pad}");
            // The same payload with its base64 padding kept.
            let (header, rest) = jwt.split_once('.').unwrap();
            let (payload, signature) = rest.split_once('.').unwrap();
            let padded = format!(
                "{header}.{payload}{}.{signature}",
                "=".repeat((4 - payload.len() % 4) % 4)
            );
            assert_eq!(expiry(&padded, None), expected, "pad {pad}, padded");
        }
    }

    #[test]
    fn anything_else_has_no_expiry() {
        for token in [
            "580defdbe1d21e0001c67e5c2a0a6c98",
            "a.b",
            "a.b.c.d",
            "a..c",
            ".b.",
            "x.!!!.y",
            // A JWT's three parts and a fourth: not a JWS (a JWE has five), not read.
            &format!("{}.c2ln", encode_for_test(&json!({"exp": 1_800_000_000}))),
            &encode_for_test(&json!({"sub": "no exp"})),
            &encode_for_test(&json!({"exp": "tomorrow"})),
            &encode_for_test(&json!({"exp": -5})),
            &encode_for_test(&json!({"exp": 1e300})),
            &encode_for_test(&json!({"exp": null})),
            &encode_for_test(&json!({"exp": [1_800_000_000]})),
            &encode_for_test(&json!({"exp": {"at": 1_800_000_000}})),
        ] {
            assert_eq!(expiry(token, None), None, "{token}");
        }
    }
}
