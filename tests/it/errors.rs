//! Diagnostics, end to end: every line of tests/errors/cases.txt is a `rasp`
//! command run in tests/errors/; its exit status, stdout and stderr are
//! snapshotted together. No command may panic (exit 101) or die by a signal.

use std::path::Path;
use std::process::Command;

/// Split a case line into arguments, keeping JSON values whole.
fn args(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut depth, mut in_str) = (0i32, false);
    for c in line.chars() {
        match c {
            '"' => in_str = !in_str,
            '[' | '{' if !in_str => depth += 1,
            ']' | '}' if !in_str => depth -= 1,
            ' ' if !in_str && depth == 0 => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[test]
fn error_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/errors");
    let cases = std::fs::read_to_string(dir.join("cases.txt")).expect("cases.txt");
    for (i, line) in cases
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .enumerate()
    {
        let out = Command::new(env!("CARGO_BIN_EXE_rasp"))
            .args(args(line))
            .arg("--color=never")
            .current_dir(&dir)
            .env("NO_COLOR", "1")
            .output()
            .expect("rasp runs");
        let code = out.status.code();
        assert!(
            matches!(code, Some(c) if c != 101),
            "`rasp {line}` crashed: {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let text = format!(
            "$ rasp {line}\nexit status: {}\n--- stdout\n{}--- stderr\n{}",
            code.unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let name = format!(
            "{:02}_{}",
            i + 1,
            line.split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join("_")
                .replace(".rasp", "")
        );
        insta::assert_snapshot!(name, text);
    }
}
