//! `rasp test`: run the snapshot tests of programs, show what changed,
//! and accept, review or refuse the changes.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::diag::{Color, Diag, Reporter, codes};
use crate::interp::Semantics;
use crate::snapshot::{self, Rendered, Snapshot, Status};

/// `rasp test`'s options.
#[derive(clap::Args, Debug)]
pub struct TestArgs {
    /// Programs or folders (searched recursively for `.rasp` files);
    /// the current folder when none is given.
    pub paths: Vec<PathBuf>,
    /// Accept every new or changed snapshot: write `NAME.snap` (no
    /// questions).
    #[arg(long, conflicts_with = "review")]
    pub accept: bool,
    /// Walk each new or changed snapshot, its diff shown, and answer
    /// accept (a), reject (r) or skip (s).
    #[arg(long)]
    pub review: bool,
    /// Print a machine-readable report (one JSON object) on stdout.
    #[arg(long)]
    pub json: bool,
    /// Evaluate every test input causally (RASP-L's semantics: every
    /// selector sees only the keys at or before its query, `length` at
    /// position i is i + 1) and compile every target as a causal model;
    /// compared with `__snapshots__/NAME.causal.snap`, so a program can
    /// have both snapshots.
    #[arg(long)]
    pub causal: bool,
}

/// One program's result.
struct Case {
    file: PathBuf,
    snapshot: PathBuf,
    state: State,
    /// The diff from the snapshot on disk (the whole text when new).
    diff: String,
    new_text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Passed,
    /// New or changed, written as `.snap.new` (or not at all under CI).
    New,
    Changed,
    Accepted,
    Rejected,
    /// Declares no test.
    Skipped,
    /// Bad declarations, an unreadable file or snapshot.
    Error,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Passed => "passed",
            State::New => "new",
            State::Changed => "changed",
            State::Accepted => "accepted",
            State::Rejected => "rejected",
            State::Skipped => "skipped",
            State::Error => "error",
        }
    }

    fn failed(self) -> bool {
        matches!(
            self,
            State::New | State::Changed | State::Rejected | State::Error
        )
    }
}

/// Whether the environment says this is CI (`CI` set, and not to `0` or
/// `false`): then nothing is ever written.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

pub(super) fn test_cmd(reporter: &Reporter, color: Color, a: &TestArgs) -> i32 {
    let ci = in_ci();
    if ci && (a.accept || a.review) {
        errln!("note: CI is set: snapshots are checked, never written");
    }
    let write = !ci;
    if write {
        // Snapshots are files: a closed standard output must not stop the
        // run half-way.
        crate::fsio::stdio::keep_working();
    }
    let paths = if a.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        a.paths.clone()
    };
    let files = match snapshot::collect(&paths) {
        Ok(f) => f,
        Err(d) => {
            reporter.report(&d);
            return 2;
        }
    };
    let color_out = color.enabled(std::io::stdout().is_terminal()) && !a.json;
    let sem = Semantics::from_causal(a.causal);
    let mut cases = Vec::new();
    for file in files {
        let case = run_one(reporter, &file, sem, write, a.accept, color_out);
        if !a.json && case.state != State::Skipped {
            print_case(&case, !a.review);
        }
        cases.push(case);
    }
    let tested = cases.iter().filter(|c| c.state != State::Skipped).count();
    if tested == 0 {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        reporter.report(
            &Diag::error(
                codes::TEST_PATH,
                format!("no tests under {}", shown.join(", ")),
            )
            .help("declare tests in a program with `# test: INPUT...` comment lines"),
        );
        return 1;
    }
    if a.review && write {
        review(&mut cases);
    }
    if a.json {
        outln!("{}", report_json(&cases, sem));
    } else {
        print_summary(&cases, sem, write);
    }
    i32::from(cases.iter().any(|c| c.state.failed()))
}

/// Render, compare and (as allowed) write one program's snapshot under
/// `sem`.
fn run_one(
    reporter: &Reporter,
    file: &Path,
    sem: Semantics,
    write: bool,
    accept: bool,
    color: bool,
) -> Case {
    let snap = snapshot::snapshot_path(file, sem);
    let mut case = Case {
        file: file.to_path_buf(),
        snapshot: snap.clone(),
        state: State::Error,
        diff: String::new(),
        new_text: String::new(),
    };
    let new = match snapshot::render(file, sem) {
        Ok(Rendered::NoTests) => {
            case.state = State::Skipped;
            return case;
        }
        Ok(Rendered::Snapshot(s)) => s,
        Err(diags) => {
            reporter.report_all(&diags);
            return case;
        }
    };
    let status = match snapshot::compare(&snap, &new) {
        Ok(s) => s,
        Err(d) => {
            reporter.report(&d);
            return case;
        }
    };
    let pending = snapshot::pending_path(&snap);
    case.new_text = new.text();
    let result = match status {
        Status::Passed => {
            case.state = State::Passed;
            // A pending snapshot left from an earlier run is stale now.
            if write {
                snapshot::remove(&pending)
            } else {
                Ok(())
            }
        }
        Status::New | Status::Changed(_) => {
            let old = match &status {
                Status::Changed(old) => Some(old),
                _ => None,
            };
            case.diff = diff(&snap, old, &new, color);
            case.state = if old.is_some() {
                State::Changed
            } else {
                State::New
            };
            if write && accept {
                case.state = State::Accepted;
                snapshot::write(&snap, &case.new_text).and_then(|()| snapshot::remove(&pending))
            } else if write {
                snapshot::write(&pending, &case.new_text)
            } else {
                Ok(())
            }
        }
    };
    if let Err(d) = result {
        reporter.report(&d);
        case.state = State::Error;
    }
    case
}

fn diff(snap: &Path, old: Option<&Snapshot>, new: &Snapshot, color: bool) -> String {
    let pending = snapshot::pending_path(snap);
    let (old_text, old_name) = match old {
        Some(o) => (o.text(), snap.display().to_string()),
        None => (String::new(), "/dev/null".to_string()),
    };
    snapshot::diff::unified(
        &old_text,
        &new.text(),
        &old_name,
        &pending.display().to_string(),
        color,
    )
}

fn print_case(c: &Case, with_diff: bool) {
    let mut out = crate::fsio::stdio::Stdout;
    let _ = writeln!(out, "test {} ... {}", c.file.display(), c.state.name());
    if with_diff && !c.diff.is_empty() {
        let _ = write!(out, "{}", c.diff);
    }
}

fn print_summary(cases: &[Case], sem: Semantics, wrote: bool) {
    let count = |s: State| cases.iter().filter(|c| c.state == s).count();
    let mut parts = vec![format!("{} passed", count(State::Passed))];
    for s in [
        State::Changed,
        State::New,
        State::Accepted,
        State::Rejected,
        State::Error,
    ] {
        let n = count(s);
        if n > 0 {
            parts.push(format!("{n} {}", s.name()));
        }
    }
    let skipped = count(State::Skipped);
    let tail = if skipped > 0 {
        format!("; {skipped} file(s) without tests")
    } else {
        String::new()
    };
    let causal = if sem.is_causal() { " causally" } else { "" };
    outln!(
        "\n{} tested{causal}: {}{tail}",
        cases.len() - skipped,
        parts.join(", ")
    );
    let pending = count(State::Changed) + count(State::New);
    if pending > 0 {
        let (ext, flag) = match sem {
            Semantics::Bidirectional => (".snap.new", ""),
            Semantics::Causal => (".causal.snap.new", " --causal"),
        };
        if wrote {
            outln!(
                "{pending} snapshot(s) written as {ext}: `rasp test{flag} --review` to review them, `rasp test{flag} --accept` to accept them all"
            );
        } else {
            outln!("{pending} snapshot(s) differ (CI: nothing written)");
        }
    }
}

/// Ask about each pending snapshot on stdin.
fn review(cases: &mut [Case]) {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let total = cases
        .iter()
        .filter(|c| matches!(c.state, State::New | State::Changed))
        .count();
    let mut k = 0;
    for c in cases.iter_mut() {
        if !matches!(c.state, State::New | State::Changed) {
            continue;
        }
        k += 1;
        outln!(
            "\nreview {k}/{total}: {} ({})",
            c.file.display(),
            c.state.name()
        );
        out!("{}", c.diff);
        out!("accept (a), reject (r) or skip (s)? ");
        let _ = crate::fsio::stdio::Stdout.flush();
        let answer = match lines.next() {
            Some(Ok(l)) => l.trim().to_ascii_lowercase(),
            _ => {
                outln!();
                break;
            }
        };
        let pending = snapshot::pending_path(&c.snapshot);
        let result = match answer.as_str() {
            "a" | "accept" => {
                c.state = State::Accepted;
                snapshot::write(&c.snapshot, &c.new_text).and_then(|()| snapshot::remove(&pending))
            }
            "r" | "reject" => {
                c.state = State::Rejected;
                snapshot::remove(&pending)
            }
            _ => Ok(()),
        };
        if let Err(d) = result {
            errln!("{}", d.render_plain());
            c.state = State::Error;
        }
    }
}

fn report_json(cases: &[Case], sem: Semantics) -> serde_json::Value {
    let files: Vec<serde_json::Value> = cases
        .iter()
        .map(|c| {
            serde_json::json!({
                "file": c.file.display().to_string(),
                "snapshot": c.snapshot.display().to_string(),
                "status": c.state.name(),
                "diff": c.diff,
            })
        })
        .collect();
    let count = |s: State| cases.iter().filter(|c| c.state == s).count();
    serde_json::json!({
        "files": files,
        "passed": count(State::Passed),
        "failed": cases.iter().filter(|c| c.state.failed()).count(),
        "accepted": count(State::Accepted),
        "skipped": count(State::Skipped),
        "semantics": sem.name(),
    })
}
