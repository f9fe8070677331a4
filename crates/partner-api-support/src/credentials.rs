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
/// Two ways to put them in the header, which differ only for characters that form
/// encoding changes (anything but ASCII letters and digits, `*`, `-`, `.` and `_`):
/// - [`new`](Self::new): each form-urlencoded before they are joined by `:`, as RFC 6749
///   §2.3.1 asks of OAuth clients, for a server that decodes them;
/// - [`as_is`](Self::as_is): joined as they are, in UTF-8 (RFC 7617, plain HTTP Basic),
///   which is what most servers read and what a page saying
///   `base64(client_id:client_secret)` means.
///
/// A server that reads one way refuses a secret such as `k/9+Zq==` sent the other way.
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
    /// Credentials from a client id and a client secret, each form-urlencoded before they
    /// are joined (RFC 6749 §2.3.1), so a `:` in either survives.
    pub fn new(client_id: impl Into<String>, client_secret: impl IntoClientSecret) -> Self {
        let (client_id, client_secret) = (client_id.into(), client_secret.into_client_secret());
        let authorization = encode(&client_id, &client_secret, Encoding::FormUrlencoded);
        Self(Arc::new(Inner {
            client_id,
            client_secret,
            authorization,
        }))
    }

    /// Credentials from a client id and a client secret joined by `:` as they are, in UTF-8
    /// (RFC 7617): `base64(client_id:client_secret)`. A client id with a `:` in it cannot
    /// be sent this way (the server would split it there), nor one with a control
    /// character (RFC 7617 allows none, in either part): an error, which never shows the
    /// secret.
    pub fn as_is(
        client_id: impl Into<String>,
        client_secret: impl IntoClientSecret,
    ) -> Result<Self, InvalidBasicCredentials> {
        let (client_id, client_secret) = (client_id.into(), client_secret.into_client_secret());
        if client_id.contains(':') {
            return Err(InvalidBasicCredentials(
                "the client id contains a `:`, which HTTP Basic sent as is (RFC 7617) cannot carry",
            ));
        }
        if client_id.chars().any(char::is_control) {
            return Err(InvalidBasicCredentials(
                "the client id contains a control character, which HTTP Basic (RFC 7617) does not allow",
            ));
        }
        if client_secret.expose_secret().chars().any(char::is_control) {
            return Err(InvalidBasicCredentials(
                "the client secret contains a control character, which HTTP Basic (RFC 7617) does not allow",
            ));
        }
        let authorization = encode(&client_id, &client_secret, Encoding::AsIs);
        Ok(Self(Arc::new(Inner {
            client_id,
            client_secret,
            authorization,
        })))
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

/// A client secret as [`BasicCredentials`] takes it: a [`SecretString`], a `String`, a
/// `&str` or a `Box<str>` (what converts into a `SecretString`).
///
/// A `String` with room to spare is copied into a buffer of its exact length and zeroized,
/// where `SecretString::from` would shrink it in place or, as an allocator may, by moving
/// it and freeing the old buffer with the secret still in it.
pub trait IntoClientSecret {
    /// The secret, in a [`SecretString`].
    fn into_client_secret(self) -> SecretString;
}

impl IntoClientSecret for SecretString {
    fn into_client_secret(self) -> SecretString {
        self
    }
}

impl IntoClientSecret for String {
    fn into_client_secret(self) -> SecretString {
        if self.len() == self.capacity() {
            // `into_boxed_str` keeps the buffer as it is.
            return SecretString::from(self);
        }
        let exact = Box::<str>::from(self.as_str());
        drop(Zeroizing::new(self));
        SecretString::from(exact)
    }
}

impl IntoClientSecret for &String {
    fn into_client_secret(self) -> SecretString {
        self.as_str().into_client_secret()
    }
}

impl IntoClientSecret for &str {
    fn into_client_secret(self) -> SecretString {
        SecretString::from(Box::<str>::from(self))
    }
}

impl IntoClientSecret for Box<str> {
    fn into_client_secret(self) -> SecretString {
        SecretString::from(self)
    }
}

/// Why [`BasicCredentials::as_is`] refused a client id or secret (never showing either).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidBasicCredentials(&'static str);

impl fmt::Display for InvalidBasicCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for InvalidBasicCredentials {}

/// How the parts are written before they are joined.
#[derive(Clone, Copy)]
enum Encoding {
    /// RFC 6749 §2.3.1: `application/x-www-form-urlencoded`, so a `:` or a non-ASCII
    /// character in either part survives the round trip.
    FormUrlencoded,
    /// RFC 7617: the UTF-8 bytes as they are.
    AsIs,
}

/// `Basic ` and the base64 of the joined credentials, in bytes zeroized when their last
/// user drops them.
fn encode(client_id: &str, client_secret: &SecretString, encoding: Encoding) -> HeaderValue {
    let (id, secret) = (
        client_id.as_bytes(),
        client_secret.expose_secret().as_bytes(),
    );
    // Every buffer sized up front: one that grows leaves the bytes it outgrew behind,
    // unzeroized.
    let encoded_len = |bytes: &[u8]| match encoding {
        Encoding::FormUrlencoded => form_urlencoded::byte_serialize(bytes)
            .map(str::len)
            .sum::<usize>(),
        Encoding::AsIs => bytes.len(),
    };
    let mut joined = Zeroizing::new(Vec::with_capacity(
        encoded_len(id) + 1 + encoded_len(secret),
    ));
    let push = |joined: &mut Vec<u8>, bytes: &[u8]| match encoding {
        Encoding::FormUrlencoded => form_urlencoded::byte_serialize(bytes)
            .for_each(|piece| joined.extend_from_slice(piece.as_bytes())),
        Encoding::AsIs => joined.extend_from_slice(bytes),
    };
    push(&mut joined, id);
    joined.push(b':');
    push(&mut joined, secret);
    let mut value = Zeroizing::new(Vec::with_capacity(
        "Basic ".len() + base64::encoded_len(joined.len(), true).unwrap_or(0),
    ));
    value.extend_from_slice(b"Basic ");
    let start = value.len();
    let end = value.capacity();
    value.resize(end, 0);
    let written = STANDARD
        .encode_slice(joined.as_slice(), &mut value[start..])
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
    fn as_is_joins_the_utf8_bytes_unencoded() {
        let header = BasicCredentials::as_is("id with space", "k/9+Zq:7Rw==%41wö")
            .unwrap()
            .authorization_header();
        assert_eq!(decode(&header), "id with space:k/9+Zq:7Rw==%41wö");
        assert!(header.is_sensitive());
        // Nothing to encode: both ways send the same header.
        assert_eq!(
            BasicCredentials::as_is("abc", "def123")
                .unwrap()
                .authorization_header(),
            BasicCredentials::new("abc", "def123").authorization_header()
        );
    }

    #[test]
    fn as_is_refuses_what_rfc_7617_cannot_carry_without_showing_the_secret() {
        let colon = BasicCredentials::as_is("id:part", "hunter2-secret").unwrap_err();
        assert!(colon.to_string().contains("`:`"), "{colon}");
        for (id, secret) in [("id\n", "hunter2-secret"), ("id", "hunter2-secret\n")] {
            let control = BasicCredentials::as_is(id, secret).unwrap_err();
            assert!(control.to_string().contains("control"), "{control}");
            assert!(!format!("{control} {control:?}").contains("hunter2"));
        }
        // A `:` in the secret is fine: the server splits at the first one.
        let header = BasicCredentials::as_is("id", "a:b")
            .unwrap()
            .authorization_header();
        assert_eq!(decode(&header), "id:a:b");
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
