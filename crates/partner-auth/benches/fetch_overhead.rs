//! One token fetch for a form + Basic provider (Dinie, in the sandbox on loopback) five
//! ways: the facade (generated client + mapping), the generated client alone, a
//! hand-written minimal `reqwest` POST of the same request, the same POST on a client with
//! the facade's default timeouts (a timer per request: most of the facade's gap to the
//! plain POST), and the `oauth2` crate's client-credentials exchange.
//!
//! The five run interleaved (`support/rounds.rs`): one fetch each per round in a shuffled
//! order, so that the shared machine's changing load falls on all of them alike, where
//! criterion would time them one after another, seconds apart. The sandbox answers on a
//! thread and runtime of its own, as a provider answers from elsewhere: sharing the
//! client's thread, its own request handling ran slower beside the larger client (5.7 µs
//! per fetch in a profile at `bec2073`), which was charged to the client.
//!
//! Two figures per way, each the median of [`PASSES`] passes' medians: the wall time of a
//! fetch (the target), and the CPU time the client's thread spent on it (what a fetch
//! costs the application, the server's work and the wait for it left out). It prints them
//! and writes them to `fetch_overhead.json` for `cargo xtask bench`.
//!
//! `cargo bench -p partner-auth --bench fetch_overhead`
//!
//! With `FETCH_OVERHEAD_ONLY=<way>` (one of [`NAMES`]) it only runs that way's fetches,
//! `FETCH_OVERHEAD_FETCHES` of them (300 by default), untimed: for counting instructions
//! with `valgrind --tool=callgrind --separate-threads=yes`: the client's thread is in the
//! output's `-01` file, and one run's total less a shorter run's is the extra fetches'.

// Its `write_medians` is for one figure per way; this bench writes two.
#[allow(dead_code)]
#[path = "support/rounds.rs"]
mod rounds;
#[path = "../tests/common/sandbox.rs"]
mod sandbox_client;

use std::hint::black_box;
use std::time::{Duration, Instant};

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

/// Rounds timed in each pass, after the warm-up rounds.
const ROUNDS: usize = 1_000;
const WARM_UP: usize = 100;
/// Passes per figure; the figure is the median of their medians.
const PASSES: usize = 3;

const NAMES: [&str; 5] = [
    "partner_auth_facade",
    "generated_client_alone",
    "minimal_reqwest_post",
    "oauth2_crate",
    "reqwest_post_with_timeouts",
];

/// What a pass measures.
#[derive(Clone, Copy)]
enum Clock {
    /// Wall time.
    Wall,
    /// CPU time of the calling thread (user and system).
    ThreadCpu,
}

impl Clock {
    fn now(self) -> Duration {
        match self {
            Clock::Wall => {
                static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
                ORIGIN.get_or_init(Instant::now).elapsed()
            }
            Clock::ThreadCpu => {
                let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
                Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
            }
        }
    }
}

/// The sandbox, serving on a thread and current-thread runtime of its own until the
/// process ends.
fn sandbox_on_its_own_thread() -> Sandbox {
    let (started, sandbox) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("sandbox runtime");
        runtime.block_on(async move {
            started
                .send(Sandbox::start().await.expect("sandbox"))
                .expect("main thread");
            std::future::pending::<()>().await
        })
    });
    sandbox.recv().expect("sandbox started")
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sandbox = sandbox_on_its_own_thread();
    let endpoint = sandbox.endpoint(Provider::Dinie).clone();
    let token_url = format!("{}/auth/token", endpoint.base_url);

    let facade = sandbox
        .client_builder(Provider::Dinie)
        .build()
        .expect("client");
    // Each way with a client (and so a connection) of its own: none rides on a connection
    // another one keeps warm. The plain ones are built alike; the facade's is its default
    // (a request timeout, a connect timeout, its User-Agent), and so is the timed POST's
    // but for the User-Agent.
    let plain_client = || {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .expect("http")
    };
    let http = plain_client();
    let timed_http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(partner_auth::DEFAULT_TIMEOUT)
        .connect_timeout(partner_auth::DEFAULT_CONNECT_TIMEOUT)
        .build()
        .expect("http");
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

    let (facade, generated, grant, token_url, endpoint, oauth, oauth_http) = (
        &facade,
        &generated,
        &grant,
        &token_url,
        &endpoint,
        &oauth,
        &oauth_http,
    );
    let post = |http: &reqwest::Client| {
        let request = http
            .post(token_url)
            .basic_auth(endpoint.client_id, Some(endpoint.client_secret))
            .form(&[("grant_type", "client_credentials")]);
        async move {
            let token: TokenBody = request
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
    };
    let (http, timed_http, post) = (&http, &timed_http, &post);
    let fetch = |clock: Clock, way: usize| async move {
        let start = clock.now();
        match way {
            0 => {
                black_box(facade.fetch_token().await.expect("token"));
            }
            1 => {
                black_box(generated.create_auth_token(grant).await.expect("token"));
            }
            2 => post(http).await,
            4 => post(timed_http).await,
            _ => {
                let token = oauth
                    .exchange_client_credentials()
                    .request_async(oauth_http)
                    .await
                    .expect("token");
                black_box(token.access_token().secret().len());
            }
        }
        clock.now() - start
    };
    // For a profiler: one way alone, `FETCH_OVERHEAD_FETCHES` fetches (see the module docs).
    if let Ok(way) = std::env::var("FETCH_OVERHEAD_ONLY") {
        let way = NAMES
            .iter()
            .position(|name| *name == way)
            .unwrap_or_else(|| panic!("FETCH_OVERHEAD_ONLY is one of {NAMES:?}"));
        let fetches = std::env::var("FETCH_OVERHEAD_FETCHES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(300);
        runtime.block_on(async {
            for _ in 0..fetches {
                fetch(Clock::Wall, way).await;
            }
        });
        return;
    }
    let mut figures = serde_json::Map::new();
    for (clock, what, key) in [
        (Clock::Wall, "wall time", "ns"),
        (Clock::ThreadCpu, "client thread's CPU time", "cpu_ns"),
    ] {
        let mut passes = Vec::with_capacity(PASSES);
        for _ in 0..PASSES {
            let measured = rounds::medians("fetch_overhead", &NAMES, WARM_UP, ROUNDS, |way| {
                fetch(clock, way)
            });
            let Some(medians) = runtime.block_on(measured) else {
                return;
            };
            println!(
                "fetch_overhead ({what}), one pass of {ROUNDS} interleaved rounds: {}",
                ratios(&medians)
            );
            passes.push(medians);
        }
        let medians: Vec<f64> = (0..NAMES.len())
            .map(|way| {
                let mut of_way: Vec<f64> = passes.iter().map(|pass| pass[way]).collect();
                of_way.sort_by(f64::total_cmp);
                of_way[of_way.len() / 2]
            })
            .collect();
        for (name, median) in NAMES.iter().zip(&medians) {
            println!(
                "fetch_overhead/{name} ({what}): {:.1} µs, the median of {PASSES} passes' medians, {:.3}x the hand-written POST",
                median / 1e3,
                median / medians[2]
            );
            figures.insert(format!("{name}_{key}"), (*median).into());
        }
    }
    rounds::write("fetch_overhead.json", &serde_json::Value::Object(figures));
}

/// Each way's median ÷ the hand-written POST's, for the log.
fn ratios(medians: &[f64]) -> String {
    NAMES
        .iter()
        .zip(medians)
        .map(|(name, median)| format!("{name} {:.3}x", median / medians[2]))
        .collect::<Vec<_>>()
        .join(", ")
}
