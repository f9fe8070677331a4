//! One emulation per provider: what its token endpoint checks, and how it answers, after
//! its spec (`specs/…`) and the provider notes (`FACTS.md`).

mod alternative_payments;
mod cobee;
mod dinie;
mod standard;
mod teez;
mod tradevest;

use std::time::Duration;

use crate::reply::Reply;
use crate::request::TokenRequest;

/// Where a provider's token endpoint is and what the sandbox issues by default.
pub(crate) struct Profile {
    /// Its name (`partner_auth::Provider::name`'s, on the command line and in configuration).
    pub name: &'static str,
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
    /// Name, paths, demo credentials, lifetime.
    fn profile(&self) -> &'static Profile;
    /// The OpenAPI document (JSON) its requests are checked against: the one its generated
    /// crate was made from.
    fn spec(&self) -> &'static str;
    /// The provider's own answer to a request its spec does not allow but that
    /// [`check`](Self::check) let through (400), to a method it does not serve (405) or to
    /// an oversized body (413): `status` in its error format, saying `what`.
    fn malformed(&self, status: u16, what: &str) -> Reply;
    /// Checks a request the way the provider does: `Err` is the provider's own answer.
    fn check(&self, request: &TokenRequest) -> Result<(), Reply>;
    /// A fresh token in the provider's shape (opaque random text unless it documents one).
    fn mint(&self, lifetime: Duration) -> String {
        let _ = lifetime;
        crate::tokens::opaque()
    }
    /// The success answer.
    fn issued(&self, token: &str, lifetime: Duration) -> Reply;
    /// The key a request's rate limit counts it under, for a provider that limits each key
    /// on its own (a client id); `None` (the default): with every request that has none.
    fn rate_limit_key(&self, request: &TokenRequest) -> Option<String> {
        let _ = request;
        None
    }
    /// The answer when the rate limit is exceeded (`wait`: until a request would be
    /// admitted), with whatever headers the provider sends with it.
    fn rate_limited(&self, wait: Duration, limit: u32) -> Reply;
    /// The answer when the provider fails.
    fn failure(&self) -> Reply;
}

/// Every partner's emulation, in `partner_auth::Provider::ALL` order.
pub(crate) const PARTNERS: &[&dyn Dialect] = &[
    &teez::Teez,
    &alternative_payments::AlternativePayments,
    &cobee::Cobee,
    &tradevest::Tradevest,
    &dinie::Dinie,
];

/// The standard RFC 6749 endpoint's emulation.
pub(crate) const STANDARD: &dyn Dialect = &standard::Standard;
