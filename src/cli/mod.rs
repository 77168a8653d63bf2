//! The command line: its grammar (`args.rs`), where inputs come from
//! (`inputs.rs`), and the commands: `eval`, `run`, `check`, `draw` here,
//! the model commands in `model.rs`, `gen` and `test` in their own files.

use std::io::Write;
use std::path::PathBuf;

mod args;
mod fmt_cmd;
mod gen_cmd;
mod inputs;
mod model;
mod numbers;
mod test_cmd;

pub use args::{Cli, Command, InputArgs, RunArgs, TargetArgs};
use gen_cmd::gen_cmd;
use model::{compile_cmd, exec_cmd, explain_cmd, verify_cmd};
pub use numbers::parse_args;
use test_cmd::test_cmd;

use crate::diag::{Diag, Reporter, codes};
use crate::front::{self, MVal, RunResult, Session};
use crate::interp::{self, display};
use crate::ir::{NodeId, Value};

pub use crate::compile::parse_vocab;
pub use crate::front::parse_input;

/// Run the command line; returns the process exit status (a command that
/// writes files and kept working when standard output failed gets the
/// failure's status here: `fsio::stdio::finish`).
pub fn main_with(cli: Cli) -> i32 {
    let status = command(cli);
    crate::fsio::stdio::finish(status)
}

fn command(cli: Cli) -> i32 {
    let reporter = Reporter::new(cli.color);
    for (limit, value) in &cli.limits {
        limit.set(*value);
    }
    match cli.command {
        Some(Command::Test(a)) => test_cmd(&reporter, cli.color, &a),
        Some(Command::Eval {
            file,
            sop,
            json,
            example,
            max_len,
            semantics,
            inputs,
        }) => eval(
            &reporter,
            &file,
            &sop,
            json,
            example.as_deref(),
            Settings {
                max_len,
                semantics: semantics.semantics(),
            },
            &inputs,
        ),
        Some(Command::Completions { shell }) => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "rasp", &mut crate::fsio::stdio::Stdout);
            0
        }
        Some(Command::Man) => {
            use clap::CommandFactory;
            let man = clap_mangen::Man::new(Cli::command());
            let mut out = Vec::new();
            match man.render(&mut out) {
                Ok(()) => {
                    let _ = crate::fsio::stdio::Stdout.write_all(&out);
                    0
                }
                Err(e) => {
                    errln!("rasp: cannot write the manual page: {e}");
                    1
                }
            }
        }
        Some(Command::ExplainError { code }) => explain_error(&reporter, code.as_deref()),
        Some(Command::Fmt(a)) => fmt_cmd::fmt_cmd(&reporter, &a),
        Some(Command::Lsp {
            max_message_bytes, ..
        }) => crate::lsp::run(&crate::lsp::Options { max_message_bytes }),
        Some(Command::External(args)) => external(&reporter, &args, cli.color),
        Some(Command::Run {
            file,
            inputs,
            all,
            max_len,
            semantics,
        }) => run(
            &reporter,
            &file,
            all,
            Settings {
                max_len,
                semantics: semantics.semantics(),
            },
            &inputs,
        ),
        Some(Command::Check { files, format }) => check(&reporter, &files, format),
        Some(Command::Repl { files }) => crate::repl::main(&files, cli.color),
        Some(Command::Draw {
            file,
            sop,
            input,
            semantics,
            output,
        }) => draw(
            &reporter,
            &file,
            &sop,
            input.as_deref(),
            semantics.semantics(),
            &output,
        ),
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
            allow_modified,
            run,
            inputs,
        }) => exec_cmd(
            &reporter,
            &dir,
            json,
            crate::model::io::OpenOptions { allow_modified },
            &run,
            &inputs,
        ),
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
                out!("{}", crate::dataset::tasks::render_list());
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

/// `rasp FILE.rasp`: the REPL with the file loaded; anything else that is
/// not a command is an error that suggests the nearest command.
fn external(reporter: &Reporter, args: &[String], color: crate::diag::Color) -> i32 {
    use clap::CommandFactory;
    let first = args.first().map(String::as_str).unwrap_or_default();
    let path = std::path::Path::new(first);
    if first.ends_with(".rasp") || path.is_file() {
        // clap hands everything after the file over unparsed: take the
        // global `--color` back out; any other option is a mistake.
        let mut color = color;
        let mut files = Vec::new();
        let mut rest = args.iter();
        while let Some(a) = rest.next() {
            let value = match a.strip_prefix("--color") {
                Some("") => rest.next().map(String::as_str),
                Some(v) if v.starts_with('=') => Some(&v[1..]),
                _ if a.starts_with('-') && a.len() > 1 => {
                    reporter.report(
                        &Diag::error(codes::CLI_INPUT, format!("unknown option `{a}`"))
                            .help("`rasp FILE.rasp...` opens the REPL on files; `rasp repl --help` says more"),
                    );
                    return 2;
                }
                _ => {
                    files.push(PathBuf::from(a));
                    continue;
                }
            };
            match value
                .and_then(|v| <crate::diag::Color as clap::ValueEnum>::from_str(v, true).ok())
            {
                Some(c) => color = c,
                None => {
                    reporter.report(&Diag::error(
                        codes::CLI_INPUT,
                        "`--color` takes auto, always or never",
                    ));
                    return 2;
                }
            }
        }
        return crate::repl::main(&files, color);
    }
    let commands: Vec<String> = Cli::command()
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_string())
        .collect();
    let mut d = Diag::error(
        codes::CLI_INPUT,
        format!("`{first}` is neither a command nor a file"),
    );
    d = match front::suggest(first, &commands) {
        Some(s) => d.help(format!(
            "did you mean `rasp {s}`? (`rasp --help` lists the commands)"
        )),
        None => d.help(format!(
            "the commands are {}; `rasp FILE.rasp` opens the REPL on a file",
            commands.join(", ")
        )),
    };
    reporter.report(&d);
    2
}

/// `rasp explain-error [CODE]`: a code's catalogue entry, or every code
/// with its one-line meaning.
fn explain_error(reporter: &Reporter, code: Option<&str>) -> i32 {
    use crate::diag::catalogue;
    let Some(code) = code else {
        for e in catalogue::parse(catalogue::TEXT) {
            outln!("{:<34} {}", e.code, catalogue::summary(&e));
        }
        return 0;
    };
    if let Some(e) = catalogue::lookup(code) {
        out!("{}", e.text);
        return 0;
    }
    let known: Vec<String> = codes::ALL.iter().map(|c| c.to_string()).collect();
    let full = catalogue::full_code(code);
    let d = Diag::error(codes::CLI_INPUT, format!("no diagnostic code `{code}`"));
    let d = match front::suggest(&full, &known) {
        Some(s) => d.help(format!(
            "did you mean `{s}`? (`rasp explain-error` lists every code)"
        )),
        None => d.help("`rasp explain-error` lists every code"),
    };
    reporter.report(&d);
    2
}

/// What `eval` and `run` set in their session before loading the program,
/// so that every evaluation (the program's own `sop(input)` calls too) has
/// them.
#[derive(Clone, Copy, Debug)]
struct Settings {
    max_len: usize,
    semantics: interp::Semantics,
}

impl Settings {
    fn session(self) -> Session {
        let mut session = Session::new();
        session.settings.max_len = self.max_len;
        session.settings.semantics = self.semantics;
        session
    }
}

/// The inputs, each checked against the session's length limit.
fn read_inputs(session: &Session, inputs: &InputArgs) -> Result<Vec<inputs::Input>, Diag> {
    let parsed = inputs.read()?;
    for (_, v) in &parsed {
        session.check_input_len(v)?;
    }
    Ok(parsed)
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
    front::value::lookup_target(
        scope,
        name,
        &file.display().to_string(),
        result.has_errors(),
    )
}

fn eval(
    reporter: &Reporter,
    file: &std::path::Path,
    sop: &str,
    json: bool,
    example: Option<&str>,
    settings: Settings,
    inputs: &InputArgs,
) -> i32 {
    let mut session = settings.session();
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
    if inputs.is_empty() {
        reporter.report(
            &Diag::error(codes::CLI_INPUT, "no inputs to evaluate").help(
                "give inputs (\"hello\", [1, 2, 3]), `--inputs FILE` or `-` for standard input",
            ),
        );
        return 2;
    }
    let parsed = match read_inputs(&session, inputs) {
        Ok(p) => p,
        Err(d) => {
            reporter.report(&d);
            return 2;
        }
    };
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
    let outputs = interp::evaluate_batch(&session.graph, &values, node, session.settings.semantics);
    let mut out = std::io::BufWriter::new(crate::fsio::stdio::Stdout);
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
                reporter.report(&e.to_diag_for(&session.graph, &session.sources, input, node));
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
    settings: Settings,
    inputs: &InputArgs,
) -> i32 {
    let mut session = settings.session();
    let mut parsed: Vec<Vec<Value>> = match read_inputs(&session, inputs) {
        Ok(p) => p.into_iter().map(|(_, v)| v).collect(),
        Err(d) => {
            reporter.report(&d);
            return 2;
        }
    };
    if parsed.is_empty() {
        parsed.push(session.settings.sop_example.clone());
    }
    let Some((scope, result)) = load(reporter, &mut session, file) else {
        return 1;
    };
    let mut status = i32::from(result.has_errors());
    let named = front::value::named_values(&scope, all);
    let mut out = std::io::BufWriter::new(crate::fsio::stdio::Stdout);
    for input in &parsed {
        for (name, res) in named.iter().zip(interp::evaluate_each(
            &session.graph,
            input,
            &named,
            session.settings.semantics,
        )) {
            match res {
                Ok(o) => {
                    let _ = writeln!(out, "{}", display_output(&name.0, input, &o));
                }
                Err(e) => {
                    let _ = out.flush();
                    reporter.report(&e.to_diag_for(
                        &session.graph,
                        &session.sources,
                        input,
                        name.1,
                    ));
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
    semantics: interp::Semantics,
    output: &std::path::Path,
) -> i32 {
    let mut session = Session::new();
    session.settings.semantics = semantics;
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
    let flow = match crate::repl::draw::flow(
        &session.graph,
        &session.sources,
        node,
        Some((&input, session.settings.semantics)),
    ) {
        Ok(f) => f,
        Err(d) => {
            reporter.report(&d);
            return 1;
        }
    };
    let dest = match crate::fsio::target::output(output, &session.read_files(), "the drawing") {
        Ok(d) => d,
        Err(d) => {
            reporter.report(&d);
            return 2;
        }
    };
    let text = if output.extension().is_some_and(|e| e == "dot") {
        flow.to_dot()
    } else {
        flow.to_svg()
    };
    if let Err(d) = crate::fsio::write_file(&dest, text.as_bytes(), codes::OUTPUT_WRITE) {
        reporter.report(&d);
        return 1;
    }
    if let Some(note) = dest.stream_note("") {
        errln!("{note}");
    }
    outln!("wrote {}", output.display());
    0
}

fn check(reporter: &Reporter, files: &[PathBuf], format: args::DiagFormat) -> i32 {
    let mut status = 0;
    for file in files {
        let mut session = Session::new();
        let loaded = if format == args::DiagFormat::Short {
            let name = file.display().to_string();
            match session.run_path(file) {
                Ok((scope, result)) => {
                    for d in &result.diags {
                        outln!("{}", d.short(&session.sources, &name));
                    }
                    Some((scope, result))
                }
                Err(d) => {
                    outln!("{}", d.short(&session.sources, &name));
                    None
                }
            }
        } else {
            load(reporter, &mut session, file)
        };
        let Some((scope, result)) = loaded else {
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
            errln!("{}: {errors} error(s)", file.display());
        } else {
            outln!(
                "{}: ok ({sops} s-ops, {sels} selectors, {funcs} functions)",
                file.display()
            );
        }
    }
    status
}
