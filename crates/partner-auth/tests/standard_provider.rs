//! `Provider::Standard`: any RFC 6749 client-credentials endpoint, with the same
//! `AccessToken`, `Error`, `TokenSource` and middleware as the partners, against the
//! sandbox's standard endpoint and httpmock.

#[path = "common/sandbox.rs"]
mod sandbox_client;

use base64::Engine as _;
use httpmock::prelude::*;
use partner_auth::{
    AuthMiddleware, Client, ClientAuth, Credentials, ErrorKind, Provider, TokenSource,
};
use partner_sandbox::Sandbox;
use sandbox_client::SandboxExt as _;

fn origin(url: &str) -> String {
    let url = reqwest::Url::parse(url).unwrap();
    format!(
        "http://{}:{}/",
        url.host_str().unwrap(),
        url.port().unwrap()
    )
}

#[tokio::test]
async fn basic_and_body_client_auth_both_get_a_token_that_the_api_takes() {
    let sandbox = Sandbox::start().await.unwrap();
    let endpoint = sandbox.standard_endpoint();
    assert_eq!(endpoint.provider, Provider::Standard.name());
    for auth in [ClientAuth::Basic, ClientAuth::Body] {
        let client = sandbox
            .client_builder(Provider::Standard)
            .client_auth(auth)
            .build()
            .unwrap();
        assert_eq!(client.environment(), "custom");
        let source = TokenSource::new(client);
        let api = reqwest_middleware::ClientBuilder::new(
            reqwest::Client::builder().no_proxy().build().unwrap(),
        )
        .with(AuthMiddleware::new(source.clone(), origin(&endpoint.protected_url())).unwrap())
        .build();
        for _ in 0..3 {
            let response = api.get(endpoint.protected_url()).send().await.unwrap();
            assert_eq!(response.status(), 200, "{auth}");
        }
        let token = source.token().await.unwrap();
        assert_eq!(token.provider(), Provider::Standard);
        assert_eq!(token.lifetime().unwrap().as_secs(), 3600);
        assert_eq!(source.stats().token_requests, 1, "{auth}");
    }
    assert_eq!(sandbox.stats(Provider::Standard).tokens_issued, 2);
}

#[tokio::test]
async fn a_wrong_secret_is_invalid_credentials_and_a_rate_limit_says_when() {
    let sandbox = Sandbox::builder()
        .rate_limit(Provider::Standard, Some(1))
        .start()
        .await
        .unwrap();
    let endpoint = sandbox.standard_endpoint();
    let wrong = Client::builder(Provider::Standard)
        .base_url(&endpoint.base_url)
        .credentials(Credentials::new(endpoint.client_id, "not-the-secret-0001"))
        .build()
        .unwrap();
    let error = wrong.fetch_token().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidCredentials, "{error}");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(401));
    assert!(error.to_string().contains("standard/custom"), "{error}");
    assert!(!format!("{error} {error:?}").contains("not-the-secret-0001"));

    let client = sandbox.client_builder(Provider::Standard).build().unwrap();
    let limited = client.fetch_token().await.unwrap_err();
    assert_eq!(limited.kind(), ErrorKind::RateLimited, "{limited}");
    assert!(
        limited
            .retry_after()
            .is_some_and(|wait| wait.as_secs() >= 1)
    );
}

#[tokio::test]
async fn the_request_is_rfc_6749_form_with_encoded_basic_credentials_and_the_scope() {
    let server = MockServer::start_async().await;
    // §2.3.1: id and secret form-urlencoded, then joined and Base64-encoded.
    let basic = base64::engine::general_purpose::STANDARD.encode("id%3Aone:s%26cret+1");
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/oauth2/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("authorization", format!("Basic {basic}"))
                .form_urlencoded_tuple("grant_type", "client_credentials")
                .form_urlencoded_tuple("scope", "orders:read orders:write");
            then.status(200)
                .header("content-type", "application/json")
                .body(r#"{"access_token":"tok-1","token_type":"bearer","expires_in":120}"#);
        })
        .await;
    let client = Client::builder(Provider::Standard)
        .base_url(server.url("/oauth2/token"))
        .credentials(Credentials::new("id:one", "s&cret 1"))
        .scope("orders:read orders:write")
        .build()
        .unwrap();
    let token = client.fetch_token().await.unwrap();
    assert_eq!(token.expose_secret(), "tok-1");
    assert_eq!(token.lifetime().unwrap().as_secs(), 120);
    mock.assert_async().await;

    // In the body instead: no Authorization header, both credentials as fields.
    let body_mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/body/token")
                .header_missing("authorization")
                .form_urlencoded_tuple("client_id", "id:one")
                .form_urlencoded_tuple("client_secret", "s&cret 1");
            then.status(200)
                .header("content-type", "application/json")
                .body(r#"{"access_token":"tok-2","token_type":"Bearer","expires_in":60}"#);
        })
        .await;
    let client = Client::builder(Provider::Standard)
        .base_url(server.url("/body/token"))
        .credentials(Credentials::new("id:one", "s&cret 1"))
        .client_auth(ClientAuth::Body)
        .build()
        .unwrap();
    assert_eq!(client.fetch_token().await.unwrap().expose_secret(), "tok-2");
    body_mock.assert_async().await;
}

#[tokio::test]
async fn rfc_6749_errors_map_like_the_partners_errors() {
    let server = MockServer::start_async().await;
    for (status, body, kind) in [
        (
            400,
            r#"{"error":"invalid_client"}"#,
            ErrorKind::InvalidCredentials,
        ),
        (
            400,
            r#"{"error":"invalid_scope","error_description":"no such scope"}"#,
            ErrorKind::InvalidRequest,
        ),
        (
            503,
            "<html>bad gateway</html>",
            ErrorKind::ProviderUnavailable,
        ),
        (
            200,
            r#"{"token_type":"Bearer"}"#,
            ErrorKind::InvalidResponse,
        ),
    ] {
        let path = format!("/t{status}{}", body.len());
        server
            .mock_async(|when, then| {
                when.method(POST).path(path.clone());
                then.status(status)
                    .header("content-type", "application/json")
                    .body(body);
            })
            .await;
        let client = Client::builder(Provider::Standard)
            .base_url(server.url(&path))
            .credentials(Credentials::new("id", "secret-value-1"))
            .build()
            .unwrap();
        let error = client.fetch_token().await.unwrap_err();
        assert_eq!(error.kind(), kind, "{status} {body}: {error}");
    }
}

#[test]
fn misuse_is_a_configuration_error() {
    let credentials = || Credentials::new("id", "secret-value-1");
    let refused = [
        // No named environments: the token URL is required.
        Client::builder(Provider::Standard)
            .credentials(credentials())
            .build(),
        Client::builder(Provider::Standard)
            .environment("production")
            .credentials(credentials())
            .build(),
        // The partners' client authentication and scope are fixed.
        Client::builder(Provider::Teez)
            .client_auth(ClientAuth::Basic)
            .credentials(Credentials::new("id", "secret-value-1"))
            .build(),
        Client::builder(Provider::Dinie)
            .scope("read")
            .credentials(credentials())
            .build(),
        // Extra parameters are for a standard provider, named, and never one the client
        // writes itself.
        Client::builder(Provider::Dinie)
            .extra_param("audience", "https://api.example.invalid")
            .credentials(credentials())
            .build(),
        Client::builder(Provider::Standard)
            .base_url("https://auth.example.invalid/token")
            .extra_param("", "value")
            .credentials(credentials())
            .build(),
        Client::builder(Provider::Standard)
            .base_url("https://auth.example.invalid/token")
            .extra_param("scope", "read")
            .credentials(credentials())
            .build(),
        Client::builder(Provider::Standard)
            .base_url("https://auth.example.invalid/token")
            .extra_param("client_secret", "another-secret")
            .credentials(credentials())
            .build(),
        // A scope is printable ASCII tokens (RFC 6749 §3.3).
        Client::builder(Provider::Standard)
            .base_url("https://auth.example.invalid/token")
            .scope("read\nwrite")
            .credentials(credentials())
            .build(),
        Client::builder(Provider::Standard)
            .base_url("https://auth.example.invalid/token")
            .scope("  ")
            .credentials(credentials())
            .build(),
        // Plain http only to loopback, as for the partners.
        Client::builder(Provider::Standard)
            .base_url("http://auth.example.invalid/token")
            .credentials(credentials())
            .build(),
    ];
    for (i, result) in refused.into_iter().enumerate() {
        let error = result.expect_err(&format!("case {i} was accepted"));
        assert!(
            matches!(
                error.kind(),
                ErrorKind::Configuration | ErrorKind::InsecureTransport
            ),
            "case {i}: {error}"
        );
    }
    // The partner's own way, named explicitly, is fine.
    Client::builder(Provider::Dinie)
        .client_auth(ClientAuth::Basic)
        .credentials(credentials())
        .build()
        .unwrap();
}

/// Extra parameters (Auth0's `audience`, RFC 8707's `resource`) go after the grant and the
/// scope, in the order given, a name as often as it is given; `Debug` names them and shows
/// no value.
#[tokio::test]
async fn extra_params_are_sent_in_order_after_the_scope() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST).path("/token").body(
                "grant_type=client_credentials&scope=read&audience=https%3A%2F%2Fapi.example.\
                 invalid%2Fv1&resource=urn%3Aa&resource=urn%3Ab+c",
            );
            then.status(200)
                .header("content-type", "application/json")
                .body(r#"{"access_token":"tok-aud","token_type":"Bearer","expires_in":60}"#);
        })
        .await;
    let builder = Client::builder(Provider::Standard)
        .base_url(server.url("/token"))
        .credentials(Credentials::new("id", "secret-value-1"))
        .scope("read")
        .extra_param("audience", "https://api.example.invalid/v1")
        .extra_param("resource", "urn:a")
        .extra_param("resource", "urn:b c");
    let shown = format!("{builder:?}");
    assert!(
        shown.contains(r#"extra_params: ["audience", "resource", "resource"]"#),
        "{shown}"
    );
    assert!(!shown.contains("urn:a"), "{shown}");
    let client = builder.build().unwrap();
    assert_eq!(
        client.extra_params(),
        [
            (
                "audience".to_owned(),
                "https://api.example.invalid/v1".to_owned()
            ),
            ("resource".to_owned(), "urn:a".to_owned()),
            ("resource".to_owned(), "urn:b c".to_owned()),
        ]
    );
    assert_eq!(
        client.fetch_token().await.unwrap().expose_secret(),
        "tok-aud"
    );
    mock.assert_async().await;
}

/// The scope granted (RFC 6749 §5.1): the response's when it names one, else the one asked
/// for; none when neither is there. `Debug` and `Serialize` show it.
#[tokio::test]
async fn a_token_carries_the_scope_granted() {
    let server = MockServer::start_async().await;
    // (path, scope asked for, the response's scope field, the scope expected)
    let cases: [(&str, Option<&str>, &str, Option<&str>); 5] = [
        (
            "/narrowed",
            Some("read write"),
            r#","scope":"read""#,
            Some("read"),
        ),
        ("/same", Some("read write"), "", Some("read write")),
        (
            "/not-a-string",
            Some("read"),
            r#","scope":["admin"]"#,
            Some("read"),
        ),
        ("/none", None, "", None),
        ("/unasked", None, r#","scope":"default""#, Some("default")),
    ];
    for (path, asked, field, _) in cases {
        server
            .mock_async(|when, then| {
                let when = when.method(POST).path(path);
                match asked {
                    Some(scope) => when.form_urlencoded_tuple("scope", scope),
                    None => when.form_urlencoded_tuple_missing("scope"),
                };
                then.status(200)
                    .header("content-type", "application/json")
                    .body(format!(
                        r#"{{"access_token":"tok","token_type":"Bearer","expires_in":60{field}}}"#
                    ));
            })
            .await;
    }
    for (path, asked, _, expected) in cases {
        let mut builder = Client::builder(Provider::Standard)
            .base_url(server.url(path))
            .credentials(Credentials::new("id", "secret-value-1"));
        if let Some(scope) = asked {
            builder = builder.scope(scope);
        }
        let token = builder.build().unwrap().fetch_token().await.unwrap();
        assert_eq!(token.scope(), expected, "{path}");
        let json = serde_json::to_value(&token).unwrap();
        assert_eq!(
            json.get("scope").and_then(|s| s.as_str()),
            expected,
            "{path}"
        );
        assert_eq!(
            format!("{token:?}").contains("scope: Some"),
            expected.is_some(),
            "{path}: {token:?}"
        );
    }
}

/// A token for one audience is no token for another: a [`TokenCache`] keeps a source per
/// scope and set of extra parameters, and one for each repeat of the same set.
#[tokio::test]
async fn a_token_cache_keeps_a_token_per_audience() {
    let server = MockServer::start_async().await;
    let mut mocks = Vec::new();
    for audience in ["api-a", "api-b"] {
        mocks.push(
            server
                .mock_async(|when, then| {
                    when.method(POST)
                        .path("/token")
                        .form_urlencoded_tuple("audience", audience);
                    then.status(200)
                        .header("content-type", "application/json")
                        .body(format!(
                            r#"{{"access_token":"tok-{audience}","token_type":"Bearer","expires_in":600}}"#
                        ));
                })
                .await,
        );
    }
    let client = |audience: &str| {
        Client::builder(Provider::Standard)
            .base_url(server.url("/token"))
            .credentials(Credentials::new("id", "secret-value-1"))
            .extra_param("audience", audience)
            .build()
            .unwrap()
    };
    let cache = partner_auth::TokenCache::new();
    for _ in 0..3 {
        for audience in ["api-a", "api-b"] {
            let token = cache.token(&client(audience)).await.unwrap();
            assert_eq!(token.expose_secret(), format!("tok-{audience}"));
        }
    }
    assert_eq!(cache.len(), 2);
    for mock in &mocks {
        assert_eq!(mock.calls_async().await, 1);
    }
}

/// Found by review: a name given twice in `extra_params` (JSON and YAML allow it) kept the
/// last value, silently; it is an error that says to give a list.
#[test]
fn a_name_given_twice_in_extra_params_is_refused() {
    let json = r#"{"provider": "standard", "base_url": "https://auth.example.invalid/token",
        "client_id": "id", "client_secret": "secret-value-1",
        "extra_params": {"audience": "aud-1", "resource": "r1", "audience": "aud-2"}}"#;
    let yaml = "provider: standard\nbase_url: https://auth.example.invalid/token\n\
                client_id: id\nclient_secret: secret-value-1\n\
                extra_params:\n  audience: aud-1\n  audience: aud-2\n";
    let errors = [
        serde_json::from_str::<partner_auth::ClientConfig>(json)
            .map(|_| ())
            .unwrap_err()
            .to_string(),
        serde_yaml_ng::from_str::<partner_auth::ClientConfig>(yaml)
            .map(|_| ())
            .unwrap_err()
            .to_string(),
    ];
    for error in errors {
        assert!(
            error.contains("extra parameter `audience` given twice"),
            "{error}"
        );
        assert!(!error.contains("secret-value-1"), "{error}");
    }
    // Names that differ only in case are two parameters, as a form sends them.
    let config: partner_auth::ClientConfig =
        serde_json::from_str(&json.replace(r#""audience": "aud-2""#, r#""Audience": "aud-2""#))
            .unwrap();
    assert_eq!(config.extra_params.len(), 3);
}

/// `extra_params` in a configuration: a name with one value or a list of them, sent by
/// name in alphabetical order, a list's values in its order. Anything else for a value is
/// refused, and `Debug` shows only the names.
#[tokio::test]
async fn extra_params_read_from_configuration() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/token")
                .body("grant_type=client_credentials&audience=aud-1&resource=r2&resource=r1");
            then.status(200)
                .header("content-type", "application/json")
                .body(r#"{"access_token":"tok-cfg","token_type":"Bearer","expires_in":60}"#);
        })
        .await;
    let config = |params: serde_json::Value| {
        serde_json::from_value::<partner_auth::ClientConfig>(serde_json::json!({
            "provider": "standard",
            "base_url": server.url("/token"),
            "client_id": "id",
            "client_secret": "secret-value-1",
            "extra_params": params,
        }))
    };
    let good = config(serde_json::json!({"resource": ["r2", "r1"], "audience": "aud-1"})).unwrap();
    let shown = format!("{good:?}");
    assert!(
        shown.contains(r#"extra_params: ["audience", "resource"]"#),
        "{shown}"
    );
    assert!(!shown.contains("aud-1"), "{shown}");
    let token = good.client().unwrap().fetch_token().await.unwrap();
    assert_eq!(token.expose_secret(), "tok-cfg");
    mock.assert_async().await;

    for bad in [
        serde_json::json!({"audience": 5}),
        serde_json::json!({"resource": ["r1", 2]}),
        serde_json::json!(["audience", "aud-1"]),
    ] {
        let error = config(bad.clone()).map(|_| ()).unwrap_err().to_string();
        assert!(
            error.contains("a string or a list of strings") || error.contains("a map"),
            "{bad}: {error}"
        );
    }
    // A partner takes none: the configuration reads, the client is refused.
    let partner: partner_auth::ClientConfig = serde_json::from_value(serde_json::json!({
        "provider": "dinie",
        "client_id": "id",
        "client_secret": "secret-value-1",
        "extra_params": {"audience": "aud-1"},
    }))
    .unwrap();
    let error = partner.client().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Configuration, "{error}");
    assert!(
        error.to_string().contains("takes no extra parameters"),
        "{error}"
    );
}

#[tokio::test]
async fn a_standard_provider_reads_from_configuration() {
    let sandbox = Sandbox::start().await.unwrap();
    let endpoint = sandbox.standard_endpoint();
    let config: partner_auth::ClientConfig = serde_json::from_value(serde_json::json!({
        "provider": "standard",
        "base_url": endpoint.base_url,
        "client_id": endpoint.client_id,
        "client_secret": endpoint.client_secret,
        "client_auth": "body",
    }))
    .unwrap();
    assert_eq!(config.client_auth, Some(ClientAuth::Body));
    config.client().unwrap().fetch_token().await.unwrap();
    assert_eq!(sandbox.stats(Provider::Standard).tokens_issued, 1);
}

/// A token URL with a query (an identity provider that names a policy or tenant there) is
/// used with it, its query sent on every request and part of the credential's identity;
/// shown (`Debug`, errors), it keeps its path and hides the query, which may hold a key.
/// A fragment, or a query in a partner's base URL, is still refused.
#[tokio::test]
async fn a_token_url_with_a_query_is_used_as_given_and_shown_without_it() {
    let server = MockServer::start_async().await;
    let token = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/tenant/oauth2/token")
                .query_param("p", "B2C_1_policy")
                .query_param("api-key", "q-SECRET-41");
            then.status(200)
                .header("content-type", "application/json")
                .body(r#"{"access_token":"tok-q","token_type":"Bearer","expires_in":3600}"#);
        })
        .await;
    let url = server.url("/tenant/oauth2/token?p=B2C_1_policy&api-key=q-SECRET-41");
    let client = Client::builder(Provider::Standard)
        .base_url(&url)
        .credentials(Credentials::new("id", "secret-value-1"))
        .build()
        .unwrap();
    assert_eq!(client.base_url(), url, "the URL as given");
    let shown = format!("{client:?}");
    assert!(shown.contains("/tenant/oauth2/token"), "{shown}");
    assert!(!shown.contains("q-SECRET-41"), "{shown}");
    assert_eq!(client.fetch_token().await.unwrap().expose_secret(), "tok-q");
    token.assert_async().await;

    // Another query is another base URL, part of the identity `TokenCache` and the stores
    // key a credential by.
    let other = Client::builder(Provider::Standard)
        .base_url(server.url("/tenant/oauth2/token?p=other"))
        .credentials(Credentials::new("id", "secret-value-1"))
        .build()
        .unwrap();
    assert_ne!(other.base_url(), client.base_url());

    // Nor does the builder show it, or a configuration naming it.
    let builder = Client::builder(Provider::Standard).base_url(&url);
    let shown = format!("{builder:?}");
    assert!(
        shown.contains("/tenant/oauth2/token?…") && !shown.contains("q-SECRET-41"),
        "{shown}"
    );
    let config: partner_auth::ClientConfig = serde_json::from_value(serde_json::json!({
        "provider": "standard", "base_url": url, "client_id": "id", "client_secret": "secret-value-1"
    }))
    .unwrap();
    let shown = format!("{config:?}");
    assert!(
        shown.contains("/tenant/oauth2/token?…") && !shown.contains("q-SECRET-41"),
        "{shown}"
    );

    // A body cut short: the error's sources carry no URL (reqwest's would).
    let cut = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let cut_url = format!(
        "http://{}/token?api-key=q-SECRET-41",
        cut.local_addr().unwrap()
    );
    let server_side = std::thread::spawn(move || {
        use std::io::{Read as _, Write as _};
        let (mut stream, _) = cut.accept().unwrap();
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request).unwrap();
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"access_")
            .unwrap();
    });
    let error = fetch_error(&cut_url).await;
    server_side.join().unwrap();
    let mut shown = format!("{error} {error:?}");
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        shown.push_str(&format!(" {cause} {cause:?}"));
        source = cause.source();
    }
    assert_eq!(error.kind(), ErrorKind::Connection, "{shown}");
    assert!(!shown.contains("q-SECRET-41"), "{shown}");

    // An error names the endpoint without the query.
    let error = fetch_error("http://127.0.0.1:9/token?api-key=q-SECRET-41").await;
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("q-SECRET-41"), "{shown}");

    for (provider, refused) in [
        (
            Provider::Standard,
            "https://auth.example.invalid/token?p=x#frag-SECRET-42",
        ),
        (
            Provider::Standard,
            "https://auth.example.invalid/token#frag-SECRET-42",
        ),
        (
            Provider::Dinie,
            "https://auth.example.invalid/api?frag-SECRET-42=1",
        ),
    ] {
        let error = Client::builder(provider)
            .base_url(refused)
            .credentials(Credentials::new("id", "secret-value-1"))
            .build()
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Configuration, "{refused}: {error}");
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("SECRET-42"), "{shown}");
    }
}

#[tokio::test]
async fn a_response_echoing_the_token_url_query_shows_none_of_its_values() {
    // A key with no digit does not look like a token, so only knowing it catches it; it
    // goes in the URL percent-encoded, and servers echo it in any encoding.
    let key = "quiet harbor/key";
    let echoes = [
        "quiet harbor/key",
        "quiet+harbor%2Fkey",
        "quiet%20harbor%2Fkey",
        "quiet%20harbor%2fkey",
    ];
    let answers: Vec<(u16, String)> = echoes
        .iter()
        .flat_map(|echo| {
            [
                (
                    400,
                    format!(
                        r#"{{"error":"invalid_client","error_description":"no client for /token?key={echo}","error_uri":"https://idp.example.invalid/help?key={echo}"}}"#
                    ),
                ),
                (401, format!("<html><body>bad key {echo}</body></html>")),
                (200, format!(r#"{{"{echo}":"not a token"}}"#)),
            ]
        })
        .collect();
    for (status, body) in answers {
        let (error, shown) =
            error_shown("p=B2C_1_policy&key=quiet%20harbor%2Fkey", status, &body).await;
        for echo in echoes.iter().chain([&key]) {
            assert!(!shown.contains(echo), "{status} {body}: {shown}");
        }
        assert!(shown.contains("[REDACTED]"), "{status} {body}: {shown}");
        // The query's other value, a policy name, is no key: the rest of the text stays.
        if status == 400 {
            assert_eq!(error.kind(), ErrorKind::InvalidCredentials, "{shown}");
            assert_eq!(error.code(), Some("invalid_client"), "{shown}");
            assert!(shown.contains("no client for /token?key="), "{shown}");
        }
    }
}

/// The error of one fetch from the standard token URL `url`, with the tests' credentials.
async fn fetch_error(url: &str) -> partner_auth::Error {
    Client::builder(Provider::Standard)
        .base_url(url)
        .credentials(Credentials::new("id", "secret-value-1"))
        .build()
        .unwrap()
        .fetch_token()
        .await
        .unwrap_err()
}

/// One answer from a token URL with `query`: the error, shown every way it can be.
async fn error_shown(query: &str, status: u16, body: &str) -> (partner_auth::Error, String) {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/token");
            then.status(status)
                .header("content-type", "application/json")
                .body(body);
        })
        .await;
    let error = fetch_error(&server.url(format!("/token?{query}"))).await;
    // Each text as it is, and as `Debug` escapes it.
    let shown = format!(
        "{error} {error:?} {} {} {}",
        error.code().unwrap_or_default(),
        error.message().unwrap_or_default(),
        error.body_excerpt().unwrap_or_default()
    );
    (error, shown)
}

#[tokio::test]
async fn the_query_is_scrubbed_as_written_overlapping_bare_and_escaped() {
    // (query, status, body, what must not show). No key has a digit: only knowing it
    // catches it.
    let cases: [(&str, u16, String, &[&str]); 9] = [
        // As the URL carries it: `+` and `%20` echoed undecoded.
        (
            "sig=AbC+dEf/gh==",
            400,
            r#"{"error":"invalid_request","error_description":"bad sig AbC+dEf/gh=="}"#.into(),
            &["AbC+dEf", "AbC dEf"],
        ),
        (
            "key=quiet%20harbor/key",
            400,
            r#"{"error":"invalid_request","error_description":"bad key quiet%20harbor/key"}"#
                .into(),
            &["quiet%20harbor", "harbor/key"],
        ),
        // One value inside another: neither part shows.
        (
            "a=harborkey&b=harborkey-tail-part",
            400,
            r#"{"error":"invalid_request","error_description":"bad harborkey-tail-part"}"#.into(),
            &["harborkey", "tail-part"],
        ),
        // A bare name is a value.
        (
            "quietharborkey",
            401,
            "<p>no quietharborkey</p>".into(),
            &["quietharborkey"],
        ),
        // Cut short by the excerpt's length: no prefix shows either.
        (
            "key=quiet%20harbor/key",
            502,
            format!("{}bad key quiet harbor/key", " ".repeat(785)),
            &["quiet h", "harbor"],
        ),
        // A JSON escape (`"` sent as `\"`), and whitespace the excerpt collapses.
        (
            "key=quiet%22harbor",
            400,
            r#"{"error":"invalid_request","error_description":"bad key quiet\"harbor"}"#.into(),
            &["quiet\\\"harbor", "quiet\"harbor"],
        ),
        (
            "key=quiet%20%20harbor",
            502,
            "<p>bad key quiet  harbor</p>".into(),
            &["quiet harbor", "quiet  harbor"],
        ),
        // JSON-escaped in a body that is not JSON as a whole.
        (
            "key=quiet%22harbor",
            400,
            "{\"error\":\"bad key quiet\\\"harbor\"}\n{\"x\":1}".into(),
            &["quiet\\\"harbor", "quiet\"harbor"],
        ),
        // Pairs split at `;`.
        (
            "a=x;token=SuperQuietKey",
            401,
            "<p>no SuperQuietKey</p>".into(),
            &["SuperQuietKey"],
        ),
    ];
    for (query, status, body, hidden) in cases {
        let (_, shown) = error_shown(query, status, &body).await;
        for part in hidden {
            assert!(!shown.contains(part), "{query}: {part} in {shown}");
        }
        assert!(shown.contains("[REDACTED]"), "{query}: {shown}");
    }
}

#[tokio::test]
async fn ordinary_words_in_the_query_change_neither_the_error_kind_nor_the_token_type() {
    let (error, shown) = error_shown(
        "flow=client",
        400,
        r#"{"error":"invalid_client","error_description":"unknown client"}"#,
    )
    .await;
    assert_eq!(error.kind(), ErrorKind::InvalidCredentials, "{shown}");

    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/token");
            then.status(200)
                .header("content-type", "application/json")
                .body(r#"{"access_token":"tok-b","token_type":"bearer","expires_in":60}"#);
        })
        .await;
    let token = Client::builder(Provider::Standard)
        .base_url(server.url("/token?response=bearer"))
        .credentials(Credentials::new("id", "secret-value-1"))
        .build()
        .unwrap()
        .fetch_token()
        .await
        .unwrap();
    assert_eq!(token.token_type(), &partner_auth::TokenType::Bearer);
    assert!(token.authorization_header().is_ok());
}
