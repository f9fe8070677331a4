//! The change-report tests' harness: a small spec, the Rust progenitor generates from a
//! spec, and the report between two specs, each held against the other.

#![allow(dead_code)] // each test file uses its part

use serde_json::{Value, json};
use xtask::changes::{self, Severity};
use xtask::spec::Spec;

/// A token operation with a JSON body, and a bodiless, parameterless `GET /status`.
pub fn base() -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {"title": "T", "version": "1"},
        "servers": [{"url": "https://api.example.invalid"}],
        "paths": {
            "/auth/token": {"post": {
                "operationId": "createToken",
                "requestBody": {"required": true, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/TokenRequest"}}}},
                "responses": {
                    "200": {"description": "ok", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/TokenResponse"}}}}
                }
            }},
            "/status": {"get": {
                "operationId": "getStatus",
                "responses": {"204": {"description": "up"}}
            }}
        },
        "components": {"schemas": {
            "TokenRequest": {"type": "object", "required": ["grant_type"], "properties": {
                "grant_type": {"type": "string"},
                "scope": {"type": "string"}}},
            "TokenResponse": {"type": "object", "required": ["access_token"], "properties": {
                "access_token": {"type": "string"}}},
            "Problem": {"type": "object", "required": ["title"], "properties": {
                "title": {"type": "string"}}}
        }}
    })
}

/// `src/generated.rs` of the crate generated from `doc`.
pub fn generated_rs(doc: &Value) -> String {
    let spec = Spec {
        provider: "acme".into(),
        path: "specs/acme.json".into(),
        document: doc.clone(),
    };
    let generated =
        xtask::generate::generate(&spec).unwrap_or_else(|e| panic!("generation failed: {e}"));
    generated.files["src/generated.rs"].clone()
}

/// `doc` normalized as regen normalizes a spec, as the report reads it.
pub fn normalized(doc: &Value) -> openapiv3::OpenAPI {
    let mut doc = doc.clone();
    xtask::normalize::normalize(&mut doc).unwrap();
    serde_json::from_value(doc).unwrap()
}

/// Lines of `text` containing `needle`, trimmed.
pub fn lines_with(text: &str, needle: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.contains(needle))
        .map(|l| l.trim().to_owned())
        .collect()
}

/// The report from `old` to `new`, each line led by its severity (`Breaking: …`).
pub fn report(old: &Value, new: &Value) -> Vec<String> {
    changes::diff(&normalized(old), &normalized(new))
        .iter()
        .map(|c| format!("{:?}: {c}", c.severity))
        .collect()
}

/// The generated Rust lines with `needle` differ; the report must have a breaking line.
pub fn assert_breaking(name: &str, old: &Value, new: &Value, needle: &str) {
    let (o, n) = (
        lines_with(&generated_rs(old), needle),
        lines_with(&generated_rs(new), needle),
    );
    assert_ne!(o, n, "{name}: probe: the generated Rust did not change");
    let r = report(old, new);
    assert!(
        r.iter().any(|l| l.starts_with("Breaking")),
        "{name}: the generated Rust changed\n  {o:#?}\n->\n  {n:#?}\nbut the report has no breaking line: {r:#?}"
    );
}

/// progenitor's output is identical; the report must say nothing breaking.
pub fn assert_no_false_alarm(name: &str, old: &Value, new: &Value) {
    let (o, n) = (generated_rs(old), generated_rs(new));
    if o != n {
        let diff: Vec<_> = n.lines().filter(|l| !o.lines().any(|m| m == *l)).collect();
        panic!("{name}: probe: the generated Rust changed: {diff:#?}");
    }
    let r = changes::diff(&normalized(old), &normalized(new));
    assert!(
        r.iter().all(|c| c.severity == Severity::Compatible),
        "{name}: progenitor's output is identical, yet the report says: {r:#?}"
    );
}
