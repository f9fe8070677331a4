//! Teez: `specs/teez.yaml` → [`teez_api`] → [`RawToken`].
//!
//! JSON `{clientId, clientSecret}`, no `Authorization` header; `{accessToken, expiresIn,
//! tokenType}`, every field optional in the spec.

use secrecy::ExposeSecret;
use teez_api::types::TeezB2bGatewayApiEndpointsAuthGetTokenGetTokenEndpointRequest as TokenRequest;

use crate::client::Config;
use crate::exchange::Exchange;
use crate::token::RawToken;
use crate::{Credentials, Error};

/// Whether a success body is kept for the lenient decode: every success field is optional in the spec, so a success body may need the lenient decode.
pub(super) const KEEP_SUCCESS_BODY: bool = true;

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
