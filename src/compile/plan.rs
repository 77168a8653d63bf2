//! Planning: which s-ops get residual dims, in which encodings, and in which
//! sublayer each block runs.
//!
//! * Chains of elementwise maps are fused: a map's arguments that are maps
//!   themselves are inlined when the fused table stays small, so no MLP
//!   ever waits for another MLP (which would cost a layer).
//! * Encodings: numeric aggregates are numerical (the attention computes the
//!   mean), and so are affine maps of numbers that would need a large table
//!   (they are linear combinations of residual dims, with no block at all);
//!   everything else is categorical. Consumers say what they read: a
//!   categorical block read as a number is a linear read-out of its one-hot
//!   (no extra dim); a producer that can write a number (embeddings, MLPs)
//!   writes only that when nobody needs its one-hot; a numerical s-op read
//!   as a category gets a conversion MLP.
//! * Scheduling is as-soon-as-possible over [`Sublayer`]s, which gives the
//!   fewest layers for the fused graph.

use std::collections::{BTreeMap, BTreeSet};

use super::rewrite::is_affine;
pub use super::selectors::{Product, SelMap, Term, WidthPart};
use super::selectors::{can_match, expand, numeq_term, terms, terms_of};
use super::sublayer::Sublayer;
use super::valueset::{Domain, ValueSet};
use crate::diag::{Diag, codes};
use crate::ir::expr::Expr;
use crate::ir::{Graph, NodeId, Op};
use crate::ir::{Hint, Value};

/// Largest table a fused map may have (product of its leaves' value sets).
pub const FUSE_LIMIT: usize = 4096;
/// Largest expression a fused map may have (nodes of the tree): fusing
/// copies an argument's expression at each of its uses, so a chain of
/// `x = x + x` would double it at every step.
pub const FUSE_NODES: usize = 1024;
/// Most units a gated discretisation may have.
pub const GATED_UNITS: usize = 1 << 14;

/// The units a gated discretisation of `expr` over `leaves` (one of them
/// numerical) needs: per tuple of categorical values, one constant unit and
/// two per change of the output along the sorted numbers. `None` when that
/// is too much work to count.
pub fn gated_units(ctx: &Ctx, expr: &Expr, leaves: &[NodeId]) -> Option<usize> {
    let slot = leaves.iter().position(|l| ctx.is_numerical(*l))?;
    let xs = ctx.sets.get(&leaves[slot]).and_then(ValueSet::values)?;
    let cats: Vec<&[Value]> = leaves
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != slot)
        .map(|(_, l)| ctx.sets.get(l).and_then(ValueSet::values))
        .collect::<Option<_>>()?;
    let tuples = cats
        .iter()
        .try_fold(1usize, |a, c| a.checked_mul(c.len()))?;
    if tuples.checked_mul(xs.len())? > 1 << 20 {
        return None;
    }
    let mut order: Vec<&Value> = xs.iter().filter(|v| v.as_f64().is_some()).collect();
    order.sort_by(|a, b| {
        a.as_f64()
            .unwrap_or(0.0)
            .total_cmp(&b.as_f64().unwrap_or(0.0))
    });
    let sizes: Vec<usize> = cats.iter().map(|c| c.len()).collect();
    let mut units = 0usize;
    super::valueset::for_each_index(&sizes, |idx| {
        let mut args: Vec<Value> = vec![Value::Int(0); leaves.len()];
        let mut k = 0;
        for (i, a) in args.iter_mut().enumerate() {
            if i != slot {
                *a = cats[k][idx[k]].clone();
                k += 1;
            }
        }
        let mut last: Option<Option<Value>> = None;
        units += 1;
        for x in &order {
            args[slot] = (*x).clone();
            let refs: Vec<&Value> = args.iter().collect();
            let out = expr.eval(&refs).ok();
            if let Some(prev) = &last
                && !match (prev, &out) {
                    (Some(a), Some(b)) => a.same(b),
                    (None, None) => true,
                    _ => false,
                }
            {
                units += 2;
            }
            last = Some(out);
        }
    });
    Some(units)
}

/// How a materialized map is computed.
#[derive(Clone, Debug, PartialEq)]
pub enum MapMode {
    /// A lookup table over the one-hots of its leaves.
    Table,
    /// One numerical leaf, discretised between its sorted values.
    Discretise,
    /// One numerical leaf and categorical ones: a discretisation of the
    /// number for each tuple of categorical values, gated by its one-hots.
    Gated,
    /// An affine function of numbers: a linear combination of residual
    /// dims that consumers read directly (no block, no dims of its own).
    Linear,
}

/// A map after fusion: an expression over leaf nodes.
#[derive(Clone, Debug, PartialEq)]
pub struct Fused {
    pub expr: Expr,
    pub leaves: Vec<NodeId>,
    pub mode: MapMode,
    /// For `Gated`: its exact unit count (`gated_units`), counted once.
    pub units: Option<usize>,
    /// For `Gated` and `Discretise`: the leaf read as a number (the others
    /// are read as one-hots), decided once, when the map is planned. A
    /// leaf that becomes numerical later (a width by inclusion-exclusion)
    /// is read through its conversion, and scheduled after it.
    pub number: Option<usize>,
    /// For a `Table` that writes a one-hot: the value most tuples give
    /// (`table_defaults`). One constant unit writes its dim, and each
    /// tuple of another value takes it back: units only where the value
    /// is not the usual one.
    pub default: Option<Value>,
}

impl Fused {
    /// Whether the map reads leaf `i` as a one-hot (else as a number).
    pub fn reads_one_hot(&self, i: usize) -> bool {
        match self.mode {
            MapMode::Table => true,
            MapMode::Gated => self.number != Some(i),
            MapMode::Discretise | MapMode::Linear => false,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Materialized s-ops (they get residual dims), in program order.
    pub nodes: BTreeSet<NodeId>,
    pub fused: BTreeMap<NodeId, Fused>,
    pub need_cat: BTreeSet<NodeId>,
    pub need_num: BTreeSet<NodeId>,
    /// Selector conjuncts per selector node used by a head.
    pub terms: BTreeMap<NodeId, Vec<Term>>,
    /// Where each node's value becomes available: its block's sublayer
    /// (the decoder MLP for selector widths and `length`, whose head runs in
    /// the attention sublayer before it; the latest argument for linear
    /// maps).
    pub pos: BTreeMap<NodeId, Sublayer>,
    /// The conversion MLP of numerical s-ops needed as categorical.
    pub conv_pos: BTreeMap<NodeId, Sublayer>,
    /// Map nodes fused into others (name -> where), for `explain`.
    pub fused_away: Vec<NodeId>,
    /// Nodes whose primary encoding is numerical (numeric means and linear
    /// maps), among all ancestors of the target.
    pub numerical: BTreeSet<NodeId>,
    /// Maps folded into select predicates: per select node, the functions
    /// applied to its key and query leaves.
    pub sel_maps: BTreeMap<NodeId, SelMap>,
    /// Product one-hots and the sublayer of the MLP that builds each.
    pub products: Vec<Product>,
    pub product_pos: Vec<Sublayer>,
    /// Maps folded into aggregates' value circuits: aggregate -> (leaf, f).
    pub value_fold: BTreeMap<NodeId, (NodeId, Expr)>,
    /// Selector widths computed by inclusion-exclusion.
    pub width_parts: BTreeMap<NodeId, Vec<WidthPart>>,
    /// Numerical s-ops that only selects read as a category: the values
    /// their conversion gives one-hot dims, those that satisfy some
    /// select with some value of its other side. The rest satisfy none,
    /// so they all score nothing alike and need no dim (`can_match`).
    pub conv_values: BTreeMap<NodeId, Vec<Value>>,
    /// Linear maps whose conversion may be a table over the one-hots of
    /// these s-ops (their values lie closer than float32 steps resolve:
    /// `mlps::table_conversion`), read where the conversion is.
    pub conv_tables: BTreeMap<NodeId, Vec<NodeId>>,
}

/// Affine maps over categorical leaves become linear combinations instead
/// of tables once the table would have more rows than this (and more than
/// a few per output value).
pub const LINEAR_TABLE: usize = 64;

/// What planning reads: the graph, the value sets and the nodes whose
/// primary encoding is numerical.
pub struct Ctx<'a> {
    pub graph: &'a Graph,
    pub sets: &'a BTreeMap<NodeId, ValueSet>,
    pub numerical: BTreeSet<NodeId>,
    /// Numerical maps whose leaves, expanded, are all categorical.
    pub lin_cats: BTreeSet<NodeId>,
    /// What the value sets are for (per-length questions need it).
    pub domain: Option<&'a Domain>,
    /// How many nodes of the program read each node.
    pub readers: BTreeMap<NodeId, usize>,
    /// Each map's fusion, computed once (a map read by several fused maps
    /// would otherwise be fused again for each, exponentially often).
    fused: std::cell::RefCell<BTreeMap<NodeId, (Expr, Vec<NodeId>)>>,
}

impl<'a> Ctx<'a> {
    /// Decide, bottom-up over the ancestors of `targets`, which s-ops are
    /// numerical: numeric means, and affine maps of numbers that read a
    /// numerical s-op or whose table would be large.
    pub fn new(
        graph: &'a Graph,
        sets: &'a BTreeMap<NodeId, ValueSet>,
        targets: &[NodeId],
        domain: &'a Domain,
    ) -> Ctx<'a> {
        let mut numerical = BTreeSet::new();
        let numeric = |id: &NodeId| sets.get(id).is_some_and(ValueSet::is_numeric);
        let as_category = read_as_category(graph, targets);
        for id in graph.ancestors(targets) {
            let hint = graph.hint(id);
            let yes = match graph.op(id) {
                // A categorical mean is still a mean (then converted).
                Op::Map { .. } if hint == Some(Hint::Categorical) => false,
                Op::Aggregate { values, .. } if hint == Some(Hint::Numerical) => sets
                    .get(values)
                    .and_then(ValueSet::values)
                    .is_some_and(|v| !v.is_empty() && v.iter().all(Value::is_number)),
                // A mean of one key at most is a copy: of the one-hot when
                // its source has one and some reader needs the category
                // (no conversion then), else of the number (one dim).
                Op::Aggregate { sel, values, .. } => {
                    numeric(values)
                        && (numerical.contains(values)
                            || !as_category.contains(&id)
                            || !super::onekey::at_most_one(
                                graph,
                                *sel,
                                sets,
                                domain.max_len,
                                domain.causal,
                            ))
                }
                Op::Map { expr, args } => {
                    let table = args
                        .iter()
                        .map(|a| sets.get(a).and_then(ValueSet::len).unwrap_or(usize::MAX))
                        .try_fold(1usize, |a, b| a.checked_mul(b))
                        .unwrap_or(usize::MAX);
                    let out = sets.get(&id).and_then(ValueSet::len).unwrap_or(usize::MAX);
                    // A large table of numbers marked numerical (the
                    // rewrites' twin digits): one dim holding the number,
                    // written by a table whose units are where it is not
                    // zero. (A small one is folded into the heads that read
                    // it, or a one-hot.)
                    let sparse = hint == Some(Hint::Numerical)
                        && !is_affine(expr)
                        && numeric(&id)
                        && table > FUSE_LIMIT;
                    sparse
                        || (is_affine(expr)
                            && !args.is_empty()
                            && args.iter().all(numeric)
                            && numeric(&id)
                            && (hint == Some(Hint::Numerical)
                                || args.len() == 1
                                || args.iter().any(|a| numerical.contains(a))
                                || (table > LINEAR_TABLE / 4 && table > 2 * out)))
                }
                _ => false,
            };
            if yes {
                numerical.insert(id);
            }
        }
        // Linear maps that are, all the way down, maps of categorical
        // s-ops: consumers may still fuse or fold them like any map.
        let mut lin_cats = BTreeSet::new();
        for id in graph.ancestors(targets) {
            if let Op::Map { args, expr } = graph.op(id)
                && numerical.contains(&id)
                && is_affine(expr)
                && args
                    .iter()
                    .all(|a| !numerical.contains(a) || lin_cats.contains(a))
            {
                lin_cats.insert(id);
            }
        }
        let mut readers: BTreeMap<NodeId, usize> = BTreeMap::new();
        for id in graph.ancestors(targets) {
            let mut inputs = graph.op(id).inputs();
            inputs.dedup();
            for i in inputs {
                *readers.entry(i).or_default() += 1;
            }
        }
        Ctx {
            graph,
            sets,
            numerical,
            lin_cats,
            domain: Some(domain),
            readers,
            fused: Default::default(),
        }
    }

    /// Whether a node's primary encoding is numerical.
    pub fn is_numerical(&self, id: NodeId) -> bool {
        self.numerical.contains(&id)
    }

    fn set_len(&self, id: NodeId) -> usize {
        self.sets
            .get(&id)
            .and_then(ValueSet::len)
            .unwrap_or(usize::MAX)
    }

    pub fn table_size(&self, leaves: &[NodeId]) -> usize {
        leaves
            .iter()
            .map(|l| self.set_len(*l))
            .try_fold(1usize, |a, b| a.checked_mul(b))
            .unwrap_or(usize::MAX)
    }
}

/// The s-ops that some consumer reads as a category, whatever their own
/// encoding: keys and queries of selects, arguments of maps that are not
/// affine (tables, or maps folded into a select or a head, which read
/// their argument's one-hot), arguments of affine maps read as a
/// category, sources of copies read as a category, s-ops marked
/// categorical. Used to choose how a copy of one key holds a number.
fn read_as_category(graph: &Graph, targets: &[NodeId]) -> BTreeSet<NodeId> {
    let mut marked = BTreeSet::new();
    // Consumers come after their inputs: walk down from the last.
    for id in graph.ancestors(targets).into_iter().rev() {
        if graph.hint(id) == Some(Hint::Categorical) {
            marked.insert(id);
        }
        let me = marked.contains(&id);
        match graph.op(id) {
            Op::Select { keys, queries, .. } => {
                marked.insert(*keys);
                marked.insert(*queries);
            }
            Op::Map { expr, args } if !is_affine(expr) || me => {
                marked.extend(args.iter().copied());
            }
            Op::Aggregate { values, .. } if me => {
                marked.insert(*values);
            }
            _ => {}
        }
    }
    marked
}

pub(super) fn unsupported(graph: &Graph, id: NodeId, what: String) -> Diag {
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
/// Numerical maps are never inlined (they are read as numbers), and
/// nothing is inlined into a numerical map.
fn fuse(ctx: &Ctx, id: NodeId) -> (Expr, Vec<NodeId>) {
    if let Some(done) = ctx.fused.borrow().get(&id) {
        return done.clone();
    }
    let done = fuse_once(ctx, id);
    ctx.fused.borrow_mut().insert(id, done.clone());
    done
}

/// [`fuse`], without its cache.
fn fuse_once(ctx: &Ctx, id: NodeId) -> (Expr, Vec<NodeId>) {
    let Op::Map { expr, args } = ctx.graph.op(id) else {
        unreachable!("fuse() is called on maps");
    };
    if ctx.is_numerical(id) && is_affine(expr) && !ctx.lin_cats.contains(&id) {
        let leaves = args.clone();
        let subst: Vec<Expr> = (0..args.len() as u32).map(Expr::Arg).collect();
        return (substitute(expr, &subst), leaves);
    }
    // Start with the arguments as leaves, then inline maps one at a time.
    let mut leaves: Vec<NodeId> = Vec::new();
    let mut subst: Vec<Expr> = Vec::with_capacity(args.len());
    // The nodes of each argument's expression once substituted (1 for a
    // leaf), to keep the fused expression within FUSE_NODES.
    let mut sizes: Vec<usize> = Vec::with_capacity(args.len());
    for a in args {
        let inlined = if matches!(ctx.graph.op(*a), Op::Map { .. })
            && (!ctx.is_numerical(*a) || ctx.lin_cats.contains(a))
        {
            let (e, sub_leaves) = fuse(ctx, *a);
            let mut merged = leaves.clone();
            for l in &sub_leaves {
                if !merged.contains(l) {
                    merged.push(*l);
                }
            }
            // At most one numerical leaf (a gated discretisation), and a
            // small table over the categorical ones.
            let numerical: Vec<NodeId> = merged
                .iter()
                .copied()
                .filter(|l| ctx.is_numerical(*l))
                .collect();
            let cats: Vec<NodeId> = merged
                .iter()
                .copied()
                .filter(|l| !ctx.is_numerical(*l))
                .collect();
            // Inlining a categorical map of one s-op with no more values
            // than the map's own never makes the table larger: the map
            // needs no one-hot of its own then, whatever the table's size.
            // (A number read apart may instead be discretised per tuple of
            // the others, with units only where the output changes; a
            // numerical table, written where it is not zero, always reads
            // one-hots.)
            let mut apart = leaves.clone();
            if !apart.contains(a) {
                apart.push(*a);
            }
            let never_larger = sub_leaves.len() == 1
                && (!ctx.is_numerical(*a) || ctx.is_numerical(id))
                && ctx.table_size(&cats) <= ctx.table_size(&apart);
            let fits = match numerical.as_slice() {
                [] => ctx.table_size(&cats) <= FUSE_LIMIT || never_larger,
                [x] => {
                    ctx.sets.get(x).and_then(ValueSet::len).is_some()
                        && ctx.table_size(&cats) <= FUSE_LIMIT
                }
                _ => false,
            } && {
                let mut with = sizes.clone();
                with.push(e.nodes_with(&[]));
                expr.nodes_with(&with) <= FUSE_NODES
            } && !(numerical.is_empty()
                && cheaper_apart(ctx, *a, &leaves, &sub_leaves, &cats));
            if fits {
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
            Some(e) => {
                sizes.push(e.nodes_with(&[]));
                e
            }
            None => {
                sizes.push(1);
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

/// A gated discretisation whose number is a map of one categorical s-op
/// `L` (`indices / 100`) may cost more units than a table over `L`'s
/// one-hot and the other leaves where the table's output is mostly one
/// value (a digit that is 0 but for a few pairs): a table writes units
/// only for the tuples of other values (`table_defaults`). Returns that
/// table's expression and leaves when it has fewer units than `gated`.
fn table_instead(
    ctx: &Ctx,
    id: NodeId,
    expr: &Expr,
    leaves: &[NodeId],
    gated: usize,
) -> Option<(Expr, Vec<NodeId>)> {
    let slot = leaves.iter().position(|l| ctx.is_numerical(*l))?;
    let x = leaves[slot];
    if !matches!(ctx.graph.op(x), Op::Map { .. }) {
        return None;
    }
    let (sub, sub_leaves) = fuse(ctx, x);
    let [l] = sub_leaves.as_slice() else {
        return None;
    };
    if ctx.is_numerical(*l) {
        return None;
    }
    let mut merged: Vec<NodeId> = leaves.to_vec();
    let at = match merged.iter().position(|m| m == l) {
        Some(p) => {
            merged.remove(slot);
            p - usize::from(p > slot)
        }
        None => {
            merged[slot] = *l;
            slot
        }
    };
    if ctx.table_size(&merged) > DEFAULT_ROWS {
        return None;
    }
    // Old argument i is new argument map[i]; x's own argument is `at`.
    let map: Vec<u32> = leaves
        .iter()
        .map(|m| merged.iter().position(|n| n == m).unwrap_or(at) as u32)
        .collect();
    let inner = sub.remap(&[at as u32]);
    let subst: Vec<Expr> = (0..leaves.len())
        .map(|i| {
            if i == slot {
                inner.clone()
            } else {
                Expr::Arg(map[i])
            }
        })
        .collect();
    let fused = substitute(expr, &subst);
    let vals: Vec<&[Value]> = merged
        .iter()
        .map(|m| ctx.sets.get(m).and_then(ValueSet::values))
        .collect::<Option<_>>()?;
    let out = ctx.sets.get(&id).and_then(ValueSet::values)?;
    let (rows, usual) = usual_value(&fused, &vals, out);
    let units = rows - usual.map_or(0, |(_, c)| c) + 1;
    (units < gated).then_some((fused, merged))
}

/// Over every tuple of `leaves`' values: how many tuples `expr` evaluates
/// on, and the first of its most common values (an index into `out`, the
/// map's values) with how many tuples give it.
fn usual_value(expr: &Expr, leaves: &[&[Value]], out: &[Value]) -> (usize, Option<(usize, usize)>) {
    let sizes: Vec<usize> = leaves.iter().map(|l| l.len()).collect();
    let mut counts = vec![0usize; out.len()];
    let mut rows = 0usize;
    super::valueset::for_each_index(&sizes, |idx| {
        let combo: Vec<&Value> = idx.iter().zip(leaves).map(|(i, l)| &l[*i]).collect();
        if let Ok(v) = expr.eval(&combo) {
            rows += 1;
            if let Some(j) = super::valueset::index_of(out, &v) {
                counts[j] += 1;
            }
        }
    });
    let best = counts
        .iter()
        .enumerate()
        .fold(None, |b: Option<(usize, usize)>, (j, c)| match b {
            Some((_, bc)) if bc >= *c => b,
            _ => Some((j, *c)),
        });
    (rows, best)
}

/// Whether reading the categorical map `a` as a one-hot of its own costs
/// fewer MLP units than inlining it: a table over this map's other leaves
/// and `a`'s values, plus `a`'s own table shared among its readers,
/// against a table over every leaf (`merged`). A map read by several
/// others (`column` read by `column == 9`, `column > 9` and
/// `(column + c) % 10`) is then built once instead of once per reader.
fn cheaper_apart(
    ctx: &Ctx,
    a: NodeId,
    leaves: &[NodeId],
    sub_leaves: &[NodeId],
    merged: &[NodeId],
) -> bool {
    if ctx.is_numerical(a) || leaves.iter().any(|l| ctx.is_numerical(*l)) {
        return false;
    }
    let mut apart: Vec<NodeId> = leaves.to_vec();
    if !apart.contains(&a) {
        apart.push(a);
    }
    // Apart, `a` may cost a sublayer of its own: it must save at least
    // half the units.
    let readers = ctx.readers.get(&a).copied().unwrap_or(1).max(1);
    let own = ctx.table_size(sub_leaves) / readers;
    ctx.table_size(&apart).saturating_add(own).saturating_mul(2) < ctx.table_size(merged)
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
pub(super) fn foldable(ctx: &Ctx, node: NodeId) -> Option<(NodeId, Expr)> {
    if !matches!(ctx.graph.op(node), Op::Map { .. })
        || (ctx.is_numerical(node) && !ctx.lin_cats.contains(&node))
    {
        return None;
    }
    let (expr, leaves) = fuse(ctx, node);
    match leaves.as_slice() {
        [leaf] if !ctx.is_numerical(*leaf) => Some((*leaf, expr)),
        _ => None,
    }
}

/// Build the plan for `target`.
pub fn plan(ctx: &Ctx, target: NodeId) -> Result<Plan, Diag> {
    let graph = ctx.graph;
    let sets = ctx.sets;
    let mut p = Plan {
        numerical: ctx.numerical.clone(),
        ..Plan::default()
    };
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
    // Encodings asked for must be possible.
    for id in graph.ancestors(&[target]) {
        if graph.hint(id) == Some(Hint::Numerical)
            && !sets
                .get(&id)
                .is_some_and(|v| v.values().is_none_or(|v| v.iter().all(Value::is_number)))
        {
            let d = Diag::error(
                codes::COMPILE_UNSUPPORTED,
                format!(
                    "`{}` is marked numerical, but its values are not all numbers",
                    graph.label(id)
                ),
            )
            .help("only s-ops of numbers (or bools) can be held as one number");
            return Err(match graph.node(id).span {
                Some(s) => d.at(s).label("marked numerical"),
                None => d,
            });
        }
    }
    // The output: a number when it is one (means, linear maps, counts,
    // what is marked numerical), else a one-hot.
    let hint = graph.hint(target);
    let numeric_values = sets.get(&target).is_some_and(ValueSet::is_numeric);
    let numeric_target = hint != Some(Hint::Categorical)
        && (ctx.is_numerical(target)
            || (matches!(graph.op(target), Op::SelectorWidth(_) | Op::Length) && numeric_values)
            || (hint == Some(Hint::Numerical) && numeric_values)
            || decoded_by_nearest(ctx, target));
    if numeric_target {
        p.need_num.insert(target);
    } else {
        p.need_cat.insert(target);
    }
    // Walk from the target, materializing what consumers read.
    let mut work = vec![target];
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
            Op::Tokens(_) | Op::Indices | Op::Const(_) | Op::Length => {}
            Op::Map { expr, args } => {
                // A linear map is a combination of its own arguments (a
                // fused expression may not be affine any more).
                let linear = ctx.is_numerical(id) && is_affine(expr);
                let (expr, leaves) = if linear {
                    (expr.clone(), args.clone())
                } else {
                    fuse(ctx, id)
                };
                let n_num = leaves.iter().filter(|l| ctx.is_numerical(**l)).count();
                let mut units = (n_num == 1 && leaves.len() > 1 && !linear)
                    .then(|| gated_units(ctx, &expr, &leaves))
                    .flatten()
                    .filter(|u| *u <= GATED_UNITS);
                let (expr, leaves, n_num) =
                    match units.and_then(|u| table_instead(ctx, id, &expr, &leaves, u)) {
                        Some((e, l)) => {
                            units = None;
                            (e, l, 0)
                        }
                        None => (expr, leaves, n_num),
                    };
                let mode = if linear {
                    MapMode::Linear
                } else if n_num == 1 && leaves.len() == 1 {
                    MapMode::Discretise
                } else if units.is_some() {
                    MapMode::Gated
                } else {
                    MapMode::Table
                };
                let number = match mode {
                    MapMode::Gated | MapMode::Discretise => {
                        leaves.iter().position(|l| ctx.is_numerical(*l))
                    }
                    MapMode::Table | MapMode::Linear => None,
                };
                let f = Fused {
                    expr,
                    leaves,
                    mode,
                    units,
                    number,
                    default: None,
                };
                for (i, l) in f.leaves.iter().enumerate() {
                    read(*l, f.reads_one_hot(i), &mut p, &mut work);
                }
                p.fused.insert(id, f);
            }
            Op::Aggregate { sel, values, .. } => {
                let numeric = ctx.is_numerical(id);
                match foldable(ctx, *values) {
                    Some((leaf, f)) => {
                        // The value circuit applies f to the leaf's one-hot.
                        read(leaf, true, &mut p, &mut work);
                        p.value_fold.insert(id, (leaf, f));
                    }
                    None => read(*values, !numeric, &mut p, &mut work),
                }
                let ts = match numeq_term(ctx, *sel, &mut p.sel_maps) {
                    Some(ts) => ts,
                    None => terms(ctx, *sel, &mut p.sel_maps, &mut p.products)?,
                };
                for t in &ts {
                    for l in &t.keys {
                        read(*l, true, &mut p, &mut work);
                    }
                    for l in &t.queries {
                        read(*l, !t.numeq, &mut p, &mut work);
                    }
                }
                p.terms.insert(*sel, ts);
            }
            Op::SelectorWidth(sel) => {
                let mut products = p.products.clone();
                // A joint one-hot too large to build is no obstacle where
                // inclusion-exclusion needs none (the library `sort`'s
                // `goes_before` over a key of many values).
                let (ts, needs_products) = match terms(ctx, *sel, &mut p.sel_maps, &mut products) {
                    Ok(ts) => {
                        let needs = ts
                            .iter()
                            .any(|t| t.key_product.is_some() || t.query_product.is_some());
                        (Ok(ts), needs)
                    }
                    Err(d) if d.code == codes::COMPILE_UNSUPPORTED => (Err(d), true),
                    Err(d) => return Err(d),
                };
                let parts = if needs_products {
                    expand(graph, *sel)
                } else {
                    None
                };
                let parts = match (parts, ts) {
                    (Some(parts), _) => Ok(parts),
                    (None, Ok(ts)) => Err(ts),
                    (None, Err(d)) => return Err(d),
                };
                match parts {
                    Ok(parts) => {
                        let mut built = Vec::with_capacity(parts.len());
                        for (sign, lits) in parts {
                            let terms =
                                terms_of(ctx, &lits, *sel, &mut p.sel_maps, &mut p.products)?;
                            // A conjunction no pair of values satisfies
                            // selects nothing: it adds 0.
                            if terms
                                .iter()
                                .any(|t| !super::selectors::satisfiable(ctx, t, &p.sel_maps))
                            {
                                continue;
                            }
                            for t in &terms {
                                for l in t.keys.iter().chain(&t.queries) {
                                    read(*l, true, &mut p, &mut work);
                                }
                            }
                            // A conjunction selects no more than any of
                            // its selects (a `not` may select more).
                            let most = ctx.domain.and_then(|d| {
                                lits.iter()
                                    .filter(|l| !matches!(graph.op(**l), Op::SelNot(_)))
                                    .filter_map(|l| {
                                        super::onekey::most_selected(
                                            graph, *l, sets, d.max_len, d.causal,
                                        )
                                    })
                                    .min()
                            });
                            built.push(WidthPart { sign, terms, most });
                        }
                        p.width_parts.insert(id, built);
                        p.numerical.insert(id);
                    }
                    Err(ts) => {
                        p.products = products;
                        for t in &ts {
                            for l in t.keys.iter().chain(&t.queries) {
                                read(*l, true, &mut p, &mut work);
                            }
                        }
                        p.terms.insert(*sel, ts);
                    }
                }
            }
            Op::Select { .. } | Op::SelAnd(..) | Op::SelOr(..) | Op::SelNot(_) => {}
        }
    }
    for id in graph.ancestors(&[target]) {
        if matches!(graph.op(id), Op::Map { .. }) && !p.nodes.contains(&id) {
            p.fused_away.push(id);
        }
        if graph.hint(id) == Some(Hint::Categorical) && p.nodes.contains(&id) {
            p.need_cat.insert(id);
        }
    }
    // A linear map of categorical s-ops read as a category whose values
    // lie closer together than float32 steps resolve (two roundings of one
    // number, which the interpreter tells apart) is converted by a table
    // over the one-hots it is computed from (`mlps::table_conversion`).
    for id in p.nodes.clone() {
        if ctx.lin_cats.contains(&id) && p.need_cat.contains(&id) && has_twins(sets, id) {
            let mut leaves = Vec::new();
            cat_leaves(ctx, id, &mut leaves);
            leaves.sort();
            leaves.dedup();
            p.need_cat.extend(leaves.iter().copied());
            p.conv_tables.insert(id, leaves);
        }
    }
    // Value sets must be finite wherever a table or one-hot is needed.
    for id in &p.nodes {
        let finite = sets.get(id).and_then(ValueSet::values).is_some();
        let needs_table = p.need_cat.contains(id)
            || p.fused.values().any(|f| {
                matches!(f.mode, MapMode::Discretise | MapMode::Gated) && f.leaves.contains(id)
            });
        if !finite && needs_table && !matches!(graph.op(*id), Op::Const(_)) {
            let reason = match sets.get(id) {
                Some(ValueSet::Unbounded { reason }) => reason.clone(),
                _ => "unknown".into(),
            };
            let d = Diag::error(
                codes::COMPILE_VALUES,
                format!(
                    "`{}` is a mean with too many possible values ({reason}) to be used as a category",
                    graph.label(*id)
                ),
            )
            .help("use a smaller vocab or max length, or keep this mean out of selects and maps");
            return Err(match graph.node(*id).span {
                Some(s) => d.at(s),
                None => d,
            });
        }
    }
    partial_conversions(ctx, target, &mut p);
    table_defaults(ctx, &mut p);
    super::keygroups::assign(graph, sets, &mut p);
    schedule(graph, &mut p);
    Ok(p)
}

/// The most rows a table is evaluated over to find its usual value.
const DEFAULT_ROWS: usize = 1 << 20;

/// The usual value of each table that writes a one-hot (`Fused::default`),
/// where at least two tuples give it.
fn table_defaults(ctx: &Ctx, p: &mut Plan) {
    let max_len = ctx.domain.map_or(0, |d| d.max_len);
    let sizer = super::size::Sizer::new(ctx.graph, ctx.sets, p, max_len);
    let mut found = Vec::new();
    for (id, f) in &p.fused {
        if f.mode != MapMode::Table || !matches!(sizer.own(*id), super::size::Own::Cat(_)) {
            continue;
        }
        if ctx.table_size(&f.leaves) > DEFAULT_ROWS {
            continue;
        }
        let vals = sizer.values(*id);
        let leaves: Vec<&[Value]> = f.leaves.iter().map(|l| sizer.values(*l)).collect();
        if let (_, Some((j, c))) = usual_value(&f.expr, &leaves, vals)
            && c >= 2
        {
            found.push((*id, vals[j].clone()));
        }
    }
    for (id, v) in found {
        if let Some(f) = p.fused.get_mut(&id) {
            f.default = Some(v);
        }
    }
}

/// Whether two of a node's numbers lie closer together than a step over
/// them could tell apart even from an exactly computed input (the rounding
/// of the step's own arithmetic, `precision::unit_err`).
fn has_twins(sets: &BTreeMap<NodeId, ValueSet>, id: NodeId) -> bool {
    let Some(vals) = sets.get(&id).and_then(ValueSet::values) else {
        return false;
    };
    let mut xs: Vec<f64> = vals.iter().filter_map(Value::as_f64).collect();
    xs.sort_by(f64::total_cmp);
    xs.windows(2).any(|w| {
        w[0] != w[1]
            && super::precision::check_step(w[0], w[1], 0.0, w[0].abs().max(w[1].abs()), 4).is_err()
    })
}

/// The categorical s-ops a linear map is computed from, through the linear
/// maps it reads.
fn cat_leaves(ctx: &Ctx, id: NodeId, out: &mut Vec<NodeId>) {
    if let Op::Map { args, .. } = ctx.graph.op(id) {
        for a in args {
            if !ctx.is_numerical(*a) {
                out.push(*a);
            } else if matches!(ctx.graph.op(*a), Op::Map { .. }) {
                cat_leaves(ctx, *a, out);
            }
        }
    }
}

/// Whether the output, made by an embedding or an MLP (which can write one
/// number as well as a one-hot), is better written as one number and
/// decoded by its nearest reachable value: it has more values than
/// [`LINEAR_TABLE`] (a one-hot that wide costs more than it saves), all
/// numbers, no two of them equal (`1` and `1.0`: the nearest value must
/// say which it is), with gaps float32 resolves as a discretisation's steps
/// must (`precision::check_step` from an exactly computed input; the
/// verification then checks the model's own error).
fn decoded_by_nearest(ctx: &Ctx, target: NodeId) -> bool {
    if !matches!(
        ctx.graph.op(target),
        Op::Map { .. } | Op::Tokens(_) | Op::Indices
    ) {
        return false;
    }
    let Some(vals) = ctx.sets.get(&target).and_then(ValueSet::values) else {
        return false;
    };
    if vals.len() <= LINEAR_TABLE {
        return false;
    }
    let Some(mut xs) = vals
        .iter()
        .map(|v| v.as_f64().filter(|x| x.is_finite()))
        .collect::<Option<Vec<f64>>>()
    else {
        return false;
    };
    xs.sort_by(f64::total_cmp);
    let top = xs.iter().fold(1f64, |m, x| m.max(x.abs()));
    xs.windows(2)
        .all(|w| w[0] != w[1] && super::precision::check_step(w[0], w[1], 0.0, top, 4).is_ok())
}

/// Which numerical s-ops read as a category need only part of their
/// one-hot: those whose every categorical reader is one side of a select
/// conjunct (a single s-op, not a product one-hot). Tables, gated maps,
/// copying heads, value folds, products, numerical-equality keys, a
/// categorical hint and the output read all of it.
fn partial_conversions(ctx: &Ctx, target: NodeId, p: &mut Plan) {
    let graph = ctx.graph;
    let mut whole: BTreeSet<NodeId> = BTreeSet::from([target]);
    for id in &p.nodes {
        if graph.hint(*id) == Some(Hint::Categorical) {
            whole.insert(*id);
        }
        if let Some(f) = p.fused.get(id) {
            for (i, l) in f.leaves.iter().enumerate() {
                if f.reads_one_hot(i) {
                    whole.insert(*l);
                }
            }
        }
        if let Op::Aggregate { values, .. } = graph.op(*id) {
            match p.value_fold.get(id) {
                Some((leaf, _)) => {
                    whole.insert(*leaf);
                }
                None if !p.numerical.contains(id) => {
                    whole.insert(*values);
                }
                None => {}
            }
        }
    }
    for prod in &p.products {
        whole.extend(prod.leaves.iter().copied());
    }
    let terms: Vec<&Term> = p
        .terms
        .values()
        .flatten()
        .chain(p.width_parts.values().flatten().flat_map(|w| &w.terms))
        .collect();
    for t in &terms {
        whole.extend(t.keys.iter().chain(&t.queries).copied().filter(|_| t.numeq));
        if t.key_product.is_some() {
            whole.extend(t.keys.iter().copied());
        }
        if t.query_product.is_some() {
            whole.extend(t.queries.iter().copied());
        }
    }
    let mut useful: BTreeMap<NodeId, Vec<bool>> = BTreeMap::new();
    let mut unknown: BTreeSet<NodeId> = BTreeSet::new();
    for t in terms.iter().filter(|t| !t.numeq) {
        for key_side in [true, false] {
            let leaves = if key_side { &t.keys } else { &t.queries };
            let [leaf] = leaves.as_slice() else { continue };
            if whole.contains(leaf) || !p.numerical.contains(leaf) || !p.need_cat.contains(leaf) {
                continue;
            }
            match can_match(ctx, t, &p.sel_maps, key_side) {
                Some(m) => {
                    let u = useful.entry(*leaf).or_insert_with(|| vec![false; m.len()]);
                    for (a, b) in u.iter_mut().zip(m) {
                        *a |= b;
                    }
                }
                None => {
                    unknown.insert(*leaf);
                }
            }
        }
    }
    for (leaf, u) in useful {
        if unknown.contains(&leaf) || u.iter().all(|x| *x) {
            continue;
        }
        let Some(vals) = ctx.sets.get(&leaf).and_then(ValueSet::values) else {
            continue;
        };
        let kept = vals
            .iter()
            .zip(&u)
            .filter(|(_, k)| **k)
            .map(|(v, _)| v.clone())
            .collect();
        p.conv_values.insert(leaf, kept);
    }
}

/// When a selector's conjuncts can be read: their leaves, or the MLPs that
/// build their product one-hots (scheduled here, as early as possible).
fn terms_ready(
    p: &mut Plan,
    terms: &[Term],
    avail: &dyn Fn(&Plan, NodeId, bool) -> Sublayer,
) -> Sublayer {
    let mut ready = Sublayer::EMBED;
    for t in terms {
        for (leaves, product, cat) in [
            (&t.keys, t.key_product, true),
            (&t.queries, t.query_product, !t.numeq),
        ] {
            let leaves_ready = leaves
                .iter()
                .map(|l| avail(p, *l, cat))
                .max()
                .unwrap_or(Sublayer::EMBED);
            match product {
                Some(i) => {
                    if p.product_pos.len() < p.products.len() {
                        p.product_pos.resize(p.products.len(), Sublayer::EMBED);
                    }
                    if p.product_pos[i] == Sublayer::EMBED {
                        p.product_pos[i] = leaves_ready.next_mlp();
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
        let avail = |p: &Plan, n: NodeId, cat: bool| -> Sublayer {
            let base = p.pos.get(&n).copied().unwrap_or(Sublayer::EMBED);
            match p.conv_pos.get(&n) {
                Some(c) if cat => *c,
                _ => base,
            }
        };
        let pos = match graph.op(id) {
            Op::Tokens(_) | Op::Indices | Op::Const(_) => Sublayer::EMBED,
            Op::Length => Sublayer::mlp(0),
            Op::Map { .. } => {
                let f = &p.fused[&id];
                let ready = f
                    .leaves
                    .iter()
                    .enumerate()
                    .map(|(i, l)| avail(p, *l, f.reads_one_hot(i)))
                    .max()
                    .unwrap_or(Sublayer::EMBED);
                match f.mode {
                    MapMode::Linear => ready,
                    MapMode::Table | MapMode::Discretise | MapMode::Gated => ready.next_mlp(),
                }
            }
            Op::Aggregate { sel, values, .. } => {
                let mut ready = match p.value_fold.get(&id) {
                    Some((leaf, _)) => avail(p, *leaf, true),
                    None => avail(p, *values, !p.numerical.contains(&id)),
                };
                let ts = p.terms[sel].clone();
                ready = ready.max(terms_ready(p, &ts, &avail));
                ready.next_attn()
            }
            Op::SelectorWidth(sel) => {
                let ts: Vec<Term> = match p.width_parts.get(&id) {
                    Some(parts) => parts.iter().flat_map(|w| w.terms.clone()).collect(),
                    None => p.terms[sel].clone(),
                };
                terms_ready(p, &ts, &avail).next_attn().next_mlp()
            }
            _ => continue,
        };
        p.pos.insert(id, pos);
        // A numerical s-op read as a category gets a conversion MLP.
        if p.numerical.contains(&id) && p.need_cat.contains(&id) {
            p.conv_pos.insert(id, pos.next_mlp());
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
        .max();
    Sublayer::layers_through(last)
}
