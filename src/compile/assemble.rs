//! Assembly: the builder's sparse heads and units become the dense
//! TransformerLens tensors of a [`Model`], with `rasp.json`'s placements.

use std::collections::BTreeMap;

use ndarray::{Array1, Array2, Array3};

use super::builder::{Builder, Dims};
use super::sublayer::Sublayer;
use super::valueset::ValueSet;
use super::{Compiled, HeadMargin, Options, Source};
use crate::diag::{Diag, codes};
use crate::ir::value::{self, Value};
use crate::ir::{Graph, NodeId, Op};
use crate::model::{self, Attn, Block, Config, Encoding, Meta, Mlp, Model, Placement};

fn json(v: &Value) -> serde_json::Value {
    value::value_to_json(v).unwrap_or(serde_json::Value::Null)
}

/// The placement of a node's dims: categorical when it has a one-hot (or a
/// conversion to one), else numerical.
fn placement(
    b: &Builder,
    id: NodeId,
    d: &Dims,
    prefer_num: bool,
    cleared_in: Option<usize>,
) -> Option<Placement> {
    let pos = b.pos(id);
    let heads: Vec<usize> = b
        .heads
        .iter()
        .find_map(|hs| hs.iter().position(|(n, _)| *n == id))
        .map(|h| vec![h])
        .unwrap_or_default();
    let values: Vec<serde_json::Value> = b
        .sets
        .get(&id)
        .and_then(ValueSet::values)
        .map(|v| v.iter().map(json).collect())
        .unwrap_or_default();
    let base = Placement {
        name: b.name(id),
        encoding: Encoding::Categorical,
        dims: Vec::new(),
        values: Vec::new(),
        sublayer: pos.kind_name().to_string(),
        layer: pos.layer(),
        heads,
        coefs: Vec::new(),
        cleared_in,
    };
    let cat = d.cat.clone().or_else(|| b.conv.get(&id).cloned());
    match (&cat, &d.num) {
        (Some((dims, vals)), num) if !(prefer_num && num.is_some()) => Some(Placement {
            dims: dims.clone(),
            values: vals.iter().map(json).collect(),
            ..base
        }),
        (_, Some(lin)) if !lin.is_empty() => {
            let single = matches!(lin.as_slice(), [(_, w)] if *w == 1.0);
            Some(Placement {
                encoding: Encoding::Numerical,
                dims: lin.iter().map(|(d, _)| *d).collect(),
                coefs: if single {
                    Vec::new()
                } else {
                    lin.iter().map(|(_, w)| *w).collect()
                },
                values,
                ..base
            })
        }
        _ => None,
    }
}

/// A numerical output is decoded by its nearest reachable value, so each
/// pair of neighbouring values must be told apart from the output's number
/// as the model computes it, as a discretisation's step between them would
/// have to (the dim's float32 error bound within
/// `precision::decode_tolerance` of the gap);
/// two roundings of one number, or `1` and `1.0`, are one point (the
/// decoder keeps the type the attention wrote).
fn check_output_gaps(b: &Builder, target: NodeId) -> Result<(), Diag> {
    let mut xs: Vec<f64> = b.values(target).iter().filter_map(Value::as_f64).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup_by(|a, b| (*a - *b).abs() <= 1e-12 * a.abs().max(b.abs()));
    let x = b.num(target)?;
    for w in xs.windows(2) {
        let at = w[0].abs().max(w[1].abs());
        // The number's error and the unembedding's rounding of it.
        let err = b.lin_err(&x, at).0 + 2.0 * super::precision::U * at;
        let tolerance = super::precision::decode_tolerance(w[1] - w[0]);
        if err > tolerance {
            return Err(b.err_at(
                target,
                Diag::error(
                    codes::COMPILE_PRECISION,
                    format!(
                        "the output `{}` can be {} and {} ({:.3e} apart), but float32 may \
                         compute it up to {:.1e} off (telling them apart tolerates {:.1e}): \
                         the model's number could not be decoded to the right one",
                        b.name(target),
                        w[0],
                        w[1],
                        w[1] - w[0],
                        err,
                        tolerance,
                    ),
                )
                .help("a smaller max length or vocab spreads the values further apart"),
            ));
        }
    }
    Ok(())
}

pub fn assemble(
    b: Builder<'_>,
    graph: &Graph,
    target: NodeId,
    opts: &Options,
    source: &Source,
    cleared: &BTreeMap<NodeId, usize>,
) -> Result<Compiled, Diag> {
    let (w_e, w_pos) = b.embeddings()?;
    let d_model = b.labels.len();
    let n_heads = b.heads.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let d_head = b
        .heads
        .iter()
        .flatten()
        .map(|(_, h)| h.width)
        .max()
        .unwrap_or(1)
        .max(1);
    let d_mlp = b.mlps.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let scale = model::attn_scale(d_head);
    let mut blocks = Vec::with_capacity(b.heads.len());
    let mut layout = Vec::new();
    let mut head_margins = Vec::new();
    for (l, heads) in b.heads.iter().enumerate() {
        let mut attn = Attn {
            w_q: Array3::zeros((n_heads, d_model, d_head)),
            b_q: Array2::zeros((n_heads, d_head)),
            w_k: Array3::zeros((n_heads, d_model, d_head)),
            b_k: Array2::zeros((n_heads, d_head)),
            w_v: Array3::zeros((n_heads, d_model, d_head)),
            b_v: Array2::zeros((n_heads, d_head)),
            w_o: Array3::zeros((n_heads, d_head, d_model)),
            b_o: Array1::zeros(d_model),
        };
        for (h, (id, head)) in heads.iter().enumerate() {
            for (d, hd, w) in &head.q {
                attn.w_q[[h, *d, *hd]] += w * scale;
            }
            for (d, hd, w) in &head.k {
                attn.w_k[[h, *d, *hd]] += w;
            }
            for (d, hd, w) in &head.v {
                attn.w_v[[h, *d, *hd]] += w;
            }
            for (hd, d, w) in &head.o {
                attn.w_o[[h, *hd, *d]] += w;
            }
            head_margins.push(HeadMargin {
                layer: l,
                head: h,
                node: *id,
                margin: head.margin,
            });
        }
        let units = &b.mlps[l];
        let mut mlp = Mlp {
            w_in: Array2::zeros((d_model, d_mlp)),
            b_in: Array1::zeros(d_mlp),
            w_out: Array2::zeros((d_mlp, d_model)),
            b_out: Array1::zeros(d_model),
        };
        for (u, unit) in units.iter().enumerate() {
            for (d, w) in &unit.w_in {
                mlp.w_in[[*d, u]] += w;
            }
            mlp.b_in[u] = unit.b_in;
            for (d, w) in &unit.w_out {
                mlp.w_out[[u, *d]] += w;
            }
        }
        let mut parts = Vec::new();
        if !heads.is_empty() {
            parts.push(format!("A{}", heads.len()));
        }
        if !units.is_empty() {
            parts.push(format!("M{}", units.len()));
        }
        layout.push(parts.join(" "));
        blocks.push(Block { attn, mlp });
    }
    // Placements, in program order.
    let mut sops = Vec::new();
    let mut placements = BTreeMap::new();
    for id in &b.plan.nodes {
        if matches!(graph.op(*id), Op::Const(_)) {
            continue;
        }
        // A numerical s-op is placed by its number (its one-hot conversion
        // comes a sublayer later).
        let numerical = b.plan.numerical.contains(id);
        let Some(p) = placement(&b, *id, &b.dims[id], numerical, cleared.get(id).copied()) else {
            continue;
        };
        placements.insert(*id, sops.len());
        sops.push(p);
    }
    // The output: its number when the plan reads it as one.
    let prefer_num = graph.hint(target) != Some(crate::ir::Hint::Categorical)
        && (b.plan.need_num.contains(&target) && !b.plan.need_cat.contains(&target)
            || b.plan.numerical.contains(&target));
    let mut output = b
        .dims
        .get(&target)
        .and_then(|d| placement(&b, target, d, prefer_num, None))
        .ok_or_else(|| b.internal(target, "has no residual dims"))?;
    // A numerical output is decoded by the nearest of its values, or, where
    // they are too many or too close together, position by position.
    let mut output_grid = None;
    if output.encoding == Encoding::Numerical {
        let whole = if output.values.is_empty() {
            Err(b.err_at(
                target,
                Diag::error(
                    codes::COMPILE_VALUES,
                    format!(
                        "`{}` has too many possible values to decode exactly",
                        b.name(target)
                    ),
                )
                .help("use a smaller vocab or max length"),
            ))
        } else {
            check_output_gaps(&b, target)
        };
        if let Err(refusal) = whole {
            let grid = super::grid::output_grid(&b, target).ok_or(refusal)?;
            // The grid lists every value; the whole list would be long.
            output.values.clear();
            if let Some(&i) = placements.get(&target) {
                sops[i].values.clear();
            }
            output_grid = Some(grid);
        }
    }
    let (w_u, b_u) = model::unembedding(&output, d_model);
    let d_vocab_out = w_u.ncols();
    let n_vocab = opts.vocab.len();
    let config = Config {
        n_layers: blocks.len(),
        d_model,
        d_head,
        n_heads,
        d_mlp,
        n_ctx: opts.max_len + 1,
        d_vocab: n_vocab + 2,
        d_vocab_out,
        act_fn: "relu".into(),
        normalization_type: None,
        attention_dir: if opts.causal {
            "causal"
        } else {
            "bidirectional"
        }
        .into(),
        attn_only: false,
        use_attn_scale: true,
        attn_scale: scale as f64,
        positional_embedding_type: "standard".into(),
    };
    let meta = Meta {
        format: model::FORMAT.into(),
        format_version: model::FORMAT_VERSION,
        rasp_version: env!("CARGO_PKG_VERSION").into(),
        source: source.text.clone(),
        file: source.file.clone(),
        sop: source.sop.clone(),
        vocab: opts.vocab.iter().map(json).collect(),
        bos_id: n_vocab,
        pad_id: n_vocab + 1,
        max_len: opts.max_len,
        causal: opts.causal,
        residual: b.labels.clone(),
        output,
        output_grid,
        sops,
        layout,
        verified: None,
    };
    let model = Model {
        config,
        w_e,
        w_pos,
        blocks,
        w_u,
        b_u,
        meta,
    };
    let titles = b
        .plan
        .nodes
        .iter()
        .chain(&b.plan.fused_away)
        .map(|id| (*id, b.name(*id)))
        .collect();
    let positions: BTreeMap<NodeId, Sublayer> = b.plan.pos.clone();
    Ok(Compiled {
        model,
        graph: Graph::new(),
        target,
        sets: b.sets.clone(),
        plan: b.plan.clone(),
        placements,
        titles,
        positions,
        mlp_margins: b.margins,
        head_margins,
        verified: None,
        estimate: None,
    })
}
