//! Interpreter speed: the library sort on 300 and 1,000 random tokens, the
//! histogram, and Dyck-2 on 1,000 tokens. (The original interpreter takes
//! about 11 s for the 300-token sort on this kind of machine.) The sort (of
//! the indices by the tokens) and the histogram on 10,000 tokens,
//! bidirectional and causal, and causal by the general O(n²) path alone
//! (what causal evaluation of long inputs cost before the O(n log n) paths
//! had causal versions).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rasp::front::{MVal, Session, value::lookup};
use rasp::interp::{self, Evaluator, Semantics};
use rasp::ir::{NodeId, Value};

/// A deterministic pseudo-random token string over `alphabet`.
fn tokens(n: usize, alphabet: &[char], seed: u64) -> Vec<Value> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let c = alphabet[((x >> 33) as usize) % alphabet.len()];
            Value::str(&c.to_string())
        })
        .collect()
}

fn node(src: &str, name: &str) -> (Session, NodeId) {
    let mut s = Session::new();
    let scope = s.new_scope();
    let r = s.run_source("<bench>", src, &scope, None);
    assert!(r.diags.is_empty(), "{:?}", r.diags);
    match lookup(&scope, name) {
        Some(MVal::Sop(id)) => (s, id),
        other => panic!("{name}: {other:?}"),
    }
}

fn benches(c: &mut Criterion) {
    let letters: Vec<char> = ('a'..='z').collect();
    let (s, sort) = node("sorted = sort(tokens, tokens);", "sorted");
    let mut g = c.benchmark_group("sort");
    for n in [300usize, 1000] {
        let input = tokens(n, &letters, 7);
        g.bench_with_input(BenchmarkId::from_parameter(n), &input, |b, input| {
            b.iter(|| {
                interp::evaluate_one(&s.graph, input, sort, Semantics::Bidirectional)
                    .expect("sort runs")
            })
        });
    }
    g.finish();

    let (s, hist) = node("hist = selector_width(select(tokens, tokens, ==));", "hist");
    let mut g = c.benchmark_group("histogram");
    for n in [300usize, 1000] {
        let input = tokens(n, &letters, 11);
        g.bench_with_input(BenchmarkId::from_parameter(n), &input, |b, input| {
            b.iter(|| {
                interp::evaluate_one(&s.graph, input, hist, Semantics::Bidirectional)
                    .expect("hist runs")
            })
        });
    }
    g.finish();

    let paper =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/paper.rasp"))
            .expect("examples/paper.rasp");
    let (s, dyck) = node(&paper, "dyck2_ptf");
    let mut g = c.benchmark_group("dyck2_ptf");
    for n in [300usize, 1000] {
        let input = tokens(n, &['(', ')', '{', '}'], 3);
        g.bench_with_input(BenchmarkId::from_parameter(n), &input, |b, input| {
            b.iter(|| {
                interp::evaluate_one(&s.graph, input, dyck, Semantics::Bidirectional)
                    .expect("dyck runs")
            })
        });
    }
    g.finish();

    let input = tokens(10_000, &letters, 5);
    for (name, src) in [
        // The positions in sorted order: under causal semantics a sort
        // of the tokens themselves mixes strings with the default 0.
        ("argsort", "result = sort(indices, tokens);"),
        (
            "histogram",
            "result = selector_width(select(tokens, tokens, ==));",
        ),
    ] {
        let (s, out) = node(src, "result");
        let mut g = c.benchmark_group(format!("{name}_10000"));
        g.sample_size(10);
        for sem in [Semantics::Bidirectional, Semantics::Causal] {
            g.bench_function(sem.name(), |b| {
                b.iter(|| interp::evaluate_one(&s.graph, &input, out, sem).expect("runs"))
            });
        }
        g.bench_function("causal_general", |b| {
            let mut e = Evaluator::general(&s.graph, &[out]).semantics(Semantics::Causal);
            b.iter(|| e.run(&input, None).expect("runs"))
        });
        g.finish();
    }

    let inputs: Vec<Vec<Value>> = (0..64).map(|i| tokens(100, &letters, i)).collect();
    let (s, sort) = node("sorted = sort(tokens, tokens);", "sorted");
    c.bench_function("sort_batch64_len100_parallel", |b| {
        b.iter(|| interp::evaluate_batch(&s.graph, &inputs, sort, Semantics::Bidirectional))
    });
}

criterion_group!(name = interp_benches; config = Criterion::default().sample_size(20); targets = benches);
criterion_main!(interp_benches);
