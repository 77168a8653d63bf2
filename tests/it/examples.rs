//! Snapshot tests of the programs in examples/: every case in
//! tests/examples.txt is evaluated and shown as input and output together.

use std::fmt::Write;
use std::path::Path;

use rasp::cli::{display_output, parse_input};
use rasp::front::{MVal, Session, value::lookup};

fn run_case(file: &str, sop: &str, inputs: &[&str]) -> String {
    let mut session = Session::new();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(file);
    let (scope, result) = session.run_path(&path).expect("example file reads");
    assert!(
        result.diags.is_empty(),
        "{file} has diagnostics: {:?}",
        result.diags
    );
    let node = match lookup(&scope, sop) {
        Some(MVal::Sop(id) | MVal::Sel(id)) => id,
        other => panic!("{file}: {sop} is not an s-op: {other:?}"),
    };
    let mut out = String::new();
    for text in inputs {
        let (_, input) = parse_input(text).expect("case input parses");
        match session.evaluate(node, &input) {
            Ok(o) => writeln!(out, "{}", display_output(sop, &input, &o)).unwrap(),
            Err(d) => writeln!(out, "{sop}({text}) -> error {}: {}", d.code, d.message).unwrap(),
        }
    }
    out
}

/// Split a case line into words, keeping JSON strings and lists whole.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut depth, mut in_str) = (0i32, false);
    for c in line.chars() {
        match c {
            '"' => in_str = !in_str,
            '[' if !in_str => depth += 1,
            ']' if !in_str => depth -= 1,
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
fn examples() {
    let cases = include_str!("../examples.txt");
    let mut by_file: Vec<(String, String)> = Vec::new();
    for line in cases.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let w = words(line);
        let inputs: Vec<&str> = w[2..].iter().map(String::as_str).collect();
        let text = run_case(&w[0], &w[1], &inputs);
        match by_file.iter_mut().find(|(f, _)| *f == w[0]) {
            Some((_, acc)) => acc.push_str(&text),
            None => by_file.push((w[0].clone(), text)),
        }
    }
    for (file, text) in by_file {
        insta::assert_snapshot!(file.trim_end_matches(".rasp"), text);
    }
}
