//! Selectors, planned: a selector becomes conjuncts (`Term`s), each over one
//! pair of key and query leaves, with maps folded into the predicates;
//! `or`/`not` across several s-ops read product one-hots; a selector width
//! over such a selector becomes a signed sum of conjunction widths
//! (inclusion-exclusion); a single equality of a numerical query with
//! `indices` is one quadratic term.

use std::collections::BTreeMap;

use super::plan::{Ctx, foldable, unsupported};
use super::valueset::ValueSet;
use crate::diag::Diag;
use crate::ir::expr::Expr;
use crate::ir::{Graph, NodeId, Op, Value};

/// One conjunct of a selector: a predicate over (key value, query value)
/// for one key s-op and one query s-op.
#[derive(Clone, Debug)]
pub struct Term {
    /// The key leaves: one s-op, or several whose tuple is one-hot encoded
    /// by a product MLP (`key_product`).
    pub keys: Vec<NodeId>,
    pub queries: Vec<NodeId>,
    pub key_product: Option<usize>,
    pub query_product: Option<usize>,
    /// The selector subtrees this term evaluates (all their selects read
    /// their keys from `keys` and their queries from `queries`).
    pub trees: Vec<NodeId>,
    /// An equality of a numerical query with a categorical key, scored
    /// `2qk - k^2` (peaks where the key equals the query): the query is
    /// read as a number, with no one-hot.
    pub numeq: bool,
    /// The head dims of the key values (`keygroups`), set at the end of
    /// planning; none for a numerical equality.
    pub groups: Option<std::sync::Arc<super::keygroups::KeyGroups>>,
}

/// A selector width computed as a signed sum of the widths of
/// conjunctions (inclusion-exclusion over `or`/`not`), each one head and
/// one decoder, instead of a head over product one-hots.
#[derive(Clone, Debug)]
pub struct WidthPart {
    pub sign: f32,
    /// The conjuncts (none: every key).
    pub terms: Vec<Term>,
    /// The most keys the conjunction selects for one query, where fewer
    /// than the length is known (`onekey::most_selected` of a literal):
    /// its decoder stops there.
    pub most: Option<usize>,
}

/// Most conjunctions an inclusion-exclusion width may have.
pub const MAX_WIDTH_PARTS: usize = 8;

/// The leaves a select reads after folding: (key leaf, map applied to it,
/// query leaf, map applied to it).
#[derive(Clone, Debug, PartialEq)]
pub struct SelMap {
    pub key_leaf: NodeId,
    pub fk: Option<Expr>,
    pub query_leaf: NodeId,
    pub fq: Option<Expr>,
}

/// A tuple of categorical s-ops one-hot encoded together (for selectors
/// that combine several s-ops with `or`/`not`): one MLP unit and one
/// residual dim per combination of values.
#[derive(Clone, Debug, PartialEq)]
pub struct Product {
    pub leaves: Vec<NodeId>,
}

/// Largest product of value sets a product one-hot may have.
pub const PRODUCT_LIMIT: usize = 1 << 14;

/// Split a selector into conjuncts, each over one (key, query) pair of
/// leaves (after folding single-input maps into the predicates). A conjunct
/// that combines several pairs with `or`/`not` reads product one-hots.
pub fn terms(
    ctx: &Ctx,
    sel: NodeId,
    sel_maps: &mut BTreeMap<NodeId, SelMap>,
    products: &mut Vec<Product>,
) -> Result<Vec<Term>, Diag> {
    terms_of(ctx, &[sel], sel, sel_maps, products)
}

/// [`terms`] of the conjunction of `roots` (`at` names the selector in
/// diagnostics).
pub fn terms_of(
    ctx: &Ctx,
    roots: &[NodeId],
    at: NodeId,
    sel_maps: &mut BTreeMap<NodeId, SelMap>,
    products: &mut Vec<Product>,
) -> Result<Vec<Term>, Diag> {
    let _ = at;
    let graph = ctx.graph;
    let mut fold = |s: NodeId, keys: NodeId, queries: NodeId| -> (NodeId, NodeId) {
        let (kl, fk) = match foldable(ctx, keys) {
            Some((l, f)) => (l, Some(f)),
            None => (keys, None),
        };
        let (ql, fq) = match foldable(ctx, queries) {
            Some((l, f)) => (l, Some(f)),
            None => (queries, None),
        };
        sel_maps.insert(
            s,
            SelMap {
                key_leaf: kl,
                fk,
                query_leaf: ql,
                fq,
            },
        );
        (kl, ql)
    };
    fn leaves(
        graph: &Graph,
        sel: NodeId,
        out: &mut Vec<(NodeId, NodeId)>,
        fold: &mut dyn FnMut(NodeId, NodeId, NodeId) -> (NodeId, NodeId),
    ) {
        match graph.op(sel) {
            Op::Select { keys, queries, .. } => {
                let pair = fold(sel, *keys, *queries);
                if !out.contains(&pair) {
                    out.push(pair);
                }
            }
            Op::SelAnd(a, b) | Op::SelOr(a, b) => {
                leaves(graph, *a, out, fold);
                leaves(graph, *b, out, fold);
            }
            Op::SelNot(a) => leaves(graph, *a, out, fold),
            _ => {}
        }
    }
    let mut out: Vec<Term> = Vec::new();
    let mut stack: Vec<NodeId> = roots.iter().rev().copied().collect();
    while let Some(s) = stack.pop() {
        if let Op::SelAnd(a, b) = graph.op(s) {
            stack.push(*b);
            stack.push(*a);
            continue;
        }
        let mut pairs = Vec::new();
        leaves(graph, s, &mut pairs, &mut fold);
        let mut keys: Vec<NodeId> = Vec::new();
        let mut queries: Vec<NodeId> = Vec::new();
        for (k, q) in &pairs {
            if !keys.contains(k) {
                keys.push(*k);
            }
            if !queries.contains(q) {
                queries.push(*q);
            }
        }
        let mut product = |leaves: &[NodeId]| -> Result<Option<usize>, Diag> {
            if leaves.len() < 2 {
                return Ok(None);
            }
            if ctx.table_size(leaves) > PRODUCT_LIMIT {
                return Err(unsupported(
                    graph,
                    s,
                    format!(
                        "`{}` combines {} s-ops with `or`/`not`; their joint one-hot would need more \
                         than {PRODUCT_LIMIT} dims",
                        graph.label(s),
                        leaves.len()
                    ),
                ));
            }
            let p = Product {
                leaves: leaves.to_vec(),
            };
            Ok(Some(match products.iter().position(|x| *x == p) {
                Some(i) => i,
                None => {
                    products.push(p);
                    products.len() - 1
                }
            }))
        };
        let key_product = product(&keys)?;
        let query_product = product(&queries)?;
        match out
            .iter_mut()
            .find(|t| t.keys == keys && t.queries == queries)
        {
            Some(t) => t.trees.push(s),
            None => out.push(Term {
                keys,
                queries,
                key_product,
                query_product,
                trees: vec![s],
                numeq: false,
                groups: None,
            }),
        }
    }
    Ok(out)
}

/// A selector as a signed sum of conjunctions of literals (selects and
/// `not` of selects), so that its width is the signed sum of theirs:
/// `w(a or b) = w(a) + w(b) - w(a and b)`, `w(not a) = n - w(a)`. `None`
/// beyond `MAX_WIDTH_PARTS` conjunctions.
pub fn expand(graph: &Graph, sel: NodeId) -> Option<Vec<(f32, Vec<NodeId>)>> {
    let out = match graph.op(sel) {
        Op::Select { .. } => vec![(1.0, vec![sel])],
        Op::SelNot(a) if matches!(graph.op(*a), Op::Select { .. }) => vec![(1.0, vec![sel])],
        Op::SelNot(a) => {
            let mut out = vec![(1.0, vec![])];
            for (s, c) in expand(graph, *a)? {
                out.push((-s, c));
            }
            out
        }
        Op::SelAnd(a, b) => graph_and(graph, *a, *b)?,
        Op::SelOr(a, b) => {
            let mut out = expand(graph, *a)?;
            out.extend(expand(graph, *b)?);
            let both = graph_and(graph, *a, *b)?;
            out.extend(both.into_iter().map(|(s, c)| (-s, c)));
            out
        }
        _ => return None,
    };
    // Merge equal conjunctions; drop those that cancel, and those that
    // select nothing whatever the values (`hi < and hi ==`: a lexicographic
    // comparison's disjuncts exclude each other), whose width is 0.
    let mut merged: Vec<(f32, Vec<NodeId>)> = Vec::new();
    for (s, mut c) in out {
        if exclusive_trees(graph, &c) {
            continue;
        }
        c.sort();
        match merged.iter_mut().find(|(_, d)| *d == c) {
            Some(m) => m.0 += s,
            None => merged.push((s, c)),
        }
    }
    merged.retain(|(s, _)| *s != 0.0);
    (merged.len() <= MAX_WIDTH_PARTS).then_some(merged)
}

/// The expansion of `a and b` without a graph node for it.
fn graph_and(graph: &Graph, a: NodeId, b: NodeId) -> Option<Vec<(f32, Vec<NodeId>)>> {
    let (ea, eb) = (expand(graph, a)?, expand(graph, b)?);
    let mut out = Vec::new();
    for (sa, ca) in &ea {
        for (sb, cb) in &eb {
            let mut c = ca.clone();
            c.extend(cb.iter().copied().filter(|x| !ca.contains(x)));
            out.push((sa * sb, c));
        }
    }
    Some(out)
}

/// Whether a conjunct (single key and query leaves) holds for some pair of
/// their values; unknown (large) tables count as satisfiable.
pub fn satisfiable(ctx: &Ctx, t: &Term, maps: &SelMaps) -> bool {
    if exclusive_trees(ctx.graph, &t.trees) {
        return false;
    }
    if t.keys.len() != 1 || t.queries.len() != 1 {
        return true;
    }
    let (Some(kv), Some(qv)) = (
        ctx.sets.get(&t.keys[0]).and_then(ValueSet::values),
        ctx.sets.get(&t.queries[0]).and_then(ValueSet::values),
    ) else {
        return true;
    };
    if kv.len().saturating_mul(qv.len()) > 1 << 16 {
        return true;
    }
    kv.iter().any(|a| {
        qv.iter().any(|b| {
            let k = Side {
                leaves: &t.keys,
                values: std::slice::from_ref(a),
            };
            let q = Side {
                leaves: &t.queries,
                values: std::slice::from_ref(b),
            };
            term_holds(ctx.graph, maps, &t.trees, &k, &q)
        })
    })
}

/// Whether two of `trees` are comparisons of the same keys and queries
/// that no pair of values satisfies together (`<` and `==`, `<` and `>=`,
/// ...), whatever the values: decided without looking at value sets too
/// large to check pair by pair (the digits of a split key).
fn exclusive_trees(graph: &Graph, trees: &[NodeId]) -> bool {
    use crate::syntax::ast::CmpOp::{Eq, Ge, Gt, Le, Lt, Ne};
    let selects: Vec<(NodeId, NodeId, crate::syntax::ast::CmpOp)> = trees
        .iter()
        .filter_map(|s| match graph.op(*s) {
            Op::Select { keys, queries, cmp } => Some((*keys, *queries, *cmp)),
            _ => None,
        })
        .collect();
    selects.iter().enumerate().any(|(i, (k, q, a))| {
        selects[i + 1..].iter().any(|(k2, q2, b)| {
            k == k2
                && q == q2
                && matches!(
                    (a, b),
                    (Lt, Eq | Gt | Ge)
                        | (Eq, Lt | Gt | Ne)
                        | (Gt, Lt | Eq | Le)
                        | (Ne, Eq)
                        | (Le, Gt)
                        | (Ge, Lt)
                )
        })
    })
}

/// Most (value, other side's value) pairs [`can_match`] checks per conjunct.
const MATCH_WORK: usize = 1 << 20;

/// Which values of one side of a conjunct (`key_side`: its key leaf, else
/// its query leaf; a single s-op, not a product) satisfy it together with
/// some value of the other side. A value that satisfies it with none gets
/// no score from this conjunct whatever it meets, so its one-hot dim can
/// be left out. `None` when the side is a product, or there are too many
/// pairs to check.
pub fn can_match(ctx: &Ctx, t: &Term, maps: &SelMaps, key_side: bool) -> Option<Vec<bool>> {
    let (mine, other) = if key_side {
        (&t.keys, &t.queries)
    } else {
        (&t.queries, &t.keys)
    };
    if mine.len() != 1 || t.numeq {
        return None;
    }
    let values = ctx.sets.get(&mine[0]).and_then(ValueSet::values)?;
    let others: Vec<&[Value]> = other
        .iter()
        .map(|l| ctx.sets.get(l).and_then(ValueSet::values))
        .collect::<Option<_>>()?;
    let sizes: Vec<usize> = others.iter().map(|o| o.len()).collect();
    let tuples = sizes.iter().try_fold(1usize, |a, s| a.checked_mul(*s))?;
    if tuples.checked_mul(values.len())? > MATCH_WORK {
        return None;
    }
    let mut tuple_list: Vec<Vec<Value>> = Vec::with_capacity(tuples);
    super::valueset::for_each_index(&sizes, |idx| {
        tuple_list.push(
            idx.iter()
                .zip(&others)
                .map(|(i, o)| o[*i].clone())
                .collect(),
        );
    });
    Some(
        values
            .iter()
            .map(|v| {
                let one = std::slice::from_ref(v);
                tuple_list.iter().any(|w| {
                    let (k, q) = if key_side {
                        (
                            Side {
                                leaves: mine,
                                values: one,
                            },
                            Side {
                                leaves: other,
                                values: w,
                            },
                        )
                    } else {
                        (
                            Side {
                                leaves: other,
                                values: w,
                            },
                            Side {
                                leaves: mine,
                                values: one,
                            },
                        )
                    };
                    term_holds(ctx.graph, maps, &t.trees, &k, &q)
                })
            })
            .collect(),
    )
}

/// An aggregate's selector as one numerical-equality term, when it is a
/// single `select(indices, q, ==)` whose query `q` is numerical and always
/// the index of an existing position (so some key always matches, and BOS
/// only needs to lose): no one-hot of `q` and no conversion MLP.
pub fn numeq_term(
    ctx: &Ctx,
    sel: NodeId,
    sel_maps: &mut BTreeMap<NodeId, SelMap>,
) -> Option<Vec<Term>> {
    let Op::Select {
        keys,
        queries,
        cmp: crate::syntax::ast::CmpOp::Eq,
    } = ctx.graph.op(sel)
    else {
        return None;
    };
    if !matches!(ctx.graph.op(*keys), Op::Indices) || !ctx.is_numerical(*queries) {
        return None;
    }
    let domain = ctx.domain?;
    let qv = ctx.sets.get(queries).and_then(ValueSet::values)?;
    // Keys are the indices 0..N-1 and a reachable query is always one of
    // them (an integer), so the nearest wrong key is 1 away.
    if qv.iter().any(|v| v.as_f64().is_none())
        || !super::valueset::always_an_index(ctx.graph, *queries, domain)
        || !super::precision::numeq_resolved(0.0, domain.max_len as f64 - 1.0, 1.0)
    {
        return None;
    }
    sel_maps.insert(
        sel,
        SelMap {
            key_leaf: *keys,
            fk: None,
            query_leaf: *queries,
            fq: None,
        },
    );
    Some(vec![Term {
        keys: vec![*keys],
        queries: vec![*queries],
        key_product: None,
        query_product: None,
        trees: vec![sel],
        numeq: true,
        groups: None,
    }])
}

pub type SelMaps = BTreeMap<NodeId, SelMap>;

/// One side (keys or queries) of a conjunct: its leaves and one value each.
#[derive(Clone, Copy)]
pub struct Side<'a> {
    pub leaves: &'a [NodeId],
    pub values: &'a [Value],
}

impl Side<'_> {
    fn get(&self, leaf: NodeId) -> Option<&Value> {
        self.leaves
            .iter()
            .position(|l| *l == leaf)
            .and_then(|i| self.values.get(i))
    }
}

/// Whether a selector subtree holds for these key and query leaf values,
/// applying the maps folded into each select.
pub fn term_holds(graph: &Graph, maps: &SelMaps, trees: &[NodeId], k: &Side, q: &Side) -> bool {
    fn apply(f: &Option<crate::ir::Expr>, v: Option<&Value>) -> Option<Value> {
        let v = v?;
        match f {
            Some(e) => e.eval(&[v]).ok(),
            None => Some(v.clone()),
        }
    }
    fn eval(graph: &Graph, maps: &SelMaps, s: NodeId, k: &Side, q: &Side) -> bool {
        match graph.op(s) {
            Op::Select { cmp, .. } => {
                let Some(m) = maps.get(&s) else { return false };
                match (
                    apply(&m.fk, k.get(m.key_leaf)),
                    apply(&m.fq, q.get(m.query_leaf)),
                ) {
                    (Some(a), Some(b)) => crate::ir::value::compare(*cmp, &a, &b).unwrap_or(false),
                    _ => false,
                }
            }
            Op::SelAnd(a, b) => eval(graph, maps, *a, k, q) && eval(graph, maps, *b, k, q),
            Op::SelOr(a, b) => eval(graph, maps, *a, k, q) || eval(graph, maps, *b, k, q),
            Op::SelNot(a) => !eval(graph, maps, *a, k, q),
            _ => false,
        }
    }
    trees.iter().all(|t| eval(graph, maps, *t, k, q))
}
