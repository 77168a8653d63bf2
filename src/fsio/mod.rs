//! Files and standard streams, written so that nothing is lost or
//! half-written. Every command that writes goes through here:
//!
//! - [`atomic`]: one file, written under a temporary name in its own
//!   folder, flushed and synced, then renamed over the target; a reader
//!   sees the old file or the new one, never a mix.
//! - [`folder`]: a folder of files (a model) written whole into a temporary
//!   folder and swapped in (`renameat2(RENAME_EXCHANGE)` on Linux; a
//!   two-rename fallback elsewhere).
//! - [`target`]: what `-o PATH` may be (a regular file is replaced; a
//!   device, FIFO or socket is written as a stream; a symlink or one of the
//!   command's own inputs is refused) and what an in-place rewrite replaces
//!   (a symlink's target, the link kept).
//! - [`stdio`]: standard output as a file too: a closed pipe ends the
//!   command quietly with status 0, any other write error is a diagnostic
//!   and status 1; standard error never panics.
//! - [`cleanup`]: every temporary name is registered while it exists, so an
//!   error, Ctrl-C or SIGTERM removes it; stale ones of a killed run are
//!   swept by the next write to their folder.
//! - [`crash`]: the crash-consistency tests' hook (`RASP_CRASH_AT`), a
//!   numbered point at every step that touches an output.
//! - [`read`]: reading a file that may be a FIFO without blocking for ever.

pub mod atomic;
pub mod cleanup;
pub mod crash;
pub mod folder;
pub mod read;
pub mod stdio;
pub mod target;

pub use atomic::{AtomicFile, write_file};
pub use folder::write_folder;
pub use target::{Dest, Inputs};

use std::path::Path;

use crate::diag::Diag;

/// A failed write as a diagnostic: what, where, why, and that the old
/// contents are intact (every write here replaces its target only once
/// the new contents are complete).
pub fn write_error(code: &'static str, path: &Path, e: &std::io::Error) -> Diag {
    let help = if e.raw_os_error() == Some(28) {
        "the disk is full: free some space and run the command again (the old file, if any, is unchanged)"
    } else {
        "check that the folder exists and is writable (the old file, if any, is unchanged)"
    };
    Diag::error(code, format!("cannot write {}: {e}", path.display())).help(help)
}
