//! What each provider's own page (`shared/provider-docs`, summed up in FACTS.md) says it
//! reads and sends, held against the facade over httpmock and against the sandbox that
//! plays it: the Basic header as each page shows it, fields in another key case, Dinie's
//! top-level `param`, Alternative Payments' rate limit (5 a second per key, no
//! `Retry-After`). Each test failed before the change that it came with (found by a
//! review against the pages).

mod common;
#[path = "common/sandbox.rs"]
mod sandbox_client;

use std::time::Duration;

use base64::Engine as _;
use common::*;
use httpmock::prelude::*;
use partner_auth::{ErrorKind, Provider, TokenType};
use partner_sandbox::{Faults, Sandbox};
use sandbox_client::SandboxExt as _;
use serde_json::json;

fn fixture(provider: Provider) -> Fixture {
    fixtures()
        .into_iter()
        .find(|f| f.provider == provider)
        .expect("a fixture for every partner")
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn basic(id: &str, secret: &str) -> String {
    let joined = format!("{id}:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(joined)
    )
}

/// Alternative Payments' page: "Authorization: Basic Base64Encode(client_id:client_secret)";
/// Dinie's: "Basic base64(client_id:client_secret)". The facade form-encoded both parts
/// first (RFC 6749 §2.3.1), so a secret with `/`, `+` or `=` reached them as `%2F`, `%2B`,
/// `%3D`: refused as wrong credentials.
#[tokio::test]
async fn the_basic_header_is_the_one_each_page_shows() {
    for secret in ["k9Zq7Rw42", "k/9+Zq7Rw==", "pa ss:wörd%41"] {
        for provider in [Provider::AlternativePayments, Provider::Dinie] {
            let f = fixture(provider);
            let server = MockServer::start_async().await;
            let documented = server.mock(|when, then| {
                when.method(POST)
                    .path(f.path)
                    .header("authorization", basic(CLIENT_ID, secret));
                then.status(200)
                    .header("content-type", "application/json")
                    .body((f.success)("opaque-tok-3", json!(3600)).to_string());
            });
            let token = partner_auth::Client::builder(provider)
                .base_url(server.base_url())
                .credentials(partner_auth::Credentials::new(CLIENT_ID, secret))
                .build()
                .unwrap()
                .fetch_token()
                .await;
            assert!(
                token.is_ok(),
                "{provider} with {secret:?}: {:?}",
                token.map_err(|e| e.kind())
            );
            documented.assert_async().await;
        }
    }
}

/// Such a header cannot carry a `:` in the client id (the server splits at the first one):
/// a configuration error before anything is sent, which names the rule, not the secret.
#[tokio::test]
async fn a_client_id_with_a_colon_is_refused_where_the_header_sends_it_as_is() {
    for provider in [Provider::AlternativePayments, Provider::Dinie] {
        let err = partner_auth::Client::builder(provider)
            .base_url("http://127.0.0.1:9")
            .credentials(partner_auth::Credentials::new("team:7", "hunter2-secret"))
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Configuration, "{provider}: {err}");
        assert!(err.to_string().contains("`:`"), "{err}");
        assert!(!format!("{err} {err:?}").contains("hunter2"));
    }
    // A body-credentials provider takes it.
    partner_auth::Client::builder(Provider::Tradevest)
        .base_url("http://127.0.0.1:9")
        .credentials(partner_auth::Credentials::new("team:7", "hunter2-secret"))
        .build()
        .unwrap();
}

/// The sandbox reads them as the pages say too: a header whose parts were form-encoded
/// (`_` written `%5F`) is not the demo key.
#[tokio::test]
async fn the_sandbox_reads_their_basic_header_as_is() {
    let sandbox = Sandbox::start().await.unwrap();
    for provider in [Provider::AlternativePayments, Provider::Dinie] {
        let endpoint = sandbox.endpoint(provider);
        let path = fixture(provider)
            .path
            .trim_start_matches("/api/v3")
            .to_owned();
        let url = format!("{}{path}", endpoint.base_url);
        let send = |authorization: String| {
            http()
                .post(&url)
                .header("authorization", authorization)
                .form(&[("grant_type", "client_credentials")])
                .send()
        };
        let as_is = send(basic(endpoint.client_id, endpoint.client_secret))
            .await
            .unwrap();
        assert_eq!(as_is.status(), 200, "{provider}");
        let encoded = endpoint.client_secret.replace('_', "%5F");
        let refused = send(basic(endpoint.client_id, &encoded)).await.unwrap();
        assert!(
            matches!(refused.status().as_u16(), 401 | 403),
            "{provider}: a form-encoded secret was taken ({})",
            refused.status()
        );
    }
}

/// The lib docs' table: "a token with odd fields: … other key case … | success (lenient
/// decode)". Alternative Payments' and Cobee's typed decode (every field optional, other
/// keys ignored) found the token and dropped a lifetime written `Expires_In`: `None`, where
/// the other three kept 3600.
#[tokio::test]
async fn a_lifetime_in_another_key_case_is_kept_for_every_provider() {
    let bodies = [
        (
            Provider::Teez,
            json!({"accessToken": "opaque-tok-1", "ExpiresIn": 3600, "tokenType": "Bearer"}),
        ),
        (
            Provider::AlternativePayments,
            json!({"access_token": "opaque-tok-1", "Expires_In": 3600, "token_type": "bearer"}),
        ),
        (
            Provider::Cobee,
            json!({"accessToken": "opaque-tok-1", "tokenType": "Bearer", "ExpiresIn": 3600}),
        ),
        (
            Provider::Tradevest,
            json!({"access_token": "opaque-tok-1", "Expires_In": 3600, "token_type": "Bearer"}),
        ),
        (
            Provider::Dinie,
            json!({"access_token": "opaque-tok-1", "token_type": "bearer", "Expires_In": 3600}),
        ),
    ];
    for (provider, body) in bodies {
        let f = fixture(provider);
        let server = serve(&f, 200, "application/json", body.to_string(), &[]).await;
        let token = client(provider, &server.base_url())
            .fetch_token()
            .await
            .unwrap_or_else(|e| panic!("{provider}: {e}"));
        assert_eq!(
            token.lifetime(),
            Some(Duration::from_secs(3600)),
            "{provider}"
        );
    }
}

/// The same cause, worse: a `MAC` token whose type key is in another case was taken for a
/// bearer token on Alternative Payments and Cobee (Teez kept `MAC`).
#[tokio::test]
async fn a_token_type_in_another_key_case_is_kept() {
    let bodies = [
        (
            Provider::Teez,
            json!({"accessToken": "opaque-tok-2", "expiresIn": 3600, "TokenType": "MAC"}),
        ),
        (
            Provider::AlternativePayments,
            json!({"access_token": "opaque-tok-2", "expires_in": 3600, "TOKEN_TYPE": "MAC"}),
        ),
        (
            Provider::Cobee,
            json!({"accessToken": "opaque-tok-2", "TokenType": "MAC", "expiresIn": 3600}),
        ),
    ];
    for (provider, body) in bodies {
        let f = fixture(provider);
        let server = serve(&f, 200, "application/json", body.to_string(), &[]).await;
        let token = client(provider, &server.base_url())
            .fetch_token()
            .await
            .unwrap_or_else(|e| panic!("{provider}: {e}"));
        assert_eq!(
            token.token_type(),
            &TokenType::Other("MAC".into()),
            "{provider}"
        );
        assert!(token.authorization_header().is_err(), "{provider}");
    }
}

/// Dinie's page lists `param`, "the request parameter that caused the error", at the top
/// level of its problem: a 400 naming the parameter only there had no field error, and
/// neither its code nor its message named it.
#[tokio::test]
async fn dinie_top_level_param_is_a_field_error() {
    let f = fixture(Provider::Dinie);
    let body = json!({
        "type": "https://docs.dinie.com.br/errors/invalid_request",
        "title": "Bad Request", "status": 400,
        "detail": "must be client_credentials",
        "code": "invalid_value", "param": "grant_type"
    });
    let server = serve(&f, 400, "application/problem+json", body.to_string(), &[]).await;
    let err = client(Provider::Dinie, &server.base_url())
        .fetch_token()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert_eq!(err.code(), Some("invalid_value"));
    let fields = err.field_errors();
    assert_eq!(fields.len(), 1, "{fields:?}");
    assert_eq!(fields[0].field, "grant_type");
    assert_eq!(fields[0].message, "must be client_credentials");
    assert_eq!(fields[0].code.as_deref(), Some("invalid_value"));
}

/// Teez answers wrong credentials with field errors on `clientId` / `clientSecret`; that
/// rule was applied to every provider, so a Dinie validation problem whose `errors[]` names
/// `client_id` was `InvalidCredentials` (the lib docs' table: Dinie `errors[]` →
/// `InvalidRequest`).
#[tokio::test]
async fn the_teez_credential_field_rule_is_teez_only() {
    let f = fixture(Provider::Dinie);
    let body = json!({
        "type": "https://docs.dinie.com.br/errors/validation_error",
        "title": "Bad Request", "status": 400,
        "detail": "The request is invalid.", "code": "validation_error",
        "errors": [{"param": "client_id", "detail": "must start with dinie_ci_", "code": "invalid_format"}]
    });
    let server = serve(&f, 400, "application/problem+json", body.to_string(), &[]).await;
    let err = client(Provider::Dinie, &server.base_url())
        .fetch_token()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("validation_error"));
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
    assert_eq!(err.field_errors()[0].field, "client_id");

    // Teez's own answer is still a refusal of the credentials.
    let teez = fixture(Provider::Teez);
    let body = json!({"statusCode": 400, "message": "One or more errors occurred!",
                      "errors": {"clientSecret": ["Invalid client credentials."]}});
    let server = serve(
        &teez,
        400,
        "application/problem+json",
        body.to_string(),
        &[],
    )
    .await;
    let err = client(Provider::Teez, &server.base_url())
        .fetch_token()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCredentials, "{err}");
}

/// FACTS.md: Alternative Payments answers "429 above 5 requests per second per key; no
/// Retry-After documented". After a 429, a default source retried after 0.2 and 0.4 s,
/// inside the same second, and gave up with `RateLimited`. Five requests from elsewhere
/// with the same key (another process) use the second up; the source waits it out.
#[tokio::test]
async fn a_default_source_waits_out_alternative_payments_one_second_window() {
    let sandbox = Sandbox::start().await.unwrap();
    let endpoint = sandbox.endpoint(Provider::AlternativePayments);
    let http = http();
    for _ in 0..5 {
        let status = http
            .post(format!("{}/oauth/token", endpoint.base_url))
            .basic_auth(endpoint.client_id, Some(endpoint.client_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
    }
    let source = partner_auth::TokenSource::new(
        sandbox
            .client_builder(Provider::AlternativePayments)
            .build()
            .unwrap(),
    );
    let outcome = source.token().await;
    let stats = sandbox.stats(Provider::AlternativePayments);
    assert!(
        outcome.is_ok(),
        "gave up inside the one-second window: {:?} after {} rate-limited attempt(s)",
        outcome.err().map(|e| e.kind()),
        stats.rate_limited
    );
    assert_eq!(stats.rate_limited, 1, "one 429, then a second's wait");
}

/// The sandbox's injected 429 is the provider's own: none of the `Retry-After` that
/// Alternative Payments does not send (the facade then reads its one-second window), and
/// Cobee's one, not two.
#[tokio::test]
async fn an_injected_429_carries_the_providers_own_headers() {
    let sandbox = Sandbox::builder()
        .faults(Faults {
            rate_limited: 1.0,
            ..Faults::default()
        })
        .start()
        .await
        .unwrap();
    let http = http();
    let endpoint = sandbox.endpoint(Provider::AlternativePayments);
    let response = http
        .post(format!("{}/oauth/token", endpoint.base_url))
        .basic_auth(endpoint.client_id, Some(endpoint.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers().get_all("retry-after").iter().count(), 0);
    let err = sandbox
        .client_builder(Provider::AlternativePayments)
        .build()
        .unwrap()
        .fetch_token()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));

    let endpoint = sandbox.endpoint(Provider::Cobee);
    let response = http
        .post(format!("{}/oauth/token", endpoint.base_url))
        .json(&json!({"clientId": endpoint.client_id, "clientSecret": endpoint.client_secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers().get_all("retry-after").iter().count(), 1);
}

/// "per key": another key's first request in the same second is judged on its
/// credentials (403), not refused for the demo key's five.
#[tokio::test]
async fn the_sandbox_limits_alternative_payments_per_key() {
    let sandbox = Sandbox::start().await.unwrap();
    let endpoint = sandbox.endpoint(Provider::AlternativePayments);
    let http = http();
    let send = |id: &'static str, secret: &'static str| {
        http.post(format!("{}/oauth/token", endpoint.base_url))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    for _ in 0..5 {
        let status = send(endpoint.client_id, endpoint.client_secret)
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
    }
    let over = send(endpoint.client_id, endpoint.client_secret)
        .await
        .unwrap();
    assert_eq!(over.status(), 429, "the demo key's sixth in the second");
    let other = send("another-key", "another-secret").await.unwrap();
    assert_eq!(other.status(), 403, "another key's first request");
}
