//! A global allocator that looks at each block freed while a check is on, for the tests
//! that no freed block holds a secret (`freed_memory.rs`, `freed_memory_owned.rs`: one
//! test per binary, since the allocator is the process's).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

struct Watching;

static ON: AtomicBool = AtomicBool::new(false);
static FOUND: AtomicUsize = AtomicUsize::new(0);
/// What a freed block must not hold (set before the first check, never freed).
static NEEDLES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();

unsafe impl GlobalAlloc for Watching {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ON.load(Ordering::SeqCst)
            && let Some(needles) = NEEDLES.get()
        {
            let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            if needles
                .iter()
                .any(|needle| block.windows(needle.len()).any(|w| w == needle.as_slice()))
            {
                FOUND.fetch_add(1, Ordering::SeqCst);
            }
        }
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Watching = Watching;

/// Sets what a freed block must not hold; once per process.
pub fn watch_for(needles: Vec<Vec<u8>>) {
    NEEDLES.set(needles).expect("needles set once");
}

/// How many blocks freed while `run` ran held a needle.
pub fn freed_holding_needles(run: impl FnOnce()) -> usize {
    let before = FOUND.load(Ordering::SeqCst);
    ON.store(true, Ordering::SeqCst);
    run();
    ON.store(false, Ordering::SeqCst);
    FOUND.load(Ordering::SeqCst) - before
}
