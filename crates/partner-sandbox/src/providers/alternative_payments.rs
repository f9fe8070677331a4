//! Alternative Payments (`specs/alternative-payments.json`): HTTP Basic and a form body
//! `grant_type=client_credentials`; 403 with a string map for bad or missing credentials;
//! 429 above its rate limit (5 per second per key, counted by client id), with no
//! `Retry-After`. Its page shows the Basic header as `Base64Encode(client_id:client_secret)`:
//! it is read as is, nothing form-decoded.

use std::time::Duration;

use serde_json::json;

use super::{Dialect, Profile};
use crate::reply::Reply;
use crate::request::{TokenRequest, field};
use crate::tokens;

pub(crate) struct AlternativePayments;

const ID: &str = "ap_demo_client";
const SECRET: &str = "ap_demo_secret";

const PROFILE: Profile = Profile {
    name: "alternative-payments",
    base_path: "",
    token_path: "/oauth/token",
    client_id: ID,
    client_secret: SECRET,
    lifetime: Duration::from_secs(3600),
};

impl Dialect for AlternativePayments {
    fn profile(&self) -> &'static Profile {
        &PROFILE
    }

    fn spec(&self) -> &'static str {
        alternative_payments_api::NORMALIZED_SPEC
    }

    fn malformed(&self, status: u16, what: &str) -> Reply {
        Reply::json(status, json!({"error": "invalid_request", "message": what}))
    }

    fn check(&self, request: &TokenRequest) -> Result<(), Reply> {
        let Some((id, secret)) = request.basic_as_is() else {
            return Err(Reply::json(
                403,
                json!({"message": "Missing or malformed Basic authorization header"}),
            ));
        };
        let form = request.form().ok_or_else(|| {
            Reply::json(
                400,
                json!({"error": "invalid_request", "message": "expected a form-urlencoded body"}),
            )
        })?;
        if field(&form, "grant_type") != Some("client_credentials") {
            return Err(Reply::json(
                400,
                json!({"error": "unsupported_grant_type", "message": "grant_type must be client_credentials"}),
            ));
        }
        if (id.as_str(), secret.as_str()) != (ID, SECRET) {
            return Err(Reply::json(
                403,
                json!({"message": "Invalid client credentials"}),
            ));
        }
        Ok(())
    }

    fn mint(&self, _lifetime: Duration) -> String {
        tokens::hex(28)
    }

    fn issued(&self, token: &str, lifetime: Duration) -> Reply {
        Reply::json(
            200,
            json!({"access_token": token, "expires_in": lifetime.as_secs(), "token_type": "bearer"}),
        )
    }

    fn rate_limit_key(&self, request: &TokenRequest) -> Option<String> {
        // "per key": each client id on its own; a request without one, with the others
        // without one (and the ids past the limiter's bound).
        request.basic_as_is().map(|(id, _)| id)
    }

    fn rate_limited(&self, _wait: Duration, _limit: u32) -> Reply {
        Reply::json(429, json!({"error": "rate limit exceeded"}))
    }

    fn failure(&self) -> Reply {
        Reply::json(500, json!({"error": "internal server error"}))
    }
}
