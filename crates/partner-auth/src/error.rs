//! [`Error`], the one error type for every provider, and its [`ErrorKind`].

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;

use crate::{AccessToken, Provider};

/// What kind of failure an [`Error`] is: what an application matches on. Its
/// [`as_str`](Self::as_str) name is what serde writes and reads, and what [`FromStr`] parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The provider rejected the client id or secret (401, 403, or an RFC 6749
    /// `invalid_client` / `unauthorized_client`). Not retried.
    InvalidCredentials,
    /// The provider rejected the request itself (other 4xx); see
    /// [`Error::field_errors`]. Not retried.
    InvalidRequest,
    /// Too many requests (429); see [`Error::retry_after`].
    RateLimited,
    /// The provider failed (5xx).
    ProviderUnavailable,
    /// No answer in time (client timeout, or a 408).
    Timeout,
    /// No connection, or it broke (refused, DNS, TLS, reset; a body cut short of its
    /// `Content-Length`).
    Connection,
    /// An answer that is not a usable token response (HTML, truncated, too large, a
    /// redirect, a missing token, an unsupported token type).
    InvalidResponse,
    /// The client is configured wrongly (empty or rule-breaking credentials, bad URL,
    /// unknown environment). Nothing was sent.
    Configuration,
    /// Credentials would travel over plain `http://` to a non-loopback host. Nothing was
    /// sent, and no DNS lookup or connection was made.
    InsecureTransport,
    /// A bug in this crate (a token fetch panicked). Not retried; please report it.
    Internal,
}

impl serde::Serialize for ErrorKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// From its [`as_str`](ErrorKind::as_str) name, as [`FromStr`] reads it.
impl<'de> serde::Deserialize<'de> for ErrorKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <Cow<'de, str>>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// With feature `schemars`: a string, one of the [`as_str`](ErrorKind::as_str) names.
#[cfg(feature = "schemars")]
impl schemars::JsonSchema for ErrorKind {
    fn schema_name() -> Cow<'static, str> {
        "ErrorKind".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        schemars::json_schema!({
            "type": "string",
            "description": "What kind of failure an error is (partner_auth::ErrorKind).",
            "enum": names,
        })
    }
}

/// Its [`as_str`](ErrorKind::as_str) name, in any case (`"rate_limited"`,
/// `"RATE_LIMITED"`); `-` may stand for `_`.
impl FromStr for ErrorKind {
    type Err = UnknownErrorKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorKind::ALL
            .iter()
            .copied()
            .find(|kind| crate::provider::same_name(kind.as_str(), s))
            .ok_or_else(|| UnknownErrorKind(s.to_owned()))
    }
}

/// The name given is not an [`ErrorKind`]'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownErrorKind(pub String);

impl fmt::Display for UnknownErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown error kind `{}`; expected one of: ", self.0)?;
        for (i, kind) in ErrorKind::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(kind.as_str())?;
        }
        Ok(())
    }
}

impl StdError for UnknownErrorKind {}

impl ErrorKind {
    /// Every kind, in the order declared: to register a metric per kind ahead of time, or to
    /// list them in a configuration's help.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::InvalidCredentials,
        ErrorKind::InvalidRequest,
        ErrorKind::RateLimited,
        ErrorKind::ProviderUnavailable,
        ErrorKind::Timeout,
        ErrorKind::Connection,
        ErrorKind::InvalidResponse,
        ErrorKind::Configuration,
        ErrorKind::InsecureTransport,
        ErrorKind::Internal,
    ];

    /// A stable `snake_case` name, for logs and metric labels (`"rate_limited"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidCredentials => "invalid_credentials",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::ProviderUnavailable => "provider_unavailable",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connection => "connection",
            ErrorKind::InvalidResponse => "invalid_response",
            ErrorKind::Configuration => "configuration",
            ErrorKind::InsecureTransport => "insecure_transport",
            ErrorKind::Internal => "internal",
        }
    }

    /// Whether a later attempt may succeed: rate limits, provider failures, timeouts and
    /// connection failures.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimited
                | ErrorKind::ProviderUnavailable
                | ErrorKind::Timeout
                | ErrorKind::Connection
        )
    }

    fn describe(self) -> &'static str {
        match self {
            ErrorKind::InvalidCredentials => "invalid client credentials",
            ErrorKind::InvalidRequest => "the provider rejected the token request",
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::ProviderUnavailable => "the provider is unavailable",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Connection => "connection failed",
            ErrorKind::InvalidResponse => "invalid token response",
            ErrorKind::Configuration => "invalid configuration",
            ErrorKind::InsecureTransport => "insecure transport refused",
            ErrorKind::Internal => "internal error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// One field the provider reported as invalid. Serializes (serde) with the names below.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schemars",
    schemars(transform = crate::schema::every_property_required)
)]
#[non_exhaustive]
pub struct FieldError {
    /// The field (`clientSecret`, `grant_type`, …).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
    /// The provider's code for it, if any.
    pub code: Option<String>,
}

/// A failure to get a token, from any provider.
///
/// [`kind`](Self::kind) says what happened; the provider's own [`code`](Self::code),
/// [`message`](Self::message) and [`field_errors`](Self::field_errors) say why, as it put
/// it. `Display` is one line (the provider's words with their control, line-separator and
/// bidirectional characters escaped)
/// and ends with what to do next. No secret or token ever appears in it.
///
/// Cheap to clone, so one failed fetch can be handed to every caller that waited for it.
///
/// Serializes (serde) as one object with every accessor's value, for a structured log
/// line: `kind` (its [`as_str`](ErrorKind::as_str) name), `retryable`, `error` (the
/// [`headline`](Self::headline)), `hint`, `provider`, `environment`, `status`, `code`,
/// `message`, `field_errors`, `retry_after_ms`, `body_excerpt`, and `causes` (each
/// [`source`](StdError::source)'s `Display`, outermost first); a field without a value is
/// `null` (`[]` for the lists). With feature `schemars`, `schemars::schema_for!(Error)` is
/// its JSON Schema. Like `Display`, it holds no secret or token.
#[derive(Clone)]
pub struct Error(Arc<Inner>);

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    what: Cow<'static, str>,
    provider: Option<Provider>,
    environment: Option<Cow<'static, str>>,
    status: Option<StatusCode>,
    code: Option<String>,
    message: Option<String>,
    field_errors: Vec<FieldError>,
    retry_after: Option<Duration>,
    body_excerpt: Option<String>,
    source: Option<Arc<dyn StdError + Send + Sync>>,
    /// What to do next, where the kind's own hint would mislead.
    hint: Option<&'static str>,
}

impl Error {
    /// A new error of `kind`, with `what` saying what happened.
    pub(crate) fn new(kind: ErrorKind, what: impl Into<Cow<'static, str>>) -> Self {
        Error(Arc::new(Inner {
            kind,
            what: what.into(),
            provider: None,
            environment: None,
            status: None,
            code: None,
            message: None,
            field_errors: Vec::new(),
            retry_after: None,
            body_excerpt: None,
            source: None,
            hint: None,
        }))
    }

    /// An error for a call made outside a Tokio runtime (or on one it cannot use).
    pub(crate) fn runtime(what: impl Into<Cow<'static, str>>) -> Self {
        Self::configuration(what).with_hint(
            "call it from a Tokio runtime (#[tokio::main], or Runtime::block_on), or use the \
             partner_auth::blocking API (feature `blocking`) from code without one",
        )
    }

    pub(crate) fn configuration(what: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Configuration, what)
    }

    pub(crate) fn unsupported_token_type(token: &AccessToken) -> Self {
        Self::new(
            ErrorKind::InvalidResponse,
            format!(
                "token type `{}` is not Bearer, and how to send it is not known",
                token.token_type()
            ),
        )
        .at(token.provider(), Cow::Owned(token.environment().to_owned()))
    }

    pub(crate) fn token_not_a_header_value(token: &AccessToken) -> Self {
        Self::new(
            ErrorKind::InvalidResponse,
            "the access token contains characters not allowed in an HTTP header",
        )
        .at(token.provider(), Cow::Owned(token.environment().to_owned()))
    }

    pub(crate) fn at(mut self, provider: Provider, environment: Cow<'static, str>) -> Self {
        Arc::make_mut(&mut self.0).provider = Some(provider);
        Arc::make_mut(&mut self.0).environment = Some(environment);
        self
    }

    pub(crate) fn with_status(mut self, status: StatusCode) -> Self {
        Arc::make_mut(&mut self.0).status = Some(status);
        self
    }

    pub(crate) fn with_provider_details(
        mut self,
        code: Option<String>,
        message: Option<String>,
        field_errors: Vec<FieldError>,
    ) -> Self {
        Arc::make_mut(&mut self.0).code = code;
        Arc::make_mut(&mut self.0).message = message;
        Arc::make_mut(&mut self.0).field_errors = field_errors;
        self
    }

    pub(crate) fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        Arc::make_mut(&mut self.0).retry_after = retry_after;
        self
    }

    pub(crate) fn with_body_excerpt(mut self, excerpt: Option<String>) -> Self {
        Arc::make_mut(&mut self.0).body_excerpt = excerpt;
        self
    }

    /// Replaces the kind's hint, where it would mislead.
    pub(crate) fn with_hint(mut self, hint: &'static str) -> Self {
        Arc::make_mut(&mut self.0).hint = Some(hint);
        self
    }

    pub(crate) fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        Arc::make_mut(&mut self.0).source = Some(Arc::new(source));
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// Whether a later attempt may succeed (see [`ErrorKind::is_retryable`]; a 408 is a
    /// [`ErrorKind::Timeout`]).
    pub fn is_retryable(&self) -> bool {
        self.0.kind.is_retryable()
    }

    /// The HTTP status of the provider's response, if there was one.
    pub fn status(&self) -> Option<StatusCode> {
        self.0.status
    }

    /// The provider the request was for, if known.
    pub fn provider(&self) -> Option<Provider> {
        self.0.provider
    }

    /// The environment the request was for (`custom` for a base URL), if known.
    pub fn environment(&self) -> Option<&str> {
        self.0.environment.as_deref()
    }

    /// The provider's own error code (`invalid_client`, `rate_limit_exceeded`,
    /// `B2B-…`, …), if it sent one.
    pub fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }

    /// The provider's own error message, if it sent one.
    pub fn message(&self) -> Option<&str> {
        self.0.message.as_deref()
    }

    /// Per-field errors the provider reported (Teez's `errors` map, Dinie's `errors[]`, or
    /// a top-level `param`, Dinie's, when no other field error is given).
    pub fn field_errors(&self) -> &[FieldError] {
        &self.0.field_errors
    }

    /// How long the provider asked us to wait, at most a day: `Retry-After` (seconds or an
    /// HTTP date), else on a 429 `X-RateLimit-Reset` in the provider's unit (Cobee:
    /// seconds; Dinie: a Unix time; the others: seconds, or a Unix time in seconds or
    /// milliseconds, as large as it is), else the window of a rate limit its docs name
    /// without a header (Alternative Payments: a second; also when the header it sends
    /// says nothing readable). A date or a Unix time is measured from the response's
    /// `Date`, on the provider's clock: no wait if not after it, and from this machine's
    /// clock if more than a day after it. An
    /// error a [`TokenSource`](crate::TokenSource) serves again during its cool-down counts
    /// it down: what is left of that cool-down.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// A short excerpt of an error response's body, with secrets and tokens removed; for
    /// a success response that could not be read, its shape instead of its content.
    pub fn body_excerpt(&self) -> Option<&str> {
        self.0.body_excerpt.as_deref()
    }

    /// What happened, without the hint: `Display` is this, `"; "`, and [`hint`](Self::hint).
    pub fn headline(&self) -> String {
        Headline(self).to_string()
    }

    /// What to do next, in one phrase ("check the client id and secret for
    /// cobee/production"); `Display` ends with it.
    pub fn hint(&self) -> Cow<'static, str> {
        if let Some(hint) = self.0.hint {
            return hint.into();
        }
        let at = match (&self.0.provider, &self.0.environment) {
            (Some(p), Some(e)) => format!("{p}/{e}"),
            (Some(p), None) => p.to_string(),
            _ => "this provider".to_owned(),
        };
        match self.0.kind {
            ErrorKind::InvalidCredentials => {
                format!("check the client id and secret for {at}").into()
            }
            // Found by review: a field error with an empty or blank name names no field,
            // and a bare 400 has no code or message to check.
            ErrorKind::InvalidRequest
                if blank(self.0.code.as_deref())
                    && blank(self.0.message.as_deref())
                    && !self.names_a_field() =>
            {
                "the provider gave no reason beyond its status; check the request against its \
                 documentation: this request will not succeed as is"
                    .into()
            }
            ErrorKind::InvalidRequest if !self.names_a_field() => {
                // Found by an application's review: "the fields the provider names" when it
                // named none (RFC 6749's `invalid_scope`, a Cobee `code`).
                "check what the provider's code and message say; this request will not \
                 succeed as is"
                    .into()
            }
            ErrorKind::InvalidRequest => {
                "check the fields the provider names; this request will not succeed as is".into()
            }
            ErrorKind::RateLimited => match self.0.retry_after {
                Some(wait) => format!("retry in {}", whole_seconds(wait)).into(),
                None => "slow down and retry later".into(),
            },
            // A 503's `Retry-After` says when (found by an application's review: the error
            // knew the wait, its `Display` said "retry later").
            ErrorKind::ProviderUnavailable => match self.0.retry_after {
                Some(wait) => {
                    format!("the provider is failing; retry in {}", whole_seconds(wait)).into()
                }
                None => "the provider is failing; retry later".into(),
            },
            // A 408 is the provider's own timer: ours changes nothing (found by an
            // application's review; the CLI had worked around it). A body that came too
            // slowly after its status is ours.
            ErrorKind::Timeout if self.0.status == Some(StatusCode::REQUEST_TIMEOUT) => {
                match self.0.retry_after {
                    Some(wait) => format!(
                        "the provider gave up waiting for the request; retry in {}",
                        whole_seconds(wait)
                    )
                    .into(),
                    None => "the provider gave up waiting for the request; retry later".into(),
                }
            }
            ErrorKind::Timeout => {
                "the provider did not answer in time; retry, or raise the timeout".into()
            }
            ErrorKind::Connection => {
                format!("check the base URL, DNS and network path to {at}").into()
            }
            ErrorKind::InvalidResponse => {
                format!("check that the base URL for {at} points at its token API").into()
            }
            ErrorKind::Configuration => "fix the client configuration".into(),
            ErrorKind::InsecureTransport => {
                "use an https:// URL (plain http is allowed to loopback, or to a test network \
                 with ClientBuilder::allow_insecure_http)"
                    .into()
            }
            ErrorKind::Internal => {
                "report this bug to partner-auth; the next call after the cool-down tries again"
                    .into()
            }
        }
    }
}

impl Error {
    /// Whether a field error names a field (an empty or blank name names none).
    fn names_a_field(&self) -> bool {
        self.0
            .field_errors
            .iter()
            .any(|f| !f.field.trim().is_empty())
    }
}

/// Whether a provider's code or message says nothing.
fn blank(text: Option<&str>) -> bool {
    text.is_none_or(|t| t.trim().is_empty())
}

/// A wait as a hint shows it: whole seconds, rounded up, so that retrying at the time shown
/// is never early.
fn whole_seconds(wait: Duration) -> String {
    format!("{} s", wait.as_secs_f64().ceil().max(1.0))
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; {}", Headline(self), self.hint())
    }
}

/// An error's `Display` without its hint, on one line: the provider's words (its code and
/// message, as they are in [`Error::code`] and [`Error::message`]) through
/// [`one_line`](partner_api_support::one_line), so that they cannot forge a log line or
/// reach a terminal as an escape sequence.
struct Headline<'a>(&'a Error);

impl fmt::Display for Headline<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &(self.0).0;
        if let Some(provider) = inner.provider {
            write!(f, "{provider}")?;
            if let Some(env) = &inner.environment {
                write!(f, "/{env}")?;
            }
            f.write_str(": ")?;
        }
        write!(
            f,
            "{}: {}",
            inner.kind,
            partner_api_support::one_line(&inner.what)
        )?;
        let mut said = Vec::new();
        if let Some(status) = inner.status {
            said.push(format!("HTTP {}", status.as_u16()));
        }
        if let Some(code) = &inner.code {
            said.push(partner_api_support::one_line(code).into_owned());
        }
        if let Some(message) = &inner.message {
            said.push(format!("\"{}\"", partner_api_support::one_line(message)));
        }
        if !said.is_empty() {
            write!(f, " ({})", said.join(", "))?;
        }
        Ok(())
    }
}

/// The JSON form of an [`Error`]: what `Serialize` writes and the JSON Schema of it.
#[derive(serde::Serialize)]
#[serde(deny_unknown_fields)] // for the schema: `additionalProperties: false`
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schemars",
    schemars(
        title = "Error",
        description = "A failure to get a token, as partner-auth writes it; never a secret \
                       or a token.",
        transform = crate::schema::every_property_required
    )
)]
struct ErrorJson<'a> {
    /// What kind of failure it is.
    kind: ErrorKind,
    /// Whether a later attempt may succeed.
    retryable: bool,
    /// What happened, in one line, without the hint.
    error: String,
    /// What to do next.
    hint: Cow<'static, str>,
    /// The provider the request was for.
    provider: Option<&'static str>,
    /// The environment the request was for (`custom` for a base URL).
    environment: Option<&'a str>,
    /// The HTTP status of the provider's response.
    status: Option<u16>,
    /// The provider's own error code.
    code: Option<&'a str>,
    /// The provider's own error message.
    message: Option<&'a str>,
    /// Per-field errors the provider reported.
    field_errors: &'a [FieldError],
    /// How long the provider asked to wait, in milliseconds.
    retry_after_ms: Option<u64>,
    /// A short excerpt of an error response's body, secrets and tokens removed.
    body_excerpt: Option<&'a str>,
    /// The underlying causes, outermost first.
    causes: Vec<String>,
}

impl serde::Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let inner = &self.0;
        let mut causes = Vec::new();
        let mut source = self.source();
        while let Some(cause) = source {
            causes.push(cause.to_string());
            source = cause.source();
        }
        ErrorJson {
            kind: inner.kind,
            retryable: inner.kind.is_retryable(),
            error: self.headline(),
            hint: self.hint(),
            provider: inner.provider.map(Provider::name),
            environment: inner.environment.as_deref(),
            status: inner.status.map(|s| s.as_u16()),
            code: inner.code.as_deref(),
            message: inner.message.as_deref(),
            field_errors: &inner.field_errors,
            retry_after_ms: inner
                .retry_after
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            body_excerpt: inner.body_excerpt.as_deref(),
            causes,
        }
        .serialize(serializer)
    }
}

/// With feature `schemars`: the schema of what `Serialize` writes.
#[cfg(feature = "schemars")]
impl schemars::JsonSchema for Error {
    fn schema_name() -> Cow<'static, str> {
        "Error".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        ErrorJson::json_schema(generator)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.0;
        f.debug_struct("Error")
            .field("kind", &inner.kind)
            .field("what", &inner.what)
            .field("provider", &inner.provider)
            .field("environment", &inner.environment)
            .field("status", &inner.status)
            .field("code", &inner.code)
            .field("message", &inner.message)
            .field("field_errors", &inner.field_errors)
            .field("retry_after", &inner.retry_after)
            .field("body_excerpt", &inner.body_excerpt)
            .field("source", &inner.source)
            .finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_the_headline_then_the_hint_for_every_kind() {
        for &kind in ErrorKind::ALL {
            // Hints with "; " of their own (retry later) must not confuse anyone.
            let error =
                Error::new(kind, "it broke; badly").at(Provider::Cobee, "production".into());
            assert_eq!(
                error.to_string(),
                format!("{}; {}", error.headline(), error.hint()),
                "{kind:?}"
            );
            assert!(error.headline().ends_with("it broke; badly"), "{kind:?}");
            assert!(!error.hint().is_empty());
            assert_eq!(kind.as_str().to_lowercase(), kind.as_str());
            // Serialized as its stable name, as logs and metrics show it.
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }

    #[test]
    fn all_lists_every_kind_once() {
        // Exhaustive: a new kind does not compile here until it has a place in `ALL`.
        let place = |kind: ErrorKind| match kind {
            ErrorKind::InvalidCredentials => 0,
            ErrorKind::InvalidRequest => 1,
            ErrorKind::RateLimited => 2,
            ErrorKind::ProviderUnavailable => 3,
            ErrorKind::Timeout => 4,
            ErrorKind::Connection => 5,
            ErrorKind::InvalidResponse => 6,
            ErrorKind::Configuration => 7,
            ErrorKind::InsecureTransport => 8,
            ErrorKind::Internal => 9,
        };
        let places: Vec<usize> = ErrorKind::ALL.iter().map(|&k| place(k)).collect();
        assert_eq!(places, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for &kind in ErrorKind::ALL {
            assert_eq!(kind.as_str().parse::<ErrorKind>(), Ok(kind));
            let shouted = kind.as_str().to_uppercase().replace('_', "-");
            assert_eq!(format!(" {shouted} ").parse::<ErrorKind>(), Ok(kind));
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(serde_json::from_value::<ErrorKind>(json).unwrap(), kind);
        }
        for wrong in [
            "",
            "rate limited",
            "ratelimited",
            "rate_limited_",
            "rate__limited",
        ] {
            let err = wrong.parse::<ErrorKind>().unwrap_err();
            assert_eq!(err, UnknownErrorKind(wrong.to_owned()));
            assert!(
                err.to_string().starts_with(&format!(
                    "unknown error kind `{wrong}`; expected one of: invalid_credentials, "
                )),
                "{err}"
            );
        }
        let err = serde_json::from_str::<ErrorKind>("\"nope\"").unwrap_err();
        assert!(
            err.to_string().contains("unknown error kind `nope`"),
            "{err}"
        );
        assert!(serde_json::from_str::<ErrorKind>("3").is_err());
    }
}
