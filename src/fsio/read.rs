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
    let mut f = open_nonblocking(path)?;
    let mut out = Vec::new();
    f.read_to_end(&mut out)?;
    Ok(out)
}

/// The contents of `path` as UTF-8 text (see [`read_bytes`]).
pub fn read_text(path: &Path) -> std::io::Result<String> {
    String::from_utf8(read_bytes(path)?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()))
}

/// Whether `path` is a regular file (following links); model files must be.
pub fn is_regular(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
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
