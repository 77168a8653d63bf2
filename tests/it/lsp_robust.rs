//! The language server keeps its client: `rasp lsp` driven over pipes with
//! what a careless or hostile client sends. A body that is no JSON-RPC
//! message gets the protocol's error response; lost framing (bad or huge
//! lengths, LF-only headers, garbage) is found again at the next header
//! or ends the server with status 1 and a message; shutdown and exit
//! follow the protocol; requests are answered from the latest finished
//! analysis while a new one runs; a closed standard output ends it
//! cleanly; and a seeded fuzz run of random and mutated frames leaves it
//! serving, with no panic.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Value, json};

/// How long a response may take before the test calls the server hung
/// (a guard against hanging the test run, not a measure of speed).
const HUNG: Duration = Duration::from_secs(120);

fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    f.extend_from_slice(body);
    f
}

/// `rasp lsp` over pipes: frames written raw, every frame it writes read
/// (strictly) on a thread, standard error collected.
struct Lsp {
    child: Child,
    stdin: Option<ChildStdin>,
    frames: Receiver<Value>,
    stderr: Option<JoinHandle<String>>,
    /// Messages received while waiting for others.
    seen: Vec<Value>,
    cache: PathBuf,
}

impl Lsp {
    fn start(args: &[&str]) -> Lsp {
        Lsp::start_reading(args, true)
    }

    /// Started; `read`: its output is read (else its end is closed).
    fn start_reading(args: &[&str], read: bool) -> Lsp {
        let cache = std::env::temp_dir().join(format!(
            "rasp-lsp-robust-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let mut child = Command::new(env!("CARGO_BIN_EXE_rasp"))
            .arg("lsp")
            .args(args)
            .env("XDG_CACHE_HOME", &cache)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rasp lsp starts");
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut stderr = child.stderr.take().expect("stderr");
        let (tx, frames) = mpsc::channel();
        if read {
            std::thread::spawn(move || {
                while let Some(v) = read_frame(&mut stdout) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
            });
        }
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        Lsp {
            child,
            stdin,
            frames,
            stderr: Some(stderr),
            seen: Vec::new(),
            cache,
        }
    }

    /// Started and initialized.
    fn ready(args: &[&str]) -> Lsp {
        let mut s = Lsp::start(args);
        s.send(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"capabilities": {}}}));
        assert!(s.response(&json!(0))["result"]["capabilities"].is_object());
        s.send(&json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
        s
    }

    /// Write bytes (false: the server no longer reads).
    fn raw(&mut self, bytes: &[u8]) -> bool {
        let Some(stdin) = self.stdin.as_mut() else {
            return false;
        };
        stdin.write_all(bytes).and_then(|()| stdin.flush()).is_ok()
    }

    fn send(&mut self, msg: &Value) {
        assert!(
            self.raw(&frame(msg.to_string().as_bytes())),
            "the server reads"
        );
    }

    fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.response(&json!(id))
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The next message that `pick` accepts (the others are kept).
    fn wait(&mut self, what: &str, pick: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.seen.iter().position(&pick) {
            return self.seen.remove(i);
        }
        loop {
            match self.frames.recv_timeout(HUNG) {
                Ok(m) if pick(&m) => return m,
                Ok(m) => self.seen.push(m),
                Err(e) => {
                    let _ = self.child.kill();
                    let status = self.child.wait().ok();
                    let err = self.stderr.take().map(|h| h.join().unwrap_or_default());
                    panic!("waiting for {what}: {e:?}; the server: {status:?}; stderr: {err:?}")
                }
            }
        }
    }

    fn response(&mut self, id: &Value) -> Value {
        self.wait(&format!("the response to {id}"), |m| {
            &m["id"] == id && m.get("method").is_none()
        })
    }

    fn note(&mut self, method: &str) -> Value {
        self.wait(method, |m| m["method"] == method)["params"].clone()
    }

    /// Close its input; its exit status and standard error.
    fn finish(mut self) -> (ExitStatus, String) {
        self.stdin = None;
        let status = self.child.wait().expect("exits");
        let err = self
            .stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        let _ = std::fs::remove_dir_all(&self.cache);
        assert!(!err.contains("panicked"), "rasp lsp panicked: {err}");
        (status, err)
    }

    /// `shutdown` then `exit`: status 0.
    fn stop(mut self) -> String {
        let r = self.request(999_999, "shutdown", Value::Null);
        assert_eq!(r["result"], Value::Null, "{r}");
        self.notify("exit", Value::Null);
        let (status, err) = self.finish();
        assert_eq!(status.code(), Some(0), "{err}");
        err
    }
}

static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// One frame of the server's output; `None` at its end. A malformed frame
/// fails the test: the server's own output must be exact.
fn read_frame(r: &mut impl BufRead) -> Option<Value> {
    let mut len = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        assert!(
            line.ends_with("\r\n"),
            "a header line ends in CRLF: {line:?}"
        );
        let line = line.trim_end_matches("\r\n");
        if line.is_empty() {
            break;
        }
        let n = line
            .strip_prefix("Content-Length: ")
            .expect("only Content-Length");
        len = Some(n.parse::<usize>().expect("a length"));
    }
    let mut body = vec![0; len.expect("a length")];
    r.read_exact(&mut body).ok()?;
    Some(serde_json::from_slice(&body).expect("the server writes JSON"))
}

/// A request the server answers with `MethodNotFound`, to see that it
/// reads the next frame.
fn ping(id: &str) -> Vec<u8> {
    frame(
        json!({"jsonrpc": "2.0", "id": id, "method": "rasp/ping"})
            .to_string()
            .as_bytes(),
    )
}

fn assert_pong(s: &mut Lsp, id: &str) {
    let r = s.response(&json!(id));
    assert_eq!(r["error"]["code"], -32601, "{r}");
}

#[test]
fn bodies_that_are_no_json_rpc_get_the_protocols_errors() {
    let mut s = Lsp::ready(&[]);
    // (body, error code, id answered)
    let cases: Vec<(Vec<u8>, i64, Value)> = vec![
        (b"{not json".to_vec(), -32700, Value::Null),
        (b"".to_vec(), -32700, Value::Null),
        (b"\xff\xfe\x00garbage".to_vec(), -32700, Value::Null),
        (
            b"{\"id\": 1, \"method\": \"x\"".to_vec(),
            -32700,
            Value::Null,
        ),
        (b"[]".to_vec(), -32600, Value::Null),
        (b"5".to_vec(), -32600, Value::Null),
        (b"{}".to_vec(), -32600, Value::Null),
        (b"null".to_vec(), -32600, Value::Null),
        (
            b"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"shutdown\"}]".to_vec(),
            -32600,
            Value::Null,
        ),
        (
            b"{\"jsonrpc\":\"2.0\",\"id\":41,\"method\":7}".to_vec(),
            -32600,
            json!(41),
        ),
        (
            b"{\"jsonrpc\":\"2.0\",\"id\":\"s\"}".to_vec(),
            -32600,
            json!("s"),
        ),
        (
            b"{\"jsonrpc\":\"1.0\",\"id\":42,\"method\":\"shutdown\"}".to_vec(),
            -32600,
            json!(42),
        ),
        (
            b"{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"shutdown\"}".to_vec(),
            -32600,
            Value::Null,
        ),
        (
            b"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"shutdown\"}".to_vec(),
            -32600,
            Value::Null,
        ),
        // Deeply nested: JSON, but no message.
        (
            [b"[".repeat(100_000), b"]".repeat(100_000)].concat(),
            -32600,
            Value::Null,
        ),
        (
            [
                &b"{\"x\":"[..],
                &b"[".repeat(100_000),
                &b"]".repeat(100_000),
                b"}",
            ]
            .concat(),
            -32600,
            Value::Null,
        ),
    ];
    for (i, (body, code, id)) in cases.into_iter().enumerate() {
        assert!(s.raw(&frame(&body)));
        let r = s.wait("an error response", |m| m.get("error").is_some());
        let shown = String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned();
        assert_eq!(r["error"]["code"], code, "{shown}: {r}");
        assert_eq!(r["id"], id, "{shown}: {r}");
        // Still serving.
        let p = format!("after-{i}");
        s.raw(&ping(&p));
        assert_pong(&mut s, &p);
    }
    // Parameters of the wrong shape: the request's own error.
    let r = s.request(50, "textDocument/hover", json!({"textDocument": 5}));
    assert_eq!(r["error"]["code"], -32602, "{r}");
    let deep = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":52,\"method\":\"textDocument/hover\",\"params\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(s.raw(&frame(deep.as_bytes())));
    assert_eq!(s.response(&json!(52))["error"]["code"], -32602);
    let r = s.request(51, "textDocument/hover", json!({"textDocument": {"uri": "file:///nowhere.rasp"}, "position": {"line": 0, "character": 0}}));
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .expect("m")
            .contains("not open")
    );
    // Responses from the client are ignored; bad notifications too.
    s.send(&json!({"jsonrpc": "2.0", "id": 77, "result": {}}));
    s.notify("textDocument/didOpen", json!({"textDocument": 3}));
    s.raw(&ping("last"));
    assert_pong(&mut s, "last");
    s.stop();
}

#[test]
fn lost_framing_is_found_again_at_the_next_header() {
    let mut s = Lsp::ready(&["--max-message-bytes", "1000000"]);
    let body = json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}).to_string();
    let n = body.len();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "LF-only header",
            format!("Content-Length: {n}\n\n{body}").into_bytes(),
        ),
        (
            "CR-only header",
            format!("Content-Length: {n}\r\r{body}").into_bytes(),
        ),
        (
            "no blank line",
            format!("Content-Length: {n}\r\n{body}").into_bytes(),
        ),
        (
            "not a number",
            format!("Content-Length: abc\r\n\r\n{body}").into_bytes(),
        ),
        (
            "negative",
            format!("Content-Length: -{n}\r\n\r\n{body}").into_bytes(),
        ),
        (
            "empty length",
            format!("Content-Length: \r\n\r\n{body}").into_bytes(),
        ),
        (
            "a float",
            format!("Content-Length: {n}.0\r\n\r\n{body}").into_bytes(),
        ),
        (
            "hex",
            format!("Content-Length: 0x{n:x}\r\n\r\n{body}").into_bytes(),
        ),
        (
            "no length",
            format!("Content-Type: application/vscode-jsonrpc\r\n\r\n{body}").into_bytes(),
        ),
        (
            "an unknown header",
            format!("X-Rasp: 1\r\n\r\n{body}").into_bytes(),
        ),
        ("garbage", b"hello there\r\n".to_vec()),
        ("garbage without a line end", b"@@@@@".to_vec()),
        ("binary garbage", vec![0, 255, 13, 10, 13, 10, 7]),
        ("a bare blank line", b"\r\n".to_vec()),
        ("a long header line", vec![b'x'; 10_000]),
        (
            "u64::MAX",
            format!("Content-Length: 18446744073709551615\r\n\r\n{body}").into_bytes(),
        ),
        (
            "1e18",
            format!("Content-Length: 1000000000000000000\r\n\r\n{body}").into_bytes(),
        ),
        (
            "over u64",
            format!("Content-Length: 99999999999999999999999999\r\n\r\n{body}").into_bytes(),
        ),
        (
            "over the limit",
            format!("Content-Length: 1000001\r\n\r\n{body}").into_bytes(),
        ),
    ];
    for (i, (what, bytes)) in cases.iter().enumerate() {
        assert!(s.raw(bytes), "{what}");
        let p = format!("ping-{i}");
        assert!(s.raw(&ping(&p)), "{what}");
        assert_pong(&mut s, &p);
        // The client is told (the limit, where the user can act, shown).
        let told = s.wait(what, |m| {
            m["method"] == "window/logMessage" || m["method"] == "window/showMessage"
        });
        let text = told["params"]["message"].as_str().expect("message");
        assert!(text.contains("lost the message framing"), "{what}: {text}");
        let limit = ["u64::MAX", "1e18", "over u64", "over the limit"].contains(what);
        assert_eq!(
            text.contains("rasp::limit::message"),
            limit,
            "{what}: {text}"
        );
        assert_eq!(told["method"] == "window/showMessage", limit, "{what}");
    }
    // Frames that are intact in other ways: a Content-Type, any case.
    let ok = format!(
        "content-length: {n}\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{body}"
    );
    assert!(s.raw(ok.as_bytes()));
    assert!(s.raw(&ping("intact")));
    assert_pong(&mut s, "intact");
    assert!(
        s.seen.iter().all(|m| m["method"] != "window/logMessage"),
        "{:?}",
        s.seen
    );
    let err = s.stop();
    assert_eq!(
        err.matches("lost the message framing").count(),
        cases.len(),
        "{err}"
    );
}

#[test]
fn framing_lost_for_good_ends_with_status_1_and_a_message() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "the input ends inside a body",
            b"Content-Length: 50\r\n\r\n{\"jsonrpc\"".to_vec(),
            "into a message of 50 bytes",
        ),
        (
            "inside a header",
            b"Content-Length: 50\r\n".to_vec(),
            "inside a header",
        ),
        (
            "no header after a lost one",
            b"Content-Length: 5\n\n{}".to_vec(),
            "ended before another header",
        ),
        (
            "u64::MAX and nothing after",
            b"Content-Length: 18446744073709551615\r\n\r\n".to_vec(),
            "rasp::limit::message",
        ),
        (
            "1e18 and nothing after",
            b"Content-Length: 1000000000000000000\r\n\r\n{}".to_vec(),
            "rasp::limit::message",
        ),
        (
            "garbage past the scan",
            vec![b'z'; 6000],
            "no Content-Length header in the next",
        ),
    ];
    for (what, bytes, says) in cases {
        let mut s = Lsp::start(&["--max-message-bytes", "100"]);
        s.raw(&bytes);
        let (status, err) = s.finish();
        assert_eq!(status.code(), Some(1), "{what}: {err}");
        assert!(err.contains(says), "{what}: {err}");
    }
    // The input simply ends: no shutdown, so status 1, and said.
    let s = Lsp::ready(&[]);
    let (status, err) = s.finish();
    assert_eq!(status.code(), Some(1));
    assert!(err.contains("without `shutdown`"), "{err}");
}

#[test]
fn shutdown_and_exit_follow_the_protocol() {
    // Before initialize: requests are refused, `initialize` answered once.
    let mut s = Lsp::start(&[]);
    let r = s.request(1, "textDocument/hover", json!({}));
    assert_eq!(r["error"]["code"], -32002, "{r}");
    let r = s.request(2, "initialize", json!({"capabilities": {}}));
    assert!(r["result"]["capabilities"].is_object());
    let r = s.request(3, "initialize", json!({"capabilities": {}}));
    assert_eq!(r["error"]["code"], -32600, "{r}");
    // Exit without shutdown: status 1.
    s.notify("exit", Value::Null);
    let (status, err) = s.finish();
    assert_eq!(status.code(), Some(1));
    assert!(err.contains("without `shutdown`"), "{err}");

    // After shutdown: requests get InvalidRequest, notifications are
    // ignored, exit gives 0.
    let mut s = Lsp::ready(&[]);
    assert_eq!(s.request(1, "shutdown", Value::Null)["result"], Value::Null);
    let r = s.request(2, "textDocument/hover", json!({}));
    assert_eq!(r["error"]["code"], -32600, "{r}");
    let r = s.request(3, "shutdown", Value::Null);
    assert_eq!(r["error"]["code"], -32600, "{r}");
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": "untitled:a", "languageId": "rasp", "version": 1, "text": "x = nope;"}}),
    );
    let r = s.request(4, "rasp/anything", json!({}));
    assert_eq!(r["error"]["code"], -32600, "{r}");
    assert!(
        s.seen
            .iter()
            .all(|m| m["method"] != "textDocument/publishDiagnostics"),
        "{:?}",
        s.seen
    );
    s.notify("exit", Value::Null);
    let (status, _) = s.finish();
    assert_eq!(status.code(), Some(0));

    // Exit before initialize: 1.
    let mut s = Lsp::start(&[]);
    s.notify("exit", Value::Null);
    assert_eq!(s.finish().0.code(), Some(1));
}

#[test]
fn a_closed_output_ends_the_server_cleanly() {
    // The client does not read: its end of the pipe is closed.
    let mut s = Lsp::start_reading(&[], false);
    s.send(
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}),
    );
    for i in 0..1000 {
        if !s.raw(&ping(&format!("p{i}"))) {
            break;
        }
    }
    let (status, err) = s.finish();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("cannot write to the client"), "{err}");
}

fn open(s: &mut Lsp, uri: &str, version: i64, text: &str) {
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "rasp", "version": version, "text": text}}),
    );
}

fn change(uri: &str, version: i64, text: &str) -> Vec<u8> {
    frame(
        json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}})
            .to_string()
            .as_bytes(),
    )
}

fn req(id: u64, method: &str, params: Value) -> Vec<u8> {
    frame(
        json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
            .to_string()
            .as_bytes(),
    )
}

fn at(uri: &str, line: u32, character: u32) -> Value {
    json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
}

/// A new analysis runs in the background: hover, definition and completion
/// are answered from the latest finished one meanwhile; a rename and
/// formatting wait for (or use) the latest text; the diagnostics follow.
#[test]
fn requests_are_answered_while_an_analysis_runs() {
    let mut s = Lsp::ready(&[]);
    let uri = "untitled:busy";
    open(&mut s, uri, 1, "old = tokens;\nuse = old;\n");
    let d = s.note("textDocument/publishDiagnostics");
    assert_eq!(d["version"], 1);
    // A change whose analysis runs until the time limit (5 s), and in the
    // same write, requests: they are answered from version 1.
    let endless = "old = 1;\nfor i in range(1000000) { for j in range(1000000) { x = i + j; } }\nnew = old;\n";
    let mut batch = change(uri, 2, endless);
    batch.extend(req(10, "textDocument/hover", at(uri, 0, 1)));
    batch.extend(req(11, "textDocument/definition", at(uri, 1, 7)));
    batch.extend(req(12, "textDocument/completion", at(uri, 1, 0)));
    assert!(s.raw(&batch));
    let h = s.response(&json!(10));
    assert!(
        h["result"]["contents"]["value"]
            .as_str()
            .expect("md")
            .contains("**s-op** `old`"),
        "{h}"
    );
    let d = s.response(&json!(11));
    assert_eq!(
        d["result"]["range"]["start"],
        json!({"line": 0, "character": 0}),
        "{d}"
    );
    let c = s.response(&json!(12));
    assert!(
        c["result"]
            .as_array()
            .expect("items")
            .iter()
            .any(|i| i["label"] == "use"),
        "{c}"
    );
    assert!(
        s.seen
            .iter()
            .all(|m| m["method"] != "textDocument/publishDiagnostics"),
        "version 2 is still being analysed"
    );
    // Version 2's diagnostics come once its run is interrupted.
    let d = s.note("textDocument/publishDiagnostics");
    assert_eq!(d["version"], 2);
    assert_eq!(d["diagnostics"][0]["code"], "rasp::interrupted", "{d}");

    // A rename is computed on the text it edits: sent with a change, it
    // sees the change.
    let mut batch = change(uri, 3, "alpha = 1;\nbeta = alpha + alpha;\n");
    batch.extend(req(13, "textDocument/rename", json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 1}, "newName": "gamma"})));
    batch.extend(change(uri, 4, "alpha  =  1;\nbeta = alpha;\n"));
    batch.extend(req(
        14,
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": true}}),
    ));
    assert!(s.raw(&batch));
    let r = s.response(&json!(13));
    let edits = r["result"]["changes"][uri].as_array().expect("edits");
    assert_eq!(edits.len(), 3, "{r}");
    let f = s.response(&json!(14));
    assert_eq!(
        f["result"][0]["newText"], "alpha = 1;\nbeta = alpha;\n",
        "{f}"
    );
    s.stop();
}

/// Huge inputs stay inside the time limit and the server answers: a
/// 100,000-line document, a `load` diamond 26 levels deep (2^26 runs of
/// its files), two similar 100,000-character names ("did you mean").
#[test]
fn huge_documents_loads_and_names_are_analysed_within_the_limit() {
    let dir = std::env::temp_dir().join(format!("rasp-lsp-huge-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let levels = 26;
    for i in 0..levels {
        for side in ["a", "b"] {
            let text = format!(
                "load \"a{}\";\nload \"b{}\";\n{side}{i} = 1;\n",
                i + 1,
                i + 1
            );
            std::fs::write(dir.join(format!("{side}{i}.rasp")), text).expect("write");
        }
    }
    std::fs::write(dir.join(format!("a{levels}.rasp")), "z = 1;\n").expect("write");
    std::fs::write(dir.join(format!("b{levels}.rasp")), "z = 2;\n").expect("write");
    let diamond = dir.join("top.rasp");
    std::fs::write(&diamond, "load \"a0\";\nmine = z;\n").expect("write");

    let mut s = Lsp::ready(&[]);
    let uri = format!("file://{}", diamond.display());
    open(&mut s, &uri, 1, "load \"a0\";\nmine = z;\n");
    let d = s.note("textDocument/publishDiagnostics");
    assert_eq!(d["diagnostics"][0]["code"], "rasp::interrupted", "{d}");

    let long = |c: &str| "n".repeat(50_000) + c + &"m".repeat(49_999);
    let names = format!("{} = 1;\nz = {};\n", long("x"), long("y"));
    open(&mut s, "untitled:names", 1, &names);
    let d = s.note("textDocument/publishDiagnostics");
    assert_eq!(d["uri"], "untitled:names");
    let message = d["diagnostics"][0]["message"].as_str().expect("message");
    assert!(
        message.contains("did you mean"),
        "{}",
        &message[..200.min(message.len())]
    );

    let big: String = (0..100_000)
        .map(|i| format!("x{i} = tokens + {};\n", i % 7))
        .collect();
    open(&mut s, "untitled:big", 1, &big);
    let d = s.note("textDocument/publishDiagnostics");
    assert_eq!(d["uri"], "untitled:big");
    assert_eq!(d["diagnostics"], json!([]));
    let h = s.request(5, "textDocument/hover", at("untitled:big", 99_999, 1));
    assert!(
        h["result"]["contents"]["value"]
            .as_str()
            .expect("md")
            .contains("x99999"),
        "{h}"
    );
    let sym = s.request(
        6,
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": "untitled:big"}}),
    );
    assert_eq!(sym["result"].as_array().expect("symbols").len(), 100_000);
    // Completion lists the document's names that start with the word
    // typed (`x9` here), at most 1,000 of them, as an incomplete list.
    let c = s.request(7, "textDocument/completion", at("untitled:big", 99_999, 2));
    assert_eq!(
        c["result"]["isIncomplete"],
        true,
        "{}",
        &c.to_string()[..200]
    );
    let items = c["result"]["items"].as_array().expect("items");
    let own: Vec<&str> = items
        .iter()
        .filter(|i| i["detail"] == "s-op")
        .filter_map(|i| i["label"].as_str())
        .collect();
    assert_eq!(own.len(), 1000);
    assert!(own.iter().all(|l| l.starts_with("x9")), "{own:?}");
    assert!(
        items.iter().any(|i| i["label"] == "select("),
        "keywords too"
    );
    s.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A small, seeded random source (SplitMix64), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

const URIS: [&str; 3] = [
    "untitled:f1",
    "untitled:f2",
    "file:///nonexistent/rasp-fuzz/f3.rasp",
];

const TEXTS: [&str; 6] = [
    "x = tokens;\ny = x + 1;\n",
    "def f(a) {\n  b = a + g;\n  return b;\n}\ng = 2;\nz = f(1);\n",
    "hist = selector_width(select(tokens, tokens, ==));\n",
    "load \"nowhere\";\nq = undefined_thing;\n",
    "l = [i * 2 for i in range(5)];\nd = {\"a\": 1};\nw = l[1];\n",
    "set example \"abc\"\nr = aggregate(select(indices, length - indices - 1, ==), tokens);\n",
];

/// A message an editor might send, with random positions and texts.
fn message(r: &mut Rng, id: &str) -> Value {
    let uri = *r.pick(&URIS);
    let base = *r.pick(&TEXTS);
    let text = mutate_text(r, base);
    let pos = json!({"line": r.below(8), "character": r.below(40)});
    let td = json!({"uri": uri});
    let tdp = json!({"textDocument": td, "position": pos});
    let (method, params, request) = match r.below(16) {
        0 => (
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "rasp", "version": r.below(100), "text": text}}),
            false,
        ),
        1 | 2 => (
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": r.below(100)}, "contentChanges": [{"text": text}]}),
            false,
        ),
        3 => ("textDocument/didClose", json!({"textDocument": td}), false),
        4 => ("textDocument/hover", tdp, true),
        5 => ("textDocument/definition", tdp, true),
        6 => ("textDocument/completion", tdp, true),
        7 => (
            "textDocument/references",
            json!({"textDocument": td, "position": pos, "context": {"includeDeclaration": r.below(2) == 0}}),
            true,
        ),
        8 => (
            "textDocument/rename",
            json!({"textDocument": td, "position": pos, "newName": *r.pick(&["renamed", "x", "select", "9bad", ""])}),
            true,
        ),
        9 => ("textDocument/prepareRename", tdp, true),
        10 => (
            "textDocument/documentSymbol",
            json!({"textDocument": td}),
            true,
        ),
        11 => (
            "textDocument/formatting",
            json!({"textDocument": td, "options": {"tabSize": 4, "insertSpaces": true}}),
            true,
        ),
        12 => ("textDocument/codeLens", json!({"textDocument": td}), true),
        13 => (
            "workspace/executeCommand",
            json!({"command": "rasp.verify", "arguments": [uri, "y", "[1,2]", r.below(4)]}),
            true,
        ),
        14 => ("initialize", json!({"capabilities": {}}), true),
        _ => ("$/cancelRequest", json!({"id": r.below(100)}), false),
    };
    if request {
        json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
    } else {
        json!({"jsonrpc": "2.0", "method": method, "params": params})
    }
}

fn mutate_text(r: &mut Rng, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..r.below(4) {
        let i = r.below(chars.len() + 1);
        match r.below(3) {
            0 if i < chars.len() => {
                chars.remove(i);
            }
            1 => chars.insert(
                i,
                *r.pick(&['(', '"', '{', ';', 'x', '\n', '§', '😀', '\r', '9']),
            ),
            _ if i < chars.len() => chars[i] = *r.pick(&['[', '}', '=', ' ', 'é']),
            _ => {}
        }
    }
    chars.into_iter().collect()
}

/// A random JSON value, to put in place of one of a message's.
fn weird(r: &mut Rng) -> Value {
    match r.below(10) {
        0 => Value::Null,
        1 => json!(-1),
        2 => json!(u64::MAX),
        3 => json!(4_294_967_296_u64),
        4 => json!(1.5e300),
        5 => json!("\u{0}\u{fffd}😀"),
        6 => json!([]),
        7 => json!({}),
        8 => json!(true),
        _ => json!([[[[{"a": [null]}]]]]),
    }
}

/// Replace a random node of `v` by a weird value.
fn mutate_tree(r: &mut Rng, v: &mut Value, depth: usize) {
    let children = match v {
        Value::Object(m) => m.len(),
        Value::Array(a) => a.len(),
        _ => 0,
    };
    if children == 0 || depth > 6 || r.below(3) == 0 {
        *v = weird(r);
        return;
    }
    let i = r.below(children);
    match v {
        Value::Object(m) => {
            if let Some((_, child)) = m.iter_mut().nth(i) {
                mutate_tree(r, child, depth + 1);
            }
        }
        Value::Array(a) => mutate_tree(r, &mut a[i], depth + 1),
        _ => {}
    }
}

/// Flip, delete, insert or duplicate bytes.
fn mutate_bytes(r: &mut Rng, b: &mut Vec<u8>) {
    for _ in 0..1 + r.below(4) {
        let i = r.below(b.len() + 1);
        match r.below(4) {
            0 if i < b.len() => b[i] ^= 1 << r.below(8),
            1 if i < b.len() => {
                let end = (i + 1 + r.below(16)).min(b.len());
                b.drain(i..end);
            }
            2 => b.insert(i, r.next() as u8),
            _ => {
                let end = (i + r.below(8)).min(b.len());
                let chunk = b[i..end].to_vec();
                b.splice(i..i, chunk);
            }
        }
    }
}

/// What the fuzz run counts.
#[derive(Debug, Default)]
struct Tally {
    messages: usize,
    intact: usize,
    tree_mutated: usize,
    byte_mutated: usize,
    framing_mutated: usize,
    intact_requests: usize,
    responses: usize,
    errors_by_code: HashMap<i64, usize>,
}

/// Random and mutated JSON-RPC frames through the real server: it never
/// stops (every ping after a message is answered), never panics, answers
/// every intact request once, and exits 0 after shutdown and exit.
/// `RASP_LSP_FUZZ_MESSAGES` sets the count (default 10,000, a few
/// seconds) and `RASP_LSP_FUZZ_SEED` the seed (default 16).
#[test]
fn fuzzed_frames_never_stop_the_server() {
    let count: usize = std::env::var("RASP_LSP_FUZZ_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let seed: u64 = std::env::var("RASP_LSP_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let mut r = Rng(seed);
    let mut s = Lsp::ready(&["--max-message-bytes", "100000"]);
    let mut t = Tally::default();
    // Intact requests: each must be answered exactly once.
    // (Ids carry a random part, so that a mutated id is never another
    // message's.)
    let mut intact_ids: HashSet<String> = HashSet::new();
    let mut answered: HashSet<String> = HashSet::new();
    for n in 0..count {
        let id = format!("m{n}-{:08x}", r.next() as u32);
        let msg = message(&mut r, &id);
        let mut body = msg.to_string().into_bytes();
        let kind = r.below(10);
        match kind {
            0..=4 => t.intact += 1,
            5 | 6 => {
                let mut m = msg.clone();
                mutate_tree(&mut r, &mut m, 0);
                body = m.to_string().into_bytes();
                t.tree_mutated += 1;
            }
            7 | 8 => {
                mutate_bytes(&mut r, &mut body);
                t.byte_mutated += 1;
            }
            _ => t.framing_mutated += 1,
        }
        // Never `exit` or `shutdown` by chance: those end the session.
        let text = String::from_utf8_lossy(&body);
        if text.contains("\"exit\"") || text.contains("\"shutdown\"") {
            continue;
        }
        // The frame; the pings to send after it (an over-long frame
        // swallows the start of the first).
        let mut bytes = frame(&body);
        let mut pings = 1;
        if kind == 9 {
            let len = body.len();
            let header = match r.below(8) {
                0 => format!("Content-Length: {}\r\n\r\n", len - len.min(1 + r.below(8))),
                1 => {
                    pings = 2;
                    format!("Content-Length: {}\r\n\r\n", len + 1 + r.below(8))
                }
                2 => format!("Content-Length: {len}\n\n"),
                3 => format!(
                    "Content-Length: {}\r\n\r\n",
                    r.pick(&["18446744073709551615", "1000000000000000000", "-1", "x", ""])
                ),
                4 => format!(
                    "{}Content-Length: {len}\r\n\r\n",
                    r.pick(&["junk", "\r\n", "\u{0}", "Content-Length: 3\n"])
                ),
                5 => format!("Content-Type: text/plain\r\nContent-Length: {len}\r\n\r\n"),
                6 => format!("X-Other: 1\r\nContent-Length: {len}\r\n\r\n"),
                _ => format!("CONTENT-LENGTH:{len}\r\n\r\n"),
            };
            bytes = [header.into_bytes(), body.clone()].concat();
        } else if kind <= 4 && msg.get("id").is_some() {
            intact_ids.insert(id.clone());
        }
        t.messages += 1;
        assert!(
            s.raw(&bytes),
            "the server stopped reading at message {n} (seed {seed})"
        );
        let mut last = String::new();
        for k in 0..pings {
            last = format!("ping-{n}-{k}");
            assert!(
                s.raw(&ping(&last)),
                "the server stopped reading at message {n} (seed {seed})"
            );
        }
        assert_pong(&mut s, &last);
        for m in s.seen.drain(..) {
            if m.get("method").is_some() {
                continue;
            }
            t.responses += 1;
            if let Some(code) = m["error"]["code"].as_i64() {
                *t.errors_by_code.entry(code).or_default() += 1;
            }
            if let Some(id) = m["id"].as_str().filter(|id| intact_ids.contains(*id)) {
                assert!(
                    answered.insert(id.to_string()),
                    "{id} answered twice (seed {seed})"
                );
            }
        }
    }
    // Every intact request is answered (some wait for an analysis).
    for id in intact_ids.difference(&answered.clone()) {
        s.response(&json!(id));
        answered.insert(id.clone());
    }
    t.intact_requests = intact_ids.len();
    let err = s.stop();
    eprintln!(
        "fuzz (seed {seed}): {t:?}; {} lines on standard error",
        err.lines().count()
    );
    assert!(t.responses > 0 && t.framing_mutated > 0);
}
