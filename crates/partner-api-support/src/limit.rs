//! A ceiling on response body size, enforced while the body streams in.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

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
/// the response for both.
pub(crate) fn limit_and_tap(
    response: reqwest::Response,
    max_bytes: u64,
    tap: Option<Arc<Mutex<Vec<u8>>>>,
) -> reqwest::Response {
    let declared_too_large = response.content_length().is_some_and(|len| len > max_bytes);
    let limit = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    let limit = if declared_too_large { 0 } else { limit };
    map_body(response, |body| {
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
        let response = reqwest::get(server.url("/small")).await.unwrap();
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
        let response = reqwest::get(server.url("/big")).await.unwrap();
        let err = limit_response(response, 1000).bytes().await.unwrap_err();
        assert_eq!(too_large(&err), Some(ResponseTooLarge { limit: 1000 }));
    }
}
