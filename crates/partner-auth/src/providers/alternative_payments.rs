//! Alternative Payments: `specs/alternative-payments.json` → [`alternative_payments_api`]
//! → [`RawToken`].
//!
//! HTTP Basic (added by the generated hooks from the shared `ClientState`), form
//! `grant_type=client_credentials`; `{access_token, expires_in, token_type}`, all optional.

use alternative_payments_api::types::CreateOAuthTokenBody;

use crate::Error;
use crate::exchange::Exchange;
use crate::token::RawToken;

/// Whether a success body is kept for the lenient decode: every success field is optional in the spec, so a success body may need the lenient decode.
pub(super) const KEEP_SUCCESS_BODY: bool = true;

pub(super) async fn request_token(
    client: &alternative_payments_api::Client,
    exchange: &Exchange<'_>,
) -> Result<RawToken, Error> {
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
