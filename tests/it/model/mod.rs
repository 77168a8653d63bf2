//! The model stage: the CPU executor against hand-built models with known
//! weights and a plain reference forward pass; the model files in
//! `files.rs`.

mod build;
mod files;

use build::*;

use ndarray::{Array2, s};
use rasp::diag::codes;
use rasp::ir::Value;
use rasp::model::codec::{value_from_json, value_to_json};
use rasp::model::{Encoding, Model, output_width, unembedding};
use serde_json::json;

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

/// `got` is the reference forward pass of `m` on `batch`, each sequence
/// within 1e-4 relative to its largest entry.
fn assert_near_reference(m: &Model, batch: &[Vec<usize>], got: &[Array2<f32>], what: &str) {
    let want = reference_forward(m, batch);
    for (g, w) in got.iter().zip(&want) {
        let tol = 1e-4 * (1.0 + w.iter().fold(0.0f32, |a, x| a.max(x.abs())));
        assert!(
            max_diff(g, w) < tol,
            "{what}: {} vs tolerance {tol}",
            max_diff(g, w)
        );
    }
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
        assert_near_reference(&m, &batch, &got, &format!("seed {seed}"));
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

/// A random model with one-hot token and position embeddings: its
/// residual stream is mostly zero and its first rows repeat, as a compiled
/// model's do.
fn one_hot_model(seed: u64, causal: bool) -> rasp::model::Model {
    let mut m = random_model(seed, causal, true);
    m.w_e.fill(0.0);
    m.w_pos.fill(0.0);
    for t in 0..8 {
        m.w_e[[t, t]] = 1.0;
    }
    for p in 0..13 {
        m.w_pos[[p, 8 + p]] = 1.0;
    }
    m
}

#[test]
fn forward_matches_reference_with_one_hot_residuals() {
    // One-hot embeddings keep the residual stream mostly zero, as in
    // compiled models, which takes the sparse product path.
    for (seed, causal) in [(21, false), (22, true)] {
        let m = one_hot_model(seed, causal);
        let batch = random_batch(seed, 30, 12, true);
        let got = m.forward(&batch);
        assert_near_reference(&m, &batch, &got, &format!("seed {seed}"));
    }
}

#[test]
fn repeated_queries_reuse_the_earlier_output() {
    // Queries that read only the token one-hot repeat wherever a token
    // does: bidirectionally the CPU executor copies the earlier position's
    // output and pattern row instead of recomputing them. The outputs match
    // the reference, and each pattern row is the earlier one's bit for bit.
    use rasp::model::executor::{Executor, Want};
    for (seed, causal) in [(25, false), (26, true)] {
        let mut m = one_hot_model(seed, causal);
        for b in &mut m.blocks {
            b.attn.w_q.slice_mut(s![.., 8.., ..]).fill(0.0);
        }
        let batch = random_batch(seed, 30, 12, true);
        let got = m.forward(&batch);
        assert_near_reference(&m, &batch, &got, &format!("seed {seed}"));
        let cpu = m.prepare();
        let out = cpu
            .run_batch(
                &batch,
                &Want {
                    resid: false,
                    patterns: vec![(0, 0)],
                },
            )
            .expect("runs");
        let mut repeats = 0;
        for (seq, p) in batch.iter().zip(&out.patterns[0]) {
            for i in 1..seq.len() {
                for j in 1..i {
                    if seq[i] == seq[j] && !causal {
                        repeats += 1;
                        assert_eq!(p.row(i), p.row(j), "seed {seed}: rows {j} and {i}");
                    }
                }
            }
        }
        assert!(causal || repeats > 0, "no repeated token");
    }
}

#[test]
fn remembered_mlp_outputs_are_the_computed_ones() {
    // A prepared model remembers each MLP's output by its input row: the
    // one-hot embeddings make rows repeat within a batch, and a second
    // run finds every row remembered. Both runs give the same floats, and
    // match the reference.
    for (seed, causal) in [(23, false), (24, true)] {
        let m = one_hot_model(seed, causal);
        let batch = random_batch(seed, 60, 12, true);
        let prepared = m.prepare();
        let first = prepared.forward(&batch);
        let second = prepared.forward(&batch);
        assert_eq!(first, second, "seed {seed}");
        assert_near_reference(&m, &batch, &first, &format!("seed {seed}"));
    }
}

#[test]
fn attn_only_skips_mlps() {
    let mut m = random_model(7, false, false);
    m.config.attn_only = true;
    let batch = random_batch(8, 5, 12, false);
    let got = m.forward(&batch);
    assert_near_reference(&m, &batch, &got, "attn_only");
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
