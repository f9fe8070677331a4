//! A response's `Date` header: the provider's clock, for measuring what a response says in
//! that clock (a JWT's `exp`, a reset time) without comparing it with this machine's.

use std::time::{Duration, SystemTime};

/// How far a `Date` may be from this machine's clock and still be taken as the provider's:
/// further off, it is a box whose clock is wrong (1970, 9999), not the skew of a provider.
pub(crate) const MAX_SKEW: Duration = Duration::from_secs(24 * 60 * 60);

/// The time a `Date` header's `value` says, if it parses as an HTTP date and is within
/// [`MAX_SKEW`] of `now`, this machine's clock.
pub(crate) fn provider_now(value: &str, now: SystemTime) -> Option<SystemTime> {
    let date = httpdate::parse_http_date(value.trim()).ok()?;
    let off = date
        .duration_since(now)
        .or_else(|_| now.duration_since(date))
        .unwrap_or(Duration::MAX);
    (off <= MAX_SKEW).then_some(date)
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn a_date_is_the_providers_clock_within_a_day_of_ours() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let at = |secs: i64| {
            UNIX_EPOCH + Duration::from_secs(1_800_000_000u64.saturating_add_signed(secs))
        };
        for skew in [-86_400, -120, 0, 120, 86_400] {
            let value = httpdate::fmt_http_date(at(skew));
            assert_eq!(provider_now(&value, now), Some(at(skew)), "skew {skew}");
        }
        for value in [
            httpdate::fmt_http_date(at(-86_401)),
            httpdate::fmt_http_date(at(86_401)),
            "Thu, 01 Jan 1970 00:00:00 GMT".to_owned(),
            "Fri, 31 Dec 9999 23:59:59 GMT".to_owned(),
            "yesterday".to_owned(),
            String::new(),
        ] {
            assert_eq!(provider_now(&value, now), None, "{value:?}");
        }
    }
}
