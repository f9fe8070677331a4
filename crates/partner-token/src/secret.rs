//! Where the client secret comes from: `PARTNER_CLIENT_SECRET`, or standard input (a pipe,
//! or on a terminal a prompt that does not echo). Never a flag.

use std::ffi::OsStr;
use std::io::{BufRead as _, IsTerminal as _, Read as _};
#[cfg(unix)]
use std::sync::atomic::{AtomicBool, Ordering};

use partner_auth::ErrorKind;

use crate::output::Report;

/// Longest secret line read from a pipe.
const MAX_SECRET: u64 = 64 * 1024;

/// Why `--client-secret VALUE` is refused, and what to do instead.
pub const FLAG_REFUSED: &str = "\
error: --client-secret is refused, and its value was not used.
  A secret in a flag is saved in your shell history and shown to every user of this
  machine in the process list (ps, /proc/<pid>/cmdline) while the command runs.
  If that secret is real, consider it exposed: remove it from the history, or rotate it.
  Give it instead, without it appearing on any command line:
    export PARTNER_CLIENT_SECRET=…   (read from a file or a secrets manager)
    partner-token fetch --client-secret-stdin …   (a prompt that does not echo)
    <command that prints it> | partner-token fetch --client-secret-stdin …
";

/// Why a value where none belongs is refused unshown, and how to give a secret instead.
pub const VALUE_REFUSED: &str = "\
error: an unexpected value was given; it is not shown here, as it may be a secret.
  No flag takes the client secret, and --client-secret-stdin takes no value: it reads the
  secret from standard input. If that value is a real secret, consider it exposed (shell
  history, the process list): remove it from the history, or rotate it. Give it instead:
    export PARTNER_CLIENT_SECRET=…   (read from a file or a secrets manager)
    partner-token fetch --client-secret-stdin …   (a prompt that does not echo)
    <command that prints it> | partner-token fetch --client-secret-stdin …
";

/// Whether clap's `error` would repeat a value given where none belongs: a stray word
/// (`fetch --client-secret-stdin hunter2`: the flag takes no value; `partner-token
/// hunter2`: no such command), a value attached to a flag that takes none
/// (`--json=hunter2`), or a word that only starts like a flag (`--hunter2-x9/Q`: secrets
/// may start with `-`). Such a value may well be the secret. A mistyped flag name
/// (`--provdier`, `-x`) is still echoed, and a mistyped command name: clap names it.
///
/// After a bare `--` every word is a value, so none is echoed then.
pub fn would_echo_a_value(error: &clap::Error, after_double_dash: bool) -> bool {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let named = |kind| match error.get(kind) {
        Some(ContextValue::String(arg)) => Some(arg.as_str()),
        _ => None,
    };
    match error.kind() {
        ErrorKind::TooManyValues => true,
        // `man -- WORD`, `completions -- WORD`: an invalid value of a positional (found by
        // review: echoed).
        ErrorKind::UnknownArgument | ErrorKind::InvalidSubcommand | ErrorKind::InvalidValue
            if after_double_dash =>
        {
            true
        }
        ErrorKind::UnknownArgument => {
            !named(ContextKind::InvalidArg).is_some_and(looks_like_a_flag)
        }
        // A value starting with `-` that an option taking such values (`--timeout -1`) took,
        // neither a negative number nor a flag left after an option without its value: a
        // stray value, perhaps the secret (found by review: echoed).
        ErrorKind::ValueValidation => named(ContextKind::InvalidValue).is_some_and(|value| {
            value
                .trim_start()
                .strip_prefix('-')
                .is_some_and(|_| !showable(value))
        }),
        // A command name is lowercase letters and `-`; anything else may be a value.
        ErrorKind::InvalidSubcommand => {
            !named(ContextKind::InvalidSubcommand).is_some_and(|name| {
                name.len() <= 20 && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
            })
        }
        _ => false,
    }
}

/// The refusal of a value an option (or a command's argument) was given and refused, where
/// clap would repeat it, with what the option takes instead: `--timeout s3cret` (a secret
/// pasted a word too early; found by review: echoed, and humantime's message repeated a
/// piece of it). `None` where clap may show it: a value [`showable`] as a typo.
pub fn refused_value(error: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        error.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let Some(ContextValue::String(value)) = error.get(ContextKind::InvalidValue) else {
        return None;
    };
    if showable(value) {
        return None;
    }
    let arg = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => format!(" for '{arg}'"),
        _ => String::new(),
    };
    let expected = match error.get(ContextKind::ValidValue) {
        Some(ContextValue::Strings(values)) => format!("possible values: {}", values.join(", ")),
        // The value parser's own message, which never repeats the value.
        _ => std::error::Error::source(error)
            .map(ToString::to_string)
            .unwrap_or_else(|| "see --help".into()),
    };
    Some(format!(
        "error: invalid value{arg}; it is not shown here, as it may be a secret.\n  {expected}\n"
    ))
}

/// Whether a value an option refused may be shown back: what a typo looks like, not what a
/// secret does. A negative number (`-5s`) or a flag (`--json`, swallowed by an option
/// left without its value); a short lowercase name (a provider, environment or shell:
/// `cobe`); a short number or duration whose letters are all units (`0`, `90 mins`,
/// `70000`); an empty one (an unset shell variable: `--provider "$P"`; found by review:
/// withheld as a secret).
pub fn showable(value: &str) -> bool {
    let value = value.trim();
    if value.is_empty() {
        return true;
    }
    if let Some(rest) = value.strip_prefix('-') {
        return rest.starts_with(|c: char| c.is_ascii_digit() || c == '.') && showable(rest)
            || looks_like_a_flag(value);
    }
    const UNITS: &[&str] = &[
        "ns", "nsec", "nanos", "us", "usec", "micros", "ms", "msec", "millis", "s", "sec", "secs",
        "second", "seconds", "m", "min", "mins", "minute", "minutes", "h", "hr", "hrs", "hour",
        "hours", "d", "day", "days", "w", "week", "weeks", "month", "months", "y", "year", "years",
    ];
    let name = value.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
    let number = value.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b' ')
        && value
            .split(|c: char| !c.is_ascii_alphabetic())
            .filter(|word| !word.is_empty())
            .all(|word| UNITS.contains(&word.to_ascii_lowercase().as_str()));
    !value.is_empty() && value.len() <= 20 && (name || number)
}

/// `--` and a lowercase name of words joined by `-`, short, or `-` and one letter: what a
/// mistyped flag looks like, and not what a secret does.
fn looks_like_a_flag(arg: &str) -> bool {
    match arg.strip_prefix("--") {
        Some(name) => {
            name.len() <= 30
                && name.starts_with(|c: char| c.is_ascii_lowercase())
                && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        }
        None => arg.len() == 2 && arg.starts_with('-') && arg.as_bytes()[1].is_ascii_alphabetic(),
    }
}

/// Whether a command-line argument gives, or tries to give, the secret as a flag
/// (`--client-secret`, `--client-secret=…`, and `--client-secret-stdin=…`, which clap
/// would echo back).
pub fn is_secret_flag(arg: &OsStr) -> bool {
    let arg = arg.to_string_lossy();
    arg.starts_with("--client-secret") && arg != "--client-secret-stdin"
}

/// The secret from standard input when asked, from `PARTNER_CLIENT_SECRET` otherwise.
pub async fn read(from_stdin: bool, provider: &str) -> Result<String, Box<Report>> {
    if !from_stdin {
        // An empty variable counts as unset, as every PARTNER_* variable does.
        return match std::env::var("PARTNER_CLIENT_SECRET") {
            Ok(secret) if !secret.is_empty() => Ok(secret),
            Err(std::env::VarError::NotUnicode(_)) => Err(Box::new(Report::new(
                ErrorKind::Configuration,
                "PARTNER_CLIENT_SECRET is set but is not UTF-8 text",
                "set it to the secret as the provider issued it, or pipe it into \
                 --client-secret-stdin",
            ))),
            _ => Err(Box::new(Report::new(
                ErrorKind::Configuration,
                "no client secret",
                "set PARTNER_CLIENT_SECRET, or pass --client-secret-stdin to pipe it in or type it",
            ))),
        };
    }
    let unreadable = |e: std::io::Error| {
        Box::new(Report::new(
            ErrorKind::Configuration,
            format!("could not read the client secret: {e}"),
            "pipe the secret into --client-secret-stdin, or set PARTNER_CLIENT_SECRET",
        ))
    };
    let secret = if std::io::stdin().is_terminal() {
        prompt_hidden(&format!("client secret for {provider}: "))
            .await
            .map_err(unreadable)?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .take(MAX_SECRET)
            .read_line(&mut line)
            .map_err(unreadable)?;
        // A first line that fills the bound without ending is longer than any secret:
        // refused, rather than sent cut short.
        if line.len() as u64 >= MAX_SECRET && !line.ends_with('\n') {
            return Err(Box::new(Report::new(
                ErrorKind::Configuration,
                format!(
                    "the first line of standard input is over {MAX_SECRET} bytes: not a client secret"
                ),
                "pipe the secret alone, on one line, into --client-secret-stdin",
            )));
        }
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if secret.is_empty() {
        return Err(Box::new(Report::new(
            ErrorKind::Configuration,
            "no client secret: standard input gave an empty line",
            "pipe the secret into --client-secret-stdin, or set PARTNER_CLIENT_SECRET",
        )));
    }
    Ok(secret)
}

/// Asks for a line on the terminal with echo off: turned off before the prompt shows, and
/// back on when done, also on Ctrl-C, Ctrl-\\, SIGTERM or SIGHUP (which then exit with 128
/// and the signal's number, as a shell reports a process the signal ended; and so does
/// one later in the run). Ctrl-Z stops it with echo back on, and a resume turns it off
/// again and shows the prompt again.
#[cfg(unix)]
async fn prompt_hidden(prompt: &str) -> std::io::Result<String> {
    use std::io::Write as _;

    use rustix::termios::{self, LocalModes, OptionalActions};

    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    let saved = termios::tcgetattr(&tty)?;
    let mut hidden = saved.clone();
    hidden.local_modes.remove(LocalModes::ECHO);
    hidden.local_modes.insert(LocalModes::ECHONL);
    // Listen before echo goes off, so it can always be turned back on (found by review:
    // Ctrl-C alone was, and Ctrl-\\ or a SIGTERM left the terminal without echo).
    let mut stops = Stops::listen()?;
    let mut suspend = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(
        rustix::process::Signal::TSTP.as_raw(),
    ))?;
    termios::tcsetattr(&tty, OptionalActions::Now, &hidden)?;
    let restore = |tty: &std::fs::File| {
        let _ = termios::tcsetattr(tty, OptionalActions::Now, &saved);
    };
    let reader = tty.try_clone()?;
    let line = async {
        (&tty).write_all(prompt.as_bytes())?;
        (&tty).flush()?;
        tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufReader::new(reader)
                .take(MAX_SECRET)
                .read_line(&mut line)
                .map(|_| line)
        })
        .await
        .map_err(std::io::Error::other)?
    };
    let mut line = std::pin::pin!(line);
    loop {
        tokio::select! {
            line = &mut line => {
                restore(&tty);
                // Listening took the signals' default actions away for good: give them
                // back, as their exit codes for the rest of the run (found by review:
                // Ctrl-C was ignored until the run's --timeout), and Ctrl-Z as a stop.
                tokio::spawn(async move {
                    loop {
                        tokio::select! {
                            // While a fetch holds the cache's lease, it ends the lease first
                            // and exits itself (`fetch::through`).
                            code = stops.next() => if !ENDING_A_LEASE.load(Ordering::Acquire) {
                                std::process::exit(code)
                            },
                            Some(()) = suspend.recv() => {
                                if stoppable() {
                                    stop_here();
                                }
                            }
                        }
                    }
                });
                return Ok(line?.trim_end_matches(['\r', '\n']).to_owned());
            }
            code = stops.next() => {
                restore(&tty);
                let _ = (&tty).write_all(b"\n");
                // The reading thread is blocked on the terminal: leave without waiting for it.
                std::process::exit(code);
            }
            // Ctrl-Z: stopped with the terminal as it was, for the shell that takes it back
            // (found by review: stopped with echo off, and once resumed, echo was whatever
            // the shell had left); echo off again on resume, the prompt shown again.
            Some(()) = suspend.recv() => {
                if !stoppable() {
                    continue;
                }
                restore(&tty);
                let _ = (&tty).write_all(b"\n");
                stop_here();
                // Resumed (in the background, this waits for the foreground: SIGTTOU).
                let _ = termios::tcsetattr(&tty, OptionalActions::Now, &hidden);
                let _ = (&tty).write_all(prompt.as_bytes());
            }
        }
    }
}

/// Stops this process, as Ctrl-Z's default action would; returns once it is continued.
#[cfg(unix)]
fn stop_here() {
    use rustix::process::{Signal, getpid, kill_process};
    let _ = kill_process(getpid(), Signal::STOP);
}

/// Whether Ctrl-Z stops this process: not where the kernel ignores it, in a process group
/// that no shell could resume (orphaned: run as a session's leader, as in a container's
/// terminal, or by a shell without job control); judged by the parent, the shell that
/// would resume it.
#[cfg(unix)]
fn stoppable() -> bool {
    use rustix::process::{getpgid, getpgrp, getppid, getsid};
    getppid().is_some_and(|parent| {
        getpgid(Some(parent)).is_ok_and(|group| group != getpgrp())
            && getsid(Some(parent)).ok() == getsid(None).ok()
    })
}

/// Set while `fetch` listens for the signals that end a run, to end the cache's lease
/// before it exits: the prompt's listener then leaves them to it.
#[cfg(unix)]
pub(crate) static ENDING_A_LEASE: AtomicBool = AtomicBool::new(false);

/// The signals that end a run at the prompt, each with the exit code a shell reports for
/// a process it ended: Ctrl-C (130), Ctrl-\\ (131), SIGTERM (143), SIGHUP (129).
#[cfg(unix)]
pub(crate) struct Stops {
    interrupt: Option<tokio::signal::unix::Signal>,
    quit: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
    hangup: Option<tokio::signal::unix::Signal>,
}

#[cfg(unix)]
impl Stops {
    /// Listens for those of them that were not ignored when the run started (`nohup`'s
    /// SIGHUP, SIGINT for a script's `&` jobs): listening would make them end a run they
    /// never ended (found by review).
    pub(crate) fn listen() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        let heeded = |kind: SignalKind| -> std::io::Result<Option<tokio::signal::unix::Signal>> {
            if ignored_at_start(kind.as_raw_value()) {
                return Ok(None);
            }
            signal(kind).map(Some)
        };
        Ok(Stops {
            interrupt: heeded(SignalKind::interrupt())?,
            quit: heeded(SignalKind::quit())?,
            terminate: heeded(SignalKind::terminate())?,
            hangup: heeded(SignalKind::hangup())?,
        })
    }

    /// The exit code of the first of them to arrive.
    pub(crate) async fn next(&mut self) -> i32 {
        async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
            match signal {
                Some(signal) => signal.recv().await,
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            Some(()) = recv(&mut self.interrupt) => 130,
            Some(()) = recv(&mut self.quit) => 131,
            Some(()) = recv(&mut self.terminate) => 143,
            Some(()) = recv(&mut self.hangup) => 129,
            else => std::future::pending().await,
        }
    }
}

/// The signals ignored when the run started, as a mask (bit `n - 1` for signal `n`): read
/// by [`note_ignored_signals`] before anything listens for one (listening replaces the
/// disposition). Where it cannot be read (no `/proc`), none.
#[cfg(unix)]
static IGNORED_AT_START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

/// Notes which signals the run was started with ignored; first thing in `main`.
pub(crate) fn note_ignored_signals() {
    #[cfg(unix)]
    IGNORED_AT_START.get_or_init(|| {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find_map(|line| line.strip_prefix("SigIgn:"))
                    .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            })
            .unwrap_or(0)
    });
}

/// Whether signal `number` was ignored when the run started.
#[cfg(unix)]
fn ignored_at_start(number: i32) -> bool {
    let mask = IGNORED_AT_START.get().copied().unwrap_or(0);
    (1..=64).contains(&number) && mask & (1 << (number - 1)) != 0
}

#[cfg(not(unix))]
async fn prompt_hidden(_prompt: &str) -> std::io::Result<String> {
    Err(std::io::Error::other(
        "a prompt without echo is only supported on Unix; pipe the secret in",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_the_secret_flag_is_caught() {
        for arg in [
            "--client-secret",
            "--client-secret=hunter2",
            "--client-secret-stdin=hunter2",
        ] {
            assert!(is_secret_flag(OsStr::new(arg)), "{arg}");
        }
        for arg in ["--client-secret-stdin", "--client-id", "hunter2"] {
            assert!(!is_secret_flag(OsStr::new(arg)), "{arg}");
        }
    }
}
