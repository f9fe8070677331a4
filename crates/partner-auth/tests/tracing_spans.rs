//! What an application sees through `tracing`: the spans and their fields, never a secret.
//!
//! One test in this file: a thread-local subscriber and callsites hit by other tests on
//! other threads at the same time do not mix (tracing caches each callsite's interest).

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::SECRET;
use common::fields::Fields;
use common::scripted::{Reply, Scripted};
use partner_auth::{AuthMiddleware, CachePolicy, Provider, RetryPolicy, TokenSource};
use serde_json::json;
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt as _};

const TOKEN_ONE: &str = "tok-observed-1";
const TOKEN_TWO: &str = "tok-observed-2";

/// A span's or event's fields, by name.
type FieldMap = BTreeMap<String, String>;

/// Every span with its fields as they end up, and every event's fields.
#[derive(Clone, Default)]
struct Capture {
    spans: Arc<Mutex<BTreeMap<u64, (String, FieldMap)>>>,
    events: Arc<Mutex<Vec<String>>>,
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let name = attrs.metadata().name().to_owned();
        self.spans
            .lock()
            .unwrap()
            .insert(id.into_u64(), (name, fields));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        if let Some((_, fields)) = self.spans.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut Fields(fields));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.events.lock().unwrap().push(format!("{fields:?}"));
    }
}

impl Capture {
    fn spans_named(&self, name: &str) -> Vec<BTreeMap<String, String>> {
        self.spans
            .lock()
            .unwrap()
            .values()
            .filter(|(n, _)| n == name)
            .map(|(_, fields)| fields.clone())
            .collect()
    }

    fn everything(&self) -> String {
        format!(
            "{:?} {:?}",
            self.spans.lock().unwrap(),
            self.events.lock().unwrap()
        )
    }
}

/// A Dinie source allowing one retry, on a manual clock.
fn source(tokens: &Scripted) -> TokenSource {
    let client = common::client(Provider::Dinie, tokens.base_url());
    let policy = CachePolicy::default().with_retry(RetryPolicy::default().with_max_attempts(2));
    common::on_manual_clock(client, policy).0
}

#[tokio::test(flavor = "current_thread")]
async fn fetches_requests_and_middleware_calls_are_spans_with_outcomes_and_no_secrets() {
    let capture = Capture::default();
    let _default =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let tokens = Scripted::sequence(
        vec![
            Reply::json(503, json!({"error": "maintenance"})),
            Reply::token(TOKEN_ONE, 3600),
        ],
        Reply::token(TOKEN_TWO, 3600),
    )
    .await;
    let api = Scripted::respond(|hit| {
        let fresh = hit.authorization.as_deref() == Some(&format!("Bearer {TOKEN_TWO}"));
        Reply::json(if fresh { 200 } else { 401 }, json!({}))
    })
    .await;
    let source = source(&tokens);
    let http = common::api_client(AuthMiddleware::new(source.clone(), api.base_url()).unwrap());
    let response = http
        .get(format!("{}/orders?page=2", api.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // The first fetch: a 503, then a token, in one span with two request spans.
    let fetches = capture.spans_named("token_fetch");
    assert_eq!(fetches.len(), 2, "{}", capture.everything());
    assert_eq!(fetches[0]["attempts"], "2");
    assert_eq!(fetches[0]["outcome"], "ok");
    assert_eq!(fetches[0]["provider"], "dinie");
    assert_eq!(fetches[0]["refresh"], "false");
    let requests = capture.spans_named("token_request");
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert_eq!(requests[0]["outcome"], "error");
    assert_eq!(requests[0]["status"], "503");
    assert_eq!(requests[0]["error_kind"], "provider_unavailable");
    assert_eq!(requests[1]["outcome"], "ok");
    // The middleware call: a 401, a fresh token, a retry.
    let calls = capture.spans_named("authorized_request");
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["status"], "200");
    assert_eq!(calls[0]["retried_after_401"], "true");
    assert_eq!(calls[0]["path"], "/orders", "no query string");
    assert_eq!(calls[0]["method"], "GET");
    // Found by review: the README says the spans carry the environment where it applies;
    // this one had only the provider.
    assert_eq!(calls[0]["provider"], "dinie");
    assert_eq!(calls[0]["environment"], fetches[0]["environment"]);
    assert!(!calls[0]["environment"].is_empty(), "{calls:?}");
    assert_eq!(calls[0]["host"], "127.0.0.1");
    // README ("Observability"): a `token_request` span names its provider and environment.
    assert_eq!(requests[0]["provider"], "dinie");
    assert_eq!(requests[0]["environment"], fetches[0]["environment"]);

    // README ("Observability"): "a request it leaves alone has none": one to another
    // origin, one with `NoAuth`, one that brings its own `Authorization`.
    let elsewhere = Scripted::respond(|_| Reply::json(200, json!({}))).await;
    let left_alone = [
        http.get(format!("{}/orders", elsewhere.base_url())),
        http.get(format!("{}/orders", api.base_url()))
            .with_extension(partner_auth::NoAuth),
        http.get(format!("{}/orders", api.base_url()))
            .header("authorization", "Basic mine"),
    ];
    for request in left_alone {
        request.send().await.unwrap();
    }
    assert_eq!(elsewhere.count(), 1);
    assert_eq!(
        capture.spans_named("authorized_request").len(),
        1,
        "a request the middleware left alone has a span: {}",
        capture.everything()
    );

    // A refresh with a token cached is `refresh = true`; a failed fetch's `outcome` is its
    // kind, its request's outcome `error` with the kind and status, and its warning has
    // the status too (lib.rs, "Observability").
    source.refresh().await.unwrap();
    let refreshes = capture.spans_named("token_fetch");
    assert!(
        refreshes.iter().any(|f| f["refresh"] == "true"),
        "{refreshes:?}"
    );
    tokens.push(Reply::json(401, json!({"error": "invalid_client"})));
    let error = source.refresh().await.unwrap_err();
    assert_eq!(error.kind(), partner_auth::ErrorKind::InvalidCredentials);
    let failed = capture.spans_named("token_fetch");
    assert!(
        failed.iter().any(|f| f["outcome"] == "invalid_credentials"),
        "{failed:?}"
    );
    let failed = capture.spans_named("token_request");
    assert!(
        failed.iter().any(|r| r["outcome"] == "error"
            && r["error_kind"] == "invalid_credentials"
            && r["status"] == "401"),
        "{failed:?}"
    );
    let events = capture.events.lock().unwrap().clone();
    let warning = events
        .iter()
        .find(|e| e.contains("token fetch failed") && e.contains("invalid_credentials"))
        .expect("a warning for the failed fetch");
    assert!(warning.contains(r#""status": "401""#), "{warning}");

    let everything = capture.everything();
    for secret in [SECRET, TOKEN_ONE, TOKEN_TWO, "page=2"] {
        assert!(!everything.contains(secret), "{secret} in {everything}");
    }
}
