//! Fuzzes every provider's response mapping, HTTP parsing included: the input's first
//! byte picks the provider, the rest is served verbatim as the whole HTTP response by a
//! loopback server. Whatever arrives, `fetch_token` must return (no panic, no hang) and no
//! error may show the client secret.
//!
//! `cargo fuzz run response_mapping` from `crates/partner-auth` (see BENCHMARKS.md).

#![no_main]

use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use partner_auth::{Client, Credentials, Provider};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "fuzz-secret-value-1234";

struct Harness {
    runtime: tokio::runtime::Runtime,
    response: Arc<Mutex<Vec<u8>>>,
    clients: Vec<Client>,
}

static HARNESS: LazyLock<Harness> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let response = Arc::new(Mutex::new(Vec::new()));
    let served = Arc::clone(&response);
    let base_url = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let reply = served.lock().expect("lock").clone();
                tokio::spawn(async move {
                    // Read the request head (and whatever body fits), answer, close.
                    let mut buffer = vec![0; 16 * 1024];
                    let _ = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buffer)).await;
                    let _ = stream.write_all(&reply).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        format!("http://{address}")
    });
    let clients = Provider::ALL
        .iter()
        .copied()
        .map(|provider| {
            Client::builder(provider)
                .base_url(&base_url)
                .credentials(Credentials::new("fuzz-client", SECRET))
                .timeout(Duration::from_millis(500))
                .build()
                .expect("client")
        })
        .collect();
    Harness {
        runtime,
        response,
        clients,
    }
});

fuzz_target!(|data: &[u8]| {
    let Some((&selector, response)) = data.split_first() else {
        return;
    };
    let harness = &*HARNESS;
    *harness.response.lock().expect("lock") = response.to_vec();
    let client = &harness.clients[usize::from(selector) % harness.clients.len()];
    match harness.runtime.block_on(client.fetch_token()) {
        Ok(token) => {
            let shown = format!("{token} {token:?}");
            assert!(!shown.contains(SECRET), "{shown}");
        }
        Err(error) => {
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains(SECRET), "secret echoed: {shown}");
        }
    }
});
