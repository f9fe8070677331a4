//! Cobee: `specs/cobee.yaml` → [`cobee_api`] → [`RawToken`].
//!
//! JSON `{clientId, clientSecret}`, no `Authorization` header; `{accessToken, tokenType,
//! expiresIn}`, all optional; the token is a JWT whose `exp` caps the lifetime.

use cobee_api::types::AuthenticateRequest;
use progenitor_client::ClientInfo;
use secrecy::ExposeSecret;

use crate::Error;
use crate::client::Config;
use crate::exchange::Exchange;
use crate::provider::{BodyEncoding, ClientAuth, Environment};
use crate::token::RawToken;

use super::{BasicEncoding, Facts, ResetUnit};

/// What Cobee is like.
pub(super) const FACTS: Facts = Facts {
    name: "cobee",
    environments: ENVIRONMENTS,
    client_auth: ClientAuth::Body,
    // unused: the secret goes in the body.
    basic_encoding: BasicEncoding::FormUrlencoded,
    body_encoding: BodyEncoding::Json,
    jwt_prefix: None,
    rate_limit_reset: ResetUnit::Seconds,
    rate_limit_window: None,
    // Whether a success body is kept for the lenient decode: every success field is
    // optional in the spec, so a success body may need the lenient decode.
    keep_success_body: true,
    api_version: || <cobee_api::Client as ClientInfo<_>>::api_version(),
    credential_field_errors_refuse: false,
    check_secret: None,
    error_details: None,
};

/// Its named environments; the first is the default.
const ENVIRONMENTS: &[Environment] = &[
    Environment {
        name: "production",
        base_url: cobee_api::servers::PARTNERS_API,
        source: "specs/cobee.yaml servers",
    },
    Environment {
        name: "pre-production",
        base_url: cobee_api::servers::PRE_PARTNERS_API,
        source: "specs/cobee.yaml servers",
    },
];

pub(super) async fn request_token(
    config: &Config,
    client: &cobee_api::Client,
    exchange: &Exchange<'_>,
) -> Result<RawToken, Error> {
    let body = AuthenticateRequest {
        client_id: config.credentials.client_id().to_owned(),
        client_secret: config
            .credentials
            .client_secret()
            .expose_secret()
            .to_owned(),
    };
    let result = client.post_oauth_token(&body).await;
    exchange
        .finish(result, |token| {
            Some(RawToken {
                access_token: token.access_token?,
                token_type: token.token_type,
                expires_in: token.expires_in.map(|s| s as f64),
                scope: None, // the spec's response has none
            })
        })
        .await
}
