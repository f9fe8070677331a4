//! [`AccessToken`], the one token type every provider's response is mapped into.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::{Error, Provider, jwt};

/// Lifetimes above this (one year) are clamped to it.
pub const MAX_LIFETIME: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Lifetime assumed for caching when the provider reports none usable (5 minutes).
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// The kind of token, from the response's `token_type`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenType {
    /// `bearer`, compared case-insensitively (RFC 6749 §5.1), or no `token_type` at all, or
    /// a blank one (every one of the five providers documents bearer tokens).
    Bearer,
    /// Any other type, kept verbatim.
    Other(String),
}

impl TokenType {
    /// Parses a `token_type` value.
    pub fn parse(value: &str) -> Self {
        // A blank one is none (found by review: `""` was a type of its own).
        let word = value.trim();
        if word.is_empty() || word.eq_ignore_ascii_case("bearer") {
            TokenType::Bearer
        } else {
            TokenType::Other(value.to_owned())
        }
    }

    /// `Bearer`, or the other type verbatim.
    pub fn as_str(&self) -> &str {
        match self {
            TokenType::Bearer => "Bearer",
            TokenType::Other(other) => other,
        }
    }
}

impl fmt::Display for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An access token, the same shape whichever provider issued it. Cheap to clone (one `Arc`).
///
/// # Lifetime policy
///
/// - The lifetime is measured from when the request was **sent**, on the monotonic clock,
///   so a slow response never stretches it.
/// - A missing, zero, negative, non-numeric or non-finite (`"Infinity"`, `"NaN"`)
///   `expires_in` means the lifetime is unknown: [`lifetime`](Self::lifetime) is `None` and
///   the client's default lifetime (5 minutes unless configured) is used for expiry. A
///   fraction of a second is a lifetime (a short one), not an unknown one. A number too
///   large for a float (`1e400`) leaves the whole JSON body unreadable: the answer is an
///   [`InvalidResponse`](crate::ErrorKind::InvalidResponse), not a token.
/// - A lifetime over a year is clamped to a year.
/// - When the token is a JWT with an `exp` claim (any provider's; Cobee's are, and Dinie's
///   after their `dinie_at_` prefix), its own lifetime is measured on the provider's clock,
///   from `iat` (or the response's `Date` header, when that is over a second later: a
///   token handed out again) to `exp` (with no `iat`, from a `Date` within a day of our
///   clock; with neither, `exp` is not used), and the shorter
///   of it and the reported lifetime wins (it stands
///   in for a missing one), applied from the send time. Our clock is compared with the
///   provider's only to take a `Date` for a JWT without `iat`, so a skew changes nothing
///   (for a JWT without `iat`, one over a day means `exp` is not used; with `iat`, a
///   `Date` after `exp`, however far, makes the token expired on arrival: a wrong `Date`
///   fails closed). The JWT is only decoded for this, never
///   trusted for anything else.
/// - A token whose lifetime is over by the time the response arrives is an
///   [`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse) error, and so is an
///   empty or blank one.
///
/// `Debug`, `Display` and `Serialize` never show the token; [`expose_secret`](Self::expose_secret)
/// is the only way to read it, so writing it anywhere is an explicit choice.
#[derive(Clone)]
pub struct AccessToken(Arc<Inner>);

#[derive(Clone)]
// Each replica's reference counts on a cache line of their own (see `replica`).
#[repr(align(64))]
struct Inner {
    /// Unique per issued token; its replicas keep it.
    id: u64,
    /// Shared by the replicas: the secret is held (and zeroized) once.
    secret: Arc<SecretString>,
    token_type: TokenType,
    lifetime: Option<Duration>,
    issued_at: SystemTime,
    issued_instant: Instant,
    expires_at: SystemTime,
    expires_instant: Instant,
    provider: Provider,
    environment: Cow<'static, str>,
    /// Shared by the replicas, like the secret.
    scope: Option<Arc<str>>,
}

/// What a provider's success response said, before the lifetime policy is applied.
#[derive(Clone)]
pub(crate) struct RawToken {
    pub access_token: String,
    pub token_type: Option<String>,
    pub expires_in: Option<f64>,
    /// The scope granted (a standard provider's: RFC 6749 §5.1).
    pub scope: Option<String>,
}

/// When and where a token request was sent.
#[derive(Clone, Copy)]
pub(crate) struct Issued {
    pub instant: Instant,
    pub wall: SystemTime,
}

impl fmt::Debug for RawToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawToken")
            .field("access_token", &"[REDACTED]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

impl Issued {
    pub(crate) fn now() -> Self {
        Self {
            instant: Instant::now(),
            wall: SystemTime::now(),
        }
    }
}

impl AccessToken {
    /// Applies the lifetime policy to a provider's response. `provider_date` reads the
    /// response's `Date` header: the provider's "now" (called only for a JWT).
    pub(crate) fn new(
        raw: RawToken,
        issued: Issued,
        provider: Provider,
        environment: Cow<'static, str>,
        default_lifetime: Duration,
        provider_date: impl FnOnce() -> Option<SystemTime>,
    ) -> Self {
        // A fraction of a second is a lifetime (a short one), not an unknown one.
        let lifetime = raw
            .expires_in
            .filter(|secs| secs.is_finite() && *secs > 0.0)
            .map(|secs| Duration::from_secs_f64(secs.min(MAX_LIFETIME.as_secs_f64())));
        let prefix = crate::providers::facts(provider).jwt_prefix;
        // The JWT's lifetime measured on the provider's own clock, from `iat`, or from the
        // response's `Date` when that is later (a token issued a while ago and handed out
        // again has only what is left of it; both are whole seconds, so a second apart is
        // the same moment), to `exp`; never against ours: a skewed clock on either side
        // changes nothing.
        let jwt_lifetime = jwt::claims(&raw.access_token, prefix).and_then(|claims| {
            let from = match (claims.iat, provider_date()) {
                (Some(iat), Some(date)) if date > iat + Duration::from_secs(1) => date,
                (Some(iat), _) => iat,
                // Without `iat` nothing in the token says whether the `Date` is the
                // provider's clock: one more than a day off ours is not used (found by
                // review: a `Date` of 1970 made a JWT good for a year).
                (None, date) => date.filter(|date| crate::date::near(*date, issued.wall))?,
            };
            Some(claims.exp.duration_since(from).unwrap_or(Duration::ZERO))
        });
        let effective = match (lifetime, jwt_lifetime) {
            (Some(reported), Some(jwt)) => reported.min(jwt),
            (Some(reported), None) => reported,
            (None, Some(jwt)) => jwt,
            (None, None) => default_lifetime,
        }
        .min(MAX_LIFETIME);
        let expires_instant = issued.instant + effective;
        let expires_at = issued.wall + effective;
        let token_type = raw
            .token_type
            .as_deref()
            .map(TokenType::parse)
            .unwrap_or(TokenType::Bearer);
        AccessToken(Arc::new(Inner {
            id: next_id(),
            secret: Arc::new(SecretString::from(raw.access_token)),
            token_type,
            lifetime,
            issued_at: issued.wall,
            issued_instant: issued.instant,
            expires_at,
            expires_instant,
            provider,
            environment,
            scope: raw.scope.map(Arc::from),
        }))
    }

    /// A token read back from a store: `ttl` is its usable time left as the store
    /// measured it, what caching decisions go by. Its wall-clock expiry is its writer's,
    /// as the same token fetched has it: issued plus its lifetime.
    pub(crate) fn restored(
        plain: crate::store::seal::Plain,
        ttl: Duration,
        provider: Provider,
        environment: Cow<'static, str>,
    ) -> Self {
        let lifetime = Duration::from_millis(plain.lifetime_ms);
        let now = Instant::now();
        let expires_instant = now + ttl;
        let issued_at = crate::store::seal::from_unix_ms(plain.issued_at_ms);
        AccessToken(Arc::new(Inner {
            id: next_id(),
            secret: Arc::new(SecretString::from(plain.access_token)),
            token_type: TokenType::parse(&plain.token_type),
            lifetime: plain.reported_ms.map(Duration::from_millis),
            issued_at,
            issued_instant: expires_instant.checked_sub(lifetime).unwrap_or(now),
            expires_at: issued_at
                .checked_add(lifetime)
                .unwrap_or_else(|| SystemTime::now() + ttl),
            expires_instant,
            provider,
            environment,
            scope: plain.scope.map(Arc::from),
        }))
    }

    /// The same token in an allocation of its own (the secret is shared, not copied), so
    /// that threads reading a cached token each count their clones on a cache line of
    /// their own.
    pub(crate) fn replica(&self) -> Self {
        AccessToken(Arc::new(Inner::clone(&self.0)))
    }

    /// The scope a [`Provider::Standard`] token was granted: the response's `scope`, or,
    /// where the response has none (or one that is not a string), the scope asked for,
    /// which RFC 6749 §5.1 says it then is; `None` when neither is there. `None` for the
    /// partners, whose specs define no scope.
    pub fn scope(&self) -> Option<&str> {
        self.0.scope.as_deref()
    }

    /// The token itself. Keep it out of logs.
    pub fn expose_secret(&self) -> &str {
        self.0.secret.expose_secret()
    }

    /// The token type.
    pub fn token_type(&self) -> &TokenType {
        &self.0.token_type
    }

    /// The lifetime the provider reported (clamped to a year), or `None` when it reported
    /// none usable.
    pub fn lifetime(&self) -> Option<Duration> {
        self.0.lifetime
    }

    /// When the request for this token was sent (wall clock).
    pub fn issued_at(&self) -> SystemTime {
        self.0.issued_at
    }

    /// When the token expires (wall clock), after the lifetime policy.
    pub fn expires_at(&self) -> SystemTime {
        self.0.expires_at
    }

    /// When the token expires on the monotonic clock: what caching decisions use.
    pub fn expires_at_instant(&self) -> Instant {
        self.0.expires_instant
    }

    /// When the request for this token was sent, on the monotonic clock.
    pub fn issued_at_instant(&self) -> Instant {
        self.0.issued_instant
    }

    /// Time left until expiry (zero once expired), on the monotonic clock. Not the
    /// provider's `expires_in` (the lifetime it reported, which `Serialize` writes under
    /// that name): that is [`lifetime`](Self::lifetime).
    pub fn expires_in(&self) -> Duration {
        self.0
            .expires_instant
            .saturating_duration_since(Instant::now())
    }

    /// Whether the token has expired.
    pub fn is_expired(&self) -> bool {
        Instant::now() >= self.0.expires_instant
    }

    /// The provider that issued it.
    pub fn provider(&self) -> Provider {
        self.0.provider
    }

    /// The environment that issued it (`production`, …, or `custom` for a base URL).
    pub fn environment(&self) -> &str {
        &self.0.environment
    }

    /// `Authorization: Bearer <token>`, marked sensitive. A token type other than Bearer
    /// is an error rather than a guess at how to send it.
    pub fn authorization_header(&self) -> Result<HeaderValue, Error> {
        if self.0.token_type != TokenType::Bearer {
            return Err(Error::unsupported_token_type(self));
        }
        let mut value = HeaderValue::try_from(format!("Bearer {}", self.expose_secret()))
            .map_err(|_| Error::token_not_a_header_value(self))?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// Whether `self` and `other` are copies of one token as this process got it: from
    /// the same token response, or from the same read of a store (not just equal strings).
    /// A token read back from a store is not `same_as` the one this process fetched and
    /// stored, though its secret is the same; [`TokenSource::invalidate`](crate::TokenSource::invalidate)
    /// drops either.
    pub fn same_as(&self, other: &AccessToken) -> bool {
        self.0.id == other.0.id
    }
}

/// A new token identity, for [`AccessToken::same_as`].
fn next_id() -> u64 {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("provider", &self.0.provider)
            .field("environment", &self.0.environment)
            .field("token_type", &self.0.token_type)
            .field("token", &"[REDACTED]")
            .field("lifetime", &self.0.lifetime)
            .field("scope", &self.0.scope)
            .field(
                "issued_at",
                &format_args!("{}", humantime::format_rfc3339_seconds(self.0.issued_at)),
            )
            .field(
                "expires_at",
                &format_args!("{}", humantime::format_rfc3339_seconds(self.0.expires_at)),
            )
            .finish()
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} token from {}/{}, expires {}",
            // The provider's word: escaped, so it cannot forge a log line (found by review).
            partner_api_support::one_line(self.0.token_type.as_str()),
            self.0.provider,
            self.0.environment,
            humantime::format_rfc3339_seconds(self.0.expires_at)
        )
    }
}

/// The JSON form of an [`AccessToken`]: what `Serialize` writes and the JSON Schema of it.
/// The token itself is not in it: serializing a secret takes
/// [`AccessToken::expose_secret`].
#[derive(serde::Serialize)]
#[serde(deny_unknown_fields)] // for the schema: `additionalProperties: false`
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schemars",
    schemars(
        title = "AccessToken",
        description = "An access token's metadata as partner-auth writes it; the token \
                       itself is never in it.",
        transform = crate::schema::every_property_required
    )
)]
struct AccessTokenJson {
    /// Provider that issued the token.
    provider: String,
    /// Environment that issued it (`custom` for a base URL).
    environment: String,
    /// `Bearer`, or another type verbatim.
    token_type: String,
    /// Lifetime in seconds the provider reported; null when it reported none usable.
    expires_in: Option<u64>,
    /// When the request was sent (RFC 3339).
    #[cfg_attr(feature = "schemars", schemars(extend("format" = "date-time")))]
    issued_at: String,
    /// When the token expires after the lifetime policy (RFC 3339).
    #[cfg_attr(feature = "schemars", schemars(extend("format" = "date-time")))]
    expires_at: String,
    /// The scope granted (standard providers); null when there is none.
    scope: Option<String>,
}

impl serde::Serialize for AccessToken {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        AccessTokenJson {
            provider: self.0.provider.name().to_owned(),
            environment: self.0.environment.to_string(),
            token_type: self.0.token_type.to_string(),
            expires_in: self.0.lifetime.map(|d| d.as_secs()),
            issued_at: humantime::format_rfc3339_seconds(self.0.issued_at).to_string(),
            expires_at: humantime::format_rfc3339_seconds(self.0.expires_at).to_string(),
            scope: self.scope().map(str::to_owned),
        }
        .serialize(serializer)
    }
}

/// With feature `schemars`: the schema of what `Serialize` writes.
#[cfg(feature = "schemars")]
impl schemars::JsonSchema for AccessToken {
    fn schema_name() -> Cow<'static, str> {
        "AccessToken".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        AccessTokenJson::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn token(access_token: &str, expires_in: Option<f64>, provider: Provider) -> AccessToken {
        AccessToken::new(
            RawToken {
                access_token: access_token.to_owned(),
                token_type: Some("bearer".into()),
                expires_in,
                scope: None,
            },
            Issued::now(),
            provider,
            Cow::Borrowed("production"),
            DEFAULT_LIFETIME,
            || None,
        )
    }

    fn lifetime_secs(token: &AccessToken) -> u64 {
        token
            .expires_at_instant()
            .duration_since(token.issued_at_instant())
            .as_secs()
    }

    #[test]
    fn a_replica_is_the_same_token_in_a_line_of_its_own_sharing_the_secret() {
        let original = token("tok-1", Some(3600.0), Provider::Dinie);
        let replica = original.replica();
        assert!(replica.same_as(&original));
        assert_eq!(replica.expose_secret(), "tok-1");
        assert_eq!(replica.expires_at_instant(), original.expires_at_instant());
        assert!(
            !Arc::ptr_eq(&replica.0, &original.0),
            "an allocation of its own"
        );
        assert!(
            Arc::ptr_eq(&replica.0.secret, &original.0.secret),
            "the secret once"
        );
        // The counts sit just before the data, on a line of their own: 256 bytes a replica.
        assert_eq!(std::mem::align_of::<Inner>(), 64);
        assert!(
            std::mem::size_of::<Inner>() <= 192,
            "{}",
            std::mem::size_of::<Inner>()
        );
        for t in [&original, &replica] {
            assert_eq!(Arc::as_ptr(&t.0) as usize % 64, 0);
        }
    }

    #[test]
    fn token_type_is_case_insensitive_and_keeps_others() {
        assert_eq!(TokenType::parse("Bearer"), TokenType::Bearer);
        assert_eq!(TokenType::parse("BEARER"), TokenType::Bearer);
        assert_eq!(TokenType::parse("mac"), TokenType::Other("mac".into()));
    }

    #[test]
    fn unusable_lifetimes_are_unknown_and_use_the_default() {
        // Infinity too: a string `"Infinity"` reads as one, and it is no number of seconds
        // (not a year's lifetime, as it would be clamped to if taken for a huge one).
        for expires_in in [
            None,
            Some(0.0),
            Some(-30.0),
            Some(f64::NAN),
            Some(f64::INFINITY),
            Some(f64::NEG_INFINITY),
        ] {
            let t = token("t", expires_in, Provider::Teez);
            assert_eq!(t.lifetime(), None, "{expires_in:?}");
            assert_eq!(lifetime_secs(&t), DEFAULT_LIFETIME.as_secs());
        }
        // A fraction of a second is a lifetime, not an unknown one (found by review: 0.5
        // was served for the 5-minute default).
        let t = token("t", Some(0.5), Provider::Teez);
        assert_eq!(t.lifetime(), Some(Duration::from_millis(500)));
        let t = token("t", Some(3600.0), Provider::Teez);
        assert_eq!(t.lifetime(), Some(Duration::from_secs(3600)));
        assert_eq!(lifetime_secs(&t), 3600);
    }

    #[test]
    fn absurd_lifetimes_are_clamped_to_a_year() {
        let t = token("t", Some(1e12), Provider::Teez);
        assert_eq!(t.lifetime(), Some(MAX_LIFETIME));
    }

    fn token_at(
        access_token: &str,
        expires_in: f64,
        provider: Provider,
        date: Option<SystemTime>,
    ) -> AccessToken {
        AccessToken::new(
            RawToken {
                access_token: access_token.to_owned(),
                token_type: Some("bearer".into()),
                expires_in: Some(expires_in),
                scope: None,
            },
            Issued::now(),
            provider,
            Cow::Borrowed("production"),
            DEFAULT_LIFETIME,
            move || date,
        )
    }

    fn unix(secs: u64) -> SystemTime {
        std::time::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn a_jwt_lifetime_is_measured_on_the_providers_clock() {
        // The provider's clock is a year behind ours: exp − iat still says 600 s.
        let jwt = jwt::encode_for_test(&json!({"iat": 1_000_000_000, "exp": 1_000_000_600}));
        let cobee = token_at(&jwt, 86400.0, Provider::Cobee, None);
        assert_eq!(lifetime_secs(&cobee), 600);
        assert_eq!(cobee.lifetime(), Some(Duration::from_secs(86400)));
        let dinie = token_at(&format!("dinie_at_{jwt}"), 3600.0, Provider::Dinie, None);
        assert_eq!(lifetime_secs(&dinie), 600);

        // No iat: the response's Date is the provider's now, if within a day of ours
        // (found by review: a Date of 1970 made a JWT good for a year); further off,
        // exp is not read.
        let now = SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let jwt = jwt::encode_for_test(&json!({"exp": now + 86_400 + 300}));
        let dated = token_at(&jwt, 7200.0, Provider::Cobee, Some(unix(now + 86_400)));
        assert_eq!(lifetime_secs(&dated), 300);
        let far = token_at(&jwt, 7200.0, Provider::Cobee, Some(unix(now + 86_400 + 60)));
        assert_eq!(lifetime_secs(&far), 7200, "a Date over a day ahead of ours");
        let jwt = jwt::encode_for_test(&json!({"exp": 1_000_000_300}));
        let old = token_at(&jwt, 3600.0, Provider::Cobee, Some(unix(1_000_000_000)));
        assert_eq!(lifetime_secs(&old), 3600, "a Date of 2001");
        // Both: from the later of them. A token issued an hour ago and handed out again
        // has 300 s left, not 3,600 (found by review: iat alone was used).
        let jwt = jwt::encode_for_test(&json!({"iat": 1_000_000_000, "exp": 1_000_003_600}));
        let reissued = token_at(&jwt, 7200.0, Provider::Cobee, Some(unix(1_000_003_300)));
        assert_eq!(lifetime_secs(&reissued), 300);
        // A Date before iat (the provider's clocks disagree), or a second after it (both
        // are whole seconds): from iat.
        let early = token_at(&jwt, 7200.0, Provider::Cobee, Some(unix(999_999_000)));
        assert_eq!(lifetime_secs(&early), 3600);
        let same = token_at(&jwt, 7200.0, Provider::Cobee, Some(unix(1_000_000_001)));
        assert_eq!(lifetime_secs(&same), 3600);
        let later = token_at(&jwt, 7200.0, Provider::Cobee, Some(unix(1_000_000_002)));
        assert_eq!(lifetime_secs(&later), 3598);
        let jwt = jwt::encode_for_test(&json!({"exp": 1_000_000_300}));
        // Neither iat nor Date: exp cannot be read without comparing clocks, so it is not.
        let undated = token_at(&jwt, 3600.0, Provider::Cobee, None);
        assert_eq!(lifetime_secs(&undated), 3600);

        // A later exp does not stretch the reported lifetime.
        let jwt = jwt::encode_for_test(&json!({"iat": 1_000_000_000, "exp": 1_000_086_400}));
        assert_eq!(
            lifetime_secs(&token_at(&jwt, 60.0, Provider::Cobee, None)),
            60
        );
        // An exp before iat is a zero lifetime.
        let jwt = jwt::encode_for_test(&json!({"iat": 1_000_000_000, "exp": 999_999_000}));
        assert_eq!(
            lifetime_secs(&token_at(&jwt, 60.0, Provider::Cobee, None)),
            0
        );
    }

    #[test]
    fn only_bearer_tokens_make_a_header() {
        let t = token("abc", Some(60.0), Provider::Teez);
        let header = t.authorization_header().unwrap();
        assert_eq!(header, "Bearer abc");
        assert!(header.is_sensitive());

        let mac = AccessToken::new(
            RawToken {
                access_token: "abc".into(),
                token_type: Some("MAC".into()),
                expires_in: Some(60.0),
                scope: None,
            },
            Issued::now(),
            Provider::Teez,
            Cow::Borrowed("production"),
            DEFAULT_LIFETIME,
            || None,
        );
        let err = mac.authorization_header().unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidResponse);
        assert!(err.to_string().contains("MAC"), "{err}");
    }

    #[test]
    fn serializes_everything_but_the_token() {
        let t = token("the-token-value", Some(3600.0), Provider::Dinie);
        let json = serde_json::to_value(&t).unwrap();
        assert!(!json.to_string().contains("the-token-value"), "{json}");
        assert!(json.get("access_token").is_none());
        assert_eq!(json["provider"], "dinie");
        assert_eq!(json["token_type"], "Bearer");
        assert_eq!(json["expires_in"], 3600);
        assert!(json["expires_at"].as_str().unwrap().ends_with('Z'));
        assert!(!format!("{t:?}").contains("the-token-value"));
        assert!(!t.to_string().contains("the-token-value"));
    }
}
