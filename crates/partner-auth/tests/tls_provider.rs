//! Feature `rustls-ring` (with `rustls` on too, as in `--all-features`): the first client
//! built installs `ring` as rustls's process-wide provider, so `rustls-ring` wins. Its own
//! test binary: the provider is process-global.

use partner_auth::{Client, Credentials, Provider};

#[test]
fn the_first_client_built_installs_ring_as_the_process_default() {
    assert!(
        rustls::crypto::CryptoProvider::get_default().is_none(),
        "nothing installed one before"
    );
    Client::builder(Provider::Standard)
        .base_url("https://auth.example.invalid/token")
        .credentials(Credentials::new("id", "secret"))
        .build()
        .unwrap();
    let installed = rustls::crypto::CryptoProvider::get_default().expect("a provider");
    let ring = rustls::crypto::ring::default_provider();
    // aws-lc-rs offers other key exchange groups (post-quantum ones) than ring.
    assert_eq!(
        format!("{:?}", installed.kx_groups),
        format!("{:?}", ring.kx_groups)
    );
}
