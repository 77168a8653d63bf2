//! The protocol kept: bodies that are no JSON-RPC get the protocol's
//! errors, shutdown and exit follow the protocol, a closed output ends the
//! server cleanly.

use serde_json::{Value, json};

use super::client::{Lsp, assert_pong, frame, ping};

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
