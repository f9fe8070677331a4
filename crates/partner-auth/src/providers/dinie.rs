//! Dinie: `specs/dinie.yaml` → [`dinie_api`] → [`RawToken`].
//!
//! HTTP Basic (added by the generated hooks from the shared `ClientState`), form
//! `grant_type=client_credentials`; `{access_token, token_type: "bearer", expires_in}`, all
//! required. The token is `dinie_at_` followed by a JWT whose `exp` caps the lifetime.

use dinie_api::types::{TokenRequest, TokenRequestGrantType};
use partner_api_support::ClientState;

use crate::Error;
use crate::client::Config;
use crate::exchange::Exchange;
use crate::token::RawToken;

pub(super) async fn request_token(
    config: &Config,
    state: ClientState,
    exchange: &Exchange<'_>,
) -> Result<RawToken, Error> {
    let client = dinie_api::Client::new_with_client(&config.base_url, config.http.clone(), state);
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
