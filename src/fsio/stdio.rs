//! Standard output is a file too. Everything the command line prints on
//! standard output goes through [`Stdout`] (or the crate's `out!`/`outln!`
//! macros, `src/fsio/macros.rs`), which never returns an error to its
//! caller:
//!
//! - a closed pipe (`rasp ... | head`) ends the command quietly with status
//!   0: the reader has what it wanted;
//! - any other write error (a full disk, an I/O error) is reported as
//!   `rasp::output::write` on standard error and ends the command with
//!   status 1 — never a truncated output with status 0.
//!
//! Either way the temporary files of writes in progress are removed first
//! ([`super::cleanup::exit`]): an output file being written is left as it
//! was. Commands whose job is writing files ([`keep_working`]: `fmt`,
//! `test`, `compile`, `gen -o`) instead stop printing and finish their
//! work, then [`finish`] gives status 1 with the diagnostic (or their own
//! status, for a closed pipe). Standard error is written with [`err_line`] / `errln!`, which
//! ignore failures (there is nowhere left to report them) instead of
//! panicking as `eprintln!` does. `clippy::print_stdout` and
//! `clippy::print_stderr` are denied in the crate so that nothing bypasses
//! this.

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::diag::{Diag, codes};

/// Standard output, checked: every write succeeds or ends the process as
/// the module documentation says. Unbuffered itself (std's standard output
/// is line-buffered); wrap it in a `BufWriter` for many small writes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if muted() {
            return Ok(buf.len());
        }
        match std::io::stdout().lock().write(buf) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Err(e),
            Err(e) => failed(e).map(|()| buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if muted() {
            return Ok(());
        }
        match std::io::stdout().lock().flush() {
            Ok(()) => Ok(()),
            Err(e) => failed(e),
        }
    }
}

/// Set by commands whose job is writing files (`fmt`, `test`, `compile`,
/// `gen -o`): their standard output only reports, so when it fails they
/// stop printing and finish the job ([`finish`] gives the status).
static KEEP_WORKING: AtomicBool = AtomicBool::new(false);

/// The first failure of standard output, once muted.
static FAILURE: Mutex<Option<std::io::Error>> = Mutex::new(None);

fn muted() -> bool {
    FAILURE.lock().unwrap_or_else(|e| e.into_inner()).is_some()
}

/// This command writes files: a failing standard output must not stop it
/// half-way (say, with 2 of 30 snapshots accepted).
pub fn keep_working() {
    KEEP_WORKING.store(true, Ordering::Relaxed);
}

/// Standard output failed: mute it (a command that keeps working), or end
/// the process: status 0 for a closed pipe, else a diagnostic and 1.
fn failed(e: std::io::Error) -> std::io::Result<()> {
    if KEEP_WORKING.load(Ordering::Relaxed) {
        let mut f = FAILURE.lock().unwrap_or_else(|e| e.into_inner());
        if f.is_none() {
            *f = Some(e);
        }
        return Ok(());
    }
    if e.kind() != std::io::ErrorKind::BrokenPipe {
        report(&e);
        super::cleanup::exit(1);
    }
    super::cleanup::exit(0)
}

fn report(e: &std::io::Error) {
    let d = Diag::error(
        codes::OUTPUT_WRITE,
        format!("cannot write to standard output: {e}"),
    )
    .help("the output is incomplete: redirect it to a file on a disk with space, or to a pipe");
    err_line(d.render_plain().trim_end());
}

/// The exit status of a command that kept working ([`keep_working`]): its
/// own, or 1 (with the diagnostic) when standard output failed other than
/// by a closed pipe.
pub fn finish(status: i32) -> i32 {
    match FAILURE.lock().unwrap_or_else(|e| e.into_inner()).take() {
        Some(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            report(&e);
            status.max(1)
        }
        _ => status,
    }
}

/// Write `text` to standard output (checked).
pub fn out(text: &str) {
    let _ = Stdout.write_all(text.as_bytes());
}

/// Write `text` and a newline to standard error, ignoring failures.
pub fn err_line(text: &str) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(text.as_bytes());
    let _ = e.write_all(b"\n");
}

/// Write `text` to standard error, ignoring failures.
pub fn err(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
