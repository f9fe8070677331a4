//! Metrics through the `metrics` facade (feature `metrics`): whatever recorder the
//! application installed (Prometheus, StatsD, …) receives them.
//!
//! The names and labels are listed in the crate docs ("Observability"). Each metric is
//! described (its unit and a help text) each time it is recorded, so a recorder installed
//! at any time has the description: these are rare events (a token request, a failed
//! fetch, an invalidation), and describing costs about what recording does.

use std::time::Duration;

use metrics::Unit;

use crate::client::Config;
use crate::{AccessToken, Client, Error};

/// One token request sent, its outcome and latency.
pub(crate) fn token_request(config: &Config, result: &Result<AccessToken, Error>, took: Duration) {
    let outcome = match result {
        Ok(_) => "ok",
        Err(error) => error.kind().as_str(),
    };
    let (provider, environment) = (config.provider.name(), config.environment.clone());
    metrics::describe_counter!(
        "partner_auth_token_requests_total",
        Unit::Count,
        "Token requests sent to the provider that ended with an outcome (`ok` or the \
         error kind), each retry counted."
    );
    metrics::describe_histogram!(
        "partner_auth_token_request_duration_seconds",
        Unit::Seconds,
        "How long a token request took, from sending it to its outcome."
    );
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
    metrics::describe_counter!(
        "partner_auth_token_fetch_failures_total",
        Unit::Count,
        "Token source fetches that ended in an error after their retries, by error kind."
    );
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
    metrics::describe_counter!(
        "partner_auth_token_invalidations_total",
        Unit::Count,
        "Cached tokens dropped because the API rejected them."
    );
    metrics::counter!(
        "partner_auth_token_invalidations_total",
        "provider" => client.provider().name(),
        "environment" => client.environment().to_owned(),
    )
    .increment(1);
}
