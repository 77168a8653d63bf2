//! Atoms as Python shows them: `repr` (strings quoted, as lists print) and
//! `str` (`Display`), floats with Python's shortest round-trip digits.

use std::fmt;

use super::Value;

impl Value {
    /// Python `repr` (strings quoted with single quotes), as lists print.
    pub fn repr(&self) -> String {
        match self {
            Value::Str(s) => py_str_repr(s),
            v => v.to_string(),
        }
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
    let mut out = String::with_capacity(24);
    push_py_float(&mut out, f);
    out
}

/// [`py_float_repr`], appended to `out` (one buffer for a whole
/// document: `rasp.json` lists many thousands of floats).
pub fn push_py_float(out: &mut String, f: f64) {
    use std::fmt::Write;
    if f.is_nan() {
        return out.push_str("nan");
    }
    if f.is_infinite() {
        return out.push_str(if f > 0.0 { "inf" } else { "-inf" });
    }
    if f == 0.0 {
        return out.push_str(if f.is_sign_negative() { "-0.0" } else { "0.0" });
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e-7",
    // written after `out`'s end and rearranged there.
    let start = out.len();
    let _ = write!(out, "{:e}", f.abs());
    let sci = out.split_off(start);
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (sci.as_str(), 0),
    };
    // The digits: the mantissa without its point.
    let (first, rest) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let n = (first.len() + rest.len()) as i32;
    let digit = |k: i32| {
        let k = k as usize;
        if k < first.len() {
            first.as_bytes()[k] as char
        } else {
            rest.as_bytes()[k - first.len()] as char
        }
    };
    if f < 0.0 {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        if exp >= 0 {
            let int_len = exp + 1;
            for k in 0..n.min(int_len) {
                out.push(digit(k));
            }
            for _ in n..int_len {
                out.push('0');
            }
            out.push('.');
            if n <= int_len {
                out.push('0');
            }
            for k in int_len..n {
                out.push(digit(k));
            }
        } else {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            for k in 0..n {
                out.push(digit(k));
            }
        }
    } else {
        out.push(digit(0));
        if n > 1 {
            out.push('.');
            for k in 1..n {
                out.push(digit(k));
            }
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
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

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Random floats of every magnitude: the text parses back to the same
    /// float, and is the reference construction's (digits of `{:e}` placed
    /// by Python's rules, written with `format!`).
    #[test]
    fn float_repr_round_trips() {
        fn reference(f: f64) -> String {
            let sci = format!("{:e}", f);
            let (mantissa, exp) = sci.split_once('e').unwrap();
            let exp: i32 = exp.parse().unwrap();
            let sign = if mantissa.starts_with('-') { "-" } else { "" };
            let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
            let n = digits.len() as i32;
            if (-4..16).contains(&exp) {
                if exp >= 0 {
                    let int_len = exp + 1;
                    if n <= int_len {
                        format!("{sign}{digits}{}.0", "0".repeat((int_len - n) as usize))
                    } else {
                        let (a, b) = digits.split_at(int_len as usize);
                        format!("{sign}{a}.{b}")
                    }
                } else {
                    format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize))
                }
            } else {
                let m = if n == 1 {
                    digits.clone()
                } else {
                    format!("{}.{}", &digits[..1], &digits[1..])
                };
                let esign = if exp < 0 { '-' } else { '+' };
                format!("{sign}{m}e{esign}{:02}", exp.abs())
            }
        }
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let f = f64::from_bits(state);
            if !f.is_finite() || f == 0.0 {
                continue;
            }
            let text = py_float_repr(f);
            assert_eq!(text, reference(f), "{f:e}");
            let back: f64 = text.parse().expect("parses");
            assert_eq!(back.to_bits(), f.to_bits(), "{text}");
        }
        let mut buf = String::from("[");
        push_py_float(&mut buf, 0.25);
        push_py_float(&mut buf, -1e-7);
        assert_eq!(buf, "[0.25-1e-07");
    }
}
