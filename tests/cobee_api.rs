//! `cobee-api` (generated from `specs/cobee.yaml`; its operation id derived by
//! `derive_missing_operation_ids`) against an httpmock server on loopback.
//!
//! Cobee: JSON body `{clientId, clientSecret}`, no Basic auth, camelCase response,
//! 400/401 `{error, message}` (the schema requires `error`; real bodies may omit it).

use cobee_api::types::AuthenticateRequest;
use cobee_api::{Client, Error};
use httpmock::prelude::*;
use serde_json::json;
use workspace_tests::{check_malformed_responses, outcome};

const PATH: &str = "/oauth/token";

fn body() -> AuthenticateRequest {
    AuthenticateRequest {
        client_id: "cobee-client".into(),
        client_secret: "cobee-secret".into(),
    }
}

#[tokio::test]
async fn sends_a_json_body_and_no_authorization_header() {
    let server = MockServer::start_async().await;
    let mock = server.mock(|when, then| {
        when.method(POST)
            .path("/api/v3/oauth/token")
            .header("content-type", "application/json")
            .header_missing("authorization")
            .json_body(json!({"clientId": "cobee-client", "clientSecret": "cobee-secret"}));
        then.status(200)
            .header("content-type", "application/json")
            .json_body(
                json!({"accessToken": "eyJ.x.y", "tokenType": "Bearer", "expiresIn": 86400}),
            );
    });
    // Cobee's servers carry a path stem; the client keeps it.
    let client = Client::new(&format!("{}/api/v3/", server.base_url())).unwrap();
    let token = client.post_oauth_token(&body()).await.unwrap().into_inner();
    mock.assert();
    assert_eq!(token.access_token.as_deref(), Some("eyJ.x.y"));
    assert_eq!(token.token_type.as_deref(), Some("Bearer"));
    assert_eq!(token.expires_in, Some(86400));
}

#[tokio::test]
async fn documented_errors_decode_into_the_error_schema() {
    for status in [400, 401] {
        let server = MockServer::start_async().await;
        server.mock(|when, then| {
            when.method(POST).path(PATH);
            then.status(status)
                .header("content-type", "application/json")
                .json_body(json!({"error": status, "message": "Unauthorized"}));
        });
        let client = Client::new(&server.base_url()).unwrap();
        let Err(Error::ErrorResponse(err)) = client.post_oauth_token(&body()).await else {
            panic!("expected a typed {status}");
        };
        assert_eq!(err.status(), status);
        assert_eq!(err.error.map(i64::from), Some(i64::from(status)));
        assert_eq!(err.message, "Unauthorized");
    }
}

/// The spec's own 400 and 401 examples have no `error`, which its schema requires; the
/// generated client types them all the same (`required_properties_examples_omit`). Before
/// that pass, both were `InvalidResponsePayload` ("missing field `error`"), against the
/// crate docs' "a documented error status comes back as `Error::ErrorResponse`".
#[tokio::test]
async fn the_documented_examples_without_error_come_back_typed() {
    for (status, example) in [
        (
            400,
            json!({"code": "validation_error", "message": "body: must have required property 'clientId'"}),
        ),
        (401, json!({"message": "Unauthorized"})),
    ] {
        let server = MockServer::start_async().await;
        server.mock(|when, then| {
            when.method(POST).path(PATH);
            then.status(status)
                .header("content-type", "application/json")
                .json_body(example.clone());
        });
        let client = Client::new(&server.base_url()).unwrap();
        let Err(Error::ErrorResponse(err)) = client.post_oauth_token(&body()).await else {
            panic!("the documented {status} example is not typed");
        };
        assert_eq!(err.status(), status);
        assert_eq!(err.error, None);
        assert_eq!(Some(err.message.as_str()), example["message"].as_str());
    }
}

#[tokio::test]
async fn malformed_responses_are_typed_errors() {
    check_malformed_responses(PATH, 401, |base_url| async move {
        let client = Client::new(&base_url).unwrap();
        outcome(client.post_oauth_token(&body()).await)
    })
    .await;
}

/// The typed httpmock extensions (`mock` feature): the request matcher matches the JSON
/// body the client sends, and the response builders give what the client decodes.
#[tokio::test]
async fn the_typed_mock_matches_the_json_body_and_builds_every_response() {
    use cobee_api::mock::MockServerExt;
    use cobee_api::types::{Error as ErrorBody, PostOauthTokenResponse};

    let server = MockServer::start_async().await;
    let mock = server.post_oauth_token(|when, then| {
        when.body(&body());
        then.ok(&PostOauthTokenResponse {
            access_token: Some("eyJ.typed".into()),
            expires_in: Some(86400),
            token_type: Some("Bearer".into()),
        });
    });
    let client = Client::new(&server.base_url()).unwrap();
    let token = client.post_oauth_token(&body()).await.unwrap().into_inner();
    assert_eq!(mock.calls_async().await, 1);
    assert_eq!(token.access_token.as_deref(), Some("eyJ.typed"));

    for status in [400u16, 401] {
        let server = MockServer::start_async().await;
        let error = ErrorBody {
            error: Some(i32::from(status)),
            message: "typed".into(),
        };
        let mock = server.post_oauth_token(|when, then| {
            when.body(&body());
            if status == 400 {
                then.bad_request(&error);
            } else {
                then.unauthorized(&error);
            }
        });
        let client = Client::new(&server.base_url()).unwrap();
        let Err(Error::ErrorResponse(err)) = client.post_oauth_token(&body()).await else {
            panic!("expected a typed {status}");
        };
        assert_eq!(mock.calls_async().await, 1);
        assert_eq!(err.status(), status);
        assert_eq!(err.message, "typed");
    }
}

#[test]
fn with_feature_schemars_the_request_type_has_the_spec_s_json_schema() {
    let (properties, required) =
        workspace_tests::schema_fields::<cobee_api::types::AuthenticateRequest>();
    // The spec's request body: these properties, all required.
    let expected: Vec<String> = ["clientId", "clientSecret"].map(String::from).to_vec();
    assert_eq!((properties, required), (expected.clone(), expected));
}

/// From review: the secret travels in the body, so a caller's `reqwest::Client` that
/// follows redirects (`reqwest::Client::new()`'s default) must not send it on to where a
/// 307 or 308 from the token endpoint points, here another host (another port).
#[tokio::test]
async fn a_caller_s_redirect_following_client_does_not_resend_the_secret() {
    for status in [307, 308] {
        let elsewhere = MockServer::start_async().await;
        let stolen = elsewhere.mock(|when, then| {
            when.any_request();
            then.status(200)
                .header("content-type", "application/json")
                .json_body(
                    json!({"accessToken": "eyJ.x.y", "tokenType": "Bearer", "expiresIn": 60}),
                );
        });
        let server = MockServer::start_async().await;
        server.mock(|when, then| {
            when.method(POST).path(PATH);
            then.status(status)
                .header("location", elsewhere.url("/collect"));
        });
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let client = Client::with_http_client(&server.base_url(), http).unwrap();
        let result = client.post_oauth_token(&body()).await;
        assert_eq!(
            stolen.calls_async().await,
            0,
            "{status}: the body with the secret went on to the redirect's target"
        );
        assert!(result.is_err(), "{status}: a redirect is not a token");
    }
}
