//! `dinie-api` (generated from `specs/dinie.yaml`, written from Dinie's field list) against
//! an httpmock server on loopback.
//!
//! Dinie: HTTP Basic `client_id:client_secret`, form body `grant_type=client_credentials`,
//! RFC 9457 problem+json errors for 400, 401, 429 and 500.

use dinie_api::types::{Problem, TokenRequest, TokenRequestGrantType, TokenResponseTokenType};
use dinie_api::{BasicCredentials, Client, Error};
use httpmock::prelude::*;
use serde_json::json;
use workspace_tests::{check_malformed_responses, outcome};

const PATH: &str = "/auth/token";

fn body() -> TokenRequest {
    TokenRequest {
        grant_type: TokenRequestGrantType::ClientCredentials,
    }
}

fn client(base_url: &str) -> Client {
    Client::new(base_url)
        .unwrap()
        .with_credentials(BasicCredentials::new("dinie_ci_123", "dinie_cs_live_a:b"))
}

#[tokio::test]
async fn sends_basic_auth_with_rfc_6749_encoding_and_a_form_body() {
    let server = MockServer::start_async().await;
    let mock = server.mock(|when, then| {
        when.method(POST)
            .path(PATH)
            .header("content-type", "application/x-www-form-urlencoded")
            // base64("dinie_ci_123:dinie_cs_live_a%3Ab"): the secret's `:` is form-encoded.
            .header(
                "authorization",
                "Basic ZGluaWVfY2lfMTIzOmRpbmllX2NzX2xpdmVfYSUzQWI=",
            )
            .body("grant_type=client_credentials");
        then.status(200)
            .header("content-type", "application/json")
            .json_body(json!({"access_token": "dinie_at_eyJ.x.y", "token_type": "bearer", "expires_in": 3600}));
    });
    let token = client(&server.base_url())
        .create_auth_token(&body())
        .await
        .unwrap()
        .into_inner();
    mock.assert();
    assert_eq!(token.access_token, "dinie_at_eyJ.x.y");
    assert_eq!(token.token_type, TokenResponseTokenType::Bearer);
    assert_eq!(token.expires_in, 3600);
}

#[tokio::test]
async fn every_documented_status_decodes_into_a_problem() {
    for (status, code) in [
        (400, "invalid_request"),
        (401, "invalid_token"),
        (429, "rate_limit_exceeded"),
        (500, "internal_error"),
    ] {
        let server = MockServer::start_async().await;
        server.mock(|when, then| {
            when.method(POST).path(PATH);
            then.status(status)
                .header("content-type", "application/problem+json")
                .json_body(json!({
                    "type": "https://docs.dinie.com.br/errors/x",
                    "title": "Problem",
                    "status": status,
                    "detail": "Something specific",
                    "code": code,
                    "errors": [{"param": "grant_type", "detail": "must be client_credentials"}]
                }));
        });
        let Err(Error::ErrorResponse(err)) =
            client(&server.base_url()).create_auth_token(&body()).await
        else {
            panic!("expected a typed {status}");
        };
        assert_eq!(err.status(), status);
        let problem: &Problem = &err;
        assert_eq!(problem.code.as_deref(), Some(code));
        assert_eq!(problem.status, i64::from(status));
        assert_eq!(problem.errors[0].param, "grant_type");
    }
}

#[tokio::test]
async fn malformed_responses_are_typed_errors() {
    check_malformed_responses(PATH, 401, |base_url| async move {
        outcome(client(&base_url).create_auth_token(&body()).await)
    })
    .await;
}

/// The typed httpmock extensions (`mock` feature): the request matcher matches the form
/// body the client sends, and the response builders give what the client decodes.
#[tokio::test]
async fn the_typed_mock_matches_the_form_body_and_builds_every_response() {
    use dinie_api::mock::MockServerExt;
    use dinie_api::types::TokenResponse;

    let server = MockServer::start_async().await;
    let mock = server.create_auth_token(|when, then| {
        when.body(&body());
        then.ok(&TokenResponse {
            access_token: "dinie_at_typed".into(),
            token_type: TokenResponseTokenType::Bearer,
            expires_in: 3600,
        });
    });
    let token = client(&server.base_url())
        .create_auth_token(&body())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mock.calls_async().await, 1);
    assert_eq!(token.access_token, "dinie_at_typed");
    assert_eq!(token.expires_in, 3600);

    let problem = |status: i64| Problem {
        type_: "https://docs.dinie.com.br/errors/x".into(),
        title: "Problem".into(),
        status,
        detail: "typed".into(),
        instance: None,
        code: Some("typed_code".into()),
        param: None,
        errors: Vec::new(),
    };
    type Builder = fn(
        dinie_api::mock::operations::CreateAuthTokenThen,
        &Problem,
    ) -> dinie_api::mock::operations::CreateAuthTokenThen;
    let builders: [(i64, Builder); 4] = [
        (400, |then, p| then.bad_request(p)),
        (401, |then, p| then.unauthorized(p)),
        (429, |then, p| then.too_many_requests(p)),
        (500, |then, p| then.internal_server_error(p)),
    ];
    for (status, build) in builders {
        let server = MockServer::start_async().await;
        let mock = server.create_auth_token(|when, then| {
            when.body(&body());
            build(then, &problem(status));
        });
        let Err(Error::ErrorResponse(err)) =
            client(&server.base_url()).create_auth_token(&body()).await
        else {
            panic!("expected a typed {status}");
        };
        assert_eq!(mock.calls_async().await, 1);
        assert_eq!(i64::from(err.status().as_u16()), status);
        assert_eq!(err.code.as_deref(), Some("typed_code"));
    }
}

#[test]
fn with_feature_schemars_the_request_type_has_the_spec_s_json_schema() {
    let (properties, required) = workspace_tests::schema_fields::<dinie_api::types::TokenRequest>();
    // The spec's request body: these properties, all required.
    let expected: Vec<String> = ["grant_type"].map(String::from).to_vec();
    assert_eq!((properties, required), (expected.clone(), expected));
}

/// From review: a client's `Debug` shows no secret, and its observer's copy of a token
/// response is one: not the token, nor its bytes as numbers.
#[tokio::test]
async fn a_capturing_observer_shows_no_captured_body_in_debug() {
    let server = MockServer::start_async().await;
    server.mock(|when, then| {
        when.method(POST).path(PATH);
        then.status(200)
            .header("content-type", "application/json")
            .json_body(json!({"access_token": "dinie_at_SECRETTOKEN", "token_type": "bearer", "expires_in": 3600}));
    });
    let observer = dinie_api::ResponseObserver::capturing_body();
    let client = client(&server.base_url()).with_response_observer(observer.clone());
    client.create_auth_token(&body()).await.unwrap();
    assert!(observer.body().unwrap().len() > 20, "the body was captured");
    let token_bytes = "SECRETTOKEN"
        .bytes()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    for shown in [format!("{client:?}"), format!("{observer:?}")] {
        assert!(!shown.contains("SECRETTOKEN"), "{shown}");
        assert!(!shown.contains(&token_bytes), "{shown}");
        assert!(!shown.contains("dinie_cs_live"), "{shown}");
    }
}

/// The crate docs: "An `Error::InvalidResponsePayload` holds the body as it came, and its
/// `Display` and `Debug` show it: for a token response that did not decode, the token."
/// (A token type outside the spec's enum is such a response.)
#[tokio::test]
async fn an_undecodable_token_response_shows_its_body_in_the_error_as_documented() {
    let server = MockServer::start_async().await;
    server.mock(|when, then| {
        when.method(POST).path(PATH);
        then.status(200).json_body(json!({
            "access_token": "dinie_at_shown_in_the_error",
            "token_type": "mac",
            "expires_in": 3600
        }));
    });
    let err = client(&server.base_url())
        .create_auth_token(&body())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidResponsePayload(..)), "{err:?}");
    assert!(
        err.to_string().contains("dinie_at_shown_in_the_error"),
        "{err}"
    );
    assert!(format!("{err:?}").contains("dinie_at_shown_in_the_error"));
}

/// `Client::with_http_client`'s docs: a caller's client that follows redirects "follows a
/// 301, 302 or 303 anywhere, and sends Basic credentials again within the same origin"
/// (reqwest's doing: why the docs ask for `redirect::Policy::none()`). Another origin
/// gets no credentials, but its answer comes back as the token.
#[tokio::test]
async fn a_callers_redirect_following_client_follows_as_the_docs_warn() {
    let token = json!({"access_token": "dinie_at_from_elsewhere", "token_type": "bearer", "expires_in": 3600});
    let (api, elsewhere) = (
        MockServer::start_async().await,
        MockServer::start_async().await,
    );
    api.mock(|when, then| {
        when.method(POST).path(PATH);
        then.status(302).header("location", elsewhere.url("/other"));
    });
    let other = elsewhere.mock(|when, then| {
        when.method(GET)
            .path("/other")
            .header_missing("authorization");
        then.status(200).json_body(token.clone());
    });
    let http = || reqwest::Client::builder().no_proxy().build().unwrap();
    let followed = Client::with_http_client(&api.base_url(), http())
        .unwrap()
        .with_credentials(BasicCredentials::new("dinie_ci_123", "dinie_cs_live_a:b"))
        .create_auth_token(&body())
        .await
        .unwrap();
    assert_eq!(followed.access_token, "dinie_at_from_elsewhere");
    other.assert_async().await;

    // Within the origin, the Basic header goes along (a 307 keeps the method and body).
    let same = MockServer::start_async().await;
    same.mock(|when, then| {
        when.method(POST).path(PATH);
        then.status(307).header("location", "/again");
    });
    let again = same.mock(|when, then| {
        when.method(POST)
            .path("/again")
            .header_matches("authorization", "^Basic ");
        then.status(200).json_body(token.clone());
    });
    Client::with_http_client(&same.base_url(), http())
        .unwrap()
        .with_credentials(BasicCredentials::new("dinie_ci_123", "dinie_cs_live_a:b"))
        .create_auth_token(&body())
        .await
        .unwrap();
    again.assert_async().await;
}
