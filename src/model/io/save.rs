//! Writing a model folder: the three files serialised to bytes, the
//! checksums of those bytes recorded in `rasp.json`, then the writes.

use std::collections::HashMap;
use std::path::Path;

use safetensors::{Dtype, tensor::TensorView};
use serde::Serialize;

use super::check;
use super::integrity::{self, ALGORITHM, Checksums};
use super::{CONFIG_FILE, META_FILE, WEIGHTS_FILE, tensors};
use crate::diag::{Diag, codes};
use crate::model::{FORMAT, FORMAT_VERSION, Meta, Model};

/// Write `model` to `dir` (created if needed) as `model.safetensors`,
/// `config.json` and `rasp.json`, with the checksums of the three in
/// `rasp.json`. The model is checked first ([`Model::validate`]), so what
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
    std::fs::create_dir_all(dir).map_err(|e| {
        Diag::error(
            codes::MODEL_IO,
            format!("cannot create the model directory {}: {e}", dir.display()),
        )
        .help("check that the path is writable and is not a file")
    })?;

    let data: Vec<(String, Vec<usize>, Vec<u8>)> = tensors(model)
        .into_iter()
        .map(|(name, view)| {
            let bytes = view.iter().flat_map(|x| x.to_le_bytes()).collect();
            (name, view.shape().to_vec(), bytes)
        })
        .collect();
    let mut views = Vec::with_capacity(data.len());
    for (name, shape, bytes) in &data {
        let view = TensorView::new(Dtype::F32, shape.clone(), bytes)
            .map_err(|e| internal(format!("tensor `{name}`: {e}")))?;
        views.push((name.as_str(), view));
    }
    let header = HashMap::from([
        ("format".to_string(), "pt".to_string()),
        ("rasp_version".to_string(), model.meta.rasp_version.clone()),
        ("rasp_format".to_string(), FORMAT.to_string()),
        (
            "rasp_format_version".to_string(),
            FORMAT_VERSION.to_string(),
        ),
    ]);
    let weights = safetensors::serialize(views, Some(header))
        .map_err(|e| internal(format!("cannot serialise the weights: {e}")))?;
    let config = serde_json::to_string_pretty(&model.config)
        .map_err(|e| internal(format!("cannot serialise the config: {e}")))?;
    let config = format!("{config}\n");
    let meta = meta_text(&model.meta, &weights, config.as_bytes())?;

    write(&dir.join(WEIGHTS_FILE), &weights)?;
    write(&dir.join(CONFIG_FILE), config.as_bytes())?;
    write(&dir.join(META_FILE), meta.as_bytes())?;
    Ok(())
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

fn write(path: &Path, bytes: &[u8]) -> Result<(), Diag> {
    std::fs::write(path, bytes).map_err(|e| {
        Diag::error(
            codes::MODEL_IO,
            format!("cannot write {}: {e}", path.display()),
        )
        .help("check that the directory is writable and the disk is not full")
    })
}
