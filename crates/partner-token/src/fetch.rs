//! `partner-token fetch`.

use std::process::ExitCode;
use std::time::Duration;

use partner_auth::{Client, Credentials, Provider, SecretString};
use tokio::io::AsyncBufReadExt as _;

use crate::{exit, output};

/// Fetch a token from one provider.
#[derive(clap::Args)]
pub struct Args {
    /// The provider.
    #[arg(long, value_parser = parse_provider)]
    provider: Provider,
    /// A named environment (default: production).
    #[arg(long = "env", conflicts_with = "base_url")]
    environment: Option<String>,
    /// A base URL instead of a named environment (https, or http to loopback).
    #[arg(long)]
    base_url: Option<String>,
    /// The client id.
    #[arg(long, env = "PARTNER_CLIENT_ID")]
    client_id: String,
    /// Read the client secret from the first line of standard input.
    #[arg(long)]
    client_secret_stdin: bool,
    /// Print one JSON object: provider, environment, access_token, token_type,
    /// expires_in, issued_at, expires_at.
    #[arg(long, conflicts_with = "header")]
    json: bool,
    /// Print exactly `Authorization: Bearer <token>`.
    #[arg(long)]
    header: bool,
    /// Total timeout of the token request, in seconds.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

fn parse_provider(name: &str) -> Result<Provider, String> {
    name.parse()
        .map_err(|e: partner_auth::UnknownProvider| e.to_string())
}

pub async fn run(args: Args) -> ExitCode {
    let secret = match read_secret(args.client_secret_stdin).await {
        Ok(secret) => secret,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(exit::CONFIGURATION);
        }
    };
    let mut builder = Client::builder(args.provider)
        .credentials(Credentials::new(args.client_id, secret))
        .timeout(Duration::from_secs(args.timeout));
    if let Some(env) = args.environment {
        builder = builder.environment(env);
    }
    if let Some(url) = args.base_url {
        builder = builder.base_url(url);
    }
    let result = match builder.build() {
        Ok(client) => client.fetch_token().await,
        Err(e) => Err(e),
    };
    let token = match result {
        Ok(token) => token,
        Err(e) => {
            eprint!("{}", output::error(&e));
            return ExitCode::from(exit::for_kind(e.kind()));
        }
    };
    if args.json {
        match serde_json::to_string(&token) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("error: could not write JSON: {e}");
                return ExitCode::from(exit::INVALID_RESPONSE);
            }
        }
    } else if args.header {
        match token.authorization_header() {
            Ok(_) => println!("Authorization: Bearer {}", token.expose_secret()),
            Err(e) => {
                eprint!("{}", output::error(&e));
                return ExitCode::from(exit::for_kind(e.kind()));
            }
        }
    } else {
        print!("{}", output::summary(&token));
    }
    ExitCode::SUCCESS
}

/// The secret from `PARTNER_CLIENT_SECRET` or, when asked, standard input.
async fn read_secret(from_stdin: bool) -> Result<SecretString, String> {
    if from_stdin {
        let mut line = String::new();
        tokio::io::BufReader::new(tokio::io::stdin())
            .read_line(&mut line)
            .await
            .map_err(|e| format!("could not read the client secret from stdin: {e}"))?;
        let secret = line.trim_end_matches(['\r', '\n']).to_owned();
        return Ok(SecretString::from(secret));
    }
    match std::env::var("PARTNER_CLIENT_SECRET") {
        Ok(secret) => Ok(SecretString::from(secret)),
        Err(_) => {
            Err("no client secret: set PARTNER_CLIENT_SECRET or pass --client-secret-stdin".into())
        }
    }
}
