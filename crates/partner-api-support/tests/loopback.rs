//! From review: the generated crates' `Client::new` goes direct (no environment proxy) for
//! loopback URLs, judged by `partner_api_support::is_loopback`; an IPv4 loopback address
//! mapped into IPv6 is one.

#[test]
fn ipv4_loopback_mapped_into_ipv6_is_loopback() {
    let mut missed = Vec::new();
    for url in [
        "https://[::ffff:127.0.0.1]:8443/",
        "https://[::ffff:7f00:1]:8443/",
    ] {
        let parsed = reqwest::Url::parse(url).unwrap();
        if !partner_api_support::is_loopback(&parsed) {
            missed.push(url);
        }
    }
    assert!(missed.is_empty(), "not taken for loopback: {missed:?}");
}
