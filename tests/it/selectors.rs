//! The interpreter's O(n log n) selectors (`src/interp/fast.rs`, long
//! inputs) and bit matrices (`src/interp/bits.rs`, inputs of at most 64)
//! against the general O(n²) path: the same values, and the same errors,
//! on random inputs of every short length and of long ones.

use rasp::front::{MVal, Session, value::lookup};
use rasp::interp::Evaluator;
use rasp::ir::Value;

const PROGRAM: &str = r#"
sorted = sort(tokens, tokens);
sorted_desc = aggregate(select(selector_width(select(tokens, tokens, >) or (select(tokens, tokens, ==) and select(indices, indices, >))), indices, ==), tokens);
hist = selector_width(select(tokens, tokens, ==));
below = selector_width(select(tokens, tokens, <));
at_most = selector_width(select(tokens, tokens, <=));
above = selector_width(select(tokens, tokens, >));
at_least = selector_width(select(tokens, tokens, >=));
mean_idx_eq = aggregate(select(tokens, tokens, ==), indices);
mean_idx_lt = aggregate(select(tokens, tokens, <), indices);
mean_idx_ge = aggregate(select(tokens, tokens, >=), indices);
first_tok = aggregate(select(indices, 0, ==), tokens);
by_index = aggregate(select(indices, length - indices - 1, ==), tokens);
float_mean = aggregate(select(indices, indices, <=), indices / 3);
bool_pick = aggregate(select(tokens, tokens, ==), tokens == tokens);
str_pick = aggregate(select(indices, indices, ==), tokens);
str_mean = aggregate(select(tokens, tokens, ==), tokens);
not_eq = selector_width(not select(tokens, tokens, ==));
ne_mean = aggregate(select(tokens, tokens, !=), indices);
and_or = selector_width((select(tokens, tokens, <) and select(indices, indices, >)) or not select(indices, 2, <));
bool_keys = aggregate(select(tokens == tokens, indices < 3, ==), indices);
mixed = selector_width(select(tokens, indices, <));
mixed_eq = aggregate(select(tokens, indices, ==), indices, -1);
float_keys = selector_width(select(indices / 2, indices / 3, <));
shared = select(tokens, tokens, <=);
reused = selector_width(shared) + aggregate(shared, indices);
"#;

/// Deterministic pseudo-random tokens.
fn tokens(n: usize, seed: u64, letters: bool, alphabet: u64) -> Vec<Value> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let t = (x >> 33) % alphabet;
            if letters {
                Value::str(&((b'a' + t as u8) as char).to_string())
            } else {
                Value::Int(t as i64 - 3)
            }
        })
        .collect()
}

#[test]
fn fast_selectors_and_bit_matrices_agree_with_the_general_path() {
    let mut session = Session::new();
    let scope = session.new_scope();
    let r = session.run_source("<selectors>", PROGRAM, &scope, None);
    assert!(!r.has_errors(), "{:?}", r.diags);
    let names = [
        "sorted",
        "sorted_desc",
        "hist",
        "below",
        "at_most",
        "above",
        "at_least",
        "mean_idx_eq",
        "mean_idx_lt",
        "mean_idx_ge",
        "first_tok",
        "by_index",
        "float_mean",
        "bool_pick",
        "str_pick",
        "str_mean",
        "not_eq",
        "ne_mean",
        "and_or",
        "bool_keys",
        "mixed",
        "mixed_eq",
        "float_keys",
        "reused",
    ];
    let nodes: Vec<_> = names
        .iter()
        .map(|n| match lookup(&scope, n) {
            Some(MVal::Sop(id)) => id,
            other => panic!("{n}: {other:?}"),
        })
        .collect();
    let mut checked = 0;
    let short = (1..=64usize).map(|n| (n as u64 + 100, n));
    let long = (0..40u64).map(|s| (s, 48 + (s as usize * 37) % 300));
    let cases: Vec<(u64, usize)> = short.chain(long).collect();
    for &(seed, n) in &cases {
        for letters in [false, true] {
            let alphabet = 1 + seed % 12;
            let input = tokens(n, seed, letters, alphabet);
            for (name, &node) in names.iter().zip(&nodes) {
                let fast = Evaluator::new(&session.graph, &[node]).run(&input, None);
                let slow = Evaluator::general(&session.graph, &[node]).run(&input, None);
                match (&fast, &slow) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "{name}, n = {n}, seed {seed}"),
                    (Err(a), Err(b)) => {
                        assert_eq!(
                            (a.code, &a.message, a.position),
                            (b.code, &b.message, b.position),
                            "{name}"
                        )
                    }
                    _ => panic!("{name}, n = {n}: fast {fast:?}, general {slow:?}"),
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, cases.len() * 2 * names.len());
}
