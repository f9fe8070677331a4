//! `Error`'s serde form: one object with every accessor's value, for each provider's
//! documented errors over loopback, and `ErrorKind`'s name read back.

mod common;

use common::*;
use partner_auth::{ErrorKind, Provider};
use serde_json::{Value, json};

#[tokio::test]
async fn a_serialized_error_carries_every_accessors_value() {
    let mut seen_retry_after = false;
    let mut seen_fields = false;
    for f in fixtures() {
        for documented in &f.documented_errors {
            let err = documented.fetched(&f).await;
            let json = serde_json::to_value(&err).unwrap();
            let what = format!("{} {}: {json}", f.provider, documented.status);
            assert_eq!(json["kind"], err.kind().as_str(), "{what}");
            assert_eq!(json["retryable"], err.is_retryable(), "{what}");
            assert_eq!(json["error"], err.headline(), "{what}");
            assert_eq!(json["hint"], err.hint().as_ref(), "{what}");
            assert_eq!(json["provider"], f.provider.name(), "{what}");
            assert_eq!(json["environment"], "custom", "{what}");
            assert_eq!(json["status"], documented.status, "{what}");
            assert_eq!(json["code"], json!(err.code()), "{what}");
            assert_eq!(json["message"], json!(err.message()), "{what}");
            assert_eq!(json["body_excerpt"], json!(err.body_excerpt()), "{what}");
            let fields: Vec<Value> = err
                .field_errors()
                .iter()
                .map(|e| json!({"field": e.field, "message": e.message, "code": e.code}))
                .collect();
            assert_eq!(json["field_errors"], Value::Array(fields), "{what}");
            seen_fields |= !err.field_errors().is_empty();
            match err.retry_after() {
                Some(wait) => {
                    seen_retry_after = true;
                    assert_eq!(json["retry_after_ms"], wait.as_millis() as u64, "{what}");
                }
                None => assert_eq!(json["retry_after_ms"], Value::Null, "{what}"),
            }
            assert_eq!(json["causes"], json!([]), "{what}");
            // What the fixture documents is what the JSON says.
            assert_eq!(json["kind"], documented.kind.as_str(), "{what}");
            if let Some(code) = documented.code {
                assert_eq!(json["code"], code, "{what}");
            }
            // It reads back as the kind it was.
            let kind: ErrorKind = serde_json::from_value(json["kind"].clone()).unwrap();
            assert_eq!(kind, err.kind());
        }
    }
    assert!(seen_retry_after && seen_fields, "the fixtures cover both");
}

#[tokio::test]
async fn a_serialized_connection_error_lists_its_causes_and_nulls_what_it_lacks() {
    // A loopback port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = client(Provider::Dinie, &format!("http://127.0.0.1:{port}"))
        .fetch_token()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection);
    let json = serde_json::to_value(&err).unwrap();
    for absent in [
        "status",
        "code",
        "message",
        "retry_after_ms",
        "body_excerpt",
    ] {
        assert_eq!(json[absent], Value::Null, "{absent}: {json}");
    }
    assert_eq!(json["field_errors"], json!([]));
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        causes.push(Value::String(cause.to_string()));
        source = cause.source();
    }
    assert!(!causes.is_empty());
    assert_eq!(json["causes"], Value::Array(causes), "{json}");
    assert_eq!(json["retryable"], true);
}
