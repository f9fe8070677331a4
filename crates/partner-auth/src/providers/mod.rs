//! One module per provider: build its generated client, send its token request, map its
//! documented success body. Everything else is shared ([`crate::exchange`]).
//!
//! | provider | spec | generated crate | here |
//! | --- | --- | --- | --- |
//! | Teez | `specs/teez.yaml` | `teez_api` | [`teez`] |
//! | Alternative Payments | `specs/alternative-payments.json` | `alternative_payments_api` | [`alternative_payments`] |
//! | Cobee | `specs/cobee.yaml` | `cobee_api` | [`cobee`] |
//! | Tradevest | `specs/tradevest.json` | `tradevest_api` | [`tradevest`] |
//! | Dinie | `specs/dinie.yaml` | `dinie_api` | [`dinie`] |
//! | any RFC 6749 endpoint ([`Provider::Standard`]) | RFC 6749 §4.4 | — | [`standard`] |

mod alternative_payments;
mod cobee;
mod dinie;
pub(crate) mod standard;
mod teez;
mod tradevest;

use partner_api_support::{ClientState, ResponseObserver};

use crate::client::Config;
use crate::exchange::Exchange;
use crate::token::RawToken;
use crate::{Error, Provider};

/// The provider's generated client, built once per [`Client`](crate::Client) and shared by
/// its concurrent requests (each observed on its own, see [`observer`]).
pub(crate) enum Generated {
    Teez(teez_api::Client),
    AlternativePayments(alternative_payments_api::Client),
    Cobee(cobee_api::Client),
    Tradevest(tradevest_api::Client),
    Dinie(dinie_api::Client),
    Standard(standard::Standard),
}

impl Generated {
    pub(crate) fn new(
        provider: Provider,
        base_url: &str,
        http: reqwest::Client,
        state: ClientState,
        standard: impl FnOnce(reqwest::Client, ClientState) -> standard::Standard,
    ) -> Self {
        match provider {
            Provider::Standard => Self::Standard(standard(http, state)),
            Provider::Teez => Self::Teez(teez_api::Client::new_with_client(base_url, http, state)),
            Provider::AlternativePayments => Self::AlternativePayments(
                alternative_payments_api::Client::new_with_client(base_url, http, state),
            ),
            Provider::Cobee => {
                Self::Cobee(cobee_api::Client::new_with_client(base_url, http, state))
            }
            Provider::Tradevest => Self::Tradevest(tradevest_api::Client::new_with_client(
                base_url, http, state,
            )),
            Provider::Dinie => {
                Self::Dinie(dinie_api::Client::new_with_client(base_url, http, state))
            }
        }
    }
}

/// A fresh observer for one request of `provider`: it keeps the response head, error
/// bodies, and success bodies only where the lenient decode may need them.
pub(crate) fn observer(provider: Provider) -> ResponseObserver {
    let keep_success_body = match provider {
        Provider::Teez => teez::KEEP_SUCCESS_BODY,
        Provider::AlternativePayments => alternative_payments::KEEP_SUCCESS_BODY,
        Provider::Cobee => cobee::KEEP_SUCCESS_BODY,
        Provider::Tradevest => tradevest::KEEP_SUCCESS_BODY,
        Provider::Dinie => dinie::KEEP_SUCCESS_BODY,
        // It reads the body itself; the observer keeps the head (its `Date`).
        Provider::Standard => false,
    };
    if keep_success_body {
        ResponseObserver::capturing_body()
    } else {
        ResponseObserver::capturing_error_bodies()
    }
}

/// Sends `config.provider`'s token request and maps the answer, with `exchange`'s observer
/// watching this request alone.
pub(crate) async fn request_token(
    config: &Config,
    exchange: &Exchange<'_>,
) -> Result<RawToken, Error> {
    let request = async {
        match &config.generated {
            Generated::Teez(client) => teez::request_token(config, client, exchange).await,
            Generated::AlternativePayments(client) => {
                alternative_payments::request_token(client, exchange).await
            }
            Generated::Cobee(client) => cobee::request_token(config, client, exchange).await,
            Generated::Tradevest(client) => {
                tradevest::request_token(config, client, exchange).await
            }
            Generated::Dinie(client) => dinie::request_token(client, exchange).await,
            Generated::Standard(client) => standard::request_token(config, client, exchange).await,
        }
    };
    exchange.observer.clone().scope(request).await
}
