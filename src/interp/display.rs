//! Rendering of values: the original's REPL display (`small_str`, `[v]*n`
//! compression, type tags, selector matrices) and the JSON-lines form of
//! `rasp eval --json`.

use super::{Column, Output};
use crate::ir::value::{Value, non_finite_json, py_float_repr};

/// The original's `small_str`: floats rounded to 3 decimals, bools `T`/`F`,
/// strings unquoted.
pub fn small_str(v: &Value) -> String {
    match v {
        Value::Bool(true) => "T".into(),
        Value::Bool(false) => "F".into(),
        Value::Float(f) => {
            let rounded = if f.is_finite() {
                format!("{f:.3}").parse::<f64>().unwrap_or(*f)
            } else {
                *f
            };
            py_float_repr(rounded)
        }
        v => v.to_string(),
    }
}

/// `[1, 1, 2, 2, 1]`, or `[v]*n` when all n > 1 values are equal.
pub fn sequence_str(values: &[Value]) -> String {
    if values.len() > 1 {
        let first = small_str(&values[0]);
        if values.iter().skip(1).all(|v| small_str(v) == first) {
            return format!("[{first}]*{}", values.len());
        }
    }
    let items: Vec<String> = values.iter().map(small_str).collect();
    format!("[{}]", items.join(", "))
}

/// The original's display of a value on an input: `name("hi") = [..]
/// (ints)`, or a selector's matrix under `name("hi") =` (`rasp run`,
/// `rasp test` snapshots).
pub fn named_output(name: &str, input: &[Value], o: &Output) -> String {
    let call = format!("{name}({})", input_repr(input));
    match o {
        Output::Sop(col) => format!("{call} = {}", column_str(col)),
        Output::Selector(rows) => {
            format!(
                "{call} =\n{}",
                selector_matrix(input, rows, "\t").trim_end()
            )
        }
    }
}

/// `[1, 1, 2] (ints)`.
pub fn column_str(col: &Column) -> String {
    format!("{} ({})", sequence_str(&col.values), col.ty.name())
}

/// How an input is written in messages and displays: a string when every
/// token is a one-character string, else a Python list.
pub fn input_repr(input: &[Value]) -> String {
    if is_text(input) {
        let s: String = input.iter().map(|v| v.to_string()).collect();
        format!("\"{s}\"")
    } else {
        let items: Vec<String> = input.iter().map(Value::repr).collect();
        format!("[{}]", items.join(", "))
    }
}

/// Whether an input is written as a string: every token a one-character
/// string.
fn is_text(input: &[Value]) -> bool {
    !input.is_empty()
        && input
            .iter()
            .all(|v| matches!(v, Value::Str(s) if s.chars().count() == 1))
}

/// Most tokens of an input a message shows.
const SHOWN_TOKENS: usize = 24;
/// Most characters of one token a message shows.
const SHOWN_TOKEN_CHARS: usize = 24;

/// [`input_repr`] shortened for messages: an input of more than
/// [`SHOWN_TOKENS`] tokens shows its first tokens and, when `around` (a
/// failing position) lies beyond them, the tokens around it, with `…` for
/// what is left out and the length after it; long tokens are cut too.
pub fn input_short(input: &[Value], around: Option<usize>) -> String {
    let chars = is_text(input);
    let long_token = |v: &Value| match v {
        Value::Str(s) => s.chars().count() > SHOWN_TOKEN_CHARS,
        _ => false,
    };
    if input.len() <= SHOWN_TOKENS && !input.iter().any(long_token) {
        return input_repr(input);
    }
    let n = input.len();
    // Runs of positions to show, in order.
    let mut runs: Vec<(usize, usize)> = Vec::new();
    match around {
        Some(p) if p >= SHOWN_TOKENS - 4 && p < n => {
            runs.push((0, 8));
            runs.push((p.saturating_sub(8).max(8), (p + 8).min(n)));
        }
        _ => runs.push((0, SHOWN_TOKENS.min(n))),
    }
    let token = |v: &Value| {
        let r = if chars { v.to_string() } else { v.repr() };
        if r.chars().count() > SHOWN_TOKEN_CHARS {
            let cut: String = r.chars().take(SHOWN_TOKEN_CHARS - 4).collect();
            format!("{cut}…{}", if r.ends_with('\'') { "'" } else { "" })
        } else {
            r
        }
    };
    let mut out = String::from(if chars { "\"" } else { "[" });
    let mut at = 0;
    for (k, &(a, b)) in runs.iter().enumerate() {
        if a > at {
            out.push_str(if chars { "…" } else { "…, " });
        }
        for (i, v) in input[a..b].iter().enumerate() {
            if !chars && (i > 0 || (k > 0 && a == at)) {
                out.push_str(", ");
            }
            out.push_str(&token(v));
        }
        if !chars && b < n {
            out.push_str(", ");
        }
        at = b;
    }
    if at < n {
        out.push('…');
    }
    out.push_str(if chars { "\"" } else { "]" });
    if n > SHOWN_TOKENS {
        out.push_str(&format!(" ({n} tokens)"));
    }
    out
}

/// The original's selector matrix, one line per query, example tokens as
/// headers; `prefix` starts every line.
pub fn selector_matrix(input: &[Value], rows: &[Vec<bool>], prefix: &str) -> String {
    let toks: Vec<String> = input.iter().map(small_str).collect();
    let mut out = format!("{prefix}    {}\n", toks.join(" "));
    for (q, row) in rows.iter().enumerate() {
        let mut line = format!("{prefix}{} |", toks.get(q).map_or("", String::as_str));
        for sel in row {
            line.push_str(if *sel { " 1" } else { "  " });
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// One atom as JSON (finite floats always read back as floats; NaN and
/// the infinities are the strings `"NaN"`, `"Infinity"`, `"-Infinity"`).
pub fn json_atom(v: &Value) -> String {
    let mut s = String::new();
    push_json_atom(&mut s, v);
    s
}

/// Append one atom as JSON to `out`.
pub fn push_json_atom(out: &mut String, v: &Value) {
    match v {
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => push_int(out, *i),
        // NaN and the infinities as strings (`non_finite_json`): JSON has
        // no number for them.
        Value::Float(f) => match non_finite_json(*f) {
            Some(name) => push_json_str(out, name),
            None => out.push_str(&py_float_repr(*f)),
        },
        Value::Str(s) => push_json_str(out, s),
    }
}

/// Append a JSON string literal: the escapes serde_json writes (`\"`,
/// `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, `\u00XX` for other control
/// characters), everything else as it is.
pub fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut from = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..0x20 => "",
            _ => continue,
        };
        out.push_str(&s[from..i]);
        from = i + 1;
        if short.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        } else {
            out.push_str(short);
        }
    }
    out.push_str(&s[from..]);
    out.push('"');
}

/// Append an integer's decimal digits (without the formatting machinery:
/// datasets write hundreds of millions of them).
fn push_int(out: &mut String, i: i64) {
    if (0..10).contains(&i) {
        out.push(char::from(b'0' + i as u8));
        return;
    }
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    let mut u = i.unsigned_abs();
    while u > 0 || at == buf.len() {
        at -= 1;
        buf[at] = b'0' + (u % 10) as u8;
        u /= 10;
    }
    if i < 0 {
        out.push('-');
    }
    out.extend(buf[at..].iter().map(|&b| char::from(b)));
}

/// Append `[a, b, ...]`, each atom as JSON.
pub fn push_json_list<'v>(out: &mut String, values: impl IntoIterator<Item = &'v Value>) {
    out.push('[');
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_json_atom(out, v);
    }
    out.push(']');
}

/// An output as JSON: a list of atoms, or a list of rows of booleans.
pub fn json_output(out: &Output) -> String {
    let mut s = String::new();
    push_json_output(&mut s, out);
    s
}

/// Append an output as JSON.
pub fn push_json_output(s: &mut String, out: &Output) {
    match out {
        Output::Sop(col) => push_json_list(s, &col.values),
        Output::Selector(rows) => {
            s.push('[');
            for (i, r) in rows.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                s.push('[');
                for (j, b) in r.iter().enumerate() {
                    if j > 0 {
                        s.push_str(", ");
                    }
                    s.push_str(if *b { "true" } else { "false" });
                }
                s.push(']');
            }
            s.push(']');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_as_json_escape_as_serde_json() {
        let mut all: String = (0u8..0x80).map(char::from).collect();
        all.push_str("é€😀\u{7f}\u{2028}");
        for s in ["", "a", "\"", "\\", "a\"b\\c\n", all.as_str()] {
            let mut out = String::new();
            push_json_str(&mut out, s);
            assert_eq!(out, serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    /// Every float, NaN and the infinities included, is valid JSON.
    #[test]
    fn floats_as_json_are_always_valid_json() {
        let values = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e308,
            -0.0,
            2.5,
            1e-7,
        ];
        let mut out = String::new();
        push_json_list(&mut out, &values.map(Value::Float));
        let parsed: serde_json::Value = serde_json::from_str(&out).expect(&out);
        assert_eq!(
            parsed,
            serde_json::json!(["NaN", "Infinity", "-Infinity", 1e308, -0.0, 2.5, 1e-7])
        );
    }

    #[test]
    fn integers_as_json() {
        for i in [0, 7, 9, 10, 42, -1, -10, 1234567890, i64::MAX, i64::MIN] {
            assert_eq!(json_atom(&Value::Int(i)), i.to_string());
        }
    }

    fn strs(s: &str) -> Vec<Value> {
        s.chars().map(|c| Value::str(&c.to_string())).collect()
    }

    #[test]
    fn short_inputs_are_shown_whole() {
        assert_eq!(input_short(&strs("hello"), Some(3)), "\"hello\"");
        let ints: Vec<Value> = (0..5).map(Value::Int).collect();
        assert_eq!(input_short(&ints, None), "[0, 1, 2, 3, 4]");
    }

    #[test]
    fn long_inputs_keep_their_start_and_the_failing_position() {
        let text: String = (0..5000).map(|i| (b'a' + (i % 26) as u8) as char).collect();
        let input = strs(&text);
        let s = input_short(&input, None);
        assert_eq!(s, format!("\"{}…\" (5000 tokens)", &text[..24]));
        let s = input_short(&input, Some(150));
        assert_eq!(
            s,
            format!("\"{}…{}…\" (5000 tokens)", &text[..8], &text[142..158])
        );
        let ints: Vec<Value> = (0..1000).map(Value::Int).collect();
        let s = input_short(&ints, Some(999));
        assert!(s.starts_with("[0, 1, 2, 3, 4, 5, 6, 7, …, 991, "), "{s}");
        assert!(s.ends_with(", 998, 999] (1000 tokens)"), "{s}");
        let s = input_short(&ints, None);
        assert!(s.ends_with(", 22, 23, …] (1000 tokens)"), "{s}");
    }

    #[test]
    fn long_tokens_are_cut() {
        let input = vec![Value::str(&"x".repeat(1000)), Value::Int(1)];
        let s = input_short(&input, None);
        assert!(s.chars().count() < 40, "{s}");
        assert!(s.starts_with("['xxxx") && s.ends_with("…', 1]"), "{s}");
    }
}
