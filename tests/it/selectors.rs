//! The interpreter's O(n log n) selectors (`src/interp/fast.rs`, long
//! inputs) and bit matrices (`src/interp/bits.rs`, inputs of at most 64)
//! against the general O(n²) path: the same values, and the same errors,
//! on random inputs of every short length and of long ones, under both
//! semantics; and the causal semantics itself on hand-computed cases.

use rasp::front::{MVal, Session, value::lookup};
use rasp::interp::{Evaluator, Output, Semantics};
use rasp::ir::{NodeId, Value};

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
sort_mean = aggregate(select(tokens, tokens, <) or (select(tokens, tokens, ==) and select(indices, indices, <)), indices);
sort_pick = aggregate(select(tokens, tokens, >) or (select(tokens, tokens, ==) and select(indices, indices, >)), tokens);
huge_mean = aggregate(select(tokens, tokens, <=), indices * 1000000000000000 + 1);
float_pick = aggregate(select(tokens, tokens, ==), indices / 3);
index_keys = selector_width(select(indices, tokens, >=)) + aggregate(select(indices, tokens, <), indices, -1);
int_sorted = sort(tokens_int, -tokens_int);
int_below_mean = aggregate(select(tokens_int, tokens_int, <), tokens_int);
int_ge = selector_width(select(tokens_int, indices - 5, >=)) + aggregate(select(tokens_int, indices, >), tokens_int, 7);
hist_eq = aggregate(select(hist, selector_width(select(tokens_int, tokens_int, <=)), ==), tokens_int * 3);
twin_keys = selector_width(select(tokens_int + indices / 100, tokens_int + indices / 100, <));
float_int_keys = selector_width(select(indices / 2, tokens_int, <=)) + aggregate(select(tokens_int * 0.5, indices, >), indices, -1);
huge_float_keys = selector_width(select(tokens_int * 9007199254740993, tokens_int * 9007199254740992.0, <));
"#;

/// Deterministic pseudo-random tokens (ints from -3 on, or letters;
/// `tokens` reads either as strings, `tokens_int` the ints).
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
        "sort_mean",
        "sort_pick",
        "huge_mean",
        "float_pick",
        "index_keys",
        "int_sorted",
        "int_below_mean",
        "int_ge",
        "hist_eq",
        "twin_keys",
        "float_int_keys",
        "huge_float_keys",
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
    let sems = [Semantics::Bidirectional, Semantics::Causal];
    for &(seed, n) in &cases {
        for letters in [false, true] {
            let alphabet = 1 + seed % 12;
            let input = tokens(n, seed, letters, alphabet);
            for sem in sems {
                for (name, &node) in names.iter().zip(&nodes) {
                    let fast = Evaluator::new(&session.graph, &[node])
                        .semantics(sem)
                        .run(&input, None);
                    let slow = Evaluator::general(&session.graph, &[node])
                        .semantics(sem)
                        .run(&input, None);
                    let at = format!("{name}, {}, n = {n}, seed {seed}", sem.name());
                    match (&fast, &slow) {
                        (Ok(a), Ok(b)) => assert_eq!(a, b, "{at}"),
                        (Err(a), Err(b)) => {
                            assert_eq!(
                                (a.code, &a.message, a.position),
                                (b.code, &b.message, b.position),
                                "{at}"
                            )
                        }
                        _ => panic!("{at}: fast {fast:?}, general {slow:?}"),
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, cases.len() * 2 * sems.len() * names.len());
}

/// The values of `name` (defined by `src`) on `input`, by the evaluator
/// with its fast paths and by the general one: they must agree, and are
/// returned once.
fn causal_values(src: &str, name: &str, input: &[Value]) -> Vec<Value> {
    let mut session = Session::new();
    let scope = session.new_scope();
    let r = session.run_source("<causal>", src, &scope, None);
    assert!(!r.has_errors(), "{:?}", r.diags);
    let node: NodeId = match lookup(&scope, name) {
        Some(MVal::Sop(id)) => id,
        other => panic!("{name}: {other:?}"),
    };
    let mut outs = [
        Evaluator::new(&session.graph, &[node]),
        Evaluator::general(&session.graph, &[node]),
    ]
    .into_iter()
    .map(|e| match e.semantics(Semantics::Causal).run(input, None) {
        Ok(mut o) => match o.pop() {
            Some(Output::Sop(c)) => c.values,
            other => panic!("{name}: {other:?}"),
        },
        Err(e) => panic!("{name}: {e:?}"),
    });
    let fast = outs.next().expect("two evaluators");
    let general = outs.next().expect("two evaluators");
    assert_eq!(fast, general, "{name}, n = {}", input.len());
    fast
}

#[test]
fn causal_semantics_on_hand_computed_cases() {
    let ints = |xs: &[i64]| xs.iter().map(|&x| Value::Int(x)).collect::<Vec<_>>();
    // Short (bit matrices, n <= 64) and long (the O(n log n) paths).
    for n in [5usize, 50, 100, 300] {
        let input: Vec<Value> = (0..n as i64).map(|i| Value::Int((i * 7) % 5)).collect();
        let upto: Vec<i64> = (1..=n as i64).collect();
        assert_eq!(
            causal_values(
                "w = selector_width(select(indices, indices, <=));",
                "w",
                &input
            ),
            ints(&upto)
        );
        // Bidirectional n - i; causal only the query itself.
        assert_eq!(
            causal_values(
                "w = selector_width(select(indices, indices, >=));",
                "w",
                &input
            ),
            ints(&vec![1; n])
        );
        assert_eq!(causal_values("l = length;", "l", &input), ints(&upto));
        assert_eq!(
            causal_values("l = length - indices;", "l", &input),
            ints(&vec![1; n])
        );
        // The running mean of the prefix; one key is the value itself.
        let mut sum = 0i64;
        let running: Vec<Value> = input
            .iter()
            .enumerate()
            .map(|(i, v)| {
                sum += v.as_int().expect("int tokens");
                if i == 0 {
                    v.clone()
                } else {
                    Value::Float(sum as f64 / (i + 1) as f64)
                }
            })
            .collect();
        assert_eq!(
            causal_values(
                "m = aggregate(select(indices, indices, <=), tokens_int);",
                "m",
                &input
            ),
            running
        );
    }
    // Each position: the mean of the positions at or before it holding the
    // same token, the position itself when it is the first.
    let input: Vec<Value> = ["a", "b", "a", "a", "b"].map(Value::str).into();
    let want = vec![
        Value::Int(0),
        Value::Int(1),
        Value::Float(1.0),
        Value::Float(5.0 / 3.0),
        Value::Float(2.5),
    ];
    let src = "m = aggregate(select(tokens, tokens, ==), indices);";
    assert_eq!(causal_values(src, "m", &input), want);
    // The same at a length the fast paths take: 20 copies of the pattern
    // ("a" at 5j, 5j + 2, 5j + 3; "b" at 5j + 1, 5j + 4).
    let long: Vec<Value> = input.iter().cycle().take(100).cloned().collect();
    let got = causal_values(src, "m", &long);
    for (q, v) in got.iter().enumerate() {
        let same: Vec<usize> = (0..=q).filter(|&k| long[k] == long[q]).collect();
        let want = match same.as_slice() {
            [k] => Value::Int(*k as i64),
            ks => Value::Float(ks.iter().sum::<usize>() as f64 / ks.len() as f64),
        };
        assert_eq!(*v, want, "position {q}");
    }
    // The stdlib sort, causal: position q's target is the number of earlier
    // tokens at most its own, and only key q (target <= position) can hold
    // target q; so q keeps its token when no earlier token is larger, else
    // gets the default 0.
    for input in [ints(&[3, 1, 4, 1, 5, 5, 2]), long_ints(100), long_ints(300)] {
        let want: Vec<Value> = (0..input.len())
            .map(|q| {
                let top = input[..q].iter().all(|v| v.as_int() <= input[q].as_int());
                if top { input[q].clone() } else { Value::Int(0) }
            })
            .collect();
        assert_eq!(
            causal_values("s = sort(tokens_int, tokens_int);", "s", &input),
            want
        );
    }
}

/// `n` ints with many ties, mostly growing (so that many positions are
/// prefix maxima).
fn long_ints(n: usize) -> Vec<Value> {
    (0..n as i64)
        .map(|i| Value::Int(i / 3 - (i * 7) % 4))
        .collect()
}
