//! One module per provider: what it is like ([`Facts`]: name, environments, client
//! authentication, body encoding, JWT prefix, rate-limit reset unit, credential rules, a
//! reader of its own error format if the common one does not know it),
//! how to build its generated client, send its token request, and map its documented
//! success body. Everything else is shared ([`crate::exchange`]).
//!
//! Adding a provider here is one module with its `FACTS` and `request_token`, one arm in
//! each `match` below (the compiler lists them: every match on [`Provider`] in this crate
//! is exhaustive), and a cargo feature of its name that compiles the module, its variant
//! and its generated crate in.
//!
//! | provider | spec | generated crate | here |
//! | --- | --- | --- | --- |
//! | Teez | `specs/teez.yaml` | `teez_api` | [`teez`] |
//! | Alternative Payments | `specs/alternative-payments.json` | `alternative_payments_api` | [`alternative_payments`] |
//! | Cobee | `specs/cobee.yaml` | `cobee_api` | [`cobee`] |
//! | Tradevest | `specs/tradevest.json` | `tradevest_api` | [`tradevest`] |
//! | Dinie | `specs/dinie.yaml` | `dinie_api` | [`dinie`] |
//! | any RFC 6749 endpoint ([`Provider::Standard`]) | RFC 6749 §4.4 | — | [`standard`] |

#[cfg(feature = "alternative-payments")]
mod alternative_payments;
#[cfg(feature = "cobee")]
mod cobee;
#[cfg(feature = "dinie")]
mod dinie;
pub(crate) mod standard;
#[cfg(feature = "teez")]
mod teez;
#[cfg(feature = "tradevest")]
mod tradevest;

use partner_api_support::{ClientState, ResponseObserver};

use crate::client::Config;
use crate::exchange::Exchange;
use crate::provider::{BodyEncoding, ClientAuth, Environment};
use crate::token::RawToken;
use crate::{Error, Provider};

/// What a provider is like: every fact about it the facade needs, in its own module.
pub(crate) struct Facts {
    /// Its name on the command line, in configuration and in errors.
    pub name: &'static str,
    /// Its named environments; the first is the default. Empty: a base URL is required.
    pub environments: &'static [Environment],
    /// How it authenticates clients (for [`Provider::Standard`], the default).
    pub client_auth: ClientAuth,
    /// How the id and secret go into an `Authorization: Basic` header, where it takes one.
    pub basic_encoding: BasicEncoding,
    /// How its token request body is encoded.
    pub body_encoding: BodyEncoding,
    /// What its tokens start with before a JWT, if they are (prefixed) JWTs.
    pub jwt_prefix: Option<&'static str>,
    /// What its `X-RateLimit-Reset` header counts.
    pub rate_limit_reset: ResetUnit,
    /// The window of its documented rate limit, where it documents no header saying how
    /// long to wait: a 429 without one waits this long.
    pub rate_limit_window: Option<std::time::Duration>,
    /// Whether a success body is kept for the lenient decode.
    pub keep_success_body: bool,
    /// The API version of its spec (`info.version`).
    pub api_version: fn() -> &'static str,
    /// Whether a 400 whose only field errors are on the client id or secret means the
    /// credentials were refused (Teez answers wrong credentials so); elsewhere it is an
    /// `InvalidRequest` like any other field error.
    pub credential_field_errors_refuse: bool,
    /// Its own rule for client secrets, beyond "not empty".
    pub check_secret: Option<SecretRule>,
    /// Its own reader of error bodies, for a format [`crate::body::details`] does not
    /// know; `None` (the five partners and the standard endpoint): that one reads them.
    pub error_details: Option<ErrorReader>,
}

/// A provider's reader of its error bodies: the code, message and field errors of one,
/// or `None` when the body is not in its format (then [`crate::body::details`] reads it).
/// What it returns is scrubbed like any text from a response.
pub(crate) type ErrorReader = fn(&serde_json::Value) -> Option<crate::body::Details>;

/// A provider's rule for client secrets: the rule, as a sentence, when it is broken.
pub(crate) type SecretRule = fn(&str) -> Result<(), &'static str>;

/// How a client id and secret are written into `Authorization: Basic`. (Which variants a
/// build uses depends on the partners compiled in.)
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[allow(dead_code)]
pub(crate) enum BasicEncoding {
    /// Each form-urlencoded first, as RFC 6749 §2.3.1 asks of OAuth clients.
    FormUrlencoded,
    /// As they are (RFC 7617): `base64(client_id:client_secret)`, as a provider's page
    /// shows it. A client id with a `:` cannot be sent so.
    AsIs,
}

/// What an `X-RateLimit-Reset` header holds. (Which variants a build uses depends on the
/// partners compiled in.)
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[allow(dead_code)]
pub(crate) enum ResetUnit {
    /// Seconds to wait.
    Seconds,
    /// The Unix time the limit resets.
    UnixTime,
    /// Undocumented: a Unix time when that large, otherwise seconds.
    Guess,
}

/// What `provider` is like.
pub(crate) fn facts(provider: Provider) -> &'static Facts {
    match provider {
        #[cfg(feature = "teez")]
        Provider::Teez => &teez::FACTS,
        #[cfg(feature = "alternative-payments")]
        Provider::AlternativePayments => &alternative_payments::FACTS,
        #[cfg(feature = "cobee")]
        Provider::Cobee => &cobee::FACTS,
        #[cfg(feature = "tradevest")]
        Provider::Tradevest => &tradevest::FACTS,
        #[cfg(feature = "dinie")]
        Provider::Dinie => &dinie::FACTS,
        Provider::Standard => &standard::FACTS,
    }
}

/// The provider's generated client, built once per [`Client`](crate::Client) and shared by
/// its concurrent requests (each observed on its own, see [`observer`]).
pub(crate) enum Generated {
    #[cfg(feature = "teez")]
    Teez(teez_api::Client),
    #[cfg(feature = "alternative-payments")]
    AlternativePayments(alternative_payments_api::Client),
    #[cfg(feature = "cobee")]
    Cobee(cobee_api::Client),
    #[cfg(feature = "tradevest")]
    Tradevest(tradevest_api::Client),
    #[cfg(feature = "dinie")]
    Dinie(dinie_api::Client),
    Standard(standard::Standard),
}

impl Generated {
    pub(crate) fn new(
        provider: Provider,
        base_url: &str,
        http: reqwest::Client,
        state: ClientState,
        standard: impl FnOnce(&str, reqwest::Client, ClientState) -> standard::Standard,
    ) -> Self {
        match provider {
            Provider::Standard => Self::Standard(standard(base_url, http, state)),
            #[cfg(feature = "teez")]
            Provider::Teez => Self::Teez(teez_api::Client::new_with_client(base_url, http, state)),
            #[cfg(feature = "alternative-payments")]
            Provider::AlternativePayments => Self::AlternativePayments(
                alternative_payments_api::Client::new_with_client(base_url, http, state),
            ),
            #[cfg(feature = "cobee")]
            Provider::Cobee => {
                Self::Cobee(cobee_api::Client::new_with_client(base_url, http, state))
            }
            #[cfg(feature = "tradevest")]
            Provider::Tradevest => Self::Tradevest(tradevest_api::Client::new_with_client(
                base_url, http, state,
            )),
            #[cfg(feature = "dinie")]
            Provider::Dinie => {
                Self::Dinie(dinie_api::Client::new_with_client(base_url, http, state))
            }
        }
    }
}

/// A fresh observer for one request of `provider`: it keeps the response head, error
/// bodies, and success bodies only where the lenient decode may need them.
pub(crate) fn observer(provider: Provider) -> ResponseObserver {
    if facts(provider).keep_success_body {
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
    // Boxed, each provider's future on its own: the futures around it stay a few words
    // instead of the largest provider's kilobytes, copied at every layer of `await`.
    let request: BoxFuture<'_> = match &config.generated {
        #[cfg(feature = "teez")]
        Generated::Teez(client) => Box::pin(teez::request_token(config, client, exchange)),
        #[cfg(feature = "alternative-payments")]
        Generated::AlternativePayments(client) => {
            Box::pin(alternative_payments::request_token(client, exchange))
        }
        #[cfg(feature = "cobee")]
        Generated::Cobee(client) => Box::pin(cobee::request_token(config, client, exchange)),
        #[cfg(feature = "tradevest")]
        Generated::Tradevest(client) => {
            Box::pin(tradevest::request_token(config, client, exchange))
        }
        #[cfg(feature = "dinie")]
        Generated::Dinie(client) => Box::pin(dinie::request_token(client, exchange)),
        Generated::Standard(client) => Box::pin(standard::request_token(config, client, exchange)),
    };
    exchange.observer.clone().scope(request).await
}

type BoxFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<RawToken, Error>> + Send + 'a>>;
