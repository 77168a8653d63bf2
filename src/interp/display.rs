//! Rendering of values: the original's REPL display (`small_str`, `[v]*n`
//! compression, type tags, selector matrices) and the JSON-lines form of
//! `rasp eval --json`.

use super::{Column, Output};
use crate::ir::value::{Value, py_float_repr, py_str_repr};

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

/// `[1, 1, 2] (ints)`.
pub fn column_str(col: &Column) -> String {
    format!("{} ({})", sequence_str(&col.values), col.ty.name())
}

/// How an input is written in messages and displays: a string when every
/// token is a one-character string, else a Python list.
pub fn input_repr(input: &[Value]) -> String {
    if !input.is_empty()
        && input
            .iter()
            .all(|v| matches!(v, Value::Str(s) if s.chars().count() == 1))
    {
        let s: String = input.iter().map(|v| v.to_string()).collect();
        format!("\"{s}\"")
    } else {
        let items: Vec<String> = input.iter().map(Value::repr).collect();
        format!("[{}]", items.join(", "))
    }
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

/// One atom as JSON (floats always read back as floats).
pub fn json_atom(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => {
            if f.is_nan() {
                "NaN".into()
            } else if f.is_infinite() {
                if *f > 0.0 { "Infinity" } else { "-Infinity" }.into()
            } else {
                py_float_repr(*f)
            }
        }
        Value::Str(s) => serde_json::to_string(&**s).unwrap_or_else(|_| py_str_repr(s)),
    }
}

/// An input as JSON: a string when every token is a one-character string.
pub fn json_input(input: &[Value]) -> String {
    if !input.is_empty()
        && input
            .iter()
            .all(|v| matches!(v, Value::Str(s) if s.chars().count() == 1))
    {
        let s: String = input.iter().map(|v| v.to_string()).collect();
        serde_json::to_string(&s).unwrap_or_default()
    } else {
        let items: Vec<String> = input.iter().map(json_atom).collect();
        format!("[{}]", items.join(", "))
    }
}

/// An output as JSON: a list of atoms, or a list of rows of booleans.
pub fn json_output(out: &Output) -> String {
    match out {
        Output::Sop(col) => {
            let items: Vec<String> = col.values.iter().map(json_atom).collect();
            format!("[{}]", items.join(", "))
        }
        Output::Selector(rows) => {
            let rows: Vec<String> = rows
                .iter()
                .map(|r| {
                    let items: Vec<&str> = r
                        .iter()
                        .map(|b| if *b { "true" } else { "false" })
                        .collect();
                    format!("[{}]", items.join(", "))
                })
                .collect();
            format!("[{}]", rows.join(", "))
        }
    }
}
