//! `partner-token sandbox`: the emulated token endpoints in the foreground.

use std::process::ExitCode;
use std::time::Duration;

use partner_auth::{Client, ClientBuilder, Credentials, Provider};
use partner_sandbox::Sandbox;

use crate::{args, exit, stdout};

/// Run the sandbox until Ctrl-C (or SIGTERM).
#[derive(clap::Args)]
pub struct Args {
    /// Lifetime of issued tokens: 90s, 10m, 1h, or a number of seconds; at most 365d
    /// (default: each provider's documented one).
    #[arg(
        long,
        value_name = "DURATION",
        allow_hyphen_values = true,
        value_parser = args::token_lifetime
    )]
    token_lifetime: Option<Duration>,
    /// Listen on fixed ports: teez on PORT, alternative-payments on PORT+1, cobee on
    /// PORT+2, tradevest on PORT+3, dinie on PORT+4, a partner added later on the next, and
    /// the standard endpoint on the last (PORT+5 with five partners) (default: free
    /// ports).
    #[arg(
        long,
        value_name = "PORT",
        allow_hyphen_values = true,
        value_parser = |text: &str| args::port(text, u16::MAX - LAST_PORT_OFFSET)
    )]
    port: Option<u16>,
    /// Print one line of JSON on stdout, `{"<provider>": {"base_url", "client_id",
    /// "client_secret", "token_lifetime_secs"}, …}`, then serve.
    #[arg(long)]
    json: bool,
}

/// The sandbox's endpoints are on `--port` and the ports after it, one each: the standard
/// one is last.
const LAST_PORT_OFFSET: u16 = partner_sandbox::ENDPOINTS as u16 - 1;

/// One provider's entry in `sandbox --json`.
#[derive(serde::Serialize)]
struct EndpointJson<'a> {
    base_url: &'a str,
    client_id: &'a str,
    /// The sandbox's demo secret: it opens nothing but this sandbox.
    client_secret: &'a str,
    token_lifetime_secs: u64,
}

pub async fn run(args: Args) -> ExitCode {
    // A request its spec does not allow is answered with the provider's error and logged,
    // not fatal: whoever calls this sandbox may be trying exactly that.
    let mut builder = Sandbox::builder().allow_spec_violations();
    if let Some(lifetime) = args.token_lifetime {
        builder = builder.token_lifetime(lifetime);
    }
    if let Some(port) = args.port {
        builder = builder.base_port(port);
    }
    // Before the endpoints are printed: a script that stops the sandbox as soon as it has
    // read them gets a clean exit, not the default action of a signal not yet handled
    // (found by review: SIGTERM right after the line killed it, exit 143).
    let stop = Stop::install();
    let sandbox = match builder.start().await {
        Ok(sandbox) => sandbox,
        Err(e) => {
            crate::stderr::errln!("error: could not start the sandbox on loopback: {e}");
            if args.port.is_some() {
                crate::stderr::errln!(
                    "  hint:      choose another --port, or leave it out for free ports"
                );
            }
            return ExitCode::from(exit::NETWORK);
        }
    };
    if args.json {
        let endpoints: serde_json::Map<String, serde_json::Value> = sandbox
            .endpoints()
            .iter()
            .chain([sandbox.standard_endpoint()])
            .map(|e| {
                let entry = EndpointJson {
                    base_url: &e.base_url,
                    client_id: e.client_id,
                    client_secret: e.client_secret,
                    token_lifetime_secs: e.token_lifetime.as_secs(),
                };
                (
                    e.provider.to_owned(),
                    serde_json::to_value(entry).unwrap_or_default(),
                )
            })
            .collect();
        // Only informational: a sandbox whose reader has gone keeps serving.
        let _ = stdout::try_write(format!("{}\n", serde_json::Value::Object(endpoints)));
    } else {
        let _ = stdout::try_write(table(&sandbox));
    }
    stop.wait().await;
    ExitCode::SUCCESS
}

/// The endpoints as a table, with a command to try.
fn table(sandbox: &Sandbox) -> String {
    let mut table = format!(
        "partner-token sandbox: the {} partners' token endpoints and a standard RFC 6749 \
         one on loopback (Ctrl-C stops)\n\n{:<22} {:<40} {:<24} client secret\n",
        sandbox.endpoints().len(),
        "provider",
        "base URL",
        "client id"
    );
    for endpoint in sandbox
        .endpoints()
        .iter()
        .chain([sandbox.standard_endpoint()])
    {
        table += &format!(
            "{:<22} {:<40} {:<24} {}\n",
            endpoint.provider, endpoint.base_url, endpoint.client_id, endpoint.client_secret
        );
    }
    let example = sandbox.endpoint(Provider::Dinie);
    table += &format!(
        "\ntry: PARTNER_CLIENT_ID={} PARTNER_CLIENT_SECRET={} partner-token fetch --provider dinie --base-url {}\n",
        example.client_id, example.client_secret, example.base_url
    );
    table
}

/// A client builder for `provider` pointed at `sandbox`, with its demo credentials (the
/// sandbox knows providers by name and nothing of partner-auth).
pub(crate) fn client_builder(sandbox: &Sandbox, provider: Provider) -> ClientBuilder {
    let endpoint = sandbox.endpoint(provider);
    Client::builder(provider)
        .base_url(&endpoint.base_url)
        .credentials(Credentials::new(endpoint.client_id, endpoint.client_secret))
}

/// Ctrl-C, or SIGTERM on Unix, handled from the moment it is installed.
struct Stop {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Stop {
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signals = signal(SignalKind::interrupt())
                .and_then(|interrupt| Ok((interrupt, signal(SignalKind::terminate())?)))
                .ok();
            Stop { signals }
        }
        #[cfg(not(unix))]
        Stop {}
    }

    /// Until one of them arrives (Ctrl-C alone where they could not be installed).
    async fn wait(self) {
        #[cfg(unix)]
        if let Some((mut interrupt, mut terminate)) = self.signals {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
