//! A standard RFC 6749 token endpoint: no spec and no generated crate (the RFC is the
//! spec), one form POST through the same HTTP client, hooks and response limit as the
//! generated clients, mapped by [`Exchange`] like every provider.

use partner_api_support::ClientState;
use reqwest::header::{ACCEPT, HeaderValue};
use secrecy::ExposeSecret as _;

use crate::Error;
use crate::client::Config;
use crate::exchange::Exchange;
use crate::provider::{BodyEncoding, ClientAuth};
use crate::token::RawToken;

use super::{BasicEncoding, Facts, ResetUnit};

/// What a standard endpoint is like.
pub(super) const FACTS: Facts = Facts {
    name: "standard",
    // None: the token URL is the base URL.
    environments: &[],
    client_auth: ClientAuth::Basic,
    // RFC 6749 §2.3.1.
    basic_encoding: BasicEncoding::FormUrlencoded,
    body_encoding: BodyEncoding::Form,
    jwt_prefix: None,
    rate_limit_reset: ResetUnit::Guess,
    rate_limit_window: None,
    // It reads the body itself; the observer keeps only the head (its `Date`).
    keep_success_body: false,
    api_version: || "RFC 6749",
    credential_field_errors_refuse: false,
    check_secret: None,
    error_details: None,
};

/// The hooks' name for the token request (Basic credentials go to it).
const OPERATION: &str = "client_credentials_token";

/// What a standard endpoint's requests need, built once per client.
pub(crate) struct Standard {
    http: reqwest::Client,
    token_url: String,
    state: ClientState,
    auth: ClientAuth,
    form: Form,
}

/// What a client adds to the form beyond the grant and the credentials.
pub(crate) struct Form {
    /// The `scope`, if one was given.
    pub scope: Option<String>,
    /// Further parameters, in the order given.
    pub extra_params: Vec<(String, String)>,
}

impl Standard {
    /// `state` carries the Basic credentials when `auth` is Basic (encoded per RFC 6749
    /// §2.3.1 by `BasicCredentials`).
    pub(crate) fn new(
        token_url: &str,
        http: reqwest::Client,
        state: ClientState,
        auth: ClientAuth,
        form: Form,
    ) -> Self {
        Self {
            http,
            token_url: token_url.to_owned(),
            state,
            auth,
            form,
        }
    }
}

pub(super) async fn request_token(
    config: &Config,
    client: &Standard,
    exchange: &Exchange<'_>,
) -> Result<RawToken, Error> {
    let secret = config.credentials.client_secret().expose_secret();
    let mut form = vec![("grant_type", "client_credentials")];
    if client.auth == ClientAuth::Body {
        form.push(("client_id", config.credentials.client_id()));
        form.push(("client_secret", secret));
    }
    if let Some(scope) = &client.form.scope {
        form.push(("scope", scope));
    }
    for (name, value) in &client.form.extra_params {
        form.push((name.as_str(), value.as_str()));
    }
    let request = client
        .http
        .post(&client.token_url)
        .header(ACCEPT, HeaderValue::from_static("application/json"))
        .form(&form)
        .build();
    let sent = async {
        let mut request = request?;
        let basic: &[&str] = match client.auth {
            ClientAuth::Basic => &[OPERATION],
            ClientAuth::Body => &[],
        };
        if let Err(what) = client.state.prepare(&mut request, OPERATION, basic) {
            return Ok(Err(Error::configuration(what)));
        }
        client.state.execute(&client.http, request).await.map(Ok)
    };
    let mut raw = match sent.await {
        Ok(Ok(response)) => exchange.finish_response(Ok(response)).await,
        Ok(Err(error)) => Err(error),
        Err(error) => exchange.finish_response(Err(error)).await,
    }?;
    raw.scope = granted_scope(raw.scope, client.form.scope.as_deref());
    Ok(raw)
}

/// The scope a token was granted: the one `reported`, or, as RFC 6749 §5.1 has a response
/// leave it out when it is the one asked for, the one `asked` for. For a token fetched
/// and for one read back from a store written before the scope was kept.
pub(crate) fn granted_scope(reported: Option<String>, asked: Option<&str>) -> Option<String> {
    reported.or_else(|| asked.map(str::to_owned))
}
