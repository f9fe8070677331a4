//! `partner-token`: access tokens from the partner APIs on the command line, and a
//! sandbox and demo of the whole flow. See `partner-token --help`.

#![forbid(unsafe_code)]

mod args;
mod cache;
mod demo;
mod exit;
mod fetch;
mod output;
mod sandbox;
mod secret;
mod stderr;
mod stdout;

use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue};
use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

/// Access tokens from Teez, Alternative Payments, Cobee, Tradevest and Dinie.
#[derive(Parser)]
#[command(
    name = "partner-token",
    version,
    about,
    long_about = None,
    after_help = after_help()
)]
struct Cli {
    /// Show what happens on stderr: -v every cause of an error and the library's events,
    /// -vv more detail. Never a secret.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fetch a token. The secret comes from PARTNER_CLIENT_SECRET or --client-secret-stdin,
    /// never from a flag.
    #[command(after_help = after_help())]
    Fetch(fetch::Args),
    /// Print the JSON Schema of `fetch --json` output (or of `--json` errors).
    Schema {
        /// The schema of the JSON error object instead.
        #[arg(long)]
        error: bool,
    },
    /// Run the sandbox in the foreground and print each provider's base URL and demo
    /// credentials.
    Sandbox(sandbox::Args),
    /// Start the sandbox in process and show the whole flow against every partner.
    Demo,
    /// The token cache `fetch` keeps between runs: `cache clear`, `cache dir`.
    Cache(cache::Args),
    /// Print a shell completion script (e.g. `partner-token completions bash >
    /// ~/.local/share/bash-completion/completions/partner-token`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `partner-token man | man -l -`, or a subcommand's
    /// (`partner-token man fetch`, `partner-token man cache clear`).
    Man {
        /// The subcommand whose page to print.
        #[arg(value_parser = ["fetch", "schema", "sandbox", "demo", "cache", "completions", "man"])]
        subcommand: Option<String>,
        /// Its own subcommand whose page to print (`cache`'s `clear` or `dir`).
        #[arg(requires = "subcommand", value_parser = ["clear", "dir"])]
        action: Option<String>,
    },
}

fn after_help() -> String {
    format!("{}\n\n{}", fetch::ENVIRONMENT_HELP, exit::HELP)
}

fn main() -> ExitCode {
    // Before anything listens for a signal: which ones the run was started with ignored.
    secret::note_ignored_signals();
    // Before clap, so the refusal is the whole message and the value is never echoed.
    if std::env::args_os()
        .skip(1)
        .any(|arg| secret::is_secret_flag(&arg))
    {
        crate::stderr::write(secret::FLAG_REFUSED);
        return ExitCode::from(exit::USAGE);
    }
    let matches = match unset_empty_variables(Cli::command()).try_get_matches() {
        Ok(matches) => matches,
        Err(e) => {
            // A stray value, or one an option refused, may be the secret: refused without
            // repeating it.
            let refusal = if secret::would_echo_a_value(&e, std::env::args_os().any(|a| a == "--"))
            {
                Some(secret::VALUE_REFUSED.to_owned())
            } else {
                secret::refused_value(&e)
            };
            let Some(refusal) = refusal else { exit_with(e) };
            crate::stderr::write(refusal);
            if let Some(ContextValue::StyledStr(usage)) = e.get(ContextKind::Usage) {
                crate::stderr::errln!("\n{usage}\n\nFor more information, try '--help'.");
            }
            return ExitCode::from(exit::USAGE);
        }
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => exit_with(e),
    };
    init_tracing(cli.verbose);
    let fetch = match cli.command {
        Command::Fetch(args) => {
            let fetch_matches = matches.subcommand_matches("fetch").unwrap_or(&matches);
            match args.plan(fetch_matches) {
                Ok(plan) => Some(plan),
                Err((kind, message)) => {
                    let mut command = Cli::command();
                    let fetch = command.find_subcommand_mut("fetch").cloned();
                    fetch
                        .unwrap_or(command)
                        .bin_name("partner-token fetch")
                        .error(kind, message)
                        .exit()
                }
            }
        }
        Command::Schema { error } => return print_schema(error),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "partner-token", &mut script);
            stdout::write(script);
            return ExitCode::SUCCESS;
        }
        Command::Man { subcommand, action } => {
            return print_man(subcommand.as_deref(), action.as_deref());
        }
        command => {
            return block_on(async move {
                match command {
                    Command::Sandbox(args) => sandbox::run(args).await,
                    Command::Cache(args) => cache::run(args).await,
                    _ => demo::run().await,
                }
            });
        }
    };
    match fetch {
        Some(plan) => block_on(fetch::run(plan, cli.verbose)),
        None => ExitCode::SUCCESS,
    }
}

/// An empty `PARTNER_*` variable counts as unset, as `PARTNER_TOKEN_STORE= partner-token
/// fetch` means: its argument forgets the variable, so clap neither takes "" as a value nor
/// refuses it as one.
fn unset_empty_variables(command: clap::Command) -> clap::Command {
    let command = command.mut_args(|arg| match arg.get_env() {
        Some(name) if std::env::var_os(name).is_some_and(|value| value.is_empty()) => {
            arg.env(None::<&'static str>)
        }
        _ => arg,
    });
    let subcommands: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .collect();
    subcommands.into_iter().fold(command, |command, name| {
        command.mut_subcommand(name, unset_empty_variables)
    })
}

fn block_on(future: impl Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(future),
        Err(e) => {
            crate::stderr::errln!("error: could not start the async runtime: {e}");
            ExitCode::from(exit::NETWORK)
        }
    }
}

fn print_schema(error: bool) -> ExitCode {
    let schema = if error {
        schemars::schema_for!(output::Report)
    } else {
        schemars::schema_for!(output::TokenJson)
    };
    match serde_json::to_string_pretty(&schema) {
        Ok(text) => {
            stdout::outln!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            crate::stderr::errln!("error: could not write the schema: {e}");
            ExitCode::from(exit::CONFIGURATION)
        }
    }
}

/// The page of `subcommand` (and of its own `action`: the pages `cache`'s page refers to,
/// `partner-token-cache-clear(1)`), or the main one.
fn print_man(subcommand: Option<&str>, action: Option<&str>) -> ExitCode {
    // No `help` subcommand in the pages: `partner-token-help(1)` would be a page that
    // `man` cannot print (`--help` stays in each page's options).
    let mut command = Cli::command()
        .disable_help_subcommand(true)
        .mut_subcommand("cache", |cache| cache.disable_help_subcommand(true));
    command.build();
    let command = match subcommand.and_then(|name| command.find_subcommand(name)) {
        Some(sub) => match action {
            None => sub.clone(),
            Some(action) => match sub.find_subcommand(action) {
                Some(page) => page.clone(),
                None => {
                    let mut cli = Cli::command();
                    let man = cli.find_subcommand_mut("man").cloned();
                    man.unwrap_or(cli)
                        .bin_name("partner-token man")
                        .error(
                            clap::error::ErrorKind::InvalidSubcommand,
                            format!("`{}` has no subcommand `{action}`", sub.get_name()),
                        )
                        .exit()
                }
            },
        },
        None => command,
    };
    let mut page = Vec::new();
    match clap_mangen::Man::new(command).render(&mut page) {
        Ok(()) => {
            stdout::write(page);
            ExitCode::SUCCESS
        }
        Err(e) => {
            crate::stderr::errln!("error: could not write the man page: {e}");
            ExitCode::from(exit::CONFIGURATION)
        }
    }
}

/// `-v` shows this workspace's events on stderr. Only our own crates log, and they never
/// log a secret or token; HTTP libraries stay quiet.
fn init_tracing(verbose: u8) {
    use tracing_subscriber::prelude::*;
    if verbose == 0 {
        return;
    }
    let level = if verbose == 1 {
        tracing::Level::DEBUG
    } else {
        tracing::Level::TRACE
    };
    let ours = tracing_subscriber::filter::Targets::new()
        .with_target("partner_auth", level)
        .with_target("partner_sandbox", level)
        .with_target("partner_token", level);
    // An event that cannot be written is dropped (the layer would otherwise say so with
    // `eprintln!`, which panics when stderr cannot be written either).
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .log_internal_errors(false)
        .compact();
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(ours)
        .try_init();
}

/// Ends the process as clap would for `e`, except that help and version text written to
/// anything but a terminal goes through [`stdout::write`]: output that cannot be written
/// is exit 8 there too, not a silent success.
fn exit_with(e: clap::Error) -> ! {
    use std::io::IsTerminal as _;
    if !e.use_stderr() && !std::io::stdout().is_terminal() {
        stdout::write(e.render().to_string());
        std::process::exit(0);
    }
    e.exit()
}
