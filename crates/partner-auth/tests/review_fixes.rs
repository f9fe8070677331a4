//! Regression tests from the adversarial review of f5ad3ba..2f85756: a caller's HTTP client
//! that follows redirects, the granted scope, extra parameters, scrubbing, runtimes without
//! drivers. Each failed on the code before its fix.

mod common;
#[path = "common/memory_store.rs"]
mod memory_store;

use common::*;
use httpmock::prelude::*;
use partner_auth::{Client, Credentials, ErrorKind, Provider, TokenCache, TokenSource};
use serde_json::json;

/// A caller's client with reqwest's defaults (follows up to 10 redirects, sends a
/// Referer), past any proxy named in the environment.
fn follows() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

// ---------------------------------------------------------------------------------------
// A caller's HTTP client that follows redirects: no token from where one led.
// ---------------------------------------------------------------------------------------

/// A 301/302/303 to a path on the same origin (a relative `Location`), which a caller's
/// client follows: the answer from there is no token. (reqwest sends Basic credentials
/// again within the same origin; `ClientBuilder::http_client` says so.)
#[tokio::test]
async fn a_same_origin_redirect_a_callers_client_follows_is_refused() {
    let mut taken = Vec::new();
    for f in fixtures() {
        for status in [301, 302, 303] {
            let server = MockServer::start_async().await;
            server
                .mock_async(|when, then| {
                    when.method(POST);
                    then.status(status).header("location", "/stolen");
                })
                .await;
            let body = (f.success)("tok-from-the-target", json!(600)).to_string();
            server
                .mock_async(|when, then| {
                    when.method(GET).path("/stolen");
                    then.status(200)
                        .header("content-type", "application/json")
                        .body(body);
                })
                .await;
            let outcome = Client::builder(f.provider)
                .base_url(base_url(f.provider, &server.base_url()))
                .credentials(Credentials::new(CLIENT_ID, SECRET))
                .http_client(follows())
                .build()
                .unwrap()
                .fetch_token()
                .await;
            match outcome {
                Err(e) if e.kind() == ErrorKind::InvalidResponse => {}
                other => taken.push(format!("{} {status}: {other:?}", f.provider)),
            }
        }
    }
    assert!(taken.is_empty(), "{taken:#?}");
}

// ---------------------------------------------------------------------------------------
// AccessToken::scope(): scrubbed like any text from a response; the partners report none.
// ---------------------------------------------------------------------------------------

/// The response's `scope` is taken as is and shown by `Debug` (and `Serialize`) unscrubbed,
/// while the token type beside it is scrubbed because `Display` shows it: a provider that
/// echoes the secret or the token in `scope` has them printed by `{token:?}`.
#[tokio::test]
async fn a_scope_echoing_the_secret_or_the_token_is_scrubbed() {
    const TOKEN: &str = "tok-SENSITIVE-9f8e7d";
    let f = fixtures()
        .into_iter()
        .find(|f| f.provider == Provider::Standard)
        .unwrap();
    let body = json!({
        "access_token": TOKEN, "token_type": "Bearer", "expires_in": 600,
        "scope": format!("client_secret={SECRET} token={TOKEN}"),
    });
    let server = serve(&f, 200, "application/json", body.to_string(), &[]).await;
    let token = client(f.provider, &server.base_url())
        .fetch_token()
        .await
        .unwrap();
    let shown = format!("{token:?}");
    assert!(!shown.contains(SECRET), "Debug shows the secret: {shown}");
    assert!(!shown.contains(TOKEN), "Debug shows the token: {shown}");
}

/// The partners' specs define no scope: a response that has one anyway gives `None`, for
/// every partner alike (Teez's lenient read kept it, the others' typed reads did not); a
/// standard provider's is kept.
#[tokio::test]
async fn only_a_standard_provider_reports_a_scope() {
    let mut wrong = Vec::new();
    for f in fixtures() {
        let mut body = (f.success)("tok-scoped", json!(600));
        body["scope"] = json!("orders:read");
        let server = serve(&f, 200, "application/json", body.to_string(), &[]).await;
        let token = client(f.provider, &server.base_url())
            .fetch_token()
            .await
            .unwrap();
        let expected = (f.provider == Provider::Standard).then_some("orders:read");
        if token.scope() != expected {
            wrong.push(format!("{}: {:?}", f.provider, token.scope()));
        }
    }
    assert!(wrong.is_empty(), "{wrong:?}");
}

// ---------------------------------------------------------------------------------------
// A blank access token is reported "blank".
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_blank_token_is_named_blank_for_every_provider() {
    let mut wrong = Vec::new();
    for f in fixtures() {
        let body = (f.success)("   ", json!(600));
        let server = serve(&f, 200, "application/json", body.to_string(), &[]).await;
        let err = client(f.provider, &server.base_url())
            .fetch_token()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{err}");
        if !err.to_string().contains("blank") {
            wrong.push(format!("{}: {err}", f.provider));
        }
    }
    assert!(wrong.is_empty(), "not named blank: {wrong:#?}");
}

// ---------------------------------------------------------------------------------------
// fetch_token on a Tokio runtime without its time or I/O driver: an error, not a panic.
// ---------------------------------------------------------------------------------------

fn dinie_client() -> Client {
    Client::builder(Provider::Dinie)
        .base_url("http://127.0.0.1:9")
        .credentials(Credentials::new(CLIENT_ID, SECRET))
        .build()
        .unwrap()
}

#[test]
fn fetch_token_on_a_runtime_without_a_driver_is_an_error() {
    let without_time = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let without_io = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let client = dinie_client();
    for (missing, runtime) in [("time", without_time), ("I/O", without_io)] {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(client.fetch_token())
        }));
        let err = outcome
            .unwrap_or_else(|_| panic!("fetch_token panicked on a runtime without {missing}"))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Internal, "{missing}: {err}");
        assert!(err.hint().contains("enable_all"), "{missing}: {err}");
    }
}

// ---------------------------------------------------------------------------------------
// Extra parameters: part of the token's identity, in whatever order; the client's own
// names refused.
// ---------------------------------------------------------------------------------------

/// A standard client with these extra parameters, in this order.
fn standard_with(params: &[(&str, &str)]) -> Client {
    let mut builder = Client::builder(Provider::Standard)
        .base_url("https://auth.example.invalid/oauth2/token")
        .credentials(Credentials::new(CLIENT_ID, SECRET));
    for (name, value) in params {
        builder = builder.extra_param(*name, *value);
    }
    builder.build().unwrap()
}

/// The same set of parameters given in another order gets a second source (and a second
/// token request), though README and rustdoc say a cache keeps "a token per set".
#[tokio::test]
async fn the_same_extra_params_in_another_order_share_a_source() {
    let cache = TokenCache::builder().build().unwrap();
    cache.source(&standard_with(&[("audience", "a"), ("resource", "r")]));
    cache.source(&standard_with(&[("resource", "r"), ("audience", "a")]));
    assert_eq!(cache.len(), 1, "one set of parameters, two sources");
}

/// A name given twice with its values in another order is another request, not the same
/// set: a server that keeps a repeated parameter's first (or last) value issues each a
/// token for another audience (found by review: the key sorted values with names, and
/// both orders shared one token). Names in another order still share.
#[tokio::test]
async fn a_repeated_names_values_in_another_order_get_a_token_of_their_own() {
    let cache = TokenCache::builder().build().unwrap();
    let ab = standard_with(&[("audience", "a"), ("audience", "b"), ("resource", "r")]);
    let ba = standard_with(&[("audience", "b"), ("resource", "r"), ("audience", "a")]);
    let ab_again = standard_with(&[("resource", "r"), ("audience", "a"), ("audience", "b")]);
    cache.source(&ab);
    cache.source(&ba);
    assert_eq!(
        cache.len(),
        2,
        "two orders of one name's values, one source"
    );
    cache.source(&ab_again);
    assert_eq!(
        cache.len(),
        2,
        "the names in another order, a second source"
    );
    // The token store's key likewise.
    let key = |client: &Client| {
        TokenSource::builder(client.clone())
            .store(std::sync::Arc::new(memory_store::MemoryStore::default()))
            .build()
            .unwrap()
            .store_key()
            .unwrap()
            .to_owned()
    };
    assert_ne!(key(&ab), key(&ba));
    assert_eq!(key(&ab), key(&ab_again));
}

/// A redirect the caller's client follows into an error of its own (a loop past its limit
/// of 10, or a `Location` with another scheme) is not the promised `InvalidResponse`: a loop
/// comes back `Connection` (retryable: a `TokenSource` sends the request again), another
/// scheme `Configuration` ("fix the client configuration").
#[tokio::test]
async fn a_followed_redirect_that_fails_is_invalid_response() {
    let mut wrong = Vec::new();
    for (what, location) in [
        ("loop", None),
        ("ftp", Some("ftp://elsewhere.invalid/token")),
    ] {
        let server = MockServer::start_async().await;
        let location = location.map_or_else(|| server.url("/oauth2/token"), str::to_owned);
        server
            .mock_async(|when, then| {
                when.path("/oauth2/token");
                then.status(302).header("location", location);
            })
            .await;
        let err = Client::builder(Provider::Standard)
            .base_url(server.url("/oauth2/token"))
            .credentials(Credentials::new(CLIENT_ID, SECRET))
            .http_client(follows())
            .build()
            .unwrap()
            .fetch_token()
            .await
            .unwrap_err();
        if err.kind() != ErrorKind::InvalidResponse {
            wrong.push(format!(
                "{what}: {:?} ({}): {err}",
                err.kind(),
                err.is_retryable()
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Promise 6: a code alone is no message. An RFC 6749 §5.2 body with a code and its
/// `error_uri` but no description has the URI as its message (the "map of strings"
/// fallback takes the first value other than the code).
#[tokio::test]
async fn an_error_uri_is_no_message() {
    let f = fixtures()
        .into_iter()
        .find(|f| f.provider == Provider::Standard)
        .unwrap();
    let body =
        json!({"error": "invalid_client", "error_uri": "https://idp.example.invalid/errors"});
    let server = serve(&f, 401, "application/json", body.to_string(), &[]).await;
    let err = client(f.provider, &server.base_url())
        .fetch_token()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("invalid_client"));
    assert_eq!(err.message(), None, "{err}");
}

/// Promise 2: the names the client writes are refused. The same names in another case, or
/// with a space, pass, and go out beside the client's own (servers whose form binding
/// ignores case, ASP.NET's, read `Scope` as `scope`).
#[test]
fn the_clients_own_parameter_names_are_refused_in_any_case() {
    let mut accepted = Vec::new();
    for name in [
        "Scope",
        "SCOPE",
        "Client_Secret",
        "GRANT_TYPE",
        "client_id ",
    ] {
        let built = Client::builder(Provider::Standard)
            .base_url("https://auth.example.invalid/oauth2/token")
            .credentials(Credentials::new(CLIENT_ID, SECRET))
            .extra_param(name, "x")
            .build();
        if built.is_ok() {
            accepted.push(name);
        }
    }
    assert!(accepted.is_empty(), "accepted: {accepted:?}");
}
