//! No input may panic the parser, the front end or the interpreter: random
//! byte strings, random token soup, and random inputs to real programs.

use proptest::prelude::*;
use rasp::front::{MVal, Session, value::lookup};
use rasp::ir::Value;

/// Deep but bounded recursion in the front end needs more than the default
/// test-thread stack in debug builds; the binary runs on a big stack too.
fn on_big_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(256 * 1024 * 1024)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no panic");
}

/// Names, punctuation and literals; every word of the language comes from
/// its table ([`words`]).
const OTHER: &[&str] = &[
    "a", "b", "x", "full_s", "(", ")", "[", "]", "{", "}", ",", ";", ":", "=", "==", "!=", "<",
    ">", "<=", ">=", "+", "-", "*", "/", "%", "^", "0", "1", "2", "3", "1.5", "\"a\"", "\"ab\"",
    "#c\n", "\n", "sort", "count", "f", "g",
];

fn words() -> Vec<&'static str> {
    OTHER
        .iter()
        .copied()
        .chain(rasp::syntax::words::WORDS.iter().map(|w| w.text))
        .collect()
}

fn run_program(src: String) {
    on_big_stack(move || {
        let mut s = Session::new();
        let scope = s.new_scope();
        let result = s.run_source("<fuzz>", &src, &scope, None);
        // Whatever it defined must evaluate (or fail) without panicking.
        let names: Vec<String> = scope.borrow().names().to_vec();
        for n in names {
            if let Some(MVal::Sop(id) | MVal::Sel(id)) = lookup(&scope, &n) {
                let input: Vec<Value> =
                    "abca".chars().map(|c| Value::str(&c.to_string())).collect();
                let _ = s.evaluate(id, &input);
            }
        }
        for d in &result.diags {
            let _ = d.render_plain();
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        run_program(String::from_utf8_lossy(&bytes).into_owned());
    }

    #[test]
    fn random_token_soup_never_panics(idx in proptest::collection::vec(0..words().len(), 0..60)) {
        let words = words();
        let src: Vec<&str> = idx.iter().map(|i| words[*i]).collect();
        run_program(src.join(" "));
    }

    #[test]
    fn random_inputs_to_programs_never_panic(
        toks in proptest::collection::vec(prop_oneof![
            "[a-e(){}\\[\\]+0-9§]".prop_map(|s| Value::str(&s)),
            any::<i32>().prop_map(|i| Value::Int(i as i64)),
            any::<bool>().prop_map(Value::Bool),
            (-1.0e3f64..1.0e3).prop_map(Value::Float),
        ], 0..12)
    ) {
        on_big_stack(move || {
            let mut s = Session::new();
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
            for file in ["examples/paper.rasp", "examples/addition.rasp"] {
                let (scope, _) = s.run_path(&dir.join(file)).expect("example reads");
                let names: Vec<String> = scope.borrow().names().to_vec();
                for n in names {
                    if let Some(MVal::Sop(id) | MVal::Sel(id)) = lookup(&scope, &n) {
                        let _ = s.evaluate(id, &toks);
                    }
                }
            }
        });
    }
}

#[test]
fn hostile_nesting_is_a_diagnostic() {
    for src in [
        "x = ".to_string() + &"(".repeat(100_000) + "1" + &")".repeat(100_000) + ";",
        "x = ".to_string() + &"1 + ".repeat(100_000) + "1;",
        "x = ".to_string() + &"-".repeat(100_000) + "1;",
        "[".repeat(50_000),
    ] {
        on_big_stack(move || {
            let mut s = Session::new();
            let scope = s.new_scope();
            let r = s.run_source("<deep>", &src, &scope, None);
            assert!(r.has_errors(), "deep nesting must be reported");
        });
    }
}
