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
//! nothing but summation order; an attention's sums over keys are kept in
//! eight partial sums (`attention::lane_sum`), and an MLP's output is added
//! to the residual as one vector (`mlp`). Those are summation orders like a
//! framework's own, which the compiler's float32 error bounds allow for
//! (they bound any order).

mod attention;
mod mat;
mod mlp;

use std::collections::HashMap;

use ndarray::{Array2, ArrayView2, Zip, s};
use rayon::prelude::*;

use super::executor::{DeviceInfo, Executor, Forward, Want, check_batch, check_patterns, chunks};
use super::plan::Plan;
use super::weights::Weights;
use super::{Meta, Model};
use crate::diag::Diag;
use crate::ir::hash::Words;
use mat::{Mat, product, scatter};
use mlp::{MEMO_BYTES, Memo, mlp_forward};
use std::sync::Mutex;

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
    /// Buffers and remembered MLP outputs of finished forward passes, one
    /// per thread that ran them, for the next passes to reuse.
    pool: Mutex<Vec<Scratch>>,
}

/// The CPU forms of one layer's matrices.
struct LayerMats {
    groups: Vec<Mat>,
    w_o: Option<Mat>,
    /// The MLP's blocks (none without an MLP or units).
    mlp: Vec<mlp::Block>,
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
                mlp: l.mlp.as_ref().map(mlp::blocks).unwrap_or_default(),
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
            pool: Mutex::new(Vec::new()),
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
    /// [`GROUPS_PER_THREAD`] per thread, which the threads take as they
    /// finish: a group's cost grows with the square of its sequences'
    /// lengths (attention), so groups of equal rows are not equal work,
    /// and one group per thread would leave a thread idle while the one
    /// with the longest sequences finishes.
    fn groups<'b>(&self, batch: &'b [Vec<usize>]) -> Vec<&'b [Vec<usize>]> {
        let threads = rayon::current_num_threads().max(1);
        let total: usize = batch.iter().map(Vec::len).sum();
        if batch.is_empty() {
            return Vec::new();
        }
        if threads == 1 || batch.len() == 1 || total < 64 {
            return vec![batch];
        }
        let rows = total
            .div_ceil(threads * GROUPS_PER_THREAD)
            .max(MIN_GROUP_ROWS);
        chunks(batch, rows.min(total.div_ceil(threads)))
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
                let mut memos = Vec::new();
                mlp_forward(
                    mlp,
                    &mats.mlp,
                    &mut resid,
                    &mut scratch,
                    &mut memos,
                    MEMO_BYTES,
                );
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
        let taken = self.pool.lock().map(|mut p| p.pop()).ok().flatten();
        let mut scratch = taken.unwrap_or_default();
        for chunk in chunks(batch, CHUNK_ROWS) {
            self.forward_chunk(chunk, layers, slots, keep, &mut scratch, &mut out);
        }
        if let Ok(mut p) = self.pool.lock() {
            p.push(scratch);
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
        let mut memos = std::mem::take(&mut scratch.memos);
        memos.resize_with(self.plan.layers.len(), Vec::new);
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
                let used = memos.iter().flatten().map(|m| m.bytes).sum();
                let room = MEMO_BYTES.saturating_sub(used);
                mlp_forward(mlp, &mats.mlp, &mut resid, scratch, &mut memos[l], room);
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
        scratch.memos = memos;
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

/// Groups of sequences per thread a batch is split into (see
/// [`Cpu::groups`]), unless they would have fewer rows than
/// [`MIN_GROUP_ROWS`].
const GROUPS_PER_THREAD: usize = 8;
const MIN_GROUP_ROWS: usize = 256;

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
    /// The same keys as sparse columns, and where each column starts.
    kcol: Vec<(u32, f32)>,
    kcstart: Vec<usize>,
    /// One head's values of one sequence, row after row.
    vs: Vec<f32>,
    /// Each key's one non-zero entry, when no key has more.
    k1: Vec<(u32, f32)>,
    /// One query's keys with a non-zero weight, and the weight.
    sel: Vec<(u32, f32)>,
    /// One head's queries of one sequence seen so far, by a hash of
    /// their bits: the first position with each.
    seen: HashMap<u64, u32, Words>,
    /// The memory of a chunk's residual, `qkv`, `z` and hidden matrices.
    resid: Vec<f32>,
    qkv: Vec<f32>,
    z: Vec<f32>,
    h: Vec<f32>,
    /// One row's MLP output before it is added (zero between rows), and
    /// its input's key.
    acc: Vec<f32>,
    key: Vec<u64>,
    /// Each layer's remembered MLP outputs, per block.
    memos: Vec<Vec<Memo>>,
}
