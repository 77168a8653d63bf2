//! The command line: `rasp eval`, `rasp run`, `rasp check`.

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

mod gen_cmd;
mod model;
mod test_cmd;

use gen_cmd::{GenArgs, gen_cmd};
use model::{compile_cmd, exec_cmd, explain_cmd, verify_cmd};
use test_cmd::{TestArgs, test_cmd};

use crate::diag::{Color, Diag, Reporter, codes};
use crate::front::{self, MVal, RunResult, Session};
use crate::interp::{self, display};
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
    /// Compile an s-op into transformer weights: DIR/model.safetensors,
    /// DIR/config.json (TransformerLens), DIR/rasp.json (how to use them).
    /// The model is checked against the interpreter first (a seeded sample
    /// covering every length) and nothing is written if they disagree.
    Compile {
        file: PathBuf,
        sop: String,
        #[command(flatten)]
        target: TargetArgs,
        /// Output folder.
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
        /// Inputs to check before writing (spread over every length; all of
        /// a length when there are few).
        #[arg(long, value_name = "K", default_value_t = crate::compile::DEFAULT_CHECK_SAMPLES)]
        verify_samples: usize,
        /// Seed of the check's samples.
        #[arg(long, value_name = "S", default_value_t = 0)]
        seed: u64,
        /// Write the model without checking it.
        #[arg(long, conflicts_with = "verify_samples")]
        no_verify: bool,
    },
    /// Run a compiled model (a folder written by `rasp compile`) on inputs.
    Exec {
        dir: PathBuf,
        /// Print one JSON line per input, as `rasp eval --json` does.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        run: RunArgs,
        /// Inputs, as for `eval`.
        #[arg(required_unless_present = "info")]
        inputs: Vec<String>,
    },
    /// Compile, then check the model against the interpreter on every input
    /// up to the max length (or on seeded samples when there are more than
    /// 200,000 inputs).
    Verify {
        file: PathBuf,
        sop: String,
        #[command(flatten)]
        target: TargetArgs,
        /// Check every input, however many.
        #[arg(long, conflicts_with = "samples")]
        exhaustive: bool,
        /// Check this many seeded random inputs.
        #[arg(long, value_name = "K")]
        samples: Option<usize>,
        #[arg(long, value_name = "S", default_value_t = 0)]
        seed: u64,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Show how an s-op compiles: layers, heads, MLP sizes, residual width,
    /// parameters, and where each s-op lives.
    Explain {
        file: PathBuf,
        sop: String,
        #[command(flatten)]
        target: TargetArgs,
        /// Also show, per head and per MLP, the smallest margin.
        #[arg(long)]
        margins: bool,
    },
    /// Generate a dataset: examples of an s-op on sampled inputs, as JSON
    /// lines or text, reproducible from the seed and shardable
    /// (`rasp gen FILE SOP --vocab V ...`, or a preset: `rasp gen --task
    /// sort`; `rasp gen --list` shows the presets).
    Gen(GenArgs),
    /// Snapshot-test programs: each declares its tests in comments
    /// (`# test: "hello" [1, 2]`, `# test sops: a, b`, `# test compile: SOP
    /// vocab=abc max_len=5`); its values, load diagnostics and compile
    /// results are compared with `__snapshots__/NAME.snap` beside it. A
    /// difference prints a diff, writes `NAME.snap.new` and fails; with
    /// `CI` set nothing is written.
    Test(TestArgs),
    /// The interactive session (the default when no command is given).
    /// Files are loaded first. With stdin not a terminal, reads statements
    /// from stdin and prints the transcript without prompts.
    Repl { files: Vec<PathBuf> },
    /// Draw the computation flow of an s-op: layers, heads, values.
    Draw {
        file: PathBuf,
        sop: String,
        /// The input whose values are shown (JSON; default "hello").
        #[arg(long, value_name = "INPUT")]
        input: Option<String>,
        /// Where to write; `.dot` writes Graphviz DOT, anything else SVG.
        #[arg(short, long, value_name = "PATH")]
        output: PathBuf,
    },
}

pub use crate::front::parse_input;

/// Where a model runs.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Where to run the model: the CPU, a wgpu adapter (Vulkan, Metal,
    /// DX12, GL; WGPU_BACKEND / WGPU_ADAPTER_NAME choose), or a GPU when
    /// there is one, else the CPU.
    #[arg(long, value_enum, default_value_t = crate::gpu::backend::Backend::Cpu)]
    pub backend: crate::gpu::backend::Backend,
    /// Print the device the model runs on (name, graphics API, driver) on
    /// stderr.
    #[arg(long)]
    pub info: bool,
}

/// What to compile for.
#[derive(clap::Args, Debug, Clone)]
pub struct TargetArgs {
    /// The input tokens: a JSON list (`[1, 2, 3]`), a JSON string (one
    /// token per character), comma-separated tokens (`a,b,c`, strings), or
    /// a word whose characters are the tokens (`abc`).
    #[arg(long, value_name = "V")]
    pub vocab: String,
    /// The longest input the model must handle.
    #[arg(long, value_name = "N")]
    pub max_len: usize,
    /// Compile a causal (decoder) model: position i computes the program
    /// on the prefix up to i (verification checks exactly that).
    #[arg(long)]
    pub causal: bool,
    /// Refuse models estimated to have more parameters than this.
    #[arg(long, value_name = "P", default_value_t = crate::compile::DEFAULT_MAX_PARAMS)]
    pub max_params: u64,
}

pub use crate::compile::parse_vocab;

/// Run the command line; returns the process exit status.
pub fn main_with(cli: Cli) -> i32 {
    let reporter = Reporter::new(cli.color);
    match cli.command {
        Some(Command::Test(a)) => test_cmd(&reporter, cli.color, &a),
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
        Some(Command::Repl { files }) => crate::repl::main(&files, cli.color),
        Some(Command::Draw {
            file,
            sop,
            input,
            output,
        }) => draw(&reporter, &file, &sop, input.as_deref(), &output),
        Some(Command::Compile {
            file,
            sop,
            target,
            output,
            verify_samples,
            seed,
            no_verify,
        }) => {
            let check = if no_verify {
                crate::compile::Check::Skip
            } else {
                crate::compile::Check::Verify {
                    samples: verify_samples,
                    seed,
                }
            };
            compile_cmd(&reporter, &file, &sop, &target, &output, check)
        }
        Some(Command::Exec {
            dir,
            json,
            run,
            inputs,
        }) => exec_cmd(&reporter, &dir, json, &run, &inputs),
        Some(Command::Verify {
            file,
            sop,
            target,
            exhaustive,
            samples,
            seed,
            run,
        }) => {
            use crate::compile::verify::{DEFAULT_SAMPLES, Mode};
            let mode = if exhaustive {
                Mode::Exhaustive
            } else if let Some(k) = samples {
                Mode::Samples { samples: k, seed }
            } else {
                Mode::Auto {
                    samples: DEFAULT_SAMPLES,
                    seed,
                }
            };
            verify_cmd(&reporter, &file, &sop, &target, mode, &run)
        }
        Some(Command::Explain {
            file,
            sop,
            target,
            margins,
        }) => explain_cmd(&reporter, &file, &sop, &target, margins),
        Some(Command::Gen(args)) => {
            if args.list {
                print!("{}", crate::dataset::tasks::render_list());
                return 0;
            }
            match gen_cmd(&reporter, &args) {
                Ok(()) => 0,
                Err((d, code)) => {
                    if let Some(d) = d {
                        reporter.report(&d);
                    }
                    code
                }
            }
        }
        None => crate::repl::main(&[], cli.color),
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

pub use crate::interp::display::named_output as display_output;

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
    let named = front::value::named_values(&scope, all);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for input in &parsed {
        for (name, res) in named
            .iter()
            .zip(interp::evaluate_each(&session.graph, input, &named))
        {
            match res {
                Ok(o) => {
                    let _ = writeln!(out, "{}", display_output(&name.0, input, &o));
                }
                Err(e) => {
                    let _ = out.flush();
                    reporter.report(&e.to_diag(&session.graph, &session.sources, input));
                    status = 1;
                }
            }
        }
    }
    let _ = out.flush();
    status
}

fn draw(
    reporter: &Reporter,
    file: &std::path::Path,
    sop: &str,
    input: Option<&str>,
    output: &std::path::Path,
) -> i32 {
    let mut session = Session::new();
    let input = match input.map(parse_input) {
        Some(Ok((_, v))) => v,
        Some(Err(d)) => {
            reporter.report(&d);
            return 2;
        }
        None => session.settings.sop_example.clone(),
    };
    if let Err(d) = session.check_input_len(&input) {
        reporter.report(&d);
        return 2;
    }
    let Some((scope, result)) = load(reporter, &mut session, file) else {
        return 1;
    };
    let node = match lookup_target(&scope, sop, file, &result) {
        Ok((node, _)) => node,
        Err(d) => {
            reporter.report(&d);
            return 1;
        }
    };
    let flow = match crate::repl::draw::flow(&session.graph, &session.sources, node, Some(&input)) {
        Ok(f) => f,
        Err(d) => {
            reporter.report(&d);
            return 1;
        }
    };
    let text = if output.extension().is_some_and(|e| e == "dot") {
        flow.to_dot()
    } else {
        flow.to_svg()
    };
    if let Err(e) = std::fs::write(output, text) {
        reporter.report(&Diag::error(
            codes::LOAD_IO,
            format!("could not write {}: {e}", output.display()),
        ));
        return 1;
    }
    println!("wrote {}", output.display());
    0
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
