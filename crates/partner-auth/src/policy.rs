//! [`CachePolicy`] and [`RetryPolicy`]: when a cached token is refreshed, and how a failed
//! token request is retried.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::Error;
use crate::retry_after::MAX_WAIT;

/// The shortest failure cool-down and initial backoff a policy may set.
const MIN_PAUSE: Duration = Duration::from_millis(1);

/// When a [`TokenSource`](crate::TokenSource) refreshes its token and how it treats
/// failures. `Default` gives the documented values.
///
/// Reads from configuration with serde: durations as humantime strings (`"5m"`,
/// `"500ms"`), any field left out keeps its default, an unknown field is an error. A
/// [`TokenSource`](crate::TokenSource) checks it when built ([`validate`](Self::validate)).
///
/// ```
/// let policy: partner_auth::CachePolicy = serde_json::from_str(
///     r#"{"refresh_window": "10m", "failure_cooldown": "5s", "retry": {"max_attempts": 5}}"#,
/// )?;
/// assert_eq!(policy.refresh_window.as_secs(), 600);
/// assert_eq!(policy.retry.max_attempts, 5);
/// assert_eq!(policy.refresh_fraction, 0.2); // left out: the default
/// policy.validate()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CachePolicy {
    /// Longest refresh window before expiry (default 5 minutes).
    #[serde(with = "humantime_serde")]
    pub refresh_window: Duration,
    /// Refresh window as a fraction of the token's lifetime (default 0.2); the window is the
    /// smaller of this and [`refresh_window`](Self::refresh_window). Whatever the window
    /// and its jitter, a token is not refreshed before half of its use (its lifetime less
    /// the [`expiry_margin`](Self::expiry_margin)) has passed, nor one read from a store
    /// before half of its writer's use (on the system clock, up to 20 ms sooner: its
    /// deadlines are placed that much early).
    pub refresh_fraction: f64,
    /// Up to this fraction of the window is added at random, so a fleet of processes does
    /// not refresh in lockstep (default 0.1).
    pub refresh_jitter: f64,
    /// A token is not handed out in its last `expiry_margin` (default 5 s, at most a tenth of
    /// its lifetime), so a request made with it does not arrive after it expired.
    #[serde(with = "humantime_serde")]
    pub expiry_margin: Duration,
    /// After a failed fetch, callers get the same error for this long instead of a new
    /// request (default 2 s, at least 1 ms; a longer `retry_after` wins, up to an hour).
    #[serde(with = "humantime_serde")]
    pub failure_cooldown: Duration,
    /// Retries within one fetch.
    pub retry: RetryPolicy,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self {
            refresh_window: Duration::from_secs(5 * 60),
            refresh_fraction: 0.2,
            refresh_jitter: 0.1,
            expiry_margin: Duration::from_secs(5),
            failure_cooldown: Duration::from_secs(2),
            retry: RetryPolicy::default(),
        }
    }
}

impl CachePolicy {
    /// Sets [`refresh_window`](Self::refresh_window) and
    /// [`refresh_fraction`](Self::refresh_fraction).
    pub fn with_refresh_window(mut self, max: Duration, fraction: f64) -> Self {
        self.refresh_window = max;
        self.refresh_fraction = fraction;
        self
    }

    /// Sets [`refresh_jitter`](Self::refresh_jitter).
    pub fn with_refresh_jitter(mut self, fraction: f64) -> Self {
        self.refresh_jitter = fraction;
        self
    }

    /// Sets [`expiry_margin`](Self::expiry_margin).
    pub fn with_expiry_margin(mut self, margin: Duration) -> Self {
        self.expiry_margin = margin;
        self
    }

    /// Sets [`failure_cooldown`](Self::failure_cooldown).
    pub fn with_failure_cooldown(mut self, cooldown: Duration) -> Self {
        self.failure_cooldown = cooldown;
        self
    }

    /// Sets [`retry`](Self::retry).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Checks the policy: fractions finite and within `0..=1`, at least one attempt, a
    /// failure cool-down and an initial backoff of at least a millisecond (shorter,
    /// failures become back-to-back requests), an initial backoff no longer than the longest, and
    /// the cool-down, the longest backoff, `max_retry_after` and the deadline at most a day.
    /// A [`TokenSource`](crate::TokenSource) or [`TokenCache`](crate::TokenCache) is not
    /// built with a policy that fails this.
    pub fn validate(&self) -> Result<(), Error> {
        let fraction = |name: &str, value: f64| {
            if value.is_finite() && (0.0..=1.0).contains(&value) {
                Ok(())
            } else {
                Err(Error::configuration(format!(
                    "CachePolicy::{name} must be a number from 0 to 1, not {value}"
                )))
            }
        };
        fraction("refresh_fraction", self.refresh_fraction)?;
        fraction("refresh_jitter", self.refresh_jitter)?;
        let retry = &self.retry;
        if retry.max_attempts == 0 {
            return Err(Error::configuration(
                "RetryPolicy::max_attempts must be at least 1 (1 means no retries)",
            ));
        }
        for (name, value) in [
            ("CachePolicy::failure_cooldown", self.failure_cooldown),
            ("RetryPolicy::initial_backoff", retry.initial_backoff),
        ] {
            // At least a millisecond (found by review: `1ns`, a unit typo away from `1s`,
            // was accepted, and a failure was followed by requests back to back).
            if value < MIN_PAUSE {
                return Err(Error::configuration(format!(
                    "{name} must be at least 1ms, not {}: shorter, a failure is followed \
                     by requests back to back",
                    humantime::format_duration(value)
                )));
            }
        }
        for (name, value) in [
            ("CachePolicy::failure_cooldown", self.failure_cooldown),
            ("RetryPolicy::max_backoff", retry.max_backoff),
            ("RetryPolicy::max_retry_after", retry.max_retry_after),
            ("RetryPolicy::deadline", retry.deadline),
        ] {
            if value > MAX_WAIT {
                return Err(Error::configuration(format!(
                    "{name} must be at most a day; it is {}",
                    humantime::format_duration(value)
                )));
            }
        }
        if retry.initial_backoff > retry.max_backoff {
            return Err(Error::configuration(format!(
                "RetryPolicy::initial_backoff ({:?}) is longer than max_backoff ({:?})",
                retry.initial_backoff, retry.max_backoff
            )));
        }
        Ok(())
    }

    /// For a token that lives `lifetime`: the refresh window, before the end of its use,
    /// and the margin kept before its expiry, where its use ends, without the jitter.
    ///
    /// ```
    /// use std::time::Duration;
    /// let policy = partner_auth::CachePolicy::default();
    /// let (window, margin) = policy.window_and_margin(Duration::from_secs(3600));
    /// assert_eq!(window, Duration::from_secs(300)); // the smaller of 5 minutes and 20 %
    /// assert_eq!(margin, policy.expiry_margin);
    /// ```
    ///
    /// Any lifetime and any policy, validated or not, give an answer, never a panic (a
    /// fraction that is NaN or negative counts as 0).
    pub fn window_and_margin(&self, lifetime: Duration) -> (Duration, Duration) {
        let margin = self.expiry_margin.min(lifetime / 10);
        let share = Duration::try_from_secs_f64(lifetime.as_secs_f64() * self.refresh_fraction)
            .unwrap_or(if self.refresh_fraction > 0.0 {
                lifetime
            } else {
                Duration::ZERO
            });
        (self.refresh_window.min(share), margin)
    }

    /// `(refresh from, usable until)` as offsets from issue, for a token usable for
    /// `lifetime`. Expects a [validated](Self::validate) policy.
    pub(crate) fn schedule(&self, lifetime: Duration) -> (Duration, Duration) {
        let (window, margin) = self.window_and_margin(lifetime);
        let usable = lifetime.saturating_sub(margin);
        let jitter = window.mul_f64(self.refresh_jitter * random_fraction());
        // Never before half of its use (found by review: a window as long as the token,
        // `refresh_fraction` 0.95 or 1, made it due on arrival, and every call then
        // refreshed: one token request per call).
        let refresh_from = usable.saturating_sub(window + jitter).max(usable / 2);
        (refresh_from, usable)
    }
}

/// How one fetch retries: only retryable failures (connection, timeout, 408, 429, 5xx),
/// at most [`max_attempts`](Self::max_attempts) in all, with exponential backoff and jitter,
/// waiting at least what the provider's `retry_after` asks, within a deadline.
///
/// Reads from configuration like [`CachePolicy`].
///
/// ```
/// use std::time::Duration;
/// use partner_auth::{CachePolicy, RetryPolicy};
///
/// // Up to 5 attempts, 100 ms doubling to at most 2 s, all within 10 s; wait at most a
/// // minute for a provider's `retry_after`.
/// let retry = RetryPolicy::default()
///     .with_max_attempts(5)
///     .with_backoff(Duration::from_millis(100), Duration::from_secs(2))
///     .with_deadline(Duration::from_secs(10))
///     .with_max_retry_after(Duration::from_secs(60));
/// let policy = CachePolicy::default().with_retry(retry);
/// policy.validate()?;
/// assert_eq!(RetryPolicy::none().max_attempts, 1);
/// # Ok::<(), partner_auth::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included (default 3).
    pub max_attempts: u32,
    /// Backoff before the second attempt (default 200 ms, at least 1 ms); doubles each time.
    #[serde(with = "humantime_serde")]
    pub initial_backoff: Duration,
    /// Longest backoff (default 5 s).
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// Longest `retry_after` honoured by waiting; a longer one ends the fetch with the
    /// error (default 30 s).
    #[serde(with = "humantime_serde")]
    pub max_retry_after: Duration,
    /// No attempt starts later than this after the first (default 30 s).
    #[serde(with = "humantime_serde")]
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
            deadline: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries: one attempt per fetch.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Sets [`max_attempts`](Self::max_attempts) (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Sets [`initial_backoff`](Self::initial_backoff) and
    /// [`max_backoff`](Self::max_backoff).
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// Sets [`max_retry_after`](Self::max_retry_after).
    pub fn with_max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// Sets [`deadline`](Self::deadline).
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The wait before attempt `attempt + 1`, or `None` when the provider asks for more
    /// than [`max_retry_after`](Self::max_retry_after).
    pub(crate) fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let exponent = attempt.saturating_sub(1).min(20);
        let backoff = self
            .initial_backoff
            .saturating_mul(1 << exponent)
            .min(self.max_backoff);
        // "Equal jitter": half fixed, half random, so waits never collapse to zero.
        let jittered = backoff / 2 + (backoff / 2).mul_f64(random_fraction());
        match retry_after {
            Some(asked) if asked > self.max_retry_after => None,
            Some(asked) => Some(asked.max(jittered.min(asked + backoff))),
            None => Some(jittered),
        }
    }
}

/// A random number in `[0, 1)`, from the standard library's randomly keyed hasher.
pub(crate) fn random_fraction() -> f64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_and_margin_answers_for_any_lifetime_and_policy() {
        let long = Duration::MAX;
        let policy = CachePolicy::default().with_refresh_window(Duration::from_secs(300), 1.0);
        assert_eq!(policy.window_and_margin(long).0, policy.refresh_window);
        for fraction in [f64::NAN, -1.0, f64::NEG_INFINITY, f64::INFINITY, 1e300] {
            let policy = CachePolicy {
                refresh_fraction: fraction,
                ..CachePolicy::default()
            };
            for lifetime in [Duration::ZERO, Duration::from_secs(3600), long] {
                let (window, _) = policy.window_and_margin(lifetime);
                assert!(window <= policy.refresh_window, "{fraction} {lifetime:?}");
            }
        }
    }

    #[test]
    fn the_window_is_the_smaller_of_five_minutes_and_a_fifth() {
        let policy = CachePolicy::default().with_refresh_jitter(0.0);
        // One hour: window 5 min, margin 5 s.
        let (refresh, usable) = policy.schedule(Duration::from_secs(3600));
        assert_eq!(usable, Duration::from_secs(3595));
        assert_eq!(refresh, Duration::from_secs(3595 - 300));
        // Ten seconds: window 2 s, margin 1 s.
        let (refresh, usable) = policy.schedule(Duration::from_secs(10));
        assert_eq!(usable, Duration::from_secs(9));
        assert_eq!(refresh, Duration::from_secs(7));
    }

    #[test]
    fn jitter_only_moves_the_refresh_earlier_and_varies() {
        let policy = CachePolicy::default();
        let starts: Vec<Duration> = (0..50)
            .map(|_| policy.schedule(Duration::from_secs(3600)).0)
            .collect();
        for start in &starts {
            assert!(*start <= Duration::from_secs(3295));
            assert!(*start >= Duration::from_secs(3295 - 30));
        }
        assert!(starts.iter().any(|s| *s != starts[0]), "no jitter");
    }

    #[test]
    fn backoff_grows_and_honours_retry_after() {
        let retry = RetryPolicy::default();
        // 200 ms doubling: 3.2 s at the fifth attempt, then the 5 s cap from the sixth on.
        for attempt in (1..=12).chain([63, u32::MAX]) {
            let full = Duration::from_millis(200)
                .saturating_mul(1 << (attempt - 1).min(20))
                .min(Duration::from_secs(5));
            let wait = retry.delay(attempt, None).unwrap();
            assert!(wait >= full / 2 && wait <= full, "{attempt}: {wait:?}");
        }
        let wait = retry.delay(1, Some(Duration::from_secs(2))).unwrap();
        assert!(wait >= Duration::from_secs(2), "{wait:?}");
        assert_eq!(retry.delay(1, Some(Duration::from_secs(120))), None);
    }

    #[test]
    fn validation_refuses_what_would_break_the_schedule() {
        assert!(CachePolicy::default().validate().is_ok());
        let bad = [
            CachePolicy::default().with_refresh_jitter(f64::NAN),
            CachePolicy::default().with_refresh_jitter(f64::INFINITY),
            CachePolicy::default().with_refresh_jitter(-0.1),
            CachePolicy::default().with_refresh_window(Duration::from_secs(1), 1.5),
            CachePolicy::default().with_refresh_window(Duration::from_secs(1), f64::NAN),
            CachePolicy::default().with_retry(RetryPolicy::default().with_max_attempts(0)),
            CachePolicy::default().with_retry(
                RetryPolicy::default().with_backoff(Duration::from_secs(2), Duration::from_secs(1)),
            ),
        ];
        for policy in bad {
            let err = policy.validate().unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Configuration, "{policy:?}");
        }
        // Public fields bypass the setters; validation still catches them.
        let policy = CachePolicy {
            refresh_fraction: f64::NEG_INFINITY,
            ..CachePolicy::default()
        };
        assert!(
            policy
                .validate()
                .unwrap_err()
                .to_string()
                .contains("refresh_fraction")
        );
    }

    #[test]
    fn random_fractions_stay_in_range() {
        for _ in 0..1000 {
            let x = random_fraction();
            assert!((0.0..1.0).contains(&x));
        }
    }
}
