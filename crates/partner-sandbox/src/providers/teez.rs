//! Teez (`specs/teez.yaml`): JSON `{clientId, clientSecret}` with no other field and no
//! `Authorization` header; FastEndpoints errors as `application/problem+json` 400s.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Dialect, Profile};
use crate::reply::{Reply, whole_seconds};
use crate::request::TokenRequest;

pub(crate) struct Teez;

const ID: &str = "teez-demo-client";
const SECRET: &str = "teez-demo-secret-2026";

const PROFILE: Profile = Profile {
    name: "teez",
    base_path: "",
    token_path: "/api/v1/auth/token",
    client_id: ID,
    client_secret: SECRET,
    // Not published; an hour, like the others.
    lifetime: Duration::from_secs(3600),
};

fn fast_endpoints(errors: Value) -> Reply {
    Reply::problem(
        400,
        json!({"statusCode": 400, "message": "One or more errors occurred!", "errors": errors}),
    )
}

impl Dialect for Teez {
    fn profile(&self) -> &'static Profile {
        &PROFILE
    }

    fn spec(&self) -> &'static str {
        teez_api::NORMALIZED_SPEC
    }

    fn malformed(&self, status: u16, what: &str) -> Reply {
        Reply::problem(
            status,
            json!({"statusCode": status, "message": "One or more errors occurred!",
                   "errors": {"serializerErrors": [what]}}),
        )
    }

    fn check(&self, request: &TokenRequest) -> Result<(), Reply> {
        if request.authorization.is_some() {
            return Err(fast_endpoints(
                json!({"authorization": ["The token request takes no Authorization header."]}),
            ));
        }
        let body = request.json().ok_or_else(|| {
            fast_endpoints(json!({"serializerErrors": ["The request body must be a JSON object."]}))
        })?;
        if let Some(extra) = body
            .keys()
            .find(|k| *k != "clientId" && *k != "clientSecret")
        {
            return Err(fast_endpoints(json!({extra: ["Unknown field."]})));
        }
        let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or_default();
        let (id, secret) = (text("clientId"), text("clientSecret"));
        if id.is_empty() {
            return Err(fast_endpoints(
                json!({"clientId": ["'clientId' must not be empty."]}),
            ));
        }
        if secret.chars().count() < 8 || !secret.chars().any(|c| c.is_ascii_digit()) {
            return Err(fast_endpoints(json!({"clientSecret": [
                "'clientSecret' must be at least 8 characters and contain a digit."
            ]})));
        }
        if (id, secret) != (ID, SECRET) {
            return Err(fast_endpoints(
                json!({"clientSecret": ["Invalid client credentials."]}),
            ));
        }
        Ok(())
    }

    fn issued(&self, token: &str, lifetime: Duration) -> Reply {
        Reply::json(
            200,
            json!({"accessToken": token, "expiresIn": lifetime.as_secs(), "tokenType": "Bearer"}),
        )
    }

    fn rate_limited(&self, wait: Duration, _limit: u32) -> Reply {
        Reply::problem(
            429,
            json!({"statusCode": 429, "message": "Too many requests.", "errors": {}}),
        )
        .header("retry-after", whole_seconds(wait))
    }

    fn failure(&self) -> Reply {
        Reply::html(
            503,
            "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
        )
    }
}
