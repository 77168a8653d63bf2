//! Atoms with the original interpreter's (Python's) semantics: true division,
//! floor modulo, banker's rounding, `^` as pow, bools counting as ints.
//!
//! Every operation returns `Result<Value, OpError>`; the caller attaches the
//! span and the input. Ints are `i64`: where Python would grow a big int we
//! report an overflow instead of silently wrapping.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::diag::limits::{self, Limit};
use crate::syntax::ast::{BinOp, CmpOp, UnOp};

/// An atom: the value at one position of an s-op, with Python's
/// semantics (bools are ints in arithmetic, `/` is true division, ...).
#[derive(Clone, Debug)]
pub enum Value {
    /// `True` / `False`.
    Bool(bool),
    /// An int (64-bit: where Python would make a big int, evaluation fails
    /// with `rasp::eval::overflow`).
    Int(i64),
    /// A float.
    Float(f64),
    /// A string (a token of a string input is a one-character string).
    Str(Arc<str>),
}

/// Why an atom operation failed. `kind` picks the diagnostic code.
#[derive(Clone, Debug, PartialEq)]
pub struct OpError {
    pub kind: OpErrorKind,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpErrorKind {
    /// Python TypeError: unsupported operand types.
    Type,
    /// Python ValueError (e.g. `int("a")`).
    Value,
    DivZero,
    Overflow,
    Index,
    Key,
    /// Over a limit (`rasp::limit::*`): a string too large to make.
    Limit(Limit),
}

impl OpError {
    pub fn new(kind: OpErrorKind, message: impl Into<String>) -> OpError {
        OpError {
            kind,
            message: message.into(),
        }
    }
    fn ty(message: impl Into<String>) -> OpError {
        OpError::new(OpErrorKind::Type, message)
    }
}

pub type OpResult = Result<Value, OpError>;

impl Value {
    /// A string atom.
    pub fn str(s: &str) -> Value {
        Value::Str(Arc::from(s))
    }

    /// Python's type name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
        }
    }

    /// Python truthiness.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
        }
    }

    /// Whether it is a number (an int, a float or a bool).
    pub fn is_number(&self) -> bool {
        !matches!(self, Value::Str(_))
    }

    /// As an integer when it is an int or a bool (Python's `int` subclass).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Bool(b) => Some(*b as i64),
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// As a float, when it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Bool(b) => Some(*b as i64 as f64),
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Str(_) => None,
        }
    }

    /// Structural identity (same type, same bits): used for hash-consing,
    /// never for the language's `==`.
    pub fn same(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            (Value::Str(a), Value::Str(b)) => a == b,
            _ => false,
        }
    }

    /// Python `repr` (strings quoted with single quotes), as lists print.
    pub fn repr(&self) -> String {
        match self {
            Value::Str(s) => py_str_repr(s),
            v => v.to_string(),
        }
    }
}

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

/// Python's repr of a string (single quotes unless the text has one and no
/// double quote).
pub fn py_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c)
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `repr(float)`: shortest round-trip digits, scientific notation
/// when the exponent is below -4 or at least 16, always a `.0` or exponent.
pub fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e-7".
    let sci = format!("{:e}", f);
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (sci.as_str(), 0),
    };
    let neg = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if neg { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let s = if exp >= 0 {
            let int_len = exp + 1;
            if n <= int_len {
                format!("{}{}.0", digits, "0".repeat((int_len - n) as usize))
            } else {
                format!(
                    "{}.{}",
                    &digits[..int_len as usize],
                    &digits[int_len as usize..]
                )
            }
        } else {
            format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
        };
        format!("{sign}{s}")
    } else {
        let m = if digits.len() == 1 {
            digits.clone()
        } else {
            format!("{}.{}", &digits[..1], &digits[1..])
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{m}e{esign}{:02}", exp.abs())
    }
}

/// Python's `str` of an atom.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => f.write_str(&py_float_repr(*x)),
            Value::Str(s) => f.write_str(s),
        }
    }
}

// Structural hashing/equality, so values can sit inside hash-consed IR nodes.
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        self.same(other)
    }
}
impl Eq for Value {}
impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Value::Bool(b) => b.hash(state),
            Value::Int(i) => i.hash(state),
            Value::Float(x) => x.to_bits().hash(state),
            Value::Str(s) => s.hash(state),
        }
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

fn num_kind(a: &Value, b: &Value) -> Option<(bool, f64, f64, i64, i64)> {
    // (both ints, fa, fb, ia, ib)
    match (a.as_int(), b.as_int()) {
        (Some(x), Some(y)) => Some((true, x as f64, y as f64, x, y)),
        _ => Some((false, a.as_f64()?, b.as_f64()?, 0, 0)),
    }
}

fn unsupported(op: &str, a: &Value, b: &Value) -> OpError {
    OpError::ty(format!(
        "unsupported operand type(s) for {op}: '{}' and '{}'",
        a.type_name(),
        b.type_name()
    ))
}

fn overflow(op: &str) -> OpError {
    OpError::new(
        OpErrorKind::Overflow,
        format!("integer overflow in `{op}` (rasp ints are 64-bit)"),
    )
}

fn repeat_str(s: &str, n: i64) -> OpResult {
    if n <= 0 {
        return Ok(Value::str(""));
    }
    let total = (s.len() as u128) * (n as u128);
    let mut out = new_string(total, "string repetition `*`")?;
    for _ in 0..n {
        out.push_str(s);
    }
    Ok(Value::Str(Arc::from(out)))
}

/// An empty string with room for `bytes` bytes, made by `what`: refused
/// over the size limit (`rasp::limit::size`) or when the system has not
/// the memory (`rasp::limit::memory`), before anything is allocated.
fn new_string(bytes: u128, what: &str) -> Result<String, OpError> {
    if !Limit::Size.allows(bytes) {
        return Err(OpError::new(
            OpErrorKind::Limit(Limit::Size),
            Limit::Size.message(format!("{what} would make a string of {bytes} bytes")),
        ));
    }
    let mut out = String::new();
    out.try_reserve_exact(bytes as usize).map_err(|_| {
        OpError::new(
            OpErrorKind::Limit(Limit::Memory),
            limits::refused_message(bytes, what),
        )
    })?;
    Ok(out)
}

/// Python float modulo (`math.fmod` adjusted to the divisor's sign).
pub fn py_fmod(a: f64, b: f64) -> f64 {
    let r = a % b;
    if r != 0.0 {
        if (r < 0.0) != (b < 0.0) { r + b } else { r }
    } else {
        0.0f64.copysign(b)
    }
}

/// Python's `round(x)` on a float: banker's rounding to an int.
pub fn py_round(f: f64) -> Result<i64, OpError> {
    if f.is_nan() {
        return Err(OpError::new(
            OpErrorKind::Value,
            "cannot convert float NaN to integer",
        ));
    }
    let r = f.round_ties_even();
    if !r.is_finite() || r.abs() >= 9.2e18 {
        return Err(OpError::new(
            OpErrorKind::Overflow,
            "cannot convert float infinity to integer",
        ));
    }
    Ok(r as i64)
}

pub fn binary(op: BinOp, a: &Value, b: &Value) -> OpResult {
    match op {
        BinOp::Add => add(a, b),
        BinOp::Sub => match num_kind(a, b) {
            Some((true, _, _, x, y)) => x.checked_sub(y).map(Value::Int).ok_or(overflow("-")),
            Some((false, x, y, _, _)) => Ok(Value::Float(x - y)),
            None => Err(unsupported("-", a, b)),
        },
        BinOp::Mul => mul(a, b),
        BinOp::Div => match num_kind(a, b) {
            Some((_, x, y, _, _)) => {
                if y == 0.0 {
                    Err(OpError::new(OpErrorKind::DivZero, "division by zero"))
                } else {
                    Ok(Value::Float(x / y))
                }
            }
            None => Err(unsupported("/", a, b)),
        },
        BinOp::Mod => match num_kind(a, b) {
            Some((true, _, _, x, y)) => {
                if y == 0 {
                    Err(OpError::new(
                        OpErrorKind::DivZero,
                        "integer division or modulo by zero",
                    ))
                } else {
                    // x.rem_euclid is wrong for negative divisors: use floor mod.
                    let r = x.wrapping_rem(y);
                    Ok(Value::Int(if r != 0 && ((r < 0) != (y < 0)) {
                        r + y
                    } else {
                        r
                    }))
                }
            }
            Some((false, x, y, _, _)) => {
                if y == 0.0 {
                    Err(OpError::new(OpErrorKind::DivZero, "float modulo"))
                } else {
                    Ok(Value::Float(py_fmod(x, y)))
                }
            }
            None => Err(unsupported("%", a, b)),
        },
        BinOp::Pow => pow(a, b),
        BinOp::Cmp(c) => compare(c, a, b).map(Value::Bool),
        BinOp::And => Ok(Value::Bool(a.truthy() && b.truthy())),
        BinOp::Or => Ok(Value::Bool(a.truthy() || b.truthy())),
    }
}

fn add(a: &Value, b: &Value) -> OpResult {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => {
            let mut s = new_string(x.len() as u128 + y.len() as u128, "string concatenation `+`")?;
            s.push_str(x);
            s.push_str(y);
            Ok(Value::Str(Arc::from(s)))
        }
        _ => match num_kind(a, b) {
            Some((true, _, _, x, y)) => x.checked_add(y).map(Value::Int).ok_or(overflow("+")),
            Some((false, x, y, _, _)) => Ok(Value::Float(x + y)),
            None => Err(unsupported("+", a, b)),
        },
    }
}

fn mul(a: &Value, b: &Value) -> OpResult {
    match (a, b) {
        (Value::Str(s), n) | (n, Value::Str(s)) if n.as_int().is_some() => {
            repeat_str(s, n.as_int().unwrap_or(0))
        }
        (Value::Str(_), Value::Float(_)) | (Value::Float(_), Value::Str(_)) => Err(OpError::ty(
            "can't multiply sequence by non-int of type 'float'",
        )),
        _ => match num_kind(a, b) {
            Some((true, _, _, x, y)) => x.checked_mul(y).map(Value::Int).ok_or(overflow("*")),
            Some((false, x, y, _, _)) => Ok(Value::Float(x * y)),
            None => Err(unsupported("*", a, b)),
        },
    }
}

fn pow(a: &Value, b: &Value) -> OpResult {
    match num_kind(a, b) {
        None => Err(unsupported("** or pow()", a, b)),
        Some((true, _, _, x, y)) => {
            if y >= 0 {
                let e = u32::try_from(y).map_err(|_| overflow("^"))?;
                x.checked_pow(e).map(Value::Int).ok_or(overflow("^"))
            } else if x == 0 {
                Err(OpError::new(
                    OpErrorKind::DivZero,
                    "0.0 cannot be raised to a negative power",
                ))
            } else {
                Ok(Value::Float((x as f64).powf(y as f64)))
            }
        }
        Some((false, x, y, _, _)) => {
            if x == 0.0 && y < 0.0 {
                return Err(OpError::new(
                    OpErrorKind::DivZero,
                    "0.0 cannot be raised to a negative power",
                ));
            }
            if x < 0.0 && y.fract() != 0.0 && y.is_finite() {
                return Err(OpError::ty(format!(
                    "{} ^ {} is a complex number, which RASP sequences cannot hold",
                    py_float_repr(x),
                    py_float_repr(y)
                )));
            }
            let r = x.powf(y);
            if r.is_infinite() && x.is_finite() && y.is_finite() {
                return Err(OpError::new(
                    OpErrorKind::Overflow,
                    "(34, 'Numerical result out of range')",
                ));
            }
            Ok(Value::Float(r))
        }
    }
}

/// Python comparison. `==` never fails (different kinds are unequal);
/// ordering a string against a number is a TypeError.
pub fn compare(op: CmpOp, a: &Value, b: &Value) -> Result<bool, OpError> {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(match op {
            CmpOp::Eq => x == y,
            CmpOp::Ne => x != y,
            CmpOp::Lt => x < y,
            CmpOp::Gt => x > y,
            CmpOp::Le => x <= y,
            CmpOp::Ge => x >= y,
        }),
        (Value::Str(_), _) | (_, Value::Str(_)) => match op {
            CmpOp::Eq => Ok(false),
            CmpOp::Ne => Ok(true),
            _ => Err(OpError::ty(format!(
                "'{}' not supported between instances of '{}' and '{}'",
                op.symbol(),
                a.type_name(),
                b.type_name()
            ))),
        },
        _ => {
            let ord = match (a.as_int(), b.as_int()) {
                (Some(x), Some(y)) => x.partial_cmp(&y),
                _ => {
                    let x = a.as_f64().unwrap_or(f64::NAN);
                    let y = b.as_f64().unwrap_or(f64::NAN);
                    x.partial_cmp(&y)
                }
            };
            use std::cmp::Ordering::*;
            Ok(match (op, ord) {
                (CmpOp::Ne, None) => true,
                (_, None) => false,
                (CmpOp::Eq, Some(o)) => o == Equal,
                (CmpOp::Ne, Some(o)) => o != Equal,
                (CmpOp::Lt, Some(o)) => o == Less,
                (CmpOp::Gt, Some(o)) => o == Greater,
                (CmpOp::Le, Some(o)) => o != Greater,
                (CmpOp::Ge, Some(o)) => o != Less,
            })
        }
    }
}

/// Python `==` (never fails).
pub fn py_eq(a: &Value, b: &Value) -> bool {
    compare(CmpOp::Eq, a, b).unwrap_or(false)
}

pub fn unary(op: UnOp, a: &Value) -> OpResult {
    match op {
        UnOp::Not => Ok(Value::Bool(!a.truthy())),
        UnOp::Neg => match a {
            Value::Float(f) => Ok(Value::Float(-f)),
            Value::Str(_) => Err(OpError::ty("bad operand type for unary -: 'str'")),
            v => {
                let i = v.as_int().unwrap_or(0);
                i.checked_neg().map(Value::Int).ok_or(overflow("-"))
            }
        },
        UnOp::Plus => match a {
            Value::Float(f) => Ok(Value::Float(*f)),
            Value::Str(_) => Err(OpError::ty("bad operand type for unary +: 'str'")),
            v => Ok(Value::Int(v.as_int().unwrap_or(0))),
        },
    }
}

/// Python `round(x)` with no digits: an int.
pub fn round(a: &Value) -> OpResult {
    match a {
        Value::Float(f) => py_round(*f).map(Value::Int),
        Value::Str(_) => Err(OpError::ty("type str doesn't define __round__ method")),
        v => Ok(Value::Int(v.as_int().unwrap_or(0))),
    }
}

/// `indicator(x)`: 1 where truthy, else 0.
pub fn indicator(a: &Value) -> Value {
    Value::Int(a.truthy() as i64)
}

/// Python `int(x)` as `tokens_int` applies it.
pub fn py_int(a: &Value) -> OpResult {
    match a {
        Value::Bool(b) => Ok(Value::Int(*b as i64)),
        Value::Int(i) => Ok(Value::Int(*i)),
        Value::Float(f) => {
            if f.is_nan() {
                Err(OpError::new(
                    OpErrorKind::Value,
                    "cannot convert float NaN to integer",
                ))
            } else if f.is_infinite() || f.abs() >= 9.2e18 {
                Err(OpError::new(
                    OpErrorKind::Overflow,
                    "cannot convert float infinity to integer",
                ))
            } else {
                Ok(Value::Int(f.trunc() as i64))
            }
        }
        Value::Str(s) => {
            let t = s.trim();
            let (neg, digits) = match t.strip_prefix('-') {
                Some(r) => (true, r),
                None => (false, t.strip_prefix('+').unwrap_or(t)),
            };
            let clean: String = digits.chars().filter(|c| *c != '_').collect();
            let ok = !digits.is_empty()
                && !digits.starts_with('_')
                && !digits.ends_with('_')
                && !digits.contains("__")
                && clean.chars().all(|c| c.is_ascii_digit());
            if !ok {
                return Err(OpError::new(
                    OpErrorKind::Value,
                    format!("invalid literal for int() with base 10: {}", py_str_repr(s)),
                ));
            }
            let v: i64 = clean.parse().map_err(|_| overflow("int()"))?;
            Ok(Value::Int(if neg { -v } else { v }))
        }
    }
}

/// Python `float(x)` as `tokens_float` applies it.
pub fn py_float(a: &Value) -> OpResult {
    match a {
        Value::Str(s) => {
            let t = s.trim();
            let lower = t.to_ascii_lowercase();
            let body = lower.trim_start_matches(['+', '-']);
            let special = matches!(body, "inf" | "infinity" | "nan");
            let plain = !t.contains("__")
                && !t.starts_with('_')
                && !t.ends_with('_')
                && t.chars()
                    .all(|c| c.is_ascii_digit() || "+-.eE_".contains(c));
            let parsed = if special || plain {
                lower.replace('_', "").parse::<f64>().ok()
            } else {
                None
            };
            parsed.map(Value::Float).ok_or_else(|| {
                OpError::new(
                    OpErrorKind::Value,
                    format!("could not convert string to float: {}", py_str_repr(s)),
                )
            })
        }
        v => Ok(Value::Float(v.as_f64().unwrap_or(0.0))),
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
        assert_eq!(value_to_json_total(&Value::Float(2.5)), serde_json::json!(2.5));
        assert_eq!(value_to_json_total(&Value::Int(3)), serde_json::json!(3));
    }

    #[test]
    fn float_repr_matches_python() {
        for (f, s) in [
            (2.0, "2.0"),
            (0.5, "0.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345.0, "123456789012345.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e-7, "-2.5e-07"),
            (1.0 / 3.0, "0.3333333333333333"),
            (-0.0, "-0.0"),
        ] {
            assert_eq!(py_float_repr(f), s);
        }
    }

    #[test]
    fn python_arithmetic() {
        let i = Value::Int;
        assert_eq!(binary(BinOp::Mod, &i(-4), &i(3)).unwrap(), i(2));
        assert_eq!(binary(BinOp::Mod, &i(4), &i(-3)).unwrap(), i(-2));
        assert_eq!(
            binary(BinOp::Mod, &Value::Float(-2.5), &i(3)).unwrap(),
            Value::Float(0.5)
        );
        assert_eq!(binary(BinOp::Div, &i(4), &i(2)).unwrap(), Value::Float(2.0));
        assert_eq!(
            binary(BinOp::Pow, &i(2), &i(-1)).unwrap(),
            Value::Float(0.5)
        );
        assert_eq!(binary(BinOp::Pow, &i(9), &i(10)).unwrap(), i(3486784401));
        assert_eq!(round(&Value::Float(2.5)).unwrap(), i(2));
        assert_eq!(round(&Value::Float(-2.5)).unwrap(), i(-2));
        assert_eq!(round(&Value::Float(3.5)).unwrap(), i(4));
        assert!(binary(BinOp::Div, &i(1), &i(0)).is_err());
        assert!(binary(BinOp::Add, &i(1), &Value::str("a")).is_err());
        assert_eq!(
            binary(BinOp::Mul, &Value::str("ab"), &i(2)).unwrap(),
            Value::str("abab")
        );
        assert!(py_eq(&i(1), &Value::Bool(true)));
        assert!(py_eq(&i(1), &Value::Float(1.0)));
        assert!(!py_eq(&i(1), &Value::str("1")));
        assert!(compare(CmpOp::Lt, &i(1), &Value::str("1")).is_err());
        assert!(binary(BinOp::Mul, &i(i64::MAX), &i(2)).is_err());
    }

    #[test]
    fn conversions() {
        assert_eq!(py_int(&Value::str(" -3 ")).unwrap(), Value::Int(-3));
        assert_eq!(py_int(&Value::Float(-1.9)).unwrap(), Value::Int(-1));
        assert!(py_int(&Value::str("a")).is_err());
        assert_eq!(py_float(&Value::str("7")).unwrap(), Value::Float(7.0));
        assert!(py_float(&Value::str("x")).is_err());
    }

    /// Strings over the size limit are refused before they are made: a
    /// repetition by a trillion allocates nothing.
    #[test]
    fn strings_over_the_size_limit_are_refused() {
        let big = binary(BinOp::Mul, &Value::str("ab"), &Value::Int(1_000_000_000_000));
        assert_eq!(
            big.map_err(|e| e.kind),
            Err(OpErrorKind::Limit(crate::diag::limits::Limit::Size))
        );
        let half = Value::str(&"a".repeat(600_000));
        let sum = binary(BinOp::Add, &half, &half).expect_err("over the limit");
        assert!(sum.message.contains("1200000 bytes"), "{}", sum.message);
        assert!(binary(BinOp::Add, &half, &Value::str("b")).is_ok());
    }
}
