//! Rate limits and injected faults.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

// Tokio's clock, so a test on paused time moves the rate limit's window too.
use tokio::time::Instant;

use crate::tokens::random_fraction;

/// The most keys counted apart; past them (a client sending made-up ids), the ones with no
/// request in the last second are forgotten, and if none is, a new key is counted with
/// requests that have no key.
const MAX_KEYS: usize = 1024;

/// At most `per_second` token requests in any one-second window, for each key (a client
/// id, for a provider that limits each key on its own; `None`, every request together).
pub(crate) struct RateLimiter {
    per_second: u32,
    recent: Mutex<HashMap<Option<String>, VecDeque<Instant>>>,
}

impl RateLimiter {
    pub fn new(per_second: u32) -> Self {
        Self {
            per_second,
            recent: Mutex::new(HashMap::new()),
        }
    }

    pub fn limit(&self) -> u32 {
        self.per_second
    }

    /// Admits a request under `key` now, or says how long until one would be admitted.
    pub fn admit(&self, key: Option<String>) -> Result<(), Duration> {
        let now = Instant::now();
        let expired = |t: &Instant| now.duration_since(*t) >= Duration::from_secs(1);
        let mut keys = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let key = if keys.contains_key(&key) || keys.len() < MAX_KEYS {
            key
        } else {
            keys.retain(|_, recent| !recent.back().is_none_or(expired));
            if keys.len() < MAX_KEYS { key } else { None }
        };
        let recent = keys.entry(key).or_default();
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            recent.pop_front();
        }
        if recent.len() >= self.per_second as usize {
            let oldest = recent.front().copied().unwrap_or(now);
            return Err(Duration::from_secs(1).saturating_sub(now.duration_since(oldest)));
        }
        recent.push_back(now);
        Ok(())
    }
}

/// Faults injected into token requests, as probabilities per request.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Answer with the provider's 5xx.
    pub server_errors: f64,
    /// Answer with the provider's 429 as its rate limit does, with a one-second wait (a
    /// `Retry-After` or reset header only where the provider sends one: Alternative
    /// Payments documents none).
    pub rate_limited: f64,
    /// Hold the request for [`stall_for`](Self::stall_for) before answering.
    pub stalls: f64,
    /// Close the connection without an answer.
    pub resets: f64,
    /// How long a stall lasts.
    pub stall_for: Duration,
    /// Hold this many of the first token requests that get a token (per provider) for
    /// [`stall_for`](Self::stall_for), whatever the probabilities: a fetch held open while
    /// a test does something else (kills the process that sent it, say).
    pub stall_first: u64,
}

/// The fault drawn for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    ServerError,
    RateLimited,
    Stall(Duration),
    Reset,
}

impl Faults {
    /// No faults but this: hold each of the first `requests` token requests that get a token
    /// for `duration`, before it is answered (a fetch held open while a test does something
    /// else).
    pub fn hold_first(requests: u64, duration: Duration) -> Self {
        Faults {
            stall_first: requests,
            stall_for: duration,
            ..Faults::default()
        }
    }

    /// Each probability a number from 0 to 1, and their sum at most 1 (found by review:
    /// NaN or negative values were taken silently, and a sum over 1 starved the last
    /// fault of its share).
    pub(crate) fn check(&self) -> Result<(), String> {
        let named = [
            ("resets", self.resets),
            ("stalls", self.stalls),
            ("rate_limited", self.rate_limited),
            ("server_errors", self.server_errors),
        ];
        for (name, p) in named {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!(
                    "faults: {name} is a probability from 0 to 1, not {p}"
                ));
            }
        }
        let sum: f64 = named.iter().map(|(_, p)| p).sum();
        // A little over 1 is rounding (0.1 + 0.2 + 0.7).
        if sum > 1.0 + 1e-9 {
            return Err(format!(
                "faults: the probabilities add up to {sum}, more than 1 (one fault is drawn \
                 per request)"
            ));
        }
        Ok(())
    }

    pub(crate) fn draw(&self) -> Option<Fault> {
        let r = random_fraction();
        let mut edge = self.resets;
        if r < edge {
            return Some(Fault::Reset);
        }
        edge += self.stalls;
        if r < edge {
            return Some(Fault::Stall(self.stall_for));
        }
        edge += self.rate_limited;
        if r < edge {
            return Some(Fault::RateLimited);
        }
        edge += self.server_errors;
        (r < edge).then_some(Fault::ServerError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_admits_per_second_then_says_how_long_to_wait() {
        let limiter = RateLimiter::new(5);
        for _ in 0..5 {
            limiter.admit(None).unwrap();
        }
        let wait = limiter.admit(None).unwrap_err();
        assert!(wait <= Duration::from_secs(1) && wait > Duration::from_millis(900));
    }

    #[test]
    fn each_key_has_its_own_budget_and_made_up_keys_are_bounded() {
        let limiter = RateLimiter::new(1);
        limiter.admit(Some("a".into())).unwrap();
        limiter.admit(Some("a".into())).unwrap_err();
        limiter.admit(Some("b".into())).unwrap();
        limiter.admit(None).unwrap();
        // Past MAX_KEYS within the second, a new key counts with the requests without one
        // (whose budget is spent), and the map stops growing.
        for i in 0..MAX_KEYS {
            let _ = limiter.admit(Some(format!("made-up-{i}")));
        }
        limiter.admit(Some("one more".into())).unwrap_err();
        let keys = limiter.recent.lock().unwrap().len();
        assert!(keys <= MAX_KEYS + 1, "{keys} keys");
    }

    #[test]
    fn faults_are_drawn_at_their_rates() {
        let faults = Faults {
            server_errors: 0.1,
            rate_limited: 0.05,
            stalls: 0.02,
            resets: 0.01,
            stall_for: Duration::from_secs(1),
            stall_first: 0,
        };
        let draws: Vec<_> = (0..20_000).map(|_| faults.draw()).collect();
        let share = |f: Fault| draws.iter().filter(|d| **d == Some(f)).count() as f64 / 20_000.0;
        assert!((share(Fault::ServerError) - 0.1).abs() < 0.015);
        assert!((share(Fault::RateLimited) - 0.05).abs() < 0.01);
        assert!((share(Fault::Reset) - 0.01).abs() < 0.005);
        assert_eq!(Faults::default().draw(), None);
        // The first-requests hold is no probability: it is applied where a token is given.
        assert_eq!(Faults::hold_first(2, Duration::from_secs(9)).draw(), None);
    }
}
