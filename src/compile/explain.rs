//! `rasp explain`: the layout of a compiled model in words.

use std::fmt::Write;

use super::Compiled;
use super::valueset::ValueSet;
use crate::ir::Graph;
use crate::model::{Encoding, Model};

/// Parameters of a model: (all, non-zero).
pub fn parameter_count(m: &Model) -> (usize, usize) {
    let mut all = 0usize;
    let mut nonzero = 0usize;
    let mut add = |xs: &mut dyn Iterator<Item = &f32>| {
        for x in xs {
            all += 1;
            if *x != 0.0 {
                nonzero += 1;
            }
        }
    };
    add(&mut m.w_e.iter());
    add(&mut m.w_pos.iter());
    for b in &m.blocks {
        let a = &b.attn;
        for t in [&a.w_q, &a.w_k, &a.w_v, &a.w_o] {
            add(&mut t.iter());
        }
        for t in [&a.b_q, &a.b_k, &a.b_v] {
            add(&mut t.iter());
        }
        add(&mut a.b_o.iter());
        add(&mut b.mlp.w_in.iter());
        add(&mut b.mlp.b_in.iter());
        add(&mut b.mlp.w_out.iter());
        add(&mut b.mlp.b_out.iter());
    }
    add(&mut m.w_u.iter());
    add(&mut m.b_u.iter());
    (all, nonzero)
}

/// The explanation text.
pub fn explain(sources: &crate::diag::SourceMap, c: &Compiled) -> String {
    let graph: &Graph = &c.graph;
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
        let enc = match p.encoding {
            Encoding::Categorical => "categorical",
            Encoding::Numerical => "numerical",
        };
        let values = match c.sets.get(id) {
            Some(ValueSet::Finite(v)) => format!("{} values", v.len()),
            Some(ValueSet::Unbounded { .. }) => "unbounded".to_string(),
            None => "-".to_string(),
        };
        let place = match (p.sublayer.as_str(), p.layer) {
            ("embed", _) => "embedding".to_string(),
            ("attn", Some(l)) => format!(
                "layer {l} attention, head {}",
                p.heads.first().copied().unwrap_or(0)
            ),
            (_, Some(l))
                if matches!(
                    graph.op(*id),
                    crate::ir::Op::SelectorWidth(_) | crate::ir::Op::Length
                ) =>
            {
                format!("layer {l} attention + MLP")
            }
            (_, Some(l)) => format!("layer {l} MLP"),
            _ => "-".to_string(),
        };
        let converted = if c.plan.conv_pos.contains_key(id) {
            " (+ one-hot conversion in the next MLP)"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "  {:<width$}  {enc:<11}  {values:<11}  dims {:<4}  {place}{converted}",
            p.name,
            p.dims.len()
        );
    }
    if !c.plan.fused_away.is_empty() {
        let names: Vec<String> = c
            .plan
            .fused_away
            .iter()
            .map(|id| crate::interp::node_title(graph, sources, *id))
            .collect();
        let _ = writeln!(
            s,
            "fused into other MLPs (no residual dims): {}",
            names.join(", ")
        );
    }
    if !c.margins.is_empty() {
        let worst = c
            .margins
            .iter()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(n, g)| format!("{g:.3e} ({n})"))
            .unwrap_or_default();
        let _ = writeln!(s, "smallest discretisation margin: {worst}");
    }
    s
}
