//! The model files: save and load round trip, the TransformerLens layout,
//! and a diagnostic for every kind of damage (checksums and `--allow-modified`
//! are in `tests/it/integrity/`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rasp::diag::codes;
use rasp::model::io::{OpenOptions, load, load_with, save};
use rasp::model::{Encoding, FORMAT, FORMAT_VERSION, Model};
use serde_json::json;

use super::{Lcg, ints, numerical_model, previous_token_model, random_model};

const MODIFIED: OpenOptions = OpenOptions {
    allow_modified: true,
};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "rasp-model-test-{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn saved(m: &Model, tag: &str) -> TempDir {
    let dir = TempDir::new(tag);
    save(m, dir.path()).unwrap();
    dir
}

#[test]
fn save_load_round_trip() {
    for (i, m) in [
        numerical_model(true, Some(1.0), vec![json!(0), json!(0.1)]),
        previous_token_model(false),
        random_model(5, true, true),
    ]
    .into_iter()
    .enumerate()
    {
        let dir = saved(&m, &format!("rt{i}"));
        for f in ["model.safetensors", "config.json", "rasp.json"] {
            assert!(dir.file(f).is_file(), "{f}");
        }
        let back = load(dir.path()).unwrap();
        assert_eq!(back, m);
        let batch = vec![vec![m.meta.bos_id, 0, 1, 2], vec![m.meta.bos_id]];
        let (a, b) = (m.forward(&batch), back.forward(&batch));
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x, y);
        }
        // Saving over an existing model works too.
        save(&back, dir.path()).unwrap();
        assert_eq!(load(dir.path()).unwrap(), m);
    }
}

#[test]
fn files_follow_transformer_lens() {
    let m = previous_token_model(true);
    let dir = saved(&m, "tl");
    let bytes = std::fs::read(dir.file("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().clone().unwrap();
    assert_eq!(meta["format"], "pt");
    assert_eq!(meta["rasp_format"], FORMAT);
    assert_eq!(meta["rasp_format_version"], FORMAT_VERSION.to_string());
    assert_eq!(meta["rasp_version"], "0.1.0");
    let shape = |n: &str| st.tensor(n).unwrap().shape().to_vec();
    assert_eq!(shape("embed.W_E"), vec![5, 12]);
    assert_eq!(shape("pos_embed.W_pos"), vec![6, 12]);
    assert_eq!(shape("blocks.0.attn.W_Q"), vec![1, 12, 6]);
    assert_eq!(shape("blocks.0.attn.b_K"), vec![1, 6]);
    assert_eq!(shape("blocks.0.attn.W_O"), vec![1, 6, 12]);
    assert_eq!(shape("blocks.0.attn.b_O"), vec![12]);
    assert_eq!(shape("blocks.0.mlp.W_in"), vec![12, 0]);
    assert_eq!(shape("blocks.0.mlp.W_out"), vec![0, 12]);
    assert_eq!(shape("unembed.W_U"), vec![12, 3]);
    assert_eq!(shape("unembed.b_U"), vec![3]);
    assert_eq!(st.len(), 2 + 12 + 2);
    for (_, t) in st.tensors() {
        assert_eq!(t.dtype(), safetensors::Dtype::F32);
    }
    // Row-major, little-endian: W_pos[2][5] is 1.
    let pos = st.tensor("pos_embed.W_pos").unwrap();
    let at = (2 * 12 + 5) * 4;
    assert_eq!(&pos.data()[at..at + 4], &1.0f32.to_le_bytes());
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.file("config.json")).unwrap()).unwrap();
    assert_eq!(config["attention_dir"], "causal");
    assert_eq!(config["normalization_type"], serde_json::Value::Null);
    assert_eq!(config["act_fn"], "relu");
    let text = std::fs::read_to_string(dir.file("rasp.json")).unwrap();
    assert!(text.contains("\n  \"format\": \"rasp-model\""), "pretty");
}

/// Load must fail with this code, and the message must mention `needle`.
fn expect_error(dir: &Path, code: &str, needle: &str) {
    match load(dir) {
        Ok(_) => panic!("loaded a damaged model (expected {needle:?})"),
        Err(e) => {
            assert_eq!(e.code, code, "{}", e.message);
            assert!(
                e.message.contains(needle),
                "{:?} does not mention {needle:?}",
                e.message
            );
            assert!(e.help.is_some(), "no help: {}", e.message);
        }
    }
}

/// Rewrite the weights file through `edit` (name, dtype, shape, bytes).
fn rewrite_weights(
    dir: &TempDir,
    edit: impl Fn(&mut Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)>),
) {
    let path = dir.file("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut items: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(n, t)| (n, t.dtype(), t.shape().to_vec(), t.data().to_vec()))
        .collect();
    edit(&mut items);
    let views: Vec<_> = items
        .iter()
        .map(|(n, d, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap(),
            )
        })
        .collect();
    std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
}

fn edit_json(path: &Path, edit: impl Fn(&mut serde_json::Value)) {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

#[test]
fn missing_files() {
    let m = numerical_model(false, None, Vec::new());
    let nowhere = TempDir::new("none");
    expect_error(nowhere.path(), codes::MODEL_IO, "does not exist");
    for f in ["model.safetensors", "config.json", "rasp.json"] {
        let dir = saved(&m, "missing");
        std::fs::remove_file(dir.file(f)).unwrap();
        expect_error(dir.path(), codes::MODEL_IO, f);
    }
    // A file where the directory should be.
    let dir = saved(&m, "file");
    expect_error(&dir.file("config.json"), codes::MODEL_IO, "not a directory");
}

#[test]
fn truncated_weights() {
    let m = random_model(9, false, true);
    let dir = saved(&m, "trunc");
    let path = dir.file("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut cuts = vec![
        0,
        1,
        7,
        8,
        9,
        100,
        header_end - 1,
        header_end,
        header_end + 1,
    ];
    cuts.extend([bytes.len() / 2, bytes.len() - 4, bytes.len() - 1]);
    for cut in cuts {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        expect_error(dir.path(), codes::MODEL_FORMAT, "model.safetensors");
    }
    // Extra bytes at the end are damage too.
    let mut long = bytes.clone();
    long.extend([0u8; 4]);
    std::fs::write(&path, &long).unwrap();
    expect_error(dir.path(), codes::MODEL_FORMAT, "model.safetensors");
}

#[test]
fn flipped_header_bytes_never_panic() {
    let m = previous_token_model(false);
    let dir = saved(&m, "flip");
    let path = dir.file("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut failures = 0;
    for i in 0..header_end {
        for mask in [0xFFu8, 0x01, 0x10] {
            let mut b = bytes.clone();
            b[i] ^= mask;
            std::fs::write(&path, &b).unwrap();
            // Every flip changes the file: damage, or a checksum mismatch.
            let e = load(dir.path()).expect_err("a flipped byte is caught");
            assert!(
                e.code == codes::MODEL_FORMAT || e.code == codes::MODEL_INTEGRITY,
                "byte {i}: {} {}",
                e.code,
                e.message
            );
            assert!(e.message.contains("model.safetensors"), "{}", e.message);
            match load_with(dir.path(), MODIFIED) {
                // A harmless flip (e.g. in the version string) changes nothing.
                Ok(back) => assert_eq!(back, m, "byte {i} ^ {mask:#x} changed the model"),
                Err(e) => {
                    failures += 1;
                    assert!(
                        e.code == codes::MODEL_FORMAT,
                        "byte {i}: {} {}",
                        e.code,
                        e.message
                    );
                    assert!(e.message.contains("model.safetensors"), "{}", e.message);
                }
            }
        }
    }
    assert!(failures > header_end, "only {failures} flips were caught");
    // The length prefix claiming far too much, and a huge offset.
    let mut b = bytes.clone();
    b[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    std::fs::write(&path, &b).unwrap();
    expect_error(dir.path(), codes::MODEL_FORMAT, "truncated");
    let text = String::from_utf8(bytes[8..header_end].to_vec()).unwrap();
    let evil = text.replacen(
        "\"data_offsets\":[0,",
        "\"data_offsets\":[18446744073709551615,",
        1,
    );
    let mut b = (evil.len() as u64).to_le_bytes().to_vec();
    b.extend(evil.as_bytes());
    b.extend(&bytes[header_end..]);
    std::fs::write(&path, &b).unwrap();
    expect_error(dir.path(), codes::MODEL_FORMAT, "model.safetensors");
}

#[test]
fn random_damage_never_panics() {
    let m = random_model(11, true, true);
    let dir = saved(&m, "damage");
    let mut g = Lcg(99);
    for f in ["model.safetensors", "config.json", "rasp.json"] {
        let path = dir.file(f);
        let bytes = std::fs::read(&path).unwrap();
        for _ in 0..150 {
            let mut b = bytes.clone();
            match g.below(3) {
                0 => b.truncate(g.below(bytes.len())),
                1 => {
                    for _ in 0..=g.below(4) {
                        let i = g.below(b.len());
                        b[i] = g.next() as u8;
                    }
                }
                _ => {
                    let i = g.below(b.len());
                    b.insert(i, g.next() as u8);
                }
            }
            std::fs::write(&path, &b).unwrap();
            match load(dir.path()) {
                // Harmless damage: JSON whitespace.
                Ok(back) => assert_eq!(back, m, "{f}: damage accepted"),
                Err(e) => assert!(
                    e.code == codes::MODEL_FORMAT || e.code == codes::MODEL_INTEGRITY,
                    "{}",
                    e.message
                ),
            }
            if let Ok(back) = load_with(dir.path(), MODIFIED) {
                // Survivable damage (a changed digit) still makes a valid model.
                back.validate().unwrap();
                let _ = back.run(&[vec![]]);
            }
        }
        std::fs::write(&path, &bytes).unwrap();
    }
    assert_eq!(load(dir.path()).unwrap(), m);
}

#[test]
fn bad_tensors() {
    let m = numerical_model(false, None, Vec::new());

    let dir = saved(&m, "deleted");
    rewrite_weights(&dir, |t| t.retain(|(n, ..)| n != "blocks.0.attn.W_K"));
    expect_error(dir.path(), codes::MODEL_FORMAT, "blocks.0.attn.W_K");
    expect_error(dir.path(), codes::MODEL_FORMAT, "missing");

    let dir = saved(&m, "shape");
    rewrite_weights(&dir, |t| {
        for (n, _, s, b) in t.iter_mut() {
            if n == "embed.W_E" {
                *s = vec![5, 5];
                b.truncate(5 * 5 * 4);
            }
        }
    });
    expect_error(dir.path(), codes::MODEL_FORMAT, "embed.W_E");
    expect_error(dir.path(), codes::MODEL_FORMAT, "shape");

    let dir = saved(&m, "reshape");
    rewrite_weights(&dir, |t| {
        for (n, _, s, _) in t.iter_mut() {
            if n == "blocks.0.mlp.W_in" {
                *s = vec![2, 5];
            }
        }
    });
    expect_error(dir.path(), codes::MODEL_FORMAT, "[2, 5]");

    let dir = saved(&m, "dtype");
    rewrite_weights(&dir, |t| {
        for (n, d, s, b) in t.iter_mut() {
            if n == "unembed.b_U" {
                *d = safetensors::Dtype::F64;
                *s = vec![1];
                *b = 0.25f64.to_le_bytes().to_vec();
            }
        }
    });
    expect_error(dir.path(), codes::MODEL_FORMAT, "F64");

    let dir = saved(&m, "nan");
    rewrite_weights(&dir, |t| {
        for (n, _, _, b) in t.iter_mut() {
            if n == "blocks.0.mlp.b_in" {
                b[..4].copy_from_slice(&f32::NAN.to_le_bytes());
            }
        }
    });
    expect_error(dir.path(), codes::MODEL_FORMAT, "blocks.0.mlp.b_in");

    // Extra tensors (TransformerLens mask buffers, say) change the file
    // (its checksum), but a model opened as modified ignores them.
    let dir = saved(&m, "extra");
    rewrite_weights(&dir, |t| {
        t.push((
            "blocks.0.attn.mask".to_string(),
            safetensors::Dtype::BOOL,
            vec![2],
            vec![1, 0],
        ))
    });
    expect_error(
        dir.path(),
        codes::MODEL_INTEGRITY,
        "model.safetensors changed",
    );
    assert_eq!(load_with(dir.path(), MODIFIED).unwrap(), m);
}

#[test]
fn bad_json() {
    let m = numerical_model(false, None, Vec::new());
    for f in ["config.json", "rasp.json"] {
        for junk in ["", "{", "not json", "[1, 2]", "{\"format\": 3}"] {
            let dir = saved(&m, "junk");
            std::fs::write(dir.file(f), junk).unwrap();
            expect_error(dir.path(), codes::MODEL_FORMAT, f);
        }
    }
    let dir = saved(&m, "missing_field");
    edit_json(&dir.file("config.json"), |v| {
        v.as_object_mut().unwrap().remove("d_model");
    });
    expect_error(dir.path(), codes::MODEL_FORMAT, "d_model");
    let dir = saved(&m, "wrong_type");
    edit_json(&dir.file("rasp.json"), |v| v["bos_id"] = json!("four"));
    expect_error(dir.path(), codes::MODEL_FORMAT, "rasp.json");
}

#[test]
fn format_and_version() {
    let m = numerical_model(false, None, Vec::new());
    let dir = saved(&m, "future");
    edit_json(&dir.file("rasp.json"), |v| {
        v["format_version"] = json!(FORMAT_VERSION + 1);
        // A future version may change anything else too.
        v["vocab"] = json!({"new": "layout"});
    });
    let e = load(dir.path()).unwrap_err();
    assert_eq!(e.code, codes::MODEL_FORMAT);
    assert!(
        e.message
            .contains(&format!("version {}", FORMAT_VERSION + 1))
    );
    assert!(
        e.message
            .contains(&format!("reads format version {FORMAT_VERSION}")),
        "{}",
        e.message
    );
    assert!(e.help.as_deref().unwrap().contains("upgrade"));

    let dir = saved(&m, "v0");
    edit_json(&dir.file("rasp.json"), |v| v["format_version"] = json!(0));
    expect_error(dir.path(), codes::MODEL_FORMAT, "format_version");

    // Version 1 (one unembedding column for a numerical output) is refused
    // with a clear reason, never read wrongly. (Version 2 is tested in
    // tests/it/integrity/, version 3 too.)
    assert_eq!(FORMAT_VERSION, 6);
    let dir = saved(&m, "v1");
    edit_json(&dir.file("rasp.json"), |v| v["format_version"] = json!(1));
    let e = load(dir.path()).unwrap_err();
    assert_eq!(e.code, codes::MODEL_FORMAT);
    assert!(e.message.contains("format version 1"), "{}", e.message);
    assert!(e.message.contains("+x and -x"), "{}", e.message);
    assert!(
        e.help
            .as_deref()
            .unwrap()
            .contains("compile the program again"),
        "{:?}",
        e.help
    );
    let mut old = m.clone();
    old.meta.format_version = 1;
    assert!(old.validate().is_err());
    assert!(old.run(&[ints(&[1])]).is_err());

    let dir = saved(&m, "format");
    edit_json(&dir.file("rasp.json"), |v| v["format"] = json!("tracr"));
    expect_error(dir.path(), codes::MODEL_FORMAT, "not a rasp model");

    // The weights' header names the format too.
    let dir = saved(&m, "st_meta");
    let path = dir.file("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let views: Vec<_> = st.tensors();
    let header =
        std::collections::HashMap::from([("rasp_format_version".to_string(), "7".to_string())]);
    std::fs::write(&path, safetensors::serialize(views, Some(header)).unwrap()).unwrap();
    expect_error(dir.path(), codes::MODEL_FORMAT, "rasp_format_version");
}

#[test]
fn inconsistent_files() {
    let m = numerical_model(false, None, Vec::new());
    type Edit = fn(&mut serde_json::Value);
    let meta_cases: [(Edit, &str); 8] = [
        (|v| v["pad_id"] = json!(6), "pad_id"),
        (|v| v["bos_id"] = json!(1), "bos_id"),
        (|v| v["pad_id"] = json!(4), "both"),
        (
            |v| v["vocab"].as_array_mut().unwrap().push(json!(5)),
            "d_vocab",
        ),
        (|v| v["max_len"] = json!(20), "n_ctx"),
        (|v| v["output"]["dims"] = json!([5]), "dim 5"),
        (|v| v["causal"] = json!(true), "attention_dir"),
        (|v| v["sops"][1]["values"] = json!([[1]]), "not a bool"),
    ];
    for (edit, needle) in meta_cases {
        let dir = saved(&m, "meta");
        edit_json(&dir.file("rasp.json"), edit);
        expect_error(dir.path(), codes::MODEL_FORMAT, needle);
        expect_error(dir.path(), codes::MODEL_FORMAT, "rasp.json");
    }
    let config_cases: [(Edit, &str); 5] = [
        (|v| v["act_fn"] = json!("gelu"), "relu"),
        (|v| v["normalization_type"] = json!("LN"), "layer norm"),
        (|v| v["attention_dir"] = json!("sideways"), "attention_dir"),
        (|v| v["attn_scale"] = json!(-1.0), "attn_scale"),
        (|v| v["d_model"] = json!(6), "residual"),
    ];
    for (edit, needle) in config_cases {
        let dir = saved(&m, "config");
        edit_json(&dir.file("config.json"), edit);
        expect_error(dir.path(), codes::MODEL_FORMAT, needle);
    }
    // d_mlp changed consistently in the config but not in the weights.
    let dir = saved(&m, "dmlp");
    edit_json(&dir.file("config.json"), |v| v["d_mlp"] = json!(3));
    expect_error(dir.path(), codes::MODEL_FORMAT, "blocks.0.mlp.W_in");
}

#[test]
fn save_refuses_invalid_models() {
    let mut m = numerical_model(false, None, Vec::new());
    m.meta.bos_id = 99;
    let dir = TempDir::new("refuse");
    let e = save(&m, dir.path()).unwrap_err();
    assert_eq!(e.code, codes::MODEL_FORMAT);
    assert!(!dir.path().exists());
}

#[test]
fn save_reports_unwritable_dir() {
    let m = numerical_model(false, None, Vec::new());
    let dir = TempDir::new("unwritable");
    std::fs::create_dir_all(dir.path()).unwrap();
    let blocker = dir.file("file");
    std::fs::write(&blocker, b"x").unwrap();
    let e = save(&m, &blocker.join("model")).unwrap_err();
    assert_eq!(e.code, codes::MODEL_IO);
}

#[test]
fn floats_round_trip_exactly() {
    // Vocab floats and attn_scale must read back bit for bit, or tokens
    // stop matching.
    let mut m = numerical_model(false, None, Vec::new());
    let mut g = Lcg(3);
    let mut floats: Vec<f64> = (0..200)
        .map(|_| (g.next() as f64 / 7.0).sqrt() * 1e-3 + 0.1)
        .collect();
    // Listed in increasing order, as compiled models list them.
    floats.sort_by(f64::total_cmp);
    floats.dedup();
    m.meta.sops[1].values = floats.iter().map(|&f| json!(f)).collect();
    m.meta.sops[1].encoding = Encoding::Numerical;
    let dir = saved(&m, "floats");
    let back = load(dir.path()).unwrap();
    for (v, f) in back.meta.sops[1].values.iter().zip(&floats) {
        assert_eq!(v.as_f64().unwrap().to_bits(), f.to_bits());
    }
    let m = random_model(3, false, true);
    let back = load(saved(&m, "scale").path()).unwrap();
    assert_eq!(
        back.config.attn_scale.to_bits(),
        f64::from(5f32.sqrt()).to_bits()
    );
}

#[test]
fn unaligned_weights_are_copied_and_still_checked() {
    // A header one byte longer (a space) puts every tensor off 4-byte
    // alignment: the floats are copied out of the map instead of read in
    // place, and the checksum and the checks still see every byte.
    let m = random_model(21, false, true);
    let dir = saved(&m, "unaligned");
    let path = dir.file("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let shifted = |extra: &[u8]| {
        let mut b = ((n + 1) as u64).to_le_bytes().to_vec();
        b.extend(&bytes[8..8 + n]);
        b.push(b' ');
        b.extend(&bytes[8 + n..]);
        b.extend(extra);
        b
    };
    std::fs::write(&path, shifted(&[])).unwrap();
    expect_error(
        dir.path(),
        codes::MODEL_INTEGRITY,
        "model.safetensors changed",
    );
    assert_eq!(load_with(dir.path(), MODIFIED).unwrap(), m);
    // A NaN in the copied floats is found and named.
    let mut b = shifted(&[]);
    let last = b.len() - 4;
    b[last..].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&path, b).unwrap();
    let e = load_with(dir.path(), MODIFIED).unwrap_err();
    assert_eq!(e.code, codes::MODEL_FORMAT);
    assert!(e.message.contains("NaN"), "{}", e.message);
}

#[test]
fn malformed_output_grids_are_refused() {
    // A numerical model of max length 8, its output a prefix mean.
    let m = numerical_model(false, None, Vec::new());
    assert_eq!(m.meta.max_len, 8);
    let widths: Vec<serde_json::Value> = (1..=8).map(|w| json!([[w, w]])).collect();
    let good = json!({"widths": widths, "lo": 0, "hi": 1, "default": 0});
    let mut gridded = m.clone();
    gridded.meta.output_grid = Some(serde_json::from_value(good.clone()).unwrap());
    let dir = saved(&gridded, "grid_ok");
    let loaded = load(dir.path()).expect("a well-formed grid loads");
    assert_eq!(loaded.meta.output_grid, gridded.meta.output_grid);
    type Edit = fn(&mut serde_json::Value);
    let cases: [(Edit, &str); 4] = [
        (|g| g["widths"] = json!([[[1, 1]]]), "positions"),
        (|g| g["widths"][2] = json!([[4, 3]]), "range"),
        (|g| g["lo"] = json!(2), "integers"),
        (|g| g["default"] = json!("x"), "not a number"),
    ];
    for (i, (edit, needle)) in cases.into_iter().enumerate() {
        let dir = saved(&m, &format!("grid_bad{i}"));
        let mut g = good.clone();
        edit(&mut g);
        edit_json(&dir.file("rasp.json"), |v| v["output_grid"] = g.clone());
        expect_error(dir.path(), codes::MODEL_FORMAT, needle);
    }
}
