//! Diagnostics shared by every stage: source files, spans, and one
//! diagnostic type rendered by miette.
//!
//! Every error the user can cause ends up as a [`Diag`]: a stable code
//! (`rasp::parse::...`, `rasp::name::undefined`, `rasp::type::...`,
//! `rasp::eval::...`), a message, an optional labelled span in a known file,
//! an optional help text, and related diagnostics (e.g. "defined here").

pub mod catalogue;
pub mod limits;
mod window;

pub use window::{ceil_boundary, floor_boundary};

use std::fmt;
use std::sync::{Arc, RwLock};

use miette::{LabeledSpan, NamedSource, Severity, SourceCode, SourceSpan};

/// Index of a source file in the [`SourceMap`].
pub type FileId = u32;

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span {
            file,
            start: start as u32,
            end: end.max(start) as u32,
        }
    }
    /// The smallest span covering both (same file assumed).
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// One loaded source text.
#[derive(Debug)]
pub struct SourceFile {
    pub name: String,
    pub text: Arc<str>,
}

/// All source texts seen by a session (files, the prelude, REPL lines).
/// Cheap to clone; shared between threads.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: Arc<RwLock<Vec<Arc<SourceFile>>>>,
}

impl SourceMap {
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    pub fn add(&self, name: impl Into<String>, text: impl Into<Arc<str>>) -> FileId {
        let mut files = self.files.write().unwrap_or_else(|e| e.into_inner());
        files.push(Arc::new(SourceFile {
            name: name.into(),
            text: text.into(),
        }));
        (files.len() - 1) as FileId
    }

    /// How many texts it holds (the next one added gets this id).
    pub fn len(&self) -> usize {
        self.files.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether it holds no text.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, id: FileId) -> Option<Arc<SourceFile>> {
        let files = self.files.read().unwrap_or_else(|e| e.into_inner());
        files.get(id as usize).cloned()
    }

    /// The text a span covers, if the file is known.
    pub fn snippet(&self, span: Span) -> Option<String> {
        let f = self.get(span.file)?;
        f.text
            .get(span.start as usize..span.end as usize)
            .map(str::to_string)
    }

    /// 1-based line and column of a span's start.
    pub fn line_col(&self, span: Span) -> Option<(usize, usize)> {
        let f = self.get(span.file)?;
        let upto = f.text.get(..span.start as usize)?;
        let line = upto.matches('\n').count() + 1;
        let col = upto.rsplit('\n').next().map_or(0, |s| s.chars().count()) + 1;
        Some((line, col))
    }
}

/// A diagnostic: code, message, optional primary span, help and related
/// notes. Boxed, so `Result<T, Diag>` stays small on hot paths.
#[derive(Clone)]
pub struct Diag(Box<DiagData>);

/// The contents of a [`Diag`] (read through `Deref`).
#[derive(Clone)]
pub struct DiagData {
    /// The stable code, e.g. `rasp::name::undefined` (`rasp explain-error
    /// CODE` explains it).
    pub code: &'static str,
    /// What went wrong.
    pub message: String,
    /// Error, warning or note.
    pub severity: Severity,
    /// Where in the program, when it is somewhere.
    pub span: Option<Span>,
    /// The text under the span.
    pub label: Option<String>,
    /// How to fix it.
    pub help: Option<String>,
    /// Related diagnostics, shown below it.
    pub related: Vec<Diag>,
    source: Option<Attached>,
}

/// The source text a diagnostic renders its span in: the whole file, or,
/// when lines near the span are long, an excerpt and the span within it.
#[derive(Clone)]
enum Attached {
    Whole(NamedSource<Arc<str>>),
    Cut(window::Excerpt, SourceSpan),
}

impl std::ops::Deref for Diag {
    type Target = DiagData;
    fn deref(&self) -> &DiagData {
        &self.0
    }
}

impl fmt::Debug for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Diag")
            .field("code", &self.code)
            .field("message", &self.message)
            .field("span", &self.span)
            .finish()
    }
}

impl Diag {
    /// An error with a code (one of [`codes::ALL`]) and a message.
    pub fn error(code: &'static str, message: impl Into<String>) -> Diag {
        Diag(Box::new(DiagData {
            code,
            message: message.into(),
            severity: Severity::Error,
            span: None,
            label: None,
            help: None,
            related: Vec::new(),
            source: None,
        }))
    }

    /// A warning with a code and a message.
    pub fn warning(code: &'static str, message: impl Into<String>) -> Diag {
        let mut d = Diag::error(code, message);
        d.0.severity = Severity::Warning;
        d
    }

    /// Point it at a span of a source.
    pub fn at(mut self, span: Span) -> Diag {
        self.0.span = Some(span);
        self
    }

    /// Set the span only if none is set yet.
    pub fn or_at(mut self, span: Span) -> Diag {
        if self.0.span.is_none() {
            self.0.span = Some(span);
        }
        self
    }

    /// The text under the span.
    pub fn label(mut self, label: impl Into<String>) -> Diag {
        self.0.label = Some(label.into());
        self
    }

    /// A hint on how to fix it.
    pub fn help(mut self, help: impl Into<String>) -> Diag {
        self.0.help = Some(help.into());
        self
    }

    /// Add a related diagnostic (a note, or another error of the same
    /// cause), shown below it.
    pub fn with_related(mut self, d: Diag) -> Diag {
        self.0.related.push(d);
        self
    }

    /// The same diagnostic with `context: ` before its message (where the
    /// text it is about came from: an input, a file and line).
    pub fn prefix(mut self, context: &str) -> Diag {
        self.0.message = format!("{context}: {}", self.0.message);
        self
    }

    /// The same diagnostic, reported as a warning.
    pub fn into_warning(mut self) -> Diag {
        self.0.severity = Severity::Warning;
        self
    }

    /// Whether it is an error (not a warning or a note).
    pub fn is_error(&self) -> bool {
        matches!(self.severity, Severity::Error)
    }

    /// Attach the source text of the span's file (and of related notes), so
    /// the diagnostic can be rendered on its own.
    pub fn with_sources(mut self, sources: &SourceMap) -> Diag {
        if let Some(span) = self.span
            && let Some(f) = sources.get(span.file)
        {
            let (start, end) = (span.start as usize, span.end as usize);
            self.0.source = Some(match window::excerpt(&f.name, &f.text, start, end) {
                Some((excerpt, within)) => Attached::Cut(excerpt, within),
                None => Attached::Whole(NamedSource::new(f.name.clone(), f.text.clone())),
            });
        }
        self.0.related = std::mem::take(&mut self.0.related)
            .into_iter()
            .map(|d| d.with_sources(sources))
            .collect();
        self
    }

    /// One line for tools (Vim's quickfix, CI annotations):
    /// `FILE:LINE:COL: error[CODE]: MESSAGE`, or `FILE: ...` without a
    /// span (`fallback` names the file then).
    pub fn short(&self, sources: &SourceMap, fallback: &str) -> String {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Advice => "note",
        };
        let message = self.message.lines().next().unwrap_or_default();
        let at = self.span.and_then(|s| {
            let (line, col) = sources.line_col(s)?;
            Some(format!("{}:{line}:{col}", sources.get(s.file)?.name))
        });
        format!(
            "{}: {severity}[{}]: {message}",
            at.unwrap_or_else(|| fallback.to_string()),
            self.code
        )
    }

    /// Render without colour (for tests, logs and non-terminals).
    pub fn render_plain(&self) -> String {
        self.render_with(false, 100)
    }

    /// Render for a person: miette's graphical report, source lines cut
    /// around the span (see `window.rs`), the message, label and help
    /// shortened, at most [`MAX_RELATED`] related notes: one error never
    /// takes more than a screen.
    pub fn render(&self, color: bool) -> String {
        self.render_with(color, 200)
    }

    fn render_with(&self, color: bool, width: usize) -> String {
        let theme = if color {
            miette::GraphicalTheme::unicode()
        } else {
            miette::GraphicalTheme::unicode_nocolor()
        };
        let handler = miette::GraphicalReportHandler::new_themed(theme).with_width(width);
        let shown = self.for_display();
        let mut out = String::new();
        if handler.render_report(&mut out, &shown).is_err() {
            out = format!("{}: {}\n", shown.code, shown.message);
        }
        out
    }

    /// A copy whose texts are short enough to show.
    fn for_display(&self) -> Diag {
        let mut d = self.clone();
        d.0.message = cut_text(&d.message, MAX_MESSAGE);
        d.0.label = d.label.as_deref().map(|l| cut_text(l, MAX_MESSAGE / 4));
        d.0.help = d.help.as_deref().map(|h| cut_text(h, MAX_MESSAGE));
        let hidden = d.related.len().saturating_sub(MAX_RELATED);
        d.0.related.truncate(MAX_RELATED);
        d.0.related = d.0.related.iter().map(Diag::for_display).collect();
        if hidden > 0 {
            d.0.related
                .push(Diag::advice(d.code, format!("... and {hidden} more")));
        }
        d
    }

    /// A note with no span (severity advice).
    fn advice(code: &'static str, message: String) -> Diag {
        let mut d = Diag::error(code, message);
        d.0.severity = Severity::Advice;
        d
    }
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diag {}

impl miette::Diagnostic for Diag {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        match self.source.as_ref()? {
            Attached::Whole(s) => Some(s as &dyn SourceCode),
            Attached::Cut(s, _) => Some(s as &dyn SourceCode),
        }
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span?;
        let ss = match self.source.as_ref()? {
            Attached::Whole(_) => SourceSpan::new(
                (span.start as usize).into(),
                (span.end - span.start) as usize,
            ),
            Attached::Cut(_, within) => *within,
        };
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            self.label.clone(),
            ss,
        ))))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(
                self.related.iter().map(|d| d as &dyn miette::Diagnostic),
            ))
        }
    }
}

/// When to colour output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

impl Color {
    /// Whether to colour a stream: `auto` means a terminal and no
    /// `NO_COLOR` in the environment.
    pub fn enabled(self, is_terminal: bool) -> bool {
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && is_terminal,
        }
    }
}

/// Most diagnostics shown in full for one file.
pub const MAX_SHOWN: usize = 50;
/// Most characters of a message or help shown.
const MAX_MESSAGE: usize = 600;
/// Most related notes shown under one diagnostic.
const MAX_RELATED: usize = 8;

/// `text` cut to about `max` characters, keeping its start and its end
/// (where messages put the position and the reason) around an ellipsis.
fn cut_text(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max * 2 / 3).collect();
    let tail: String = text.chars().skip(n - max / 3).collect();
    format!("{head} … {tail}")
}

/// Where diagnostics go, and how they look.
pub struct Reporter {
    color: bool,
}

impl Reporter {
    pub fn new(choice: Color) -> Reporter {
        use std::io::IsTerminal;
        Reporter {
            color: choice.enabled(std::io::stderr().is_terminal()),
        }
    }

    pub fn render(&self, d: &Diag) -> String {
        d.render(self.color)
    }

    /// Whether it colours what it prints.
    pub fn colored(&self) -> bool {
        self.color
    }

    pub fn report(&self, d: &Diag) {
        use std::io::Write;
        let text = self.render(d);
        let _ = std::io::stderr().write_all(text.as_bytes());
    }

    /// Report diagnostics, at most [`MAX_SHOWN`] of them in full.
    pub fn report_all(&self, ds: &[Diag]) {
        for d in ds.iter().take(MAX_SHOWN) {
            self.report(d);
        }
        if ds.len() > MAX_SHOWN {
            errln!("... and {} more diagnostics", ds.len() - MAX_SHOWN);
        }
    }
}

/// Diagnostic codes, in one place so they stay stable.
///
/// Each code is written once, in the `codes!` list below, which defines
/// its constant and adds it to [`codes::ALL`]: the error catalogue
/// (`docs/errors.md`, `rasp explain-error`) has one entry per code, in
/// this order, and a test keeps the two in step.
pub mod codes {
    /// Defines each `pub const` and [`ALL`], every code in order.
    macro_rules! codes {
        ($($(#[$attr:meta])* pub const $name:ident: &str = $code:literal;)*) => {
            $($(#[$attr])* pub const $name: &str = $code;)*

            /// Every diagnostic code, in the order they are defined.
            pub const ALL: &[&str] = &[$($name),*];
        };
    }

    codes! {
        pub const PARSE_TOKEN: &str = "rasp::parse::invalid_token";
        pub const PARSE_UNEXPECTED: &str = "rasp::parse::unexpected_token";
        pub const PARSE_EOF: &str = "rasp::parse::unexpected_eof";
        pub const PARSE_ENCODING: &str = "rasp::parse::encoding";
        pub const PARSE_TOO_DEEP: &str = "rasp::parse::too_deep";
        pub const NAME_UNDEFINED: &str = "rasp::name::undefined";
        pub const NAME_RESERVED: &str = "rasp::name::reserved";
        pub const NAME_PRIVATE: &str = "rasp::name::private";
        pub const TYPE_MISMATCH: &str = "rasp::type::mismatch";
        pub const TYPE_ARITY: &str = "rasp::type::arity";
        pub const TYPE_NOT_CALLABLE: &str = "rasp::type::not_callable";
        pub const TYPE_SELECTOR: &str = "rasp::type::selector_op";
        pub const TYPE_INDEX: &str = "rasp::type::index";
        pub const TYPE_UNPACK: &str = "rasp::type::unpack";
        pub const LOAD_NOT_FOUND: &str = "rasp::load::not_found";
        pub const LOAD_CYCLE: &str = "rasp::load::cycle";
        pub const LOAD_IO: &str = "rasp::load::io";
        pub const LIMIT_RECURSION: &str = "rasp::limit::recursion";
        /// A length asked for (`gen --len`, `compile --max-len`) over the
        /// length limit.
        pub const LIMIT_LENGTH: &str = "rasp::limit::length";
        /// A value a program builds (list, dict, string, an s-op's strings,
        /// a value set) over the size limit.
        pub const LIMIT_SIZE: &str = "rasp::limit::size";
        /// More s-ops and selectors than the graph limit.
        pub const LIMIT_GRAPH: &str = "rasp::limit::graph";
        /// A drawing with more boxes and edge pieces than the drawing limit.
        pub const LIMIT_DRAWING: &str = "rasp::limit::drawing";
        /// Over the memory budget, or an allocation the system refused.
        pub const LIMIT_MEMORY: &str = "rasp::limit::memory";
        /// `rasp lsp`: a message longer than `--max-message-bytes`.
        pub const LIMIT_MESSAGE: &str = "rasp::limit::message";
        pub const EVAL_DIV_ZERO: &str = "rasp::eval::division_by_zero";
        pub const EVAL_MIXED_TYPES: &str = "rasp::eval::mixed_types";
        pub const EVAL_NON_NUMERIC_MEAN: &str = "rasp::eval::non_numeric_mean";
        pub const EVAL_KEY: &str = "rasp::eval::missing_key";
        pub const EVAL_INDEX: &str = "rasp::eval::index_out_of_range";
        pub const EVAL_TYPE: &str = "rasp::eval::type_error";
        pub const EVAL_VALUE: &str = "rasp::eval::value_error";
        pub const EVAL_OVERFLOW: &str = "rasp::eval::overflow";
        pub const EVAL_EMPTY_INPUT: &str = "rasp::eval::empty_input";
        pub const EVAL_INPUT: &str = "rasp::eval::bad_input";
        pub const EVAL_TOO_LONG: &str = "rasp::eval::input_too_long";
        pub const CLI_NO_SUCH_NAME: &str = "rasp::cli::no_such_name";
        pub const CLI_NOT_SOP: &str = "rasp::cli::not_an_sop";
        pub const CLI_INPUT: &str = "rasp::cli::bad_input";
        pub const INTERRUPTED: &str = "rasp::interrupted";
        pub const COMPILE_VALUES: &str = "rasp::compile::value_set";
        pub const COMPILE_UNSUPPORTED: &str = "rasp::compile::unsupported";
        pub const COMPILE_PRECISION: &str = "rasp::compile::precision";
        pub const COMPILE_VOCAB: &str = "rasp::compile::vocab";
        /// A bug in the compiler, reported instead of a wrong model.
        pub const COMPILE_INTERNAL: &str = "rasp::compile::internal";
        /// The model would be larger than `--max-params`.
        pub const COMPILE_SIZE: &str = "rasp::compile::size";
        /// The model disagrees with the interpreter (nothing was written).
        pub const COMPILE_MISMATCH: &str = "rasp::compile::mismatch";
        /// Verification checked nothing, or mostly inputs the program rejects.
        pub const VERIFY_VACUOUS: &str = "rasp::verify::vacuous";
        pub const MODEL_FORMAT: &str = "rasp::model::format";
        pub const MODEL_IO: &str = "rasp::model::io";
        pub const MODEL_INPUT: &str = "rasp::model::input";
        /// A model's files changed after rasp wrote them (checksums).
        pub const MODEL_INTEGRITY: &str = "rasp::model::integrity";
        /// A warning: a modified model runs, not verified
        /// (`--allow-modified`).
        pub const MODEL_MODIFIED: &str = "rasp::model::modified";
        /// A model's output came out NaN or infinite.
        pub const MODEL_OUTPUT: &str = "rasp::model::output";
        /// `rasp gen`: bad options (length range, shard, vocabulary).
        pub const GEN_OPTIONS: &str = "rasp::gen::options";
        /// `rasp gen --task`: no such task.
        pub const GEN_TASK: &str = "rasp::gen::task";
        /// `rasp gen`: the program fails on a sampled input.
        pub const GEN_PROGRAM: &str = "rasp::gen::program";
        /// `rasp gen`: the output cannot be written.
        pub const GEN_OUTPUT: &str = "rasp::gen::output";
        /// No wgpu adapter could be found.
        pub const GPU_ADAPTER: &str = "rasp::gpu::no_adapter";
        /// The adapter's limits are too small for the model.
        pub const GPU_LIMITS: &str = "rasp::gpu::limits";
        /// The device failed: a validation or shader error, a lost device, a
        /// timeout.
        pub const GPU_DEVICE: &str = "rasp::gpu::device";
        pub const REPL_COMMAND: &str = "rasp::repl::command";
        /// `rasp test`: a `# test` declaration that cannot be read.
        pub const TEST_DECLARATION: &str = "rasp::test::declaration";
        /// `rasp test`: a snapshot that cannot be read or written.
        pub const TEST_SNAPSHOT: &str = "rasp::test::snapshot";
        /// `rasp test`: a path that cannot be read, or no tests under it.
        pub const TEST_PATH: &str = "rasp::test::path";
        /// `rasp fmt`: the formatted program would differ (a bug).
        pub const FMT_INTERNAL: &str = "rasp::fmt::internal";
        /// An output target refused: a symbolic link, a folder, one of the
        /// command's inputs, a model folder holding other files.
        pub const OUTPUT_TARGET: &str = "rasp::output::target";
        /// An output (a file, standard output) could not be written.
        pub const OUTPUT_WRITE: &str = "rasp::output::write";
    }
}
