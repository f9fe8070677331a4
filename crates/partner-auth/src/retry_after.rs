//! How long a provider asked us to wait, from its response headers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::Provider;
use crate::providers::ResetUnit;

/// The wait a response asks for: `Retry-After` (seconds or an HTTP date) on any status;
/// on a 429 also `X-RateLimit-Reset`, which is seconds for Cobee and a Unix time for Dinie
/// (for the others: a Unix time when it is that large, otherwise seconds).
pub(crate) fn from_headers(
    provider: Provider,
    status: StatusCode,
    headers: &HeaderMap,
    now: SystemTime,
) -> Option<Duration> {
    let text = |name: &str| headers.get(name)?.to_str().ok().map(str::trim);
    if let Some(value) = text("retry-after") {
        if let Ok(secs) = value.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(date) = httpdate::parse_http_date(value) {
            return Some(date.duration_since(now).unwrap_or(Duration::ZERO));
        }
    }
    if status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let reset = text("x-ratelimit-reset")?.parse::<u64>().ok()?;
    let is_unix_time = match crate::providers::facts(provider).rate_limit_reset {
        ResetUnit::Seconds => false,
        ResetUnit::UnixTime => true,
        ResetUnit::Guess => reset >= 1_000_000_000,
    };
    if is_unix_time {
        // A reset too far out to represent is no usable answer.
        let at = UNIX_EPOCH.checked_add(Duration::from_secs(reset))?;
        Some(at.duration_since(now).unwrap_or(Duration::ZERO))
    } else {
        Some(Duration::from_secs(reset))
    }
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
        // A reset beyond what a clock can hold is ignored, not a panic.
        let h = headers(&[("x-ratelimit-reset", &u64::MAX.to_string())]);
        assert_eq!(from_headers(Provider::Dinie, TOO_MANY, &h, now), None);
        // Only a 429 makes the reset a wait.
        assert_eq!(from_headers(Provider::Dinie, StatusCode::OK, &h, now), None);
        // Retry-After wins over the reset.
        let h = headers(&[("retry-after", "3"), ("x-ratelimit-reset", "119")]);
        assert_eq!(
            from_headers(Provider::Cobee, TOO_MANY, &h, now),
            Some(Duration::from_secs(3))
        );
    }
}
