//! `Provider::Standard` against hostile and odd servers and misuse, from an adversarial
//! review (kept as regression tests): the token URL as given, RFC 6749 §3.3 scopes, scopes
//! kept apart in caches, an echoed form body scrubbed, typed errors for bad answers.

use std::time::Duration;

use httpmock::prelude::*;
use partner_auth::{Client, ClientAuth, Credentials, ErrorKind, Provider, TokenCache};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// A one-shot raw HTTP server on loopback: answers every connection with `response`
/// (after `delay`), and sends what it received on the channel.
async fn raw_server(
    response: Vec<u8>,
    delay: Duration,
) -> (String, tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let response = response.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 65536];
                // Read the head and a body of Content-Length bytes.
                loop {
                    let n = stream.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&buf[..n]);
                    if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                        if got.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let _ = tx.send(got);
                tokio::time::sleep(delay).await;
                let _ = stream.write_all(&response).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (format!("http://{addr}"), rx)
}

fn ok_token() -> Vec<u8> {
    let body = r#"{"access_token":"tok-abc","token_type":"Bearer","expires_in":60}"#;
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn standard(url: &str, id: &str, secret: &str) -> partner_auth::ClientBuilder {
    Client::builder(Provider::Standard)
        .base_url(url)
        .credentials(Credentials::new(id, secret))
        .timeout(Duration::from_secs(3))
}

// ---------------------------------------------------------------------------------------
// BREAK A: the token URL is "the token endpoint's full URL", but a trailing slash is cut.

#[tokio::test]
async fn a_token_url_with_a_trailing_slash_is_requested_as_given() {
    let (origin, mut seen) = raw_server(ok_token(), Duration::ZERO).await;
    let url = format!("{origin}/oauth2/token/");
    let client = standard(&url, "id", "secret-1").build().unwrap();
    client.fetch_token().await.unwrap();
    let request = String::from_utf8(seen.recv().await.unwrap()).unwrap();
    let line = request.lines().next().unwrap().to_owned();
    assert_eq!(
        line, "POST /oauth2/token/ HTTP/1.1",
        "token URL {url} was sent as: {line}"
    );
}

// ---------------------------------------------------------------------------------------
// BREAK B: RFC 6749 §3.3: scope = scope-token *( SP scope-token ): one space between
// tokens, none leading or trailing. The builder says it checks §3.3.

#[test]
fn a_scope_that_is_not_rfc_6749_3_3_is_refused() {
    for bad in [" read", "read ", "read  write"] {
        let result = standard("https://auth.example.invalid/token", "id", "secret-1")
            .scope(bad)
            .build();
        let error = result
            .err()
            .unwrap_or_else(|| panic!("scope {bad:?} was accepted (not §3.3)"));
        assert_eq!(error.kind(), ErrorKind::Configuration);
    }
}

// ---------------------------------------------------------------------------------------
// BREAK C: same caches/stores as the partners: but a client for another scope (or another
// client authentication) is handed the token of the first one.

#[tokio::test]
async fn a_token_cache_keeps_tokens_for_different_scopes_apart() {
    let server = MockServer::start_async().await;
    for scope in ["read", "admin"] {
        server
            .mock_async(|when, then| {
                when.method(POST)
                    .path("/token")
                    .form_urlencoded_tuple("scope", scope);
                then.status(200)
                    .header("content-type", "application/json")
                    .body(format!(
                        r#"{{"access_token":"tok-for-{scope}","token_type":"Bearer","expires_in":600}}"#
                    ));
            })
            .await;
    }
    let url = server.url("/token");
    let read = standard(&url, "id", "secret-1")
        .scope("read")
        .build()
        .unwrap();
    let admin = standard(&url, "id", "secret-1")
        .scope("admin")
        .build()
        .unwrap();
    let cache = TokenCache::new();
    assert_eq!(
        cache.token(&read).await.unwrap().expose_secret(),
        "tok-for-read"
    );
    let got = cache.token(&admin).await.unwrap();
    assert_eq!(
        got.expose_secret(),
        "tok-for-admin",
        "the client configured for scope `admin` got the `read` token from the cache"
    );
}

// ---------------------------------------------------------------------------------------
// BREAK D: secrets never in errors: a server that echoes the form body it could not parse
// shows the client secret form-urlencoded, which the scrubber does not recognize.

#[tokio::test]
async fn an_echoed_form_body_does_not_leak_the_secret_into_the_error() {
    let secret = "correct horse battery staple";
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/token");
            then.status(400).header("content-type", "application/json").body(
                r#"{"error":"invalid_request","error_description":"cannot parse grant_type=client_credentials&client_id=id&client_secret=correct+horse+battery+staple"}"#,
            );
        })
        .await;
    let client = standard(&server.url("/token"), "id", secret)
        .client_auth(ClientAuth::Body)
        .build()
        .unwrap();
    let error = client.fetch_token().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidRequest);
    let shown = format!(
        "{error}\n{error:?}\n{:?}\n{:?}",
        error.message(),
        error.body_excerpt()
    );
    assert!(
        !shown.contains("correct+horse+battery+staple"),
        "the secret (form-encoded) is in the error:\n{shown}"
    );
}

// ---------------------------------------------------------------------------------------
// What should hold: request conformance.

#[tokio::test]
async fn basic_and_body_requests_are_rfc_6749() {
    let (origin, mut seen) = raw_server(ok_token(), Duration::ZERO).await;
    let url = format!("{origin}/t");
    let (id, secret) = ("ïd:%+ one", "sé:cr%et+&=2");
    standard(&url, id, secret)
        .scope("a:b c/d %x")
        .build()
        .unwrap()
        .fetch_token()
        .await
        .unwrap();
    let raw = String::from_utf8(seen.recv().await.unwrap()).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let lower = head.to_ascii_lowercase();
    assert!(
        lower.contains("content-type: application/x-www-form-urlencoded"),
        "{head}"
    );
    assert!(lower.contains("accept: application/json"), "{head}");
    let auth = head
        .lines()
        .find_map(|l| l.strip_prefix("authorization: Basic "))
        .expect("basic");
    use base64::Engine as _;
    let decoded = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(auth)
            .unwrap(),
    )
    .unwrap();
    let (i, s) = decoded.split_once(':').unwrap();
    let dec = |v: &str| {
        url::form_urlencoded::parse(format!("x={v}").as_bytes())
            .next()
            .unwrap()
            .1
            .into_owned()
    };
    assert_eq!((dec(i), dec(s)), (id.to_owned(), secret.to_owned()));
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(
        fields,
        vec![
            ("grant_type".into(), "client_credentials".into()),
            ("scope".into(), "a:b c/d %x".into())
        ]
    );

    standard(&url, id, secret)
        .client_auth(ClientAuth::Body)
        .build()
        .unwrap()
        .fetch_token()
        .await
        .unwrap();
    let raw = String::from_utf8(seen.recv().await.unwrap()).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(
        !head.to_ascii_lowercase().contains("authorization"),
        "{head}"
    );
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(
        fields,
        vec![
            ("grant_type".into(), "client_credentials".into()),
            ("client_id".into(), id.into()),
            ("client_secret".into(), secret.into())
        ]
    );
}

// What should hold: every kind of bad answer is a typed error, no panic, no secret.

fn reply(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

#[tokio::test]
async fn bad_answers_are_typed_errors_without_the_secret() {
    let secret = "s3cret-Value-XYZ";
    let huge = {
        let mut b = br#"{"access_token":""#.to_vec();
        b.extend(std::iter::repeat_n(b'a', 2 * 1024 * 1024));
        b.extend_from_slice(br#"","expires_in":60}"#);
        b
    };
    let cases: Vec<(&str, Vec<u8>, ErrorKind)> = vec![
        (
            "html 200",
            reply("200 OK", "content-type: text/html\r\n", b"<html>hi</html>"),
            ErrorKind::InvalidResponse,
        ),
        (
            "empty 200",
            reply("200 OK", "", b""),
            ErrorKind::InvalidResponse,
        ),
        (
            "204",
            reply("204 No Content", "", b""),
            ErrorKind::InvalidResponse,
        ),
        (
            "huge 200",
            reply("200 OK", "content-type: application/json\r\n", &huge),
            ErrorKind::InvalidResponse,
        ),
        (
            "huge 400",
            reply("400 Bad Request", "", &huge),
            ErrorKind::InvalidResponse,
        ),
        (
            "array",
            reply("200 OK", "", b"[1,2]"),
            ErrorKind::InvalidResponse,
        ),
        (
            "number token",
            reply("200 OK", "", br#"{"access_token":5}"#),
            ErrorKind::InvalidResponse,
        ),
        (
            "nan expiry",
            reply("200 OK", "", br#"{"access_token":"t","expires_in":1e400}"#),
            ErrorKind::InvalidResponse,
        ),
        (
            "ctl token",
            reply("200 OK", "", b"{\"access_token\":\"a\\nb\"}"),
            ErrorKind::InvalidResponse,
        ),
        (
            "302 secret",
            reply(
                "302 Found",
                &format!("location: https://u:{secret}@evil.invalid/x?s={secret}#{secret}\r\n"),
                b"",
            ),
            ErrorKind::InvalidResponse,
        ),
        (
            "307 rel",
            reply(
                "307 Temporary Redirect",
                &format!("location: /x?{secret}\r\n"),
                secret.as_bytes(),
            ),
            ErrorKind::InvalidResponse,
        ),
        (
            "301 none",
            reply("301 Moved", "", b""),
            ErrorKind::InvalidResponse,
        ),
        (
            "401",
            reply(
                "401 Unauthorized",
                "www-authenticate: Basic\r\n",
                format!(r#"{{"error":"invalid_client","error_description":"bad {secret}"}}"#)
                    .as_bytes(),
            ),
            ErrorKind::InvalidCredentials,
        ),
        (
            "400 unauthorized_client",
            reply("400 Bad Request", "", br#"{"error":"unauthorized_client"}"#),
            ErrorKind::InvalidCredentials,
        ),
        (
            "400 invalid_grant",
            reply("400 Bad Request", "", br#"{"error":"invalid_grant"}"#),
            ErrorKind::InvalidRequest,
        ),
        (
            "429",
            reply("429 Too Many", "retry-after: 7\r\n", b""),
            ErrorKind::RateLimited,
        ),
        (
            "503",
            reply("503 Unavailable", "retry-after: 3\r\n", b"<html/>"),
            ErrorKind::ProviderUnavailable,
        ),
        (
            "418",
            reply("418 Teapot", "", b""),
            ErrorKind::InvalidRequest,
        ),
        (
            "garbage",
            b"NOT HTTP AT ALL\r\n\r\n".to_vec(),
            ErrorKind::Connection,
        ),
        (
            "truncated",
            b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"acc".to_vec(),
            ErrorKind::Connection,
        ),
    ];
    let mut failures = Vec::new();
    for (name, response, kind) in cases {
        let (origin, _seen) = raw_server(response, Duration::ZERO).await;
        let client = standard(&format!("{origin}/token"), "id", secret)
            .build()
            .unwrap();
        let error = match client.fetch_token().await {
            Ok(t) => {
                failures.push(format!("{name}: accepted token {t:?}"));
                continue;
            }
            Err(e) => e,
        };
        let shown = format!(
            "{error}\n{error:?}\n{:?}\n{:?}",
            error.message(),
            error.body_excerpt()
        );
        if error.kind() != kind {
            failures.push(format!("{name}: {:?} != {kind:?}: {error}", error.kind()));
        }
        if shown.contains(secret) {
            failures.push(format!("{name}: secret shown: {shown}"));
        }
        if name == "429" && error.retry_after() != Some(Duration::from_secs(7)) {
            failures.push(format!("{name}: retry_after {:?}", error.retry_after()));
        }
        eprintln!("{name}: {error}");
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn slow_and_dead_servers_are_timeouts_and_connection_errors() {
    let (origin, _seen) = raw_server(ok_token(), Duration::from_secs(30)).await;
    let client = Client::builder(Provider::Standard)
        .base_url(format!("{origin}/t"))
        .credentials(Credentials::new("id", "secret-1"))
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let error = client.fetch_token().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");

    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let client = standard(&format!("http://127.0.0.1:{port}/t"), "id", "secret-1")
        .build()
        .unwrap();
    let error = client.fetch_token().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Connection, "{error}");
}

#[test]
fn urls_and_misuse_are_configuration_errors_without_secrets() {
    let cases = [
        (
            "https://user:pa55-SECRET@auth.example.invalid/token",
            ErrorKind::Configuration,
        ),
        (
            "https://auth.example.invalid/token#k3y-SECRET",
            ErrorKind::Configuration,
        ),
        (
            "http://auth.example.invalid/token",
            ErrorKind::InsecureTransport,
        ),
        (
            "http://localhost.invalid/token",
            ErrorKind::InsecureTransport,
        ),
        ("ftp://auth.example.invalid/token", ErrorKind::Configuration),
    ];
    for (url, kind) in cases {
        let error = standard(url, "id", "secret-1").build().unwrap_err();
        assert_eq!(error.kind(), kind, "{url}: {error}");
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
    }
    // An IPv4 loopback address mapped into IPv6 is loopback: plain http to it stays on
    // this machine.
    standard("http://[::ffff:127.0.0.1]/token", "id", "secret-1")
        .build()
        .unwrap();
    // A query is kept (an identity provider's policy or key), but not shown.
    let client = standard(
        "https://auth.example.invalid/token?key=k3y-SECRET",
        "id",
        "secret-1",
    )
    .build()
    .unwrap();
    assert!(client.base_url().ends_with("?key=k3y-SECRET"));
    let shown = format!("{client:?}");
    assert!(!shown.contains("SECRET"), "{shown}");
    // Loopback plain http is allowed.
    for url in [
        "http://127.0.0.1:1/t",
        "http://[::1]:1/t",
        "http://localhost:1/t",
    ] {
        standard(url, "id", "secret-1").build().unwrap();
    }
    let error = Client::builder(Provider::Standard)
        .environment("custom")
        .credentials(Credentials::new("id", "secret-1"))
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Configuration);
    eprintln!("environment(custom): {error}");
    let error = Client::builder(Provider::Teez)
        .client_auth(ClientAuth::Basic)
        .credentials(Credentials::new("id", "secret-value-1"))
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Configuration);
    let client = standard("https://auth.example.invalid/token", "id", "sup3r-SECRET")
        .scope("read")
        .build()
        .unwrap();
    assert!(!format!("{client:?}").contains("sup3r-SECRET"));
}
