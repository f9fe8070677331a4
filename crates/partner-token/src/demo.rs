//! `partner-token demo`: the whole flow against the in-process sandbox.

use std::process::ExitCode;
use std::time::Instant;

use partner_auth::{Credentials, Provider, TokenCache, TokenSource};
use partner_sandbox::Sandbox;

use crate::sandbox::client_builder;

use crate::{exit, output, stdout};

/// Concurrent `token()` calls per provider in the stampede part.
const CALLERS: usize = 1000;

pub async fn run() -> ExitCode {
    // Violations are reported below rather than by the sandbox's panic on drop.
    let sandbox = match Sandbox::builder().allow_spec_violations().start().await {
        Ok(sandbox) => sandbox,
        Err(e) => {
            crate::stderr::errln!("error: could not start the sandbox on loopback: {e}");
            return ExitCode::from(exit::NETWORK);
        }
    };
    // Counted, not written out: a partner added by `cargo xtask new-provider` is one more.
    let partners = Provider::ALL.len();
    stdout::outln!(
        "partner-token demo: {partners} partner token endpoints, emulated on loopback\n"
    );

    stdout::outln!("1. A token from each provider, through partner-auth's token cache\n");
    stdout::outln!(
        "   {:<21} {:<15} {:<5} {:<7} {:>9}  {:<22} {:>8}",
        "provider",
        "client auth",
        "body",
        "type",
        "lifetime",
        "token (masked)",
        "latency"
    );
    let cache = TokenCache::new();
    let mut ok = true;
    for &provider in Provider::ALL {
        let client = match client_builder(&sandbox, provider).build() {
            Ok(client) => client,
            Err(e) => return fail(&e),
        };
        let started = Instant::now();
        match cache.token(&client).await {
            Ok(token) => stdout::outln!(
                "   {:<21} {:<15} {:<5} {:<7} {:>7} s  {:<22} {:>5} ms",
                provider.name(),
                provider.client_auth().to_string(),
                provider.body_encoding().to_string(),
                token.token_type().to_string(),
                token.lifetime().map_or(0, |l| l.as_secs()),
                output::mask(token.expose_secret()),
                started.elapsed().as_millis()
            ),
            Err(e) => {
                ok = false;
                crate::stderr::write(output::Report::from_error(&e, &Default::default()).text(0));
            }
        }
    }

    stdout::outln!("\n2. The same request with a wrong secret: one typed error per provider\n");
    for &provider in Provider::ALL {
        let wrong = client_builder(&sandbox, provider)
            .credentials(Credentials::new(
                sandbox.endpoint(provider).client_id,
                "wrong-secret-123",
            ))
            .build();
        let result = match wrong {
            Ok(client) => client.fetch_token().await,
            Err(e) => Err(e),
        };
        match result {
            Ok(_) => {
                ok = false;
                stdout::outln!("   {:<21} unexpectedly accepted", provider.name());
            }
            Err(e) => stdout::outln!(
                "   {:<21} {:<20} HTTP {}  {}",
                provider.name(),
                format!("{:?}", e.kind()),
                e.status().map_or(0, |s| s.as_u16()),
                e.field_errors()
                    .first()
                    .map(|f| f.message.as_str())
                    .or(e.message())
                    .or(e.code())
                    .unwrap_or("")
            ),
        }
    }

    stdout::outln!(
        "\n3. {CALLERS} concurrent token() calls per provider on a cold cache, and the token requests the sandbox saw\n"
    );
    for &provider in Provider::ALL {
        let client = match client_builder(&sandbox, provider).build() {
            Ok(client) => client,
            Err(e) => return fail(&e),
        };
        let source = TokenSource::new(client);
        let before = sandbox.stats(provider).token_requests;
        let started = Instant::now();
        let calls: Vec<_> = (0..CALLERS)
            .map(|_| {
                let source = source.clone();
                tokio::spawn(async move { source.token().await })
            })
            .collect();
        let mut failed = 0;
        for call in calls {
            if !matches!(call.await, Ok(Ok(_))) {
                failed += 1;
            }
        }
        let requests = sandbox.stats(provider).token_requests - before;
        ok &= failed == 0 && requests == 1;
        stdout::outln!(
            "   {:<21} {CALLERS} calls, {failed} failed, {requests} token request(s), {} ms",
            provider.name(),
            started.elapsed().as_millis()
        );
    }
    let violations = sandbox.spec_violations();
    stdout::outln!(
        "\n4. Every request checked against its provider's spec: {} violation(s)",
        violations.len()
    );
    for violation in &violations {
        stdout::outln!("   {violation}");
    }
    ok &= violations.is_empty();
    if ok {
        stdout::outln!("\nAll {partners} providers behaved as documented.");
        ExitCode::SUCCESS
    } else {
        stdout::outln!("\nSomething above did not behave as documented.");
        ExitCode::from(crate::exit::DEMO_FAILED)
    }
}

fn fail(error: &partner_auth::Error) -> ExitCode {
    let report = output::Report::from_error(error, &Default::default());
    crate::stderr::write(report.text(0));
    ExitCode::from(report.exit_code())
}
