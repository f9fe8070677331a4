//! One token fetch for a form + Basic provider (Dinie, in the sandbox on loopback) three
//! ways, in the same run: the facade (generated client + mapping), a hand-written minimal
//! `reqwest` POST of the same request, and the `oauth2` crate's client-credentials
//! exchange.
//!
//! `cargo bench -p partner-auth --bench fetch_overhead`

#[path = "../tests/common/sandbox.rs"]
mod sandbox_client;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
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

fn fetch_overhead(c: &mut Criterion) {
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
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http");
    let oauth = oauth2::basic::BasicClient::new(ClientId::new(endpoint.client_id.into()))
        .set_client_secret(ClientSecret::new(endpoint.client_secret.into()))
        .set_auth_type(AuthType::BasicAuth)
        .set_token_uri(TokenUrl::new(token_url.clone()).expect("url"));
    // oauth2's HTTP client: the same reqwest client, through its `AsyncHttpClient` for
    // closures.
    let oauth_http = |request: oauth2::HttpRequest| {
        let http = http.clone();
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

    let generated = dinie_api::Client::with_http_client(&endpoint.base_url, http.clone())
        .expect("generated client")
        .with_credentials(dinie_api::BasicCredentials::new(
            endpoint.client_id,
            endpoint.client_secret,
        ));
    let grant = dinie_api::types::TokenRequest {
        grant_type: dinie_api::types::TokenRequestGrantType::ClientCredentials,
    };

    let mut group = c.benchmark_group("fetch_overhead");
    group.bench_function("generated_client_alone", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(generated.create_auth_token(&grant).await.expect("token"));
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("partner_auth_facade", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(facade.fetch_token().await.expect("token"));
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("minimal_reqwest_post", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let token: TokenBody = http
                        .post(&token_url)
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
                start.elapsed()
            })
        })
    });
    group.bench_function("oauth2_crate", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let token = oauth
                        .exchange_client_credentials()
                        .request_async(&oauth_http)
                        .await
                        .expect("token");
                    black_box(token.access_token().secret().len());
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4));
    targets = fetch_overhead
}
criterion_main!(benches);
