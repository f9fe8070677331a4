//! The sandbox's life as a test tool sees it, from a review of its promises (each test
//! failed before its fix): it stops serving when dropped, open connections and stalled
//! requests included; `shutdown().await` frees its ports; `stall_first` holds the first
//! requests that get past the checks; a rate limit of 0 refuses every request; fault
//! probabilities out of range are refused; the stand-in API takes `bearer` in any case;
//! expiry and rate limits follow Tokio's paused clock; Alternative Payments' limit is per
//! client id, without a header.

use std::time::Duration;

use partner_sandbox::{Endpoint, Faults, Sandbox};

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Dinie's token request, as its spec writes it.
fn dinie_valid(http: &reqwest::Client, dinie: &Endpoint) -> reqwest::RequestBuilder {
    http.post(format!("{}/auth/token", dinie.base_url))
        .basic_auth(dinie.client_id, Some(dinie.client_secret))
        .form(&[("grant_type", "client_credentials")])
}

/// A token from Dinie's endpoint.
async fn dinie_token(http: &reqwest::Client, dinie: &Endpoint) -> String {
    let answer: serde_json::Value = dinie_valid(http, dinie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

/// Dinie's token request without the Basic header the spec's security requirement asks for.
fn dinie_without_basic(http: &reqwest::Client, dinie: &Endpoint) -> reqwest::RequestBuilder {
    http.post(format!("{}/auth/token", dinie.base_url))
        .form(&[("grant_type", "client_credentials")])
}

/// lib.rs: "The running emulation; stops when dropped." A dropped sandbox keeps answering
/// token requests on connections opened before the drop (keep-alive, which every pooled
/// HTTP client uses): it issues tokens and answers requests its spec does not allow, which
/// nobody will ever list or panic about.
#[tokio::test(flavor = "current_thread")]
async fn a_dropped_sandbox_answers_no_more_requests_on_open_connections() {
    let sandbox = Sandbox::start().await.unwrap();
    let dinie = sandbox.endpoint("dinie").clone();
    let pooled = http();
    assert_eq!(
        dinie_valid(&pooled, &dinie).send().await.unwrap().status(),
        200
    );
    drop(sandbox);
    // The kept-alive connection is not served any more, tokens and spec checks included.
    let after_drop = dinie_valid(&pooled, &dinie).send().await;
    let violation_after_drop = dinie_without_basic(&pooled, &dinie).send().await;
    assert!(
        after_drop.is_err() && violation_after_drop.is_err(),
        "a dropped sandbox still answered: valid request -> {:?}, spec violation -> {:?}",
        after_drop.map(|r| r.status()),
        violation_after_drop.map(|r| r.status()),
    );
}

/// lib.rs: "stops when dropped"; Faults::stall_first: "a fetch held open while a test does
/// something else". A request stalled when the sandbox is dropped is not cut off: it is
/// answered, with a fresh token, by the dropped sandbox once the stall ends.
#[tokio::test(flavor = "current_thread")]
async fn a_request_stalled_when_the_sandbox_is_dropped_gets_no_token() {
    let sandbox = Sandbox::builder()
        .faults(Faults::hold_first(1, Duration::from_millis(500)))
        .start()
        .await
        .unwrap();
    let dinie = sandbox.endpoint("dinie").clone();
    let request = tokio::spawn({
        let dinie = dinie.clone();
        async move {
            let response = dinie_valid(&http(), &dinie).send().await?;
            let status = response.status();
            let body = response.text().await?;
            Ok::<_, reqwest::Error>((status, body))
        }
    });
    while sandbox.stats("dinie").faults == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(sandbox);
    let answer = request.await.unwrap();
    assert!(
        answer.is_err(),
        "the request stalled at drop was answered: {answer:?}"
    );
}

/// Sandbox::shutdown: "Stops listening." (and lib.rs: "stops when dropped"). When
/// `shutdown()` returns, the ports are still bound: a sandbox restarted on the same
/// `base_port` (ports "scripts can know in advance") fails, and a connect succeeds.
#[tokio::test(flavor = "current_thread")]
async fn after_shutdown_the_same_base_port_can_be_bound_again() {
    for _ in 0..20 {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = probe.local_addr().unwrap().port();
        drop(probe);
        if base > 65535 - 6 {
            continue;
        }
        let Ok(sandbox) = Sandbox::builder().base_port(base).start().await else {
            continue;
        };
        sandbox.shutdown().await;
        let connect = std::net::TcpStream::connect(("127.0.0.1", base));
        let restarted = Sandbox::builder().base_port(base).start().await;
        assert!(
            restarted.is_ok(),
            "after shutdown(): connect to {base} -> {}, restart on the same base port -> {}",
            if connect.is_ok() {
                "accepted"
            } else {
                "refused"
            },
            restarted.map(|_| ()).unwrap_err()
        );
        return;
    }
    panic!("no free consecutive ports in 20 tries");
}

/// `Faults::stall_first` holds the first token requests that get a token. Found by review:
/// when the first token request was one its spec does not allow, it was not held, yet it
/// used up the hold, and the next request was not held either.
#[tokio::test]
async fn stall_first_holds_the_first_token_request() {
    let sandbox = Sandbox::builder()
        .allow_spec_violations()
        .faults(Faults::hold_first(1, Duration::from_millis(50)))
        .start()
        .await
        .unwrap();
    let dinie = sandbox.endpoint("dinie").clone();
    let http = http();
    let first = dinie_without_basic(&http, &dinie).send().await.unwrap();
    let second = dinie_valid(&http, &dinie).send().await.unwrap();
    let stats = sandbox.stats("dinie");
    assert_eq!(
        stats.faults,
        1,
        "of {} token requests (statuses {}, {}), none was held: {stats:?}",
        stats.token_requests,
        first.status(),
        second.status()
    );
}

/// SandboxBuilder::rate_limit: "Answers 429 above `per_second` token requests per second".
/// With `Some(0)`, every request is above the limit; the sandbox silently makes it 1 and
/// issues a token.
#[tokio::test]
async fn a_rate_limit_of_zero_answers_every_request_429() {
    let sandbox = Sandbox::builder()
        .rate_limit("dinie", Some(0))
        .start()
        .await
        .unwrap();
    let dinie = sandbox.endpoint("dinie").clone();
    let response = dinie_valid(&http(), &dinie).send().await.unwrap();
    assert_eq!(
        response.status(),
        429,
        "rate_limit(\"dinie\", Some(0)): {:?}",
        sandbox.stats("dinie")
    );
}

/// Shaped as the spec asks, but the wrong secret: the provider's own check refuses it.
fn dinie_wrong_secret(http: &reqwest::Client, dinie: &Endpoint) -> reqwest::RequestBuilder {
    http.post(format!("{}/auth/token", dinie.base_url))
        .basic_auth(dinie.client_id, Some("not-the-secret"))
        .form(&[("grant_type", "client_credentials")])
}

/// A request refused for its credentials, or by a rate limit, is not held and does not use
/// up a hold (found by review: the hold was drawn before those checks): the first request
/// that gets a token is the one held.
#[tokio::test]
async fn only_a_request_that_gets_a_token_takes_a_hold() {
    let sandbox = Sandbox::builder()
        .faults(Faults::hold_first(1, Duration::from_millis(50)))
        .start()
        .await
        .unwrap();
    let dinie = sandbox.endpoint("dinie").clone();
    let http = http();
    let refused = dinie_wrong_secret(&http, &dinie).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(
        sandbox.stats("dinie").faults,
        0,
        "the refused request was held"
    );
    let valid = dinie_valid(&http, &dinie).send().await.unwrap();
    assert_eq!(valid.status(), 200);
    assert_eq!(
        sandbox.stats("dinie").faults,
        1,
        "the first token was not held"
    );

    let limited = Sandbox::builder()
        .rate_limit("dinie", Some(0))
        .faults(Faults::hold_first(1, Duration::from_millis(50)))
        .start()
        .await
        .unwrap();
    let dinie = limited.endpoint("dinie").clone();
    let refused = dinie_valid(&http, &dinie).send().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(limited.stats("dinie").faults, 0, "the 429 was held");
}

/// A request stalled by chance is not held again by `stall_first`: one injected fault,
/// one stall (found by review: it slept twice and counted two faults).
#[tokio::test]
async fn a_held_request_that_also_draws_a_stall_is_held_once() {
    let sandbox = Sandbox::builder()
        .faults(Faults {
            stalls: 1.0,
            stall_for: Duration::from_millis(20),
            stall_first: 1,
            ..Faults::default()
        })
        .start()
        .await
        .unwrap();
    let dinie = sandbox.endpoint("dinie").clone();
    let response = dinie_valid(&http(), &dinie).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let stats = sandbox.stats("dinie");
    assert_eq!((stats.token_requests, stats.faults), (1, 1), "{stats:?}");
}

/// `SandboxBuilder::faults`: "each probability is a number from 0 to 1, and together they
/// are at most 1; others are an `InvalidInput` error". Found by review: NaN, negative
/// values and sums over 1 were taken silently.
#[tokio::test]
async fn fault_probabilities_out_of_range_are_refused_at_start() {
    let bad = [
        Faults {
            server_errors: f64::NAN,
            ..Faults::default()
        },
        Faults {
            resets: -0.1,
            ..Faults::default()
        },
        Faults {
            stalls: 1.5,
            ..Faults::default()
        },
        Faults {
            rate_limited: 0.6,
            server_errors: 0.6,
            ..Faults::default()
        },
    ];
    for faults in bad {
        let shown = format!("{faults:?}");
        let err = Sandbox::builder()
            .faults(faults)
            .start()
            .await
            .err()
            .unwrap_or_else(|| panic!("started with {shown}"));
        assert_eq!(
            err.kind(),
            std::io::ErrorKind::InvalidInput,
            "{shown}: {err}"
        );
        assert!(err.to_string().contains("faults"), "{err}");
    }
    // At the edges (rounding included): accepted.
    let edge = Faults {
        resets: 0.1,
        stalls: 0.2,
        rate_limited: 0.7,
        ..Faults::default()
    };
    Sandbox::builder().faults(edge).start().await.unwrap();
}

/// The stand-in API takes the Bearer scheme in any case (RFC 9110 §11.1): found by review,
/// `bearer`, the token type Dinie's and Alternative Payments' tokens name, was answered
/// 401.
#[tokio::test]
async fn the_stand_in_api_takes_the_bearer_scheme_in_any_case() {
    let sandbox = Sandbox::start().await.unwrap();
    let dinie = sandbox.endpoint("dinie");
    let http = http();
    let token = dinie_token(&http, dinie).await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let status = http
            .get(dinie.protected_url())
            .header("authorization", format!("{scheme} {token}"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200, "{scheme}");
    }
    for wrong in [
        format!("Basic {token}"),
        format!("Bearer{token}"),
        token.to_owned(),
    ] {
        let status = http
            .get(dinie.protected_url())
            .header("authorization", wrong.clone())
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 401, "{wrong:.8}");
    }
}

/// RFC 6750 §3.1: a request that sends the token more than once is `invalid_request`, 400,
/// whichever copy is valid (found by review: the first `Authorization` header was read and
/// the second ignored, so a client that added its own header to one the middleware set
/// went unseen).
#[tokio::test]
async fn the_stand_in_api_refuses_two_authorization_headers() {
    let sandbox = Sandbox::start().await.unwrap();
    let dinie = sandbox.endpoint("dinie");
    let http = http();
    let token = dinie_token(&http, dinie).await;
    let valid = format!("Bearer {token}");
    for (first, second) in [
        (valid.as_str(), "Bearer other"),
        ("Bearer other", valid.as_str()),
    ] {
        let response = http
            .get(dinie.protected_url())
            .header("authorization", first)
            .header("authorization", second)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(challenge, "Bearer error=\"invalid_request\"");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
    }
    let none = http.get(dinie.protected_url()).send().await.unwrap();
    assert_eq!(none.status(), 401, "no Authorization header");
    let stats = sandbox.stats("dinie");
    assert_eq!((stats.api_requests, stats.api_accepted), (3, 0));
}

/// lib.rs: "whether a token has expired, and a rate limit's one-second window, are measured
/// on Tokio's clock". Found by review: the sandbox read the system's clock, so a test on
/// paused time could not see a token expire at the stand-in API, nor a rate limit's window
/// pass.
#[tokio::test(start_paused = true)]
async fn expiry_and_rate_limits_follow_tokios_paused_clock() {
    let sandbox = Sandbox::builder()
        .token_lifetime(Duration::from_secs(60))
        .rate_limit("dinie", Some(1))
        .start()
        .await
        .unwrap();
    let dinie = sandbox.endpoint("dinie");
    let http = http();
    let first = dinie_valid(&http, dinie).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let token: serde_json::Value = first.json().await.unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let protected = || http.get(dinie.protected_url()).bearer_auth(&token).send();
    assert_eq!(
        dinie_valid(&http, dinie).send().await.unwrap().status(),
        429
    );
    assert_eq!(protected().await.unwrap().status(), 200);
    tokio::time::advance(Duration::from_secs(61)).await;
    assert_eq!(
        dinie_valid(&http, dinie).send().await.unwrap().status(),
        200
    );
    let expired = protected().await.unwrap();
    assert_eq!(expired.status(), 401);
    let body: serde_json::Value = expired.json().await.unwrap();
    assert_eq!(body["error"], "token_expired");
}

/// README ("The sandbox in your own tests"): 429s "(Alternative Payments: 5 per second per
/// client id, no header)", on Tokio's paused clock: the sixth request within a second is
/// refused without a `Retry-After` or rate-limit header, another client id has five of its
/// own, and a second later the first one is admitted again.
#[tokio::test(start_paused = true)]
async fn alternative_payments_admits_5_a_second_per_client_id_and_refuses_without_a_header() {
    let sandbox = Sandbox::start().await.unwrap();
    let payments = sandbox.endpoint("alternative-payments");
    let http = http();
    let token_request = |id: &str, secret: &str| {
        http.post(format!("{}/oauth/token", payments.base_url))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    let (id, secret) = (payments.client_id, payments.client_secret);
    for _ in 0..5 {
        assert_eq!(token_request(id, secret).await.unwrap().status(), 200);
    }
    let refused = token_request(id, secret).await.unwrap();
    assert_eq!(refused.status(), 429);
    let headers = refused.headers();
    assert!(
        !headers.keys().any(|name| name == "retry-after"
            || name.as_str().contains("ratelimit")
            || name.as_str().contains("rate-limit")),
        "{headers:?}"
    );
    // Another client id (unknown: refused for its credentials) is not counted with it.
    for _ in 0..5 {
        let other = token_request("another-client", "another-secret")
            .await
            .unwrap();
        assert_eq!(other.status(), 403);
    }
    let other = token_request("another-client", "another-secret")
        .await
        .unwrap();
    assert_eq!(other.status(), 429);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(token_request(id, secret).await.unwrap().status(), 200);
    assert_eq!(sandbox.stats("alternative-payments").rate_limited, 2);
}
