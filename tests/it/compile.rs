//! The compiler's bar: every program in tests/compile/cases.txt compiles and
//! its model agrees with the interpreter on every input up to N = 5 and
//! N = 10 (exhaustively when there are at most 200,000 inputs, else on
//! 20,000 seeded samples). N = 20 runs in scripts/test on the release build.

use std::path::Path;

use rasp::cli::parse_vocab;
use rasp::compile::verify::{DEFAULT_SAMPLES, Mode, same_value, verify};
use rasp::compile::{Compiled, Options, Source, compile};
use rasp::diag::Diag;
use rasp::front::{MVal, Session, value::lookup};
use rasp::interp::Output;
use rasp::ir::{NodeId, Value};

/// One s-op of a program (a file in tests/compile/, or source text), and
/// the options to compile it for.
pub(crate) struct Case {
    pub(crate) session: Session,
    pub(crate) node: NodeId,
    opts: Options,
}

impl Case {
    pub(crate) fn new(program: &str, sop: &str, vocab: &str, n: usize) -> Case {
        let mut session = Session::new();
        let scope = if program.ends_with(".rasp") {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compile");
            let (scope, result) = session.run_path(&dir.join(program)).expect("program reads");
            assert!(result.diags.is_empty(), "{program}: {:?}", result.diags);
            scope
        } else {
            let scope = session.new_scope();
            let result = session.run_source("<test>", program, &scope, None);
            assert!(result.diags.is_empty(), "{:?}", result.diags);
            scope
        };
        let Some(MVal::Sop(node)) = lookup(&scope, sop) else {
            panic!("{sop} is not an s-op");
        };
        let opts = Options::new(parse_vocab(vocab).expect("vocab"), n);
        Case {
            session,
            node,
            opts,
        }
    }

    /// Compile and verify, as `rasp compile` does.
    fn build(&self) -> Result<Compiled, Diag> {
        rasp::compile::build(
            &self.session.graph,
            &self.session.sources,
            self.node,
            &self.opts,
            &Source::default(),
            rasp::compile::Check::default(),
        )
    }

    pub(crate) fn compile(&self) -> Result<Compiled, Diag> {
        compile(
            &self.session.graph,
            &self.session.sources,
            self.node,
            &self.opts,
            &Source::default(),
        )
    }

    /// Compile and verify; returns (inputs checked, mismatches).
    fn verify(&self, mode: Mode) -> (usize, usize) {
        let compiled = self
            .compile()
            .unwrap_or_else(|d| panic!("does not compile: {}", d.render_plain()));
        let report = verify(
            &self.session.graph,
            &self.session.sources,
            &compiled,
            self.node,
            mode,
        )
        .expect("verify runs");
        assert!(
            report.mismatches == 0,
            "{} mismatches of {}; first: {:?}",
            report.mismatches,
            report.checked,
            report.counterexample
        );
        (report.checked, report.mismatches)
    }
}

fn cases() -> Vec<(String, String, String)> {
    include_str!("../compile/cases.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w[0].to_string(), w[1].to_string(), w[2].to_string())
        })
        .collect()
}

fn library_at(n: usize) {
    for (file, sop, vocab) in cases() {
        let mode = Mode::Auto {
            samples: DEFAULT_SAMPLES,
            seed: 1,
        };
        let (checked, _) = Case::new(&file, &sop, &vocab, n).verify(mode);
        assert!(checked > 0, "{file} at N={n}: nothing checked");
    }
}

#[test]
fn tracr_library_at_n5() {
    library_at(5);
}

#[test]
fn tracr_library_at_n10() {
    library_at(10);
}

/// Compile, write, read, execute: the loaded model is identical and gives
/// the same outputs as the one in memory, which agree with the interpreter.
#[test]
fn compiled_models_round_trip_through_files() {
    let out = std::env::temp_dir().join(format!("rasp-roundtrip-{}", std::process::id()));
    for (file, sop, vocab) in [
        ("sort.rasp", "ascending", "[1,2,3,4,5]"),
        ("reverse.rasp", "flipped", "abcde"),
        ("detect_pattern.rasp", "found", "abc"),
    ] {
        let case = Case::new(file, sop, vocab, 8);
        let compiled = case.compile().expect("compiles");
        let path = out.join(file);
        rasp::model::io::save(&compiled.model, &path).expect("saves");
        let loaded = rasp::model::io::load(&path).expect("loads");
        assert_eq!(
            loaded, compiled.model,
            "{file}: the loaded model is identical"
        );
        let vocab = &case.opts.vocab;
        let inputs: Vec<Vec<Value>> = (1..=8)
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
            let Ok(Output::Sop(col)) = case.session.evaluate(case.node, input) else {
                panic!("{file}: the interpreter evaluates {input:?}");
            };
            assert!(
                col.values.iter().zip(got).all(|(x, y)| same_value(x, y)),
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
    let src = "either = select(tokens, tokens, ==) or select(indices, indices, <);\n\
               w = selector_width(either);\n\
               neither = not (select(tokens, \"a\", ==) or select(indices, 0, ==));\n\
               first_other = aggregate(neither and select(indices, indices, <=), indices, -1);\n\
               sorted = sort(tokens, tokens);\n";
    for name in ["w", "first_other", "sorted"] {
        let (checked, _) = Case::new(src, name, "abc", 5).verify(Mode::Exhaustive);
        assert_eq!(checked, 363, "{name}: every input up to length 5");
    }
}

/// Widths at N = 512 are decoded from `1/(w+1)`, whose values near 1/512
/// are 3.8e-6 apart: the precision check bounds the float32 error of the
/// width head (a softmax over up to 513 keys) instead of asking for a fixed
/// relative gap, so `hist` and `reverse` compile, and their models are
/// exact on the inputs that need the closest values (the longest ones).
#[test]
fn widths_compile_exactly_at_512() {
    let src = "hist = selector_width(select(tokens, tokens, ==));\n\
               n = selector_width(full_s);\n\
               rev = aggregate(select(indices, n - indices - 1, ==), tokens);\n";
    let n = 512;
    let inputs: Vec<Vec<Value>> = [n, n - 1, n - 2]
        .iter()
        .flat_map(|len| {
            let same = vec![Value::Str("a".into()); *len];
            let mixed = (0..*len)
                .map(|i| Value::Str(if i % 97 == 3 { "b" } else { "a" }.into()))
                .collect();
            [same, mixed]
        })
        .collect();
    for name in ["hist", "rev"] {
        let case = Case::new(src, name, "abcde", n);
        let compiled = case
            .compile()
            .unwrap_or_else(|d| panic!("{name}: {}", d.render_plain()));
        let got = compiled.model.run(&inputs).expect("runs");
        for (input, got) in inputs.iter().zip(&got) {
            let Ok(Output::Sop(col)) = case.session.evaluate(case.node, input) else {
                panic!("{name}: the interpreter evaluates");
            };
            assert!(
                col.values.iter().zip(got).all(|(x, y)| same_value(x, y)),
                "{name} at length {}: the model differs",
                input.len()
            );
        }
    }
}

/// What float32 cannot represent exactly is refused with a diagnostic that
/// points at the s-op, never compiled into a wrong model.
#[test]
fn values_too_close_for_float32_are_a_diagnostic() {
    let src = "weights = 2 ^ indices;\nspread = aggregate(full_s, weights);\nbig = spread > 3;\n";
    let err = Case::new(src, "big", "ab", 24)
        .compile()
        .expect_err("means of powers of two up to 2^23 are too close together");
    assert!(
        err.code == "rasp::compile::precision" || err.code == "rasp::compile::value_set",
        "{}",
        err.render_plain()
    );
    assert!(err.span.is_some(), "the diagnostic points at the s-op");
}

/// S-ops that show the same title are different s-ops: the compiler keys
/// everything by node, and titles are made unique (`count#2`) in the
/// residual labels and placements.
#[test]
fn sops_with_the_same_title_get_their_own_dims() {
    let long = "aggregate(select(indices, indices, <), indicator(tokens == \"a\") + indicator(tokens == \"b\") + indicator(tokens == \"{}\"))";
    let cases = [
        // two calls of one library function
        (
            "res = indicator(contains(tokens, \"a\")) + indicator(contains(tokens, \"b\"));"
                .to_string(),
            "abcd",
            5,
        ),
        // a local name used by two calls
        (
            "def g(x, c) { y = count(x, c); return y; }\nres = g(tokens, \"a\") - g(tokens, \"b\");"
                .to_string(),
            "abc",
            5,
        ),
        // a user s-op named like the builtin `length`
        (
            "length = selector_width(select(tokens, \"a\", ==));\nres = length * 10 + selector_width(select(1, 1, ==));"
                .to_string(),
            "abc",
            5,
        ),
        // two long unnamed expressions whose titles are cut at one place
        (
            format!(
                "res = {} - {};",
                long.replace("{}", "c"),
                long.replace("{}", "d")
            ),
            "abcd",
            4,
        ),
    ];
    for (src, vocab, n) in cases {
        let case = Case::new(&src, "res", vocab, n);
        let (checked, _) = case.verify(Mode::Exhaustive);
        assert!(checked > 0, "{src}");
        let compiled = case.compile().expect("compiles");
        let meta = &compiled.model.meta;
        let mut names: Vec<&str> = meta.sops.iter().map(|p| p.name.as_str()).collect();
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(
            names.len(),
            all,
            "{src}: placement names are unique: {names:?}"
        );
        let mut labels = meta.residual.clone();
        labels.sort();
        labels.dedup();
        assert_eq!(
            labels.len(),
            meta.residual.len(),
            "{src}: residual labels are unique"
        );
    }
}

/// `rasp compile` checks the model before writing it; what it checked is
/// in `rasp.json`.
#[test]
fn build_verifies_and_records_what_it_checked() {
    let case = Case::new(
        "res = selector_width(select(tokens, tokens, ==));",
        "res",
        "abc",
        5,
    );
    let built = case.build().expect("builds");
    let v = built.model.meta.verified.as_ref().expect("recorded");
    assert_eq!(v.mismatches, 0);
    assert!(v.inputs > 0 && v.exhaustive, "{v:?}");
    // A program that fails on most inputs is refused with a diagnostic.
    let case = Case::new(
        "res = aggregate(select(indices, indices, <=), tokens == \"a\");",
        "res",
        "ab",
        3,
    );
    let err = case.build().expect_err("mostly rejected inputs");
    assert_eq!(err.code, "rasp::verify::vacuous", "{}", err.render_plain());
}

/// `numerical(x)` and `categorical(x)` choose how `x` is held; every
/// choice verifies, and one that cannot be honoured is a diagnostic.
#[test]
fn encodings_asked_for_are_honoured() {
    use rasp::model::Encoding;
    for (sop, want) in [
        ("frac", Encoding::Numerical),
        ("cfrac", Encoding::Categorical),
        ("sw", Encoding::Numerical),
        ("c2", Encoding::Categorical),
        ("lin", Encoding::Numerical),
        ("cl", Encoding::Categorical),
        ("bmean", Encoding::Numerical),
    ] {
        let case = Case::new("hints.rasp", sop, "ab", 5);
        let (checked, _) = case.verify(Mode::Exhaustive);
        assert_eq!(checked, 62, "{sop}");
        let compiled = case.compile().expect("compiles");
        let out = &compiled.model.meta.output;
        let got = if out.encoding == Encoding::Numerical {
            Encoding::Numerical
        } else {
            Encoding::Categorical
        };
        assert_eq!(got, want, "{sop}: {out:?}");
    }
    let err = Case::new("res = numerical(tokens);", "res", "ab", 3)
        .compile()
        .expect_err("strings cannot be one number");
    assert_eq!(
        err.code,
        "rasp::compile::unsupported",
        "{}",
        err.render_plain()
    );
}

/// Dead dims are zeroed by an MLP and reused: the model stays exact, the
/// reused dims are labelled with every owner, and the s-ops that lost
/// their dims say where (and `verify` still reads them in time).
#[test]
fn dead_dims_are_reclaimed_exactly() {
    let case = Case::new("sort_freq.rasp", "by_freq", "[1,2,3,4,5]", 8);
    let compiled = case.compile().expect("compiles");
    let meta = &compiled.model.meta;
    assert!(
        meta.residual.iter().any(|l| l.contains(" | ")),
        "some dim has two owners: {:?}",
        meta.residual
    );
    let cleared: Vec<&str> = meta
        .sops
        .iter()
        .filter(|p| p.cleared_in.is_some())
        .map(|p| p.name.as_str())
        .collect();
    assert!(!cleared.is_empty(), "some s-op's dims are reused");
    assert!(
        meta.output.cleared_in.is_none(),
        "the output is never cleared"
    );
    case.verify(Mode::Auto {
        samples: DEFAULT_SAMPLES,
        seed: 3,
    });
    // Every placement reads correctly right after its own sublayer.
    let input: Vec<Value> = [3, 1, 3, 2, 5, 3, 1]
        .iter()
        .map(|i| Value::Int(*i))
        .collect();
    assert!(
        rasp::compile::verify::first_divergence(&case.session.sources, &compiled, &input).is_none(),
        "no s-op differs"
    );
}

/// An output an MLP or the embedding makes, with many values that are all
/// numbers, none equal to another and float32-resolvable, is one number
/// decoded by its nearest reachable value, not a one-hot of every value
/// (a product of numbers: 700 values); where `6` and `6.0` are both
/// reachable the number cannot say which, so it stays a one-hot.
#[test]
fn numbers_with_many_values_are_decoded_by_nearest() {
    use rasp::model::Encoding;
    let src = "tokens = tokens_int;\n\
               prod = tokens * indices * length;\n\
               twins = prod if tokens > 3 else prod / 1;\n";
    let case = Case::new(src, "prod", "[1,2,3,4,5,6,7]", 10);
    let compiled = case.compile().expect("compiles");
    let out = &compiled.model.meta.output;
    assert_eq!(out.encoding, Encoding::Numerical);
    assert!(out.values.len() > 64, "{}", out.values.len());
    assert!(
        compiled.model.config.d_model < 40,
        "{}",
        compiled.model.config.d_model
    );
    case.verify(Mode::Auto {
        samples: DEFAULT_SAMPLES,
        seed: 2,
    });
    let case = Case::new(src, "twins", "[1,2,3,4,5,6,7]", 6);
    let compiled = case.compile().expect("compiles");
    assert_eq!(compiled.model.meta.output.encoding, Encoding::Categorical);
    case.verify(Mode::Auto {
        samples: DEFAULT_SAMPLES,
        seed: 2,
    });
}

/// Nested means compile where their values fit float32: the means of
/// means of products sit on a small common grid, enumerated exactly, and
/// the output is decoded by its nearest value. Where float32's error on
/// the output's number (its bound) could reach half the gap between two
/// reachable values, the output is refused, never decoded to a neighbour.
#[test]
fn nested_means_compile_where_their_values_fit_float32() {
    let src = "frac = aggregate(select(indices, indices, <=), indicator(tokens == \"a\"));\n\
               mm = aggregate(select(indices, indices, >=), frac);\n\
               prods = aggregate(select(indices, indices, <), (length * indices) * indices, 1);\n\
               nested = aggregate(select(tokens, tokens, <=), prods, 1);\n\
               big = numerical(aggregate(select(indices, indices, <=), \
               indicator(tokens == \"a\") + 1000000));\n";
    let (checked, _) = Case::new(src, "nested", "ab", 5).verify(Mode::Exhaustive);
    assert_eq!(checked, 62);
    let (checked, _) = Case::new(src, "mm", "ab", 10).verify(Mode::Exhaustive);
    assert_eq!(checked, 2046);
    // 1000000 and 1000000 + 1/6: a relative gap of 1.7e-7, below float32's.
    let err = Case::new(src, "big", "ab", 6)
        .compile()
        .expect_err("means near a million, 1/6 apart");
    assert_eq!(
        err.code,
        "rasp::compile::precision",
        "{}",
        err.render_plain()
    );
    assert!(err.message.contains("the output `big`"), "{}", err.message);
}
