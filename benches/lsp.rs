//! The language server on a 100,000-line document, as an editor sees it
//! (the `rasp lsp` process, over pipes): hover, definition and completion
//! each sent right after a change of the document, so they are answered
//! from the latest finished analysis while the next one runs; the
//! analysis itself (a change until its diagnostics); and "did you mean"
//! on two similar 100,000-character names.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// The latest version whose diagnostics came.
    published: i64,
}

impl Server {
    fn start() -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rasp"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("rasp lsp starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Server {
            child,
            stdin,
            stdout,
            published: 0,
        }
    }

    fn send(&mut self, msg: &Value) {
        let body = msg.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write");
        self.stdin.flush().expect("flush");
    }

    fn read(&mut self) -> Value {
        let mut len = 0;
        loop {
            let mut line = String::new();
            self.stdout.read_line(&mut line).expect("a header");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                len = n.parse().expect("a length");
            }
        }
        let mut body = vec![0; len];
        self.stdout.read_exact(&mut body).expect("a body");
        let m: Value = serde_json::from_slice(&body).expect("JSON");
        if m["method"] == "textDocument/publishDiagnostics" {
            let v = m["params"]["version"].as_i64().unwrap_or(0);
            self.published = self.published.max(v);
        }
        m
    }

    /// The response to `id` (notifications skipped).
    fn response(&mut self, id: u64) -> Value {
        loop {
            let m = self.read();
            if m["id"] == id && m.get("method").is_none() {
                return m;
            }
        }
    }

    /// Wait until the diagnostics of `version` (or a later one) came.
    fn diagnostics(&mut self, version: i64) {
        while self.published < version {
            self.read();
        }
    }
}

const URI: &str = "untitled:bench";

fn change(s: &mut Server, text: &str, version: i64) {
    s.send(
        &json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": {"uri": URI, "version": version},
            "contentChanges": [{"text": format!("{text}# version {version}\n")}],
        }}),
    );
}

fn requests(c: &mut Criterion) {
    let text: String = (0..100_000)
        .map(|i| format!("x{i} = indices + {i};\n"))
        .collect();
    let mut s = Server::start();
    s.send(
        &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"capabilities": {}}}),
    );
    s.response(0);
    s.send(
        &json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
            "textDocument": {"uri": URI, "languageId": "rasp", "version": 1, "text": text},
        }}),
    );
    let d = loop {
        let m = s.read();
        if m["method"] == "textDocument/publishDiagnostics" {
            break m;
        }
    };
    assert_eq!(
        d["params"]["diagnostics"],
        json!([]),
        "the document analyses cleanly"
    );
    let mut version = 1;
    let mut id = 0;

    let mut g = c.benchmark_group("lsp_100k_lines");
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(10));
    let position =
        json!({"textDocument": {"uri": URI}, "position": {"line": 99_999, "character": 1}});
    for (name, method) in [
        ("hover_during_analysis", "textDocument/hover"),
        ("definition_during_analysis", "textDocument/definition"),
        ("completion_during_analysis", "textDocument/completion"),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    version += 1;
                    change(&mut s, &text, version);
                    id += 1;
                    let start = Instant::now();
                    s.send(
                        &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": position}),
                    );
                    let r = s.response(id);
                    total += start.elapsed();
                    assert!(r.get("result").is_some(), "{name}: {r}");
                }
                total
            })
        });
    }
    g.finish();

    // How far diagnostics lag: a change until its own diagnostics (the
    // analysis of 100,000 lines, once those queued before it are done).
    let mut g = c.benchmark_group("lsp_100k_lines");
    g.sample_size(10);
    g.bench_function("analysis", |b| {
        b.iter_custom(|iters| {
            s.diagnostics(version);
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                version += 1;
                let start = Instant::now();
                change(&mut s, &text, version);
                s.diagnostics(version);
                total += start.elapsed();
            }
            total
        })
    });
    g.finish();
    s.send(&json!({"jsonrpc": "2.0", "id": 999_999_999, "method": "shutdown"}));
    s.response(999_999_999);
    s.send(&json!({"jsonrpc": "2.0", "method": "exit"}));
    let status = s.child.wait().expect("exits");
    assert!(status.success());
}

fn suggest(c: &mut Criterion) {
    let long = |c: &str| "n".repeat(50_000) + c + &"m".repeat(49_999);
    let (name, candidates) = (long("y"), vec![long("x"), "tokens".to_string()]);
    let mut g = c.benchmark_group("suggest");
    g.bench_function("two_100k_char_names", |b| {
        b.iter(|| rasp::front::suggest(&name, &candidates))
    });
    g.finish();
}

criterion_group!(benches, requests, suggest);
criterion_main!(benches);
