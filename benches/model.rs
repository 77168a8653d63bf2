//! The CPU executor: `forward` on a batch of 64 random token sequences of
//! length 21 (BOS + 20) through a 6-layer model with d_model 500,
//! d_mlp 400, 4 heads of 32. Two weight patterns: every weight random
//! ("dense", the worst case), and the sparsity of compiled models ("compiled":
//! per layer two live heads reading 40 residual dims and writing 20, and
//! 120 live MLP units reading 40 dims and writing 20).

use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::{Array1, Array2};
use rasp::model::{
    Attn, Block, Config, Encoding, FORMAT, FORMAT_VERSION, Meta, Mlp, Model, Placement,
};

const LAYERS: usize = 6;
const D_MODEL: usize = 500;
const D_MLP: usize = 400;
const HEADS: usize = 4;
const D_HEAD: usize = 32;
const VOCAB: usize = 20;
const LEN: usize = 20;
const BATCH: usize = 64;

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Uniform in [-0.1, 0.1].
    fn weight(&mut self) -> f32 {
        (self.next() % 2001) as f32 / 10_000.0 - 0.1
    }
    /// `k` distinct dims below `n`.
    fn dims(&mut self, k: usize, n: usize) -> Vec<usize> {
        let mut out = Vec::with_capacity(k);
        while out.len() < k {
            let d = self.below(n);
            if !out.contains(&d) {
                out.push(d);
            }
        }
        out
    }
}

fn random<D: ndarray::Dimension>(
    g: &mut Lcg,
    shape: impl ndarray::ShapeBuilder<Dim = D>,
) -> ndarray::Array<f32, D> {
    ndarray::Array::from_shape_simple_fn(shape, || g.weight())
}

fn model(compiled: bool) -> Model {
    let mut g = Lcg(42);
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
        .map(|_| {
            let mut attn = Attn {
                w_q: random(&mut g, (HEADS, D_MODEL, D_HEAD)),
                b_q: Array2::zeros((HEADS, D_HEAD)),
                w_k: random(&mut g, (HEADS, D_MODEL, D_HEAD)),
                b_k: Array2::zeros((HEADS, D_HEAD)),
                w_v: random(&mut g, (HEADS, D_MODEL, D_HEAD)),
                b_v: Array2::zeros((HEADS, D_HEAD)),
                w_o: random(&mut g, (HEADS, D_HEAD, D_MODEL)),
                b_o: random(&mut g, D_MODEL),
            };
            let mut mlp = Mlp {
                w_in: random(&mut g, (D_MODEL, D_MLP)),
                b_in: random(&mut g, D_MLP),
                w_out: random(&mut g, (D_MLP, D_MODEL)),
                b_out: Array1::zeros(D_MODEL),
            };
            if compiled {
                sparsify(&mut g, &mut attn, &mut mlp);
            }
            Block { attn, mlp }
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
            attn_scale: (D_HEAD as f64).sqrt(),
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
            layout: vec!["A2 M120".into(); LAYERS],
            verified: None,
        },
    }
}

/// Keep what a compiled layer uses: two heads, each reading 40 residual
/// dims and writing 20; 120 MLP units reading 40 dims and writing 20.
fn sparsify(g: &mut Lcg, a: &mut Attn, m: &mut Mlp) {
    let keep = |w: &mut Array2<f32>, rows: &[usize], cols: &[usize]| {
        for ((r, c), x) in w.indexed_iter_mut() {
            if !rows.contains(&r) || !cols.contains(&c) {
                *x = 0.0;
            }
        }
    };
    let all_head: Vec<usize> = (0..D_HEAD).collect();
    for h in 0..HEADS {
        let live = h < 2;
        let reads = if live {
            g.dims(40, D_MODEL)
        } else {
            Vec::new()
        };
        let writes = if live {
            g.dims(20, D_MODEL)
        } else {
            Vec::new()
        };
        for w in [&mut a.w_q, &mut a.w_k, &mut a.w_v] {
            let mut head: Array2<f32> = w.index_axis(ndarray::Axis(0), h).to_owned();
            keep(&mut head, &reads, &all_head);
            w.index_axis_mut(ndarray::Axis(0), h).assign(&head);
        }
        let mut o: Array2<f32> = a.w_o.index_axis(ndarray::Axis(0), h).to_owned();
        keep(&mut o, &all_head, &writes);
        a.w_o.index_axis_mut(ndarray::Axis(0), h).assign(&o);
    }
    a.b_o.fill(0.0);
    let units = g.dims(120, D_MLP);
    let reads = g.dims(40, D_MODEL);
    let writes = g.dims(20, D_MODEL);
    keep(&mut m.w_in, &reads, &units);
    keep(&mut m.w_out, &units, &writes);
    let b_in: Array1<f32> =
        Array1::from_shape_fn(D_MLP, |j| if units.contains(&j) { m.b_in[j] } else { 0.0 });
    m.b_in = b_in;
}

fn batch() -> Vec<Vec<usize>> {
    let mut g = Lcg(7);
    (0..BATCH)
        .map(|_| {
            std::iter::once(VOCAB)
                .chain((0..LEN).map(|_| g.below(VOCAB)))
                .collect()
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let batch = batch();
    let mut g = c.benchmark_group("forward_b64_len21_6x500");
    for (name, compiled) in [("dense", false), ("compiled", true)] {
        let m = model(compiled);
        g.bench_function(name, |b| b.iter(|| m.forward(&batch)));
        let prepared = m.prepare();
        g.bench_function(format!("{name}_prepared"), |b| {
            b.iter(|| prepared.forward(&batch))
        });
        g.bench_function(format!("{name}_prepare_only"), |b| b.iter(|| m.prepare()));
    }
    g.finish();
}

criterion_group!(model_benches, benches);
criterion_main!(model_benches);
