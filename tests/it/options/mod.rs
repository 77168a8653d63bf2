//! Options that would hand out a wrong answer with exit 0 (issue 16):
//! samplers that cannot write the requested lengths or vocabulary,
//! vocabularies that list a token twice, settings given twice, integers
//! beyond 64 bits in JSON inputs, JSON output of NaN and the infinities,
//! negative numbers on the command line. Each is a diagnostic with a code
//! and a help line, or (for non-finite numbers) valid JSON, everywhere.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// `rasp ARGS` in the project root, with `stdin` as standard input and
/// these environment variables.
pub(super) fn rasp_with(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rasp"));
    c.args(args)
        .arg("--color=never")
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().expect("rasp runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("rasp finishes")
}

pub(super) fn rasp(args: &[&str]) -> Output {
    rasp_with(args, "", &[])
}

pub(super) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(super) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub(super) fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rasp-options-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The command failed with `status`, printed `code` and a help line, and
/// nothing on standard output.
pub(super) fn refused(args: &[&str], o: &Output, status: i32, code: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(status), "{args:?}: {err}");
    assert!(err.contains(code), "{args:?}: {err}");
    assert!(err.contains("help:"), "{args:?} has no help line: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert_eq!(stdout(o), "", "{args:?} wrote to stdout");
}

mod non_finite;
mod numbers;
mod samplers;
mod settings;
