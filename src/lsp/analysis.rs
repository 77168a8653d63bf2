//! One open document, analysed: parsed, its names
//! indexed (`syntax::names`), and run by the front end as `rasp check`
//! runs a file (every diagnostic; the values of its names, for hovers and
//! code lenses). Names that the document does not define are looked up in
//! the files it loads and in the library. Parsing and indexing are linear
//! in the text; the run (loads and "did you mean" included) stops at the
//! time limit.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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
    /// Analyse a document's text. `interrupt` stops its run early (the
    /// server raises it to cancel the analysis); the run is interrupted
    /// after [`RUN_SECONDS`] in any case.
    pub fn new(
        text: String,
        path: Option<PathBuf>,
        name: &str,
        interrupt: Arc<AtomicBool>,
    ) -> Analysis {
        let mut session = Session::new();
        session.interrupt = interrupt;
        let scope = session.new_scope();
        let dir = path
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf);
        let file = session.sources.len() as FileId;
        let flag = session.interrupt.clone();
        let result = with_deadline(&flag, RUN_SECONDS, || {
            session.run_source(name, &text, &scope, dir.as_deref())
        });
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

    /// The definition a name at `offset` refers to: in the document, or
    /// in a file loaded after that definition and before the use (a `load`
    /// binds what the loaded file exports), else in the library.
    pub fn definition(&self, offset: u32) -> Option<Found> {
        let (name, def, at) = match self.index.at(offset)? {
            names::Target::Def(i) => (self.index.defs[i].name.clone(), Some(i), None),
            names::Target::Use(u) => {
                let u = &self.index.uses[u];
                (u.name.clone(), u.def, Some(u.span.start))
            }
        };
        let local = def.map(|i| Found {
            path: None,
            text: self.text.clone(),
            def: self.index.defs[i].clone(),
        });
        // Only a use can be rebound by a load between its definition and it.
        let Some(at) = at else { return local };
        let after = def.map_or(0, |i| self.index.defs[i].statement.end);
        let mut seen = Vec::new();
        let loaded = self
            .index
            .loads
            .iter()
            .filter(|l| l.scope == 0 && after <= l.span.start && l.span.start < at)
            .rev()
            .find_map(|l| exported(&l.path, self.dir(), &name, &mut seen));
        loaded.or(local).or_else(|| library_def(&name))
    }

    /// The value a top-level name has once the document has run.
    pub fn value(&self, name: &str) -> Option<MVal> {
        front::value::lookup(&self.scope, name)
    }
}

/// The definition of `name` that loading `path` (from `dir`) brings in:
/// the last binding of it in the file, its own public top-level
/// definition or one of the files it loads in turn. Each file is read once
/// per lookup (`seen`), so load cycles and diamonds stay cheap.
pub fn exported(
    path: &str,
    dir: Option<&Path>,
    name: &str,
    seen: &mut Vec<PathBuf>,
) -> Option<Found> {
    if name.starts_with('_') || seen.len() > 256 {
        return None;
    }
    let file = front::load_path(path, dir).ok()?;
    let file = file.canonicalize().unwrap_or(file);
    if seen.contains(&file) {
        return None;
    }
    seen.push(file.clone());
    // A FIFO among the loads must not block the server.
    let text = crate::fsio::read::read_text(&file).ok()?;
    let parsed = syntax::parse_file(&text, 0);
    let index = names::resolve(&parsed.stmts, Span::new(0, 0, text.len()));
    let own = index
        .exports()
        .into_iter()
        .find(|&i| index.defs[i].name == name);
    let after = own.map_or(0, |i| index.defs[i].statement.end);
    let sub = file.parent().map(Path::to_path_buf);
    let later = index
        .loads
        .iter()
        .filter(|l| l.scope == 0 && l.span.start >= after)
        .rev()
        .find_map(|l| exported(&l.path, sub.as_deref(), name, seen));
    later.or_else(|| {
        own.map(|i| Found {
            path: Some(file),
            text,
            def: index.defs[i].clone(),
        })
    })
}

/// How long a document's program may run when it is analysed, and a
/// hover's evaluation: then it is interrupted (`rasp::interrupted`), so a
/// program that loops for hours never stalls the editor.
pub const RUN_SECONDS: u64 = 5;

/// Run `f` with `flag` raised after `seconds` (the front end and the
/// interpreter stop at their next check), lowered again afterwards.
pub fn with_deadline<T>(flag: &Arc<AtomicBool>, seconds: u64, f: impl FnOnce() -> T) -> T {
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let timer_flag = flag.clone();
    let timer = std::thread::spawn(move || {
        if wait.recv_timeout(Duration::from_secs(seconds)).is_err() {
            timer_flag.store(true, Ordering::Relaxed);
        }
    });
    let out = f();
    let _ = done.send(());
    let _ = timer.join();
    flag.store(false, Ordering::Relaxed);
    out
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
        let dest = crate::fsio::Dest::File(file.clone());
        crate::fsio::write_file(
            &dest,
            front::PRELUDE.as_bytes(),
            crate::diag::codes::OUTPUT_WRITE,
        )
        .ok()?;
    }
    Some(file)
}
