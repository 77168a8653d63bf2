//! What every executor runs: a model's weights with the parts that are
//! exactly zero dropped, made once per model from [`Weights`].
//!
//! Compiled weights are very sparse: a head reads a few residual dims and
//! writes a few, an MLP likewise, and layers that the schedule skipped are
//! all zero. [`Plan::new`] finds which heads, hidden units, residual rows
//! and residual columns can carry anything non-zero and keeps only those,
//! as small dense matrices plus the residual dims they read and write.
//! Dropping a term that is exactly zero leaves every result the same up to
//! float summation order. The CPU executor multiplies these matrices (as
//! they are or in compressed rows); the GPU executor uploads them.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayView3, Axis, s};
use rayon::prelude::*;

use super::weights::{AttnView, MlpView, Weights};

/// A set of residual dims: all of them, or some (in increasing order).
#[derive(Clone, Debug, PartialEq)]
pub enum Dims {
    All,
    Some(Vec<usize>),
}

impl Dims {
    /// The dims whose flag is set, as `All` when every one is.
    fn from_flags(flags: &[bool]) -> Dims {
        if flags.iter().all(|&f| f) {
            Dims::All
        } else {
            Dims::Some((0..flags.len()).filter(|&i| flags[i]).collect())
        }
    }

    /// How many dims, out of `d_model`.
    pub fn len(&self, d_model: usize) -> usize {
        match self {
            Dims::All => d_model,
            Dims::Some(idx) => idx.len(),
        }
    }

    /// The dims as a list, out of `d_model`.
    pub fn list(&self, d_model: usize) -> Vec<usize> {
        match self {
            Dims::All => (0..d_model).collect(),
            Dims::Some(idx) => idx.clone(),
        }
    }

    fn some(&self) -> Option<&[usize]> {
        match self {
            Dims::All => None,
            Dims::Some(idx) => Some(idx),
        }
    }
}

/// A model's weights, zeros dropped.
#[derive(Clone, Debug)]
pub struct Plan {
    pub d_model: usize,
    /// `[d_vocab, d_model]`, `[n_ctx, d_model]`.
    pub w_e: Array2<f32>,
    pub w_pos: Array2<f32>,
    pub layers: Vec<LayerPlan>,
    /// Residual dims the unembedding reads, and its rows for them
    /// (`[|input|, d_vocab_out]`).
    pub unembed_input: Dims,
    pub w_u: Array2<f32>,
    pub b_u: Array1<f32>,
}

#[derive(Clone, Debug)]
pub struct LayerPlan {
    /// None: the sublayer adds nothing.
    pub attn: Option<AttnPlan>,
    pub mlp: Option<MlpPlan>,
}

#[derive(Clone, Debug)]
pub struct AttnPlan {
    /// The heads kept, in order; a head is dropped when its output
    /// (`V · W_O`) is exactly zero, unless it was asked to be kept.
    pub heads: Vec<HeadSlot>,
    /// Width of a `qkv` row and of a `z` row.
    pub qkv_width: usize,
    pub z_width: usize,
    /// The Q/K/V projections into `qkv`; their column ranges partition
    /// `0..qkv_width`.
    pub groups: Vec<QkvGroup>,
    /// `[qkv_width]`.
    pub b_qkv: Array1<f32>,
    /// Residual dims the sublayer writes (`W_O` or `b_O`).
    pub output: Dims,
    /// `[z_width, |output|]`.
    pub w_o: Array2<f32>,
    pub b_o: Option<Array1<f32>>,
}

/// Where one kept head lives in a `qkv` row (`[Q | K | V]`, Q and K over
/// the head dims both can be non-zero in, V over the dims that reach
/// `W_O`) and in a `z` row.
#[derive(Clone, Debug)]
pub struct HeadSlot {
    /// The head's index in the layer.
    pub head: usize,
    pub q: usize,
    pub k: usize,
    pub v: usize,
    pub d_qk: usize,
    pub d_v: usize,
    pub z: usize,
}

/// Consecutive kept heads projected by one matrix product: all heads at
/// once, or one head at a time when they read different residual dims.
#[derive(Clone, Debug)]
pub struct QkvGroup {
    /// Residual dims these heads read.
    pub input: Dims,
    /// `[|input|, cols.len()]`.
    pub w: Array2<f32>,
    /// Where the result goes in `qkv`'s columns.
    pub cols: std::ops::Range<usize>,
}

#[derive(Clone, Debug)]
pub struct MlpPlan {
    /// Hidden units kept (those whose `W_out` row is not zero).
    pub units: usize,
    /// Residual dims any kept unit reads.
    pub input: Dims,
    /// `[|input|, units]`.
    pub w_in: Array2<f32>,
    pub b_in: Array1<f32>,
    /// Residual dims the sublayer writes (`W_out` or `b_out`).
    pub output: Dims,
    /// `[units, |output|]`.
    pub w_out: Array2<f32>,
    pub b_out: Option<Array1<f32>>,
}

impl Plan {
    /// The plan of these weights. The heads in `keep` (`(layer, head)`)
    /// stay even when their output is zero, so that their attention
    /// patterns can be asked for.
    pub fn new(w: &Weights<'_>, keep: &[(usize, usize)]) -> Plan {
        let c = w.config;
        let d_model = c.d_model;
        let layers = w
            .blocks
            .par_iter()
            .enumerate()
            .map(|(l, (a, m))| {
                let keep: Vec<usize> = keep
                    .iter()
                    .filter(|(kl, _)| *kl == l)
                    .map(|(_, h)| *h)
                    .collect();
                LayerPlan {
                    attn: AttnPlan::new(d_model, a, &keep),
                    mlp: if c.attn_only {
                        None
                    } else {
                        MlpPlan::new(d_model, m)
                    },
                }
            })
            .collect();
        let reads: Vec<bool> = w.w_u.rows().into_iter().map(any_nonzero).collect();
        let unembed_input = Dims::from_flags(&reads);
        let w_u = stack_rows(
            unembed_input
                .list(d_model)
                .into_iter()
                .map(|r| w.w_u.row(r)),
            None,
            w.w_u.ncols(),
        );
        Plan {
            d_model,
            w_e: w.w_e.to_owned(),
            w_pos: w.w_pos.to_owned(),
            layers,
            unembed_input,
            w_u,
            b_u: w.b_u.to_owned(),
        }
    }

    /// The widest `qkv`, `z` and hidden rows of any layer, and the most
    /// heads a layer keeps.
    pub fn widest(&self) -> (usize, usize, usize, usize) {
        let mut out = (0, 0, 0, 0);
        for l in &self.layers {
            if let Some(a) = &l.attn {
                out.0 = out.0.max(a.qkv_width);
                out.1 = out.1.max(a.z_width);
                out.3 = out.3.max(a.heads.len());
            }
            if let Some(m) = &l.mlp {
                out.2 = out.2.max(m.units);
            }
        }
        out
    }

    /// Where head `head` of layer `layer` is in the plan: its index among
    /// the layer's kept heads.
    pub fn slot(&self, layer: usize, head: usize) -> Option<usize> {
        let a = self.layers.get(layer)?.attn.as_ref()?;
        a.heads.iter().position(|h| h.head == head)
    }
}

/// Whether any entry is non-zero (-0.0 counts as zero).
pub(crate) fn any_nonzero(v: ArrayView1<'_, f32>) -> bool {
    match v.as_slice() {
        // Branch-free over chunks, so it vectorises.
        Some(s) => s
            .chunks(64)
            .any(|c| c.iter().fold(0u32, |a, x| a | (x.to_bits() << 1)) != 0),
        None => v.iter().any(|&x| x != 0.0),
    }
}

/// Per column of `w`: OR the flags with whether it has a non-zero entry.
fn mark_cols(w: ArrayView2<'_, f32>, flags: &mut [u32]) {
    for row in w.rows() {
        // Dense weights settle every flag on the first rows.
        if flags.iter().all(|&f| f != 0) {
            return;
        }
        match row.as_slice() {
            Some(s) => {
                for (f, x) in flags.iter_mut().zip(s) {
                    *f |= x.to_bits() << 1;
                }
            }
            None => {
                for (f, x) in flags.iter_mut().zip(row.iter()) {
                    *f |= x.to_bits() << 1;
                }
            }
        }
    }
}

/// The output dims of a sublayer: columns its weights write, plus those
/// its bias touches; and the bias restricted to them (none if all zero).
fn outputs(mut cols: Vec<u32>, bias: ArrayView1<'_, f32>) -> (Dims, Option<Array1<f32>>) {
    for (f, b) in cols.iter_mut().zip(bias) {
        *f |= b.to_bits() << 1;
    }
    let flags: Vec<bool> = cols.iter().map(|&f| f != 0).collect();
    let dims = Dims::from_flags(&flags);
    let bias = any_nonzero(bias).then(|| match &dims {
        Dims::All => bias.to_owned(),
        Dims::Some(idx) => idx.iter().map(|&d| bias[d]).collect(),
    });
    (dims, bias)
}

/// A matrix made of these source rows, each restricted to `cols` (all
/// columns when `None`).
fn stack_rows<'a>(
    rows: impl ExactSizeIterator<Item = ArrayView1<'a, f32>>,
    cols: Option<&[usize]>,
    ncols: usize,
) -> Array2<f32> {
    let n = cols.map_or(ncols, <[usize]>::len);
    let mut out = Array2::zeros((rows.len(), n));
    for (mut dst, src) in out.rows_mut().into_iter().zip(rows) {
        match cols {
            None => dst.assign(&src),
            Some(cols) => {
                for (d, &c) in dst.iter_mut().zip(cols) {
                    *d = src[c];
                }
            }
        }
    }
    out
}

/// Per column of one head's `[d_model, d_head]` weight: whether the
/// column or the bias entry is non-zero.
fn live_cols(w: ArrayView2<'_, f32>, b: ArrayView1<'_, f32>) -> Vec<bool> {
    let mut flags = vec![0u32; w.ncols()];
    mark_cols(w, &mut flags);
    flags
        .iter()
        .zip(b)
        .map(|(&f, x)| f != 0 || *x != 0.0)
        .collect()
}

/// One head's slice of a per-head weight.
fn head_of<'a>(w: &ArrayView3<'a, f32>, h: usize) -> ArrayView2<'a, f32> {
    (*w).index_axis_move(Axis(0), h)
}

/// One kept head's live columns and the residual rows it reads.
struct HeadCols {
    h: usize,
    qk: Vec<usize>,
    v: Vec<usize>,
    reads: Vec<bool>,
}

impl AttnPlan {
    fn new(d_model: usize, a: &AttnView<'_>, keep: &[usize]) -> Option<AttnPlan> {
        let mut writes = vec![0u32; d_model];
        let mut heads: Vec<HeadCols> = Vec::new();
        for h in 0..a.w_o.shape()[0] {
            let (wq, wk, wv, wo) = (
                head_of(&a.w_q, h),
                head_of(&a.w_k, h),
                head_of(&a.w_v, h),
                head_of(&a.w_o, h),
            );
            let q_live = live_cols(wq, a.b_q.row(h));
            let k_live = live_cols(wk, a.b_k.row(h));
            let v_live = live_cols(wv, a.b_v.row(h));
            let o_live: Vec<bool> = wo.rows().into_iter().map(any_nonzero).collect();
            // q_j k_j is zero unless both can be non-zero; v_j reaches the
            // output only through a non-zero row of W_O.
            let qk: Vec<usize> = (0..q_live.len())
                .filter(|&j| q_live[j] && k_live[j])
                .collect();
            let v: Vec<usize> = (0..v_live.len())
                .filter(|&j| v_live[j] && o_live[j])
                .collect();
            if v.is_empty() && !keep.contains(&h) {
                continue;
            }
            for &j in &v {
                mark_cols(wo.slice(s![j..j + 1, ..]), &mut writes);
            }
            let mut reads = vec![false; d_model];
            for (w, cols) in [(wq, &qk), (wk, &qk), (wv, &v)] {
                for (f, row) in reads.iter_mut().zip(w.rows()) {
                    *f = *f || cols.iter().any(|&j| row[j] != 0.0);
                }
            }
            heads.push(HeadCols { h, qk, v, reads });
        }
        let (output, b_o) = outputs(writes, a.b_o);
        if heads.is_empty() && b_o.is_none() {
            return None;
        }

        // Lay the heads out in qkv and z.
        let mut slots = Vec::with_capacity(heads.len());
        let (mut at, mut z) = (0, 0);
        for hc in &heads {
            let (d_qk, d_v) = (hc.qk.len(), hc.v.len());
            slots.push(HeadSlot {
                head: hc.h,
                q: at,
                k: at + d_qk,
                v: at + 2 * d_qk,
                d_qk,
                d_v,
                z,
            });
            at += 2 * d_qk + d_v;
            z += d_v;
        }
        let (qkv_width, z_width) = (at, z);

        // The projection weights and biases, column by column: (part, head,
        // head column).
        let mut b_qkv = Array1::zeros(qkv_width);
        let mut columns: Vec<(usize, usize, usize)> = Vec::with_capacity(qkv_width);
        for (hc, slot) in heads.iter().zip(&slots) {
            let parts = [(0, slot.q, &hc.qk), (1, slot.k, &hc.qk), (2, slot.v, &hc.v)];
            for (part, start, cols) in parts {
                let b = [&a.b_q, &a.b_k, &a.b_v][part];
                for (i, &j) in cols.iter().enumerate() {
                    b_qkv[start + i] = b[[hc.h, j]];
                    columns.push((part, hc.h, j));
                }
            }
        }
        let weights = [&a.w_q, &a.w_k, &a.w_v];
        let group = |input: Dims, cols: std::ops::Range<usize>| {
            let rows = input.list(d_model);
            let mut w = Array2::zeros((rows.len(), cols.len()));
            for (mut dst, &r) in w.rows_mut().into_iter().zip(&rows) {
                for (x, &(part, h, j)) in dst.iter_mut().zip(&columns[cols.clone()]) {
                    *x = weights[part][[h, r, j]];
                }
            }
            QkvGroup { input, w, cols }
        };
        // One product over the union of what the heads read, unless the
        // heads read mostly different dims.
        let count = |f: &[bool]| f.iter().filter(|&&x| x).count();
        let union: Vec<bool> = (0..d_model)
            .map(|d| heads.iter().any(|hc| hc.reads[d]))
            .collect();
        let fused_cost = count(&union) * qkv_width;
        let split_cost: usize = heads
            .iter()
            .zip(&slots)
            .map(|(hc, sl)| count(&hc.reads) * (2 * sl.d_qk + sl.d_v))
            .sum();
        let groups = if heads.len() > 1 && 4 * split_cost < 3 * fused_cost {
            heads
                .iter()
                .zip(&slots)
                .map(|(hc, sl)| group(Dims::from_flags(&hc.reads), sl.q..sl.v + sl.d_v))
                .collect()
        } else if heads.is_empty() {
            Vec::new()
        } else {
            vec![group(Dims::from_flags(&union), 0..qkv_width)]
        };

        let z_rows: Vec<(usize, usize)> = heads
            .iter()
            .flat_map(|hc| hc.v.iter().map(move |&j| (hc.h, j)))
            .collect();
        let w_o = stack_rows(
            z_rows.iter().map(|&(h, j)| a.w_o.slice(s![h, j, ..])),
            output.some(),
            d_model,
        );
        Some(AttnPlan {
            heads: slots,
            qkv_width,
            z_width,
            groups,
            b_qkv,
            output,
            w_o,
            b_o,
        })
    }
}

impl MlpPlan {
    fn new(d_model: usize, m: &MlpView<'_>) -> Option<MlpPlan> {
        let units: Vec<usize> = m
            .w_out
            .rows()
            .into_iter()
            .enumerate()
            .filter(|(_, r)| any_nonzero(*r))
            .map(|(j, _)| j)
            .collect();
        let all_units = units.len() == m.w_out.nrows();
        let mut writes = vec![0u32; d_model];
        if all_units {
            mark_cols(m.w_out, &mut writes);
        } else {
            for &j in &units {
                mark_cols(m.w_out.slice(s![j..j + 1, ..]), &mut writes);
            }
        }
        let (output, b_out) = outputs(writes, m.b_out);
        if units.is_empty() && b_out.is_none() {
            return None;
        }
        let reads: Vec<bool> = m
            .w_in
            .rows()
            .into_iter()
            .map(|r| {
                if all_units {
                    any_nonzero(r)
                } else {
                    units.iter().any(|&j| r[j] != 0.0)
                }
            })
            .collect();
        let input = Dims::from_flags(&reads);
        let kept = (!all_units).then_some(units.as_slice());
        let w_in = stack_rows(
            input.list(d_model).into_iter().map(|r| m.w_in.row(r)),
            kept,
            m.w_in.ncols(),
        );
        let w_out = stack_rows(
            units.iter().map(|&j| m.w_out.row(j)),
            output.some(),
            d_model,
        );
        Some(MlpPlan {
            units: units.len(),
            input,
            w_in,
            b_in: units.iter().map(|&j| m.b_in[j]).collect(),
            output,
            w_out,
            b_out,
        })
    }
}
