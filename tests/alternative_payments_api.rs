//! `alternative-payments-api` (generated from `specs/alternative-payments.json`, OpenAPI 3.1
//! downgraded by `downgrade_openapi_3_1`) against an httpmock server on loopback.
//!
//! Alternative Payments: HTTP Basic `client_id:client_secret`, form body
//! `grant_type=client_credentials`, 403 with a string-to-string map on bad credentials.

use alternative_payments_api::types::CreateOAuthTokenBody;
use alternative_payments_api::{BasicCredentials, Client, Error};
use httpmock::prelude::*;
use serde_json::json;
use workspace_tests::{Outcome, check_malformed_responses, outcome};

const PATH: &str = "/oauth/token";

fn body() -> CreateOAuthTokenBody {
    CreateOAuthTokenBody {
        grant_type: "client_credentials".into(),
    }
}

fn client(base_url: &str) -> Client {
    Client::new(base_url)
        .unwrap()
        .with_credentials(BasicCredentials::new("ap-client", "ap-secret"))
}

#[tokio::test]
async fn sends_basic_auth_and_a_form_body() {
    let server = MockServer::start_async().await;
    let mock = server.mock(|when, then| {
        when.method(POST)
            .path(PATH)
            .header("content-type", "application/x-www-form-urlencoded")
            // base64("ap-client:ap-secret")
            .header("authorization", "Basic YXAtY2xpZW50OmFwLXNlY3JldA==")
            .body("grant_type=client_credentials");
        then.status(200)
            .header("content-type", "application/json")
            .json_body(
                json!({"access_token": "580defdbe1", "expires_in": 3600, "token_type": "bearer"}),
            );
    });
    let token = client(&server.base_url())
        .create_o_auth_token(&body())
        .await
        .unwrap()
        .into_inner();
    mock.assert();
    assert_eq!(token.access_token.as_deref(), Some("580defdbe1"));
    assert_eq!(token.expires_in, Some(3600));
    assert_eq!(token.token_type.as_deref(), Some("bearer"));
}

#[tokio::test]
async fn without_credentials_nothing_is_sent() {
    let server = MockServer::start_async().await;
    let mock = server.mock(|when, then| {
        when.any_request();
        then.status(200);
    });
    let result = Client::new(&server.base_url())
        .unwrap()
        .create_o_auth_token(&body())
        .await;
    assert_eq!(outcome(result), Outcome::InvalidRequest);
    assert_eq!(mock.calls(), 0);
}

#[tokio::test]
async fn a_403_decodes_into_the_documented_map() {
    let server = MockServer::start_async().await;
    server.mock(|when, then| {
        when.method(POST).path(PATH);
        then.status(403)
            .header("content-type", "application/json")
            .json_body(json!({"error": "invalid credentials"}));
    });
    let Err(Error::ErrorResponse(err)) = client(&server.base_url())
        .create_o_auth_token(&body())
        .await
    else {
        panic!("expected a typed 403");
    };
    assert_eq!(err.status(), 403);
    assert_eq!(err["error"], "invalid credentials");
}

#[tokio::test]
async fn malformed_responses_are_typed_errors() {
    check_malformed_responses(PATH, 403, |base_url| async move {
        outcome(client(&base_url).create_o_auth_token(&body()).await)
    })
    .await;
}

#[test]
fn the_published_http_server_is_generated_as_https() {
    assert_eq!(
        alternative_payments_api::servers::PUBLIC_API,
        "https://public-api.alternativepayments.io"
    );
}

/// The typed httpmock extensions (`mock` feature): the request matcher matches the form
/// body the client sends, and the response builders give what the client decodes.
#[tokio::test]
async fn the_typed_mock_matches_the_form_body_and_builds_every_response() {
    use alternative_payments_api::mock::MockServerExt;
    use alternative_payments_api::types::TokenResponse;

    let server = MockServer::start_async().await;
    let mock = server.create_o_auth_token(|when, then| {
        when.body(&body());
        then.ok(&TokenResponse {
            access_token: Some("ap-typed".into()),
            expires_in: Some(3600),
            token_type: Some("bearer".into()),
        });
    });
    let token = client(&server.base_url())
        .create_o_auth_token(&body())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mock.calls_async().await, 1);
    assert_eq!(token.access_token.as_deref(), Some("ap-typed"));
    assert_eq!(token.expires_in, Some(3600));

    let server = MockServer::start_async().await;
    let mock = server.create_o_auth_token(|when, then| {
        when.body(&body());
        then.forbidden(&[("message".to_owned(), "Invalid key".to_owned())].into());
    });
    let Err(Error::ErrorResponse(err)) = client(&server.base_url())
        .create_o_auth_token(&body())
        .await
    else {
        panic!("expected a typed 403");
    };
    assert_eq!(mock.calls_async().await, 1);
    assert_eq!(err.status(), 403);
    assert_eq!(err.get("message").map(String::as_str), Some("Invalid key"));
}

#[test]
fn with_feature_schemars_the_request_type_has_the_spec_s_json_schema() {
    let (properties, required) =
        workspace_tests::schema_fields::<alternative_payments_api::types::CreateOAuthTokenBody>();
    // The spec's request body: these properties, all required.
    let expected: Vec<String> = ["grant_type"].map(String::from).to_vec();
    assert_eq!((properties, required), (expected.clone(), expected));
}

/// From review: `require_https_servers` is there "so credentials never travel in clear", yet
/// `Client::new` took a plain `http://` URL to any host and sent the Basic credentials over
/// it. Plain http is for loopback (a test server); nothing is sent here.
#[test]
fn client_new_refuses_plain_http_to_a_host_that_is_not_loopback() {
    for url in [
        "http://public-api.alternativepayments.io",
        "http://10.0.0.8:8080/v1",
        "http://localhost.example.invalid",
    ] {
        let Err(err) = Client::new(url) else {
            panic!("{url}: a client that sends the credentials in clear");
        };
        assert!(err.to_string().contains("https"), "{err}");
    }
    for url in [
        "http://127.0.0.1:1",
        "http://localhost:1",
        "http://[::1]:1",
        alternative_payments_api::servers::PUBLIC_API,
    ] {
        assert!(Client::new(url).is_ok(), "{url}");
    }
}
