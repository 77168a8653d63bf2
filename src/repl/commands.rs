//! The `:` commands: `:help`, `:type`, `:layers`, `:explain`, `:verify`,
//! `:compile` (through `workflow`), `:backend`, `:set`, `:env`, `:reset`,
//! `:quit`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use crate::diag::{Diag, codes};
use crate::front::{self, MVal, Session, value};
use crate::interp::{self, Output, SeqType, display};
use crate::ir::Value;

use super::{Control, Repl};

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
        "causal on|off (RASP-L's causal evaluation: echoes, calls, draw, :compile), draw_dir DIR (where `draw` writes; comp_flows/), limit NAME N (README: Limits); alone, show them",
    ),
    (":env", "the names you defined"),
    (":reset", "forget every definition and start over"),
    (":quit", "leave (also `exit`, `quit`, Ctrl-D)"),
];

impl Repl {
    pub(super) fn command(
        &mut self,
        cmd: &str,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Control {
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
                // A setting, not a definition: the semantics stays.
                let semantics = self.session.settings.semantics;
                self.session = Session::new();
                self.session.interrupt = interrupt;
                self.session.settings.semantics = semantics;
                self.scope = self.session.new_repl_scope();
                let still = if semantics.is_causal() {
                    " (evaluation stays causal)"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "\tsession reset: every definition is gone, the running example is \"hello\"{still}"
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

    /// `:set`: show the settings; `:set causal on|off`, `:set draw_dir
    /// DIR`, `:set limit NAME N`: change one (a limit for the whole
    /// process, as `--limit NAME=N`).
    fn cmd_set(&mut self, args: &[&str], out: &mut dyn Write) -> Result<(), Diag> {
        use crate::diag::limits::{self, Limit};
        match args {
            [] => {
                let causal = on_off(self.session.settings.semantics.is_causal());
                let _ = writeln!(out, "\tcausal {causal}");
                let _ = writeln!(out, "\tdraw_dir {}", self.draw_dir.display());
                for l in Limit::ALL {
                    let _ = writeln!(out, "\tlimit {} {}", l.name(), l.get());
                }
                Ok(())
            }
            ["causal", value @ ("on" | "off")] => {
                let sem = interp::Semantics::from_causal(*value == "on");
                self.session.settings.semantics = sem;
                let what = match sem {
                    interp::Semantics::Causal => {
                        "every selector sees only the keys at or before its query and `length` at position i is i + 1 (RASP-L); echoes, calls, draw and :compile/:verify/:explain follow"
                    }
                    interp::Semantics::Bidirectional => {
                        "every selector sees every key (the original's semantics)"
                    }
                };
                let _ = writeln!(out, "\tcausal {value}: {what}");
                Ok(())
            }
            ["causal", ..] => Err(Diag::error(
                codes::REPL_COMMAND,
                "usage: :set causal on|off",
            )),
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
            [name, ..] if !matches!(*name, "draw_dir" | "limit") => {
                let mut d = Diag::error(codes::REPL_COMMAND, format!("unknown setting {name}"));
                d = match front::suggest(name, &SETTINGS.map(String::from)) {
                    Some(s) => d.help(format!("did you mean {s}? (`:set` shows the settings)")),
                    None => {
                        d.help("the settings are: causal, draw_dir, limit NAME (`:set` shows them)")
                    }
                };
                Err(d)
            }
            _ => Err(Diag::error(
                codes::REPL_COMMAND,
                "usage: :set [causal on|off | draw_dir DIR | limit NAME N]",
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
            match interp::evaluate_one(
                &self.session.graph,
                input,
                id,
                self.session.settings.semantics,
            ) {
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
        // Under `:set causal on`, a causal model: the one that computes
        // the values the session shows.
        let opts = compile::Options {
            causal: self.session.settings.semantics.is_causal(),
            ..compile::Options::new(vocab, max_len)
        };
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

/// The `:set` settings, for "did you mean".
const SETTINGS: [&str; 3] = ["causal", "draw_dir", "limit"];

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
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
