//! Opening a model folder (`model::io::open`: read and check `rasp.json`
//! and `config.json`, map `model.safetensors`, check every weight, verify
//! the three checksums) for a 26 MB model: 6 layers, d_model 672, 4 heads
//! of 32, 544 MLP units, random weights (the file's size is what counts).
//! Beside it, the checksum alone (XXH3-64 of the weights' bytes, in memory)
//! and `open_with(allow_modified)` on a folder whose weights changed (the
//! same work, then a warning instead of an error).
//!
//! `cargo bench --bench open`; the files are written once, to a temp
//! folder, and read from the page cache.

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use rasp::model::io::{OpenOptions, integrity, open, open_with, save};
use rasp::model::{Attn, Block, Mlp, Model};

#[path = "common/synthetic.rs"]
mod synthetic;
use synthetic::{Shape, random};

const SHAPE: Shape = Shape {
    layers: 6,
    d_model: 672,
    d_mlp: 544,
    heads: 4,
    d_head: 32,
    vocab: 20,
    len: 20,
};

/// Every weight random (the file's size is what counts).
fn model() -> Model {
    let (dm, dmlp, h, dh) = (SHAPE.d_model, SHAPE.d_mlp, SHAPE.heads, SHAPE.d_head);
    let layout = format!("A{h} M{dmlp}");
    synthetic::model(&SHAPE, 26, &layout, |g| Block {
        attn: Attn {
            w_q: random(g, (h, dm, dh)),
            b_q: random(g, (h, dh)),
            w_k: random(g, (h, dm, dh)),
            b_k: random(g, (h, dh)),
            w_v: random(g, (h, dm, dh)),
            b_v: random(g, (h, dh)),
            w_o: random(g, (h, dh, dm)),
            b_o: random(g, dm),
        },
        mlp: Mlp {
            w_in: random(g, (dm, dmlp)),
            b_in: random(g, dmlp),
            w_out: random(g, (dmlp, dm)),
            b_out: random(g, dm),
        },
    })
}

/// A model folder in the temp dir, removed on drop.
struct Folder(PathBuf);

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn benches(c: &mut Criterion) {
    let dir = Folder(std::env::temp_dir().join(format!("rasp-bench-open-{}", std::process::id())));
    let m = model();
    save(&m, &dir.0).expect("saves");
    let weights = dir.0.join("model.safetensors");
    let bytes = std::fs::read(&weights).expect("reads");
    let mb = bytes.len() as f64 / 1e6;
    let mut g = c.benchmark_group(format!("open_{mb:.0}MB"));
    g.sample_size(30);
    g.bench_function("open (checked, checksums verified)", |b| {
        b.iter(|| open(&dir.0).expect("opens"))
    });
    g.bench_function("xxh3-64 of the weights, in memory", |b| {
        b.iter(|| integrity::hash(&bytes))
    });
    // The same folder with one weight changed: the checksum differs, the
    // model opens as modified.
    let modified = Folder(dir.0.with_extension("modified"));
    save(&m, &modified.0).expect("saves");
    let mut changed = bytes.clone();
    let last = changed.len() - 1;
    changed[last] ^= 1;
    std::fs::write(modified.0.join("model.safetensors"), changed).expect("writes");
    let opts = OpenOptions {
        allow_modified: true,
    };
    g.bench_function("open_with(allow_modified), weights changed", |b| {
        b.iter(|| {
            let f = open_with(&modified.0, opts).expect("opens");
            assert!(!f.integrity.is_verified());
            f
        })
    });
    g.finish();
}

criterion_group!(open_benches, benches);
criterion_main!(open_benches);
