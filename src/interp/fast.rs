//! Aggregates and selector widths in O(n log n) instead of O(n²), for the
//! selectors whose rows are ranges of a sorted order:
//!
//! - `select(k, q, ==)`: the keys equal to the query (a hash of the keys);
//! - `select(k, q, <)` (and `<=`, `>`, `>=`): a prefix or suffix of the keys
//!   sorted (binary search);
//! - `select(k, k, <) or (select(k, k, ==) and select(t, t, <))` (and the
//!   same with `>`): pairs `(k, t)` compared lexicographically, the stdlib
//!   `sort`'s order (selector width only).
//!
//! Keys and queries must be ints (bools count as ints) or strings on both
//! sides, where the comparison is a total order and `value::compare`
//! agrees with it. The values are the same as the general path's, bit for
//! bit: a mean of ints is summed exactly whatever the order; a mean of
//! floats, which Python sums in key order, falls back to the general row.
//! Results are memoised per distinct query.

use super::{Column, SeqType};
use crate::ir::value::Value;
use crate::ir::{Graph, NodeId, Op};
use crate::syntax::ast::CmpOp;

/// Below this length the general path is as fast.
pub const MIN_LEN: usize = 48;

/// A totally ordered key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key<'a> {
    Int(i64),
    Str(&'a str),
}

/// A column's keys, when it is all ints (or bools) or all strings.
fn keys(col: &Column) -> Option<Vec<Key<'_>>> {
    match col.ty {
        SeqType::Ints | SeqType::Bools => col
            .values
            .iter()
            .map(|v| v.as_int().map(Key::Int))
            .collect(),
        SeqType::Strings => col
            .values
            .iter()
            .map(|v| match v {
                Value::Str(s) => Some(Key::Str(s.as_ref())),
                _ => None,
            })
            .collect(),
        SeqType::Floats => None,
    }
}

/// Keys and queries of one kind (ints with ints, strings with strings).
fn same_kind(a: &[Key<'_>], b: &[Key<'_>]) -> bool {
    let kind = |k: &Key<'_>| matches!(k, Key::Int(_));
    match (a.first(), b.first()) {
        (Some(x), Some(y)) => kind(x) == kind(y),
        _ => true,
    }
}

/// A selector whose rows this module can count and aggregate.
pub enum Fast<'a> {
    /// `keys cmp queries`.
    Range {
        cmp: CmpOp,
        queries: Vec<Key<'a>>,
        /// Key positions by key (ascending), and the keys in that order:
        /// every selected set is a block of it.
        order: Vec<usize>,
        sorted: Vec<Key<'a>>,
    },
    /// `(k, t) < (k_q, t_q)` lexicographically (or `>` when `descending`).
    Pairs {
        pairs: Vec<(Key<'a>, Key<'a>)>,
        sorted: Vec<(Key<'a>, Key<'a>)>,
        descending: bool,
    },
}

impl<'a> Fast<'a> {
    /// The fast form of `sel`, if it has one; `col` gives the computed
    /// columns.
    pub fn new(
        graph: &Graph,
        sel: NodeId,
        col: &impl Fn(NodeId) -> &'a Column,
    ) -> Option<Fast<'a>> {
        match graph.op(sel) {
            Op::Select {
                keys: k,
                queries: q,
                cmp,
            } if *cmp != CmpOp::Ne => {
                let ks = keys(col(*k))?;
                let qs = keys(col(*q))?;
                if !same_kind(&ks, &qs) {
                    return None;
                }
                let mut order: Vec<usize> = (0..ks.len()).collect();
                order.sort_by(|a, b| ks[*a].cmp(&ks[*b]));
                let sorted = order.iter().map(|&i| ks[i].clone()).collect();
                Some(Fast::Range {
                    cmp: *cmp,
                    queries: qs,
                    order,
                    sorted,
                })
            }
            Op::SelOr(a, b) => {
                let (strict, tie) = [(a, b), (b, a)]
                    .into_iter()
                    .find(|(x, _)| matches!(graph.op(**x), Op::Select { .. }))?;
                let Op::Select {
                    keys: k,
                    queries: kq,
                    cmp,
                } = graph.op(*strict)
                else {
                    return None;
                };
                if k != kq || !matches!(cmp, CmpOp::Lt | CmpOp::Gt) {
                    return None;
                }
                let Op::SelAnd(x, y) = graph.op(*tie) else {
                    return None;
                };
                let leaf = |n: NodeId| match graph.op(n) {
                    Op::Select { keys, queries, cmp } if keys == queries => Some((*keys, *cmp)),
                    _ => None,
                };
                let (l1, l2) = (leaf(*x)?, leaf(*y)?);
                let (eq, minor) = if l1 == (*k, CmpOp::Eq) {
                    (l1, l2)
                } else if l2 == (*k, CmpOp::Eq) {
                    (l2, l1)
                } else {
                    return None;
                };
                if eq.0 != *k || minor.1 != *cmp {
                    return None;
                }
                let major = keys(col(*k))?;
                let minor_keys = keys(col(minor.0))?;
                if !same_kind(&major, &major) || !same_kind(&minor_keys, &minor_keys) {
                    return None;
                }
                let pairs: Vec<(Key<'a>, Key<'a>)> = major.into_iter().zip(minor_keys).collect();
                let mut sorted = pairs.clone();
                sorted.sort();
                Some(Fast::Pairs {
                    pairs,
                    sorted,
                    descending: *cmp == CmpOp::Gt,
                })
            }
            _ => None,
        }
    }

    /// The keys selected by query `q`, as a range of `order` (Range only).
    fn span(&self, q: usize) -> (usize, usize) {
        match self {
            Fast::Range {
                cmp,
                queries,
                sorted,
                ..
            } => {
                let y = &queries[q];
                let lo = sorted.partition_point(|k| k < y);
                let hi = sorted.partition_point(|k| k <= y);
                match cmp {
                    CmpOp::Eq => (lo, hi),
                    CmpOp::Lt => (0, lo),
                    CmpOp::Le => (0, hi),
                    CmpOp::Gt => (hi, sorted.len()),
                    CmpOp::Ge => (lo, sorted.len()),
                    CmpOp::Ne => unreachable!("`!=` has no fast form"),
                }
            }
            Fast::Pairs { .. } => (0, 0),
        }
    }

    /// How many keys query `q` selects.
    pub fn width(&self, q: usize) -> usize {
        match self {
            Fast::Range { .. } => {
                let (a, b) = self.span(q);
                b - a
            }
            Fast::Pairs {
                pairs,
                sorted,
                descending,
            } => {
                let y = &pairs[q];
                if *descending {
                    sorted.len() - sorted.partition_point(|p| p <= y)
                } else {
                    sorted.partition_point(|p| p < y)
                }
            }
        }
    }

    /// The aggregate of `vals` at query `q`, when it needs no float sum in
    /// key order: `Some(value)`, else `None` (use the general row).
    pub fn aggregate(
        &self,
        q: usize,
        vals: &Column,
        default: &Value,
        sums: &IntSums,
    ) -> Option<Value> {
        let Fast::Range { order, .. } = self else {
            return None;
        };
        let (a, b) = self.span(q);
        match b - a {
            0 => Some(default.clone()),
            1 => Some(vals.values[order[a]].clone()),
            count => {
                let sum = sums.range(a, b)?;
                Some(Value::Float(sum as f64 / count as f64))
            }
        }
    }

    /// Exact prefix sums of int values in this selector's key order.
    pub fn int_sums(&self, vals: &Column) -> IntSums {
        let Fast::Range { order, .. } = self else {
            return IntSums(None);
        };
        // Bools are not numbers to a mean (the general path's error).
        if vals.ty != SeqType::Ints {
            return IntSums(None);
        }
        let mut acc = 0i128;
        let mut out = Vec::with_capacity(order.len() + 1);
        out.push(0);
        for &i in order {
            acc += i128::from(vals.values[i].as_int().unwrap_or(0));
            out.push(acc);
        }
        IntSums(Some(out))
    }
}

/// Prefix sums of int values (none when the values are not all ints).
pub struct IntSums(Option<Vec<i128>>);

impl IntSums {
    fn range(&self, a: usize, b: usize) -> Option<i128> {
        let s = self.0.as_ref()?;
        Some(s[b] - s[a])
    }
}
