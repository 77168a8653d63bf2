//! Atoms as JSON: read from and written to `rasp.json`, and the one
//! spelling of NaN and the infinities in the JSON that rasp writes.

use super::Value;

/// A JSON value from `rasp.json` as an atom: ints stay ints (when they fit
/// in an `i64`), other numbers are floats, strings and bools map to
/// themselves. Anything else (null, arrays, objects, ints beyond `i64`)
/// is `None`.
pub fn value_from_json(v: &serde_json::Value) -> Option<Value> {
    match v {
        serde_json::Value::Bool(b) => Some(Value::Bool(*b)),
        serde_json::Value::String(s) => Some(Value::str(s)),
        serde_json::Value::Number(n) => {
            if n.is_i64() {
                n.as_i64().map(Value::Int)
            } else if n.is_u64() {
                None
            } else {
                n.as_f64().map(Value::Float)
            }
        }
        _ => None,
    }
}

/// An atom's JSON form, as `rasp.json` stores it: `1`, `1.0` and `"1"` are
/// three different JSON values. Non-finite floats have none.
pub fn value_to_json(v: &Value) -> Option<serde_json::Value> {
    match v {
        Value::Bool(b) => Some(serde_json::Value::Bool(*b)),
        Value::Int(i) => Some(serde_json::Value::Number((*i).into())),
        Value::Float(f) => serde_json::Number::from_f64(*f).map(serde_json::Value::Number),
        Value::Str(s) => Some(serde_json::Value::String(s.to_string())),
    }
}

/// How the JSON that rasp writes (`eval --json`, `exec --json`, `rasp gen`'s
/// JSON lines and `--trace`, the library's `Output::to_json`, the
/// sidecar) spells a float that JSON has no number for: the strings
/// `"NaN"`, `"Infinity"` and `"-Infinity"` of protobuf's proto3 JSON
/// mapping. `None` for a finite float, which is written as a number.
///
/// The one place that decides it: every JSON writer of values calls this,
/// so their output is always valid JSON (bare `NaN` is not) and lossless
/// (`null` would merge NaN with both infinities); Python's `float()` and
/// JavaScript's `Number()` read the three strings back.
pub fn non_finite_json(f: f64) -> Option<&'static str> {
    if f.is_nan() {
        Some("NaN")
    } else if f == f64::INFINITY {
        Some("Infinity")
    } else if f == f64::NEG_INFINITY {
        Some("-Infinity")
    } else {
        None
    }
}

/// An atom as the JSON that rasp writes: [`value_to_json`], with the
/// non-finite floats as [`non_finite_json`] spells them.
pub fn value_to_json_total(v: &Value) -> serde_json::Value {
    match v {
        Value::Float(f) => match non_finite_json(*f) {
            Some(name) => serde_json::Value::String(name.to_string()),
            None => serde_json::Number::from_f64(*f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
        },
        v => value_to_json(v).unwrap_or(serde_json::Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_floats_have_one_json_form() {
        assert_eq!(non_finite_json(f64::NAN), Some("NaN"));
        assert_eq!(non_finite_json(f64::INFINITY), Some("Infinity"));
        assert_eq!(non_finite_json(f64::NEG_INFINITY), Some("-Infinity"));
        assert_eq!(non_finite_json(f64::MAX), None);
        assert_eq!(non_finite_json(-0.0), None);
        assert_eq!(
            value_to_json_total(&Value::Float(f64::NEG_INFINITY)),
            serde_json::json!("-Infinity")
        );
        assert_eq!(
            value_to_json_total(&Value::Float(2.5)),
            serde_json::json!(2.5)
        );
        assert_eq!(value_to_json_total(&Value::Int(3)), serde_json::json!(3));
    }
}
