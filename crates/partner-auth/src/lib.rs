//! Access tokens from five partner APIs behind one client.
//!
//! Teez, Alternative Payments, Cobee, Tradevest and Dinie each issue OAuth 2.0
//! client-credentials tokens in their own dialect (JSON or form body, Basic auth or secret
//! in the body, camelCase or snake_case, five error formats). This crate calls each one
//! through its generated client (`teez_api`, `alternative_payments_api`, `cobee_api`,
//! `tradevest_api`, `dinie_api`) and maps every answer into one [`AccessToken`] or one
//! [`Error`]. [`Provider::Standard`] does the same for any other token endpoint that
//! follows RFC 6749.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let server = httpmock::MockServer::start_async().await;
//! # server.mock(|when, then| {
//! #     when.path("/api/v3/oauth/token");
//! #     then.status(200).header("content-type", "application/json")
//! #         .body(r#"{"accessToken":"eyJhbGciOi.e30.c2ln","tokenType":"Bearer","expiresIn":86400}"#);
//! # });
//! # let base_url = format!("{}/api/v3", server.base_url());
//! use partner_auth::{Client, Credentials, ErrorKind, Provider};
//!
//! let client = Client::builder(Provider::Cobee)
//!     .base_url(base_url) // or .environment("pre-production"); default "production"
//!     .credentials(Credentials::new("client-id", "client-secret"))
//!     .build()?;
//!
//! match client.fetch_token().await {
//!     Ok(token) => {
//!         assert_eq!(token.lifetime().map(|l| l.as_secs()), Some(86400));
//!         let _header = token.authorization_header()?; // "Bearer …", marked sensitive
//!     }
//!     Err(err) if err.kind() == ErrorKind::InvalidCredentials => eprintln!("{err}"),
//!     Err(err) if err.is_retryable() => eprintln!("try again in {:?}", err.retry_after()),
//!     Err(err) => return Err(err.into()),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Token management
//!
//! Applications should not call [`Client::fetch_token`] per request. A [`TokenSource`]
//! caches the token (a lock-free read while it is fresh), shares one fetch among any number
//! of concurrent callers, refreshes ahead of expiry in the background, retries retryable
//! failures within the provider's rate limits ([`CachePolicy`], [`RetryPolicy`]), and
//! drops a token the API rejected with [`TokenSource::invalidate`]. Its clock and sleep are
//! injectable ([`time`]), so tests run on time they control. [`TokenCache`] holds one
//! source per provider, base URL, client id and secret, bounded in size. [`AuthMiddleware`]
//! attaches the token to the requests of a `reqwest-middleware` client that go to the API
//! it is for, and retries once on a 401; [`Stats`] counts hits, fetches, refreshes and
//! failures. A [`store`] (Redis with feature `redis`, a directory with feature
//! `file-store`, or your own [`TokenStore`](store::TokenStore)) shares one token per
//! credential among processes: one token request for a whole fleet.
//!
//! ```no_run
//! # async fn run(client: partner_auth::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use partner_auth::{AuthMiddleware, TokenSource};
//!
//! let source = TokenSource::new(client);
//! let api = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(AuthMiddleware::new(source.clone(), "https://api.example.invalid/v1")?)
//!     .build();
//! let orders = api.get("https://api.example.invalid/v1/orders").send().await?; // token attached
//! let other = api.get("https://elsewhere.example.invalid/").send().await?; // not attached
//! # Ok(())
//! # }
//! ```
//!
//! # Errors
//!
//! Every failure is an [`Error`]; [`Error::kind`] says what happened. Real servers do not
//! always follow their specs, so the kind comes from the status first and the body second:
//!
//! | provider | status | body | kind |
//! | --- | --- | --- | --- |
//! | any | 401, 403 | anything (Alternative Payments' documented 403 map, Dinie's problem, `{"error":"invalid_client"}`) | `InvalidCredentials` |
//! | any | 400 | RFC 6749 `error: invalid_client` / `unauthorized_client` (Tradevest) | `InvalidCredentials` |
//! | Teez | 400 | field errors only on `clientId` / `clientSecret` (both Teez formats) | `InvalidCredentials` |
//! | any | 400, other 4xx | anything else (Teez FastEndpoints `errors`, Cobee `code`, Dinie `errors[]` or top-level `param`, on the client id too) | `InvalidRequest` |
//! | any | 408 | anything | `Timeout` |
//! | any | 429 | anything (Cobee `error_description`, Dinie `rate_limit_exceeded`) | `RateLimited`, with `retry_after()` (Alternative Payments, which sends no wait: its one-second window) |
//! | any | 5xx | anything, HTML from a proxy included | `ProviderUnavailable` |
//! | any | 3xx | anything | `InvalidResponse` (redirects are not followed; for a caller's HTTP client, see [`ClientBuilder::http_client`]) |
//! | any | 2xx | not a token: HTML, empty, truncated JSON, no access token, a blank or non-header token (a body the connection cuts short of its `Content-Length` is a `Connection` error) | `InvalidResponse` |
//! | any | 2xx | a token already expired on arrival (by its lifetime measured from the send time, or its JWT on the provider's clock) | `InvalidResponse`, with the failure cool-down in a [`TokenSource`] |
//! | any | 2xx | a token with odd fields: `"3600"` as a string, other key case, extra keys; after a UTF-8 byte order mark | success (lenient decode) |
//! | any | any | larger than 1 MiB | `InvalidResponse`, refused while streaming |
//! | any | none | connection refused, DNS, TLS, reset, the system giving up on the connection (Linux: after about 2 min) | `Connection` |
//! | any | none | no answer within the timeout | `Timeout` |
//! | any | none | `http://` to a non-loopback host | `InsecureTransport`, before any connection |
//! | any | none | empty id or secret, Teez secret under 8 characters or without a digit, a `:` in an Alternative Payments or Dinie client id (their Basic header sends it as is); an invalid [`CachePolicy`]; no Tokio runtime | `Configuration`, before any request |
//! | any | none | a panic inside a fetch (a bug here, or in an injected clock or sleep, or a Tokio runtime without its time or I/O driver) | `Internal`, with the failure cool-down |
//!
//! A panic is turned into an error only where one can be caught: built with
//! `panic = "abort"`, the process ends instead, as it does for any panic there.
//!
//! The provider's own code and message are kept ([`Error::code`], [`Error::message`],
//! [`Error::field_errors`]), with the client secret scrubbed from them (as sent; form- or
//! percent-encoded as the common encoders write it, in either case of hex digit; escaped
//! as in a JSON string, as Python's, Go's, PHP's and .NET's JSON writers escape it by
//! default; escaped as an HTML page shows it, `&amp;`, `&lt;`, `&gt;` and a quote and an
//! apostrophe as the common escapers write them; the pieces of it a form or URL parser may cut it into, of 8 bytes or more; for
//! HTTP Basic, the base64 `Authorization` value, and the pair encoded again without the
//! form encoding; a secret shorter than 4 bytes, wherever a letter, a digit, `_`, `-`,
//! `/` or an inner `.` does not join it to a longer word, number or path: it may then hide
//! ordinary text spelled the same, such as a key `id` for a secret `id`), and
//! so is a short [`Error::body_excerpt`] (cut where it leaves no
//! part of a secret); so are the values of a standard provider's token URL query, which
//! may hold a key (each value, pairs split at `&` or `;`, as the URL carries it and
//! decoded, and a name without a value; those of 4 bytes or more: shorter ones would
//! redact ordinary words). A token type that is not Bearer is scrubbed of the token it came
//! with. The error's kind and the token's type are read before anything is scrubbed. No
//! `Debug`, `Display` or serialized (serde) output of this crate contains a client secret
//! or an access token.
//!
//! # Observability
//!
//! `tracing` spans, never with a secret or a token in a field or message:
//! `token_fetch` (one shared fetch of a [`TokenSource`], with its retries: `provider`,
//! `environment`, `refresh` (a token was cached), `attempts`, `outcome`: `ok` or the
//! error's [`ErrorKind::as_str`]), inside it `token_request` (one HTTP request: `provider`,
//! `environment`, `outcome`: `ok` or `error`, and for an error `error_kind` and `status`), and `authorized_request` (one request
//! [`AuthMiddleware`] attaches the token to, not one it leaves alone: `provider`,
//! `environment`, `method`, `host`, `path` without the query, `status`,
//! `retried_after_401`). A fetch a caller waits for is a child of the caller's span; a
//! background refresh, which nobody waits for, is a span of its own that follows from the
//! caller's (as a child it would keep the caller's span open until it ended); a caller
//! that joins a fetch under way follows from its span. A failed
//! fetch is also a `warn` event with `provider`, `environment`, `kind`
//! ([`ErrorKind::as_str`]), `status` and `error` (the error's `Display`). With the
//! `metrics` feature, counters and a latency histogram go to the `metrics` facade:
//!
//! | name | kind | unit | labels |
//! | --- | --- | --- | --- |
//! | `partner_auth_token_requests_total` | counter | count | `provider`, `environment`, `outcome` (`ok` or [`ErrorKind::as_str`]) |
//! | `partner_auth_token_request_duration_seconds` | histogram | seconds | `provider`, `environment` |
//! | `partner_auth_token_fetch_failures_total` | counter | count | `provider`, `environment`, `kind` |
//! | `partner_auth_token_invalidations_total` | counter | count | `provider`, `environment` |
//!
//! Each is described to the recorder (its unit and a help text, a Prometheus exporter's
//! `# HELP` line) as it is recorded.
//!
//! A request is counted, and timed, when it ends with an outcome: one whose fetch was
//! stopped on the way (its source dropped, its runtime shut down) has none, and only
//! [`Stats::token_requests`], which counts requests as they are sent, has it. Cache hits
//! are counted in [`Stats`] only: a recorder call would cost more than the read.
//!
//! # Feature flags
//!
//! - `teez`, `alternative-payments`, `cobee`, `tradevest`, `dinie` (on): one per partner,
//!   each compiling in its [`Provider`] variant and its generated client. An application
//!   that talks to one partner turns default features off and names it (and a TLS
//!   backend); the other names are then refused with an error naming their feature.
//!   [`Provider::Standard`] is always there.
//! - `rustls` (on): TLS by rustls with its default provider, aws-lc-rs (a C build).
//! - `rustls-ring` (off): rustls with `ring` instead; it wins when `rustls` is on too.
//!   Unless the application installed a rustls provider first, the first [`Client`] (or
//!   `rediss://` store) built installs `ring` as rustls's process-wide default.
//! - `native-tls` (off): the platform's TLS library (OpenSSL on Linux). When a rustls
//!   feature is on too, reqwest uses native-tls.
//!
//!   A `rediss://` [`store`] always speaks rustls: it installs the provider the features
//!   chose (aws-lc-rs for `rustls`) unless the application installed one, and with neither
//!   (`native-tls` alone) building it is a configuration error rather than a panic.
//!
//!   Without any of the three, an `https://` base URL is refused when the client is built,
//!   unless [`ClientBuilder::http_client`] gives a client built with a backend.
//! - `schemars` (off): `schemars::JsonSchema` for [`AccessToken`], [`Error`] and [`Stats`]
//!   (the JSON their `Serialize` writes).
//! - `redis`, `file-store` (off): the [`store`]s.
//! - `metrics` (off): the metrics above, through the `metrics` crate.
//! - `blocking` (off): `blocking::TokenSource` and `blocking::Client` for code without
//!   an async runtime.
//!
//! # MSRV
//!
//! Rust 1.88 (the workspace's `rust-version`): CI checks the whole workspace, tests and
//! benches included, and this crate with every feature, with Rust 1.88 itself. Raising it
//! is a minor-version change.
//!
//! # Transport
//!
//! The TLS backend the features chose (rustls by default); connect timeout 5 s and total timeout 10 s by default; a `User-Agent` naming this
//! crate, its version and the provider's API version; no redirects; response bodies over
//! 1 MiB refused; credentials never sent over plain `http://` except to loopback unless
//! [`ClientBuilder::allow_insecure_http`] says so.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "blocking")]
pub mod blocking;
mod body;
mod cache;
mod client;
mod config;
mod credentials;
mod date;
mod error;
mod exchange;
mod jwt;
mod middleware;
#[cfg(feature = "metrics")]
mod observe;
mod policy;
mod provider;
mod providers;
mod retry_after;
#[cfg(feature = "schemars")]
mod schema;
mod source;
mod stats;
pub mod store;
mod sync;
pub mod time;
mod tls;
mod token;

pub use cache::{DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_SOURCES, TokenCache, TokenCacheBuilder};
pub use client::{Client, ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT};
pub use config::{ClientConfig, ParamValues};
pub use credentials::Credentials;
pub use error::{Error, ErrorKind, FieldError, UnknownErrorKind};
pub use middleware::{AuthMiddleware, AuthMiddlewareBuilder, NoAuth, token_error};
pub use partner_api_support::IntoClientSecret;
pub use policy::{CachePolicy, RetryPolicy};
pub use provider::{BodyEncoding, ClientAuth, Environment, Provider, UnknownProvider};
/// `reqwest`, whose types this crate's API takes and gives
/// ([`ClientBuilder::http_client`], [`AuthMiddleware::covers`], [`Error::status`],
/// [`AccessToken::authorization_header`]): at the version this crate was built with.
pub use reqwest;
/// `reqwest-middleware`, whose client [`AuthMiddleware`] plugs into and whose error
/// [`token_error`] reads: at the version this crate was built with.
pub use reqwest_middleware;
pub use secrecy::{ExposeSecret, SecretString};
pub use source::{TokenSource, TokenSourceBuilder};
pub use stats::Stats;
pub use token::{AccessToken, DEFAULT_LIFETIME, MAX_LIFETIME, TokenType};
