//! The compiler's bars: compiling sort_freq at N = 20 (tracr: 1.5 s of its
//! own passes plus ~10 s start-up) and a batch-64 CPU forward pass of that
//! model (tracr: 209 ms); and what verification at long lengths repeats: a
//! prepared CPU executor's forward pass over 32 inputs of 256 tokens of
//! Dyck-2 at N = 256 (its MLP outputs remembered across passes, as across
//! verification's batches).

use criterion::{Criterion, criterion_group, criterion_main};
use rasp::cli::parse_vocab;
use rasp::compile::{Options, Source, compile};
use rasp::front::{MVal, Session, value::lookup};
use rasp::ir::Value;

const SORT_FREQ: &str = include_str!("../tests/compile/sort_freq.rasp");
const DYCK2: &str = include_str!("../tests/compile/dyck2.rasp");

fn benches(c: &mut Criterion) {
    let mut session = Session::new();
    let scope = session.new_scope();
    let r = session.run_source("sort_freq.rasp", SORT_FREQ, &scope, None);
    assert!(r.diags.is_empty());
    let Some(MVal::Sop(node)) = lookup(&scope, "by_freq") else {
        panic!("by_freq is an s-op");
    };
    let opts = Options::new(parse_vocab("[1,2,3,4,5]").expect("vocab"), 20);
    c.bench_function("compile_sort_freq_n20", |b| {
        b.iter(|| {
            compile(
                &session.graph,
                &session.sources,
                node,
                &opts,
                &Source::default(),
            )
            .expect("compiles")
        })
    });
    let model = compile(
        &session.graph,
        &session.sources,
        node,
        &opts,
        &Source::default(),
    )
    .expect("compiles")
    .model;
    let mut x: u64 = 42;
    let batch: Vec<Vec<usize>> = (0..64)
        .map(|_| {
            let input: Vec<Value> = (0..20)
                .map(|_| {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    Value::Int(1 + ((x >> 33) % 5) as i64)
                })
                .collect();
            model.encode(&input).expect("encodes")
        })
        .collect();
    c.bench_function("forward_sort_freq_n20_batch64", |b| {
        b.iter(|| model.forward(&batch))
    });

    let mut session = Session::new();
    let scope = session.new_scope();
    let r = session.run_source("dyck2.rasp", DYCK2, &scope, None);
    assert!(r.diags.is_empty());
    let Some(MVal::Sop(node)) = lookup(&scope, "accepted") else {
        panic!("accepted is an s-op");
    };
    let opts = Options::new(parse_vocab("(,),{,}").expect("vocab"), 256);
    let model = compile(
        &session.graph,
        &session.sources,
        node,
        &opts,
        &Source::default(),
    )
    .expect("compiles")
    .model;
    let brackets = ["(", ")", "{", "}"];
    let batch: Vec<Vec<usize>> = (0..32)
        .map(|_| {
            let input: Vec<Value> = (0..256)
                .map(|_| {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    Value::str(brackets[((x >> 33) % 4) as usize])
                })
                .collect();
            model.encode(&input).expect("encodes")
        })
        .collect();
    let prepared = model.prepare();
    c.bench_function("forward_prepared_dyck2_n256_batch32", |b| {
        b.iter(|| prepared.forward(&batch))
    });
}

criterion_group!(name = compile_benches; config = Criterion::default().sample_size(20); targets = benches);
criterion_main!(compile_benches);
