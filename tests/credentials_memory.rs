//! `partner_auth::Credentials` built from an owned `String` (read from a file or a prompt,
//! with room to spare) leaves no copy of the secret in memory given back to the allocator,
//! as `partner_api_support::BasicCredentials` leaves none (found by review: turning such a
//! `String` into a `SecretString` shrinks its buffer, which an allocator may do by moving
//! it and freeing the old one with the secret in it; this test's allocator does).

#[path = "../crates/partner-api-support/tests/watching/mod.rs"]
mod watching;

use partner_auth::{Credentials, ExposeSecret as _};

#[test]
fn a_secret_given_as_a_string_with_room_to_spare_leaves_no_copy_behind() {
    watching::watch_for(vec![b"SECRETMARK".to_vec()]);
    let mut secret = String::with_capacity(256);
    secret.push_str("SECRETMARK-owned-0123456789");
    let found = watching::freed_holding_needles(|| {
        let credentials = Credentials::new("client-id", secret);
        assert_eq!(
            credentials.client_secret().expose_secret(),
            "SECRETMARK-owned-0123456789"
        );
        drop(credentials);
    });
    assert_eq!(found, 0, "a freed block held the secret given as a String");
}
