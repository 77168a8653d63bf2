//! `rasp lsp` driven over stdio with real JSON-RPC messages, as an editor
//! drives it: initialize, a document with errors, hover, definition
//! across a `load` and into the library, references, rename, completion,
//! symbols, formatting, code lenses, the verify command, a change, shutdown
//! and exit.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{Value, json};

struct Client {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// Notifications received while waiting for responses.
    notes: Vec<Value>,
}

impl Client {
    fn start(cache: &Path) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rasp"))
            .args(["lsp", "--stdio"])
            .env("XDG_CACHE_HOME", cache)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("rasp lsp starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Client {
            child,
            stdin,
            stdout,
            notes: Vec::new(),
        }
    }

    fn send(&mut self, msg: Value) {
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
        serde_json::from_slice(&body).expect("JSON")
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// A request's result (a failure as `{"error": ...}`).
    fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let m = self.read();
            if m["id"] == json!(id) {
                return match m.get("error") {
                    Some(e) => json!({ "error": e }),
                    None => m["result"].clone(),
                };
            }
            self.notes.push(m);
        }
    }

    /// The next notification of a method.
    fn note(&mut self, method: &str) -> Value {
        if let Some(i) = self.notes.iter().position(|n| n["method"] == method) {
            return self.notes.remove(i)["params"].clone();
        }
        loop {
            let m = self.read();
            if m["method"] == method {
                return m["params"].clone();
            }
            self.notes.push(m);
        }
    }
}

fn pos(uri: &str, line: u32, character: u32) -> Value {
    json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
}

#[test]
fn an_editor_session() {
    let dir = std::env::temp_dir().join(format!("rasp-lsp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(
        dir.join("lib.rasp"),
        "# A helper library.\ndef double(s) {\n    return s * 2;\n}\n_private = 1;\n",
    )
    .expect("write lib");
    // `§` is one UTF-16 unit but two bytes: positions after it count units.
    let text = "load \"lib\";\nhist = selector_width(select(tokens, tokens, ==));\ntwice = double(hist);\nbad = undefined_thing + 1;\nf = has_focus(select(tokens, \"§\", ==));\nx=1;\n";
    let prog = dir.join("prog.rasp");
    std::fs::write(&prog, text).expect("write prog");
    let uri = format!("file://{}", prog.display());
    let lib_uri = format!("file://{}", dir.join("lib.rasp").display());

    let mut c = Client::start(&dir.join("cache"));
    let init = c.request(
        1,
        "initialize",
        json!({"processId": null, "rootUri": null, "capabilities": {}}),
    );
    let caps = &init["capabilities"];
    assert_eq!(caps["positionEncoding"], "utf-16");
    assert_eq!(
        caps["executeCommandProvider"]["commands"],
        json!(["rasp.verify"])
    );
    for cap in [
        "hoverProvider",
        "definitionProvider",
        "referencesProvider",
        "completionProvider",
        "documentSymbolProvider",
        "documentFormattingProvider",
        "codeLensProvider",
    ] {
        assert!(!caps[cap].is_null(), "{cap}");
    }
    c.notify("initialized", json!({}));

    // didOpen: the document's diagnostics, with codes.
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "rasp", "version": 1, "text": text}}),
    );
    let d = c.note("textDocument/publishDiagnostics");
    assert_eq!(d["uri"], uri.as_str());
    let diags = d["diagnostics"].as_array().expect("diagnostics");
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0]["code"], "rasp::name::undefined");
    assert_eq!(
        diags[0]["range"]["start"],
        json!({"line": 3, "character": 6})
    );

    // Hover on an s-op: its value on the running example, type, layers.
    let h = c.request(2, "textDocument/hover", pos(&uri, 1, 2));
    let shown = h["contents"]["value"].as_str().expect("markdown");
    assert!(shown.contains("**s-op** `hist`"), "{shown}");
    assert!(
        shown.contains("hist(\"hello\") = [1, 1, 2, 2, 1]"),
        "{shown}"
    );
    assert!(shown.contains("value type: ints"), "{shown}");
    assert!(shown.contains("layers: 1 (1 attention head"), "{shown}");
    // On a keyword.
    let h = c.request(3, "textDocument/hover", pos(&uri, 1, 25));
    assert!(
        h["contents"]["value"]
            .as_str()
            .expect("md")
            .contains("select("),
        "{h}"
    );

    // Definition across a load, and into the library.
    let def = c.request(4, "textDocument/definition", pos(&uri, 2, 10));
    assert_eq!(def["uri"], lib_uri.as_str());
    assert_eq!(def["range"]["start"], json!({"line": 1, "character": 4}));
    let def = c.request(5, "textDocument/definition", pos(&uri, 4, 6));
    let lib = def["uri"].as_str().expect("the library's copy");
    assert!(lib.ends_with("/prelude.rasp"), "{def}");
    assert!(
        std::fs::read_to_string(lib.trim_start_matches("file://"))
            .expect("written")
            .contains("def has_focus(sel)")
    );

    // References and rename of a name defined here.
    let refs = c.request(
        6,
        "textDocument/references",
        json!({"textDocument": {"uri": uri}, "position": {"line": 2, "character": 16}, "context": {"includeDeclaration": true}}),
    );
    let lines: Vec<&Value> = refs
        .as_array()
        .expect("list")
        .iter()
        .map(|r| &r["range"]["start"]["line"])
        .collect();
    assert_eq!(lines, [&json!(1), &json!(2)]);
    let edit = c.request(7, "textDocument/rename", json!({"textDocument": {"uri": uri}, "position": {"line": 1, "character": 1}, "newName": "histogram"}));
    let edits = edit["changes"][uri.as_str()].as_array().expect("edits");
    assert_eq!(edits.len(), 2);
    assert!(edits.iter().all(|e| e["newText"] == "histogram"));
    let refused = c.request(8, "textDocument/rename", json!({"textDocument": {"uri": uri}, "position": {"line": 1, "character": 1}, "newName": "select"}));
    assert!(
        refused["error"]["message"]
            .as_str()
            .expect("message")
            .contains("keyword")
    );
    let refused = c.request(9, "textDocument/prepareRename", pos(&uri, 2, 10));
    assert!(
        refused["error"]["message"]
            .as_str()
            .expect("message")
            .contains("not defined in this file")
    );

    // Completion: names in scope, the loaded file's, the library's, keywords.
    let items = c.request(10, "textDocument/completion", pos(&uri, 5, 0));
    let labels: Vec<&str> = items
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["label"].as_str())
        .collect();
    for want in [
        "hist",
        "twice",
        "double",
        "has_focus",
        "select(",
        "def",
        "tokens",
    ] {
        assert!(labels.contains(&want), "{want} in {labels:?}");
    }
    assert!(!labels.contains(&"_private"));

    // Symbols, formatting, code lenses.
    let syms = c.request(
        11,
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri}}),
    );
    let names: Vec<&str> = syms
        .as_array()
        .expect("symbols")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["hist", "twice", "bad", "f", "x"]);
    let fmt = c.request(
        12,
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": true}}),
    );
    let fmt = fmt.as_array().expect("edits");
    assert_eq!(fmt.len(), 1);
    assert!(
        fmt[0]["newText"]
            .as_str()
            .expect("text")
            .ends_with("x = 1;\n")
    );
    let lenses = c.request(
        13,
        "textDocument/codeLens",
        json!({"textDocument": {"uri": uri}}),
    );
    let lens = &lenses.as_array().expect("lenses")[0];
    assert_eq!(lens["command"]["command"], "rasp.verify");
    assert_eq!(lens["command"]["arguments"][1], "hist");

    // The verify command: the report, shown to the user.
    let r = c.request(
        14,
        "workspace/executeCommand",
        json!({"command": "rasp.verify", "arguments": [uri, "hist", "abc", 4]}),
    );
    assert_eq!(r["ok"], true, "{r}");
    let shown = c.note("window/showMessage");
    let message = shown["message"].as_str().expect("message");
    assert!(message.contains("0 mismatches"), "{message}");

    // A change: new diagnostics; a position past the `§` in UTF-16.
    let fixed = text.replace("undefined_thing", "hist");
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": fixed}]}),
    );
    let d = c.note("textDocument/publishDiagnostics");
    assert_eq!(d["diagnostics"], json!([]));
    assert_eq!(d["version"], 2);
    let h = c.request(15, "textDocument/hover", pos(&uri, 4, 0));
    assert!(
        h["contents"]["value"].as_str().expect("md").contains("`f`"),
        "{h}"
    );

    assert_eq!(c.request(16, "shutdown", Value::Null), Value::Null);
    c.notify("exit", Value::Null);
    let status = c.child.wait().expect("exits");
    assert!(status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// What a review found: a `load` after a definition rebinds the name; a
/// loaded file's errors show on its `load` even through a folder; load
/// cycles; renames onto names in use are refused; the verify command's
/// length is bounded; untitled documents; a program that runs for ever is
/// interrupted, not the server.
#[test]
fn loads_renames_limits_and_endless_programs() {
    let dir = std::env::temp_dir().join(format!("rasp-lsp-edge-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).expect("temp dir");
    std::fs::write(dir.join("lib2.rasp"), "x0 = 2;\nload \"cyc\";\n").expect("write");
    std::fs::write(dir.join("cyc.rasp"), "load \"lib2\";\nc = 1;\n").expect("write");
    std::fs::write(dir.join("sub/bad.rasp"), "q = nope;\n").expect("write");
    let text = "x0 = 1;\nload \"lib2\";\ny0 = x0 + c;\nload \"sub/bad\";\nw = y0;\n";
    let prog = dir.join("p.rasp");
    std::fs::write(&prog, text).expect("write");
    let uri = format!("file://{}", prog.display());

    let mut c = Client::start(&dir.join("cache"));
    c.request(
        1,
        "initialize",
        json!({"processId": null, "rootUri": null, "capabilities": {}}),
    );
    c.notify("initialized", json!({}));
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "rasp", "version": 1, "text": text}}),
    );
    let d = c.note("textDocument/publishDiagnostics");
    let diags = d["diagnostics"].as_array().expect("diagnostics");
    let undefined = diags
        .iter()
        .find(|d| d["code"] == "rasp::name::undefined")
        .expect("the loaded file's error");
    assert_eq!(
        undefined["range"]["start"]["line"], 3,
        "on `load \"sub/bad\"`: {undefined}"
    );
    assert!(
        undefined["message"]
            .as_str()
            .expect("text")
            .contains("bad.rasp")
    );

    // `y0 = x0` after `load "lib2"`: lib2's x0 (the load rebinds it).
    let def = c.request(2, "textDocument/definition", pos(&uri, 2, 6));
    assert!(
        def["uri"].as_str().expect("uri").ends_with("/lib2.rasp"),
        "{def}"
    );
    // Through the lib2 <-> cyc cycle.
    let def = c.request(3, "textDocument/definition", pos(&uri, 2, 11));
    assert!(
        def["uri"].as_str().expect("uri").ends_with("/cyc.rasp"),
        "{def}"
    );

    // Renames onto a name in use (here, the library, a builtin) are refused.
    for (i, taken) in ["w", "has_focus", "tokens"].into_iter().enumerate() {
        let r = c.request(
            10 + i as u64,
            "textDocument/rename",
            json!({"textDocument": {"uri": uri}, "position": {"line": 2, "character": 1}, "newName": taken}),
        );
        assert!(!r["error"].is_null(), "renaming onto {taken}: {r}");
    }
    let r = c.request(
        20,
        "workspace/executeCommand",
        json!({"command": "rasp.verify", "arguments": [uri, "y0", "ab", 1_000_000]}),
    );
    assert_eq!(r["ok"], false, "{r}");
    assert!(
        c.note("window/showMessage")["message"]
            .as_str()
            .expect("m")
            .contains("maxLen")
    );

    // An untitled document answers with its own URI.
    let untitled = "untitled:Untitled-1";
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": untitled, "languageId": "rasp", "version": 1, "text": "a = 1;\nb = a;\n"}}),
    );
    c.note("textDocument/publishDiagnostics");
    let def = c.request(21, "textDocument/definition", pos(untitled, 1, 4));
    assert_eq!(def["uri"], untitled);

    // A program that would run for hours is interrupted after a few
    // seconds; the server answers again.
    let endless = "for i in range(1000000) { for j in range(1000000) { x = i + j; } }\n";
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": untitled, "version": 2}, "contentChanges": [{"text": endless}]}),
    );
    let d = c.note("textDocument/publishDiagnostics");
    assert_eq!(d["diagnostics"][0]["code"], "rasp::interrupted", "{d}");
    let h = c.request(22, "textDocument/hover", pos(untitled, 0, 1));
    assert!(
        h["contents"]["value"].as_str().expect("md").contains("for"),
        "{h}"
    );

    assert_eq!(c.request(23, "shutdown", Value::Null), Value::Null);
    c.notify("exit", Value::Null);
    assert!(c.child.wait().expect("exits").success());
    let _ = std::fs::remove_dir_all(&dir);
}
