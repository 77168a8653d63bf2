//! Output grids: a prefix mean past N = 210, whose values as a whole are
//! closer together than float32 resolves, is decoded position by position,
//! and a mean over every position by the input's length; the decoded
//! outputs, and the output s-op read from the residual, are
//! the interpreter's values (types included).

use crate::compile::Case;
use rasp::interp::{Output, Semantics, evaluate_batch};
use rasp::ir::Value;

const FRAC: &str = "frac = aggregate(select(indices, indices, <=), indicator(tokens == \"a\"));\n\
                    wide = aggregate(select(indices, indices, >=), indicator(tokens == \"a\"));\n";

/// Seeded inputs over `ab` of the given lengths.
fn inputs(lengths: &[usize]) -> Vec<Vec<Value>> {
    let mut x: u64 = 7;
    lengths
        .iter()
        .map(|&n| {
            (0..n)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    Value::str(if (x >> 40).is_multiple_of(3) {
                        "a"
                    } else {
                        "b"
                    })
                })
                .collect()
        })
        .collect()
}

#[test]
fn prefix_means_are_decoded_by_position() {
    let case = Case::new(FRAC, "frac", "ab", 220);
    let compiled = case
        .compile()
        .unwrap_or_else(|d| panic!("frac at N = 220: {}", d.render_plain()));
    let model = &compiled.model;
    let grid = model
        .meta
        .output_grid
        .as_ref()
        .expect("decoded by position");
    assert!(model.meta.output.values.is_empty());
    // At position i a prefix mean averages exactly i + 1 keys.
    assert!(counts_one_more_per_entry(grid));
    decodes_as_the_interpreter(&case, &compiled, &inputs(&[1, 2, 7, 150, 219, 220]));
}

/// `average` (a mean over every position) past N = 210: every fraction
/// with a denominator up to N over all inputs, but in an input of length
/// l only those over l; decoded by the input's length.
#[test]
fn means_over_every_position_are_decoded_by_length() {
    let src = "share = average(indicator(tokens == \"a\"));\n";
    let case = Case::new(src, "share", "ab", 220);
    let compiled = case
        .compile()
        .unwrap_or_else(|d| panic!("share at N = 220: {}", d.render_plain()));
    let grid = compiled
        .model
        .meta
        .output_grid
        .as_ref()
        .expect("decoded by length");
    assert_eq!(grid.by, rasp::model::grid::GridKey::Length);
    // At length l every position averages exactly l keys.
    assert!(counts_one_more_per_entry(grid));
    decodes_as_the_interpreter(&case, &compiled, &inputs(&[1, 3, 150, 211, 219, 220]));
}

/// Entry `i` of the grid (a position, or the length `i + 1`) lists
/// exactly `i + 1` keys.
fn counts_one_more_per_entry(grid: &rasp::model::grid::Grid) -> bool {
    grid.widths
        .iter()
        .enumerate()
        .all(|(i, w)| w == &vec![[i as u32 + 1, i as u32 + 1]])
}

/// The model's outputs, decoded, and its output s-op read from the
/// residual are the interpreter's values on `batch`, types included.
fn decodes_as_the_interpreter(
    case: &Case,
    compiled: &rasp::compile::Compiled,
    batch: &[Vec<Value>],
) {
    let model = &compiled.model;
    let want: Vec<Vec<Value>> = evaluate_batch(
        &case.session.graph,
        batch,
        case.node,
        Semantics::Bidirectional,
    )
    .into_iter()
    .map(|o| match o {
        Ok(Output::Sop(col)) => col.values,
        other => panic!("{other:?}"),
    })
    .collect();
    let got = model.run(batch).expect("runs");
    let out = &model.meta.sops[compiled.placements[&compiled.target]];
    for ((input, w), g) in batch.iter().zip(&want).zip(&got) {
        assert_eq!(g.len(), w.len());
        assert!(
            g.iter().zip(w).all(|(a, b)| a.same(b)),
            "length {}: {g:?} vs {w:?}",
            input.len()
        );
        // One key averaged (position 0 of a prefix, any position of a
        // 1-token input): the integer itself, not a float.
        if input.len() == 1 {
            assert!(matches!(g[0], Value::Int(_)));
        }
        let ids = model.encode(input).expect("encodes");
        let resid = model.forward(&[ids]).remove(0);
        let read = model.read(&resid, out);
        assert!(read.iter().zip(w).all(|(a, b)| a.same(b)), "read {read:?}");
    }
}

#[test]
fn a_mean_over_lengths_is_not_gridded() {
    // A suffix mean averages n - i keys: at position 0 every count from 1
    // to N occurs, so one position already holds values too close
    // together. It stays a precision refusal, naming the expression.
    let case = Case::new(FRAC, "wide", "ab", 220);
    let refusal = case.compile().expect_err("refused");
    assert_eq!(refusal.code, "rasp::compile::precision");
}
