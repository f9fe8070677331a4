//! The clock the token cache decides on: cheap enough for every `token()` call.
//!
//! On Linux it is `CLOCK_MONOTONIC_COARSE` (a vDSO read of the last timer tick, a few
//! nanoseconds instead of the tens a precise clock read costs); elsewhere the standard
//! monotonic clock. A coarse reading lags the true time by up to one tick (at most 10 ms
//! at the slowest kernel tick rate), so every deadline is moved [`SLACK`] earlier: the
//! cache may refresh a little early, never serve a token late.

use std::time::{Duration, Instant};

/// How much earlier every deadline is placed than asked, to cover the coarse clock's lag.
pub(crate) const SLACK: Duration = Duration::from_millis(20);

/// A point on the cache clock, in nanoseconds.
pub(crate) type Nanos = u64;

/// Now, on the cache clock.
pub(crate) fn now() -> Nanos {
    #[cfg(target_os = "linux")]
    {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
        (t.tv_sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(t.tv_nsec as u64)
    }
    #[cfg(not(target_os = "linux"))]
    {
        static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }
}

/// `at` (a precise instant) as a deadline on the cache clock, [`SLACK`] early.
pub(crate) fn deadline(at: Instant) -> Nanos {
    let (precise, coarse) = (Instant::now(), now());
    let on_cache_clock = if at >= precise {
        coarse.saturating_add(nanos(at - precise))
    } else {
        coarse.saturating_sub(nanos(precise - at))
    };
    on_cache_clock.saturating_sub(nanos(SLACK))
}

/// `wait` from now on the cache clock (no slack: used for back-offs, not expiry).
pub(crate) fn after(wait: Duration) -> Nanos {
    now().saturating_add(nanos(wait))
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_clock_moves_forward_with_real_time() {
        let start = now();
        std::thread::sleep(Duration::from_millis(30));
        let elapsed = now() - start;
        assert!((15_000_000..1_000_000_000).contains(&elapsed), "{elapsed}");
    }

    #[test]
    fn deadlines_are_early_by_the_slack_and_never_late() {
        let at = Instant::now() + Duration::from_millis(200);
        let deadline = deadline(at);
        let expected = now() + 200_000_000;
        // Early by the slack, give or take one coarse tick.
        assert!(deadline <= expected - nanos(SLACK) + 10_000_000, "late");
        assert!(
            deadline + 40_000_000 >= expected - nanos(SLACK),
            "too early"
        );
        // A past instant is a past deadline.
        assert!(self::deadline(Instant::now() - Duration::from_secs(1)) < now());
    }
}
