//! The model commands: `compile`, `exec`, `verify`, `explain`, and the
//! executor `--backend` chooses.

use std::io::Write;

use super::{InputArgs, RunArgs, TargetArgs, display_output, load, lookup_target, parse_vocab};
use crate::diag::{Diag, Reporter, codes};
use crate::front::{self, Session};
use crate::interp::{self, Output, display};
use crate::ir::{NodeId, Value};
use crate::workflow;

/// Load a file and compile one of its s-ops, checked as `check` says.
fn compile_target(
    reporter: &Reporter,
    file: &std::path::Path,
    sop: &str,
    target: &TargetArgs,
    check: crate::compile::Check,
    output: Option<&std::path::Path>,
) -> Result<(Session, NodeId, crate::compile::Compiled), i32> {
    let vocab = parse_vocab(&target.vocab).map_err(|d| {
        reporter.report(&d);
        2
    })?;
    let mut session = Session::new();
    let Some((scope, result)) = load(reporter, &mut session, file) else {
        return Err(1);
    };
    let node = match lookup_target(&scope, sop, file, &result) {
        Ok((node, false)) => node,
        Ok((_, true)) => {
            reporter.report(&Diag::error(
                codes::CLI_NOT_SOP,
                format!("`{sop}` is a selector; compile an s-op (e.g. an aggregate of it)"),
            ));
            return Err(1);
        }
        Err(d) => {
            reporter.report(&d);
            return Err(1);
        }
    };
    let source = crate::compile::Source {
        text: front::read_source(file).unwrap_or_default(),
        file: workflow::source_label(file, output),
        sop: sop.to_string(),
    };
    let opts = crate::compile::Options {
        vocab,
        max_len: target.max_len,
        causal: target.causal,
        max_params: target.max_params,
    };
    match workflow::compile(
        &session.graph,
        &session.sources,
        node,
        &opts,
        &source,
        check,
    ) {
        Ok(c) => Ok((session, node, c)),
        Err(d) => {
            reporter.report(&d);
            Err(1)
        }
    }
}

pub(super) fn compile_cmd(
    reporter: &Reporter,
    file: &std::path::Path,
    sop: &str,
    target: &TargetArgs,
    output: &std::path::Path,
    check: crate::compile::Check,
) -> i32 {
    // Refuse a bad -o before the work (the program's own file known), and
    // again after it (every file the program loaded known).
    crate::fsio::stdio::keep_working();
    let files = crate::model::io::MODEL_FILES;
    let mut program = crate::fsio::Inputs::new();
    program.add(file);
    if let Err(d) = crate::fsio::folder::check_folder(output, &files, "the model", &program) {
        reporter.report(&d);
        return 2;
    }
    let (session, node, compiled) =
        match compile_target(reporter, file, sop, target, check, Some(output)) {
            Ok(t) => t,
            Err(code) => return code,
        };
    let inputs = session.read_files();
    if let Err(d) = crate::fsio::folder::check_folder(output, &files, "the model", &inputs) {
        reporter.report(&d);
        return 2;
    }
    match workflow::save(&session.graph, &session.sources, node, &compiled, output) {
        Ok(lines) => {
            for line in lines {
                outln!("{line}");
            }
            0
        }
        Err(d) => {
            reporter.report(&d);
            1
        }
    }
}

/// The executor `--backend` asks for, with `--info` and any fallback note
/// on stderr.
fn executor(
    reporter: &Reporter,
    weights: &crate::model::weights::Weights<'_>,
    meta: &crate::model::Meta,
    run: &RunArgs,
) -> Option<Box<dyn crate::model::executor::Executor>> {
    match crate::gpu::backend::executor(weights, meta, run.backend) {
        Ok((exec, note)) => {
            if let Some(note) = note {
                errln!("{note}");
            }
            if run.info {
                errln!("device: {}", exec.info());
            }
            Some(exec)
        }
        Err(d) => {
            reporter.report(&d);
            None
        }
    }
}

pub(super) fn exec_cmd(
    reporter: &Reporter,
    dir: &std::path::Path,
    json: bool,
    open: crate::model::io::OpenOptions,
    run: &RunArgs,
    inputs: &InputArgs,
) -> i32 {
    if inputs.is_empty() && !run.info {
        reporter.report(
            &Diag::error(codes::CLI_INPUT, "no inputs to run the model on").help(
                "give inputs (\"hello\", [1, 2, 3]), `--inputs FILE` or `-` for standard input",
            ),
        );
        return 2;
    }
    let parsed = match inputs.read() {
        Ok(p) => p,
        Err(d) => {
            reporter.report(&d);
            return 2;
        }
    };
    let file = match crate::model::io::open_with(dir, open) {
        Ok(m) => m,
        Err(d) => {
            reporter.report(&d);
            return 1;
        }
    };
    if let Some(w) = file.warning() {
        reporter.report(&w);
    }
    if run.info {
        errln!("model: {}", file.integrity.describe());
    }
    let Some(exec) = executor(reporter, &file.weights(), &file.meta, run) else {
        return 1;
    };
    // As `rasp eval`: the outputs before the first input the interpreter
    // refuses (the empty one), then its diagnostic.
    let refused = parsed
        .iter()
        .enumerate()
        .find_map(|(i, (_, v))| interp::check_input(v).err().map(|e| (i, e)));
    let ok = refused.as_ref().map_or(parsed.len(), |(i, _)| *i);
    let values: Vec<Vec<Value>> = parsed[..ok].iter().map(|(_, v)| v.clone()).collect();
    let outputs = match crate::model::codec::run(exec.as_ref(), &file.meta, &values) {
        Ok(o) => o,
        Err(d) => {
            reporter.report(&d);
            return 1;
        }
    };
    let mut out = std::io::BufWriter::new(crate::fsio::stdio::Stdout);
    for ((json_in, input), o) in parsed.iter().zip(outputs) {
        let col = crate::interp::Column {
            ty: crate::interp::seq_type(&o).unwrap_or(crate::interp::SeqType::Floats),
            values: o,
        };
        let line = if json {
            format!(
                "{{\"input\": {}, \"output\": {}}}",
                serde_json::to_string(json_in).unwrap_or_default(),
                display::json_output(&Output::Sop(col))
            )
        } else {
            display_output(&file.meta.sop, input, &Output::Sop(col))
        };
        let _ = writeln!(out, "{line}");
    }
    let _ = out.flush();
    if let Some((i, e)) = refused {
        let sources = crate::diag::SourceMap::new();
        reporter.report(&e.to_diag(&crate::ir::Graph::new(), &sources, &parsed[i].1));
        return 1;
    }
    0
}

pub(super) fn verify_cmd(
    reporter: &Reporter,
    file: &std::path::Path,
    sop: &str,
    target: &TargetArgs,
    mode: crate::compile::verify::Mode,
    run: &RunArgs,
) -> i32 {
    let (session, node, compiled) = match compile_target(
        reporter,
        file,
        sop,
        target,
        crate::compile::Check::Skip,
        None,
    ) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let v = match workflow::verify(
        &session.graph,
        &session.sources,
        &compiled,
        node,
        mode,
        run.backend,
        run.info,
    ) {
        Ok(v) => v,
        Err(d) => {
            reporter.report(&d);
            return 1;
        }
    };
    for note in &v.notes {
        errln!("{note}");
    }
    for line in v.lines() {
        outln!("{line}");
    }
    match v.outcome(&session.graph, node) {
        Ok(()) => 0,
        // The mismatch itself is the report just printed.
        Err(_) if v.report.mismatches > 0 => 1,
        Err(d) => {
            reporter.report(&d.with_sources(&session.sources));
            1
        }
    }
}

pub(super) fn explain_cmd(
    reporter: &Reporter,
    file: &std::path::Path,
    sop: &str,
    target: &TargetArgs,
    margins: bool,
) -> i32 {
    match compile_target(
        reporter,
        file,
        sop,
        target,
        crate::compile::Check::Skip,
        None,
    ) {
        Ok((session, node, compiled)) => {
            out!(
                "{}",
                workflow::explain(&session.graph, &session.sources, node, &compiled, margins)
            );
            0
        }
        Err(code) => code,
    }
}
