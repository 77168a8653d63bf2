//! Lost framing (bad or huge lengths, LF-only headers, garbage): found
//! again at the next header, or the server ends with status 1 and a
//! message.

use serde_json::json;

use super::client::{Lsp, assert_pong, ping};

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
