//! Client credentials and the rules they are checked against before any request.

use std::fmt;

use partner_api_support::IntoClientSecret;
use secrecy::{ExposeSecret, SecretString};

use crate::{Error, Provider};

/// A client id and client secret.
///
/// The secret is a [`SecretString`]: zeroized on drop and never shown by `Debug`. Read it
/// from the environment or a secret store, never from a literal in code. A `String` given
/// with room to spare (one read from a file or a prompt) is copied into a buffer of its
/// exact length and zeroized, not shrunk into one and freed with the secret in it
/// ([`IntoClientSecret`](crate::IntoClientSecret)). Copies made from it later (the forms
/// of it a [`Client`](crate::Client) works out to scrub errors with, a request's encoded
/// body or header in the HTTP stack's buffers) may be freed without being zeroized.
///
/// ```
/// use partner_auth::{Credentials, ErrorKind, Provider};
///
/// let credentials = Credentials::new("client-7", "s3cret-value-42");
/// assert!(!format!("{credentials:?}").contains("s3cret"));
/// credentials.validate(Provider::Teez)?; // Teez: 8 characters and a digit at least
/// let weak = Credentials::new("client-7", "secret");
/// assert_eq!(weak.validate(Provider::Teez).unwrap_err().kind(), ErrorKind::Configuration);
/// # Ok::<(), partner_auth::Error>(())
/// ```
#[derive(Clone)]
pub struct Credentials {
    client_id: String,
    client_secret: SecretString,
}

impl Credentials {
    /// Credentials from a client id and a client secret: a `String`, `&String`, `&str`,
    /// `Box<str>` or [`SecretString`] ([`IntoClientSecret`](crate::IntoClientSecret)).
    ///
    /// This took `impl Into<SecretString>` before: code generic over that, or passing a
    /// type of its own that converts into a `SecretString`, converts first (a `String` so
    /// converted is not copied and zeroized as one given here is):
    ///
    /// ```
    /// use partner_auth::Credentials;
    /// use secrecy::SecretString;
    ///
    /// fn credentials(secret: impl Into<SecretString>) -> Credentials {
    ///     Credentials::new("client-7", secret.into())
    /// }
    /// # let _ = credentials("s3cret");
    /// ```
    pub fn new(client_id: impl Into<String>, client_secret: impl IntoClientSecret) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into_client_secret(),
        }
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The client secret.
    pub fn client_secret(&self) -> &SecretString {
        &self.client_secret
    }

    /// Checks the rules every provider has (an id and a secret that are not blank, without
    /// control characters such as a line break) and `provider`'s own
    /// documented ones (Teez: a secret of at least 8 characters with a digit, taken from
    /// its spec through the generated type; Alternative Payments and Dinie: no `:` in the
    /// id, which their Basic header, nothing encoded, cannot carry).
    pub fn validate(&self, provider: Provider) -> Result<(), Error> {
        let invalid = |rule: &str| {
            Err(Error::configuration(format!(
                "invalid credentials for {provider}: {rule}"
            )))
        };
        if self.client_id.trim().is_empty() {
            return invalid("the client id is empty");
        }
        let secret = self.client_secret.expose_secret();
        if secret.trim().is_empty() {
            return invalid("the client secret is empty or blank");
        }
        // RFC 6749 Appendix A: an id and a secret are printable characters and spaces. A
        // line break is most often one left over from a file or a prompt.
        for (what, value) in [
            ("client id", self.client_id.as_str()),
            ("client secret", secret),
        ] {
            if value.chars().any(char::is_control) {
                return Err(Error::configuration(format!(
                    "invalid credentials for {provider}: the {what} contains a control \
                     character (a line break read from a file, say)"
                ))
                .with_hint("trim the value where it is read (str::trim_end)"));
            }
        }
        let facts = crate::providers::facts(provider);
        if facts.client_auth == crate::ClientAuth::Basic
            && facts.basic_encoding == crate::providers::BasicEncoding::AsIs
            && self.client_id.contains(':')
        {
            return invalid(
                "the client id contains a `:`, which its HTTP Basic header \
                 (base64(client_id:client_secret), nothing encoded, as its docs show) cannot \
                 carry",
            );
        }
        if let Some(check) = facts.check_secret
            && let Err(rule) = check(secret)
        {
            return invalid(rule);
        }
        Ok(())
    }

    /// The credentials as the generated crates' Basic credentials, written as `encoding`
    /// says. Only what [`validate`](Self::validate) refuses fails here.
    pub(crate) fn basic(
        &self,
        encoding: crate::providers::BasicEncoding,
    ) -> Result<partner_api_support::BasicCredentials, Error> {
        let (id, secret) = (self.client_id.clone(), self.client_secret.clone());
        match encoding {
            crate::providers::BasicEncoding::FormUrlencoded => {
                Ok(partner_api_support::BasicCredentials::new(id, secret))
            }
            crate::providers::BasicEncoding::AsIs => {
                partner_api_support::BasicCredentials::as_is(id, secret)
                    .map_err(|e| Error::configuration(format!("invalid credentials: {e}")))
            }
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn empty_values_are_refused_with_the_rule() {
        let err = Credentials::new("", "secret")
            .validate(Provider::Cobee)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Configuration);
        assert!(err.to_string().contains("client id is empty"), "{err}");
        let err = Credentials::new("id", "")
            .validate(Provider::Dinie)
            .unwrap_err();
        assert!(err.to_string().contains("secret is empty"), "{err}");
    }

    #[test]
    fn teez_secret_rules_come_from_its_spec() {
        for bad in ["short1", "no-digits-at-all"] {
            let err = Credentials::new("id", bad)
                .validate(Provider::Teez)
                .unwrap_err();
            assert!(err.to_string().contains("at least 8 characters"), "{err}");
            assert!(!err.to_string().contains(bad));
        }
        Credentials::new("id", "long-enough-1")
            .validate(Provider::Teez)
            .unwrap();
        // The rule is Teez's alone.
        Credentials::new("id", "short")
            .validate(Provider::Cobee)
            .unwrap();
    }

    #[test]
    fn debug_hides_the_secret() {
        let shown = format!("{:?}", Credentials::new("client-7", "hunter2-secret"));
        assert!(
            shown.contains("client-7") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
