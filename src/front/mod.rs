//! The front end: the meta level of RASP (atoms, lists, dicts, functions,
//! loops, comprehensions, `load`, the library) evaluated once, while a
//! program is read. Its result is IR: every s-op and selector a program
//! names is a node of the session's [`Graph`].

mod eval;
mod suggest;
pub mod value;

pub(crate) use eval::to_input;
pub use suggest::suggest;

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::diag::limits::Limit;
use crate::diag::{Diag, FileId, SourceMap, Span, codes};
use crate::interp::{self, Output};
use crate::ir::{Graph, NodeId, Op, TokenKind, Value};
use crate::syntax::{self, ast};
pub use value::{Func, MVal, Scope, ScopeRef};

/// The library, written in RASP, loaded into the base scope of every session.
pub const PRELUDE: &str = include_str!("../../stdlib/prelude.rasp");

pub use crate::diag::limits::{DEFAULT_MAX_LEN, MAX_CALL_DEPTH};

/// Which example the REPL shows s-ops and selectors on.
#[derive(Clone, Debug)]
pub struct Settings {
    pub sop_example: Vec<Value>,
    pub sel_example: Vec<Value>,
    pub sop_examples: bool,
    pub sel_examples: bool,
    pub full_seq_display: bool,
    /// Longest input to evaluate.
    pub max_len: usize,
    /// Bidirectional (the original's) or causal (RASP-L's): what every
    /// evaluation of this session means (`--causal`, `set causal on`).
    pub semantics: interp::Semantics,
}

impl Default for Settings {
    fn default() -> Settings {
        let hello: Vec<Value> = "hello"
            .chars()
            .map(|c| Value::str(&c.to_string()))
            .collect();
        Settings {
            sop_example: hello.clone(),
            sel_example: hello,
            sop_examples: true,
            sel_examples: true,
            full_seq_display: false,
            max_len: DEFAULT_MAX_LEN,
            semantics: interp::Semantics::Bidirectional,
        }
    }
}

/// What a statement did, for the REPL's echo.
#[derive(Clone, Debug)]
pub enum Echo {
    /// `name = value` (one per target).
    Assigned {
        name: String,
        value: MVal,
    },
    /// A function was defined.
    Defined {
        name: String,
        func: Rc<Func>,
    },
    /// An expression statement's value (`out`).
    Value {
        value: MVal,
        expr: ast::Expr,
    },
    /// A file was loaded and these names imported.
    Loaded {
        file: String,
        names: Vec<(String, MVal)>,
    },
    /// `draw(sop[, input]);`
    Draw {
        node: NodeId,
        input: Option<Vec<Value>>,
        span: Span,
    },
    SetExample {
        target: ast::ExampleTarget,
    },
    ShowExample {
        target: ast::ExampleTarget,
    },
    Examples {
        target: ast::ExampleTarget,
        on: bool,
    },
    FullSeqDisplay {
        on: bool,
    },
    Exit,
    /// `RunResult::diags[i]` was reported at this point of the run (keeps
    /// echoes and diagnostics in statement order).
    Reported(usize),
}

/// The result of running a piece of source.
#[derive(Debug, Default)]
pub struct RunResult {
    pub echoes: Vec<Echo>,
    pub diags: Vec<Diag>,
    /// An `exit`/`quit` statement was reached.
    pub exited: bool,
}

impl RunResult {
    /// Record a diagnostic, in order with the echoes.
    pub fn report(&mut self, d: Diag) {
        self.echoes.push(Echo::Reported(self.diags.len()));
        self.diags.push(d);
    }

    pub fn has_errors(&self) -> bool {
        self.diags.iter().any(Diag::is_error)
    }
}

/// A front-end session: the IR graph, the sources, the base scope.
pub struct Session {
    pub graph: Graph,
    pub sources: SourceMap,
    pub settings: Settings,
    base: ScopeRef,
    lib_names: Vec<String>,
    /// Names starting with `_` that loaded files define, and the file of
    /// each (the first that defines it): using one is
    /// `rasp::name::private`, not an undefined name.
    private_names: std::collections::HashMap<String, String>,
    load_stack: Vec<PathBuf>,
    call_depth: usize,
    /// Set (e.g. by Ctrl-C) to stop the current evaluation.
    pub interrupt: Arc<AtomicBool>,
}

impl Default for Session {
    fn default() -> Session {
        Session::new()
    }
}

impl Session {
    /// A session with the builtins and the library loaded.
    pub fn new() -> Session {
        let base = Scope::new_ref(None);
        let mut s = Session {
            graph: Graph::new(),
            sources: SourceMap::new(),
            settings: Settings::default(),
            base: base.clone(),
            lib_names: Vec::new(),
            private_names: Default::default(),
            load_stack: Vec::new(),
            call_depth: 0,
            interrupt: Arc::new(AtomicBool::new(false)),
        };
        let builtins: [(&str, Op); 7] = [
            ("tokens_str", Op::Tokens(TokenKind::Str)),
            ("tokens_int", Op::Tokens(TokenKind::Int)),
            ("tokens_float", Op::Tokens(TokenKind::Float)),
            ("tokens_bool", Op::Tokens(TokenKind::Bool)),
            ("tokens_asis", Op::Tokens(TokenKind::AsIs)),
            ("indices", Op::Indices),
            ("length", Op::Length),
        ];
        for (name, op) in builtins {
            let id = s.graph.add(op, None);
            s.graph.name(id, name);
            base.borrow_mut().set(name, MVal::Sop(id));
        }
        let tokens = s.graph.add(Op::Tokens(TokenKind::Str), None);
        base.borrow_mut().set("tokens", MVal::Sop(tokens));
        base.borrow_mut().set("True", MVal::Atom(Value::Bool(true)));
        base.borrow_mut()
            .set("False", MVal::Atom(Value::Bool(false)));
        base.borrow_mut()
            .set("selector_width", MVal::Func(Rc::new(Func::SelectorWidth)));
        for hint in [crate::ir::Hint::Numerical, crate::ir::Hint::Categorical] {
            base.borrow_mut()
                .set(hint.name(), MVal::Func(Rc::new(Func::Hint(hint))));
        }
        let file = s.sources.add("rasplib", PRELUDE);
        let (stmts, parse_diags) = syntax::parse_program(PRELUDE, file);
        debug_assert!(parse_diags.is_empty(), "prelude parses: {parse_diags:?}");
        let origin: Rc<str> = Rc::from("rasplib");
        let mut result = RunResult::default();
        s.exec_block_toplevel(&stmts, &base, &origin, None, &mut result);
        debug_assert!(result.diags.is_empty(), "prelude runs: {:?}", result.diags);
        let mut lib: Vec<String> = base.borrow().names().to_vec();
        lib.retain(|n| !syntax::words::is_reserved(n) && n != "tokens" && n != "out");
        base.borrow_mut().remove("out");
        s.lib_names = lib;
        s
    }

    /// Names defined by the library (reserved at the REPL's top level).
    pub fn library_names(&self) -> &[String] {
        &self.lib_names
    }

    /// A new top-level scope for a file or a REPL session.
    pub fn new_scope(&self) -> ScopeRef {
        Scope::new_ref(Some(self.base.clone()))
    }

    /// A REPL top scope: library names are reserved there.
    pub fn new_repl_scope(&self) -> ScopeRef {
        let s = self.new_scope();
        s.borrow_mut().extra_reserved = self.lib_names.clone();
        s
    }

    /// Parse and run `text` (named `name`, e.g. a path or `<repl>`) in
    /// `scope`. Statements that fail are reported and skipped, as in the
    /// original; the rest still run.
    pub fn run_source(
        &mut self,
        name: &str,
        text: &str,
        scope: &ScopeRef,
        dir: Option<&Path>,
    ) -> RunResult {
        let file = self.sources.add(name, text);
        self.run_file_id(file, text, scope, dir)
    }

    fn run_file_id(
        &mut self,
        file: FileId,
        text: &str,
        scope: &ScopeRef,
        dir: Option<&Path>,
    ) -> RunResult {
        let (stmts, parse_diags) = syntax::parse_program(text, file);
        let mut result = RunResult::default();
        for d in parse_diags {
            result.report(d.with_sources(&self.sources));
        }
        let origin: Rc<str> = Rc::from(
            self.sources
                .get(file)
                .map(|f| file_stem(&f.name))
                .unwrap_or_else(|| "console".into()),
        );
        self.exec_block_toplevel(&stmts, scope, &origin, dir, &mut result);
        result
    }

    /// Run a file from disk in a fresh scope; returns the scope.
    /// The files this session has read (programs and the files they
    /// loaded), for the rule that an output may not replace an input.
    pub fn read_files(&self) -> crate::fsio::Inputs {
        let mut inputs = crate::fsio::Inputs::new();
        for id in 0..self.sources.len() {
            if let Some(f) = self.sources.get(id as crate::diag::FileId) {
                inputs.add(Path::new(&f.name));
            }
        }
        inputs
    }

    pub fn run_path(&mut self, path: &Path) -> Result<(ScopeRef, RunResult), Diag> {
        let text = read_source(path)?;
        let scope = self.new_scope();
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        self.load_stack.push(canonical);
        let dir = path.parent().map(Path::to_path_buf);
        let result = self.run_source(&path.display().to_string(), &text, &scope, dir.as_deref());
        self.load_stack.pop();
        Ok((scope, result))
    }

    fn exec_block_toplevel(
        &mut self,
        stmts: &[ast::Stmt],
        scope: &ScopeRef,
        origin: &Rc<str>,
        dir: Option<&Path>,
        result: &mut RunResult,
    ) {
        for stmt in stmts {
            // Interrupted (Ctrl-C, or the language server's time limit):
            // stop here, reported once.
            if let Err(d) = self.check_interrupt(stmt.span) {
                if !result.diags.iter().any(|d| d.code == codes::INTERRUPTED) {
                    result.report(d.with_sources(&self.sources));
                }
                return;
            }
            match self.exec_stmt(stmt, scope, origin, dir, &mut result.echoes) {
                Ok(Flow::Next) => {}
                Ok(Flow::Exit) => {
                    result.exited = true;
                    result.echoes.push(Echo::Exit);
                    return;
                }
                Err(diags) => {
                    for d in diags {
                        result.report(d.with_sources(&self.sources));
                    }
                }
            }
        }
    }

    /// Evaluate an expression in a scope (for tools such as the REPL).
    pub fn eval_expr(&mut self, e: &ast::Expr, scope: &ScopeRef) -> Result<MVal, Diag> {
        self.eval(e, scope)
    }

    /// Refuse inputs longer than `settings.max_len`.
    pub fn check_input_len(&self, input: &[Value]) -> Result<(), Diag> {
        if input.len() > self.settings.max_len {
            return Err(Diag::error(
                codes::EVAL_TOO_LONG,
                format!(
                    "the input has {} tokens, more than the limit of {}",
                    input.len(),
                    self.settings.max_len
                ),
            )
            .help(
                "selectors compare every pair of positions, so time grows with the square of \
                 the length; raise the limit with --max-len if you mean it",
            ));
        }
        Ok(())
    }

    /// Evaluate a node on one input.
    pub fn evaluate(&self, node: NodeId, input: &[Value]) -> Result<Output, Diag> {
        self.check_input_len(input)?;
        let mut outs = interp::evaluate_with(
            &self.graph,
            input,
            &[node],
            self.settings.semantics,
            Some(&self.interrupt),
        )
        .map_err(|e| e.to_diag_for(&self.graph, &self.sources, input, node))?;
        Ok(outs.pop().expect("one target gives one output"))
    }

    /// Fail with `rasp::interrupted` when the user pressed Ctrl-C, and with
    /// `rasp::limit::graph` when the program has built more s-ops and
    /// selectors than the graph limit. Called at every iteration of a
    /// loop or comprehension and every call, the only ways a program of
    /// bounded text builds an unbounded graph.
    pub(crate) fn check_interrupt(&self, span: Span) -> Result<(), Diag> {
        if self.interrupt.load(Ordering::Relaxed) {
            return Err(Diag::error(codes::INTERRUPTED, "interrupted").at(span));
        }
        Limit::Graph
            .check(self.graph.len() as u128, || {
                format!(
                    "the program has built {} s-ops and selectors",
                    self.graph.len()
                )
            })
            .map_err(|d| d.at(span))
    }

    fn resolve_load(&self, name: &str, dir: Option<&Path>, span: Span) -> Result<PathBuf, Diag> {
        load_path(name, dir).map_err(|tried| {
            Diag::error(
                codes::LOAD_NOT_FOUND,
                format!("could not find file: {}", load_file_name(name)),
            )
            .at(span)
            .label("loaded here")
            .help(format!(
                "looked next to the loading file, then in the working directory: {}",
                tried.join(", ")
            ))
        })
    }

    /// `load "name";`: run the file in a scope whose parent is the base
    /// scope, then export its public names into `into`.
    fn load(
        &mut self,
        name: &str,
        span: Span,
        into: &ScopeRef,
        dir: Option<&Path>,
        echoes: &mut Vec<Echo>,
    ) -> Result<(), Vec<Diag>> {
        // A diamond of loads runs a file once per path to it: stop when
        // interrupted.
        self.check_interrupt(span).map_err(|d| vec![d])?;
        let path = self.resolve_load(name, dir, span).map_err(|d| vec![d])?;
        let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
        if self.load_stack.contains(&canonical) {
            let chain: Vec<String> = self
                .load_stack
                .iter()
                .chain(std::iter::once(&canonical))
                .map(|p| file_stem(&p.display().to_string()))
                .collect();
            return Err(vec![
                Diag::error(
                    codes::LOAD_CYCLE,
                    format!("load cycle: {}", chain.join(" -> ")),
                )
                .at(span)
                .label("this load closes the cycle")
                .help("a file cannot load itself, directly or through other files"),
            ]);
        }
        let text = read_source(&path).map_err(|d| vec![d.at(span)])?;
        let scope = self.new_scope();
        self.load_stack.push(canonical);
        let sub_dir = path.parent().map(Path::to_path_buf);
        let file = self.sources.add(path.display().to_string(), text.as_str());
        let result = self.run_file_id(file, &text, &scope, sub_dir.as_deref());
        self.load_stack.pop();
        let mut diags = result.diags;
        let mut names = Vec::new();
        let exported: Vec<(String, MVal)> = {
            let s = scope.borrow();
            let stem = file_stem(&path.display().to_string());
            for n in s.names().iter().filter(|n| n.starts_with('_')) {
                self.private_names
                    .entry(n.clone())
                    .or_insert_with(|| stem.to_string());
            }
            s.names()
                .iter()
                .filter(|n| !n.starts_with('_') && n.as_str() != "out")
                .filter_map(|n| s.get_local(n).map(|v| (n.clone(), v)))
                .collect()
        };
        for (n, v) in exported {
            match self.assign(into, &n, v.clone(), span) {
                Ok(()) => names.push((n, v)),
                Err(d) => diags.push(d.with_sources(&self.sources)),
            }
        }
        echoes.push(Echo::Loaded {
            file: file_stem(&path.display().to_string()),
            names,
        });
        if diags.is_empty() { Ok(()) } else { Err(diags) }
    }

    /// Bind a name, refusing reserved ones.
    fn assign(
        &mut self,
        scope: &ScopeRef,
        name: &str,
        value: MVal,
        span: Span,
    ) -> Result<(), Diag> {
        let reserved = syntax::words::is_reserved(name)
            || scope.borrow().extra_reserved.iter().any(|n| n == name);
        if reserved {
            return Err(Diag::error(
                codes::NAME_RESERVED,
                format!("Cannot set reserved name: {name}"),
            )
            .at(span)
            .label("reserved name")
            .help("this name belongs to the language or its library; pick another name"));
        }
        if let MVal::Sop(id) | MVal::Sel(id) = value {
            self.graph.name(id, name);
        }
        scope.borrow_mut().set(name, value);
        Ok(())
    }
}

/// What to do after a statement.
pub(crate) enum Flow {
    Next,
    Exit,
}

pub(crate) fn file_stem(name: &str) -> String {
    Path::new(name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| name.to_string())
}

/// Read a source file: missing files, directories and non-UTF-8 text are
/// diagnostics.
pub fn read_source(path: &Path) -> Result<String, Diag> {
    let bytes = crate::fsio::read::read_bytes(path).map_err(|e| {
        if let Some(d) = crate::fsio::read::too_long(&e, path) {
            return d;
        }
        let code = if e.kind() == std::io::ErrorKind::NotFound {
            codes::LOAD_NOT_FOUND
        } else {
            codes::LOAD_IO
        };
        Diag::error(code, format!("could not read {}: {e}", path.display()))
    })?;
    String::from_utf8(bytes).map_err(|e| {
        Diag::error(
            codes::PARSE_ENCODING,
            format!(
                "{} is not valid UTF-8 (first bad byte at offset {})",
                path.display(),
                e.utf8_error().valid_up_to()
            ),
        )
        .help("RASP source files must be UTF-8 text")
    })
}

/// Parse one command-line input: JSON, or a bare word taken as a string.
/// An integer that does not fit in 64 bits is `rasp::eval::overflow`.
pub fn parse_input(text: &str) -> Result<(serde_json::Value, Vec<Value>), Diag> {
    let json = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => {
            check_json_ints(text).map_err(|d| d.prefix(&format!("input {text}")))?;
            v
        }
        Err(_) if !text.trim_start().starts_with(['[', '{', '"']) => {
            serde_json::Value::String(text.to_string())
        }
        Err(e) => {
            return Err(Diag::error(
                codes::CLI_INPUT,
                format!("input {text:?} is not valid JSON: {e}"),
            )
            .help("write inputs as JSON: \"hello\" or [1, 2, 3]"));
        }
    };
    let input = input_from_json(&json).map_err(|m| {
        Diag::error(codes::CLI_INPUT, format!("input {text}: {m}"))
            .help("write inputs as JSON: \"hello\" or [1, 2, 3]")
    })?;
    Ok((json, input))
}

/// The integer literals of JSON `text` (valid JSON) fit in an `i64`, as
/// every rasp integer does (ARCHITECTURE.md, Decisions): serde_json would
/// read one beyond `u64` as a float, so the text itself is scanned. Floats
/// written as such (`1e30`, `2.5`) are floats.
pub fn check_json_ints(text: &str) -> Result<(), Diag> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                // Skip the string, escapes included.
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                let literal = &text[start..i];
                if !literal.contains(['.', 'e', 'E']) && literal.parse::<i64>().is_err() {
                    return Err(json_int_overflow(literal));
                }
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// `rasp::eval::overflow` for an integer literal of an input.
fn json_int_overflow(literal: &str) -> Diag {
    let shown: String = if literal.len() > 40 {
        format!(
            "{}… ({} digits)",
            &literal[..24],
            literal.trim_start_matches('-').len()
        )
    } else {
        literal.to_string()
    };
    Diag::error(
        codes::EVAL_OVERFLOW,
        format!("the integer {shown} does not fit in 64 bits"),
    )
    .help(format!(
        "rasp integers range from {} to {}; write a float (e.g. 1.5e19) or a string (\"{}\") for a bigger token",
        i64::MIN,
        i64::MAX,
        if literal.len() > 40 { "…" } else { literal }
    ))
}

/// Turn a JSON value into an input sequence: a string is a sequence of
/// one-character tokens, a list gives the tokens (atoms only). The text it
/// came from goes through [`check_json_ints`] first: an integer beyond
/// `i64` that serde_json kept as an integer (up to `u64`) is refused here
/// too, never made a float.
pub fn input_from_json(v: &serde_json::Value) -> Result<Vec<Value>, String> {
    match v {
        serde_json::Value::String(s) => Ok(s.chars().map(|c| Value::str(&c.to_string())).collect()),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|x| match x {
                serde_json::Value::Bool(b) => Ok(Value::Bool(*b)),
                serde_json::Value::Number(n) => {
                    if let Some(i) = n.as_i64() {
                        Ok(Value::Int(i))
                    } else if n.is_u64() {
                        Err(format!("the integer {n} does not fit in 64 bits"))
                    } else {
                        n.as_f64()
                            .map(Value::Float)
                            .ok_or_else(|| format!("number {n} is out of range"))
                    }
                }
                serde_json::Value::String(s) => Ok(Value::str(s)),
                other => Err(format!(
                    "input tokens must be atoms (bool, number or string), got {other}"
                )),
            })
            .collect(),
        other => Err(format!(
            "an input is a JSON string or a JSON list of atoms, got {other}"
        )),
    }
}

/// The file `load "name";` reads: `name.rasp` (or `name` when it ends in
/// `.rasp`) next to the loading file (`dir`), else in the working
/// directory. Otherwise, the paths tried.
pub fn load_path(name: &str, dir: Option<&Path>) -> Result<PathBuf, Vec<String>> {
    let file = load_file_name(name);
    let mut tried = Vec::new();
    if let Some(d) = dir {
        let p = d.join(&file);
        if p.is_file() {
            return Ok(p);
        }
        tried.push(p.display().to_string());
    }
    let p = PathBuf::from(&file);
    if p.is_file() {
        return Ok(p);
    }
    let shown = p.display().to_string();
    if !tried.contains(&shown) {
        tried.push(shown);
    }
    Err(tried)
}

fn load_file_name(name: &str) -> String {
    if name.ends_with(".rasp") {
        name.to_string()
    } else {
        format!("{name}.rasp")
    }
}

#[cfg(test)]
mod words_tests {
    use crate::syntax::words::{self, Kind};

    /// The base scope defines exactly the table's builtins, besides the
    /// prelude's names.
    #[test]
    fn the_base_scope_defines_the_tables_builtins() {
        let s = super::Session::new();
        let lib = s.library_names();
        let mut defined: Vec<String> = s
            .base
            .borrow()
            .names()
            .iter()
            .filter(|n| !lib.contains(n) || words::of_kind(Kind::Builtin).any(|w| w.text == *n))
            .cloned()
            .collect();
        defined.sort();
        let mut want: Vec<String> = words::of_kind(Kind::Builtin)
            .map(|w| w.text.to_string())
            .collect();
        want.sort();
        assert_eq!(defined, want);
    }
}

#[cfg(test)]
mod input_tests {
    use super::{check_json_ints, parse_input};
    use crate::diag::codes;
    use crate::ir::Value;

    /// Integer literals beyond `i64` are `rasp::eval::overflow`, never
    /// floats; floats written as floats, and digits inside strings, are
    /// left alone.
    #[test]
    fn integers_beyond_64_bits_overflow() {
        for text in [
            "[18446744073709551616]",
            "[9223372036854775808]",
            "[-9223372036854775809]",
            "[1, \"a\", 99999999999999999999999999999999]",
            "[\"\\\"\", 18446744073709551616]",
        ] {
            let d = parse_input(text).expect_err(text);
            assert_eq!(d.code, codes::EVAL_OVERFLOW, "{text}: {}", d.message);
            assert!(
                d.message.contains("does not fit in 64 bits"),
                "{}",
                d.message
            );
            assert!(d.help.is_some());
        }
        for (text, want) in [
            ("[9223372036854775807]", Value::Int(i64::MAX)),
            ("[-9223372036854775808]", Value::Int(i64::MIN)),
            ("[1e30]", Value::Float(1e30)),
            ("[2.5]", Value::Float(2.5)),
            (
                "[18446744073709551616.0]",
                Value::Float(18446744073709551616.0),
            ),
            ("[1E20]", Value::Float(1e20)),
            (
                "[\"18446744073709551616\"]",
                Value::str("18446744073709551616"),
            ),
        ] {
            let (_, tokens) = parse_input(text).unwrap_or_else(|d| panic!("{text}: {}", d.message));
            assert!(tokens[0].same(&want), "{text}: {:?}", tokens[0]);
        }
        // A string with escapes and digits, then nothing to refuse.
        assert!(check_json_ints("[\"\\\\\", \"123456789012345678901234567890\"]").is_ok());
        // A bare word is a string, whatever digits it holds.
        let (_, tokens) = parse_input("abc123456789012345678901234567890").expect("a word");
        assert_eq!(tokens.len(), 33);
    }
}
