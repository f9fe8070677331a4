//! Building and dropping `BasicCredentials` leaves no copy of the secret, plain, encoded for
//! the form or in base64, in memory given back to the allocator: every buffer that held it
//! is zeroized first. A global allocator looks at each block freed while the check is on.

mod watching;

use base64::Engine as _;
use partner_api_support::BasicCredentials;

#[test]
fn no_freed_block_holds_the_secret() {
    // Secrets the form encoding writes in many pieces (each reserved byte is one), so a
    // buffer that grew while they were joined would leave the first pieces behind.
    let secrets = [
        "SECRETMARKplain0123456789".to_owned(),
        "SECRETMARK/ab+cd=ef".to_owned(),
        format!("SECRETMARK{}", "/".repeat(40)),
        format!("SECRETMARK{}", "ü:".repeat(300)),
    ];
    let mut needles = vec![b"SECRETMARK".to_vec()];
    for secret in &secrets {
        let joined: String = form_urlencoded::byte_serialize(b"client-id")
            .chain([":"])
            .chain(form_urlencoded::byte_serialize(secret.as_bytes()))
            .collect();
        let encoded = base64::engine::general_purpose::STANDARD.encode(&joined);
        // The base64 of the secret's part, away from the id's.
        needles.push(encoded.as_bytes()[20..40].to_vec());
    }
    watching::watch_for(needles);
    for secret in &secrets {
        let found = watching::freed_holding_needles(|| {
            let credentials = BasicCredentials::new("client-id", secret.as_str());
            let header = credentials.authorization_header();
            assert!(header.is_sensitive());
            drop((credentials, header));
        });
        assert_eq!(
            found,
            0,
            "a freed block held the secret of {} bytes",
            secret.len()
        );
    }
}
