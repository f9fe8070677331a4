//! Standard error that can never fail a run: a warning, a report or a usage message that
//! cannot be written (stderr on a full disk, a closed pipe: `2>&1 | head -c 0`) is dropped,
//! where `eprintln!` would panic (exit 101) and lose the token or the exit code the run
//! had earned.

use std::io::{self, Write as _};

/// Writes `text` to standard error, ignoring any error.
pub(crate) fn write(text: impl AsRef<[u8]>) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(text.as_ref());
    let _ = err.flush();
}

/// `eprintln!` through [`write()`].
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::stderr::write(format!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use errln;
