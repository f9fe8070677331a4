//! How tokens and errors are shown.

use std::time::SystemTime;

use partner_auth::{AccessToken, Error};

/// The first characters of a token and its length: enough to tell tokens apart, not to
/// use one.
pub fn mask(token: &str) -> String {
    let shown: String = token.chars().take(8).collect();
    format!("{shown}… ({} chars)", token.chars().count())
}

/// The default `fetch` output: a short summary with the token masked.
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
    format!(
        "provider:    {} ({})\ntoken type:  {}\ntoken:       {}  (--json or --header prints it)\nlifetime:    {reported}\nexpires in:  {left} (at {})\n",
        token.provider(),
        token.environment(),
        token.token_type(),
        mask(token.expose_secret()),
        humantime::format_rfc3339_seconds(expires),
    )
}

/// An error for stderr: what happened, the provider's details, what to do.
pub fn error(error: &Error) -> String {
    let mut out = format!("error: {error}\n");
    for field in error.field_errors() {
        out.push_str(&format!("  field {}: {}\n", field.field, field.message));
    }
    if let Some(excerpt) = error.body_excerpt() {
        out.push_str(&format!("  response: {excerpt}\n"));
    }
    out
}
