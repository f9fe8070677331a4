//! Alternative Payments: `specs/alternative-payments.json` → [`alternative_payments_api`]
//! → [`RawToken`].
//!
//! HTTP Basic (added by the generated hooks from the shared `ClientState`), form
//! `grant_type=client_credentials`; `{access_token, expires_in, token_type}`, all optional.

use alternative_payments_api::types::CreateOAuthTokenBody;
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
    let client = alternative_payments_api::Client::new_with_client(
        &config.base_url,
        config.http.clone(),
        state,
    );
    let body = CreateOAuthTokenBody {
        grant_type: "client_credentials".to_owned(),
    };
    let result = client.create_o_auth_token(&body).await;
    exchange
        .finish(result, |token| {
            Some(RawToken {
                access_token: token.access_token?,
                token_type: token.token_type,
                expires_in: token.expires_in.map(|s| s as f64),
            })
        })
        .await
}
