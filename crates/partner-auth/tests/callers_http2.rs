//! From review: reqwest retries a request that an HTTP/2 server refused (REFUSED_STREAM, a
//! graceful GOAWAY: "safe to retry", RFC 9113 §8.7) only with a body it can send again. On
//! a caller's HTTP client the once-only body is for a body that holds the secret: a token
//! request with Basic credentials is retried as reqwest retries any other.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use partner_auth::{Client, Credentials, Provider};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const TOKEN_BODY: &str =
    r#"{"access_token":"tok-h2-abcdef","token_type":"Bearer","expires_in":600}"#;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// An h2c (prior knowledge) server that refuses the first stream it sees with
/// REFUSED_STREAM and answers every later one with a token.
async fn refusing_h2_server() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/oauth2/token", listener.local_addr().unwrap());
    let streams = Arc::new(AtomicUsize::new(0));
    let seen = streams.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut preface = [0u8; 24];
                if socket.read_exact(&mut preface).await.is_err() {
                    return;
                }
                let _ = socket.write_all(&frame(4, 0, 0, &[])).await;
                let mut refused = std::collections::HashSet::new();
                loop {
                    let mut head = [0u8; 9];
                    if socket.read_exact(&mut head).await.is_err() {
                        return;
                    }
                    let len = (usize::from(head[0]) << 16)
                        | (usize::from(head[1]) << 8)
                        | usize::from(head[2]);
                    let (kind, flags) = (head[3], head[4]);
                    let stream =
                        u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
                    let mut payload = vec![0u8; len];
                    if socket.read_exact(&mut payload).await.is_err() {
                        return;
                    }
                    let end_stream = flags & 0x1 != 0;
                    match kind {
                        4 if flags & 0x1 == 0 => {
                            let _ = socket.write_all(&frame(4, 0x1, 0, &[])).await;
                        }
                        1 => {
                            if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                                refused.insert(stream);
                                let _ = socket
                                    .write_all(&frame(3, 0, stream, &7u32.to_be_bytes()))
                                    .await;
                            } else if end_stream {
                                respond(&mut socket, stream).await;
                            }
                        }
                        0 if end_stream && !refused.contains(&stream) => {
                            respond(&mut socket, stream).await;
                        }
                        _ => {}
                    }
                }
            });
        }
    });
    (url, streams)
}

async fn respond(socket: &mut tokio::net::TcpStream, stream: u32) {
    // :status 200 (static index 8); content-type (index 31), literal value.
    let mut headers = vec![0x88, 0x0f, 0x10, 16];
    headers.extend_from_slice(b"application/json");
    let _ = socket.write_all(&frame(1, 0x4, stream, &headers)).await;
    let _ = socket
        .write_all(&frame(0, 0x1, stream, TOKEN_BODY.as_bytes()))
        .await;
}

fn h2_client() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_refused_http2_stream_is_retried_on_a_callers_client_for_basic_credentials() {
    // Control: the same client, a body it can clone: reqwest retries the refused stream.
    let (url, streams) = refusing_h2_server().await;
    let response = h2_client()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("reqwest retries a refused stream when the body can be cloned");
    assert_eq!(response.status(), 200);
    assert_eq!(streams.load(Ordering::SeqCst), 2);

    // The token request through that client (redirects already off).
    let (url, _) = refusing_h2_server().await;
    let outcome = Client::builder(Provider::Standard)
        .base_url(&url)
        .credentials(Credentials::new(CLIENT_ID, SECRET))
        .http_client(h2_client())
        .build()
        .unwrap()
        .fetch_token()
        .await;
    match outcome {
        Ok(token) => assert_eq!(token.expose_secret(), "tok-h2-abcdef"),
        Err(err) => panic!("{:?}: {err}", err.kind()),
    }
}
