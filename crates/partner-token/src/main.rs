//! `partner-token`: access tokens from the five partner APIs on the command line, and a
//! sandbox and demo of the whole flow. See `partner-token --help`.

mod demo;
mod exit;
mod fetch;
mod output;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use partner_auth::Provider;

/// Access tokens from Teez, Alternative Payments, Cobee, Tradevest and Dinie.
#[derive(Parser)]
#[command(name = "partner-token", version, about, long_about = None)]
struct Cli {
    /// Show what happens on stderr (-v: requests and outcomes; never secrets).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fetch a token. The secret comes from PARTNER_CLIENT_SECRET or --client-secret-stdin,
    /// never from a flag (process lists show flags).
    Fetch(fetch::Args),
    /// Print the JSON Schema of `fetch --json` output.
    Schema,
    /// Run the sandbox in the foreground and print each provider's base URL and demo
    /// credentials.
    Sandbox {
        /// Lifetime of issued tokens, in seconds (default: each provider's documented one).
        #[arg(long)]
        token_lifetime: Option<u64>,
    },
    /// Start the sandbox in process and show the whole flow against all five providers.
    Demo,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::from(exit::NETWORK);
        }
    };
    runtime.block_on(async {
        match cli.command {
            Command::Fetch(args) => fetch::run(args).await,
            Command::Schema => {
                let schema = schemars::schema_for!(partner_auth::AccessToken);
                println!(
                    "{}",
                    serde_json::to_string_pretty(&schema).unwrap_or_default()
                );
                ExitCode::SUCCESS
            }
            Command::Sandbox { token_lifetime } => run_sandbox(token_lifetime).await,
            Command::Demo => demo::run().await,
        }
    })
}

async fn run_sandbox(token_lifetime: Option<u64>) -> ExitCode {
    let mut builder = partner_sandbox::Sandbox::builder();
    if let Some(secs) = token_lifetime {
        builder = builder.token_lifetime(Duration::from_secs(secs));
    }
    let sandbox = match builder.start().await {
        Ok(sandbox) => sandbox,
        Err(e) => {
            eprintln!("error: could not bind loopback ports: {e}");
            return ExitCode::from(exit::NETWORK);
        }
    };
    println!("partner-token sandbox: five token endpoints on loopback (Ctrl-C stops)\n");
    println!(
        "{:<22} {:<40} {:<24} client secret",
        "provider", "base URL", "client id"
    );
    for endpoint in sandbox.endpoints() {
        println!(
            "{:<22} {:<40} {:<24} {}",
            endpoint.provider.name(),
            endpoint.base_url,
            endpoint.client_id,
            endpoint.client_secret
        );
    }
    let example = sandbox.endpoint(Provider::Dinie);
    println!(
        "\ntry: PARTNER_CLIENT_ID={} PARTNER_CLIENT_SECRET={} partner-token fetch --provider dinie --base-url {}",
        example.client_id, example.client_secret, example.base_url
    );
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
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
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .compact();
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(ours)
        .try_init();
}
