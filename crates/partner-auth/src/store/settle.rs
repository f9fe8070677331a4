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
    static CURRENT: RefCell<Option<Arc<Tracker>>> = const { RefCell::new(None) };
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
    let _ = CURRENT.try_with(|current| *current.borrow_mut() = Some(Arc::clone(tracker)));
}

#[cfg(feature = "blocking")]
pin_project_lite::pin_project! {
    /// A call whose polls (and drop) count what they spawn with its tracker.
    pub(crate) struct Counting<F> {
        #[pin]
        call: F,
        tracker: Option<Arc<Tracker>>,
    }
}

/// `call`, with what its polls spawn counted by `tracker`.
#[cfg(feature = "blocking")]
pub(crate) fn counting<F: Future>(tracker: Arc<Tracker>, call: F) -> Counting<F> {
    Counting {
        call,
        tracker: Some(tracker),
    }
}

#[cfg(feature = "blocking")]
impl<F: Future> Future for Counting<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        // Swapped in and back out, not cloned: no atomic operation per poll.
        let previous = CURRENT.try_with(|current| current.replace(this.tracker.take()));
        let result = this.call.poll(cx);
        if let Ok(previous) = previous {
            *this.tracker = CURRENT.with(|current| current.replace(previous));
        }
        result
    }
}

/// The tracker counting this thread's spawns, if any.
pub(crate) fn current() -> Option<Arc<Tracker>> {
    CURRENT
        .try_with(|current| current.borrow().clone())
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
        work: Box::pin(work),
        _running: Running(tracker),
    })
}

/// A counted task's work, dropped before its count (a lease guard's release, spawned on a
/// runtime thread as the work is dropped, is counted before the work stops counting).
struct Counted<F> {
    work: Pin<Box<F>>,
    _running: Running,
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.work.as_mut().poll(cx)
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
