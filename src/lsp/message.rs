//! JSON-RPC messages: a frame's body read as a request, a notification or
//! a response, or found to be none (with the error response the protocol
//! asks for); and the messages the server sends.
//!
//! Bodies are read through `serde_json`'s raw values: nothing is built of
//! a body beyond its fields (parameters are read into their own types by
//! the handler), so a message's memory stays about its size.

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Value, json};

/// The protocol's error codes.
pub mod code {
    pub const PARSE_ERROR: i32 = -32700;
    pub const INVALID_REQUEST: i32 = -32600;
    pub const METHOD_NOT_FOUND: i32 = -32601;
    pub const INVALID_PARAMS: i32 = -32602;
    pub const INTERNAL_ERROR: i32 = -32603;
    pub const SERVER_NOT_INITIALIZED: i32 = -32002;
    pub const REQUEST_FAILED: i32 = -32803;
}

/// A request's id: an integer or a string.
pub type Id = Value;

/// A message's parameters, as sent (JSON text).
#[derive(Debug)]
pub struct Params(Option<Box<RawValue>>);

impl Params {
    /// The parameters read as `P` (absent ones as `null`).
    pub fn parse<P: serde::de::DeserializeOwned>(&self) -> serde_json::Result<P> {
        serde_json::from_str(self.0.as_deref().map_or("null", RawValue::get))
    }
}

/// A body, read.
#[derive(Debug)]
pub enum Incoming {
    Request {
        id: Id,
        method: String,
        params: Params,
    },
    Notification {
        method: String,
        params: Params,
    },
    /// A response to a request (the server sends none; ignored).
    Response,
    /// Not a message: the error to answer (with the id when one could be
    /// read).
    Invalid {
        id: Option<Id>,
        code: i32,
        message: String,
    },
}

/// A message's members as sent; a member that is present is `Some`, even
/// when it is `null`.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default, borrow, deserialize_with = "present")]
    jsonrpc: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    method: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    params: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    error: Option<&'a RawValue>,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

fn invalid(id: Option<Id>, code: i32, message: impl Into<String>) -> Incoming {
    Incoming::Invalid {
        id,
        code,
        message: message.into(),
    }
}

/// A valid id (an integer or a string), else `None`.
fn read_id(raw: &RawValue) -> Option<Id> {
    let text = raw.get();
    let v: Value = match text.as_bytes().first()? {
        b'"' => Value::String(serde_json::from_str(text).ok()?),
        b'-' | b'0'..=b'9' => Value::Number(serde_json::from_str(text).ok()?),
        _ => return None,
    };
    match &v {
        Value::Number(n) if !(n.is_i64() || n.is_u64()) => None,
        _ => Some(v),
    }
}

/// Read a frame's body.
pub fn parse(body: &[u8]) -> Incoming {
    let Ok(text) = std::str::from_utf8(body) else {
        return invalid(None, code::PARSE_ERROR, "the message is not UTF-8");
    };
    if let Err(e) = serde_json::from_str::<&RawValue>(text) {
        return invalid(
            None,
            code::PARSE_ERROR,
            format!("the message is not JSON: {e}"),
        );
    }
    // (Serde would read a struct from an array too.)
    if !text.trim_start().starts_with('{') {
        return invalid(
            None,
            code::INVALID_REQUEST,
            "the message is not a JSON object",
        );
    }
    let env: Envelope = match serde_json::from_str(text) {
        Ok(env) => env,
        Err(e) => {
            return invalid(
                None,
                code::INVALID_REQUEST,
                format!("the message is not a JSON-RPC object: {e}"),
            );
        }
    };
    let id = env.id.map(read_id);
    let readable_id = id.clone().flatten();
    if let Some(None) = id {
        return invalid(
            None,
            code::INVALID_REQUEST,
            "the message's id is neither an integer nor a string",
        );
    }
    if let Some(v) = env.jsonrpc
        && v.get() != "\"2.0\""
    {
        return invalid(
            readable_id,
            code::INVALID_REQUEST,
            format!("jsonrpc must be \"2.0\", not {}", cut(v.get())),
        );
    }
    let Some(method) = env.method else {
        if readable_id.is_some() && (env.result.is_some() || env.error.is_some()) {
            return Incoming::Response;
        }
        return invalid(
            readable_id,
            code::INVALID_REQUEST,
            "the message is neither a request, a notification nor a response (no method)",
        );
    };
    let Ok(method) = serde_json::from_str::<String>(method.get()) else {
        return invalid(
            readable_id,
            code::INVALID_REQUEST,
            format!("the method must be a string, not {}", cut(method.get())),
        );
    };
    let params = Params(env.params.map(ToOwned::to_owned));
    match readable_id {
        Some(id) => Incoming::Request { id, method, params },
        None => Incoming::Notification { method, params },
    }
}

/// A JSON text shown in a message: at most 60 bytes of it.
fn cut(text: &str) -> String {
    let end = crate::diag::floor_boundary(text, text.len().min(60));
    if end < text.len() {
        format!("{}...", &text[..end])
    } else {
        text.to_string()
    }
}

/// A request's answer (its JSON, serialised once), or its failure (code
/// and message).
pub type Answer = Result<Box<RawValue>, (i32, String)>;

/// A request's answer from a value.
pub fn answer<T: serde::Serialize>(v: T) -> Answer {
    serde_json::value::to_raw_value(&v).map_err(|e| (code::INTERNAL_ERROR, e.to_string()))
}

/// The response to a request.
pub fn response(id: &Id, answer: Answer) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Response<'a> {
        jsonrpc: &'static str,
        id: &'a Id,
        result: &'a RawValue,
    }
    match answer {
        Ok(result) => {
            let r = Response {
                jsonrpc: "2.0",
                id,
                result: &result,
            };
            // Serialising strings and raw JSON cannot fail.
            serde_json::to_vec(&r).unwrap_or_default()
        }
        Err((code, message)) => error(Some(id), code, &message),
    }
}

/// An error response (`id` null when the request's could not be read).
pub fn error(id: Option<&Id>, code: i32, message: &str) -> Vec<u8> {
    body(&json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {"code": code, "message": message},
    }))
}

/// A notification.
pub fn notification(method: &str, params: impl serde::Serialize) -> Vec<u8> {
    let params = serde_json::to_value(params).unwrap_or(Value::Null);
    body(&json!({"jsonrpc": "2.0", "method": method, "params": params}))
}

fn body(v: &Value) -> Vec<u8> {
    // A `Value` always serialises.
    serde_json::to_vec(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(body: &str) -> String {
        match parse(body.as_bytes()) {
            Incoming::Request { id, method, .. } => format!("request {id} {method}"),
            Incoming::Notification { method, .. } => format!("notification {method}"),
            Incoming::Response => "response".into(),
            Incoming::Invalid { id, code, .. } => {
                format!("invalid {code} {}", id.unwrap_or(Value::Null))
            }
        }
    }

    #[test]
    fn requests_notifications_responses() {
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#),
            "request 1 shutdown"
        );
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","id":"a","method":"x","params":{}}"#),
            "request \"a\" x"
        );
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","method":"exit"}"#),
            "notification exit"
        );
        assert_eq!(
            kind(r#"{"method":"exit","extra":[1,2]}"#),
            "notification exit"
        );
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","id":3,"result":null}"#),
            "response"
        );
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","id":3,"error":{"code":1}}"#),
            "response"
        );
        let Incoming::Request { params, .. } =
            parse(br#"{"id":1,"method":"m","params":{"a":[1,2]}}"#)
        else {
            panic!("a request")
        };
        assert_eq!(
            params.parse::<Value>().expect("params"),
            json!({"a": [1, 2]})
        );
    }

    #[test]
    fn bodies_that_are_no_message() {
        // Not UTF-8, not JSON: parse errors, id null.
        assert_eq!(kind("\u{0}"), "invalid -32700 null");
        assert_eq!(parse(b"\xff\xfe{}").code(), Some(code::PARSE_ERROR));
        for body in ["", "{", "{\"id\":1,", "nul", "[1,]", "{\"a\":1}}"] {
            assert_eq!(kind(body), "invalid -32700 null", "{body:?}");
        }
        // JSON, but no message: invalid requests.
        for body in [
            "[]",
            "5",
            "{}",
            "null",
            "\"x\"",
            "[{\"id\":1,\"method\":\"m\"}]",
            "[\"2.0\", 1, \"m\"]",
            "{\"params\":{}}",
        ] {
            assert_eq!(kind(body), "invalid -32600 null", "{body:?}");
        }
        // The id is answered when it can be read.
        assert_eq!(kind(r#"{"id":7,"method":5}"#), "invalid -32600 7");
        assert_eq!(
            kind(r#"{"id":"q","jsonrpc":"1.0","method":"m"}"#),
            "invalid -32600 \"q\""
        );
        assert_eq!(kind(r#"{"id":8}"#), "invalid -32600 8");
        // Ids that are neither an integer nor a string.
        for id in ["null", "1.5", "[1]", "{}", "true"] {
            let body = format!(r#"{{"id":{id},"method":"m"}}"#);
            assert_eq!(kind(&body), "invalid -32600 null", "{body}");
        }
        // Duplicate members.
        assert_eq!(
            kind(r#"{"id":1,"id":2,"method":"m"}"#),
            "invalid -32600 null"
        );
    }

    #[test]
    fn outgoing_messages() {
        let r: Value = serde_json::from_slice(&response(&json!(1), answer(()))).expect("json");
        assert_eq!(r, json!({"jsonrpc": "2.0", "id": 1, "result": null}));
        let e: Value =
            serde_json::from_slice(&error(None, code::PARSE_ERROR, "bad")).expect("json");
        assert_eq!(
            e,
            json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "bad"}})
        );
        let n: Value = serde_json::from_slice(&notification("m", json!({"a": 1}))).expect("json");
        assert_eq!(n["params"]["a"], 1);
    }

    impl Incoming {
        fn code(&self) -> Option<i32> {
            match self {
                Incoming::Invalid { code, .. } => Some(*code),
                _ => None,
            }
        }
    }
}
