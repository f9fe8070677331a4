//! Tradevest: `specs/tradevest.json` → [`tradevest_api`] → [`RawToken`].
//!
//! Form `client_id`, `client_secret`, `grant_type=client_credentials`, no `Authorization`
//! header; `{access_token, expires_in, token_type}`, all required.

use secrecy::ExposeSecret;
use tradevest_api::types::AuthRequest;

use crate::Error;
use crate::client::Config;
use crate::exchange::Exchange;
use crate::token::RawToken;

/// Whether a success body is kept for the lenient decode: the typed decode always answers for a success body; error bodies are kept for the error mapping.
pub(super) const KEEP_SUCCESS_BODY: bool = false;

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
            })
        })
        .await
}
