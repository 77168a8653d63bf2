//! Dataset generation (`rasp gen`'s engine): 100,000 examples of a preset
//! at its lengths (1..16) written as JSON lines to a sink, for sort,
//! histogram and Dyck-2 (throughput in examples per second).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rasp::dataset::{Extras, Format, Spec, generate, tasks};
use rasp::front::{MVal, Session, value::lookup};

fn presets(c: &mut Criterion) {
    let mut g = c.benchmark_group("gen");
    g.sample_size(10);
    for name in ["sort", "histogram", "dyck2"] {
        let t = tasks::find(name).expect("a preset");
        let mut session = Session::new();
        let scope = session.new_scope();
        let r = session.run_source(t.file, t.source, &scope, None);
        assert!(!r.has_errors());
        let Some(MVal::Sop(node)) = lookup(&scope, &t.sop) else {
            panic!("{} is an s-op", t.sop);
        };
        let spec = Spec {
            vocab: rasp::cli::parse_vocab(&t.vocab).expect("vocab"),
            min_len: t.len.0,
            max_len: t.len.1,
            count: 100_000,
            seed: 1,
            shard: None,
            bos: None,
            sampler: t.sampler.clone(),
            unique: false,
            semantics: rasp::interp::Semantics::Bidirectional,
        };
        g.throughput(Throughput::Elements(spec.count));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut sink = std::io::sink();
                generate(
                    &session.graph,
                    &session.sources,
                    node,
                    &spec,
                    Format::Jsonl,
                    &Extras::default(),
                    false,
                    &mut sink,
                    &mut |_| {},
                )
                .expect("generates")
            })
        });
    }
    g.finish();
}

criterion_group!(benches, presets);
criterion_main!(benches);
