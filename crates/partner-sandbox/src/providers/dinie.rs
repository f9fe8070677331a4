//! Dinie (`specs/dinie.yaml`): HTTP Basic and a form body `grant_type=client_credentials`
//! under `/api/v3`; RFC 9457 problem+json errors; 429 with `X-RateLimit-*` (reset as Unix
//! time); `dinie_at_`-prefixed JWT tokens. Its page shows the Basic header as
//! `base64(client_id:client_secret)`: it is read as is, nothing form-decoded.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::{Dialect, Profile};
use crate::reply::Reply;
use crate::request::{TokenRequest, field};
use crate::tokens;

pub(crate) struct Dinie;

const ID: &str = "dinie_ci_demo";
const SECRET: &str = "dinie_cs_live_demo";

const PROFILE: Profile = Profile {
    name: "dinie",
    base_path: "/api/v3",
    token_path: "/auth/token",
    client_id: ID,
    client_secret: SECRET,
    lifetime: Duration::from_secs(3600),
};

fn problem(status: u16, title: &str, code: &str, detail: &str) -> Reply {
    Reply::problem(
        status,
        json!({"type": format!("https://docs.dinie.com.br/errors/{code}"), "title": title,
               "status": status, "detail": detail, "code": code}),
    )
}

impl Dialect for Dinie {
    fn profile(&self) -> &'static Profile {
        &PROFILE
    }

    fn spec(&self) -> &'static str {
        dinie_api::NORMALIZED_SPEC
    }

    fn malformed(&self, status: u16, what: &str) -> Reply {
        let title = http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Bad Request");
        problem(status, title, "invalid_request", what)
    }

    fn check(&self, request: &TokenRequest) -> Result<(), Reply> {
        let Some((id, secret)) = request.basic_as_is() else {
            return Err(problem(
                401,
                "Unauthorized",
                "invalid_credentials",
                "Send client_id and client_secret as HTTP Basic credentials.",
            ));
        };
        let grant = request.form();
        let grant = grant.as_deref().and_then(|f| field(f, "grant_type"));
        if grant != Some("client_credentials") {
            return Err(Reply::problem(
                400,
                json!({
                    "type": "https://docs.dinie.com.br/errors/invalid_request",
                    "title": "Bad Request", "status": 400,
                    "detail": "grant_type must be client_credentials",
                    "code": "invalid_request", "param": "grant_type",
                    "errors": [{"param": "grant_type", "detail": "must be client_credentials", "code": "invalid_value"}]
                }),
            ));
        }
        if (id.as_str(), secret.as_str()) != (ID, SECRET) {
            return Err(problem(
                401,
                "Unauthorized",
                "invalid_credentials",
                "The client credentials are not valid.",
            ));
        }
        Ok(())
    }

    fn mint(&self, lifetime: Duration) -> String {
        let (iat, exp) = tokens::issued_and_expiry(lifetime);
        format!(
            "dinie_at_{}",
            tokens::jwt("HS256", &json!({"iat": iat, "exp": exp, "sub": ID}))
        )
    }

    fn issued(&self, token: &str, lifetime: Duration) -> Reply {
        Reply::json(
            200,
            json!({"access_token": token, "token_type": "bearer", "expires_in": lifetime.as_secs()}),
        )
    }

    fn rate_limited(&self, wait: Duration, limit: u32) -> Reply {
        let reset = (SystemTime::now() + wait)
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            + 1;
        problem(
            429,
            "Too Many Requests",
            "rate_limit_exceeded",
            "Rate limit exceeded.",
        )
        .header("X-RateLimit-Limit", limit)
        .header("X-RateLimit-Remaining", 0)
        .header("X-RateLimit-Reset", reset)
    }

    fn failure(&self) -> Reply {
        problem(
            500,
            "Internal Server Error",
            "internal_error",
            "Something went wrong.",
        )
    }
}
