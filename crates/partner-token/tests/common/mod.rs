//! What the CLI's tests share: the binary run hermetically (no `PARTNER_*` variables
//! inherited, no stdin, a token cache of its own), and outputs that cannot be written.

#![allow(dead_code)] // each test file uses some

use std::process::{Command, Output, Stdio};

use partner_sandbox::Endpoint;

pub const BIN: &str = env!("CARGO_BIN_EXE_partner-token");

/// The binary with none of its `PARTNER_*` variables inherited from the test's environment.
pub fn command() -> Command {
    hermetic(Command::new(BIN))
}

/// `command` with no `PARTNER_*` variables from the test's environment, no stdin, and a
/// token cache of its own (a new directory under the target directory: no run reads
/// another's cache, and nothing is written to the user's).
pub fn hermetic(mut command: Command) -> Command {
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
    command.env("XDG_CACHE_HOME", fresh_dir("cache"));
    command.stdin(Stdio::null());
    command
}

/// A new, empty directory under the target directory's scratch space.
pub fn fresh_dir(what: &str) -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-{what}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the binary with `args`, the client id and secret in the environment.
pub fn run(args: &[&str], id: &str, secret: Option<&str>) -> Output {
    let mut command = command();
    command.args(args).env("PARTNER_CLIENT_ID", id);
    if let Some(secret) = secret {
        command.env("PARTNER_CLIENT_SECRET", secret);
    }
    command.output().expect("run partner-token")
}

/// A `fetch` command against `endpoint` with its demo credentials, plus `extra` flags.
pub fn fetch_command(endpoint: &Endpoint, extra: &[&str]) -> Command {
    let mut command = command();
    command
        .args(["fetch", "--provider", endpoint.provider])
        .args(["--base-url", &endpoint.base_url])
        .args(extra)
        .env("PARTNER_CLIENT_ID", endpoint.client_id)
        .env("PARTNER_CLIENT_SECRET", endpoint.client_secret);
    command
}

/// The files in `dir` whose names end with `.ext` (none if `dir` cannot be read).
pub fn files_ending(dir: &std::path::Path, ext: &str) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == ext))
                .collect()
        })
        .unwrap_or_default()
}

/// `n` commands `fetch --header --store STORE` for `endpoint`, to start [`together`].
pub fn header_runs_on(endpoint: &Endpoint, store: &std::path::Path, n: usize) -> Vec<Command> {
    (0..n)
        .map(|_| {
            let mut run = fetch_command(endpoint, &["--header", "--store"]);
            run.arg(store);
            run
        })
        .collect()
}

/// Starts every command at once (output piped) and waits for them all: their outputs,
/// in order.
pub async fn together(commands: Vec<Command>) -> Vec<Output> {
    let children: Vec<_> = commands
        .into_iter()
        .map(|mut command| {
            command
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run partner-token")
        })
        .collect();
    tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|child| child.wait_with_output().expect("its output"))
            .collect()
    })
    .await
    .unwrap()
}

/// `fetch` against `endpoint` with its demo credentials, plus `extra` flags.
pub async fn fetch(endpoint: &Endpoint, extra: &[&str]) -> Output {
    output_of(fetch_command(endpoint, extra)).await
}

pub fn code(output: &Output) -> i32 {
    output.status.code().expect("exited")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A standard output whose reader has already gone: every write to it fails with a
/// broken pipe.
pub fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    writer.into()
}

/// Whether `script` (util-linux) is there to make a pseudo-terminal: on a developer's
/// machine without it the terminal tests skip with one loud line; under `CI` they fail.
pub fn have_script() -> bool {
    if Command::new("script").arg("--version").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "`script` (util-linux) is missing; CI must run the terminal tests"
    );
    eprintln!("SKIPPED: no `script` (util-linux) to make a pseudo-terminal; install util-linux");
    false
}

/// Runs `command` on a blocking thread (the sandbox serves on the test's runtime).
pub async fn output_of(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("run partner-token"))
        .await
        .unwrap()
}

/// A standard stream on `/dev/full`: every write fails with "no space left".
pub fn dev_full() -> Stdio {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full")
        .into()
}

/// Kills the child process when dropped, so a failed assertion leaves nothing running.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `line` under `script`, so it sees a terminal, with `client_id` in the environment,
/// and reads its output up to the secret prompt for `provider`: the child, its stdout and stdin, and what
/// it showed so far.
///
/// `script` runs `line` with `$SHELL -c`: pinned to bash, which runs a last command in its
/// own place, so the terminal's foreground holds nothing but `line`'s processes (found by
/// CI: with `SHELL` unset, dash stayed in between, and Ctrl-\\ ended it and the run).
pub fn at_the_secret_prompt(
    line: &str,
    client_id: &str,
    provider: &str,
) -> (
    KillOnDrop,
    std::process::ChildStdout,
    std::process::ChildStdin,
    Vec<u8>,
) {
    use std::io::Read as _;
    let mut child = KillOnDrop(
        hermetic(Command::new("script"))
            .args(["-qec", line, "/dev/null"])
            .env("SHELL", bash())
            .env("PARTNER_CLIENT_ID", client_id)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stdout = child.0.stdout.take().unwrap();
    let stdin = child.0.stdin.take().unwrap();
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    let prompt = format!("client secret for {provider}: ");
    while !String::from_utf8_lossy(&seen).contains(&prompt) {
        let read = stdout.read(&mut byte).unwrap();
        assert_eq!(read, 1, "no prompt: {}", String::from_utf8_lossy(&seen));
        seen.push(byte[0]);
    }
    (child, stdout, stdin, seen)
}

/// Where bash is, on the `PATH`.
fn bash() -> std::path::PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("bash"))
        .find(|path| path.is_file())
        .expect("bash on the PATH: the terminal tests run their lines with it")
}

/// The process id of the partner-token that `child` (`script`) runs, found among its
/// descendants by its executable, however many shells stand in between.
pub fn partner_token_under(child: &KillOnDrop) -> String {
    let ours = std::fs::canonicalize(BIN).unwrap();
    let mut pending = vec![child.0.id().to_string()];
    while let Some(pid) = pending.pop() {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe"));
        if exe.is_ok_and(|exe| exe == ours) {
            return pid;
        }
        let out = Command::new("pgrep").args(["-P", &pid]).output().unwrap();
        pending.extend(
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(str::to_owned),
        );
    }
    panic!("no partner-token under script {}", child.0.id());
}
