//! The REPL: the original's interactive session (statements, echoes on the
//! running example, `set example`, `show example`, `examples on|off`,
//! `full seq display`, `load`, `draw`) plus `:` commands, line editing and
//! completion (`line.rs`).
//!
//! The session logic writes to any `Write` pair, so the same code serves the
//! terminal, piped stdin (a transcript without prompts) and the tests.

pub mod draw;
pub mod line;

use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::diag::{Diag, codes};
use crate::front::{self, Echo, MVal, ScopeRef, Session, value};
use crate::interp::{self, Output, SeqType, display};
use crate::ir::{NodeId, Value};
use crate::syntax::ast::{ExampleTarget, ExprKind};

/// What the caller should do after an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Continue,
    Exit,
}

/// The `:` commands, for help and completion.
pub const COMMANDS: &[(&str, &str)] = &[
    (":help", "this help"),
    (
        ":type NAME [VOCAB [MAXLEN]]",
        "kind and type of NAME; with a vocab, its value set",
    ),
    (
        ":layers NAME",
        "layers and heads NAME needs (the original's analysis)",
    ),
    (
        ":explain NAME VOCAB MAXLEN",
        "compile NAME and show its layers, heads and residual",
    ),
    (
        ":verify NAME VOCAB MAXLEN",
        "compile NAME and check the model against the interpreter",
    ),
    (
        ":compile NAME VOCAB MAXLEN DIR",
        "write the model to DIR (safetensors + JSON)",
    ),
    (
        ":backend [cpu|wgpu|auto]",
        "where :verify runs models; alone, the device in use",
    ),
    (
        ":set [SETTING VALUE]",
        "draw_dir DIR (where `draw` writes; comp_flows/), limit NAME N (README: Limits); alone, show them",
    ),
    (":env", "the names you defined"),
    (":reset", "forget every definition and start over"),
    (":quit", "leave (also `exit`, `quit`, Ctrl-D)"),
];

/// One REPL session.
pub struct Repl {
    pub session: Session,
    pub scope: ScopeRef,
    color: bool,
    interrupt: Arc<AtomicBool>,
    entries: usize,
    /// How many errors were reported (the exit status of piped sessions).
    pub errors: usize,
    /// Where `:verify` runs models (`:backend`).
    backend: crate::gpu::backend::Backend,
    /// Where `draw` writes its files (`:set draw_dir`).
    draw_dir: PathBuf,
}

/// Where `draw` writes by default, as in the original.
pub const DEFAULT_DRAW_DIR: &str = "comp_flows";

impl Repl {
    pub fn new(color: bool) -> Repl {
        let session = Session::new();
        let scope = session.new_repl_scope();
        let interrupt = session.interrupt.clone();
        Repl {
            session,
            scope,
            color,
            interrupt,
            entries: 0,
            errors: 0,
            backend: crate::gpu::backend::Backend::Cpu,
            draw_dir: PathBuf::from(DEFAULT_DRAW_DIR),
        }
    }

    /// The flag that interrupts the running entry (set it from Ctrl-C).
    pub fn interrupt_flag(&self) -> Arc<AtomicBool> {
        self.interrupt.clone()
    }

    pub fn banner(&self) -> String {
        format!(
            "rasp {} (RASP 0.1). :help for help, Ctrl-D to exit.\nrunning example is: {}\n",
            env!("CARGO_PKG_VERSION"),
            display::input_repr(&self.session.settings.sop_example)
        )
    }

    /// Load files given on the command line, as `load` would.
    pub fn load_files(&mut self, files: &[PathBuf], out: &mut dyn Write, err: &mut dyn Write) {
        for f in files {
            let text = format!("load {};", json_string(&f.display().to_string()));
            self.entry(&text, out, err);
        }
    }

    /// Names visible at the prompt, for completion.
    pub fn visible_names(&self) -> Vec<String> {
        value::visible_names(&self.scope)
    }

    /// Run one complete entry: statements, or a `:` command.
    pub fn entry(&mut self, text: &str, out: &mut dyn Write, err: &mut dyn Write) -> Control {
        self.interrupt.store(false, Ordering::Relaxed);
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Control::Continue;
        }
        if let Some(cmd) = trimmed.strip_prefix(':') {
            return self.command(cmd, out, err);
        }
        self.entries += 1;
        let name = format!("<repl:{}>", self.entries);
        // `load` at the prompt resolves against the working directory.
        let result = self.session.run_source(&name, text, &self.scope, None);
        let mut control = Control::Continue;
        for echo in dedup_loop_echoes(&result.echoes) {
            match echo {
                Echo::Reported(i) => {
                    if let Some(d) = result.diags.get(*i) {
                        self.diag(d, out, err);
                    }
                }
                Echo::Exit => control = Control::Exit,
                e => self.echo(e, out, err),
            }
        }
        let _ = out.flush();
        control
    }

    fn diag(&mut self, d: &Diag, out: &mut dyn Write, err: &mut dyn Write) {
        if d.is_error() {
            self.errors += 1;
        }
        let _ = out.flush();
        let _ = err.write_all(self.render(d).as_bytes());
        let _ = err.flush();
    }

    fn render(&self, d: &Diag) -> String {
        d.render(self.color)
    }

    fn echo(&mut self, e: &Echo, out: &mut dyn Write, err: &mut dyn Write) {
        match e {
            Echo::Assigned { name, value } => self.show_value(name, value, true, out, err),
            Echo::Defined { name, func } => {
                let _ = writeln!(
                    out,
                    "     {} function: {name}({})",
                    origin(func),
                    func.params().join(", ")
                );
            }
            Echo::Value { value, expr } => self.show_expression(value, expr, out, err),
            Echo::Loaded { names, .. } => {
                for (name, v) in names {
                    self.show_value(name, v, false, out, err);
                }
            }
            Echo::Draw { node, input, span } => self.draw(*node, input.as_deref(), *span, out, err),
            Echo::ShowExample { target } => {
                let s = &self.session.settings;
                if matches!(target, ExampleTarget::Both | ExampleTarget::Sop) {
                    let _ = writeln!(
                        out,
                        "\ts-op example: {}",
                        display::input_repr(&s.sop_example)
                    );
                }
                if matches!(target, ExampleTarget::Both | ExampleTarget::Selector) {
                    let _ = writeln!(
                        out,
                        "\tselector example: {}",
                        display::input_repr(&s.sel_example)
                    );
                }
            }
            Echo::SetExample { .. } | Echo::Examples { .. } | Echo::FullSeqDisplay { .. } => {}
            Echo::Exit | Echo::Reported(_) => {}
        }
    }

    /// The original's echo of a named value.
    fn show_value(
        &mut self,
        name: &str,
        v: &MVal,
        examples: bool,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) {
        match v {
            MVal::Sop(id) => {
                let _ = writeln!(out, "     s-op: {name}");
                if examples && self.session.settings.sop_examples {
                    self.sop_example(name, *id, out, err);
                }
            }
            MVal::Sel(id) => {
                let _ = writeln!(out, "     selector: {name}");
                if examples && self.session.settings.sel_examples {
                    self.sel_example(name, *id, out, err);
                }
            }
            MVal::Atom(a) => {
                let _ = writeln!(out, "    value: {name} =  {a}");
            }
            MVal::List(_) => {
                let _ = writeln!(out, "     list: {name} = {}", v.repr());
            }
            MVal::Dict(_) => {
                let _ = writeln!(out, "     dict: {name} = {}", v.repr());
            }
            MVal::Func(f) => {
                let _ = writeln!(
                    out,
                    "     {} function: {name}({})",
                    origin(f),
                    f.params().join(", ")
                );
            }
        }
    }

    fn sop_example(&mut self, name: &str, id: NodeId, out: &mut dyn Write, err: &mut dyn Write) {
        let ex = self.session.settings.sop_example.clone();
        match self.session.evaluate(id, &ex) {
            Ok(Output::Sop(col)) => {
                if self.session.settings.full_seq_display {
                    let _ = writeln!(out, " \t Example: {name}({}) =", display::input_repr(&ex));
                    let _ = write!(out, "{}", full_seq(&ex, &col.values, col.ty));
                } else {
                    let _ = writeln!(
                        out,
                        " \t Example: {name}({}) = {}",
                        display::input_repr(&ex),
                        display::column_str(&col)
                    );
                }
            }
            Ok(Output::Selector(_)) => {}
            Err(d) => {
                let _ = writeln!(
                    out,
                    " \t Example: {name}({}) failed (kept; see the warning)",
                    display::input_short(&ex, None)
                );
                self.warn(d, out, err);
            }
        }
    }

    fn sel_example(&mut self, name: &str, id: NodeId, out: &mut dyn Write, err: &mut dyn Write) {
        let ex = self.session.settings.sel_example.clone();
        match self.session.evaluate(id, &ex) {
            Ok(Output::Selector(rows)) => {
                let _ = writeln!(out, " \t Example:");
                let _ = write!(out, "{}", display::selector_matrix(&ex, &rows, " \t\t\t "));
            }
            Ok(Output::Sop(_)) => {}
            Err(d) => {
                let _ = writeln!(
                    out,
                    " \t Example: {name}({}) failed (kept; see the warning)",
                    display::input_short(&ex, None)
                );
                self.warn(d, out, err);
            }
        }
    }

    /// A failure on the running example: the definition is kept, the
    /// failure shown as a warning.
    fn warn(&mut self, d: Diag, out: &mut dyn Write, err: &mut dyn Write) {
        let d = if d.code == codes::INTERRUPTED {
            d
        } else {
            d.into_warning()
        };
        self.diag(&d, out, err);
    }

    fn show_expression(
        &mut self,
        v: &MVal,
        expr: &crate::syntax::ast::Expr,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) {
        // `sop(input);` shows the sequence (or matrix) it computed.
        if let ExprKind::Call(f, args) = &expr.unparen().kind
            && args.len() == 1
            && let MVal::List(items) = v
        {
            let callee = self.session_eval_quiet(f);
            let input = self
                .session_eval_quiet(&args[0])
                .and_then(|a| front::to_input(&a, args[0].span).ok());
            match (callee, input) {
                (Some(MVal::Sop(_)), _) => {
                    let values: Vec<Value> = items
                        .iter()
                        .filter_map(|m| match m {
                            MVal::Atom(a) => Some(a.clone()),
                            _ => None,
                        })
                        .collect();
                    let ty = interp::seq_type(&values).ok();
                    let tag = ty.map(|t| format!(" ({})", t.name())).unwrap_or_default();
                    let _ = writeln!(out, "\t =  {}{tag}", display::sequence_str(&values));
                    return;
                }
                (Some(MVal::Sel(_)), Some(input)) => {
                    let rows: Vec<Vec<bool>> = items
                        .iter()
                        .map(|r| match r {
                            MVal::List(cells) => cells
                                .iter()
                                .map(|c| matches!(c, MVal::Atom(Value::Bool(true))))
                                .collect(),
                            _ => Vec::new(),
                        })
                        .collect();
                    let _ = writeln!(out, "\t = ");
                    let _ = write!(
                        out,
                        "{}",
                        display::selector_matrix(&input, &rows, " \t\t\t ")
                    );
                    return;
                }
                _ => {}
            }
        }
        let name = match v {
            MVal::Func(f) => f.name().to_string(),
            _ => "out".to_string(),
        };
        self.show_value(&name, v, true, out, err);
    }

    /// Evaluate a side-effect-free expression again (to learn what a call's
    /// callee was); `None` on any error.
    fn session_eval_quiet(&mut self, e: &crate::syntax::ast::Expr) -> Option<MVal> {
        self.session.eval_expr(e, &self.scope).ok()
    }

    fn draw(
        &mut self,
        node: NodeId,
        input: Option<&[Value]>,
        _span: crate::diag::Span,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) {
        let input = input
            .map(<[Value]>::to_vec)
            .unwrap_or_else(|| self.session.settings.sop_example.clone());
        let name = interp::node_title(&self.session.graph, &self.session.sources, node);
        match self.draw_files(node, &name, &input) {
            Ok(svg) => {
                let _ = writeln!(out, "\tdrawn: {}", svg.display());
            }
            Err(d) => self.diag(&d, out, err),
        }
    }

    fn draw_files(&self, node: NodeId, name: &str, input: &[Value]) -> Result<PathBuf, Diag> {
        self.session.check_input_len(input)?;
        let flow = draw::flow(
            &self.session.graph,
            &self.session.sources,
            node,
            Some(input),
        )?;
        let dir = self.draw_dir.as_path();
        std::fs::create_dir_all(dir).map_err(|e| {
            Diag::error(
                codes::LOAD_IO,
                format!("could not create {}: {e}", dir.display()),
            )
        })?;
        let stem = file_stem(name, input);
        let svg = dir.join(format!("{stem}.svg"));
        let dot = dir.join(format!("{stem}.dot"));
        let inputs = self.session.read_files();
        for (path, text) in [(&svg, flow.to_svg()), (&dot, flow.to_dot())] {
            let dest = crate::fsio::target::output(path, &inputs, "the drawing")?;
            crate::fsio::write_file(&dest, text.as_bytes(), codes::OUTPUT_WRITE)?;
        }
        Ok(svg)
    }

    fn command(&mut self, cmd: &str, out: &mut dyn Write, err: &mut dyn Write) -> Control {
        let mut words = cmd.split_whitespace();
        let name = words.next().unwrap_or("");
        let args: Vec<&str> = words.collect();
        match name {
            "help" | "h" | "?" => {
                let _ = write!(out, "{}", help_text());
            }
            "quit" | "q" | "exit" => return Control::Exit,
            "env" => self.cmd_env(out),
            "set" => {
                if let Err(d) = self.cmd_set(&args, out) {
                    self.diag(&d, out, err);
                }
            }
            "reset" => {
                let interrupt = self.interrupt.clone();
                self.session = Session::new();
                self.session.interrupt = interrupt;
                self.scope = self.session.new_repl_scope();
                let _ = writeln!(
                    out,
                    "\tsession reset: every definition is gone, the running example is \"hello\""
                );
            }
            "type" | "t" => match args.as_slice() {
                [n, rest @ ..] => {
                    if let Err(d) = self.cmd_type(n, rest, out) {
                        self.diag(&d, out, err);
                    }
                }
                [] => self.usage(":type NAME [VOCAB [MAXLEN]]", out, err),
            },
            "explain" | "verify" | "compile" => {
                let want = if name == "compile" { 4 } else { 3 };
                if args.len() != want {
                    let usage = COMMANDS
                        .iter()
                        .find(|(c, _)| c.starts_with(&format!(":{name} ")))
                        .map_or(name, |(c, _)| c);
                    self.usage(usage, out, err);
                } else if let Err(d) = self.cmd_compile(name, &args, out) {
                    self.diag(&d, out, err);
                }
            }
            "layers" | "l" => match args.as_slice() {
                [n] => {
                    if let Err(d) = self.cmd_layers(n, out) {
                        self.diag(&d, out, err);
                    }
                }
                _ => self.usage(":layers NAME", out, err),
            },
            "backend" => match args.as_slice() {
                [] | [_] => {
                    if let Err(d) = self.cmd_backend(args.first().copied(), out) {
                        self.diag(&d, out, err);
                    }
                }
                _ => self.usage(":backend [cpu|wgpu|auto]", out, err),
            },
            other => {
                let known: Vec<String> = COMMANDS
                    .iter()
                    .filter_map(|(c, _)| c.split_whitespace().next())
                    .map(|c| c.trim_start_matches(':').to_string())
                    .collect();
                let mut d = Diag::error(codes::REPL_COMMAND, format!("unknown command :{other}"));
                d = match front::suggest(other, &known) {
                    Some(s) => d.help(format!("did you mean :{s}? (:help lists the commands)")),
                    None => d.help(":help lists the commands"),
                };
                self.diag(&d, out, err);
            }
        }
        let _ = out.flush();
        Control::Continue
    }

    fn usage(&mut self, usage: &str, out: &mut dyn Write, err: &mut dyn Write) {
        let d = Diag::error(codes::REPL_COMMAND, format!("usage: {usage}"));
        self.diag(&d, out, err);
    }

    fn lookup(&self, name: &str) -> Result<MVal, Diag> {
        value::lookup(&self.scope, name).ok_or_else(|| {
            let mut d = Diag::error(codes::NAME_UNDEFINED, format!("Undefined variable: {name}"));
            if let Some(s) = front::suggest(name, &self.visible_names()) {
                d = d.help(format!("did you mean `{s}`?"));
            }
            d
        })
    }

    /// `:set`: show the settings; `:set draw_dir DIR`, `:set limit NAME N`:
    /// change one (a limit for the whole process, as `--limit NAME=N`).
    fn cmd_set(&mut self, args: &[&str], out: &mut dyn Write) -> Result<(), Diag> {
        use crate::diag::limits::{self, Limit};
        match args {
            [] => {
                let _ = writeln!(out, "\tdraw_dir {}", self.draw_dir.display());
                for l in Limit::ALL {
                    let _ = writeln!(out, "\tlimit {} {}", l.name(), l.get());
                }
                Ok(())
            }
            ["draw_dir", dir] => {
                self.draw_dir = PathBuf::from(dir);
                let _ = writeln!(out, "\tdraw writes to {}", self.draw_dir.display());
                Ok(())
            }
            ["limit", name, value] => {
                let (l, v) = limits::parse_setting(&format!("{name}={value}"))
                    .map_err(|m| Diag::error(codes::REPL_COMMAND, m))?;
                l.set(v);
                let _ = writeln!(out, "\tlimit {} {}", l.name(), l.get());
                Ok(())
            }
            [name, ..] if !matches!(*name, "draw_dir" | "limit") => Err(Diag::error(
                codes::REPL_COMMAND,
                format!("unknown setting {name}"),
            )
            .help("the settings are: draw_dir, limit NAME (`:set` shows them)")),
            _ => Err(Diag::error(
                codes::REPL_COMMAND,
                "usage: :set [draw_dir DIR | limit NAME N]",
            )),
        }
    }

    fn cmd_env(&self, out: &mut dyn Write) {
        let scope = self.scope.borrow();
        let names: Vec<&String> = scope
            .names()
            .iter()
            .filter(|n| n.as_str() != "out")
            .collect();
        if names.is_empty() {
            let _ = writeln!(out, "\tno definitions yet");
            return;
        }
        for n in names {
            if let Some(v) = scope.get_local(n) {
                let kind = match &v {
                    MVal::Sop(_) => "s-op".to_string(),
                    MVal::Sel(_) => "selector".to_string(),
                    MVal::Func(f) => format!("function {}({})", f.name(), f.params().join(", ")),
                    MVal::Atom(a) => format!("value {}", a.repr()),
                    MVal::List(_) => format!("list {}", v.repr()),
                    MVal::Dict(_) => format!("dict {}", v.repr()),
                };
                let _ = writeln!(out, "\t{n}: {kind}");
            }
        }
    }

    fn cmd_type(&mut self, name: &str, rest: &[&str], out: &mut dyn Write) -> Result<(), Diag> {
        let v = self.lookup(name)?;
        let id = match &v {
            MVal::Sop(id) => *id,
            MVal::Sel(_) => {
                let _ = writeln!(out, "\t{name}: selector");
                return Ok(());
            }
            other => {
                let _ = writeln!(out, "\t{name}: {}", other.kind_name());
                return Ok(());
            }
        };
        let ex = self.session.settings.sop_example.clone();
        let on_example = match self.session.evaluate(id, &ex) {
            Ok(Output::Sop(col)) => format!(
                "{} on the example {}",
                col.ty.name(),
                display::input_short(&ex, None)
            ),
            _ => format!("fails on the example {}", display::input_short(&ex, None)),
        };
        let _ = writeln!(out, "\t{name}: s-op, {on_example}");
        let Some(vocab_text) = rest.first() else {
            return Ok(());
        };
        let (_, vocab) = front::parse_input(vocab_text)?;
        crate::compile::check_vocab(&vocab)?;
        let max_len: usize = match rest.get(1) {
            Some(t) => max_len_arg(t)?,
            None => 4,
        };
        if vocab.is_empty() {
            return Err(Diag::error(
                codes::REPL_COMMAND,
                "the vocab must not be empty",
            ));
        }
        crate::compile::check_max_len(max_len)?;
        let mode = crate::compile::verify::Mode::Auto {
            samples: crate::compile::verify::DEFAULT_SAMPLES,
            seed: 0,
        };
        let (inputs, exhaustive, _) = crate::compile::verify::inputs(&vocab, max_len, mode)?;
        let mut set: Vec<Value> = Vec::new();
        let mut types: Vec<SeqType> = Vec::new();
        let mut failures = 0usize;
        for input in &inputs {
            if self.interrupt.load(Ordering::Relaxed) {
                return Err(Diag::error(codes::INTERRUPTED, "interrupted"));
            }
            match interp::evaluate_one(&self.session.graph, input, id) {
                Ok(Output::Sop(col)) => {
                    if !types.contains(&col.ty) {
                        types.push(col.ty);
                    }
                    for x in col.values {
                        if !set.iter().any(|y| y.same(&x)) {
                            set.push(x);
                        }
                    }
                }
                _ => failures += 1,
            }
        }
        set.sort_by(crate::compile::valueset::value_order);
        let shown: Vec<String> = set.iter().take(40).map(Value::repr).collect();
        let more = if set.len() > 40 { ", ..." } else { "" };
        let how = if exhaustive {
            format!("all {} inputs", inputs.len())
        } else {
            format!(
                "{} seeded random inputs (too many to enumerate)",
                inputs.len()
            )
        };
        let _ = writeln!(
            out,
            "\tvalue set over {how} of vocab {} up to length {max_len}: {} value(s) {{{}{more}}}",
            display::input_repr(&vocab),
            set.len(),
            shown.join(", ")
        );
        if failures > 0 {
            let _ = writeln!(out, "\t({failures} of those inputs fail to evaluate)");
        }
        Ok(())
    }

    /// `:explain`, `:verify`, `:compile`.
    fn cmd_compile(&mut self, cmd: &str, args: &[&str], out: &mut dyn Write) -> Result<(), Diag> {
        use crate::compile::{self, verify};
        use crate::workflow;
        let node = match self.lookup(args[0])? {
            MVal::Sop(id) => id,
            other => {
                return Err(Diag::error(
                    codes::REPL_COMMAND,
                    format!("{} is {}, not an s-op", args[0], other.kind_name()),
                ));
            }
        };
        let vocab = crate::compile::parse_vocab(args[1])?;
        let max_len = max_len_arg(args[2])?;
        let opts = compile::Options::new(vocab, max_len);
        let source = compile::Source {
            text: String::new(),
            file: "<repl>".into(),
            sop: args[0].to_string(),
        };
        // The CLI's orchestration (`workflow`): `:compile` writes only a
        // model that was verified; `:explain` and `:verify` show it.
        let check = match cmd {
            "compile" => compile::Check::default(),
            _ => compile::Check::Skip,
        };
        let (graph, sources) = (&self.session.graph, &self.session.sources);
        let compiled = workflow::compile(graph, sources, node, &opts, &source, check)?;
        let lines: Vec<String> = match cmd {
            "explain" => workflow::explain(graph, sources, node, &compiled, false)
                .lines()
                .map(str::to_string)
                .collect(),
            "verify" => {
                let mode = verify::Mode::Auto {
                    samples: verify::DEFAULT_SAMPLES,
                    seed: 0,
                };
                let v =
                    workflow::verify(graph, sources, &compiled, node, mode, self.backend, false)?;
                for line in v.notes.iter().chain(&v.lines()) {
                    let _ = writeln!(out, "\t{line}");
                }
                if v.report.mismatches == 0 {
                    v.outcome(graph, node)?;
                }
                Vec::new()
            }
            _ => workflow::save(graph, sources, node, &compiled, Path::new(args[3]))?,
        };
        for line in lines {
            let _ = writeln!(out, "\t{line}");
        }
        Ok(())
    }

    /// `:backend [NAME]`: set where `:verify` runs models (checking that
    /// the device opens), or show it.
    fn cmd_backend(&mut self, name: Option<&str>, out: &mut dyn Write) -> Result<(), Diag> {
        use crate::gpu::backend::Backend;
        let backend = match name {
            None => self.backend,
            Some(n) => Backend::from_name(n).ok_or_else(|| {
                Diag::error(codes::REPL_COMMAND, format!("unknown backend {n}"))
                    .help(format!("the backends are {}", Backend::NAMES.join(", ")))
            })?,
        };
        let device = match backend {
            Backend::Cpu => None,
            _ => match crate::gpu::device::device() {
                Ok(d) => Some(d),
                Err(d) if backend == Backend::Wgpu => return Err(d),
                Err(_) => None,
            },
        };
        self.backend = backend;
        let runs_on = match (&device, backend) {
            (Some(d), Backend::Wgpu) => d.info.to_string(),
            (Some(d), Backend::Auto) if d.is_gpu => d.info.to_string(),
            (Some(d), _) => format!("cpu (the only adapter, {}, is a CPU driver)", d.info.name),
            (None, Backend::Auto) => "cpu (no GPU adapter)".to_string(),
            (None, _) => "cpu".to_string(),
        };
        let _ = writeln!(out, "	backend {backend}: models run on {runs_on}");
        Ok(())
    }

    fn cmd_layers(&self, name: &str, out: &mut dyn Write) -> Result<(), Diag> {
        let id = match self.lookup(name)? {
            MVal::Sop(id) | MVal::Sel(id) => id,
            other => {
                return Err(Diag::error(
                    codes::REPL_COMMAND,
                    format!("{name} is {}, not an s-op or a selector", other.kind_name()),
                ));
            }
        };
        let a = crate::ir::layers::analyse(&self.session.graph, id);
        let heads: Vec<String> = a.heads.iter().map(usize::to_string).collect();
        let mlps: Vec<String> = a.mlps.iter().map(usize::to_string).collect();
        let _ = writeln!(
            out,
            "\t{name}: {} layer{}; heads per layer: [{}]; elementwise ops per layer: [{}]",
            a.n_layers,
            if a.n_layers == 1 { "" } else { "s" },
            heads.join(", "),
            mlps.join(", ")
        );
        Ok(())
    }
}

/// Where a function was defined, as the original names it: `console` for
/// the prompt, else the file's stem.
fn origin(f: &front::Func) -> String {
    match f {
        front::Func::User(u) if u.origin.starts_with("<repl") => "console".to_string(),
        front::Func::User(u) => u.origin.to_string(),
        front::Func::SelectorWidth | front::Func::Hint(_) => "rasplib".to_string(),
    }
}

/// For `for` loops at the prompt, show each name once, with its final value.
fn dedup_loop_echoes(echoes: &[Echo]) -> Vec<&Echo> {
    // From the end: an assignment is shown unless a later one has its name.
    let mut later: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut out: Vec<&Echo> = echoes
        .iter()
        .rev()
        .filter(|e| match e {
            Echo::Assigned { name, .. } => later.insert(name),
            _ => true,
        })
        .collect();
    out.reverse();
    out
}

/// The full-sequence display: input and output aligned in columns.
fn full_seq(input: &[Value], values: &[Value], ty: SeqType) -> String {
    let ins: Vec<String> = input.iter().map(display::small_str).collect();
    let outs: Vec<String> = values.iter().map(display::small_str).collect();
    let widths: Vec<usize> = ins
        .iter()
        .zip(&outs)
        .map(|(a, b)| a.chars().count().max(b.chars().count()))
        .collect();
    let row = |cells: &[String]| -> String {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!(
        " \t \t in:  {}\n \t \t out: {}  ({})\n",
        row(&ins).trim_end(),
        row(&outs).trim_end(),
        ty.name()
    )
}

/// A drawing's file name: `NAME-INPUT`, with nothing a shell would
/// interpret (letters, digits, `_`, `-`, `.` only; runs of anything else
/// become one `_`), the input cut to 40 characters (then its length
/// follows).
fn file_stem(name: &str, input: &[Value]) -> String {
    fn clean(text: &str) -> String {
        let mut out = String::new();
        for c in text.chars() {
            let c = if c.is_alphanumeric() || "_-.".contains(c) {
                c
            } else {
                '_'
            };
            if !(c == '_' && out.ends_with('_')) {
                out.push(c);
            }
        }
        out.trim_matches(['_', '.']).to_string()
    }
    let name = match clean(name) {
        n if n.is_empty() => "flow".to_string(),
        n => n,
    };
    let text = clean(&display::input_repr(input));
    if text.chars().count() > 40 {
        let cut: String = text.chars().take(40).collect();
        return format!("{name}-{}-{}", cut.trim_end_matches(['_', '.']), input.len());
    }
    format!("{name}-{text}")
}

/// A command's MAXLEN: a whole number, 1 or more.
fn max_len_arg(text: &str) -> Result<usize, Diag> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(Diag::error(
            codes::REPL_COMMAND,
            format!("MAXLEN must be a whole number, 1 or more; got {text}"),
        )),
    }
}

fn json_string(s: &str) -> String {
    // RASP strings have no escapes: refuse quotes rather than mangle them.
    format!("\"{}\"", s.replace('"', ""))
}

pub fn help_text() -> String {
    let mut s = String::from(
        "\tStatements end with `;` (several per line are fine); `def`/`for` bodies may span lines.\n\
         \t  name = expr;            define (echoed on the running example)\n\
         \t  sop(\"input\");           apply an s-op or selector to an input\n\
         \t  load \"file\";            run file.rasp and import its public names\n\
         \t  draw(sop[, input]);     write the computation flow to comp_flows/ (SVG and DOT; :set draw_dir)\n\
         \t  set [s-op|selector] example E     change the running example\n\
         \t  show [s-op|selector] example      show it\n\
         \t  [s-op|selector] examples on|off   echo examples or not\n\
         \t  full seq display on|off           aligned input/output echo\n\
         \t  exit / quit / Ctrl-D              leave; Ctrl-C cancels the current entry\n\
         \tCommands:\n",
    );
    for (c, what) in COMMANDS {
        s.push_str(&format!("\t  {c:<30} {what}\n"));
    }
    s
}

/// Run a REPL over piped input: statements are read and echoed like at the
/// prompt, without prompts. Returns the exit status (1 if any error).
pub fn run_piped(
    repl: &mut Repl,
    input: impl BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let mut buffer = String::new();
    for line in input.lines() {
        let Ok(line) = line else {
            let d = Diag::error(
                codes::PARSE_ENCODING,
                "standard input is not valid UTF-8 text",
            );
            repl.diag(&d, out, err);
            break;
        };
        if buffer.trim().is_empty() && line.trim_start().starts_with(':') {
            if repl.entry(&line, out, err) == Control::Exit {
                return i32::from(repl.errors > 0);
            }
            continue;
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if crate::syntax::is_incomplete(&buffer) {
            continue;
        }
        let text = std::mem::take(&mut buffer);
        if repl.entry(&text, out, err) == Control::Exit {
            return i32::from(repl.errors > 0);
        }
    }
    if !buffer.trim().is_empty() {
        repl.entry(&buffer, out, err);
    }
    i32::from(repl.errors > 0)
}

/// `rasp repl`: interactive on a terminal, a transcript otherwise.
pub fn main(files: &[PathBuf], color: crate::diag::Color) -> i32 {
    use std::io::IsTerminal;
    let interactive = io::stdin().is_terminal() && io::stdout().is_terminal();
    let mut repl = Repl::new(color.enabled(interactive && io::stderr().is_terminal()));
    if interactive {
        line::interactive(repl, files)
    } else {
        let stderr = io::stderr();
        let mut out = crate::fsio::stdio::Stdout;
        let mut err = stderr.lock();
        repl.load_files(files, &mut out, &mut err);
        run_piped(&mut repl, io::stdin().lock(), &mut out, &mut err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawing_file_names_have_no_shell_metacharacters() {
        let strs = |s: &str| -> Vec<Value> { s.chars().map(|c| Value::str(&c.to_string())).collect() };
        assert_eq!(file_stem("hist", &strs("hello")), "hist-hello");
        assert_eq!(file_stem("a + b", &strs("§x'y")), "a_b-x_y");
        let long = file_stem("rev", &strs(&"ab;".repeat(100)));
        assert_eq!(long, format!("rev-{}-300", "ab_".repeat(13) + "a"));
        for stem in [long, file_stem("(x)", &[Value::Int(1), Value::str("$(rm -rf)")])] {
            assert!(stem.chars().all(|c| c.is_alphanumeric() || "_-.".contains(c)), "{stem}");
        }
    }
}
