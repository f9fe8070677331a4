//! Metrics through the `metrics` facade (feature `metrics`): whatever recorder the
//! application installed (Prometheus, StatsD, …) receives them.
//!
//! The names and labels are listed in the crate docs ("Observability").

use std::time::Duration;

use crate::client::Config;
use crate::{AccessToken, Client, Error};

/// One token request sent, its outcome and latency.
pub(crate) fn token_request(config: &Config, result: &Result<AccessToken, Error>, took: Duration) {
    let outcome = match result {
        Ok(_) => "ok",
        Err(error) => error.kind().as_str(),
    };
    let (provider, environment) = (config.provider.name(), config.environment.clone());
    metrics::counter!(
        "partner_auth_token_requests_total",
        "provider" => provider,
        "environment" => environment.clone(),
        "outcome" => outcome,
    )
    .increment(1);
    metrics::histogram!(
        "partner_auth_token_request_duration_seconds",
        "provider" => provider,
        "environment" => environment,
    )
    .record(took.as_secs_f64());
}

/// A fetch of a token source failed after its retries.
pub(crate) fn fetch_failure(client: &Client, error: &Error) {
    metrics::counter!(
        "partner_auth_token_fetch_failures_total",
        "provider" => client.provider().name(),
        "environment" => client.environment().to_owned(),
        "kind" => error.kind().as_str(),
    )
    .increment(1);
}

/// A token source dropped a token the API rejected.
pub(crate) fn invalidation(client: &Client) {
    metrics::counter!(
        "partner_auth_token_invalidations_total",
        "provider" => client.provider().name(),
        "environment" => client.environment().to_owned(),
    )
    .increment(1);
}
