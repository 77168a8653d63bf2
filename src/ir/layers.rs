//! Layer analysis: which transformer layer each s-op and selector of a
//! program belongs to, as the original's `draw` schedules them.
//!
//! - inputs (`tokens_*`, `indices`, constants) are layer 0;
//! - elementwise ops (`Op::Map`, the MLPs) are at the layer of their
//!   deepest input;
//! - a `select` is one layer deeper than its keys and queries;
//! - selector combinators (`and`, `or`, `not`) are at the layer of their
//!   deepest input: they are part of a head's selector, not heads;
//! - an aggregate is at `max(selector layer, values layer + 1)`;
//! - `selector_width(sel)` is an aggregate over `sel` (the original builds
//!   it from attention): layer `max(sel layer, 1)`;
//! - `length` is an aggregate over the full selector: layer 1.
//!
//! The heads of a layer are the distinct selectors its aggregates and
//! selector widths attend with (`length` attends with the full selector,
//! which is the same head as an aggregate over `select(1, 1, ==)`).

use super::{Graph, NodeId, Op};
use crate::syntax::ast::CmpOp;

/// The selector an attention head attends with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HeadSel {
    /// Every query sees every key (`length`, `select(1, 1, ==)`).
    Full,
    /// A selector node.
    Sel(NodeId),
}

/// The layers of everything a target depends on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerAnalysis {
    /// Every ancestor of the target (inclusive) with its layer, in
    /// topological order.
    pub layer: Vec<(NodeId, usize)>,
    /// The deepest layer (0 when the target only reads the input).
    pub n_layers: usize,
    /// Attention heads per layer; index 0 is layer 1.
    pub heads: Vec<usize>,
    /// Elementwise ops (MLPs) per layer; index 0 is layer 1. Elementwise
    /// ops of the inputs alone (layer 0) are not counted.
    pub mlps: Vec<usize>,
}

impl LayerAnalysis {
    /// The layer of a node, if it is an ancestor of the target.
    pub fn layer_of(&self, id: NodeId) -> Option<usize> {
        // `layer` is sorted by id (topological order is id order).
        self.layer
            .binary_search_by_key(&id, |(n, _)| *n)
            .ok()
            .map(|i| self.layer[i].1)
    }

    /// The heads of `layer` (1-based), in order of first use.
    pub fn heads_of(&self, g: &Graph, layer: usize) -> Vec<HeadSel> {
        let mut out: Vec<HeadSel> = Vec::new();
        for &(id, l) in &self.layer {
            if l != layer {
                continue;
            }
            if let Some(h) = head_selector(g, id)
                && !out.contains(&h)
            {
                out.push(h);
            }
        }
        out
    }
}

/// Whether a selector selects every key for every query whatever the input:
/// `select(c, c, ==)` (or `<=`, `>=`) on one constant, as the library's
/// `full_s = select(1, 1, ==)`.
pub fn is_full_selector(g: &Graph, id: NodeId) -> bool {
    match g.op(id) {
        Op::Select { keys, queries, cmp } => {
            keys == queries
                && matches!(g.op(*keys), Op::Const(_))
                && matches!(cmp, CmpOp::Eq | CmpOp::Le | CmpOp::Ge)
        }
        _ => false,
    }
}

/// The selector a node attends with, if the node is computed by attention
/// (an aggregate, a selector width, `length`).
pub fn head_selector(g: &Graph, id: NodeId) -> Option<HeadSel> {
    let sel = match g.op(id) {
        Op::Length => return Some(HeadSel::Full),
        Op::Aggregate { sel, .. } => *sel,
        Op::SelectorWidth(sel) => *sel,
        _ => return None,
    };
    Some(if is_full_selector(g, sel) {
        HeadSel::Full
    } else {
        HeadSel::Sel(sel)
    })
}

/// Schedule every ancestor of `target` into a layer.
pub fn analyse(g: &Graph, target: NodeId) -> LayerAnalysis {
    let order = g.ancestors(&[target]);
    // Layers indexed by node id; only ancestors are ever read, and inputs
    // come before their consumers in `order`.
    let mut depth = vec![0usize; g.len()];
    let d = |depth: &[usize], id: &NodeId| depth[id.index()];
    for &id in &order {
        let l = match g.op(id) {
            Op::Tokens(_) | Op::Indices | Op::Const(_) => 0,
            Op::Length => 1,
            Op::Map { args, .. } => args.iter().map(|a| d(&depth, a)).max().unwrap_or(0),
            Op::Select { keys, queries, .. } => d(&depth, keys).max(d(&depth, queries)) + 1,
            Op::SelAnd(a, b) | Op::SelOr(a, b) => d(&depth, a).max(d(&depth, b)),
            Op::SelNot(a) => d(&depth, a),
            Op::Aggregate { sel, values, .. } => d(&depth, sel).max(d(&depth, values) + 1),
            Op::SelectorWidth(sel) => d(&depth, sel).max(1),
        };
        depth[id.index()] = l;
    }
    let layer: Vec<(NodeId, usize)> = order.iter().map(|&id| (id, depth[id.index()])).collect();
    let n_layers = layer.iter().map(|(_, l)| *l).max().unwrap_or(0);
    let mut heads = vec![0usize; n_layers];
    let mut mlps = vec![0usize; n_layers];
    let mut seen: Vec<(usize, HeadSel)> = Vec::new();
    for &(id, l) in &layer {
        if l == 0 {
            continue;
        }
        if matches!(g.op(id), Op::Map { .. }) {
            mlps[l - 1] += 1;
        }
        if let Some(h) = head_selector(g, id)
            && !seen.contains(&(l, h))
        {
            seen.push((l, h));
            heads[l - 1] += 1;
        }
    }
    LayerAnalysis {
        layer,
        n_layers,
        heads,
        mlps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front::{MVal, Session, value::lookup};

    /// Run `src` and analyse the s-op or selector named `name`.
    fn analyse_named(src: &str, name: &str) -> (Session, NodeId, LayerAnalysis) {
        let mut s = Session::new();
        let scope = s.new_scope();
        let r = s.run_source("test", src, &scope, None);
        assert!(r.diags.is_empty(), "{:?}", r.diags);
        let id = match lookup(&scope, name) {
            Some(MVal::Sop(id) | MVal::Sel(id)) => id,
            other => panic!("{name} is not an s-op: {other:?}"),
        };
        let a = analyse(&s.graph, id);
        (s, id, a)
    }

    #[test]
    fn histogram_is_one_layer_one_head() {
        let (_, _, a) = analyse_named("hist = selector_width(select(tokens, tokens, ==));", "hist");
        assert_eq!(a.n_layers, 1);
        assert_eq!(a.heads, vec![1]);
        assert_eq!(a.mlps, vec![0]);
    }

    #[test]
    fn library_sort_is_two_layers() {
        let (s, id, a) = analyse_named("sorted = sort(tokens, tokens);", "sorted");
        assert_eq!(a.n_layers, 2);
        assert_eq!(a.heads, vec![1, 1]);
        assert_eq!(s.graph.depth(id), 2);
        // Every ancestor is listed once, in topological order.
        let ids: Vec<NodeId> = a.layer.iter().map(|(n, _)| *n).collect();
        assert_eq!(ids, s.graph.ancestors(&[id]));
        assert_eq!(a.layer_of(id), Some(2));
    }

    #[test]
    fn maps_add_no_layer() {
        let src = "x = tokens_int + 1; y = x * 2; z = y - indices; w = z % 3;";
        let (_, _, a) = analyse_named(src, "w");
        assert_eq!(a.n_layers, 0);
        assert!(a.heads.is_empty());
        let src2 = "h = selector_width(select(tokens, tokens, ==)); a = h + 1; b = a * a; c = b - indices;";
        let (_, _, a) = analyse_named(src2, "c");
        assert_eq!(a.n_layers, 1);
        assert_eq!(a.heads, vec![1]);
        assert_eq!(a.mlps, vec![3]);
    }

    #[test]
    fn aggregate_waits_for_its_values() {
        // The selector is ready at layer 1, but the values only after
        // layer 1: the aggregate is at layer 2.
        let src = "
            h = selector_width(select(tokens, tokens, ==));
            s = aggregate(select(indices, indices, <=), h);
        ";
        let (_, _, a) = analyse_named(src, "s");
        assert_eq!(a.n_layers, 2);
        assert_eq!(a.heads, vec![1, 1]);
    }

    #[test]
    fn length_and_full_selector_share_a_head() {
        let src = "m = aggregate(full_s, tokens_int) + length;";
        let (_, _, a) = analyse_named(src, "m");
        assert_eq!(a.n_layers, 1);
        assert_eq!(a.heads, vec![1]);
        let (s, id, a) = analyse_named("l = length + 0;", "l");
        assert_eq!(a.n_layers, 1);
        assert_eq!(a.heads, vec![1]);
        assert_eq!(a.heads_of(&s.graph, 1), vec![HeadSel::Full]);
        assert_eq!(a.heads_of(&s.graph, 2), vec![]);
        assert_eq!(a.layer_of(id), Some(1));
    }

    #[test]
    fn combinators_are_not_heads() {
        let src = "
            both = select(tokens, tokens, ==) and not select(indices, indices, ==);
            n = selector_width(both or select(indices, 0, ==));
        ";
        let (_, _, a) = analyse_named(src, "n");
        assert_eq!(a.n_layers, 1);
        assert_eq!(a.heads, vec![1]);
        let (_, _, a) = analyse_named(src, "both");
        assert_eq!(a.n_layers, 1);
        assert_eq!(a.heads, vec![0]);
    }

    #[test]
    fn two_aggregates_on_one_selector_are_one_head() {
        let src = "
            up = select(indices, indices, <=);
            x = aggregate(up, tokens_int) + aggregate(up, indices);
        ";
        let (_, _, a) = analyse_named(src, "x");
        assert_eq!(a.heads, vec![1]);
        assert_eq!(a.mlps, vec![1]);
    }
}
