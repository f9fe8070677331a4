//! Feature `schemars`: the JSON Schemas of `AccessToken` and `Error` describe exactly what
//! their `Serialize` writes (and never the token).

#[path = "common/sandbox.rs"]
mod sandbox_client;

use partner_auth::{AccessToken, Credentials, Error, ErrorKind, Provider};
use partner_sandbox::Sandbox;
use sandbox_client::SandboxExt as _;

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

    let mut written: Vec<&String> = json.as_object().unwrap().keys().collect();
    let mut described: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
    written.sort();
    described.sort();
    assert_eq!(written, described, "{schema}");
    // Every field is always written (`expires_in` as null when there is no lifetime), and
    // nothing else.
    let mut required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    required.sort_unstable();
    assert_eq!(
        required,
        written.iter().map(|s| s.as_str()).collect::<Vec<_>>()
    );
    assert_eq!(schema["additionalProperties"], false, "{schema}");
    assert_eq!(schema["title"], "AccessToken");
    let description = schema["description"].as_str().unwrap();
    assert!(
        !description.contains('`') && !description.contains('['),
        "{description}"
    );
    assert_eq!(schema["properties"]["expires_at"]["format"], "date-time");
    assert!(!json.to_string().contains(token.expose_secret()));
}

/// The keys of `json`, sorted.
fn keys(json: &serde_json::Value) -> Vec<String> {
    let mut keys: Vec<String> = json.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
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
    let mut required: Vec<String> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    required.sort();
    assert_eq!(required, keys(&json), "every field is always written");
    assert_eq!(schema["additionalProperties"], false, "{schema}");
    assert_eq!(schema["title"], "Error");
    // The kind is one of the names, all of them listed.
    let kind = &schema["$defs"]["ErrorKind"];
    let names: Vec<&str> = kind["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let all: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(names, all);
    assert!(names.contains(&json["kind"].as_str().unwrap()));
    // A field error is the three fields, each always written.
    let field = &schema["$defs"]["FieldError"];
    let mut field_required: Vec<&str> = field["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    field_required.sort_unstable();
    assert_eq!(field_required, ["code", "field", "message"], "{field}");
    assert!(!json.to_string().contains("a-wrong-secret"));
}
