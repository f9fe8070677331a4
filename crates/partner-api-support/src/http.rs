//! Fallible construction of the HTTP client and base URL.

use std::time::Duration;

/// Connect and total timeout of a client built by [`http_client`] (15 s, progenitor's default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a generated client could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientBuildError {
    /// The base URL does not parse, or is not `http` or `https`.
    #[error(
        "invalid base URL {url:?}: {reason}; give an absolute http(s) URL such as https://api.example.com/v1"
    )]
    InvalidBaseUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be created (for example the TLS backend failed to load).
    #[error("could not create the HTTP client: {0}")]
    Http(#[source] reqwest::Error),
}

/// Checks that `base_url` is an absolute `http` or `https` URL and returns it parsed.
pub fn parse_base_url(base_url: &str) -> Result<reqwest::Url, ClientBuildError> {
    let invalid = |reason: String| ClientBuildError::InvalidBaseUrl {
        url: base_url.to_owned(),
        reason,
    };
    let url = reqwest::Url::parse(base_url).map_err(|e| invalid(e.to_string()))?;
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(invalid(format!("unsupported scheme `{other}`"))),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host".to_owned()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a base URL takes no query or fragment".to_owned()));
    }
    Ok(url)
}

/// Builds the `reqwest` client a generated crate uses by default: rustls, connect and total
/// timeouts of `timeout`, and no redirects (a redirected token request could carry the
/// client secret to another host).
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, ClientBuildError> {
    reqwest::Client::builder()
        .connect_timeout(timeout)
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(ClientBuildError::Http)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_absolute_http_urls_with_a_path() {
        let url = parse_base_url("https://partners-api.cobee.io/api/v3").unwrap();
        assert_eq!(url.path(), "/api/v3");
        parse_base_url("http://127.0.0.1:8080").unwrap();
    }

    #[test]
    fn rejects_what_cannot_be_a_base_url() {
        for bad in [
            "",
            "not a url",
            "/relative/path",
            "ftp://example.invalid",
            "https://example.invalid/?q=1",
            "https://example.invalid/#frag",
        ] {
            let err = parse_base_url(bad).unwrap_err();
            assert!(
                matches!(err, ClientBuildError::InvalidBaseUrl { .. }),
                "{bad}: {err}"
            );
        }
    }
}
