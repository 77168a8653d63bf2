//! Reading a model folder: `rasp.json` and `config.json` parsed and
//! checked ([`check`](super::check)), `model.safetensors` memory-mapped
//! with its header checked before the safetensors crate trusts it, every
//! weight finite, and the checksums compared
//! ([`integrity`](super::integrity)).

use std::path::{Path, PathBuf};

use ndarray::{ArrayView1, ArrayView2, ArrayView3};
use safetensors::{Dtype, SafeTensors};
use serde::Deserialize;

use super::check::{self, Problem, WeightProblem};
use super::integrity::{self, Integrity};
use super::{
    CONFIG_FILE, HELP_DIR, META_FILE, WEIGHTS_FILE, expected_shapes, format_error, read,
    read_error, tensor_names,
};
use crate::diag::{Diag, codes};
use crate::model::weights::{AttnView, MlpView, Weights};
use crate::model::{Attn, Block, Config, FORMAT, FORMAT_VERSION, Meta, Mlp, Model};

/// The one older format version this rasp still reads, and only as a
/// modified model: it is version 3 without the checksums.
const UNCHECKED_VERSION: u32 = 2;
/// The version before causal models had RASP-L's semantics: its
/// bidirectional models mean what version 4's do, and are read as they are.
const PREFIX_CAUSAL_VERSION: u32 = 3;
/// The version before output grids: a version-4 model is a version-5 one
/// without `output_grid`, read as it is.
const GRIDLESS_VERSION: u32 = 4;
/// The version before grids keyed by length: a version-5 model is a
/// version-6 one whose grid (if any) is by position, read as it is.
const POSITION_GRID_VERSION: u32 = 5;

/// How to open a model folder.
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenOptions {
    /// Open a model whose files changed after rasp wrote them (their
    /// checksums do not match, or a version-2 folder, which has none): it
    /// runs as [`Integrity::Modified`]. Everything else is still checked:
    /// a model that cannot run is refused all the same.
    pub allow_modified: bool,
}

/// A model directory opened for running: `config.json` and `rasp.json`
/// read, `model.safetensors` memory-mapped (its tensors are read where
/// they lie in the file, never copied), everything checked as
/// [`load`](super::load) checks it.
pub struct ModelFile {
    pub config: Config,
    pub meta: Meta,
    /// Whether the files are the ones rasp wrote.
    pub integrity: Integrity,
    dir: PathBuf,
    data: Data,
    /// Each tensor's element range in the data, in [`tensors`] order.
    ///
    /// [`tensors`]: super::tensors
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

    /// The warning to show before running a modified model
    /// (`rasp::model::modified`); none for a verified one.
    pub fn warning(&self) -> Option<Diag> {
        let Integrity::Modified(why) = &self.integrity else {
            return None;
        };
        Some(
            Diag::warning(
                codes::MODEL_MODIFIED,
                format!(
                    "{}: running a modified model, not verified: {}",
                    self.dir.display(),
                    why.join("; ")
                ),
            )
            .help("its answers were checked against the program only before the change: they may now differ from the interpreter's"),
        )
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

/// Open the model in `dir` for running (see [`ModelFile`]); a model whose
/// files changed after rasp wrote them is refused
/// (`rasp::model::integrity`).
pub fn open(dir: &Path) -> Result<ModelFile, Diag> {
    open_with(dir, OpenOptions::default())
}

/// [`open`], as `opts` says.
pub fn open_with(dir: &Path, opts: OpenOptions) -> Result<ModelFile, Diag> {
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

    // The three files from one opened folder: a folder swapped in by a
    // concurrent save gives the old three or the new three.
    let folder = crate::fsio::read::Folder::open(dir).map_err(|e| read_error(dir, e))?;
    let meta_path = dir.join(META_FILE);
    let (mut meta, meta_json) =
        read_meta(&meta_path, &read(&folder, META_FILE, &meta_path)?, opts)?;
    // The version the files were written in (the weights' header says it
    // too); a version-2 model is read as a version-3 one without checksums.
    let version = meta.format_version;
    meta.format_version = FORMAT_VERSION;
    let config_path = dir.join(CONFIG_FILE);
    let config_json: serde_json::Value =
        serde_json::from_slice(&read(&folder, CONFIG_FILE, &config_path)?)
            .map_err(|e| format_error(&config_path, format!("not valid JSON: {e}")))?;
    let config: Config = serde_json::from_value(config_json.clone())
        .map_err(|e| format_error(&config_path, format!("not a valid model config: {e}")))?;

    let problem = |p: Problem| format_error(&dir.join(p.file.name()), p.msg);
    check::check_config(&config).map_err(problem)?;
    check::check_file_config(&config).map_err(problem)?;
    check::check_meta(&config, &meta).map_err(problem)?;

    let weights_path = dir.join(WEIGHTS_FILE);
    let map = map_file(&folder, &weights_path)?;
    precheck_header(&map, version).map_err(|msg| format_error(&weights_path, msg))?;
    let st = SafeTensors::deserialize(&map)
        .map_err(|e| format_error(&weights_path, format!("not a valid safetensors file: {e}")))?;
    let r = Reader {
        st: &st,
        path: &weights_path,
    };
    // Where the data begin: after the 8-byte length and the header.
    let mut len8 = [0u8; 8];
    len8.copy_from_slice(&map[..8]);
    let offset = 8 + usize::try_from(u64::from_le_bytes(len8)).unwrap_or(usize::MAX);
    let mut ranges = Vec::new();
    let mut aligned = cfg!(target_endian = "little") && offset.is_multiple_of(4);
    for (name, shape) in tensor_names(&config)
        .into_iter()
        .zip(expected_shapes(&config))
    {
        let bytes = r.get(&name, &shape)?;
        let start = bytes.as_ptr() as usize - map.as_ptr() as usize;
        aligned &= start.is_multiple_of(4);
        ranges.push(start..start + bytes.len());
    }
    // Copied, the file's checksum is taken while its bytes are at hand.
    let (data, copied_sum) =
        if aligned && bytemuck::try_cast_slice::<u8, f32>(&map[offset..]).is_ok() {
            for r in &mut ranges {
                *r = (r.start - offset) / 4..(r.end - offset) / 4;
            }
            (Data::Mapped { map, offset }, None)
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
            (Data::Copied(all), Some(integrity::hash(&map)))
        };
    let mut file = ModelFile {
        config,
        meta,
        integrity: Integrity::Verified,
        dir: dir.to_path_buf(),
        data,
        ranges,
    };
    // The weights' checksum and their checks. Mapped, one pass over the
    // file: each chunk hashed, then scanned for non-finite floats while it
    // is in the cache (the file is read from memory once); the tensors are
    // looked at one by one only to name a bad value, or for attn_only.
    let (weights_sum, finite) = match &file.data {
        Data::Mapped { map, offset } => {
            let bytes: Vec<std::ops::Range<usize>> = file
                .ranges
                .iter()
                .map(|r| offset + 4 * r.start..offset + 4 * r.end)
                .collect();
            checksum_and_scan(map, &bytes)
        }
        Data::Copied(_) => (copied_sum.unwrap_or_default(), false),
    };
    let checked = if finite && !file.config.attn_only {
        Ok(())
    } else {
        let all = file.floats();
        let tensors: Vec<(String, &[f32])> = tensor_names(&file.config)
            .into_iter()
            .zip(&file.ranges)
            .map(|(name, r)| (name, &all[r.clone()]))
            .collect();
        check::check_weights(&file.config, &tensors)
    };
    checked.map_err(|p| match p {
        WeightProblem::NonFinite(msg) => format_error(&weights_path, msg),
        WeightProblem::Config(msg) => format_error(&config_path, msg),
    })?;

    let why = if version == UNCHECKED_VERSION {
        vec![format!(
            "format version {version} records no checksums (compile the program again for a version-{FORMAT_VERSION} model)"
        )]
    } else {
        integrity::mismatches(
            meta_json.get(integrity::FIELD),
            &weights_sum,
            &integrity::config_sum(&config_json),
            &integrity::meta_sum(&meta_json),
        )
    };
    if !why.is_empty() {
        if !opts.allow_modified {
            return Err(modified_error(dir, &why));
        }
        file.integrity = Integrity::Modified(why);
    }
    Ok(file)
}

/// The checksum of a mapped weights file, and whether every f32 in the
/// byte ranges `tensors` (4-byte aligned) is finite: chunk by chunk, each
/// hashed and then scanned while it is in the cache.
fn checksum_and_scan(bytes: &[u8], tensors: &[std::ops::Range<usize>]) -> (String, bool) {
    const CHUNK: usize = 1 << 17;
    let mut sorted = tensors.to_vec();
    sorted.sort_by_key(|r| r.start);
    let mut hasher = integrity::Hasher::new();
    let mut finite = true;
    let mut first = 0;
    for start in (0..bytes.len()).step_by(CHUNK) {
        let end = (start + CHUNK).min(bytes.len());
        hasher.update(&bytes[start..end]);
        while first < sorted.len() && sorted[first].end <= start {
            first += 1;
        }
        for r in sorted[first..].iter().take_while(|r| r.start < end) {
            let (a, b) = (r.start.max(start), r.end.min(end));
            if a < b {
                finite &= all_finite(&bytes[a..b]);
            }
        }
    }
    (hasher.finish(), finite)
}

/// Whether no f32 in `bytes` (little-endian) is an infinity or a NaN (an
/// exponent of all ones), in a loop the compiler vectorises.
fn all_finite(bytes: &[u8]) -> bool {
    const EXPONENT: u32 = 0x7f80_0000;
    match bytemuck::try_cast_slice::<u8, u32>(bytes) {
        Ok(words) if cfg!(target_endian = "little") => words
            .iter()
            .fold(true, |ok, w| ok & (w & EXPONENT != EXPONENT)),
        _ => bytes
            .chunks_exact(4)
            .all(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) & EXPONENT != EXPONENT),
    }
}

/// `rasp::model::integrity`: the files changed after rasp wrote them.
fn modified_error(dir: &Path, why: &[String]) -> Diag {
    Diag::error(
        codes::MODEL_INTEGRITY,
        format!(
            "{}: the model's files changed after rasp wrote them: {}",
            dir.display(),
            why.join("; ")
        ),
    )
    .help("compile the program again to get a fresh model; to run an edited model on purpose (ablation, patching, fine-tuning), pass --allow-modified (or open it with Model::open_modified): it runs with a warning, as not verified")
}

/// Memory-map a file for reading.
fn map_file(folder: &crate::fsio::read::Folder, path: &Path) -> Result<memmap2::Mmap, Diag> {
    let file = folder.file(WEIGHTS_FILE).map_err(|e| read_error(path, e))?;
    // SAFETY: the map is only read. As with any memory map, a process that
    // truncates or rewrites the file while it is mapped changes what is
    // read (or faults); model files are written once, by `save`, through a
    // new file.
    // Populated: the pages are read in one go (every tensor is scanned
    // right away), not faulted in one by one.
    unsafe { memmap2::MmapOptions::new().populate().map(&file) }.map_err(|e| read_error(path, e))
}

/// `rasp.json`: the format and its version are checked before the rest, so
/// that a file from a newer rasp says so rather than failing on a field.
/// Returns the metadata and the file's JSON (for its checksum).
fn read_meta(
    path: &Path,
    bytes: &[u8],
    opts: OpenOptions,
) -> Result<(Meta, serde_json::Value), Diag> {
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
    let causal = json.get("causal") == Some(&serde_json::Value::Bool(true));
    if causal && version.is_some_and(|v| v == 2 || v == 3) {
        return Err(old_version(path, 3));
    }
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
        Some(v) if v == u64::from(UNCHECKED_VERSION) && opts.allow_modified => {}
        Some(v) if v == u64::from(PREFIX_CAUSAL_VERSION) => {}
        Some(v) if v == u64::from(GRIDLESS_VERSION) => {}
        Some(v) if v == u64::from(POSITION_GRID_VERSION) => {}
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
    let meta = Meta::deserialize(&json)
        .map_err(|e| format_error(path, format!("not a valid model description: {e}")))?;
    Ok((meta, json))
}

/// A model written by an older rasp, in a format this one no longer reads.
fn old_version(path: &Path, v: u64) -> Diag {
    let (change, help) = match v {
        1 => (
            " (in version 1 a numerical output had one unembedding column, which TransformerLens's unembedding centring turns into 0; version 2 gives it two, +x and -x)",
            "the model was written by an older rasp: compile the program again (`rasp compile`) to get a current model",
        ),
        3 => (
            " (a causal model of format version 3 or older computes the program on each prefix; version 4's causal models have RASP-L's causal semantics, in which each selector sees the keys at or before its query and `length` is the prefix length)",
            "compile the program again (`rasp compile --causal`) to get a model with the causal semantics `rasp eval --causal` gives",
        ),
        _ => (
            " (version 2 records no checksums, so rasp cannot tell whether its files were edited or half-written)",
            "the model was written by an older rasp: compile the program again (`rasp compile`) to get a current model, or pass --allow-modified to run it as it is, not verified",
        ),
    };
    Diag::error(
        codes::MODEL_FORMAT,
        format!(
            "{}: the model has format version {v}, but this rasp ({}) reads format version {FORMAT_VERSION}{change}",
            path.display(),
            env!("CARGO_PKG_VERSION")
        ),
    )
    .help(help)
}

/// The safetensors crate trusts the tensor offsets in the header when it
/// adds them up; make sure they lie inside the file before it looks.
/// `version`: the format version `rasp.json` declares, which the header's
/// metadata must repeat when it names one.
fn precheck_header(bytes: &[u8], version: u32) -> Result<(), String> {
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
            check_header_metadata(map, version)?;
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
fn check_header_metadata(
    map: &serde_json::Map<String, serde_json::Value>,
    version: u32,
) -> Result<(), String> {
    if let Some(f) = map.get("rasp_format")
        && f.as_str() != Some(FORMAT)
    {
        return Err(format!("rasp_format is {f}, expected {FORMAT:?}"));
    }
    if let Some(v) = map.get("rasp_format_version") {
        match v.as_str().and_then(|v| v.parse::<u32>().ok()) {
            Some(v) if v == version => {}
            _ => {
                return Err(format!(
                    "rasp_format_version is {v}, but rasp.json says format version {version}"
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
