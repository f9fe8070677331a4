//! HTTP Basic client credentials.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

/// A client id and client secret sent as `Authorization: Basic`.
///
/// The secret is a [`SecretString`]: zeroized on drop and shown as `[REDACTED]` by `Debug`.
/// The client id is an identifier, not a secret, and is shown. Cloning shares one copy.
///
/// The `Authorization` header is encoded once, here, and every request shares its bytes,
/// which are zeroized too, when the credentials and the last request using them are gone.
#[derive(Clone)]
pub struct BasicCredentials(Arc<Inner>);

struct Inner {
    client_id: String,
    client_secret: SecretString,
    authorization: HeaderValue,
}

impl BasicCredentials {
    /// Credentials from a client id and a client secret.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<SecretString>) -> Self {
        let (client_id, client_secret) = (client_id.into(), client_secret.into());
        let authorization = encode(&client_id, &client_secret);
        Self(Arc::new(Inner {
            client_id,
            client_secret,
            authorization,
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

    /// The `Authorization` header value, marked sensitive so HTTP libraries do not log it:
    /// a handle on the bytes encoded once, so this call copies no secret (the HTTP stack
    /// still writes the header into its own buffers to send it).
    pub fn authorization_header(&self) -> HeaderValue {
        self.0.authorization.clone()
    }
}

/// `Basic ` and the base64 of the joined credentials, in bytes zeroized when their last
/// user drops them.
///
/// RFC 6749 §2.3.1: the client id and secret are each encoded with
/// `application/x-www-form-urlencoded` before being joined by `:` and base64-encoded, so a
/// `:` or a non-ASCII character in either one survives the round trip.
fn encode(client_id: &str, client_secret: &SecretString) -> HeaderValue {
    let (id, secret) = (
        client_id.as_bytes(),
        client_secret.expose_secret().as_bytes(),
    );
    // Every buffer sized up front: one that grows leaves the bytes it outgrew behind,
    // unzeroized.
    let encoded_len = |bytes| {
        form_urlencoded::byte_serialize(bytes)
            .map(str::len)
            .sum::<usize>()
    };
    let mut joined = Zeroizing::new(String::with_capacity(
        encoded_len(id) + 1 + encoded_len(secret),
    ));
    joined.extend(form_urlencoded::byte_serialize(id));
    joined.push(':');
    joined.extend(form_urlencoded::byte_serialize(secret));
    let mut value = Zeroizing::new(Vec::with_capacity(
        "Basic ".len() + base64::encoded_len(joined.len(), true).unwrap_or(0),
    ));
    value.extend_from_slice(b"Basic ");
    let start = value.len();
    let end = value.capacity();
    value.resize(end, 0);
    let written = STANDARD
        .encode_slice(joined.as_bytes(), &mut value[start..])
        .expect("sized by `encoded_len`");
    value.truncate(start + written);
    let mut header = HeaderValue::from_maybe_shared(Bytes::from_owner(value))
        .expect("`Basic ` followed by base64 is always a valid header value");
    header.set_sensitive(true);
    header
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
    fn every_request_shares_the_bytes_encoded_once() {
        let credentials = BasicCredentials::new("abc", "def123");
        let (first, second) = (
            credentials.authorization_header(),
            credentials.clone().authorization_header(),
        );
        assert_eq!(first, second);
        assert_eq!(first.as_bytes().as_ptr(), second.as_bytes().as_ptr());
        assert!(second.is_sensitive());
    }

    #[test]
    fn long_credentials_encode_whole() {
        let secret = "s3cr3t:".repeat(100);
        let header = BasicCredentials::new("id", secret.as_str()).authorization_header();
        assert_eq!(decode(&header), format!("id:{}", "s3cr3t%3A".repeat(100)));
    }

    #[test]
    fn debug_redacts_the_secret() {
        let shown = format!("{:?}", BasicCredentials::new("the-id", "hunter2-secret"));
        assert!(shown.contains("the-id"));
        assert!(!shown.contains("hunter2"));
    }
}
