//! Alternative Payments: `specs/alternative-payments.json` → [`alternative_payments_api`]
//! → [`RawToken`].
//!
//! HTTP Basic (added by the generated hooks from the shared `ClientState`), form
//! `grant_type=client_credentials`; `{access_token, expires_in, token_type}`, all optional.

use alternative_payments_api::types::CreateOAuthTokenBody;
use progenitor_client::ClientInfo;

use crate::Error;
use crate::exchange::Exchange;
use crate::provider::{BodyEncoding, ClientAuth, Environment};
use crate::token::RawToken;

use super::{BasicEncoding, Facts, ResetUnit};

/// What Alternative Payments is like.
pub(super) const FACTS: Facts = Facts {
    name: "alternative-payments",
    environments: ENVIRONMENTS,
    client_auth: ClientAuth::Basic,
    // "Authorization: Basic Base64Encode(client_id:client_secret)" on its page, nothing encoded.
    basic_encoding: BasicEncoding::AsIs,
    body_encoding: BodyEncoding::Form,
    jwt_prefix: None,
    rate_limit_reset: ResetUnit::Guess,
    // "429 above 5 requests per second per key", with no `Retry-After`: a retry within
    // the same second is refused again.
    rate_limit_window: Some(std::time::Duration::from_secs(1)),
    // Whether a success body is kept for the lenient decode: every success field is
    // optional in the spec, so a success body may need the lenient decode.
    keep_success_body: true,
    api_version: || <alternative_payments_api::Client as ClientInfo<_>>::api_version(),
    credential_field_errors_refuse: false,
    check_secret: None,
    error_details: None,
};

/// Its named environments; the first is the default.
const ENVIRONMENTS: &[Environment] = &[
    Environment {
        name: "production",
        base_url: alternative_payments_api::servers::PUBLIC_API,
        source: "specs/alternative-payments.json servers, http:// upgraded to https://",
    },
    Environment {
        name: "demo",
        base_url: "https://public-api.demo.alternativepayments.io",
        source: "provider docs (FACTS.md): demo host, separate credentials",
    },
];

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
                scope: None, // the spec's response has none
            })
        })
        .await
}
