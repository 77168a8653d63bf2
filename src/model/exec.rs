//! The CPU executor: the forward pass (encoding and decoding are in
//! [`codec`](super::codec), shared by every executor).
//!
//! The forward pass packs every sequence of a batch into one matrix of
//! rows (no padding rows are computed: a PAD position never influences a
//! real one, so padding to the longest sequence and masking PAD keys gives
//! the same residuals at the real positions). Position-wise work (the
//! Q/K/V and output projections, the MLPs) is one matrix product per
//! sublayer over all rows; only the scores and the softmax are per
//! sequence. Batches are split across rayon threads by sequence.
//!
//! Compiled weights are very sparse: a head reads a few residual dims and
//! writes a few, an MLP likewise, and layers that the schedule skipped are
//! all zero. [`Model::prepare`] finds, once per model, which heads, hidden
//! units, residual rows and residual columns can carry anything non-zero
//! and drops the rest. Dropping a term that is exactly zero leaves every
//! result the same up to float summation order, and it makes a compiled
//! model's forward pass several times faster than the dense one.

use ndarray::linalg::general_mat_mul;
use ndarray::{
    Array1, Array2, Array3, ArrayView1, ArrayView2, ArrayViewMut2, Axis, CowArray, Ix2, Zip, s,
};
use rayon::prelude::*;

use super::Model;

pub use super::codec::{Decoder, value_from_json, value_to_json};

impl Model {
    /// Weights made ready for [`Prepared::forward`]: heads fused, and the
    /// parts that are exactly zero dropped. Prepare once when running many
    /// batches; [`Model::forward`] prepares on every call.
    ///
    /// # Panics
    /// If the weights' shapes disagree with the config (a model from
    /// [`load`](super::io::load) never does; see [`Model::validate`]).
    pub fn prepare(&self) -> Prepared<'_> {
        let layers = self
            .blocks
            .par_iter()
            .map(|b| LayerPlan {
                attn: AttnPlan::new(self, &b.attn),
                mlp: if self.config.attn_only {
                    None
                } else {
                    MlpPlan::new(self, &b.mlp)
                },
            })
            .collect();
        Prepared {
            model: self,
            layers,
        }
    }

    /// The final residual stream, `[len_i, d_model]`, of each sequence of
    /// token ids (ragged batches allowed; each sequence starts with BOS).
    /// The same as padding to the longest sequence with PAD and masking
    /// PAD keys: keys holding `pad_id` are masked wherever they are.
    ///
    /// # Panics
    /// If a token id is not below `d_vocab`, a sequence is longer than
    /// `n_ctx`, or the weights' shapes disagree with the config.
    pub fn forward(&self, batch: &[Vec<usize>]) -> Vec<Array2<f32>> {
        self.prepare().forward(batch)
    }
}

/// A model ready to run batches (see [`Model::prepare`]).
pub struct Prepared<'m> {
    model: &'m Model,
    layers: Vec<LayerPlan<'m>>,
}

struct LayerPlan<'m> {
    /// None: the sublayer adds nothing.
    attn: Option<AttnPlan>,
    mlp: Option<MlpPlan<'m>>,
}

/// A set of residual dims: all of them, or some (in increasing order).
enum Dims {
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

    /// These columns of the residual stream.
    fn gather<'a>(&self, resid: &'a Array2<f32>) -> CowArray<'a, f32, Ix2> {
        match self {
            Dims::All => CowArray::from(resid.view()),
            Dims::Some(idx) => {
                let mut out = Array2::zeros((resid.nrows(), idx.len()));
                for (mut o, r) in out.rows_mut().into_iter().zip(resid.rows()) {
                    for (o, &d) in o.iter_mut().zip(idx) {
                        *o = r[d];
                    }
                }
                CowArray::from(out)
            }
        }
    }

    /// `resid[:, dims] += x · w + bias` (w's columns and the bias already
    /// restricted to these dims).
    fn add_product(
        &self,
        resid: &mut Array2<f32>,
        x: ArrayView2<'_, f32>,
        w: ArrayView2<'_, f32>,
        bias: Option<&Array1<f32>>,
    ) {
        match self {
            Dims::All => {
                product(x, w, &mut resid.view_mut(), true);
                if let Some(b) = bias {
                    *resid += b;
                }
            }
            Dims::Some(idx) => {
                let mut y = Array2::zeros((x.nrows(), w.ncols()));
                product(x, w, &mut y.view_mut(), false);
                if let Some(b) = bias {
                    y += b;
                }
                scatter_add(resid, idx, &y);
            }
        }
    }

    /// `resid[:, dims] += bias`.
    fn add_bias(&self, resid: &mut Array2<f32>, bias: &Array1<f32>) {
        match self {
            Dims::All => *resid += bias,
            Dims::Some(idx) => {
                for mut r in resid.rows_mut() {
                    for (&d, &b) in idx.iter().zip(bias) {
                        r[d] += b;
                    }
                }
            }
        }
    }
}

/// `out = x · w`, or `out += x · w` when accumulating. Compiled models'
/// residual streams are mostly one-hot, so when few entries of `x` are
/// non-zero, only their rows of `w` are added up; otherwise it is a dense
/// matrix product. Skipping exact zeros changes nothing but summation order.
fn product(
    x: ArrayView2<'_, f32>,
    w: ArrayView2<'_, f32>,
    out: &mut ArrayViewMut2<'_, f32>,
    accumulate: bool,
) {
    let nonzero = x.iter().filter(|&&v| v != 0.0).count();
    // Row slices are needed for the sparse path (always so for the
    // matrices made here; any layout works through the dense path).
    let rows_ok = w.nrows() == 0
        || (w.row(0).as_slice().is_some() && out.nrows() > 0 && out.row(0).as_slice().is_some());
    if x.is_empty() || (10 * nonzero <= x.len() && rows_ok) {
        if !accumulate {
            out.fill(0.0);
        }
        for (xr, mut or) in x.rows().into_iter().zip(out.rows_mut()) {
            let Some(o) = or.as_slice_mut() else {
                continue;
            };
            for (i, &xv) in xr.iter().enumerate() {
                if xv == 0.0 {
                    continue;
                }
                let wr = w.row(i);
                let Some(wr) = wr.as_slice() else {
                    continue;
                };
                for (ov, &wv) in o.iter_mut().zip(wr) {
                    *ov += xv * wv;
                }
            }
        }
    } else {
        general_mat_mul(1.0, &x, &w, if accumulate { 1.0 } else { 0.0 }, out);
    }
}

/// `resid[:, idx] += y`.
fn scatter_add(resid: &mut Array2<f32>, idx: &[usize], y: &Array2<f32>) {
    for (mut r, yr) in resid.rows_mut().into_iter().zip(y.rows()) {
        for (&d, &v) in idx.iter().zip(yr.iter()) {
            r[d] += v;
        }
    }
}

/// Whether any entry is non-zero (-0.0 counts as zero).
fn any_nonzero(v: ArrayView1<'_, f32>) -> bool {
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
fn outputs(mut cols: Vec<u32>, bias: &Array1<f32>) -> (Dims, Option<Array1<f32>>) {
    for (f, b) in cols.iter_mut().zip(bias) {
        *f |= b.to_bits() << 1;
    }
    let flags: Vec<bool> = cols.iter().map(|&f| f != 0).collect();
    let dims = Dims::from_flags(&flags);
    let bias = any_nonzero(bias.view()).then(|| match &dims {
        Dims::All => bias.clone(),
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

/// `w[rows, cols]`, borrowing `w` when both are everything.
fn submatrix<'m>(
    w: &'m Array2<f32>,
    rows: &Dims,
    cols: Option<&[usize]>,
) -> CowArray<'m, f32, Ix2> {
    match (rows, cols) {
        (Dims::All, None) => CowArray::from(w.view()),
        (Dims::All, cols) => CowArray::from(stack_rows(w.rows().into_iter(), cols, w.ncols())),
        (Dims::Some(idx), cols) => {
            CowArray::from(stack_rows(idx.iter().map(|&r| w.row(r)), cols, w.ncols()))
        }
    }
}

struct AttnPlan {
    /// The heads kept, in order; a head is dropped when its output
    /// (`V · W_O`) is exactly zero.
    heads: Vec<HeadSlot>,
    /// Width of a `qkv` row and of a `z` row.
    qkv_width: usize,
    z_width: usize,
    /// The Q/K/V projections into `qkv`.
    groups: Vec<QkvGroup>,
    /// `[qkv_width]`.
    b_qkv: Array1<f32>,
    /// Residual dims the sublayer writes (`W_O` or `b_O`).
    output: Dims,
    /// `[z_width, |output|]`.
    w_o: Array2<f32>,
    b_o: Option<Array1<f32>>,
}

/// Where one kept head lives in a `qkv` row (`[Q | K | V]`, Q and K over
/// the head dims both can be non-zero in, V over the dims that reach
/// `W_O`) and in a `z` row.
struct HeadSlot {
    q: usize,
    k: usize,
    v: usize,
    d_qk: usize,
    d_v: usize,
    z: usize,
}

/// Consecutive kept heads projected by one matrix product: all heads at
/// once, or one head at a time when they read different residual dims.
struct QkvGroup {
    /// Residual dims these heads read.
    input: Dims,
    /// `[|input|, cols.len()]`.
    w: Array2<f32>,
    /// Where the result goes in `qkv`'s columns.
    cols: std::ops::Range<usize>,
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
fn head_of(w: &Array3<f32>, h: usize) -> ArrayView2<'_, f32> {
    w.index_axis(Axis(0), h)
}

/// One kept head's live columns and the residual rows it reads.
struct HeadCols {
    h: usize,
    qk: Vec<usize>,
    v: Vec<usize>,
    reads: Vec<bool>,
}

impl AttnPlan {
    fn new(model: &Model, a: &super::Attn) -> Option<AttnPlan> {
        let d_model = model.config.d_model;
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
            if v.is_empty() {
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
        let (output, b_o) = outputs(writes, &a.b_o);
        if heads.is_empty() && b_o.is_none() {
            return None;
        }

        // Lay the heads out in qkv and z.
        let mut slots = Vec::with_capacity(heads.len());
        let (mut at, mut z) = (0, 0);
        for hc in &heads {
            let (d_qk, d_v) = (hc.qk.len(), hc.v.len());
            slots.push(HeadSlot {
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

        // The projection weights and biases, column by column.
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
            let rows: Vec<usize> = match &input {
                Dims::All => (0..d_model).collect(),
                Dims::Some(idx) => idx.clone(),
            };
            // Runs of columns that come from one head's Q, K or V.
            let mut runs: Vec<(usize, usize, usize, usize)> = Vec::new();
            for (c, &(part, h, _)) in columns[cols.clone()].iter().enumerate() {
                match runs.last_mut() {
                    Some(run) if run.0 == part && run.1 == h => run.3 += 1,
                    _ => runs.push((part, h, c, 1)),
                }
            }
            let mut w = Array2::zeros((rows.len(), cols.len()));
            for (mut dst, &r) in w.rows_mut().into_iter().zip(&rows) {
                for &(part, h, start, len) in &runs {
                    let at = cols.start + start;
                    let picks = &columns[at..at + len];
                    let mut dst = dst.slice_mut(s![start..start + len]);
                    let wp = weights[part];
                    match wp.as_slice() {
                        // Standard layout: the row is a plain slice.
                        Some(flat) => {
                            let (rows_per_head, d) = (wp.shape()[1], wp.shape()[2]);
                            let src = &flat[(h * rows_per_head + r) * d..][..d];
                            for (x, &(_, _, j)) in dst.iter_mut().zip(picks) {
                                *x = src[j];
                            }
                        }
                        None => {
                            for (x, &(_, _, j)) in dst.iter_mut().zip(picks) {
                                *x = wp[[h, r, j]];
                            }
                        }
                    }
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
            match &output {
                Dims::All => None,
                Dims::Some(idx) => Some(idx),
            },
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

struct MlpPlan<'m> {
    /// Hidden units kept (those whose `W_out` row is not zero).
    units: usize,
    /// Residual dims any kept unit reads.
    input: Dims,
    /// `[|input|, units]`.
    w_in: CowArray<'m, f32, Ix2>,
    b_in: Array1<f32>,
    /// Residual dims the sublayer writes (`W_out` or `b_out`).
    output: Dims,
    /// `[units, |output|]`.
    w_out: CowArray<'m, f32, Ix2>,
    b_out: Option<Array1<f32>>,
}

impl<'m> MlpPlan<'m> {
    fn new(model: &Model, m: &'m super::Mlp) -> Option<MlpPlan<'m>> {
        let d_model = model.config.d_model;
        let units: Vec<usize> = m
            .w_out
            .rows()
            .into_iter()
            .enumerate()
            .filter(|(_, r)| any_nonzero(r.view()))
            .map(|(j, _)| j)
            .collect();
        let all_units = units.len() == m.w_out.nrows();
        let mut writes = vec![0u32; d_model];
        if all_units {
            mark_cols(m.w_out.view(), &mut writes);
        } else {
            for &j in &units {
                mark_cols(m.w_out.slice(s![j..j + 1, ..]), &mut writes);
            }
        }
        let (output, b_out) = outputs(writes, &m.b_out);
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
        let w_in = submatrix(&m.w_in, &input, kept);
        let w_out = match &output {
            Dims::All if all_units => CowArray::from(m.w_out.view()),
            out => CowArray::from(stack_rows(
                units.iter().map(|&j| m.w_out.row(j)),
                match out {
                    Dims::All => None,
                    Dims::Some(idx) => Some(idx),
                },
                d_model,
            )),
        };
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

/// Where each sequence's rows lie in a packed chunk, and which rows are
/// PAD keys.
struct Packing {
    /// (first row, length) per sequence.
    spans: Vec<(usize, usize)>,
    pad: Vec<bool>,
    longest: usize,
}

impl<'m> Prepared<'m> {
    /// The model this was prepared from.
    pub fn model(&self) -> &'m Model {
        self.model
    }

    /// See [`Model::forward`].
    pub fn forward(&self, batch: &[Vec<usize>]) -> Vec<Array2<f32>> {
        self.forward_to(batch, self.layers.len())
    }

    /// The residual stream after the first `layers` layers (the input of
    /// layer `layers`; all of them when `layers >= n_layers`), as
    /// [`Prepared::forward`] gives it after all.
    pub fn forward_to(&self, batch: &[Vec<usize>], layers: usize) -> Vec<Array2<f32>> {
        let layers = layers.min(self.layers.len());
        if batch.is_empty() {
            return Vec::new();
        }
        let threads = rayon::current_num_threads().max(1);
        let total: usize = batch.iter().map(Vec::len).sum();
        if threads == 1 || batch.len() == 1 || total < 64 {
            return self.forward_packed(batch, layers);
        }
        // Contiguous groups of sequences with about the same number of rows.
        let per = total.div_ceil(threads).max(1);
        let mut groups: Vec<&[Vec<usize>]> = Vec::with_capacity(threads);
        let (mut start, mut rows) = (0, 0);
        for (i, seq) in batch.iter().enumerate() {
            rows += seq.len();
            if rows >= per {
                groups.push(&batch[start..=i]);
                start = i + 1;
                rows = 0;
            }
        }
        if start < batch.len() {
            groups.push(&batch[start..]);
        }
        groups
            .into_par_iter()
            .map(|g| self.forward_packed(g, layers))
            .collect::<Vec<_>>()
            .into_iter()
            .flatten()
            .collect()
    }

    /// The residual of one sequence after the embedding and after every
    /// sublayer: `1 + 2 * n_layers` matrices (embedding, then layer 0's
    /// attention, layer 0's MLP, ...). Where an s-op is read before a later
    /// MLP reuses its dims (`Placement::cleared_in`).
    pub fn trace(&self, ids: &[usize]) -> Vec<Array2<f32>> {
        let m = self.model;
        let batch = vec![ids.to_vec()];
        let mut resid = self.forward_packed(&batch, 0).remove(0);
        let pack = Packing {
            spans: vec![(0, ids.len())],
            pad: ids.iter().map(|t| *t == m.meta.pad_id).collect(),
            longest: ids.len(),
        };
        let mut scratch = Scratch::default();
        let mut out = vec![resid.clone()];
        for layer in &self.layers {
            if let Some(a) = &layer.attn {
                self.attention(a, &mut resid, &pack, &mut scratch);
            }
            out.push(resid.clone());
            if let Some(mlp) = &layer.mlp {
                mlp_forward(mlp, &mut resid);
            }
            out.push(resid.clone());
        }
        out
    }

    /// One thread's share: all sequences packed into one matrix of rows.
    fn forward_packed(&self, batch: &[Vec<usize>], layers: usize) -> Vec<Array2<f32>> {
        let m = self.model;
        let c = &m.config;
        let total: usize = batch.iter().map(Vec::len).sum();
        let mut resid = Array2::<f32>::zeros((total, c.d_model));
        let mut pack = Packing {
            spans: Vec::with_capacity(batch.len()),
            pad: Vec::with_capacity(total),
            longest: 0,
        };
        let mut row = 0;
        for seq in batch {
            assert!(
                seq.len() <= m.w_pos.nrows(),
                "a sequence of {} tokens is longer than n_ctx = {}",
                seq.len(),
                m.w_pos.nrows()
            );
            pack.spans.push((row, seq.len()));
            pack.longest = pack.longest.max(seq.len());
            for (pos, &tok) in seq.iter().enumerate() {
                assert!(
                    tok < m.w_e.nrows(),
                    "token id {tok} is not below d_vocab = {}",
                    m.w_e.nrows()
                );
                Zip::from(resid.row_mut(row))
                    .and(m.w_e.row(tok))
                    .and(m.w_pos.row(pos))
                    .for_each(|r, &e, &p| *r = e + p);
                pack.pad.push(tok == m.meta.pad_id);
                row += 1;
            }
        }
        let mut scratch = Scratch::default();
        for layer in &self.layers[..layers] {
            if let Some(a) = &layer.attn {
                self.attention(a, &mut resid, &pack, &mut scratch);
            }
            if let Some(mlp) = &layer.mlp {
                mlp_forward(mlp, &mut resid);
            }
        }
        pack.spans
            .iter()
            .map(|&(o, l)| resid.slice(s![o..o + l, ..]).to_owned())
            .collect()
    }

    fn attention(
        &self,
        a: &AttnPlan,
        resid: &mut Array2<f32>,
        pack: &Packing,
        scratch: &mut Scratch,
    ) {
        if a.heads.is_empty() {
            if let Some(b) = &a.b_o {
                a.output.add_bias(resid, b);
            }
            return;
        }
        let c = &self.model.config;
        let mut qkv = Array2::<f32>::zeros((resid.nrows(), a.qkv_width));
        for g in &a.groups {
            let x = g.input.gather(resid);
            let mut dst = qkv.slice_mut(s![.., g.cols.clone()]);
            product(x.view(), g.w.view(), &mut dst, false);
        }
        qkv += &a.b_qkv;
        let mut z = Array2::<f32>::zeros((resid.nrows(), a.z_width));
        let scale = if c.use_attn_scale {
            c.attn_scale as f32
        } else {
            1.0
        };
        let qkv = qkv.as_slice().expect("a fresh matrix is contiguous");
        let zs = z.as_slice_mut().expect("a fresh matrix is contiguous");
        let causal = c.attention_dir == "causal";
        for head in &a.heads {
            mix(
                qkv,
                a.qkv_width,
                zs,
                a.z_width,
                head,
                pack,
                causal,
                scale,
                scratch,
            );
        }
        a.output
            .add_product(resid, z.view(), a.w_o.view(), a.b_o.as_ref());
    }
}

fn mlp_forward(p: &MlpPlan<'_>, resid: &mut Array2<f32>) {
    if p.units == 0 {
        if let Some(b) = &p.b_out {
            p.output.add_bias(resid, b);
        }
        return;
    }
    let x = p.input.gather(resid);
    let mut h = Array2::zeros((x.nrows(), p.w_in.ncols()));
    product(x.view(), p.w_in.view(), &mut h.view_mut(), false);
    h += &p.b_in;
    h.mapv_inplace(|v| v.max(0.0));
    p.output
        .add_product(resid, h.view(), p.w_out.view(), p.b_out.as_ref());
}

/// Buffers reused across heads and layers.
#[derive(Default)]
struct Scratch {
    /// One head's keys of one sequence, transposed: `[d_head, len]`.
    kt: Vec<f32>,
    /// One query's scores.
    w: Vec<f32>,
}

/// Scores, softmax and the weighted sum of values of one head for every
/// sequence: `qkv` rows hold the head's Q, K and V at `head`'s offsets,
/// `z` rows get its output at `head.z`.
#[allow(clippy::too_many_arguments)]
fn mix(
    qkv: &[f32],
    qkv_width: usize,
    z: &mut [f32],
    z_width: usize,
    head: &HeadSlot,
    pack: &Packing,
    causal: bool,
    scale: f32,
    scratch: &mut Scratch,
) {
    let (d_qk, d_v) = (head.d_qk, head.d_v);
    scratch.kt.resize(d_qk * pack.longest, 0.0);
    scratch.w.resize(pack.longest, 0.0);
    let (kt, w) = (&mut scratch.kt, &mut scratch.w);
    for &(o, len) in &pack.spans {
        let pad = &pack.pad[o..o + len];
        // Keys as columns, so a query's scores are a sum of rows.
        for j in 0..len {
            let k = &qkv[(o + j) * qkv_width + head.k..][..d_qk];
            for (d, &kd) in k.iter().enumerate() {
                kt[d * len + j] = kd;
            }
        }
        for i in 0..len {
            let q = &qkv[(o + i) * qkv_width + head.q..][..d_qk];
            let keys = if causal { i + 1 } else { len };
            let wi = &mut w[..keys];
            wi.fill(0.0);
            for (d, &qd) in q.iter().enumerate() {
                if qd == 0.0 {
                    continue;
                }
                for (s, &k) in wi.iter_mut().zip(&kt[d * len..d * len + keys]) {
                    *s += qd * k;
                }
            }
            let mut max = f32::NEG_INFINITY;
            for (s, &p) in wi.iter_mut().zip(pad) {
                *s = if p { f32::NEG_INFINITY } else { *s / scale };
                max = max.max(*s);
            }
            if max == f32::NEG_INFINITY {
                // Every key masked (only in hand-made batches): no output.
                continue;
            }
            let mut sum = 0.0f32;
            for s in wi.iter_mut() {
                let d = *s - max;
                // exp underflows to exactly 0 below this (hard attention in
                // compiled models makes that common).
                *s = if d < -104.0 { 0.0 } else { d.exp() };
                sum += *s;
            }
            let zi = &mut z[(o + i) * z_width + head.z..][..d_v];
            for (j, &s) in wi.iter().enumerate() {
                if s == 0.0 {
                    continue;
                }
                let p = s / sum;
                let v = &qkv[(o + j) * qkv_width + head.v..][..d_v];
                for (zz, &vv) in zi.iter_mut().zip(v) {
                    *zz += p * vv;
                }
            }
        }
    }
}
