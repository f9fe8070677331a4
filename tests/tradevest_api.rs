//! `tradevest-api` (generated from `specs/tradevest.json`; its redundant `Content-Type`
//! parameter dropped by `drop_reserved_header_parameters`) against an httpmock server.
//!
//! Tradevest: form body `client_id`, `client_secret`, `grant_type`; no Basic auth;
//! 400 with an RFC 6749 `error` code.

use httpmock::prelude::*;
use serde_json::json;
use tradevest_api::types::{AuthRequest, GetTokenResponseError};
use tradevest_api::{Client, Error};
use workspace_tests::{check_malformed_responses, outcome};

const PATH: &str = "/oauth2/token";

fn body() -> AuthRequest {
    AuthRequest {
        client_id: "tv client".into(),
        client_secret: "tv&secret=1".into(),
        grant_type: "client_credentials".into(),
    }
}

#[tokio::test]
async fn sends_every_field_form_encoded_and_no_authorization_header() {
    let server = MockServer::start_async().await;
    let mock = server.mock(|when, then| {
        when.method(POST)
            .path(PATH)
            .header("content-type", "application/x-www-form-urlencoded")
            .header_missing("authorization")
            .body(
                "client_id=tv+client&client_secret=tv%26secret%3D1&grant_type=client_credentials",
            );
        then.status(200)
            .header("content-type", "application/json")
            .json_body(
                json!({"access_token": "tv-token", "expires_in": 3600, "token_type": "Bearer"}),
            );
    });
    let client = Client::new(&server.base_url()).unwrap();
    let token = client.get_token(&body()).await.unwrap().into_inner();
    mock.assert();
    assert_eq!(token.access_token, "tv-token");
    assert_eq!(token.expires_in, 3600);
    assert_eq!(token.token_type, "Bearer");
}

#[tokio::test]
async fn a_400_decodes_into_its_rfc_6749_error_code() {
    let server = MockServer::start_async().await;
    server.mock(|when, then| {
        when.method(POST).path(PATH);
        then.status(400)
            .header("content-type", "application/json")
            .json_body(json!({"error": "invalid_client"}));
    });
    let client = Client::new(&server.base_url()).unwrap();
    let Err(Error::ErrorResponse(err)) = client.get_token(&body()).await else {
        panic!("expected a typed 400");
    };
    assert_eq!(err.status(), 400);
    assert_eq!(err.error, GetTokenResponseError::InvalidClient);
}

#[tokio::test]
async fn malformed_responses_are_typed_errors() {
    check_malformed_responses(PATH, 400, |base_url| async move {
        let client = Client::new(&base_url).unwrap();
        outcome(client.get_token(&body()).await)
    })
    .await;
}

/// The typed httpmock extensions (`mock` feature): the request matcher matches the form
/// body the client sends (and only it), and the response builders give what the client
/// decodes.
#[tokio::test]
async fn the_typed_mock_matches_the_form_body_and_builds_every_response() {
    use tradevest_api::mock::MockServerExt;
    use tradevest_api::types::{AuthResponse, GetTokenResponse};

    let server = MockServer::start_async().await;
    let mock = server.get_token(|when, then| {
        when.body(&body());
        then.ok(&AuthResponse {
            access_token: "tv-typed".into(),
            expires_in: 3600,
            token_type: "Bearer".into(),
        });
    });
    let client = Client::new(&server.base_url()).unwrap();
    let token = client.get_token(&body()).await.unwrap().into_inner();
    assert_eq!(mock.calls_async().await, 1);
    assert_eq!(token.access_token, "tv-typed");
    // Another secret is another body: no match.
    let mut other = body();
    other.client_secret = "other".into();
    assert!(matches!(
        client.get_token(&other).await,
        Err(Error::UnexpectedResponse(r)) if r.status() == 404
    ));
    assert_eq!(mock.calls_async().await, 1);

    let server = MockServer::start_async().await;
    let mock = server.get_token(|when, then| {
        when.body(&body());
        then.bad_request(&GetTokenResponse {
            error: GetTokenResponseError::InvalidGrant,
        });
    });
    let client = Client::new(&server.base_url()).unwrap();
    let Err(Error::ErrorResponse(err)) = client.get_token(&body()).await else {
        panic!("expected a typed 400");
    };
    assert_eq!(mock.calls_async().await, 1);
    assert_eq!(err.error, GetTokenResponseError::InvalidGrant);
}

#[test]
fn with_feature_schemars_the_request_type_has_the_spec_s_json_schema() {
    let (properties, required) =
        workspace_tests::schema_fields::<tradevest_api::types::AuthRequest>();
    // The spec's request body: these properties, all required.
    let expected: Vec<String> = ["client_id", "client_secret", "grant_type"]
        .map(String::from)
        .to_vec();
    assert_eq!((properties, required), (expected.clone(), expected));
}
