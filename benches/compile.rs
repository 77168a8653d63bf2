//! The compiler's bars: compiling sort_freq at N = 20 (tracr: 1.5 s of its
//! own passes plus ~10 s start-up) and a batch-64 CPU forward pass of that
//! model (tracr: 209 ms); and what verification at long lengths repeats: a
//! prepared CPU executor's forward pass over 32 inputs of 256 tokens of
//! Dyck-2 at N = 256 (its MLP outputs remembered across passes, as across
//! verification's batches).

use criterion::{Criterion, criterion_group, criterion_main};
use rasp::cli::parse_vocab;
use rasp::compile::{Compiled, Options, Source, compile};
use rasp::front::{MVal, Session, value::lookup};
use rasp::ir::{NodeId, Value};
use rasp::model::Model;

const SORT_FREQ: &str = include_str!("../tests/compile/sort_freq.rasp");
const DYCK2: &str = include_str!("../tests/compile/dyck2.rasp");

/// An s-op of a program, loaded once.
struct Program {
    session: Session,
    node: NodeId,
}

impl Program {
    fn load(file: &str, text: &str, sop: &str) -> Program {
        let mut session = Session::new();
        let scope = session.new_scope();
        let r = session.run_source(file, text, &scope, None);
        assert!(r.diags.is_empty());
        let Some(MVal::Sop(node)) = lookup(&scope, sop) else {
            panic!("{sop} is an s-op");
        };
        Program { session, node }
    }

    fn compile(&self, opts: &Options) -> Compiled {
        compile(
            &self.session.graph,
            &self.session.sources,
            self.node,
            opts,
            &Source::default(),
        )
        .expect("compiles")
    }
}

/// `count` seeded inputs of `len` tokens, each drawn by `token` from the
/// generator `x`, as token ids.
fn batch(
    model: &Model,
    count: usize,
    len: usize,
    x: &mut u64,
    token: impl Fn(u64) -> Value,
) -> Vec<Vec<usize>> {
    (0..count)
        .map(|_| {
            let input: Vec<Value> = (0..len)
                .map(|_| {
                    *x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    token(*x >> 33)
                })
                .collect();
            model.encode(&input).expect("encodes")
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let sort_freq = Program::load("sort_freq.rasp", SORT_FREQ, "by_freq");
    let opts = Options::new(parse_vocab("[1,2,3,4,5]").expect("vocab"), 20);
    c.bench_function("compile_sort_freq_n20", |b| {
        b.iter(|| sort_freq.compile(&opts))
    });
    let model = sort_freq.compile(&opts).model;
    let mut x: u64 = 42;
    let ids = batch(&model, 64, 20, &mut x, |r| Value::Int(1 + (r % 5) as i64));
    c.bench_function("forward_sort_freq_n20_batch64", |b| {
        b.iter(|| model.forward(&ids))
    });

    let dyck2 = Program::load("dyck2.rasp", DYCK2, "accepted");
    let opts = Options::new(parse_vocab("(,),{,}").expect("vocab"), 256);
    let model = dyck2.compile(&opts).model;
    let brackets = ["(", ")", "{", "}"];
    let ids = batch(&model, 32, 256, &mut x, |r| {
        Value::str(brackets[(r % 4) as usize])
    });
    let prepared = model.prepare();
    c.bench_function("forward_prepared_dyck2_n256_batch32", |b| {
        b.iter(|| prepared.forward(&ids))
    });
}

criterion_group!(name = compile_benches; config = Criterion::default().sample_size(20); targets = benches);
criterion_main!(compile_benches);
