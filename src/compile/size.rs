//! The size of a model, estimated from its plan before anything is built,
//! and what it comes from: residual dims and MLP units per s-op.

use std::collections::BTreeMap;

use super::Options;
use super::plan::{Ctx, MapMode, Plan};
use super::sublayer::Sublayer;
use super::valueset::ValueSet;
use crate::diag::{Diag, SourceMap, codes};
use crate::interp;
use crate::ir::{Graph, NodeId, Op};

/// What one s-op (or product one-hot) costs.
#[derive(Clone, Debug)]
pub struct Cost {
    /// The s-op (a product one-hot names its first leaf).
    pub node: NodeId,
    pub dims: usize,
    pub units: usize,
    /// Why, in words (`a table over 21 x 20 values`).
    pub why: String,
    /// The leaves of a product one-hot (which is no s-op of its own).
    pub product_of: Vec<NodeId>,
}

impl Cost {
    /// What the cost is of: the s-op, or `(a, b)` for a product one-hot.
    pub fn title(&self, title: impl Fn(NodeId) -> String) -> String {
        if self.product_of.is_empty() {
            title(self.node)
        } else {
            let names: Vec<String> = self.product_of.iter().map(|n| title(*n)).collect();
            format!("({})", names.join(", "))
        }
    }
}

#[derive(Clone, Debug)]
pub struct Estimate {
    pub n_layers: usize,
    pub d_model: usize,
    pub d_mlp: usize,
    pub n_heads: usize,
    pub d_head: usize,
    pub params: u64,
    /// Most expensive first.
    pub costs: Vec<Cost>,
}

/// How many steps a discretisation of `f` over `leaf` builds: one where
/// the output changes between neighbouring values (sorted, equal numbers
/// merged, the first kept, as `mlps` does); a value `f` fails on counts as
/// a change.
fn output_changes(ctx: &Ctx, f: &super::plan::Fused, leaf: NodeId) -> usize {
    let Some(vals) = ctx.sets.get(&leaf).and_then(ValueSet::values) else {
        return len(ctx, leaf);
    };
    let mut points: Vec<(f64, Option<crate::ir::Value>)> = vals
        .iter()
        .filter_map(|v| v.as_f64().map(|x| (x, f.expr.eval(&[v]).ok())))
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    points.dedup_by(|b, a| a.0 == b.0);
    points
        .windows(2)
        .filter(|w| match (&w[0].1, &w[1].1) {
            (Some(a), Some(b)) => !a.same(b),
            _ => true,
        })
        .count()
}

fn len(ctx: &Ctx, id: NodeId) -> usize {
    ctx.sets.get(&id).and_then(ValueSet::len).unwrap_or(1)
}

/// Estimate the model `plan` would give (an upper bound on the dims and
/// units the builder allocates).
pub fn estimate(ctx: &Ctx, plan: &Plan, opts: &Options) -> Estimate {
    let n = opts.max_len;
    let mut costs: Vec<Cost> = Vec::new();
    let mut units_at: BTreeMap<Sublayer, usize> = BTreeMap::new();
    let mut heads_at: BTreeMap<Sublayer, usize> = BTreeMap::new();
    let mut d_head = 1usize;
    for &id in &plan.nodes {
        let op = ctx.graph.op(id);
        let values = len(ctx, id);
        let mut dims = 0usize;
        let mut units = 0usize;
        let mut why = Vec::new();
        let need_cat = plan.need_cat.contains(&id);
        let need_num = plan.need_num.contains(&id);
        let linear = plan
            .fused
            .get(&id)
            .is_some_and(|f| f.mode == MapMode::Linear);
        if matches!(op, Op::Const(_)) || (linear && !plan.conv_pos.contains_key(&id)) {
            continue;
        }
        if linear {
            // No dims of its own; only its conversion (below).
        } else if plan.numerical.contains(&id) {
            dims += 1;
        } else if need_cat || matches!(op, Op::Aggregate { .. }) || !need_num {
            dims += values;
            why.push(format!("a one-hot of {values} values"));
        } else {
            dims += 1;
        }
        if let Some(c) = plan.conv_pos.get(&id) {
            dims += values;
            units += 2 * values;
            *units_at.entry(*c).or_default() += 2 * values;
            why.push(format!("a conversion to a one-hot of {values} values"));
        }
        let pos = plan.pos.get(&id).copied().unwrap_or(Sublayer::EMBED);
        match op {
            Op::Map { .. } => {
                let f = &plan.fused[&id];
                let u = match f.mode {
                    MapMode::Table => {
                        let sizes: Vec<String> =
                            f.leaves.iter().map(|l| len(ctx, *l).to_string()).collect();
                        if f.leaves.len() > 1 {
                            why.push(format!("a table over {} values", sizes.join(" x ")));
                        }
                        f.leaves
                            .iter()
                            .map(|l| len(ctx, *l))
                            .try_fold(1usize, |a, b| a.checked_mul(b))
                            .unwrap_or(usize::MAX)
                    }
                    MapMode::Discretise => 2 * output_changes(ctx, f, f.leaves[0]) + 1,
                    MapMode::Gated => f.units.unwrap_or(usize::MAX),
                    MapMode::Linear => 0,
                };
                units = units.saturating_add(u);
                *units_at.entry(pos).or_default() += u;
            }
            Op::SelectorWidth(_) | Op::Length => {
                let parts = plan.width_parts.get(&id).map_or(1, Vec::len);
                dims += parts;
                units += parts * (2 * n + 3);
                *units_at.entry(pos).or_default() += parts * (2 * n + 3);
                if let Some(a) = pos.attn_of_layer() {
                    *heads_at.entry(a).or_default() += parts;
                }
                if parts > 1 {
                    why.push(format!("{parts} heads by inclusion-exclusion"));
                }
            }
            Op::Aggregate { sel, .. } => {
                *heads_at.entry(pos).or_default() += 1;
                let mut width = values + 1;
                for t in plan.terms.get(sel).into_iter().flatten() {
                    width += match t.key_product {
                        Some(i) => plan.products[i]
                            .leaves
                            .iter()
                            .map(|l| len(ctx, *l))
                            .product::<usize>(),
                        None => len(ctx, t.keys[0]),
                    };
                }
                d_head = d_head.max(width);
            }
            _ => {}
        }
        if let Op::SelectorWidth(sel) = op {
            let parts: Vec<&[super::plan::Term]> = match plan.width_parts.get(&id) {
                Some(ps) => ps.iter().map(|w| w.terms.as_slice()).collect(),
                None => plan.terms.get(sel).map(Vec::as_slice).into_iter().collect(),
            };
            for terms in parts {
                let width = 2 + terms.iter().map(|t| len(ctx, t.keys[0])).sum::<usize>();
                d_head = d_head.max(width);
            }
        }
        costs.push(Cost {
            node: id,
            dims,
            units,
            why: why.join(", "),
            product_of: Vec::new(),
        });
    }
    for (i, p) in plan.products.iter().enumerate() {
        let size = p
            .leaves
            .iter()
            .map(|l| len(ctx, *l))
            .try_fold(1usize, |a, b| a.checked_mul(b))
            .unwrap_or(usize::MAX);
        if let Some(pos) = plan.product_pos.get(i) {
            *units_at.entry(*pos).or_default() += size;
        }
        let sizes: Vec<String> = p.leaves.iter().map(|l| len(ctx, *l).to_string()).collect();
        costs.push(Cost {
            node: p.leaves[0],
            dims: size,
            units: size,
            why: format!(
                "a joint one-hot of {} values for a selector's `or`/`not`",
                sizes.join(" x ")
            ),
            product_of: p.leaves.clone(),
        });
    }
    let d_model = 2 + costs.iter().map(|c| c.dims).sum::<usize>();
    let d_mlp = units_at.values().copied().max().unwrap_or(1).max(1);
    let n_heads = heads_at.values().copied().max().unwrap_or(1).max(1);
    let n_layers = super::plan::n_layers(plan).max(1);
    let (l, dm, dh, h, mlp) = (
        n_layers as u64,
        d_model as u64,
        d_head as u64,
        n_heads as u64,
        d_mlp as u64,
    );
    let vocab = opts.vocab.len() as u64 + 2;
    let per_layer = 4 * h * dm * dh + 3 * h * dh + dm + 2 * dm * mlp + mlp + dm;
    let params = (vocab + n as u64 + 1) * dm + l * per_layer + 3 * dm;
    costs.sort_by(|a, b| {
        (b.dims as u64 * dm + b.units as u64 * 2 * dm)
            .cmp(&(a.dims as u64 * dm + a.units as u64 * 2 * dm))
    });
    Estimate {
        n_layers,
        d_model,
        d_mlp,
        n_heads,
        d_head,
        params,
        costs,
    }
}

/// The diagnostic for a model over the parameter limit: its size and the
/// operations that cost most.
pub fn too_big(graph: &Graph, sources: &SourceMap, e: &Estimate, limit: u64) -> Diag {
    let mut lines = Vec::new();
    for c in e.costs.iter().take(3) {
        let mut what = format!(
            "`{}`: {} residual dims, {} MLP units",
            c.title(|n| interp::node_title(graph, sources, n)),
            c.dims,
            c.units
        );
        if !c.why.is_empty() {
            what.push_str(&format!(" ({})", c.why));
        }
        lines.push(what);
    }
    let mut d = Diag::error(
        codes::COMPILE_SIZE,
        format!(
            "the model would have about {} parameters ({} layer{}, residual width {}, MLP width {}), \
             over the limit of {limit}; the largest costs: {}",
            e.params,
            e.n_layers,
            if e.n_layers == 1 { "" } else { "s" },
            e.d_model,
            e.d_mlp,
            lines.join("; ")
        ),
    )
    .help("use a smaller vocab or max length, or raise the limit with --max-params");
    if let Some(c) = e.costs.first()
        && let Some(span) = graph.node(c.node).span
    {
        d = d.at(span).label("the largest cost").with_sources(sources);
    }
    d
}
