//! Writing a model folder: the three files serialised to bytes (the
//! safetensors file by hand, reproducibly), the checksums of those bytes
//! recorded in `rasp.json`, then the folder written whole and swapped in.

use std::path::Path;

use serde::Serialize;

use super::check;
use super::integrity::{self, ALGORITHM, Checksums};
use super::{CONFIG_FILE, META_FILE, MODEL_FILES, WEIGHTS_FILE, tensors};
use crate::diag::{Diag, codes};
use crate::model::{FORMAT, FORMAT_VERSION, Meta, Model};

/// Write `model` to `dir` as `model.safetensors`, `config.json` and
/// `rasp.json`, with the checksums of the three in `rasp.json`, the folder
/// written whole and swapped in ([`crate::fsio::write_folder`]: a reader
/// sees the old model or the new one, never a mix; `dir` must be new,
/// empty, or a model folder). The model is checked first ([`Model::validate`]), so what
/// `save` writes, [`load`](super::load) reads back.
pub fn save(model: &Model, dir: &Path) -> Result<(), Diag> {
    model.validate()?;
    check::check_file_config(&model.config).map_err(|p| {
        Diag::error(
            codes::MODEL_FORMAT,
            format!("invalid model ({}): {}", p.file.name(), p.msg),
        )
        .help("a model file holds a compiled model, whose attention scale is sqrt(d_head)")
    })?;
    let weights = safetensors_bytes(
        &tensors(model),
        &[
            ("format", "pt".to_string()),
            ("rasp_version", model.meta.rasp_version.clone()),
            ("rasp_format", FORMAT.to_string()),
            ("rasp_format_version", FORMAT_VERSION.to_string()),
        ],
    );
    let config = serde_json::to_string_pretty(&model.config)
        .map_err(|e| internal(format!("cannot serialise the config: {e}")))?;
    let config = format!("{config}\n");
    let meta = meta_text(&model.meta, &weights, config.as_bytes())?;

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
fn safetensors_bytes(
    tensors: &[(String, ndarray::ArrayViewD<'_, f32>)],
    metadata: &[(&str, String)],
) -> Vec<u8> {
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
    for (name, view) in tensors {
        let len = view.len() * 4;
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": "F32", "shape": view.shape(), "data_offsets": [at, at + len]}),
        );
        at += len;
    }
    let mut text = serde_json::Value::Object(header).to_string().into_bytes();
    text.resize(text.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + text.len() + at);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    // Little-endian floats, four bytes each, in row-major order, written
    // straight into the file's bytes (a loop over fixed chunks, which
    // compiles to plain copies; over the slice of a standard-layout
    // tensor, not ndarray's element iterator).
    for (_, view) in tensors {
        let start = out.len();
        out.resize(start + view.len() * 4, 0);
        let dst = out[start..].chunks_exact_mut(4);
        match view.as_slice() {
            Some(xs) => {
                for (b, x) in dst.zip(xs) {
                    b.copy_from_slice(&x.to_le_bytes());
                }
            }
            None => {
                for (b, x) in dst.zip(view.iter()) {
                    b.copy_from_slice(&x.to_le_bytes());
                }
            }
        }
    }
    out
}

/// `rasp.json` as written: the metadata's fields, then `checksums`.
#[derive(Serialize)]
struct MetaFile<'a> {
    #[serde(flatten)]
    meta: &'a Meta,
    checksums: &'a Checksums,
}

/// The text of `rasp.json`, with the checksums of the weights' and the
/// config's bytes, and of its own fields. Each checksum is computed from
/// the JSON as it will be read back (numbers as written, not as held in
/// memory: an f32 coefficient is written in its shortest form).
fn meta_text(meta: &Meta, weights: &[u8], config: &[u8]) -> Result<String, Diag> {
    let config_json: serde_json::Value = serde_json::from_slice(config)
        .map_err(|e| internal(format!("cannot read the config back: {e}")))?;
    let mut sums = Checksums {
        algorithm: ALGORITHM.to_string(),
        weights: integrity::hash(weights),
        config: integrity::config_sum(&config_json),
        meta: String::new(),
    };
    let pretty = |sums: &Checksums| {
        serde_json::to_string_pretty(&MetaFile {
            meta,
            checksums: sums,
        })
        .map_err(|e| internal(format!("cannot serialise the metadata: {e}")))
    };
    let draft: serde_json::Value = serde_json::from_str(&pretty(&sums)?)
        .map_err(|e| internal(format!("cannot read the metadata back: {e}")))?;
    sums.meta = integrity::meta_sum(&draft);
    Ok(format!("{}\n", pretty(&sums)?))
}

fn internal(msg: String) -> Diag {
    Diag::error(codes::MODEL_FORMAT, msg)
        .help("this is a bug in rasp: the model passed its checks but could not be written")
}
