//! From review: `BasicCredentials` built from an owned `String` (one read from a file or
//! built with `format!`, with room to spare) leaves no copy of the secret in memory given
//! back to the allocator either. Turning such a `String` into a `SecretString` shrinks its
//! buffer, which an allocator may do by moving it (jemalloc and mimalloc do across size
//! classes; so does `GlobalAlloc::realloc`'s default, used by this test's allocator).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use partner_api_support::BasicCredentials;

struct Watching;

static ON: AtomicBool = AtomicBool::new(false);
static FOUND: AtomicUsize = AtomicUsize::new(0);
/// What a freed block must not hold (set before the check is on, never freed).
static mut NEEDLES: Vec<Vec<u8>> = Vec::new();

unsafe impl GlobalAlloc for Watching {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ON.load(Ordering::SeqCst) {
            let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            // Read only while the check is on, after the needles were set.
            #[allow(static_mut_refs)]
            let needles = unsafe { &NEEDLES };
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

#[test]
fn a_secret_given_as_a_string_with_room_to_spare_leaves_no_copy_behind() {
    unsafe { NEEDLES = vec![b"SECRETMARK".to_vec()] };
    for build in [BasicCredentials::new, |id: String, secret: String| {
        BasicCredentials::as_is(id, secret).unwrap()
    }] {
        let mut secret = String::with_capacity(256);
        secret.push_str("SECRETMARK-owned-0123456789");
        ON.store(true, Ordering::SeqCst);
        let credentials = build("client-id".to_owned(), secret);
        drop(credentials);
        ON.store(false, Ordering::SeqCst);
        assert_eq!(
            FOUND.load(Ordering::SeqCst),
            0,
            "a freed block held the secret given as a String"
        );
    }
}
