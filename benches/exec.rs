//! The executors, CPU against wgpu: `run_batch` of batches of 1, 64 and
//! 4,096 random inputs of the full length through sort_freq and shuffle
//! Dyck-2 compiled at N = 20 and 64 (throughput in sequences per second);
//! and `rasp exec` of 64 sort_freq inputs at N = 20 as a whole process
//! (tracr's jitted forward of that batch: ~350 ms on this kind of machine).
//!
//! The wgpu cases run when an adapter opens (`WGPU_BACKEND`, as for
//! `rasp exec --backend wgpu`); on lavapipe they are slow, as expected of
//! a GPU emulated on the CPU. `RASP_BENCH_BATCHES=1,64` and
//! `RASP_BENCH_BACKENDS=cpu` narrow the set.

use std::path::Path;
use std::process::Command;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rasp::cli::parse_vocab;
use rasp::compile::verify::Rng;
use rasp::compile::{Options, Source, compile};
use rasp::front::{MVal, Session, value::lookup};
use rasp::gpu::Gpu;
use rasp::ir::Value;
use rasp::model::Model;
use rasp::model::executor::{Executor, Want};

/// (name, file in tests/compile, s-op, vocab).
const MODELS: [(&str, &str, &str, &str); 2] = [
    ("sort_freq", "sort_freq.rasp", "by_freq", "[1,2,3,4,5]"),
    ("dyck2", "dyck2.rasp", "accepted", "(,),{,}"),
];

fn model(file: &str, sop: &str, vocab: &str, n: usize) -> Model {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compile");
    let mut session = Session::new();
    let (scope, result) = session.run_path(&dir.join(file)).expect("program reads");
    assert!(result.diags.is_empty(), "{:?}", result.diags);
    let Some(MVal::Sop(node)) = lookup(&scope, sop) else {
        panic!("{sop} is an s-op");
    };
    let opts = Options::new(parse_vocab(vocab).expect("vocab"), n);
    compile(
        &session.graph,
        &session.sources,
        node,
        &opts,
        &Source::default(),
    )
    .expect("compiles")
    .model
}

/// `count` random inputs of length `n`, as token ids.
fn batch(m: &Model, n: usize, count: usize, seed: u64) -> (Vec<Vec<Value>>, Vec<Vec<usize>>) {
    let vocab = m.meta.vocab_values();
    let mut rng = Rng::new(seed);
    let inputs: Vec<Vec<Value>> = (0..count)
        .map(|_| {
            (0..n)
                .map(|_| vocab[rng.below(vocab.len())].clone())
                .collect()
        })
        .collect();
    let ids = inputs
        .iter()
        .map(|i| m.encode(i).expect("encodes"))
        .collect();
    (inputs, ids)
}

fn list(var: &str, default: &str) -> Vec<String> {
    std::env::var(var)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .map(str::to_string)
        .collect()
}

fn executors(c: &mut Criterion) {
    let batches: Vec<usize> = list("RASP_BENCH_BATCHES", "1,64,4096")
        .iter()
        .filter_map(|b| b.parse().ok())
        .collect();
    let backends = list("RASP_BENCH_BACKENDS", "cpu,wgpu");
    let gpu_ok = backends.iter().any(|b| b == "wgpu")
        && match rasp::gpu::device::device() {
            Ok(d) => {
                eprintln!("wgpu device: {}", d.info);
                true
            }
            Err(d) => {
                eprintln!("no wgpu device, CPU only: {}", d.message);
                false
            }
        };
    for (name, file, sop, vocab) in MODELS {
        for n in [20, 64] {
            let m = model(file, sop, vocab, n);
            let mut execs: Vec<(&str, Box<dyn Executor>)> = Vec::new();
            if backends.iter().any(|b| b == "cpu") {
                execs.push(("cpu", Box::new(m.prepare())));
            }
            if gpu_ok {
                execs.push((
                    "wgpu",
                    Box::new(Gpu::new(&m.weights(), &m.meta).expect("uploads")),
                ));
            }
            let mut g = c.benchmark_group(format!("exec/{name}_n{n}"));
            g.sample_size(10);
            for &b in &batches {
                let (_, ids) = batch(&m, n, b, 1);
                g.throughput(Throughput::Elements(b as u64));
                for (backend, exec) in &execs {
                    g.bench_with_input(BenchmarkId::new(*backend, b), &ids, |bench, ids| {
                        bench.iter(|| exec.run_batch(ids, &Want::default()).expect("runs"))
                    });
                }
            }
            g.finish();
        }
    }
}

/// `rasp exec` of 64 sort_freq inputs at N = 20, the whole process:
/// start-up, opening the model file, preparing, running, printing.
fn whole_process(c: &mut Criterion) {
    let m = model("sort_freq.rasp", "by_freq", "[1,2,3,4,5]", 20);
    let dir = std::env::temp_dir().join(format!("rasp-bench-exec-{}", std::process::id()));
    rasp::model::io::save(&m, &dir).expect("saves");
    let (inputs, _) = batch(&m, 20, 64, 2);
    let args: Vec<String> = inputs
        .iter()
        .map(|i| {
            let json: Vec<serde_json::Value> = i
                .iter()
                .filter_map(rasp::model::codec::value_to_json)
                .collect();
            serde_json::Value::Array(json).to_string()
        })
        .collect();
    let mut g = c.benchmark_group("exec_process");
    g.sample_size(20);
    g.bench_function("sort_freq_n20_batch64", |b| {
        b.iter(|| {
            let out = Command::new(env!("CARGO_BIN_EXE_rasp"))
                .arg("exec")
                .arg(&dir)
                .args(&args)
                .output()
                .expect("rasp runs");
            assert!(out.status.success());
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, executors, whole_process);
criterion_main!(benches);
