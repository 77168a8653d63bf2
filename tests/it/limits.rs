//! Limits instead of aborts: sizes that come from the command line or a
//! program (lengths, list and string growth, value sets, the program's
//! graph, drawings, memory) are refused with `rasp::limit::*` diagnostics
//! before anything of that size is allocated, from the CLI, the REPL,
//! `rasp lsp` and the library alike. No case here may panic or die by a
//! signal; with a limit raised, what the machine cannot hold is still a
//! diagnostic.
//!
//! These tests never change a limit in this process (limits are
//! process-wide and the tests run in parallel): raised limits are given to
//! a `rasp` child with `--limit`.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use rasp::diag::limits::{self, Limit};

/// A fresh folder holding `files`.
fn folder(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rasp-limits-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp folder");
    for (file, text) in files {
        std::fs::write(dir.join(file), text).expect("write a file");
    }
    dir
}

/// `rasp ARGS` in `dir`, with stdin from `stdin`.
fn rasp_in(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rasp"))
        .args(args)
        .arg("--color=never")
        .current_dir(dir)
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rasp runs");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("write stdin");
    drop(input);
    child.wait_with_output().expect("rasp finishes")
}

/// The output of a command that must refuse with `code`: a diagnostic and
/// an ordinary failure, never a panic (101) or a signal (an abort).
fn refuses(o: &Output, code: &str) -> String {
    assert!(
        matches!(o.status.code(), Some(1 | 2)),
        "exit {:?} (a panic is 101, an abort a signal)",
        o.status
    );
    reports(o, code)
}

/// The output of a command that must report `code` (as an error or, for
/// the REPL's running example, a warning), and neither panic nor abort.
fn reports(o: &Output, code: &str) -> String {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        matches!(o.status.code(), Some(0..=2)),
        "exit {:?} (a panic is 101, an abort a signal):\n{all}",
        o.status
    );
    assert!(!all.contains("panicked"), "{all}");
    assert!(all.contains(code), "expected {code}:\n{all}");
    all
}

/// A program that doubles `x` `times` times, starting from `start`.
fn doubling(start: &str, times: usize) -> String {
    format!("x = {start};\n{}", "x = x + x;\n".repeat(times))
}

#[test]
fn gen_lengths_are_checked_before_inputs_are_made() {
    let dir = folder("gen", &[]);
    for len in ["18446744073709551615", "1000000000000", "1..10001"] {
        let o = rasp_in(
            &dir,
            &["gen", "--task", "sort", "--len", len, "-n", "1"],
            "",
        );
        let all = refuses(&o, "rasp::limit::length");
        assert!(
            all.contains("--limit length=N"),
            "the help names the option: {all}"
        );
    }
    // At the limit, it generates.
    let o = rasp_in(
        &dir,
        &["gen", "--task", "sort", "--len", "10000", "-n", "1"],
        "",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Raised, what cannot be held is still a diagnostic.
    let o = rasp_in(
        &dir,
        &[
            "gen",
            "--task",
            "sort",
            "--len",
            "1000000000000",
            "-n",
            "1",
            "--limit",
            "length=1000000000000",
        ],
        "",
    );
    refuses(&o, "rasp::limit::memory");
    let max = u64::MAX.to_string();
    let o = rasp_in(
        &dir,
        &[
            "gen",
            "--task",
            "sort",
            "--len",
            &max,
            "-n",
            "1",
            "--limit",
            &format!("length={max}"),
            "--limit",
            &format!("memory={max}"),
        ],
        "",
    );
    refuses(&o, "rasp::limit::memory");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compile_lengths_are_checked_before_value_sets() {
    let dir = folder("compile", &[("p.rasp", "r = length - indices - 1;\n")]);
    for cmd in ["compile", "verify", "explain"] {
        let mut args = vec![
            cmd,
            "p.rasp",
            "r",
            "--vocab",
            "abc",
            "--max-len",
            "4294967296",
        ];
        if cmd == "compile" {
            args.extend(["-o", "m"]);
        }
        refuses(&rasp_in(&dir, &args, ""), "rasp::limit::length");
    }
    let raised = [
        "compile",
        "p.rasp",
        "r",
        "--vocab",
        "abc",
        "--max-len",
        "4294967296",
        "-o",
        "m",
        "--limit",
        "length=4294967296",
    ];
    refuses(&rasp_in(&dir, &raised, ""), "rasp::limit::memory");
    // The REPL's commands take the same path.
    let o = rasp_in(
        &dir,
        &["repl", "p.rasp"],
        ":explain r abc 20000\n:type r abc 20000\n",
    );
    let all = String::from_utf8_lossy(&o.stderr);
    assert_eq!(all.matches("rasp::limit::length").count(), 2, "{all}");
    assert!(!dir.join("m").exists(), "nothing written");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn growing_values_are_refused_by_every_command() {
    let s_op_strings = doubling("tokens", 64);
    let programs = [
        ("list", doubling("[1]", 40)),
        ("string", doubling("\"ab\"", 64)),
        (
            "nested",
            format!("x = [1];\n{}", "x = [x, x];\n".repeat(40)),
        ),
        ("range", "x = range(10^12);\n".to_string()),
        (
            "comprehension",
            "x = [\"abcdefgh\" for i in range(200000)];\n".to_string(),
        ),
        (
            "dict",
            "x = {i: [i, i] for i in range(400000)};\n".to_string(),
        ),
        ("zip", "r = range(600000); x = zip(r, r);\n".to_string()),
        ("repeat", "x = \"ab\" * 10^12;\n".to_string()),
        (
            "return",
            "def two(v) { return v, v; }\nx = [1];\nfor i in range(40) { x = two(x); }\n"
                .to_string(),
        ),
    ];
    for (name, program) in &programs {
        let dir = folder(&format!("grow-{name}"), &[("p.rasp", program)]);
        refuses(
            &rasp_in(&dir, &["check", "p.rasp"], ""),
            "rasp::limit::size",
        );
        let all = refuses(&rasp_in(&dir, &["repl"], program), "rasp::limit::size");
        assert!(
            all.contains("over the size limit of 1000000"),
            "{name}: {all}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    // Raised, the same program is fine.
    let dir = folder("grow-raised", &[("p.rasp", "x = range(1500000);\n")]);
    refuses(
        &rasp_in(&dir, &["check", "p.rasp"], ""),
        "rasp::limit::size",
    );
    let o = rasp_in(&dir, &["check", "p.rasp", "--limit", "size=2000000"], "");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let _ = std::fs::remove_dir_all(&dir);

    // An s-op of strings doubled at each step: the interpreter (eval, run,
    // the REPL's example) and the compiler's value sets refuse it.
    let dir = folder("grow-sop", &[("p.rasp", &s_op_strings)]);
    refuses(
        &rasp_in(&dir, &["eval", "p.rasp", "x", "hello"], ""),
        "rasp::limit::size",
    );
    refuses(&rasp_in(&dir, &["run", "p.rasp"], ""), "rasp::limit::size");
    // The REPL keeps the definition and warns that its example fails.
    reports(
        &rasp_in(&dir, &["repl"], &s_op_strings),
        "rasp::limit::size",
    );
    let compile = [
        "compile",
        "p.rasp",
        "x",
        "--vocab",
        "ab",
        "--max-len",
        "4",
        "-o",
        "m",
    ];
    refuses(&rasp_in(&dir, &compile, ""), "rasp::limit::size");
    let o = rasp_in(
        &dir,
        &["eval", "p.rasp", "x", "\"a\"", "--limit", "size=100000000"],
        "",
    );
    refuses(&o, "rasp::limit::size");
    let _ = std::fs::remove_dir_all(&dir);

    // Ints overflow instead (and s-op ints too).
    let dir = folder(
        "grow-int",
        &[
            ("p.rasp", &doubling("1", 64)),
            ("q.rasp", &doubling("indices", 64)),
        ],
    );
    refuses(
        &rasp_in(&dir, &["check", "p.rasp"], ""),
        "rasp::eval::overflow",
    );
    refuses(
        &rasp_in(&dir, &["eval", "q.rasp", "x", "hello"], ""),
        "rasp::eval::overflow",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fused_maps_stay_small() {
    // Fusing `x = (x + x) % 3` 64 times would copy the expression 2^64
    // times; the compiler stops fusing and spends layers instead.
    let program = format!("x = indices;\n{}", "x = (x + x) % 3;\n".repeat(64));
    let dir = folder("fuse", &[("p.rasp", &program)]);
    let o = rasp_in(
        &dir,
        &[
            "compile",
            "p.rasp",
            "x",
            "--vocab",
            "ab",
            "--max-len",
            "4",
            "-o",
            "m",
        ],
        "",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_graph_of_a_program_is_bounded() {
    let program =
        "x = tokens;\nfor i in range(1000000) { for j in range(1000000) { x = x + \"a\"; } }\n";
    let dir = folder("graph", &[("p.rasp", program)]);
    let all = refuses(
        &rasp_in(&dir, &["check", "p.rasp", "--limit", "graph=5000"], ""),
        "rasp::limit::graph",
    );
    assert!(all.contains("over the graph limit of 5000"), "{all}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn drawings_are_bounded() {
    // Every step reads `indices`: an edge through every row above it.
    let chain = |n: usize| format!("x = indices;\n{}", "x = x + indices;\n".repeat(n));
    let dir = folder(
        "draw",
        &[("long.rasp", &chain(10_000)), ("short.rasp", &chain(20))],
    );
    for out in ["f.svg", "f.dot"] {
        let all = refuses(
            &rasp_in(&dir, &["draw", "long.rasp", "x", "-o", out], ""),
            "rasp::limit::drawing",
        );
        assert!(all.contains("--limit drawing=N"), "{all}");
    }
    let o = rasp_in(&dir, &["draw", "short.rasp", "x", "-o", "f.svg"], "");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    refuses(
        &rasp_in(
            &dir,
            &[
                "draw",
                "short.rasp",
                "x",
                "-o",
                "f.svg",
                "--limit",
                "drawing=100",
            ],
            "",
        ),
        "rasp::limit::drawing",
    );
    // The REPL's draw too.
    let o = rasp_in(&dir, &["repl", "long.rasp"], "draw(x);\n");
    refuses(&o, "rasp::limit::drawing");
    assert!(!dir.join("comp_flows").join("x.svg").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn evaluations_are_held_to_the_memory_limit() {
    let dir = folder(
        "memory",
        &[(
            "p.rasp",
            "same = select(tokens, tokens, ==);\nw = selector_width(same);\n",
        )],
    );
    let all = refuses(
        &rasp_in(
            &dir,
            &["eval", "p.rasp", "w", "hello", "--limit", "memory=100"],
            "",
        ),
        "rasp::limit::memory",
    );
    assert!(all.contains("over the memory limit of 100"), "{all}");
    // A selector's matrix on a long input: n by n.
    let long = format!("\"{}\"\n", "a".repeat(100_000));
    std::fs::write(dir.join("long.txt"), &long).expect("write the input");
    let o = rasp_in(
        &dir,
        &[
            "eval",
            "p.rasp",
            "same",
            "--max-len",
            "100000",
            "--inputs",
            "long.txt",
        ],
        "",
    );
    refuses(&o, "rasp::limit::memory");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_repl_sets_and_shows_limits() {
    let dir = folder("repl", &[]);
    let o = rasp_in(
        &dir,
        &["repl"],
        ":set limit size 10\nx = range(11);\ny = range(10);\n:set\n:set limit size x\n",
    );
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(out.contains("\tlimit size 10\n"), "{out}");
    assert!(out.contains("list: y = [0, 1"), "{out}");
    assert!(!out.contains("list: x ="), "{out}");
    assert!(err.contains("rasp::limit::size"), "{err}");
    assert!(err.contains("whole number"), "{err}");
    for l in Limit::ALL {
        assert!(out.contains(&format!("\tlimit {} ", l.name())), "{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_limit_settings_are_usage_errors() {
    let dir = folder("usage", &[]);
    for setting in ["sise=3", "size", "size=-1"] {
        let o = rasp_in(&dir, &["check", "x.rasp", "--limit", setting], "");
        assert_eq!(o.status.code(), Some(2), "{setting}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_library_is_held_to_the_same_limits() {
    let err = rasp::Program::from_source("big.rasp", "x = range(10^12);")
        .err()
        .expect("refused");
    assert_eq!(err.code, "rasp::limit::size");
    let program = rasp::Program::from_source("s.rasp", &doubling("tokens", 64)).expect("loads");
    let err = program
        .eval("x", &rasp::input("hello").expect("an input"))
        .expect_err("refused");
    assert_eq!(err.code, "rasp::limit::size");
}

/// `rasp lsp` publishes the diagnostic (and keeps serving) for a document
/// whose values grow without bound.
#[test]
fn the_language_server_reports_growth() {
    let dir = folder("lsp", &[]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_rasp"))
        .args(["lsp", "--stdio"])
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("rasp lsp starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut send = |msg: serde_json::Value| {
        let body = msg.to_string();
        write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write");
        stdin.flush().expect("flush");
    };
    let mut read = || -> serde_json::Value {
        let mut len = 0;
        loop {
            let mut line = String::new();
            stdout.read_line(&mut line).expect("a header");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                len = n.parse().expect("a length");
            }
        }
        let mut body = vec![0; len];
        stdout.read_exact(&mut body).expect("a body");
        serde_json::from_slice(&body).expect("JSON")
    };
    send(
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}),
    );
    while read()["id"] != 1 {}
    send(serde_json::json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
    let text = format!("{}{}", doubling("[1]", 40), "y = tokens;\n");
    send(
        serde_json::json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
        "textDocument": {"uri": "untitled:grow", "languageId": "rasp", "version": 1, "text": text}}}),
    );
    let diags = loop {
        let m = read();
        if m["method"] == "textDocument/publishDiagnostics" {
            break m["params"]["diagnostics"].clone();
        }
    };
    assert!(
        diags
            .as_array()
            .expect("a list")
            .iter()
            .any(|d| d["code"] == "rasp::limit::size"),
        "{diags}"
    );
    send(serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": null}));
    while read()["id"] != 2 {}
    send(serde_json::json!({"jsonrpc": "2.0", "method": "exit", "params": null}));
    assert!(child.wait().expect("exits").success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_readme_lists_every_limit() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    assert!(
        readme.contains(&limits::markdown()),
        "README.md's \"Limits\" section must hold diag::limits::markdown():\n{}",
        limits::markdown()
    );
}
