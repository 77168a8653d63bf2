//! Atoms compared as data rather than with the language's operators: a
//! total order (display, stable encodings) and dict keys with Python's
//! equality.

use std::sync::Arc;

use super::Value;

/// A total order of atoms, for display and for stable encodings (the
/// order of a compiled model's value lists): bools, then numbers by value
/// (an int before an equal float), then strings by their bytes.
pub fn value_order(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let rank = |v: &Value| match v {
        Value::Bool(_) => 0,
        Value::Int(_) | Value::Float(_) => 1,
        Value::Str(_) => 2,
    };
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        _ if rank(a) == rank(b) => {
            let o = a
                .as_f64()
                .partial_cmp(&b.as_f64())
                .unwrap_or(Ordering::Equal);
            // 3 before 3.0: ints first among equal numbers.
            o.then_with(|| matches!(a, Value::Float(_)).cmp(&matches!(b, Value::Float(_))))
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

/// A dict key with Python's equality: `1`, `1.0` and `True` are one key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DictKey {
    Int(i64),
    Float(u64),
    Str(Arc<str>),
}

impl DictKey {
    pub fn of(v: &Value) -> DictKey {
        match v {
            Value::Bool(b) => DictKey::Int(*b as i64),
            Value::Int(i) => DictKey::Int(*i),
            Value::Float(f) => {
                if f.fract() == 0.0 && f.abs() < 9.0e18 {
                    DictKey::Int(*f as i64)
                } else {
                    DictKey::Float(f.to_bits())
                }
            }
            Value::Str(s) => DictKey::Str(s.clone()),
        }
    }
}
