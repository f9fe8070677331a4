//! Prints a Dinie token's type and lifetime (never the token), with partner-auth built for
//! Dinie alone:
//!
//! ```text
//! DINIE_CLIENT_ID=… DINIE_CLIENT_SECRET=… cargo run --manifest-path examples/one-provider/Cargo.toml -- sandbox
//! ```

use std::process::ExitCode;

use partner_auth::{Client, Credentials, Provider};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let environment = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "production".into());
    let (Ok(id), Ok(secret)) = (
        std::env::var("DINIE_CLIENT_ID"),
        std::env::var("DINIE_CLIENT_SECRET"),
    ) else {
        eprintln!("set DINIE_CLIENT_ID and DINIE_CLIENT_SECRET");
        return ExitCode::FAILURE;
    };
    let client = match Client::builder(Provider::Dinie)
        .environment(&environment)
        .credentials(Credentials::new(id, secret))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match client.fetch_token().await {
        Ok(token) => {
            println!(
                "{} token, expires at {:?}",
                token.token_type(),
                token.expires_at()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
