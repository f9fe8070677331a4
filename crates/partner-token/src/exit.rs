//! Exit codes, one per kind of failure a script may want to tell apart. Code 2, wrong
//! command-line usage, is clap's own.

use partner_auth::ErrorKind;

/// The provider refused the client credentials.
pub const INVALID_CREDENTIALS: u8 = 3;
/// Rate limited.
pub const RATE_LIMITED: u8 = 4;
/// Network failure, timeout, or the provider unavailable.
pub const NETWORK: u8 = 5;
/// The provider's answer was not a usable token.
pub const INVALID_RESPONSE: u8 = 6;
/// Insecure or bad configuration (also a request the provider rejects as malformed).
pub const CONFIGURATION: u8 = 7;

/// The exit code for an error of `kind`.
pub fn for_kind(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::InvalidCredentials => INVALID_CREDENTIALS,
        ErrorKind::RateLimited => RATE_LIMITED,
        ErrorKind::ProviderUnavailable | ErrorKind::Timeout | ErrorKind::Connection => NETWORK,
        ErrorKind::InvalidResponse => INVALID_RESPONSE,
        _ => CONFIGURATION,
    }
}
