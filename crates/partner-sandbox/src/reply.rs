//! A response as the sandbox writes it.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use serde_json::Value;

/// Status, headers and body of one answer.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Self {
        Self::with_type(status, "application/json", body)
    }

    pub fn problem(status: u16, body: Value) -> Self {
        Self::with_type(status, "application/problem+json", body)
    }

    pub fn html(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: vec![("content-type", "text/html; charset=utf-8".into())],
            body: Bytes::from(body.to_owned()),
        }
    }

    fn with_type(status: u16, content_type: &str, body: Value) -> Self {
        Self {
            status,
            headers: vec![("content-type", content_type.to_owned())],
            body: Bytes::from(body.to_string()),
        }
    }

    pub fn header(mut self, name: &'static str, value: impl ToString) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    pub fn into_response(self) -> http::Response<Full<Bytes>> {
        let mut builder = http::Response::builder().status(self.status);
        for (name, value) in self.headers {
            builder = builder.header(name, value);
        }
        builder
            .body(Full::new(self.body))
            .unwrap_or_else(|_| http::Response::new(Full::new(Bytes::new())))
    }
}

/// Seconds in a duration, rounded up, at least 1.
pub(crate) fn whole_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}
