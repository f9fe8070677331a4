//! Teez: `specs/teez.yaml` → [`teez_api`] → [`RawToken`].
//!
//! JSON `{clientId, clientSecret}`, no `Authorization` header; `{accessToken, expiresIn,
//! tokenType}`, every field optional in the spec.

use progenitor_client::ClientInfo;
use secrecy::ExposeSecret;
use teez_api::types::TeezB2bGatewayApiEndpointsAuthGetTokenGetTokenEndpointRequest as TokenRequest;

use super::{BasicEncoding, Facts, ResetUnit};
use crate::client::Config;
use crate::exchange::Exchange;
use crate::provider::{BodyEncoding, ClientAuth, Environment};
use crate::token::RawToken;
use crate::{Credentials, Error};

/// What Teez is like.
pub(super) const FACTS: Facts = Facts {
    name: "teez",
    environments: ENVIRONMENTS,
    client_auth: ClientAuth::Body,
    // unused: the secret goes in the body.
    basic_encoding: BasicEncoding::FormUrlencoded,
    body_encoding: BodyEncoding::Json,
    jwt_prefix: None,
    rate_limit_reset: ResetUnit::Guess,
    rate_limit_window: None,
    // Whether a success body is kept for the lenient decode: every success field is
    // optional in the spec, so a success body may need the lenient decode.
    keep_success_body: true,
    api_version: || <teez_api::Client as ClientInfo<_>>::api_version(),
    // Its field errors on `clientId` / `clientSecret` are how it refuses them.
    credential_field_errors_refuse: true,
    check_secret: Some(check_secret),
    error_details: None,
};

/// Its named environments; the first is the default.
const ENVIRONMENTS: &[Environment] = &[Environment {
    name: "production",
    base_url: teez_api::servers::SELLER_API,
    source: "specs/teez.yaml servers (no sandbox is published)",
}];

pub(super) async fn request_token(
    config: &Config,
    client: &teez_api::Client,
    exchange: &Exchange<'_>,
) -> Result<RawToken, Error> {
    let body = body(&config.credentials)?;
    let result = client.get_token_endpoint(&body).await;
    exchange
        .finish(result, |token| {
            Some(RawToken {
                access_token: token.access_token?,
                token_type: token.token_type,
                expires_in: token.expires_in.map(f64::from),
                scope: None, // the spec's response has none
            })
        })
        .await
}

/// The spec's rules are checked by the generated types, which `Credentials::validate`
/// already ran; this only fails if they change.
fn body(credentials: &Credentials) -> Result<TokenRequest, Error> {
    let invalid =
        |_| Error::configuration("Teez rejects these credentials: see Credentials::validate");
    Ok(TokenRequest {
        client_id: credentials.client_id().try_into().map_err(invalid)?,
        client_secret: credentials
            .client_secret()
            .expose_secret()
            .try_into()
            .map_err(invalid)?,
    })
}

/// Teez's documented secret rule, from its spec through the generated type: at least 8
/// characters with at least one digit.
fn check_secret(secret: &str) -> Result<(), &'static str> {
    use teez_api::types::TeezB2bGatewayApiEndpointsAuthGetTokenGetTokenEndpointRequestClientSecret as TeezSecret;
    TeezSecret::try_from(secret).map(drop).map_err(
        |_| "Teez requires a client secret of at least 8 characters with at least one digit",
    )
}
