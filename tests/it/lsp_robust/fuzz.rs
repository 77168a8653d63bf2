//! The seeded fuzz run: random and mutated frames through the real server.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use super::client::{Lsp, assert_pong, frame, ping};

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
