//! Repeated singleton headers as a client's bytes carry them (names in any case, an empty
//! second value, a `Content-Type` split over two fields): refused 400, counted once as a
//! rejection, never as a spec violation.

use base64::Engine as _;
use partner_sandbox::Sandbox;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Sends `head` (request line and headers, CRLF-separated, no blank line) and `body` as they
/// are; the status and the body of the answer.
async fn raw(base_url: &str, head: &str, body: &str) -> (u16, String) {
    let authority = base_url
        .strip_prefix("http://")
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    let request = format!(
        "{head}\r\nHost: {authority}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer[9..12].parse().unwrap();
    let body = answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

#[tokio::test]
async fn repeated_headers_in_any_form_are_one_rejection_and_no_violation() {
    let sandbox = Sandbox::start().await.unwrap();
    let endpoint = sandbox.endpoint("dinie");
    let path = format!(
        "{}/auth/token",
        endpoint
            .base_url
            .splitn(4, '/')
            .nth(3)
            .map_or(String::new(), |p| format!("/{p}"))
    );
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", endpoint.client_id, endpoint.client_secret))
    );
    let form = "application/x-www-form-urlencoded";
    let body = "grant_type=client_credentials";
    let cases = [
        format!("authorization: {basic}\r\nAUTHORIZATION: {basic}\r\nContent-Type: {form}"),
        format!("Authorization: {basic}\r\nauthorization:\r\nContent-Type: {form}"),
        format!("Authorization: {basic}\r\ncontent-type: {form}\r\nCONTENT-TYPE: charset=utf-8"),
        format!("Authorization: {basic}\r\nContent-Type: {form};\r\nContent-Type: {form}"),
    ];
    for (i, headers) in cases.iter().enumerate() {
        let (status, answer) = raw(
            &endpoint.base_url,
            &format!("POST {path} HTTP/1.1\r\n{headers}"),
            body,
        )
        .await;
        assert_eq!(status, 400, "case {i}: {answer}");
        assert!(answer.contains("header is repeated"), "case {i}: {answer}");
    }
    // The request alone gets its token.
    let (status, answer) = raw(
        &endpoint.base_url,
        &format!("POST {path} HTTP/1.1\r\nAuthorization: {basic}\r\nContent-Type: {form}"),
        body,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let stats = sandbox.stats("dinie");
    assert_eq!(stats.token_requests, 5);
    assert_eq!(stats.rejected, 4);
    assert_eq!(stats.tokens_issued, 1);
    assert_eq!(stats.spec_violations, 0);
    assert!(sandbox.spec_violations().is_empty());

    // The stand-in API: the same token twice, in two cases, or with an empty second.
    let token = answer
        .split("\"access_token\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let protected = endpoint.protected_url();
    let api_path = format!("/{}", protected.splitn(4, '/').nth(3).unwrap());
    for headers in [
        format!("authorization: Bearer {token}\r\nAUTHORIZATION: Bearer {token}"),
        format!("Authorization: Bearer {token}\r\nAuthorization:"),
    ] {
        let (status, answer) = raw(
            &endpoint.base_url,
            &format!("GET {api_path} HTTP/1.1\r\n{headers}"),
            "",
        )
        .await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer.contains("invalid_request"), "{answer}");
    }
    let stats = sandbox.stats("dinie");
    assert_eq!(stats.api_requests, 2);
    // Counted as requests only: neither accepted nor refused for their token.
    assert_eq!(stats.api_accepted, 0);
    assert_eq!(stats.api_expired_token + stats.api_unknown_token, 0);
}
