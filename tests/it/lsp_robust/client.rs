//! The client harness: `rasp lsp` started over pipes, frames written raw
//! and read strictly, and the frames a test sends most.

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

pub(super) fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    f.extend_from_slice(body);
    f
}

/// `rasp lsp` over pipes: frames written raw, every frame it writes read
/// (strictly) on a thread, standard error collected.
pub(super) struct Lsp {
    child: Child,
    stdin: Option<ChildStdin>,
    frames: Receiver<Value>,
    stderr: Option<JoinHandle<String>>,
    /// Messages received while waiting for others.
    pub(super) seen: Vec<Value>,
    cache: PathBuf,
}

impl Lsp {
    pub(super) fn start(args: &[&str]) -> Lsp {
        Lsp::start_reading(args, true)
    }

    /// Started; `read`: its output is read (else its end is closed).
    pub(super) fn start_reading(args: &[&str], read: bool) -> Lsp {
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
    pub(super) fn ready(args: &[&str]) -> Lsp {
        let mut s = Lsp::start(args);
        s.send(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"capabilities": {}}}));
        assert!(s.response(&json!(0))["result"]["capabilities"].is_object());
        s.send(&json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
        s
    }

    /// Write bytes (false: the server no longer reads).
    pub(super) fn raw(&mut self, bytes: &[u8]) -> bool {
        let Some(stdin) = self.stdin.as_mut() else {
            return false;
        };
        stdin.write_all(bytes).and_then(|()| stdin.flush()).is_ok()
    }

    pub(super) fn send(&mut self, msg: &Value) {
        assert!(
            self.raw(&frame(msg.to_string().as_bytes())),
            "the server reads"
        );
    }

    pub(super) fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.response(&json!(id))
    }

    pub(super) fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The next message that `pick` accepts (the others are kept).
    pub(super) fn wait(&mut self, what: &str, pick: impl Fn(&Value) -> bool) -> Value {
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

    pub(super) fn response(&mut self, id: &Value) -> Value {
        self.wait(&format!("the response to {id}"), |m| {
            &m["id"] == id && m.get("method").is_none()
        })
    }

    pub(super) fn note(&mut self, method: &str) -> Value {
        self.wait(method, |m| m["method"] == method)["params"].clone()
    }

    /// Close its input; its exit status and standard error.
    pub(super) fn finish(mut self) -> (ExitStatus, String) {
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
    pub(super) fn stop(mut self) -> String {
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
pub(super) fn ping(id: &str) -> Vec<u8> {
    frame(
        json!({"jsonrpc": "2.0", "id": id, "method": "rasp/ping"})
            .to_string()
            .as_bytes(),
    )
}

pub(super) fn assert_pong(s: &mut Lsp, id: &str) {
    let r = s.response(&json!(id));
    assert_eq!(r["error"]["code"], -32601, "{r}");
}

pub(super) fn open(s: &mut Lsp, uri: &str, version: i64, text: &str) {
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "rasp", "version": version, "text": text}}),
    );
}

pub(super) fn change(uri: &str, version: i64, text: &str) -> Vec<u8> {
    frame(
        json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}})
            .to_string()
            .as_bytes(),
    )
}

pub(super) fn req(id: u64, method: &str, params: Value) -> Vec<u8> {
    frame(
        json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
            .to_string()
            .as_bytes(),
    )
}

pub(super) fn at(uri: &str, line: u32, character: u32) -> Value {
    json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
}
