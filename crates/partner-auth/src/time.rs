//! Where a [`TokenSource`](crate::TokenSource) takes the time from and how it waits, both
//! injectable (the way the AWS SDK's identity cache takes a `TimeSource` and an
//! `AsyncSleep`), so that tests of refresh, expiry, cool-downs and retries run on a clock
//! the test moves instead of racing real timers.
//!
//! By default a source reads [`SystemClock`]'s fast monotonic clock and sleeps with
//! [`TokioTime`]. [`ManualClock`] and [`InstantSleep`] give a test full control: time moves
//! only when the test (or a retry's sleep) moves it, while real I/O runs at its own pace.
//! [`TokioTime`] follows Tokio's paused clock instead; mind that a paused runtime jumps to
//! its next timer whenever it finds nothing ready, even while a request is on the wire.
//!
//! To run a source on a manual clock:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), partner_auth::Error> {
//! use std::time::Duration;
//! use partner_auth::time::{InstantSleep, ManualClock};
//! use partner_auth::{Client, Credentials, Provider, TokenSource};
//!
//! let client = Client::builder(Provider::Dinie)
//!     .base_url("http://127.0.0.1:9/api/v3")
//!     .credentials(Credentials::new("id", "secret"))
//!     .build()?;
//! let clock = ManualClock::new();
//! let source = TokenSource::builder(client)
//!     .time_source(clock.clone())
//!     .sleep(InstantSleep::new(clock.clone()))
//!     .build()?;
//! clock.advance(Duration::from_secs(3600)); // an hour later, as far as `source` can tell
//! # let _ = source;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::sync::lock;

/// A monotonic clock: what a token source measures lifetimes, deadlines and cool-downs on.
pub trait TimeSource: Send + Sync + fmt::Debug + 'static {
    /// Now. Must never go backwards.
    fn now(&self) -> Instant;
}

/// How a token source waits between retries.
pub trait AsyncSleep: Send + Sync + fmt::Debug + 'static {
    /// A future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> Sleep;
}

/// The future an [`AsyncSleep`] returns.
pub struct Sleep(Pin<Box<dyn Future<Output = ()> + Send + 'static>>);

impl Sleep {
    /// Wraps any future as a sleep.
    pub fn new(future: impl Future<Output = ()> + Send + 'static) -> Self {
        Self(Box::pin(future))
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sleep")
    }
}

/// The operating system's monotonic clock (`Instant::now`).
///
/// A source given no time source at all reads the same clock faster: on Linux as
/// `CLOCK_MONOTONIC_COARSE` (the last timer tick: a few nanoseconds instead of tens), with
/// every deadline placed 20 ms early to cover the tick it may lag by, so a token may be
/// refreshed a little early, never served late.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl TimeSource for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// Tokio's clock and timers: follows `tokio::time::pause` and `advance`, so a source built
/// with it runs on a test's paused time. Needs Tokio's `test-util` feature to pause.
///
/// The clock is the one of the runtime it is read on: each paused runtime's stands where
/// its test left it, and outside any runtime it is the system's. A source that reads it
/// from more than one of these sees its time go back and forth, which [`TimeSource::now`]
/// forbids: a token fetched on a clock an hour ahead is handed out an hour too long on
/// the others. Use such a source from one runtime; a source shared by tests (a `static`)
/// keeps the default clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioTime;

impl TimeSource for TokioTime {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

impl AsyncSleep for TokioTime {
    fn sleep(&self, duration: Duration) -> Sleep {
        Sleep::new(tokio::time::sleep(duration))
    }
}

/// A clock that moves only when told to: for tests of code built on a token source.
///
/// Clones share one time. Starts at the real `Instant::now()` and never goes back.
///
/// ```
/// use std::time::Duration;
/// use partner_auth::time::{ManualClock, TimeSource};
///
/// let clock = ManualClock::new();
/// let start = clock.now();
/// clock.advance(Duration::from_secs(3600));
/// assert_eq!(clock.now() - start, Duration::from_secs(3600));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<Instant>>,
}

impl ManualClock {
    /// A clock reading the real time now, then standing still.
    pub fn new() -> Self {
        Self {
            now: Arc::new(Mutex::new(Instant::now())),
        }
    }

    /// Moves the clock (and every clone) forward by `by`. A jump past what an `Instant`
    /// holds (`Duration::MAX`) leaves it where it was; a source measures its time in
    /// nanoseconds since it was built, so keep a test's jumps under a few centuries.
    ///
    /// ```
    /// use std::time::Duration;
    /// use partner_auth::time::{ManualClock, TimeSource};
    ///
    /// let clock = ManualClock::new();
    /// let start = clock.now();
    /// clock.advance(Duration::from_secs(90));
    /// assert_eq!(clock.now() - start, Duration::from_secs(90));
    /// clock.advance(Duration::MAX);
    /// assert_eq!(clock.now() - start, Duration::from_secs(90));
    /// ```
    pub fn advance(&self, by: Duration) {
        let mut now = lock(&self.now);
        *now = now.checked_add(by).unwrap_or(*now);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl TimeSource for ManualClock {
    fn now(&self) -> Instant {
        *lock(&self.now)
    }
}

/// Sleeps that end at once, after moving a [`ManualClock`] forward by their duration, and
/// records each: for tests of retries and back-offs without waiting.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use partner_auth::time::{AsyncSleep, InstantSleep, ManualClock, TimeSource};
///
/// let clock = ManualClock::new();
/// let sleep = InstantSleep::new(clock.clone());
/// let start = clock.now();
/// sleep.sleep(Duration::from_secs(2)).await;
/// assert_eq!(clock.now() - start, Duration::from_secs(2));
/// assert_eq!(sleep.sleeps(), [Duration::from_secs(2)]);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct InstantSleep {
    clock: ManualClock,
    sleeps: Arc<Mutex<Vec<Duration>>>,
}

impl InstantSleep {
    /// Sleeps that move `clock`.
    pub fn new(clock: ManualClock) -> Self {
        Self {
            clock,
            sleeps: Arc::default(),
        }
    }

    /// Every duration slept so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        lock(&self.sleeps).clone()
    }
}

impl AsyncSleep for InstantSleep {
    fn sleep(&self, duration: Duration) -> Sleep {
        self.clock.advance(duration);
        lock(&self.sleeps).push(duration);
        Sleep::new(std::future::ready(()))
    }
}

/// A point on a source's clock, in nanoseconds from an origin of that clock.
pub(crate) type Nanos = u64;

/// The clock a source decides on: the coarse system clock without indirection, or an
/// injected one measured from when the source was built.
#[derive(Clone, Debug)]
pub(crate) enum Clock {
    System,
    Custom {
        time: Arc<dyn TimeSource>,
        origin: Instant,
    },
}

/// How much earlier every deadline is placed on the coarse clock than asked.
const COARSE_SLACK: Duration = Duration::from_millis(20);

impl Clock {
    pub(crate) fn custom(time: Arc<dyn TimeSource>) -> Self {
        let origin = time.now();
        Clock::Custom { time, origin }
    }

    /// Now, on this clock.
    #[inline]
    pub(crate) fn now(&self) -> Nanos {
        match self {
            Clock::System => coarse_now(),
            Clock::Custom { time, origin } => nanos(time.now().saturating_duration_since(*origin)),
        }
    }

    /// `offset` after `at`, moved earlier by this clock's lag: a deadline never late.
    pub(crate) fn deadline(&self, at: Nanos, offset: Duration) -> Nanos {
        let slack = match self {
            Clock::System => COARSE_SLACK,
            Clock::Custom { .. } => Duration::ZERO,
        };
        at.saturating_add(nanos(offset))
            .saturating_sub(nanos(slack))
    }

    /// `wait` from now (no slack: for back-offs, not expiry).
    pub(crate) fn after(&self, wait: Duration) -> Nanos {
        self.now().saturating_add(nanos(wait))
    }
}

/// The coarse monotonic clock where there is one, else the standard monotonic clock.
#[inline]
fn coarse_now() -> Nanos {
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
        nanos(START.get_or_init(Instant::now).elapsed())
    }
}

pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coarse_clock_moves_forward_with_real_time() {
        let clock = Clock::System;
        let start = clock.now();
        std::thread::sleep(Duration::from_millis(30));
        let elapsed = clock.now() - start;
        assert!((15_000_000..1_000_000_000).contains(&elapsed), "{elapsed}");
    }

    #[test]
    fn coarse_deadlines_are_early_by_the_slack_and_custom_ones_exact() {
        let at = 1_000_000_000;
        assert_eq!(
            Clock::System.deadline(at, Duration::from_millis(200)),
            at + 200_000_000 - 20_000_000
        );
        let custom = Clock::custom(Arc::new(SystemClock));
        assert_eq!(
            custom.deadline(at, Duration::from_millis(200)),
            at + 200_000_000
        );
        // Saturates instead of overflowing.
        assert_eq!(custom.deadline(u64::MAX - 1, Duration::MAX), u64::MAX);
        assert_eq!(Clock::System.deadline(0, Duration::ZERO), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_time_follows_the_paused_clock() {
        let clock = Clock::custom(Arc::new(TokioTime));
        let start = clock.now();
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(clock.now() - start, 3_600_000_000_000);
        TokioTime.sleep(Duration::from_secs(60)).await;
        assert_eq!(clock.now() - start, 3_660_000_000_000);
    }
}
