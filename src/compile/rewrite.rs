//! Rewrites applied before planning, on a copy of the graph.
//!
//! **Linear maps of means.** `a·mean_S(x) + b·mean_S(y) + c`, over one
//! selector S, is `mean_S(a·x + b·y + c)` (and the default becomes
//! `a·dx + b·dy + c`): the mean is linear and both sides select the same
//! keys. The rewritten form needs one head instead of two, and its value set
//! is exact (a difference of two means over different denominators is what
//! the unrewritten form would have to tabulate). This is what makes
//! `pair_balance` and the Dyck programs compile small and exact.

use std::collections::BTreeMap;

use super::valueset::ValueSet;
use crate::ir::expr::Expr;
use crate::ir::value::Value;
use crate::ir::{Graph, NodeId, Op};
use crate::syntax::ast::{BinOp, UnOp};

/// Whether `e` is affine in its arguments (sums, differences, products and
/// quotients by constants, negation).
pub fn is_affine(e: &Expr) -> bool {
    fn constant(e: &Expr) -> bool {
        match e {
            Expr::Const(v) => v.is_number(),
            Expr::Unary(UnOp::Neg | UnOp::Plus, a) => constant(a),
            Expr::Binary(BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div, a, b) => {
                constant(a) && constant(b)
            }
            _ => false,
        }
    }
    match e {
        Expr::Arg(_) => true,
        Expr::Const(v) => v.is_number(),
        Expr::Unary(UnOp::Neg | UnOp::Plus, a) => is_affine(a),
        Expr::Binary(BinOp::Add | BinOp::Sub, a, b) => is_affine(a) && is_affine(b),
        Expr::Binary(BinOp::Mul, a, b) => {
            (constant(a) && is_affine(b)) || (is_affine(a) && constant(b))
        }
        Expr::Binary(BinOp::Div, a, b) => is_affine(a) && constant(b),
        _ => false,
    }
}

/// Copy the ancestors of `target` into a new graph, rewriting linear maps
/// of means. Returns the new graph and the target's id in it.
pub fn rewrite(
    graph: &Graph,
    sets: &BTreeMap<NodeId, ValueSet>,
    target: NodeId,
) -> (Graph, NodeId) {
    let mut g = Graph::new();
    let mut remap: BTreeMap<NodeId, NodeId> = BTreeMap::new();
    let numeric_mean = |id: NodeId| match graph.op(id) {
        Op::Aggregate { values, .. } => sets.get(values).is_some_and(ValueSet::is_numeric),
        _ => false,
    };
    for id in graph.ancestors(&[target]) {
        let node = graph.node(id);
        let r = |x: &NodeId| remap[x];
        let new_op = match &node.op {
            Op::Map { expr, args }
                if is_affine(expr)
                    && !args.is_empty()
                    && args.iter().all(|a| numeric_mean(*a))
                    && same_selector(graph, args) =>
            {
                // mean_S(f(x, y, ...)) with default f(dx, dy, ...).
                let mut values = Vec::with_capacity(args.len());
                let mut defaults = Vec::with_capacity(args.len());
                let mut sel = None;
                for a in args {
                    if let Op::Aggregate {
                        sel: s,
                        values: v,
                        default,
                    } = graph.op(*a)
                    {
                        sel = Some(remap[s]);
                        values.push(remap[v]);
                        defaults.push(default.clone());
                    }
                }
                let refs: Vec<&Value> = defaults.iter().collect();
                match (sel, expr.eval(&refs)) {
                    (Some(sel), Ok(default)) => {
                        let vmap = g.add(
                            Op::Map {
                                expr: expr.clone(),
                                args: values,
                            },
                            node.span,
                        );
                        Op::Aggregate {
                            sel,
                            values: vmap,
                            default,
                        }
                    }
                    _ => Op::Map {
                        expr: expr.clone(),
                        args: args.iter().map(r).collect(),
                    },
                }
            }
            Op::Map { expr, args } => Op::Map {
                expr: expr.clone(),
                args: args.iter().map(r).collect(),
            },
            Op::Aggregate {
                sel,
                values,
                default,
            } => Op::Aggregate {
                sel: r(sel),
                values: r(values),
                default: default.clone(),
            },
            Op::SelectorWidth(s) => Op::SelectorWidth(r(s)),
            Op::Select { keys, queries, cmp } => Op::Select {
                keys: r(keys),
                queries: r(queries),
                cmp: *cmp,
            },
            Op::SelAnd(a, b) => Op::SelAnd(r(a), r(b)),
            Op::SelOr(a, b) => Op::SelOr(r(a), r(b)),
            Op::SelNot(a) => Op::SelNot(r(a)),
            other => other.clone(),
        };
        let new = g.add(new_op, node.span);
        for n in &node.names {
            g.name(new, n);
        }
        remap.insert(id, new);
    }
    (g, remap[&target])
}

/// All arguments are aggregates over one selector.
fn same_selector(graph: &Graph, args: &[NodeId]) -> bool {
    let mut sel = None;
    for a in args {
        match graph.op(*a) {
            Op::Aggregate { sel: s, .. } => match sel {
                None => sel = Some(*s),
                Some(t) if t == *s => {}
                Some(_) => return false,
            },
            _ => return false,
        }
    }
    true
}
