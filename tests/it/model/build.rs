//! Models built by hand, with known weights, for the executor's and the
//! files' tests, and a plain reference forward pass to check against.

use ndarray::{Array1, Array2, Array3, s};
use rasp::ir::Value;
use rasp::model::{
    Attn, Block, Config, Encoding, FORMAT, FORMAT_VERSION, Meta, Mlp, Model, Placement,
    output_width,
};
use serde_json::json;

pub(super) fn placement(
    name: &str,
    encoding: Encoding,
    dims: Vec<usize>,
    values: Vec<serde_json::Value>,
) -> Placement {
    Placement {
        name: name.to_string(),
        encoding,
        dims,
        values,
        sublayer: "embed".to_string(),
        layer: None,
        heads: Vec::new(),
        coefs: Vec::new(),
        cleared_in: None,
    }
}

pub(super) struct Shape {
    pub(super) n_layers: usize,
    pub(super) d_model: usize,
    pub(super) n_heads: usize,
    pub(super) d_head: usize,
    pub(super) d_mlp: usize,
    pub(super) vocab: Vec<serde_json::Value>,
    pub(super) max_len: usize,
    pub(super) causal: bool,
    pub(super) output: Placement,
}

/// A model of this shape with all-zero weights and consistent metadata
/// (BOS and PAD get the two ids after the vocabulary).
pub(super) fn blank(sh: Shape) -> Model {
    let d_vocab = sh.vocab.len() + 2;
    let d_vocab_out = output_width(&sh.output);
    let (dm, nh, dh) = (sh.d_model, sh.n_heads, sh.d_head);
    let config = Config {
        n_layers: sh.n_layers,
        d_model: dm,
        d_head: dh,
        n_heads: nh,
        d_mlp: sh.d_mlp,
        n_ctx: sh.max_len + 1,
        d_vocab,
        d_vocab_out,
        act_fn: "relu".to_string(),
        normalization_type: None,
        attention_dir: if sh.causal { "causal" } else { "bidirectional" }.to_string(),
        attn_only: false,
        use_attn_scale: false,
        attn_scale: 1.0,
        positional_embedding_type: "standard".to_string(),
    };
    let blocks = (0..sh.n_layers)
        .map(|_| Block {
            attn: Attn {
                w_q: Array3::zeros((nh, dm, dh)),
                b_q: Array2::zeros((nh, dh)),
                w_k: Array3::zeros((nh, dm, dh)),
                b_k: Array2::zeros((nh, dh)),
                w_v: Array3::zeros((nh, dm, dh)),
                b_v: Array2::zeros((nh, dh)),
                w_o: Array3::zeros((nh, dh, dm)),
                b_o: Array1::zeros(dm),
            },
            mlp: Mlp {
                w_in: Array2::zeros((dm, sh.d_mlp)),
                b_in: Array1::zeros(sh.d_mlp),
                w_out: Array2::zeros((sh.d_mlp, dm)),
                b_out: Array1::zeros(dm),
            },
        })
        .collect();
    let meta = Meta {
        format: FORMAT.to_string(),
        format_version: FORMAT_VERSION,
        output_grid: None,
        rasp_version: "0.1.0".to_string(),
        source: "out = tokens;".to_string(),
        file: "test.rasp".to_string(),
        sop: "out".to_string(),
        bos_id: sh.vocab.len(),
        pad_id: sh.vocab.len() + 1,
        vocab: sh.vocab,
        max_len: sh.max_len,
        causal: sh.causal,
        residual: (0..dm).map(|i| format!("r{i}")).collect(),
        output: sh.output.clone(),
        sops: vec![sh.output],
        layout: vec![
            match sh.d_mlp {
                0 => "A1".to_string(),
                _ => "A1 M1".to_string(),
            };
            sh.n_layers
        ],
        verified: None,
    };
    Model {
        config,
        w_e: Array2::zeros((d_vocab, dm)),
        w_pos: Array2::zeros((sh.max_len + 1, dm)),
        blocks,
        w_u: Array2::zeros((dm, d_vocab_out)),
        b_u: Array1::zeros(d_vocab_out),
        meta,
    }
}

// The numerical model. Vocab [1, 2, 3, 4] (ids 0..4), BOS 4, PAD 5.
// Residual dims: 0 one, 1 x (the token's value; BOS 0, PAD 100 so that an
// unmasked PAD would show), 2 a (head 0), 3 y (the MLP), 4 m (head 1).
// Head 0: score = x_key / scale, value x: a = softmax-weighted mean of x.
// Head 1: scores 0, value x: m = plain mean of x over the visible keys.
// MLP: y = 2 relu(m - 1) + 0.5 (plus a unit whose W_out row is zero).
// Output: numerical, logits (y + 0.25, -y - 0.25), decoded y + 0.25.
pub(super) const ONE: usize = 0;
pub(super) const X: usize = 1;
pub(super) const A: usize = 2;
pub(super) const Y: usize = 3;
pub(super) const M: usize = 4;
pub(super) const BOS: usize = 4;
pub(super) const PAD: usize = 5;

pub(super) fn numerical_model(
    causal: bool,
    scale: Option<f64>,
    snap: Vec<serde_json::Value>,
) -> Model {
    let out = placement("y", Encoding::Numerical, vec![Y], snap);
    let mut m = blank(Shape {
        n_layers: 1,
        d_model: 5,
        n_heads: 2,
        d_head: 1,
        d_mlp: 2,
        vocab: vec![json!(1), json!(2), json!(3), json!(4)],
        max_len: 8,
        causal,
        output: out,
    });
    if let Some(s) = scale {
        m.config.use_attn_scale = true;
        m.config.attn_scale = s;
    }
    for id in 0..6 {
        m.w_e[[id, ONE]] = 1.0;
        m.w_e[[id, X]] = match id {
            BOS => 0.0,
            PAD => 100.0,
            t => (t + 1) as f32,
        };
    }
    let a = &mut m.blocks[0].attn;
    a.w_q[[0, ONE, 0]] = 1.0;
    a.w_k[[0, X, 0]] = 1.0;
    a.w_v[[0, X, 0]] = 1.0;
    a.w_o[[0, 0, A]] = 1.0;
    a.w_v[[1, X, 0]] = 1.0;
    a.w_o[[1, 0, M]] = 1.0;
    let mlp = &mut m.blocks[0].mlp;
    mlp.w_in[[M, 0]] = 1.0;
    mlp.b_in[0] = -1.0;
    mlp.w_out[[0, Y]] = 2.0;
    mlp.w_in[[M, 1]] = -1.0;
    mlp.b_in[1] = 1.0;
    mlp.b_out[Y] = 0.5;
    m.w_u[[Y, 0]] = 1.0;
    m.w_u[[Y, 1]] = -1.0;
    m.b_u[0] = 0.25;
    m.b_u[1] = -0.25;
    m.meta.sops.push(placement(
        "x",
        Encoding::Numerical,
        vec![X],
        vec![json!(0), json!(1), json!(2), json!(3), json!(4)],
    ));
    m
}

/// The numerical model's final residual, computed by hand in f64.
pub(super) fn numerical_expected(xs: &[i64], causal: bool, scale: f64) -> Vec<[f64; 5]> {
    let x: Vec<f64> = std::iter::once(0.0)
        .chain(xs.iter().map(|&v| v as f64))
        .collect();
    (0..x.len())
        .map(|i| {
            let keys = if causal { &x[..=i] } else { &x[..] };
            let top = keys.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let w: Vec<f64> = keys.iter().map(|k| ((k - top) / scale).exp()).collect();
            let a = w.iter().zip(keys).map(|(w, k)| w * k).sum::<f64>() / w.iter().sum::<f64>();
            let m = keys.iter().sum::<f64>() / keys.len() as f64;
            let y = 2.0 * (m - 1.0).max(0.0) + 0.5;
            [1.0, x[i], a, y, m]
        })
        .collect()
}

pub(super) fn ids(xs: &[i64]) -> Vec<usize> {
    std::iter::once(BOS)
        .chain(xs.iter().map(|&v| (v - 1) as usize))
        .collect()
}

pub(super) fn ints(xs: &[i64]) -> Vec<Value> {
    xs.iter().map(|&v| Value::Int(v)).collect()
}

pub(super) fn strs(xs: &str) -> Vec<Value> {
    xs.chars().map(|c| Value::str(&c.to_string())).collect()
}

pub(super) fn assert_close(got: &Array2<f32>, want: &[[f64; 5]], tol: f64) {
    assert_eq!(got.nrows(), want.len(), "rows");
    for (i, row) in want.iter().enumerate() {
        for (d, &w) in row.iter().enumerate() {
            let g = f64::from(got[[i, d]]);
            assert!(
                (g - w).abs() <= tol * (1.0 + w.abs()),
                "row {i} dim {d}: got {g}, want {w}"
            );
        }
    }
}

pub(super) fn max_diff(a: &Array2<f32>, b: &Array2<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

// The categorical model: "the previous token". Vocab a, b, c (ids 0..3),
// BOS 3, PAD 4. Dims 0..3 token one-hot, 3..9 position one-hot (n_ctx 6),
// 9..12 the previous token one-hot. One head: query position i matches key
// position i - 1 with score 50; value = the key's token one-hot.
pub(super) fn previous_token_model(causal: bool) -> Model {
    let letters = ["a", "b", "c"];
    let out = placement(
        "prev",
        Encoding::Categorical,
        vec![9, 10, 11],
        letters.iter().map(|l| json!(l)).collect(),
    );
    let mut m = blank(Shape {
        n_layers: 1,
        d_model: 12,
        n_heads: 1,
        d_head: 6,
        d_mlp: 0,
        vocab: letters.iter().map(|l| json!(l)).collect(),
        max_len: 5,
        causal,
        output: out,
    });
    for t in 0..3 {
        m.w_e[[t, t]] = 1.0;
    }
    for p in 0..6 {
        m.w_pos[[p, 3 + p]] = 1.0;
    }
    let a = &mut m.blocks[0].attn;
    for p in 1..6 {
        a.w_q[[0, 3 + p, p - 1]] = 50.0;
    }
    for p in 0..6 {
        a.w_k[[0, 3 + p, p]] = 1.0;
    }
    for t in 0..3 {
        a.w_v[[0, t, t]] = 1.0;
        a.w_o[[0, t, 9 + t]] = 1.0;
    }
    for t in 0..3 {
        m.w_u[[9 + t, t]] = 1.0;
    }
    m.meta.sops.insert(
        0,
        placement(
            "tokens",
            Encoding::Categorical,
            vec![0, 1, 2],
            letters.iter().map(|l| json!(l)).collect(),
        ),
    );
    m
}

// ---------------------------------------------------------------------------
// A plain reference forward pass, written straight from the module doc:
// pad to the longest with PAD, mask PAD keys (and later keys when causal),
// per head, per query.

pub(super) fn reference_forward(m: &Model, batch: &[Vec<usize>]) -> Vec<Array2<f32>> {
    let c = &m.config;
    let longest = batch.iter().map(Vec::len).max().unwrap_or(0);
    batch
        .iter()
        .map(|seq| {
            let mut toks = seq.clone();
            toks.resize(longest, m.meta.pad_id);
            let n = toks.len();
            let mut r = Array2::<f32>::zeros((n, c.d_model));
            for (p, &t) in toks.iter().enumerate() {
                let row = &m.w_e.row(t) + &m.w_pos.row(p);
                r.row_mut(p).assign(&row);
            }
            for b in &m.blocks {
                let a = &b.attn;
                let mut add = Array2::<f32>::zeros((n, c.d_model));
                for h in 0..c.n_heads {
                    let q = r.dot(&a.w_q.slice(s![h, .., ..])) + a.b_q.row(h);
                    let k = r.dot(&a.w_k.slice(s![h, .., ..])) + a.b_k.row(h);
                    let v = r.dot(&a.w_v.slice(s![h, .., ..])) + a.b_v.row(h);
                    let mut z = Array2::<f32>::zeros((n, c.d_head));
                    for i in 0..n {
                        let mut scores = vec![f64::NEG_INFINITY; n];
                        for (j, sc) in scores.iter_mut().enumerate() {
                            let masked =
                                toks[j] == m.meta.pad_id || (c.attention_dir == "causal" && j > i);
                            if !masked {
                                let mut d = f64::from(q.row(i).dot(&k.row(j)));
                                if c.use_attn_scale {
                                    d /= c.attn_scale;
                                }
                                *sc = d;
                            }
                        }
                        let top = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                        let w: Vec<f64> = scores.iter().map(|s| (s - top).exp()).collect();
                        let sum: f64 = w.iter().sum();
                        for (j, wj) in w.iter().enumerate() {
                            let p = (wj / sum) as f32;
                            let vj = v.row(j).to_owned();
                            let mut zi = z.row_mut(i);
                            zi.scaled_add(p, &vj);
                        }
                    }
                    add = add + z.dot(&a.w_o.slice(s![h, .., ..]));
                }
                r = r + add + &a.b_o;
                if !c.attn_only {
                    let mlp = &b.mlp;
                    let hidden = (r.dot(&mlp.w_in) + &mlp.b_in).mapv(|v| v.max(0.0));
                    r = r + hidden.dot(&mlp.w_out) + &mlp.b_out;
                }
            }
            r.slice(s![..seq.len(), ..]).to_owned()
        })
        .collect()
}

/// A deterministic generator for test data.
pub(super) struct Lcg(pub(super) u64);

impl Lcg {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub(super) fn unit(&mut self) -> f32 {
        (self.next() % 2_000_001) as f32 / 1_000_000.0 - 1.0
    }
}

/// A random model; with `sparse`, heads, units, rows and layers are zeroed
/// the way compiled models are.
pub(super) fn random_model(seed: u64, causal: bool, sparse: bool) -> Model {
    let mut g = Lcg(seed);
    let out = placement(
        "out",
        Encoding::Categorical,
        vec![0, 1, 2],
        vec![json!(0), json!(1), json!(2)],
    );
    let mut m = blank(Shape {
        n_layers: 3,
        d_model: 24,
        n_heads: 3,
        d_head: 5,
        d_mlp: 16,
        vocab: (0..6).map(|i| json!(i)).collect(),
        max_len: 12,
        causal,
        output: out,
    });
    m.config.use_attn_scale = true;
    // The scale compiled models have (the files' rule).
    m.config.attn_scale = f64::from(5f32.sqrt());
    let mut fill = |a: &mut [f32], density: u64| {
        for x in a {
            *x = if g.next() % 100 < density {
                g.unit()
            } else {
                0.0
            };
        }
    };
    let d = if sparse { 15 } else { 100 };
    fill(m.w_e.as_slice_mut().unwrap(), 100);
    fill(m.w_pos.as_slice_mut().unwrap(), 100);
    for (l, b) in m.blocks.iter_mut().enumerate() {
        let a = &mut b.attn;
        for w in [&mut a.w_q, &mut a.w_k, &mut a.w_v, &mut a.w_o] {
            fill(w.as_slice_mut().unwrap(), d);
        }
        for w in [&mut a.b_q, &mut a.b_k, &mut a.b_v] {
            fill(w.as_slice_mut().unwrap(), d);
        }
        fill(a.b_o.as_slice_mut().unwrap(), d);
        let mlp = &mut b.mlp;
        fill(mlp.w_in.as_slice_mut().unwrap(), d);
        fill(mlp.b_in.as_slice_mut().unwrap(), d);
        fill(mlp.w_out.as_slice_mut().unwrap(), d);
        fill(mlp.b_out.as_slice_mut().unwrap(), d);
        if sparse {
            // Heads reading different dims, a dead head, dead units, and a
            // skipped (all-zero) MLP.
            for h in 0..3 {
                for r in (0..24).filter(|r| r % 3 != h) {
                    for w in [&mut a.w_q, &mut a.w_k, &mut a.w_v] {
                        w.slice_mut(s![h, r, ..]).fill(0.0);
                    }
                }
            }
            a.w_o.slice_mut(s![1, .., ..]).fill(0.0);
            mlp.w_out.slice_mut(s![..5, ..]).fill(0.0);
            if l == 1 {
                mlp.w_out.fill(0.0);
                mlp.b_out.fill(0.0);
            }
        }
    }
    fill(m.w_u.as_slice_mut().unwrap(), 100);
    m
}

pub(super) fn random_batch(
    seed: u64,
    n: usize,
    max_len: usize,
    pad_inside: bool,
) -> Vec<Vec<usize>> {
    let mut g = Lcg(seed);
    (0..n)
        .map(|_| {
            let len = g.below(max_len + 1);
            let mut seq = vec![6];
            for _ in 0..len {
                // Ids 0..6 are tokens; 7 is PAD.
                seq.push(if pad_inside && g.below(8) == 0 {
                    7
                } else {
                    g.below(6)
                });
            }
            seq
        })
        .collect()
}
