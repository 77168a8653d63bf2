//! Sequence types: every position of an s-op holds the same type, as the
//! original's `lazy_type_check` requires.

use crate::ir::value::Value;

/// The type of a whole sequence, as the original's `lazy_type_check`
/// computes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeqType {
    Ints,
    Floats,
    Strings,
    Bools,
}

impl SeqType {
    pub fn name(self) -> &'static str {
        match self {
            SeqType::Ints => "ints",
            SeqType::Floats => "floats",
            SeqType::Strings => "strings",
            SeqType::Bools => "bools",
        }
    }
    pub fn is_numeric(self) -> bool {
        matches!(self, SeqType::Ints | SeqType::Floats)
    }
}

/// The type of a sequence, or the original's error for mixed values.
pub fn seq_type(values: &[Value]) -> Result<SeqType, String> {
    let (mut s, mut b, mut i) = (0usize, 0usize, 0usize);
    for v in values {
        match v {
            Value::Str(_) => s += 1,
            Value::Bool(_) => b += 1,
            Value::Int(_) => i += 1,
            Value::Float(_) => {}
        }
    }
    let n = values.len();
    if s == n {
        Ok(SeqType::Strings)
    } else if b == n {
        Ok(SeqType::Bools)
    } else if b + i == n {
        Ok(SeqType::Ints)
    } else if s == 0 {
        Ok(SeqType::Floats)
    } else {
        let shown: Vec<String> = values.iter().take(20).map(Value::repr).collect();
        let more = if n > 20 { ", ..." } else { "" };
        Err(format!(
            "attempted to create sequence with vals of different types: ({}{more})",
            shown.join(", ")
        ))
    }
}
