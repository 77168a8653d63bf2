//! The CPU executor: the forward pass over a [`Plan`] with ndarray and
//! rayon (encoding and decoding are in [`codec`](super::codec), shared by
//! every executor).
//!
//! The forward pass packs every sequence of a batch into one matrix of
//! rows (no padding rows are computed: a PAD position never influences a
//! real one, so padding to the longest sequence and masking PAD keys gives
//! the same residuals at the real positions). Position-wise work (the
//! Q/K/V and output projections, the MLPs) is one matrix product per
//! sublayer over all rows; only the scores and the softmax are per
//! sequence. Batches are split across rayon threads by sequence.
//!
//! The plan's matrices are small but still mostly zero where a head or a
//! unit reads a one-hot: a matrix with few non-zeros is kept in compressed
//! rows, and a product skips the zero entries of its left side, so the
//! work is proportional to the non-zero terms. Skipping exact zeros changes
//! nothing but summation order.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, CowArray, Ix2, Zip, s};
use rayon::prelude::*;

use super::executor::{DeviceInfo, Executor, Forward, Want, check_batch, check_patterns, chunks};
use super::plan::{AttnPlan, Dims, HeadSlot, MlpPlan, Plan};
use super::weights::Weights;
use super::{Meta, Model};
use crate::diag::Diag;

impl Model {
    /// The CPU executor for this model (see [`Cpu::new`]). Prepare once
    /// when running many batches; [`Model::forward`] prepares on every call.
    pub fn prepare(&self) -> Cpu {
        Cpu::new(&self.weights(), &self.meta)
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

/// At most how many rows (positions of all sequences) go through the
/// layers together (a longer sequence goes alone).
const CHUNK_ROWS: usize = 256;

/// A matrix of a plan as the CPU multiplies it.
enum Mat {
    /// Dense; `scatter[c]` is the residual dim column `c` adds to, when the
    /// product goes into the residual at some dims.
    Dense {
        w: Array2<f32>,
        scatter: Option<Vec<usize>>,
    },
    /// Compressed rows: row `k`'s non-zeros are at `cols/vals[starts[k]..starts[k + 1]]`;
    /// the columns are residual dims when the product goes into the residual.
    Rows {
        starts: Vec<usize>,
        cols: Vec<u32>,
        vals: Vec<f32>,
    },
}

impl Mat {
    /// Compressed rows when at most a fifth of the entries are non-zero.
    /// `scatter`: the product is added to these residual dims (one per
    /// column).
    fn new(w: &Array2<f32>, scatter: Option<Vec<usize>>) -> Mat {
        let nnz = w.iter().filter(|&&x| x != 0.0).count();
        let wide = scatter
            .as_ref()
            .map_or(w.ncols(), |s| s.iter().max().map_or(0, |m| m + 1));
        if 5 * nnz > w.len() || wide > u32::MAX as usize {
            return Mat::Dense {
                w: w.clone(),
                scatter,
            };
        }
        let mut starts = Vec::with_capacity(w.nrows() + 1);
        let (mut cols, mut vals) = (Vec::with_capacity(nnz), Vec::with_capacity(nnz));
        starts.push(0);
        for row in w.rows() {
            for (c, &x) in row.iter().enumerate() {
                if x != 0.0 {
                    let to = scatter.as_ref().map_or(c, |s| s[c]);
                    cols.push(to as u32);
                    vals.push(x);
                }
            }
            starts.push(cols.len());
        }
        Mat::Rows { starts, cols, vals }
    }

    /// `out += xv · row k`, `out` a residual row when the matrix scatters.
    fn add_row(&self, k: usize, xv: f32, out: &mut [f32]) {
        match self {
            Mat::Dense { w, scatter: None } => {
                let row = w.row(k);
                let row = row.as_slice().expect("plan matrices are contiguous");
                for (o, &wv) in out.iter_mut().zip(row) {
                    *o += xv * wv;
                }
            }
            Mat::Dense {
                w,
                scatter: Some(to),
            } => {
                for (&d, &wv) in to.iter().zip(w.row(k)) {
                    out[d] += xv * wv;
                }
            }
            Mat::Rows { starts, cols, vals } => {
                let (a, b) = (starts[k], starts[k + 1]);
                for (&c, &v) in cols[a..b].iter().zip(&vals[a..b]) {
                    out[c as usize] += xv * v;
                }
            }
        }
    }
}

/// Whether a matrix product is worth it: more than a tenth of the left
/// side's entries are non-zero.
fn dense_enough(nonzero: usize, len: usize) -> bool {
    len > 0 && 10 * nonzero > len
}

/// `out += src[:, input] · w`: `src` rows restricted to the input dims,
/// times a plan matrix; `out` holds the matrix's columns (or the residual,
/// for a scattering matrix). Zero entries of the left side are skipped
/// (compiled residual streams are mostly one-hot), as are those of a
/// compressed matrix; a dense left side times a dense matrix is one matrix
/// product. Skipping exact zeros changes nothing but summation order.
fn product(
    src: ArrayView2<'_, f32>,
    input: &Dims,
    w: &Mat,
    out: &mut ArrayViewMut2<'_, f32>,
    nz: &mut Vec<(u32, f32)>,
) {
    if let Mat::Dense { w: dense, scatter } = w {
        let nonzero: usize = match input {
            Dims::All => src.iter().filter(|&&v| v != 0.0).count(),
            Dims::Some(idx) => src
                .rows()
                .into_iter()
                .map(|r| idx.iter().filter(|&&d| r[d] != 0.0).count())
                .sum(),
        };
        if dense_enough(nonzero, src.nrows() * input.len(src.ncols())) {
            let x = gather(input, src);
            match scatter {
                None => general_mat_mul(1.0, &x, dense, 1.0, out),
                Some(to) => {
                    let mut y = Array2::zeros((x.nrows(), dense.ncols()));
                    general_mat_mul(1.0, &x, dense, 0.0, &mut y);
                    for (mut o, yr) in out.rows_mut().into_iter().zip(y.rows()) {
                        for (&d, &v) in to.iter().zip(yr) {
                            o[d] += v;
                        }
                    }
                }
            }
            return;
        }
    }
    for (xr, mut or) in src.rows().into_iter().zip(out.rows_mut()) {
        match input {
            Dims::All => nonzeros(xr.iter().copied(), nz),
            Dims::Some(idx) => nonzeros(idx.iter().map(|&d| xr[d]), nz),
        }
        let o = or
            .as_slice_mut()
            .expect("products write into contiguous rows");
        for &(k, xv) in nz.iter() {
            w.add_row(k as usize, xv, o);
        }
    }
}

/// The non-zero entries of a row, as (index, value), without a branch
/// per entry (how many are zero is unpredictable, and mispredicted
/// branches would cost more than the products).
fn nonzeros(row: impl ExactSizeIterator<Item = f32>, nz: &mut Vec<(u32, f32)>) {
    nz.clear();
    nz.resize(row.len(), (0, 0.0));
    let mut m = 0;
    for (k, x) in row.enumerate() {
        nz[m] = (k as u32, x);
        m += usize::from(x != 0.0);
    }
    nz.truncate(m);
}

/// These columns of the residual stream.
fn gather<'a>(dims: &Dims, src: ArrayView2<'a, f32>) -> CowArray<'a, f32, Ix2> {
    match dims {
        Dims::All => CowArray::from(src),
        Dims::Some(idx) => {
            let mut out = Array2::zeros((src.nrows(), idx.len()));
            for (mut o, r) in out.rows_mut().into_iter().zip(src.rows()) {
                for (o, &d) in o.iter_mut().zip(idx) {
                    *o = r[d];
                }
            }
            CowArray::from(out)
        }
    }
}

/// `resid[:, dims] += x · w + bias` (w scatters into these dims; the bias
/// is restricted to them).
fn add_product(
    dims: &Dims,
    resid: &mut Array2<f32>,
    x: ArrayView2<'_, f32>,
    w: &Mat,
    bias: Option<&Array1<f32>>,
    nz: &mut Vec<(u32, f32)>,
) {
    product(x, &Dims::All, w, &mut resid.view_mut(), nz);
    if let Some(b) = bias {
        add_bias(dims, resid, b);
    }
}

/// `resid[:, dims] += bias`.
fn add_bias(dims: &Dims, resid: &mut Array2<f32>, bias: &Array1<f32>) {
    match dims {
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

/// A model prepared for the CPU (see [`Cpu::new`]).
pub struct Cpu {
    plan: Plan,
    mats: Vec<LayerMats>,
    w_u: Mat,
    pad_id: usize,
    causal: bool,
    scale: f32,
    config: super::Config,
    info: DeviceInfo,
}

/// The CPU forms of one layer's matrices.
struct LayerMats {
    groups: Vec<Mat>,
    w_o: Option<Mat>,
    w_in: Option<Mat>,
    w_out: Option<Mat>,
}

impl Cpu {
    /// Prepare weights for the CPU: the [`Plan`] (zeros dropped), keeping
    /// the heads whose patterns decoding needs
    /// ([`kind_heads`](super::codec::kind_heads)).
    ///
    /// # Panics
    /// If the weights' shapes disagree with the config (a model from
    /// [`load`](super::io::load) or [`open`](super::io::open) never does;
    /// see [`Model::validate`]).
    pub fn new(weights: &Weights<'_>, meta: &Meta) -> Cpu {
        let config = weights.config;
        let keep = super::codec::kind_heads(config, meta);
        let plan = Plan::new(weights, &keep);
        let mats = plan
            .layers
            .par_iter()
            .map(|l| LayerMats {
                groups: l
                    .attn
                    .iter()
                    .flat_map(|a| a.groups.iter().map(|g| Mat::new(&g.w, None)))
                    .collect(),
                w_o: l
                    .attn
                    .as_ref()
                    .map(|a| Mat::new(&a.w_o, scatter(&a.output))),
                w_in: l.mlp.as_ref().map(|m| Mat::new(&m.w_in, None)),
                w_out: l
                    .mlp
                    .as_ref()
                    .map(|m| Mat::new(&m.w_out, scatter(&m.output))),
            })
            .collect();
        let w_u = Mat::new(&plan.w_u, None);
        Cpu {
            plan,
            mats,
            w_u,
            pad_id: meta.pad_id,
            causal: config.attention_dir == "causal",
            scale: if config.use_attn_scale {
                config.attn_scale as f32
            } else {
                1.0
            },
            config: config.clone(),
            info: DeviceInfo {
                executor: "cpu",
                name: format!("{} thread(s)", rayon::current_num_threads()),
                backend: "ndarray".to_string(),
                driver: String::new(),
                device_type: "Cpu".to_string(),
            },
        }
    }

    /// The plan this executor runs.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// See [`Model::forward`].
    pub fn forward(&self, batch: &[Vec<usize>]) -> Vec<Array2<f32>> {
        self.forward_to(batch, self.plan.layers.len())
    }

    /// The residual stream after the first `layers` layers (the input of
    /// layer `layers`; all of them when `layers >= n_layers`), as
    /// [`Cpu::forward`] gives it after all.
    ///
    /// # Panics
    /// As [`Model::forward`].
    pub fn forward_to(&self, batch: &[Vec<usize>], layers: usize) -> Vec<Array2<f32>> {
        if let Err(d) = check_batch(&self.config, batch) {
            panic!("{}", d.message);
        }
        self.groups(batch)
            .into_par_iter()
            .map(|g| self.forward_packed(g, layers, &[], Keep::Resid).resid)
            .collect::<Vec<_>>()
            .into_iter()
            .flatten()
            .collect()
    }

    /// Contiguous groups of sequences with about the same number of rows,
    /// one per thread.
    fn groups<'b>(&self, batch: &'b [Vec<usize>]) -> Vec<&'b [Vec<usize>]> {
        let threads = rayon::current_num_threads().max(1);
        let total: usize = batch.iter().map(Vec::len).sum();
        if batch.is_empty() {
            return Vec::new();
        }
        if threads == 1 || batch.len() == 1 || total < 64 {
            return vec![batch];
        }
        chunks(batch, total.div_ceil(threads))
    }

    /// The residual of one sequence after the embedding and after every
    /// sublayer: `1 + 2 * n_layers` matrices (embedding, then layer 0's
    /// attention, layer 0's MLP, ...). Where an s-op is read before a later
    /// MLP reuses its dims (`Placement::cleared_in`).
    ///
    /// # Panics
    /// As [`Model::forward`].
    pub fn trace(&self, ids: &[usize]) -> Vec<Array2<f32>> {
        let batch = vec![ids.to_vec()];
        if let Err(d) = check_batch(&self.config, &batch) {
            panic!("{}", d.message);
        }
        let (mut resid, pack) = self.embed(&batch);
        let mut scratch = Scratch::default();
        let mut out = vec![resid.clone()];
        for (layer, mats) in self.plan.layers.iter().zip(&self.mats) {
            if let Some(a) = &layer.attn {
                self.attention(a, mats, &mut resid, &pack, &mut scratch, &mut []);
            }
            out.push(resid.clone());
            if let Some(mlp) = &layer.mlp {
                mlp_forward(mlp, mats, &mut resid, &mut scratch);
            }
            out.push(resid.clone());
        }
        out
    }

    /// All sequences packed into one matrix of rows, embedded.
    fn embed(&self, batch: &[Vec<usize>]) -> (Array2<f32>, Packing) {
        self.embed_into(batch, Vec::new())
    }

    /// [`Cpu::embed`] into the memory of `buf` (reused across chunks: a
    /// fresh allocation of a wide residual costs the kernel's zeroing of
    /// its pages each time).
    fn embed_into(&self, batch: &[Vec<usize>], mut buf: Vec<f32>) -> (Array2<f32>, Packing) {
        let p = &self.plan;
        let total: usize = batch.iter().map(Vec::len).sum();
        buf.clear();
        buf.resize(total * p.d_model, 0.0);
        let mut resid = Array2::from_shape_vec((total, p.d_model), buf)
            .expect("the buffer has rows * d_model entries");
        let mut pack = Packing {
            spans: Vec::with_capacity(batch.len()),
            pad: Vec::with_capacity(total),
            longest: 0,
        };
        let mut row = 0;
        for seq in batch {
            pack.spans.push((row, seq.len()));
            pack.longest = pack.longest.max(seq.len());
            for (pos, &tok) in seq.iter().enumerate() {
                Zip::from(resid.row_mut(row))
                    .and(p.w_e.row(tok))
                    .and(p.w_pos.row(pos))
                    .for_each(|r, &e, &p| *r = e + p);
                pack.pad.push(tok == self.pad_id);
                row += 1;
            }
        }
        (resid, pack)
    }

    /// One thread's share, through the first `layers` layers; with the
    /// patterns of the kept heads `slots` (`(layer, slot)`), per slot per
    /// sequence, and each sequence's residual or logits as `keep` says.
    /// Run in chunks of at most [`CHUNK_ROWS`] rows, so that the
    /// intermediate matrices stay in cache and their memory is reused.
    fn forward_packed(
        &self,
        batch: &[Vec<usize>],
        layers: usize,
        slots: &[(usize, usize)],
        keep: Keep,
    ) -> Part {
        let mut out = Part {
            resid: Vec::new(),
            logits: Vec::new(),
            patterns: vec![Vec::with_capacity(batch.len()); slots.len()],
        };
        let mut scratch = Scratch::default();
        for chunk in chunks(batch, CHUNK_ROWS) {
            self.forward_chunk(chunk, layers, slots, keep, &mut scratch, &mut out);
        }
        out
    }

    /// [`Cpu::forward_packed`] on one chunk, appended to `out`.
    fn forward_chunk(
        &self,
        batch: &[Vec<usize>],
        layers: usize,
        slots: &[(usize, usize)],
        keep: Keep,
        scratch: &mut Scratch,
        out: &mut Part,
    ) {
        let (mut resid, pack) = self.embed_into(batch, std::mem::take(&mut scratch.resid));
        let mut patterns: Vec<Vec<Array2<f32>>> = slots
            .iter()
            .map(|_| {
                pack.spans
                    .iter()
                    .map(|&(_, l)| Array2::zeros((l, l)))
                    .collect()
            })
            .collect();
        for (l, (layer, mats)) in self.plan.layers[..layers.min(self.plan.layers.len())]
            .iter()
            .zip(&self.mats)
            .enumerate()
        {
            if let Some(a) = &layer.attn {
                let mut wanted: Vec<(usize, &mut Vec<Array2<f32>>)> = slots
                    .iter()
                    .zip(patterns.iter_mut())
                    .filter(|((sl, _), _)| *sl == l)
                    .map(|((_, s), p)| (*s, p))
                    .collect();
                self.attention(a, mats, &mut resid, &pack, scratch, &mut wanted);
            }
            if let Some(mlp) = &layer.mlp {
                mlp_forward(mlp, mats, &mut resid, scratch);
            }
        }
        for &(o, l) in &pack.spans {
            let rows = resid.slice(s![o..o + l, ..]);
            if keep.resid() {
                out.resid.push(rows.to_owned());
            }
            if keep.logits() {
                out.logits.push(self.logits(rows));
            }
        }
        for (all, p) in out.patterns.iter_mut().zip(patterns) {
            all.extend(p);
        }
        let (buf, _) = resid.into_raw_vec_and_offset();
        scratch.resid = buf;
    }

    fn attention(
        &self,
        a: &AttnPlan,
        mats: &LayerMats,
        resid: &mut Array2<f32>,
        pack: &Packing,
        scratch: &mut Scratch,
        patterns: &mut [(usize, &mut Vec<Array2<f32>>)],
    ) {
        let w_o = mats.w_o.as_ref().expect("an attention plan has W_O");
        if a.heads.is_empty() {
            if let Some(b) = &a.b_o {
                add_bias(&a.output, resid, b);
            }
            return;
        }
        let (mut qkv_buf, mut z_buf) = (
            std::mem::take(&mut scratch.qkv),
            std::mem::take(&mut scratch.z),
        );
        let mut qkv = zeroed(&mut qkv_buf, resid.nrows(), a.qkv_width);
        for (g, w) in a.groups.iter().zip(&mats.groups) {
            let mut dst = qkv.slice_mut(s![.., g.cols.clone()]);
            product(resid.view(), &g.input, w, &mut dst, &mut scratch.nz);
        }
        qkv += &a.b_qkv;
        let mut z = zeroed(&mut z_buf, resid.nrows(), a.z_width);
        let qkv = qkv.into_slice().expect("a fresh matrix is contiguous");
        let zs = z.as_slice_mut().expect("a fresh matrix is contiguous");
        for (i, head) in a.heads.iter().enumerate() {
            let pattern = patterns
                .iter_mut()
                .find(|(s, _)| *s == i)
                .map(|(_, p)| &mut **p);
            let rows = Rows {
                qkv,
                qkv_width: a.qkv_width,
                z_width: a.z_width,
            };
            mix(
                &rows,
                zs,
                head,
                pack,
                self.causal,
                self.scale,
                scratch,
                pattern,
            );
        }
        add_product(
            &a.output,
            resid,
            z.view(),
            w_o,
            a.b_o.as_ref(),
            &mut scratch.nz,
        );
        scratch.qkv = qkv_buf;
        scratch.z = z_buf;
    }

    /// The logits of every row.
    fn logits(&self, resid: ArrayView2<'_, f32>) -> Array2<f32> {
        let mut out = Array2::zeros((resid.nrows(), self.plan.w_u.ncols()));
        product(
            resid,
            &self.plan.unembed_input,
            &self.w_u,
            &mut out.view_mut(),
            &mut Vec::new(),
        );
        out += &self.plan.b_u;
        out
    }
}

impl Executor for Cpu {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn config(&self) -> &super::Config {
        &self.config
    }

    fn run_batch(&self, batch: &[Vec<usize>], want: &Want) -> Result<Forward, Diag> {
        check_batch(&self.config, batch)?;
        let slots: Vec<(usize, usize)> = want
            .patterns
            .iter()
            .map(|p| p.0)
            .zip(check_patterns(&self.plan, want)?)
            .collect();
        let layers = self.plan.layers.len();
        let keep = if want.resid { Keep::Both } else { Keep::Logits };
        let parts: Vec<Part> = self
            .groups(batch)
            .into_par_iter()
            .map(|g| self.forward_packed(g, layers, &slots, keep))
            .collect();
        let mut out = Forward {
            patterns: vec![Vec::with_capacity(batch.len()); slots.len()],
            ..Forward::default()
        };
        for part in parts {
            out.resid.extend(part.resid);
            out.logits.extend(part.logits);
            for (all, p) in out.patterns.iter_mut().zip(part.patterns) {
                all.extend(p);
            }
        }
        Ok(out)
    }
}

/// One thread's residuals and logits per sequence (those `Keep` asked
/// for) and patterns per kept head per sequence.
struct Part {
    resid: Vec<Array2<f32>>,
    logits: Vec<Array2<f32>>,
    patterns: Vec<Vec<Array2<f32>>>,
}

/// What a forward pass keeps of each sequence.
#[derive(Clone, Copy)]
enum Keep {
    Resid,
    Logits,
    Both,
}

impl Keep {
    fn resid(self) -> bool {
        matches!(self, Keep::Resid | Keep::Both)
    }

    fn logits(self) -> bool {
        matches!(self, Keep::Logits | Keep::Both)
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

fn mlp_forward(p: &MlpPlan, mats: &LayerMats, resid: &mut Array2<f32>, scratch: &mut Scratch) {
    if p.units == 0 {
        if let Some(b) = &p.b_out {
            add_bias(&p.output, resid, b);
        }
        return;
    }
    let (Some(w_in), Some(w_out)) = (&mats.w_in, &mats.w_out) else {
        unreachable!("an MLP plan has both matrices");
    };
    let mut h_buf = std::mem::take(&mut scratch.h);
    let mut h = zeroed(&mut h_buf, resid.nrows(), p.units);
    product(resid.view(), &p.input, w_in, &mut h, &mut scratch.nz);
    Zip::from(h.rows_mut()).for_each(|mut r| {
        Zip::from(&mut r)
            .and(&p.b_in)
            .for_each(|v, &b| *v = (*v + b).max(0.0));
    });
    add_product(
        &p.output,
        resid,
        h.view(),
        w_out,
        p.b_out.as_ref(),
        &mut scratch.nz,
    );
    scratch.h = h_buf;
}

/// Buffers reused across heads and layers.
#[derive(Default)]
struct Scratch {
    /// One head's keys of one sequence, transposed: `[d_head, len]`.
    kt: Vec<f32>,
    /// One query's scores.
    w: Vec<f32>,
    /// One row's non-zero entries.
    nz: Vec<(u32, f32)>,
    /// One head's keys of one sequence as sparse rows, and where each
    /// key's entries start.
    kn: Vec<(u32, f32)>,
    kstart: Vec<usize>,
    /// One head's values of one sequence, row after row.
    vs: Vec<f32>,
    /// Each key's one non-zero entry, when no key has more.
    k1: Vec<(u32, f32)>,
    /// The memory of a chunk's residual, `qkv`, `z` and hidden matrices.
    resid: Vec<f32>,
    qkv: Vec<f32>,
    z: Vec<f32>,
    h: Vec<f32>,
}

/// `buf` as a `[rows, cols]` matrix of zeros.
fn zeroed(buf: &mut Vec<f32>, rows: usize, cols: usize) -> ArrayViewMut2<'_, f32> {
    buf.clear();
    buf.resize(rows * cols, 0.0);
    ArrayViewMut2::from_shape((rows, cols), buf).expect("the buffer has rows * cols entries")
}

/// The residual dims a product adds to, when not all of them.
fn scatter(dims: &Dims) -> Option<Vec<usize>> {
    match dims {
        Dims::All => None,
        Dims::Some(idx) => Some(idx.clone()),
    }
}

/// The `qkv` rows of a packed chunk.
struct Rows<'a> {
    qkv: &'a [f32],
    qkv_width: usize,
    z_width: usize,
}

/// Scores, softmax and the weighted sum of values of one head for every
/// sequence: `qkv` rows hold the head's Q, K and V at `head`'s offsets,
/// `z` rows get its output at `head.z`; the weights go to `pattern` (per
/// sequence) when given.
#[allow(clippy::too_many_arguments)]
fn mix(
    rows: &Rows<'_>,
    z: &mut [f32],
    head: &HeadSlot,
    pack: &Packing,
    causal: bool,
    scale: f32,
    scratch: &mut Scratch,
    mut pattern: Option<&mut Vec<Array2<f32>>>,
) {
    let (qkv, qkv_width, z_width) = (rows.qkv, rows.qkv_width, rows.z_width);
    let (d_qk, d_v) = (head.d_qk, head.d_v);
    scratch.kt.resize(d_qk * pack.longest, 0.0);
    scratch.w.resize(pack.longest, 0.0);
    let (kt, w, nz) = (&mut scratch.kt, &mut scratch.w, &mut scratch.nz);
    let (kn, kstart, vs) = (&mut scratch.kn, &mut scratch.kstart, &mut scratch.vs);
    let k1 = &mut scratch.k1;
    for (seq, &(o, len)) in pack.spans.iter().enumerate() {
        let pad = &pack.pad[o..o + len];
        // Keys as columns, so a query's scores are a sum of rows; and as
        // sparse rows (`kstart[j]..kstart[j + 1]` of `kn`), so that a
        // query with many non-zeros against one-hot keys costs a few terms
        // per key. Both sum each score's non-zero products in the order of
        // their dims: the same floats.
        kn.clear();
        kstart.clear();
        kstart.push(0);
        // Values packed together (a query reads every selected key's).
        vs.clear();
        for j in 0..len {
            vs.extend_from_slice(&qkv[(o + j) * qkv_width + head.v..][..d_v]);
        }
        // At most one non-zero per key (one-hot keys): that entry, or
        // (d_qk, 0) for none, so a score is one product.
        let mut single = true;
        for j in 0..len {
            let k = &qkv[(o + j) * qkv_width + head.k..][..d_qk];
            for (d, &kd) in k.iter().enumerate() {
                if kd != 0.0 {
                    kn.push((d as u32, kd));
                }
            }
            single &= kn.len() - kstart[j] <= 1;
            kstart.push(kn.len());
        }
        if single {
            k1.clear();
            k1.extend(kstart.windows(2).map(|w| {
                if w[1] > w[0] {
                    kn[w[0]]
                } else {
                    (d_qk as u32, 0.0)
                }
            }));
        }
        // Filled when a query first takes the dense way.
        let mut kt_filled = false;
        for i in 0..len {
            let q = &qkv[(o + i) * qkv_width + head.q..][..d_qk];
            let keys = if causal { i + 1 } else { len };
            let wi = &mut w[..keys];
            wi.fill(0.0);
            nonzeros(q.iter().copied(), nz);
            if single && nz.len() > 1 {
                for (s, &(d, kd)) in wi.iter_mut().zip(k1.iter()) {
                    if let Some(&qd) = q.get(d as usize) {
                        *s += qd * kd;
                    }
                }
            } else if nz.len() * keys > kstart[keys] {
                for (j, s) in wi.iter_mut().enumerate() {
                    for &(d, kd) in &kn[kstart[j]..kstart[j + 1]] {
                        *s += q[d as usize] * kd;
                    }
                }
            } else {
                if !kt_filled {
                    for j in 0..len {
                        let k = &qkv[(o + j) * qkv_width + head.k..][..d_qk];
                        for (d, &kd) in k.iter().enumerate() {
                            kt[d * len + j] = kd;
                        }
                    }
                    kt_filled = true;
                }
                for &(d, qd) in nz.iter() {
                    let d = d as usize;
                    for (s, &k) in wi.iter_mut().zip(&kt[d * len..d * len + keys]) {
                        *s += qd * k;
                    }
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
                // The top score (often several keys of a hard attention
                // tie) needs no call: exp(0) is exactly 1.
                *s = if d < -104.0 {
                    0.0
                } else if d == 0.0 {
                    1.0
                } else {
                    d.exp()
                };
                sum += *s;
            }
            let zi = &mut z[(o + i) * z_width + head.z..][..d_v];
            let mut prow = pattern.as_deref_mut().map(|p| p[seq].row_mut(i));
            if d_v == 1 && prow.is_none() {
                // One value (a mean): summed in a register, in the same
                // order (a store and reload per key would bound the loop
                // by their latency).
                let mut acc = zi[0];
                for (&s, &v) in wi.iter().zip(vs.iter()) {
                    if s != 0.0 {
                        acc += (s / sum) * v;
                    }
                }
                zi[0] = acc;
                continue;
            }
            for (j, &s) in wi.iter().enumerate() {
                if s == 0.0 {
                    continue;
                }
                let p = s / sum;
                if let Some(r) = prow.as_mut() {
                    r[j] = p;
                }
                let v = &vs[j * d_v..(j + 1) * d_v];
                for (zz, &vv) in zi.iter_mut().zip(v) {
                    *zz += p * vv;
                }
            }
        }
    }
}
