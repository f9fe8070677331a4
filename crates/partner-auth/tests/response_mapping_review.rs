//! From an adversarial review of how token and error responses become `AccessToken` and
//! `Error` (kept as regression tests): each failed before its fix.

mod common;

use std::time::Duration;

use partner_auth::{Client, Credentials, Provider};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

const PROVIDERS: [Provider; 6] = [
    Provider::Teez,
    Provider::AlternativePayments,
    Provider::Cobee,
    Provider::Tradevest,
    Provider::Dinie,
    Provider::Standard,
];

/// A loopback server answering every request with `response`, byte for byte.
async fn raw_server(response: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let response = response.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 16384];
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
                let _ = stream.write_all(&response).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

fn reply(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// The error `provider`'s client with `secret` gets from a server answering `response`.
async fn error_from(provider: Provider, secret: &str, response: Vec<u8>) -> partner_auth::Error {
    let server = raw_server(response).await;
    Client::builder(provider)
        .base_url(common::base_url(provider, &server))
        .credentials(Credentials::new(common::CLIENT_ID, secret))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .fetch_token()
        .await
        .unwrap_err()
}

/// Every way an error is shown.
fn every_form(error: &partner_auth::Error) -> String {
    format!(
        "{error}\n{error:?}\n{}",
        serde_json::to_string(error).unwrap()
    )
}

/// A redirect's target is named in the error, as the URL parser writes it: the path
/// re-encoded its own way (`<` as `%3C`, `:`, `!` and `@` kept, which no encoder the
/// scrubbing knows keeps), the host in lowercase. A secret the server put there as it was
/// sent came out in a form nothing scrubbed.
#[tokio::test]
async fn a_secret_in_a_redirects_path_or_host_is_not_shown_in_the_parsers_spelling() {
    for provider in PROVIDERS {
        let secret = "aB3<x>:Qz9!k@w";
        let location = format!("location: https://login.example.invalid/p/{secret}\r\n");
        let error = error_from(provider, secret, reply("302 Found", &location, b"")).await;
        let shown = every_form(&error);
        for form in [secret, "aB3%3Cx%3E:Qz9!k@w"] {
            assert!(!shown.contains(form), "{provider}: {form} in {shown}");
        }
        assert!(shown.contains("login.example.invalid"), "{shown}");

        let secret = "Secret0Value9";
        let location = format!("location: https://{secret}.example.invalid/p\r\n");
        let error = error_from(provider, secret, reply("302 Found", &location, b"")).await;
        let shown = every_form(&error);
        assert!(
            !shown.to_ascii_lowercase().contains("secret0value9"),
            "{provider}: {shown}"
        );
    }
}

/// `text` in UTF-16, little-endian with a byte order mark or big-endian without one.
fn utf16(text: &str, little_endian: bool) -> Vec<u8> {
    let units = text.encode_utf16();
    if little_endian {
        [0xfeffu16]
            .into_iter()
            .chain(units)
            .flat_map(u16::to_le_bytes)
            .collect()
    } else {
        units.flat_map(u16::to_be_bytes).collect()
    }
}

/// An error body in UTF-16 (a Windows server's `Encoding.Unicode`) echoing the secret: read
/// as UTF-8, each character came with a NUL, so no spelling of the secret matched and the
/// excerpt showed it, one NUL apart; and its RFC 6749 code was not read.
#[tokio::test]
async fn a_utf16_error_body_is_read_as_text_and_scrubbed() {
    let secret = common::SECRET;
    let body =
        format!(r#"{{"error":"invalid_client","error_description":"wrong secret {secret}"}}"#);
    for provider in [Provider::Tradevest, Provider::Standard] {
        for little_endian in [true, false] {
            let headers = "content-type: application/json; charset=utf-16\r\n";
            let response = reply("400 Bad Request", headers, &utf16(&body, little_endian));
            let error = error_from(provider, secret, response).await;
            let shown = every_form(&error)
                .replace('\0', "")
                .replace(r"\0", "")
                .replace(r"\u0000", "");
            assert!(!shown.contains(secret), "{provider}: {shown}");
            assert_eq!(error.code(), Some("invalid_client"), "{provider}: {shown}");
            assert_eq!(
                error.kind(),
                partner_auth::ErrorKind::InvalidCredentials,
                "{provider}"
            );
            assert_eq!(error.message(), Some("wrong secret [REDACTED]"));
        }
    }
}

/// A token body after a UTF-8 byte order mark (which RFC 8259 §8.1 lets a parser ignore,
/// and some Windows stacks write): the token was lost, as "bytes that are not JSON".
#[tokio::test]
async fn a_token_body_after_a_utf8_byte_order_mark_is_a_token() {
    for provider in PROVIDERS {
        let body = format!(
            "\u{feff}{}",
            r#"{"access_token":"tok-abc","token_type":"bearer","expires_in":60,"accessToken":"tok-abc","tokenType":"Bearer","expiresIn":60}"#
        );
        let headers = "content-type: application/json\r\n";
        let server = raw_server(reply("200 OK", headers, body.as_bytes())).await;
        let token = Client::builder(provider)
            .base_url(common::base_url(provider, &server))
            .credentials(Credentials::new(common::CLIENT_ID, common::SECRET))
            .build()
            .unwrap()
            .fetch_token()
            .await
            .unwrap_or_else(|e| panic!("{provider}: {e}"));
        assert_eq!(token.expose_secret(), "tok-abc");
        assert_eq!(
            token.lifetime(),
            Some(Duration::from_secs(60)),
            "{provider}"
        );
    }
}

/// `secret` escaped as an HTML page writes it (`quote` and `apostrophe` for `"` and `'`),
/// and every form of the error `provider`'s client gets for a 400 page that echoes it so.
async fn html_echo(
    provider: Provider,
    secret: &str,
    quote: &str,
    apostrophe: &str,
) -> (String, String) {
    let echoed = secret
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', quote)
        .replace('\'', apostrophe);
    let body = format!(
        "<html><body><h1>400 Bad Request</h1><p>client_secret={echoed} refused</p></body></html>"
    );
    let headers = "content-type: text/html\r\n";
    let response = reply("400 Bad Request", headers, body.as_bytes());
    let error = error_from(provider, secret, response).await;
    (echoed, every_form(&error))
}

/// An HTML error page (a gateway's, a WAF's) echoing the secret escapes it as HTML does:
/// `<` as `&lt;`, a quote as `&quot;` or `&#34;`, an apostrophe as `&#39;`, `&#x27;`,
/// `&#039;` or `&apos;`, `&` as `&amp;`. That form was shown in the excerpt (found by
/// review).
#[tokio::test]
async fn a_secret_an_html_page_echoes_escaped_is_not_shown() {
    let secret = "aB3<x>&\"q'Z9!k@w";
    let escapes: [(&str, &str); 6] = [
        ("&quot;", "&#39;"),
        ("&#34;", "&#39;"),
        ("&quot;", "&#x27;"),
        ("&quot;", "&#039;"),
        ("&quot;", "&apos;"),
        ("&#34;", "&#x27;"),
    ];
    for provider in PROVIDERS {
        for (quote, apostrophe) in escapes {
            let (echoed, shown) = html_echo(provider, secret, quote, apostrophe).await;
            assert!(
                !shown.contains(&echoed) && !shown.contains("q&#") && !shown.contains("aB3&lt;"),
                "{provider} ({quote} {apostrophe}): {shown}"
            );
            assert!(shown.contains("400 Bad Request"), "{provider}: {shown}");
        }
    }
}

/// The escapers that leave a quote as it is: Apache's error pages (`ap_escape_html`) and
/// PHP's `htmlspecialchars` before 8.1 (its default `ENT_COMPAT`) write `&quot;` and a raw
/// `'`; Python's `html.escape(s, quote=False)` leaves both. A secret echoed so was shown
/// (found by review: the escaped forms took every quote and apostrophe escaped).
#[tokio::test]
async fn a_secret_an_html_page_echoes_with_its_quotes_raw_is_not_shown() {
    let secret = "aB3<x>&\"q'Z9!k@w";
    for provider in PROVIDERS {
        for (quote, apostrophe) in [("&quot;", "'"), ("&#34;", "'"), ("\"", "'")] {
            let (echoed, shown) = html_echo(provider, secret, quote, apostrophe).await;
            assert!(
                !shown.contains(&echoed) && !shown.contains("aB3&lt;"),
                "{provider} ({quote} {apostrophe}): {shown}"
            );
            assert!(shown.contains("400 Bad Request"), "{provider}: {shown}");
        }
    }
}

/// The token `provider`'s client gets from a server answering `body` with a 200.
async fn token_from(provider: Provider, body: &str) -> partner_auth::AccessToken {
    let headers = "content-type: application/json\r\n";
    let server = raw_server(reply("200 OK", headers, body.as_bytes())).await;
    Client::builder(provider)
        .base_url(common::base_url(provider, &server))
        .credentials(Credentials::new(common::CLIENT_ID, common::SECRET))
        .build()
        .unwrap()
        .fetch_token()
        .await
        .unwrap_or_else(|e| panic!("{provider}: {e}"))
}

/// A token body with both spellings of each field, `token_type` as given.
fn body_with_type(token_type: &str) -> String {
    serde_json::json!({
        "access_token": "tok-abc", "token_type": token_type, "expires_in": 60,
        "accessToken": "tok-abc", "tokenType": token_type, "expiresIn": 60,
    })
    .to_string()
}

/// A blank `token_type` is no type, which is Bearer, as a missing one is (found by review:
/// `""` was a type of its own, and `authorization_header` refused the token).
#[tokio::test]
async fn a_blank_token_type_is_bearer() {
    for provider in [Provider::Teez, Provider::Tradevest, Provider::Standard] {
        for blank in ["", "   "] {
            let token = token_from(provider, &body_with_type(blank)).await;
            assert_eq!(
                *token.token_type(),
                partner_auth::TokenType::Bearer,
                "{provider}: {blank:?}"
            );
            assert!(token.authorization_header().is_ok(), "{provider}");
        }
    }
}

/// `AccessToken`'s `Display` (a log line: `println!("{token}")`) shows the provider's token
/// type escaped, as an error's `Display` shows the provider's words: a newline or an escape
/// sequence from the server cannot forge a line or reach a terminal (found by review).
#[tokio::test]
async fn a_token_types_control_characters_are_escaped_in_display() {
    for provider in [Provider::Tradevest, Provider::Standard] {
        let token = token_from(provider, &body_with_type("mac\n\u{1b}[31mforged\u{202e}")).await;
        let shown = token.to_string();
        assert!(
            !shown.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{provider}: {shown:?}"
        );
        assert!(shown.contains("mac"), "{shown}");
        // The type itself is kept as sent.
        assert_eq!(token.token_type().as_str(), "mac\n\u{1b}[31mforged\u{202e}");
    }
}
