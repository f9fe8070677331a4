//! The providers, by name. What each one is like (environments, client authentication,
//! body encoding, …) lives in its module under `providers/`.

use std::fmt;
use std::str::FromStr;

use crate::providers;

/// A partner API that issues client-credentials access tokens.
///
/// Each partner is behind a cargo feature of the same name (all on by default): a build
/// without `teez` has no `Provider::Teez`, so code naming it does not compile, and the name
/// `"teez"` is refused with an error saying which feature to enable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Provider {
    /// Teez Seller API: JSON `{clientId, clientSecret}`; no Basic auth.
    #[cfg(feature = "teez")]
    Teez,
    /// Alternative Payments: Basic auth; form `grant_type=client_credentials`.
    #[cfg(feature = "alternative-payments")]
    AlternativePayments,
    /// Cobee Partners API: JSON `{clientId, clientSecret}`; no Basic auth; JWT tokens.
    #[cfg(feature = "cobee")]
    Cobee,
    /// Tradevest B2B: form `client_id`, `client_secret`, `grant_type`; no Basic auth.
    #[cfg(feature = "tradevest")]
    Tradevest,
    /// Dinie: Basic auth; form `grant_type=client_credentials`; `dinie_at_` JWT tokens.
    #[cfg(feature = "dinie")]
    Dinie,
    /// Any other token endpoint that follows RFC 6749 §4.4 (client credentials): a form body
    /// with `grant_type=client_credentials` (and a `scope` and further parameters, such as
    /// an `audience`, if configured: [`ClientBuilder::extra_param`](crate::ClientBuilder::extra_param)), the client
    /// authenticated by HTTP Basic (the default, which §2.3.1 requires servers to support)
    /// or in the body ([`ClientBuilder::client_auth`](crate::ClientBuilder::client_auth)),
    /// and the standard success fields and error codes. It has no named environments: its
    /// base URL ([`ClientBuilder::base_url`](crate::ClientBuilder::base_url)) is the token
    /// endpoint's full URL, a query included (sent with every request, normalized as a URL
    /// is; `Debug` and error reports show the URL without it, since it may hold a key, and
    /// scrub its values, like the secret, from what they take from a response). Not in
    /// [`ALL`](Self::ALL), which lists the partners. Always compiled in.
    Standard,
}

/// Every partner's name and the cargo feature that compiles it in (the same word).
const PARTNER_NAMES: [&str; 5] = [
    "teez",
    "alternative-payments",
    "cobee",
    "tradevest",
    "dinie",
];

/// How a provider wants the client authenticated on its token endpoint. In configuration:
/// `"basic"` or `"body"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ClientAuth {
    /// `Authorization: Basic base64(id:secret)`: for a partner, as its page shows it
    /// (Alternative Payments and Dinie: nothing encoded, RFC 7617); for
    /// [`Provider::Standard`], each form-urlencoded first, as RFC 6749 §2.3.1 says.
    Basic,
    /// Client id and secret as fields of the request body.
    Body,
}

impl fmt::Display for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClientAuth::Basic => "HTTP Basic",
            ClientAuth::Body => "secret in body",
        })
    }
}

/// How a provider encodes its token request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyEncoding {
    /// `application/json`.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
}

impl fmt::Display for BodyEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BodyEncoding::Json => "JSON",
            BodyEncoding::Form => "form",
        })
    }
}

/// A named deployment of a provider's API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Environment {
    /// Name used to select it (`production`, `sandbox`, …).
    pub name: &'static str,
    /// Base URL of the token endpoint's API.
    pub base_url: &'static str,
    /// Where the URL comes from.
    pub source: &'static str,
}

impl Provider {
    /// Every partner this build has (all five with the default features), in a fixed
    /// order; not [`Standard`](Self::Standard). A slice, so that code using it compiles
    /// whichever partners other crates in the build enable.
    pub const ALL: &'static [Provider] = &[
        #[cfg(feature = "teez")]
        Provider::Teez,
        #[cfg(feature = "alternative-payments")]
        Provider::AlternativePayments,
        #[cfg(feature = "cobee")]
        Provider::Cobee,
        #[cfg(feature = "tradevest")]
        Provider::Tradevest,
        #[cfg(feature = "dinie")]
        Provider::Dinie,
    ];

    /// The provider's name as used on the command line and in errors (`alternative-payments`).
    pub fn name(self) -> &'static str {
        providers::facts(self).name
    }

    /// The provider's named environments; the first is the default (`production`).
    pub fn environments(self) -> &'static [Environment] {
        providers::facts(self).environments
    }

    /// The environment called `name`, compared case-insensitively.
    pub fn environment(self, name: &str) -> Option<&'static Environment> {
        self.environments()
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(name))
    }

    /// How the client authenticates on the token endpoint (for [`Standard`](Self::Standard),
    /// the default: a client may choose [`ClientAuth::Body`]).
    pub fn client_auth(self) -> ClientAuth {
        providers::facts(self).client_auth
    }

    /// How the token request body is encoded.
    pub fn body_encoding(self) -> BodyEncoding {
        providers::facts(self).body_encoding
    }

    /// The API version of the provider's spec (`info.version`).
    pub fn api_version(self) -> &'static str {
        (providers::facts(self).api_version)()
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name given is not a provider of this build: not one of [`Provider::ALL`] nor
/// `standard`. Its message says when the name is a partner whose cargo feature is off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownProvider(pub String);

impl fmt::Display for UnknownProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.0;
        if let Some(feature) = PARTNER_NAMES.iter().find(|known| same_name(known, name)) {
            return write!(
                f,
                "provider `{name}` is not compiled in: enable partner-auth's `{feature}` feature"
            );
        }
        write!(f, "unknown provider `{name}`; expected one of: ")?;
        for &provider in Provider::ALL {
            write!(f, "{provider}, ")?;
        }
        f.write_str("standard")
    }
}

impl std::error::Error for UnknownProvider {}

/// Its [`name`](Provider::name), so APIs keyed by provider name (the sandbox's, a
/// configuration map's) take a `Provider` as it is.
impl AsRef<str> for Provider {
    fn as_ref(&self) -> &str {
        self.name()
    }
}

/// Whether `given` spells the name `known` (a provider's, an error kind's): in any case,
/// surrounding space trimmed, `-` and `_` alike (`"Alternative_Payments "` is
/// `alternative-payments`), as an environment variable or a configuration may spell it.
pub(crate) fn same_name(known: &str, given: &str) -> bool {
    let given = given.trim();
    let separator = |b: u8| b == b'-' || b == b'_';
    known.len() == given.len()
        && known
            .bytes()
            .zip(given.bytes())
            .all(|(k, g)| k == g.to_ascii_lowercase() || (separator(k) && separator(g)))
}

/// The provider's [`name`](Provider::name), in any case, surrounding space trimmed, `_` for
/// `-`.
impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .iter()
            .copied()
            .chain([Provider::Standard])
            .find(|p| same_name(p.name(), s))
            .ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

impl serde::Serialize for Provider {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// From the provider's name, as [`FromStr`] reads it (`"cobee"`, `"alternative-payments"`).
impl<'de> serde::Deserialize<'de> for Provider {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for &provider in Provider::ALL {
            assert_eq!(provider.name().parse::<Provider>(), Ok(provider));
            assert_eq!(provider.environments()[0].name, "production");
            for env in provider.environments() {
                assert!(env.base_url.starts_with("https://"), "{}", env.base_url);
            }
        }
        assert!("nope".parse::<Provider>().is_err());
        assert_eq!("Standard".parse::<Provider>(), Ok(Provider::Standard));
        // As an environment variable or a configuration file may spell it.
        for spelled in [" Cobee ", "COBEE", "cobee\n"] {
            assert_eq!(
                spelled.parse::<Provider>(),
                Ok(Provider::Cobee),
                "{spelled:?}"
            );
        }
        for spelled in [
            "alternative_payments",
            "Alternative-Payments",
            "ALTERNATIVE_PAYMENTS",
        ] {
            assert_eq!(
                spelled.parse::<Provider>(),
                Ok(Provider::AlternativePayments),
                "{spelled}"
            );
        }
        for wrong in [
            "alternativepayments",
            "alternative--payments",
            "cobe",
            "-cobee",
        ] {
            assert!(wrong.parse::<Provider>().is_err(), "{wrong}");
        }
        assert!(Provider::Standard.environments().is_empty());
        assert!(!Provider::ALL.contains(&Provider::Standard));
        assert_eq!(
            Provider::ALL.iter().map(|p| p.name()).collect::<Vec<_>>(),
            super::PARTNER_NAMES,
            "a partner's name is its feature's name"
        );
        // The five of the default build first; a partner added later follows them.
        let message = "nope".parse::<Provider>().unwrap_err().to_string();
        assert!(
            message.starts_with(
                "unknown provider `nope`; expected one of: teez, alternative-payments, cobee, \
                 tradevest, dinie, "
            ) && message.ends_with(", standard"),
            "{message}"
        );
    }

    #[test]
    fn environments_are_found_by_name() {
        assert_eq!(
            Provider::Dinie.environment("SANDBOX").unwrap().base_url,
            "https://sandbox.api.dinie.com.br/v3"
        );
        assert!(Provider::Teez.environment("sandbox").is_none());
        assert_eq!(Provider::Dinie.api_version(), "2026-03-01");
    }
}
