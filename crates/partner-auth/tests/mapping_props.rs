//! Property tests of every provider's response mapping, over real HTTP on loopback:
//! arbitrary statuses, headers and bodies (random bytes, random JSON, valid bodies with
//! fields mutated, dropped, retyped) never panic, always give an `AccessToken` or a typed
//! `Error` whose kind fits the status, and never echo the secret or the token.
//!
//! CI runs 256 cases. For 100,000:
//! `PROPTEST_CASES=100000 cargo test --release -p partner-auth --test mapping_props`

mod common;

use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use common::scripted::{Reply, Scripted};
use common::{CLIENT_ID, SECRET, fixtures};
use partner_auth::{Client, Credentials, ErrorKind, Provider};
use proptest::prelude::*;
use serde_json::{Value, json};

const TOKEN: &str = "tok-PROPERTY-5a4b3c2d1e";

struct Harness {
    runtime: tokio::runtime::Runtime,
    reply: Arc<Mutex<Reply>>,
    clients: Vec<(Provider, Client)>,
    _server: Scripted,
}

static HARNESS: LazyLock<Harness> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let reply = Arc::new(Mutex::new(Reply::json(200, json!({}))));
    let slot = Arc::clone(&reply);
    let server = runtime.block_on(Scripted::respond(move |_| slot.lock().unwrap().clone()));
    let clients = fixtures()
        .iter()
        .map(|f| f.provider)
        .map(|provider| {
            // Each provider's path under one base URL: the server answers any path.
            let client = Client::builder(provider)
                .base_url(server.base_url())
                .credentials(Credentials::new(CLIENT_ID, SECRET))
                .timeout(Duration::from_secs(5))
                .build()
                .expect("client");
            (provider, client)
        })
        .collect();
    Harness {
        runtime,
        reply,
        clients,
        _server: server,
    }
});

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "[ -~]{0,20}".prop_map(Value::from),
        Just(Value::from(SECRET)),
        Just(Value::from(TOKEN)),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z_]{1,12}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `provider`'s own valid success body, then one mutation of a key drawn at random.
fn mutated_success(provider: usize) -> impl Strategy<Value = Vec<u8>> {
    let mutation = 0..6u8;
    (
        mutation,
        any::<prop::sample::Index>(),
        json_value(),
        "[a-zA-Z_]{1,12}",
    )
        .prop_map(move |(mutation, pick, value, key)| {
            let fixture = &fixtures()[provider];
            let mut body = (fixture.success)(TOKEN, json!(3600));
            let object = body.as_object_mut().expect("object");
            let keys: Vec<String> = object.keys().cloned().collect();
            let target = pick.get(&keys).clone();
            match mutation {
                0 => {
                    object.remove(&target);
                }
                1 => {
                    object.insert(target, value);
                }
                2 => {
                    let v = object.remove(&target).unwrap_or(Value::Null);
                    object.insert(target.to_uppercase(), v);
                }
                3 => {
                    object.insert(key, value);
                }
                4 => {
                    object.insert(target, Value::from(SECRET));
                }
                _ => {}
            }
            body.to_string().into_bytes()
        })
}

/// Any body, for `provider`: random bytes, random JSON, its own success body mutated, an
/// error echoing the secret.
fn body(provider: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        mutated_success(provider),
        json_value().prop_map(|v| json!({"message": format!("bad {SECRET}"), "detail": v})
            .to_string()
            .into_bytes()),
    ]
}

/// A provider, and a body for it.
fn provider_and_body() -> impl Strategy<Value = (usize, Vec<u8>)> {
    (0..fixtures().len()).prop_flat_map(|provider| (Just(provider), body(provider)))
}

fn status() -> impl Strategy<Value = u16> {
    // No 1xx (interim answers) and no 204/304 (bodiless by definition).
    prop_oneof![
        Just(200u16),
        Just(400),
        Just(401),
        Just(403),
        Just(429),
        Just(500),
        Just(503),
        (200u16..600).prop_filter("final status with a body", |s| *s != 204 && *s != 304),
    ]
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let content_type = prop_oneof![
        Just("application/json"),
        Just("application/problem+json"),
        Just("text/html"),
        Just("text/plain"),
    ];
    (
        content_type,
        proptest::option::of("[ -~]{0,30}"),
        proptest::option::of(any::<u64>()),
    )
        .prop_map(|(content_type, retry_after, reset)| {
            let mut headers = vec![("content-type".to_owned(), content_type.to_owned())];
            if let Some(value) = retry_after {
                headers.push(("retry-after".into(), value.trim().to_owned()));
            }
            if let Some(reset) = reset {
                headers.push(("x-ratelimit-reset".into(), reset.to_string()));
            }
            headers
        })
}

fn expected_kinds(status: u16) -> &'static [ErrorKind] {
    match status {
        401 | 403 => &[ErrorKind::InvalidCredentials],
        408 => &[ErrorKind::Timeout],
        429 => &[ErrorKind::RateLimited],
        500..=599 => &[ErrorKind::ProviderUnavailable],
        300..=399 => &[ErrorKind::InvalidResponse],
        // A 400 can name the credentials (RFC 6749 `invalid_client`, Teez field errors).
        400 => &[ErrorKind::InvalidRequest, ErrorKind::InvalidCredentials],
        401..=499 => &[ErrorKind::InvalidRequest],
        _ => &[ErrorKind::InvalidResponse],
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_response_maps_to_a_token_or_a_typed_error(
        (provider, body) in provider_and_body(),
        status in status(),
        headers in headers(),
    ) {
        let harness = &*HARNESS;
        prop_assert_eq!(harness.clients[provider].0, fixtures()[provider].provider);
        let mut reply = Reply::json(status, Value::Null);
        reply.headers = headers;
        reply.headers.push(("connection".into(), "close".into()));
        reply.body = String::from_utf8_lossy(&body).into_owned();
        *harness.reply.lock().unwrap() = reply;

        let (name, client) = &harness.clients[provider];
        let result = harness.runtime.block_on(client.fetch_token());
        match result {
            Ok(token) => {
                prop_assert!((200..300).contains(&status), "{name}: a token from HTTP {status}");
                prop_assert!(!token.expose_secret().is_empty());
                let shown = format!("{token} {token:?}");
                prop_assert!(!shown.contains(TOKEN) && !shown.contains(SECRET), "{shown}");
            }
            Err(error) => {
                prop_assert!(
                    expected_kinds(status).contains(&error.kind()),
                    "{name}: HTTP {status} gave {:?}: {error}", error.kind()
                );
                let mut shown = format!("{error} {error:?}");
                for field in error.field_errors() {
                    shown.push_str(&format!("{field:?}"));
                }
                prop_assert!(!shown.contains(SECRET), "{name}: secret echoed: {shown}");
                prop_assert!(!shown.contains(TOKEN), "{name}: token echoed: {shown}");
            }
        }
    }
}
