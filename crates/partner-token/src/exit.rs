//! Exit codes, one per kind of failure a script may want to tell apart.

use partner_auth::ErrorKind;

/// `demo`: something did not behave as documented (the run's output says what).
pub const DEMO_FAILED: u8 = 1;
/// Wrong command-line usage (clap's own code, also used for a secret given as a flag).
pub const USAGE: u8 = 2;
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
/// The output could not be written (a closed pipe is not this: it exits 0, quietly).
pub const OUTPUT: u8 = 8;

/// The exit code table, as `--help` and the man page show it.
pub const HELP: &str = "\
Exit codes:
  0  ok
  1  demo: something did not behave as documented (its output says what)
  2  usage: a wrong flag or value, a zero duration, a secret in a flag
  3  invalid credentials: the provider refused the id or secret
  4  rate limited
  5  network failure, timeout, or the provider unavailable
  6  invalid response: the answer is not a usable token
  7  insecure or bad configuration (plain http off loopback, no
     secret, a request the provider rejects as malformed, a cache
     directory that cache clear cannot clear, a Redis store that
     refuses its password or a command), or a bug in partner-auth
     or partner-token (an internal error)
  8  the output could not be written (a full disk, say; a reader
     that closed the pipe is not an error)";

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
