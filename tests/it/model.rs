//! The model stage: the CPU executor against hand-built models with known
//! weights and a plain reference forward pass, and the model files
//! (round trip, and a diagnostic for every kind of damage).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::{Array1, Array2, Array3, s};
use rasp::diag::codes;
use rasp::ir::Value;
use rasp::model::codec::{value_from_json, value_to_json};
use rasp::model::io::{OpenOptions, load, load_with, save};

const MODIFIED: OpenOptions = OpenOptions {
    allow_modified: true,
};
use rasp::model::{
    Attn, Block, Config, Encoding, FORMAT, FORMAT_VERSION, Meta, Mlp, Model, Placement,
    output_width, unembedding,
};
use serde_json::json;

// ---------------------------------------------------------------------------
// Building models by hand

fn placement(
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

struct Shape {
    n_layers: usize,
    d_model: usize,
    n_heads: usize,
    d_head: usize,
    d_mlp: usize,
    vocab: Vec<serde_json::Value>,
    max_len: usize,
    causal: bool,
    output: Placement,
}

/// A model of this shape with all-zero weights and consistent metadata
/// (BOS and PAD get the two ids after the vocabulary).
fn blank(sh: Shape) -> Model {
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
const ONE: usize = 0;
const X: usize = 1;
const A: usize = 2;
const Y: usize = 3;
const M: usize = 4;
const BOS: usize = 4;
const PAD: usize = 5;

fn numerical_model(causal: bool, scale: Option<f64>, snap: Vec<serde_json::Value>) -> Model {
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
fn numerical_expected(xs: &[i64], causal: bool, scale: f64) -> Vec<[f64; 5]> {
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

fn ids(xs: &[i64]) -> Vec<usize> {
    std::iter::once(BOS)
        .chain(xs.iter().map(|&v| (v - 1) as usize))
        .collect()
}

fn ints(xs: &[i64]) -> Vec<Value> {
    xs.iter().map(|&v| Value::Int(v)).collect()
}

fn strs(xs: &str) -> Vec<Value> {
    xs.chars().map(|c| Value::str(&c.to_string())).collect()
}

fn assert_close(got: &Array2<f32>, want: &[[f64; 5]], tol: f64) {
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

fn max_diff(a: &Array2<f32>, b: &Array2<f32>) -> f32 {
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
fn previous_token_model(causal: bool) -> Model {
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

fn reference_forward(m: &Model, batch: &[Vec<usize>]) -> Vec<Array2<f32>> {
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
    fn unit(&mut self) -> f32 {
        (self.next() % 2_000_001) as f32 / 1_000_000.0 - 1.0
    }
}

/// A random model; with `sparse`, heads, units, rows and layers are zeroed
/// the way compiled models are.
fn random_model(seed: u64, causal: bool, sparse: bool) -> Model {
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

fn random_batch(seed: u64, n: usize, max_len: usize, pad_inside: bool) -> Vec<Vec<usize>> {
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

// ---------------------------------------------------------------------------
// The executor

#[test]
fn numerical_model_matches_hand_computation() {
    let m = numerical_model(false, None, Vec::new());
    let xs = [1, 2, 3, 4, 1];
    let r = m.forward(&[ids(&xs)]);
    assert_close(&r[0], &numerical_expected(&xs, false, 1.0), 1e-5);
    // Mean of [0, 1, 2, 3, 4, 1] is 11/6: y = 2 (11/6 - 1) + 0.5, +0.25.
    let out = m.decode(&r[0]);
    assert_eq!(out.len(), xs.len());
    let want = 2.0 * (11.0 / 6.0 - 1.0) + 0.75;
    for v in &out {
        match v {
            Value::Float(f) => assert!((f - want).abs() < 1e-5, "{f} vs {want}"),
            other => panic!("expected a float, got {other:?}"),
        }
    }
    let logits = m.logits(&r[0]);
    assert_eq!(logits.shape(), &[xs.len() + 1, 2]);
    for row in logits.rows() {
        assert!((row[0] + row[1]).abs() < 1e-6, "+x and -x: {row}");
    }
}

#[test]
fn mlp_applies_relu() {
    // Mean below 1: the first unit is cut to 0, so y is just b_out.
    let m = numerical_model(false, None, Vec::new());
    let xs = [1, 1];
    let r = m.forward(&[ids(&xs)]);
    for i in 0..3 {
        assert!((r[0][[i, Y]] - 0.5).abs() < 1e-6, "{}", r[0][[i, Y]]);
    }
    assert_close(&r[0], &numerical_expected(&xs, false, 1.0), 1e-6);
}

#[test]
fn causal_mask() {
    let m = numerical_model(true, None, Vec::new());
    let xs = [4, 1, 3, 2, 2];
    let r = m.forward(&[ids(&xs)]);
    let want = numerical_expected(&xs, true, 1.0);
    assert_close(&r[0], &want, 1e-5);
    // Causal means at positions 0..: 0, 2, 5/3, 2, 2, 2.
    assert!((want[1][M] - 2.0).abs() < 1e-12);
    // A prefix gives the same rows.
    let short = m.forward(&[ids(&xs[..2])]);
    assert!(max_diff(&short[0], &r[0].slice(s![..3, ..]).to_owned()) < 1e-6);
    // Bidirectional differs.
    let bi = numerical_model(false, None, Vec::new()).forward(&[ids(&xs)]);
    assert!((bi[0][[2, M]] - r[0][[2, M]]).abs() > 0.1);
}

#[test]
fn attn_scale_divides_scores() {
    let xs = [1, 4, 2, 3];
    for scale in [0.5, 2.0, 3.0f64.sqrt()] {
        let m = numerical_model(false, Some(scale), Vec::new());
        let r = m.forward(&[ids(&xs)]);
        assert_close(&r[0], &numerical_expected(&xs, false, scale), 1e-5);
    }
    // use_attn_scale false ignores attn_scale.
    let mut m = numerical_model(false, Some(2.0), Vec::new());
    m.config.use_attn_scale = false;
    let r = m.forward(&[ids(&xs)]);
    assert_close(&r[0], &numerical_expected(&xs, false, 1.0), 1e-5);
}

#[test]
fn ragged_batch_equals_one_at_a_time() {
    for causal in [false, true] {
        let m = numerical_model(causal, Some(1.5), Vec::new());
        let inputs: Vec<Vec<i64>> = vec![
            vec![1, 2, 3, 4, 1, 2, 3, 4],
            vec![3],
            vec![],
            vec![2, 2],
            vec![4, 4, 4, 1, 1],
        ];
        let batch: Vec<Vec<usize>> = inputs.iter().map(|x| ids(x)).collect();
        let together = m.forward(&batch);
        assert_eq!(together.len(), inputs.len());
        for (x, r) in inputs.iter().zip(&together) {
            let alone = m.forward(&[ids(x)]);
            assert_eq!(r.shape(), alone[0].shape());
            assert!(max_diff(r, &alone[0]) < 1e-6);
            assert_close(r, &numerical_expected(x, causal, 1.5), 1e-5);
        }
    }
}

#[test]
fn pad_keys_are_masked() {
    // PAD carries x = 100: were it visible, every mean would jump.
    let m = numerical_model(false, None, Vec::new());
    let xs = [2, 3];
    let mut padded = ids(&xs);
    padded.extend([PAD, PAD, PAD]);
    let r = m.forward(&[padded]);
    assert_eq!(r[0].nrows(), 6);
    let want = numerical_expected(&xs, false, 1.0);
    assert_close(&r[0].slice(s![..3, ..]).to_owned(), &want, 1e-5);
}

#[test]
fn forward_matches_reference_on_random_models() {
    for (seed, causal, sparse) in [
        (1, false, false),
        (2, true, false),
        (3, false, true),
        (4, true, true),
    ] {
        let m = random_model(seed, causal, sparse);
        // Enough rows to split the batch across threads.
        let batch = random_batch(seed + 10, 40, 12, true);
        let got = m.forward(&batch);
        let want = reference_forward(&m, &batch);
        for (g, w) in got.iter().zip(&want) {
            let tol = 1e-4 * (1.0 + w.iter().fold(0.0f32, |a, x| a.max(x.abs())));
            assert!(max_diff(g, w) < tol, "seed {seed}: {}", max_diff(g, w));
        }
        // One at a time, the same.
        for (seq, g) in batch.iter().zip(&got).take(8) {
            let alone = m.forward(std::slice::from_ref(seq));
            assert!(max_diff(g, &alone[0]) < 1e-5);
        }
        // A prepared model, the same.
        let prepared = m.prepare();
        let again = prepared.forward(&batch);
        for (a, b) in again.iter().zip(&got) {
            assert!(max_diff(a, b) < 1e-6);
        }
    }
}

#[test]
fn forward_matches_reference_with_one_hot_residuals() {
    // One-hot embeddings keep the residual stream mostly zero, as in
    // compiled models, which takes the sparse product path.
    for (seed, causal) in [(21, false), (22, true)] {
        let mut m = random_model(seed, causal, true);
        m.w_e.fill(0.0);
        m.w_pos.fill(0.0);
        for t in 0..8 {
            m.w_e[[t, t]] = 1.0;
        }
        for p in 0..13 {
            m.w_pos[[p, 8 + p]] = 1.0;
        }
        let batch = random_batch(seed, 30, 12, true);
        let got = m.forward(&batch);
        let want = reference_forward(&m, &batch);
        for (g, w) in got.iter().zip(&want) {
            let tol = 1e-4 * (1.0 + w.iter().fold(0.0f32, |a, x| a.max(x.abs())));
            assert!(max_diff(g, w) < tol, "seed {seed}: {}", max_diff(g, w));
        }
    }
}

#[test]
fn attn_only_skips_mlps() {
    let mut m = random_model(7, false, false);
    m.config.attn_only = true;
    let batch = random_batch(8, 5, 12, false);
    let got = m.forward(&batch);
    let want = reference_forward(&m, &batch);
    for (g, w) in got.iter().zip(&want) {
        let tol = 1e-4 * (1.0 + w.iter().fold(0.0f32, |a, x| a.max(x.abs())));
        assert!(
            max_diff(g, w) < tol,
            "{} vs tolerance {tol}",
            max_diff(g, w)
        );
    }
}

#[test]
fn empty_batch_and_bos_only() {
    let m = numerical_model(false, None, Vec::new());
    assert!(m.forward(&[]).is_empty());
    let r = m.forward(&[vec![BOS]]);
    assert_eq!(r[0].shape(), &[1, 5]);
    assert!(m.decode(&r[0]).is_empty());
    assert_eq!(m.run(&[vec![]]).unwrap(), vec![Vec::<Value>::new()]);
}

#[test]
fn previous_token_categorical() {
    for causal in [false, true] {
        let m = previous_token_model(causal);
        let out = m.run(&[strs("abcca"), strs("ba"), strs("c")]).unwrap();
        // Position 1 looks at BOS, which has no token: its logits are only
        // the e^-50 leak from the other keys. Check the rest.
        assert_eq!(out.iter().map(Vec::len).collect::<Vec<_>>(), [5, 2, 1]);
        assert_eq!(out[0][1..], strs("abcc"));
        assert_eq!(out[1][1..], strs("b"));
        let r = m.forward(&[m.encode(&strs("abcca")).unwrap()]);
        let tokens = m.meta.sops[0].clone();
        assert_eq!(m.read(&r[0], &tokens), strs("abcca"));
        assert_eq!(m.read(&r[0], &m.meta.output)[1..], strs("abcc"));
        let logits = m.logits(&r[0]);
        assert!(logits.row(1).iter().all(|x| x.abs() < 1e-6));
        assert!((logits[[4, 2]] - 1.0).abs() < 1e-6);
        // The copied one-hot is exact up to e^-50.
        assert!((r[0][[3, 9 + 1]] - 1.0).abs() < 1e-6);
        assert!(r[0][[3, 9]].abs() < 1e-6);
    }
}

#[test]
fn decode_and_read_snap_numbers() {
    let snap = vec![json!(0), json!(1), json!(2.5), json!(4)];
    let m = numerical_model(false, None, snap);
    // Hand-made residuals: y (dim 3) + 0.25 is the output logit.
    let mut r = Array2::<f32>::zeros((6, 5));
    for (i, y) in [9.0, 0.2, 1.0, 1.6, 3.2, 100.0].iter().enumerate() {
        r[[i, Y]] = *y;
        r[[i, X]] = *y;
    }
    // Decoded 0.45 1.25 1.85 3.45 100.25 (row 0 is BOS, not decoded).
    assert_eq!(
        m.decode(&r),
        vec![
            Value::Int(0),
            Value::Int(1),
            Value::Float(2.5),
            Value::Int(4),
            Value::Int(4),
        ]
    );
    // read: the raw dim, snapped to the placement's values 0..4 (ints).
    let x = m.meta.sops[1].clone();
    assert_eq!(m.read(&r, &x), ints(&[0, 1, 2, 3, 4]));
    // No values: raw floats.
    let raw = placement("raw", Encoding::Numerical, vec![X], Vec::new());
    assert_eq!(
        m.read(&r, &raw),
        [0.2f32, 1.0, 1.6, 3.2, 100.0]
            .iter()
            .map(|&f| Value::Float(f64::from(f)))
            .collect::<Vec<_>>()
    );
    // A tie snaps to the first listed value.
    let tie = placement(
        "tie",
        Encoding::Numerical,
        vec![X],
        vec![json!(1), json!(2)],
    );
    let mut rr = Array2::<f32>::zeros((2, 5));
    rr[[1, X]] = 1.5;
    assert_eq!(m.read(&rr, &tie), vec![Value::Int(1)]);
}

#[test]
fn read_categorical_placement() {
    let m = previous_token_model(false);
    let p = placement(
        "mixed",
        Encoding::Categorical,
        vec![4, 2, 7],
        vec![json!(true), json!(3), json!(0.5)],
    );
    let mut r = Array2::<f32>::zeros((4, 12));
    r[[1, 4]] = 0.9;
    r[[2, 2]] = 0.2;
    r[[2, 7]] = 0.3;
    r[[3, 7]] = -1.0; // all others 0: ties go to the first dim.
    assert_eq!(
        m.read(&r, &p),
        vec![Value::Bool(true), Value::Float(0.5), Value::Bool(true)]
    );
}

#[test]
fn json_values() {
    assert_eq!(value_from_json(&json!(3)), Some(Value::Int(3)));
    assert_eq!(value_from_json(&json!(-3)), Some(Value::Int(-3)));
    assert_eq!(value_from_json(&json!(3.0)), Some(Value::Float(3.0)));
    assert_eq!(value_from_json(&json!("3")), Some(Value::str("3")));
    assert_eq!(value_from_json(&json!(false)), Some(Value::Bool(false)));
    assert_eq!(value_from_json(&json!(null)), None);
    assert_eq!(value_from_json(&json!([1])), None);
    assert_eq!(value_from_json(&json!(u64::MAX)), None);
    for v in [
        Value::Int(-7),
        Value::Float(0.1),
        Value::str("x"),
        Value::Bool(true),
    ] {
        let j = value_to_json(&v).unwrap();
        assert_eq!(value_from_json(&j), Some(v));
    }
    assert_eq!(value_to_json(&Value::Float(f64::NAN)), None);
    assert_ne!(
        value_to_json(&Value::Int(1)),
        value_to_json(&Value::Float(1.0))
    );
}

#[test]
fn encode_tokens() {
    let m = numerical_model(false, None, Vec::new());
    assert_eq!(m.encode(&[]).unwrap(), vec![BOS]);
    assert_eq!(m.encode(&ints(&[4, 1, 2])).unwrap(), vec![BOS, 3, 0, 1]);
    assert_eq!(m.encode(&ints(&[1; 8])).unwrap().len(), 9);
}

#[test]
fn encode_errors() {
    let m = numerical_model(false, None, Vec::new());
    // A string "1" is not the int 1.
    let e = m.encode(&[Value::Int(2), Value::str("1")]).unwrap_err();
    assert_eq!(e.code, codes::MODEL_INPUT);
    assert!(e.message.contains("'1'"), "{}", e.message);
    assert!(e.message.contains("position 1"), "{}", e.message);
    let help = e.help.clone().unwrap();
    assert!(help.contains("[1, 2, 3, 4]"), "{help}");
    assert!(
        help.contains("(a int)") || help.contains("an int"),
        "{help}"
    );
    // A float 1.0 is not the int 1 either.
    let e = m.encode(&[Value::Float(1.0)]).unwrap_err();
    assert_eq!(e.code, codes::MODEL_INPUT);
    assert!(e.message.contains("1.0"), "{}", e.message);
    // Unknown token.
    let e = m.encode(&[Value::Int(9)]).unwrap_err();
    assert!(e.message.contains('9'));
    // NaN has no JSON form: never a token.
    assert!(m.encode(&[Value::Float(f64::NAN)]).is_err());
    // Too long.
    let e = m.encode(&ints(&[1; 9])).unwrap_err();
    assert_eq!(e.code, codes::MODEL_INPUT);
    assert!(
        e.message.contains('9') && e.message.contains('8'),
        "{}",
        e.message
    );
    assert!(e.help.is_some());
    // run reports the same.
    assert!(m.run(&[ints(&[1]), vec![Value::str("z")]]).is_err());
}

#[test]
fn long_vocab_list_is_cut() {
    let vocab: Vec<serde_json::Value> = (0..200).map(|i| json!(i)).collect();
    let mut m = blank(Shape {
        n_layers: 0,
        d_model: 1,
        n_heads: 1,
        d_head: 1,
        d_mlp: 1,
        vocab,
        max_len: 3,
        causal: false,
        output: placement("o", Encoding::Numerical, vec![0], Vec::new()),
    });
    m.meta.layout.clear();
    let e = m.encode(&[Value::Int(500)]).unwrap_err();
    let help = e.help.clone().unwrap();
    assert!(help.contains("and 140 more"), "{help}");
}

#[test]
fn validate_catches_inconsistency() {
    let good = numerical_model(false, None, Vec::new());
    assert!(good.validate().is_ok());
    let mut m = good.clone();
    m.meta.pad_id = 17;
    assert_eq!(m.validate().unwrap_err().code, codes::MODEL_FORMAT);
    assert!(m.run(&[vec![]]).is_err());
    let mut m = good.clone();
    m.blocks[0].mlp.w_in = Array2::zeros((5, 3));
    let e = m.validate().unwrap_err();
    assert!(e.message.contains("blocks.0.mlp.W_in"), "{}", e.message);
    let mut m = good.clone();
    m.meta.sops[1].dims = vec![5];
    assert!(m.validate().is_err());
    let mut m = good;
    m.meta.vocab[1] = json!(1);
    assert!(m.validate().unwrap_err().message.contains("twice"));
}

#[test]
fn unembedding_columns() {
    // Numerical: +x and -x of the output's dim, zero bias.
    let num = placement("y", Encoding::Numerical, vec![3], Vec::new());
    let (w_u, b_u) = unembedding(&num, 5);
    assert_eq!(output_width(&num), 2);
    assert_eq!(w_u.shape(), &[5, 2]);
    assert_eq!(w_u.row(3).to_vec(), vec![1.0, -1.0]);
    assert_eq!(w_u.iter().filter(|&&x| x != 0.0).count(), 2);
    assert_eq!(b_u.to_vec(), vec![0.0, 0.0]);
    // Categorical: one one-hot column per value.
    let cat = placement(
        "c",
        Encoding::Categorical,
        vec![9, 10, 11],
        vec![json!("a"), json!("b"), json!("c")],
    );
    let (w_u, b_u) = unembedding(&cat, 12);
    assert_eq!(output_width(&cat), 3);
    assert_eq!(w_u.shape(), &[12, 3]);
    for (i, d) in [9, 10, 11].into_iter().enumerate() {
        assert_eq!(w_u[[d, i]], 1.0);
    }
    assert_eq!(w_u.sum(), 3.0);
    assert_eq!(b_u.len(), 3);
}

/// The unembedding as TransformerLens's `center_unembed` leaves it: each
/// row of W_U minus its mean over the output columns, b_U minus its mean.
fn centred(m: &Model) -> Model {
    let mut c = m.clone();
    let means = c.w_u.mean_axis(ndarray::Axis(1)).unwrap();
    for (mut row, mean) in c.w_u.rows_mut().into_iter().zip(means) {
        row -= mean;
    }
    let mean = c.b_u.mean().unwrap();
    c.b_u -= mean;
    c
}

#[test]
fn centring_the_unembedding_changes_no_output() {
    let snap = vec![json!(0), json!(0.5), json!(1), json!(2.5), json!(4)];
    for m in [
        numerical_model(false, None, Vec::new()),
        numerical_model(true, Some(2.0), snap),
        previous_token_model(false),
        random_model(31, false, true),
    ] {
        let c = centred(&m);
        assert!(c.validate().is_ok());
        let mut g = Lcg(3);
        let inputs: Vec<Vec<Value>> = (0..12)
            .map(|_| {
                (0..=g.below(m.meta.max_len))
                    .map(|_| value_from_json(&m.meta.vocab[g.below(m.meta.vocab.len())]).unwrap())
                    .collect()
            })
            .collect();
        assert_eq!(m.run(&inputs).unwrap(), c.run(&inputs).unwrap());
    }
    // The two numerical columns are already centred: nothing changes.
    let m = numerical_model(false, None, Vec::new());
    assert_eq!(centred(&m).w_u, m.w_u);
    assert_eq!(centred(&m).b_u, m.b_u);
    // Format version 1 had one column, which centring zeroes.
    let one = m.w_u.slice(s![.., ..1]).to_owned();
    let mean = one.mean_axis(ndarray::Axis(1)).unwrap();
    assert!((&one.column(0) - &mean).iter().all(|&x| x == 0.0));
}

#[test]
fn a_numerical_output_needs_two_columns() {
    let mut m = numerical_model(false, None, Vec::new());
    m.config.d_vocab_out = 1;
    m.w_u = m.w_u.slice(s![.., ..1]).to_owned();
    m.b_u = m.b_u.slice(s![..1]).to_owned();
    let e = m.validate().unwrap_err();
    assert_eq!(e.code, codes::MODEL_FORMAT);
    assert!(e.message.contains("+x and -x"), "{}", e.message);
    assert!(e.message.contains("d_vocab_out is 1"), "{}", e.message);
}

#[test]
fn forward_to_stops_after_some_layers() {
    let m = random_model(41, true, false);
    let batch = random_batch(42, 6, 12, true);
    let p = m.prepare();
    let all = p.forward(&batch);
    let embed = p.forward_to(&batch, 0);
    for (seq, r) in batch.iter().zip(&embed) {
        for (i, &t) in seq.iter().enumerate() {
            let want = &m.w_e.row(t) + &m.w_pos.row(i);
            assert_eq!(r.row(i), want);
        }
    }
    let one = p.forward_to(&batch, 1);
    let short = Model {
        blocks: m.blocks[..1].to_vec(),
        ..m.clone()
    };
    for (a, b) in one.iter().zip(&reference_forward(&short, &batch)) {
        assert!(max_diff(a, b) < 1e-4, "{}", max_diff(a, b));
    }
    for (a, b) in p.forward_to(&batch, 99).iter().zip(&all) {
        assert_eq!(a, b);
    }
}

#[test]
fn attention_counts_the_keys_it_attends_to() {
    // previous_token: each query attends to exactly one key.
    let m = previous_token_model(false);
    let seq = m.encode(&strs("abcca")).unwrap();
    let before = m.prepare().forward_to(std::slice::from_ref(&seq), 0);
    assert_eq!(m.attends_to_one(&before[0], &seq, 0, 0), vec![true; 5]);
    // The numerical model: head 1 averages every key; head 0 (scores
    // x / 0.01) picks the largest x, unless two keys share it.
    let m = numerical_model(false, Some(0.01), Vec::new());
    let seq = ids(&[1, 3]);
    let before = m.prepare().forward_to(std::slice::from_ref(&seq), 0);
    assert_eq!(m.attends_to_one(&before[0], &seq, 0, 1), vec![false; 2]);
    assert_eq!(m.attends_to_one(&before[0], &seq, 0, 0), vec![true; 2]);
    let seq = ids(&[3, 3]);
    let before = m.prepare().forward_to(std::slice::from_ref(&seq), 0);
    assert_eq!(m.attends_to_one(&before[0], &seq, 0, 0), vec![false; 2]);
    // Causal: the first position sees one 3, the second two.
    let m = numerical_model(true, Some(0.01), Vec::new());
    let before = m.prepare().forward_to(std::slice::from_ref(&seq), 0);
    assert_eq!(m.attends_to_one(&before[0], &seq, 0, 0), vec![true, false]);
    // PAD keys are masked: [BOS, 3, PAD] has one key with the top score.
    let m = numerical_model(false, Some(0.01), Vec::new());
    let seq = vec![BOS, 2, PAD];
    let before = m.prepare().forward_to(std::slice::from_ref(&seq), 0);
    assert_eq!(m.attends_to_one(&before[0], &seq, 0, 0), vec![true, true]);
}

/// The numerical model with head 0's output A as the model's output:
/// `max(x)` with scale 0.01, one key unless the largest token repeats.
fn max_model(causal: bool) -> Model {
    let mut m = numerical_model(causal, Some(0.01), Vec::new());
    let mut out = placement(
        "top",
        Encoding::Numerical,
        vec![A],
        // In the compiler's order: an int before an equal float.
        vec![
            json!(0),
            json!(1),
            json!(1.0),
            json!(2),
            json!(2.0),
            json!(2.5),
            json!(3),
            json!(3.0),
            json!(4),
            json!(4.0),
        ],
    );
    out.sublayer = "attn".to_string();
    out.layer = Some(0);
    out.heads = vec![0];
    let (w_u, b_u) = unembedding(&out, 5);
    m.w_u = w_u;
    m.b_u = b_u;
    m.meta.output = out.clone();
    m.meta.sops[0] = out;
    m
}

#[test]
fn number_types_follow_the_interpreter() {
    // One key: the value itself (an int); several: their mean (a float).
    let m = max_model(false);
    assert_eq!(m.kind_heads(), vec![(0, 0)]);
    let out = m.run(&[ints(&[1, 3]), ints(&[3, 3]), ints(&[2])]).unwrap();
    assert_eq!(out[0], ints(&[3, 3]));
    assert_eq!(out[1], vec![Value::Float(3.0); 2]);
    assert_eq!(out[2], ints(&[2]));
    // Causal: position 1 has seen one 3, position 2 two.
    let m = max_model(true);
    let out = m.run(&[ints(&[3, 3, 1])]).unwrap();
    assert_eq!(
        out[0],
        vec![Value::Int(3), Value::Float(3.0), Value::Float(3.0)]
    );
    // decode alone (no attention): the first listed, the int.
    let r = m.forward(&[ids(&[3, 3])]);
    assert_eq!(m.decode(&r[0]), ints(&[3, 3]));
    assert_eq!(
        m.decode_with(&r[0], Some(&[true, true])),
        vec![Value::Float(3.0); 2]
    );
    // A number listed once keeps its type whatever the attention.
    let mut rr = Array2::<f32>::zeros((2, 5));
    rr[[1, A]] = 2.5;
    assert_eq!(m.decode_with(&rr, Some(&[false])), vec![Value::Float(2.5)]);
    // No twins, or an output not computed by one head: no head to ask.
    let mut m = max_model(false);
    m.meta.output.values.retain(|v| v.is_i64());
    assert!(m.kind_heads().is_empty());
    let mut m = max_model(false);
    m.meta.output.sublayer = "mlp".to_string();
    assert!(m.kind_heads().is_empty());
    assert!(
        numerical_model(false, None, Vec::new())
            .kind_heads()
            .is_empty()
    );
}

#[test]
fn a_sum_is_a_float_when_a_term_is_a_mean() {
    // out = top + x (x: the token's value, ints), as a two-term placement:
    // int + int is an int, int + a float mean a float.
    let mut m = max_model(false);
    let top = m.meta.output.clone();
    let x = m.meta.sops[1].clone();
    let mut sum = placement(
        "sum",
        Encoding::Numerical,
        vec![A, X],
        (0..10)
            .flat_map(|i| [json!(i), json!(f64::from(i))])
            .collect(),
    );
    sum.coefs = vec![1.0, 1.0];
    sum.sublayer = "mlp".to_string();
    sum.layer = Some(0);
    let (w_u, b_u) = unembedding(&sum, 5);
    m.w_u = w_u;
    m.b_u = b_u;
    m.meta.output = sum.clone();
    m.meta.sops = vec![top, x, sum];
    m.validate().unwrap();
    assert_eq!(m.kind_heads(), vec![(0, 0)]);
    let out = m.run(&[ints(&[1, 3]), ints(&[3, 3])]).unwrap();
    assert_eq!(out[0], ints(&[4, 6]));
    assert_eq!(out[1], vec![Value::Float(6.0); 2]);
    // A term without twins (x) asks no head.
    m.meta.sops[0].values.retain(|v| v.is_i64());
    assert!(m.kind_heads().is_empty());
}

// ---------------------------------------------------------------------------
// Model files

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "rasp-model-test-{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn saved(m: &Model, tag: &str) -> TempDir {
    let dir = TempDir::new(tag);
    save(m, dir.path()).unwrap();
    dir
}

#[test]
fn save_load_round_trip() {
    for (i, m) in [
        numerical_model(true, Some(1.0), vec![json!(0), json!(0.1)]),
        previous_token_model(false),
        random_model(5, true, true),
    ]
    .into_iter()
    .enumerate()
    {
        let dir = saved(&m, &format!("rt{i}"));
        for f in ["model.safetensors", "config.json", "rasp.json"] {
            assert!(dir.file(f).is_file(), "{f}");
        }
        let back = load(dir.path()).unwrap();
        assert_eq!(back, m);
        let batch = vec![vec![m.meta.bos_id, 0, 1, 2], vec![m.meta.bos_id]];
        let (a, b) = (m.forward(&batch), back.forward(&batch));
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x, y);
        }
        // Saving over an existing model works too.
        save(&back, dir.path()).unwrap();
        assert_eq!(load(dir.path()).unwrap(), m);
    }
}

#[test]
fn files_follow_transformer_lens() {
    let m = previous_token_model(true);
    let dir = saved(&m, "tl");
    let bytes = std::fs::read(dir.file("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().clone().unwrap();
    assert_eq!(meta["format"], "pt");
    assert_eq!(meta["rasp_format"], FORMAT);
    assert_eq!(meta["rasp_format_version"], FORMAT_VERSION.to_string());
    assert_eq!(meta["rasp_version"], "0.1.0");
    let shape = |n: &str| st.tensor(n).unwrap().shape().to_vec();
    assert_eq!(shape("embed.W_E"), vec![5, 12]);
    assert_eq!(shape("pos_embed.W_pos"), vec![6, 12]);
    assert_eq!(shape("blocks.0.attn.W_Q"), vec![1, 12, 6]);
    assert_eq!(shape("blocks.0.attn.b_K"), vec![1, 6]);
    assert_eq!(shape("blocks.0.attn.W_O"), vec![1, 6, 12]);
    assert_eq!(shape("blocks.0.attn.b_O"), vec![12]);
    assert_eq!(shape("blocks.0.mlp.W_in"), vec![12, 0]);
    assert_eq!(shape("blocks.0.mlp.W_out"), vec![0, 12]);
    assert_eq!(shape("unembed.W_U"), vec![12, 3]);
    assert_eq!(shape("unembed.b_U"), vec![3]);
    assert_eq!(st.len(), 2 + 12 + 2);
    for (_, t) in st.tensors() {
        assert_eq!(t.dtype(), safetensors::Dtype::F32);
    }
    // Row-major, little-endian: W_pos[2][5] is 1.
    let pos = st.tensor("pos_embed.W_pos").unwrap();
    let at = (2 * 12 + 5) * 4;
    assert_eq!(&pos.data()[at..at + 4], &1.0f32.to_le_bytes());
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.file("config.json")).unwrap()).unwrap();
    assert_eq!(config["attention_dir"], "causal");
    assert_eq!(config["normalization_type"], serde_json::Value::Null);
    assert_eq!(config["act_fn"], "relu");
    let text = std::fs::read_to_string(dir.file("rasp.json")).unwrap();
    assert!(text.contains("\n  \"format\": \"rasp-model\""), "pretty");
}

/// Load must fail with this code, and the message must mention `needle`.
fn expect_error(dir: &Path, code: &str, needle: &str) {
    match load(dir) {
        Ok(_) => panic!("loaded a damaged model (expected {needle:?})"),
        Err(e) => {
            assert_eq!(e.code, code, "{}", e.message);
            assert!(
                e.message.contains(needle),
                "{:?} does not mention {needle:?}",
                e.message
            );
            assert!(e.help.is_some(), "no help: {}", e.message);
        }
    }
}

/// Rewrite the weights file through `edit` (name, dtype, shape, bytes).
fn rewrite_weights(
    dir: &TempDir,
    edit: impl Fn(&mut Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)>),
) {
    let path = dir.file("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut items: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(n, t)| (n, t.dtype(), t.shape().to_vec(), t.data().to_vec()))
        .collect();
    edit(&mut items);
    let views: Vec<_> = items
        .iter()
        .map(|(n, d, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap(),
            )
        })
        .collect();
    std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
}

fn edit_json(path: &Path, edit: impl Fn(&mut serde_json::Value)) {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

#[test]
fn missing_files() {
    let m = numerical_model(false, None, Vec::new());
    let nowhere = TempDir::new("none");
    expect_error(nowhere.path(), codes::MODEL_IO, "does not exist");
    for f in ["model.safetensors", "config.json", "rasp.json"] {
        let dir = saved(&m, "missing");
        std::fs::remove_file(dir.file(f)).unwrap();
        expect_error(dir.path(), codes::MODEL_IO, f);
    }
    // A file where the directory should be.
    let dir = saved(&m, "file");
    expect_error(&dir.file("config.json"), codes::MODEL_IO, "not a directory");
}

#[test]
fn truncated_weights() {
    let m = random_model(9, false, true);
    let dir = saved(&m, "trunc");
    let path = dir.file("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut cuts = vec![
        0,
        1,
        7,
        8,
        9,
        100,
        header_end - 1,
        header_end,
        header_end + 1,
    ];
    cuts.extend([bytes.len() / 2, bytes.len() - 4, bytes.len() - 1]);
    for cut in cuts {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        expect_error(dir.path(), codes::MODEL_FORMAT, "model.safetensors");
    }
    // Extra bytes at the end are damage too.
    let mut long = bytes.clone();
    long.extend([0u8; 4]);
    std::fs::write(&path, &long).unwrap();
    expect_error(dir.path(), codes::MODEL_FORMAT, "model.safetensors");
}

#[test]
fn flipped_header_bytes_never_panic() {
    let m = previous_token_model(false);
    let dir = saved(&m, "flip");
    let path = dir.file("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut failures = 0;
    for i in 0..header_end {
        for mask in [0xFFu8, 0x01, 0x10] {
            let mut b = bytes.clone();
            b[i] ^= mask;
            std::fs::write(&path, &b).unwrap();
            // Every flip changes the file: damage, or a checksum mismatch.
            let e = load(dir.path()).expect_err("a flipped byte is caught");
            assert!(
                e.code == codes::MODEL_FORMAT || e.code == codes::MODEL_INTEGRITY,
                "byte {i}: {} {}",
                e.code,
                e.message
            );
            assert!(e.message.contains("model.safetensors"), "{}", e.message);
            match load_with(dir.path(), MODIFIED) {
                // A harmless flip (e.g. in the version string) changes nothing.
                Ok(back) => assert_eq!(back, m, "byte {i} ^ {mask:#x} changed the model"),
                Err(e) => {
                    failures += 1;
                    assert!(
                        e.code == codes::MODEL_FORMAT,
                        "byte {i}: {} {}",
                        e.code,
                        e.message
                    );
                    assert!(e.message.contains("model.safetensors"), "{}", e.message);
                }
            }
        }
    }
    assert!(failures > header_end, "only {failures} flips were caught");
    // The length prefix claiming far too much, and a huge offset.
    let mut b = bytes.clone();
    b[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    std::fs::write(&path, &b).unwrap();
    expect_error(dir.path(), codes::MODEL_FORMAT, "truncated");
    let text = String::from_utf8(bytes[8..header_end].to_vec()).unwrap();
    let evil = text.replacen(
        "\"data_offsets\":[0,",
        "\"data_offsets\":[18446744073709551615,",
        1,
    );
    let mut b = (evil.len() as u64).to_le_bytes().to_vec();
    b.extend(evil.as_bytes());
    b.extend(&bytes[header_end..]);
    std::fs::write(&path, &b).unwrap();
    expect_error(dir.path(), codes::MODEL_FORMAT, "model.safetensors");
}

#[test]
fn random_damage_never_panics() {
    let m = random_model(11, true, true);
    let dir = saved(&m, "damage");
    let mut g = Lcg(99);
    for f in ["model.safetensors", "config.json", "rasp.json"] {
        let path = dir.file(f);
        let bytes = std::fs::read(&path).unwrap();
        for _ in 0..150 {
            let mut b = bytes.clone();
            match g.below(3) {
                0 => b.truncate(g.below(bytes.len())),
                1 => {
                    for _ in 0..=g.below(4) {
                        let i = g.below(b.len());
                        b[i] = g.next() as u8;
                    }
                }
                _ => {
                    let i = g.below(b.len());
                    b.insert(i, g.next() as u8);
                }
            }
            std::fs::write(&path, &b).unwrap();
            match load(dir.path()) {
                // Harmless damage: JSON whitespace.
                Ok(back) => assert_eq!(back, m, "{f}: damage accepted"),
                Err(e) => assert!(
                    e.code == codes::MODEL_FORMAT || e.code == codes::MODEL_INTEGRITY,
                    "{}",
                    e.message
                ),
            }
            if let Ok(back) = load_with(dir.path(), MODIFIED) {
                // Survivable damage (a changed digit) still makes a valid model.
                back.validate().unwrap();
                let _ = back.run(&[vec![]]);
            }
        }
        std::fs::write(&path, &bytes).unwrap();
    }
    assert_eq!(load(dir.path()).unwrap(), m);
}

#[test]
fn bad_tensors() {
    let m = numerical_model(false, None, Vec::new());

    let dir = saved(&m, "deleted");
    rewrite_weights(&dir, |t| t.retain(|(n, ..)| n != "blocks.0.attn.W_K"));
    expect_error(dir.path(), codes::MODEL_FORMAT, "blocks.0.attn.W_K");
    expect_error(dir.path(), codes::MODEL_FORMAT, "missing");

    let dir = saved(&m, "shape");
    rewrite_weights(&dir, |t| {
        for (n, _, s, b) in t.iter_mut() {
            if n == "embed.W_E" {
                *s = vec![5, 5];
                b.truncate(5 * 5 * 4);
            }
        }
    });
    expect_error(dir.path(), codes::MODEL_FORMAT, "embed.W_E");
    expect_error(dir.path(), codes::MODEL_FORMAT, "shape");

    let dir = saved(&m, "reshape");
    rewrite_weights(&dir, |t| {
        for (n, _, s, _) in t.iter_mut() {
            if n == "blocks.0.mlp.W_in" {
                *s = vec![2, 5];
            }
        }
    });
    expect_error(dir.path(), codes::MODEL_FORMAT, "[2, 5]");

    let dir = saved(&m, "dtype");
    rewrite_weights(&dir, |t| {
        for (n, d, s, b) in t.iter_mut() {
            if n == "unembed.b_U" {
                *d = safetensors::Dtype::F64;
                *s = vec![1];
                *b = 0.25f64.to_le_bytes().to_vec();
            }
        }
    });
    expect_error(dir.path(), codes::MODEL_FORMAT, "F64");

    let dir = saved(&m, "nan");
    rewrite_weights(&dir, |t| {
        for (n, _, _, b) in t.iter_mut() {
            if n == "blocks.0.mlp.b_in" {
                b[..4].copy_from_slice(&f32::NAN.to_le_bytes());
            }
        }
    });
    expect_error(dir.path(), codes::MODEL_FORMAT, "blocks.0.mlp.b_in");

    // Extra tensors (TransformerLens mask buffers, say) change the file
    // (its checksum), but a model opened as modified ignores them.
    let dir = saved(&m, "extra");
    rewrite_weights(&dir, |t| {
        t.push((
            "blocks.0.attn.mask".to_string(),
            safetensors::Dtype::BOOL,
            vec![2],
            vec![1, 0],
        ))
    });
    expect_error(
        dir.path(),
        codes::MODEL_INTEGRITY,
        "model.safetensors changed",
    );
    assert_eq!(load_with(dir.path(), MODIFIED).unwrap(), m);
}

#[test]
fn bad_json() {
    let m = numerical_model(false, None, Vec::new());
    for f in ["config.json", "rasp.json"] {
        for junk in ["", "{", "not json", "[1, 2]", "{\"format\": 3}"] {
            let dir = saved(&m, "junk");
            std::fs::write(dir.file(f), junk).unwrap();
            expect_error(dir.path(), codes::MODEL_FORMAT, f);
        }
    }
    let dir = saved(&m, "missing_field");
    edit_json(&dir.file("config.json"), |v| {
        v.as_object_mut().unwrap().remove("d_model");
    });
    expect_error(dir.path(), codes::MODEL_FORMAT, "d_model");
    let dir = saved(&m, "wrong_type");
    edit_json(&dir.file("rasp.json"), |v| v["bos_id"] = json!("four"));
    expect_error(dir.path(), codes::MODEL_FORMAT, "rasp.json");
}

#[test]
fn format_and_version() {
    let m = numerical_model(false, None, Vec::new());
    let dir = saved(&m, "future");
    edit_json(&dir.file("rasp.json"), |v| {
        v["format_version"] = json!(FORMAT_VERSION + 1);
        // A future version may change anything else too.
        v["vocab"] = json!({"new": "layout"});
    });
    let e = load(dir.path()).unwrap_err();
    assert_eq!(e.code, codes::MODEL_FORMAT);
    assert!(
        e.message
            .contains(&format!("version {}", FORMAT_VERSION + 1))
    );
    assert!(
        e.message
            .contains(&format!("reads format version {FORMAT_VERSION}")),
        "{}",
        e.message
    );
    assert!(e.help.as_deref().unwrap().contains("upgrade"));

    let dir = saved(&m, "v0");
    edit_json(&dir.file("rasp.json"), |v| v["format_version"] = json!(0));
    expect_error(dir.path(), codes::MODEL_FORMAT, "format_version");

    // Version 1 (one unembedding column for a numerical output) is refused
    // with a clear reason, never read wrongly. (Version 2 is tested in
    // tests/it/integrity.rs.)
    assert_eq!(FORMAT_VERSION, 3);
    let dir = saved(&m, "v1");
    edit_json(&dir.file("rasp.json"), |v| v["format_version"] = json!(1));
    let e = load(dir.path()).unwrap_err();
    assert_eq!(e.code, codes::MODEL_FORMAT);
    assert!(e.message.contains("format version 1"), "{}", e.message);
    assert!(e.message.contains("+x and -x"), "{}", e.message);
    assert!(
        e.help
            .as_deref()
            .unwrap()
            .contains("compile the program again"),
        "{:?}",
        e.help
    );
    let mut old = m.clone();
    old.meta.format_version = 1;
    assert!(old.validate().is_err());
    assert!(old.run(&[ints(&[1])]).is_err());

    let dir = saved(&m, "format");
    edit_json(&dir.file("rasp.json"), |v| v["format"] = json!("tracr"));
    expect_error(dir.path(), codes::MODEL_FORMAT, "not a rasp model");

    // The weights' header names the format too.
    let dir = saved(&m, "st_meta");
    let path = dir.file("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let views: Vec<_> = st.tensors();
    let header =
        std::collections::HashMap::from([("rasp_format_version".to_string(), "7".to_string())]);
    std::fs::write(&path, safetensors::serialize(views, Some(header)).unwrap()).unwrap();
    expect_error(dir.path(), codes::MODEL_FORMAT, "rasp_format_version");
}

#[test]
fn inconsistent_files() {
    let m = numerical_model(false, None, Vec::new());
    type Edit = fn(&mut serde_json::Value);
    let meta_cases: [(Edit, &str); 8] = [
        (|v| v["pad_id"] = json!(6), "pad_id"),
        (|v| v["bos_id"] = json!(1), "bos_id"),
        (|v| v["pad_id"] = json!(4), "both"),
        (
            |v| v["vocab"].as_array_mut().unwrap().push(json!(5)),
            "d_vocab",
        ),
        (|v| v["max_len"] = json!(20), "n_ctx"),
        (|v| v["output"]["dims"] = json!([5]), "dim 5"),
        (|v| v["causal"] = json!(true), "attention_dir"),
        (|v| v["sops"][1]["values"] = json!([[1]]), "not a bool"),
    ];
    for (edit, needle) in meta_cases {
        let dir = saved(&m, "meta");
        edit_json(&dir.file("rasp.json"), edit);
        expect_error(dir.path(), codes::MODEL_FORMAT, needle);
        expect_error(dir.path(), codes::MODEL_FORMAT, "rasp.json");
    }
    let config_cases: [(Edit, &str); 5] = [
        (|v| v["act_fn"] = json!("gelu"), "relu"),
        (|v| v["normalization_type"] = json!("LN"), "layer norm"),
        (|v| v["attention_dir"] = json!("sideways"), "attention_dir"),
        (|v| v["attn_scale"] = json!(-1.0), "attn_scale"),
        (|v| v["d_model"] = json!(6), "residual"),
    ];
    for (edit, needle) in config_cases {
        let dir = saved(&m, "config");
        edit_json(&dir.file("config.json"), edit);
        expect_error(dir.path(), codes::MODEL_FORMAT, needle);
    }
    // d_mlp changed consistently in the config but not in the weights.
    let dir = saved(&m, "dmlp");
    edit_json(&dir.file("config.json"), |v| v["d_mlp"] = json!(3));
    expect_error(dir.path(), codes::MODEL_FORMAT, "blocks.0.mlp.W_in");
}

#[test]
fn save_refuses_invalid_models() {
    let mut m = numerical_model(false, None, Vec::new());
    m.meta.bos_id = 99;
    let dir = TempDir::new("refuse");
    let e = save(&m, dir.path()).unwrap_err();
    assert_eq!(e.code, codes::MODEL_FORMAT);
    assert!(!dir.path().exists());
}

#[test]
fn save_reports_unwritable_dir() {
    let m = numerical_model(false, None, Vec::new());
    let dir = TempDir::new("unwritable");
    std::fs::create_dir_all(dir.path()).unwrap();
    let blocker = dir.file("file");
    std::fs::write(&blocker, b"x").unwrap();
    let e = save(&m, &blocker.join("model")).unwrap_err();
    assert_eq!(e.code, codes::MODEL_IO);
}

#[test]
fn floats_round_trip_exactly() {
    // Vocab floats and attn_scale must read back bit for bit, or tokens
    // stop matching.
    let mut m = numerical_model(false, None, Vec::new());
    let mut g = Lcg(3);
    let mut floats: Vec<f64> = (0..200)
        .map(|_| (g.next() as f64 / 7.0).sqrt() * 1e-3 + 0.1)
        .collect();
    // Listed in increasing order, as compiled models list them.
    floats.sort_by(f64::total_cmp);
    floats.dedup();
    m.meta.sops[1].values = floats.iter().map(|&f| json!(f)).collect();
    m.meta.sops[1].encoding = Encoding::Numerical;
    let dir = saved(&m, "floats");
    let back = load(dir.path()).unwrap();
    for (v, f) in back.meta.sops[1].values.iter().zip(&floats) {
        assert_eq!(v.as_f64().unwrap().to_bits(), f.to_bits());
    }
    let m = random_model(3, false, true);
    let back = load(saved(&m, "scale").path()).unwrap();
    assert_eq!(
        back.config.attn_scale.to_bits(),
        f64::from(5f32.sqrt()).to_bits()
    );
}

#[test]
fn constant_heads_and_units() {
    // A head and an MLP unit that read nothing: their outputs are constants
    // (b_V · W_O, relu(b_in) · W_out), and the other dims stay untouched.
    let mut m = numerical_model(false, None, Vec::new());
    m.blocks[0].attn = {
        let mut a = m.blocks[0].attn.clone();
        a.w_q.fill(0.0);
        a.w_k.fill(0.0);
        a.w_v.fill(0.0);
        a.w_o.fill(0.0);
        a.b_v[[1, 0]] = 3.0;
        a.w_o[[1, 0, A]] = 2.0;
        a
    };
    let mlp = &mut m.blocks[0].mlp;
    mlp.w_in.fill(0.0);
    mlp.b_in[0] = 0.5;
    mlp.b_in[1] = -4.0;
    mlp.w_out.fill(0.0);
    mlp.w_out[[0, M]] = 4.0;
    mlp.w_out[[1, M]] = 1.0;
    mlp.b_out.fill(0.0);
    let batch = vec![ids(&[1, 2, 3]), ids(&[4])];
    let got = m.forward(&batch);
    let want = reference_forward(&m, &batch);
    for (g, w) in got.iter().zip(&want) {
        assert!(max_diff(g, w) < 1e-6);
        for row in g.rows() {
            assert_eq!(row[A], 6.0);
            assert_eq!(row[M], 2.0);
            assert_eq!(row[Y], 0.0);
        }
    }
}
