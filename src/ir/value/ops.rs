//! Python's operators and conversions on atoms: arithmetic (true division,
//! floor modulo, `^` as pow, 64-bit ints that overflow rather than wrap),
//! comparisons, `round`, `int()`, `float()`; strings made within the size
//! limit.

use std::sync::Arc;

use super::{OpError, OpErrorKind, OpResult, Value, py_float_repr, py_str_repr};
use crate::diag::limits::{self, Limit};
use crate::syntax::ast::{BinOp, CmpOp, UnOp};

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
            let mut s = new_string(
                x.len() as u128 + y.len() as u128,
                "string concatenation `+`",
            )?;
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
        let big = binary(
            BinOp::Mul,
            &Value::str("ab"),
            &Value::Int(1_000_000_000_000),
        );
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
