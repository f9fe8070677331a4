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
/// date): measured from the response's `date` where the two agree (`target` no earlier
/// than it and at most [`MAX_AHEAD`] later), so that a skewed clock on either side changes
/// nothing; otherwise from `now`, this machine's clock (found by review: a `Date` of 1970
/// turned a 45 s reset into a day's wait, one of 9999 into none).
pub(crate) fn until(target: SystemTime, date: Option<SystemTime>, now: SystemTime) -> Duration {
    if let Some(date) = date
        && let Ok(wait) = target.duration_since(date)
        && wait <= MAX_AHEAD
    {
        return wait;
    }
    target.duration_since(now).unwrap_or(Duration::ZERO)
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
        // A Date of 1970, or of 9999: ours measures.
        let reset = at(provider + 45);
        for date in [
            "Thu, 01 Jan 1970 00:00:00 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            assert_eq!(
                until(reset, parse(date), at(provider)),
                Duration::from_secs(45),
                "{date}"
            );
        }
        // No Date, or one that does not parse: ours; a time already past: no wait.
        assert_eq!(
            until(reset, parse("yesterday"), at(provider)),
            Duration::from_secs(45)
        );
        assert_eq!(until(at(provider - 5), None, at(provider)), Duration::ZERO);
    }
}
