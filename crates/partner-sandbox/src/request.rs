//! A token request as the provider emulations see it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The parts of a token request a provider checks.
pub(crate) struct TokenRequest {
    /// Media type of the body, lowercased, without parameters.
    pub content_type: Option<String>,
    pub authorization: Option<String>,
    pub body: Vec<u8>,
}

impl TokenRequest {
    /// The body as JSON, if the content type says JSON and it parses as an object.
    pub fn json(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        if self.content_type.as_deref() != Some("application/json") {
            return None;
        }
        match serde_json::from_slice(&self.body).ok()? {
            serde_json::Value::Object(map) => Some(map),
            _ => None,
        }
    }

    /// The body as form fields, if the content type says form.
    pub fn form(&self) -> Option<Vec<(String, String)>> {
        if self.content_type.as_deref() != Some("application/x-www-form-urlencoded") {
            return None;
        }
        Some(
            form_urlencoded::parse(&self.body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// `(client_id, client_secret)` from `Authorization: Basic`, decoded per RFC 6749
    /// §2.3.1 (each part form-urlencoded before joining), as an OAuth server that follows
    /// the RFC reads it.
    pub fn basic_form_urlencoded(&self) -> Option<(String, String)> {
        let (id, secret) = self.basic_as_is()?;
        let decode = |s: &str| {
            form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        Some((decode(&id)?, decode(&secret)?))
    }

    /// `(client_id, client_secret)` from `Authorization: Basic`, split at the first `:` and
    /// nothing decoded (RFC 7617), as a page showing `base64(client_id:client_secret)`
    /// means it.
    pub fn basic_as_is(&self) -> Option<(String, String)> {
        // The scheme name is case-insensitive (RFC 7235 §2.1).
        let (scheme, encoded) = self.authorization.as_deref()?.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let mut id = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
        let colon = id.find(':')?;
        let secret = id[colon + 1..].to_owned();
        id.truncate(colon);
        Some((id, secret))
    }
}

/// The value of form field `name`, if it appears exactly once.
pub(crate) fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let mut values = form.iter().filter(|(k, _)| k == name);
    let (_, value) = values.next()?;
    values.next().is_none().then_some(value.as_str())
}
