//! partner-auth built for Dinie alone, as an application depends on it: only Dinie and
//! the standard provider exist, the other partners' names are refused with the feature to
//! enable, TLS works on `ring` without the application installing anything (feature `tls`)
//! and an `https://` base URL is refused without it, and a token comes back over real HTTP
//! on loopback. A `rediss://` store never panics: an error without TLS, a refused
//! connection with it.

use httpmock::prelude::*;
use partner_auth::{Client, Credentials, ErrorKind, Provider, TokenSource};

#[test]
fn only_dinie_is_compiled_in() {
    assert_eq!(Provider::ALL, &[Provider::Dinie]);
    assert_eq!("dinie".parse::<Provider>(), Ok(Provider::Dinie));
    assert_eq!("standard".parse::<Provider>(), Ok(Provider::Standard));
    for other in [
        "teez",
        "alternative-payments",
        "cobee",
        "tradevest",
        "Cobee",
    ] {
        let error = other.parse::<Provider>().unwrap_err().to_string();
        assert!(
            error.contains("is not compiled in")
                && error.contains(&format!("`{}` feature", other.to_lowercase())),
            "{error}"
        );
    }
    let unknown = "nope".parse::<Provider>().unwrap_err().to_string();
    assert!(
        unknown.ends_with("expected one of: dinie, standard"),
        "{unknown}"
    );
}

#[cfg(feature = "tls")]
#[test]
fn an_https_client_builds_on_ring_without_the_application_installing_a_provider() {
    // reqwest with `rustls-no-provider` panics when it builds a client and no rustls
    // provider is installed; partner-auth installs `ring`. Nothing is sent.
    let client = Client::builder(Provider::Dinie)
        .environment("sandbox")
        .credentials(Credentials::new("id", "secret"))
        .build()
        .unwrap();
    assert!(
        client.base_url().starts_with("https://"),
        "{}",
        client.base_url()
    );
}

#[cfg(not(feature = "tls"))]
#[test]
fn without_a_tls_backend_an_https_base_url_is_refused_when_the_client_is_built() {
    let error = Client::builder(Provider::Dinie)
        .environment("sandbox")
        .credentials(Credentials::new("id", "secret"))
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Configuration, "{error}");
    assert!(
        error.to_string().contains("without a TLS backend"),
        "{error}"
    );
    // A client built by the application (with whatever backend it chose) is taken.
    Client::builder(Provider::Dinie)
        .environment("sandbox")
        .credentials(Credentials::new("id", "secret"))
        .http_client(reqwest::Client::builder().no_proxy().build().unwrap())
        .build()
        .unwrap();
}

#[tokio::test]
async fn a_dinie_token_comes_back_over_loopback() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v3/auth/token")
                .header("authorization", "Basic aWQ6c2VjcmV0")
                .body("grant_type=client_credentials");
            then.status(200).json_body(serde_json::json!({
                "access_token": "dinie_at_one-provider",
                "token_type": "bearer",
                "expires_in": 3600,
            }));
        })
        .await;
    let client = Client::builder(Provider::Dinie)
        .base_url(server.url("/api/v3"))
        .credentials(Credentials::new("id", "secret"))
        .build()
        .unwrap();
    let source = TokenSource::builder(client).build().unwrap();
    let token = source.token().await.unwrap();
    assert_eq!(token.expose_secret(), "dinie_at_one-provider");
    assert_eq!(
        source.token().await.unwrap().expose_secret(),
        "dinie_at_one-provider"
    );
    assert_eq!(mock.calls_async().await, 1, "the second call was cached");

    // An error still maps into the one error type.
    let refused = Client::builder(Provider::Dinie)
        .base_url("https://dinie.example.invalid/api/v3")
        .credentials(Credentials::new("id", ""))
        .build()
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Configuration, "{refused}");
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn a_rediss_store_on_ring_fails_with_an_error_not_a_panic() {
    use partner_auth::store::{RedisStore, TokenStore};
    // Nothing listens on port 1: the connection is refused before any TLS.
    let store = RedisStore::new("rediss://127.0.0.1:1/0").unwrap();
    let error = store.get("k").await.unwrap_err();
    assert!(error.to_string().contains("Redis"), "{error}");
}

#[cfg(not(feature = "tls"))]
#[test]
fn without_a_tls_backend_a_rediss_store_is_refused_when_built() {
    use partner_auth::store::RedisStore;
    let error = RedisStore::new("rediss://127.0.0.1:1/0").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Configuration, "{error}");
    assert!(error.to_string().contains("no crypto provider"), "{error}");
    RedisStore::new("redis://127.0.0.1:1/0").unwrap();
}
