//! Writes: what each command does with where it writes (`src/fsio/`).
//! Standard output is a file too (closed pipes end quietly with status 0,
//! a full disk is `rasp::output::write` and status 1, never a panic);
//! devices and FIFOs are written as streams, never renamed over; links,
//! folders and the command's own inputs are refused; in-place rewrites
//! keep links; pipes and FIFOs as inputs never block. Interrupted writes
//! are `crash.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const REVERSE: &str =
    "rev = aggregate(select(indices, length - indices - 1, ==), tokens);\nn = length;\n";

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rasp-writes-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch folder");
    std::fs::write(d.join("p.rasp"), REVERSE).expect("program");
    d
}

fn cmd(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rasp"));
    c.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .stdin(Stdio::null());
    c
}

/// Run to the end, but fail the test (instead of hanging) after 60 s. The
/// output is read as it comes (a full pipe would block the child).
fn finish(mut c: Command) -> Output {
    let child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rasp starts");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(o) => o.expect("output"),
        Err(_) => {
            // SAFETY: signalling our own child, which has not been waited for.
            #[cfg(unix)]
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
            panic!("rasp blocked: {c:?}");
        }
    }
}

fn run(dir: &Path, args: &[&str]) -> Output {
    finish(cmd(dir, args))
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Commands that print on standard output, in a folder with a model.
fn printers(dir: &Path) -> Vec<Vec<&'static str>> {
    let o = run(
        dir,
        &[
            "compile",
            "p.rasp",
            "rev",
            "--vocab",
            "abc",
            "--max-len",
            "4",
            "-o",
            "m",
        ],
    );
    assert!(o.status.success(), "{}", err(&o));
    std::fs::write(dir.join("t.rasp"), format!("# test: \"abc\"\n{REVERSE}")).expect("test");
    let o = run(dir, &["test", "--accept", "t.rasp"]);
    assert!(o.status.success(), "{}", err(&o));
    vec![
        vec!["explain-error"],
        vec!["explain-error", "rasp::name::undefined"],
        vec!["gen", "--list"],
        vec!["gen", "--task", "sort", "-n", "20000"],
        vec!["completions", "bash"],
        vec!["man"],
        vec!["test", "--json", "t.rasp"],
        vec!["test", "t.rasp"],
        vec!["eval", "p.rasp", "rev", "--json", "\"abc\"", "\"abcabc\""],
        vec!["run", "p.rasp", "\"abc\""],
        vec!["exec", "m", "--json", "\"abc\""],
        vec!["check", "p.rasp"],
        vec![
            "explain",
            "p.rasp",
            "rev",
            "--vocab",
            "abc",
            "--max-len",
            "4",
        ],
        vec!["--help"],
    ]
}

#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let dir = scratch("pipe");
    for args in printers(&dir) {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let mut c = cmd(&dir, &args);
        c.stdout(writer).stderr(Stdio::piped());
        let o = c.output().expect("rasp runs");
        let e = err(&o);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {e}");
        assert!(
            !e.contains("panicked") && !e.contains("Broken pipe"),
            "{args:?}: {e}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_on_standard_output_is_an_error() {
    let dir = scratch("full");
    for args in printers(&dir) {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let mut c = cmd(&dir, &args);
        c.stdout(full).stderr(Stdio::piped());
        let o = c.output().expect("rasp runs");
        let e = err(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {e}");
        assert!(
            e.contains("rasp::output::write") && e.contains("No space left"),
            "{args:?}: {e}"
        );
        assert!(!e.contains("panicked"), "{args:?}: {e}");
    }
    // Standard error on a full disk: the diagnostic is lost, the status
    // is not, and nothing panics.
    std::fs::write(dir.join("bad.rasp"), "x = ;\n").expect("bad program");
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("full");
    let mut c = cmd(&dir, &["check", "bad.rasp"]);
    c.stdout(Stdio::null()).stderr(full);
    assert_eq!(c.status().expect("runs").code(), Some(1));
    std::fs::remove_dir_all(&dir).ok();
}

#[cfg(unix)]
fn mkfifo(p: &Path) {
    let o = Command::new("mkfifo").arg(p).output().expect("mkfifo runs");
    assert!(o.status.success(), "mkfifo: {o:?}");
}

#[cfg(unix)]
#[test]
fn devices_and_named_pipes_are_written_as_streams() {
    use std::os::unix::fs::FileTypeExt;
    let dir = scratch("streams");
    let before: Vec<_> = std::fs::read_dir("/dev")
        .expect("/dev")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let o = run(
        &dir,
        &[
            "gen",
            "p.rasp",
            "rev",
            "--vocab",
            "abc",
            "-n",
            "100",
            "-o",
            "/dev/null",
        ],
    );
    assert!(o.status.success(), "{}", err(&o));
    assert!(err(&o).contains("written as a stream"), "{}", err(&o));
    let null = std::fs::metadata("/dev/null").expect("/dev/null");
    assert!(
        null.file_type().is_char_device(),
        "/dev/null is still a device"
    );
    let after: Vec<_> = std::fs::read_dir("/dev")
        .expect("/dev")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let new: Vec<_> = after.iter().filter(|n| !before.contains(n)).collect();
    assert!(
        new.iter().all(|n| !n.to_string_lossy().contains("rasp")),
        "nothing left in /dev: {new:?}"
    );
    let o = run(&dir, &["draw", "p.rasp", "rev", "-o", "/dev/null"]);
    assert!(o.status.success(), "{}", err(&o));

    // A named pipe: the reader gets every line; no sidecar, no rename.
    let fifo = dir.join("pipe.jsonl");
    mkfifo(&fifo);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(&fifo).expect("read the pipe"))
    };
    let o = run(
        &dir,
        &[
            "gen",
            "p.rasp",
            "rev",
            "--vocab",
            "abc",
            "-n",
            "50",
            "-o",
            "pipe.jsonl",
        ],
    );
    assert!(o.status.success(), "{}", err(&o));
    let text = reader.join().expect("reader");
    assert_eq!(text.lines().count(), 50, "{text}");
    assert!(
        std::fs::symlink_metadata(&fifo)
            .expect("fifo")
            .file_type()
            .is_fifo()
    );
    assert!(!dir.join("pipe.jsonl.info.json").exists());
    std::fs::remove_dir_all(&dir).ok();
}

/// Every file of a folder, for "nothing changed".
fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("read")
        .flatten()
        .map(|e| {
            let p = e.path();
            let bytes = if p.is_file() {
                std::fs::read(&p).unwrap_or_default()
            } else {
                Vec::new()
            };
            (e.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    v.sort();
    v
}

#[cfg(unix)]
#[test]
fn links_folders_and_inputs_are_refused_and_nothing_changes() {
    let dir = scratch("refuse");
    std::os::unix::fs::symlink("victim.txt", dir.join("link.jsonl")).expect("link");
    std::fs::write(dir.join("victim.txt"), "precious\n").expect("victim");
    std::fs::create_dir(dir.join("folder")).expect("folder");
    std::fs::hard_link(dir.join("p.rasp"), dir.join("same.rasp")).expect("hard link");
    std::fs::write(dir.join("uses.rasp"), "load \"p.rasp\";\nr2 = rev;\n").expect("loader");
    // compile -o trap, where trap/rasp.json is a link to a victim.
    std::fs::create_dir(dir.join("trap")).expect("trap");
    std::os::unix::fs::symlink("../victim.txt", dir.join("trap/rasp.json")).expect("trap link");
    std::fs::create_dir(dir.join("notes")).expect("notes");
    std::fs::write(dir.join("notes/notes.txt"), "mine\n").expect("notes");
    std::os::unix::fs::symlink("notes", dir.join("model-link")).expect("dir link");
    let before = listing(&dir);
    let gen_to = |out: &'static str| {
        vec![
            "gen", "p.rasp", "rev", "--vocab", "abc", "-n", "5", "-o", out,
        ]
    };
    let compile = |out: &'static str| {
        vec![
            "compile",
            "p.rasp",
            "rev",
            "--vocab",
            "abc",
            "--max-len",
            "3",
            "-o",
            out,
        ]
    };
    let cases: Vec<Vec<&str>> = vec![
        gen_to("link.jsonl"),
        gen_to("folder"),
        gen_to("p.rasp"),
        gen_to("./p.rasp"),
        gen_to("same.rasp"),
        gen_to("missing/out.jsonl"),
        vec![
            "gen",
            "uses.rasp",
            "r2",
            "--vocab",
            "abc",
            "-n",
            "5",
            "-o",
            "p.rasp",
        ],
        vec!["draw", "p.rasp", "rev", "-o", "p.rasp"],
        vec!["draw", "p.rasp", "rev", "-o", "link.jsonl"],
        compile("trap"),
        compile("notes"),
        compile("model-link"),
        compile("p.rasp"),
    ];
    for args in cases {
        let o = run(&dir, &args);
        let e = err(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
        assert!(
            e.contains("rasp::output::target") && e.contains("help:"),
            "{args:?}: {e}"
        );
        assert_eq!(listing(&dir), before, "{args:?} changed the folder");
        assert_eq!(
            listing(&dir.join("notes")),
            vec![("notes.txt".to_string(), b"mine\n".to_vec())]
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("victim.txt")).expect("victim"),
            "precious\n"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[cfg(unix)]
#[test]
fn in_place_rewrites_replace_a_links_target_and_keep_the_link() {
    let dir = scratch("inplace");
    std::fs::create_dir(dir.join("real")).expect("real");
    std::fs::write(dir.join("real/prog.rasp"), "x=tokens;\n").expect("program");
    std::os::unix::fs::symlink("real/prog.rasp", dir.join("prog.rasp")).expect("link");
    let o = run(&dir, &["fmt", "prog.rasp"]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(
        std::fs::symlink_metadata(dir.join("prog.rasp"))
            .expect("link")
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("real/prog.rasp")).expect("read"),
        "x = tokens;\n"
    );

    // rasp test --accept through a snapshot that is a link.
    std::fs::write(dir.join("t.rasp"), format!("# test: \"abc\"\n{REVERSE}")).expect("test");
    let o = run(&dir, &["test", "--accept", "t.rasp"]);
    assert!(o.status.success(), "{}", err(&o));
    let snap = dir.join("__snapshots__/t.snap");
    std::fs::rename(&snap, dir.join("real/t.snap")).expect("move");
    std::os::unix::fs::symlink("../real/t.snap", &snap).expect("snapshot link");
    std::fs::write(dir.join("t.rasp"), format!("# test: \"abcd\"\n{REVERSE}")).expect("edit");
    let o = run(&dir, &["test", "--accept", "t.rasp"]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(
        std::fs::symlink_metadata(&snap)
            .expect("link")
            .file_type()
            .is_symlink()
    );
    let text = std::fs::read_to_string(dir.join("real/t.snap")).expect("read");
    assert!(text.contains("abcd"), "{text}");
    let left: Vec<String> = std::fs::read_dir(dir.join("__snapshots__"))
        .expect("read")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, vec!["t.snap"]);
    std::fs::remove_dir_all(&dir).ok();
}

#[cfg(unix)]
#[test]
fn fifos_and_pipes_as_inputs_never_block() {
    let dir = scratch("fifo-in");
    // A FIFO nobody writes to, as a program: read as empty.
    mkfifo(&dir.join("prog.rasp"));
    let o = run(&dir, &["check", "prog.rasp"]);
    assert!(o.status.success(), "{}", err(&o));
    // As an inputs file: no inputs, so no outputs.
    mkfifo(&dir.join("inputs.jsonl"));
    let o = run(&dir, &["eval", "p.rasp", "rev", "--inputs", "inputs.jsonl"]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(o.stdout.is_empty());
    // As a model file: refused.
    let compile = [
        "compile",
        "p.rasp",
        "rev",
        "--vocab",
        "abc",
        "--max-len",
        "3",
        "-o",
        "m",
    ];
    for f in ["rasp.json", "config.json", "model.safetensors"] {
        let o = run(&dir, &compile);
        assert!(o.status.success(), "{}", err(&o));
        std::fs::remove_file(dir.join("m").join(f)).expect("remove");
        mkfifo(&dir.join("m").join(f));
        let o = run(&dir, &["exec", "m", "\"abc\""]);
        let e = err(&o);
        assert_eq!(o.status.code(), Some(1), "{f}: {e}");
        assert!(
            e.contains("rasp::model::io") && e.contains("not a regular file"),
            "{f}: {e}"
        );
        std::fs::remove_dir_all(dir.join("m")).expect("remove the model");
    }
    // A pipe from a process substitution is read to its end.
    let o = finish({
        let mut c = Command::new("bash");
        c.arg("-c")
            .arg(format!(
                "{} eval p.rasp rev --json --inputs <(printf '\"abc\"\\n\"xy\"\\n')",
                env!("CARGO_BIN_EXE_rasp")
            ))
            .current_dir(&dir);
        c
    });
    assert!(o.status.success(), "{}", err(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains("[\"c\", \"b\", \"a\"]"), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}

/// `-o lnk/` and `-o lnk/.` name the link, which is refused as `-o lnk`
/// is; a folder holding the program is refused before it is swapped away.
#[cfg(unix)]
#[test]
fn a_model_folder_through_a_link_or_holding_the_program_is_refused() {
    let dir = scratch("folder-links");
    std::fs::create_dir(dir.join("m")).expect("m");
    std::os::unix::fs::symlink("m", dir.join("lnk")).expect("link");
    std::fs::create_dir(dir.join("src")).expect("src");
    std::fs::copy(dir.join("p.rasp"), dir.join("src/rasp.json")).expect("program");
    let before = listing(&dir);
    for out in ["lnk", "lnk/", "lnk/.", "./lnk/"] {
        let o = run(
            &dir,
            &[
                "compile",
                "p.rasp",
                "rev",
                "--vocab",
                "abc",
                "--max-len",
                "3",
                "-o",
                out,
            ],
        );
        let e = err(&o);
        assert_eq!(o.status.code(), Some(2), "{out}: {e}");
        assert!(
            e.contains("rasp::output::target") && e.contains("symbolic link"),
            "{out}: {e}"
        );
        assert!(
            std::fs::symlink_metadata(dir.join("lnk"))
                .expect("lnk")
                .file_type()
                .is_symlink()
        );
        assert_eq!(listing(&dir), before, "{out}");
    }
    // The program is src/rasp.json: writing a model to src would delete it.
    let o = run(
        &dir,
        &[
            "compile",
            "src/rasp.json",
            "rev",
            "--vocab",
            "abc",
            "--max-len",
            "3",
            "-o",
            "src",
        ],
    );
    let e = err(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("one of this command's inputs"), "{e}");
    assert!(dir.join("src/rasp.json").exists());
    std::fs::remove_dir_all(&dir).ok();
}

/// A sidecar path that is a FIFO, and a socket as `-o`, are refused; a
/// drawing written to a device says so.
#[cfg(unix)]
#[test]
fn a_sidecar_is_a_file_and_a_socket_is_no_output() {
    use std::os::unix::fs::FileTypeExt;
    let dir = scratch("sidecar-fifo");
    mkfifo(&dir.join("out.jsonl.info.json"));
    let o = run(
        &dir,
        &[
            "gen",
            "p.rasp",
            "rev",
            "--vocab",
            "abc",
            "-n",
            "3",
            "-o",
            "out.jsonl",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("rasp::output::target"), "{}", err(&o));
    let side = std::fs::symlink_metadata(dir.join("out.jsonl.info.json")).expect("fifo");
    assert!(side.file_type().is_fifo());
    assert!(!dir.join("out.jsonl").exists());

    let _sock = std::os::unix::net::UnixListener::bind(dir.join("sock")).expect("a socket");
    let o = run(
        &dir,
        &[
            "gen", "p.rasp", "rev", "--vocab", "abc", "-n", "3", "-o", "sock",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("socket"), "{}", err(&o));

    let o = run(&dir, &["draw", "p.rasp", "rev", "-o", "/dev/null"]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(err(&o).contains("written as a stream"), "{}", err(&o));
    std::fs::remove_dir_all(&dir).ok();
}

/// Read-only files and folders are not replaced; a rewritten file keeps
/// its permissions and (as root) its owner.
#[cfg(unix)]
#[test]
fn read_only_targets_are_refused_and_owners_kept() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = scratch("modes");
    let ro = dir.join("ro.rasp");
    std::fs::write(&ro, "x=tokens;\n").expect("program");
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o444)).expect("chmod");
    let o = run(&dir, &["fmt", "ro.rasp"]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(err(&o).contains("read-only"), "{}", err(&o));
    assert_eq!(std::fs::read_to_string(&ro).expect("read"), "x=tokens;\n");
    std::fs::write(dir.join("ro.jsonl"), "old\n").expect("data");
    std::fs::set_permissions(dir.join("ro.jsonl"), std::fs::Permissions::from_mode(0o444))
        .expect("chmod");
    let o = run(
        &dir,
        &[
            "gen", "p.rasp", "rev", "--vocab", "abc", "-n", "3", "-o", "ro.jsonl",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert_eq!(
        std::fs::read_to_string(dir.join("ro.jsonl")).expect("read"),
        "old\n"
    );

    let compile = [
        "compile",
        "p.rasp",
        "rev",
        "--vocab",
        "abc",
        "--max-len",
        "3",
        "-o",
        "m",
    ];
    assert!(run(&dir, &compile).status.success());
    std::fs::set_permissions(dir.join("m"), std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let o = run(&dir, &compile);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("read-only"), "{}", err(&o));
    // A folder's mode is kept when it is replaced.
    std::fs::set_permissions(dir.join("m"), std::fs::Permissions::from_mode(0o750)).expect("chmod");
    assert!(run(&dir, &compile).status.success());
    let mode = std::fs::metadata(dir.join("m"))
        .expect("m")
        .permissions()
        .mode()
        & 0o7777;
    assert_eq!(mode, 0o750);

    let own = dir.join("own.rasp");
    std::fs::write(&own, "y=tokens;\n").expect("program");
    std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        std::os::unix::fs::chown(&own, Some(65534), Some(65534)).expect("chown");
    }
    let o = run(&dir, &["fmt", "own.rasp"]);
    assert!(o.status.success(), "{}", err(&o));
    let m = std::fs::metadata(&own).expect("own");
    assert_eq!(m.permissions().mode() & 0o7777, 0o640);
    if root {
        assert_eq!((m.uid(), m.gid()), (65534, 65534));
    }
    assert_eq!(
        std::fs::read_to_string(&own).expect("read"),
        "y = tokens;\n"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A command whose job is writing files finishes it when its standard
/// output closes: every snapshot accepted, exit 0.
#[test]
fn a_closed_pipe_does_not_stop_a_command_that_writes_files() {
    let dir = scratch("accept-pipe");
    let names: Vec<String> = (0..12).map(|i| format!("t{i}.rasp")).collect();
    for n in &names {
        std::fs::write(dir.join(n), format!("# test: \"abc\"\n{REVERSE}")).expect("test");
    }
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let mut args = vec!["test", "--accept"];
    args.extend(names.iter().map(String::as_str));
    let mut c = cmd(&dir, &args);
    c.stdout(writer).stderr(Stdio::piped());
    let o = c.output().expect("rasp runs");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    for n in &names {
        let snap = dir.join("__snapshots__").join(n.replace(".rasp", ".snap"));
        assert!(snap.exists(), "{} was not accepted", snap.display());
    }
    // With the disk full instead: every snapshot written, then status 1.
    #[cfg(target_os = "linux")]
    {
        std::fs::remove_dir_all(dir.join("__snapshots__")).expect("remove");
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("full");
        let mut c = cmd(&dir, &args);
        c.stdout(full).stderr(Stdio::piped());
        let o = c.output().expect("rasp runs");
        assert_eq!(o.status.code(), Some(1), "{}", err(&o));
        assert!(err(&o).contains("rasp::output::write"), "{}", err(&o));
        assert_eq!(
            std::fs::read_dir(dir.join("__snapshots__"))
                .expect("read")
                .count(),
            12
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
