//! The library's causal evaluation (`Program::set_semantics`) and causal
//! models (`Target::causal`) against the command line's `rasp eval
//! --causal`: one causal semantics, whichever surface asks.

use std::path::Path;
use std::process::Command;

use rasp::{Program, Semantics, Target};

/// Programs whose causal values differ from their bidirectional ones (and
/// one whose do not): source, s-op, inputs.
const CASES: &[(&str, &str, &[&str])] = &[
    (
        "last = aggregate(select(indices, length - 1, ==), tokens);",
        "last",
        &["\"abc\"", "\"a\"", "\"abba\""],
    ),
    ("n = length;", "n", &["\"abcd\"", "[1, 2]"]),
    (
        "hist = selector_width(select(tokens, tokens, ==));",
        "hist",
        &["\"abca\"", "\"bbb\""],
    ),
    (
        "rev = aggregate(select(indices, length - indices - 1, ==), tokens);",
        "rev",
        &["\"abc\"", "\"cab\""],
    ),
    // Ints: causally, a query may select no key, and the default 0 must
    // be of the tokens' type.
    (
        "sorted = sort(tokens_int, tokens_int);",
        "sorted",
        &["[3, 1, 2]", "[2, 2, 1]"],
    ),
    // Causal already: the same values either way.
    (
        "frac = aggregate(select(indices, indices, <=), indicator(tokens == \"a\"));",
        "frac",
        &["\"aba\"", "\"bba\""],
    ),
];

/// `rasp eval FILE SOP --json [--causal] INPUTS`: each output as JSON.
fn cli_eval(file: &Path, sop: &str, inputs: &[&str], causal: bool) -> Vec<serde_json::Value> {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rasp"));
    c.args(["eval", file.to_str().expect("utf-8"), sop, "--json"]);
    if causal {
        c.arg("--causal");
    }
    let o = c.args(inputs).output().expect("rasp runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON")["output"].clone())
        .collect()
}

#[test]
fn the_library_evaluates_causally_as_the_cli_does() {
    let dir = std::env::temp_dir().join(format!("rasp-causal-api-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (k, (src, sop, inputs)) in CASES.iter().enumerate() {
        let file = dir.join(format!("p{k}.rasp"));
        std::fs::write(&file, src).expect("write");
        let mut p = Program::load(&file).expect("loads");
        assert_eq!(p.semantics(), Semantics::Bidirectional);
        let parsed: Vec<Vec<rasp::Value>> = inputs
            .iter()
            .map(|i| rasp::input(i).expect("an input"))
            .collect();
        let json = |p: &Program| -> Vec<serde_json::Value> {
            let one: Vec<serde_json::Value> = parsed
                .iter()
                .map(|i| serde_json::from_str(&p.eval(sop, i).expect("evaluates").to_json()))
                .collect::<Result<_, _>>()
                .expect("JSON");
            let many: Vec<serde_json::Value> = p
                .eval_many(sop, &parsed)
                .expect("evaluates")
                .into_iter()
                .map(|o| serde_json::from_str(&o.expect("evaluates").to_json()).expect("JSON"))
                .collect();
            assert_eq!(one, many, "{sop}: eval and eval_many agree");
            one
        };
        let bidirectional = json(&p);
        assert_eq!(bidirectional, cli_eval(&file, sop, inputs, false), "{sop}");
        p.set_semantics(Semantics::Causal);
        let causal = json(&p);
        assert_eq!(causal, cli_eval(&file, sop, inputs, true), "{sop} causal");
        assert_eq!(causal != bidirectional, *sop != "frac", "{sop}: {causal:?}");
        p.set_semantics(Semantics::Bidirectional);
        assert_eq!(json(&p), bidirectional, "{sop}: back to bidirectional");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A causal model computes the causal values (a compiled reverse reads the
/// first token everywhere), a bidirectional one the others.
#[test]
fn a_causal_model_computes_the_causal_values() {
    let (src, sop, _) = CASES[3];
    let mut p = Program::from_source("rev.rasp", src).expect("loads");
    let vocab = rasp::vocab("abc").expect("vocab");
    let causal = p
        .compile(sop, &Target::new(vocab.clone(), 4).causal(true))
        .expect("compiles");
    let plain = p.compile(sop, &Target::new(vocab, 4)).expect("compiles");
    let inputs: Vec<Vec<rasp::Value>> = ["abc", "cab", "bcab"]
        .iter()
        .map(|s| rasp::input(s).expect("an input"))
        .collect();
    let values = |p: &Program| -> Vec<Vec<rasp::Value>> {
        inputs
            .iter()
            .map(|i| {
                p.eval(sop, i)
                    .expect("evaluates")
                    .values()
                    .expect("an s-op")
                    .to_vec()
            })
            .collect()
    };
    let bidirectional = values(&p);
    assert_eq!(plain.run(&inputs).expect("runs"), bidirectional);
    p.set_semantics(Semantics::Causal);
    let want = values(&p);
    assert_eq!(causal.run(&inputs).expect("runs"), want);
    assert_ne!(want, bidirectional);
    assert_eq!(want[2], rasp::input("bbbb").expect("an input"));
}
