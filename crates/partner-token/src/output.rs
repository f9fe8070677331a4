//! How tokens and errors are shown: the masked summary, the `--json` objects and their
//! JSON Schemas, and the error report with its cause chain.
//!
//! The JSON types are this CLI's own, built from `AccessToken`'s and `Error`'s getters:
//! the token is printed only because `fetch --json` asks for it, not because the library
//! serializes it.

use std::error::Error as _;
use std::time::{Duration, SystemTime};

use partner_api_support::one_line;
use partner_auth::{AccessToken, Error, ErrorKind};

use crate::args::ProviderName;
use crate::exit;

/// `$id` of the schema of `fetch --json` output.
pub const TOKEN_SCHEMA_ID: &str = "urn:partner-token:fetch-json:v1";
/// `$id` of the schema of `--json` errors.
pub const ERROR_SCHEMA_ID: &str = "urn:partner-token:error-json:v1";

/// The first characters of a token and its length: enough to tell tokens apart, not to
/// use one. At most 8 characters and a quarter of the token; none of one under 16. A
/// control or bidirectional character among them is shown escaped (a token may hold any
/// byte from 0x80 up: a C1 control, U+202E).
pub fn mask(token: &str) -> String {
    let length = token.chars().count();
    let shown = if length < 16 { 0 } else { (length / 4).min(8) };
    let shown: String = token.chars().take(shown).collect();
    format!("{}… ({length} chars)", one_line(&shown))
}

/// The default `fetch` output: a short summary with the token masked. The provider's words
/// (the token type, the scope) are shown escaped, as in an error report: a newline cannot
/// forge a line, nor an escape sequence reach the terminal (found by review: the token type
/// was printed raw).
pub fn summary(token: &AccessToken) -> String {
    let expires = token.expires_at();
    let left = expires
        .duration_since(SystemTime::now())
        .map(|d| format!("{} s", d.as_secs()))
        .unwrap_or_else(|_| "expired".into());
    let reported = match token.lifetime() {
        Some(lifetime) => format!("{} s", lifetime.as_secs()),
        None => "not reported (default applied)".into(),
    };
    let scope = token
        .scope()
        .map(|scope| format!("scope:       {}\n", scope.escape_debug()))
        .unwrap_or_default();
    format!(
        "provider:    {} ({})\ntoken type:  {}\ntoken:       {}  (--json or --header prints it)\nlifetime:    {reported}\nexpires in:  {left} (at {})\n{scope}",
        token.provider(),
        token.environment(),
        one_line(&token.token_type().to_string()),
        mask(token.expose_secret()),
        humantime::format_rfc3339_seconds(expires),
    )
}

/// One token, as `partner-token fetch --json` prints it (the token itself included).
#[derive(serde::Serialize, schemars::JsonSchema)]
#[schemars(
    title = "partner-token fetch --json",
    deny_unknown_fields,
    extend("$id" = TOKEN_SCHEMA_ID)
)]
pub struct TokenJson {
    /// Provider that issued the token.
    provider: ProviderName,
    /// Environment that issued it (`custom` for a base URL).
    environment: String,
    /// The access token.
    access_token: String,
    /// `Bearer`, or another type verbatim.
    token_type: String,
    /// Lifetime in seconds the provider reported; null when it reported none usable.
    expires_in: Option<u64>,
    /// When the request was sent (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    issued_at: String,
    /// When the token expires after the lifetime policy (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    expires_at: String,
    /// The scope granted (--provider standard); null when there is none.
    scope: Option<String>,
}

impl TokenJson {
    /// The JSON form of `token`; `None` for a provider this CLI does not know.
    pub fn new(token: &AccessToken) -> Option<Self> {
        Some(TokenJson {
            provider: ProviderName::of(token.provider())?,
            environment: token.environment().to_owned(),
            access_token: token.expose_secret().to_owned(),
            token_type: token.token_type().to_string(),
            expires_in: token.lifetime().map(|d| d.as_secs()),
            issued_at: humantime::format_rfc3339_seconds(token.issued_at()).to_string(),
            expires_at: humantime::format_rfc3339_seconds(token.expires_at()).to_string(),
            scope: token.scope().map(str::to_owned),
        })
    }
}

/// Whether `url` has a user name or password before its host, read as text (so also
/// where the `url` crate cannot parse it: a port out of range, no scheme), as the URL
/// standard reads it: after the scheme, any run of `/` and `\`, then the host part up to
/// the next `/`, `\`, `?` or `#`.
pub fn has_userinfo(url: &str) -> bool {
    // As the URL standard reads it: leading and trailing C0 controls and spaces stripped,
    // tabs and newlines removed anywhere (found by review: ` http://user:pw@…` passed).
    let url: String = url
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let url = url.as_str();
    let scheme_length = url
        .find(':')
        .filter(|&at| {
            let scheme = &url[..at];
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        })
        .map_or(0, |at| at + 1);
    let rest = url[scheme_length..].trim_start_matches(['/', '\\']);
    let authority = rest.split(['/', '\\', '?', '#']).next().unwrap_or(rest);
    authority.contains('@')
}

/// `url` as a report or log shows it: a query or fragment, which may hold a key, is left
/// out (`?…` says there was one); a value that is no URL and has no `scheme://` (a secret
/// pasted a word too early: `--base-url s3cret`; found by review) is not shown at all.
pub fn shown_url(url: &str) -> String {
    let trimmed = url.trim_start();
    let scheme = trimmed.find("://").is_some_and(|at| {
        at > 0
            && trimmed[..at]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    });
    if !scheme && url::Url::parse(url).is_err() {
        return "(not a URL; not shown, as it may be a secret)".to_owned();
    }
    match url.find(['?', '#']) {
        Some(at) => format!("{}?…", &url[..at]),
        None => url.to_owned(),
    }
}

/// What the error report knows beyond the error itself.
#[derive(Default)]
pub struct Context {
    /// The base URL the request went (or would have gone) to; never carries credentials
    /// ([`has_userinfo`] refuses them), and a report shows no query nor a secret in it.
    pub url: Option<String>,
    /// The total timeout in force.
    pub timeout: Option<Duration>,
    /// Strings that must never be printed (the client secret), replaced if they appear.
    pub secrets: Vec<String>,
}

impl Context {
    /// `text` with every secret replaced.
    pub fn scrub(&self, text: &str) -> String {
        self.secrets
            .iter()
            .filter(|s| s.len() >= 4)
            .fold(text.to_owned(), |text, secret| {
                text.replace(secret.as_str(), "[REDACTED]")
            })
    }
}

/// A failure, as the CLI reports it: a few lines on stderr, or with `--json` one JSON
/// object carrying the library error's fields.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[schemars(title = "partner-token error (--json)", extend("$id" = ERROR_SCHEMA_ID))]
pub struct Report {
    /// What happened, in one line, without the hint.
    error: String,
    /// The error's kind, as the library names it in logs and metrics
    /// (`invalid_credentials`, `connection`, …; `ErrorKind::as_str`), or `output` when
    /// standard output could not be written.
    kind: String,
    /// The process's exit code.
    exit_code: u8,
    /// The provider the request was for.
    provider: Option<ProviderName>,
    /// The environment (`custom` for a base URL).
    environment: Option<String>,
    /// The base URL the request went to, or would have.
    url: Option<String>,
    /// The HTTP status of the provider's response.
    status: Option<u16>,
    /// The provider's own error code.
    code: Option<String>,
    /// The provider's own error message.
    message: Option<String>,
    /// Per-field errors the provider reported.
    field_errors: Vec<FieldErrorJson>,
    /// How long the provider asked to wait, in milliseconds.
    retry_after_ms: Option<u64>,
    /// A short excerpt of the response body, secrets removed.
    body_excerpt: Option<String>,
    /// What to do next, for a user of this command.
    hint: String,
    /// The chain of underlying causes, outermost first (`tcp connect error: …`).
    causes: Vec<String>,
    /// What went wrong on the way without failing the run by itself (a token cache that
    /// could not be used, …), in order.
    warnings: Vec<String>,
}

/// One field the provider reported as invalid.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct FieldErrorJson {
    field: String,
    message: String,
    code: Option<String>,
}

impl Report {
    /// The report of a library error.
    pub fn from_error(error: &Error, context: &Context) -> Self {
        let headline = error.headline();
        let library_hint = error.hint();
        let mut causes: Vec<String> = Vec::new();
        let mut source = error.source();
        while let Some(cause) = source {
            let text = one_line(&context.scrub(&cause.to_string())).into_owned();
            if causes.last() != Some(&text) {
                causes.push(text);
            }
            source = cause.source();
        }
        // Text from the provider goes in as one line with its control characters escaped:
        // a newline in its message cannot forge a `hint:` line, nor an escape sequence
        // reach the terminal.
        let clean = |text: &str| one_line(&context.scrub(text)).into_owned();
        Report {
            error: clean(&headline),
            kind: error.kind().as_str().to_owned(),
            exit_code: exit::for_kind(error.kind()),
            provider: error.provider().and_then(ProviderName::of),
            environment: error.environment().map(str::to_owned),
            url: context.url.as_deref().map(|url| clean(&shown_url(url))),
            status: error.status().map(|s| s.as_u16()),
            code: error.code().map(clean),
            message: error.message().map(clean),
            field_errors: error
                .field_errors()
                .iter()
                .map(|f| FieldErrorJson {
                    field: clean(&f.field),
                    message: clean(&f.message),
                    code: f.code.as_deref().map(clean),
                })
                .collect(),
            retry_after_ms: error
                .retry_after()
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            body_excerpt: error.body_excerpt().map(clean),
            hint: clean(&hint(error, &library_hint, context)),
            causes,
            warnings: Vec::new(),
        }
    }

    /// A failure of the CLI itself (no secret given, stdin unreadable), of `kind`.
    pub fn new(kind: ErrorKind, error: impl Into<String>, hint: impl Into<String>) -> Self {
        Report {
            error: error.into(),
            kind: kind.as_str().to_owned(),
            exit_code: exit::for_kind(kind),
            provider: None,
            environment: None,
            url: None,
            status: None,
            code: None,
            message: None,
            field_errors: Vec::new(),
            retry_after_ms: None,
            body_excerpt: None,
            hint: hint.into(),
            causes: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Standard output could not be written (kind `output`, exit code 8).
    pub fn output_failure(error: &std::io::Error) -> Self {
        Report {
            kind: "output".into(),
            exit_code: exit::OUTPUT,
            causes: vec![error.to_string()],
            ..Report::new(
                ErrorKind::Internal,
                "could not write to standard output",
                "check where standard output goes (a full disk, say)",
            )
        }
    }

    /// The report of a failure after `token` came: its provider, environment and the URL.
    pub fn of(mut self, token: &AccessToken, context: &Context) -> Self {
        self.provider = ProviderName::of(token.provider());
        self.environment = Some(token.environment().to_owned());
        self.url = context
            .url
            .as_deref()
            .map(|url| one_line(&context.scrub(&shown_url(url))).into_owned());
        self
    }

    /// The report with the run's `warnings`, shown before the error.
    pub fn with_warnings(mut self, warnings: Vec<String>) -> Self {
        self.warnings = warnings;
        self
    }

    /// The exit code that goes with it.
    pub fn exit_code(&self) -> u8 {
        self.exit_code
    }

    /// A few lines for stderr: what happened, where, the root cause (every cause with
    /// `-v`), and what to do.
    pub fn text(&self, verbose: u8) -> String {
        let mut out = warning_lines(&self.warnings);
        out.push_str(&format!("error: {}\n", self.error));
        if let Some(url) = &self.url {
            out.push_str(&format!("  url:       {url}\n"));
        }
        for field in &self.field_errors {
            out.push_str(&format!("  field {}: {}\n", field.field, field.message));
        }
        if let Some(excerpt) = &self.body_excerpt {
            out.push_str(&format!("  response:  {excerpt}\n"));
        }
        if verbose == 0 {
            if let Some(root) = self.causes.last() {
                out.push_str(&format!("  cause:     {root}\n"));
            }
        } else {
            for cause in &self.causes {
                out.push_str(&format!("  caused by: {cause}\n"));
            }
        }
        out.push_str(&format!("  hint:      {}\n", self.hint));
        out
    }

    /// One line of JSON.
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(
                r#"{{"error":"could not write the error as JSON: {e}","exit_code":{}}}"#,
                self.exit_code
            )
        })
    }
}

/// A run's warnings after a success: with `--json` one JSON object on stderr,
/// `{"warnings": ["…"]}`, so that stderr stays one JSON object; else `warning: …` lines.
/// Nothing without warnings.
pub fn warnings(warnings: &[String], json: bool) -> String {
    if warnings.is_empty() {
        String::new()
    } else if json {
        format!("{}\n", serde_json::json!({ "warnings": warnings }))
    } else {
        warning_lines(warnings)
    }
}

fn warning_lines(warnings: &[String]) -> String {
    warnings.iter().map(|w| format!("warning: {w}\n")).collect()
}

/// What to do next, in terms of this command's flags where the library's hint speaks of
/// its own API.
fn hint(error: &Error, library_hint: &str, context: &Context) -> String {
    match error.kind() {
        ErrorKind::InsecureTransport => "use an https:// base URL; plain http is only for a \
            loopback address (127.0.0.1, [::1], localhost), such as `partner-token sandbox`"
            .into(),
        ErrorKind::Timeout => match context.timeout {
            // A 408: the provider's own timeout, which the library's hint speaks of. (A
            // 200 whose body did not arrive in time is this run's.)
            _ if error.status().is_some_and(|s| s.as_u16() == 408) => library_hint.to_owned(),
            Some(timeout) => format!(
                "no answer within {}; retry, or raise --timeout",
                humantime::format_duration(timeout)
            ),
            None => "retry, or raise --timeout".into(),
        },
        ErrorKind::Configuration => {
            "check the flags and PARTNER_* variables (partner-token fetch --help)".into()
        }
        _ => library_hint.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{has_userinfo, mask};

    #[test]
    fn user_info_is_found_where_the_url_standard_reads_it() {
        for url in [
            "http://user:pw@127.0.0.1:1/token",
            "http://user:pw@127.0.0.1:99999/token",
            "http:///user:pw@host/token",
            "http:/\\user:pw@host",
            "https:\\\\user@host",
            "user:pw@127.0.0.1:1",
            "//user@host/token",
            "http://@host",
        ] {
            assert!(has_userinfo(url), "{url}");
        }
        for url in [
            "http://127.0.0.1:1/token",
            "https://api.example.invalid/v1/@me/token",
            "http://127.0.0.1:9\\path@x",
            "https://host/token?login=a@b",
            "https://host/token#a@b",
            "127.0.0.1:6379",
        ] {
            assert!(!has_userinfo(url), "{url}");
        }
        for url in [
            " http://user:pw@127.0.0.1:99999/token",
            "\thttp://user:pw@host",
            "ht\ttp://user:pw@host",
            "http\n://user:pw@host",
            "\u{1}http://user:pw@host",
        ] {
            assert!(has_userinfo(url), "{url:?}");
        }
    }

    #[test]
    fn a_mask_shows_at_most_a_quarter_of_a_token_and_nothing_of_a_short_one() {
        assert_eq!(mask("Tk7q2Zp9abcd"), "… (12 chars)");
        assert_eq!(mask(&"a".repeat(16)), "aaaa… (16 chars)");
        assert_eq!(mask(&"b".repeat(40)), "bbbbbbbb… (40 chars)");
        for length in 0..100 {
            let token: String = "x".repeat(length);
            let shown = mask(&token).chars().take_while(|&c| c == 'x').count();
            assert!(shown * 4 <= length && shown <= 8, "{length}: {shown}");
        }
    }
}
