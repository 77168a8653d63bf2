//! Planning: which s-ops get residual dims, in which encodings, and in which
//! sublayer each block runs.
//!
//! * Chains of elementwise maps are fused: a map's arguments that are maps
//!   themselves are inlined when the fused table stays small, so no MLP
//!   ever waits for another MLP (which would cost a layer).
//! * Encodings: numeric aggregates are numerical (the attention computes the
//!   mean); everything else is categorical. A consumer that needs the other
//!   encoding gets it from the same block when that block can emit both
//!   (embeddings, MLPs), or from a conversion MLP after a numerical mean.
//! * Scheduling is as-soon-as-possible over sublayers (attention = even,
//!   MLP = odd), which gives the fewest layers for the fused graph.

use std::collections::{BTreeMap, BTreeSet};

use super::valueset::ValueSet;
use crate::diag::{Diag, codes};
use crate::ir::expr::Expr;
use crate::ir::{Graph, NodeId, Op};

/// Largest table a fused map may have (product of its leaves' value sets).
pub const FUSE_LIMIT: usize = 4096;

/// How a materialized map is computed.
#[derive(Clone, Debug, PartialEq)]
pub enum MapMode {
    /// A lookup table over the one-hots of its leaves.
    Table,
    /// One numerical leaf, discretised between its sorted values.
    Discretise,
}

/// A map after fusion: an expression over leaf nodes.
#[derive(Clone, Debug, PartialEq)]
pub struct Fused {
    pub expr: Expr,
    pub leaves: Vec<NodeId>,
    pub mode: MapMode,
}

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
}

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

#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Materialized s-ops (they get residual dims), in program order.
    pub nodes: BTreeSet<NodeId>,
    pub fused: BTreeMap<NodeId, Fused>,
    pub need_cat: BTreeSet<NodeId>,
    pub need_num: BTreeSet<NodeId>,
    /// Selector conjuncts per selector node used by a head.
    pub terms: BTreeMap<NodeId, Vec<Term>>,
    /// Sublayer of each node's block (-1: embedding; 2l: attention of
    /// layer l; 2l+1: MLP of layer l).
    pub pos: BTreeMap<NodeId, i64>,
    /// Sublayer of the conversion MLP of numerical means needed as
    /// categorical.
    pub conv_pos: BTreeMap<NodeId, i64>,
    /// Map nodes fused into others (name -> where), for `explain`.
    pub fused_away: Vec<NodeId>,
    /// Materialized nodes whose primary encoding is numerical (means).
    pub numerical: BTreeSet<NodeId>,
    /// Maps folded into select predicates: per select node, the functions
    /// applied to its key and query leaves.
    pub sel_maps: BTreeMap<NodeId, SelMap>,
    /// Product one-hots and the sublayer of the MLP that builds each.
    pub products: Vec<Product>,
    pub product_pos: Vec<i64>,
    /// Maps folded into aggregates' value circuits: aggregate -> (leaf, f).
    pub value_fold: BTreeMap<NodeId, (NodeId, Expr)>,
}

/// The primary encoding of a node: numerical for numeric aggregates.
pub fn is_numerical(graph: &Graph, sets: &BTreeMap<NodeId, ValueSet>, id: NodeId) -> bool {
    match graph.op(id) {
        Op::Aggregate { values, .. } => sets.get(values).is_some_and(ValueSet::is_numeric),
        _ => false,
    }
}

fn unsupported(graph: &Graph, id: NodeId, what: String) -> Diag {
    let d = Diag::error(codes::COMPILE_UNSUPPORTED, what).help(
        "rasp can interpret this program but cannot compile this construct yet; \
         `rasp explain` lists what compiles",
    );
    match graph.node(id).span {
        Some(s) => d.at(s).label("this cannot be compiled yet"),
        None => d,
    }
}

/// Fuse the map `id`: inline argument maps while the table stays small.
fn fuse(graph: &Graph, sets: &BTreeMap<NodeId, ValueSet>, id: NodeId) -> (Expr, Vec<NodeId>) {
    let Op::Map { expr, args } = graph.op(id) else {
        unreachable!("fuse() is called on maps");
    };
    let size = |leaves: &[NodeId]| -> usize {
        leaves
            .iter()
            .map(|l| sets.get(l).and_then(ValueSet::len).unwrap_or(usize::MAX))
            .try_fold(1usize, |a, b| a.checked_mul(b))
            .unwrap_or(usize::MAX)
    };
    // Start with the arguments as leaves, then inline maps one at a time.
    let mut leaves: Vec<NodeId> = Vec::new();
    let mut subst: Vec<Expr> = Vec::with_capacity(args.len());
    for a in args {
        let inlined = if matches!(graph.op(*a), Op::Map { .. }) {
            let (e, sub_leaves) = fuse(graph, sets, *a);
            let mut merged = leaves.clone();
            for l in &sub_leaves {
                if !merged.contains(l) {
                    merged.push(*l);
                }
            }
            // Keep room for the arguments not placed yet.
            if size(&merged) <= FUSE_LIMIT && !numerical_leaf(graph, sets, &sub_leaves) {
                let map: Vec<u32> = sub_leaves
                    .iter()
                    .map(|l| merged.iter().position(|m| m == l).unwrap_or(0) as u32)
                    .collect();
                leaves = merged;
                Some(e.remap(&map))
            } else {
                None
            }
        } else {
            None
        };
        let e = match inlined {
            Some(e) => e,
            None => {
                let slot = match leaves.iter().position(|l| l == a) {
                    Some(p) => p,
                    None => {
                        leaves.push(*a);
                        leaves.len() - 1
                    }
                };
                Expr::Arg(slot as u32)
            }
        };
        subst.push(e);
    }
    (substitute(expr, &subst), leaves)
}

/// Whether any leaf is a numerical mean (those stay separate: inlining a
/// map over a mean would discretise it once per consumer).
fn numerical_leaf(graph: &Graph, sets: &BTreeMap<NodeId, ValueSet>, leaves: &[NodeId]) -> bool {
    leaves.iter().any(|l| is_numerical(graph, sets, *l))
}

/// Replace `Arg(i)` by `subst[i]`.
fn substitute(e: &Expr, subst: &[Expr]) -> Expr {
    match e {
        Expr::Arg(i) => subst[*i as usize].clone(),
        Expr::Const(v) => Expr::Const(v.clone()),
        Expr::Unary(op, a) => Expr::Unary(*op, Box::new(substitute(a, subst))),
        Expr::Binary(op, a, b) => Expr::Binary(
            *op,
            Box::new(substitute(a, subst)),
            Box::new(substitute(b, subst)),
        ),
        Expr::Cond(c, t, f) => Expr::Cond(
            Box::new(substitute(c, subst)),
            Box::new(substitute(t, subst)),
            Box::new(substitute(f, subst)),
        ),
        Expr::In(a, l) => Expr::In(Box::new(substitute(a, subst)), l.clone()),
        Expr::Index(t, a) => Expr::Index(t.clone(), Box::new(substitute(a, subst))),
        Expr::Round(a) => Expr::Round(Box::new(substitute(a, subst))),
        Expr::Indicator(a) => Expr::Indicator(Box::new(substitute(a, subst))),
    }
}

/// A map over exactly one categorical leaf can be folded into the head
/// that reads it: its leaf and its (fused) expression.
fn foldable(
    graph: &Graph,
    sets: &BTreeMap<NodeId, ValueSet>,
    node: NodeId,
) -> Option<(NodeId, Expr)> {
    if !matches!(graph.op(node), Op::Map { .. }) {
        return None;
    }
    let (expr, leaves) = fuse(graph, sets, node);
    match leaves.as_slice() {
        [leaf] if !is_numerical(graph, sets, *leaf) => Some((*leaf, expr)),
        _ => None,
    }
}

/// Split a selector into conjuncts, each over one (key, query) pair of
/// leaves (after folding single-input maps into the predicates). A conjunct
/// that combines several pairs with `or`/`not` reads product one-hots.
fn terms(
    graph: &Graph,
    sets: &BTreeMap<NodeId, ValueSet>,
    sel: NodeId,
    sel_maps: &mut BTreeMap<NodeId, SelMap>,
    products: &mut Vec<Product>,
) -> Result<Vec<Term>, Diag> {
    let mut fold = |s: NodeId, keys: NodeId, queries: NodeId| -> (NodeId, NodeId) {
        let (kl, fk) = match foldable(graph, sets, keys) {
            Some((l, f)) => (l, Some(f)),
            None => (keys, None),
        };
        let (ql, fq) = match foldable(graph, sets, queries) {
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
    let mut stack = vec![sel];
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
            let size = leaves
                .iter()
                .map(|l| sets.get(l).and_then(ValueSet::len).unwrap_or(usize::MAX))
                .try_fold(1usize, |a, b| a.checked_mul(b));
            if size.is_none_or(|n| n > PRODUCT_LIMIT) {
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
            }),
        }
    }
    Ok(out)
}

/// Build the plan for `target`.
pub fn plan(
    graph: &Graph,
    sets: &BTreeMap<NodeId, ValueSet>,
    target: NodeId,
) -> Result<Plan, Diag> {
    let mut p = Plan::default();
    if graph.kind(target) != crate::ir::Kind::Sop {
        return Err(unsupported(
            graph,
            target,
            format!(
                "`{}` is a selector; compile an s-op (e.g. an aggregate of it)",
                graph.label(target)
            ),
        ));
    }
    // Walk from the target, materializing what consumers read.
    let mut work = vec![target];
    if is_numerical(graph, sets, target) {
        p.need_num.insert(target);
    } else {
        p.need_cat.insert(target);
    }
    while let Some(id) = work.pop() {
        if !p.nodes.insert(id) {
            continue;
        }
        let read = |node: NodeId, cat: bool, p: &mut Plan, work: &mut Vec<NodeId>| {
            if cat {
                p.need_cat.insert(node);
            } else {
                p.need_num.insert(node);
            }
            work.push(node);
        };
        match graph.op(id) {
            Op::Tokens(_) | Op::Indices | Op::Const(_) => {}
            Op::Length => {}
            Op::Map { .. } => {
                let (expr, leaves) = fuse(graph, sets, id);
                let mode = if leaves.len() == 1 && is_numerical(graph, sets, leaves[0]) {
                    MapMode::Discretise
                } else {
                    MapMode::Table
                };
                for l in &leaves {
                    read(*l, mode == MapMode::Table, &mut p, &mut work);
                }
                p.fused.insert(id, Fused { expr, leaves, mode });
            }
            Op::Aggregate { sel, values, .. } => {
                let numeric = sets.get(values).is_some_and(ValueSet::is_numeric);
                match foldable(graph, sets, *values) {
                    Some((leaf, f)) => {
                        // The value circuit applies f to the leaf's one-hot.
                        read(leaf, true, &mut p, &mut work);
                        p.value_fold.insert(id, (leaf, f));
                    }
                    None => read(*values, !numeric, &mut p, &mut work),
                }
                let ts = terms(graph, sets, *sel, &mut p.sel_maps, &mut p.products)?;
                for t in &ts {
                    for l in t.keys.iter().chain(&t.queries) {
                        read(*l, true, &mut p, &mut work);
                    }
                }
                p.terms.insert(*sel, ts);
            }
            Op::SelectorWidth(sel) => {
                let ts = terms(graph, sets, *sel, &mut p.sel_maps, &mut p.products)?;
                for t in &ts {
                    for l in t.keys.iter().chain(&t.queries) {
                        read(*l, true, &mut p, &mut work);
                    }
                }
                p.terms.insert(*sel, ts);
            }
            Op::Select { .. } | Op::SelAnd(..) | Op::SelOr(..) | Op::SelNot(_) => {}
        }
    }
    for id in graph.ancestors(&[target]) {
        if matches!(graph.op(id), Op::Map { .. }) && !p.nodes.contains(&id) {
            p.fused_away.push(id);
        }
    }
    // Value sets must be finite wherever a table or one-hot is needed.
    for id in &p.nodes {
        let finite = sets.get(id).and_then(ValueSet::values).is_some();
        let needs_table = p.need_cat.contains(id)
            || p.fused
                .get(id)
                .is_some_and(|f| f.mode == MapMode::Discretise);
        if !finite && needs_table && !matches!(graph.op(*id), Op::Const(_)) {
            let reason = match sets.get(id) {
                Some(ValueSet::Unbounded { reason }) => reason.clone(),
                _ => "unknown".into(),
            };
            return Err(Diag::error(
                codes::COMPILE_VALUES,
                format!(
                    "`{}` is a mean with too many possible values ({reason}) to be used as a category",
                    graph.label(*id)
                ),
            )
            .help("use a smaller vocab or max length, or keep this mean out of selects and maps"));
        }
    }
    p.numerical = p
        .nodes
        .iter()
        .copied()
        .filter(|id| is_numerical(graph, sets, *id))
        .collect();
    schedule(graph, &mut p);
    Ok(p)
}

/// Earliest attention (even) sublayer after `p`.
fn next_attn(p: i64) -> i64 {
    if p < 0 {
        0
    } else if p % 2 == 0 {
        p + 2
    } else {
        p + 1
    }
}

/// Earliest MLP (odd) sublayer after `p`.
fn next_mlp(p: i64) -> i64 {
    if p < 0 {
        1
    } else if p % 2 == 0 {
        p + 1
    } else {
        p + 2
    }
}

/// When a selector's conjuncts can be read: their leaves, or the MLPs that
/// build their product one-hots (scheduled here, as early as possible).
fn terms_ready(p: &mut Plan, sel: NodeId, avail: &dyn Fn(&Plan, NodeId, bool) -> i64) -> i64 {
    let mut ready = -1;
    for t in p.terms[&sel].clone() {
        for (leaves, product) in [(&t.keys, t.key_product), (&t.queries, t.query_product)] {
            let leaves_ready = leaves
                .iter()
                .map(|l| avail(p, *l, true))
                .max()
                .unwrap_or(-1);
            match product {
                Some(i) => {
                    if p.product_pos.len() < p.products.len() {
                        p.product_pos.resize(p.products.len(), -1);
                    }
                    if p.product_pos[i] < 0 {
                        p.product_pos[i] = next_mlp(leaves_ready);
                    }
                    ready = ready.max(p.product_pos[i]);
                }
                None => ready = ready.max(leaves_ready),
            }
        }
    }
    ready
}

/// ASAP schedule over sublayers.
fn schedule(graph: &Graph, p: &mut Plan) {
    // Node ids are topological, so one pass in id order suffices.
    let nodes: Vec<NodeId> = p.nodes.iter().copied().collect();
    for id in nodes {
        let avail = |p: &Plan, n: NodeId, cat: bool| -> i64 {
            let base = p.pos.get(&n).copied().unwrap_or(-1);
            if cat && p.conv_pos.contains_key(&n) {
                p.conv_pos[&n]
            } else {
                base
            }
        };
        let pos = match graph.op(id) {
            Op::Tokens(_) | Op::Indices | Op::Const(_) => -1,
            Op::Length => 1,
            Op::Map { .. } => {
                let f = &p.fused[&id];
                let cat = f.mode == MapMode::Table;
                let ready = f
                    .leaves
                    .iter()
                    .map(|l| avail(p, *l, cat))
                    .max()
                    .unwrap_or(-1);
                next_mlp(ready)
            }
            Op::Aggregate { sel, values, .. } => {
                let mut ready = match p.value_fold.get(&id) {
                    Some((leaf, _)) => avail(p, *leaf, true),
                    None => avail(p, *values, !p.need_num.contains(values)),
                };
                ready = ready.max(terms_ready(p, *sel, &avail));
                next_attn(ready)
            }
            Op::SelectorWidth(sel) => {
                let ready = terms_ready(p, *sel, &avail);
                next_attn(ready) + 1
            }
            _ => continue,
        };
        p.pos.insert(id, pos);
        // A numerical mean read as a category gets a conversion MLP.
        if p.numerical.contains(&id) && p.need_cat.contains(&id) {
            p.conv_pos.insert(id, next_mlp(pos));
        }
    }
}

/// The number of layers a plan uses.
pub fn n_layers(p: &Plan) -> usize {
    let last = p
        .pos
        .values()
        .chain(p.conv_pos.values())
        .chain(p.product_pos.iter())
        .copied()
        .max()
        .unwrap_or(-1);
    if last < 0 { 0 } else { (last / 2 + 1) as usize }
}
