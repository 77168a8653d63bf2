//! The model steps, orchestrated once: compile (and verify before handing
//! out), verify on a chosen executor, save, explain. The CLI (`rasp
//! compile|verify|explain`), the REPL (`:compile`, `:verify`, `:explain`),
//! `rasp test` snapshots and the library API call these and differ only in
//! how they print what comes back: lines of text for stdout, notes for
//! stderr, diagnostics.

use std::path::Path;

use crate::compile::{self, Check, Compiled, Options, Source, verify};
use crate::diag::{Diag, SourceMap};
use crate::gpu::backend::Backend;
use crate::ir::{Graph, NodeId};

/// How `rasp.json` names the program's file: relative to the model folder
/// `dir` where both can be resolved (`../prog.rasp`), else by its file
/// name alone, never by an absolute path (which would record the
/// compiling machine's layout and go stale when the two move together).
pub fn source_label(file: &Path, dir: Option<&Path>) -> String {
    let name = || {
        file.file_name().map_or_else(
            || file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    let Some(dir) = dir else {
        return name();
    };
    let Ok(file) = file.canonicalize() else {
        return name();
    };
    // The folder may not exist yet: resolve its parent.
    let folder = dir.canonicalize().ok().or_else(|| {
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        Some(parent.canonicalize().ok()?.join(dir.file_name()?))
    });
    let Some(folder) = folder else {
        return name();
    };
    let (f, d): (Vec<_>, Vec<_>) = (file.components().collect(), folder.components().collect());
    let common = f.iter().zip(&d).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return name();
    }
    let mut rel = std::path::PathBuf::new();
    for _ in common..d.len() {
        rel.push("..");
    }
    for c in &f[common..] {
        rel.push(c);
    }
    // `/` on every system: the label is data, read anywhere.
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

/// Compile `node` for `opts`, checked as `check` says: the one way a model
/// is made (see [`compile::build`]: nothing that disagrees with the
/// interpreter is handed out).
pub fn compile(
    graph: &Graph,
    sources: &SourceMap,
    node: NodeId,
    opts: &Options,
    source: &Source,
    check: Check,
) -> Result<Compiled, Diag> {
    compile::build(graph, sources, node, opts, source, check)
}

/// What a compiled model is: its size line, then what was verified, and
/// for a causal model how many s-ops differ from their bidirectional
/// values (as [`save`] says it).
pub fn summary(
    graph: &Graph,
    sources: &SourceMap,
    node: NodeId,
    compiled: &Compiled,
) -> Vec<String> {
    let mut lines = vec![compile::explain::size_line(&compiled.model)];
    lines.extend(verified_lines(compiled));
    if compiled.model.meta.causal {
        lines.extend(causal_line(graph, sources, node, compiled));
    }
    lines
}

/// What [`compile`] verified, or that it did not.
fn verified_lines(compiled: &Compiled) -> Vec<String> {
    match &compiled.verified {
        Some(r) => r
            .render(compiled.model.meta.max_len)
            .lines()
            .map(str::to_string)
            .collect(),
        None => vec!["not verified (--no-verify)".to_string()],
    }
}

/// Write the model to `dir`; the lines to show: where it went and its
/// size, what was verified, and for a causal model how many s-ops differ
/// from their bidirectional values.
pub fn save(
    graph: &Graph,
    sources: &SourceMap,
    node: NodeId,
    compiled: &Compiled,
    dir: &Path,
) -> Result<Vec<String>, Diag> {
    crate::model::io::save(&compiled.model, dir)?;
    let mut lines = vec![format!(
        "wrote {}: {}",
        dir.display(),
        compile::explain::size_line(&compiled.model)
    )];
    lines.extend(verified_lines(compiled));
    if compiled.model.meta.causal {
        lines.extend(causal_line(graph, sources, node, compiled));
    }
    Ok(lines)
}

/// A verification on an executor: the report and the notes to show apart
/// (a backend's fallback, the device with `info`).
pub struct Verification {
    pub report: verify::Report,
    pub notes: Vec<String>,
}

impl Verification {
    /// The report as lines.
    pub fn lines(&self) -> Vec<String> {
        self.report
            .render(self.report.max_len)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Whether the model passed: an error for a mismatch (the report shows
    /// it) or a vacuous check.
    pub fn outcome(&self, graph: &Graph, node: NodeId) -> Result<(), Diag> {
        self.report.require_sound(graph, node)
    }
}

/// Check a compiled model against the interpreter on `backend` (every
/// input, samples or both, as `mode` says).
pub fn verify(
    graph: &Graph,
    sources: &SourceMap,
    compiled: &Compiled,
    node: NodeId,
    mode: verify::Mode,
    backend: Backend,
    info: bool,
) -> Result<Verification, Diag> {
    let model = &compiled.model;
    let (exec, note) = crate::gpu::backend::executor(&model.weights(), &model.meta, backend)?;
    let mut notes: Vec<String> = note.into_iter().collect();
    if info {
        notes.push(format!("device: {}", exec.info()));
    }
    let report = verify::verify_with(graph, sources, compiled, node, mode, exec.as_ref())?;
    Ok(Verification { report, notes })
}

/// The explanation of a compiled model (`rasp explain`, `:explain`):
/// layers, heads, MLPs, residual, where each s-op lives; with `margins`,
/// each head's and MLP's smallest margin; for a causal model, the s-ops
/// whose causal values differ from their bidirectional ones.
pub fn explain(
    graph: &Graph,
    sources: &SourceMap,
    node: NodeId,
    compiled: &Compiled,
    margins: bool,
) -> String {
    let extras = compile::explain::Extras {
        margins,
        causal: compiled
            .model
            .meta
            .causal
            .then(|| causal_check(graph, node, compiled)),
    };
    compile::explain::explain(graph, sources, compiled, &extras)
}

/// The s-ops whose causal values differ from their bidirectional ones, on
/// the model's vocabulary and lengths.
fn causal_check(
    graph: &Graph,
    node: NodeId,
    compiled: &Compiled,
) -> (Vec<compile::verify::CausalDifference>, usize) {
    let meta = &compiled.model.meta;
    compile::causal_check(graph, node, &meta.vocab_values(), meta.max_len)
}

/// For a causal model: how many s-ops differ from their bidirectional
/// values (the first line of what `explain` says of it).
fn causal_line(
    graph: &Graph,
    sources: &SourceMap,
    node: NodeId,
    compiled: &Compiled,
) -> Option<String> {
    let (diffs, checked) = causal_check(graph, node, compiled);
    if diffs.is_empty() {
        let text = compile::explain::causal_lines(graph, sources, &diffs, checked);
        return text.lines().next().map(str::to_string);
    }
    const SHOWN: usize = 5;
    let mut names: Vec<String> = diffs
        .iter()
        .take(SHOWN)
        .map(|d| format!("`{}`", crate::interp::node_title(graph, sources, d.node)))
        .collect();
    if diffs.len() > SHOWN {
        names.push(format!("and {} more", diffs.len() - SHOWN));
    }
    Some(format!(
        "causal: {} s-op(s) differ from their bidirectional values: {} (witnesses: `rasp explain --causal`)",
        diffs.len(),
        names.join(", ")
    ))
}
