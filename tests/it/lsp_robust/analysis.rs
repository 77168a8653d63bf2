//! The background analysis: requests answered from the latest finished
//! one while a new one runs, and huge inputs analysed within the time
//! limit.

use serde_json::json;

use super::client::{Lsp, at, change, open, req};

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

    // 100,000 lines: analysed within the time limit, or stopped by it on
    // a slow machine (a debug build on a loaded CI runner); either way the
    // server answers from what it has (its speed is benches/lsp.rs's).
    let big: String = (0..100_000)
        .map(|i| format!("x{i} = tokens + {};\n", i % 7))
        .collect();
    open(&mut s, "untitled:big", 1, &big);
    let d = s.note("textDocument/publishDiagnostics");
    assert_eq!(d["uri"], "untitled:big");
    let diags = d["diagnostics"].as_array().expect("diagnostics");
    let complete = diags.is_empty();
    assert!(
        complete || (diags.len() == 1 && diags[0]["code"] == "rasp::interrupted"),
        "{d}"
    );
    let h = s.request(5, "textDocument/hover", at("untitled:big", 99_999, 1));
    assert!(h.get("result").is_some(), "{h}");
    if complete {
        assert!(
            h["result"]["contents"]["value"]
                .as_str()
                .expect("md")
                .contains("x99999"),
            "{h}"
        );
    }
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
    // Stopped by the time limit, it knows only the names it reached.
    if complete {
        assert_eq!(own.len(), 1000);
    } else {
        assert!(own.len() <= 1000, "{}", own.len());
    }
    assert!(own.iter().all(|l| l.starts_with("x9")), "{own:?}");
    assert!(
        items.iter().any(|i| i["label"] == "select("),
        "keywords too"
    );
    s.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
