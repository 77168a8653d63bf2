//! Rewrites applied before planning, on a copy of the graph.
//!
//! **Linear maps of means.** `a·mean_S(x) + b·mean_S(y) + c`, over one
//! selector S, is `mean_S(a·x + b·y + c)` (and the default becomes
//! `a·dx + b·dy + c`): the mean is linear and both sides select the same
//! keys. The rewritten form needs one head instead of two, and its value set
//! is exact (a difference of two means over different denominators is what
//! the unrewritten form would have to tabulate). This is what makes
//! `pair_balance` and the Dyck programs compile small and exact.
//!
//! **Lexicographic keys.** `select(k, k, <)` where `k = f(a, b)` orders
//! pairs lexicographically (every `f(a1, _)` below every `f(a2, _)` or
//! above, and one order of `b` for every `a`; e.g. `-hist + indices/100`)
//! is `select(ra, ra, <) or (select(ra, ra, ==) and select(rb, rb, <))`
//! over the ranks of `a` and `b`: the key needs one-hots of `a` and `b`
//! (linear in N) instead of one of their product (quadratic).
//!
//! **Rank digits.** Any other ordered comparison `select(k, q, <)` of
//! numbers whose values are many (`tokens + indices/100` at N = 512: 1,062
//! values, float roundings of one number included as the interpreter tells
//! them apart) compares the ranks of the values in the union of both value
//! sets, written in base B = ⌈√K⌉ as two digits: `select(hi, hi, <) or
//! (select(hi, hi, ==) and select(lo, lo, <))`. The one-hot the comparison
//! reads shrinks from K dims to about 2√K; the digits are tables over `k`'s
//! values, built where `k`'s one-hot would have been.

use std::collections::{BTreeMap, BTreeSet};

use super::affine::{exact_number, value_order};
use super::valueset::ValueSet;
use crate::ir::expr::{Elem, Expr, Table};
use crate::ir::value::{Value, compare};
use crate::ir::{Graph, NodeId, Op};
use crate::syntax::ast::{BinOp, CmpOp, UnOp};

/// Product of value sets above which a lexicographic key is split.
const LEXICOGRAPHIC_FROM: usize = 64;

/// Values a compared s-op must have, keys and queries together, before its
/// ranks are split into two digits.
const DIGITS_FROM: usize = 100;

/// The ranks of `kv`'s and `qv`'s values in the order the interpreter's
/// comparison gives their union (equal values one rank), and the base of
/// the two digits; `None` for values other than numbers floats hold
/// exactly, or too few values.
fn rank_digits(kv: &[Value], qv: &[Value]) -> Option<(Vec<i64>, Vec<i64>, i64)> {
    if !kv.iter().chain(qv).all(exact_number) {
        return None;
    }
    let order = value_order;
    // (value, which list, index in it), in order.
    let mut all: Vec<(&Value, bool, usize)> = kv
        .iter()
        .enumerate()
        .map(|(i, v)| (v, false, i))
        .chain(qv.iter().enumerate().map(|(i, v)| (v, true, i)))
        .collect();
    all.sort_by(|a, b| order(a.0, b.0));
    let mut rk = vec![0i64; kv.len()];
    let mut rq = vec![0i64; qv.len()];
    let mut rank = -1i64;
    let mut prev: Option<&Value> = None;
    for (v, is_q, i) in &all {
        if prev.is_none_or(|p| !compare(CmpOp::Eq, p, v).unwrap_or(false)) {
            rank += 1;
        }
        prev = Some(v);
        if *is_q {
            rq[*i] = rank;
        } else {
            rk[*i] = rank;
        }
    }
    let k = usize::try_from(rank + 1).ok()?;
    if k <= DIGITS_FROM {
        return None;
    }
    let base = (k as f64).sqrt().ceil() as i64;
    Some((rk, rq, base))
}

/// Which argument of a lexicographic key is the major one, and the ranks
/// of each argument's values (in argument order).
struct Lex {
    a_major: bool,
    ra: Vec<i64>,
    rb: Vec<i64>,
}

/// The ranks of `a`'s and `b`'s values when `f(a, b)` orders pairs
/// lexicographically, strictly, with either argument as the major one
/// (`-hist + indices/100` and `indices/100 - hist` alike); `None` if not.
fn lexicographic(expr: &Expr, av: &[Value], bv: &[Value]) -> Option<Lex> {
    let f = |a: &Value, b: &Value| expr.eval(&[a, b]).ok().and_then(|v| v.as_f64());
    let mut table = Vec::with_capacity(av.len());
    for a in av {
        let row: Vec<f64> = bv.iter().map(|b| f(a, b)).collect::<Option<_>>()?;
        table.push(row);
    }
    if let Some((ra, rb)) = major_rows(&table) {
        return Some(Lex {
            a_major: true,
            ra,
            rb,
        });
    }
    let transposed: Vec<Vec<f64>> = (0..bv.len())
        .map(|j| table.iter().map(|row| row[j]).collect())
        .collect();
    let (rb, ra) = major_rows(&transposed)?;
    Some(Lex {
        a_major: false,
        ra,
        rb,
    })
}

/// Ranks of the rows and of the columns of `table` when its entries order
/// (row, column) pairs lexicographically with the row major, strictly.
fn major_rows(table: &[Vec<f64>]) -> Option<(Vec<i64>, Vec<i64>)> {
    let ncols = table.first()?.len();
    // The columns' order: by the first row; the same strict order in every row.
    let mut border: Vec<usize> = (0..ncols).collect();
    border.sort_by(|x, y| table[0][*x].total_cmp(&table[0][*y]));
    for row in table {
        if border.windows(2).any(|w| row[w[0]] >= row[w[1]]) {
            return None;
        }
    }
    // The rows' order: by interval; intervals disjoint.
    let lo = |i: usize| table[i][border[0]];
    let hi = |i: usize| table[i][*border.last().unwrap_or(&0)];
    let mut aorder: Vec<usize> = (0..table.len()).collect();
    aorder.sort_by(|x, y| lo(*x).total_cmp(&lo(*y)));
    if aorder.windows(2).any(|w| hi(w[0]) >= lo(w[1])) {
        return None;
    }
    let mut ra = vec![0i64; table.len()];
    for (r, i) in aorder.iter().enumerate() {
        ra[*i] = r as i64;
    }
    let mut rb = vec![0i64; ncols];
    for (r, i) in border.iter().enumerate() {
        rb[*i] = r as i64;
    }
    Some((ra, rb))
}

/// `select(k, k, cmp)`, at `span`.
fn self_select(g: &mut Graph, k: NodeId, cmp: CmpOp, span: Option<crate::diag::Span>) -> NodeId {
    g.add(
        Op::Select {
            keys: k,
            queries: k,
            cmp,
        },
        span,
    )
}

/// The strict comparison of `cmp`'s direction (`<` for `<` and `<=`).
fn strict_of(cmp: CmpOp) -> CmpOp {
    match cmp {
        CmpOp::Lt | CmpOp::Le => CmpOp::Lt,
        _ => CmpOp::Gt,
    }
}

/// `rank(x)` as a map node over `x` (a dict from its values to ranks).
fn rank_map(g: &mut Graph, x: NodeId, values: &[Value], ranks: &[i64]) -> NodeId {
    let table = Table::dict(
        values
            .iter()
            .zip(ranks)
            .map(|(v, r)| (v.clone(), Elem::Atom(Value::Int(*r))))
            .collect(),
    );
    let span = g.node(x).span;
    g.add(
        Op::Map {
            expr: Expr::Index(std::sync::Arc::new(table), Box::new(Expr::Arg(0))),
            args: vec![x],
        },
        span,
    )
}

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
    let (compared, counted) = compared_only(graph, target);
    let numeric_mean = |id: NodeId| match graph.op(id) {
        Op::Aggregate { values, .. } => sets.get(values).is_some_and(ValueSet::is_numeric),
        _ => false,
    };
    for id in graph.ancestors(&[target]) {
        let node = graph.node(id);
        let r = |x: &NodeId| remap[x];
        // A select replaced by an equivalent circuit: the plain select.
        let mut plain: Option<NodeId> = None;
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
            Op::Select { keys, queries, cmp } => {
                let split = match graph.op(*keys) {
                    Op::Map { expr, args }
                        if keys == queries
                            && args.len() == 2
                            && matches!(cmp, CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge) =>
                    {
                        let av = sets.get(&args[0]).and_then(ValueSet::values);
                        let bv = sets.get(&args[1]).and_then(ValueSet::values);
                        match (av, bv) {
                            (Some(av), Some(bv))
                                if av.len().saturating_mul(bv.len()) > LEXICOGRAPHIC_FROM =>
                            {
                                lexicographic(expr, av, bv).map(|r| (args.clone(), av, bv, r))
                            }
                            _ => None,
                        }
                    }
                    _ => None,
                };
                match split {
                    Some((args, av, bv, lex)) => {
                        let na = rank_map(&mut g, remap[&args[0]], av, &lex.ra);
                        let nb = rank_map(&mut g, remap[&args[1]], bv, &lex.rb);
                        let (na, nb) = if lex.a_major { (na, nb) } else { (nb, na) };
                        let strict = strict_of(*cmp);
                        let major = self_select(&mut g, na, strict, node.span);
                        let same = self_select(&mut g, na, CmpOp::Eq, node.span);
                        let minor = self_select(&mut g, nb, *cmp, node.span);
                        let tie = g.add(Op::SelAnd(same, minor), node.span);
                        Op::SelOr(major, tie)
                    }
                    None if counted.contains(&id)
                        && compared.contains(keys)
                        && compared.contains(queries) =>
                    {
                        split_affine(
                            &mut g,
                            graph,
                            sets,
                            (*keys, *queries, *cmp),
                            &remap,
                            node.span,
                        )
                        .inspect(|_| {
                            plain = Some(g.add(
                                Op::Select {
                                    keys: r(keys),
                                    queries: r(queries),
                                    cmp: *cmp,
                                },
                                node.span,
                            ));
                        })
                        .or_else(|| {
                            digits(
                                &mut g,
                                graph,
                                sets,
                                (*keys, *queries, *cmp),
                                &remap,
                                node.span,
                            )
                        })
                        .unwrap_or(Op::Select {
                            keys: r(keys),
                            queries: r(queries),
                            cmp: *cmp,
                        })
                    }
                    None => Op::Select {
                        keys: r(keys),
                        queries: r(queries),
                        cmp: *cmp,
                    },
                }
            }
            Op::SelAnd(a, b) => Op::SelAnd(r(a), r(b)),
            Op::SelOr(a, b) => Op::SelOr(r(a), r(b)),
            Op::SelNot(a) => Op::SelNot(r(a)),
            other => other.clone(),
        };
        let new = g.add(new_op, node.span);
        if let Some(p) = plain {
            g.set_equivalent(new, p);
        }
        for n in &node.names {
            g.name(new, n);
        }
        if let Some(h) = node.hint {
            g.set_hint(new, h);
        }
        remap.insert(id, new);
    }
    (g, remap[&target])
}

/// Below `target`: the s-ops that only ordered selects read (`<`, `<=`,
/// `>`, `>=`, on either side; not the target itself), and the selectors
/// that only selector widths read. Comparing the rank digits of the first
/// leaves nothing reading their own values, so no one-hot of them is
/// built; the digits' `or` is a sum of widths (inclusion-exclusion) under
/// a width, but a product one-hot of both digits (as wide as the values)
/// under an aggregate.
fn compared_only(graph: &Graph, target: NodeId) -> (BTreeSet<NodeId>, BTreeSet<NodeId>) {
    let nodes = graph.ancestors(&[target]);
    let mut other: BTreeSet<NodeId> = [target].into();
    let mut not_width: BTreeSet<NodeId> = [target].into();
    let mut read: BTreeSet<NodeId> = BTreeSet::new();
    for id in &nodes {
        let op = graph.op(*id);
        let ordered = matches!(
            op,
            Op::Select {
                cmp: CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge,
                ..
            }
        );
        let width = matches!(op, Op::SelectorWidth(_));
        for x in op.inputs() {
            read.insert(x);
            if !ordered {
                other.insert(x);
            }
            if !width {
                not_width.insert(x);
            }
        }
    }
    (
        read.difference(&other).copied().collect(),
        read.difference(&not_width).copied().collect(),
    )
}

/// `select(k, q, cmp)`, an ordered comparison of two computed numbers
/// with many values, as a comparison of their ranks' two digits (see the
/// module's documentation); `None` where it does not apply.
fn digits(
    g: &mut Graph,
    graph: &Graph,
    sets: &BTreeMap<NodeId, ValueSet>,
    (keys, queries, cmp): (NodeId, NodeId, CmpOp),
    remap: &BTreeMap<NodeId, NodeId>,
    span: Option<crate::diag::Span>,
) -> Option<Op> {
    if !matches!(cmp, CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge) {
        return None;
    }
    // The embedding's one-hots cost nothing more to compare.
    let computed = |x: NodeId| !matches!(graph.op(x), Op::Tokens(_) | Op::Indices | Op::Length);
    if !computed(keys) || !computed(queries) {
        return None;
    }
    let kv = sets.get(&keys).and_then(ValueSet::values)?;
    let qv = sets.get(&queries).and_then(ValueSet::values)?;
    let (rk, rq, base) = rank_digits(kv, qv)?;
    let mut split = |x: NodeId, vals: &[Value], ranks: &[i64]| {
        let hi: Vec<i64> = ranks.iter().map(|r| r / base).collect();
        let lo: Vec<i64> = ranks.iter().map(|r| r % base).collect();
        (
            rank_map(g, remap[&x], vals, &hi),
            rank_map(g, remap[&x], vals, &lo),
        )
    };
    let (hk, lk) = split(keys, kv, &rk);
    let (hq, lq) = if queries == keys {
        (hk, lk)
    } else {
        split(queries, qv, &rq)
    };
    let strict = strict_of(cmp);
    let mut sel = |k: NodeId, q: NodeId, c: CmpOp| {
        g.add(
            Op::Select {
                keys: k,
                queries: q,
                cmp: c,
            },
            span,
        )
    };
    let major = sel(hk, hq, strict);
    let same = sel(hk, hq, CmpOp::Eq);
    let minor = sel(lk, lq, cmp);
    let tie = g.add(Op::SelAnd(same, minor), span);
    Some(Op::SelOr(major, tie))
}

/// `select(k, k, cmp)` with `k` an affine map of two s-ops whose pairs
/// are not lexicographic, as a comparison of the digits of
/// [`super::affine`]: `hi <` or (`hi ==` and `lo <`) or (`hi ==` and
/// `lo ==` and `tw cmp`); `None` where it does not apply.
fn split_affine(
    g: &mut Graph,
    graph: &Graph,
    sets: &BTreeMap<NodeId, ValueSet>,
    (keys, queries, cmp): (NodeId, NodeId, CmpOp),
    remap: &BTreeMap<NodeId, NodeId>,
    span: Option<crate::diag::Span>,
) -> Option<Op> {
    if keys != queries || !matches!(cmp, CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge) {
        return None;
    }
    let Op::Map { expr, args } = graph.op(keys) else {
        return None;
    };
    if args.len() != 2 || args[0] == args[1] || !is_affine(expr) {
        return None;
    }
    let av = sets.get(&args[0]).and_then(ValueSet::values)?;
    let bv = sets.get(&args[1]).and_then(ValueSet::values)?;
    // A key whose table over both s-ops is small is cheaper as rank
    // digits (`digits`: tables over that product, two heads).
    if av.len().saturating_mul(bv.len()) <= super::plan::FUSE_LIMIT {
        return None;
    }
    let f = |a: &Value, b: &Value| expr.eval(&[a, b]).ok();
    // Either argument may be the one on the lattice: the narrower digits
    // (`-hist + indices/10` steps by 1 over `hist`, giving `indices/10`
    // ten remainders, or by 0.1 over `indices`, giving `hist` ten times
    // as many steps).
    let g_ab = super::affine::affine_digits(f, av, bv);
    let g_ba = super::affine::affine_digits(|b: &Value, a: &Value| expr.eval(&[a, b]).ok(), bv, av);
    let (swap, d) = match (g_ab, g_ba) {
        (Some(x), Some(y)) if y.width < x.width => (true, y),
        (Some(x), _) => (false, x),
        (None, Some(y)) => (true, y),
        (None, None) => return None,
    };
    let (a, b, av, bv) = if swap {
        (args[1], args[0], bv, av)
    } else {
        (args[0], args[1], av, bv)
    };
    let (ra, rb) = (remap[&a], remap[&b]);
    let a_hi = rank_map(g, ra, av, &d.a_hi);
    let b_hi = rank_map(g, rb, bv, &d.b_hi);
    let plus = Expr::Binary(BinOp::Add, Box::new(Expr::Arg(0)), Box::new(Expr::Arg(1)));
    let hi = g.add(
        Op::Map {
            expr: plus,
            args: vec![a_hi, b_hi],
        },
        span,
    );
    let lo = rank_map(g, rb, bv, &d.b_lo);
    let strict = strict_of(cmp);
    let sel = |g: &mut Graph, k: NodeId, c: CmpOp| self_select(g, k, c, span);
    let major = sel(g, hi, strict);
    let same_hi = sel(g, hi, CmpOp::Eq);
    if d.twins.is_empty() {
        let minor = sel(g, lo, cmp);
        let tie = g.add(Op::SelAnd(same_hi, minor), span);
        return Some(Op::SelOr(major, tie));
    }
    let minor = sel(g, lo, strict);
    let same_lo = sel(g, lo, CmpOp::Eq);
    // tw over (a, b): the pair's index in a dict of the non-zero ones,
    // 0 elsewhere.
    // Zero for all but a few pairs: a table whose units are where it is
    // not (`plan::table_defaults`).
    let tw = twin_map(g, (ra, rb), (av, bv), &d.twins, span);
    let last = sel(g, tw, cmp);
    let tie = g.add(Op::SelAnd(same_hi, minor), span);
    let same = g.add(Op::SelAnd(same_hi, same_lo), span);
    let twin = g.add(Op::SelAnd(same, last), span);
    let rest = g.add(Op::SelOr(tie, twin), span);
    Some(Op::SelOr(major, rest))
}

/// The twin digit of [`super::affine`] as a map of `(a, b)`: a list of
/// every pair's digit (0 for all but a few), indexed by the pair's code
/// `i·|b| + j`.
fn twin_map(
    g: &mut Graph,
    (a, b): (NodeId, NodeId),
    (av, bv): (&[Value], &[Value]),
    twins: &[((usize, usize), i64)],
    span: Option<crate::diag::Span>,
) -> NodeId {
    let nb = bv.len() as i64;
    let index = |vals: &[Value]| {
        std::sync::Arc::new(Table::dict(
            vals.iter()
                .enumerate()
                .map(|(i, v)| (v.clone(), Elem::Atom(Value::Int(i as i64))))
                .collect(),
        ))
    };
    let mut digits: Vec<Elem> = vec![Elem::Atom(Value::Int(0)); av.len() * bv.len()];
    for ((i, j), d) in twins {
        digits[i * bv.len() + j] = Elem::Atom(Value::Int(*d));
    }
    let code = Expr::Binary(
        BinOp::Add,
        Box::new(Expr::Binary(
            BinOp::Mul,
            Box::new(Expr::Index(index(av), Box::new(Expr::Arg(0)))),
            Box::new(Expr::Const(Value::Int(nb))),
        )),
        Box::new(Expr::Index(index(bv), Box::new(Expr::Arg(1)))),
    );
    g.add(
        Op::Map {
            expr: Expr::Index(
                std::sync::Arc::new(Table::List(digits.into())),
                Box::new(code),
            ),
            args: vec![a, b],
        },
        span,
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(xs: std::ops::Range<i64>) -> Vec<Value> {
        xs.map(Value::Int).collect()
    }

    /// `a/100 - b` orders (b, a) pairs with b major (descending), and
    /// `-b + a/100` the same: either argument may be the major one.
    #[test]
    fn lexicographic_keys_with_either_major() {
        let a = ints(0..20);
        let b = ints(1..6);
        let a_over = Expr::Binary(
            BinOp::Div,
            Box::new(Expr::Arg(0)),
            Box::new(Expr::Const(Value::Int(100))),
        );
        let key = Expr::Binary(BinOp::Sub, Box::new(a_over), Box::new(Expr::Arg(1)));
        let lex = lexicographic(&key, &a, &b).expect("lexicographic");
        assert!(!lex.a_major);
        // b major and descending: the largest b ranks first.
        assert_eq!(lex.rb, vec![4, 3, 2, 1, 0]);
        assert_eq!(lex.ra, (0..20).collect::<Vec<i64>>());
        // a + b over these sets is not lexicographic either way.
        let sum = Expr::Binary(BinOp::Add, Box::new(Expr::Arg(0)), Box::new(Expr::Arg(1)));
        assert!(lexicographic(&sum, &a, &b).is_none());
    }

    /// Ranks over the union of both sides, in the interpreter's order:
    /// `==` values (the int 3 and the float 3.0) share a rank, two float
    /// roundings of one number do not; the digits are base ⌈√K⌉.
    #[test]
    fn rank_digits_follow_the_interpreters_order() {
        let twin_lo = 0.1 + 0.2; // 0.30000000000000004
        let mut kv: Vec<Value> = (0..150).map(|i| Value::Float(i as f64 / 2.0)).collect();
        kv.push(Value::Float(twin_lo));
        let qv = vec![Value::Int(3), Value::Float(0.3), Value::Float(-1.0)];
        let (rk, rq, base) = rank_digits(&kv, &qv).expect("enough values");
        // 150 halves, the twin, 0.3 and -1.0: 153 ranks.
        assert_eq!(base, 13);
        assert_eq!(rq[2], 0, "-1.0 is the smallest");
        assert_eq!(rk[0], 1, "0.0 next");
        assert_eq!(rq[1] + 1, rk[150], "0.3 just below 0.1 + 0.2");
        assert_eq!(rq[0], rk[6], "the int 3 ranks with 3.0");
        assert!(rk[..150].windows(2).all(|w| w[0] < w[1]));
        // Too few values: no split.
        assert!(rank_digits(&kv[..50], &qv).is_none());
        // Strings are not split, nor ints past 2^53 (with floats they have
        // no consistent order: 2^53 < 2^53 + 1, both == 2^53 as a float).
        assert!(rank_digits(&kv, &[Value::Str("a".into())]).is_none());
        let big = [Value::Int(1 << 53), Value::Int((1 << 53) + 1)];
        assert!(rank_digits(&kv, &big).is_none());
    }
}
