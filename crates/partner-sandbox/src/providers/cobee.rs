//! Cobee (`specs/cobee.yaml`): JSON `{clientId, clientSecret}` under `/api/v3`, no
//! `Authorization` header; 400 `{code, message}`, 401 `{message}`; 429 with its
//! `x-ratelimit-*` and `retry-after` headers; RS256-shaped JWT tokens with `exp`.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Dialect, Profile};
use crate::reply::{Reply, whole_seconds};
use crate::request::TokenRequest;
use crate::tokens;

pub(crate) struct Cobee;

const ID: &str = "cobee-demo-client";
const SECRET: &str = "cobee-demo-secret";

const PROFILE: Profile = Profile {
    name: "cobee",
    base_path: "/api/v3",
    token_path: "/oauth/token",
    client_id: ID,
    client_secret: SECRET,
    lifetime: Duration::from_secs(86400),
};

fn validation(message: &str) -> Reply {
    Reply::json(400, json!({"code": "validation_error", "message": message}))
}

impl Dialect for Cobee {
    fn profile(&self) -> &'static Profile {
        &PROFILE
    }

    fn spec(&self) -> &'static str {
        cobee_api::NORMALIZED_SPEC
    }

    fn malformed(&self, status: u16, what: &str) -> Reply {
        Reply::json(status, json!({"code": "validation_error", "message": what}))
    }

    fn check(&self, request: &TokenRequest) -> Result<(), Reply> {
        if request.authorization.is_some() {
            return Err(validation(
                "headers: authorization is not accepted on /oauth/token",
            ));
        }
        let body = request
            .json()
            .ok_or_else(|| validation("body: must be a JSON object"))?;
        let text = |key: &str| body.get(key).and_then(Value::as_str);
        for key in ["clientId", "clientSecret"] {
            if text(key).is_none() {
                return Err(validation(&format!(
                    "body: must have required property '{key}'"
                )));
            }
        }
        if (text("clientId"), text("clientSecret")) != (Some(ID), Some(SECRET)) {
            return Err(Reply::json(401, json!({"message": "Unauthorized"})));
        }
        Ok(())
    }

    fn mint(&self, lifetime: Duration) -> String {
        let (iat, exp) = tokens::issued_and_expiry(lifetime);
        tokens::jwt(
            "RS256",
            &json!({
                "iat": iat, "exp": exp, "sub": ID,
                "https://auth.cobee.io/metadata": {"companyId": tokens::hex(8)}
            }),
        )
    }

    fn issued(&self, token: &str, lifetime: Duration) -> Reply {
        Reply::json(
            200,
            json!({"accessToken": token, "tokenType": "Bearer", "expiresIn": lifetime.as_secs()}),
        )
    }

    fn rate_limited(&self, wait: Duration, limit: u32) -> Reply {
        let seconds = whole_seconds(wait);
        Reply::json(
            429,
            json!({"error": "Too Many Requests",
                   "error_description": format!("Rate limit exceeded, retry in {seconds} seconds")}),
        )
        .header("x-ratelimit-limit", limit)
        .header("x-ratelimit-remaining", 0)
        .header("x-ratelimit-reset", seconds)
        .header("retry-after", seconds)
    }

    fn failure(&self) -> Reply {
        Reply::json(500, json!({"message": "Internal Server Error"}))
    }
}
