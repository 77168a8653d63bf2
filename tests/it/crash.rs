//! Crash consistency. Each writing command (`compile`, `gen`, `fmt`,
//! `test --accept`, `draw`) runs over an existing good output and is
//! stopped at every step that touches its output (the `RASP_CRASH_AT` hook,
//! `src/fsio/crash.rs`, with files written in small chunks so that there
//! are many steps):
//!
//! - killed (SIGKILL, as a power cut or `kill -9`): the old output is
//!   intact or the new one complete, never a mix; the temporary files it
//!   left are swept by the next write to the folder;
//! - interrupted (SIGINT, as Ctrl-C): the same, exit status 130, and no
//!   temporary file is left at all;
//! - out of disk space from that step on (ENOSPC, injected): the command
//!   fails with a diagnostic saying so, the old output untouched, no
//!   temporary file left.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The contents of an output: a file's bytes, or a folder's files.
#[derive(Clone, PartialEq, Eq)]
enum State {
    Missing,
    File(Vec<u8>),
    Folder(BTreeMap<String, Vec<u8>>),
}

/// Sizes and a hash, not the bytes.
impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn h(b: &[u8]) -> String {
            let x = b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &c| {
                (h ^ u64::from(c)).wrapping_mul(0x100_0000_01b3)
            });
            format!("{} bytes #{x:016x}", b.len())
        }
        match self {
            State::Missing => write!(f, "missing"),
            State::File(b) => write!(f, "file({})", h(b)),
            State::Folder(m) => {
                let files: Vec<String> = m.iter().map(|(n, b)| format!("{n}: {}", h(b))).collect();
                write!(f, "folder({})", files.join(", "))
            }
        }
    }
}

fn state(p: &Path) -> State {
    match std::fs::symlink_metadata(p) {
        Err(_) => State::Missing,
        Ok(m) if m.is_dir() => State::Folder(
            std::fs::read_dir(p)
                .expect("read the folder")
                .map(|e| {
                    let e = e.expect("entry");
                    let bytes = std::fs::read(e.path()).expect("read a file of the folder");
                    (e.file_name().to_string_lossy().into_owned(), bytes)
                })
                .collect(),
        ),
        Ok(_) => State::File(std::fs::read(p).expect("read the file")),
    }
}

/// Put `s` back at `p`.
fn restore(p: &Path, s: &State) {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p).expect("remove"),
        Ok(_) => std::fs::remove_file(p).expect("remove"),
        Err(_) => {}
    }
    match s {
        State::Missing => {}
        State::File(b) => std::fs::write(p, b).expect("write"),
        State::Folder(files) => {
            std::fs::create_dir(p).expect("mkdir");
            for (n, b) in files {
                std::fs::write(p.join(n), b).expect("write");
            }
        }
    }
}

/// Temporary names left in `dir` (the `fsio` naming scheme).
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read the folder")
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_string_lossy().into_owned();
            (n.contains(".rasp-tmp-") || n.contains(".rasp-old-")).then_some(n)
        })
        .collect()
}

fn rasp(dir: &Path, args: &[String], env: &[(&str, String)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rasp"));
    c.args(args)
        .arg("--color=never")
        .current_dir(dir)
        .env_remove("CI")
        .env_remove("RASP_CRASH_AT")
        .env_remove("RASP_CRASH_LIST");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("rasp runs")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rasp-crash-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch folder");
    d
}

/// One writing command.
struct Case {
    name: &'static str,
    /// The command that writes the new output over the old one.
    args: Vec<String>,
    /// Its outputs, relative to the folder.
    outputs: Vec<&'static str>,
    /// Bytes per written chunk (so the files give many steps).
    chunk: usize,
    /// Extra environment (the fallback swap).
    env: Vec<(&'static str, String)>,
    /// Whether a state of the outputs after a crash is acceptable, given
    /// the old and new states (default: each output old, or each new).
    ok: fn(&[State], &[State], &[State]) -> bool,
}

fn all_old_or_all_new(now: &[State], old: &[State], new: &[State]) -> bool {
    now == old || now == new
}

/// Run a case: `dir` already holds the inputs and the old outputs.
fn check(dir: &Path, case: &Case) {
    let outs: Vec<PathBuf> = case.outputs.iter().map(|o| dir.join(o)).collect();
    let old: Vec<State> = outs.iter().map(|p| state(p)).collect();
    let env = |extra: Vec<(&'static str, String)>| -> Vec<(&'static str, String)> {
        let mut e = case.env.clone();
        e.push(("RASP_CRASH_CHUNK", case.chunk.to_string()));
        e.extend(extra);
        e
    };

    // The new outputs, and how many steps writing them takes.
    let o = rasp(dir, &case.args, &env(vec![("RASP_CRASH_LIST", "1".into())]));
    assert!(
        o.status.success(),
        "{}: {}",
        case.name,
        String::from_utf8_lossy(&o.stderr)
    );
    let points = String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| l.starts_with("rasp-crash-point "))
        .count();
    assert!(
        points >= 20,
        "{}: only {points} steps touch the output",
        case.name
    );
    let new: Vec<State> = outs.iter().map(|p| state(p)).collect();
    assert_ne!(
        old, new,
        "{}: the command must change its output",
        case.name
    );
    assert!(
        leftovers(dir).is_empty(),
        "{}: {:?}",
        case.name,
        leftovers(dir)
    );

    for signal in ["kill", "int", "enospc"] {
        for at in 1..=points {
            for (p, s) in outs.iter().zip(&old) {
                restore(p, s);
            }
            let o = rasp(
                dir,
                &case.args,
                &env(vec![
                    ("RASP_CRASH_AT", at.to_string()),
                    ("RASP_CRASH_SIGNAL", signal.into()),
                ]),
            );
            let what = format!(
                "{} stopped by SIG{} at step {at} of {points}",
                case.name,
                signal.to_uppercase()
            );
            match signal {
                "kill" => {
                    use std::os::unix::process::ExitStatusExt;
                    assert_eq!(o.status.signal(), Some(9), "{what}: {o:?}");
                }
                "int" => {
                    assert_eq!(o.status.code(), Some(130), "{what}: {o:?}");
                    assert!(
                        leftovers(dir).is_empty(),
                        "{what}: left {:?}",
                        leftovers(dir)
                    );
                }
                _ => {
                    // A full disk from this step on: the command fails
                    // with the reason (or succeeds, when no later step
                    // needs space), the first output untouched, nothing
                    // left behind.
                    let err = String::from_utf8_lossy(&o.stderr);
                    if !o.status.success() {
                        assert_eq!(o.status.code(), Some(1), "{what}: {err}");
                        assert!(err.contains("No space left on device"), "{what}: {err}");
                        assert_eq!(state(&outs[0]), old[0], "{what}: the old output changed");
                    }
                    assert!(
                        leftovers(dir).is_empty(),
                        "{what}: left {:?}",
                        leftovers(dir)
                    );
                }
            }
            let now: Vec<State> = outs.iter().map(|p| state(p)).collect();
            let fine = (case.ok)(&now, &old, &new);
            assert!(
                fine,
                "{what}: the outputs are neither the old nor the new ones"
            );
            if signal == "kill" && !leftovers(dir).is_empty() {
                // The next write sweeps what the killed run left.
                let o = rasp(dir, &case.args, &env(vec![]));
                assert!(o.status.success(), "{what}: the next run fails: {o:?}");
                assert!(
                    leftovers(dir).is_empty(),
                    "{what}: not swept: {:?}",
                    leftovers(dir)
                );
                let now: Vec<State> = outs.iter().map(|p| state(p)).collect();
                assert_eq!(now, new, "{what}: the next run's outputs");
            }
        }
    }
}

fn s(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

const REVERSE: &str = "def rev(x) {\n    return aggregate(select(indices, length - indices - 1, ==), x);\n}\nr = rev(tokens);\nhist = selector_width(select(tokens, tokens, ==));\n";

fn compile_case(name: &'static str, env: Vec<(&'static str, String)>) {
    let dir = scratch(name);
    std::fs::write(dir.join("p.rasp"), REVERSE).expect("program");
    let o = rasp(
        &dir,
        &s(&[
            "compile",
            "p.rasp",
            "r",
            "--vocab",
            "abc",
            "--max-len",
            "4",
            "-o",
            "m",
        ]),
        &[],
    );
    assert!(o.status.success(), "{o:?}");
    let fallback = !env.is_empty();
    check(
        &dir,
        &Case {
            name,
            args: s(&[
                "compile",
                "p.rasp",
                "r",
                "--vocab",
                "abcd",
                "--max-len",
                "5",
                "-o",
                "m",
                "--no-verify",
            ]),
            outputs: vec!["m"],
            chunk: 512,
            env,
            ok: if fallback {
                // Between its two renames the fallback leaves no folder (a
                // reader gets an error, never a mix); the old one waits
                // beside it and is put back by the next write.
                |now, old, new| now == old || now == new || now == [State::Missing]
            } else {
                all_old_or_all_new
            },
        },
    );
    if fallback {
        // A kill between the renames: the next write puts the old model
        // back before it swaps (checked above through the next run), and a
        // reader never sees a mix. Here: the folder moved aside by a dead
        // process is restored by the sweep.
        let moved = dir.join(".m.rasp-old-4194399-0");
        std::fs::rename(dir.join("m"), &moved).expect("move aside");
        let o = rasp(
            &dir,
            &s(&[
                "gen", "p.rasp", "r", "--vocab", "abc", "-n", "3", "-o", "x.jsonl",
            ]),
            &[],
        );
        assert!(o.status.success(), "{o:?}");
        assert!(
            dir.join("m/rasp.json").exists(),
            "the old model is put back"
        );
        assert!(leftovers(&dir).is_empty());
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn compile_over_a_model() {
    compile_case("compile", vec![]);
}

#[test]
fn compile_over_a_model_without_exchange() {
    compile_case("compile-fallback", vec![("RASP_NO_EXCHANGE", "1".into())]);
}

#[test]
fn gen_over_a_dataset_and_its_sidecar() {
    let dir = scratch("gen");
    std::fs::write(dir.join("p.rasp"), REVERSE).expect("program");
    let args = |seed: &str| {
        s(&[
            "gen", "p.rasp", "r", "--vocab", "abc", "-n", "200", "--seed", seed, "-o", "d.jsonl",
            "-q",
        ])
    };
    let o = rasp(&dir, &args("1"), &[]);
    assert!(o.status.success(), "{o:?}");
    check(
        &dir,
        &Case {
            name: "gen",
            args: args("2"),
            outputs: vec!["d.jsonl", "d.jsonl.info.json"],
            chunk: 512,
            env: vec![],
            // The data is old or new; a sidecar, when there, is the one
            // written with that data (it may be missing, never another
            // run's).
            ok: |now, old, new| {
                let data_ok = now[0] == old[0] || now[0] == new[0];
                let side_ok = now[1] == State::Missing
                    || (now[0] == old[0] && now[1] == old[1])
                    || (now[0] == new[0] && now[1] == new[1]);
                data_ok && side_ok
            },
        },
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn fmt_in_place() {
    let dir = scratch("fmt");
    let program: String = (0..300)
        .map(|i| format!("x{i}=tokens+\"{i}\";\n"))
        .collect();
    std::fs::write(dir.join("p.rasp"), &program).expect("program");
    check(
        &dir,
        &Case {
            name: "fmt",
            args: s(&["fmt", "p.rasp"]),
            outputs: vec!["p.rasp"],
            chunk: 256,
            env: vec![],
            ok: all_old_or_all_new,
        },
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn test_accept_over_a_snapshot() {
    let dir = scratch("accept");
    let program = |extra: &str| {
        let inputs: Vec<String> = (1..40)
            .map(|n| format!("\"{}\"", "abc".repeat(n % 7 + 1)))
            .collect();
        format!("# test: {}\n{REVERSE}{extra}", inputs.join(" "))
    };
    std::fs::write(dir.join("p.rasp"), program("")).expect("program");
    let o = rasp(&dir, &s(&["test", "--accept", "p.rasp"]), &[]);
    assert!(o.status.success(), "{o:?}");
    std::fs::write(dir.join("p.rasp"), program("twice = r + r;\n")).expect("edit");
    check(
        &dir,
        &Case {
            name: "test --accept",
            args: s(&["test", "--accept", "p.rasp"]),
            outputs: vec!["__snapshots__/p.snap"],
            chunk: 64,
            env: vec![],
            ok: all_old_or_all_new,
        },
    );
    assert!(leftovers(&dir.join("__snapshots__")).is_empty());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn draw_over_a_drawing() {
    let dir = scratch("draw");
    std::fs::write(dir.join("p.rasp"), REVERSE).expect("program");
    let o = rasp(&dir, &s(&["draw", "p.rasp", "hist", "-o", "f.svg"]), &[]);
    assert!(o.status.success(), "{o:?}");
    check(
        &dir,
        &Case {
            name: "draw",
            args: s(&["draw", "p.rasp", "r", "-o", "f.svg"]),
            outputs: vec!["f.svg"],
            chunk: 512,
            env: vec![],
            ok: all_old_or_all_new,
        },
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Real Ctrl-Cs at times spread over a whole run (the signal handler's
/// thread and the writing thread racing for real, unlike the hook's
/// interrupts, which park the writer): `rasp fmt` over many files and
/// `rasp gen` with a sidecar. Every file is old or new, a sidecar matches
/// its data, and no temporary file is ever left.
#[test]
fn real_interrupts_at_any_moment_leave_no_temporary_file() {
    use std::time::{Duration, Instant};
    let dir = scratch("sigint");
    std::fs::write(dir.join("p.rasp"), REVERSE).expect("program");
    let files: Vec<String> = (0..150).map(|i| format!("f{i}.rasp")).collect();
    let unformatted: String = (0..60).map(|i| format!("x{i}=tokens+\"{i}\";\n")).collect();
    let generate = s(&[
        "gen", "p.rasp", "r", "--vocab", "abc", "-n", "20000", "-o", "d.jsonl", "-q",
    ]);
    let mut fmt = s(&["fmt"]);
    fmt.extend(files.iter().cloned());
    for (args, outputs) in [
        (&fmt, files.clone()),
        (
            &generate,
            vec!["d.jsonl".to_string(), "d.jsonl.info.json".to_string()],
        ),
    ] {
        for f in &files {
            std::fs::write(dir.join(f), &unformatted).expect("program");
        }
        let old: Vec<State> = outputs.iter().map(|o| state(&dir.join(o))).collect();
        let start = Instant::now();
        assert!(rasp(&dir, args, &[]).status.success());
        let whole = start.elapsed();
        let new: Vec<State> = outputs.iter().map(|o| state(&dir.join(o))).collect();
        for k in 0..12u32 {
            for (o, st) in outputs.iter().zip(&old) {
                restore(&dir.join(o), st);
            }
            let mut c = Command::new(env!("CARGO_BIN_EXE_rasp"));
            c.args(args.iter())
                .current_dir(&dir)
                .env_remove("CI")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            let mut child = c.spawn().expect("rasp starts");
            std::thread::sleep(whole.mul_f64(f64::from(k) / 10.0) + Duration::from_millis(1));
            // SAFETY: signalling our own child.
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGINT);
            }
            let status = child.wait().expect("rasp ends");
            use std::os::unix::process::ExitStatusExt;
            assert!(
                status.code() == Some(130)
                    || status.success()
                    || status.signal() == Some(libc::SIGINT),
                "{args:?} interrupt {k}: {status:?}"
            );
            assert!(
                leftovers(&dir).is_empty(),
                "{args:?} interrupt {k}: {:?}",
                leftovers(&dir)
            );
            for ((o, a), b) in outputs.iter().zip(&old).zip(&new) {
                let now = state(&dir.join(o));
                let fine =
                    now == *a || now == *b || (o.ends_with(".info.json") && now == State::Missing);
                assert!(fine, "{args:?} interrupt {k}: {o} is neither old nor new");
            }
            if outputs.len() == 2 {
                let (d, side) = (state(&dir.join(&outputs[0])), state(&dir.join(&outputs[1])));
                assert!(
                    side == State::Missing || (d == old[0]) == (side == old[1]),
                    "{args:?} interrupt {k}: a sidecar of another run"
                );
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
