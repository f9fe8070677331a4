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

mod alternative_payments;
mod cobee;
mod dinie;
mod teez;
mod tradevest;

use crate::client::Config;
use crate::exchange::Exchange;
use crate::token::RawToken;
use crate::{Error, Provider};

/// Sends `config.provider`'s token request and maps the answer.
pub(crate) async fn request_token(
    config: &Config,
    exchange: &Exchange<'_>,
) -> Result<RawToken, Error> {
    let state = config.client_state(exchange);
    match config.provider {
        Provider::Teez => teez::request_token(config, state, exchange).await,
        Provider::AlternativePayments => {
            alternative_payments::request_token(config, state, exchange).await
        }
        Provider::Cobee => cobee::request_token(config, state, exchange).await,
        Provider::Tradevest => tradevest::request_token(config, state, exchange).await,
        Provider::Dinie => dinie::request_token(config, state, exchange).await,
    }
}
