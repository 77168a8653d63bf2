//! Which selectors select at most one key per query, whatever the input.
//!
//! An aggregate over such a selector never averages: each query gets one
//! key's value unchanged or, with none selected, the default. So its value
//! set is its source's values and the default (`valueset`), not every mean
//! of them, and an attention head that copies the selected key (a one-hot
//! or a number) computes it exactly.
//!
//! The analysis is sound, never complete: when unsure it answers "may
//! select several". A selector selects at most one key when
//! * it is `select(k, q, ==)` whose key s-op `k` is unique per position:
//!   at every length its values at two positions are never `==` (`indices`,
//!   `indices + 1`, `length - indices - 1`, any map of `indices` and
//!   `length` injective on the positions), whatever `q` is;
//! * it is an `and` with such a conjunct (it selects a subset of its keys);
//! * it never selects anything (a select of two constants that is false);
//! * or no input has two positions (a max length of 1).

use std::collections::{BTreeMap, HashSet};

use crate::ir::value::Value;
use crate::ir::{Graph, NodeId, Op};
use crate::syntax::ast::CmpOp;

/// Most elementwise evaluations the analysis spends on one key s-op
/// (beyond it the key counts as not unique).
const MAX_WORK: usize = 1 << 22;

/// Whether `sel` selects at most one key for every query of every input
/// of up to `max_len` tokens.
pub fn at_most_one(graph: &Graph, sel: NodeId, max_len: usize) -> bool {
    if max_len <= 1 {
        return true;
    }
    if super::valueset::constant_selector(graph, sel) == Some(false) {
        return true;
    }
    match graph.op(sel) {
        Op::Select {
            keys,
            cmp: CmpOp::Eq,
            ..
        } => unique_per_position(graph, *keys, max_len),
        Op::SelAnd(a, b) => at_most_one(graph, *a, max_len) || at_most_one(graph, *b, max_len),
        Op::SelNot(a) => match graph.op(*a) {
            Op::SelNot(inner) => at_most_one(graph, *inner, max_len),
            _ => false,
        },
        _ => false,
    }
}

/// Whether no two positions of any input of up to `max_len` tokens hold
/// `==` values of `sop`. Only s-ops that do not depend on the tokens are
/// judged (maps of `indices`, `length` and constants); anything else, or a
/// map that fails at some position, counts as not unique.
pub fn unique_per_position(graph: &Graph, sop: NodeId, max_len: usize) -> bool {
    let Some(uses_length) = positional(graph, sop) else {
        return false;
    };
    // Without `length`, a shorter input's column is a prefix of the
    // longest one's: one length decides.
    let lengths: Vec<usize> = if uses_length {
        (1..=max_len).collect()
    } else {
        vec![max_len]
    };
    let nodes = graph.ancestors(&[sop]).len().max(1);
    let work = lengths
        .iter()
        .try_fold(0usize, |acc, l| acc.checked_add(l.checked_mul(nodes)?));
    if work.is_none_or(|w| w > MAX_WORK) {
        return false;
    }
    lengths.into_iter().all(|len| {
        let mut memo = BTreeMap::new();
        column(graph, sop, len, &mut memo).is_some_and(|c| pairwise_unequal(&c))
    })
}

/// Whether `sop` depends only on positions (indices, length, constants):
/// `Some(uses length)`, or `None` when it reads anything else.
fn positional(graph: &Graph, sop: NodeId) -> Option<bool> {
    let mut uses_length = false;
    for id in graph.ancestors(&[sop]) {
        match graph.op(id) {
            Op::Indices | Op::Const(_) | Op::Map { .. } => {}
            Op::Length => uses_length = true,
            _ => return None,
        }
    }
    Some(uses_length)
}

/// The values of a positional s-op at each position of an input of `len`
/// tokens; `None` if it fails at some position.
fn column(
    graph: &Graph,
    id: NodeId,
    len: usize,
    memo: &mut BTreeMap<NodeId, Option<Vec<Value>>>,
) -> Option<Vec<Value>> {
    if let Some(c) = memo.get(&id) {
        return c.clone();
    }
    let out = match graph.op(id) {
        Op::Indices => Some((0..len as i64).map(Value::Int).collect()),
        Op::Length => Some(vec![Value::Int(len as i64); len]),
        Op::Const(v) => Some(vec![v.clone(); len]),
        Op::Map { expr, args } => {
            let mut cols = Vec::with_capacity(args.len());
            for a in args {
                cols.push(column(graph, *a, len, memo)?);
            }
            (0..len)
                .map(|i| {
                    let row: Vec<&Value> = cols.iter().map(|c| &c[i]).collect();
                    expr.eval(&row).ok()
                })
                .collect()
        }
        _ => None,
    };
    memo.insert(id, out.clone());
    out
}

/// What decides `==` between values: numbers (ints, bools, floats) by
/// their float value, strings by their text. Two values with different
/// keys are never `==` (an int and a float are equal only when the float
/// equals the int's float value), and no third value is `==` to both.
#[derive(Hash, PartialEq, Eq)]
enum EqKey {
    Num(u64),
    Str(String),
}

fn eq_key(v: &Value) -> Option<EqKey> {
    match v {
        Value::Str(s) => Some(EqKey::Str(s.to_string())),
        _ => {
            let x = v.as_f64()?;
            // NaN is `==` to nothing: never selected, never a collision.
            if x.is_nan() {
                return None;
            }
            // 0.0 and -0.0 are equal.
            let x = if x == 0.0 { 0.0 } else { x };
            Some(EqKey::Num(x.to_bits()))
        }
    }
}

/// Whether no two of `vals` are `==`.
fn pairwise_unequal(vals: &[Value]) -> bool {
    let mut seen = HashSet::with_capacity(vals.len());
    vals.iter().filter_map(eq_key).all(|k| seen.insert(k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front::{MVal, Session, value::lookup};

    /// The selector named `sel` in `src`, and the graph.
    fn selector(src: &str) -> (Session, NodeId) {
        let mut session = Session::new();
        let scope = session.new_scope();
        let result = session.run_source("<test>", src, &scope, None);
        assert!(!result.has_errors(), "{:?}", result.diags);
        let Some(MVal::Sel(id)) = lookup(&scope, "sel") else {
            panic!("`sel` is a selector");
        };
        (session, id)
    }

    fn one(src: &str, max_len: usize) -> bool {
        let (s, id) = selector(src);
        at_most_one(&s.graph, id, max_len)
    }

    #[test]
    fn equality_with_unique_keys_selects_at_most_one() {
        for src in [
            "sel = select(indices, indices, ==);",
            "sel = select(indices, indices - 1, ==);",
            "sel = select(indices, 0, ==);",
            "sel = select(indices, length - 1, ==);",
            "sel = select(indices, tokens, ==);",
            "sel = select(indices + 1, tokens_int, ==);",
            "sel = select(length - indices - 1, indices, ==);",
            "sel = select(indices * 2 + 3, indices, ==);",
            "sel = select(indices / 2, indices, ==);",
            // The position of the largest token (a query computed from the input).
            "m = aggregate(select(tokens_int, tokens_int, >), 1, 0) == 0;\n\
             p = aggregate(select(m, True, ==), indices);\n\
             sel = select(indices, p, ==);",
            // `and` with such a conjunct; `not not`.
            "sel = select(indices, indices - 1, ==) and select(tokens, tokens, <);",
            "sel = select(tokens, tokens, ==) and select(indices, 2, ==);",
            "sel = not (not select(indices, 1, ==));",
            // Never selects.
            "sel = select(1, 2, ==);",
        ] {
            assert!(one(src, 8), "{src}");
        }
    }

    #[test]
    fn selectors_that_may_select_several_keys() {
        for src in [
            "sel = select(tokens, tokens, ==);",
            "sel = select(indices, indices, <=);",
            "sel = select(indices, 1, !=);",
            "sel = select(indices % 3, indices, ==);",
            "sel = select(indices - indices, indices, ==);",
            "sel = select(indices, indices, ==) or select(indices, 0, ==);",
            "sel = not select(indices, 0, ==);",
            "sel = select(tokens, tokens, ==) and select(indices, indices, <);",
            "sel = select(1, 1, ==);",
            // Key and query swapped: queries unique, keys not.
            "sel = select(tokens_int, indices, ==);",
            // Not injective at length 4.
            "sel = select(indices * length % 4, indices, ==);",
            // 1 and 1.0 and True are one value.
            "sel = select([1, 1.0, 2, 3, 4, 5, 6, 7][indices], indices, ==);",
            "sel = select([True, 1, 2, 3, 4, 5, 6, 7][indices], indices, ==);",
        ] {
            assert!(!one(src, 8), "{src}");
        }
        // Not unique beyond length 4 (`indices % 4`), but unique up to it.
        assert!(one("sel = select(indices % 4, indices, ==);", 4));
        assert!(!one("sel = select(indices % 4, indices, ==);", 5));
        // A map that fails at some position counts as not unique.
        assert!(!one("sel = select(1 / (indices - 2), indices, ==);", 8));
        // At most one position: every selector.
        assert!(one("sel = select(tokens, tokens, ==);", 1));
    }

    #[test]
    fn numbers_compare_by_value_and_nan_matches_nothing() {
        assert!(!pairwise_unequal(&[Value::Int(1), Value::Float(1.0)]));
        assert!(!pairwise_unequal(&[Value::Bool(true), Value::Int(1)]));
        assert!(!pairwise_unequal(&[Value::Float(0.0), Value::Float(-0.0)]));
        assert!(pairwise_unequal(&[Value::Int(1), Value::str("1")]));
        assert!(pairwise_unequal(&[
            Value::Float(f64::NAN),
            Value::Float(f64::NAN),
            Value::Int(0)
        ]));
        // Ints beyond 2^53 that round to one float: counted as equal (an
        // int and a float compare by float value, so a query could match
        // both).
        let big = 1i64 << 53;
        assert!(!pairwise_unequal(&[Value::Int(big), Value::Int(big + 1)]));
    }
}
