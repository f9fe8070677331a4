//! One token fetch for a form + Basic provider (Dinie, in the sandbox on loopback) four
//! ways: the facade (generated client + mapping), the generated client alone, a
//! hand-written minimal `reqwest` POST of the same request, and the `oauth2` crate's
//! client-credentials exchange.
//!
//! The four run interleaved (`support/rounds.rs`): one fetch each per round in a shuffled
//! order, so that the shared machine's changing load falls on all of them alike, where
//! criterion would time them one after another, seconds apart. It prints the median of
//! each and writes them to `fetch_overhead.json` for `cargo xtask bench`.
//!
//! `cargo bench -p partner-auth --bench fetch_overhead`

#[path = "support/rounds.rs"]
mod rounds;
#[path = "../tests/common/sandbox.rs"]
mod sandbox_client;

use std::hint::black_box;
use std::time::Instant;

use oauth2::{AuthType, ClientId, ClientSecret, TokenResponse as _, TokenUrl};
use partner_auth::Provider;
use partner_sandbox::Sandbox;
use sandbox_client::SandboxExt as _;

#[derive(serde::Deserialize)]
struct TokenBody {
    access_token: String,
    token_type: String,
    expires_in: u64,
}

/// Rounds timed, after the warm-up rounds.
const ROUNDS: usize = 3_000;
const WARM_UP: usize = 300;

const NAMES: [&str; 4] = [
    "partner_auth_facade",
    "generated_client_alone",
    "minimal_reqwest_post",
    "oauth2_crate",
];

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sandbox = runtime.block_on(Sandbox::start()).expect("sandbox");
    let endpoint = sandbox.endpoint(Provider::Dinie).clone();
    let token_url = format!("{}/auth/token", endpoint.base_url);

    let facade = sandbox
        .client_builder(Provider::Dinie)
        .build()
        .expect("client");
    // Each way with a client (and so a connection) of its own: none rides on a connection
    // another one keeps warm. The three plain ones are built alike; the facade's is its
    // default (a request timeout, a connect timeout, its User-Agent).
    let plain_client = || {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http")
    };
    let http = plain_client();
    let oauth_client = plain_client();
    let oauth = oauth2::basic::BasicClient::new(ClientId::new(endpoint.client_id.into()))
        .set_client_secret(ClientSecret::new(endpoint.client_secret.into()))
        .set_auth_type(AuthType::BasicAuth)
        .set_token_uri(TokenUrl::new(token_url.clone()).expect("url"));
    // oauth2's HTTP client: a reqwest client of its own, through its `AsyncHttpClient`
    // for closures.
    let oauth_http = |request: oauth2::HttpRequest| {
        let http = oauth_client.clone();
        async move {
            let (parts, body) = request.into_parts();
            let response = http
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let mut builder = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = response.bytes().await?.to_vec();
            Ok::<_, reqwest::Error>(builder.body(body).expect("response"))
        }
    };

    let generated = dinie_api::Client::with_http_client(&endpoint.base_url, plain_client())
        .expect("generated client")
        .with_credentials(dinie_api::BasicCredentials::new(
            endpoint.client_id,
            endpoint.client_secret,
        ));
    let grant = dinie_api::types::TokenRequest {
        grant_type: dinie_api::types::TokenRequestGrantType::ClientCredentials,
    };

    let (facade, generated, grant, http, token_url, endpoint, oauth, oauth_http) = (
        &facade,
        &generated,
        &grant,
        &http,
        &token_url,
        &endpoint,
        &oauth,
        &oauth_http,
    );
    let fetch = |way: usize| async move {
        let start = Instant::now();
        match way {
            0 => {
                black_box(facade.fetch_token().await.expect("token"));
            }
            1 => {
                black_box(generated.create_auth_token(grant).await.expect("token"));
            }
            2 => {
                let token: TokenBody = http
                    .post(token_url)
                    .basic_auth(endpoint.client_id, Some(endpoint.client_secret))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await
                    .expect("send")
                    .error_for_status()
                    .expect("200")
                    .json()
                    .await
                    .expect("json");
                black_box((token.access_token, token.token_type, token.expires_in));
            }
            _ => {
                let token = oauth
                    .exchange_client_credentials()
                    .request_async(oauth_http)
                    .await
                    .expect("token");
                black_box(token.access_token().secret().len());
            }
        }
        start.elapsed()
    };
    let measured = rounds::medians("fetch_overhead", &NAMES, WARM_UP, ROUNDS, fetch);
    let Some(medians) = runtime.block_on(measured) else {
        return;
    };
    for (name, median) in NAMES.iter().zip(&medians) {
        println!(
            "fetch_overhead/{name}: median {:.1} µs over {ROUNDS} interleaved rounds, {:.3}x the hand-written POST",
            median / 1e3,
            median / medians[2]
        );
    }
    rounds::write_medians("fetch_overhead.json", &NAMES, &medians);
}
