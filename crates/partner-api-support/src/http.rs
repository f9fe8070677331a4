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
        /// The URL as far as it can be shown: scheme, host, port and path, never a user
        /// name, password, query or fragment (they may carry secrets); `(not a URL)` when it
        /// does not parse, and `(not an http or https URL)` for another scheme (which may be
        /// a user name before a password).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A plain `http://` base URL whose host is not loopback: every operation of a
    /// generated client sends credentials (Basic, or a secret in the body), which would
    /// travel in clear. [`http_client`] refuses it; a caller who means it can still give a
    /// generated crate's `Client::with_http_client` a `reqwest::Client` of their own.
    #[error(
        "refusing plain http to {url}: credentials would travel in clear; use https (plain http is for loopback only)"
    )]
    InsecureBaseUrl {
        /// The URL shown as for [`InvalidBaseUrl`](Self::InvalidBaseUrl).
        url: String,
    },
    /// The HTTP client could not be created (for example the TLS backend failed to load).
    #[error("could not create the HTTP client: {0}")]
    Http(#[source] reqwest::Error),
}

/// Checks that `base_url` is an absolute `http` or `https` URL and returns it parsed.
pub fn parse_base_url(base_url: &str) -> Result<reqwest::Url, ClientBuildError> {
    let url = reqwest::Url::parse(base_url).map_err(|e| ClientBuildError::InvalidBaseUrl {
        url: "(not a URL)".to_owned(),
        reason: e.to_string(),
    })?;
    let invalid = |reason: &str| ClientBuildError::InvalidBaseUrl {
        url: shown(&url),
        reason: reason.to_owned(),
    };
    if !matches!(url.scheme(), "http" | "https") {
        // Neither the URL nor its scheme is shown: `user:password@host` parses as the
        // scheme `user` with the password in its path.
        return Err(ClientBuildError::InvalidBaseUrl {
            url: "(not an http or https URL)".to_owned(),
            reason: "only http and https are supported".to_owned(),
        });
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "a base URL takes no user name or password (credentials go in the client's \
             configuration, never in a URL)",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a base URL takes no query or fragment"));
    }
    Ok(url)
}

/// `url` without user name, password, query or fragment.
fn shown(url: &reqwest::Url) -> String {
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    shown.push_str(url.path());
    shown
}

/// Builds the `reqwest` client a generated crate uses by default for `base_url`: the TLS
/// backend of the crate's features, connect and total timeouts of `timeout`, no redirects
/// (a redirected token request could carry the client secret to another host), and, for a
/// loopback URL, no proxy: a proxy named in the environment would see the credentials in
/// the clear over `http://`, or take a loopback URL to its own machine.
///
/// A plain `http://` URL to a host that is not loopback ([`is_loopback`]) is refused with
/// [`ClientBuildError::InsecureBaseUrl`]: the credentials every generated operation sends
/// would cross the network in clear.
pub fn http_client(
    base_url: &reqwest::Url,
    timeout: Duration,
) -> Result<reqwest::Client, ClientBuildError> {
    let mut http = reqwest::Client::builder();
    if base_url.scheme() == "http" && !is_loopback(base_url) {
        return Err(ClientBuildError::InsecureBaseUrl {
            url: shown(base_url),
        });
    }
    if base_url.scheme() == "http" || is_loopback(base_url) {
        http = http.no_proxy();
    }
    http.connect_timeout(timeout)
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(ClientBuildError::Http)
}

/// Whether the URL's host is a loopback address (or `localhost`), judged from the URL
/// alone: no DNS lookup.
pub fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => {
            // Only the name itself: a resolver may send `*.localhost` to DNS.
            domain.eq_ignore_ascii_case("localhost")
        }
        Some(url::Host::Ipv4(ip)) => std::net::IpAddr::V4(ip).is_loopback(),
        // `::1`, and an IPv4 loopback address mapped into IPv6 (`::ffff:127.0.0.1`).
        Some(url::Host::Ipv6(ip)) => ip
            .to_ipv4_mapped()
            .map_or(ip.is_loopback(), |v4| v4.is_loopback()),
        None => false,
    }
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
    fn the_default_client_takes_plain_http_to_loopback_only() {
        let client = |url: &str| http_client(&parse_base_url(url).unwrap(), DEFAULT_TIMEOUT);
        for url in [
            "http://127.0.0.1:8080",
            "http://localhost",
            "http://[::1]:1",
        ] {
            client(url).unwrap();
        }
        for url in [
            "http://example.invalid/v1",
            "http://10.1.2.3",
            "http://localhost.invalid",
        ] {
            let err = client(url).unwrap_err();
            assert!(
                matches!(err, ClientBuildError::InsecureBaseUrl { .. }),
                "{url}: {err}"
            );
        }
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
            "https://user:pass@example.invalid/v1",
            "https://user@example.invalid/v1",
        ] {
            let err = parse_base_url(bad).unwrap_err();
            assert!(
                matches!(err, ClientBuildError::InvalidBaseUrl { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn a_refused_base_url_is_shown_without_what_may_be_secret() {
        for bad in [
            "https://user:pa55-SECRET@example.invalid/v1",
            "https://example.invalid/v1?api_key=k3y-SECRET",
            "https://example.invalid/v1#access_token=t0k-SECRET",
            "ftp://example.invalid/SECRET-free?x=k3y-SECRET",
            "not a url k3y-SECRET",
            // No `//`: the scheme is a user name and the "path" holds the password.
            "alice-SECRET:pa55-SECRET@127.0.0.1:1",
            "mailto:pa55-SECRET@example.invalid",
        ] {
            let shown = parse_base_url(bad).unwrap_err().to_string();
            assert!(!shown.contains("-SECRET"), "{shown}");
        }
        let shown = parse_base_url("https://example.invalid:8443/v1?k=v").unwrap_err();
        assert!(
            shown
                .to_string()
                .contains("https://example.invalid:8443/v1"),
            "{shown}"
        );
    }
}
