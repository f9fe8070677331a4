//! `partner-token sandbox`: the five emulated token endpoints in the foreground.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use partner_auth::Provider;
use partner_sandbox::Sandbox;

use crate::{args, exit};

/// Run the sandbox until Ctrl-C (or SIGTERM).
#[derive(clap::Args)]
pub struct Args {
    /// Lifetime of issued tokens: 90s, 10m, 1h, or a number of seconds (default: each
    /// provider's documented one).
    #[arg(long, value_name = "DURATION", value_parser = args::token_lifetime)]
    token_lifetime: Option<Duration>,
}

pub async fn run(args: Args) -> ExitCode {
    let mut builder = Sandbox::builder();
    if let Some(lifetime) = args.token_lifetime {
        builder = builder.token_lifetime(lifetime);
    }
    let sandbox = match builder.start().await {
        Ok(sandbox) => sandbox,
        Err(e) => {
            eprintln!("error: could not start the sandbox on loopback: {e}");
            return ExitCode::from(exit::NETWORK);
        }
    };
    print_table(&sandbox);
    let _ = std::io::stdout().flush();
    stopped().await;
    ExitCode::SUCCESS
}

fn print_table(sandbox: &Sandbox) {
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
}

/// Waits for Ctrl-C, or SIGTERM on Unix.
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
