//! What a command may write to.
//!
//! - `-o PATH` ([`output`]): a regular file or a free name is replaced
//!   atomically ([`Dest::File`]); a device node or FIFO is written as a
//!   stream, in place ([`Dest::Stream`]: `-o /dev/null` and named pipes
//!   work, and nothing renames over them); a symbolic link, a folder, a
//!   socket, a read-only file or one of the command's own input files is
//!   refused with a help line.
//! - In place (`rasp fmt`, `rasp test --accept`; [`in_place`]): a symbolic
//!   link is followed to its target, which is replaced; the link stays.

use std::path::{Path, PathBuf};

use crate::diag::{Diag, codes};

/// Where an output goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dest {
    /// A regular file, or a name not taken yet: written under a temporary
    /// name and renamed over it.
    File(PathBuf),
    /// Not a regular file (a device or FIFO): opened and written as a
    /// stream, never renamed over. `what` names the kind.
    Stream { path: PathBuf, what: &'static str },
}

impl Dest {
    /// The path as the user gave it.
    pub fn path(&self) -> &Path {
        match self {
            Dest::File(p) | Dest::Stream { path: p, .. } => p,
        }
    }

    /// Whether it is written as a stream (no rename, no sidecar).
    pub fn is_stream(&self) -> bool {
        matches!(self, Dest::Stream { .. })
    }

    /// The note a command prints when it writes a stream.
    pub fn stream_note(&self, extra: &str) -> Option<String> {
        match self {
            Dest::Stream { path, what } => Some(format!(
                "note: {} is a {what}: written as a stream, in place{extra}",
                path.display()
            )),
            Dest::File(_) => None,
        }
    }
}

/// A file's identity (device and inode on Unix, the canonical path
/// elsewhere), so that two names of one file are recognised.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FileKey(#[cfg(unix)] (u64, u64), #[cfg(not(unix))] PathBuf);

fn key(path: &Path) -> Option<FileKey> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some(FileKey((m.dev(), m.ino())))
    }
    #[cfg(not(unix))]
    {
        Some(FileKey(std::fs::canonicalize(path).ok()?))
    }
}

/// The files a command reads (its program, the files it loads, its inputs
/// files): an output may not replace one of them.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    files: Vec<(FileKey, PathBuf)>,
}

impl Inputs {
    /// No inputs.
    pub fn new() -> Inputs {
        Inputs::default()
    }

    /// Add a file the command reads (names that are not files are skipped).
    pub fn add(&mut self, path: &Path) {
        if let Some(k) = key(path) {
            self.files.push((k, path.to_path_buf()));
        }
    }

    /// An input that lies inside the folder `dir`, if one does.
    pub fn inside(&self, dir: &Path) -> Option<&Path> {
        let dir = std::fs::canonicalize(dir).ok()?;
        self.files
            .iter()
            .map(|(_, p)| p.as_path())
            .find(|p| std::fs::canonicalize(p).is_ok_and(|c| c.starts_with(&dir)))
    }

    /// The input that `path` names, if it names one.
    fn find(&self, path: &Path) -> Option<&Path> {
        let k = key(path)?;
        self.files
            .iter()
            .find(|(f, _)| *f == k)
            .map(|(_, p)| p.as_path())
    }
}

/// A refusal: the target is not something this command replaces.
pub(super) fn refuse(path: &Path, why: &str, help: impl Into<String>) -> Diag {
    Diag::error(
        codes::OUTPUT_TARGET,
        format!("will not write {}: {why}", path.display()),
    )
    .help(help)
}

/// What kind of non-regular file a file type is, if it is one a stream can
/// be written to (a socket cannot be opened as a file).
fn stream_kind(t: &std::fs::FileType) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Some("named pipe");
        }
        if t.is_char_device() || t.is_block_device() {
            return Some("device");
        }
    }
    let _ = t;
    None
}

/// Where `-o PATH` writes (see the module documentation). `what` names the
/// output in messages ("the dataset", "the drawing").
pub fn output(path: &Path, inputs: &Inputs, what: &str) -> Result<Dest, Diag> {
    if path.as_os_str().is_empty() {
        return Err(refuse(path, "the path is empty", "give a file name"));
    }
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = parent_of(path);
            if !parent.is_dir() {
                return Err(Diag::error(
                    codes::OUTPUT_TARGET,
                    format!(
                        "cannot write {}: the folder {} does not exist",
                        path.display(),
                        parent.display()
                    ),
                )
                .help("create the folder first, or give a path in an existing one"));
            }
            return Ok(Dest::File(path.to_path_buf()));
        }
        Err(e) => return Err(super::write_error(codes::OUTPUT_WRITE, path, &e)),
    };
    let t = meta.file_type();
    if t.is_symlink() {
        let to = std::fs::read_link(path)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "?".into());
        return Err(refuse(
            path,
            &format!("it is a symbolic link (to {to})"),
            format!(
                "rasp does not write {what} through a link: give the path it points to, or remove the link"
            ),
        ));
    }
    if t.is_dir() {
        return Err(refuse(
            path,
            "it is a folder",
            format!(
                "give a file name for {what}, e.g. {}",
                path.join("NAME").display()
            ),
        ));
    }
    if let Some(input) = inputs.find(path) {
        return Err(refuse(
            path,
            &format!("it is one of this command's inputs ({})", input.display()),
            format!("writing {what} there would replace the input: give another path"),
        ));
    }
    if let Some(kind) = stream_kind(&t) {
        return Ok(Dest::Stream {
            path: path.to_path_buf(),
            what: kind,
        });
    }
    if !t.is_file() {
        return Err(refuse(
            path,
            "it is a socket, not a file, device or named pipe",
            format!("give a file name for {what}"),
        ));
    }
    if meta.permissions().readonly() {
        return Err(refuse(
            path,
            "it is read-only",
            "make it writable (chmod u+w) if you mean to replace it, or give another path",
        ));
    }
    Ok(Dest::File(path.to_path_buf()))
}

/// The file an in-place rewrite of `path` replaces: `path` itself, or, if
/// it is a symbolic link, the file the link leads to (the link is kept).
pub fn in_place(path: &Path, code: &'static str) -> Result<PathBuf, Diag> {
    let real = std::fs::canonicalize(path)
        .map_err(|e| Diag::error(code, format!("cannot resolve {}: {e}", path.display())))?;
    let meta = std::fs::metadata(&real)
        .map_err(|e| Diag::error(code, format!("cannot read {}: {e}", real.display())))?;
    if !meta.is_file() {
        return Err(refuse(
            path,
            "it is not a regular file",
            "only regular files are rewritten in place",
        ));
    }
    if meta.permissions().readonly() {
        return Err(refuse(
            path,
            "it is read-only",
            "make it writable (chmod u+w) if you mean to rewrite it",
        ));
    }
    Ok(real)
}

/// The folder a path lies in (`.` for a bare name).
pub fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rasp-target-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn regular_files_and_free_names_are_replaced() {
        let d = scratch("files");
        std::fs::write(d.join("a"), "x").unwrap();
        let none = Inputs::new();
        assert_eq!(
            output(&d.join("a"), &none, "it").unwrap(),
            Dest::File(d.join("a"))
        );
        assert_eq!(
            output(&d.join("b"), &none, "it").unwrap(),
            Dest::File(d.join("b"))
        );
        let e = output(&d.join("no/b"), &none, "it").unwrap_err();
        assert_eq!(e.code, codes::OUTPUT_TARGET);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn links_folders_and_inputs_are_refused_devices_are_streams() {
        let d = scratch("refuse");
        std::fs::write(d.join("prog.rasp"), "x = tokens;").unwrap();
        std::os::unix::fs::symlink(d.join("prog.rasp"), d.join("link")).unwrap();
        let mut inputs = Inputs::new();
        inputs.add(&d.join("prog.rasp"));
        for p in [d.join("link"), d.clone(), d.join("prog.rasp")] {
            let e = output(&p, &inputs, "it").unwrap_err();
            assert_eq!(e.code, codes::OUTPUT_TARGET, "{}", p.display());
            assert!(e.help.is_some());
        }
        // A hard link is the same file.
        std::fs::hard_link(d.join("prog.rasp"), d.join("hard")).unwrap();
        assert!(output(&d.join("hard"), &inputs, "it").is_err());
        let null = output(Path::new("/dev/null"), &inputs, "it").unwrap();
        assert!(null.is_stream());
        // In place: the link's target.
        assert_eq!(
            in_place(&d.join("link"), codes::OUTPUT_WRITE).unwrap(),
            std::fs::canonicalize(d.join("prog.rasp")).unwrap()
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
