//! `rasp test`: the project's own programs pass; an edit shows its diff
//! and fails; `--accept`, `--review` and `CI` write (or do not write) what
//! they say; bad declarations and empty folders are diagnostics.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Run `rasp` in `dir` with `CI` set to `ci` (or unset), feeding `stdin`.
fn rasp_in(dir: &Path, args: &[&str], ci: Option<&str>, stdin: &str) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rasp"));
    c.args(args)
        .arg("--color=never")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match ci {
        Some(v) => c.env("CI", v),
        None => c.env_remove("CI"),
    };
    let mut child = c.spawn().expect("rasp runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("stdin written");
    child.wait_with_output().expect("rasp finishes")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh copy of `examples/paper.rasp` and its snapshot.
fn copy_of_paper(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rasp-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("__snapshots__")).expect("temp dir");
    std::fs::copy(root().join("examples/paper.rasp"), dir.join("paper.rasp")).expect("copy");
    std::fs::copy(
        root().join("examples/__snapshots__/paper.snap"),
        dir.join("__snapshots__/paper.snap"),
    )
    .expect("copy the snapshot");
    dir
}

/// Change one program of the copy: `hist_nobos` counts one more.
fn edit(dir: &Path) {
    let p = dir.join("paper.rasp");
    let src = std::fs::read_to_string(&p).expect("read");
    let old = "hist_nobos = selector_width(same_tok);";
    assert!(
        src.contains(old),
        "paper.rasp defines hist_nobos as expected"
    );
    std::fs::write(
        &p,
        src.replace(old, "hist_nobos = selector_width(same_tok) + 1;"),
    )
    .expect("write");
}

#[test]
fn the_projects_programs_pass() {
    let o = rasp_in(&root(), &["test", "examples", "stdlib"], Some("true"), "");
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", text(&o.stderr));
    assert!(out.contains("test examples/paper.rasp ... passed"), "{out}");
    assert!(
        out.contains("test stdlib/tasks/sort.rasp ... passed"),
        "{out}"
    );
    // prelude.rasp declares no test.
    assert!(
        out.contains("14 tested: 14 passed; 1 file(s) without tests"),
        "{out}"
    );
}

#[test]
fn an_edit_shows_its_diff_and_accept_passes() {
    let dir = copy_of_paper("edit");
    let snap = dir.join("__snapshots__/paper.snap");
    let pending = dir.join("__snapshots__/paper.snap.new");
    let before = std::fs::read_to_string(&snap).expect("snapshot");
    assert!(rasp_in(&dir, &["test"], None, "").status.success());
    edit(&dir);

    // CI: the diff, a failure, nothing written.
    let o = rasp_in(&dir, &["test", "--accept"], Some("true"), "");
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("test ./paper.rasp ... changed"), "{out}");
    assert!(
        out.contains("-hist_nobos(\"hello\") = [1, 1, 2, 2, 1] (ints)\n"),
        "{out}"
    );
    assert!(
        out.contains("+hist_nobos(\"hello\") = [2, 2, 3, 3, 2] (ints)\n"),
        "{out}"
    );
    assert!(out.contains("--- ./__snapshots__/paper.snap\n+++ ./__snapshots__/paper.snap.new\n"));
    assert!(text(&o.stderr).contains("CI is set"));
    assert!(!pending.exists());
    assert_eq!(std::fs::read_to_string(&snap).expect("snapshot"), before);

    // Not CI: the same failure, and the new snapshot beside the old.
    let o = rasp_in(&dir, &["test", "paper.rasp"], None, "");
    assert_eq!(o.status.code(), Some(1));
    let new = std::fs::read_to_string(&pending).expect("pending snapshot written");
    assert!(new.contains("hist_nobos(\"hello\") = [2, 2, 3, 3, 2] (ints)"));
    assert_eq!(std::fs::read_to_string(&snap).expect("snapshot"), before);

    // --accept: written, and the next run passes.
    let o = rasp_in(&dir, &["test", "--accept"], None, "");
    assert!(o.status.success(), "{}", text(&o.stdout));
    assert!(text(&o.stdout).contains("paper.rasp ... accepted"));
    assert!(!pending.exists());
    assert_eq!(std::fs::read_to_string(&snap).expect("snapshot"), new);
    let o = rasp_in(&dir, &["test"], None, "");
    assert!(o.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn review_accepts_rejects_and_skips() {
    let dir = copy_of_paper("review");
    let snap = dir.join("__snapshots__/paper.snap");
    let pending = dir.join("__snapshots__/paper.snap.new");
    let before = std::fs::read_to_string(&snap).expect("snapshot");
    edit(&dir);

    // Skip: the pending snapshot stays; still a failure.
    let o = rasp_in(&dir, &["test", "--review"], None, "s\n");
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o.stdout);
    assert!(out.contains("review 1/1: ./paper.rasp (changed)"), "{out}");
    assert!(out.contains("accept (a), reject (r) or skip (s)?"), "{out}");
    assert!(pending.exists());

    // Reject: the pending snapshot goes, the old one stays.
    let o = rasp_in(&dir, &["test", "--review"], None, "r\n");
    assert_eq!(o.status.code(), Some(1));
    assert!(!pending.exists());
    assert_eq!(std::fs::read_to_string(&snap).expect("snapshot"), before);

    // Accept.
    let o = rasp_in(&dir, &["test", "--review"], None, "a\n");
    assert!(o.status.success(), "{}", text(&o.stdout));
    assert!(!pending.exists());
    assert!(
        std::fs::read_to_string(&snap)
            .expect("snapshot")
            .contains("[2, 2, 3, 3, 2]")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn json_report_and_new_snapshots() {
    let dir = copy_of_paper("json");
    std::fs::remove_file(dir.join("__snapshots__/paper.snap")).expect("remove");
    std::fs::write(dir.join("plain.rasp"), "x = tokens;\n").expect("write");
    let o = rasp_in(&dir, &["test", "--json", "."], Some("1"), "");
    assert_eq!(o.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    assert_eq!(report["failed"], 1);
    assert_eq!(report["skipped"], 1);
    let files = report["files"].as_array().expect("files");
    let paper = files
        .iter()
        .find(|f| f["file"] == "./paper.rasp")
        .expect("paper.rasp");
    assert_eq!(paper["status"], "new");
    assert!(
        paper["diff"]
            .as_str()
            .expect("diff")
            .contains("+reverse(\"hello\") = [o, l, l, e, h] (strings)")
    );
    assert!(!dir.join("__snapshots__/paper.snap.new").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_declarations_and_no_tests_are_diagnostics() {
    let dir = std::env::temp_dir().join(format!("rasp-test-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("none.rasp"), "x = tokens;\n").expect("write");
    let o = rasp_in(&dir, &["test"], None, "");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("rasp::test::path"),
        "{}",
        text(&o.stderr)
    );

    std::fs::write(
        dir.join("bad.rasp"),
        "x = tokens;\n# test: \"ab\" [1, {}]\n# test sops: x, y\n",
    )
    .expect("write");
    let o = rasp_in(&dir, &["test", "bad.rasp"], None, "");
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("rasp::test::declaration"), "{err}");
    assert!(err.contains("[1, {}]"), "the declaration is shown: {err}");
    assert!(text(&o.stdout).contains("bad.rasp ... error"));

    std::fs::write(
        dir.join("bad.rasp"),
        "x = tokens;\n# test: \"ab\"\n# test sops: x, y\n",
    )
    .expect("write");
    let o = rasp_in(&dir, &["test", "bad.rasp"], None, "");
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("names `y`, which is not defined"), "{err}");
    assert!(!dir.join("__snapshots__").exists());

    let o = rasp_in(&dir, &["test", "missing.rasp"], None, "");
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("rasp::test::path"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A program whose causal values differ from its bidirectional ones, with
/// a compile target.
const REV: &str = "# test: \"abc\" \"ab\"\n\
                   # test compile: rev vocab=abc max_len=3\n\
                   rev = aggregate(select(indices, length - indices - 1, ==), tokens);\n\
                   n = length;\n";

/// `rasp test --causal`: its own snapshot file (`NAME.causal.snap`, header
/// `semantics: causal`, pending `NAME.causal.snap.new`) beside the plain
/// one, which it never touches; causal values, causal models; `--accept`,
/// `--review` and the JSON report on the causal files; the plain run still
/// passes on its own.
#[test]
fn causal_snapshots_are_files_of_their_own() {
    let dir = std::env::temp_dir().join(format!("rasp-test-causal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("rev.rasp"), REV).expect("write");
    let snaps = dir.join("__snapshots__");
    let (plain, causal) = (snaps.join("rev.snap"), snaps.join("rev.causal.snap"));
    let pending = snaps.join("rev.causal.snap.new");
    assert!(
        rasp_in(&dir, &["test", "--accept"], None, "")
            .status
            .success()
    );
    let plain_text = std::fs::read_to_string(&plain).expect("the plain snapshot");

    // New: written as .causal.snap.new, the plain snapshot untouched.
    let o = rasp_in(&dir, &["test", "--causal"], None, "");
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("test ./rev.rasp ... new"), "{out}");
    assert!(
        out.contains("+++ ./__snapshots__/rev.causal.snap.new"),
        "{out}"
    );
    assert!(out.contains("1 tested causally: 0 passed, 1 new"), "{out}");
    assert!(
        out.contains("written as .causal.snap.new: `rasp test --causal --review`"),
        "{out}"
    );
    let new = std::fs::read_to_string(&pending).expect("pending causal snapshot");
    assert!(!causal.exists());
    assert_eq!(std::fs::read_to_string(&plain).expect("plain"), plain_text);
    for line in [
        "source: rev.rasp\ninputs: \"abc\" \"ab\"\nsemantics: causal\nrasp: ",
        "rev(\"abc\") = [a]*3 (strings)\n",
        "n(\"abc\") = [1, 2, 3] (ints)\n",
        "compile rev (vocab abc, max_len 3, causal):\n",
        "; causal semantics)",
    ] {
        assert!(new.contains(line), "{line:?} in\n{new}");
    }
    assert!(plain_text.contains("rev(\"abc\") = [c, b, a] (strings)\n"));
    assert!(!plain_text.contains("semantics"), "{plain_text}");

    // --accept: the causal snapshot, and both runs pass.
    let o = rasp_in(&dir, &["test", "--causal", "--accept"], None, "");
    assert!(o.status.success(), "{}", text(&o.stdout));
    assert!(!pending.exists());
    assert_eq!(std::fs::read_to_string(&causal).expect("causal"), new);
    for args in [&["test"][..], &["test", "--causal"]] {
        let o = rasp_in(&dir, args, Some("true"), "");
        assert!(o.status.success(), "{args:?}: {}", text(&o.stdout));
    }

    // An edit: the causal run reviews the causal file only.
    std::fs::write(
        dir.join("rev.rasp"),
        REV.replace("n = length;", "n = length + 1;"),
    )
    .expect("write");
    let o = rasp_in(&dir, &["test", "--causal", "--review"], None, "a\n");
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("-n(\"abc\") = [1, 2, 3] (ints)\n"), "{out}");
    assert!(out.contains("+n(\"abc\") = [2, 3, 4] (ints)\n"), "{out}");
    assert!(
        std::fs::read_to_string(&causal)
            .expect("causal")
            .contains("n(\"abc\") = [2, 3, 4] (ints)")
    );
    assert_eq!(std::fs::read_to_string(&plain).expect("plain"), plain_text);
    let o = rasp_in(&dir, &["test"], None, "");
    assert_eq!(
        o.status.code(),
        Some(1),
        "the plain snapshot is out of date"
    );
    assert!(snaps.join("rev.snap.new").exists());
    assert!(!pending.exists());

    // The JSON report names the causal file and the semantics.
    let o = rasp_in(&dir, &["test", "--causal", "--json"], Some("1"), "");
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    assert_eq!(report["semantics"], "causal");
    assert_eq!(report["passed"], 1);
    assert_eq!(
        report["files"][0]["snapshot"],
        "./__snapshots__/rev.causal.snap"
    );
    let o = rasp_in(&dir, &["test", "--json"], Some("1"), "");
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    assert_eq!(report["semantics"], "bidirectional");
    assert_eq!(report["files"][0]["status"], "changed");

    // A program named rev.causal.rasp would share the file with rev.rasp's
    // causal snapshot: its header tells them apart, and it is an error,
    // never an overwrite.
    std::fs::write(dir.join("rev.causal.rasp"), REV).expect("write");
    let before = std::fs::read_to_string(&causal).expect("causal");
    let o = rasp_in(&dir, &["test", "--accept", "rev.causal.rasp"], None, "");
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("rasp::test::snapshot"), "{err}");
    assert!(
        err.contains(
            "is the causal snapshot of rev.rasp, not the bidirectional one of rev.causal.rasp"
        ),
        "{err}"
    );
    assert!(text(&o.stdout).contains("rev.causal.rasp ... error"));
    assert_eq!(std::fs::read_to_string(&causal).expect("causal"), before);
    let _ = std::fs::remove_dir_all(&dir);
}
