//! The wgpu executor against the CPU executor, on every model the
//! compiler's test programs give (tests/compile/cases.txt and, when
//! ../shared is there, tracr's library, tests/compile/tracr-lib.txt) at
//! N = 5, 10 and 20: decoded outputs equal on every input, final residual
//! streams within 1e-4 relative. CI runs them on lavapipe (Vulkan on the
//! CPU) with `RASP_REQUIRE_GPU=1`, where a missing adapter fails instead
//! of skipping.

use std::path::{Path, PathBuf};

use rasp::cli::parse_vocab;
use rasp::compile::verify::Rng;
use rasp::compile::{Options, Source, compile};
use rasp::front::{MVal, Session, value::lookup};
use rasp::gpu::Gpu;
use rasp::ir::Value;
use rasp::model::codec::{self, kind_heads};
use rasp::model::executor::{Executor, Want};

/// Whether the tests can run: a device opens, or (without
/// `RASP_REQUIRE_GPU`) they are skipped with a note.
fn have_device() -> bool {
    match rasp::gpu::device::device() {
        Ok(_) => true,
        Err(d) if std::env::var("RASP_REQUIRE_GPU").is_ok_and(|v| v == "1") => {
            panic!("RASP_REQUIRE_GPU=1 but {}", d.render_plain())
        }
        Err(d) => {
            eprintln!("skipping the wgpu tests: {}", d.message);
            false
        }
    }
}

/// (folder, file, s-op, vocab) of every test program.
fn programs() -> Vec<(PathBuf, String, String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |list: &str, dir: PathBuf| -> Vec<(PathBuf, String, String, String)> {
        list.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                (dir.clone(), w[0].into(), w[1].into(), w[2].into())
            })
            .collect()
    };
    let mut out = read(
        include_str!("../compile/cases.txt"),
        root.join("tests/compile"),
    );
    let lib = root.join("../shared/bench/tracr-lib");
    if lib.is_dir() {
        out.extend(read(include_str!("../compile/tracr-lib.txt"), lib));
    }
    out
}

/// tracr's sort_unique vocabulary at length n (see tracr-lib.txt).
fn vocab_at(vocab: &str, n: usize) -> String {
    if vocab == "UNIQ" {
        let m = n.clamp(5, 20);
        format!(
            "[{}]",
            (1..=m).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
        )
    } else {
        vocab.to_string()
    }
}

/// Seeded inputs covering every length 1..=n.
fn inputs(vocab: &[Value], n: usize, count: usize, seed: u64) -> Vec<Vec<Value>> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|i| {
            let len = 1 + i % n;
            (0..len)
                .map(|_| vocab[rng.below(vocab.len())].clone())
                .collect()
        })
        .collect()
}

/// Whether two residuals agree within 1e-4 relative to each row's
/// largest entry (at least 1).
fn close(a: &ndarray::Array2<f32>, b: &ndarray::Array2<f32>) -> Result<(), String> {
    if a.shape() != b.shape() {
        return Err(format!("shapes {:?} and {:?}", a.shape(), b.shape()));
    }
    for (i, (ra, rb)) in a.rows().into_iter().zip(b.rows()).enumerate() {
        let scale = ra
            .iter()
            .chain(rb.iter())
            .fold(1.0f32, |m, x| m.max(x.abs()));
        for (j, (x, y)) in ra.iter().zip(rb.iter()).enumerate() {
            if (x - y).abs() > 1e-4 * scale {
                return Err(format!(
                    "row {i} dim {j}: cpu {x}, wgpu {y} (row scale {scale})"
                ));
            }
        }
    }
    Ok(())
}

/// Compile `sop` of `path` for (vocab, n) and compare the executors on
/// seeded inputs; a failure is pushed to `failures`. Returns how many
/// inputs were compared (0 when `refusals_ok` and the compiler refused).
fn agree(
    path: &Path,
    sop: &str,
    vocab: &str,
    n: usize,
    refusals_ok: bool,
    failures: &mut Vec<String>,
) -> usize {
    let file = path.display();
    let mut session = Session::new();
    let (scope, result) = session.run_path(path).expect("program reads");
    assert!(!result.has_errors(), "{file}: {:?}", result.diags);
    let Some(MVal::Sop(node)) = lookup(&scope, sop) else {
        panic!("{file}: {sop} is not an s-op");
    };
    let opts = Options::new(parse_vocab(vocab).expect("vocab"), n);
    let compiled = match compile(
        &session.graph,
        &session.sources,
        node,
        &opts,
        &Source::default(),
    ) {
        Ok(c) => c,
        Err(_) if refusals_ok => return 0,
        Err(d) => panic!("{file} at N = {n} does not compile: {}", d.render_plain()),
    };
    let model = &compiled.model;
    let cpu = model.prepare();
    let gpu = Gpu::new(&model.weights(), &model.meta)
        .unwrap_or_else(|d| panic!("{file}: {}", d.render_plain()));
    let count = if n >= 20 { 24 } else { 40 };
    let batch = inputs(&opts.vocab, n, count, n as u64);
    let ids: Vec<Vec<usize>> = batch
        .iter()
        .map(|i| model.encode(i).expect("encodes"))
        .collect();
    let want = Want {
        resid: true,
        patterns: kind_heads(&model.config, &model.meta),
    };
    let a = cpu.run_batch(&ids, &want).expect("cpu runs");
    let b = gpu.run_batch(&ids, &want).expect("wgpu runs");
    for (s, (ra, rb)) in a.resid.iter().zip(&b.resid).enumerate() {
        if let Err(e) = close(ra, rb) {
            failures.push(format!(
                "{file} {sop} N={n} input {:?}: residual {e}",
                batch[s]
            ));
            break;
        }
    }
    let da = codec::run(&cpu, &model.meta, &batch).expect("cpu decodes");
    let db = codec::run(&gpu, &model.meta, &batch).expect("wgpu decodes");
    for ((input, x), y) in batch.iter().zip(&da).zip(&db) {
        if x != y {
            failures.push(format!(
                "{file} {sop} N={n} input {input:?}: cpu {x:?}, wgpu {y:?}"
            ));
            break;
        }
    }
    batch.len()
}

fn agree_at(n: usize) {
    if !have_device() {
        return;
    }
    let mut failures = Vec::new();
    let mut checked = 0;
    for (dir, file, sop, vocab) in programs() {
        checked += agree(
            &dir.join(&file),
            &sop,
            &vocab_at(&vocab, n),
            n,
            false,
            &mut failures,
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked > 0);
}

/// The compiler's regression programs (at their own lengths) and every
/// s-op of the examples (at N = 6), where they compile.
#[test]
fn wgpu_agrees_on_regressions_and_examples() {
    if !have_device() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in crate::genprog::regression_files() {
        let text = std::fs::read_to_string(&path).expect("reads");
        let h = crate::genprog::parse_header(&text).expect("a header");
        checked += agree(&path, &h.sop, &h.vocab, h.max_len, true, &mut failures);
    }
    for line in include_str!("../compile/examples.txt").lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.is_empty() || w[0].starts_with('#') {
            continue;
        }
        let path = root.join("examples").join(w[0]);
        checked += agree(&path, w[1], w[2], 6, true, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked > 0);
}

#[test]
fn wgpu_agrees_with_cpu_at_5() {
    agree_at(5);
}

#[test]
fn wgpu_agrees_with_cpu_at_10() {
    agree_at(10);
}

#[test]
fn wgpu_agrees_with_cpu_at_20() {
    agree_at(20);
}

/// The model of `sop` in `src` compiled for (vocab, n), and the vocab.
fn compile_source(src: &str, sop: &str, vocab: &str, n: usize) -> (rasp::model::Model, Vec<Value>) {
    let mut session = Session::new();
    let scope = session.new_scope();
    let r = session.run_source("<test>", src, &scope, None);
    assert!(r.diags.is_empty(), "{:?}", r.diags);
    let Some(MVal::Sop(node)) = lookup(&scope, sop) else {
        panic!("{sop} is an s-op");
    };
    let opts = Options::new(parse_vocab(vocab).expect("vocab"), n);
    let compiled = compile(
        &session.graph,
        &session.sources,
        node,
        &opts,
        &Source::default(),
    )
    .expect("compiles");
    (compiled.model, opts.vocab)
}

/// A batch split into many chunks (as on a device with small buffer
/// limits) gives the same logits and patterns as one chunk, and a ragged
/// batch the same as each sequence alone.
#[test]
fn wgpu_splits_batches() {
    if !have_device() {
        return;
    }
    let (model, vocab) = compile_source(
        "m = numerical(aggregate(select(tokens, tokens, ==), indicator(tokens == \"a\")));",
        "m",
        "abc",
        6,
    );
    let model = &model;
    let whole = Gpu::new(&model.weights(), &model.meta).expect("opens");
    let split = Gpu::new(&model.weights(), &model.meta)
        .expect("opens")
        .with_max_rows(1);
    let batch = inputs(&vocab, 6, 30, 7);
    let ids: Vec<Vec<usize>> = batch
        .iter()
        .map(|i| model.encode(i).expect("encodes"))
        .collect();
    let want = Want {
        resid: true,
        patterns: vec![(0, 0)],
    };
    let a = whole.run_batch(&ids, &want).expect("runs");
    let b = split.run_batch(&ids, &want).expect("runs");
    assert_eq!(a.logits, b.logits);
    assert_eq!(a.patterns, b.patterns);
    for (i, seq) in ids.iter().enumerate() {
        let alone = whole
            .run_batch(std::slice::from_ref(seq), &want)
            .expect("runs");
        assert_eq!(alone.logits[0], a.logits[i]);
        assert_eq!(alone.resid[0], a.resid[i]);
    }
    // Rows of every pattern sum to 1 (BOS is never masked).
    for p in &a.patterns[0] {
        for row in p.rows() {
            assert!((row.sum() - 1.0).abs() < 1e-5, "{row}");
        }
    }
    assert_eq!(
        codec::run(&whole, &model.meta, &batch).expect("decodes"),
        codec::run(&model.prepare(), &model.meta, &batch).expect("decodes")
    );
}

/// Bad batches are diagnostics on both executors, never panics.
#[test]
fn executors_refuse_bad_ids() {
    let (model, _) = compile_source(
        "r = aggregate(select(indices, length - indices - 1, ==), tokens);",
        "r",
        "ab",
        3,
    );
    let model = &model;
    let mut execs: Vec<Box<dyn Executor>> = vec![Box::new(model.prepare())];
    if have_device() {
        execs.push(Box::new(
            Gpu::new(&model.weights(), &model.meta).expect("opens"),
        ));
    }
    let bos = model.meta.bos_id;
    for exec in &execs {
        let too_long = vec![vec![bos; model.config.n_ctx + 1]];
        let bad_token = vec![vec![bos, model.config.d_vocab]];
        for batch in [too_long, bad_token] {
            let d = exec
                .run_batch(&batch, &Want::default())
                .expect_err("refused");
            assert_eq!(d.code, "rasp::model::input", "{}", exec.info());
        }
        let unprepared = Want {
            resid: false,
            patterns: vec![(5, 0)],
        };
        assert!(exec.run_batch(&[vec![bos]], &unprepared).is_err());
        assert!(
            exec.run_batch(&[], &Want::default())
                .expect("runs")
                .logits
                .is_empty()
        );
    }
}
