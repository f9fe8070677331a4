//! The store work a blocking source lets finish before its runtime shuts down (a lease's
//! end, an invalidated token's delete): the tasks spawned under that source's own calls
//! are counted, and only those, so that what a clone of its async source does on another
//! runtime is neither stopped nor waited for.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

tokio::task_local! {
    static TRACKER: Arc<Tracker>;
}

/// Counts the tasks spawned, directly or not, under one blocking source's calls.
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

/// Runs `work` with the tasks it spawns through [`spawn`] counted by `tracker`.
#[cfg(feature = "blocking")]
pub(crate) fn counting<F: Future>(
    tracker: Arc<Tracker>,
    work: F,
) -> impl Future<Output = F::Output> {
    TRACKER.scope(tracker, work)
}

/// The tracker counting the tasks of the call under way, if any.
pub(crate) fn current() -> Option<Arc<Tracker>> {
    TRACKER.try_with(Arc::clone).ok()
}

/// Spawns `work` on `runtime`: counted, and what it spawns in turn, when spawned under a
/// tracker, from before the spawn until its future is dropped.
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
    let counted = Counted {
        work: Box::pin(work),
        _running: Running(Arc::clone(&tracker)),
    };
    // In the scope even while dropped (Tokio drops a scoped future inside its scope): a
    // lease guard dropped with the work spawns its release counted.
    runtime.spawn(TRACKER.scope(tracker, counted))
}

/// A counted task's work, dropped before its count (a lease guard's release is counted
/// before the flight that holds it stops counting).
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
