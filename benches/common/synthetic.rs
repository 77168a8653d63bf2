//! Synthetic models for the benchmarks (`model.rs`, `open.rs`): random
//! weights of a given shape, from a seeded generator, with the config and
//! metadata every model file needs. Each bench includes this file with
//! `#[path = "common/synthetic.rs"] mod synthetic;`.

use ndarray::Array1;
use rasp::model::{
    Block, Config, Encoding, FORMAT, FORMAT_VERSION, Meta, Model, Placement, attn_scale,
};

/// A model's sizes.
pub struct Shape {
    pub layers: usize,
    pub d_model: usize,
    pub d_mlp: usize,
    pub heads: usize,
    pub d_head: usize,
    pub vocab: usize,
    pub len: usize,
}

/// A seeded linear congruential generator (no dependency, same numbers on
/// every machine).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    #[allow(dead_code)]
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in [-0.1, 0.1].
    pub fn weight(&mut self) -> f32 {
        (self.next() % 2001) as f32 / 10_000.0 - 0.1
    }
}

/// An array of random weights.
pub fn random<D: ndarray::Dimension>(
    g: &mut Lcg,
    shape: impl ndarray::ShapeBuilder<Dim = D>,
) -> ndarray::Array<f32, D> {
    ndarray::Array::from_shape_simple_fn(shape, || g.weight())
}

/// A model of `shape` whose blocks `block` makes (the embeddings and the
/// unembedding random), its output the one-hot of the first `vocab` dims;
/// `layout` is each layer's entry in `rasp.json`.
pub fn model(
    shape: &Shape,
    seed: u64,
    layout: &str,
    mut block: impl FnMut(&mut Lcg) -> Block,
) -> Model {
    let s = shape;
    let mut g = Lcg(seed);
    let vocab: Vec<serde_json::Value> = (0..s.vocab).map(|i| serde_json::json!(i)).collect();
    let output = Placement {
        name: "out".into(),
        encoding: Encoding::Categorical,
        dims: (0..s.vocab).collect(),
        values: vocab.clone(),
        sublayer: "embed".into(),
        layer: None,
        heads: Vec::new(),
        coefs: Vec::new(),
        cleared_in: None,
    };
    let blocks = (0..s.layers).map(|_| block(&mut g)).collect();
    Model {
        config: Config {
            n_layers: s.layers,
            d_model: s.d_model,
            d_head: s.d_head,
            n_heads: s.heads,
            d_mlp: s.d_mlp,
            n_ctx: s.len + 1,
            d_vocab: s.vocab + 2,
            d_vocab_out: s.vocab,
            act_fn: "relu".into(),
            normalization_type: None,
            attention_dir: "bidirectional".into(),
            attn_only: false,
            use_attn_scale: true,
            attn_scale: f64::from(attn_scale(s.d_head)),
            positional_embedding_type: "standard".into(),
        },
        w_e: random(&mut g, (s.vocab + 2, s.d_model)),
        w_pos: random(&mut g, (s.len + 1, s.d_model)),
        blocks,
        w_u: random(&mut g, (s.d_model, s.vocab)),
        b_u: Array1::zeros(s.vocab),
        meta: Meta {
            output_grid: None,
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            rasp_version: env!("CARGO_PKG_VERSION").into(),
            source: String::new(),
            file: "bench.rasp".into(),
            sop: "out".into(),
            vocab,
            bos_id: s.vocab,
            pad_id: s.vocab + 1,
            max_len: s.len,
            causal: false,
            residual: (0..s.d_model).map(|i| format!("r{i}")).collect(),
            output: output.clone(),
            sops: vec![output],
            layout: vec![layout.to_string(); s.layers],
            verified: None,
        },
    }
}
