//! Model files. A model directory holds three files:
//!
//! - `model.safetensors`: the weights, f32, under TransformerLens
//!   (HookedTransformer) names and shapes, with short strings only in
//!   `__metadata__` (`format` = "pt", `rasp_version`, `rasp_format`,
//!   `rasp_format_version`);
//! - `config.json`: the [`Config`], fields both TransformerLens 3 and 4
//!   accept;
//! - `rasp.json`: the [`Meta`] (vocab, BOS/PAD ids, placements, ...).
//!
//! `docs/model-format.md` documents the three files for their users.
//!
//! [`load`] checks everything it reads (presence, JSON, the safetensors
//! header, dtypes, shapes, config/meta consistency) and reports any problem
//! as a diagnostic naming the file; no file content makes it panic.

use std::path::{Path, PathBuf};

use ndarray::{ArrayView1, ArrayView2, ArrayView3, ArrayViewD};
use rayon::prelude::*;
use safetensors::{Dtype, SafeTensors};

use super::codec::value_from_json;
use super::weights::{AttnView, MlpView, Weights};
use super::{
    Attn, Block, Config, Encoding, FORMAT, FORMAT_VERSION, Meta, Mlp, Model, Placement,
    output_width,
};
use crate::diag::{Diag, codes};

/// The weights file in a model directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The TransformerLens config file in a model directory.
pub const CONFIG_FILE: &str = "config.json";
/// The rasp metadata file in a model directory.
pub const META_FILE: &str = "rasp.json";

const HELP_RECOMPILE: &str = "the model files are damaged or were edited by hand; compile the program again to get a fresh model";
const HELP_DIR: &str = "a model directory holds model.safetensors, config.json and rasp.json, as the compiler writes them";

/// The files of a model folder; a folder holding anything else is never
/// replaced by [`save`].
pub const MODEL_FILES: [&str; 3] = [WEIGHTS_FILE, CONFIG_FILE, META_FILE];

/// Write `model` to `dir` as `model.safetensors`, `config.json` and
/// `rasp.json`, the folder written whole and swapped in
/// ([`crate::fsio::write_folder`]: a reader sees the old model or the new
/// one, never a mix). `dir` must be new, empty, or a model folder. The
/// model is checked first ([`Model::validate`]), so what `save` writes,
/// [`load`] reads back.
pub fn save(model: &Model, dir: &Path) -> Result<(), Diag> {
    model.validate()?;

    let data: Vec<(String, Vec<usize>, Vec<u8>)> = tensors(model)
        .into_iter()
        .map(|(name, view)| {
            let bytes = view.iter().flat_map(|x| x.to_le_bytes()).collect();
            (name, view.shape().to_vec(), bytes)
        })
        .collect();
    let weights = safetensors_bytes(
        &data,
        &[
            ("format", "pt".to_string()),
            ("rasp_version", model.meta.rasp_version.clone()),
            ("rasp_format", FORMAT.to_string()),
            ("rasp_format_version", FORMAT_VERSION.to_string()),
        ],
    );
    let config = serde_json::to_string_pretty(&model.config)
        .map_err(|e| internal(format!("cannot serialise the config: {e}")))?;
    let meta = serde_json::to_string_pretty(&model.meta)
        .map_err(|e| internal(format!("cannot serialise the metadata: {e}")))?;

    let config = format!("{config}\n");
    let meta = format!("{meta}\n");
    crate::fsio::write_folder(
        dir,
        &[
            (WEIGHTS_FILE, &weights),
            (CONFIG_FILE, config.as_bytes()),
            (META_FILE, meta.as_bytes()),
        ],
        &MODEL_FILES,
        codes::MODEL_IO,
        "the model",
    )
}

/// A safetensors file: the 8-byte little-endian header length, the JSON
/// header (keys sorted, `__metadata__` first by sorting, padded with spaces
/// to a multiple of 8 bytes so every f32 tensor is aligned), then the
/// tensors' bytes in the given order. Written here rather than by the
/// `safetensors` crate, whose metadata map is a `HashMap` serialised in a
/// random order: the same model must give the same bytes.
fn safetensors_bytes(tensors: &[(String, Vec<usize>, Vec<u8>)], metadata: &[(&str, String)]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    header.insert(
        "__metadata__".into(),
        metadata
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone())))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    );
    let mut at = 0usize;
    for (name, shape, bytes) in tensors {
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [at, at + bytes.len()]}),
        );
        at += bytes.len();
    }
    let mut text = serde_json::Value::Object(header).to_string().into_bytes();
    text.resize(text.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + text.len() + at);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    for (_, _, bytes) in tensors {
        out.extend_from_slice(bytes);
    }
    out
}

fn internal(msg: String) -> Diag {
    Diag::error(codes::MODEL_FORMAT, msg)
        .help("this is a bug in rasp: the model passed its checks but could not be written")
}

/// Read the model in `dir` (as [`save`] writes it), checking every file,
/// into memory ([`open`], then a copy of every tensor).
pub fn load(dir: &Path) -> Result<Model, Diag> {
    let file = open(dir)?;
    let model = file.to_model();
    model.validate()?;
    Ok(model)
}

/// A model directory opened for running: `config.json` and `rasp.json`
/// read, `model.safetensors` memory-mapped (its tensors are read where
/// they lie in the file, never copied), everything checked as [`load`]
/// checks it.
pub struct ModelFile {
    pub config: Config,
    pub meta: Meta,
    data: Data,
    /// Each tensor's element range in the data, in [`tensors`] order.
    ranges: Vec<std::ops::Range<usize>>,
}

/// Where the tensors' f32s are.
enum Data {
    /// The file itself; `offset` is where the tensor data begin.
    Mapped { map: memmap2::Mmap, offset: usize },
    /// Copied, on the rare file whose tensors are not 4-byte aligned (or on
    /// a big-endian machine).
    Copied(Vec<f32>),
}

impl ModelFile {
    fn floats(&self) -> &[f32] {
        match &self.data {
            Data::Mapped { map, offset } => {
                bytemuck::try_cast_slice(&map[*offset..]).expect("checked aligned when opened")
            }
            Data::Copied(v) => v,
        }
    }

    /// Views of the weights, in place.
    pub fn weights(&self) -> Weights<'_> {
        let all = self.floats();
        let c = &self.config;
        let mut at = self.ranges.iter().map(|r| &all[r.clone()]);
        let mut next = || at.next().expect("one range per tensor");
        let (dm, nh, dh) = (c.d_model, c.n_heads, c.d_head);
        fn v1(d: &[f32], n: usize) -> ArrayView1<'_, f32> {
            ArrayView1::from_shape(n, d).expect("checked shape")
        }
        fn v2(d: &[f32], s: (usize, usize)) -> ArrayView2<'_, f32> {
            ArrayView2::from_shape(s, d).expect("checked shape")
        }
        fn v3(d: &[f32], s: (usize, usize, usize)) -> ArrayView3<'_, f32> {
            ArrayView3::from_shape(s, d).expect("checked shape")
        }
        let w_e = v2(next(), (c.d_vocab, dm));
        let w_pos = v2(next(), (c.n_ctx, dm));
        let mut blocks = Vec::with_capacity(c.n_layers);
        for _ in 0..c.n_layers {
            let attn = AttnView {
                w_q: v3(next(), (nh, dm, dh)),
                b_q: v2(next(), (nh, dh)),
                w_k: v3(next(), (nh, dm, dh)),
                b_k: v2(next(), (nh, dh)),
                w_v: v3(next(), (nh, dm, dh)),
                b_v: v2(next(), (nh, dh)),
                w_o: v3(next(), (nh, dh, dm)),
                b_o: v1(next(), dm),
            };
            let mlp = MlpView {
                w_in: v2(next(), (dm, c.d_mlp)),
                b_in: v1(next(), c.d_mlp),
                w_out: v2(next(), (c.d_mlp, dm)),
                b_out: v1(next(), dm),
            };
            blocks.push((attn, mlp));
        }
        let w_u = v2(next(), (dm, c.d_vocab_out));
        let b_u = v1(next(), c.d_vocab_out);
        Weights {
            config: c,
            w_e,
            w_pos,
            blocks,
            w_u,
            b_u,
        }
    }

    /// The model, in memory.
    pub fn to_model(&self) -> Model {
        let w = self.weights();
        Model {
            config: self.config.clone(),
            meta: self.meta.clone(),
            w_e: w.w_e.to_owned(),
            w_pos: w.w_pos.to_owned(),
            blocks: w
                .blocks
                .iter()
                .map(|(a, m)| Block {
                    attn: Attn {
                        w_q: a.w_q.to_owned(),
                        b_q: a.b_q.to_owned(),
                        w_k: a.w_k.to_owned(),
                        b_k: a.b_k.to_owned(),
                        w_v: a.w_v.to_owned(),
                        b_v: a.b_v.to_owned(),
                        w_o: a.w_o.to_owned(),
                        b_o: a.b_o.to_owned(),
                    },
                    mlp: Mlp {
                        w_in: m.w_in.to_owned(),
                        b_in: m.b_in.to_owned(),
                        w_out: m.w_out.to_owned(),
                        b_out: m.b_out.to_owned(),
                    },
                })
                .collect(),
            w_u: w.w_u.to_owned(),
            b_u: w.b_u.to_owned(),
        }
    }
}

/// Open the model in `dir` for running (see [`ModelFile`]).
pub fn open(dir: &Path) -> Result<ModelFile, Diag> {
    if !dir.is_dir() {
        let what = if dir.exists() {
            "is not a directory"
        } else {
            "does not exist"
        };
        return Err(Diag::error(
            codes::MODEL_IO,
            format!("no model at {}: the path {what}", dir.display()),
        )
        .help(HELP_DIR));
    }

    let meta_path = dir.join(META_FILE);
    let meta = read_meta(&meta_path, &read(&meta_path)?)?;
    let config_path = dir.join(CONFIG_FILE);
    let config: Config = serde_json::from_slice(&read(&config_path)?)
        .map_err(|e| format_error(&config_path, format!("not a valid model config: {e}")))?;

    let names = Names {
        dir,
        weights: dir.join(WEIGHTS_FILE),
    };
    check_config(&config).map_err(|p| names.problem(p))?;
    check_meta(&config, &meta).map_err(|p| names.problem(p))?;

    let map = map_file(&names.weights)?;
    precheck_header(&map).map_err(|msg| format_error(&names.weights, msg))?;
    let st = SafeTensors::deserialize(&map)
        .map_err(|e| format_error(&names.weights, format!("not a valid safetensors file: {e}")))?;
    let r = Reader {
        st: &st,
        path: &names.weights,
    };
    // Where the data begin: after the 8-byte length and the header.
    let mut len8 = [0u8; 8];
    len8.copy_from_slice(&map[..8]);
    let offset = 8 + usize::try_from(u64::from_le_bytes(len8)).unwrap_or(usize::MAX);
    let mut ranges = Vec::new();
    let mut aligned = cfg!(target_endian = "little") && offset.is_multiple_of(4);
    for ((name, _), shape) in tensor_names(&config)
        .into_iter()
        .zip(expected_shapes(&config))
    {
        let bytes = r.get(&name, &shape)?;
        let start = bytes.as_ptr() as usize - map.as_ptr() as usize;
        aligned &= start.is_multiple_of(4);
        ranges.push(start..start + bytes.len());
    }
    let data = if aligned && bytemuck::try_cast_slice::<u8, f32>(&map[offset..]).is_ok() {
        for r in &mut ranges {
            *r = (r.start - offset) / 4..(r.end - offset) / 4;
        }
        Data::Mapped { map, offset }
    } else {
        let mut all = Vec::new();
        for r in &mut ranges {
            let start = all.len();
            all.extend(
                map[r.clone()]
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            );
            *r = start..all.len();
        }
        drop(st);
        Data::Copied(all)
    };
    let file = ModelFile {
        config,
        meta,
        data,
        ranges,
    };
    // Every value finite (the tensors in parallel, each in vectorisable
    // chunks).
    let all = file.floats();
    let bad = tensor_names(&file.config)
        .into_par_iter()
        .zip(file.ranges.par_iter())
        .find_map_first(|((name, ()), r)| {
            let t = &all[r.clone()];
            let chunk = t
                .chunks(256)
                .position(|c| !c.iter().fold(true, |ok, x| ok & x.is_finite()))?;
            let i = chunk * 256 + t[chunk * 256..].iter().position(|x| !x.is_finite())?;
            Some((name, i, t[i]))
        });
    if let Some((name, i, x)) = bad {
        return Err(format_error(
            &names.weights,
            format!("the tensor `{name}` holds {x} at flat index {i}"),
        ));
    }
    Ok(file)
}

/// Memory-map a file for reading.
fn map_file(path: &Path) -> Result<memmap2::Mmap, Diag> {
    regular(path)?;
    let file = std::fs::File::open(path).map_err(|e| read_error(path, e))?;
    // SAFETY: the map is only read. As with any memory map, a process that
    // truncates or rewrites the file while it is mapped changes what is
    // read (or faults); model files are written once, by `save`, through a
    // new file.
    // Populated: the pages are read in one go (every tensor is scanned
    // right away), not faulted in one by one.
    unsafe { memmap2::MmapOptions::new().populate().map(&file) }.map_err(|e| read_error(path, e))
}

fn read_error(path: &Path, e: std::io::Error) -> Diag {
    let d = if e.kind() == std::io::ErrorKind::NotFound {
        Diag::error(
            codes::MODEL_IO,
            format!("the model file {} is missing", path.display()),
        )
    } else {
        Diag::error(
            codes::MODEL_IO,
            format!("cannot read {}: {e}", path.display()),
        )
    };
    d.help(HELP_DIR)
}

fn read(path: &Path) -> Result<Vec<u8>, Diag> {
    regular(path)?;
    std::fs::read(path).map_err(|e| read_error(path, e))
}

/// Model files are regular files: a FIFO or a device would block or
/// change under the reader.
fn regular(path: &Path) -> Result<(), Diag> {
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => Err(Diag::error(
            codes::MODEL_IO,
            format!("{} is not a regular file", path.display()),
        )
        .help(HELP_DIR)),
        // Missing files are reported by the read itself.
        _ => Ok(()),
    }
}

fn format_error(path: &Path, msg: impl std::fmt::Display) -> Diag {
    Diag::error(codes::MODEL_FORMAT, format!("{}: {msg}", path.display())).help(HELP_RECOMPILE)
}

/// `rasp.json`: the format and its version are checked before the rest, so
/// that a file from a newer rasp says so rather than failing on a field.
fn read_meta(path: &Path, bytes: &[u8]) -> Result<Meta, Diag> {
    let json: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| format_error(path, format!("not valid JSON: {e}")))?;
    let format = json.get("format").and_then(|f| f.as_str());
    if format != Some(FORMAT) {
        let found = match json.get("format") {
            Some(f) => format!("its format is {f}"),
            None => "it has no \"format\" field".to_string(),
        };
        return Err(Diag::error(
            codes::MODEL_FORMAT,
            format!(
                "{}: not a rasp model description ({found}, expected \"{FORMAT}\")",
                path.display()
            ),
        )
        .help(HELP_DIR));
    }
    let version = json.get("format_version").and_then(|v| v.as_u64());
    match version {
        Some(v) if v > u64::from(FORMAT_VERSION) => {
            return Err(Diag::error(
                codes::MODEL_FORMAT,
                format!(
                    "{}: the model has format version {v}, but this rasp ({}) reads format version {FORMAT_VERSION}",
                    path.display(),
                    env!("CARGO_PKG_VERSION")
                ),
            )
            .help("the model was written by a newer rasp: upgrade rasp, or compile the program again with this one"));
        }
        Some(v) if v >= 1 && v < u64::from(FORMAT_VERSION) => {
            return Err(old_version(path, v));
        }
        Some(v) if v == u64::from(FORMAT_VERSION) => {}
        _ => {
            return Err(format_error(
                path,
                format!(
                    "bad format_version {}: expected {FORMAT_VERSION}",
                    json.get("format_version")
                        .map_or("(missing)".to_string(), |v| v.to_string())
                ),
            ));
        }
    }
    serde_json::from_value(json)
        .map_err(|e| format_error(path, format!("not a valid model description: {e}")))
}

/// A model written by an older rasp, in a format this one no longer reads.
fn old_version(path: &Path, v: u64) -> Diag {
    let change = match v {
        1 => {
            " (in version 1 a numerical output had one unembedding column, which TransformerLens's unembedding centring turns into 0; version 2 gives it two, +x and -x)"
        }
        _ => "",
    };
    Diag::error(
        codes::MODEL_FORMAT,
        format!(
            "{}: the model has format version {v}, but this rasp ({}) reads format version {FORMAT_VERSION}{change}",
            path.display(),
            env!("CARGO_PKG_VERSION")
        ),
    )
    .help("the model was written by an older rasp: compile the program again (`rasp compile`) to get a current model")
}

/// Where a consistency problem lies.
#[derive(Clone, Copy)]
enum File {
    Config,
    Meta,
}

struct Problem {
    file: File,
    msg: String,
}

fn config_problem(msg: String) -> Problem {
    Problem {
        file: File::Config,
        msg,
    }
}

fn meta_problem(msg: String) -> Problem {
    Problem {
        file: File::Meta,
        msg,
    }
}

/// Paths for messages about one model directory.
struct Names<'a> {
    dir: &'a Path,
    weights: PathBuf,
}

impl Names<'_> {
    fn problem(&self, p: Problem) -> Diag {
        let file = match p.file {
            File::Config => CONFIG_FILE,
            File::Meta => META_FILE,
        };
        format_error(&self.dir.join(file), p.msg)
    }
}

fn check_config(c: &Config) -> Result<(), Problem> {
    let bad = |msg: String| Err(config_problem(msg));
    if c.act_fn != "relu" {
        return bad(format!(
            "act_fn is {:?}, but rasp models use \"relu\"",
            c.act_fn
        ));
    }
    if let Some(n) = &c.normalization_type {
        return bad(format!(
            "normalization_type is {n:?}, but rasp models have no layer norm (null)"
        ));
    }
    if c.attention_dir != "causal" && c.attention_dir != "bidirectional" {
        return bad(format!(
            "attention_dir is {:?}; expected \"causal\" or \"bidirectional\"",
            c.attention_dir
        ));
    }
    if c.positional_embedding_type != "standard" {
        return bad(format!(
            "positional_embedding_type is {:?}, but rasp models use \"standard\"",
            c.positional_embedding_type
        ));
    }
    if !c.attn_scale.is_finite() || c.attn_scale <= 0.0 {
        return bad(format!(
            "attn_scale is {}; it must be a positive number",
            c.attn_scale
        ));
    }
    if c.n_ctx == 0 {
        return bad("n_ctx is 0; it must hold at least BOS".to_string());
    }
    Ok(())
}

fn check_meta(c: &Config, m: &Meta) -> Result<(), Problem> {
    let bad = |msg: String| Err(meta_problem(msg));
    if m.format != FORMAT {
        return bad(format!("format is {:?}, expected {FORMAT:?}", m.format));
    }
    if m.format_version != FORMAT_VERSION {
        return bad(format!(
            "format_version is {}, but this rasp reads format version {FORMAT_VERSION}",
            m.format_version
        ));
    }
    if m.causal != (c.attention_dir == "causal") {
        return bad(format!(
            "causal is {}, but config.json has attention_dir {:?}",
            m.causal, c.attention_dir
        ));
    }
    if m.vocab.len().checked_add(2) != Some(c.d_vocab) {
        return bad(format!(
            "the vocabulary has {} tokens, so d_vocab should be {} (with BOS and PAD), but config.json says {}",
            m.vocab.len(),
            m.vocab.len().saturating_add(2),
            c.d_vocab
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, v) in m.vocab.iter().enumerate() {
        if value_from_json(v).is_none() {
            return bad(format!(
                "vocabulary token {i} is {v}, which is not a bool, int, float or string"
            ));
        }
        // JSON text tells 1, 1.0 and "1" apart, as token matching does.
        if !seen.insert(v.to_string()) {
            return bad(format!("vocabulary token {v} appears twice"));
        }
    }
    for (what, id) in [("bos_id", m.bos_id), ("pad_id", m.pad_id)] {
        if id >= c.d_vocab {
            return bad(format!(
                "{what} is {id}, but d_vocab is {} (ids run from 0 to {})",
                c.d_vocab,
                c.d_vocab - 1
            ));
        }
        if id < m.vocab.len() {
            return bad(format!(
                "{what} is {id}, the id of vocabulary token {}",
                m.vocab[id]
            ));
        }
    }
    if m.bos_id == m.pad_id {
        return bad(format!("bos_id and pad_id are both {}", m.bos_id));
    }
    if m.max_len.checked_add(1).is_none_or(|n| n > c.n_ctx) {
        return bad(format!(
            "max_len is {}, but config.json has n_ctx {} (max_len + 1 positions, for BOS, are needed)",
            m.max_len, c.n_ctx
        ));
    }
    if m.residual.len() != c.d_model {
        return bad(format!(
            "residual lists {} dim labels, but d_model is {}",
            m.residual.len(),
            c.d_model
        ));
    }
    if m.layout.len() != c.n_layers {
        return bad(format!(
            "layout describes {} layers, but n_layers is {}",
            m.layout.len(),
            c.n_layers
        ));
    }
    check_placement(c, &m.output).map_err(|msg| meta_problem(format!("output: {msg}")))?;
    let outs = output_width(&m.output);
    if outs != c.d_vocab_out {
        let what = match m.output.encoding {
            Encoding::Categorical => format!("is categorical with {outs} output ids"),
            Encoding::Numerical => "is numerical, with 2 output columns (+x and -x)".to_string(),
        };
        return bad(format!(
            "the output {} {what}, but d_vocab_out is {}",
            m.output.name, c.d_vocab_out
        ));
    }
    for p in &m.sops {
        check_placement(c, p).map_err(|msg| meta_problem(format!("s-op {}: {msg}", p.name)))?;
    }
    Ok(())
}

fn check_placement(c: &Config, p: &Placement) -> Result<(), String> {
    if let Some(d) = p.dims.iter().find(|&&d| d >= c.d_model) {
        return Err(format!(
            "dim {d} is out of range (d_model is {})",
            c.d_model
        ));
    }
    if let Some(v) = p.values.iter().find(|v| value_from_json(v).is_none()) {
        return Err(format!("value {v} is not a bool, int, float or string"));
    }
    match p.encoding {
        Encoding::Categorical if p.values.len() != p.dims.len() => Err(format!(
            "categorical with {} dims but {} values",
            p.dims.len(),
            p.values.len()
        )),
        Encoding::Numerical if p.dims.is_empty() => Err("numerical with no dims".to_string()),
        Encoding::Numerical if p.coefs.is_empty() && p.dims.len() != 1 => Err(format!(
            "numerical with {} dims and no coefficients (expected one dim)",
            p.dims.len()
        )),
        Encoding::Numerical if !p.coefs.is_empty() && p.coefs.len() != p.dims.len() => {
            Err(format!(
                "numerical with {} dims but {} coefficients",
                p.dims.len(),
                p.coefs.len()
            ))
        }
        _ => Ok(()),
    }?;
    match (p.sublayer.as_str(), p.layer) {
        ("embed", None) => {}
        ("attn" | "mlp", Some(l)) if l < c.n_layers => {}
        ("attn" | "mlp", Some(l)) => {
            return Err(format!(
                "layer {l} is out of range (n_layers is {})",
                c.n_layers
            ));
        }
        (s, l) => {
            return Err(format!(
                "sublayer {s:?} with layer {l:?} (expected \"embed\" with no layer, or \"attn\"/\"mlp\" with one)"
            ));
        }
    }
    if let Some(h) = p.heads.iter().find(|&&h| h >= c.n_heads) {
        return Err(format!(
            "head {h} is out of range (n_heads is {})",
            c.n_heads
        ));
    }
    Ok(())
}

/// The safetensors crate trusts the tensor offsets in the header when it
/// adds them up; make sure they lie inside the file before it looks.
fn precheck_header(bytes: &[u8]) -> Result<(), String> {
    let Some(len) = bytes.get(..8) else {
        return Err(format!(
            "the file is {} bytes long, too short for a safetensors header",
            bytes.len()
        ));
    };
    let mut len8 = [0u8; 8];
    len8.copy_from_slice(len);
    let n = u64::from_le_bytes(len8);
    let end = usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_add(8))
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| {
            format!(
                "the header claims {n} bytes, but the file has only {}: it is truncated or damaged",
                bytes.len()
            )
        })?;
    let text = std::str::from_utf8(&bytes[8..end])
        .map_err(|e| format!("the header is not UTF-8 text: {e}"))?;
    let header: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("the header is not valid JSON: {e}"))?;
    let Some(entries) = header.as_object() else {
        return Err("the header is not a JSON object".to_string());
    };
    let data_len = bytes.len() - end;
    for (name, info) in entries {
        if name == "__metadata__" {
            let Some(map) = info.as_object() else {
                return Err("__metadata__ is not a JSON object".to_string());
            };
            check_header_metadata(map)?;
            continue;
        }
        let offsets = info
            .get("data_offsets")
            .and_then(|o| o.as_array())
            .filter(|o| o.len() == 2)
            .ok_or_else(|| format!("tensor `{name}` has no valid data_offsets"))?;
        for o in offsets {
            match o.as_u64() {
                Some(o) if o <= data_len as u64 => {}
                _ => {
                    return Err(format!(
                        "tensor `{name}` has data offset {o}, past the end of the data ({data_len} bytes): the file is truncated or damaged"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The `__metadata__` strings, when present, must name this format.
fn check_header_metadata(map: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
    if let Some(f) = map.get("rasp_format")
        && f.as_str() != Some(FORMAT)
    {
        return Err(format!("rasp_format is {f}, expected {FORMAT:?}"));
    }
    if let Some(v) = map.get("rasp_format_version") {
        match v.as_str().and_then(|v| v.parse::<u32>().ok()) {
            Some(v) if v == FORMAT_VERSION => {}
            _ => {
                return Err(format!(
                    "rasp_format_version is {v}, but this rasp reads format version {FORMAT_VERSION}"
                ));
            }
        }
    }
    Ok(())
}

/// Reads one tensor, checking its dtype and shape.
struct Reader<'a> {
    st: &'a SafeTensors<'a>,
    path: &'a Path,
}

impl<'a> Reader<'a> {
    /// The bytes of one tensor, after checking its dtype and its shape.
    fn get(&self, name: &str, shape: &[usize]) -> Result<&'a [u8], Diag> {
        let view = self
            .st
            .tensor(name)
            .map_err(|_| format_error(self.path, format!("the tensor `{name}` is missing")))?;
        if view.dtype() != Dtype::F32 {
            return Err(format_error(
                self.path,
                format!(
                    "the tensor `{name}` has dtype {}, expected F32",
                    view.dtype()
                ),
            ));
        }
        if view.shape() != shape {
            return Err(format_error(
                self.path,
                format!(
                    "the tensor `{name}` has shape {:?}, but config.json implies {shape:?}",
                    view.shape(),
                ),
            ));
        }
        let data: &'a [u8] = view.data();
        Ok(data)
    }
}

/// The TransformerLens name of every tensor, in file order (as [`tensors`]).
fn tensor_names(c: &Config) -> Vec<(String, ())> {
    let mut out = vec![
        ("embed.W_E".to_string(), ()),
        ("pos_embed.W_pos".to_string(), ()),
    ];
    for l in 0..c.n_layers {
        for n in ["W_Q", "b_Q", "W_K", "b_K", "W_V", "b_V", "W_O", "b_O"] {
            out.push((format!("blocks.{l}.attn.{n}"), ()));
        }
        for n in ["W_in", "b_in", "W_out", "b_out"] {
            out.push((format!("blocks.{l}.mlp.{n}"), ()));
        }
    }
    out.push(("unembed.W_U".to_string(), ()));
    out.push(("unembed.b_U".to_string(), ()));
    out
}

/// Every tensor of a model under its TransformerLens name, in file order.
fn tensors(m: &Model) -> Vec<(String, ArrayViewD<'_, f32>)> {
    let mut out = vec![
        ("embed.W_E".to_string(), m.w_e.view().into_dyn()),
        ("pos_embed.W_pos".to_string(), m.w_pos.view().into_dyn()),
    ];
    for (l, b) in m.blocks.iter().enumerate() {
        let a = &b.attn;
        let attn: [(&str, ArrayViewD<'_, f32>); 8] = [
            ("W_Q", a.w_q.view().into_dyn()),
            ("b_Q", a.b_q.view().into_dyn()),
            ("W_K", a.w_k.view().into_dyn()),
            ("b_K", a.b_k.view().into_dyn()),
            ("W_V", a.w_v.view().into_dyn()),
            ("b_V", a.b_v.view().into_dyn()),
            ("W_O", a.w_o.view().into_dyn()),
            ("b_O", a.b_o.view().into_dyn()),
        ];
        out.extend(
            attn.into_iter()
                .map(|(n, v)| (format!("blocks.{l}.attn.{n}"), v)),
        );
        let mlp = &b.mlp;
        let mlp: [(&str, ArrayViewD<'_, f32>); 4] = [
            ("W_in", mlp.w_in.view().into_dyn()),
            ("b_in", mlp.b_in.view().into_dyn()),
            ("W_out", mlp.w_out.view().into_dyn()),
            ("b_out", mlp.b_out.view().into_dyn()),
        ];
        out.extend(
            mlp.into_iter()
                .map(|(n, v)| (format!("blocks.{l}.mlp.{n}"), v)),
        );
    }
    out.push(("unembed.W_U".to_string(), m.w_u.view().into_dyn()));
    out.push(("unembed.b_U".to_string(), m.b_u.view().into_dyn()));
    out
}

/// The shape each tensor must have under a config, in [`tensors`] order.
fn expected_shapes(c: &Config) -> Vec<Vec<usize>> {
    let (dm, nh, dh, dmlp) = (c.d_model, c.n_heads, c.d_head, c.d_mlp);
    let mut out = vec![vec![c.d_vocab, dm], vec![c.n_ctx, dm]];
    for _ in 0..c.n_layers {
        out.extend([
            vec![nh, dm, dh],
            vec![nh, dh],
            vec![nh, dm, dh],
            vec![nh, dh],
            vec![nh, dm, dh],
            vec![nh, dh],
            vec![nh, dh, dm],
            vec![dm],
            vec![dm, dmlp],
            vec![dmlp],
            vec![dmlp, dm],
            vec![dm],
        ]);
    }
    out.push(vec![dm, c.d_vocab_out]);
    out.push(vec![c.d_vocab_out]);
    out
}

impl Model {
    /// Check that the weights' shapes match the config and that the config
    /// and the metadata agree (the checks [`load`] makes). [`save`] and
    /// [`Model::run`] call it; a model that passes runs without panicking.
    pub fn validate(&self) -> Result<(), Diag> {
        let problem = |p: Problem| {
            let file = match p.file {
                File::Config => CONFIG_FILE,
                File::Meta => META_FILE,
            };
            Diag::error(
                codes::MODEL_FORMAT,
                format!("invalid model ({file}): {}", p.msg),
            )
            .help("the model's config, metadata and weights do not agree")
        };
        check_config(&self.config).map_err(problem)?;
        check_meta(&self.config, &self.meta).map_err(problem)?;
        if self.blocks.len() != self.config.n_layers {
            return Err(problem(config_problem(format!(
                "n_layers is {}, but the model has {} blocks",
                self.config.n_layers,
                self.blocks.len()
            ))));
        }
        for ((name, view), shape) in tensors(self).into_iter().zip(expected_shapes(&self.config)) {
            if view.shape() != shape.as_slice() {
                return Err(problem(config_problem(format!(
                    "the tensor `{name}` has shape {:?}, but the config implies {shape:?}",
                    view.shape()
                ))));
            }
        }
        Ok(())
    }
}
