//! `rasp explain`: the layout of a compiled model in words: its size and
//! where it comes from (largest costs first), where each s-op lives,
//! optionally the margins of every head and MLP, and for a causal model
//! the s-ops whose causal values differ from their bidirectional ones.

use std::fmt::Write;

use super::Compiled;
use super::valueset::ValueSet;
use super::verify::CausalDifference;
use crate::diag::SourceMap;
use crate::interp::display::input_repr;
use crate::ir::{Graph, Op};
use crate::model::{Encoding, Model};

/// Parameters of a model: (all, non-zero).
pub fn parameter_count(m: &Model) -> (usize, usize) {
    use ndarray::{ArrayBase, Data, Dimension};
    let mut all = 0usize;
    let mut nonzero = 0usize;
    // A contiguous tensor is counted as one slice (a loop the compiler
    // vectorises: a 100 M-parameter model in tens of milliseconds).
    fn count<S: Data<Elem = f32>, D: Dimension>(t: &ArrayBase<S, D>) -> (usize, usize) {
        let nz = match t.as_slice_memory_order() {
            Some(xs) => xs.iter().map(|x| usize::from(*x != 0.0)).sum(),
            None => t.iter().filter(|x| **x != 0.0).count(),
        };
        (t.len(), nz)
    }
    let mut add = |(n, nz): (usize, usize)| {
        all += n;
        nonzero += nz;
    };
    add(count(&m.w_e));
    add(count(&m.w_pos));
    for b in &m.blocks {
        let a = &b.attn;
        for t in [&a.w_q, &a.w_k, &a.w_v, &a.w_o] {
            add(count(t));
        }
        for t in [&a.b_q, &a.b_k, &a.b_v] {
            add(count(t));
        }
        add(count(&a.b_o));
        add(count(&b.mlp.w_in));
        add(count(&b.mlp.b_in));
        add(count(&b.mlp.w_out));
        add(count(&b.mlp.b_out));
    }
    add(count(&m.w_u));
    add(count(&m.b_u));
    (all, nonzero)
}

/// One line: `3 layer(s) [A1 M41 | A1], residual width 95, 1234 parameters (321 non-zero)`.
pub fn size_line(m: &Model) -> String {
    let (all, nonzero) = parameter_count(m);
    format!(
        "{} layer(s) [{}], residual width {}, {all} parameters ({nonzero} non-zero)",
        m.config.n_layers,
        m.meta.layout.join(" | "),
        m.config.d_model
    )
}

/// What to add to the explanation.
#[derive(Clone, Debug, Default)]
pub struct Extras {
    /// Per head and per MLP, the smallest margin.
    pub margins: bool,
    /// For a causal model: the s-ops whose causal values differ from their
    /// bidirectional ones (each with a witness) and how many inputs were
    /// checked.
    pub causal: Option<(Vec<CausalDifference>, usize)>,
}

/// The explanation text. `graph` and `sources` are the program's (where
/// a causal difference points).
pub fn explain(graph: &Graph, sources: &SourceMap, c: &Compiled, extras: &Extras) -> String {
    let compiled: &Graph = &c.graph;
    let m = &c.model;
    let meta = &m.meta;
    let (all, nonzero) = parameter_count(m);
    let mut s = String::new();
    let vocab: Vec<String> = meta.vocab.iter().map(|v| v.to_string()).collect();
    let _ = writeln!(
        s,
        "{} :: {}   vocab [{}]   max length {}   {}",
        meta.file,
        meta.sop,
        vocab.join(", "),
        meta.max_len,
        m.config.attention_dir
    );
    let _ = writeln!(
        s,
        "layers {}   residual width {}   parameters {all} ({nonzero} non-zero)   d_head {}  heads/layer {}  d_mlp {}",
        m.config.n_layers, m.config.d_model, m.config.d_head, m.config.n_heads, m.config.d_mlp
    );
    let _ = writeln!(s, "layout: {}", meta.layout.join(" | "));
    let _ = writeln!(
        s,
        "positions: a learned embedding of positions 0..={} (BOS and {} tokens): inputs longer than {} tokens cannot be run",
        meta.max_len, meta.max_len, meta.max_len
    );
    if let Some(g) = &meta.output_grid {
        let most = (0..meta.max_len).map(|i| g.count_at(i)).max().unwrap_or(0);
        let (how, one) = match g.by {
            crate::model::grid::GridKey::Position => ("position by position", "at one position"),
            crate::model::grid::GridKey::Length => {
                ("by the input's length", "in inputs of one length")
            }
        };
        let _ = writeln!(
            s,
            "decoding: {how} (rasp.json's output_grid): the output's values are too close together for float32 as a whole, but at most {most} occur {one}"
        );
    }
    if let Some(e) = &c.estimate {
        let _ = writeln!(s, "largest costs:");
        for cost in e.costs.iter().filter(|k| k.dims + k.units > 0).take(5) {
            let why = if cost.why.is_empty() {
                String::new()
            } else {
                format!("  ({})", cost.why)
            };
            let _ = writeln!(
                s,
                "  {:<30}  {:>5} dims  {:>6} MLP units{why}",
                cost.title(|n| c.title(n)),
                cost.dims,
                cost.units
            );
        }
    }
    let _ = writeln!(s, "s-ops:");
    let width = meta
        .sops
        .iter()
        .map(|p| p.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    for (id, idx) in &c.placements {
        let p = &meta.sops[*idx];
        let enc = match (p.encoding, p.coefs.is_empty()) {
            (Encoding::Categorical, _) => "categorical",
            (Encoding::Numerical, true) => "numerical",
            (Encoding::Numerical, false) => "linear",
        };
        let values = match c.sets.get(id) {
            Some(ValueSet::Finite(v)) => format!("{} values", v.len()),
            Some(ValueSet::Unbounded { .. }) => "unbounded".to_string(),
            None => "-".to_string(),
        };
        let place = match (p.sublayer.as_str(), p.layer) {
            ("embed", _) if !p.coefs.is_empty() => "no block (a sum of dims)".to_string(),
            ("embed", _) => "embedding".to_string(),
            (_, Some(l)) if !p.coefs.is_empty() => {
                format!("no block (a sum of dims, ready after layer {l})")
            }
            ("attn", Some(l)) => format!(
                "layer {l} attention, head {}",
                p.heads.first().copied().unwrap_or(0)
            ),
            (_, Some(l)) if matches!(compiled.op(*id), Op::SelectorWidth(_) | Op::Length) => {
                format!("layer {l} attention + MLP")
            }
            (_, Some(l)) => format!("layer {l} MLP"),
            _ => "-".to_string(),
        };
        let converted = match (c.plan.conv_pos.contains_key(id), c.plan.conv_values.get(id)) {
            (true, Some(kept)) => format!(
                " (+ one-hot conversion of the {} values a select can match, in the next MLP)",
                kept.len()
            ),
            (true, None) => " (+ one-hot conversion in the next MLP)".to_string(),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "  {:<width$}  {enc:<11}  {values:<11}  dims {:<4}  {place}{converted}",
            p.name,
            p.dims.len()
        );
    }
    if !c.plan.fused_away.is_empty() {
        let names: Vec<String> = c.plan.fused_away.iter().map(|id| c.title(*id)).collect();
        let _ = writeln!(
            s,
            "fused into other MLPs (no residual dims): {}",
            names.join(", ")
        );
    }
    if extras.margins {
        let _ = writeln!(
            s,
            "margins (attention: score of a selected key minus the best key that must lose, before the softmax; MLP: distance of a reachable input from a step):"
        );
        for h in &c.head_margins {
            let _ = writeln!(
                s,
                "  layer {} head {}  {:<30}  {}",
                h.layer,
                h.head,
                c.title(h.node),
                if h.margin.is_finite() {
                    format!("{:.3}", h.margin)
                } else {
                    "no selector (every key alike)".to_string()
                }
            );
        }
        for (node, g) in &c.mlp_margins {
            let layer = c
                .positions
                .get(node)
                .and_then(|p| p.layer())
                .map_or("-".to_string(), |l| l.to_string());
            let _ = writeln!(s, "  layer {layer} MLP     {:<30}  {g:.3e}", c.title(*node));
        }
    } else if let Some((node, g)) = c.mlp_margins.iter().min_by(|a, b| a.1.total_cmp(&b.1)) {
        let _ = writeln!(
            s,
            "smallest discretisation margin: {g:.3e} ({})",
            c.title(*node)
        );
    }
    if let Some((diffs, checked)) = &extras.causal {
        s.push_str(&causal_lines(graph, sources, diffs, *checked));
    }
    s
}

/// What a causal model changes, for `explain` and `compile`: the first
/// line says how many s-ops differ from their bidirectional values; one
/// line per such s-op with its witness.
pub fn causal_lines(
    graph: &Graph,
    sources: &SourceMap,
    diffs: &[CausalDifference],
    checked: usize,
) -> String {
    let mut s = String::new();
    if diffs.is_empty() {
        let _ = writeln!(
            s,
            "causal: every s-op has its bidirectional value on all {checked} checked inputs"
        );
        return s;
    }
    let _ = writeln!(
        s,
        "causal: {} s-op(s) differ from their bidirectional values (each selector sees the keys at or before its query, `length` is the prefix length; {checked} inputs checked):",
        diffs.len()
    );
    for d in diffs {
        let node = graph.node(d.node);
        let at = node
            .span
            .and_then(|sp| {
                let file = sources.get(sp.file)?;
                let (line, col) = sources.line_col(sp)?;
                Some(format!(" ({}:{line}:{col})", file.name))
            })
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  `{}`{at}: on {}, position {}: causal {}, bidirectional {}",
            crate::interp::node_title(graph, sources, d.node),
            input_repr(&d.input),
            d.position,
            d.causal.repr(),
            d.bidirectional.repr()
        );
    }
    s
}
