//! The command line: `rasp eval`, `rasp run`, `rasp check`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diag::{Diag, codes};
use crate::front::{self, MVal, RunResult, Session};
use crate::interp::{self, Output, display};
use crate::ir::{NodeId, Value};

#[derive(Parser, Debug)]
#[command(
    name = "rasp",
    version,
    about = "RASP, the language of \"Thinking Like Transformers\": run, check and evaluate programs",
    propagate_version = true
)]
pub struct Cli {
    /// When to colour diagnostics.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    pub color: Color,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Evaluate one s-op or selector of a file on inputs.
    Eval {
        /// The program file.
        file: PathBuf,
        /// The name of the s-op or selector to evaluate.
        sop: String,
        /// Print one JSON line per input: {"input": ..., "output": [...]}.
        #[arg(long)]
        json: bool,
        /// The running example (a JSON value); it never changes the values.
        #[arg(long, value_name = "EX")]
        example: Option<String>,
        /// Longest input to evaluate.
        #[arg(long, value_name = "N", default_value_t = front::DEFAULT_MAX_LEN)]
        max_len: usize,
        /// Inputs: JSON strings ("hello", one token per character) or JSON
        /// lists of atoms ([1, 2.5, true, "ab"]). A bare word that is not
        /// JSON is taken as a string.
        #[arg(required = true)]
        inputs: Vec<String>,
    },
    /// Print every named s-op and selector of a file on inputs (default "hello").
    Run {
        file: PathBuf,
        /// Inputs, as for `eval`.
        inputs: Vec<String>,
        /// Also show names starting with `_` (private helpers).
        #[arg(long)]
        all: bool,
        /// Longest input to evaluate.
        #[arg(long, value_name = "N", default_value_t = front::DEFAULT_MAX_LEN)]
        max_len: usize,
    },
    /// Parse and build files without running them; report every diagnostic.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Most diagnostics shown in full for one file.
pub const MAX_SHOWN: usize = 50;

/// Where diagnostics go, and how they look.
pub struct Reporter {
    color: bool,
}

impl Reporter {
    pub fn new(choice: Color) -> Reporter {
        let color = match choice {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stderr().is_terminal()
            }
        };
        Reporter { color }
    }

    pub fn render(&self, d: &Diag) -> String {
        let theme = if self.color {
            miette::GraphicalTheme::unicode()
        } else {
            miette::GraphicalTheme::unicode_nocolor()
        };
        let handler = miette::GraphicalReportHandler::new_themed(theme);
        let mut out = String::new();
        if handler.render_report(&mut out, d).is_err() {
            out = format!("{}: {}\n", d.code, d.message);
        }
        out
    }

    pub fn report(&self, d: &Diag) {
        let text = self.render(d);
        let _ = std::io::stderr().write_all(text.as_bytes());
    }

    /// Report diagnostics, at most [`MAX_SHOWN`] of them in full.
    pub fn report_all(&self, ds: &[Diag]) {
        for d in ds.iter().take(MAX_SHOWN) {
            self.report(d);
        }
        if ds.len() > MAX_SHOWN {
            eprintln!("... and {} more diagnostics", ds.len() - MAX_SHOWN);
        }
    }
}

/// Parse one command-line input: JSON, or a bare word taken as a string.
pub fn parse_input(text: &str) -> Result<(serde_json::Value, Vec<Value>), Diag> {
    let json = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => v,
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
    let input = front::input_from_json(&json).map_err(|m| {
        Diag::error(codes::CLI_INPUT, format!("input {text}: {m}"))
            .help("write inputs as JSON: \"hello\" or [1, 2, 3]")
    })?;
    Ok((json, input))
}

/// Run the command line; returns the process exit status.
pub fn main_with(cli: Cli) -> i32 {
    let reporter = Reporter::new(cli.color);
    match cli.command {
        Some(Command::Eval {
            file,
            sop,
            json,
            example,
            max_len,
            inputs,
        }) => eval(
            &reporter,
            &file,
            &sop,
            json,
            example.as_deref(),
            max_len,
            &inputs,
        ),
        Some(Command::Run {
            file,
            inputs,
            all,
            max_len,
        }) => run(&reporter, &file, all, max_len, &inputs),
        Some(Command::Check { files }) => check(&reporter, &files),
        None => {
            use clap::CommandFactory;
            let _ = Cli::command().print_help();
            println!();
            0
        }
    }
}

/// Load a file, report its diagnostics; `None` when it cannot be read.
fn load(
    reporter: &Reporter,
    session: &mut Session,
    file: &std::path::Path,
) -> Option<(front::ScopeRef, RunResult)> {
    match session.run_path(file) {
        Ok((scope, result)) => {
            reporter.report_all(&result.diags);
            Some((scope, result))
        }
        Err(d) => {
            reporter.report(&d);
            None
        }
    }
}

fn lookup_target(
    scope: &front::ScopeRef,
    name: &str,
    file: &std::path::Path,
    result: &RunResult,
) -> Result<(NodeId, bool), Diag> {
    match front::value::lookup(scope, name) {
        Some(MVal::Sop(id)) => Ok((id, false)),
        Some(MVal::Sel(id)) => Ok((id, true)),
        Some(other) => Err(Diag::error(
            codes::CLI_NOT_SOP,
            format!(
                "`{name}` is {}, not an s-op or a selector",
                other.kind_name()
            ),
        )),
        None => {
            let mut d = Diag::error(
                codes::CLI_NO_SUCH_NAME,
                format!("`{name}` is not defined after loading {}", file.display()),
            );
            let suggestion = front::suggest(name, &front::value::visible_names(scope))
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            let errors = if result.has_errors() {
                "the file has errors (above); a statement that fails defines nothing"
            } else {
                ""
            };
            if !suggestion.is_empty() || !errors.is_empty() {
                d = d.help(format!("{suggestion}{errors}").trim_end().to_string());
            }
            Err(d)
        }
    }
}

fn eval(
    reporter: &Reporter,
    file: &std::path::Path,
    sop: &str,
    json: bool,
    example: Option<&str>,
    max_len: usize,
    inputs: &[String],
) -> i32 {
    let mut session = Session::new();
    session.settings.max_len = max_len;
    if let Some(ex) = example {
        match parse_input(ex) {
            Ok((_, v)) if !v.is_empty() => {
                session.settings.sop_example = v.clone();
                session.settings.sel_example = v;
            }
            Ok(_) => {}
            Err(d) => {
                reporter.report(&d);
                return 2;
            }
        }
    }
    let mut parsed = Vec::with_capacity(inputs.len());
    for text in inputs {
        match parse_input(text).and_then(|p| session.check_input_len(&p.1).map(|()| p)) {
            Ok(p) => parsed.push(p),
            Err(d) => {
                reporter.report(&d);
                return 2;
            }
        }
    }
    let Some((scope, result)) = load(reporter, &mut session, file) else {
        return 1;
    };
    let (node, _) = match lookup_target(&scope, sop, file, &result) {
        Ok(t) => t,
        Err(d) => {
            reporter.report(&d);
            return 1;
        }
    };
    let values: Vec<Vec<Value>> = parsed.iter().map(|(_, v)| v.clone()).collect();
    let outputs = interp::evaluate_batch(&session.graph, &values, node);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for ((json_in, input), res) in parsed.iter().zip(outputs) {
        match res {
            Ok(o) => {
                let line = if json {
                    format!(
                        "{{\"input\": {}, \"output\": {}}}",
                        serde_json::to_string(json_in).unwrap_or_default(),
                        display::json_output(&o)
                    )
                } else {
                    display_output(sop, input, &o)
                };
                let _ = writeln!(out, "{line}");
            }
            Err(e) => {
                let _ = out.flush();
                reporter.report(&e.to_diag(&session.graph, &session.sources, input));
                return 1;
            }
        }
    }
    let _ = out.flush();
    0
}

/// The original's display of a value on an input.
pub fn display_output(name: &str, input: &[Value], o: &Output) -> String {
    let call = format!("{name}({})", display::input_repr(input));
    match o {
        Output::Sop(col) => format!("{call} = {}", display::column_str(col)),
        Output::Selector(rows) => {
            format!(
                "{call} =\n{}",
                display::selector_matrix(input, rows, "\t").trim_end()
            )
        }
    }
}

fn run(
    reporter: &Reporter,
    file: &std::path::Path,
    all: bool,
    max_len: usize,
    inputs: &[String],
) -> i32 {
    let mut session = Session::new();
    session.settings.max_len = max_len;
    let mut parsed = Vec::new();
    for text in inputs {
        match parse_input(text).and_then(|p| session.check_input_len(&p.1).map(|()| p)) {
            Ok((_, v)) => parsed.push(v),
            Err(d) => {
                reporter.report(&d);
                return 2;
            }
        }
    }
    if parsed.is_empty() {
        parsed.push(session.settings.sop_example.clone());
    }
    let Some((scope, result)) = load(reporter, &mut session, file) else {
        return 1;
    };
    let mut status = i32::from(result.has_errors());
    let named: Vec<(String, NodeId)> = {
        let s = scope.borrow();
        s.names()
            .iter()
            .filter(|n| n.as_str() != "out" && (all || !n.starts_with('_')))
            .filter_map(|n| match s.get_local(n) {
                Some(MVal::Sop(id) | MVal::Sel(id)) => Some((n.clone(), id)),
                _ => None,
            })
            .collect()
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for input in &parsed {
        let targets: Vec<NodeId> = named.iter().map(|(_, id)| *id).collect();
        // Evaluate all names together; on an error, fall back to one by one
        // so every name that works is still shown.
        match interp::evaluate(&session.graph, input, &targets) {
            Ok(outs) => {
                for ((name, _), o) in named.iter().zip(outs) {
                    let _ = writeln!(out, "{}", display_output(name, input, &o));
                }
            }
            Err(_) => {
                for (name, id) in &named {
                    match interp::evaluate_one(&session.graph, input, *id) {
                        Ok(o) => {
                            let _ = writeln!(out, "{}", display_output(name, input, &o));
                        }
                        Err(e) => {
                            let _ = out.flush();
                            reporter.report(&e.to_diag(&session.graph, &session.sources, input));
                            status = 1;
                        }
                    }
                }
            }
        }
    }
    let _ = out.flush();
    status
}

fn check(reporter: &Reporter, files: &[PathBuf]) -> i32 {
    let mut status = 0;
    for file in files {
        let mut session = Session::new();
        let Some((scope, result)) = load(reporter, &mut session, file) else {
            status = 1;
            continue;
        };
        let (mut sops, mut sels, mut funcs) = (0, 0, 0);
        for n in scope.borrow().names() {
            match scope.borrow().get_local(n) {
                Some(MVal::Sop(_)) if n != "out" => sops += 1,
                Some(MVal::Sel(_)) if n != "out" => sels += 1,
                Some(MVal::Func(_)) => funcs += 1,
                _ => {}
            }
        }
        let errors = result.diags.iter().filter(|d| d.is_error()).count();
        if errors > 0 {
            status = 1;
            eprintln!("{}: {errors} error(s)", file.display());
        } else {
            println!(
                "{}: ok ({sops} s-ops, {sels} selectors, {funcs} functions)",
                file.display()
            );
        }
    }
    status
}
