//! The consistency checks of a model, one set of rules for what [`save`]
//! writes, what [`open`] reads and what [`Model::validate`] accepts: the
//! config as the compiler writes it (no layer norm, ReLU, the attention
//! scale its weights were compiled for), the metadata against the config
//! (vocab and ids, lengths, layout, every placement's dims, values, layer
//! and heads), and the weights (finite; `attn_only` only where no MLP
//! weight would be skipped). A model that passes runs without panicking
//! and decodes as `docs/model-format.md` says.
//!
//! [`save`]: super::save
//! [`open`]: super::open

use std::borrow::Cow;

use rayon::prelude::*;

use super::{CONFIG_FILE, META_FILE, expected_shapes, tensors};
use crate::diag::{Diag, codes};
use crate::ir::value::{Value, value_order};
use crate::model::codec::value_from_json;
use crate::model::{
    Config, Encoding, FORMAT, FORMAT_VERSION, Meta, Model, Placement, output_width,
};

/// Which file a consistency problem is in.
#[derive(Clone, Copy, Debug)]
pub(super) enum File {
    Config,
    Meta,
}

impl File {
    pub(super) fn name(self) -> &'static str {
        match self {
            File::Config => CONFIG_FILE,
            File::Meta => META_FILE,
        }
    }
}

/// A consistency problem: the file it is in and what is wrong.
pub(super) struct Problem {
    pub(super) file: File,
    pub(super) msg: String,
}

pub(super) fn config_problem(msg: String) -> Problem {
    Problem {
        file: File::Config,
        msg,
    }
}

pub(super) fn meta_problem(msg: String) -> Problem {
    Problem {
        file: File::Meta,
        msg,
    }
}

/// The attention scale the compiler writes for heads of width `d_head`
/// (`W_Q` is multiplied by it, so that dividing the scores by it gives the
/// compiled scores back), as `config.json` holds it.
fn compiled_attn_scale(d_head: usize) -> f64 {
    f64::from(crate::model::attn_scale(d_head))
}

pub(super) fn check_config(c: &Config) -> Result<(), Problem> {
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

/// The rule for model files (what [`save`](super::save) writes and
/// [`open`](super::open) reads), on top of [`check_config`]: the attention
/// scale is the one the weights were compiled for. (A model built in
/// memory, by hand, may divide its scores by anything.)
///
/// Compiled attention is hard: the scores of selected keys tie exactly and
/// the others are at least 60 below, so every executor computes the same
/// weights (0, or an exact share) whatever the rounding of its division
/// and exp. The weights are compiled for one scale, `sqrt(d_head)`; a
/// larger one softens the scores into weights that depend on those
/// roundings (the CPU and a GPU then disagree, and both are wrong), a
/// smaller one can overflow them (and a GPU's division is not even
/// specified past 2^126).
pub(super) fn check_file_config(c: &Config) -> Result<(), Problem> {
    if c.use_attn_scale && c.attn_scale != compiled_attn_scale(c.d_head) {
        return Err(config_problem(format!(
            "attn_scale is {}, but the weights are compiled for sqrt(d_head) = {} (d_head is {}); another scale turns the hard attention soft or overflows it",
            c.attn_scale,
            compiled_attn_scale(c.d_head),
            c.d_head
        )));
    }
    Ok(())
}

/// One `layout` entry: heads and MLP units a layer uses (`"A2 M40"`,
/// `"A1"`, `"M9"`, or empty).
fn parse_layout(entry: &str) -> Option<(usize, usize)> {
    if entry.is_empty() {
        return Some((0, 0));
    }
    let (mut heads, mut units) = (None, None);
    for part in entry.split(' ') {
        let (kind, n) = part.split_at_checked(1)?;
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: usize = n.parse().ok()?;
        match kind {
            "A" if heads.is_none() && units.is_none() => heads = Some(n),
            "M" if units.is_none() => units = Some(n),
            _ => return None,
        }
    }
    Some((heads.unwrap_or(0), units.unwrap_or(0)))
}

pub(super) fn check_meta(c: &Config, m: &Meta) -> Result<(), Problem> {
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
    if m.bos_id != m.vocab.len() {
        // Swapped: the embedding rows of BOS and PAD would trade places.
        return bad(format!(
            "bos_id is {} and pad_id {}, but BOS is the id after the vocabulary ({}) and PAD the one after it",
            m.bos_id,
            m.pad_id,
            m.vocab.len()
        ));
    }
    if m.max_len.checked_add(1) != Some(c.n_ctx) {
        return bad(format!(
            "max_len is {}, but config.json has n_ctx {} (max_len + 1 positions, for BOS)",
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
    let mut layout = Vec::with_capacity(m.layout.len());
    for (l, entry) in m.layout.iter().enumerate() {
        let Some((heads, units)) = parse_layout(entry) else {
            return bad(format!(
                "layout entry {l} is {entry:?}; expected heads and MLP units such as \"A2 M40\", \"A1\" or \"M9\""
            ));
        };
        if heads > c.n_heads || units > c.d_mlp {
            return bad(format!(
                "layout entry {l} is {entry:?}, but a layer has {} heads and {} MLP units",
                c.n_heads, c.d_mlp
            ));
        }
        if c.attn_only && units > 0 {
            return Err(config_problem(format!(
                "attn_only is true, but layer {l} uses {units} MLP units (layout {entry:?}): they would be skipped"
            )));
        }
        layout.push(heads);
    }
    check_placement(c, &layout, &m.output).map_err(|msg| meta_problem(format!("output: {msg}")))?;
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
        check_placement(c, &layout, p)
            .map_err(|msg| meta_problem(format!("s-op {}: {msg}", p.name)))?;
    }
    if let Some(grid) = &m.output_grid {
        if m.output.encoding != Encoding::Numerical {
            return bad("output_grid is given for a categorical output".to_string());
        }
        grid.check(m.max_len).map_err(meta_problem)?;
    }
    Ok(())
}

/// `layout[l]`: the heads layer `l` uses.
fn check_placement(c: &Config, layout: &[usize], p: &Placement) -> Result<(), String> {
    if let Some(d) = p.dims.iter().find(|&&d| d >= c.d_model) {
        return Err(format!(
            "dim {d} is out of range (d_model is {})",
            c.d_model
        ));
    }
    if let Some(d) = first_repeat(&p.dims) {
        return Err(format!("dim {d} is listed twice"));
    }
    let mut atoms = Vec::with_capacity(p.values.len());
    for v in &p.values {
        match value_from_json(v) {
            Some(a) => atoms.push(a),
            None => return Err(format!("value {v} is not a bool, int, float or string")),
        }
    }
    // The compiler lists values in one order (bools, numbers by value with
    // an int before an equal float, strings); decoding picks the first of
    // equal numbers, so an unsorted or relabelled-out-of-order list would
    // decode differently.
    for (i, w) in atoms.windows(2).enumerate() {
        if value_order(&w[0], &w[1]).is_gt() {
            return Err(format!(
                "values are not in order: {} before {} (values are listed bools first, then numbers in increasing order, then strings)",
                p.values[i],
                p.values[i + 1]
            ));
        }
        if w[0].same(&w[1]) {
            return Err(format!("value {} is listed twice", p.values[i]));
        }
    }
    match p.encoding {
        Encoding::Categorical if p.values.len() != p.dims.len() => Err(format!(
            "categorical with {} dims but {} values",
            p.dims.len(),
            p.values.len()
        )),
        Encoding::Categorical if p.dims.is_empty() => Err("categorical with no dims".to_string()),
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
    if p.encoding == Encoding::Numerical
        && let Some(v) = atoms.iter().find(|a| matches!(a, Value::Str(_)))
    {
        return Err(format!("numerical, but value {} is a string", v.repr()));
    }
    if !p.coefs.is_empty() && p.encoding == Encoding::Categorical {
        return Err("categorical, but has coefficients".to_string());
    }
    if let Some(x) = p.coefs.iter().find(|x| !x.is_finite()) {
        return Err(format!("coefficient {x} is not a finite number"));
    }
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
    if let Some(h) = first_repeat(&p.heads) {
        return Err(format!("head {h} is listed twice"));
    }
    if p.sublayer == "attn"
        && let Some(l) = p.layer
    {
        // An attention sublayer's own output is one head's: the head that
        // decoding asks whether it averaged (a combination of dims, with
        // `coefs`, may have none).
        if p.coefs.is_empty() && p.heads.len() != 1 {
            return Err(format!(
                "written by attention in layer {l}, but lists {} heads (expected the one head that computes it)",
                p.heads.len()
            ));
        }
        let used = layout.get(l).copied().unwrap_or(0);
        if let Some(h) = p.heads.iter().find(|&&h| h >= used) {
            return Err(format!(
                "head {h} of layer {l}, but the layout says layer {l} uses {used} head(s)"
            ));
        }
    }
    if let Some(cl) = p.cleared_in
        && (cl >= c.n_layers || p.layer.is_some_and(|l| cl < l))
    {
        return Err(format!(
            "cleared_in is {cl}, but it must be a layer from the one that writes it ({}) to the last ({})",
            p.layer.unwrap_or(0),
            c.n_layers.saturating_sub(1)
        ));
    }
    Ok(())
}

fn first_repeat(xs: &[usize]) -> Option<usize> {
    let mut seen = std::collections::HashSet::new();
    xs.iter().copied().find(|x| !seen.insert(*x))
}

/// The checks on the weights themselves, given every tensor by name (in
/// [`tensors`] order): every value finite, and, when `attn_only`, every
/// MLP weight zero (else the executors would skip weights that are there).
pub(super) fn check_weights(c: &Config, tensors: &[(String, &[f32])]) -> Result<(), WeightProblem> {
    let bad = tensors.par_iter().find_map_first(|(name, t)| {
        let chunk = t
            .chunks(256)
            .position(|c| !c.iter().fold(true, |ok, x| ok & x.is_finite()))?;
        let i = chunk * 256 + t[chunk * 256..].iter().position(|x| !x.is_finite())?;
        Some((name, i, t[i]))
    });
    if let Some((name, i, x)) = bad {
        return Err(WeightProblem::NonFinite(format!(
            "the tensor `{name}` holds {x} at flat index {i}"
        )));
    }
    if c.attn_only
        && let Some((name, _)) = tensors
            .iter()
            .find(|(name, t)| name.contains(".mlp.") && t.iter().any(|x| *x != 0.0))
    {
        return Err(WeightProblem::Config(format!(
            "attn_only is true, but the tensor `{name}` has non-zero weights, which it would skip"
        )));
    }
    Ok(())
}

/// What [`check_weights`] found.
pub(super) enum WeightProblem {
    /// In the weights file.
    NonFinite(String),
    /// In `config.json`, against the weights.
    Config(String),
}

impl Model {
    /// Check that the weights' shapes match the config, that the config
    /// and the metadata agree and that every weight is finite (the checks
    /// [`load`](super::load) makes, checksums aside). [`save`](super::save)
    /// and [`Model::run`] call it; a model that passes runs without
    /// panicking.
    pub fn validate(&self) -> Result<(), Diag> {
        let diag = |file: &str, msg: String| {
            Diag::error(
                codes::MODEL_FORMAT,
                format!("invalid model ({file}): {msg}"),
            )
            .help("the model's config, metadata and weights do not agree")
        };
        let problem = |p: Problem| diag(p.file.name(), p.msg);
        check_config(&self.config).map_err(problem)?;
        check_meta(&self.config, &self.meta).map_err(problem)?;
        if self.blocks.len() != self.config.n_layers {
            return Err(problem(config_problem(format!(
                "n_layers is {}, but the model has {} blocks",
                self.config.n_layers,
                self.blocks.len()
            ))));
        }
        let all = tensors(self);
        for ((name, view), shape) in all.iter().zip(expected_shapes(&self.config)) {
            if view.shape() != shape.as_slice() {
                return Err(problem(config_problem(format!(
                    "the tensor `{name}` has shape {:?}, but the config implies {shape:?}",
                    view.shape()
                ))));
            }
        }
        let flat: Vec<(String, Cow<'_, [f32]>)> = all
            .into_iter()
            .map(|(name, view)| {
                let data = match view.to_slice() {
                    Some(s) => Cow::Borrowed(s),
                    None => Cow::Owned(view.iter().copied().collect()),
                };
                (name, data)
            })
            .collect();
        let flat: Vec<(String, &[f32])> = flat.iter().map(|(n, d)| (n.clone(), &d[..])).collect();
        check_weights(&self.config, &flat).map_err(|p| match p {
            WeightProblem::NonFinite(msg) => diag("weights", msg),
            WeightProblem::Config(msg) => diag(CONFIG_FILE, msg),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_entries() {
        assert_eq!(parse_layout("A2 M40"), Some((2, 40)));
        assert_eq!(parse_layout("A1"), Some((1, 0)));
        assert_eq!(parse_layout("M9"), Some((0, 9)));
        assert_eq!(parse_layout(""), Some((0, 0)));
        for bad in [" ", "M1 A1", "A", "A1  M2", "a1", "A1 A2", "A-1", "A1 M2 X"] {
            assert_eq!(parse_layout(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_compiled_scale() {
        assert_eq!(compiled_attn_scale(1), 1.0);
        assert_eq!(compiled_attn_scale(7), f64::from(7f32.sqrt()));
    }
}
