//! Tradevest (`specs/tradevest.json`): form `client_id`, `client_secret`,
//! `grant_type=client_credentials`, no `Authorization` header; RFC 6749 `{error}` 400s.

use std::time::Duration;

use serde_json::json;

use super::{Dialect, Profile};
use crate::reply::{Reply, whole_seconds};
use crate::request::{TokenRequest, field};

pub(crate) struct Tradevest;

const ID: &str = "tradevest-demo-client";
const SECRET: &str = "tradevest-demo-secret";

const PROFILE: Profile = Profile {
    name: "tradevest",
    base_path: "",
    token_path: "/oauth2/token",
    client_id: ID,
    client_secret: SECRET,
    lifetime: Duration::from_secs(3600),
};

fn oauth_error(code: &str) -> Reply {
    Reply::json(400, json!({"error": code}))
}

impl Dialect for Tradevest {
    fn profile(&self) -> &'static Profile {
        &PROFILE
    }

    fn spec(&self) -> &'static str {
        tradevest_api::NORMALIZED_SPEC
    }

    fn malformed(&self, status: u16, what: &str) -> Reply {
        Reply::json(
            status,
            json!({"error": "invalid_request", "error_description": what}),
        )
    }

    fn check(&self, request: &TokenRequest) -> Result<(), Reply> {
        if request.authorization.is_some() {
            return Err(oauth_error("invalid_request"));
        }
        let form = request
            .form()
            .ok_or_else(|| oauth_error("invalid_request"))?;
        let (Some(id), Some(secret), Some(grant)) = (
            field(&form, "client_id"),
            field(&form, "client_secret"),
            field(&form, "grant_type"),
        ) else {
            return Err(oauth_error("invalid_request"));
        };
        if grant != "client_credentials" {
            return Err(oauth_error("unsupported_grant_type"));
        }
        if (id, secret) != (ID, SECRET) {
            return Err(oauth_error("invalid_client"));
        }
        Ok(())
    }

    fn issued(&self, token: &str, lifetime: Duration) -> Reply {
        Reply::json(
            200,
            json!({"access_token": token, "expires_in": lifetime.as_secs(), "token_type": "Bearer"}),
        )
    }

    fn rate_limited(&self, wait: Duration, _limit: u32) -> Reply {
        Reply::json(429, json!({"error": "slow_down"})).header("retry-after", whole_seconds(wait))
    }

    fn failure(&self) -> Reply {
        Reply::html(503, "<html><body>upstream connect error</body></html>")
    }
}
