//! A real `redis-server` for tests: started on a free loopback port in its own temporary
//! directory, stopped when dropped.
//!
//! `REDIS_SERVER` names another server binary to run instead (a path, or a name on the
//! `PATH`): `REDIS_SERVER=valkey-server cargo test -p workspace-tests` runs every Redis
//! test against Valkey.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use partner_auth::store::{RedisStore, StorePolicy};
use partner_auth::{Client, TokenSource};

/// The commands the `RedisStore` docs say an ACL user needs for tokens, leases and waits
/// (`SCAN`, for `clear`, apart), as `start_with` takes them.
pub const DOCUMENTED_COMMANDS: &[&str] = &[
    "+get",
    "+getrange",
    "+exists",
    "+pttl",
    "+set",
    "+del",
    "+publish",
    "+multi",
    "+exec",
    "+evalsha",
    "+script|load",
    "+hello",
    "+subscribe",
];

/// A `redis-server` process of this test's own.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    /// Extra configuration arguments (`--requirepass …`, `--user …`).
    extra: Vec<String>,
    /// Serves TLS only (`--tls-port`), so readiness is a TCP connect, not a `PING`.
    tls: bool,
}

impl RedisServer {
    /// Starts `redis-server` on a free loopback port. Where it is not installed: with
    /// `CI` set, panics (CI always runs these tests); otherwise prints one loud line and
    /// returns `None`, so the calling test can return early.
    pub fn start() -> Option<Self> {
        Self::start_with(&[])
    }

    /// [`start`](Self::start) with extra `redis-server` arguments, e.g.
    /// `["--user", "alice", "on", ">pw", "~*", "&*", "+@all"]` (one argument per word).
    /// Readiness is checked with a bare `PING`, which a server requiring a password answers
    /// with an error: that counts as ready.
    pub fn start_with(extra: &[&str]) -> Option<Self> {
        let binary = installed()?;
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        Some(Self::spawn_on_a_free_port(
            &binary,
            |_| extra.clone(),
            false,
        ))
    }

    /// A server that speaks TLS only, with a certificate for `127.0.0.1` issued by a CA
    /// made for the occasion; also returns that CA's certificate (PEM) for clients to
    /// trust. `None` as [`start`](Self::start) says.
    pub fn start_tls() -> Option<(Self, String)> {
        let binary = installed()?;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (ca_pem, cert_pem, key_pem) = certificates();
        let path = |name: &str, pem: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).expect("write a PEM file");
            path.display().to_string()
        };
        let (ca, cert, key) = (
            path("ca.pem", &ca_pem),
            path("server.pem", &cert_pem),
            path("server.key", &key_pem),
        );
        let server = Self::spawn_on_a_free_port(
            &binary,
            |port| {
                let port = port.to_string();
                [
                    "--port",
                    "0",
                    "--tls-port",
                    &port,
                    "--tls-cert-file",
                    &cert,
                    "--tls-key-file",
                    &key,
                    "--tls-ca-cert-file",
                    &ca,
                    "--tls-auth-clients",
                    "no",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect()
            },
            true,
        );
        // The certificates must outlive the server's restarts.
        std::mem::forget(dir);
        Some((server, ca_pem))
    }

    /// Spawns on a free port, trying a few: a port free a moment ago may be taken by the
    /// time Redis binds it. `extra` gives the arguments for a port.
    fn spawn_on_a_free_port(
        binary: &PathBuf,
        extra: impl Fn(u16) -> Vec<String>,
        tls: bool,
    ) -> Self {
        for _ in 0..5 {
            let port = free_port();
            let mut server = RedisServer {
                child: None,
                port,
                dir: tempfile::tempdir().expect("a temporary directory"),
                extra: extra(port),
                tls,
            };
            if server.spawn(binary) {
                return server;
            }
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// `redis://127.0.0.1:<port>/` (`rediss://` for a TLS server).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}/", self.port)
    }

    /// A new connection, for a test to look at what is stored.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("the server's URL")
            .get_multiplexed_async_connection()
            .await
            .expect("a connection to the test's redis-server")
    }

    /// The value of `name` in the `INFO` section `section` (`stats`: `name:42`;
    /// `commandstats`: `cmdstat_get:calls=3,usec=…`), if the server reports it.
    pub async fn info(&self, section: &str, name: &str) -> Option<String> {
        let info: String = redis::cmd("INFO")
            .arg(section)
            .query_async(&mut self.connection().await)
            .await
            .expect("INFO");
        info.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .map(|value| value.trim().to_owned())
    }

    /// How many times `command` (lower case: `exec`, `evalsha`) ran since the server
    /// started or its statistics were reset (`CONFIG RESETSTAT`).
    pub async fn command_calls(&self, command: &str) -> u64 {
        self.info("commandstats", &format!("cmdstat_{command}"))
            .await
            .and_then(|stats| {
                stats
                    .strip_prefix("calls=")?
                    .split(',')
                    .next()?
                    .parse()
                    .ok()
            })
            .unwrap_or(0)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (SIGKILL: an outage, not a shutdown).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.stop();
        let binary = binary().expect("redis-server was there a moment ago");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.spawn(&binary) {
            assert!(Instant::now() < deadline, "redis-server did not restart");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn spawn(&mut self, binary: &PathBuf) -> bool {
        let dir = self.dir.path();
        let mut command = Command::new(binary);
        if !self.tls {
            command.args(["--port", &self.port.to_string()]);
        }
        let child = command
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .args(&self.extra)
            .arg("--dir")
            .arg(dir)
            .arg("--logfile")
            .arg(dir.join("redis.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return false; // exited: the port was taken
            }
            let ready = if self.tls {
                TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_ok()
            } else {
                ping(self.port)
            };
            if ready {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop();
        false
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A token source for `client` on a [`RedisStore`] at `url` (any Redis URL: this module's
/// server, a dead port, a TLS server), with `policy`.
pub fn source_on(url: &str, client: Client, policy: StorePolicy) -> TokenSource {
    TokenSource::builder(client)
        .store(Arc::new(RedisStore::new(url).expect("a Redis URL")))
        .store_policy(policy)
        .build()
        .expect("a valid store policy")
}

/// `redis-server`'s path; where it is missing, one loud line (or, under CI, a panic).
fn installed() -> Option<PathBuf> {
    if let Some(binary) = binary() {
        return Some(binary);
    }
    if let Some(asked) = std::env::var_os(SERVER_VARIABLE) {
        panic!(
            "{SERVER_VARIABLE}={} is neither a file nor a program on the PATH",
            asked.display()
        );
    }
    let line = "redis-server is not installed: the Redis tests did NOT run. Install it \
                (`apt-get install -y redis-server`, `brew install redis`) to run them.";
    if std::env::var_os("CI").is_some() {
        panic!("{line} CI must run them.");
    }
    // Once per test binary, straight to stderr: the harness captures `eprintln!`.
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        let _ = writeln!(std::io::stderr(), "\n!!! SKIPPED: {line}\n");
    });
    None
}

/// The variable that names a server binary to run instead of `redis-server`.
const SERVER_VARIABLE: &str = "REDIS_SERVER";

/// The server binary: `REDIS_SERVER` if set (a path, or a name on the `PATH`), else
/// `redis-server` on the `PATH`.
fn binary() -> Option<PathBuf> {
    let name = std::env::var_os(SERVER_VARIABLE).unwrap_or_else(|| "redis-server".into());
    let named = PathBuf::from(&name);
    if named.components().count() > 1 {
        return named.is_file().then_some(named);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(&name))
        .find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut reply = [0u8; 7];
    // `+PONG`, or `-NOAUTH…` from a server that wants a password: either way, it serves.
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && (&reply == b"+PONG\r\n" || reply.starts_with(b"-NOAUTH"))
}

/// A CA certificate, and a server certificate for `127.0.0.1` it signed with its key: PEMs.
fn certificates() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().expect("a CA key");
    let ca_cert = ca_params.self_signed(&ca_key).expect("a CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().expect("a server key");
    let server_cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("server params")
        .signed_by(&server_key, &issuer)
        .expect("a server certificate");
    (ca_cert.pem(), server_cert.pem(), server_key.serialize_pem())
}
