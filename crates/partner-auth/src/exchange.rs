//! One token request's outcome: a generated client's result mapped into a [`RawToken`] or
//! an [`Error`], the same way for every provider.

use std::borrow::Cow;
use std::time::SystemTime;

use partner_api_support::{ResponseObserver, ResponseTooLarge};
use progenitor_client::ResponseValue;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::body::Sensitive;
use crate::token::{RawToken, TokenType};
use crate::{Error, ErrorKind, Provider, body, retry_after};

/// The context of one token request.
pub(crate) struct Exchange<'a> {
    pub provider: Provider,
    pub environment: &'a Cow<'static, str>,
    /// What to scrub from anything taken from a response.
    pub sensitive: &'a Sensitive,
    /// Sees the response head and body whatever progenitor makes of them.
    pub observer: ResponseObserver,
    /// The provider's own reader of error bodies, if it has one.
    pub error_details: Option<crate::providers::ErrorReader>,
}

impl Exchange<'_> {
    /// Maps a generated client's result. `typed` maps the documented success body; when it
    /// finds no token there, or the body did not decode, the body is decoded leniently.
    /// (Unused in a build without partners: only they have generated clients.)
    #[cfg_attr(
        not(any(
            feature = "teez",
            feature = "alternative-payments",
            feature = "cobee",
            feature = "tradevest",
            feature = "dinie"
        )),
        allow(dead_code)
    )]
    pub(crate) async fn finish<T, E>(
        &self,
        result: Result<ResponseValue<T>, progenitor_client::Error<E>>,
        typed: impl FnOnce(T) -> Option<RawToken>,
    ) -> Result<RawToken, Error>
    where
        E: serde::Serialize,
    {
        use progenitor_client::Error as Generated;
        let outcome = match result {
            Ok(value) => {
                let status = value.status();
                match typed(value.into_inner()) {
                    Some(raw) if raw.expires_in.is_some() && raw.token_type.is_some() => Ok(raw),
                    Some(raw) => Ok(self.fill_in(raw)),
                    None => self.lenient(status, &self.observer.body().unwrap_or_default()),
                }
            }
            Err(Generated::ErrorResponse(value)) => {
                let (status, headers) = (value.status(), value.headers().clone());
                let body = self
                    .observer
                    .body()
                    .unwrap_or_else(|| serde_json::to_vec(&*value).unwrap_or_default());
                Err(self.http_error(status, &headers, &body))
            }
            Err(Generated::UnexpectedResponse(response)) => {
                let (status, headers) = (response.status(), response.headers().clone());
                match response.bytes().await {
                    Ok(body) if status.is_success() => self.lenient(status, &body),
                    Ok(body) => Err(self.http_error(status, &headers, &body)),
                    Err(e) => Err(self.body_error(e, Some(status))),
                }
            }
            Err(Generated::InvalidResponsePayload(body, _)) => {
                let head = self.observer.last();
                let status = head.as_ref().map_or(StatusCode::OK, |h| h.status);
                if status.is_success() {
                    self.lenient(status, &body)
                } else {
                    let headers = head.map(|h| h.headers).unwrap_or_default();
                    Err(self.http_error(status, &headers, &body))
                }
            }
            Err(Generated::ResponseBodyError(e)) => {
                let status = self.observer.last().map(|h| h.status);
                Err(self.body_error(e, status))
            }
            Err(Generated::CommunicationError(e) | Generated::InvalidUpgrade(e)) => {
                Err(transport_error(e))
            }
            Err(Generated::InvalidRequest(what)) => Err(Error::configuration(what)),
            Err(Generated::Custom(what)) => Err(Error::new(ErrorKind::InvalidResponse, what)),
        };
        self.finalize(outcome)
    }

    /// Maps a hand-built request's response (a provider without a generated client): a
    /// success body is decoded leniently (RFC 6749's fields), anything else is an error.
    pub(crate) async fn finish_response(
        &self,
        result: reqwest::Result<reqwest::Response>,
    ) -> Result<RawToken, Error> {
        let outcome = match result {
            Ok(response) => {
                let (status, headers) = (response.status(), response.headers().clone());
                match response.bytes().await {
                    Ok(body) if status.is_success() => self.lenient(status, &body),
                    Ok(body) => Err(self.http_error(status, &headers, &body)),
                    Err(e) => Err(self.body_error(e, Some(status))),
                }
            }
            Err(e) => Err(transport_error(e)),
        };
        self.finalize(outcome)
    }

    /// What every outcome gets: the token type scrubbed (`Display` shows it, like any text
    /// from a response) and the error placed at this provider and environment.
    fn finalize(&self, outcome: Result<RawToken, Error>) -> Result<RawToken, Error> {
        let sensitive = self.sensitive;
        // A caller's HTTP client that follows redirects (ours does not): whatever came
        // back is from elsewhere, a token included.
        let outcome = if self.observer.last_redirected() {
            let status = self.observer.last().map(|head| head.status);
            let error = followed_redirect();
            Err(match status {
                Some(status) => error.with_status(status),
                None => error,
            })
        } else {
            outcome
        };
        outcome
            .map(|mut raw| {
                // Bearer as sent (a sensitive string may be an ordinary word, `bearer` too):
                // only another type, shown verbatim, is scrubbed, of the token it came
                // with too (one too short to look like a token, echoed as the type).
                raw.token_type = raw.token_type.map(|t| match TokenType::parse(&t) {
                    TokenType::Bearer => t,
                    TokenType::Other(_) => body::scrub(
                        &body::scrub_known(&t, sensitive, &raw.access_token),
                        sensitive,
                    ),
                });
                // The partners' specs define no scope: one a lenient read found is not
                // kept, so that all of them answer alike. A standard provider's is shown
                // (`Debug`, `Serialize`), so it is scrubbed like any text from a response.
                raw.scope = if self.provider == Provider::Standard {
                    raw.scope
                        .map(|scope| body::scrub_known(&scope, sensitive, &raw.access_token))
                } else {
                    None
                };
                raw
            })
            .map_err(|e| e.at(self.provider, self.environment.clone()))
    }

    /// A typed decode whose schema has only optional fields (Teez's, Alternative Payments',
    /// Cobee's)
    /// succeeds without the lifetime or the type a body spells in another case
    /// (`ExpiresIn`, `TOKEN_TYPE`): the lenient read of the kept body fills in what it
    /// missed, so that no provider loses a lifetime or takes a `MAC` token for a bearer one.
    fn fill_in(&self, mut raw: RawToken) -> RawToken {
        if let Some(body) = self.observer.body()
            && let Ok(lenient) = body::lenient_token(&body)
        {
            raw.expires_in = raw.expires_in.or(lenient.expires_in);
            raw.token_type = raw.token_type.or(lenient.token_type);
        }
        raw
    }

    fn lenient(&self, status: StatusCode, body: &[u8]) -> Result<RawToken, Error> {
        body::lenient_token(body).map_err(|what| {
            // `what` names the body's keys, which come from the response: scrub them too.
            let what = body::scrub(&what, self.sensitive);
            Error::new(
                ErrorKind::InvalidResponse,
                format!("the success response is not a token response: {what}"),
            )
            .with_status(status)
        })
    }

    /// An error status: the kind from the status (and an RFC 6749 code), the provider's
    /// details from the body, the wait from the headers.
    fn http_error(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
        let sensitive = self.sensitive;
        // A UTF-16 body read as UTF-8 has a NUL beside each character: nothing in it would
        // be found, a secret it echoes included.
        let body = &*body::as_utf8(body, sensitive);
        let json = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
        let details = self
            .error_details
            .and_then(|read| read(&json))
            .unwrap_or_else(|| body::details(&json));
        let scrub = |text: Option<String>| text.map(|t| body::scrub(&t, sensitive));
        let only_credential_fields = crate::providers::facts(self.provider)
            .credential_field_errors_refuse
            && !details.fields.is_empty()
            && details.fields.iter().all(|f| is_credential_field(&f.field));
        // Classified on the code as sent (a sensitive string may be an ordinary word, such
        // as `client`); only what is kept for display is scrubbed.
        let (kind, what) = classify(status, details.code.as_deref(), only_credential_fields);
        let code = scrub(details.code);
        let what = match (status.is_redirection(), headers.get("location")) {
            (true, Some(location)) => Cow::Owned(format!(
                "the token endpoint redirected to {}; token requests do not follow redirects",
                redirect_target(location, sensitive)
            )),
            _ => what,
        };
        let fields = details
            .fields
            .into_iter()
            .map(|mut f| {
                f.field = body::scrub(&f.field, sensitive);
                f.message = body::scrub(&f.message, sensitive);
                f.code = scrub(f.code);
                f
            })
            .collect();
        Error::new(kind, what)
            .with_status(status)
            .with_provider_details(code, scrub(details.message), fields)
            .with_retry_after(retry_after::from_headers(
                self.provider,
                status,
                headers,
                SystemTime::now(),
            ))
            .with_body_excerpt(body::excerpt(body, sensitive))
    }

    fn body_error(&self, e: reqwest::Error, status: Option<StatusCode>) -> Error {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        let mut too_large = None;
        while let Some(err) = source {
            if let Some(found) = err.downcast_ref::<ResponseTooLarge>() {
                too_large = Some(*found);
            }
            source = err.source();
        }
        let error = match too_large {
            Some(found) => Error::new(
                ErrorKind::InvalidResponse,
                format!("{found}; refused without reading the rest"),
            ),
            None if e.is_timeout() => Error::new(
                ErrorKind::Timeout,
                "the response body did not arrive within the timeout",
            )
            .with_source(e.without_url()),
            None => Error::new(
                ErrorKind::Connection,
                "the connection broke while reading the response",
            )
            .with_source(e.without_url()),
        };
        match status {
            Some(status) => error.with_status(status),
            None => error,
        }
    }
}

/// Where a redirect points, for an error message: scheme, host, port and path only (a
/// query or fragment can carry a secret or a token), scrubbed like any response text.
fn redirect_target(location: &reqwest::header::HeaderValue, sensitive: &Sensitive) -> String {
    let Some(url) = location
        .to_str()
        .ok()
        .and_then(|l| reqwest::Url::parse(l).ok())
    else {
        return "another URL".to_owned();
    };
    // The parser writes a host in lowercase, and a path's escapes its own way (`<` as
    // `%3C`, `:`, `!` and `@` kept): a secret the server put there as sent would be in
    // neither form. A host that holds one in any case is not shown; a path that holds one
    // once decoded is shown decoded, and scrubbed.
    let host = url.host_str().unwrap_or("");
    let host = if sensitive.occurs_ignoring_ascii_case(host) {
        "[REDACTED]"
    } else {
        host
    };
    let mut shown = format!("{}://{host}", url.scheme());
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    let decoded = percent_encoding::percent_decode_str(url.path()).decode_utf8_lossy();
    if body::scrub(&decoded, sensitive) == decoded {
        shown.push_str(url.path());
    } else {
        shown.push_str(&body::scrub(&decoded, sensitive));
    }
    if url.query().is_some() || url.fragment().is_some() {
        shown.push_str(" (query and fragment not shown)");
    }
    body::scrub(&shown, sensitive)
}

/// Whether a field the provider complains about is the client id or secret.
fn is_credential_field(field: &str) -> bool {
    let normalized: String = field
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    matches!(normalized.as_str(), "clientid" | "clientsecret")
}

/// The kind of an error status, and what to say happened. A 400 is about the credentials
/// when its RFC 6749 code says so, or when its only field errors are on the client id or
/// secret for a provider that answers wrong credentials that way (Teez).
fn classify(
    status: StatusCode,
    code: Option<&str>,
    only_credential_fields: bool,
) -> (ErrorKind, Cow<'static, str>) {
    let credentials_code =
        only_credential_fields || matches!(code, Some("invalid_client" | "unauthorized_client"));
    match status.as_u16() {
        401 | 403 => (
            ErrorKind::InvalidCredentials,
            "the token endpoint refused the client credentials".into(),
        ),
        400 if credentials_code => (
            ErrorKind::InvalidCredentials,
            "the token endpoint refused the client credentials".into(),
        ),
        408 => (
            ErrorKind::Timeout,
            "the token endpoint timed out waiting for the request".into(),
        ),
        429 => (ErrorKind::RateLimited, "too many token requests".into()),
        500..=599 => (
            ErrorKind::ProviderUnavailable,
            "the token endpoint failed".into(),
        ),
        300..=399 => (
            ErrorKind::InvalidResponse,
            "the token endpoint redirected; token requests do not follow redirects".into(),
        ),
        400..=499 => (
            ErrorKind::InvalidRequest,
            "the token endpoint rejected the request".into(),
        ),
        _ => (
            ErrorKind::InvalidResponse,
            "the token endpoint answered with an unexpected status".into(),
        ),
    }
}

/// A request that got no response.
/// A redirect a caller's HTTP client followed (ours follows none): whatever came of it is
/// not the token endpoint's answer.
fn followed_redirect() -> Error {
    Error::new(
        ErrorKind::InvalidResponse,
        "the token endpoint redirected and the HTTP client followed; token requests do not \
         follow redirects",
    )
    .with_hint(
        "build the reqwest::Client given to ClientBuilder::http_client with \
         redirect::Policy::none()",
    )
}

/// Whether the system, not a timer of reqwest's, timed the connection out: an OS error
/// (`ETIMEDOUT`) among the causes.
fn system_timed_out(e: &reqwest::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = cause {
        let timed_out = |io: &std::io::Error| {
            io.kind() == std::io::ErrorKind::TimedOut && io.raw_os_error().is_some()
        };
        if error
            .downcast_ref::<std::io::Error>()
            .is_some_and(timed_out)
        {
            return true;
        }
        cause = error.source();
    }
    false
}

pub(crate) fn transport_error(e: reqwest::Error) -> Error {
    // A caller's HTTP client that follows redirects (ours does not) failed on the way: too
    // many of them, or one to a scheme it cannot take (a URL this crate never sends to).
    let followed_a_redirect = e.is_redirect()
        || (e.is_builder()
            && e.url()
                .is_some_and(|u| !matches!(u.scheme(), "http" | "https")));
    if followed_a_redirect {
        return followed_redirect().with_source(e.without_url());
    }
    // The system's own give-up on a connection (Linux: its SYN retries, about 2 min): no
    // timeout of this crate's, so raising one changes nothing (found by review: under a
    // longer timeout it was "within the connect timeout", and `partner-token` said "raise
    // --timeout").
    if e.is_connect() && system_timed_out(&e) {
        return Error::new(
            ErrorKind::Connection,
            "could not connect to the token endpoint: the system gave up waiting for an answer",
        )
        .with_hint(
            "check the base URL's host and port and the network path to it (a firewall that \
             drops packets looks like this); retry",
        )
        .with_source(e.without_url());
    }
    // The connect timeout, not the request's: `timeout` would change nothing (found by
    // review: the hint said "raise the timeout").
    if e.is_timeout() && e.is_connect() {
        return Error::new(
            ErrorKind::Timeout,
            "no connection to the token endpoint within the connect timeout",
        )
        .with_hint(
            "check the base URL's host and port and the network path to it (a firewall that \
             drops packets looks like this); retry, or raise ClientBuilder::connect_timeout",
        )
        .with_source(e.without_url());
    }
    let (kind, what) = if e.is_timeout() {
        (ErrorKind::Timeout, "no response within the timeout")
    } else if e.is_connect() {
        (
            ErrorKind::Connection,
            "could not connect to the token endpoint",
        )
    } else if e.is_builder() {
        (ErrorKind::Configuration, "the request could not be built")
    } else {
        (
            ErrorKind::Connection,
            "the request failed before a response arrived",
        )
    };
    Error::new(kind, what).with_source(e.without_url())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::FieldError;

    /// An error format no partner here uses (Apigee's): `{"fault": {"faultstring", "detail":
    /// {"errorcode"}}}`.
    fn fault(body: &Value) -> Option<body::Details> {
        let fault = body.get("fault")?;
        Some(body::Details {
            code: fault
                .pointer("/detail/errorcode")?
                .as_str()
                .map(str::to_owned),
            message: fault["faultstring"].as_str().map(str::to_owned),
            fields: vec![FieldError {
                field: "client_secret".into(),
                message: fault["faultstring"].as_str()?.to_owned(),
                code: None,
            }],
        })
    }

    fn error_for(reader: Option<crate::providers::ErrorReader>, body: &Value) -> Error {
        let environment = Cow::Borrowed("custom");
        let sensitive = Sensitive::new(["s3cr3t-value"]);
        let exchange = Exchange {
            provider: Provider::Standard,
            environment: &environment,
            sensitive: &sensitive,
            observer: ResponseObserver::new(),
            error_details: reader,
        };
        exchange.http_error(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            body.to_string().as_bytes(),
        )
    }

    #[test]
    fn a_providers_own_error_reader_is_used_and_scrubbed_and_falls_back_to_the_common_one() {
        let body = json!({"fault": {
            "faultstring": "client_secret s3cr3t-value is wrong",
            "detail": {"errorcode": "invalid_client"}
        }});
        // Without a reader of its own, no code or message is found in it.
        let generic = error_for(None, &body);
        assert_eq!(generic.code(), None);
        let own = error_for(Some(fault), &body);
        assert_eq!(own.code(), Some("invalid_client"));
        // Classified on the code it read, and its texts scrubbed like any response text.
        assert_eq!(own.kind(), ErrorKind::InvalidCredentials);
        assert_eq!(own.message(), Some("client_secret [REDACTED] is wrong"));
        assert_eq!(
            own.field_errors()[0].message,
            "client_secret [REDACTED] is wrong"
        );
        assert!(!format!("{own} {own:?}").contains("s3cr3t-value"));
        // A body not in its format: the common reader's turn (RFC 6749 here).
        let rfc = error_for(
            Some(fault),
            &json!({"error": "invalid_scope", "error_description": "no such scope"}),
        );
        assert_eq!(rfc.code(), Some("invalid_scope"));
        assert_eq!(rfc.message(), Some("no such scope"));
    }
}
