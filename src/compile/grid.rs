//! An output decoded position by position ([`crate::model::grid`]): the
//! way out when a numerical output's values, over all positions, are too
//! close together for float32 to tell apart, but the output is a mean of
//! integers over a selector that reads only positions (tracr's
//! `frac_prevs` and `pair_balance` at N = 512: every fraction with a
//! denominator up to 512 is reachable, 3.8e-6 apart, but at position `i`
//! only the fractions over `i + 1`).
//!
//! A mean over every position (`average`) is decoded by the input's
//! length instead: the fractions over that length.
//!
//! The numbers of keys at each position come from the interpreter: the
//! selector, which reads no tokens, is evaluated on one input of each
//! length. Each position's (or length's) values are then checked like the
//! whole output's ([`check_output_gaps`](super::assemble)): the output's float32
//! error bound within half of every gap between neighbouring values.

use std::collections::BTreeSet;

use super::builder::{Builder, Lin};
use super::precision;
use crate::interp::{Evaluator, Output, Semantics};
use crate::ir::value::{self, Value};
use crate::ir::{NodeId, Op};
use crate::model::grid::{Grid, GridKey};

/// Longest max length a grid is worked out for (the selector is
/// evaluated at every length: about N³/3 comparisons).
const MAX_LEN: usize = 1024;

/// Most values a grid may list at one position.
const MAX_PER_POSITION: u128 = 1 << 16;

/// The grid of `target`'s output when it is a mean of integers over a
/// positional selector and float32 tells apart the values at each
/// position, or else at each input length; `None` otherwise.
pub fn output_grid(b: &Builder, target: NodeId) -> Option<Grid> {
    let graph = b.graph;
    let Op::Aggregate {
        sel,
        values,
        default,
    } = graph.op(target)
    else {
        return None;
    };
    let n = b.opts.max_len;
    if n > MAX_LEN || !b.plan.numerical.contains(&target) {
        return None;
    }
    let ints: Vec<i64> = b
        .sets
        .get(values)?
        .values()?
        .iter()
        .map(|v| match v {
            Value::Int(i) => Some(*i),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let (lo, hi) = (*ints.iter().min()?, *ints.iter().max()?);
    default.as_f64()?;
    let default = value::value_to_json(default)?;
    // A selector that reads tokens selects differently on other inputs.
    let ancestors = graph.ancestors(&[*sel]);
    if ancestors
        .iter()
        .any(|a| matches!(graph.op(*a), Op::Tokens(_)))
    {
        return None;
    }
    let (by_position, by_length) = keys_selected(b, *sel, n)?;
    let x = b.num(target).ok()?;
    // By position where that resolves (a prefix), else by length (a mean
    // over every position).
    [
        (GridKey::Position, by_position),
        (GridKey::Length, by_length),
    ]
    .into_iter()
    .map(|(by, widths)| Grid {
        by,
        widths: widths.iter().map(ranges).collect(),
        lo,
        hi,
        default: default.clone(),
    })
    .find(|grid| resolves(b, &x, grid, n))
}

/// Whether `grid` is well formed and float32 tells apart the values of
/// each entry, given the error bound of the output's number `x`.
fn resolves(b: &Builder, x: &Lin, grid: &Grid, n: usize) -> bool {
    if grid.check(n).is_err() {
        return false;
    }
    for i in 0..n {
        if grid.count_at(i) > MAX_PER_POSITION {
            return false;
        }
        let mut vals: Vec<(f64, Value)> = grid
            .values_at(i)
            .into_iter()
            .filter_map(|v| v.as_f64().map(|x| (x, v)))
            .collect();
        vals.sort_by(|a, b| a.0.total_cmp(&b.0));
        for w in vals.windows(2) {
            let ((x0, v0), (x1, v1)) = (&w[0], &w[1]);
            if x0 == x1 {
                // `1` and `1.0` at one entry: the grid cannot say which.
                if !v0.same(v1) {
                    return false;
                }
                continue;
            }
            let at = x0.abs().max(x1.abs());
            let err = b.lin_err(x, at).0 + 2.0 * precision::U * at;
            if err > precision::decode_tolerance(x1 - x0) {
                return false;
            }
        }
    }
    true
}

/// Numbers of keys, per position or per input length.
type Keys = Vec<BTreeSet<u32>>;

/// Every number of keys `sel` selects, per position (over inputs of every
/// length that reach it) and per input length (over its positions).
fn keys_selected(b: &Builder, sel: NodeId, n: usize) -> Option<(Keys, Keys)> {
    let token = b.opts.vocab.first()?;
    let sem = if b.opts.causal {
        Semantics::Causal
    } else {
        Semantics::Bidirectional
    };
    let mut eval = Evaluator::new(b.graph, &[sel]).semantics(sem);
    let mut by_position = vec![BTreeSet::new(); n];
    let mut by_length = vec![BTreeSet::new(); n];
    for (len, at_len) in (1..=n).zip(by_length.iter_mut()) {
        let input = vec![token.clone(); len];
        // An input of this length fails: every input of it does, and no
        // output of that length is decoded (its entry lists the default
        // alone, to stay well formed).
        let Ok(outs) = eval.run(&input, None) else {
            at_len.insert(0);
            continue;
        };
        let Some(Output::Selector(rows)) = outs.into_iter().next() else {
            return None;
        };
        for (w, row) in by_position.iter_mut().zip(&rows) {
            let count = row.iter().filter(|s| **s).count() as u32;
            w.insert(count);
            at_len.insert(count);
        }
    }
    Some((by_position, by_length))
}

/// A set of numbers as inclusive ranges, in order.
fn ranges(set: &BTreeSet<u32>) -> Vec<[u32; 2]> {
    let mut out: Vec<[u32; 2]> = Vec::new();
    for &w in set {
        match out.last_mut() {
            Some(r) if r[1] + 1 == w => r[1] = w,
            _ => out.push([w, w]),
        }
    }
    out
}
