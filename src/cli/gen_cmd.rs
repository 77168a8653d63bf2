//! `rasp gen`: options to a dataset spec, the file, its sidecar, the
//! progress bar.

use std::io::Write;
use std::path::PathBuf;

use super::{load, lookup_target, parse_input, parse_vocab};
use crate::diag::{Diag, Reporter, codes};
use crate::front::{self, Session};
use crate::ir::Value;

/// `rasp gen`'s options.
pub(super) struct GenArgs {
    pub(super) file: Option<PathBuf>,
    pub(super) sop: Option<String>,
    pub(super) task: Option<String>,
    pub(super) vocab: Option<String>,
    pub(super) len: Option<String>,
    pub(super) count: u64,
    pub(super) seed: u64,
    pub(super) shard: Option<String>,
    pub(super) bos: Option<String>,
    pub(super) sampler: Option<String>,
    pub(super) format: crate::dataset::Format,
    pub(super) output: Option<PathBuf>,
    pub(super) quiet: bool,
    pub(super) stats: bool,
}

/// `rasp gen`: the error to report (if not yet reported) and the status.
pub(super) fn gen_cmd(reporter: &Reporter, a: &GenArgs) -> Result<(), (Option<Diag>, i32)> {
    use crate::dataset::{self, Sampler, Spec, tasks};
    let usage = |d: Diag| (Some(d), 2);
    let task = a
        .task
        .as_deref()
        .map(tasks::find)
        .transpose()
        .map_err(usage)?;
    let mut session = Session::new();
    let (scope, result, file_name, source) = match (&task, &a.file) {
        (Some(t), _) => {
            let scope = session.new_scope();
            let r = session.run_source(t.file, t.source, &scope, None);
            (scope, r, t.file.to_string(), t.source.to_string())
        }
        (None, Some(f)) => {
            let Some((scope, r)) = load(reporter, &mut session, f) else {
                return Err((None, 1));
            };
            let text = front::read_source(f).unwrap_or_default();
            (scope, r, f.display().to_string(), text)
        }
        (None, None) => unreachable!("clap requires a file or --task"),
    };
    if task.is_some() {
        reporter.report_all(&result.diags);
    }
    let sop = a
        .sop
        .clone()
        .or_else(|| task.as_ref().map(|t| t.sop.clone()))
        .ok_or_else(|| usage(Diag::error(codes::GEN_OPTIONS, "which s-op? give FILE SOP")))?;
    let node = match lookup_target(&scope, &sop, std::path::Path::new(&file_name), &result) {
        Ok((node, _)) => node,
        Err(d) => return Err((Some(d), 1)),
    };
    let vocab_text =
        a.vocab
            .clone()
            .or_else(|| task.as_ref().map(|t| t.vocab.clone()))
            .ok_or_else(|| {
                usage(Diag::error(codes::GEN_OPTIONS, "no vocabulary").help(
                    "give the input tokens with --vocab (e.g. --vocab abc or --vocab [1,2,3])",
                ))
            })?;
    let vocab = parse_vocab(&vocab_text).map_err(usage)?;
    let (min_len, max_len) = match &a.len {
        Some(l) => dataset::parse_len(l).map_err(usage)?,
        None => task.as_ref().map_or((1, 16), |t| t.len),
    };
    let sampler = match &a.sampler {
        Some(s) => tasks::sampler_of(s).ok_or_else(|| {
            usage(
                Diag::error(codes::GEN_OPTIONS, format!("unknown sampler {s:?}"))
                    .help("the samplers are uniform, distinct, brackets:PAIRS (e.g. brackets:(){}), addition"),
            )
        })?,
        None => task.as_ref().map_or(Sampler::Uniform, |t| t.sampler.clone()),
    };
    let shard = a
        .shard
        .as_deref()
        .map(dataset::parse_shard)
        .transpose()
        .map_err(usage)?;
    let bos = a
        .bos
        .as_ref()
        .map(|t| match parse_input(&format!("[{t}]")) {
            Ok((_, v)) if v.len() == 1 => v[0].clone(),
            _ => Value::str(t),
        });
    let spec = Spec {
        vocab,
        min_len,
        max_len,
        count: a.count,
        seed: a.seed,
        shard,
        bos,
        sampler,
    };
    spec.check().map_err(usage)?;
    let total = spec.range().end - spec.range().start;
    let bar =
        (!a.quiet && a.output.is_some() && std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .then(|| {
                let b = indicatif::ProgressBar::new(total);
                b.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{bar:40} {pos}/{len} examples, {per_sec}, {eta} left",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                b
            });
    let mut progress = |done: u64| {
        if let Some(b) = &bar {
            b.set_position(done);
        }
    };
    let run = |out: &mut dyn Write, progress: &mut dyn FnMut(u64)| {
        dataset::generate(
            &session.graph,
            &session.sources,
            node,
            &spec,
            a.format,
            out,
            progress,
        )
    };
    let counts = match &a.output {
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            run(&mut out, &mut progress).map_err(|d| (Some(d), 1))?
        }
        Some(path) => {
            let write_err = |e: std::io::Error, what: &std::path::Path| {
                (
                    Some(
                        Diag::error(
                            codes::GEN_OUTPUT,
                            format!("cannot write {}: {e}", what.display()),
                        )
                        .help("check that the folder exists and is writable"),
                    ),
                    1,
                )
            };
            // Written under a temporary name, renamed when complete.
            let mut tmp = path.clone().into_os_string();
            tmp.push(format!(".partial-{}", std::process::id()));
            let tmp = PathBuf::from(tmp);
            let file = std::fs::File::create(&tmp).map_err(|e| write_err(e, path))?;
            let mut out = std::io::BufWriter::new(file);
            let counts = match run(&mut out, &mut progress) {
                Ok(c) => c,
                Err(d) => {
                    drop(out);
                    let _ = std::fs::remove_file(&tmp);
                    return Err((Some(d), 1));
                }
            };
            drop(out);
            let info = dataset::info_json(
                &source,
                &file_name,
                &sop,
                task.as_ref().map(|t| t.name.as_str()),
                &spec,
                a.format,
                &counts,
            );
            let mut info_path = path.clone().into_os_string();
            info_path.push(".info.json");
            let info_text = serde_json::to_string_pretty(&info).unwrap_or_default();
            std::fs::write(&info_path, info_text + "\n")
                .map_err(|e| write_err(e, std::path::Path::new(&info_path)))?;
            std::fs::rename(&tmp, path).map_err(|e| write_err(e, path))?;
            counts
        }
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if a.stats {
        eprint!("{}", dataset::render_stats(&counts));
    }
    Ok(())
}
