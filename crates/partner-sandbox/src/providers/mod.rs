//! One emulation per provider: what its token endpoint checks, and how it answers, after
//! its spec (`specs/…`) and the provider notes (`FACTS.md`).

mod alternative_payments;
mod cobee;
mod dinie;
mod teez;
mod tradevest;

use std::time::Duration;

use partner_auth::Provider;

use crate::reply::Reply;
use crate::request::TokenRequest;

/// A provider's token endpoint, as the sandbox plays it.
pub(crate) trait Dialect: Send + Sync {
    /// Path prefix of the API (`/api/v3` for Cobee and Dinie, empty for the others).
    fn base_path(&self) -> &'static str;
    /// Path of the token endpoint under the base path.
    fn token_path(&self) -> &'static str;
    /// Demo credentials `(client id, client secret)`.
    fn demo_credentials(&self) -> (&'static str, &'static str);
    /// Documented token lifetime, used unless the sandbox is configured otherwise.
    fn default_lifetime(&self) -> Duration;
    /// Checks a request the way the provider does: `Err` is the provider's own answer.
    fn check(&self, request: &TokenRequest) -> Result<(), Reply>;
    /// The success answer.
    fn issued(&self, token: &str, lifetime: Duration) -> Reply;
    /// The answer when the rate limit is exceeded.
    fn rate_limited(&self, wait: Duration, limit: u32) -> Reply;
    /// The answer when the provider fails.
    fn failure(&self) -> Reply;
}

pub(crate) fn dialect(provider: Provider) -> &'static dyn Dialect {
    match provider {
        Provider::Teez => &teez::Teez,
        Provider::AlternativePayments => &alternative_payments::AlternativePayments,
        Provider::Cobee => &cobee::Cobee,
        Provider::Tradevest => &tradevest::Tradevest,
        _ => &dinie::Dinie,
    }
}
