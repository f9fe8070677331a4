//! Dinie: `specs/dinie.yaml` → [`dinie_api`] → [`RawToken`].
//!
//! HTTP Basic (added by the generated hooks from the shared `ClientState`), form
//! `grant_type=client_credentials`; `{access_token, token_type: "bearer", expires_in}`, all
//! required. The token is `dinie_at_` followed by a JWT whose `exp` caps the lifetime.

use dinie_api::types::{TokenRequest, TokenRequestGrantType};

use crate::Error;
use crate::exchange::Exchange;
use crate::token::RawToken;

/// Whether a success body is kept for the lenient decode: the typed decode always answers for a success body; error bodies are kept for the error mapping.
pub(super) const KEEP_SUCCESS_BODY: bool = false;

pub(super) async fn request_token(
    client: &dinie_api::Client,
    exchange: &Exchange<'_>,
) -> Result<RawToken, Error> {
    let body = TokenRequest {
        grant_type: TokenRequestGrantType::ClientCredentials,
    };
    let result = client.create_auth_token(&body).await;
    exchange
        .finish(result, |token| {
            Some(RawToken {
                access_token: token.access_token,
                token_type: Some(token.token_type.to_string()),
                expires_in: Some(token.expires_in as f64),
            })
        })
        .await
}
