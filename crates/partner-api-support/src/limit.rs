//! A ceiling on response body size, enforced while the body streams in.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use reqwest::ResponseBuilderExt as _;

/// Largest response body a generated client accepts by default: 1 MiB. A token response is a
/// few hundred bytes; anything near this size is a misconfigured server or proxy.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 1024 * 1024;

/// The response body exceeded the limit; found as the source of the body-read error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseTooLarge {
    /// The limit in bytes that was exceeded.
    pub limit: u64,
}

impl fmt::Display for ResponseTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "response body larger than {} bytes", self.limit)
    }
}

impl std::error::Error for ResponseTooLarge {}

/// Wraps `response` so that reading its body fails with [`ResponseTooLarge`] (as the source
/// of the `reqwest` error) as soon as more than `max_bytes` arrive; nothing past the limit is
/// buffered. A `Content-Length` above the limit fails before any of the body is read.
pub fn limit_response(response: reqwest::Response, max_bytes: u64) -> reqwest::Response {
    limit_and_tap(response, max_bytes, None)
}

/// [`limit_response`], also appending every chunk read to `tap` when given: one rebuild of
/// the response for both, and none when there is nothing to tap and the body's exact length
/// is known to be within the limit (HTTP/1 reads a `Content-Length` body to that length and
/// no further; a decompressed body has no known length).
pub(crate) fn limit_and_tap(
    response: reqwest::Response,
    max_bytes: u64,
    tap: Option<Arc<Mutex<Vec<u8>>>>,
) -> reqwest::Response {
    let declared = response.content_length();
    if tap.is_none() && declared.is_some_and(|len| len <= max_bytes) {
        return response;
    }
    let declared_too_large = declared.is_some_and(|len| len > max_bytes);
    let limit = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    map_body(response, |body| {
        // A declared length over the limit fails on the first read, without waiting for
        // a byte of a body the server may never send: the body is dropped (and with it the
        // connection) for one whose single byte is over a limit of 0.
        let (body, limit) = if declared_too_large {
            drop(body);
            (reqwest::Body::from(Bytes::from_static(b"\0")), 0)
        } else {
            (body, limit)
        };
        let limited = Limited::new(body, limit).map_err(move |err| {
            if err.is::<LengthLimitError>() {
                Box::new(ResponseTooLarge { limit: max_bytes })
                    as Box<dyn std::error::Error + Send + Sync>
            } else {
                err
            }
        });
        match tap {
            None => reqwest::Body::wrap(limited),
            Some(tap) => reqwest::Body::wrap(limited.map_frame(move |frame| {
                if let Some(data) = frame.data_ref() {
                    tap.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .extend_from_slice(data);
                }
                frame
            })),
        }
    })
}

/// Rebuilds `response` with its body replaced by `f(body)`, keeping status, headers and URL.
pub(crate) fn map_body(
    response: reqwest::Response,
    f: impl FnOnce(reqwest::Body) -> reqwest::Body,
) -> reqwest::Response {
    let url = response.url().clone();
    let (mut parts, body) = http::Response::<reqwest::Body>::from(response).into_parts();
    // Keep the URL, which the conversion to `http::Response` drops.
    if let Ok(with_url) = http::Response::builder().url(url).body(()) {
        parts.extensions.extend(with_url.into_parts().0.extensions);
    }
    reqwest::Response::from(http::Response::from_parts(parts, f(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GET on loopback, past any proxy named in the environment.
    async fn get(url: impl reqwest::IntoUrl) -> reqwest::Result<reqwest::Response> {
        let http = reqwest::Client::builder().no_proxy().build()?;
        http.get(url).send().await
    }
    use httpmock::prelude::*;

    fn too_large(err: &reqwest::Error) -> Option<ResponseTooLarge> {
        let mut source = std::error::Error::source(err);
        while let Some(e) = source {
            if let Some(found) = e.downcast_ref::<ResponseTooLarge>() {
                return Some(*found);
            }
            source = e.source();
        }
        None
    }

    #[tokio::test]
    async fn bodies_within_the_limit_pass_unchanged() {
        let server = MockServer::start_async().await;
        server.mock(|when, then| {
            when.path("/small");
            then.status(200).body("x".repeat(100));
        });
        let response = get(server.url("/small")).await.unwrap();
        let limited = limit_response(response, 100);
        assert_eq!(limited.url().path(), "/small");
        assert_eq!(limited.text().await.unwrap().len(), 100);
    }

    #[tokio::test]
    async fn bodies_over_the_limit_fail_with_a_typed_source() {
        let server = MockServer::start_async().await;
        server.mock(|when, then| {
            when.path("/big");
            then.status(200).body("x".repeat(5000));
        });
        let response = get(server.url("/big")).await.unwrap();
        let err = limit_response(response, 1000).bytes().await.unwrap_err();
        assert_eq!(too_large(&err), Some(ResponseTooLarge { limit: 1000 }));
    }

    /// A loopback server that answers one request with `response`, byte for byte, then
    /// closes the connection, or with `hold_open` sends nothing more and holds it open
    /// until the client hangs up.
    fn raw_server(response: Vec<u8>, hold_open: bool) -> String {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/raw", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let _ = stream.write_all(&response);
            while hold_open && !matches!(stream.read(&mut buf), Ok(0) | Err(_)) {}
        });
        url
    }

    #[tokio::test]
    async fn a_declared_length_bounds_the_body_even_when_the_server_sends_more() {
        // Within the limit by its `Content-Length`, so no limit is wrapped around it: the
        // bytes past the declared length must not reach the body.
        let mut response = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n".to_vec();
        response.extend(std::iter::repeat_n(b'x', 5000));
        let url = raw_server(response, false);
        let response = get(url).await.unwrap();
        let body = limit_response(response, 100).bytes().await.unwrap();
        assert_eq!(body.len(), 10);
    }

    #[tokio::test]
    async fn a_body_of_unknown_length_is_cut_at_the_limit() {
        let mut response = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..5 {
            response.extend(b"3e8\r\n");
            response.extend(std::iter::repeat_n(b'x', 1000));
            response.extend(b"\r\n");
        }
        response.extend(b"0\r\n\r\n");
        let url = raw_server(response, false);
        let response = get(url).await.unwrap();
        assert_eq!(response.content_length(), None);
        let err = limit_response(response, 1500).bytes().await.unwrap_err();
        assert_eq!(too_large(&err), Some(ResponseTooLarge { limit: 1500 }));
    }

    /// From review: "A `Content-Length` above the limit fails before any of the body is
    /// read", so a server that declares a body too large and then sends nothing (or
    /// trickles it) cannot hold the read open: it fails at once, with no timeout to wait out
    /// (a caller's `reqwest::Client` may have none).
    const DECLARED_TOO_LARGE: &[u8] =
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 5000000\r\n\r\n";

    #[tokio::test(start_paused = true)]
    async fn a_declared_length_over_the_limit_fails_without_waiting_for_the_body() {
        let response = get(raw_server(DECLARED_TOO_LARGE.to_vec(), true))
            .await
            .unwrap();
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(3600),
            limit_response(response, 1000).bytes(),
        )
        .await
        .expect("the read waited for a body it was going to refuse");
        assert_eq!(
            too_large(&read.unwrap_err()),
            Some(ResponseTooLarge { limit: 1000 })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_same_through_a_client_state_with_a_capturing_observer() {
        use crate::{ClientState, ResponseObserver};
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let observer = ResponseObserver::capturing_body();
        let state = ClientState::default()
            .with_max_response_bytes(1000)
            .with_response_observer(observer.clone());
        let request = reqwest::Request::new(
            reqwest::Method::POST,
            raw_server(DECLARED_TOO_LARGE.to_vec(), true)
                .parse()
                .unwrap(),
        );
        let response = state.execute(&http, request).await.unwrap();
        let read = tokio::time::timeout(std::time::Duration::from_secs(3600), response.bytes())
            .await
            .expect("the read waited for a body it was going to refuse");
        assert_eq!(
            too_large(&read.unwrap_err()),
            Some(ResponseTooLarge { limit: 1000 })
        );
        assert_eq!(observer.last().unwrap().status, 200);
        assert_eq!(observer.body().unwrap(), b"");
    }
}
