//! Statements and expressions of the meta level.
//!
//! `stmt.rs` runs statements; `expr.rs` evaluates expressions (literals,
//! names, conditionals, unary operators) and builds elementwise maps;
//! `ops.rs` the binary operators, `in` and indexing on meta values;
//! `forms.rs` the builtin forms (`select`, `aggregate`, `range`, `zip`,
//! `len`, `round`, `indicator`); `call.rs` calls of functions and of s-ops
//! on an input; `iterate.rs` what `for` and comprehensions iterate, and
//! the comprehensions. This file: the diagnostics and checks they share.

mod call;
mod expr;
mod forms;
mod iterate;
mod ops;
mod stmt;

use super::value::MVal;
use crate::diag::limits::Limit;
use crate::diag::{Diag, Span, codes};
use crate::ir::value::{OpError, OpErrorKind, Value};

fn op_err(e: OpError, span: Span) -> Diag {
    let code = match e.kind {
        OpErrorKind::Type => codes::TYPE_MISMATCH,
        OpErrorKind::Value => codes::EVAL_VALUE,
        OpErrorKind::DivZero => codes::EVAL_DIV_ZERO,
        OpErrorKind::Overflow => codes::EVAL_OVERFLOW,
        OpErrorKind::Index => codes::EVAL_INDEX,
        OpErrorKind::Key => codes::EVAL_KEY,
        OpErrorKind::Limit(l) => return Diag::error(l.code(), e.message).at(span).help(l.help()),
    };
    Diag::error(code, e.message).at(span)
}

fn type_err(message: impl Into<String>, span: Span) -> Diag {
    Diag::error(codes::TYPE_MISMATCH, message).at(span)
}

/// Refuse a value of `size` (as [`value::size`](super::value::size) counts it) over the size
/// limit: `what` says what would be made (`a list`).
fn check_size(size: u64, what: &str, span: Span) -> Result<(), Diag> {
    Limit::Size
        .check(u128::from(size), || {
            format!("this would make {what} of size {size}")
        })
        .map_err(|d| d.at(span))
}

fn dict_key(k: MVal, span: Span) -> Result<Value, Diag> {
    match k {
        MVal::Atom(v) => Ok(v),
        other => Err(type_err(
            format!(
                "dictionary keys can only be atoms, got {}",
                other.kind_name()
            ),
            span,
        )),
    }
}

fn arity_diag(what: &str, expected: &str, got: usize, span: Span) -> Diag {
    Diag::error(
        codes::TYPE_ARITY,
        format!("wrong number of args for {what}: expected {expected}, got {got}"),
    )
    .at(span)
}

/// A meta value as an input sequence (string or non-empty list of atoms).
pub(crate) fn to_input(v: &MVal, span: Span) -> Result<Vec<Value>, Diag> {
    let input: Vec<Value> = match v {
        MVal::Atom(Value::Str(s)) => s.chars().map(|c| Value::str(&c.to_string())).collect(),
        MVal::List(l) => {
            let mut out = Vec::with_capacity(l.len());
            for item in l.iter() {
                match item {
                    MVal::Atom(a) => out.push(a.clone()),
                    other => {
                        return Err(type_err(
                            format!("an input holds atoms only, got {}", other.kind_name()),
                            span,
                        ));
                    }
                }
            }
            out
        }
        other => {
            return Err(Diag::error(
                codes::EVAL_INPUT,
                format!(
                    "RASP sequences/selectors expect non-empty iterables, got: {}",
                    other.repr()
                ),
            )
            .at(span));
        }
    };
    if input.is_empty() {
        return Err(Diag::error(
            codes::EVAL_EMPTY_INPUT,
            format!(
                "RASP sequences/selectors expect non-empty iterables, got: {}",
                v.repr()
            ),
        )
        .at(span));
    }
    Ok(input)
}
