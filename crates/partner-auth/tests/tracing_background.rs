//! What `tracing` shows of a background refresh and of a failed fetch. One test in this
//! file, as in `tracing_spans.rs`: a thread-local subscriber sees only its own thread's
//! callsites reliably.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::SECRET;
use common::fields::Fields;
use common::scripted::{Gate, Reply, Scripted, eventually};
use partner_auth::{CachePolicy, Provider};
use serde_json::json;
use tracing::Instrument as _;
use tracing::span::{Attributes, Id};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

/// A span: its name, its parent's name, the names of the spans it follows from.
type SpanSeen = (String, Option<String>, Vec<String>);

/// An event: its level and fields.
type EventSeen = (tracing::Level, BTreeMap<String, String>);

#[derive(Clone, Default)]
struct Capture {
    spans: Arc<Mutex<BTreeMap<u64, SpanSeen>>>,
    events: Arc<Mutex<Vec<EventSeen>>>,
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let parent = ctx
            .span(id)
            .and_then(|span| span.parent())
            .map(|parent| parent.name().to_owned());
        let name = attrs.metadata().name().to_owned();
        self.spans
            .lock()
            .unwrap()
            .insert(id.into_u64(), (name, parent, Vec::new()));
    }

    fn on_follows_from(&self, span: &Id, follows: &Id, ctx: Context<'_, S>) {
        let Some(follows) = ctx.span(follows).map(|s| s.name().to_owned()) else {
            return;
        };
        if let Some((_, _, from)) = self.spans.lock().unwrap().get_mut(&span.into_u64()) {
            from.push(follows);
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.events
            .lock()
            .unwrap()
            .push((*event.metadata().level(), fields));
    }
}

/// A background refresh is a span of its own, not a child of the caller's span that
/// happened to start it: a child keeps its parent open until it ends, so an exporter
/// measured that caller's request as lasting until the refresh ended; it follows from the
/// caller's span instead. A fetch the caller waits for stays its child; a caller that joins
/// a fetch under way follows from it (found by review: nothing tied them). And the warning of
/// a failed fetch says which provider and environment, the error kind by its name, and the
/// error (found by review: a `warn` filter showed only `kind=InvalidCredentials`).
#[tokio::test(flavor = "current_thread")]
async fn a_background_refresh_follows_from_its_caller_and_a_failed_fetch_says_what_failed() {
    let capture = Capture::default();
    let gate = Gate::new();
    let _default =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let tokens = Scripted::sequence(
        vec![
            Reply::token("tok-first", 3600),
            Reply::token("tok-second", 3600).held(&gate),
        ],
        Reply::json(401, json!({"error": "invalid_client"})),
    )
    .await;
    let client = common::client(Provider::Dinie, tokens.base_url());
    let (source, clock, _sleep) = common::on_manual_clock(client, CachePolicy::default());
    let waited = tracing::info_span!("caller_waits");
    source.token().instrument(waited.clone()).await.unwrap();

    clock.advance(Duration::from_secs(3590)); // inside the refresh window
    let request = tracing::info_span!("caller_request");
    source.token().instrument(request.clone()).await.unwrap();
    drop(request);
    eventually("the background refresh", || tokens.count() == 2).await;
    // A caller that waits for the refresh under way (a forced one joins it) follows from
    // its span: nothing else ties the caller's wait to the request that ended it.
    let joins = tracing::info_span!("caller_joins");
    let forced = tokio::spawn({
        let source = source.clone();
        async move { source.refresh().await }.instrument(joins)
    });
    eventually("the forced refresh joins", || {
        capture.follows("caller_joins") == ["token_fetch"]
    })
    .await;
    gate.open();
    assert_eq!(forced.await.unwrap().unwrap().expose_secret(), "tok-second");
    assert_eq!(tokens.count(), 2, "the forced refresh joined; it sent none");
    // Its outcome landed: the cache holds its token (before the clock moves again).
    let give_up = std::time::Instant::now() + Duration::from_secs(10);
    while source.token().await.unwrap().expose_secret() != "tok-second" {
        assert!(
            std::time::Instant::now() < give_up,
            "the refresh never landed"
        );
        tokio::task::yield_now().await;
    }

    let fetches = capture.fetches();
    assert_eq!(
        fetches[0],
        (Some("caller_waits".to_owned()), vec![]),
        "a fetch its caller waits for is its child"
    );
    assert_eq!(
        fetches[1],
        (None, vec!["caller_request".to_owned()]),
        "a background refresh is a root that follows from its caller"
    );

    // A failed fetch: the third request gets a 401.
    clock.advance(Duration::from_secs(3600));
    let error = source.token().await.unwrap_err();
    let events = capture.events.lock().unwrap().clone();
    let (_, warning) = events
        .iter()
        .find(|(level, fields)| {
            *level == tracing::Level::WARN && fields["message"] == "token fetch failed"
        })
        .expect("a warning");
    assert_eq!(warning["provider"], "dinie", "{warning:?}");
    assert!(!warning["environment"].is_empty(), "{warning:?}");
    assert_eq!(warning["kind"], "invalid_credentials", "{warning:?}");
    assert_eq!(warning["error"], error.to_string(), "{warning:?}");
    let everything = format!("{:?}", capture.events.lock().unwrap());
    for secret in [SECRET, "tok-first", "tok-second"] {
        assert!(!everything.contains(secret), "{secret} in {everything}");
    }
}

impl Capture {
    /// The names of the spans the span `name` follows from.
    fn follows(&self, name: &str) -> Vec<String> {
        self.spans
            .lock()
            .unwrap()
            .values()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, from)| from.clone())
            .unwrap_or_default()
    }

    /// Each `token_fetch` span, in order: its parent's name and what it follows from.
    fn fetches(&self) -> Vec<(Option<String>, Vec<String>)> {
        self.spans
            .lock()
            .unwrap()
            .values()
            .filter(|(name, _, _)| name == "token_fetch")
            .map(|(_, parent, from)| (parent.clone(), from.clone()))
            .collect()
    }
}
