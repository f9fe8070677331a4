//! One emulation per provider: what its token endpoint checks, and how it answers, after
//! its spec (`specs/…`) and the provider notes (`FACTS.md`).

mod alternative_payments;
mod cobee;
mod dinie;
mod standard;
mod teez;
mod tradevest;

use std::time::Duration;

use partner_auth::Provider;

use crate::reply::Reply;
use crate::request::TokenRequest;

/// Where a provider's token endpoint is and what the sandbox issues by default.
pub(crate) struct Profile {
    /// Path prefix of the API (`/api/v3` for Cobee and Dinie, empty for the others).
    pub base_path: &'static str,
    /// Path of the token endpoint under the base path.
    pub token_path: &'static str,
    /// The demo client id.
    pub client_id: &'static str,
    /// The demo client secret.
    pub client_secret: &'static str,
    /// Documented token lifetime, used unless the sandbox is configured otherwise.
    pub lifetime: Duration,
}

/// A provider's token endpoint, as the sandbox plays it.
pub(crate) trait Dialect: Send + Sync {
    /// Paths, demo credentials, lifetime.
    fn profile(&self) -> &'static Profile;
    /// Checks a request the way the provider does: `Err` is the provider's own answer.
    fn check(&self, request: &TokenRequest) -> Result<(), Reply>;
    /// The success answer.
    fn issued(&self, token: &str, lifetime: Duration) -> Reply;
    /// The answer when the rate limit is exceeded.
    fn rate_limited(&self, wait: Duration, limit: u32) -> Reply;
    /// The answer when the provider fails.
    fn failure(&self) -> Reply;
}

/// The emulation of `provider`; `None` for a provider the sandbox does not emulate yet
/// (never another provider's in its place).
pub(crate) fn dialect(provider: Provider) -> Option<&'static dyn Dialect> {
    Some(match provider {
        Provider::Teez => &teez::Teez,
        Provider::AlternativePayments => &alternative_payments::AlternativePayments,
        Provider::Cobee => &cobee::Cobee,
        Provider::Tradevest => &tradevest::Tradevest,
        Provider::Dinie => &dinie::Dinie,
        Provider::Standard => &standard::Standard,
        _ => return None,
    })
}
