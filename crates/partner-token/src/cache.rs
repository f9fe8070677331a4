//! The token cache between runs: `fetch`'s `--store`/`--no-cache`, and `partner-token
//! cache`.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use partner_auth::ErrorKind;
use partner_auth::store::{FileStore, RedisStore, StoreLocation, StorePolicy, TokenStore};

use crate::output::Report;
use crate::{exit, stdout};

/// `--store`'s help.
pub const STORE_HELP: &str = "Where tokens are cached between runs: a directory, or a \
redis:// or rediss:// URL that scripts on many machines share (default: partner-auth/tokens \
in the user's cache directory). Tokens are stored encrypted under a key derived from the \
client secret. A cache that cannot be used (a directory that cannot be created or written, \
a Redis that does not answer) costs a warning, not the token.";

/// Manage the token cache.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Remove every cached token, and every failure kept for its cool-down.
    Clear {
        // Help never shows the variable's value: a Redis URL may carry a password.
        #[arg(
            long,
            env = "PARTNER_TOKEN_STORE",
            hide_env_values = true,
            value_name = "DIR|URL",
            long_help = STORE_HELP
        )]
        store: Option<String>,
    },
    /// Print the default cache directory.
    Dir,
}

/// A store the user named, or the default directory.
pub enum Store {
    Dir(Arc<FileStore>),
    Redis(Arc<RedisStore>),
}

/// Why [`Store::open`] gave no store.
pub enum OpenError {
    /// The spec names no store (a mistyped or foreign URL): a configuration error.
    Refused(Box<Report>),
    /// A directory that cannot be used (not writable, not a directory, no home).
    Unusable(Unusable),
}

/// A token cache directory that cannot be used.
pub struct Unusable {
    /// What is wrong, naming the directory.
    pub problem: String,
    /// The directory was named by --store or PARTNER_TOKEN_STORE.
    named: bool,
}

impl Unusable {
    fn new(dir: &Path, error: &std::io::Error, named: bool) -> Self {
        Unusable {
            problem: format!(
                "the token cache directory {} is not usable: {error}",
                dir.display()
            ),
            named,
        }
    }

    /// Where to set another directory.
    pub fn hint(&self) -> &'static str {
        if self.named {
            "check --store or PARTNER_TOKEN_STORE"
        } else {
            "set XDG_CACHE_HOME or --store"
        }
    }
}

impl OpenError {
    /// As an error report: exit 7, a local configuration problem.
    pub fn report(self) -> Box<Report> {
        match self {
            OpenError::Refused(report) => report,
            OpenError::Unusable(unusable) => {
                let hint = unusable.hint();
                Box::new(Report::new(
                    ErrorKind::Configuration,
                    unusable.problem,
                    hint,
                ))
            }
        }
    }
}

impl Store {
    /// The store `spec` names (a `redis://`/`rediss://` URL or a directory), or the user's
    /// cache directory.
    pub fn open(spec: Option<&str>) -> Result<Self, OpenError> {
        let Some(spec) = spec else {
            let Some(dir) = FileStore::default_dir() else {
                return Err(OpenError::Unusable(Unusable {
                    problem: "this user has no token cache directory (neither XDG_CACHE_HOME \
                              nor HOME is set)"
                        .into(),
                    named: false,
                }));
            };
            return FileStore::new(&dir)
                .map(|s| Store::Dir(Arc::new(s)))
                .map_err(|e| OpenError::Unusable(Unusable::new(&dir, &e, false)));
        };
        let refused = |error: String, hint: &str| {
            OpenError::Refused(Box::new(Report::new(ErrorKind::Configuration, error, hint)))
        };
        match StoreLocation::parse(spec) {
            Ok(StoreLocation::Redis(url)) => RedisStore::new(url)
                .map(|s| Store::Redis(Arc::new(s)))
                .map_err(|e| refused(e.to_string(), "check --store or PARTNER_TOKEN_STORE")),
            Ok(StoreLocation::Dir(dir)) => FileStore::new(dir)
                .map(|s| Store::Dir(Arc::new(s)))
                .map_err(|e| OpenError::Unusable(Unusable::new(dir, &e, true))),
            // A kind of location a later partner-auth may add.
            Ok(_) => Err(refused(
                "this partner-token does not know that kind of store".to_owned(),
                "give --store (or PARTNER_TOKEN_STORE) a redis:// or rediss:// URL, or a directory",
            )),
            Err(e) => Err(refused(
                e.to_string(),
                "give --store (or PARTNER_TOKEN_STORE) a redis:// or rediss:// URL, or a directory",
            )),
        }
    }

    /// The store for a token source.
    pub fn shared(&self) -> Arc<dyn TokenStore> {
        match self {
            Store::Dir(store) => store.clone(),
            Store::Redis(store) => store.clone(),
        }
    }

    /// How a run uses the store. A directory gets a longer operation timeout than the
    /// library's default (meant for a network store): many runs started together on a
    /// loaded machine can wait their turn for the file lock longer than 500 ms, and a run
    /// that gave up on the store would fetch a token of its own.
    pub fn policy(&self) -> StorePolicy {
        match self {
            Store::Dir(_) => StorePolicy::default().with_operation_timeout(Duration::from_secs(5)),
            Store::Redis(_) => StorePolicy::default(),
        }
    }

    /// Where it is, for messages (no password).
    pub fn describe(&self) -> String {
        match self {
            Store::Dir(store) => store.dir().display().to_string(),
            Store::Redis(store) => store.url().to_owned(),
        }
    }
}

/// `partner-token cache …`.
pub async fn run(args: Args) -> ExitCode {
    match args.action {
        Action::Dir => match FileStore::default_dir() {
            Some(dir) => {
                stdout::outln!("{}", dir.display());
                ExitCode::SUCCESS
            }
            None => {
                crate::stderr::errln!(
                    "error: no cache directory for this user (set XDG_CACHE_HOME or HOME)"
                );
                ExitCode::from(exit::CONFIGURATION)
            }
        },
        Action::Clear { store } => {
            // Clearing a directory that does not exist must not create it.
            let missing = match store.as_deref().map(StoreLocation::parse) {
                None => FileStore::default_dir().filter(|dir| !dir.exists()),
                Some(Ok(StoreLocation::Dir(dir))) => {
                    Some(dir.to_path_buf()).filter(|dir| !dir.exists())
                }
                Some(_) => None,
            };
            if let Some(dir) = missing {
                return cleared(0, &dir.display().to_string());
            }
            let store = match Store::open(store.as_deref()) {
                Ok(store) => store,
                Err(e) => {
                    let report = e.report();
                    crate::stderr::write(report.text(0));
                    return ExitCode::from(report.exit_code());
                }
            };
            // A directory that cannot be cleared is a local problem (exit 7), a Redis that
            // does not answer a network one (exit 5), one that refuses the password or a
            // command a configuration one (exit 7).
            let (removed, code) = match &store {
                Store::Dir(files) => (
                    files.clear().map_err(|e| (e.to_string(), false)),
                    exit::CONFIGURATION,
                ),
                // The library waits for Redis as long as it takes (its sources bound their
                // own operations): a Redis that never answers gets this long.
                Store::Redis(redis) => (
                    match tokio::time::timeout(REDIS_CLEAR_TIMEOUT, redis.clear()).await {
                        Ok(result) => result.map_err(|e| (e.to_string(), e.is_refused())),
                        Err(_) => Err((
                            format!(
                                "Redis did not answer within {}",
                                humantime::format_duration(REDIS_CLEAR_TIMEOUT)
                            ),
                            false,
                        )),
                    },
                    exit::NETWORK,
                ),
            };
            match removed {
                Ok(n) => cleared(n, &store.describe()),
                Err((e, refused)) => {
                    crate::stderr::errln!(
                        "error: could not clear the token cache at {}: {e}",
                        store.describe()
                    );
                    if refused {
                        // A wrong password or a forbidding ACL: configuration, not an outage.
                        crate::stderr::errln!(
                            "hint: check the password in the store's URL and that its user \
                             may SCAN and DEL"
                        );
                        return ExitCode::from(exit::CONFIGURATION);
                    }
                    ExitCode::from(code)
                }
            }
        }
    }
}

/// The longest `cache clear` waits for a Redis store.
const REDIS_CLEAR_TIMEOUT: Duration = Duration::from_secs(5);

fn cleared(n: usize, place: &str) -> ExitCode {
    let entries = if n == 1 { "entry" } else { "entries" };
    stdout::outln!("removed {n} cache {entries} from {place}");
    ExitCode::SUCCESS
}
