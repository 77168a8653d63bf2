//! Model integrity: a model folder whose files changed after rasp wrote
//! them is refused (`rasp::model::integrity`) or, with `--allow-modified`,
//! runs with a warning as not verified; whatever the edit, a model never
//! gives an answer other than the interpreter's with exit 0, never prints
//! NaN or Infinity, never panics. The hand edits of issue 16 one by one,
//! version-2 folders, reformatted JSON, the API, and a seeded fuzz run of
//! random edits through `rasp exec` (`fuzz.rs`; 150 models by default,
//! `RASP_FUZZ_MODELS=1000` for the full run).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use rasp::diag::codes;
use rasp::model::io::{OpenOptions, open, open_with};
use serde_json::{Value, json};

mod fuzz;

const MODIFIED: OpenOptions = OpenOptions {
    allow_modified: true,
};

/// A fresh folder under the system temp dir, removed on drop.
struct Temp(PathBuf);

impl Temp {
    fn new(tag: &str) -> Temp {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "rasp-integrity-{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp folder");
        Temp(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rasp(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rasp"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("rasp runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The small programs the tests compile: a copy (categorical output), a
/// mean whose values come as ints and floats (numerical output, decoded
/// with the attention), a histogram and a sort.
const PROGRAM: &str = "\
rev = aggregate(select(indices, length - indices - 1, ==), tokens);
frac = numerical(aggregate(select(tokens, tokens, ==), indicator(tokens == \"a\")));
hist = selector_width(select(tokens, tokens, ==));
smallest = aggregate(select(indices, 0, ==), sort(tokens, tokens));
";

/// A compiled model and the interpreter's answers on every input up to
/// length 3 (and a few of length 4), as `rasp eval --json` prints them.
struct Base {
    _tmp: Temp,
    model: PathBuf,
    inputs: PathBuf,
    expected: String,
    dir: PathBuf,
}

fn base(sop: &str) -> Base {
    let tmp = Temp::new(sop);
    let dir = tmp.path().to_path_buf();
    std::fs::write(dir.join("prog.rasp"), PROGRAM).unwrap();
    let o = rasp(
        &[
            "compile",
            "prog.rasp",
            sop,
            "--vocab",
            "abc",
            "--max-len",
            "4",
            "-o",
            "model",
        ],
        &dir,
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let mut inputs = Vec::new();
    let mut words = vec![String::new()];
    for _ in 0..3 {
        words = words
            .iter()
            .flat_map(|w| ["a", "b", "c"].map(|t| format!("{w}{t}")))
            .collect();
        inputs.extend(words.iter().map(|w| format!("\"{w}\"")));
    }
    inputs.extend(["\"abca\"", "\"ccba\"", "\"aaaa\""].map(String::from));
    std::fs::write(dir.join("inputs.jsonl"), inputs.join("\n") + "\n").unwrap();
    let o = rasp(
        &[
            "eval",
            "prog.rasp",
            sop,
            "--json",
            "--inputs",
            "inputs.jsonl",
        ],
        &dir,
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let expected = text(&o.stdout);
    let b = Base {
        model: dir.join("model"),
        inputs: dir.join("inputs.jsonl"),
        expected,
        dir,
        _tmp: tmp,
    };
    let o = b.exec(&b.model, false);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        b.expected,
        "{sop}: the model is the interpreter"
    );
    b
}

impl Base {
    fn exec(&self, model: &Path, allow: bool) -> Output {
        let mut args = vec![
            "exec",
            model.to_str().unwrap(),
            "--json",
            "--inputs",
            self.inputs.to_str().unwrap(),
        ];
        if allow {
            args.push("--allow-modified");
        }
        rasp(&args, &self.dir)
    }

    /// A copy of the model folder to edit.
    fn copy(&self, tag: &str) -> Temp {
        let t = Temp::new(tag);
        for f in ["model.safetensors", "config.json", "rasp.json"] {
            std::fs::copy(self.model.join(f), t.path().join(f)).unwrap();
        }
        t
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

fn edit_json(path: &Path, edit: impl FnOnce(&mut Value)) {
    let mut v = read_json(path);
    edit(&mut v);
    write_json(path, &v);
}

/// The (name, start, end) byte range of each tensor in a safetensors
/// file; none when the header cannot be read.
fn try_tensor_ranges(bytes: &[u8]) -> Option<Vec<(String, usize, usize)>> {
    let n = usize::try_from(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?)).ok()?;
    let header: Value = serde_json::from_slice(bytes.get(8..8usize.checked_add(n)?)?).ok()?;
    let mut out = Vec::new();
    for (k, v) in header.as_object()? {
        if k == "__metadata__" {
            continue;
        }
        let o = &v["data_offsets"];
        let (a, b) = (o[0].as_u64()? as usize, o[1].as_u64()? as usize);
        if a > b || 8 + n + b > bytes.len() {
            return None;
        }
        out.push((k.clone(), 8 + n + a, 8 + n + b));
    }
    Some(out)
}

fn tensor_ranges(bytes: &[u8]) -> Vec<(String, usize, usize)> {
    try_tensor_ranges(bytes).expect("a readable safetensors header")
}

/// Set every f32 of one tensor to `x`.
fn fill_tensor(path: &Path, name: &str, x: f32) {
    let mut bytes = std::fs::read(path).unwrap();
    let (_, a, b) = tensor_ranges(&bytes)
        .into_iter()
        .find(|(n, ..)| n == name)
        .unwrap();
    for chunk in bytes[a..b].chunks_exact_mut(4) {
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

/// The error `open` gives, as (code, message).
fn open_error(dir: &Path, opts: OpenOptions) -> (String, String) {
    match open_with(dir, opts) {
        Ok(_) => panic!("{} opened (expected an error)", dir.display()),
        Err(e) => (e.code.to_string(), e.message.clone()),
    }
}

fn assert_refused(o: &Output, code: &str) {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(code), "expected {code}: {err}");
    assert!(o.stdout.is_empty(), "printed {}", text(&o.stdout));
}

// ---------------------------------------------------------------------------
// The hand edits of issue 16

#[test]
fn byte_flips_in_the_weights_are_refused() {
    // 2 of 60 went undetected (`reverse("abc") = ["c","b","c"]`).
    let b = base("rev");
    let t = b.copy("flips");
    let path = t.path().join("model.safetensors");
    let good = std::fs::read(&path).unwrap();
    let ranges = tensor_ranges(&good);
    let data_start = ranges.iter().map(|r| r.1).min().unwrap();
    let mut g = Lcg(16);
    for _ in 0..60 {
        let mut bytes = good.clone();
        let i = data_start + g.below(good.len() - data_start);
        bytes[i] ^= 1 << g.below(8);
        std::fs::write(&path, &bytes).unwrap();
        let (code, msg) = open_error(t.path(), OpenOptions::default());
        assert!(
            code == codes::MODEL_INTEGRITY || code == codes::MODEL_FORMAT,
            "{code}: {msg}"
        );
        // Allowed, it runs or is refused, never panics.
        if let Ok(m) = open_with(t.path(), MODIFIED) {
            assert!(!m.integrity.is_verified());
        }
    }
    let o = b.exec(t.path(), false);
    assert_refused(&o, codes::MODEL_INTEGRITY);
    assert!(text(&o.stderr).contains("model.safetensors changed"));
}

#[test]
fn an_overflowing_weight_is_never_an_answer() {
    // A weight of 3e38 gave NaN or Infinity outputs (not valid JSON, not in
    // the output's value list) with exit 0.
    for sop in ["rev", "frac"] {
        let b = base(sop);
        let t = b.copy("huge");
        fill_tensor(&t.path().join("model.safetensors"), "unembed.W_U", 3e38);
        assert_refused(&b.exec(t.path(), false), codes::MODEL_INTEGRITY);
        let o = b.exec(t.path(), true);
        assert_refused(&o, codes::MODEL_OUTPUT);
        assert!(text(&o.stderr).contains(codes::MODEL_MODIFIED));
        // A weight that is not finite is refused outright.
        fill_tensor(&t.path().join("model.safetensors"), "embed.W_E", f32::NAN);
        let o = b.exec(t.path(), true);
        assert_refused(&o, codes::MODEL_FORMAT);
        assert!(text(&o.stderr).contains("embed.W_E"));
    }
}

#[test]
fn config_edits_that_change_the_function_are_refused() {
    let b = base("rev");
    // attn_only skipped the MLPs; attn_scale 1e30 made the CPU and wgpu
    // disagree. Both are refused even with --allow-modified: the config
    // no longer agrees with the weights.
    type Edit = fn(&mut Value);
    let cases: [(Edit, &str); 5] = [
        (|v| v["attn_only"] = json!(true), "attn_only"),
        (|v| v["attn_scale"] = json!(1e30), "attn_scale"),
        (|v| v["attn_scale"] = json!(1e-30), "attn_scale"),
        (|v| v["attn_scale"] = json!(2.0), "sqrt(d_head)"),
        (|v| v["n_ctx"] = json!(9), "n_ctx"),
    ];
    for (edit, needle) in cases {
        let t = b.copy("config");
        edit_json(&t.path().join("config.json"), edit);
        for allow in [false, true] {
            let o = b.exec(t.path(), allow);
            assert_refused(&o, codes::MODEL_FORMAT);
            assert!(text(&o.stderr).contains(needle), "{}", text(&o.stderr));
        }
    }
    // use_attn_scale false only sharpens the compiled attention: refused
    // as an edit, runs as the program when allowed.
    let t = b.copy("noscale");
    edit_json(&t.path().join("config.json"), |v| {
        v["use_attn_scale"] = json!(false)
    });
    assert_refused(&b.exec(t.path(), false), codes::MODEL_INTEGRITY);
    let o = b.exec(t.path(), true);
    assert_eq!(text(&o.stdout), b.expected);
}

#[test]
fn attn_only_agrees_with_the_layout_and_the_mlp_weights() {
    let b = base("rev");
    let t = b.copy("attn_only");
    // The layout too says there is no MLP: still, the weights have one.
    edit_json(&t.path().join("config.json"), |v| {
        v["attn_only"] = json!(true)
    });
    edit_json(&t.path().join("rasp.json"), |v| {
        for l in v["layout"].as_array_mut().unwrap() {
            let heads: Vec<&str> = l
                .as_str()
                .unwrap()
                .split(' ')
                .filter(|p| p.starts_with('A'))
                .collect();
            *l = json!(heads.join(" "));
        }
    });
    let (code, msg) = open_error(t.path(), MODIFIED);
    assert_eq!(code, codes::MODEL_FORMAT);
    assert!(msg.contains("non-zero weights"), "{msg}");
    // With every MLP weight zero, attn_only changes nothing: it runs, as a
    // modified model.
    let path = t.path().join("model.safetensors");
    let layers = read_json(&t.path().join("config.json"))["n_layers"]
        .as_u64()
        .unwrap();
    for l in 0..layers {
        for n in ["W_in", "b_in", "W_out", "b_out"] {
            fill_tensor(&path, &format!("blocks.{l}.mlp.{n}"), 0.0);
        }
    }
    let m = open_with(t.path(), MODIFIED).expect("opens");
    assert!(!m.integrity.is_verified());
}

#[test]
fn metadata_edits_are_refused() {
    let b = base("rev");
    type Edit = fn(&mut Value);
    // Accepted before, answering wrongly: a reordered vocab, relabelled or
    // unsorted output values, heads: [].
    let refused_as_edits: [Edit; 4] = [
        |v| v["vocab"] = json!(["b", "a", "c"]),
        |v| v["output"]["values"][1] = json!("A"),
        |v| v["verified"]["inputs"] = json!(1_000_000),
        |v| v["source"] = json!("rev = tokens;"),
    ];
    for edit in refused_as_edits {
        let t = b.copy("meta");
        edit_json(&t.path().join("rasp.json"), edit);
        let o = b.exec(t.path(), false);
        assert_refused(&o, codes::MODEL_INTEGRITY);
        assert!(text(&o.stderr).contains("rasp.json changed"));
        // Allowed, it runs, with the warning, as edited.
        let o = b.exec(t.path(), true);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(text(&o.stderr).contains(codes::MODEL_MODIFIED));
    }
    let inconsistent: [(Edit, &str); 10] = [
        (
            |v| {
                let vals = v["output"]["values"].as_array_mut().unwrap();
                vals.swap(1, 2);
            },
            "not in order",
        ),
        (|v| v["output"]["values"][2] = json!("a"), "listed twice"),
        (|v| v["output"]["heads"] = json!([]), "heads"),
        (|v| v["output"]["heads"] = json!([0, 0]), "head 0"),
        (|v| v["vocab"] = json!(["a", "a", "c"]), "twice"),
        (
            |v| {
                v["bos_id"] = json!(4);
                v["pad_id"] = json!(3);
            },
            "bos_id",
        ),
        (|v| v["max_len"] = json!(3), "n_ctx"),
        (|v| v["layout"][0] = json!("A1 M99"), "layout"),
        (|v| v["layout"][1] = json!("A1 X2"), "layout"),
        (
            |v| {
                let sops = v["sops"].as_array_mut().unwrap();
                let num = sops
                    .iter_mut()
                    .find(|p| p["encoding"] == "numerical")
                    .unwrap();
                num["values"].as_array_mut().unwrap().push(json!("x"));
            },
            "string",
        ),
    ];
    for (edit, needle) in inconsistent {
        let t = b.copy("meta");
        edit_json(&t.path().join("rasp.json"), edit);
        for allow in [false, true] {
            let o = b.exec(t.path(), allow);
            assert_refused(&o, codes::MODEL_FORMAT);
            assert!(text(&o.stderr).contains(needle), "{}", text(&o.stderr));
        }
    }
}

// ---------------------------------------------------------------------------
// Formats, versions and the API

#[test]
fn reformatted_json_is_the_same_model() {
    let b = base("frac");
    let t = b.copy("reformat");
    for f in ["rasp.json", "config.json"] {
        let path = t.path().join(f);
        let v = read_json(&path);
        // Compact, then with the keys of every object reversed.
        std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
        let mut text = String::new();
        reversed(&v, &mut text);
        std::fs::write(&path, text).unwrap();
    }
    let m = open(t.path()).expect("a reformatted model is the same model");
    assert!(m.integrity.is_verified());
    assert_eq!(text(&b.exec(t.path(), false).stdout), b.expected);
}

/// JSON with each object's keys in reverse order and spaces after commas.
fn reversed(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().rev().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&format!("{}: ", Value::String(k.clone())));
                reversed(x, out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                reversed(x, out);
            }
            out.push(']');
        }
        x => out.push_str(&x.to_string()),
    }
}

/// Rewrite the weights' header to say format version `v` (one digit, as
/// the current one is: the header keeps its length).
fn header_version(model: &Path, v: u32) {
    use rasp::model::FORMAT_VERSION;
    let path = model.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = text(&bytes[8..8 + n]).replace(
        &format!("\"rasp_format_version\":\"{FORMAT_VERSION}\""),
        &format!("\"rasp_format_version\":\"{v}\""),
    );
    assert_eq!(header.len(), n);
    let mut old = bytes[..8].to_vec();
    old.extend(header.as_bytes());
    old.extend(&bytes[8 + n..]);
    std::fs::write(&path, old).unwrap();
}

/// A folder as version `version` wrote it: its version in both places,
/// the checksums of those files.
fn as_version(model: &Path, version: u32) {
    use rasp::model::io::integrity::{hash, meta_sum};
    header_version(model, version);
    let weights = std::fs::read(model.join("model.safetensors")).unwrap();
    edit_json(&model.join("rasp.json"), |v| {
        v["format_version"] = json!(version);
        v["checksums"]["model.safetensors"] = json!(hash(&weights));
        let own = meta_sum(v);
        v["checksums"]["rasp.json"] = json!(own);
    });
}

#[test]
fn version_4_and_5_models_run_as_they_are() {
    // Version 5 added output grids (a version-4 folder has none) and
    // version 6 grids keyed by length (a version-5 grid, without `by`, is
    // keyed by position): both folders mean what they meant.
    let b = base("rev");
    for version in [4, 5] {
        let t = b.copy(&format!("v{version}"));
        as_version(t.path(), version);
        let o = b.exec(t.path(), false);
        assert_eq!(text(&o.stdout), b.expected, "{}", text(&o.stderr));
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
}

#[test]
fn version_3_bidirectional_models_run_and_causal_ones_say_compile_again() {
    let b = base("rev");
    let t = b.copy("v3");
    as_version(t.path(), 3);
    let o = b.exec(t.path(), false);
    assert_eq!(text(&o.stdout), b.expected, "{}", text(&o.stderr));
    assert!(o.status.success(), "{}", text(&o.stderr));
    // A version-3 causal model computed the program on each prefix, which
    // is not what a causal model means now.
    let o = rasp(
        &[
            "compile",
            "prog.rasp",
            "rev",
            "--vocab",
            "abc",
            "--max-len",
            "4",
            "--causal",
            "-o",
            "causal",
        ],
        &b.dir,
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    as_version(&b.dir.join("causal"), 3);
    for allow in [false, true] {
        let o = b.exec(&b.dir.join("causal"), allow);
        assert_refused(&o, codes::MODEL_FORMAT);
        let err = text(&o.stderr);
        assert!(err.contains("format version 3"), "{err}");
        assert!(err.contains("on each prefix"), "{err}");
        assert!(err.contains("compile --causal"), "{err}");
    }
}

#[test]
fn version_2_folders_say_compile_again_or_run_unverified() {
    let b = base("rev");
    let t = b.copy("v2");
    // What rasp 0.1 wrote: format version 2, no checksums, "2" in the
    // weights' header.
    edit_json(&t.path().join("rasp.json"), |v| {
        v["format_version"] = json!(2);
        v.as_object_mut().unwrap().remove("checksums");
    });
    header_version(t.path(), 2);

    let o = b.exec(t.path(), false);
    assert_refused(&o, codes::MODEL_FORMAT);
    let err = text(&o.stderr);
    assert!(err.contains("format version 2"), "{err}");
    assert!(err.contains("compile the program again"), "{err}");
    assert!(err.contains("--allow-modified"), "{err}");
    let o = b.exec(t.path(), true);
    assert_eq!(text(&o.stdout), b.expected);
    let err = text(&o.stderr);
    assert!(err.contains(codes::MODEL_MODIFIED), "{err}");
    assert!(err.contains("records no checksums"), "{err}");
}

#[test]
fn checksums_cover_every_file_and_are_documented() {
    let b = base("rev");
    let meta = read_json(&b.model.join("rasp.json"));
    let sums = &meta["checksums"];
    assert_eq!(sums["algorithm"], "xxh3-64");
    for f in ["model.safetensors", "config.json", "rasp.json"] {
        let s = sums[f].as_str().unwrap();
        assert_eq!(s.len(), 16, "{f}: {s}");
        assert!(
            s.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }
    // As docs/model-format.md says to recompute them.
    use rasp::model::io::integrity::{canonical_json, hash};
    let weights = std::fs::read(b.model.join("model.safetensors")).unwrap();
    assert_eq!(sums["model.safetensors"], hash(&weights));
    let config = read_json(&b.model.join("config.json"));
    assert_eq!(
        sums["config.json"],
        hash(canonical_json(&config).as_bytes())
    );
    let mut own = meta.clone();
    own["checksums"]
        .as_object_mut()
        .unwrap()
        .remove("rasp.json");
    assert_eq!(sums["rasp.json"], hash(canonical_json(&own).as_bytes()));
    let doc = include_str!("../../../docs/model-format.md");
    for needle in [
        "xxh3_64_hexdigest",
        "sort_keys=True",
        "--allow-modified",
        "version-2 folder",
    ] {
        assert!(doc.contains(needle), "docs/model-format.md: {needle}");
    }
    // A missing or unknown checksum record is not verified either.
    let t = b.copy("nosums");
    edit_json(&t.path().join("rasp.json"), |v| {
        v["checksums"]["algorithm"] = json!("md5");
    });
    assert!(
        open_error(t.path(), OpenOptions::default())
            .1
            .contains("md5")
    );
    edit_json(&t.path().join("rasp.json"), |v| {
        v.as_object_mut().unwrap().remove("checksums");
    });
    let (code, msg) = open_error(t.path(), OpenOptions::default());
    assert_eq!(code, codes::MODEL_INTEGRITY);
    assert!(msg.contains("no checksums"), "{msg}");
}

#[test]
fn the_library_and_info_say_not_verified() {
    let b = base("rev");
    let t = b.copy("api");
    edit_json(&t.path().join("rasp.json"), |v| {
        v["vocab"] = json!(["b", "a", "c"])
    });
    let e = rasp::Model::open(t.path()).err().expect("refused");
    assert_eq!(e.code, codes::MODEL_INTEGRITY);
    let m = rasp::Model::open_modified(t.path()).expect("opens");
    assert!(!m.is_verified());
    assert!(m.summary().contains("not verified"), "{}", m.summary());
    let w = m.warning().expect("a warning");
    assert_eq!(w.code, codes::MODEL_MODIFIED);
    assert!(!w.is_error());
    let good = rasp::Model::open(&b.model).expect("opens");
    assert!(good.is_verified() && good.warning().is_none());
    assert!(!good.summary().contains("verified"));
    // Saved again, a modified model gets fresh checksums but no longer
    // claims what its compilation verified.
    let again = Temp::new("resaved");
    m.save(again.path()).unwrap();
    let back = rasp::Model::open(again.path()).expect("verified again");
    assert!(back.is_verified());
    assert!(
        read_json(&again.path().join("rasp.json"))
            .get("verified")
            .is_none()
    );
    assert!(
        read_json(&b.model.join("rasp.json"))
            .get("verified")
            .is_some()
    );
    // --info says so.
    let o = rasp(
        &[
            "exec",
            t.path().to_str().unwrap(),
            "--allow-modified",
            "--info",
        ],
        &b.dir,
    );
    assert!(
        text(&o.stderr).contains("model: not verified"),
        "{}",
        text(&o.stderr)
    );
    let o = rasp(&["exec", b.model.to_str().unwrap(), "--info"], &b.dir);
    assert!(
        text(&o.stderr).contains("model: verified"),
        "{}",
        text(&o.stderr)
    );
}

/// A seeded generator (an LCG), for the tests' random choices.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}
