//! The compiler's bar: every program in tests/compile/cases.txt compiles and
//! its model agrees with the interpreter on every input up to N = 5 and
//! N = 10 (exhaustively when there are at most 200,000 inputs, else on
//! 20,000 seeded samples). N = 20 runs in scripts/test on the release build.

use std::path::Path;

use rasp::cli::parse_vocab;
use rasp::compile::verify::{DEFAULT_SAMPLES, Mode, verify};
use rasp::compile::{Options, Source, compile};
use rasp::front::{MVal, Session, value::lookup};

fn check(file: &str, sop: &str, vocab: &str, n: usize) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compile");
    let mut session = Session::new();
    let (scope, result) = session.run_path(&dir.join(file)).expect("program reads");
    assert!(result.diags.is_empty(), "{file}: {:?}", result.diags);
    let Some(MVal::Sop(node)) = lookup(&scope, sop) else {
        panic!("{file}: {sop} is not an s-op");
    };
    let opts = Options {
        vocab: parse_vocab(vocab).expect("vocab"),
        max_len: n,
        causal: false,
    };
    let compiled = compile(
        &session.graph,
        &session.sources,
        node,
        &opts,
        &Source::default(),
    )
    .unwrap_or_else(|d| panic!("{file} at N={n} does not compile: {}", d.render_plain()));
    let report = verify(
        &session.graph,
        &session.sources,
        &compiled,
        node,
        Mode::Auto {
            samples: DEFAULT_SAMPLES,
            seed: 1,
        },
    )
    .expect("verify runs");
    assert!(report.checked > 0, "{file}: nothing checked");
    assert_eq!(
        report.mismatches, 0,
        "{file} at N={n}: {} mismatches of {}; first: {:?}",
        report.mismatches, report.checked, report.counterexample
    );
}

fn cases() -> Vec<(String, String, String)> {
    include_str!("compile/cases.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w[0].to_string(), w[1].to_string(), w[2].to_string())
        })
        .collect()
}

#[test]
fn tracr_library_at_n5() {
    for (f, s, v) in cases() {
        check(&f, &s, &v, 5);
    }
}

#[test]
fn tracr_library_at_n10() {
    for (f, s, v) in cases() {
        check(&f, &s, &v, 10);
    }
}

/// Compile, write, read, execute: the loaded model is identical and gives
/// the same outputs as the one in memory.
#[test]
fn compiled_models_round_trip_through_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compile");
    let out = std::env::temp_dir().join(format!("rasp-roundtrip-{}", std::process::id()));
    for (file, sop, vocab) in [
        ("sort.rasp", "ascending", "[1,2,3,4,5]"),
        ("reverse.rasp", "flipped", "abcde"),
        ("detect_pattern.rasp", "found", "abc"),
    ] {
        let mut session = Session::new();
        let (scope, _) = session.run_path(&dir.join(file)).expect("program reads");
        let Some(MVal::Sop(node)) = lookup(&scope, sop) else {
            panic!("{sop} is an s-op");
        };
        let opts = Options {
            vocab: parse_vocab(vocab).expect("vocab"),
            max_len: 8,
            causal: false,
        };
        let compiled = compile(
            &session.graph,
            &session.sources,
            node,
            &opts,
            &Source::default(),
        )
        .expect("compiles");
        let path = out.join(file);
        rasp::model::io::save(&compiled.model, &path).expect("saves");
        let loaded = rasp::model::io::load(&path).expect("loads");
        assert_eq!(
            loaded, compiled.model,
            "{file}: the loaded model is identical"
        );
        let vocab = opts.vocab.clone();
        let inputs: Vec<Vec<rasp::ir::Value>> = (1..=8)
            .map(|n| {
                (0..n)
                    .map(|i| vocab[(i * 7 + n) % vocab.len()].clone())
                    .collect()
            })
            .collect();
        let a = compiled.model.run(&inputs).expect("runs in memory");
        let b = loaded.run(&inputs).expect("runs from files");
        assert_eq!(a, b, "{file}: same outputs");
        for (input, got) in inputs.iter().zip(&a) {
            let rasp::interp::Output::Sop(col) = session.evaluate(node, input).expect("interprets")
            else {
                panic!("an s-op");
            };
            assert!(
                col.values
                    .iter()
                    .zip(got)
                    .all(|(x, y)| rasp::compile::verify::same_value(x, y)),
                "{file} on {input:?}: interpreter {:?}, model {got:?}",
                col.values
            );
        }
    }
    let _ = std::fs::remove_dir_all(&out);
}

/// Selectors combining different s-ops with `or`/`not` compile through
/// product one-hots, and verify exactly.
#[test]
fn or_and_not_of_selectors_over_different_sops() {
    let mut session = Session::new();
    let scope = session.new_scope();
    let src = "either = select(tokens, tokens, ==) or select(indices, indices, <);\n\
               w = selector_width(either);\n\
               neither = not (select(tokens, \"a\", ==) or select(indices, 0, ==));\n\
               first_other = aggregate(neither and select(indices, indices, <=), indices, -1);\n\
               sorted = sort(tokens, tokens);\n";
    let r = session.run_source("either.rasp", src, &scope, None);
    assert!(r.diags.is_empty(), "{:?}", r.diags);
    for name in ["w", "first_other", "sorted"] {
        let Some(MVal::Sop(node)) = lookup(&scope, name) else {
            panic!("{name} is an s-op");
        };
        let opts = Options {
            vocab: parse_vocab("abc").expect("vocab"),
            max_len: 5,
            causal: false,
        };
        let compiled = compile(
            &session.graph,
            &session.sources,
            node,
            &opts,
            &Source::default(),
        )
        .unwrap_or_else(|d| panic!("{name}: {}", d.render_plain()));
        let report = verify(
            &session.graph,
            &session.sources,
            &compiled,
            node,
            Mode::Exhaustive,
        )
        .expect("verify runs");
        assert_eq!(report.mismatches, 0, "{name}: {:?}", report.counterexample);
        assert_eq!(report.checked, 363);
    }
}

/// What float32 cannot represent exactly is refused with a diagnostic that
/// points at the s-op, never compiled into a wrong model.
#[test]
fn values_too_close_for_float32_are_a_diagnostic() {
    let mut session = Session::new();
    let scope = session.new_scope();
    let src = "weights = 2 ^ indices;\nspread = aggregate(full_s, weights);\nbig = spread > 3;\n";
    let r = session.run_source("close.rasp", src, &scope, None);
    assert!(r.diags.is_empty());
    let Some(MVal::Sop(node)) = lookup(&scope, "big") else {
        panic!("big is an s-op");
    };
    let opts = Options {
        vocab: parse_vocab("ab").expect("vocab"),
        max_len: 24,
        causal: false,
    };
    let err = compile(
        &session.graph,
        &session.sources,
        node,
        &opts,
        &Source::default(),
    )
    .expect_err("means of powers of two up to 2^23 are too close together");
    assert!(
        err.code == "rasp::compile::precision" || err.code == "rasp::compile::value_set",
        "{}",
        err.render_plain()
    );
    assert!(err.span.is_some(), "the diagnostic points at the s-op");
}
