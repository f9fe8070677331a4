//! Feature `schemars`: `AccessToken`'s JSON Schema describes exactly what its `Serialize`
//! writes (and never the token).

#[path = "common/sandbox.rs"]
mod sandbox_client;

use partner_auth::{AccessToken, Provider};
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
