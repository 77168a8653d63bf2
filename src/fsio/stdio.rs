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
//! ([`super::cleanup::undo_all`]): an output file being written is left as
//! it was. Standard error is written with [`err_line`] / `errln!`, which
//! ignore failures (there is nowhere left to report them) instead of
//! panicking as `eprintln!` does. `clippy::print_stdout` and
//! `clippy::print_stderr` are denied in the crate so that nothing bypasses
//! this.

use std::io::Write;

use crate::diag::{Diag, codes};

/// Standard output, checked: every write succeeds or ends the process as
/// the module documentation says. Unbuffered itself (std's standard output
/// is line-buffered); wrap it in a `BufWriter` for many small writes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match std::io::stdout().lock().write(buf) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Err(e),
            Err(e) => failed(&e),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match std::io::stdout().lock().flush() {
            Ok(()) => Ok(()),
            Err(e) => failed(&e),
        }
    }
}

/// Standard output failed: end the process (see the module documentation).
pub fn failed(e: &std::io::Error) -> ! {
    super::cleanup::undo_all();
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    let d = Diag::error(
        codes::OUTPUT_WRITE,
        format!("cannot write to standard output: {e}"),
    )
    .help("the output is incomplete: redirect it to a file on a disk with space, or to a pipe");
    err_line(d.render_plain().trim_end());
    std::process::exit(1);
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
