//! Standard output for a reader that may stop reading: `partner-token fetch --header |
//! head -c 0`, a closed pipe or a full disk ends in a quiet exit or a one-line error,
//! never in the "failed printing to stdout" panic of `println!`.

use std::io::{self, Write as _};

use crate::exit;

/// Writes `text` to standard output and flushes it. When the reader has gone (a closed
/// pipe), the command has nothing left to say to anyone: the process exits at once with
/// success, quietly, as most Unix tools do. Any other write error is shown on standard
/// error and exits with [`exit::OUTPUT`]. (`fetch` reports its own, with `--json` as JSON.)
pub(crate) fn write(text: impl AsRef<[u8]>) {
    match try_write(text) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            crate::stderr::errln!("error: could not write to standard output: {e}");
            std::process::exit(i32::from(exit::OUTPUT));
        }
    }
}

/// Writes `text` to standard output and flushes it, returning any error: for output that
/// is only informational, such as the sandbox's table, which keeps serving without it.
pub(crate) fn try_write(text: impl AsRef<[u8]>) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_ref())?;
    out.flush()
}

/// `println!` through [`write()`].
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::stdout::write(&format!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use outln;
