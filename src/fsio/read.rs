//! Reading files that may be pipes. A program, an inputs file or
//! `--inputs <(...)` may be a FIFO or a pipe: it is read as a stream to its
//! end, and a named FIFO that no process has open for writing reads as
//! empty instead of blocking for ever (it is opened without waiting for a
//! writer, then read as usual: data from a writer that is still there is
//! waited for).

use std::io::Read;
use std::path::Path;

/// The whole contents of `path`, whatever kind of file it is (a folder is
/// an error).
pub fn read_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "it is a folder",
        ));
    }
    if meta.is_file() {
        return std::fs::read(path);
    }
    // A pipe or device has no size: it is read up to the memory limit
    // (`/dev/zero` would never end).
    use crate::diag::limits::Limit;
    let cap = Limit::Memory.get();
    let f = open_nonblocking(path)?;
    let mut out = Vec::new();
    f.take(cap.saturating_add(1)).read_to_end(&mut out)?;
    if out.len() as u64 > cap {
        return Err(std::io::Error::new(
            std::io::ErrorKind::OutOfMemory,
            Limit::Memory.message(format!("reading {} (not a regular file)", path.display())),
        ));
    }
    Ok(out)
}

/// The diagnostic of a read [`read_bytes`] refused as too long
/// (`rasp::limit::memory`, with how to raise the limit), if it is one.
pub fn too_long(e: &std::io::Error, path: &Path) -> Option<crate::diag::Diag> {
    use crate::diag::limits::Limit;
    (e.kind() == std::io::ErrorKind::OutOfMemory)
        .then(|| Limit::Memory.exceeded(format!("reading {} (not a regular file)", path.display())))
}

/// The contents of `path` as UTF-8 text (see [`read_bytes`]).
pub fn read_text(path: &Path) -> std::io::Result<String> {
    String::from_utf8(read_bytes(path)?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()))
}

/// A folder opened once, whose files are then opened relative to it: a
/// reader of several files (a model's three) gets them all from the same
/// folder even if the folder is swapped meanwhile (`fsio::write_folder`):
/// the old set or the new one, never a mix.
pub struct Folder {
    #[cfg(unix)]
    dir: std::fs::File,
    #[cfg(not(unix))]
    dir: std::path::PathBuf,
}

impl Folder {
    /// Open the folder `path`.
    pub fn open(path: &Path) -> std::io::Result<Folder> {
        #[cfg(unix)]
        {
            let dir = std::fs::File::open(path)?;
            if !dir.metadata()?.is_dir() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotADirectory,
                    "it is not a folder",
                ));
            }
            Ok(Folder { dir })
        }
        #[cfg(not(unix))]
        {
            Ok(Folder {
                dir: path.to_path_buf(),
            })
        }
    }

    /// Open the regular file `name` in the folder (a FIFO, a device or a
    /// folder under that name is an error, without blocking).
    pub fn file(&self, name: &str) -> std::io::Result<std::fs::File> {
        #[cfg(unix)]
        let f = {
            use std::os::unix::io::{AsRawFd, FromRawFd};
            let c = std::ffi::CString::new(name)
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
            // SAFETY: a NUL-terminated name and a descriptor this folder
            // owns; the new descriptor is owned by the File made from it.
            let fd = unsafe {
                libc::openat(
                    self.dir.as_raw_fd(),
                    c.as_ptr(),
                    libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK,
                )
            };
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            unsafe { std::fs::File::from_raw_fd(fd) }
        };
        #[cfg(not(unix))]
        let f = std::fs::File::open(self.dir.join(name))?;
        if !f.metadata()?.is_file() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "it is not a regular file",
            ));
        }
        Ok(f)
    }

    /// The whole contents of the regular file `name` in the folder.
    pub fn read(&self, name: &str) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.file(name)?.read_to_end(&mut out)?;
        Ok(out)
    }
}

/// Open without waiting for a writer, then make reads blocking again: with
/// no writer, a FIFO reads as at its end.
#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let fd = f.as_raw_fd();
    // SAFETY: fcntl on a descriptor this function owns, with integer
    // arguments only.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(f)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_with_no_writer_reads_as_empty() {
        let dir = std::env::temp_dir().join(format!("rasp-fifo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("p");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(read_bytes(&fifo).unwrap(), b"");
        assert!(read_bytes(&dir).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
