//! Temporary names: registered while they exist, so that an error, a
//! Ctrl-C or a SIGTERM/SIGHUP removes them (and puts back a folder moved
//! aside), and swept when a killed run left them behind.
//!
//! Names: `.NAME.rasp-tmp-PID-SEQ` (a file or folder being written for
//! NAME) and `.NAME.rasp-old-PID-SEQ` (the previous NAME, moved aside by
//! the fallback folder swap). Both live in NAME's own folder, so a rename
//! never crosses file systems.
//!
//! Signals: the process has one handler of SIGINT, SIGTERM and SIGHUP
//! (`signal-hook`, on a thread of its own), installed with the first
//! registration or by the REPL. It removes what is registered (and puts
//! back a folder moved aside) and exits with 128 + the signal (130 for
//! Ctrl-C); in the REPL ([`set_interrupt_flag`]) SIGINT only sets the flag
//! that stops the running entry, and the writes in progress clean up after
//! themselves as they fail.
//!
//! The handler and the writing thread never act at the same time: every
//! step that creates, renames, exchanges or removes a registered name runs
//! in [`exclusive`], and the handler takes that lock for good before it
//! undoes anything, so it sees each name either before the step or after
//! it, never half-way (a temporary created after it emptied the registry,
//! or an exchange during a removal).

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// What to undo for one registration.
#[derive(Clone, Debug)]
enum Undo {
    /// Remove this file or folder.
    Remove(PathBuf),
    /// Move `from` back to `to` (a folder moved aside), unless `to` exists.
    Restore { from: PathBuf, to: PathBuf },
}

/// A registration; dropping it does not undo anything ([`Token::release`]
/// and [`Token::undo`] say which).
#[derive(Debug)]
#[must_use]
pub struct Token(u64);

struct Registry {
    next: u64,
    entries: Vec<(u64, Undo)>,
    swept: HashSet<PathBuf>,
}

fn registry() -> &'static Mutex<Registry> {
    static R: OnceLock<Mutex<Registry>> = OnceLock::new();
    R.get_or_init(|| {
        Mutex::new(Registry {
            next: 0,
            entries: Vec::new(),
            swept: HashSet::new(),
        })
    })
}

fn lock() -> std::sync::MutexGuard<'static, Registry> {
    registry().lock().unwrap_or_else(|e| e.into_inner())
}

/// The REPL's interrupt flag, when the REPL runs.
fn repl_flag() -> &'static Mutex<Option<Arc<AtomicBool>>> {
    static F: OnceLock<Mutex<Option<Arc<AtomicBool>>>> = OnceLock::new();
    F.get_or_init(|| Mutex::new(None))
}

/// The lock of the steps that create, rename, exchange or remove a
/// registered name (see the module documentation).
fn critical() -> &'static Mutex<()> {
    static C: OnceLock<Mutex<()>> = OnceLock::new();
    C.get_or_init(|| Mutex::new(()))
}

/// Run `step` with no signal handling at the same time. `step` must not
/// block on anything but the file system (no crash point, no channel).
pub fn exclusive<T>(step: impl FnOnce() -> T) -> T {
    let _held = critical().lock().unwrap_or_else(|e| e.into_inner());
    step()
}

/// Install the process's signal handler (once; later calls do nothing).
pub fn install_handler() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
            return;
        };
        let _ = std::thread::Builder::new()
            .name("rasp signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    on_signal(signal);
                }
            });
    });
}

/// A signal: the REPL's Ctrl-C sets its flag; anything else undoes what
/// is registered and ends the process.
fn on_signal(signal: i32) {
    if signal == signal_hook::consts::SIGINT {
        let flag = repl_flag()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(f) = flag {
            f.store(true, Ordering::Relaxed);
            return;
        }
    }
    exit(128 + signal);
}

/// Undo everything registered and end the process with `status` (a
/// signal, or standard output failing). The lock of [`exclusive`] is held
/// until the end: no write step starts or is half-done meanwhile.
pub fn exit(status: i32) -> ! {
    std::mem::forget(critical().lock().unwrap_or_else(|e| e.into_inner()));
    undo_all();
    std::process::exit(status);
}

/// In the REPL, Ctrl-C sets `flag` instead of ending the process.
pub fn set_interrupt_flag(flag: Arc<AtomicBool>) {
    *repl_flag().lock().unwrap_or_else(|e| e.into_inner()) = Some(flag);
    install_handler();
}

fn register(undo: Undo) -> Token {
    install_handler();
    let mut r = lock();
    r.next += 1;
    let id = r.next;
    r.entries.push((id, undo));
    Token(id)
}

/// Register a temporary file or folder, before it is created.
pub fn temp(path: &Path) -> Token {
    register(Undo::Remove(path.to_path_buf()))
}

/// Register a folder moved aside from `to` to `from`, before the move.
pub fn moved_aside(from: &Path, to: &Path) -> Token {
    register(Undo::Restore {
        from: from.to_path_buf(),
        to: to.to_path_buf(),
    })
}

impl Token {
    /// The name no longer needs undoing (renamed into place, or removed).
    pub fn release(self) {
        lock().entries.retain(|(id, _)| *id != self.0);
    }

    /// Undo it now (remove the temporary, put the folder back) and forget
    /// it (in [`exclusive`]).
    pub fn undo(self) {
        exclusive(|| {
            let undo = {
                let mut r = lock();
                let i = r.entries.iter().position(|(id, _)| *id == self.0);
                i.map(|i| r.entries.remove(i).1)
            };
            if let Some(u) = undo {
                run(&u);
            }
        });
    }
}

/// Undo everything registered (see [`exit`]). Newest first: a restore
/// waits until the temporaries that might sit in its way are gone.
fn undo_all() {
    let entries = std::mem::take(&mut lock().entries);
    for (_, u) in entries.iter().rev() {
        run(u);
    }
}

fn run(u: &Undo) {
    match u {
        Undo::Remove(p) => remove_any(p),
        Undo::Restore { from, to } => {
            if std::fs::symlink_metadata(to).is_err() {
                let _ = std::fs::rename(from, to);
            } else {
                remove_any(from);
            }
        }
    }
}

/// Remove a file or a folder with what is inside; a missing one is fine.
pub fn remove_any(p: &Path) {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => {
            let _ = std::fs::remove_dir_all(p);
        }
        Ok(_) => {
            let _ = std::fs::remove_file(p);
        }
        Err(_) => {}
    }
}

/// The kind of temporary name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Being written.
    Tmp,
    /// The previous version, moved aside.
    Old,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Kind::Tmp => ".rasp-tmp-",
            Kind::Old => ".rasp-old-",
        }
    }
}

/// The longest part of the target's name kept in a temporary name (file
/// names are limited to 255 bytes).
const NAME_KEEP: usize = 120;

/// A fresh temporary name for `target` (in its folder, `parent`).
pub fn temp_name(parent: &Path, target_name: &std::ffi::OsStr, kind: Kind) -> PathBuf {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let mut name = OsString::from(".");
    name.push(shorten(target_name));
    name.push(format!("{}{}-{seq}", kind.tag(), std::process::id()));
    parent.join(name)
}

#[cfg(unix)]
fn shorten(name: &std::ffi::OsStr) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    let b = name.as_bytes();
    std::ffi::OsStr::from_bytes(&b[..b.len().min(NAME_KEEP)]).to_os_string()
}

#[cfg(not(unix))]
fn shorten(name: &std::ffi::OsStr) -> OsString {
    let s = name.to_string_lossy();
    let cut = crate::diag::floor_boundary(&s, NAME_KEEP);
    OsString::from(&s[..cut])
}

/// What a temporary name says: its kind, the process that made it and the
/// target's name (as far as it was kept).
fn parse_temp(name: &str) -> Option<(Kind, u32, &str)> {
    let rest = name.strip_prefix('.')?;
    // The tag that comes last (a target's own name may contain one).
    let (at, kind) = [Kind::Tmp, Kind::Old]
        .into_iter()
        .filter_map(|k| Some((rest.rfind(k.tag())?, k)))
        .max_by_key(|(at, _)| *at)?;
    let tail = &rest[at + kind.tag().len()..];
    let (pid, seq) = tail.split_once('-')?;
    if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((kind, pid.parse().ok()?, &rest[..at]))
}

/// Whether a process is alive (a pid we cannot signal is taken as alive).
#[cfg(unix)]
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

#[cfg(not(unix))]
fn alive(_pid: u32) -> bool {
    true
}

/// Remove what killed runs left in `dir` (once per folder per process):
/// temporaries of processes that are gone, and folders they moved aside
/// (put back where their target is missing, else removed). Runs in
/// [`exclusive`].
pub fn sweep(dir: &Path) {
    exclusive(|| sweep_now(dir));
}

fn sweep_now(dir: &Path) {
    {
        let mut r = lock();
        if !r.swept.insert(dir.to_path_buf()) {
            return;
        }
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let me = std::process::id();
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((kind, pid, target)) = parse_temp(name) else {
            continue;
        };
        if pid == me || alive(pid) {
            continue;
        }
        let path = e.path();
        match kind {
            Kind::Tmp => remove_any(&path),
            Kind::Old => {
                let to = dir.join(target);
                if std::fs::symlink_metadata(&to).is_ok() {
                    // The new one is in place: the old one is stale.
                    remove_any(&path);
                } else if target.len() < NAME_KEEP {
                    let _ = std::fs::rename(&path, &to);
                }
                // A name cut short cannot be put back: the only copy is
                // left where it is, for a person to rename.
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_parse_back() {
        let p = temp_name(
            Path::new("/x"),
            std::ffi::OsStr::new("out.jsonl"),
            Kind::Tmp,
        );
        let name = p.file_name().unwrap().to_str().unwrap();
        let (kind, pid, target) = parse_temp(name).unwrap();
        assert_eq!(
            (kind, pid, target),
            (Kind::Tmp, std::process::id(), "out.jsonl")
        );
        let p = temp_name(
            Path::new("."),
            std::ffi::OsStr::new("m.rasp-tmp-"),
            Kind::Old,
        );
        let name = p.file_name().unwrap().to_str().unwrap();
        assert_eq!(parse_temp(name).unwrap().2, "m.rasp-tmp-");
        assert_eq!(parse_temp(".x.rasp-tmp-12-"), None);
        assert_eq!(parse_temp("x.rasp-tmp-12-3"), None);
        assert_eq!(parse_temp(".x.rasp-tmp-ab-3"), None);
    }

    #[test]
    fn sweep_removes_dead_runs_leftovers_and_restores_moved_folders() {
        let dir = std::env::temp_dir().join(format!("rasp-sweep-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // A pid that cannot be alive (above the kernel's maximum).
        let dead = 4_194_305 + 7;
        std::fs::write(dir.join(format!(".a.txt.rasp-tmp-{dead}-0")), "x").unwrap();
        std::fs::create_dir(dir.join(format!(".m.rasp-old-{dead}-1"))).unwrap();
        std::fs::write(dir.join(format!(".m.rasp-old-{dead}-1/rasp.json")), "{}").unwrap();
        std::fs::write(
            dir.join(format!(".b.rasp-tmp-{}-0", std::process::id())),
            "",
        )
        .unwrap();
        std::fs::write(dir.join("keep.txt"), "k").unwrap();
        sweep(&dir);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let mine = format!(".b.rasp-tmp-{}-0", std::process::id());
        assert_eq!(names, vec![mine.as_str(), "keep.txt", "m"]);
        assert!(dir.join("m/rasp.json").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
