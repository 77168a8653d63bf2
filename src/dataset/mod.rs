//! Datasets: any s-op of any program as a reproducible, sharded generator
//! of `(input, output)` examples (`rasp gen`).
//!
//! Example `i` (of `0..count`) is a function of the seed and `i` alone: its
//! own random stream picks its length and tokens. So the output is the same
//! whatever the thread count, and shard `I/K` (the contiguous block of
//! examples `[I·count/K, (I+1)·count/K)`) is exactly that part of the
//! unsharded output: the K shards concatenated are the whole. Examples are
//! evaluated in parallel in chunks and written in order, so memory stays
//! flat whatever the count; the file is written under a temporary name and
//! renamed when complete.

mod check;
mod parquet;
pub mod tasks;
mod unique;

use check::text_token;
pub use check::{parse_len, parse_shard};

use std::io::Write;

use rayon::prelude::*;

use crate::diag::{Diag, SourceMap, codes};
use crate::interp::{self, Output, display};
use crate::ir::{Graph, NodeId, Value};

/// Examples evaluated together.
const CHUNK: usize = 4096;

/// How inputs are drawn.
#[derive(Clone, Debug, PartialEq)]
pub enum Sampler {
    /// Every token uniformly from the vocabulary.
    Uniform,
    /// Distinct tokens (so no length above the vocabulary's size).
    Distinct,
    /// Bracket strings over these (open, close) pairs: half balanced (a
    /// random well-nested string, padded with an unmatched bracket on odd
    /// lengths), half near-balanced (one bracket of a balanced string
    /// changed), so both answers are common.
    Brackets(Vec<(Value, Value)>),
    /// `a+b` over the digits `0`-`9` (two numbers of random digit counts
    /// filling the length, so at least 3 tokens; numbers of several digits
    /// start with a non-zero digit).
    Addition,
}

impl Sampler {
    /// The sampler as `--sampler` and task headers name it
    /// (`brackets:(){}` with its pairs).
    pub fn name(&self) -> String {
        match self {
            Sampler::Uniform => "uniform".into(),
            Sampler::Distinct => "distinct".into(),
            Sampler::Brackets(pairs) => {
                let mut s = String::from("brackets:");
                for (open, close) in pairs {
                    s.push_str(&format!("{open}{close}"));
                }
                s
            }
            Sampler::Addition => "addition".into(),
        }
    }

    /// Every token the sampler can write, when it is not the vocabulary's
    /// (`None`: it draws from the vocabulary).
    fn alphabet(&self) -> Option<Vec<Value>> {
        match self {
            Sampler::Uniform | Sampler::Distinct => None,
            Sampler::Brackets(pairs) => Some(
                pairs
                    .iter()
                    .flat_map(|(a, b)| [a.clone(), b.clone()])
                    .collect(),
            ),
            Sampler::Addition => Some(
                ADDITION
                    .chars()
                    .map(|c| Value::str(&c.to_string()))
                    .collect(),
            ),
        }
    }

    /// The shortest input it can write.
    fn min_len(&self) -> usize {
        match self {
            Sampler::Addition => 3,
            _ => 1,
        }
    }
}

/// The addition sampler's tokens.
const ADDITION: &str = "0123456789+";

/// Which examples to generate.
#[derive(Clone, Debug)]
pub struct Spec {
    pub vocab: Vec<Value>,
    /// Lengths, inclusive, drawn uniformly.
    pub min_len: usize,
    pub max_len: usize,
    pub count: u64,
    pub seed: u64,
    /// `(I, K)`: the I-th of K shards (0-based).
    pub shard: Option<(u64, u64)>,
    /// A token put before every input (not given to the program).
    pub bos: Option<Value>,
    pub sampler: Sampler,
    /// No input twice (uniform sampler only; see `unique.rs`).
    pub unique: bool,
    /// How the outputs are computed: bidirectionally (the original's
    /// semantics) or causally (`--causal`, RASP-L's). Inputs are the same
    /// either way.
    pub semantics: interp::Semantics,
}

/// Output formats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// JSON lines: `{"input": [...], "output": [...]}` with typed values.
    #[default]
    Jsonl,
    /// `input<TAB>output`, each the tokens joined by spaces.
    Text,
    /// Parquet: list columns `input` and `output` with the values' element
    /// type (the format the Hugging Face hub serves).
    Parquet,
}

/// Named s-ops and selectors written beside the output: `--trace` (the
/// values of intermediate s-ops, for trace supervision) and `--selectors`
/// (selector matrices, as attention targets). JSON lines only.
#[derive(Clone, Debug, Default)]
pub struct Extras {
    pub trace: Vec<(String, NodeId)>,
    pub selectors: Vec<(String, NodeId)>,
}

impl Extras {
    fn is_empty(&self) -> bool {
        self.trace.is_empty() && self.selectors.is_empty()
    }

    fn nodes(&self, target: NodeId) -> Vec<NodeId> {
        std::iter::once(target)
            .chain(self.trace.iter().map(|t| t.1))
            .chain(self.selectors.iter().map(|t| t.1))
            .collect()
    }
}

/// What was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub written: u64,
    /// Examples per input length.
    pub lengths: std::collections::BTreeMap<usize, u64>,
    /// Examples per output (the whole output sequence, as JSON), the most
    /// common few.
    pub outputs: std::collections::HashMap<String, u64>,
    /// Output tokens (as JSON) over every position, when counted
    /// (`--stats`): the class balance of a per-position task.
    pub tokens: std::collections::HashMap<String, u64>,
}

/// At most this many distinct outputs (and output tokens) are counted.
const DISTINCT: usize = 10_000;

impl Counts {
    /// Add another run's counts (a split's).
    pub fn merge(&mut self, other: Counts) {
        self.written += other.written;
        for (l, c) in other.lengths {
            *self.lengths.entry(l).or_default() += c;
        }
        for (o, c) in other.outputs {
            *self.outputs.entry(o).or_default() += c;
        }
        for (o, c) in other.tokens {
            *self.tokens.entry(o).or_default() += c;
        }
    }
}

/// Count one more of `key` (at most `DISTINCT` keys).
fn tally(map: &mut std::collections::HashMap<String, u64>, key: &str) {
    if let Some(c) = map.get_mut(key) {
        *c += 1;
    } else if map.len() < DISTINCT {
        map.insert(key.to_string(), 1);
    }
}

/// SplitMix64: the per-example random stream.
struct Stream(u64);

impl Stream {
    fn new(seed: u64, index: u64) -> Stream {
        let mut s = Stream(seed ^ 0x9e37_79b9_7f4a_7c15);
        s.0 = s.next() ^ index.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        s.next();
        s
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0), without modulo bias.
    fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next();
            if x < zone {
                return (x % n) as usize;
            }
        }
    }
}

impl Spec {
    /// The examples this spec (and shard) covers: a range of indices.
    pub fn range(&self) -> std::ops::Range<u64> {
        match self.shard {
            None => 0..self.count,
            Some((i, k)) => {
                let at = |j: u64| ((u128::from(self.count) * u128::from(j)) / u128::from(k)) as u64;
                at(i)..at(i + 1)
            }
        }
    }

    /// The same spec with its own copies of the string atoms (for one
    /// worker thread).
    fn own(&self) -> Spec {
        let deep = |v: &Value| match v {
            Value::Str(s) => Value::str(s),
            v => v.clone(),
        };
        let sampler = match &self.sampler {
            Sampler::Brackets(pairs) => {
                Sampler::Brackets(pairs.iter().map(|(a, b)| (deep(a), deep(b))).collect())
            }
            s => s.clone(),
        };
        Spec {
            vocab: self.vocab.iter().map(deep).collect(),
            bos: self.bos.as_ref().map(deep),
            sampler,
            ..self.clone()
        }
    }

    /// Example `index`'s input (without BOS).
    pub fn input(&self, index: u64) -> Vec<Value> {
        let mut r = Stream::new(self.seed, index);
        let mut len = self.min_len + r.below(self.max_len - self.min_len + 1);
        match &self.sampler {
            Sampler::Uniform => (0..len)
                .map(|_| self.vocab[r.below(self.vocab.len())].clone())
                .collect(),
            Sampler::Distinct => {
                // `check` refuses lengths above the vocabulary's size.
                len = len.min(self.vocab.len());
                let mut pool: Vec<usize> = (0..self.vocab.len()).collect();
                // A partial Fisher-Yates shuffle.
                for i in 0..len {
                    let j = i + r.below(pool.len() - i);
                    pool.swap(i, j);
                }
                pool[..len].iter().map(|&i| self.vocab[i].clone()).collect()
            }
            Sampler::Brackets(pairs) => brackets(&mut r, pairs, len),
            // `check` refuses lengths below 3.
            Sampler::Addition => addition(&mut r, len.max(3)),
        }
    }
}

/// `a+b` in `len` characters.
fn addition(r: &mut Stream, len: usize) -> Vec<Value> {
    let a = 1 + r.below(len - 2);
    let b = len - 1 - a;
    let mut number = |digits: usize, out: &mut Vec<Value>| {
        for i in 0..digits {
            let d = if i == 0 && digits > 1 {
                1 + r.below(9)
            } else {
                r.below(10)
            };
            out.push(Value::str(&d.to_string()));
        }
    };
    let mut out = Vec::with_capacity(len);
    number(a, &mut out);
    out.push(Value::str("+"));
    number(b, &mut out);
    out
}

/// A balanced bracket string of length `len` (one unmatched opener when
/// odd), half the time with one bracket flipped.
fn brackets(r: &mut Stream, pairs: &[(Value, Value)], len: usize) -> Vec<Value> {
    let mut out = Vec::with_capacity(len);
    let mut open: Vec<usize> = Vec::new();
    let near = r.below(2) == 1;
    for i in 0..len {
        let left = len - i;
        // Close when it must (just enough room left), or by chance.
        let must_close = open.len() >= left;
        let may_close = !open.is_empty();
        if must_close || (may_close && r.below(2) == 0) {
            let p = open.pop().unwrap_or(0);
            out.push(pairs[p].1.clone());
        } else {
            let p = r.below(pairs.len());
            open.push(p);
            out.push(pairs[p].0.clone());
        }
    }
    if near && !out.is_empty() {
        let at = r.below(out.len());
        let p = r.below(pairs.len());
        out[at] = if r.below(2) == 0 {
            pairs[p].0.clone()
        } else {
            pairs[p].1.clone()
        };
    }
    out
}

/// Generate the examples of `spec` for `target`, writing each as a line
/// in `format`; `progress` is told how many are done after each chunk.
/// With `stats`, every output token is counted too (`Counts::tokens`).
/// A program that fails on an input stops the run with that input's
/// diagnostic, saying how many were written.
#[allow(clippy::too_many_arguments)]
pub fn generate(
    graph: &Graph,
    sources: &SourceMap,
    target: NodeId,
    spec: &Spec,
    format: Format,
    extras: &Extras,
    stats: bool,
    out: &mut (dyn Write + Send),
    progress: &mut dyn FnMut(u64),
) -> Result<Counts, Diag> {
    spec.check_for(format)?;
    if format != Format::Jsonl && !extras.is_empty() {
        return Err(Diag::error(
            codes::GEN_OPTIONS,
            "--trace and --selectors write JSON lines",
        )
        .help("drop --format, or the extras"));
    }
    let mut sink = None;
    let mut lines_out = None;
    if format == Format::Parquet {
        sink = Some(parquet::Sink::new(out));
    } else {
        lines_out = Some(out);
    }
    let nodes = &extras.nodes(target);
    let range = spec.range();
    // One thread evaluates chunk after chunk (in parallel over its
    // examples) while this one writes the previous chunk, in order.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(1);
    let mut counts = Counts::default();
    std::thread::scope(|scope| {
        let range = range.clone();
        // `move`: the sender goes with the thread, so the writer's loop
        // ends when the last chunk is sent.
        scope.spawn(move || {
            let mut at = range.start;
            let mut cursor = spec.unique.then(|| {
                let mut c =
                    unique::Cursor::new(spec.seed, spec.vocab.len(), spec.min_len, spec.max_len);
                c.skip_to(range.start);
                c
            });
            while at < range.end {
                let end = (at + CHUNK as u64).min(range.end);
                // Each worker samples from its own copy of the atoms:
                // strings shared between threads would make every clone
                // and drop of a token a contended reference count.
                let init = || {
                    let ev = interp::Evaluator::new(graph, nodes).semantics(spec.semantics);
                    (ev, spec.own())
                };
                let eval = |ev: &mut interp::Evaluator<'_>, input: Vec<Value>| {
                    let outs = ev.run(&input, None).map_err(|e| {
                        let d = e.to_diag(graph, sources, &input);
                        Diag::error(codes::GEN_PROGRAM, d.message.clone())
                    })?;
                    if let (Format::Text, Some(Output::Sop(col))) = (format, outs.first())
                        && let Some(v) = col.values.iter().find(|v| !text_token(v))
                    {
                        return Err(Diag::error(
                            codes::GEN_OUTPUT,
                            format!(
                                "--format text separates tokens with spaces: the output token {} on the input {} would not read back",
                                v.repr(),
                                display::input_short(&input, None)
                            ),
                        )
                        .help("use --format jsonl or parquet, which keep every token"));
                    }
                    let mut done = example(format, spec.bos.as_ref(), &input, &outs, extras);
                    done.len = input.len();
                    if let (true, Some(Output::Sop(col))) = (stats, outs.first()) {
                        done.atoms = col.values.iter().map(display::json_atom).collect();
                    }
                    if format == Format::Parquet {
                        let Some(Output::Sop(col)) = outs.into_iter().next() else {
                            return Err(Diag::error(
                                codes::GEN_OPTIONS,
                                "a selector's matrices go in JSON lines",
                            )
                            .help("use --format jsonl for a selector"));
                        };
                        let tokens = spec.bos.iter().cloned().chain(input);
                        done.row = Some((tokens.collect(), col.values));
                    }
                    Ok(done)
                };
                let chunk: Chunk = match cursor.as_mut() {
                    None => (at..end)
                        .into_par_iter()
                        .map_init(init, |(ev, own), i| eval(ev, own.input(i)))
                        .collect(),
                    Some(c) => {
                        let picks: Vec<(usize, u128)> =
                            (at..end).filter_map(|_| c.step()).collect();
                        picks
                            .into_par_iter()
                            .map_init(init, |(ev, own), (len, rank)| {
                                let digits = unique::digits(rank, own.vocab.len(), len, own.seed);
                                eval(
                                    ev,
                                    digits.into_iter().map(|d| own.vocab[d].clone()).collect(),
                                )
                            })
                            .collect()
                    }
                };
                if tx.send(chunk).is_err() {
                    // The writer stopped (an error).
                    return;
                }
                at = end;
            }
        });
        let mut rows: Vec<(Vec<Value>, Vec<Value>)> = Vec::new();
        for chunk in rx {
            rows.clear();
            for l in chunk {
                let done = l.map_err(|d| {
                    if d.code != codes::GEN_PROGRAM {
                        return d;
                    }
                    Diag::error(
                        codes::GEN_PROGRAM,
                        format!(
                            "the program fails on a sampled input (example {}); {} example(s) were written before it: {}",
                            range.start + counts.written,
                            counts.written,
                            d.message
                        ),
                    )
                    .help("restrict the vocabulary or the lengths to inputs the program accepts")
                })?;
                if let Some(row) = done.row {
                    rows.push(row);
                } else {
                    let out = lines_out.as_mut().expect("lines go to the output");
                    let line = &done.text.as_bytes()[..done.line_end];
                    out.write_all(line).map_err(write_error)?;
                    out.write_all(b"\n").map_err(write_error)?;
                }
                let key = &done.text[done.key.clone()];
                counts.written += 1;
                *counts.lengths.entry(done.len).or_default() += 1;
                tally(&mut counts.outputs, key);
                for atom in &done.atoms {
                    tally(&mut counts.tokens, atom);
                }
            }
            if let Some(sink) = sink.as_mut() {
                sink.write(&rows)?;
            }
            progress(counts.written);
        }
        Ok(())
    })?;
    if let Some(sink) = sink {
        sink.finish()?;
    }
    if let Some(out) = lines_out {
        out.flush().map_err(write_error)?;
    }
    Ok(counts)
}

fn write_error(e: std::io::Error) -> Diag {
    Diag::error(codes::GEN_OUTPUT, format!("cannot write the dataset: {e}"))
}

/// A chunk's examples, in order: each formatted, or the error the program
/// gave on it (`rasp::gen::program`, its message naming the input).
type Chunk = Vec<Result<Done, Diag>>;

/// One example, formatted: the line (JSON lines and text) and the output
/// as JSON (the stats' key), in one buffer.
struct Done {
    text: String,
    /// `text[..line_end]` is the line (empty for Parquet).
    line_end: usize,
    /// `text[key]` is the output as JSON.
    key: std::ops::Range<usize>,
    /// The input's length (without BOS).
    len: usize,
    /// Parquet's row: the input (with BOS) and the output.
    row: Option<(Vec<Value>, Vec<Value>)>,
    /// The output's tokens as JSON (counted for `--stats`).
    atoms: Vec<String>,
}

/// Format one example: `outs` holds the output, then the extras'.
fn example(
    format: Format,
    bos: Option<&Value>,
    input: &[Value],
    outs: &[Output],
    extras: &Extras,
) -> Done {
    let tokens = bos.into_iter().chain(input);
    let o = &outs[0];
    let mut text = String::with_capacity(16 * (input.len() + 4));
    let key = match format {
        Format::Jsonl => {
            text.push_str("{\"input\": ");
            display::push_json_list(&mut text, tokens);
            text.push_str(", \"output\": ");
            let a = text.len();
            display::push_json_output(&mut text, o);
            let key = a..text.len();
            let mut rest = outs[1..].iter();
            for (field, named) in [("trace", &extras.trace), ("selectors", &extras.selectors)] {
                if named.is_empty() {
                    continue;
                }
                text.push_str(&format!(", \"{field}\": {{"));
                for (i, ((name, _), o)) in named.iter().zip(rest.by_ref()).enumerate() {
                    if i > 0 {
                        text.push_str(", ");
                    }
                    text.push_str(&serde_json::Value::String(name.clone()).to_string());
                    text.push_str(": ");
                    display::push_json_output(&mut text, o);
                }
                text.push('}');
            }
            text.push('}');
            return Done {
                line_end: text.len(),
                text,
                key,
                len: 0,
                row: None,
                atoms: Vec::new(),
            };
        }
        Format::Text => {
            use std::fmt::Write;
            for (i, v) in tokens.enumerate() {
                let sep = if i > 0 { " " } else { "" };
                let _ = write!(text, "{sep}{v}");
            }
            text.push('\t');
            match o {
                Output::Sop(col) => {
                    for (i, v) in col.values.iter().enumerate() {
                        let sep = if i > 0 { " " } else { "" };
                        let _ = write!(text, "{sep}{v}");
                    }
                }
                Output::Selector(rows) => {
                    for (i, r) in rows.iter().enumerate() {
                        if i > 0 {
                            text.push(' ');
                        }
                        text.extend(r.iter().map(|b| if *b { '1' } else { '0' }));
                    }
                }
            }
            text.len()
        }
        Format::Parquet => 0,
    };
    let line_end = key;
    display::push_json_output(&mut text, o);
    Done {
        key: line_end..text.len(),
        line_end,
        text,
        len: 0,
        row: None,
        atoms: Vec::new(),
    }
}

/// The `dataset_info`-style sidecar: what makes a file reproducible.
pub fn info_json(
    source: &str,
    file: &str,
    sop: &str,
    task: Option<&str>,
    spec: &Spec,
    format: Format,
    counts: &Counts,
) -> serde_json::Value {
    use crate::ir::value::value_to_json_total as json;
    let vocab: Vec<serde_json::Value> = spec.vocab.iter().map(json).collect();
    serde_json::json!({
        "generator": format!("rasp {}", env!("CARGO_PKG_VERSION")),
        "program": {"file": file, "sop": sop, "task": task, "source_fnv1a64": format!("{:016x}", fnv1a(source.as_bytes()))},
        "options": {
            "vocab": vocab,
            "len": [spec.min_len, spec.max_len],
            "count": spec.count,
            "seed": spec.seed,
            "shard": spec.shard.map(|(i, k)| format!("{i}/{k}")),
            "bos": spec.bos.as_ref().map(json),
            "unique": spec.unique,
            "sampler": spec.sampler.name(),
            "semantics": spec.semantics.name(),
            "format": match format {
                Format::Jsonl => "jsonl",
                Format::Text => "text",
                Format::Parquet => "parquet",
            },
        },
        "examples": counts.written,
        "lengths": counts.lengths.iter().map(|(l, c)| (l.to_string(), serde_json::json!(c))).collect::<serde_json::Map<_, _>>(),
    })
}

/// FNV-1a, 64 bits: the program's fingerprint in the sidecar.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `--stats`: a length histogram, the most common outputs and (when
/// counted) the output tokens' balance.
pub fn render_stats(c: &Counts) -> String {
    let mut s = format!("{} example(s)\nlengths:\n", c.written);
    let most = c.lengths.values().copied().max().unwrap_or(1).max(1);
    for (len, n) in &c.lengths {
        let bar = "#".repeat(((n * 40).div_ceil(most)) as usize);
        s.push_str(&format!("  {len:>5} {n:>9} {bar}\n"));
    }
    let mut table = |title: &str, map: &std::collections::HashMap<String, u64>, show: usize| {
        let total: u64 = map.values().sum();
        let mut rows: Vec<(&String, &u64)> = map.iter().collect();
        rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let more = if map.len() >= DISTINCT {
            " or more"
        } else {
            ""
        };
        s.push_str(&format!("{title}: {} distinct{more}\n", map.len()));
        for (o, n) in rows.iter().take(show) {
            let pct = 100.0 * **n as f64 / total.max(1) as f64;
            let shown: String = o.chars().take(60).collect();
            s.push_str(&format!("  {pct:5.1}% {n:>9} {shown}\n"));
        }
        if rows.len() > show {
            s.push_str(&format!("  ({} more)\n", rows.len() - show));
        }
    };
    table("outputs", &c.outputs, 8);
    if !c.tokens.is_empty() {
        table("output tokens (every position)", &c.tokens, 12);
    }
    s
}
