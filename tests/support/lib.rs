//! Shared helpers for the workspace tests: classifying a generated client's result, and
//! running the same malformed-response cases against every provider. The README's Rust
//! examples are compiled (and the runnable ones run) as this crate's doctests.

pub mod fleet;
pub mod latency_proxy;
pub mod redis_server;
#[path = "../../crates/partner-auth/tests/common/sandbox.rs"]
pub mod sandbox_client;
#[path = "../../crates/partner-auth/tests/common/sockets.rs"]
pub mod sockets;
#[path = "../../crates/partner-auth/tests/common/store_contract.rs"]
pub mod store_contract;

use std::future::Future;

use httpmock::prelude::*;
use partner_api_support::ResponseTooLarge;
use progenitor_client::{Error, ResponseValue};

/// What a generated client call came back with, reduced to what the tests assert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A documented success.
    Ok,
    /// A documented error status, decoded into its typed body.
    ErrorResponse(u16),
    /// A status the spec does not document.
    UnexpectedResponse(u16),
    /// A documented status whose body did not decode.
    InvalidResponsePayload,
    /// The body could not be read; `too_large` when the size limit stopped it.
    ResponseBodyError {
        /// Whether [`ResponseTooLarge`] is in the error's source chain.
        too_large: bool,
    },
    /// The request never got a response (connection refused, timeout).
    CommunicationError,
    /// The request was refused before it was sent.
    InvalidRequest,
    /// Anything else.
    Other(String),
}

/// Classifies a generated client's result.
pub fn outcome<T, E>(result: Result<ResponseValue<T>, Error<E>>) -> Outcome {
    match result {
        Ok(_) => Outcome::Ok,
        Err(Error::ErrorResponse(rv)) => Outcome::ErrorResponse(rv.status().as_u16()),
        Err(Error::UnexpectedResponse(r)) => Outcome::UnexpectedResponse(r.status().as_u16()),
        Err(Error::InvalidResponsePayload(..)) => Outcome::InvalidResponsePayload,
        Err(Error::ResponseBodyError(e)) => Outcome::ResponseBodyError {
            too_large: has_source::<ResponseTooLarge>(&e),
        },
        Err(Error::CommunicationError(_)) => Outcome::CommunicationError,
        Err(Error::InvalidRequest(_)) => Outcome::InvalidRequest,
        Err(Error::Custom(message)) => Outcome::Other(message),
        Err(Error::InvalidUpgrade(e)) => Outcome::Other(e.to_string()),
    }
}

/// Whether `T` is somewhere in the source chain of `err`.
pub fn has_source<T: std::error::Error + 'static>(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = err.source();
    while let Some(e) = source {
        if e.is::<T>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// A base URL on loopback where nothing listens.
/// The property names and the required ones (each sorted) of `T`'s JSON Schema, from a
/// generated crate's `schemars` feature.
pub fn schema_fields<T: schemars::JsonSchema>() -> (Vec<String>, Vec<String>) {
    let schema = serde_json::to_value(schemars::schema_for!(T)).expect("a schema serializes");
    let names = |value: &serde_json::Value| -> Vec<String> {
        let mut names: Vec<String> = match value {
            serde_json::Value::Object(map) => map.keys().cloned().collect(),
            serde_json::Value::Array(items) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        names.sort();
        names
    };
    (names(&schema["properties"]), names(&schema["required"]))
}

pub fn dead_base_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// Runs the malformed-response cases every provider must survive. `call` sends the
/// provider's token request to the base URL it is given; `documented_error` is a status
/// the spec documents for that operation.
pub async fn check_malformed_responses<F, Fut>(path: &str, documented_error: u16, call: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let big = "x".repeat(5 * 1024 * 1024);
    let cases: [(&str, u16, &str, &str, Outcome); 7] = [
        (
            "undocumented status",
            418,
            "application/json",
            "{}",
            Outcome::UnexpectedResponse(418),
        ),
        (
            "HTML from a proxy",
            200,
            "text/html",
            "<html><body>502 Bad Gateway</body></html>",
            Outcome::InvalidResponsePayload,
        ),
        (
            "empty body",
            200,
            "application/json",
            "",
            Outcome::InvalidResponsePayload,
        ),
        (
            "truncated JSON",
            200,
            "application/json",
            "{\"access_token\": \"abc",
            Outcome::InvalidResponsePayload,
        ),
        (
            "documented error status with an HTML body",
            documented_error,
            "text/html",
            "<html>oops</html>",
            Outcome::InvalidResponsePayload,
        ),
        (
            "5 MiB body",
            200,
            "application/json",
            &big,
            Outcome::ResponseBodyError { too_large: true },
        ),
        (
            "5 MiB error body",
            documented_error,
            "application/json",
            &big,
            Outcome::ResponseBodyError { too_large: true },
        ),
    ];
    for (name, status, content_type, body, expected) in cases {
        let server = MockServer::start_async().await;
        server.mock(|when, then| {
            when.method(POST).path(path);
            then.status(status)
                .header("content-type", content_type)
                .body(body);
        });
        assert_eq!(call(server.base_url()).await, expected, "case: {name}");
    }
    assert_eq!(
        call(dead_base_url()).await,
        Outcome::CommunicationError,
        "case: connection refused"
    );
}

/// The README's examples, compiled and run by `cargo test --workspace`.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExamples;

#[cfg(test)]
mod tests {
    /// `autotests = false` (the tests live at this crate's root, not in `tests/`): a test
    /// file that `Cargo.toml` does not declare would silently never compile. Every `.rs`
    /// file at the root, in `bin/` and in `benches/` must be declared.
    #[test]
    fn every_test_bench_and_bin_file_is_declared() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        let mut undeclared = Vec::new();
        for dir in ["", "bin", "benches"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                let relative = path.strip_prefix(root).unwrap().display().to_string();
                if !manifest.contains(&format!("path = \"{relative}\"")) {
                    undeclared.push(relative);
                }
            }
        }
        assert!(
            undeclared.is_empty(),
            "declare these in tests/Cargo.toml ([[test]], [[bin]] or [[bench]]): {undeclared:?}"
        );
    }
}
