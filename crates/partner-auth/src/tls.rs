//! rustls's process-wide crypto provider, for reqwest with `rustls-ring` and for
//! `rediss://` stores: rustls panics when it has to choose one and cannot.

/// Makes sure rustls has a process-wide crypto provider, as the features chose: one the
/// application installed stays; otherwise `ring` with `rustls-ring` (which wins over
/// `rustls`), else aws-lc-rs with `rustls`. Returns `false` when there is none and the
/// features name none (`native-tls` alone, or no TLS feature).
#[cfg(any(feature = "rustls-ring", feature = "redis"))]
pub(crate) fn ensure_rustls_provider() -> bool {
    if rustls::crypto::CryptoProvider::get_default().is_some() {
        return true;
    }
    // Another thread may install one meanwhile: either way there is one afterwards.
    #[cfg(feature = "rustls-ring")]
    {
        let _ = rustls::crypto::ring::default_provider().install_default();
        true
    }
    #[cfg(all(feature = "rustls", not(feature = "rustls-ring")))]
    {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        true
    }
    #[cfg(not(any(feature = "rustls", feature = "rustls-ring")))]
    {
        false
    }
}
