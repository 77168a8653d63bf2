//! The CPU executor: `forward` on a batch of 64 random token sequences of
//! length 21 (BOS + 20) through a 6-layer model with d_model 500,
//! d_mlp 400, 4 heads of 32. Two weight patterns: every weight random
//! ("dense", the worst case), and the sparsity of compiled models ("compiled":
//! per layer two live heads reading 40 residual dims and writing 20, and
//! 120 live MLP units reading 40 dims and writing 20).

use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::{Array1, Array2};
use rasp::model::{Attn, Block, Mlp, Model};

#[path = "common/synthetic.rs"]
mod synthetic;
use synthetic::{Lcg, Shape, random};

const SHAPE: Shape = Shape {
    layers: 6,
    d_model: 500,
    d_mlp: 400,
    heads: 4,
    d_head: 32,
    vocab: 20,
    len: 20,
};
const D_MODEL: usize = SHAPE.d_model;
const D_MLP: usize = SHAPE.d_mlp;
const HEADS: usize = SHAPE.heads;
const D_HEAD: usize = SHAPE.d_head;
const VOCAB: usize = SHAPE.vocab;
const LEN: usize = SHAPE.len;
const BATCH: usize = 64;

/// `k` distinct dims below `n`.
fn dims(g: &mut Lcg, k: usize, n: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(k);
    while out.len() < k {
        let d = g.below(n);
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

fn model(compiled: bool) -> Model {
    synthetic::model(&SHAPE, 42, "A2 M120", |g| {
        let mut attn = Attn {
            w_q: random(g, (HEADS, D_MODEL, D_HEAD)),
            b_q: Array2::zeros((HEADS, D_HEAD)),
            w_k: random(g, (HEADS, D_MODEL, D_HEAD)),
            b_k: Array2::zeros((HEADS, D_HEAD)),
            w_v: random(g, (HEADS, D_MODEL, D_HEAD)),
            b_v: Array2::zeros((HEADS, D_HEAD)),
            w_o: random(g, (HEADS, D_HEAD, D_MODEL)),
            b_o: random(g, D_MODEL),
        };
        let mut mlp = Mlp {
            w_in: random(g, (D_MODEL, D_MLP)),
            b_in: random(g, D_MLP),
            w_out: random(g, (D_MLP, D_MODEL)),
            b_out: Array1::zeros(D_MODEL),
        };
        if compiled {
            sparsify(g, &mut attn, &mut mlp);
        }
        Block { attn, mlp }
    })
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
            dims(g, 40, D_MODEL)
        } else {
            Vec::new()
        };
        let writes = if live {
            dims(g, 20, D_MODEL)
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
    let units = dims(g, 120, D_MLP);
    let reads = dims(g, 40, D_MODEL);
    let writes = dims(g, 20, D_MODEL);
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
