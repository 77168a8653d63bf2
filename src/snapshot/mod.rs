//! `rasp test`: snapshot tests of users' programs.
//!
//! A program declares its tests in comments (`decl.rs`): inputs, which
//! names to show, what to compile. Its snapshot is a text file beside it,
//! `__snapshots__/NAME.snap`: a header (source, inputs, `rasp` version)
//! and a body with every shown value in `rasp run`'s display, each load
//! diagnostic, and for each compile target its layout summary and
//! verification result. A run renders the snapshot afresh and compares the
//! body and the inputs with the file (the version line is informational);
//! a new or different rendering is written beside it as `NAME.snap.new`
//! for review. The CLI (`cli/test_cmd.rs`) decides what is written.
//!
//! `rasp test --causal` evaluates under the causal semantics (RASP-L's)
//! and compiles every target as a causal model; its snapshots are files of
//! their own, `NAME.causal.snap` (header line `semantics: causal`), so a
//! program can have both.

pub mod decl;
pub mod diff;

use std::path::{Path, PathBuf};

use crate::diag::{Diag, SourceMap, codes};
use crate::front::{self, MVal, Session};
use crate::interp::{self, Semantics, display};

/// The folder, beside the programs, that holds their snapshots.
pub const SNAPSHOT_DIR: &str = "__snapshots__";

/// The `.rasp` files under `paths` (files as given, folders searched
/// recursively, skipping hidden folders, `target`, `node_modules` and
/// snapshot folders), sorted, each once.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Diag> {
    collect_as(paths, codes::TEST_PATH)
}

/// [`collect`], an unreadable path reported with `code`.
pub fn collect_as(paths: &[PathBuf], code: &'static str) -> Result<Vec<PathBuf>, Diag> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| {
            Diag::error(code, format!("cannot read {}: {e}", p.display()))
                .help("give .rasp files or folders that hold them")
        })?;
        if meta.is_dir() {
            walk(p, &mut out, code)?;
        } else {
            out.push(p.clone());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, code: &'static str) -> Result<(), Diag> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Diag::error(code, format!("cannot read {}: {e}", dir.display())))?;
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let path = e.path();
        let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if is_dir {
            let skipped = ["target", "node_modules", SNAPSHOT_DIR];
            if !(name.starts_with('.') || skipped.contains(&name.as_ref())) {
                walk(&path, out, code)?;
            }
        } else if name.ends_with(".rasp") {
            out.push(path);
        }
    }
    Ok(())
}

/// Where a program's snapshot under `sem` lives: `NAME.snap`, or
/// `NAME.causal.snap` for the causal one.
pub fn snapshot_path(file: &Path, sem: Semantics) -> PathBuf {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "program".into());
    let ext = match sem {
        Semantics::Bidirectional => "snap",
        Semantics::Causal => "causal.snap",
    };
    file.parent()
        .unwrap_or_else(|| Path::new("."))
        .join(SNAPSHOT_DIR)
        .join(format!("{stem}.{ext}"))
}

/// A pending snapshot's path: `NAME.snap.new` (`NAME.causal.snap.new`).
pub fn pending_path(snapshot: &Path) -> PathBuf {
    let mut s = snapshot.as_os_str().to_owned();
    s.push(".new");
    PathBuf::from(s)
}

/// A rendered snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// `source:`, the program's file name.
    pub source: String,
    /// `inputs:`, the declared inputs as JSON.
    pub inputs: String,
    /// `rasp:`, the version that wrote it.
    pub version: String,
    /// `semantics: causal` for a causal snapshot; a bidirectional one has
    /// no such line (the files written before causal snapshots existed).
    pub semantics: Semantics,
    pub body: String,
}

impl Snapshot {
    /// The file's text.
    pub fn text(&self) -> String {
        let semantics = match self.semantics {
            Semantics::Bidirectional => String::new(),
            Semantics::Causal => format!("semantics: {}\n", self.semantics.name()),
        };
        format!(
            "---\nsource: {}\ninputs: {}\n{semantics}rasp: {}\n---\n{}",
            self.source, self.inputs, self.version, self.body
        )
    }

    /// Read a snapshot file's text (`None` when it is not one).
    pub fn parse(text: &str) -> Option<Snapshot> {
        let rest = text.strip_prefix("---\n")?;
        let (header, body) = rest.split_once("\n---\n")?;
        let mut s = Snapshot {
            source: String::new(),
            inputs: String::new(),
            version: String::new(),
            semantics: Semantics::Bidirectional,
            body: body.to_string(),
        };
        for line in header.lines() {
            let (k, v) = line.split_once(": ").unwrap_or((line, ""));
            match k {
                "source" => s.source = v.to_string(),
                "inputs" => s.inputs = v.to_string(),
                "rasp" => s.version = v.to_string(),
                "semantics" if v == Semantics::Causal.name() => s.semantics = Semantics::Causal,
                "semantics" if v == Semantics::Bidirectional.name() => {}
                "semantics" => return None,
                _ => {}
            }
        }
        Some(s)
    }

    /// Whether two snapshots say the same (the version aside).
    pub fn same(&self, other: &Snapshot) -> bool {
        self.body == other.body
            && self.inputs == other.inputs
            && self.source == other.source
            && self.semantics == other.semantics
    }
}

/// What rendering a program gave.
pub enum Rendered {
    /// The program declares no test.
    NoTests,
    Snapshot(Snapshot),
}

/// Render the snapshot of `file` under `sem` (causal: every value causal,
/// every compile target a causal model). Bad declarations and an
/// unreadable file are errors (every one of them); a program's own errors
/// go into the snapshot, as the values they leave.
pub fn render(file: &Path, sem: Semantics) -> Result<Rendered, Vec<Diag>> {
    let text = front::read_source(file).map_err(|d| vec![d])?;
    let decl_sources = SourceMap::new();
    let id = decl_sources.add(file.display().to_string(), text.as_str());
    let (decls, diags) = decl::parse(&text, id);
    let with_sources = |ds: Vec<Diag>| -> Vec<Diag> {
        ds.into_iter()
            .map(|d| d.with_sources(&decl_sources))
            .collect()
    };
    if !diags.is_empty() {
        return Err(with_sources(diags));
    }
    if decls.is_empty() {
        return Ok(Rendered::NoTests);
    }
    let mut session = Session::new();
    // Before the program runs: its own `sop(input)` calls are evaluations.
    session.settings.semantics = sem;
    let (scope, result) = session.run_path(file).map_err(|d| vec![d])?;
    let named = match &decls.sops {
        None => front::value::named_values(&scope, false),
        Some(names) => {
            let mut found = Vec::new();
            let mut bad = Vec::new();
            for (name, span) in names {
                match front::value::lookup(&scope, name) {
                    Some(MVal::Sop(id) | MVal::Sel(id)) => found.push((name.clone(), id)),
                    other => {
                        let what = other.map_or("not defined".to_string(), |v| {
                            format!("{}, not an s-op or a selector", v.kind_name())
                        });
                        bad.push(
                            Diag::error(
                                codes::TEST_DECLARATION,
                                format!("`# test sops:` names `{name}`, which is {what}"),
                            )
                            .at(*span)
                            .label("in this list"),
                        );
                    }
                }
            }
            if !bad.is_empty() {
                return Err(with_sources(bad));
            }
            found
        }
    };
    let mut body = String::new();
    for d in &result.diags {
        body.push_str(&format!("load: {}\n", one_line(&session.sources, d)));
    }
    for (k, (_, input)) in decls.inputs.iter().enumerate() {
        if k > 0 || !body.is_empty() {
            body.push('\n');
        }
        let outs = interp::evaluate_each(&session.graph, input, &named, session.settings.semantics);
        for ((name, _), res) in named.iter().zip(outs) {
            match res {
                Ok(o) => body.push_str(&display::named_output(name, input, &o)),
                Err(e) => {
                    let d = e.to_diag(&session.graph, &session.sources, input);
                    body.push_str(&format!(
                        "{name}({}) = error[{}]: {}",
                        display::input_repr(input),
                        d.code,
                        d.message
                    ));
                }
            }
            body.push('\n');
        }
    }
    for c in &decls.compiles {
        body.push_str(&compile_section(&session, &scope, file, &text, c));
    }
    let inputs: Vec<String> = decls.inputs.iter().map(|(j, _)| j.to_string()).collect();
    Ok(Rendered::Snapshot(Snapshot {
        source: file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
        inputs: inputs.join(" "),
        version: env!("CARGO_PKG_VERSION").to_string(),
        semantics: sem,
        body,
    }))
}

/// A diagnostic on one line: `error[CODE] at LINE:COL: message`.
fn one_line(sources: &SourceMap, d: &Diag) -> String {
    let kind = if d.is_error() { "error" } else { "warning" };
    let at = d
        .span
        .and_then(|s| sources.line_col(s))
        .map(|(l, c)| format!(" at {l}:{c}"))
        .unwrap_or_default();
    format!("{kind}[{}]{at}: {}", d.code, d.message)
}

/// A compile target's section: the layout summary and the verification
/// result, or why it does not compile. The model is causal when the line
/// says `causal` or the snapshot is the causal one.
fn compile_section(
    session: &Session,
    scope: &front::ScopeRef,
    file: &Path,
    text: &str,
    c: &decl::CompileDecl,
) -> String {
    let is_causal = c.causal || session.settings.semantics.is_causal();
    let causal = if is_causal { ", causal" } else { "" };
    let mut s = format!(
        "\ncompile {} (vocab {}, max_len {}{causal}):\n",
        c.sop, c.vocab_text, c.max_len
    );
    let node = match front::value::lookup(scope, &c.sop) {
        Some(MVal::Sop(id)) => id,
        other => {
            let what = other.map_or("not defined".to_string(), |v| {
                format!("{}, not an s-op", v.kind_name())
            });
            s.push_str(&format!(
                "  error[{}]: `{}` is {what}\n",
                codes::CLI_NOT_SOP,
                c.sop
            ));
            return s;
        }
    };
    let opts = crate::compile::Options {
        vocab: c.vocab.clone(),
        max_len: c.max_len,
        causal: is_causal,
        max_params: c.max_params.unwrap_or(crate::compile::DEFAULT_MAX_PARAMS),
    };
    let source = crate::compile::Source {
        text: text.to_string(),
        file: crate::workflow::source_label(file, None),
        sop: c.sop.clone(),
    };
    let check = crate::compile::Check::Verify {
        samples: crate::compile::DEFAULT_CHECK_SAMPLES,
        seed: 0,
    };
    match crate::workflow::compile(
        &session.graph,
        &session.sources,
        node,
        &opts,
        &source,
        check,
    ) {
        Ok(compiled) => {
            let lines = crate::workflow::summary(&session.graph, &session.sources, node, &compiled);
            for line in lines {
                s.push_str(&format!("  {line}\n"));
            }
        }
        Err(d) => s.push_str(&format!("  {}\n", one_line(&session.sources, &d))),
    }
    s
}

/// How a program's snapshot compares with the one on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// The same.
    Passed,
    /// No snapshot yet.
    New,
    /// Different: the snapshot on disk.
    Changed(Snapshot),
}

/// Compare a rendering with `snapshot` on disk (a file that is not a
/// snapshot counts as different). A snapshot of the other semantics is an
/// error, never overwritten: `NAME.causal.snap` is both the causal
/// snapshot of `NAME.rasp` and the snapshot of a program
/// `NAME.causal.rasp`, and its header says which.
pub fn compare(snapshot: &Path, new: &Snapshot) -> Result<Status, Diag> {
    match crate::fsio::read::read_text(snapshot) {
        Ok(text) => {
            let old = Snapshot::parse(&text).unwrap_or(Snapshot {
                source: String::new(),
                inputs: String::new(),
                version: String::new(),
                semantics: new.semantics,
                body: text,
            });
            if old.semantics != new.semantics {
                return Err(Diag::error(
                    codes::TEST_SNAPSHOT,
                    format!(
                        "{} is the {} snapshot of {}, not the {} one of {}",
                        snapshot.display(),
                        old.semantics.name(),
                        old.source,
                        new.semantics.name(),
                        new.source
                    ),
                )
                .help(
                    "a program NAME.rasp's causal snapshot is __snapshots__/NAME.causal.snap: rename one of the two programs",
                ));
            }
            Ok(if old.same(new) {
                Status::Passed
            } else {
                Status::Changed(old)
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Status::New),
        Err(e) => Err(Diag::error(
            codes::TEST_SNAPSHOT,
            format!("cannot read {}: {e}", snapshot.display()),
        )),
    }
}

/// Write `text` to `path` (creating the snapshot folder), replacing the
/// file atomically; a snapshot that is a symbolic link keeps the link and
/// has its target replaced.
pub fn write(path: &Path, text: &str) -> Result<(), Diag> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            Diag::error(
                codes::TEST_SNAPSHOT,
                format!("cannot create {}: {e}", dir.display()),
            )
        })?;
    }
    crate::fsio::atomic::rewrite_in_place(path, text.as_bytes(), codes::TEST_SNAPSHOT)
}

/// Remove a file if it is there.
pub fn remove(path: &Path) -> Result<(), Diag> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Diag::error(
            codes::TEST_SNAPSHOT,
            format!("cannot remove {}: {e}", path.display()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_text_round_trips() {
        let s = Snapshot {
            source: "a.rasp".into(),
            inputs: "\"hi\" [1,2]".into(),
            version: "0.1.0".into(),
            semantics: Semantics::Bidirectional,
            body: "x(\"hi\") = [1]*2 (ints)\n\n---\nmore\n".into(),
        };
        let back = Snapshot::parse(&s.text()).expect("parses");
        assert_eq!(back, s);
        let newer = Snapshot {
            version: "9.9.9".into(),
            ..s.clone()
        };
        assert!(s.same(&newer));
        let other = Snapshot {
            body: "x".into(),
            ..s.clone()
        };
        assert!(!s.same(&other));
        // A causal snapshot says so in its header, and only it.
        assert!(!s.text().contains("semantics"));
        let causal = Snapshot {
            semantics: Semantics::Causal,
            ..s.clone()
        };
        assert!(
            causal
                .text()
                .contains("\nsemantics: causal\nrasp: 0.1.0\n---\n")
        );
        assert_eq!(Snapshot::parse(&causal.text()), Some(causal.clone()));
        assert!(!s.same(&causal));
        let odd = causal
            .text()
            .replace("semantics: causal", "semantics: sideways");
        assert_eq!(Snapshot::parse(&odd), None);
    }

    #[test]
    fn causal_snapshots_have_their_own_files() {
        let p = Path::new("dir/prog.rasp");
        assert_eq!(
            snapshot_path(p, Semantics::Bidirectional),
            Path::new("dir/__snapshots__/prog.snap")
        );
        let causal = snapshot_path(p, Semantics::Causal);
        assert_eq!(causal, Path::new("dir/__snapshots__/prog.causal.snap"));
        assert_eq!(
            pending_path(&causal),
            Path::new("dir/__snapshots__/prog.causal.snap.new")
        );
    }
}
