//! A response's `Date` header: the provider's clock, for measuring what a response says in
//! that clock (a JWT's `exp`, a reset time) without comparing it with this machine's.

use std::time::{Duration, SystemTime};

/// The longest a time in a response may lie after its `Date` and still be measured from
/// it: further off, one of the two is wrong (a box whose clock says 1970 or 9999), and
/// this machine's clock is the better guess.
pub(crate) const MAX_AHEAD: Duration = Duration::from_secs(24 * 60 * 60);

/// The time a `Date` header's `value` says, if it parses as an HTTP date.
pub(crate) fn parse(value: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(value.trim()).ok()
}

/// How long until `target`, a time on the provider's clock (a reset time, a `Retry-After`
/// date), measured from the response's `date`: no wait if `target` is not after it (past
/// on the provider's clock, whatever ours says), `target − date` if that is at most
/// [`MAX_AHEAD`]. Further ahead, the `Date` is a wrong clock (1970: found by review, a
/// 45 s reset became a day's wait) and `now`, this machine's clock, measures, as it does
/// without a `Date`.
pub(crate) fn until(target: SystemTime, date: Option<SystemTime>, now: SystemTime) -> Duration {
    if let Some(date) = date {
        match target.duration_since(date) {
            Err(_) => return Duration::ZERO,
            Ok(wait) if wait <= MAX_AHEAD => return wait,
            Ok(_) => {}
        }
    }
    target.duration_since(now).unwrap_or(Duration::ZERO)
}

/// Whether a `Date` is within [`MAX_AHEAD`] of `now`, this machine's clock, either way:
/// what a JWT without `iat` must pass to be measured from it (nothing else in the
/// response says whether it is the provider's clock or a wrong one).
pub(crate) fn near(date: SystemTime, now: SystemTime) -> bool {
    date.duration_since(now)
        .or_else(|_| now.duration_since(date))
        .is_ok_and(|off| off <= MAX_AHEAD)
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn a_time_is_measured_from_the_date_it_agrees_with_else_from_ours() {
        let (provider, ours) = (1_800_000_000, 1_800_000_000 + 2 * 86_400);
        // Our clock two days off: the Date still measures a reset 45 s after it.
        assert_eq!(
            until(at(provider + 45), Some(at(provider)), at(ours)),
            Duration::from_secs(45)
        );
        // A Date of 1970: ours measures. One of 9999: the reset is past on that clock.
        let reset = at(provider + 45);
        assert_eq!(
            until(reset, parse("Thu, 01 Jan 1970 00:00:00 GMT"), at(provider)),
            Duration::from_secs(45)
        );
        assert_eq!(
            until(reset, parse("Fri, 31 Dec 9999 23:59:59 GMT"), at(provider)),
            Duration::ZERO
        );
        // A time just before the Date is no wait, whatever our clock (found by review:
        // our clock an hour behind made it an hour).
        assert_eq!(
            until(at(provider - 10), Some(at(provider)), at(provider - 3600)),
            Duration::ZERO
        );
        assert!(near(at(provider), at(provider + 86_400)));
        assert!(!near(at(provider), at(provider + 86_401)));
        // No Date, or one that does not parse: ours; a time already past: no wait.
        assert_eq!(
            until(reset, parse("yesterday"), at(provider)),
            Duration::from_secs(45)
        );
        assert_eq!(until(at(provider - 5), None, at(provider)), Duration::ZERO);
    }

    /// A time exactly a day after the `Date` is still measured from it ("at most a day");
    /// a second more, and our clock measures. Our clock 10 minutes ahead tells them apart.
    #[test]
    fn a_time_a_day_after_the_date_is_measured_from_it_a_second_more_from_ours() {
        let (provider, ours) = (1_800_000_000, 1_800_000_000 + 600);
        assert_eq!(
            until(at(provider + 86_400), Some(at(provider)), at(ours)),
            Duration::from_secs(86_400)
        );
        assert_eq!(
            until(at(provider + 86_401), Some(at(provider)), at(ours)),
            Duration::from_secs(86_401 - 600)
        );
    }
}
