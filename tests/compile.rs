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
