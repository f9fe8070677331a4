//! What a crates.io user does with the public types out of habit: keeps them in statics
//! and across threads, clones and prints them, turns the errors into `anyhow` or
//! `Box<dyn Error + Send + Sync>`, and names the other crates' types in this crate's API
//! through this crate, without adding those crates (at the same versions) themselves.

use std::fmt::Debug;

use partner_auth::store::StorePolicy;
use partner_auth::{
    AccessToken, AuthMiddleware, CachePolicy, Client, ClientConfig, Credentials, Error, ErrorKind,
    Provider, RetryPolicy, Stats, TokenCache, TokenSource,
};

fn kept_in_a_static<T: Send + Sync + 'static>() {}
fn cloned_and_printed<T: Clone + Debug>() {}
fn an_error_of_its_own<E: std::error::Error + Send + Sync + 'static>() {}

#[test]
fn what_applications_keep_in_statics_is_send_sync_and_static() {
    kept_in_a_static::<Client>();
    kept_in_a_static::<TokenSource>();
    kept_in_a_static::<TokenCache>();
    kept_in_a_static::<AuthMiddleware>();
    kept_in_a_static::<AccessToken>();
    kept_in_a_static::<Error>();
    kept_in_a_static::<Credentials>();
    kept_in_a_static::<ClientConfig>();
    kept_in_a_static::<Stats>();
    #[cfg(feature = "blocking")]
    {
        kept_in_a_static::<partner_auth::blocking::TokenSource>();
        kept_in_a_static::<partner_auth::blocking::Client>();
    }
}

#[test]
fn configuration_and_handle_types_clone_and_print() {
    cloned_and_printed::<ClientConfig>();
    cloned_and_printed::<CachePolicy>();
    cloned_and_printed::<RetryPolicy>();
    cloned_and_printed::<StorePolicy>();
    cloned_and_printed::<Credentials>();
    cloned_and_printed::<Provider>();
    cloned_and_printed::<ErrorKind>();
    cloned_and_printed::<Client>();
    cloned_and_printed::<TokenSource>();
    cloned_and_printed::<TokenCache>();
    cloned_and_printed::<AuthMiddleware>();
    cloned_and_printed::<AccessToken>();
    cloned_and_printed::<Error>();
}

#[test]
fn errors_convert_into_anyhow_and_boxed_errors() {
    an_error_of_its_own::<Error>();
    an_error_of_its_own::<partner_auth::UnknownProvider>();
    an_error_of_its_own::<partner_auth::UnknownErrorKind>();
    an_error_of_its_own::<partner_auth::store::StoreError>();
    // No credentials: a configuration error, before any request.
    let error = Client::builder(Provider::Standard).build().unwrap_err();
    let boxed: Box<dyn std::error::Error + Send + Sync> = error.clone().into();
    assert_eq!(boxed.to_string(), error.to_string());
}

/// Found by review: reading a [`Credentials`] or [`ClientConfig`] secret took `secrecy`'s
/// `ExposeSecret` (only `SecretString` was re-exported), and `ClientBuilder::http_client`,
/// `AuthMiddleware::covers`, `Error::status` and `token_error` take or give `reqwest` and
/// `reqwest-middleware` types: each a dependency to add at the very version this crate
/// uses, or a mismatch error naming two versions of one type.
#[test]
fn the_other_crates_types_in_this_api_are_reachable_through_it() {
    use partner_auth::ExposeSecret as _;
    use partner_auth::reqwest;

    let credentials = Credentials::new("client-id", "client-secret-1");
    assert_eq!(
        credentials.client_secret().expose_secret(),
        "client-secret-1"
    );
    let config: ClientConfig = serde_json::from_str(
        r#"{"provider": "standard", "base_url": "http://127.0.0.1:9/token",
            "client_id": "id", "client_secret": "from-config-1"}"#,
    )
    .unwrap();
    assert_eq!(config.client_secret.expose_secret(), "from-config-1");

    let _: fn(partner_auth::ClientBuilder, reqwest::Client) -> partner_auth::ClientBuilder =
        partner_auth::ClientBuilder::http_client;
    let _: fn(&AuthMiddleware, &reqwest::Url) -> bool = AuthMiddleware::covers;
    let _: fn(&Error) -> Option<reqwest::StatusCode> = Error::status;
    let _: fn(&AccessToken) -> Result<reqwest::header::HeaderValue, Error> =
        AccessToken::authorization_header;
    let _: fn(&partner_auth::reqwest_middleware::Error) -> Option<&Error> =
        partner_auth::token_error;
}

fn spawnable<F: std::future::Future + Send + 'static>(_: F) {}

/// Type-checked only: each call's future can go to `tokio::spawn` (or a multi-thread
/// executor's), borrowing nothing but what it moved in.
#[allow(dead_code)]
fn every_async_call_can_be_spawned(client: Client, source: TokenSource, cache: TokenCache) {
    let c = client.clone();
    spawnable(async move { c.fetch_token().await });
    let s = source.clone();
    spawnable(async move { s.token().await });
    spawnable(async move { source.refresh().await });
    spawnable(async move { cache.token(&client).await });
    #[cfg(feature = "redis")]
    {
        fn clear(store: partner_auth::store::RedisStore) {
            spawnable(async move { store.clear().await });
        }
        let _ = clear;
    }
}
