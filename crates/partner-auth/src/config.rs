//! [`ClientConfig`]: a client and its token cache described in an application's own
//! configuration file or environment, read with serde.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use secrecy::SecretString;

use crate::store::{StoreLocation, StorePolicy};
use crate::{CachePolicy, Client, ClientAuth, Credentials, Error, Provider, TokenSource};

/// Everything needed to build a [`Client`] and its [`TokenSource`], as an application keeps
/// it in its configuration (TOML, YAML, JSON, environment variables through a serde-based
/// loader).
///
/// Durations are humantime strings (`"10s"`, `"500ms"`); the secret is a [`SecretString`],
/// never shown by `Debug`; an unknown field is an error, so a typo is not silently ignored.
/// Fields left out keep the builders' defaults.
///
/// ```
/// use partner_auth::{ClientConfig, Provider};
///
/// let config: ClientConfig = serde_json::from_str(r#"{
///     "provider": "cobee",
///     "environment": "pre-production",
///     "client_id": "my-client",
///     "client_secret": "from-a-secret-store",
///     "timeout": "5s",
///     "cache": { "refresh_window": "10m", "retry": { "max_attempts": 4 } }
/// }"#)?;
/// assert_eq!(config.provider, Provider::Cobee);
/// assert!(!format!("{config:?}").contains("from-a-secret-store"));
///
/// let client = config.client()?; // checks the credentials, URL and environment
/// let source = config.token_source()?; // checks the cache policy too
/// # let _ = (client, source);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The provider, by name (`"teez"`, `"alternative-payments"`, `"cobee"`,
    /// `"tradevest"`, `"dinie"`, or `"standard"` with the token URL as `base_url`).
    pub provider: Provider,
    /// One of the provider's environments (default `"production"`).
    #[serde(default)]
    pub environment: Option<String>,
    /// A base URL instead of an environment's.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The client id.
    pub client_id: String,
    /// The client secret.
    #[serde(deserialize_with = "secret_string")]
    pub client_secret: SecretString,
    /// Total timeout of a token request: left out (or `null`), the default
    /// ([`DEFAULT_TIMEOUT`](crate::DEFAULT_TIMEOUT)); `"none"`, no timer at all
    /// (`Some(None)`, as [`ClientBuilder::timeout`](crate::ClientBuilder::timeout)`(None)`),
    /// for an application that bounds its requests itself.
    #[serde(default, deserialize_with = "timeout_setting")]
    pub timeout: Option<Option<Duration>>,
    /// Connect timeout: left out, the default
    /// ([`DEFAULT_CONNECT_TIMEOUT`](crate::DEFAULT_CONNECT_TIMEOUT)); `"none"`, no timer.
    #[serde(default, deserialize_with = "timeout_setting")]
    pub connect_timeout: Option<Option<Duration>>,
    /// Lifetime assumed when the provider reports none usable (default 5 minutes).
    #[serde(default, with = "humantime_serde")]
    pub default_lifetime: Option<Duration>,
    /// Allows credentials over plain `http://` to a host that is not loopback: only for a
    /// test network (default false; see
    /// [`ClientBuilder::allow_insecure_http`](crate::ClientBuilder::allow_insecure_http)).
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// For `"standard"`: `"basic"` (default) or `"body"`.
    #[serde(default)]
    pub client_auth: Option<ClientAuth>,
    /// For `"standard"`: the scope to ask for.
    #[serde(default)]
    pub scope: Option<String>,
    /// For `"standard"`: further form parameters, by name, each a string or a list of
    /// strings (`{ "audience": "https://api.example.com", "resource": ["a", "b"] }`);
    /// sent sorted by name (byte order), a list's values in its order (see
    /// [`ClientBuilder::extra_param`](crate::ClientBuilder::extra_param)). A name given
    /// twice is an error, not the last one winning: give a list instead.
    #[serde(default, deserialize_with = "unique_names")]
    pub extra_params: BTreeMap<String, ParamValues>,
    /// How the token is cached, refreshed and retried.
    #[serde(default)]
    pub cache: CachePolicy,
    /// A token store shared with other processes (see [`store`](crate::store)): a
    /// `redis://` or `rediss://` URL (feature `redis`) or a directory (feature
    /// `file-store`); none by default.
    #[serde(default)]
    pub store: Option<String>,
    /// How the store is used.
    #[serde(default)]
    pub store_policy: StorePolicy,
}

impl ClientConfig {
    /// Builds the client (see [`ClientBuilder::build`](crate::ClientBuilder::build) for
    /// what is checked). The client alone: [`cache`](Self::cache), [`store`](Self::store)
    /// and [`store_policy`](Self::store_policy) are not part of it. A
    /// [`TokenCache`](crate::TokenCache) given this client (one cache for many tenants'
    /// configurations) makes its source with the cache's own policy and store; only
    /// [`token_source`](Self::token_source) applies this configuration's.
    pub fn client(&self) -> Result<Client, Error> {
        let mut builder = Client::builder(self.provider).credentials(Credentials::new(
            self.client_id.clone(),
            self.client_secret.clone(),
        ));
        if let Some(environment) = &self.environment {
            builder = builder.environment(environment);
        }
        if let Some(base_url) = &self.base_url {
            builder = builder.base_url(base_url);
        }
        if let Some(timeout) = self.timeout {
            builder = builder.timeout(timeout);
        }
        if let Some(timeout) = self.connect_timeout {
            builder = builder.connect_timeout(timeout);
        }
        if let Some(lifetime) = self.default_lifetime {
            builder = builder.default_lifetime(lifetime);
        }
        if self.allow_insecure_http {
            builder = builder.allow_insecure_http(true);
        }
        if let Some(auth) = self.client_auth {
            builder = builder.client_auth(auth);
        }
        if let Some(scope) = &self.scope {
            builder = builder.scope(scope);
        }
        for (name, values) in &self.extra_params {
            for value in values.as_slice() {
                builder = builder.extra_param(name, value);
            }
        }
        builder.build()
    }

    /// Builds the client and a token source with [`cache`](Self::cache) as its policy and
    /// [`store`](Self::store), if any, as its level-2 cache. A store this build cannot open
    /// (its feature is off, a bad URL, a directory that cannot be created) is an error.
    pub fn token_source(&self) -> Result<TokenSource, Error> {
        // Checked before the store is opened (found by review: a refused configuration
        // still created its store's directory).
        self.cache.validate()?;
        self.store_policy.validate()?;
        let mut builder = TokenSource::builder(self.client()?)
            .policy(self.cache.clone())
            .store_policy(self.store_policy.clone());
        if let Some(store) = &self.store {
            builder = builder.store(StoreLocation::parse(store)?.open()?);
        }
        builder.build()
    }
}

impl fmt::Debug for ClientConfig {
    /// Every field, but the secret redacted and URLs without a user or password (a store
    /// URL as [`StoreLocation`] shows it: scheme, host and port).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured: a new field is a compile error here until it is shown or hidden.
        let ClientConfig {
            provider,
            environment,
            base_url,
            client_id,
            client_secret,
            timeout,
            connect_timeout,
            default_lifetime,
            allow_insecure_http,
            client_auth,
            scope,
            extra_params,
            cache,
            store,
            store_policy,
        } = self;
        f.debug_struct("ClientConfig")
            .field("provider", provider)
            .field("environment", environment)
            .field(
                "base_url",
                &base_url.as_deref().map(crate::client::shown_url),
            )
            .field("client_id", client_id)
            .field("client_secret", client_secret)
            .field("timeout", timeout)
            .field("connect_timeout", connect_timeout)
            .field("default_lifetime", default_lifetime)
            .field("allow_insecure_http", allow_insecure_http)
            .field("client_auth", client_auth)
            .field("scope", scope)
            .field("extra_params", &extra_params.keys().collect::<Vec<_>>())
            .field("cache", cache)
            .field("store", &store.as_deref().map(StoreLocation::parse))
            .field("store_policy", store_policy)
            .finish()
    }
}

/// The value or values of one of [`ClientConfig::extra_params`]: a string or a list of
/// strings.
#[derive(Clone, serde::Deserialize)]
#[serde(untagged, expecting = "a string or a list of strings")]
pub enum ParamValues {
    /// One value.
    One(String),
    /// Values sent in this order, the name repeated (RFC 8707's `resource`).
    Many(Vec<String>),
}

impl ParamValues {
    /// The values, in order.
    pub fn as_slice(&self) -> &[String] {
        match self {
            ParamValues::One(value) => std::slice::from_ref(value),
            ParamValues::Many(values) => values,
        }
    }
}

impl fmt::Debug for ParamValues {
    /// Only how many: a value may be meant to stay private.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ParamValues({} values)", self.as_slice().len())
    }
}

/// A map of parameter names, each once: a format that lets a key repeat (JSON, YAML) would
/// otherwise keep only the last value, silently.
fn unique_names<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, ParamValues>, D::Error> {
    struct Names;

    impl<'de> serde::de::Visitor<'de> for Names {
        type Value = BTreeMap<String, ParamValues>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of parameter names to a string or a list of strings")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            use serde::de::Error as _;
            let mut names = BTreeMap::new();
            while let Some((name, values)) = map.next_entry::<String, ParamValues>()? {
                if names.contains_key(&name) {
                    return Err(A::Error::custom(format!(
                        "extra parameter `{name}` given twice: give its values as one list"
                    )));
                }
                names.insert(name, values);
            }
            Ok(names)
        }
    }

    deserializer.deserialize_map(Names)
}

/// A timeout as configuration gives it: a humantime duration, `"none"` for no timer
/// (`Some(None)`), or `null` for the default (`None`, as when the field is left out).
/// Anything else (a number without its unit, say) is an error that says what is accepted.
fn timeout_setting<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<Duration>>, D::Error> {
    struct Setting;

    impl<'de> serde::de::Visitor<'de> for Setting {
        type Value = Option<Option<Duration>>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(
                "a duration with its unit, such as \"10s\" or \"500ms\", or \"none\" for no \
                 timer",
            )
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
            let trimmed = text.trim();
            if trimmed.eq_ignore_ascii_case("none") {
                return Ok(Some(None));
            }
            humantime::parse_duration(trimmed)
                .map(|duration| Some(Some(duration)))
                .map_err(|error| {
                    E::custom(format!(
                        "a timeout is a duration with its unit, such as \"10s\" or \"500ms\", \
                         or \"none\" for no timer; `{text}`: {error}"
                    ))
                })
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: serde::Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_any(self)
        }
    }

    deserializer.deserialize_option(Setting)
}

/// The secret as a string, read as the format reads a string (YAML gives an unquoted
/// `0123` or `1e5` as written). Any error is replaced by one that names the field only:
/// the format's own (a number where a string belongs, say) would repeat the value.
fn secret_string<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<SecretString, D::Error> {
    use serde::Deserialize as _;
    use serde::de::Error as _;
    String::deserialize(deserializer)
        .map(SecretString::from)
        .map_err(|_| {
            D::Error::custom(
                "client_secret must be a string: quote it (what was there is not shown, as it \
                 may be the secret)",
            )
        })
}
