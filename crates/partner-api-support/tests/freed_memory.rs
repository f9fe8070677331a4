//! Building and dropping `BasicCredentials` leaves no copy of the secret, plain, encoded for
//! the form or in base64, in memory given back to the allocator: every buffer that held it
//! is zeroized first. A global allocator looks at each block freed while the check is on.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use base64::Engine as _;
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
fn no_freed_block_holds_the_secret() {
    // Secrets the form encoding writes in many pieces (each reserved byte is one), so a
    // buffer that grew while they were joined would leave the first pieces behind.
    let secrets = [
        "SECRETMARKplain0123456789".to_owned(),
        "SECRETMARK/ab+cd=ef".to_owned(),
        format!("SECRETMARK{}", "/".repeat(40)),
        format!("SECRETMARK{}", "ü:".repeat(300)),
    ];
    let mut needles = vec![b"SECRETMARK".to_vec()];
    for secret in &secrets {
        let joined: String = form_urlencoded::byte_serialize(b"client-id")
            .chain([":"])
            .chain(form_urlencoded::byte_serialize(secret.as_bytes()))
            .collect();
        let encoded = base64::engine::general_purpose::STANDARD.encode(&joined);
        // The base64 of the secret's part, away from the id's.
        needles.push(encoded.as_bytes()[20..40].to_vec());
    }
    // Set once, before any dealloc reads it.
    unsafe { NEEDLES = needles };
    for secret in &secrets {
        ON.store(true, Ordering::SeqCst);
        let credentials = BasicCredentials::new("client-id", secret.as_str());
        let header = credentials.authorization_header();
        assert!(header.is_sensitive());
        drop((credentials, header));
        ON.store(false, Ordering::SeqCst);
        assert_eq!(
            FOUND.load(Ordering::SeqCst),
            0,
            "a freed block held the secret of {} bytes",
            secret.len()
        );
    }
}
