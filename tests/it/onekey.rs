//! Aggregates whose selector selects at most one key (shifts, the first
//! and last element, a key looked up by a computed position): their value
//! set is the source's values and the default, not every mean of them, so
//! whatever reads them needs a small one-hot; the models verify.

use std::collections::BTreeMap;

use crate::compile::Case;
use rasp::compile::verify::{DEFAULT_SAMPLES, Mode, verify};
use rasp::model::Encoding;

/// Compile `sop` of `src` for `vocab` and `n`, verify it (every input when
/// they are few, else a seeded sample of every length), and return the
/// size of its value set and the encoding of each placed s-op by name.
fn check(src: &str, sop: &str, vocab: &str, n: usize) -> (usize, BTreeMap<String, Encoding>) {
    let case = Case::new(src, sop, vocab, n);
    let compiled = case
        .compile()
        .unwrap_or_else(|d| panic!("{sop}: {}", d.render_plain()));
    let report = verify(
        &case.session.graph,
        &case.session.sources,
        &compiled,
        case.node,
        Mode::Auto {
            samples: DEFAULT_SAMPLES,
            seed: 5,
        },
    )
    .expect("verify runs");
    assert!(
        report.checked > 0 && report.mismatches == 0,
        "{sop}: {} mismatches of {}; first: {:?}",
        report.mismatches,
        report.checked,
        report.counterexample
    );
    let values = compiled.sets[&compiled.target]
        .len()
        .expect("a finite value set");
    let meta = &compiled.model.meta;
    let mut enc: BTreeMap<String, Encoding> = meta
        .sops
        .iter()
        .map(|p| (p.name.clone(), p.encoding))
        .collect();
    enc.insert(sop.to_string(), meta.output.encoding);
    (values, enc)
}

const PROGRAM: &str = "tokens = tokens_int;\n\
    prev = aggregate(select(indices, indices - 1, ==), tokens);\n\
    next = aggregate(select(indices, indices + 1, ==), tokens, -1);\n\
    first = aggregate(select(indices, 0, ==), tokens);\n\
    last = aggregate(select(indices, length - 1, ==), tokens);\n\
    mirror = aggregate(select(length - indices - 1, indices, ==), tokens);\n\
    smaller = selector_width(select(tokens, tokens, <));\n\
    at_rank = aggregate(select(indices, smaller, ==), tokens);\n\
    rising = prev < tokens;\n\
    same_as_prev = aggregate(select(indices, indices - 1, ==) and select(tokens, tokens, ==), 1);\n";

/// A shift, the next element with a default of its own, the first and the
/// last element, a mirror (keys `length - indices - 1`), a token looked up
/// at a computed position: each is the source's 5 values and the default
/// at N = 10 (means would give hundreds of values), copied as a number
/// when nothing reads it as a category (as an output: one dim).
#[test]
fn shifts_and_lookups_keep_the_values_of_their_source() {
    for sop in ["prev", "next", "first", "last", "mirror", "at_rank"] {
        let (values, enc) = check(PROGRAM, sop, "[1,2,3,4,5]", 10);
        assert_eq!(values, 6, "{sop}: 1..5 and the default");
        assert_eq!(enc[sop], Encoding::Numerical, "{sop}");
    }
    // A comparison of a shift with the tokens (a table over 6 x 5 values)
    // reads the shift's one-hot: it is copied as one.
    let (values, enc) = check(PROGRAM, "rising", "[1,2,3,4,5]", 10);
    assert_eq!(values, 2);
    assert_eq!(enc["prev"], Encoding::Categorical);
    // `and` with an at-most-one conjunct: 1 or the default 0.
    let (values, _) = check(PROGRAM, "same_as_prev", "[1,2,3,4,5]", 10);
    assert_eq!(values, 2);
}

/// Sorting: the library's `sort` (ties broken by position) and tracr's
/// `sort_unique` over keys made unique (`tokens + indices / 100`, split
/// into ranks at N = 20) look each position up by its rank, which no two
/// positions share: the sorted values are the tokens and the default.
#[test]
fn sorting_by_unique_ranks_copies_one_key() {
    let src = "tokens = tokens_int;\n\
               sorted = sort(tokens, tokens);\n\
               by_neg = sort(tokens, 0 - tokens);\n\
               target = selector_width(select(tokens + indices / 100, tokens + indices / 100, <));\n\
               tracr = aggregate(select(target, indices, ==), tokens);\n\
               ties = aggregate(select(selector_width(select(tokens, tokens, <)), indices, ==), tokens);\n";
    for (sop, n) in [("sorted", 10), ("by_neg", 8), ("tracr", 10), ("tracr", 20)] {
        let (values, _) = check(src, sop, "[1,2,3,4,5]", n);
        assert_eq!(values, 6, "{sop} at {n}: 1..5 and the default");
    }
    // Equal tokens share a rank: their mean is a mean.
    let (values, _) = check(src, "ties", "[1,2,3]", 5);
    assert!(values > 6, "{values}");
}

/// A shift of a mean (a numerical source) copies the number: its values
/// are the mean's and the default; reading it as a category (a select on
/// it, a comparison) converts only those.
#[test]
fn a_shifted_mean_keeps_the_means_values() {
    let src = "frac = aggregate(select(indices, indices, <=), indicator(tokens == \"a\"));\n\
               prev = aggregate(select(indices, indices - 1, ==), frac, 0);\n\
               up = frac > prev;\n\
               same = selector_width(select(prev, frac, ==));\n";
    for (sop, n) in [("prev", 8), ("up", 8), ("same", 6)] {
        let (values, _) = check(src, sop, "ab", n);
        if sop == "prev" {
            // frac: the 23 fractions k/m for m <= 8, with 0 and 1 both
            // as ints (one key) and as floats (a mean): 25 values.
            assert_eq!(values, 25, "{sop}");
        }
    }
}

/// A select whose query is a mean converted to a one-hot: only the mean's
/// values that can equal some key (an index) get a dim; the others all
/// select nothing alike and share none. The model verifies.
#[test]
fn a_query_one_hot_covers_only_values_that_can_match() {
    let src = "frac = aggregate(select(indices, indices, <=), indicator(tokens == \"a\"));\n\
               at = aggregate(select(indices, frac, ==), tokens == \"b\", False);\n";
    let compiled = Case::new(src, "at", "ab", 8)
        .compile()
        .unwrap_or_else(|d| panic!("{}", d.render_plain()));
    let [(frac, kept)] = compiled
        .plan
        .conv_values
        .iter()
        .collect::<Vec<_>>()
        .try_into()
        .expect("one partial conversion: frac's");
    assert_eq!(compiled.sets[frac].len(), Some(25), "k/m for m <= 8");
    let mut kept: Vec<String> = kept.iter().map(|v| v.repr()).collect();
    kept.sort();
    // 0 and 1, as ints (one key) and as floats (means): 4 of 25.
    assert_eq!(kept, ["0", "0.0", "1", "1.0"]);
    // The estimate counts the conversion's steps only where its output
    // changes (around the kept values: 0 lit, then nothing over the 23
    // values between, then 1 lit: one constant unit and two changes), not
    // 2 units per value, and still bounds the residual width.
    let e = compiled.estimate.as_ref().expect("an estimate");
    let conv = e
        .costs
        .iter()
        .find(|c| c.node == *frac)
        .expect("frac's cost");
    assert_eq!((conv.dims, conv.units), (5, 5), "{conv:?}");
    assert!(e.d_model >= compiled.model.config.d_model);
    let (values, _) = check(src, "at", "ab", 8);
    assert_eq!(values, 2, "False and True");
}
