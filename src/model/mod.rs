//! Compiled transformers: the weights (TransformerLens names and shapes,
//! row-vector convention `x · W`), the metadata that makes them usable
//! (vocab, residual labels, where each s-op lives, how to decode the
//! output), the executors' seam and the CPU executor, and the model files.
//!
//! A model has no layer norm. Forward pass, per layer `l`:
//! `resid += attn_l(resid); resid += mlp_l(resid)`, where attention scores
//! are `q · k / attn_scale` (when `use_attn_scale`), PAD keys are masked,
//! and, when causal, keys after the query are masked. Position 0 always
//! holds BOS. The unembedding is [`unembedding`]; `docs/model-format.md`
//! documents the files, the forward pass and the decoding rules.

pub mod codec;
pub mod cpu;
pub mod executor;
pub mod grid;
pub mod io;
pub mod plan;
pub mod weights;

use ndarray::{Array1, Array2, Array3};
use serde::{Deserialize, Serialize};

/// `config.json`: fields HookedTransformerConfig (TransformerLens 3) and
/// TransformerBridge (TransformerLens 4) both accept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub n_layers: usize,
    pub d_model: usize,
    pub d_head: usize,
    pub n_heads: usize,
    pub d_mlp: usize,
    /// Rows of the position embedding: max_len + 1 (BOS at 0).
    pub n_ctx: usize,
    /// Input vocabulary including BOS and PAD.
    pub d_vocab: usize,
    pub d_vocab_out: usize,
    /// Always "relu".
    pub act_fn: String,
    /// Always null: compiled models have no layer norm.
    pub normalization_type: Option<String>,
    /// "bidirectional" or "causal".
    pub attention_dir: String,
    pub attn_only: bool,
    pub use_attn_scale: bool,
    /// Scores are divided by this (sqrt(d_head)); the weights compensate.
    pub attn_scale: f64,
    /// Always "standard".
    pub positional_embedding_type: String,
}

/// One attention sublayer: `n_heads` heads.
#[derive(Clone, Debug, PartialEq)]
pub struct Attn {
    /// `[n_heads, d_model, d_head]`
    pub w_q: Array3<f32>,
    /// `[n_heads, d_head]`
    pub b_q: Array2<f32>,
    pub w_k: Array3<f32>,
    pub b_k: Array2<f32>,
    pub w_v: Array3<f32>,
    pub b_v: Array2<f32>,
    /// `[n_heads, d_head, d_model]`
    pub w_o: Array3<f32>,
    /// `[d_model]`
    pub b_o: Array1<f32>,
}

/// One MLP sublayer: `resid += relu(resid · w_in + b_in) · w_out + b_out`.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    /// `[d_model, d_mlp]`
    pub w_in: Array2<f32>,
    /// `[d_mlp]`
    pub b_in: Array1<f32>,
    /// `[d_mlp, d_model]`
    pub w_out: Array2<f32>,
    /// `[d_model]`
    pub b_out: Array1<f32>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub attn: Attn,
    pub mlp: Mlp,
}

/// A compiled model: weights plus [`Meta`].
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub config: Config,
    /// `[d_vocab, d_model]`
    pub w_e: Array2<f32>,
    /// `[n_ctx, d_model]`
    pub w_pos: Array2<f32>,
    pub blocks: Vec<Block>,
    /// `[d_model, d_vocab_out]`
    pub w_u: Array2<f32>,
    /// `[d_vocab_out]`
    pub b_u: Array1<f32>,
    pub meta: Meta,
}

/// How an s-op is held in the residual stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// One dim per value, one-hot.
    Categorical,
    /// One dim holding the number. As the model's output, two unembedding
    /// columns, `+x` and `-x` (see [`unembedding`]).
    Numerical,
}

/// Where a piece of the program lives in the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    /// The s-op's name (user name, or its source text).
    pub name: String,
    pub encoding: Encoding,
    /// Residual dims, in order (categorical: one per entry of `values`).
    pub dims: Vec<usize>,
    /// The values the dims stand for (categorical), or the values a
    /// numerical s-op can take when known (used to snap decoded numbers).
    pub values: Vec<serde_json::Value>,
    /// "embed" (layer null), "attn" or "mlp".
    pub sublayer: String,
    /// The layer (0-based) that writes the dims; none for embeddings.
    pub layer: Option<usize>,
    /// The heads (within the layer) that compute it, for attention.
    pub heads: Vec<usize>,
    /// A numerical s-op held as a combination of dims (a linear map of
    /// other s-ops): the weight of each of `dims`, and the value is
    /// `Σ coefs[i] · resid[dims[i]]`. Empty: one dim, weight 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coefs: Vec<f32>,
    /// The layer whose MLP zeroes (some of) these dims once nothing reads
    /// them any more, so a later s-op can reuse them: read this s-op before
    /// that MLP (after its own sublayer). Absent: it stays to the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleared_in: Option<usize>,
}

impl Placement {
    /// The (dim, weight) pairs whose sum is a numerical placement's value.
    pub fn terms(&self) -> Vec<(usize, f32)> {
        if self.coefs.is_empty() {
            self.dims.iter().map(|d| (*d, 1.0)).collect()
        } else {
            self.dims
                .iter()
                .copied()
                .zip(self.coefs.iter().copied())
                .collect()
        }
    }
}

/// What was checked before a model was written: the model against the
/// interpreter on `inputs` inputs of lengths 1..=`max_len` (every input
/// when `exhaustive`, else seeded samples of every length).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    pub inputs: usize,
    pub mismatches: usize,
    /// Inputs the program itself rejects (not compared).
    pub program_errors: usize,
    pub exhaustive: bool,
    pub seed: Option<u64>,
    /// Compared with the program's causal values (RASP-L's semantics).
    pub causal: bool,
    pub max_len: usize,
}

/// `rasp.json`: everything needed to use the weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// Always "rasp-model".
    pub format: String,
    pub format_version: u32,
    /// The rasp version that compiled it.
    pub rasp_version: String,
    /// The program: its source text, file name and compiled s-op.
    pub source: String,
    pub file: String,
    pub sop: String,
    /// Raw input tokens; token id i is `vocab[i]`.
    pub vocab: Vec<serde_json::Value>,
    pub bos_id: usize,
    pub pad_id: usize,
    pub max_len: usize,
    pub causal: bool,
    /// Residual dim labels in dim order (`name:value`, `name`, `one`, ...).
    pub residual: Vec<String>,
    /// The output s-op; for categorical outputs output id i is
    /// `output.values[i]` (the unembedding reads `output.dims`); a
    /// numerical output has two logits, `+x` and `-x` ([`unembedding`]).
    pub output: Placement,
    /// How a numerical output is decoded position by position, where its
    /// values are too close together to decode by the nearest of them all
    /// (then `output.values` is empty); see [`grid`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_grid: Option<grid::Grid>,
    /// Every compiled s-op (the output too), in program order.
    pub sops: Vec<Placement>,
    /// Per layer, e.g. "A2 M40" (heads and MLP units actually used).
    pub layout: Vec<String>,
    /// What was verified before the model was written (absent: nothing,
    /// e.g. `rasp compile --no-verify`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<Verification>,
}

impl Meta {
    /// The input tokens as atoms, in token-id order (BOS and PAD, the ids
    /// after them, are not in `vocab`).
    pub fn vocab_values(&self) -> Vec<crate::ir::Value> {
        self.vocab
            .iter()
            .filter_map(codec::value_from_json)
            .collect()
    }
}

pub const FORMAT: &str = "rasp-model";
/// The format version this rasp writes and reads. History:
/// 1: a numerical output had one unembedding column (TransformerLens's
/// `center_unembed` made it 0); 2: it has two, `+x` and `-x`; 3:
/// `rasp.json` records the checksums of the three files (version 2 is read
/// only as a modified model, `--allow-modified`); 4: a causal model has
/// RASP-L's causal semantics (each selector sees the keys at or before its
/// query, `length` is the prefix length), where in version 3 it computed
/// the program on each prefix (a version-3 bidirectional model is read as
/// it is; a version-3 causal one is refused); 5: a numerical output may be
/// decoded position by position (`output_grid`; a version-4 model is read
/// as it is); 6: an output grid may be keyed by the input's length
/// (`output_grid.by`; a version-5 model, whose grids are by position, is
/// read as it is).
pub const FORMAT_VERSION: u32 = 6;

/// The attention scale of compiled heads of width `d_head`:
/// `sqrt(d_head)` (in f32). The compiler multiplies `W_Q` by it and writes
/// it as `attn_scale`; a model file with another scale is refused.
pub fn attn_scale(d_head: usize) -> f32 {
    (d_head as f32).sqrt()
}

/// How many output logits (`d_vocab_out`) an output placement has: one per
/// value for a categorical output, two (`+x`, `-x`) for a numerical one.
pub fn output_width(output: &Placement) -> usize {
    match output.encoding {
        Encoding::Categorical => output.dims.len(),
        Encoding::Numerical => 2,
    }
}

/// The unembedding `(W_U [d_model, d_vocab_out], b_U [d_vocab_out])` that
/// reads `output` from a residual stream of width `d_model`.
///
/// Categorical: column i is the one-hot of `output.dims[i]`, so output id i
/// is `output.values[i]` and the prediction is the argmax. Numerical: two
/// columns, `+x` and `-x` of the output's dim, decoded as
/// `(logit0 - logit1) / 2`. Every row of `W_U` and `b_U` then has mean 0
/// over the columns or is a one-hot, and both decodings are unchanged by
/// TransformerLens's `center_unembed` (TL 3) / `enable_compatibility_mode`
/// (TL 4), which subtract each row's mean over the output columns: that
/// adds the same number to every logit of a position.
///
/// # Panics
/// If a dim is not below `d_model`, or a numerical output has no dim.
pub fn unembedding(output: &Placement, d_model: usize) -> (Array2<f32>, Array1<f32>) {
    let width = output_width(output);
    let mut w_u = Array2::<f32>::zeros((d_model, width));
    match output.encoding {
        Encoding::Categorical => {
            for (i, &d) in output.dims.iter().enumerate() {
                w_u[[d, i]] = 1.0;
            }
        }
        Encoding::Numerical => {
            assert!(
                !output.dims.is_empty(),
                "numerical output {} has no dim",
                output.name
            );
            for (d, c) in output.terms() {
                w_u[[d, 0]] += c;
                w_u[[d, 1]] -= c;
            }
        }
    }
    (w_u, Array1::zeros(width))
}
