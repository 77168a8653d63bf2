//! One open document, analysed: parsed, its names
//! indexed (`syntax::names`), and run by the front end as `rasp check`
//! runs a file (every diagnostic; the values of its names, for hovers and
//! code lenses). Names that the document does not define are looked up in
//! the files it loads and in the library.

use std::path::{Path, PathBuf};

use crate::diag::{Diag, FileId, Span};
use crate::front::{self, MVal, ScopeRef, Session};
use crate::syntax::{self, names};

use super::convert::LineIndex;

/// A definition somewhere: in the document, a loaded file or the library.
pub struct Found {
    /// The file, when it is not the document itself.
    pub path: Option<PathBuf>,
    /// Its text (to convert the span).
    pub text: String,
    pub def: names::Def,
}

pub struct Analysis {
    pub text: String,
    pub lines: LineIndex,
    /// The document's file, when it is one (`load` resolves next to it).
    pub path: Option<PathBuf>,
    pub index: names::Index,
    pub session: Session,
    pub scope: ScopeRef,
    /// The document's id in `session.sources`.
    pub file: FileId,
    /// Everything loading it reported.
    pub diags: Vec<Diag>,
}

impl Analysis {
    pub fn new(text: String, path: Option<PathBuf>, name: &str) -> Analysis {
        let mut session = Session::new();
        let scope = session.new_scope();
        let dir = path.as_deref().and_then(Path::parent).map(Path::to_path_buf);
        let file = session.sources.len() as FileId;
        let result = session.run_source(name, &text, &scope, dir.as_deref());
        let parsed = syntax::parse_file(&text, file);
        let index = names::resolve(&parsed.stmts, Span::new(file, 0, text.len()));
        Analysis {
            lines: LineIndex::new(&text),
            text,
            path,
            index,
            session,
            scope,
            file,
            diags: result.diags,
        }
    }

    fn dir(&self) -> Option<&Path> {
        self.path.as_deref().and_then(Path::parent)
    }

    /// The definition a name at `offset` refers to: in the document, else
    /// in a file loaded before it, else in the library.
    pub fn definition(&self, offset: u32) -> Option<Found> {
        let (name, def) = match self.index.at(offset)? {
            names::Target::Def(i) => (self.index.defs[i].name.clone(), Some(i)),
            names::Target::Use(u) => {
                let u = &self.index.uses[u];
                (u.name.clone(), u.def)
            }
        };
        if let Some(i) = def {
            return Some(Found {
                path: None,
                text: self.text.clone(),
                def: self.index.defs[i].clone(),
            });
        }
        let loads: Vec<&names::Load> = self
            .index
            .loads
            .iter()
            .filter(|l| l.span.start < offset)
            .collect();
        for load in loads.iter().rev() {
            if let Some(found) = exported(&load.path, self.dir(), &name, 0) {
                return Some(found);
            }
        }
        library_def(&name)
    }

    /// The value a top-level name has once the document has run.
    pub fn value(&self, name: &str) -> Option<MVal> {
        front::value::lookup(&self.scope, name)
    }
}

/// The definition of `name` that loading `path` (from `dir`) brings in:
/// the file's own public top-level definition, or one it loads in turn.
pub fn exported(path: &str, dir: Option<&Path>, name: &str, depth: usize) -> Option<Found> {
    if depth > 16 || name.starts_with('_') {
        return None;
    }
    let file = front::load_path(path, dir).ok()?;
    let text = std::fs::read_to_string(&file).ok()?;
    let parsed = syntax::parse_file(&text, 0);
    let index = names::resolve(&parsed.stmts, Span::new(0, 0, text.len()));
    if let Some(&i) = index
        .exports()
        .iter()
        .find(|&&i| index.defs[i].name == name)
    {
        return Some(Found {
            path: Some(file.canonicalize().unwrap_or(file)),
            text,
            def: index.defs[i].clone(),
        });
    }
    let sub = file.parent().map(Path::to_path_buf);
    index
        .loads
        .iter()
        .rev()
        .find_map(|l| exported(&l.path, sub.as_deref(), name, depth + 1))
}

/// A library (prelude) definition, in a copy of the prelude written to the
/// user's cache so that editors can open it.
fn library_def(name: &str) -> Option<Found> {
    let text = front::PRELUDE;
    let parsed = syntax::parse_file(text, 0);
    let index = names::resolve(&parsed.stmts, Span::new(0, 0, text.len()));
    let i = *index
        .exports()
        .iter()
        .find(|&&i| index.defs[i].name == name)?;
    Some(Found {
        path: Some(prelude_file()?),
        text: text.to_string(),
        def: index.defs[i].clone(),
    })
}

/// `stdlib/prelude.rasp` as this binary embeds it, written (once per
/// version) under the cache directory.
pub fn prelude_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    let dir = base
        .join("rasp")
        .join(format!("stdlib-{}", env!("CARGO_PKG_VERSION")));
    let file = dir.join("prelude.rasp");
    if std::fs::read_to_string(&file).ok().as_deref() != Some(front::PRELUDE) {
        std::fs::create_dir_all(&dir).ok()?;
        std::fs::write(&file, front::PRELUDE).ok()?;
    }
    Some(file)
}
