//! `rasp gen`: options to a dataset spec, the file, its sidecar, the
//! progress bar.

use std::io::Write;
use std::path::PathBuf;

use super::numbers::at_least_0;
use super::{load, lookup_target, parse_input, parse_vocab};
use crate::diag::{Diag, Reporter, codes};
use crate::front::{self, Session};
use crate::ir::Value;

/// `rasp gen`'s options.
#[derive(clap::Args, Debug)]
pub struct GenArgs {
    /// The program file (not with --task).
    #[arg(required_unless_present_any = ["task", "list"], conflicts_with = "task")]
    pub(super) file: Option<PathBuf>,
    /// The s-op to generate (default: the task's).
    pub(super) sop: Option<String>,
    /// A preset from stdlib/tasks (its program, s-op, vocab, lengths and sampler).
    #[arg(long, value_name = "NAME")]
    pub(super) task: Option<String>,
    /// List the presets with their defaults.
    #[arg(long)]
    pub(super) list: bool,
    /// The input tokens (as for `compile --vocab`); default: the task's.
    #[arg(long, value_name = "V")]
    pub(super) vocab: Option<String>,
    /// Input lengths MIN..MAX (inclusive), drawn uniformly; default: the
    /// task's, else 1..16. Lengths over the length limit (README: Limits)
    /// are refused unless it is raised with `--limit length=N`.
    #[arg(long, value_name = "MIN..MAX", allow_hyphen_values = true)]
    pub(super) len: Option<String>,
    /// How many examples (before sharding).
    #[arg(
        short = 'n',
        long = "count",
        value_name = "COUNT",
        default_value_t = 1000,
        allow_negative_numbers = true,
        value_parser = at_least_0::<u64>
    )]
    pub(super) count: u64,
    /// The seed: the same seed and options give the same file.
    #[arg(long, value_name = "S", default_value_t = 0, allow_negative_numbers = true, value_parser = at_least_0::<u64>)]
    pub(super) seed: u64,
    /// Write only shard I of K (0-based): the K shards concatenated are
    /// exactly the unsharded output.
    #[arg(long, value_name = "I/K", allow_hyphen_values = true)]
    pub(super) shard: Option<String>,
    /// A token put before every input in the file (not given to the program).
    #[arg(long, value_name = "TOKEN")]
    pub(super) bos: Option<String>,
    /// How inputs are drawn: uniform, distinct, brackets:PAIRS (e.g.
    /// brackets:(){}), addition; default: the task's, else uniform.
    #[arg(long, value_name = "S")]
    pub(super) sampler: Option<String>,
    /// The file format: JSON lines with typed values, `input<TAB>output`
    /// text, or Parquet (typed list columns).
    #[arg(long, value_enum, default_value_t = crate::dataset::Format::Jsonl)]
    pub(super) format: crate::dataset::Format,
    /// Where to write (with PATH.info.json beside it); stdout when absent.
    #[arg(short, long, value_name = "PATH")]
    pub(super) output: Option<PathBuf>,
    /// No progress bar.
    #[arg(short, long)]
    pub(super) quiet: bool,
    /// Print a length histogram and the most common outputs on stderr.
    #[arg(long)]
    pub(super) stats: bool,
    /// No input twice (drawn without replacement from every input of
    /// the lengths; an error when there are fewer than COUNT).
    #[arg(long)]
    pub(super) unique: bool,
    /// Compute the outputs causally (RASP-L's semantics, what a `compile
    /// --causal` model computes): every selector sees only the keys at or
    /// before its query and `length` at position i is i + 1. The inputs
    /// are the same; the sidecar records the semantics.
    #[arg(long)]
    pub(super) causal: bool,
    /// Also write the values of the named s-ops the output is computed
    /// from ("trace": {...}).
    #[arg(long)]
    pub(super) trace: bool,
    /// Also write these selectors' matrices ("selectors": {...}).
    #[arg(long, value_name = "NAME,...")]
    pub(super) selectors: Option<String>,
    /// A length-generalisation split: the train file's lengths (with
    /// --test-len; -o PATH becomes PATH.train.EXT and PATH.test.EXT).
    #[arg(
        long,
        value_name = "A..B",
        allow_hyphen_values = true,
        requires = "test_len",
        conflicts_with = "len"
    )]
    pub(super) train_len: Option<String>,
    /// The test file's lengths (with --train-len).
    #[arg(
        long,
        value_name = "C..D",
        requires = "train_len",
        allow_hyphen_values = true
    )]
    pub(super) test_len: Option<String>,
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
    // Before the program runs: its own `sop(input)` calls are evaluations.
    session.settings.semantics = crate::interp::Semantics::from_causal(a.causal);
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
    // A JSON atom (`1`, `true`, `"<s>"`), else the word itself.
    let bos = match a.bos.as_ref().map(|t| (t, parse_input(&format!("[{t}]")))) {
        None => None,
        Some((_, Ok((_, v)))) if v.len() == 1 => Some(v[0].clone()),
        Some((t, Err(d))) if d.code == codes::EVAL_OVERFLOW => {
            let d = front::check_json_ints(t).err().unwrap_or(d);
            return Err(usage(d.prefix("--bos")));
        }
        Some((t, _)) => Some(Value::str(t)),
    };
    let spec = Spec {
        vocab,
        min_len,
        max_len,
        count: a.count,
        seed: a.seed,
        shard,
        bos,
        sampler,
        unique: a.unique,
        semantics: session.settings.semantics,
    };
    spec.check_for(a.format).map_err(usage)?;
    let extras = extras(&scope, &session.graph, node, a)?;
    // One output, or a train and a test file with their own lengths.
    let outputs: Vec<(Option<PathBuf>, Spec)> = match (&a.train_len, &a.test_len) {
        (None, None) => vec![(a.output.clone(), spec)],
        (Some(train), Some(test)) => {
            let Some(path) = &a.output else {
                return Err(usage(
                    Diag::error(
                        codes::GEN_OPTIONS,
                        "--train-len and --test-len write two files",
                    )
                    .help("give -o PATH: PATH's name gets .train and .test before its extension"),
                ));
            };
            let mut out = Vec::new();
            for (split, len, salt) in [("train", train, 0u64), ("test", test, 1)] {
                let (min_len, max_len) = dataset::parse_len(len).map_err(usage)?;
                let spec = Spec {
                    min_len,
                    max_len,
                    // The test split's own stream.
                    seed: spec.seed ^ salt.wrapping_mul(0x7e57_5eed_0000_0001),
                    ..spec.clone()
                };
                spec.check_for(a.format).map_err(usage)?;
                out.push((Some(split_path(path, split)), spec));
            }
            out
        }
        _ => {
            return Err(usage(Diag::error(
                codes::GEN_OPTIONS,
                "--train-len and --test-len go together",
            )));
        }
    };
    // Every target checked before any work: none is a link, a folder or
    // one of the inputs (the program and the files it loads); a sidecar is
    // a file.
    let inputs = session.read_files();
    if a.output.is_some() {
        crate::fsio::stdio::keep_working();
    }
    let mut dests = Vec::new();
    for (path, spec) in outputs {
        let dest = match &path {
            Some(p) => {
                let dest = crate::fsio::target::output(p, &inputs, "the dataset").map_err(usage)?;
                if !dest.is_stream() {
                    let side = sidecar_path(p);
                    let d = crate::fsio::target::output(&side, &inputs, "the sidecar")
                        .map_err(usage)?;
                    if d.is_stream() {
                        return Err(usage(
                            Diag::error(
                                codes::OUTPUT_TARGET,
                                format!(
                                    "will not write the sidecar {}: it is not a regular file",
                                    side.display()
                                ),
                            )
                            .help("remove it, or write the dataset under another name"),
                        ));
                    }
                }
                Some(dest)
            }
            None => None,
        };
        dests.push((dest, spec));
    }
    let mut all = dataset::Counts::default();
    // Every file generated before any is put in place: a failure in the
    // test split leaves the old train split too.
    let mut done = Vec::new();
    for (dest, spec) in &dests {
        let (counts, pending) = write_one(
            a,
            &session,
            node,
            spec,
            &extras,
            dest.as_ref(),
            &source,
            &file_name,
            &sop,
            task.as_ref(),
        )?;
        all.merge(counts);
        done.extend(pending);
    }
    for (file, side) in done {
        crate::fsio::atomic::commit_with_sidecar(file, side).map_err(|d| (Some(d), 1))?;
    }
    if a.stats {
        err!("{}", dataset::render_stats(&all));
    }
    Ok(())
}

/// `PATH.info.json`, the sidecar of a dataset file.
fn sidecar_path(path: &std::path::Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".info.json");
    PathBuf::from(p)
}

/// `PATH` with `.SPLIT` before its extension (`f.jsonl` -> `f.train.jsonl`).
fn split_path(path: &std::path::Path, split: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}.{split}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{split}"),
    };
    path.with_file_name(name)
}

/// `--trace` (every named s-op the output is computed from, private names
/// too) and `--selectors NAME,...`.
fn extras(
    scope: &front::ScopeRef,
    graph: &crate::ir::Graph,
    target: crate::ir::NodeId,
    a: &GenArgs,
) -> Result<crate::dataset::Extras, (Option<Diag>, i32)> {
    use crate::front::MVal;
    let mut ex = crate::dataset::Extras::default();
    let s = scope.borrow();
    if a.trace {
        let upstream: std::collections::HashSet<crate::ir::NodeId> =
            graph.ancestors(&[target]).into_iter().collect();
        for n in s.names() {
            if let Some(MVal::Sop(id)) = s.get_local(n)
                && id != target
                && upstream.contains(&id)
                && n != "out"
            {
                ex.trace.push((n.clone(), id));
            }
        }
    }
    if let Some(list) = &a.selectors {
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            // Each name once: a JSON object holds each key once.
            if ex.selectors.iter().any(|(n, _)| n == name) {
                return Err((
                    Some(
                        Diag::error(
                            codes::GEN_OPTIONS,
                            format!("--selectors names `{name}` twice"),
                        )
                        .help("name each selector once"),
                    ),
                    2,
                ));
            }
            match front::value::lookup(scope, name) {
                Some(MVal::Sel(id)) => ex.selectors.push((name.to_string(), id)),
                _ => {
                    let sels: Vec<String> = s
                        .names()
                        .iter()
                        .filter(|n| matches!(s.get_local(n), Some(MVal::Sel(_))))
                        .cloned()
                        .collect();
                    return Err((
                        Some(
                            Diag::error(
                                codes::GEN_OPTIONS,
                                format!("`{name}` is not a selector of the program"),
                            )
                            .help(format!("its selectors: {}", sels.join(", "))),
                        ),
                        2,
                    ));
                }
            }
        }
    }
    Ok(ex)
}

/// Write one file (or stdout, or a stream). A file and its sidecar are
/// both written under temporary names and returned, for the caller to put
/// in place with `fsio::atomic::commit_with_sidecar` once every split is
/// written. Standard output and streams get no sidecar.
#[allow(clippy::too_many_arguments)]
fn write_one(
    a: &GenArgs,
    session: &Session,
    node: crate::ir::NodeId,
    spec: &crate::dataset::Spec,
    extras: &crate::dataset::Extras,
    dest: Option<&crate::fsio::Dest>,
    source: &str,
    file_name: &str,
    sop: &str,
    task: Option<&crate::dataset::tasks::Task>,
) -> Result<(crate::dataset::Counts, Option<Pending>), (Option<Diag>, i32)> {
    use crate::dataset;
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
    let run = |out: &mut (dyn Write + Send), progress: &mut dyn FnMut(u64)| {
        dataset::generate(
            &session.graph,
            &session.sources,
            node,
            spec,
            a.format,
            extras,
            a.stats,
            out,
            progress,
        )
    };
    let counts = match dest {
        None => {
            let mut out = std::io::BufWriter::new(crate::fsio::stdio::Stdout);
            let counts = run(&mut out, &mut progress).map_err(|d| (Some(d), 1))?;
            let _ = out.flush();
            (counts, None)
        }
        Some(dest @ crate::fsio::Dest::Stream { path, .. }) => {
            if let Some(note) = dest.stream_note(" (no sidecar)") {
                errln!("{note}");
            }
            let fail = |e: std::io::Error| {
                (
                    Some(crate::fsio::write_error(codes::GEN_OUTPUT, path, &e)),
                    1,
                )
            };
            let file = crate::fsio::atomic::open_stream(path).map_err(fail)?;
            let mut out = std::io::BufWriter::new(file);
            let counts = run(&mut out, &mut progress).map_err(|d| (Some(d), 1))?;
            out.flush().map_err(fail)?;
            (counts, None)
        }
        Some(crate::fsio::Dest::File(path)) => {
            let fail = |d: Diag| (Some(d), 1);
            let mut file =
                crate::fsio::AtomicFile::create(path, codes::GEN_OUTPUT).map_err(fail)?;
            let counts = {
                let mut out = std::io::BufWriter::new(&mut file);
                let counts = run(&mut out, &mut progress).map_err(fail)?;
                let flushed = out.flush();
                flushed.map_err(|e| fail(crate::fsio::write_error(codes::GEN_OUTPUT, path, &e)))?;
                counts
            };
            let info = dataset::info_json(
                source,
                file_name,
                sop,
                task.map(|t| t.name.as_str()),
                spec,
                a.format,
                &counts,
            );
            let info_text = serde_json::to_string_pretty(&info).unwrap_or_default() + "\n";
            let mut side = crate::fsio::AtomicFile::create(&sidecar_path(path), codes::GEN_OUTPUT)
                .map_err(fail)?;
            side.write_all(info_text.as_bytes())
                .map_err(|e| fail(side.error(&e)))?;
            (counts, Some((file, side)))
        }
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(counts)
}

/// A dataset file and its sidecar, written, not yet in place.
type Pending = (crate::fsio::AtomicFile, crate::fsio::AtomicFile);
