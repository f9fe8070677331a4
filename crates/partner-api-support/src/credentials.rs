//! HTTP Basic client credentials.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

/// A client id and client secret sent as `Authorization: Basic`.
///
/// The secret is a [`SecretString`]: zeroized on drop and shown as `[REDACTED]` by `Debug`.
/// The client id is an identifier, not a secret, and is shown. Cloning shares one copy.
#[derive(Clone)]
pub struct BasicCredentials(Arc<Inner>);

struct Inner {
    client_id: String,
    client_secret: SecretString,
}

impl BasicCredentials {
    /// Credentials from a client id and a client secret.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<SecretString>) -> Self {
        Self(Arc::new(Inner {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }))
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.0.client_id
    }

    /// The client secret; read it with [`ExposeSecret::expose_secret`].
    pub fn client_secret(&self) -> &SecretString {
        &self.0.client_secret
    }

    /// The `Authorization` header value, marked sensitive so HTTP libraries do not log it.
    ///
    /// RFC 6749 §2.3.1: the client id and secret are each encoded with
    /// `application/x-www-form-urlencoded` before being joined by `:` and base64-encoded,
    /// so a `:` or a non-ASCII character in either one survives the round trip.
    pub fn authorization_header(&self) -> HeaderValue {
        let mut joined = String::new();
        joined.extend(form_urlencoded::byte_serialize(self.0.client_id.as_bytes()));
        joined.push(':');
        joined.extend(form_urlencoded::byte_serialize(
            self.0.client_secret.expose_secret().as_bytes(),
        ));
        let mut value = String::from("Basic ");
        STANDARD.encode_string(joined.as_bytes(), &mut value);
        let mut header = HeaderValue::try_from(value)
            .expect("`Basic ` followed by base64 is always a valid header value");
        header.set_sensitive(true);
        header
    }
}

impl fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("client_id", &self.0.client_id)
            .field("client_secret", &"[REDACTED]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(header: &HeaderValue) -> String {
        let encoded = header.to_str().unwrap().strip_prefix("Basic ").unwrap();
        String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap()
    }

    #[test]
    fn plain_credentials_are_joined_by_a_colon() {
        let header = BasicCredentials::new("abc", "def123").authorization_header();
        assert_eq!(header.to_str().unwrap(), "Basic YWJjOmRlZjEyMw==");
        assert!(header.is_sensitive());
    }

    #[test]
    fn reserved_characters_are_form_urlencoded_before_joining() {
        let header = BasicCredentials::new("id:with colon", "p@ss/wörd+").authorization_header();
        assert_eq!(decode(&header), "id%3Awith+colon:p%40ss%2Fw%C3%B6rd%2B");
    }

    #[test]
    fn debug_redacts_the_secret() {
        let shown = format!("{:?}", BasicCredentials::new("the-id", "hunter2-secret"));
        assert!(shown.contains("the-id"));
        assert!(!shown.contains("hunter2"));
    }
}
