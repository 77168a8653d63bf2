//! Atoms with the original interpreter's (Python's) semantics: true division,
//! floor modulo, banker's rounding, `^` as pow, bools counting as ints.
//!
//! Every operation returns `Result<Value, OpError>`; the caller attaches the
//! span and the input. Ints are `i64`: where Python would grow a big int we
//! report an overflow instead of silently wrapping.
//!
//! `mod.rs` holds the atom type and its error; `ops.rs` Python's operators
//! and conversions; `repr.rs` Python's `repr` and `str`; `json.rs` atoms as
//! JSON; `order.rs` the total order of atoms and dict keys.

mod json;
mod ops;
mod order;
mod repr;

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::diag::limits::Limit;

pub use json::{non_finite_json, value_from_json, value_to_json, value_to_json_total};
pub use ops::{binary, compare, indicator, py_eq, py_float, py_int, round, unary};
pub use order::{DictKey, value_order};
pub use repr::{push_py_float, py_float_repr, py_str_repr};

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
