//! The crash-consistency tests' hook. Every step that touches an output
//! (creating a temporary file, each chunk written, each sync, rename,
//! exchange and removal) calls [`point`]; the points are numbered from 1
//! in the order a run reaches them.
//!
//! - `RASP_CRASH_AT=N`: at point N the process dies: SIGKILL (no clean-up
//!   of any kind, as a power cut or `kill -9` would leave it), or with
//!   `RASP_CRASH_SIGNAL=int` it raises SIGINT, as a Ctrl-C would, and
//!   waits for the handler ([`super::cleanup`]) to end it. With
//!   `RASP_CRASH_SIGNAL=enospc` the disk is full from point N on: every
//!   step that needs space ([`io_point`]: creating, writing, syncing)
//!   fails with ENOSPC, as on a real full disk.
//! - `RASP_CRASH_LIST=1`: each point is printed on standard error as
//!   `rasp-crash-point N LABEL` (how a test learns how many there are).
//! - `RASP_CRASH_CHUNK=BYTES`: files are written in chunks of this size
//!   (default 64 KiB), each chunk a point, so small test files have many.
//!
//! Without these variables a point costs one relaxed atomic load.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Chunk size of writes when `RASP_CRASH_CHUNK` is not set.
const DEFAULT_CHUNK: usize = 64 * 1024;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Kill,
    Interrupt,
    DiskFull,
}

struct Hook {
    at: Option<u64>,
    mode: Mode,
    list: bool,
    chunk: usize,
}

fn hook() -> &'static Hook {
    static HOOK: OnceLock<Hook> = OnceLock::new();
    HOOK.get_or_init(|| {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Hook {
            at: var("RASP_CRASH_AT").and_then(|v| v.parse().ok()),
            mode: match var("RASP_CRASH_SIGNAL")
                .map(|v| v.to_ascii_lowercase())
                .as_deref()
            {
                Some("int") => Mode::Interrupt,
                Some("enospc") => Mode::DiskFull,
                _ => Mode::Kill,
            },
            list: var("RASP_CRASH_LIST").is_some_and(|v| v != "0"),
            chunk: var("RASP_CRASH_CHUNK")
                .and_then(|v| v.parse().ok())
                .filter(|&c| c > 0)
                .unwrap_or(DEFAULT_CHUNK),
        }
    })
}

static REACHED: AtomicU64 = AtomicU64::new(0);

/// A step that touches an output. `label` says which, for the list.
pub fn point(label: &str) {
    reach(label);
}

/// A step that needs disk space (creating, writing or syncing a file):
/// as [`point`], and under `RASP_CRASH_SIGNAL=enospc` it fails from point
/// N on.
pub fn io_point(label: &str) -> std::io::Result<()> {
    match reach(label) {
        Some(n) if hook().mode == Mode::DiskFull && hook().at.is_some_and(|at| n >= at) => {
            Err(std::io::Error::from_raw_os_error(28))
        }
        _ => Ok(()),
    }
}

/// Count a point, list it, and die there if asked; its number.
fn reach(label: &str) -> Option<u64> {
    let h = hook();
    if h.at.is_none() && !h.list {
        return None;
    }
    let n = REACHED.fetch_add(1, Ordering::SeqCst) + 1;
    if h.list {
        super::stdio::err_line(&format!("rasp-crash-point {n} {label}"));
    }
    if h.at == Some(n) && h.mode != Mode::DiskFull {
        die(h.mode == Mode::Interrupt);
    }
    Some(n)
}

/// How many bytes each write of a file covers (one point each).
pub fn chunk() -> usize {
    hook().chunk
}

#[cfg(unix)]
fn die(interrupt: bool) {
    if interrupt {
        // SAFETY: raising a signal has no memory-safety preconditions.
        unsafe {
            libc::raise(libc::SIGINT);
        }
        // The handler's thread removes the temporary files and exits; this
        // thread must not go on writing meanwhile.
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
    // SAFETY: as above; SIGKILL cannot be caught, so nothing runs after it.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    std::process::abort();
}

#[cfg(not(unix))]
fn die(_interrupt: bool) {
    std::process::abort();
}
