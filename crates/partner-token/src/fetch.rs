//! `partner-token fetch`.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::parser::ValueSource;
use partner_auth::{
    AccessToken, CachePolicy, Client, ClientAuth, Credentials, ErrorKind, Provider, RetryPolicy,
    TokenSource,
};

use crate::args::{self, ProviderName};
use crate::cache::{OpenError, Store};
use crate::output::{Context, Report, TokenJson};
use crate::{secret, stdout};

/// Flags and their environment variables, as `fetch --help` lists them.
pub const ENVIRONMENT_HELP: &str = "\
Environment (a flag beats its variable; an empty one counts as unset):
  PARTNER_PROVIDER       --provider
  PARTNER_ENV            --env
  PARTNER_BASE_URL       --base-url
  PARTNER_CLIENT_ID      --client-id
  PARTNER_CLIENT_SECRET  the client secret: no flag takes it (shell
                         history and ps would show it); or use
                         --client-secret-stdin
  PARTNER_TOKEN_STORE    --store";

/// Fetch a token from one provider.
#[derive(clap::Args)]
pub struct Args {
    /// The provider.
    #[arg(long, env = "PARTNER_PROVIDER", value_parser = args::ProviderNameParser)]
    provider: ProviderName,
    /// A named environment of the provider (default: production).
    #[arg(
        long = "env",
        env = "PARTNER_ENV",
        value_name = "ENV",
        ignore_case = true,
        value_parser = args::EnvironmentName,
        long_help = args::environment_help()
    )]
    environment: Option<String>,
    /// A base URL instead of a named environment: https, or http to a loopback address.
    // Help never shows the variable's value: a URL may carry a password.
    #[arg(
        long,
        env = "PARTNER_BASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    base_url: Option<String>,
    /// The client id.
    #[arg(long, env = "PARTNER_CLIENT_ID")]
    client_id: String,
    /// Read the client secret from standard input: the first line of a pipe, or typed at a
    /// prompt that does not echo. Without it, the secret comes from PARTNER_CLIENT_SECRET.
    #[arg(long)]
    client_secret_stdin: bool,
    /// Print one JSON object (its schema: `partner-token schema`); a failure is then one
    /// JSON object on stderr (`partner-token schema --error`), and a success's warnings
    /// too: `{"warnings": […]}`.
    #[arg(long, conflicts_with = "header")]
    json: bool,
    /// Print exactly `Authorization: Bearer <token>`.
    #[arg(long)]
    header: bool,
    /// With --provider standard: how the client authenticates (default basic).
    #[arg(long, value_enum, value_name = "HOW")]
    client_auth: Option<ClientAuthName>,
    /// With --provider standard: the scope to ask for (space-separated).
    #[arg(long)]
    scope: Option<String>,
    /// With --provider standard: a further form parameter, such as an audience or a resource;
    /// repeat it for more (sent in the order given).
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = args::name_value)]
    params: Vec<(String, String)>,
    /// Where tokens are cached between runs (a directory or a redis:// URL).
    #[arg(
        long,
        env = "PARTNER_TOKEN_STORE",
        hide_env_values = true,
        value_name = "DIR|URL",
        long_help = crate::cache::STORE_HELP
    )]
    store: Option<String>,
    /// Ask the provider for a new token: neither read nor write the cache.
    #[arg(long)]
    no_cache: bool,
    /// Total timeout of the token request: 500ms, 10s, 2m, or a number of seconds; at most
    /// 1h. A run
    /// that finds another run's lease on the cache (one killed, say) waits for it at
    /// most twice this and a second, before its own request.
    // Hyphen values taken, so `-1` is named negative, not refused as a stray value.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "10s",
        allow_hyphen_values = true,
        value_parser = args::timeout
    )]
    timeout: Duration,
}

/// `--client-auth`'s values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ClientAuthName {
    /// HTTP Basic (RFC 6749 2.3.1)
    Basic,
    /// client_id and client_secret in the form body
    Body,
}

/// Where the token request goes.
enum Target {
    Environment(String),
    BaseUrl(String),
}

/// A fetch, its flags checked.
pub struct Plan {
    args: Args,
    provider: Provider,
    target: Target,
}

impl Args {
    /// Checks what clap cannot: `--env` against the provider's environments, `--env`
    /// against `--base-url` (a flag beats the other's variable), and no credentials in
    /// the base URL. The error is a usage message that echoes no URL.
    pub fn plan(
        mut self,
        matches: &clap::ArgMatches,
    ) -> Result<Plan, (clap::error::ErrorKind, String)> {
        use clap::error::ErrorKind as Usage;
        let provider = self.provider.provider();
        let from_flag = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
        let target = match (self.environment.take(), self.base_url.take()) {
            (Some(env), Some(url)) => match (from_flag("environment"), from_flag("base_url")) {
                (true, false) => Target::Environment(env),
                (false, true) => Target::BaseUrl(url),
                (true, true) => {
                    return Err((
                        Usage::ArgumentConflict,
                        "--env and --base-url both name where to send the request; give one".into(),
                    ));
                }
                (false, false) => {
                    return Err((
                        Usage::ArgumentConflict,
                        "PARTNER_ENV and PARTNER_BASE_URL are both set; unset one, or give --env or --base-url".into(),
                    ));
                }
            },
            (Some(env), None) => Target::Environment(env),
            (None, Some(url)) => Target::BaseUrl(url),
            (None, None) => match provider.environments().first() {
                Some(env) => Target::Environment(env.name.to_owned()),
                None => {
                    return Err((
                        Usage::MissingRequiredArgument,
                        format!("{provider} needs --base-url: its token endpoint's URL"),
                    ));
                }
            },
        };
        if provider != Provider::Standard
            && (self.client_auth.is_some() || self.scope.is_some() || !self.params.is_empty())
        {
            return Err((
                Usage::ArgumentConflict,
                format!(
                    "--client-auth, --scope and --param are for --provider standard; {provider} \
                     has its own fixed way"
                ),
            ));
        }
        match &target {
            Target::Environment(_) if provider.environments().is_empty() => {
                return Err((
                    Usage::ArgumentConflict,
                    format!("{provider} has no named environments; give --base-url, its token URL"),
                ));
            }
            Target::Environment(env) if provider.environment(env).is_none() => {
                let known: Vec<&str> = provider.environments().iter().map(|e| e.name).collect();
                // Shown only where it looks like a typo: it may be a secret (found by review).
                let named = if env.trim().is_empty() {
                    "with an empty name".to_owned()
                } else if crate::secret::showable(env) {
                    format!("`{env}`")
                } else {
                    "by the name --env or PARTNER_ENV gave (not shown here, as it may be a secret)"
                        .to_owned()
                };
                return Err((
                    Usage::InvalidValue,
                    format!(
                        "{provider} has no environment {named}; it has: {}",
                        known.join(", ")
                    ),
                ));
            }
            Target::BaseUrl(url) => {
                let parsed_userinfo = url::Url::parse(url)
                    .is_ok_and(|p| !p.username().is_empty() || p.password().is_some());
                if parsed_userinfo || crate::output::has_userinfo(url) {
                    return Err((
                        Usage::InvalidValue,
                        "the base URL must not carry credentials (user:password@host); \
                         the client id and secret come from PARTNER_CLIENT_ID and \
                         PARTNER_CLIENT_SECRET"
                            .into(),
                    ));
                }
            }
            Target::Environment(_) => {}
        }
        Ok(Plan {
            args: self,
            provider,
            target,
        })
    }
}

impl Plan {
    /// The base URL this fetch goes to.
    fn url(&self) -> String {
        match &self.target {
            Target::BaseUrl(url) => url.clone(),
            Target::Environment(env) => self
                .provider
                .environment(env)
                .map_or_else(String::new, |e| e.base_url.to_owned()),
        }
    }
}

/// A token through `store`: the cached one while it is usable, else one fetch for every
/// run that asks at the same time. A failing store costs a warning, not the token (and so
/// does a cache directory that cannot be used at all: see `run`).
///
/// A cached token in its refresh window is replaced first: a long-running process would
/// refresh it in the background and keep using it meanwhile, but this run ends before
/// such a refresh lands, and whoever runs it uses the token after it has ended. If no new
/// token comes, the cached one (still usable) is printed, with a warning.
async fn through(
    client: Client,
    store: &Store,
    context: &Context,
    warnings: &mut Vec<String>,
) -> Result<AccessToken, partner_auth::Error> {
    // One attempt, as without the cache: the CLI reports failures, scripts retry. A lease
    // covers one request of at most `--timeout`, and the wait for another run's lease (one
    // killed, say) is bounded by it too: after a lease and a request's time, this run
    // asks the provider itself.
    let timeout = context.timeout.unwrap_or(Duration::from_secs(10));
    let policy = CachePolicy::default().with_retry(RetryPolicy::none().with_deadline(timeout));
    let source = TokenSource::builder(client)
        .policy(policy)
        .store(store.shared())
        .store_policy(
            store
                .policy()
                .with_lease_ttl(timeout.saturating_add(Duration::from_secs(1))),
        )
        .build()?;
    let key = source.store_key().map(str::to_owned);
    let fetched = through_source(&source, store, context, warnings);
    #[cfg(unix)]
    {
        // A signal that ends the run mid-fetch ends this run's lease on the cache first:
        // with the signal's default action the lease was left, and the next run waited it
        // out (found by review: 11 s after a SIGTERM). The exit code is the one a shell
        // reports for a process the signal ended.
        let Ok(mut stops) = crate::secret::Stops::listen() else {
            return fetched.await;
        };
        crate::secret::ENDING_A_LEASE.store(true, std::sync::atomic::Ordering::Release);
        let outcome = tokio::select! {
            token = fetched => Ok(token),
            code = stops.next() => Err(code),
        };
        match outcome {
            Ok(token) => {
                // Set until the exit where a signal came: the prompt's listener may see that
                // signal only now (found by review: it exited before the lease ended).
                crate::secret::ENDING_A_LEASE.store(false, std::sync::atomic::Ordering::Release);
                // Listening took the signals' default actions away: they end the rest of
                // the run as they would have.
                tokio::spawn(async move { std::process::exit(stops.next().await) });
                token
            }
            Err(code) => {
                // The fetch dropped, then its source: the source ends its lease, if it held
                // one, in a task of its own; waited for here, briefly. A run that only
                // waited for another run's lease (and sent nothing) holds none: it leaves
                // at once, that lease not being its to wait out.
                let stats = source.stats();
                let only_waited = stats.lease_waits > 0 && stats.token_requests == 0;
                drop(source);
                if let Some(key) = key.filter(|_| !only_waited) {
                    let _ = tokio::time::timeout(
                        LEASE_END_WAIT,
                        store.shared().wait(&key, LEASE_END_WAIT),
                    )
                    .await;
                }
                std::process::exit(code)
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = key;
        fetched.await
    }
}

/// How long a run stopped by a signal mid-fetch waits for its lease on the cache to end.
#[cfg(unix)]
const LEASE_END_WAIT: Duration = Duration::from_secs(1);

/// [`through`]'s work on its source.
async fn through_source(
    source: &TokenSource,
    store: &Store,
    context: &Context,
    warnings: &mut Vec<String>,
) -> Result<AccessToken, partner_auth::Error> {
    let mut token = source.token().await;
    let refresh = match &token {
        Ok(cached) => in_refresh_window(cached, source.policy()).then(|| cached.clone()),
        Err(_) => None,
    };
    let mut refreshed = false;
    if let Some(cached) = &refresh {
        tracing::debug!(
            expires_in_ms = u64::try_from(cached.expires_in().as_millis()).unwrap_or(u64::MAX),
            "the cached token is in its refresh window: getting a new one"
        );
        match source.refresh().await {
            Ok(new) => {
                token = Ok(new);
                refreshed = true;
            }
            Err(e) => warnings.push(format!(
                "the cached token expires in {} s and no new one came ({}), so this run \
                 printed the cached one",
                cached.expires_in().as_secs(),
                context.scrub(&e.headline())
            )),
        }
    }
    let stats = source.stats();
    if stats.store_errors > 0 {
        warnings.push(format!(
            "the token cache at {} failed, so this run went without it (-v says why)",
            store.describe()
        ));
    }
    tracing::debug!(
        from_cache = stats.store_hits > 0,
        refreshed,
        token_requests = stats.token_requests,
        "token through the cache"
    );
    token
}

/// Whether `token` is in `policy`'s refresh window, as `TokenSource` schedules it: less
/// than the window left before the source would stop handing it out, the expiry margin
/// before it expires. (The jitter that spreads a fleet's refreshes is left out.)
fn in_refresh_window(token: &AccessToken, policy: &CachePolicy) -> bool {
    // The lifetime the cache gives it: the provider's, or a JWT's own where shorter.
    let lifetime = token
        .expires_at_instant()
        .saturating_duration_since(token.issued_at_instant());
    let (window, margin) = policy.window_and_margin(lifetime);
    // Until its expiry less the margin, but never longer than the source itself would
    // keep it: a token read from a store is kept only as long as the store says.
    let usable_left = token
        .expires_at()
        .duration_since(SystemTime::now())
        .unwrap_or_default()
        .saturating_sub(margin)
        .min(token.expires_in());
    usable_left < window
}

/// Fetches and prints a token; a failure is reported on stderr with its exit code.
pub async fn run(plan: Plan, verbose: u8) -> ExitCode {
    file_size_limit_as_an_error();
    let json = plan.args.json;
    // Shown at the end: with --json inside the one JSON object on stderr.
    let mut warnings = Vec::new();
    let fail = |report: Report, warnings: Vec<String>| {
        let report = report.with_warnings(warnings);
        if json {
            crate::stderr::errln!("{}", report.json());
        } else {
            crate::stderr::write(report.text(verbose));
        }
        ExitCode::from(report.exit_code())
    };
    let mut context = Context {
        url: Some(plan.url()),
        timeout: Some(plan.args.timeout),
        secrets: Vec::new(),
    };
    let secret = match secret::read(plan.args.client_secret_stdin, plan.provider.name()).await {
        Ok(secret) => secret,
        Err(report) => return fail(*report, warnings),
    };
    context.secrets.push(secret.clone());
    let mut builder = Client::builder(plan.provider)
        .credentials(Credentials::new(plan.args.client_id, secret))
        .timeout(plan.args.timeout)
        // `--timeout` bounds the whole request, the connection included: no shorter
        // connect timeout of the library's own under it.
        .connect_timeout(None);
    if let Some(auth) = plan.args.client_auth {
        builder = builder.client_auth(match auth {
            ClientAuthName::Basic => ClientAuth::Basic,
            ClientAuthName::Body => ClientAuth::Body,
        });
    }
    if let Some(scope) = plan.args.scope {
        builder = builder.scope(scope);
    }
    for (name, value) in plan.args.params {
        builder = builder.extra_param(name, value);
    }
    builder = match plan.target {
        Target::Environment(env) => builder.environment(env),
        Target::BaseUrl(url) => builder.base_url(url),
    };
    let client = match builder.build() {
        Ok(client) => client,
        Err(e) => return fail(Report::from_error(&e, &context), warnings),
    };
    context.url = Some(client.base_url().to_owned());
    tracing::debug!(
        provider = %client.provider(),
        environment = client.environment(),
        base_url = context.scrub(&crate::output::shown_url(client.base_url())),
        timeout = %humantime::format_duration(plan.args.timeout),
        "sending the token request"
    );
    let fetched = if plan.args.no_cache {
        client.fetch_token().await
    } else {
        match Store::open(plan.args.store.as_deref()) {
            Ok(store) => through(client, &store, &context, &mut warnings).await,
            // A directory that cannot be used is no reason to go without the token.
            Err(OpenError::Unusable(unusable)) => {
                warnings.push(format!(
                    "{}; this run goes without the cache ({}, or pass --no-cache)",
                    unusable.problem,
                    unusable.hint()
                ));
                client.fetch_token().await
            }
            Err(OpenError::Refused(report)) => return fail(*report, warnings),
        }
    };
    let token = match fetched {
        Ok(token) => token,
        Err(e) => return fail(Report::from_error(&e, &context), warnings),
    };
    // Everything that can fail before anything is printed: the warnings go with either.
    let printed = if json {
        let Some(output) = TokenJson::new(&token) else {
            let report = Report::new(
                ErrorKind::InvalidResponse,
                format!(
                    "a token from {}, a provider this CLI does not know",
                    token.provider()
                ),
                "update partner-token",
            );
            return fail(report, warnings);
        };
        match serde_json::to_string(&output) {
            Ok(line) => format!("{line}\n"),
            Err(e) => {
                let report = Report::new(
                    ErrorKind::InvalidResponse,
                    format!("could not write the token as JSON: {e}"),
                    "report this as a bug",
                );
                return fail(report, warnings);
            }
        }
    } else if plan.args.header {
        match token.authorization_header() {
            Ok(_) => format!("Authorization: Bearer {}\n", token.expose_secret()),
            Err(e) => return fail(Report::from_error(&e, &context), warnings),
        }
    } else {
        crate::output::summary(&token)
    };
    // The token first: a reader that has gone ends the run there, without a word. Output
    // that cannot be written is a failure like any other, with the run's warnings (found
    // by review: with the token first, they were lost).
    match stdout::try_write(printed) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return ExitCode::SUCCESS,
        Err(e) => return fail(Report::output_failure(&e).of(&token, &context), warnings),
    }
    crate::stderr::write(crate::output::warnings(&warnings, json));
    ExitCode::SUCCESS
}

/// A file size limit (`ulimit -f`) that a cache file (or the output, redirected to a file)
/// would pass is an error (`EFBIG`): the cache's a warning, the output's exit 8. Left to
/// SIGXFSZ's default action, it ended the run without a word or a token (exit 153; found
/// by review). Listening for the signal replaces that action for good.
fn file_size_limit_as_an_error() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let xfsz = SignalKind::from_raw(rustix::process::Signal::XFSZ.as_raw());
        if let Err(e) = signal(xfsz) {
            tracing::debug!(error = %e, "could not take SIGXFSZ's default action away");
        }
    }
}
