//! The sandbox answers as each provider's spec says, through the facade and on the raw wire.

#[path = "common/sandbox.rs"]
mod sandbox_client;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use partner_auth::{Credentials, ErrorKind, Provider, TokenSource};
use partner_sandbox::{Endpoint, Sandbox};
use sandbox_client::SandboxExt as _;
use serde_json::Value;

fn jwt_exp(token: &str) -> u64 {
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["exp"].as_u64().unwrap()
}

#[tokio::test]
async fn every_provider_issues_a_token_through_the_facade() {
    let sandbox = Sandbox::start().await.unwrap();
    for &provider in Provider::ALL {
        let token = sandbox
            .client_builder(provider)
            .build()
            .unwrap()
            .fetch_token()
            .await
            .unwrap_or_else(|e| panic!("{provider}: {e}"));
        let lifetime = sandbox.endpoint(provider).token_lifetime;
        assert_eq!(token.lifetime(), Some(lifetime), "{provider}");
        let stats = sandbox.stats(provider);
        assert_eq!(
            (stats.token_requests, stats.tokens_issued),
            (1, 1),
            "{provider}"
        );
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        match provider {
            Provider::Cobee => {
                let exp = jwt_exp(token.expose_secret());
                assert!(exp.abs_diff(now + 86400) <= 2, "Cobee JWT exp");
            }
            Provider::Dinie => {
                let jwt = token
                    .expose_secret()
                    .strip_prefix("dinie_at_")
                    .expect("dinie_at_");
                assert!(jwt_exp(jwt).abs_diff(now + 3600) <= 2, "Dinie JWT exp");
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn tokens_are_fresh_and_random() {
    let sandbox = Sandbox::start().await.unwrap();
    let client = sandbox.client_builder(Provider::Tradevest).build().unwrap();
    let a = client.fetch_token().await.unwrap();
    let b = client.fetch_token().await.unwrap();
    assert_ne!(a.expose_secret(), b.expose_secret());
    assert!(a.expose_secret().len() >= 40);
}

#[tokio::test]
async fn a_wrong_secret_is_invalid_credentials_for_every_provider() {
    let sandbox = Sandbox::start().await.unwrap();
    for &provider in Provider::ALL {
        let err = sandbox
            .client_builder(provider)
            .credentials(Credentials::new(
                sandbox.endpoint(provider).client_id,
                "wrong-secret-123",
            ))
            .build()
            .unwrap()
            .fetch_token()
            .await
            .unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::InvalidCredentials,
            "{provider}: {err}"
        );
        assert_eq!(sandbox.stats(provider).rejected, 1, "{provider}");
        assert_eq!(sandbox.stats(provider).tokens_issued, 0, "{provider}");
    }
}

/// A request as one provider's dialect sends it, aimed at `target`.
fn dialect_request(
    http: &reqwest::Client,
    dialect: Provider,
    target: &Endpoint,
    token_path: &str,
) -> reqwest::RequestBuilder {
    let url = format!("{}{token_path}", target.base_url);
    let (id, secret) = (target.client_id, target.client_secret);
    let basic = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
    let form = |fields: &[(&str, &str)]| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish()
    };
    let request = http.post(url);
    match dialect {
        Provider::Teez | Provider::Cobee => request
            .header("content-type", "application/json")
            .body(serde_json::json!({"clientId": id, "clientSecret": secret}).to_string()),
        Provider::Tradevest => request
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("client_id", id),
                ("client_secret", secret),
                ("grant_type", "client_credentials"),
            ])),
        _ => request
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", basic)
            .body(form(&[("grant_type", "client_credentials")])),
    }
}

/// The three dialects on the wire: Teez and Cobee share one, Alternative Payments and
/// Dinie another.
fn same_dialect(a: Provider, b: Provider) -> bool {
    let class = |p| match p {
        Provider::Teez | Provider::Cobee => 0,
        Provider::Tradevest => 1,
        _ => 2,
    };
    class(a) == class(b)
}

/// Asserts `status` and `body` are in `provider`'s documented error format.
fn assert_error_format(provider: Provider, status: u16, content_type: &str, body: &Value) {
    let at = format!("{provider} {status} {body}");
    match provider {
        Provider::Teez => {
            assert_eq!(status, 400, "{at}");
            assert_eq!(content_type, "application/problem+json", "{at}");
            assert!(
                body["statusCode"].is_number() && body["errors"].is_object(),
                "{at}"
            );
        }
        Provider::AlternativePayments => {
            assert!(matches!(status, 400 | 403), "{at}");
            assert!(
                body.as_object().unwrap().values().all(Value::is_string),
                "{at}"
            );
        }
        Provider::Cobee => {
            assert!(matches!(status, 400 | 401), "{at}");
            assert!(body["message"].is_string(), "{at}");
        }
        Provider::Tradevest => {
            assert_eq!(status, 400, "{at}");
            let codes = [
                "invalid_request",
                "invalid_client",
                "invalid_grant",
                "unauthorized_client",
                "unsupported_grant_type",
            ];
            assert!(codes.contains(&body["error"].as_str().unwrap()), "{at}");
        }
        _ => {
            assert!(matches!(status, 400 | 401), "{at}");
            assert_eq!(content_type, "application/problem+json", "{at}");
            for key in ["type", "title", "detail"] {
                assert!(body[key].is_string(), "{at}");
            }
            assert_eq!(body["status"], status, "{at}");
        }
    }
}

#[tokio::test]
async fn each_provider_rejects_another_dialect_in_its_own_format() {
    // Bad requests on purpose.
    let sandbox = Sandbox::builder()
        .allow_spec_violations()
        .start()
        .await
        .unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let paths = [
        (Provider::Teez, "/api/v1/auth/token"),
        (Provider::AlternativePayments, "/oauth/token"),
        (Provider::Cobee, "/oauth/token"),
        (Provider::Tradevest, "/oauth2/token"),
        (Provider::Dinie, "/auth/token"),
    ];
    // The five documented dialects against each other (a partner added later has a test of
    // its own, from `cargo xtask new-provider`).
    let mut checked = 0;
    for (target, path) in paths {
        for (dialect, _) in paths {
            let endpoint = sandbox.endpoint(target);
            let response = dialect_request(&http, dialect, endpoint, path)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            if same_dialect(dialect, target) {
                assert_eq!(status, 200, "{dialect} dialect to {target}");
                continue;
            }
            let content_type = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_owned();
            let body: Value = response.json().await.unwrap();
            assert_error_format(target, status, &content_type, &body);
            checked += 1;
        }
    }
    assert_eq!(checked, 25 - 9, "every cross-dialect pair");
    // Each cross-dialect request also breaks the target's spec (content type, schema or
    // security requirement): the sandbox's spec check catches every one.
    assert_eq!(sandbox.spec_violations().len(), 25 - 9);
}

#[tokio::test]
async fn teez_checks_its_secret_rules_and_refuses_an_authorization_header() {
    // Bad requests on purpose.
    let sandbox = Sandbox::builder()
        .allow_spec_violations()
        .start()
        .await
        .unwrap();
    let endpoint = sandbox.endpoint(Provider::Teez);
    let url = format!("{}/api/v1/auth/token", endpoint.base_url);
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let short = http
        .post(&url)
        .json(&serde_json::json!({"clientId": endpoint.client_id, "clientSecret": "short1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(short.status(), 400);
    let body: Value = short.json().await.unwrap();
    assert!(body["errors"]["clientSecret"].is_array(), "{body}");

    let with_header = http
        .post(&url)
        .bearer_auth("anything")
        .json(&serde_json::json!({"clientId": endpoint.client_id, "clientSecret": endpoint.client_secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(with_header.status(), 400);
    // The short secret breaks the spec's `minLength: 8`; the header breaks no rule of the
    // spec, only Teez's own (FACTS.md).
    let violations = sandbox.spec_violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(
        violations[0].problems[0].contains("/clientSecret"),
        "{violations:?}"
    );
}

#[tokio::test]
async fn alternative_payments_answers_429_above_5_per_second() {
    let sandbox = Sandbox::start().await.unwrap();
    let client = sandbox
        .client_builder(Provider::AlternativePayments)
        .build()
        .unwrap();
    let mut kinds = Vec::new();
    for _ in 0..7 {
        kinds.push(client.fetch_token().await.map(|_| ()).map_err(|e| e.kind()));
    }
    assert_eq!(kinds.iter().filter(|k| k.is_ok()).count(), 5, "{kinds:?}");
    assert_eq!(kinds[5], Err(ErrorKind::RateLimited));
    assert_eq!(sandbox.stats(Provider::AlternativePayments).rate_limited, 2);
}

#[tokio::test]
async fn cobee_and_dinie_rate_limits_carry_their_headers() {
    let sandbox = Sandbox::builder()
        .rate_limit(Provider::Cobee, Some(1))
        .rate_limit(Provider::Dinie, Some(1))
        .start()
        .await
        .unwrap();
    for provider in [Provider::Cobee, Provider::Dinie] {
        let client = sandbox.client_builder(provider).build().unwrap();
        client.fetch_token().await.unwrap();
        let err = client.fetch_token().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RateLimited, "{provider}");
        let wait = err.retry_after().expect("a wait from the headers");
        assert!(wait <= Duration::from_secs(2), "{provider}: {wait:?}");
    }
}

#[tokio::test]
async fn the_protected_resource_accepts_only_unexpired_tokens() {
    let sandbox = Sandbox::builder()
        .token_lifetime(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let endpoint = sandbox.endpoint(Provider::Cobee);
    let token = sandbox
        .client_builder(Provider::Cobee)
        .build()
        .unwrap()
        .fetch_token()
        .await
        .unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let call = |bearer: String| {
        http.get(endpoint.protected_url())
            .bearer_auth(bearer)
            .send()
    };
    assert_eq!(
        call(token.expose_secret().to_owned())
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(call("made-up".into()).await.unwrap().status(), 401);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        call(token.expose_secret().to_owned())
            .await
            .unwrap()
            .status(),
        401
    );
    let stats = sandbox.stats(Provider::Cobee);
    assert_eq!(
        (
            stats.api_accepted,
            stats.api_unknown_token,
            stats.api_expired_token
        ),
        (1, 1, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_callers_make_one_token_request_per_provider() {
    let sandbox = Sandbox::start().await.unwrap();
    for &provider in Provider::ALL {
        let source = TokenSource::new(sandbox.client_builder(provider).build().unwrap());
        let calls: Vec<_> = (0..1000)
            .map(|_| {
                let source = source.clone();
                tokio::spawn(async move { source.token().await })
            })
            .collect();
        for call in calls {
            call.await.unwrap().unwrap();
        }
        assert_eq!(sandbox.stats(provider).token_requests, 1, "{provider}");
    }
}

#[tokio::test]
async fn the_standard_endpoint_speaks_rfc_6749_on_the_wire() {
    // Bad requests on purpose.
    let sandbox = Sandbox::builder()
        .allow_spec_violations()
        .start()
        .await
        .unwrap();
    let endpoint = sandbox.standard_endpoint();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", endpoint.client_id, endpoint.client_secret))
    );
    let post = |form: &'static [(&'static str, &'static str)], auth: Option<&str>| {
        let mut request = http.post(&endpoint.base_url).form(form);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let challenge = response.headers().contains_key("www-authenticate");
            let body: Value = response.json().await.unwrap();
            (status, challenge, body)
        }
    };
    let grant = &[("grant_type", "client_credentials")];
    let (status, _, body) = post(grant, Some(&basic)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    // No client authentication: 401 invalid_client with a challenge (§5.2).
    let (status, challenge, body) = post(grant, None).await;
    assert_eq!(
        (status, challenge, body["error"].as_str()),
        (401, true, Some("invalid_client"))
    );
    // Two methods at once is refused (§2.3).
    let both = &[
        ("grant_type", "client_credentials"),
        ("client_id", "std_demo_client"),
        ("client_secret", "std_demo_secret"),
    ];
    let (status, _, body) = post(both, Some(&basic)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    // Another grant type.
    let (status, _, body) = post(&[("grant_type", "password")], Some(&basic)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    assert_eq!(sandbox.stats(Provider::Standard).tokens_issued, 1);
    assert_eq!(sandbox.stats(Provider::Standard).rejected, 3);
    // Of those, only the unknown grant type breaks RFC 6749's request schema; a missing
    // or doubled client authentication is the endpoint's own rule.
    assert_eq!(sandbox.stats(Provider::Standard).spec_violations, 1);
}
