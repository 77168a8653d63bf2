//! Compiled transformers: the weights (TransformerLens names and shapes,
//! row-vector convention `x · W`), the metadata that makes them usable
//! (vocab, residual labels, where each s-op lives, how to decode the
//! output), the CPU executor and the model files.
//!
//! A model has no layer norm. Forward pass, per layer `l`:
//! `resid += attn_l(resid); resid += mlp_l(resid)`, where attention scores
//! are `q · k / attn_scale` (when `use_attn_scale`), PAD keys are masked,
//! and, when causal, keys after the query are masked. Position 0 always
//! holds BOS.

pub mod exec;
pub mod io;

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
    /// One dim holding the number.
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
    /// `output.values[i]` (the unembedding reads `output.dims`).
    pub output: Placement,
    /// Every compiled s-op (the output too), in program order.
    pub sops: Vec<Placement>,
    /// Per layer, e.g. "A2 M40" (heads and MLP units actually used).
    pub layout: Vec<String>,
}

pub const FORMAT: &str = "rasp-model";
pub const FORMAT_VERSION: u32 = 1;
