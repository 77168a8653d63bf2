//! One file, replaced atomically: written under a temporary name in the
//! target's own folder, flushed and synced to the disk, renamed over the
//! target, and the folder synced. A reader (or a crash at any moment) sees
//! the old file or the new one, never a mix; an error or a signal removes
//! the temporary file and leaves the old one as it was. An existing
//! target's permissions are kept.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::cleanup::{self, Kind, Token};
use super::target::{Dest, parent_of};
use super::{crash, write_error};
use crate::diag::Diag;

/// A file being written; [`AtomicFile::commit`] puts it in place, dropping
/// it without committing removes it.
pub struct AtomicFile {
    target: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
    token: Option<Token>,
    code: &'static str,
    synced: bool,
}

impl AtomicFile {
    /// Start writing `target`, a regular file or a free name (see
    /// [`super::target`]). `code` is the diagnostic code of failures.
    pub fn create(target: &Path, code: &'static str) -> Result<AtomicFile, Diag> {
        let parent = parent_of(target);
        let Some(name) = target.file_name() else {
            return Err(Diag::error(
                code,
                format!("cannot write {}: it names no file", target.display()),
            ));
        };
        cleanup::install_handler();
        cleanup::sweep(&parent);
        let tmp = cleanup::temp_name(&parent, name, Kind::Tmp);
        crash::io_point("create temporary file").map_err(|e| write_error(code, target, &e))?;
        // Registered and created in one step, so a signal finds it either
        // not there or registered.
        let (token, file) = cleanup::exclusive(|| {
            let token = cleanup::temp(&tmp);
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp);
            (token, file)
        });
        let file = match file {
            Ok(f) => f,
            Err(e) => {
                token.undo();
                return Err(write_error(code, target, &e));
            }
        };
        keep_owner_and_mode(&file, target);
        Ok(AtomicFile {
            target: target.to_path_buf(),
            tmp,
            file: Some(file),
            token: Some(token),
            code,
            synced: false,
        })
    }

    /// The file it replaces.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// A write error as a diagnostic about the target.
    pub fn error(&self, e: &std::io::Error) -> Diag {
        write_error(self.code, &self.target, e)
    }

    /// Flush the data to the disk (done by [`AtomicFile::commit`] if not
    /// before: a caller that renames several files syncs them all first).
    pub fn sync(&mut self) -> Result<(), Diag> {
        if self.synced {
            return Ok(());
        }
        let file = self
            .file
            .as_mut()
            .expect("an AtomicFile is synced before it is committed");
        let r = crash::io_point("sync file").and_then(|()| file.sync_all());
        r.map_err(|e| self.error(&e))?;
        self.synced = true;
        Ok(())
    }

    /// Sync the data (unless done) and rename it over the target.
    pub fn commit(mut self) -> Result<(), Diag> {
        self.sync()?;
        drop(self.file.take());
        crash::point("rename over target");
        // Renamed and released in one step: a signal finds the temporary
        // registered, or in place and forgotten.
        let token = self.token.take();
        let renamed = cleanup::exclusive(|| match std::fs::rename(&self.tmp, &self.target) {
            Ok(()) => {
                if let Some(t) = token {
                    t.release();
                }
                Ok(())
            }
            Err(e) => Err((token, e)),
        });
        if let Err((token, e)) = renamed {
            // Dropping `self` removes the temporary.
            self.token = token;
            return Err(self.error(&e));
        }
        sync_dir(&parent_of(&self.target));
        Ok(())
    }
}

/// The new file gets the old one's permissions and, where the process may
/// (as root), its owner and group: rewriting a file does not take it away
/// from its owner.
fn keep_owner_and_mode(file: &File, target: &Path) {
    let Ok(m) = std::fs::metadata(target) else {
        return;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let _ = std::os::unix::fs::fchown(file, Some(m.uid()), Some(m.gid()));
    }
    let _ = file.set_permissions(m.permissions());
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("written after commit"))?;
        self.synced = false;
        let n = buf.len().min(crash::chunk());
        crash::io_point("write chunk")?;
        file.write(&buf[..n])
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        drop(self.file.take());
        if let Some(t) = self.token.take() {
            t.undo();
        }
    }
}

/// Rewrite `path` in place with `bytes`: atomically, through a symbolic
/// link to its target (the link kept), creating it when it is missing
/// (`rasp fmt`, `rasp test --accept`).
pub fn rewrite_in_place(path: &Path, bytes: &[u8], code: &'static str) -> Result<(), Diag> {
    let real = in_place_or_new(path, code)?;
    write_file(&Dest::File(real), bytes, code)
}

/// The file an in-place write of `path` replaces: a link's target (see
/// [`super::target::in_place`]), or `path` itself when nothing is there.
pub fn in_place_or_new(path: &Path, code: &'static str) -> Result<std::path::PathBuf, Diag> {
    if std::fs::symlink_metadata(path).is_ok() {
        super::target::in_place(path, code)
    } else {
        Ok(path.to_path_buf())
    }
}

/// Replace `target` with a file that `fill` writes itself at the path it
/// is given (a library that only writes to paths, such as the line
/// editor's history): the same temporary name, registration, sync and
/// rename as [`AtomicFile`]. When `fill` writes nothing (leaves no file),
/// nothing changes.
pub fn write_with(
    target: &Path,
    code: &'static str,
    fill: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<(), Diag> {
    let mut f = AtomicFile::create(target, code)?;
    // The name stays registered; the file is `fill`'s to create.
    drop(f.file.take());
    let _ = std::fs::remove_file(&f.tmp);
    fill(&f.tmp).map_err(|e| f.error(&e))?;
    match File::options().write(true).open(&f.tmp) {
        Ok(file) => {
            f.file = Some(file);
            f.commit()
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(f.error(&e)),
    }
}

/// Put a file and its sidecar (a file that describes it, such as
/// `rasp gen`'s `PATH.info.json`) in place so that a sidecar that is there
/// always describes the file beside it: both synced, the old sidecar
/// removed, the file renamed into place, then the sidecar. Whenever the
/// process stops, the file is old or new and the sidecar matches it or is
/// missing, never another run's.
pub fn commit_with_sidecar(mut file: AtomicFile, mut side: AtomicFile) -> Result<(), Diag> {
    file.sync()?;
    side.sync()?;
    crash::point("remove old sidecar");
    match std::fs::remove_file(side.target()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(side.error(&e)),
    }
    file.commit()?;
    side.commit()
}

/// Sync a folder, so that a rename in it survives a power cut (best
/// effort: not every file system can sync a folder).
pub fn sync_dir(dir: &Path) {
    crash::point("sync folder");
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Write `bytes` to `dest` whole: atomically for a file, as a stream for a
/// device, FIFO or socket.
pub fn write_file(dest: &Dest, bytes: &[u8], code: &'static str) -> Result<(), Diag> {
    match dest {
        Dest::File(path) => {
            let mut f = AtomicFile::create(path, code)?;
            f.write_all(bytes).map_err(|e| f.error(&e))?;
            f.commit()
        }
        Dest::Stream { path, .. } => {
            let mut f = open_stream(path).map_err(|e| write_error(code, path, &e))?;
            f.write_all(bytes)
                .and_then(|()| f.flush())
                .map_err(|e| write_error(code, path, &e))
        }
    }
}

/// Open a device, FIFO or socket for writing, as it is (no truncation, no
/// creation).
pub fn open_stream(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new().write(true).open(path)
}
