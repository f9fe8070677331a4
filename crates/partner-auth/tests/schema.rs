//! Feature `schemars`: the JSON Schemas of `AccessToken`, `Error` and `Stats` describe
//! exactly what their `Serialize` writes (and never the token): every field, always
//! written, `null` where there is no value, and the JSON of tokens and errors of many
//! shapes valid by them.

mod common;
#[path = "common/sandbox.rs"]
mod sandbox_client;

use common::*;
use partner_auth::{AccessToken, Credentials, Error, ErrorKind, Provider, Stats};
use partner_sandbox::Sandbox;
use sandbox_client::SandboxExt as _;
use serde_json::{Value, json};

/// The keys of `json`, sorted.
fn keys(json: &Value) -> Vec<String> {
    let mut keys: Vec<String> = json.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

/// `schema`'s `required` list, sorted.
fn required(schema: &Value) -> Vec<String> {
    let mut required: Vec<String> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    required.sort();
    required
}

/// What a JSON Schema validator finds wrong with `json` by `schema`.
fn invalid(schema: &Value, json: &Value) -> Vec<String> {
    jsonschema::validator_for(schema)
        .unwrap()
        .iter_errors(json)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[tokio::test]
async fn the_schema_of_an_access_token_matches_its_json() {
    let sandbox = Sandbox::start().await.unwrap();
    let token = sandbox
        .client_builder(Provider::Cobee)
        .build()
        .unwrap()
        .fetch_token()
        .await
        .unwrap();
    let json = serde_json::to_value(&token).unwrap();
    let schema = serde_json::to_value(schemars::schema_for!(AccessToken)).unwrap();

    assert_eq!(keys(&json), keys(&schema["properties"]), "{schema}");
    // Every field is always written (`expires_in` as null when there is no lifetime), and
    // nothing else.
    assert_eq!(required(&schema), keys(&json));
    assert_eq!(schema["additionalProperties"], false, "{schema}");
    assert_eq!(schema["title"], "AccessToken");
    let description = schema["description"].as_str().unwrap();
    assert!(
        !description.contains('`') && !description.contains('['),
        "{description}"
    );
    assert_eq!(schema["properties"]["expires_at"]["format"], "date-time");
    assert!(!json.to_string().contains(token.expose_secret()));
    assert_eq!(invalid(&schema, &json), Vec::<String>::new(), "{json}");
}

/// Found by review: the fields that may be `null` were described as never `null`, so the
/// JSON of a token without a scope or a lifetime failed its own schema.
#[tokio::test]
async fn tokens_with_and_without_a_scope_or_lifetime_are_valid_by_the_schema() {
    let schema = serde_json::to_value(schemars::schema_for!(AccessToken)).unwrap();
    let f = fixtures()
        .into_iter()
        .find(|f| f.provider == Provider::Standard)
        .unwrap();
    let mut nulls = Vec::new();
    for body in [
        json!({"access_token": "tok-abcdef-0123456789", "token_type": "bearer", "expires_in": 3600, "scope": "a b"}),
        json!({"access_token": "tok-abcdef-0123456789", "token_type": "bearer"}),
        json!({"access_token": "tok-abcdef-0123456789", "token_type": "MAC", "expires_in": "soon"}),
    ] {
        let server = serve(&f, 200, "application/json", body.to_string(), &[]).await;
        let token = client(f.provider, &server.base_url())
            .fetch_token()
            .await
            .unwrap();
        let json = serde_json::to_value(&token).unwrap();
        assert_eq!(invalid(&schema, &json), Vec::<String>::new(), "{json}");
        nulls.extend(
            ["expires_in", "scope"]
                .into_iter()
                .filter(|key| json[key].is_null()),
        );
    }
    assert!(nulls.contains(&"expires_in") && nulls.contains(&"scope"));
}

#[tokio::test]
async fn the_schema_of_an_error_matches_its_json() {
    let sandbox = Sandbox::start().await.unwrap();
    // Wrong credentials: the sandbox answers Dinie's problem+json 401.
    let err = sandbox
        .client_builder(Provider::Dinie)
        .credentials(Credentials::new("someone-else", "a-wrong-secret"))
        .build()
        .unwrap()
        .fetch_token()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCredentials);
    let json = serde_json::to_value(&err).unwrap();
    let schema = serde_json::to_value(schemars::schema_for!(Error)).unwrap();

    assert_eq!(keys(&json), keys(&schema["properties"]), "{schema}");
    assert_eq!(
        required(&schema),
        keys(&json),
        "every field is always written"
    );
    assert_eq!(schema["additionalProperties"], false, "{schema}");
    assert_eq!(schema["title"], "Error");
    // The kind is one of the names, all of them listed.
    let names: Vec<&str> = schema["$defs"]["ErrorKind"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let all: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(names, all);
    // A field error is the three fields, each always written.
    let field = &schema["$defs"]["FieldError"];
    assert_eq!(required(field), ["code", "field", "message"], "{field}");
    assert!(!json.to_string().contains("a-wrong-secret"));
    assert_eq!(invalid(&schema, &json), Vec::<String>::new(), "{json}");
}

/// Found by review: as for tokens, every error without a status, code, message, wait or
/// excerpt failed its own schema.
#[tokio::test]
async fn errors_of_every_shape_are_valid_by_the_schema() {
    let schema = serde_json::to_value(schemars::schema_for!(Error)).unwrap();
    let mut errors = Vec::new();
    for f in fixtures() {
        for documented in &f.documented_errors {
            errors.push(documented.fetched(&f).await);
        }
    }
    // No response at all: a loopback port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    errors.push(
        client(Provider::Dinie, &format!("http://127.0.0.1:{port}"))
            .fetch_token()
            .await
            .unwrap_err(),
    );
    // Nothing sent: no provider details, no status.
    errors.push(
        partner_auth::Client::builder(Provider::Cobee)
            .credentials(Credentials::new("", "x"))
            .build()
            .unwrap_err(),
    );
    let mut seen_null_code = false;
    let mut seen_field_without_code = false;
    for err in &errors {
        let json = serde_json::to_value(err).unwrap();
        assert_eq!(invalid(&schema, &json), Vec::<String>::new(), "{json}");
        seen_null_code |= json["code"].is_null();
        seen_field_without_code |= err.field_errors().iter().any(|f| f.code.is_none());
    }
    assert!(seen_null_code && seen_field_without_code);
}

/// Found by review: `Stats` serializes for a status page, as `AccessToken` and `Error` do
/// for a log line, but had no schema for the API description of that page.
#[test]
fn the_schema_of_stats_matches_its_json() {
    let json = serde_json::to_value(Stats::default()).unwrap();
    let schema = serde_json::to_value(schemars::schema_for!(Stats)).unwrap();
    assert_eq!(keys(&json), keys(&schema["properties"]), "{schema}");
    assert_eq!(required(&schema), keys(&json));
    assert_eq!(schema["additionalProperties"], false, "{schema}");
    assert_eq!(schema["title"], "Stats");
    assert_eq!(invalid(&schema, &json), Vec::<String>::new(), "{json}");
    assert_ne!(
        invalid(&schema, &json!({"cache_hits": -1})),
        Vec::<String>::new()
    );
}
