//! The store work a blocking source lets finish before its runtime shuts down (a lease's
//! end, an invalidated token's delete). Tasks spawned on that source's own runtime, or by
//! its calls on the caller's thread, are counted, and only those: what a clone of its
//! async source does on another runtime is neither stopped nor waited for.
//!
//! The tracker is found in a thread-local, set for good on the runtime's own threads and
//! for each poll of a call on the caller's; where that thread-local is already gone (a
//! call from another thread-local's destructor), nothing is counted and nothing panics.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

thread_local! {
    static CURRENT: RefCell<Current> = const {
        RefCell::new(Current {
            tracker: None,
            active: false,
        })
    };
}

/// A thread's tracker: the last one set, which counts only while `active` (kept in between
/// so that the next call of the same source sets no new one: no atomic operation per call).
struct Current {
    tracker: Option<Arc<Tracker>>,
    active: bool,
}

/// Counts the tasks of one blocking source's runtime that do store work.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    running: AtomicUsize,
    idle: tokio::sync::Notify,
}

impl Tracker {
    /// Returns once none of the counted tasks is under way. Unbounded (a store that never
    /// answers keeps its task going): the caller bounds the wait.
    #[cfg(feature = "blocking")]
    pub(crate) async fn settled(&self) {
        loop {
            let idle = self.idle.notified();
            let mut idle = std::pin::pin!(idle);
            idle.as_mut().enable();
            if self.running.load(Ordering::Acquire) == 0 {
                return;
            }
            idle.await;
        }
    }
}

/// Sets `tracker` for the rest of this thread's life (a thread of the runtime it counts).
#[cfg(feature = "blocking")]
pub(crate) fn on_this_thread(tracker: &Arc<Tracker>) {
    let _ = CURRENT.try_with(|current| {
        *current.borrow_mut() = Current {
            tracker: Some(Arc::clone(tracker)),
            active: true,
        }
    });
}

#[cfg(feature = "blocking")]
pin_project_lite::pin_project! {
    /// A call whose polls count what they spawn with its tracker.
    pub(crate) struct Counting<'a, F> {
        #[pin]
        call: F,
        tracker: &'a Arc<Tracker>,
    }
}

/// `call`, with what its polls spawn counted by `tracker`.
#[cfg(feature = "blocking")]
pub(crate) fn counting<F: Future>(tracker: &Arc<Tracker>, call: F) -> Counting<'_, F> {
    Counting { call, tracker }
}

#[cfg(feature = "blocking")]
impl<F: Future> Future for Counting<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let tracker = *this.tracker;
        // The same tracker, idle: switched on and off. Otherwise (another source's, or a
        // poll inside a poll) set, and what was there put back after.
        let previous = CURRENT.try_with(|current| {
            let mut current = current.borrow_mut();
            let same = current
                .tracker
                .as_ref()
                .is_some_and(|t| Arc::ptr_eq(t, tracker));
            if same && !current.active {
                current.active = true;
                None
            } else {
                let ours = Current {
                    tracker: Some(Arc::clone(tracker)),
                    active: true,
                };
                Some(std::mem::replace(&mut *current, ours))
            }
        });
        // Put back when the poll returns or unwinds: a panicking call must not leave this
        // thread counting for its source.
        let _restore = previous.ok().map(Restore);
        this.call.poll(cx)
    }
}

/// What a poll found in `CURRENT`, put back when dropped: `None` for the same tracker,
/// then idle again.
#[cfg(feature = "blocking")]
struct Restore(Option<Current>);

#[cfg(feature = "blocking")]
impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0.take();
        let _ = CURRENT.try_with(|current| {
            let mut current = current.borrow_mut();
            match previous {
                Some(previous) => *current = previous,
                None => current.active = false,
            }
        });
    }
}

/// The tracker counting this thread's spawns, if any.
pub(crate) fn current() -> Option<Arc<Tracker>> {
    CURRENT
        .try_with(|current| {
            let current = current.borrow();
            current.tracker.clone().filter(|_| current.active)
        })
        .ok()
        .flatten()
}

/// Spawns `work` on `runtime`, counted from before the spawn until its future is dropped
/// when this thread has a tracker (see the module's docs).
pub(crate) fn spawn<F>(
    runtime: &tokio::runtime::Handle,
    work: F,
) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let Some(tracker) = current() else {
        return runtime.spawn(work);
    };
    tracker.running.fetch_add(1, Ordering::AcqRel);
    runtime.spawn(Counted {
        work,
        _running: Running(tracker),
    })
}

pin_project_lite::pin_project! {
    /// A counted task's work, dropped before its count (fields drop in order: a lease
    /// guard's release, spawned on a runtime thread as the work is dropped, is counted
    /// before the work stops counting).
    struct Counted<F> {
        #[pin]
        work: F,
        _running: Running,
    }
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().work.poll(cx)
    }
}

struct Running(Arc<Tracker>);

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

#[cfg(all(test, feature = "blocking"))]
mod tests {
    use std::future::Future;
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};

    use super::{Tracker, counting, current};

    fn poll_once<F: Future>(future: F) -> Poll<F::Output> {
        let mut future = std::pin::pin!(future);
        future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn a_call_counts_only_while_it_is_polled_even_when_it_panics() {
        let tracker = Arc::new(Tracker::default());
        let seen = poll_once(counting(&tracker, async { current() }));
        assert!(matches!(seen, Poll::Ready(Some(t)) if Arc::ptr_eq(&t, &tracker)));
        assert!(current().is_none(), "left counting after the call");

        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            poll_once(counting(&tracker, async { panic!("a bug in the call") }))
        }));
        assert!(panicked.is_err());
        assert!(current().is_none(), "left counting after the call panicked");

        // Another source's call inside this one's: each counts its own, and the outer
        // one's tracker is back after.
        let other = Arc::new(Tracker::default());
        let seen = poll_once(counting(&tracker, async {
            let inner = poll_once(counting(&other, async { current() }));
            (inner, current())
        }));
        let Poll::Ready((Poll::Ready(Some(inner)), Some(outer))) = seen else {
            panic!("no tracker seen");
        };
        assert!(Arc::ptr_eq(&inner, &other) && Arc::ptr_eq(&outer, &tracker));
        assert!(current().is_none());
    }
}
