//! `partner-token` run as a real process against the sandbox (and httpmock) on loopback.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use partner_auth::Provider;
use partner_sandbox::{Endpoint, Sandbox};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_partner-token");

/// Runs the binary with `args`, the client id and secret in the environment.
fn run(args: &[&str], id: &str, secret: Option<&str>) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_remove("PARTNER_CLIENT_SECRET")
        .env("PARTNER_CLIENT_ID", id);
    if let Some(secret) = secret {
        command.env("PARTNER_CLIENT_SECRET", secret);
    }
    command.output().expect("run partner-token")
}

/// `fetch` against `endpoint` with its demo credentials, plus `extra` flags.
async fn fetch(endpoint: &Endpoint, extra: &[&str]) -> Output {
    let mut args = vec![
        "fetch",
        "--provider",
        endpoint.provider.name(),
        "--base-url",
        &endpoint.base_url,
    ];
    args.extend_from_slice(extra);
    let (id, secret) = (
        endpoint.client_id.to_owned(),
        endpoint.client_secret.to_owned(),
    );
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args, &id, Some(&secret))
    })
    .await
    .unwrap()
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Checks `value` against the JSON Schema's top-level `properties`, `required` and types.
fn assert_matches_schema(value: &Value, schema: &Value) {
    let properties = schema["properties"].as_object().expect("properties");
    let object = value.as_object().expect("an object");
    assert_eq!(
        object.keys().collect::<Vec<_>>().len(),
        properties.len(),
        "{value}"
    );
    for name in schema["required"].as_array().expect("required") {
        assert!(
            object.contains_key(name.as_str().unwrap()),
            "missing {name}"
        );
    }
    for (name, property) in properties {
        let types: Vec<&str> = match &property["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            other => panic!("{name}: type {other}"),
        };
        let actual = match &object[name] {
            Value::String(_) => "string",
            Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
            Value::Null => "null",
            other => panic!("{name}: unexpected {other}"),
        };
        assert!(types.contains(&actual), "{name}: {actual} not in {types:?}");
        if property["format"] == "date-time" {
            humantime::parse_rfc3339(object[name].as_str().unwrap()).expect("RFC 3339");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fetch_json_matches_the_schema_for_every_provider() {
    let schema: Value =
        serde_json::from_slice(&run(&["schema"], "x", None).stdout).expect("schema is JSON");
    let sandbox = Sandbox::start().await.unwrap();
    for endpoint in sandbox.endpoints() {
        let output = fetch(endpoint, &["--json"]).await;
        assert_eq!(
            code(&output),
            0,
            "{}: {}",
            endpoint.provider,
            text(&output.stderr)
        );
        let stdout = text(&output.stdout);
        assert_eq!(stdout.lines().count(), 1, "one JSON object on one line");
        let json: Value = serde_json::from_str(&stdout).unwrap();
        assert_matches_schema(&json, &schema);
        assert_eq!(json["provider"], endpoint.provider.name());
        assert_eq!(json["environment"], "custom");
        assert_eq!(json["token_type"], "Bearer");
        assert_eq!(json["expires_in"], endpoint.token_lifetime.as_secs());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fetch_header_prints_exactly_the_authorization_header() {
    let sandbox = Sandbox::start().await.unwrap();
    let output = fetch(sandbox.endpoint(Provider::Dinie), &["--header"]).await;
    assert_eq!(code(&output), 0);
    let stdout = text(&output.stdout);
    let token = stdout
        .strip_prefix("Authorization: Bearer dinie_at_")
        .and_then(|rest| rest.strip_suffix('\n'))
        .expect("Authorization: Bearer <token>\\n");
    assert!(!token.contains(char::is_whitespace));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_output_masks_the_token() {
    let sandbox = Sandbox::start().await.unwrap();
    let output = fetch(sandbox.endpoint(Provider::Cobee), &[]).await;
    assert_eq!(code(&output), 0);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("provider:    cobee (custom)"), "{stdout}");
    assert!(stdout.contains("token:       eyJhbGci… ("), "{stdout}");
    // Cobee tokens are JWTs of 250-odd characters: no word that long may appear.
    let longest = stdout.split_whitespace().map(str::len).max().unwrap_or(0);
    assert!(longest < 40, "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_exit_code_comes_from_a_real_situation() {
    let sandbox = Sandbox::builder()
        .rate_limit(Provider::Cobee, Some(1))
        .start()
        .await
        .unwrap();

    // 2: usage.
    assert_eq!(
        code(&run(&["fetch", "--provider", "nope"], "id", Some("s"))),
        2
    );
    assert_eq!(code(&run(&["fetch"], "id", Some("s"))), 2);

    // 3: invalid credentials.
    let tradevest = sandbox.endpoint(Provider::Tradevest);
    let wrong = run(
        &[
            "fetch",
            "--provider",
            "tradevest",
            "--base-url",
            &tradevest.base_url,
        ],
        tradevest.client_id,
        Some("wrong-secret-7"),
    );
    assert_eq!(code(&wrong), 3, "{}", text(&wrong.stderr));
    assert!(text(&wrong.stderr).contains("check the client id and secret"));

    // 4: rate limited (Cobee at one request per second).
    let cobee = sandbox.endpoint(Provider::Cobee);
    assert_eq!(code(&fetch(cobee, &[]).await), 0);
    let limited = fetch(cobee, &[]).await;
    assert_eq!(code(&limited), 4, "{}", text(&limited.stderr));

    // 5: network: nothing listens there.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let refused = run(
        &["fetch", "--provider", "teez", "--base-url", &dead],
        "id",
        Some("secret-123"),
    );
    assert_eq!(code(&refused), 5, "{}", text(&refused.stderr));

    // 6: invalid response: a 200 that is an HTML page.
    let server = httpmock::MockServer::start_async().await;
    server.mock(|_, then| {
        then.status(200)
            .header("content-type", "text/html")
            .body("<html>login</html>");
    });
    let html = run(
        &[
            "fetch",
            "--provider",
            "dinie",
            "--base-url",
            &server.base_url(),
        ],
        "id",
        Some("secret-123"),
    );
    assert_eq!(code(&html), 6, "{}", text(&html.stderr));

    // 7: insecure transport, refused before any lookup; and a missing secret.
    let insecure = run(
        &[
            "fetch",
            "--provider",
            "cobee",
            "--base-url",
            "http://tokens.example.invalid",
        ],
        "id",
        Some("secret-123"),
    );
    assert_eq!(code(&insecure), 7, "{}", text(&insecure.stderr));
    assert!(
        text(&insecure.stderr).contains("insecure transport"),
        "{}",
        text(&insecure.stderr)
    );
    let no_secret = run(&["fetch", "--provider", "cobee"], "id", None);
    assert_eq!(code(&no_secret), 7);
    assert!(text(&no_secret.stderr).contains("PARTNER_CLIENT_SECRET"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_is_never_printed_even_verbose() {
    let sandbox = Sandbox::start().await.unwrap();
    let secret = "hunter2-very-secret-42";
    for endpoint in sandbox.endpoints() {
        let output = run(
            &[
                "-vv",
                "fetch",
                "--provider",
                endpoint.provider.name(),
                "--base-url",
                &endpoint.base_url,
            ],
            endpoint.client_id,
            Some(secret),
        );
        assert_eq!(
            code(&output),
            3,
            "{}: {}",
            endpoint.provider,
            text(&output.stderr)
        );
        let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
        assert!(
            all.contains("token request failed"),
            "verbose shows events: {all}"
        );
        assert!(!all.contains(secret), "{}: {all}", endpoint.provider);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_secret_can_come_from_stdin() {
    let sandbox = Sandbox::start().await.unwrap();
    let endpoint = sandbox.endpoint(Provider::AlternativePayments).clone();
    let output = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(BIN)
            .args([
                "fetch",
                "--provider",
                "alternative-payments",
                "--client-secret-stdin",
                "--json",
            ])
            .args(["--base-url", &endpoint.base_url])
            .env("PARTNER_CLIENT_ID", endpoint.client_id)
            .env_remove("PARTNER_CLIENT_SECRET")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{}", endpoint.client_secret).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
}

#[test]
fn the_demo_shows_the_whole_flow() {
    let output = Command::new(BIN).arg("demo").output().unwrap();
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    for provider in Provider::ALL {
        assert!(
            stdout.contains(&format!(
                "{:<21} 1000 calls, 0 failed, 1 token request(s)",
                provider.name()
            )),
            "{stdout}"
        );
    }
    assert_eq!(stdout.matches("InvalidCredentials").count(), 5, "{stdout}");
}

/// Kills the child process when dropped, so a failed assertion leaves nothing running.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_sandbox_command_prints_endpoints_that_serve_tokens() {
    use std::io::BufRead as _;
    let mut child = KillOnDrop(
        Command::new(BIN)
            .args(["sandbox", "--token-lifetime", "120"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the sandbox"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let line = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|line| line.starts_with("dinie "))
        .expect("a line for dinie");
    // provider, base URL, client id, client secret
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert!(fields[1].starts_with("http://127.0.0.1:"), "{line}");
    let output = run(
        &[
            "fetch",
            "--provider",
            "dinie",
            "--base-url",
            fields[1],
            "--json",
        ],
        fields[2],
        Some(fields[3]),
    );
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["expires_in"], 120);
}
