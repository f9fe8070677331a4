//! A standard RFC 6749 §4.4 token endpoint (`Provider::Standard`): form body with
//! `grant_type=client_credentials`; the client authenticated by HTTP Basic (§2.3.1, id and
//! secret form-urlencoded) or by `client_id`/`client_secret` in the body, never both
//! (§2.3); `{access_token, token_type, expires_in}` with `Cache-Control: no-store` (§5.1);
//! errors as §5.2 (`invalid_request` for a missing or repeated parameter, `invalid_client`
//! with 401 and `WWW-Authenticate`, `unsupported_grant_type`); 429 with `Retry-After`
//! above the rate limit.

use std::time::Duration;

use serde_json::json;

use super::{Dialect, Profile};
use crate::reply::Reply;
use crate::request::{TokenRequest, field};

pub(crate) struct Standard;

/// RFC 6749 §4.4 as an OpenAPI document, since a standard endpoint publishes none: the
/// client by Basic (§2.3.1) or in the body (either is allowed, so the security requirement
/// lists "none" as an alternative); `grant_type=client_credentials`, optional `scope`;
/// extension parameters allowed (§8.2).
const STANDARD_SPEC: &str = include_str!("standard.openapi.json");

const ID: &str = "std_demo_client";
const SECRET: &str = "std_demo_secret";

const PROFILE: Profile = Profile {
    name: "standard",
    base_path: "",
    token_path: "/oauth/token",
    client_id: ID,
    client_secret: SECRET,
    lifetime: Duration::from_secs(3600),
};

fn error(status: u16, code: &str, description: &str) -> Reply {
    Reply::json(
        status,
        json!({"error": code, "error_description": description}),
    )
}

fn invalid_client(description: &str) -> Reply {
    error(401, "invalid_client", description).header("www-authenticate", "Basic realm=\"sandbox\"")
}

impl Dialect for Standard {
    fn profile(&self) -> &'static Profile {
        &PROFILE
    }

    fn spec(&self) -> &'static str {
        STANDARD_SPEC
    }

    fn malformed(&self, status: u16, what: &str) -> Reply {
        error(status, "invalid_request", what)
    }

    fn check(&self, request: &TokenRequest) -> Result<(), Reply> {
        let form = request
            .form()
            .ok_or_else(|| error(400, "invalid_request", "expected a form-urlencoded body"))?;
        // §5.2: a missing or repeated parameter is `invalid_request` (§3.2: none may be
        // sent twice; found by review, a repeated `client_secret` or `client_id` was read
        // as no or failed client authentication, 401); a grant type other than this one is
        // `unsupported_grant_type`.
        if !form.iter().any(|(name, _)| name == "grant_type") {
            return Err(error(400, "invalid_request", "grant_type is missing"));
        }
        // RFC 6749's own parameters; an extension's may repeat by its own rules (RFC 8707's
        // `resource`).
        for name in ["grant_type", "client_id", "client_secret", "scope"] {
            if form.iter().filter(|(sent, _)| sent == name).count() > 1 {
                return Err(error(
                    400,
                    "invalid_request",
                    &format!("{name} is repeated"),
                ));
            }
        }
        if field(&form, "grant_type") != Some("client_credentials") {
            return Err(error(
                400,
                "unsupported_grant_type",
                "grant_type must be client_credentials",
            ));
        }
        let in_body = field(&form, "client_secret").map(|secret| {
            (
                field(&form, "client_id").unwrap_or_default().to_owned(),
                secret.to_owned(),
            )
        });
        let (id, secret) = match (request.basic_form_urlencoded(), in_body) {
            (Some(_), Some(_)) => {
                return Err(error(
                    400,
                    "invalid_request",
                    "more than one client authentication method",
                ));
            }
            (Some(basic), None) | (None, Some(basic)) => basic,
            (None, None) => return Err(invalid_client("client authentication required")),
        };
        if (id.as_str(), secret.as_str()) != (ID, SECRET) {
            return Err(invalid_client("client authentication failed"));
        }
        Ok(())
    }

    fn issued(&self, token: &str, lifetime: Duration) -> Reply {
        Reply::json(
            200,
            json!({"access_token": token, "token_type": "Bearer", "expires_in": lifetime.as_secs()}),
        )
        .header("cache-control", "no-store")
        .header("pragma", "no-cache")
    }

    fn rate_limited(&self, wait: Duration, _limit: u32) -> Reply {
        // RFC 6749 defines no code for this; the status and Retry-After say it.
        error(429, "too_many_requests", "too many token requests")
            .header("retry-after", wait.as_secs().max(1))
    }

    fn failure(&self) -> Reply {
        error(503, "temporarily_unavailable", "try again later")
    }
}
