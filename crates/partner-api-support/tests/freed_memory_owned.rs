//! From review: `BasicCredentials` built from an owned `String` (one read from a file or
//! built with `format!`, with room to spare) leaves no copy of the secret in memory given
//! back to the allocator either. Turning such a `String` into a `SecretString` shrinks its
//! buffer, which an allocator may do by moving it (jemalloc and mimalloc do across size
//! classes; so does `GlobalAlloc::realloc`'s default, used by this test's allocator).

mod watching;

use partner_api_support::BasicCredentials;

#[test]
fn a_secret_given_as_a_string_with_room_to_spare_leaves_no_copy_behind() {
    watching::watch_for(vec![b"SECRETMARK".to_vec()]);
    for build in [BasicCredentials::new, |id: String, secret: String| {
        BasicCredentials::as_is(id, secret).unwrap()
    }] {
        let mut secret = String::with_capacity(256);
        secret.push_str("SECRETMARK-owned-0123456789");
        let found = watching::freed_holding_needles(|| {
            drop(build("client-id".to_owned(), secret));
        });
        assert_eq!(found, 0, "a freed block held the secret given as a String");
    }
}
