//! Dinie: `specs/dinie.yaml` → [`dinie_api`] → [`RawToken`].
//!
//! HTTP Basic (added by the generated hooks from the shared `ClientState`), form
//! `grant_type=client_credentials`; `{access_token, token_type: "bearer", expires_in}`, all
//! required. The token is `dinie_at_` followed by a JWT whose `exp` caps the lifetime.

use dinie_api::types::{TokenRequest, TokenRequestGrantType};
use progenitor_client::ClientInfo;

use crate::Error;
use crate::exchange::Exchange;
use crate::provider::{BodyEncoding, ClientAuth, Environment};
use crate::token::RawToken;

use super::{BasicEncoding, Facts, ResetUnit};

/// What Dinie is like.
pub(super) const FACTS: Facts = Facts {
    name: "dinie",
    environments: ENVIRONMENTS,
    client_auth: ClientAuth::Basic,
    // "Basic base64(client_id:client_secret)" on its page, nothing encoded.
    basic_encoding: BasicEncoding::AsIs,
    body_encoding: BodyEncoding::Form,
    jwt_prefix: Some("dinie_at_"),
    rate_limit_reset: ResetUnit::UnixTime,
    rate_limit_window: None,
    // Whether a success body is kept for the lenient decode: the typed decode always
    // answers for a success body; error bodies are kept for the error mapping.
    keep_success_body: false,
    api_version: || <dinie_api::Client as ClientInfo<_>>::api_version(),
    credential_field_errors_refuse: false,
    check_secret: None,
    error_details: None,
};

/// Its named environments; the first is the default.
const ENVIRONMENTS: &[Environment] = &[
    Environment {
        name: "production",
        base_url: dinie_api::servers::PRODUCTION,
        source: "specs/dinie.yaml servers (default of the official SDKs)",
    },
    Environment {
        name: "sandbox",
        base_url: dinie_api::servers::SANDBOX,
        source: "specs/dinie.yaml servers (Dinie docs pages)",
    },
];

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
                scope: None, // the spec's response has none
            })
        })
        .await
}
