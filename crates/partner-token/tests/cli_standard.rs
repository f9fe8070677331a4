//! `partner-token fetch --provider standard`, from an adversarial review (kept as
//! regression tests): cached tokens kept apart by scope, usage errors, the schema, no
//! secret in any output.

use std::process::{Command, Output, Stdio};

use httpmock::prelude::*;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_partner-token");

fn fresh_dir(what: &str) -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-standard-{what}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(args: &[&str], secret: &str) -> Output {
    let mut command = Command::new(BIN);
    for var in [
        "PARTNER_PROVIDER",
        "PARTNER_ENV",
        "PARTNER_BASE_URL",
        "PARTNER_CLIENT_ID",
        "PARTNER_CLIENT_SECRET",
        "PARTNER_TOKEN_STORE",
    ] {
        command.env_remove(var);
    }
    command
        .env("XDG_CACHE_HOME", fresh_dir("cache"))
        .env("PARTNER_CLIENT_ID", "id")
        .env("PARTNER_CLIENT_SECRET", secret)
        .stdin(Stdio::null())
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// BREAK C (CLI): the token cache (`--store`) hands the token fetched for one scope to a
/// fetch for another scope.
#[test]
fn a_cached_token_for_one_scope_is_not_returned_for_another() {
    let server = MockServer::start();
    for scope in ["read", "admin"] {
        server.mock(|when, then| {
            when.method(POST)
                .path("/token")
                .form_urlencoded_tuple("scope", scope);
            then.status(200)
                .header("content-type", "application/json")
                .body(format!(
                    r#"{{"access_token":"tok-for-{scope}","token_type":"Bearer","expires_in":600}}"#
                ));
        });
    }
    let store = fresh_dir("store");
    let url = server.url("/token");
    let mut tokens = Vec::new();
    for scope in ["read", "admin"] {
        let output = run(
            &[
                "fetch",
                "--provider",
                "standard",
                "--base-url",
                &url,
                "--scope",
                scope,
                "--store",
                store.to_str().unwrap(),
                "--json",
            ],
            "secret-1",
        );
        assert!(output.status.success(), "{}", text(&output.stderr));
        let json: Value = serde_json::from_slice(&output.stdout).unwrap();
        tokens.push(json["access_token"].as_str().unwrap().to_owned());
    }
    assert_eq!(tokens, ["tok-for-read", "tok-for-admin"]);
}

/// What should hold: usage errors, schema, no secret echoed.
#[test]
fn usage_errors_schema_and_no_secret() {
    let secret = "cli-s3cret-NEVER";
    for (args, want) in [
        (vec!["fetch", "--provider", "standard"], 2),
        (
            vec!["fetch", "--provider", "standard", "--env", "production"],
            2,
        ),
        (vec!["fetch", "--provider", "teez", "--scope", "read"], 2),
        (
            vec!["fetch", "--provider", "cobee", "--client-auth", "body"],
            2,
        ),
        (
            vec![
                "fetch",
                "--provider",
                "standard",
                "--base-url",
                "http://auth.example.invalid/t",
            ],
            -1,
        ),
        (
            vec![
                "fetch",
                "--provider",
                "standard",
                "--base-url",
                "https://u:cli-s3cret-NEVER@auth.example.invalid/t",
            ],
            -1,
        ),
        (
            vec![
                "fetch",
                "--provider",
                "standard",
                "--base-url",
                "https://auth.example.invalid/t",
                "--scope",
                "a\"b",
            ],
            -1,
        ),
        (
            vec![
                "fetch",
                "--provider",
                "standard",
                "--base-url",
                "https://auth.example.invalid/t",
                "--client-auth",
                "digest",
            ],
            2,
        ),
    ] {
        let output = run(&args, secret);
        let code = output.status.code().unwrap();
        let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
        eprintln!("{args:?} -> {code}: {}", all.lines().next().unwrap_or(""));
        if want >= 0 {
            assert_eq!(code, want, "{args:?}: {all}");
        } else {
            assert_ne!(code, 0, "{args:?}: {all}");
        }
        assert!(!all.contains("s3cret"), "{args:?}: {all}");
    }
    let schema = run(&["schema"], secret);
    let schema: Value = serde_json::from_slice(&schema.stdout).unwrap();
    let enums = schema["properties"]["provider"]["enum"].clone();
    assert!(
        enums.as_array().unwrap().contains(&Value::from("standard")),
        "{enums}"
    );
}
