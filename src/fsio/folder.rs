//! A folder of files written whole and swapped in: a reader of the folder
//! sees the old set of files or the new one, never a mix.
//!
//! The files are written (each synced) into a temporary folder beside the
//! target, the temporary folder is synced, then:
//! - the target does not exist: the temporary folder is renamed to it;
//! - it exists, on Linux: `renameat2(RENAME_EXCHANGE)` swaps the two in
//!   one step, and the old contents, now under the temporary name, are
//!   removed;
//! - it exists and the exchange is not available (another OS, a kernel
//!   before 3.15, a file system without it — EINVAL/ENOSYS — or
//!   `RASP_NO_EXCHANGE=1`, the tests' switch): the target is renamed aside
//!   (`.NAME.rasp-old-PID-SEQ`), the new folder renamed in, the old one
//!   removed. Between the two renames a reader finds no folder at all (an
//!   error, never a mixed model); if the process dies there, the next write
//!   beside it, or a Ctrl-C handler, puts the old folder back.
//!
//! Only a folder that holds nothing but the files a command writes is
//! replaced (`owned`); anything else in it makes the write a refusal, so
//! `-o` can never delete a user's other files.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::atomic::sync_dir;
use super::cleanup::{self, Kind};
use super::target::{Inputs, refuse};
use super::{crash, write_error};
use crate::diag::{Diag, codes};

/// Write `files` (name, contents) as the folder `dir`, replacing it whole.
/// `owned` lists the names the folder may already hold (the files this
/// kind of folder has); `what` names the folder in messages ("the model").
pub fn write_folder(
    dir: &Path,
    files: &[(&str, &[u8])],
    owned: &[&str],
    code: &'static str,
    what: &str,
) -> Result<(), Diag> {
    let (parent, name) = split(dir, code)?;
    std::fs::create_dir_all(&parent).map_err(|e| {
        Diag::error(
            code,
            format!("cannot create the folder {}: {e}", parent.display()),
        )
        .help("check that the path is writable and is not a file")
    })?;
    // First put back a folder a killed run moved aside, then look.
    cleanup::install_handler();
    cleanup::sweep(&parent);
    let target = parent.join(&name);
    let existed = check_target(&target, owned, what)?;

    let tmp = cleanup::temp_name(&parent, &name, Kind::Tmp);
    crash::io_point("create temporary folder").map_err(|e| write_error(code, &tmp, &e))?;
    let (token, created) = cleanup::exclusive(|| {
        let token = cleanup::temp(&tmp);
        let created = std::fs::create_dir(&tmp);
        (token, created)
    });
    let written = created
        .map_err(|e| write_error(code, &tmp, &e))
        .and_then(|()| write_all(&tmp, files, code));
    if let Err(d) = written {
        token.undo();
        return Err(d);
    }
    let swapped = if existed {
        keep_owner_and_mode(&tmp, &target);
        swap(&tmp, &target, &parent, &name, code)
    } else {
        crash::point("rename folder into place");
        cleanup::exclusive(|| std::fs::rename(&tmp, &target))
            .map_err(|e| write_error(code, dir, &e))
    };
    if let Err(d) = swapped {
        token.undo();
        return Err(d);
    }
    // After a swap the temporary name holds the old contents.
    crash::point("remove old folder");
    cleanup::exclusive(|| {
        cleanup::remove_any(&tmp);
        token.release();
    });
    sync_dir(&parent);
    Ok(())
}

/// Check, before any work, that `dir` may be written as a folder of
/// `owned` files (see [`check_target`]) and holds none of the command's
/// `inputs` (which the swap would delete).
pub fn check_folder(dir: &Path, owned: &[&str], what: &str, inputs: &Inputs) -> Result<(), Diag> {
    let (parent, name) = split(dir, codes::OUTPUT_TARGET)?;
    let target = parent.join(name);
    if check_target(&target, owned, what)?
        && let Some(input) = inputs.inside(&target)
    {
        return Err(refuse(
            dir,
            &format!(
                "the folder holds one of this command's inputs ({})",
                input.display()
            ),
            format!("writing {what} there would delete it: give another folder"),
        ));
    }
    Ok(())
}

/// Whether the target (a name in its parent, links not followed) exists as
/// a folder holding only `owned` files, or a refusal: a link, a file, a
/// read-only folder, a folder holding anything else.
fn check_target(target: &Path, owned: &[&str], what: &str) -> Result<bool, Diag> {
    let meta = match std::fs::symlink_metadata(target) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(write_error(codes::OUTPUT_WRITE, target, &e)),
    };
    if meta.file_type().is_symlink() {
        return Err(refuse(
            target,
            "it is a symbolic link",
            format!("give the folder the link points to, or a new folder name for {what}"),
        ));
    }
    if !meta.is_dir() {
        return Err(refuse(
            target,
            "it is not a folder",
            format!("give a new folder name for {what}"),
        ));
    }
    if meta.permissions().readonly() {
        return Err(refuse(
            target,
            "the folder is read-only",
            format!("make it writable (chmod u+w) if {what} should replace what it holds"),
        ));
    }
    let entries =
        std::fs::read_dir(target).map_err(|e| write_error(codes::OUTPUT_WRITE, target, &e))?;
    let mut others = Vec::new();
    for e in entries {
        let e = e.map_err(|e| write_error(codes::OUTPUT_WRITE, target, &e))?;
        let name = e.file_name();
        let is_file = e.file_type().is_ok_and(|t| t.is_file());
        match name.to_str() {
            Some(n) if is_file && owned.contains(&n) => {}
            _ => others.push(name.to_string_lossy().into_owned()),
        }
    }
    if !others.is_empty() {
        others.sort();
        let shown: Vec<String> = others.iter().take(5).map(|n| format!("`{n}`")).collect();
        let more = if others.len() > 5 {
            format!(" and {} more", others.len() - 5)
        } else {
            String::new()
        };
        return Err(refuse(
            target,
            &format!("the folder holds other files ({}{more})", shown.join(", ")),
            format!(
                "{what} is written only to a new folder, an empty one, or one that holds nothing but {}: give another folder",
                owned.join(", ")
            ),
        ));
    }
    Ok(true)
}

/// The new folder gets the old one's permissions and, where the process
/// may (as root), its owner and group.
fn keep_owner_and_mode(new: &Path, old: &Path) {
    let Ok(m) = std::fs::metadata(old) else {
        return;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let _ = std::os::unix::fs::chown(new, Some(m.uid()), Some(m.gid()));
    }
    let _ = std::fs::set_permissions(new, m.permissions());
}

/// The folder a path lies in (made absolute, so that `.` and `..` work)
/// and its own name: `lnk/` and `lnk/.` name the link `lnk` itself, which
/// [`check_target`] then refuses.
fn split(dir: &Path, code: &'static str) -> Result<(PathBuf, std::ffi::OsString), Diag> {
    let abs = std::path::absolute(dir)
        .map_err(|e| Diag::error(code, format!("cannot resolve {}: {e}", dir.display())))?;
    // `a/b/..` and `.` name a folder through its parent: resolve them.
    let abs = if abs.components().any(|c| {
        matches!(
            c,
            std::path::Component::ParentDir | std::path::Component::CurDir
        )
    }) || abs.file_name().is_none()
    {
        std::fs::canonicalize(&abs).unwrap_or(abs)
    } else {
        abs
    };
    match (abs.parent(), abs.file_name()) {
        (Some(p), Some(n)) => Ok((p.to_path_buf(), n.to_os_string())),
        _ => Err(
            Diag::error(code, format!("cannot write a folder at {}", dir.display()))
                .help("give a folder below the root"),
        ),
    }
}

/// Write every file into the new folder `tmp`, each synced, then the
/// folder.
fn write_all(tmp: &Path, files: &[(&str, &[u8])], code: &'static str) -> Result<(), Diag> {
    for (name, bytes) in files {
        let path = tmp.join(name);
        let fail = |e: std::io::Error| write_error(code, &path, &e);
        let mut f = crash::io_point("create file")
            .and_then(|()| std::fs::File::create(&path))
            .map_err(fail)?;
        for chunk in bytes.chunks(crash::chunk()) {
            crash::io_point("write chunk")
                .and_then(|()| f.write_all(chunk))
                .map_err(fail)?;
        }
        crash::io_point("sync file")
            .and_then(|()| f.sync_all())
            .map_err(fail)?;
    }
    sync_dir(tmp);
    Ok(())
}

/// Swap the new folder `tmp` with the existing `target`; afterwards `tmp`
/// names the old contents. Each step runs in [`cleanup::exclusive`] with
/// the registration that undoes it.
fn swap(
    tmp: &Path,
    target: &Path,
    parent: &Path,
    name: &std::ffi::OsStr,
    code: &'static str,
) -> Result<(), Diag> {
    crash::point("exchange folders");
    match cleanup::exclusive(|| exchange(tmp, target)) {
        Ok(()) => return Ok(()),
        Err(e) if exchange_unsupported(&e) => {}
        Err(e) => return Err(write_error(code, target, &e)),
    }
    // The fallback: move the old folder aside, the new one in, and put
    // the old one where `tmp` was so the caller removes it.
    let aside = cleanup::temp_name(parent, name, Kind::Old);
    crash::point("move old folder aside");
    let (restore, moved) = cleanup::exclusive(|| {
        let restore = cleanup::moved_aside(&aside, target);
        let moved = std::fs::rename(target, &aside);
        (restore, moved)
    });
    if let Err(e) = moved {
        restore.release();
        return Err(write_error(code, target, &e));
    }
    crash::point("rename folder into place");
    if let Err(e) = cleanup::exclusive(|| std::fs::rename(tmp, target)) {
        restore.undo();
        return Err(write_error(code, target, &e));
    }
    crash::point("rename old folder");
    cleanup::exclusive(|| {
        if std::fs::rename(&aside, tmp).is_err() {
            cleanup::remove_any(&aside);
        }
        restore.release();
    });
    Ok(())
}

/// Whether an exchange failed only because this system cannot do it.
fn exchange_unsupported(e: &std::io::Error) -> bool {
    #[cfg(target_os = "linux")]
    {
        matches!(
            e.raw_os_error(),
            Some(libc::EINVAL | libc::ENOSYS | libc::ENOTSUP)
        ) || e.kind() == std::io::ErrorKind::Unsupported
    }
    #[cfg(not(target_os = "linux"))]
    {
        e.kind() == std::io::ErrorKind::Unsupported
    }
}

/// Swap two paths in one step (Linux `renameat2(RENAME_EXCHANGE)`).
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    if std::env::var_os("RASP_NO_EXCHANGE").is_some_and(|v| !v.is_empty() && v != "0") {
        return Err(std::io::ErrorKind::Unsupported.into());
    }
    let c = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
    };
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: both paths are NUL-terminated strings that outlive the call;
    // the raw system call is used so that an old C library without the
    // renameat2 wrapper still works (the kernel answers ENOSYS if too old).
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}
