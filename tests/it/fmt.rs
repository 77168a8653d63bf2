//! `rasp fmt`: on every `.rasp` file of the repository and of the
//! conformance corpus, formatting is idempotent and changes no value; the
//! project keeps `examples/` and `stdlib/` formatted; the command line's
//! contract (in place, `--check`, standard input, syntax errors).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use rasp::front::{MVal, Session, value};
use rasp::interp::display;
use rasp::ir::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rasp` file of the repository (outside `target/`, `node_modules/`
/// and hidden folders) and of `../shared/conformance/` when it is there.
fn corpus() -> Vec<PathBuf> {
    let mut dirs = vec![root().to_path_buf()];
    let shared = root().join("../shared/conformance");
    if shared.is_dir() {
        dirs.push(shared);
    }
    let files = rasp::snapshot::collect(&dirs).expect("the corpus");
    assert!(files.len() > 40, "{} files", files.len());
    files
}

/// Every public s-op and selector of a program, on a few inputs, as the
/// original displays them (or each one's error code).
fn values(text: &str, dir: &Path) -> Vec<String> {
    let mut session = Session::new();
    let scope = session.new_scope();
    let _ = session.run_source("<fmt-test>", text, &scope, Some(dir));
    let inputs: Vec<Vec<Value>> = ["hello", "§ab(c)", "12+9"]
        .iter()
        .map(|s| s.chars().map(|c| Value::str(&c.to_string())).collect())
        .chain([vec![Value::Int(3), Value::Int(1), Value::Int(2)]])
        .collect();
    let mut out = Vec::new();
    for (name, _) in value::named_values(&scope, true) {
        let Some(MVal::Sop(id) | MVal::Sel(id)) = value::lookup(&scope, &name) else {
            continue;
        };
        for input in &inputs {
            out.push(match session.evaluate(id, input) {
                Ok(o) => display::named_output(&name, input, &o),
                Err(d) => format!("{name}: {}", d.code),
            });
        }
    }
    out
}

#[test]
fn formatting_is_idempotent_and_changes_no_value() {
    // Some programs recurse deeply (the recursion limit's tests): the big
    // stack the binary runs on.
    std::thread::Builder::new()
        .stack_size(256 * 1024 * 1024)
        .spawn(every_program)
        .expect("spawn")
        .join()
        .expect("no panic");
}

fn every_program() {
    let mut formatted = 0;
    let mut skipped = Vec::new();
    for file in corpus() {
        let Ok(text) = std::fs::read_to_string(&file) else {
            skipped.push(file);
            continue;
        };
        let out = match rasp::fmt::format(&text, 0) {
            Ok(out) => out,
            Err(ds) => {
                // Only programs with syntax errors are left alone.
                assert!(
                    ds.iter().all(|d| d.code.starts_with("rasp::parse::")),
                    "{}: {:?}",
                    file.display(),
                    ds
                );
                skipped.push(file);
                continue;
            }
        };
        let again = rasp::fmt::format(&out, 0).expect("the output formats");
        assert_eq!(again, out, "{}: not idempotent", file.display());
        let dir = file.parent().expect("a folder");
        assert_eq!(
            values(&text, dir),
            values(&out, dir),
            "{}: values changed",
            file.display()
        );
        formatted += 1;
    }
    assert!(formatted > 40, "{formatted} formatted");
    assert!(skipped.len() <= 4, "{skipped:?}");
}

fn rasp(args: &[&str], dir: &Path, stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_rasp"))
        .args(args)
        .arg("--color=never")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rasp runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write");
    child.wait_with_output().expect("rasp finishes")
}

#[test]
fn the_project_keeps_its_programs_formatted() {
    let o = rasp(&["fmt", "--check", "examples", "stdlib"], root(), "");
    assert!(
        o.status.success(),
        "run `rasp fmt examples stdlib`:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn in_place_check_and_standard_input() {
    let dir = std::env::temp_dir().join(format!("rasp-fmt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("p.rasp");
    std::fs::write(&file, "x=1; # one\ndef f(a){return a+1;}\n").expect("write");
    let want = "x = 1;  # one\ndef f(a) {\n    return a + 1;\n}\n";
    // --check: the diff, a failure, nothing written.
    let o = rasp(&["fmt", "--check", "p.rasp"], &dir, "");
    assert_eq!(o.status.code(), Some(1));
    let diff = String::from_utf8_lossy(&o.stdout);
    assert!(
        diff.contains("-x=1; # one") && diff.contains("+x = 1;  # one"),
        "{diff}"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 of 1 file(s) not formatted"));
    assert_ne!(std::fs::read_to_string(&file).expect("read"), want);
    // In place, then --check passes.
    let o = rasp(&["fmt", "p.rasp"], &dir, "");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_to_string(&file).expect("read"), want);
    assert!(rasp(&["fmt", "--check", "."], &dir, "").status.success());
    // Standard input to standard output.
    let o = rasp(&["fmt"], &dir, "y=2 ;");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "y = 2;\n");
    // A syntax error: reported, the file untouched.
    std::fs::write(&file, "x = (1;\n").expect("write");
    let o = rasp(&["fmt", "p.rasp"], &dir, "");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("rasp::parse::unexpected_token"));
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "x = (1;\n");
    let _ = std::fs::remove_dir_all(&dir);
}
