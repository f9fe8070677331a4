//! `teez-api` (generated from `specs/teez.yaml`) against an httpmock server on loopback.
//!
//! Teez: JSON body `{clientId, clientSecret}`, no `Authorization` header on the token
//! request (the spec's global bearer requirement is lifted by `token_endpoint_without_bearer`),
//! FastEndpoints errors served as `application/problem+json`.

use httpmock::prelude::*;
use serde_json::json;
use teez_api::types::{
    TeezB2bGatewayApiEndpointsAuthGetTokenGetTokenEndpointRequest as TokenRequest,
    TeezB2bGatewayApiEndpointsAuthGetTokenGetTokenEndpointRequestClientSecret as ClientSecret,
};
use teez_api::{Client, Error};
use workspace_tests::{check_malformed_responses, outcome};

const PATH: &str = "/api/v1/auth/token";

fn request() -> TokenRequest {
    TokenRequest {
        client_id: "seller-42".try_into().unwrap(),
        client_secret: "s3cretpass".try_into().unwrap(),
    }
}

#[tokio::test]
async fn sends_a_json_body_and_no_authorization_header() {
    let server = MockServer::start_async().await;
    let mock = server.mock(|when, then| {
        when.method(POST)
            .path(PATH)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .header_missing("authorization")
            .json_body(json!({"clientId": "seller-42", "clientSecret": "s3cretpass"}));
        then.status(200)
            .header("content-type", "application/json")
            .json_body(json!({"accessToken": "tok-1", "expiresIn": 3600, "tokenType": "Bearer"}));
    });

    let client = Client::new(&server.base_url()).unwrap();
    let token = client
        .get_token_endpoint(&request())
        .await
        .unwrap()
        .into_inner();

    mock.assert();
    assert_eq!(token.access_token.as_deref(), Some("tok-1"));
    assert_eq!(token.expires_in, Some(3600));
    assert_eq!(token.token_type.as_deref(), Some("Bearer"));
}

#[tokio::test]
async fn a_problem_json_400_decodes_into_the_fastendpoints_error() {
    let server = MockServer::start_async().await;
    server.mock(|when, then| {
        when.method(POST).path(PATH);
        then.status(400)
            .header("content-type", "application/problem+json")
            .json_body(json!({
                "statusCode": 400,
                "message": "One or more errors occurred!",
                "errors": {"clientSecret": ["Invalid client credentials"]}
            }));
    });
    let client = Client::new(&server.base_url()).unwrap();
    let Err(Error::ErrorResponse(err)) = client.get_token_endpoint(&request()).await else {
        panic!("expected a typed 400");
    };
    assert_eq!(err.status(), 400);
    assert_eq!(err.status_code, 400);
    assert_eq!(err.message, "One or more errors occurred!");
    assert_eq!(err.errors["clientSecret"], ["Invalid client credentials"]);
}

#[tokio::test]
async fn the_typed_mock_extension_serves_the_documented_responses() {
    use teez_api::mock::MockServerExt;
    let server = MockServer::start_async().await;
    let mock = server.get_token_endpoint(|when, then| {
        when.body(&request());
        then.ok(
            &teez_api::types::TeezB2bGatewayApiEndpointsAuthGetTokenGetTokenEndpointResponse {
                access_token: Some("tok-mock".into()),
                expires_in: Some(60),
                token_type: Some("Bearer".into()),
            },
        );
    });
    let client = Client::new(&server.base_url()).unwrap();
    let token = client.get_token_endpoint(&request()).await.unwrap();
    mock.assert();
    assert_eq!(token.access_token.as_deref(), Some("tok-mock"));
}

/// The spec's `clientSecret` rules (`minLength: 8`, `pattern: '[0-9]'`) are enforced by the
/// generated type, so a bad secret never leaves the process.
#[tokio::test]
async fn a_secret_breaking_the_spec_rules_is_rejected_before_sending() {
    let server = MockServer::start_async().await;
    let mock = server.mock(|when, then| {
        when.any_request();
        then.status(200);
    });
    for bad in ["short1", "no-digits-here", ""] {
        assert!(ClientSecret::try_from(bad).is_err(), "{bad:?} accepted");
        // Deserializing (how a body built from JSON or config arrives) enforces it too.
        let body = serde_json::from_value::<TokenRequest>(
            json!({"clientId": "seller-42", "clientSecret": bad}),
        );
        assert!(body.is_err(), "{bad:?} accepted from JSON");
    }
    assert!(ClientSecret::try_from("longer-with-1-digit").is_ok());
    assert_eq!(mock.calls(), 0);
}

#[tokio::test]
async fn malformed_responses_are_typed_errors() {
    check_malformed_responses(PATH, 400, |base_url| async move {
        let client = Client::new(&base_url).unwrap();
        outcome(client.get_token_endpoint(&request()).await)
    })
    .await;
}

#[test]
fn a_bad_base_url_is_an_error_not_a_panic() {
    assert!(Client::new("seller-api.teez.kz").is_err());
    assert!(Client::new(teez_api::servers::SELLER_API).is_ok());
}

/// The typed httpmock extensions (`mock` feature): the request matcher matches the JSON
/// body the client sends, and the response builders give what the client decodes.
#[tokio::test]
async fn the_typed_mock_matches_the_json_body_and_builds_every_response() {
    use teez_api::mock::MockServerExt;
    use teez_api::types::{
        FastEndpointsErrorResponse,
        TeezB2bGatewayApiEndpointsAuthGetTokenGetTokenEndpointResponse as TokenResponse,
    };

    let server = MockServer::start_async().await;
    let mock = server.get_token_endpoint(|when, then| {
        when.body(&request());
        then.ok(&TokenResponse {
            access_token: Some("tok-typed".into()),
            expires_in: Some(3600),
            token_type: Some("Bearer".into()),
        });
    });
    let client = Client::new(&server.base_url()).unwrap();
    let token = client
        .get_token_endpoint(&request())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mock.calls_async().await, 1);
    assert_eq!(token.access_token.as_deref(), Some("tok-typed"));

    let server = MockServer::start_async().await;
    let mock = server.get_token_endpoint(|when, then| {
        when.body(&request());
        then.bad_request(&FastEndpointsErrorResponse {
            errors: [("clientSecret".to_owned(), vec!["too short".to_owned()])].into(),
            message: "One or more errors occurred!".into(),
            status_code: 400,
        });
    });
    let client = Client::new(&server.base_url()).unwrap();
    let Err(Error::ErrorResponse(err)) = client.get_token_endpoint(&request()).await else {
        panic!("expected a typed 400");
    };
    assert_eq!(mock.calls_async().await, 1);
    assert_eq!(err.status(), 400);
    assert_eq!(err.errors["clientSecret"], ["too short"]);
}

#[test]
fn with_feature_schemars_the_request_type_has_the_spec_s_json_schema() {
    let (properties, required) = workspace_tests::schema_fields::<
        teez_api::types::TeezB2bGatewayApiEndpointsAuthGetTokenGetTokenEndpointRequest,
    >();
    // The spec's request body: these properties, all required.
    let expected: Vec<String> = ["clientId", "clientSecret"].map(String::from).to_vec();
    assert_eq!((properties, required), (expected.clone(), expected));
}
