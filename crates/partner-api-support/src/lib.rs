//! Runtime support shared by the generated partner `*-api` crates.
//!
//! `cargo xtask regen` turns each provider's OpenAPI document into a client crate with
//! [progenitor](https://docs.rs/progenitor). progenitor ignores security schemes and builds
//! its HTTP client with a panicking `unwrap()`; this crate holds the small, hand-written
//! pieces every generated crate shares instead:
//!
//! - [`BasicCredentials`]: client id and secret for `Authorization: Basic`, form-encoded
//!   first (RFC 6749 §2.3.1) or as they are (RFC 7617), the secret kept in a
//!   [`secrecy::SecretString`].
//! - [`ClientState`]: the per-client state the generated request hooks read: credentials and
//!   the largest response body accepted.
//! - [`http_client`] and [`parse_base_url`]: fallible construction, so a bad base URL or a
//!   failing TLS setup is an error value, never a panic.
//! - [`one_line`]: a server's words on one line, safe to log or print.
//!
//! - `mock` (feature `mock`): `mock::form_body`, the typed httpmock matcher of form request
//!   bodies used by the generated crates' `mock` feature.
//!
//! Applications normally use these through a generated crate's re-exports.
//!
//! ```
//! use partner_api_support::{BasicCredentials, ClientState, parse_base_url};
//!
//! let credentials = BasicCredentials::new("client id", "s3cret:with colon");
//! // RFC 6749 §2.3.1: both parts are form-urlencoded before they are joined.
//! assert_eq!(
//!     credentials.authorization_header().to_str().unwrap(),
//!     "Basic Y2xpZW50K2lkOnMzY3JldCUzQXdpdGgrY29sb24="
//! );
//! assert!(!format!("{credentials:?}").contains("s3cret"));
//!
//! let state = ClientState::default().with_basic_credentials(credentials);
//! assert!(state.basic_credentials().is_some());
//! assert!(parse_base_url("not a url").is_err());
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod credentials;
mod http;
mod limit;
#[cfg(feature = "mock")]
pub mod mock;
mod state;
mod text;

pub use credentials::{BasicCredentials, IntoClientSecret, InvalidBasicCredentials};
pub use http::{ClientBuildError, DEFAULT_TIMEOUT, http_client, is_loopback, parse_base_url};
pub use limit::{DEFAULT_MAX_RESPONSE_BYTES, ResponseTooLarge, limit_response};
pub use secrecy::{ExposeSecret, SecretString};
pub use state::{ClientState, ResponseHead, ResponseObserver};
pub use text::one_line;
