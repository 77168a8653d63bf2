//! Opening a model folder (`model::io::open`: read and check `rasp.json`
//! and `config.json`, map `model.safetensors`, check every weight, verify
//! the three checksums) for a 26 MB model: 6 layers, d_model 672, 4 heads
//! of 32, 544 MLP units, random weights (the file's size is what counts).
//! Beside it, the checksum alone (XXH3-64 of the weights' bytes, in memory)
//! and `open_with(allow_modified)` on a folder whose weights changed (the
//! same work, then a warning instead of an error).
//!
//! `cargo bench --bench open`; the files are written once, to a temp
//! folder, and read from the page cache.

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::Array1;
use rasp::model::io::{OpenOptions, integrity, open, open_with, save};
use rasp::model::{
    Attn, Block, Config, Encoding, FORMAT, FORMAT_VERSION, Meta, Mlp, Model, Placement, attn_scale,
};

const LAYERS: usize = 6;
const D_MODEL: usize = 672;
const D_MLP: usize = 544;
const HEADS: usize = 4;
const D_HEAD: usize = 32;
const VOCAB: usize = 20;
const LEN: usize = 20;

struct Lcg(u64);

impl Lcg {
    fn weight(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % 2001) as f32 / 10_000.0 - 0.1
    }
}

fn random<D: ndarray::Dimension>(
    g: &mut Lcg,
    shape: impl ndarray::ShapeBuilder<Dim = D>,
) -> ndarray::Array<f32, D> {
    ndarray::Array::from_shape_simple_fn(shape, || g.weight())
}

fn model() -> Model {
    let mut g = Lcg(26);
    let vocab: Vec<serde_json::Value> = (0..VOCAB).map(|i| serde_json::json!(i)).collect();
    let output = Placement {
        name: "out".into(),
        encoding: Encoding::Categorical,
        dims: (0..VOCAB).collect(),
        values: vocab.clone(),
        sublayer: "embed".into(),
        layer: None,
        heads: Vec::new(),
        coefs: Vec::new(),
        cleared_in: None,
    };
    let blocks = (0..LAYERS)
        .map(|_| Block {
            attn: Attn {
                w_q: random(&mut g, (HEADS, D_MODEL, D_HEAD)),
                b_q: random(&mut g, (HEADS, D_HEAD)),
                w_k: random(&mut g, (HEADS, D_MODEL, D_HEAD)),
                b_k: random(&mut g, (HEADS, D_HEAD)),
                w_v: random(&mut g, (HEADS, D_MODEL, D_HEAD)),
                b_v: random(&mut g, (HEADS, D_HEAD)),
                w_o: random(&mut g, (HEADS, D_HEAD, D_MODEL)),
                b_o: random(&mut g, D_MODEL),
            },
            mlp: Mlp {
                w_in: random(&mut g, (D_MODEL, D_MLP)),
                b_in: random(&mut g, D_MLP),
                w_out: random(&mut g, (D_MLP, D_MODEL)),
                b_out: random(&mut g, D_MODEL),
            },
        })
        .collect();
    Model {
        config: Config {
            n_layers: LAYERS,
            d_model: D_MODEL,
            d_head: D_HEAD,
            n_heads: HEADS,
            d_mlp: D_MLP,
            n_ctx: LEN + 1,
            d_vocab: VOCAB + 2,
            d_vocab_out: VOCAB,
            act_fn: "relu".into(),
            normalization_type: None,
            attention_dir: "bidirectional".into(),
            attn_only: false,
            use_attn_scale: true,
            attn_scale: f64::from(attn_scale(D_HEAD)),
            positional_embedding_type: "standard".into(),
        },
        w_e: random(&mut g, (VOCAB + 2, D_MODEL)),
        w_pos: random(&mut g, (LEN + 1, D_MODEL)),
        blocks,
        w_u: random(&mut g, (D_MODEL, VOCAB)),
        b_u: Array1::zeros(VOCAB),
        meta: Meta {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            rasp_version: env!("CARGO_PKG_VERSION").into(),
            source: String::new(),
            file: "bench.rasp".into(),
            sop: "out".into(),
            vocab,
            bos_id: VOCAB,
            pad_id: VOCAB + 1,
            max_len: LEN,
            causal: false,
            residual: (0..D_MODEL).map(|i| format!("r{i}")).collect(),
            output: output.clone(),
            sops: vec![output],
            layout: vec![format!("A{HEADS} M{D_MLP}"); LAYERS],
            verified: None,
        },
    }
}

/// A model folder in the temp dir, removed on drop.
struct Folder(PathBuf);

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn benches(c: &mut Criterion) {
    let dir = Folder(std::env::temp_dir().join(format!("rasp-bench-open-{}", std::process::id())));
    let m = model();
    save(&m, &dir.0).expect("saves");
    let weights = dir.0.join("model.safetensors");
    let bytes = std::fs::read(&weights).expect("reads");
    let mb = bytes.len() as f64 / 1e6;
    let mut g = c.benchmark_group(format!("open_{mb:.0}MB"));
    g.sample_size(30);
    g.bench_function("open (checked, checksums verified)", |b| {
        b.iter(|| open(&dir.0).expect("opens"))
    });
    g.bench_function("xxh3-64 of the weights, in memory", |b| {
        b.iter(|| integrity::hash(&bytes))
    });
    // The same folder with one weight changed: the checksum differs, the
    // model opens as modified.
    let modified = Folder(dir.0.with_extension("modified"));
    save(&m, &modified.0).expect("saves");
    let mut changed = bytes.clone();
    let last = changed.len() - 1;
    changed[last] ^= 1;
    std::fs::write(modified.0.join("model.safetensors"), changed).expect("writes");
    let opts = OpenOptions {
        allow_modified: true,
    };
    g.bench_function("open_with(allow_modified), weights changed", |b| {
        b.iter(|| {
            let f = open_with(&modified.0, opts).expect("opens");
            assert!(!f.integrity.is_verified());
            f
        })
    });
    g.finish();
}

criterion_group!(open_benches, benches);
criterion_main!(open_benches);
