//! An output decoded position by position ([`crate::model::grid`]): the
//! way out when a numerical output's values, over all positions, are too
//! close together for float32 to tell apart, but the output is a mean of
//! integers over a selector that reads only positions (tracr's
//! `frac_prevs` and `pair_balance` at N = 512: every fraction with a
//! denominator up to 512 is reachable, 3.8e-6 apart, but at position `i`
//! only the fractions over `i + 1`).
//!
//! The numbers of keys at each position come from the interpreter: the
//! selector, which reads no tokens, is evaluated on one input of each
//! length. Each position's values are then checked like the whole
//! output's ([`check_output_gaps`](super::assemble)): the output's float32
//! error bound within half of every gap between neighbouring values.

use std::collections::BTreeSet;

use super::builder::Builder;
use super::precision;
use crate::interp::{Evaluator, Output, Semantics};
use crate::ir::value::{self, Value};
use crate::ir::{NodeId, Op};
use crate::model::grid::Grid;

/// Longest max length a grid is worked out for (the selector is
/// evaluated at every length: about N³/3 comparisons).
const MAX_LEN: usize = 1024;

/// Most values a grid may list at one position.
const MAX_PER_POSITION: u128 = 1 << 16;

/// The grid of `target`'s output when it is a mean of integers over a
/// positional selector and float32 tells apart the values at each
/// position; `None` otherwise.
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
    let widths = keys_per_position(b, *sel, n)?;
    let grid = Grid {
        widths: widths.iter().map(ranges).collect(),
        lo,
        hi,
        default,
    };
    grid.check(n).ok()?;
    let x = b.num(target).ok()?;
    for i in 0..n {
        if grid.count_at(i) > MAX_PER_POSITION {
            return None;
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
                // `1` and `1.0` at one position: the grid cannot say which.
                if !v0.same(v1) {
                    return None;
                }
                continue;
            }
            let at = x0.abs().max(x1.abs());
            let err = b.lin_err(&x, at).0 + 2.0 * precision::U * at;
            if err > precision::decode_tolerance(x1 - x0) {
                return None;
            }
        }
    }
    Some(grid)
}

/// Per position, every number of keys `sel` selects there, over inputs of
/// every length that reach it.
fn keys_per_position(b: &Builder, sel: NodeId, n: usize) -> Option<Vec<BTreeSet<u32>>> {
    let token = b.opts.vocab.first()?;
    let sem = if b.opts.causal {
        Semantics::Causal
    } else {
        Semantics::Bidirectional
    };
    let mut eval = Evaluator::new(b.graph, &[sel]).semantics(sem);
    let mut widths = vec![BTreeSet::new(); n];
    for len in 1..=n {
        let input = vec![token.clone(); len];
        // An input of this length fails: every input of it does.
        let Ok(outs) = eval.run(&input, None) else {
            continue;
        };
        let Some(Output::Selector(rows)) = outs.into_iter().next() else {
            return None;
        };
        for (w, row) in widths.iter_mut().zip(&rows) {
            w.insert(row.iter().filter(|s| **s).count() as u32);
        }
    }
    Some(widths)
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
