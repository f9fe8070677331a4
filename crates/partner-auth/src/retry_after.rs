//! How long a provider asked us to wait, from its response headers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::Provider;
use crate::providers::ResetUnit;

/// The longest wait a response can ask for: a longer one (a reset header in a unit the
/// provider does not document, a typo) is read as this.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// The wait a response asks for, at most [`MAX_WAIT`]: `Retry-After` (seconds, fractions
/// rounded up, or an HTTP date; a word, a sign or more digits than a u64 holds is no
/// wait; given more than once, as fields or as a list, the longest) on any status; on a
/// 429 also `X-RateLimit-Reset` (a fraction of a second read too), in the
/// unit its provider's facts name (Cobee: seconds; Dinie: a Unix time; the others, which
/// document none: seconds below 10⁹, a Unix time in seconds below 10¹¹, else a Unix time
/// in milliseconds), else the window of the provider's documented rate limit
/// (Alternative Payments: a second).
///
/// A date or a Unix time is on the provider's clock, measured from the response's own
/// `Date` ([`crate::date::until`]): no wait if it is not after the `Date`, the difference
/// if that is at most a day, otherwise (or with no `Date`) from `now`, this machine's
/// clock.
pub(crate) fn from_headers(
    provider: Provider,
    status: StatusCode,
    headers: &HeaderMap,
    now: SystemTime,
) -> Option<Duration> {
    let text = |name: &str| headers.get(name)?.to_str().ok().map(str::trim);
    let clocks = Clocks {
        date: text("date").and_then(crate::date::parse),
        now,
    };
    // Given more than once (fields, or a list a proxy merged them into): the longest wait
    // named (found by review: `120, 120` was no wait).
    let retry_after = headers
        .get_all("retry-after")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(list_items)
        .filter_map(|item| from_retry_after(item, clocks))
        .max();
    let wait = retry_after.or_else(|| {
        if status != StatusCode::TOO_MANY_REQUESTS {
            return None;
        }
        // A reset header that says nothing readable is as good as none (found by review:
        // "soon" gave no wait at all where a missing one gave the window).
        text("x-ratelimit-reset")
            .and_then(|reset| from_reset(provider, reset, clocks))
            .or(crate::providers::facts(provider).rate_limit_window)
    })?;
    Some(wait.min(MAX_WAIT))
}

/// The response's `Date`, if any, and this machine's clock.
#[derive(Clone, Copy)]
struct Clocks {
    date: Option<SystemTime>,
    now: SystemTime,
}

impl Clocks {
    fn until(self, target: SystemTime) -> Duration {
        crate::date::until(target, self.date, self.now)
    }
}

/// The items of a field's value as a list (RFC 9110 §5.6.1), an HTTP date's own comma
/// (after its weekday) kept inside its item.
fn list_items(value: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut start = 0;
    for (at, _) in value.match_indices(',') {
        let item = value[start..at].trim();
        let weekday = item.len() == 3 && item.bytes().all(|b| b.is_ascii_alphabetic());
        if !weekday {
            items.push(item);
            start = at + 1;
        }
    }
    items.push(value[start..].trim());
    items.retain(|item| !item.is_empty());
    items
}

fn from_retry_after(value: &str, clocks: Clocks) -> Option<Duration> {
    if let Some(secs) = seconds(value) {
        return Some(secs);
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(clocks.until(date))
}

fn from_reset(provider: Provider, value: &str, clocks: Clocks) -> Option<Duration> {
    let whole = |value: &str| {
        let digits = value.bytes().all(|b| b.is_ascii_digit());
        // Too many digits for a u64: garbled, not a time.
        digits.then(|| value.parse::<u64>().ok()).flatten()
    };
    let at = |unix: Duration| {
        // A reset too far out to represent is as far out as a wait goes.
        match UNIX_EPOCH.checked_add(unix) {
            Some(at) => clocks.until(at),
            None => MAX_WAIT,
        }
    };
    // Seconds, Unix or not, may come with a fraction (found by review: `1800000045.5` was
    // no wait); milliseconds are whole.
    match crate::providers::facts(provider).rate_limit_reset {
        ResetUnit::Seconds => seconds(value),
        ResetUnit::UnixTime => Some(at(seconds(value)?)),
        ResetUnit::Guess => {
            let reset = seconds(value)?;
            Some(match reset.as_secs() {
                0..1_000_000_000 => reset,
                1_000_000_000..100_000_000_000 => at(reset),
                _ => at(Duration::from_millis(whole(value)?)),
            })
        }
    }
}

/// A number of seconds as HTTP writes it, a fraction tolerated (rounded up to the next
/// millisecond); no sign, exponent or word, and no more digits than a u64 holds (garbled,
/// not a wait).
fn seconds(value: &str) -> Option<Duration> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) {
        return None;
    }
    let secs = whole.parse::<u64>().ok()?;
    // Milliseconds from the first three digits of the fraction, rounded up by the rest.
    let mut millis = 0u64;
    for (i, b) in fraction.bytes().enumerate() {
        let digit = u64::from(b - b'0');
        if i < 3 {
            millis = millis * 10 + digit;
        } else if digit > 0 {
            millis += 1;
            break;
        }
    }
    for _ in fraction.len()..3 {
        millis *= 10;
    }
    Some(Duration::from_secs(secs).saturating_add(Duration::from_millis(millis)))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    const TOO_MANY: StatusCode = StatusCode::TOO_MANY_REQUESTS;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let h = headers(&[("retry-after", "2")]);
        assert_eq!(
            from_headers(Provider::Teez, TOO_MANY, &h, now),
            Some(Duration::from_secs(2))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        let h = headers(&[("retry-after", &date)]);
        assert_eq!(
            from_headers(Provider::Teez, TOO_MANY, &h, now),
            Some(Duration::from_secs(30))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        let h = headers(&[("retry-after", &past)]);
        assert_eq!(
            from_headers(Provider::Teez, TOO_MANY, &h, now),
            Some(Duration::ZERO)
        );
        let h = headers(&[("retry-after", "soon")]);
        assert_eq!(from_headers(Provider::Teez, TOO_MANY, &h, now), None);
    }

    #[test]
    fn rate_limit_reset_follows_each_provider() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let h = headers(&[("x-ratelimit-reset", "119")]);
        assert_eq!(
            from_headers(Provider::Cobee, TOO_MANY, &h, now),
            Some(Duration::from_secs(119))
        );
        let h = headers(&[("X-RateLimit-Reset", "1800000045")]);
        assert_eq!(
            from_headers(Provider::Dinie, TOO_MANY, &h, now),
            Some(Duration::from_secs(45))
        );
        // A reset beyond what a clock can hold is the longest wait, not a panic.
        let h = headers(&[("x-ratelimit-reset", &u64::MAX.to_string())]);
        assert_eq!(
            from_headers(Provider::Dinie, TOO_MANY, &h, now),
            Some(MAX_WAIT)
        );
        // Only a 429 makes the reset a wait.
        assert_eq!(from_headers(Provider::Dinie, StatusCode::OK, &h, now), None);
        // Retry-After wins over the reset.
        let h = headers(&[("retry-after", "3"), ("x-ratelimit-reset", "119")]);
        assert_eq!(
            from_headers(Provider::Cobee, TOO_MANY, &h, now),
            Some(Duration::from_secs(3))
        );
    }

    /// A `Retry-After` given twice, as two fields or merged by a proxy into one list
    /// (`120, 120`: RFC 9110 §5.3), is the longest wait it names; it was no wait at all
    /// (found by review). A date keeps its own comma.
    #[test]
    fn a_retry_after_given_twice_is_the_longest_wait() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let wait = |h: &HeaderMap| from_headers(Provider::Teez, TOO_MANY, h, now);
        let h = headers(&[("retry-after", "120, 120")]);
        assert_eq!(wait(&h), Some(Duration::from_secs(120)));
        let h = headers(&[("retry-after", "5,30")]);
        assert_eq!(wait(&h), Some(Duration::from_secs(30)));
        let mut h = HeaderMap::new();
        h.append("retry-after", HeaderValue::from_static("7"));
        h.append("retry-after", HeaderValue::from_static("soon"));
        h.append("retry-after", HeaderValue::from_static("40"));
        assert_eq!(wait(&h), Some(Duration::from_secs(40)));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        let h = headers(&[("retry-after", &date)]);
        assert_eq!(wait(&h), Some(Duration::from_secs(30)));
        let h = headers(&[("retry-after", &format!("{date}, {date}"))]);
        assert_eq!(wait(&h), Some(Duration::from_secs(30)));
        // A list with something unreadable in it is read for what it holds.
        let h = headers(&[("retry-after", "10, soon")]);
        assert_eq!(wait(&h), Some(Duration::from_secs(10)));
    }

    /// A Unix-time reset with a fraction (`1800000045.5`) is that time, rounded up; it
    /// was no wait (found by review).
    #[test]
    fn a_unix_time_reset_with_a_fraction_is_read() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let h = headers(&[("x-ratelimit-reset", "1800000045.5")]);
        assert_eq!(
            from_headers(Provider::Dinie, TOO_MANY, &h, now),
            Some(Duration::from_millis(45_500))
        );
        let h = headers(&[("x-ratelimit-reset", "1800000045.25")]);
        assert_eq!(
            from_headers(Provider::Standard, TOO_MANY, &h, now),
            Some(Duration::from_millis(45_250))
        );
    }

    /// Found by review: a Dinie reset 45 s after the provider's clock read as 165 s on a
    /// client clock two minutes behind (and as no wait on one two minutes ahead). Times are
    /// measured from the response's `Date`.
    #[test]
    fn a_time_in_a_header_is_measured_on_the_providers_clock() {
        let provider_now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let date = httpdate::fmt_http_date(provider_now);
        let in_45_s = httpdate::fmt_http_date(provider_now + Duration::from_secs(45));
        for skew in [-120i64, 0, 120] {
            let ours =
                UNIX_EPOCH + Duration::from_secs(1_800_000_000u64.saturating_add_signed(skew));
            let h = headers(&[("date", &date), ("x-ratelimit-reset", "1800000045")]);
            assert_eq!(
                from_headers(Provider::Dinie, TOO_MANY, &h, ours),
                Some(Duration::from_secs(45)),
                "skew {skew} s"
            );
            let h = headers(&[("date", &date), ("retry-after", &in_45_s)]);
            assert_eq!(
                from_headers(Provider::Teez, TOO_MANY, &h, ours),
                Some(Duration::from_secs(45)),
                "skew {skew} s"
            );
        }
        // No `Date`, one that does not parse, or one more than a day before the reset
        // (found by review: 1970 gave a day's wait): this machine's clock.
        let ours = provider_now + Duration::from_secs(5);
        for h in [
            headers(&[("x-ratelimit-reset", "1800000045")]),
            headers(&[("date", "yesterday"), ("x-ratelimit-reset", "1800000045")]),
            headers(&[
                ("date", "Thu, 01 Jan 1970 00:00:00 GMT"),
                ("x-ratelimit-reset", "1800000045"),
            ]),
        ] {
            assert_eq!(
                from_headers(Provider::Dinie, TOO_MANY, &h, ours),
                Some(Duration::from_secs(40))
            );
        }
        // A reset not after the `Date` is past on the provider's clock: no wait, whatever
        // ours says (found by review: a second before it, our clock 10 minutes behind,
        // was a 10-minute wait).
        let behind = provider_now - Duration::from_secs(600);
        for h in [
            headers(&[("date", &date), ("x-ratelimit-reset", "1799999999")]),
            headers(&[
                ("date", "Fri, 31 Dec 9999 23:59:59 GMT"),
                ("x-ratelimit-reset", "1800000045"),
            ]),
        ] {
            assert_eq!(
                from_headers(Provider::Dinie, TOO_MANY, &h, behind),
                Some(Duration::ZERO)
            );
        }
    }

    /// Found by review: Alternative Payments documents "5 requests per second per key" and
    /// no `Retry-After`, and a source retried within the same second (after 0.2 and 0.4 s),
    /// to be refused again each time.
    #[test]
    fn a_429_without_a_wait_waits_the_providers_documented_window() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let none = headers(&[]);
        assert_eq!(
            from_headers(Provider::AlternativePayments, TOO_MANY, &none, now),
            Some(Duration::from_secs(1))
        );
        // A header that says nothing readable is as good as none (found by review: an
        // unreadable reset gave no wait at all).
        for (name, value) in [
            ("retry-after", "soon"),
            ("x-ratelimit-reset", "soon"),
            ("x-ratelimit-reset", ""),
            ("x-ratelimit-reset", "-1"),
        ] {
            let h = headers(&[(name, value)]);
            assert_eq!(
                from_headers(Provider::AlternativePayments, TOO_MANY, &h, now),
                Some(Duration::from_secs(1)),
                "{name}: {value:?}"
            );
        }
        // A header still wins; another status is no wait; a provider that documents no
        // window gets none.
        let h = headers(&[("retry-after", "3")]);
        assert_eq!(
            from_headers(Provider::AlternativePayments, TOO_MANY, &h, now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            from_headers(
                Provider::AlternativePayments,
                StatusCode::SERVICE_UNAVAILABLE,
                &none,
                now
            ),
            None
        );
        for provider in [
            Provider::Teez,
            Provider::Cobee,
            Provider::Tradevest,
            Provider::Dinie,
        ] {
            assert_eq!(
                from_headers(provider, TOO_MANY, &none, now),
                None,
                "{provider}"
            );
        }
    }

    /// A fraction is rounded up to the next millisecond only when something is left past
    /// the millisecond: trailing zeros ask for no more (`1.2500` is 1,250 ms, not 1,251).
    #[test]
    fn a_fraction_exact_to_the_millisecond_is_not_rounded_up() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let ms = Duration::from_millis;
        for (value, expected) in [
            ("1.2500", ms(1_250)),
            ("0.1000", ms(100)),
            ("2.0000000", ms(2_000)),
            ("3.0010", ms(3_001)),
            ("3.00100000001", ms(3_002)),
        ] {
            let h = headers(&[("retry-after", value)]);
            assert_eq!(
                from_headers(Provider::Teez, TOO_MANY, &h, now),
                Some(expected),
                "{value}"
            );
        }
    }

    /// Found by review: a fraction was dropped (the 429 retried at once), `+120` was taken,
    /// and a reset in Unix milliseconds read as a wait of 57,000 years. More digits than a
    /// u64 holds are garbled, not a wait (read as a day, they locked a source out for one).
    #[test]
    fn odd_numbers_are_read_as_the_wait_they_ask_for_at_most_a_day() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let wait = |provider, pairs: &[(&'static str, &str)]| {
            from_headers(provider, TOO_MANY, &headers(pairs), now)
        };
        let ms = Duration::from_millis;
        for (value, expected) in [
            ("120.5", Some(ms(120_500))),
            ("0.0001", Some(ms(1))),
            ("1.2345", Some(ms(1_235))),
            ("7.", Some(ms(7_000))),
            ("99999999999999999999", None),
            ("18446744073709551615", Some(MAX_WAIT)),
            ("86401", Some(MAX_WAIT)),
            ("+120", None),
            ("-5", None),
            ("1e3", None),
            ("inf", None),
            ("NaN", None),
            (".5", None),
            ("1.2.3", None),
            ("", None),
        ] {
            assert_eq!(
                wait(Provider::Teez, &[("retry-after", value)]),
                expected,
                "{value}"
            );
        }
        let far = httpdate::fmt_http_date(now + Duration::from_secs(10 * 86_400));
        assert_eq!(
            wait(Provider::Teez, &[("retry-after", &far)]),
            Some(MAX_WAIT)
        );
        // A provider that documents no unit: seconds, a Unix time, or Unix milliseconds.
        for (reset, expected) in [
            ("30", Duration::from_secs(30)),
            ("1800000045", Duration::from_secs(45)),
            ("1800000045000", Duration::from_secs(45)),
            ("1800000000500", ms(500)),
            ("1799999999000", Duration::ZERO),
            ("18446744073709551615", MAX_WAIT),
        ] {
            assert_eq!(
                wait(Provider::Teez, &[("x-ratelimit-reset", reset)]),
                Some(expected),
                "{reset}"
            );
        }
        // Documented units are taken as documented, and bounded the same way.
        assert_eq!(
            wait(Provider::Cobee, &[("x-ratelimit-reset", "1800000045")]),
            Some(MAX_WAIT)
        );
        assert_eq!(
            wait(Provider::Dinie, &[("x-ratelimit-reset", "1800000045000")]),
            Some(MAX_WAIT)
        );
        assert_eq!(wait(Provider::Dinie, &[("x-ratelimit-reset", "+45")]), None);
        assert_eq!(
            wait(
                Provider::Teez,
                &[("x-ratelimit-reset", "99999999999999999999")]
            ),
            None
        );
    }
}
