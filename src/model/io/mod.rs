//! Model files. A model directory holds three files:
//!
//! - `model.safetensors`: the weights, f32, under TransformerLens
//!   (HookedTransformer) names and shapes, with short strings only in
//!   `__metadata__` (`format` = "pt", `rasp_version`, `rasp_format`,
//!   `rasp_format_version`);
//! - `config.json`: the [`Config`], fields both TransformerLens 3 and 4
//!   accept;
//! - `rasp.json`: the [`Meta`] (vocab, BOS/PAD ids, placements, ...) and
//!   the checksums of the three files.
//!
//! `docs/model-format.md` documents the three files for their users. By
//! concern: `save.rs` writes them, `open.rs` reads and maps them,
//! `check.rs` holds the consistency checks (shared with
//! [`Model::validate`]), `integrity.rs` the checksums.
//!
//! [`open`] checks everything it reads (presence, JSON, the safetensors
//! header, dtypes, shapes, config/meta consistency, finite weights, the
//! checksums) and reports any problem as a diagnostic naming the file; no
//! file content makes it panic.

mod check;
pub mod integrity;
mod open;
mod save;

use std::path::Path;

use ndarray::ArrayViewD;

// `Checksums` and `open` serve the tests and benches (the `internals`
// view) only.
#[allow(unused_imports)]
pub use integrity::{Checksums, Integrity};
#[allow(unused_imports)]
pub use open::{ModelFile, OpenOptions, open, open_with};
pub use save::save;

use super::{Config, Model};
use crate::diag::{Diag, codes};

/// The weights file in a model directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The TransformerLens config file in a model directory.
pub const CONFIG_FILE: &str = "config.json";
/// The rasp metadata file in a model directory.
pub const META_FILE: &str = "rasp.json";
/// The files of a model folder; a folder holding anything else is never
/// replaced by [`save`].
pub const MODEL_FILES: [&str; 3] = [WEIGHTS_FILE, CONFIG_FILE, META_FILE];

const HELP_RECOMPILE: &str = "the model files are damaged or were edited by hand; compile the program again to get a fresh model";
const HELP_DIR: &str = "a model directory holds model.safetensors, config.json and rasp.json, as the compiler writes them";

/// Read the model in `dir` (as [`save`] writes it), checking every file,
/// into memory ([`open`], then a copy of every tensor).
pub fn load(dir: &Path) -> Result<Model, Diag> {
    load_with(dir, OpenOptions::default())
}

/// [`load`], as `opts` says.
pub fn load_with(dir: &Path, opts: OpenOptions) -> Result<Model, Diag> {
    let file = open_with(dir, opts)?;
    let model = file.to_model();
    model.validate()?;
    Ok(model)
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

/// Read the model file `name` of the opened folder (`path` names it in
/// messages).
fn read(folder: &crate::fsio::read::Folder, name: &str, path: &Path) -> Result<Vec<u8>, Diag> {
    folder.read(name).map_err(|e| read_error(path, e))
}

fn format_error(path: &Path, msg: impl std::fmt::Display) -> Diag {
    Diag::error(codes::MODEL_FORMAT, format!("{}: {msg}", path.display())).help(HELP_RECOMPILE)
}

/// The TransformerLens name of every tensor, in file order (as [`tensors`]).
fn tensor_names(c: &Config) -> Vec<String> {
    let mut out = vec!["embed.W_E".to_string(), "pos_embed.W_pos".to_string()];
    for l in 0..c.n_layers {
        for n in ["W_Q", "b_Q", "W_K", "b_K", "W_V", "b_V", "W_O", "b_O"] {
            out.push(format!("blocks.{l}.attn.{n}"));
        }
        for n in ["W_in", "b_in", "W_out", "b_out"] {
            out.push(format!("blocks.{l}.mlp.{n}"));
        }
    }
    out.push("unembed.W_U".to_string());
    out.push("unembed.b_U".to_string());
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
