//! Verification: run a compiled model and the interpreter on every input up
//! to the maximum length (or on seeded samples when there are too many) and
//! compare. On a mismatch, report the shortest counterexample and the first
//! s-op whose value, read back from the residual stream, differs from the
//! interpreter's.

use crate::diag::{Diag, SourceMap, codes};
use crate::interp::{self, Output, Semantics};
use crate::ir::value::{self, Value};
use crate::ir::{Graph, NodeId};
use crate::model::executor::{Executor, Want};

use super::Compiled;

/// Inputs enumerated exhaustively at most (beyond: seeded samples).
pub const EXHAUSTIVE_LIMIT: u128 = 200_000;
/// Samples when the inputs are too many to enumerate.
pub const DEFAULT_SAMPLES: usize = 20_000;
/// Inputs per batch of a verification: the interpreter computes one
/// batch while the model runs the one before, so several batches keep both
/// at work (a sampled check at N = 512 has about 4,000 inputs).
const BATCH: usize = 1024;
/// Most tokens, all inputs together, of a sampled check: fewer (or
/// shorter) samples when the lengths are long, so memory stays bounded
/// whatever `--max-len` is. The report says how many inputs it compared.
pub const SAMPLE_TOKENS: usize = 4_000_000;
/// Most inputs an exhaustive verification enumerates.
pub const MAX_EXHAUSTIVE: u128 = 100_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every input if there are at most [`EXHAUSTIVE_LIMIT`], else samples.
    Auto {
        samples: usize,
        seed: u64,
    },
    Exhaustive,
    Samples {
        samples: usize,
        seed: u64,
    },
    /// Every length 1..=N: all inputs of a length when there are few, else
    /// seeded samples of it: about `samples / N` per length up to 16 tokens,
    /// fewer beyond (longer inputs cost more), at least 8.
    Cover {
        samples: usize,
        seed: u64,
    },
}

/// Where a counterexample first goes wrong inside the model.
#[derive(Clone, Debug)]
pub struct FirstDivergence {
    pub name: String,
    pub layer: Option<usize>,
    pub sublayer: String,
    pub expected: Vec<Value>,
    pub got: Vec<Value>,
}

#[derive(Clone, Debug)]
pub struct Counterexample {
    pub input: Vec<Value>,
    pub expected: Vec<Value>,
    pub got: Vec<Value>,
    pub first: Option<FirstDivergence>,
}

#[derive(Clone, Debug)]
pub struct Report {
    /// Inputs compared (those the interpreter evaluates without error).
    pub checked: usize,
    pub mismatches: usize,
    /// Inputs on which the program itself fails (not compared).
    pub program_errors: usize,
    pub exhaustive: bool,
    pub seed: Option<u64>,
    pub counterexample: Option<Counterexample>,
    /// The model is causal: compared with the program's causal values.
    pub causal: bool,
    pub max_len: usize,
}

impl Report {
    /// An error unless the check found no mismatch, compared at least one
    /// input, and compared more inputs than the program itself rejected.
    pub fn require_sound(&self, graph: &Graph, target: NodeId) -> Result<(), Diag> {
        let at = |d: Diag| match graph.node(target).span {
            Some(s) => d.at(s),
            None => d,
        };
        if self.mismatches > 0 {
            return Err(at(Diag::error(
                codes::COMPILE_MISMATCH,
                format!(
                    "the compiled model disagrees with the interpreter; nothing was written\n{}",
                    self.render(self.max_len).trim_end()
                ),
            )
            .help(
                "this is a bug in rasp; please report it with the program and the counterexample",
            )));
        }
        if self.checked == 0 {
            return Err(at(Diag::error(
                codes::VERIFY_VACUOUS,
                format!(
                    "verification compared no input: the program fails on all {} input(s) tried",
                    self.program_errors
                ),
            )
            .help(
                "check the vocab: run the program on a few inputs with `rasp eval`",
            )));
        }
        if self.program_errors > self.checked {
            return Err(at(Diag::error(
                codes::VERIFY_VACUOUS,
                format!(
                    "the program itself fails on most inputs: {} of {} tried (only {} compared)",
                    self.program_errors,
                    self.program_errors + self.checked,
                    self.checked
                ),
            )
            .help("the model is only checked where the program is defined; check the vocab, or pass --no-verify to write it anyway")));
        }
        Ok(())
    }

    /// What `rasp.json` records of this check.
    pub fn record(&self) -> crate::model::Verification {
        crate::model::Verification {
            inputs: self.checked,
            mismatches: self.mismatches,
            program_errors: self.program_errors,
            exhaustive: self.exhaustive,
            seed: self.seed,
            causal: self.causal,
            max_len: self.max_len,
        }
    }

    /// The report as text: `verified K inputs, M mismatches (...)` and, on
    /// a mismatch, the shortest counterexample and where it goes wrong.
    pub fn render(&self, max_len: usize) -> String {
        use crate::interp::display::{input_repr, sequence_str};
        let mut how = if self.exhaustive {
            format!("every input up to length {max_len}")
        } else {
            format!(
                "seeded samples of lengths 1..{max_len}, seed {}",
                self.seed.unwrap_or(0)
            )
        };
        if self.causal {
            how.push_str("; causal semantics");
        }
        let mut s = format!(
            "verified {} inputs, {} mismatches ({how})\n",
            self.checked, self.mismatches
        );
        if self.program_errors > 0 {
            s.push_str(&format!(
                "  {} input(s) not compared: the program itself fails on them (an error of the program, not of the model)\n",
                self.program_errors
            ));
        }
        if let Some(c) = &self.counterexample {
            s.push_str(&format!(
                "shortest counterexample: {}\n",
                input_repr(&c.input)
            ));
            s.push_str(&format!("  interpreter: {}\n", sequence_str(&c.expected)));
            s.push_str(&format!("  model:       {}\n", sequence_str(&c.got)));
            if let Some(f) = &c.first {
                let place = match f.layer {
                    Some(l) => format!("layer {l} ({})", f.sublayer),
                    None => "the embedding".to_string(),
                };
                s.push_str(&format!(
                    "  first s-op to differ: `{}` in {place}: interpreter {}, model {}\n",
                    f.name,
                    sequence_str(&f.expected),
                    sequence_str(&f.got)
                ));
            }
        }
        s
    }
}

/// Numbers of inputs of each length 1..=n over a vocab of size v.
pub fn count_inputs(v: usize, n: usize) -> u128 {
    let mut total: u128 = 0;
    let mut p: u128 = 1;
    for _ in 0..n {
        p = p.saturating_mul(v as u128);
        total = total.saturating_add(p);
    }
    total
}

/// Two outputs agree: Python equality, numbers within a tolerance.
pub fn same_value(a: &Value, b: &Value) -> bool {
    if value::py_eq(a, b) {
        return true;
    }
    match (a, b) {
        (Value::Str(_), _) | (_, Value::Str(_)) => false,
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-5 * x.abs().max(y.abs()).max(1.0),
            _ => false,
        },
    }
}

fn same_seq(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_value(x, y))
}

/// A small deterministic generator (splitmix64), for seeded samples.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// The inputs to check (shortest first), whether that is all of them, and
/// the seed of the sample otherwise.
pub type Inputs = (Vec<Vec<Value>>, bool, Option<u64>);

pub fn inputs(vocab: &[Value], n: usize, mode: Mode) -> Result<Inputs, Diag> {
    let total = count_inputs(vocab.len(), n);
    let (exhaustive, samples, seed) = match mode {
        Mode::Exhaustive => {
            if total > 20 * EXHAUSTIVE_LIMIT {
                return Err(Diag::error(
                    codes::COMPILE_VOCAB,
                    format!(
                        "there are {total} inputs up to length {n}: too many to check them all"
                    ),
                )
                .help("use --samples K --seed S"));
            }
            (true, 0, None)
        }
        Mode::Auto { samples, seed } => {
            if total <= EXHAUSTIVE_LIMIT {
                (true, 0, None)
            } else {
                (false, samples, Some(seed))
            }
        }
        Mode::Samples { samples, seed } => (false, samples, Some(seed)),
        Mode::Cover { samples, seed } => {
            let base = samples / n.max(1);
            let mut out = Vec::new();
            let mut rng = Rng(seed);
            let mut all = true;
            let lengths = cover_lengths(n, base);
            if lengths.len() < n {
                all = false;
            }
            for len in lengths {
                // Long inputs cost more: beyond 16 tokens, fewer of them (at
                // least 8 of every length).
                let per_len = (base * 16 / len.max(16)).max(8);
                let count = (vocab.len() as u128).checked_pow(len as u32);
                if count.is_some_and(|c| c <= per_len as u128) {
                    super::valueset::for_each_index(&vec![vocab.len(); len], |idx| {
                        out.push(idx.iter().map(|i| vocab[*i].clone()).collect());
                    });
                } else {
                    all = false;
                    let per_len = per_len.min((SAMPLE_TOKENS / n / len).max(1));
                    for _ in 0..per_len {
                        out.push(
                            (0..len)
                                .map(|_| vocab[rng.below(vocab.len())].clone())
                                .collect(),
                        );
                    }
                }
            }
            return Ok((out, all, (!all).then_some(seed)));
        }
    };
    let mut out = Vec::new();
    if exhaustive {
        for len in 1..=n {
            super::valueset::for_each_index(&vec![vocab.len(); len], |idx| {
                out.push(idx.iter().map(|i| vocab[*i].clone()).collect());
            });
        }
    } else {
        let mut rng = Rng(seed.unwrap_or(0));
        let mean_len = n.div_ceil(2).max(1);
        let samples = samples.min((SAMPLE_TOKENS / mean_len).max(8));
        for _ in 0..samples {
            let len = 1 + rng.below(n);
            out.push(
                (0..len)
                    .map(|_| vocab[rng.below(vocab.len())].clone())
                    .collect(),
            );
        }
        out.sort_by_key(Vec::len);
    }
    Ok((out, exhaustive, seed))
}

/// The lengths a covering check samples: every length when that stays
/// within [`SAMPLE_TOKENS`] (at `base` inputs each), else every length up
/// to 16 and then lengths growing by half each step, up to `n`.
fn cover_lengths(n: usize, base: usize) -> Vec<usize> {
    let cost: u128 = (1..=n as u128).map(|l| l * (base.max(8) as u128)).sum();
    if cost <= SAMPLE_TOKENS as u128 {
        return (1..=n).collect();
    }
    let mut out: Vec<usize> = (1..=n.min(16)).collect();
    let mut len = 16usize;
    while len < n {
        len = (len + len / 2).min(n);
        out.push(len);
    }
    out
}

/// The program's values of `nodes` on `input` under `sem` (a causal
/// model computes the causal ones). `None` when the program fails on the
/// input.
pub fn expected(
    graph: &Graph,
    input: &[Value],
    nodes: &[NodeId],
    sem: Semantics,
) -> Option<Vec<Vec<Value>>> {
    let outs = interp::evaluate_in(graph, input, nodes, sem).ok()?;
    outs.into_iter()
        .map(|o| match o {
            Output::Sop(col) => Some(col.values),
            Output::Selector(_) => None,
        })
        .collect()
}

/// Compare the model with the interpreter, running it on the CPU.
pub fn verify(
    graph: &Graph,
    sources: &SourceMap,
    compiled: &Compiled,
    target: NodeId,
    mode: Mode,
) -> Result<Report, Diag> {
    let cpu = compiled.model.prepare();
    verify_with(graph, sources, compiled, target, mode, &cpu)
}

/// Compare the model with the interpreter, running it on `exec` (an
/// executor prepared from `compiled.model`).
pub fn verify_with(
    graph: &Graph,
    sources: &SourceMap,
    compiled: &Compiled,
    target: NodeId,
    mode: Mode,
    exec: &dyn Executor,
) -> Result<Report, Diag> {
    let model = &compiled.model;
    let causal = model.meta.causal;
    let sem = Semantics::from_causal(causal);
    let vocab = model.meta.vocab_values();
    let n = model.meta.max_len;
    let total = count_inputs(vocab.len(), n);
    // Every input, generated chunk by chunk (memory stays flat however
    // many there are); or the listed ones.
    let every = match mode {
        Mode::Exhaustive => true,
        Mode::Auto { .. } => total <= EXHAUSTIVE_LIMIT,
        _ => false,
    };
    let (listed, exhaustive, seed) = if every {
        if total > MAX_EXHAUSTIVE {
            return Err(Diag::error(
                codes::COMPILE_VOCAB,
                format!("there are {total} inputs up to length {n}: too many to check them all"),
            )
            .help(format!(
                "at most {MAX_EXHAUSTIVE} are checked exhaustively; use --samples K --seed S"
            )));
        }
        (Vec::new(), true, None)
    } else {
        inputs(&vocab, n, mode)?
    };
    let mut chunks: Box<dyn Iterator<Item = Vec<Vec<Value>>> + Send + '_> = if every {
        Box::new(Every::new(&vocab, n))
    } else {
        Box::new(listed.chunks(BATCH).map(<[Vec<Value>]>::to_vec))
    };
    let mut report = Report {
        checked: 0,
        mismatches: 0,
        program_errors: 0,
        exhaustive,
        seed,
        counterexample: None,
        causal,
        max_len: n,
    };
    let decoder = model.decoder();
    // The interpreter computes a chunk's expected values while the
    // executor runs the previous chunk (on a GPU both work at once).
    let (tx, rx) = std::sync::mpsc::sync_channel::<(Vec<Vec<Value>>, Vec<Vec<Value>>)>(1);
    let compare = move |report: &mut Report| -> Result<(), Diag> {
        for (inputs, expected) in rx.iter() {
            let ids: Vec<Vec<usize>> = inputs
                .iter()
                .map(|i| model.encode(i))
                .collect::<Result<_, _>>()?;
            let logits = exec.run_batch(&ids, &Want::default())?.logits;
            for ((input, exp), logits) in inputs.into_iter().zip(expected).zip(&logits) {
                report.checked += 1;
                let got = decoder.decode_logits(logits, None);
                if !same_seq(&exp, &got) {
                    report.mismatches += 1;
                    let shorter = report
                        .counterexample
                        .as_ref()
                        .is_none_or(|c| input.len() < c.input.len());
                    if shorter {
                        report.counterexample = Some(Counterexample {
                            input,
                            expected: exp,
                            got,
                            first: None,
                        });
                    }
                }
            }
        }
        Ok(())
    };
    let mut program_errors = 0;
    let compared = std::thread::scope(|scope| {
        let mut r = report.clone();
        let runner = scope.spawn(move || compare(&mut r).map(|()| r));
        for chunk in chunks.by_ref() {
            let expected: Vec<Option<Vec<Value>>> =
                interp::evaluate_batch(graph, &chunk, target, sem)
                    .into_iter()
                    .map(|e| match e {
                        Ok(Output::Sop(col)) => Some(col.values),
                        _ => None,
                    })
                    .collect();
            let mut ok_inputs = Vec::with_capacity(chunk.len());
            let mut ok_expected = Vec::with_capacity(chunk.len());
            for (input, e) in chunk.into_iter().zip(expected) {
                match e {
                    Some(values) => {
                        ok_inputs.push(input);
                        ok_expected.push(values);
                    }
                    None => program_errors += 1,
                }
            }
            // A closed channel: the runner stopped on an error, which it
            // returns.
            if tx.send((ok_inputs, ok_expected)).is_err() {
                break;
            }
        }
        drop(tx);
        runner
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    });
    report = compared?;
    report.program_errors = program_errors;
    if let Some(c) = report.counterexample.as_mut() {
        c.first = first_divergence(sources, compiled, &c.input);
    }
    Ok(report)
}

/// Every input of lengths 1..=n over a vocabulary, shortest first, in
/// chunks of [`BATCH`].
struct Every<'v> {
    vocab: &'v [Value],
    n: usize,
    /// The next input's token indices (empty before the first).
    next: Vec<usize>,
    done: bool,
}

impl<'v> Every<'v> {
    fn new(vocab: &'v [Value], n: usize) -> Every<'v> {
        Every {
            vocab,
            n,
            next: vec![0],
            done: vocab.is_empty() || n == 0,
        }
    }

    /// Step the odometer; longer when it wraps.
    fn advance(&mut self) {
        let v = self.vocab.len();
        for k in (0..self.next.len()).rev() {
            self.next[k] += 1;
            if self.next[k] < v {
                return;
            }
            self.next[k] = 0;
        }
        if self.next.len() == self.n {
            self.done = true;
        } else {
            self.next = vec![0; self.next.len() + 1];
        }
    }
}

impl Iterator for Every<'_> {
    type Item = Vec<Vec<Value>>;

    fn next(&mut self) -> Option<Vec<Vec<Value>>> {
        let mut chunk = Vec::with_capacity(BATCH);
        while !self.done && chunk.len() < BATCH {
            chunk.push(self.next.iter().map(|&i| self.vocab[i].clone()).collect());
            self.advance();
        }
        (!chunk.is_empty()).then_some(chunk)
    }
}

/// The first placed s-op (in layer order) whose residual value differs.
pub fn first_divergence(
    _sources: &SourceMap,
    compiled: &Compiled,
    input: &[Value],
) -> Option<FirstDivergence> {
    let graph = &compiled.graph;
    let model = &compiled.model;
    let ids = model.encode(input).ok()?;
    // Each s-op is read right after the sublayer that writes it (a later
    // MLP may reuse its dims).
    let trace = model.prepare().trace(&ids);
    let at = |p: &crate::model::Placement| -> usize {
        match (p.sublayer.as_str(), p.layer) {
            ("attn", Some(l)) => 1 + 2 * l,
            (_, Some(l)) => 2 + 2 * l,
            _ => 0,
        }
    };
    let mut order: Vec<(&NodeId, &usize)> = compiled.placements.iter().collect();
    order.sort_by_key(|(n, _)| compiled.positions.get(n).copied());
    let nodes: Vec<NodeId> = order.iter().map(|(n, _)| **n).collect();
    let outs = expected(
        graph,
        input,
        &nodes,
        Semantics::from_causal(model.meta.causal),
    )?;
    for ((_, idx), want) in order.iter().zip(outs) {
        let p = &model.meta.sops[**idx];
        let resid = trace.get(at(p)).or(trace.last())?;
        let got = model.read(resid, p);
        if !same_seq(&want, &got) {
            return Some(FirstDivergence {
                name: p.name.clone(),
                layer: p.layer,
                sublayer: p.sublayer.clone(),
                expected: want,
                got,
            });
        }
    }
    None
}

/// An s-op whose causal value differs from its bidirectional one, with
/// the shortest input found that shows it.
#[derive(Clone, Debug)]
pub struct CausalDifference {
    pub node: NodeId,
    pub input: Vec<Value>,
    /// The first position where the two differ, and the two values there.
    pub position: usize,
    pub causal: Value,
    pub bidirectional: Value,
}

/// The s-ops `target` depends on (itself included) whose causal values
/// differ from their bidirectional values on some of `inputs`, in program
/// order, each with its shortest witness. Inputs on which the program
/// fails under either semantics are skipped.
pub fn causal_differences(
    graph: &Graph,
    target: NodeId,
    inputs: &[Vec<Value>],
) -> Vec<CausalDifference> {
    use rayon::prelude::*;
    let nodes: Vec<NodeId> = graph
        .ancestors(&[target])
        .into_iter()
        .filter(|n| graph.kind(*n) == crate::ir::Kind::Sop)
        .collect();
    let found: Vec<Vec<Option<CausalDifference>>> = inputs
        .par_iter()
        .filter_map(|input| {
            let full = expected(graph, input, &nodes, Semantics::Bidirectional)?;
            let causal = expected(graph, input, &nodes, Semantics::Causal)?;
            Some(
                nodes
                    .iter()
                    .zip(full.iter().zip(&causal))
                    .map(|(n, (f, c))| {
                        let position = f.iter().zip(c).position(|(a, b)| !same_value(a, b))?;
                        Some(CausalDifference {
                            node: *n,
                            input: input.clone(),
                            position,
                            causal: c[position].clone(),
                            bidirectional: f[position].clone(),
                        })
                    })
                    .collect(),
            )
        })
        .collect();
    let mut best: Vec<Option<CausalDifference>> = vec![None; nodes.len()];
    for per_input in found {
        for (slot, d) in best.iter_mut().zip(per_input) {
            if let Some(d) = d
                && slot.as_ref().is_none_or(|b| d.input.len() < b.input.len())
            {
                *slot = Some(d);
            }
        }
    }
    best.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {

    /// A sampled check keeps to its token budget whatever the length, and
    /// does not change for short lengths.
    #[test]
    fn sampled_inputs_keep_to_a_token_budget() {
        let vocab = [Value::str("a"), Value::str("b")];
        for mode in [
            Mode::Auto {
                samples: DEFAULT_SAMPLES,
                seed: 0,
            },
            Mode::Cover {
                samples: 2_000,
                seed: 0,
            },
        ] {
            let (inputs, exhaustive, _) = inputs(&vocab, 1_000_000, mode).expect("inputs");
            let tokens: usize = inputs.iter().map(Vec::len).sum();
            assert!(!exhaustive);
            assert!(
                tokens <= SAMPLE_TOKENS + 1_000_000,
                "{mode:?}: {tokens} tokens"
            );
            assert!(inputs.len() >= 8, "{mode:?}");
        }
        let (short, _, _) = inputs(
            &vocab,
            20,
            Mode::Auto {
                samples: 500,
                seed: 1,
            },
        )
        .expect("inputs");
        assert_eq!(short.len(), 500);
        let (cover, _, _) = inputs(
            &vocab,
            20,
            Mode::Cover {
                samples: 2_000,
                seed: 1,
            },
        )
        .expect("inputs");
        assert!(
            (1..=20).all(|l| cover.iter().any(|i| i.len() == l)),
            "every length"
        );
    }

    use super::*;

    /// The streamed enumeration is every input, shortest first, each once,
    /// in the order of `inputs` (Mode::Exhaustive).
    #[test]
    fn every_input_streams_in_order() {
        let vocab = vec![Value::Int(1), Value::Int(2), Value::Int(3)];
        for n in 1..=6 {
            let streamed: Vec<Vec<Value>> = Every::new(&vocab, n).flatten().collect();
            let (listed, all, _) = inputs(&vocab, n, Mode::Exhaustive).expect("few inputs");
            assert!(all);
            assert_eq!(streamed.len() as u128, count_inputs(3, n));
            assert_eq!(streamed, listed);
        }
        assert!(Every::new(&[], 3).next().is_none());
        // Chunks are full but the last.
        let chunks: Vec<usize> = Every::new(&vocab, 9).map(|c| c.len()).collect();
        assert!(chunks[..chunks.len() - 1].iter().all(|&c| c == BATCH));
    }
}
