//! Tradevest: `specs/tradevest.json` → [`tradevest_api`] → [`RawToken`].
//!
//! Form `client_id`, `client_secret`, `grant_type=client_credentials`, no `Authorization`
//! header; `{access_token, expires_in, token_type}`, all required.

use progenitor_client::ClientInfo;
use secrecy::ExposeSecret;
use tradevest_api::types::AuthRequest;

use crate::Error;
use crate::client::Config;
use crate::exchange::Exchange;
use crate::provider::{BodyEncoding, ClientAuth, Environment};
use crate::token::RawToken;

use super::{BasicEncoding, Facts, ResetUnit};

/// What Tradevest is like.
pub(super) const FACTS: Facts = Facts {
    name: "tradevest",
    environments: ENVIRONMENTS,
    client_auth: ClientAuth::Body,
    // unused: the secret goes in the body.
    basic_encoding: BasicEncoding::FormUrlencoded,
    body_encoding: BodyEncoding::Form,
    jwt_prefix: None,
    rate_limit_reset: ResetUnit::Guess,
    rate_limit_window: None,
    // Whether a success body is kept for the lenient decode: the typed decode always
    // answers for a success body; error bodies are kept for the error mapping.
    keep_success_body: false,
    api_version: || <tradevest_api::Client as ClientInfo<_>>::api_version(),
    credential_field_errors_refuse: false,
    check_secret: None,
    error_details: None,
};

/// Its named environments; the first is the default.
const ENVIRONMENTS: &[Environment] = &[
    Environment {
        name: "production",
        base_url: "https://b2b.auth.platform-prod.tradevest.ai",
        source: "provider guide (FACTS.md): production auth host, not in the spec",
    },
    Environment {
        name: "test",
        base_url: tradevest_api::servers::TEST_AUTH,
        source: "specs/tradevest.json servers",
    },
    Environment {
        name: "pretest",
        base_url: tradevest_api::servers::PRETEST_AUTH,
        source: "specs/tradevest.json servers",
    },
];

pub(super) async fn request_token(
    config: &Config,
    client: &tradevest_api::Client,
    exchange: &Exchange<'_>,
) -> Result<RawToken, Error> {
    let body = AuthRequest {
        client_id: config.credentials.client_id().to_owned(),
        client_secret: config
            .credentials
            .client_secret()
            .expose_secret()
            .to_owned(),
        grant_type: "client_credentials".to_owned(),
    };
    let result = client.get_token(&body).await;
    exchange
        .finish(result, |token| {
            Some(RawToken {
                access_token: token.access_token,
                token_type: Some(token.token_type),
                expires_in: Some(token.expires_in as f64),
                scope: None, // the spec's response has none
            })
        })
        .await
}
