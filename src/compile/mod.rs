//! The compiler: an s-op of the IR -> the weights of a transformer that
//! computes it exactly, on every input up to the maximum length.
//!
//! Pipeline: value sets (`valueset`) -> rewrites (`rewrite`) -> plan
//! (`plan`: fusion, encodings, schedule over [`Sublayer`]s) -> a size
//! estimate (`size`, refused above `max_params`) -> blocks (`builder`: the
//! residual layout; `heads`; `mlps`) -> a [`Model`] (`assemble`).
//! [`build`] is the one orchestration the CLI and the REPL share: compile,
//! then verify against the interpreter before anything is written.
//!
//! Two conventions make every block exact:
//! * **BOS bookkeeping.** Position 0 holds BOS. Every head gives the BOS
//!   *query* an overwhelming score on the BOS *key*, so whatever the BOS
//!   position holds never depends on the input; the compiler tracks that
//!   content (`bos_resid`) and corrects each head's key and value rows so the
//!   BOS key scores exactly the BOS score and carries exactly the default.
//!   Every MLP unit is gated off at BOS, so MLPs write nothing there.
//! * **Margins from value sets.** Attention separates selected keys from the
//!   rest by `ATTN_C` logits; discretising MLPs get their slopes from the
//!   smallest gap between reachable values, and compilation refuses (with a
//!   diagnostic) gaps that the float32 error of their input, bounded from
//!   the construction (`precision`), could cross.

mod affine;
mod assemble;
mod builder;
pub mod explain;
mod grid;
mod heads;
mod keygroups;
mod mlps;
pub mod onekey;
pub mod plan;
pub mod precision;
mod reclaim;
pub mod rewrite;
pub mod selectors;
pub mod size;
pub mod sublayer;
pub mod valueset;
pub mod verify;

use std::collections::BTreeMap;

use crate::diag::{Diag, SourceMap, codes};
use crate::ir::Value;
use crate::ir::{Graph, NodeId, Op};
use crate::model::Model;
use builder::Builder;
use plan::Plan;
pub use sublayer::Sublayer;
use valueset::{Domain, ValueSet};

/// Logit gap between a selected and an unselected key (before scaling).
pub const ATTN_C: f32 = 60.0;

/// Parse a `--vocab` argument.
pub fn parse_vocab(text: &str) -> Result<Vec<Value>, Diag> {
    let bad = |m: String| {
        Diag::error(codes::COMPILE_VOCAB, m)
            .help("write the vocab as a,b,c or abc (strings), or as a JSON list like [1, 2, 3]")
    };
    let trimmed = text.trim();
    let vocab: Vec<Value> = if trimmed.starts_with('[') || trimmed.starts_with('"') {
        let json: serde_json::Value = serde_json::from_str(trimmed)
            .map_err(|e| bad(format!("--vocab is not valid JSON: {e}")))?;
        crate::front::check_json_ints(trimmed).map_err(|d| d.prefix("--vocab"))?;
        crate::front::input_from_json(&json).map_err(|m| bad(format!("--vocab: {m}")))?
    } else if trimmed.contains(',') {
        trimmed.split(',').map(|t| Value::str(t.trim())).collect()
    } else {
        trimmed
            .chars()
            .map(|c| Value::str(&c.to_string()))
            .collect()
    };
    if vocab.is_empty() {
        return Err(bad("--vocab is empty".into()));
    }
    check_vocab(&vocab)?;
    Ok(vocab)
}

/// A vocabulary as `--vocab` takes it: `abc` when every token is one
/// character, else a JSON list.
pub fn vocab_text(vocab: &[Value]) -> String {
    let chars = vocab
        .iter()
        .all(|v| matches!(v, Value::Str(s) if s.chars().count() == 1 && !s.contains([',', '[', '"']) && !s.trim().is_empty()));
    if chars && !vocab.is_empty() {
        vocab.iter().map(|v| v.to_string()).collect()
    } else {
        let items: Vec<serde_json::Value> = vocab
            .iter()
            .map(crate::ir::value::value_to_json_total)
            .collect();
        serde_json::Value::Array(items).to_string()
    }
}

/// A vocabulary lists each token once (`1`, `1.0` and `"1"` are three
/// tokens): checked wherever one is parsed or given (`parse_vocab`,
/// compile options, `rasp gen`'s spec, the REPL's `:type`).
pub fn check_vocab(vocab: &[Value]) -> Result<(), Diag> {
    for (i, v) in vocab.iter().enumerate() {
        if vocab[..i].iter().any(|w| w.same(v)) {
            let once: Vec<Value> = vocab
                .iter()
                .enumerate()
                .filter(|(j, w)| !vocab[..*j].iter().any(|u| u.same(w)))
                .map(|(_, w)| w.clone())
                .collect();
            return Err(Diag::error(
                codes::COMPILE_VOCAB,
                format!("the vocabulary lists {} twice", v.repr()),
            )
            .help(format!("list each token once: {}", vocab_text(&once))));
        }
    }
    Ok(())
}

pub use crate::diag::limits::DEFAULT_MAX_PARAMS;

/// What to compile.
#[derive(Clone, Debug)]
pub struct Options {
    pub vocab: Vec<Value>,
    pub max_len: usize,
    pub causal: bool,
    /// Refuse (before building anything) a model estimated to have more
    /// parameters than this.
    pub max_params: u64,
}

impl Options {
    /// Non-causal, with the default parameter limit.
    pub fn new(vocab: Vec<Value>, max_len: usize) -> Options {
        Options {
            vocab,
            max_len,
            causal: false,
            max_params: DEFAULT_MAX_PARAMS,
        }
    }
}

/// The program a model comes from (recorded in `rasp.json`).
#[derive(Clone, Debug, Default)]
pub struct Source {
    pub text: String,
    pub file: String,
    pub sop: String,
}

/// The smallest gap, in one head, between the score of a selected key and
/// of any key that must lose to it (BOS included), before the softmax.
#[derive(Clone, Debug)]
pub struct HeadMargin {
    pub layer: usize,
    pub head: usize,
    pub node: NodeId,
    pub margin: f32,
}

/// A compiled model and what the compiler learnt on the way.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub model: Model,
    /// The graph the model was compiled from (the program after the
    /// compiler's rewrites) and the compiled node in it.
    pub graph: Graph,
    pub target: NodeId,
    pub sets: BTreeMap<NodeId, ValueSet>,
    pub plan: Plan,
    /// Node -> its placement (index into `model.meta.sops`).
    pub placements: BTreeMap<NodeId, usize>,
    /// Unique display titles of the nodes the plan touches.
    pub titles: BTreeMap<NodeId, String>,
    /// Where each node's value becomes available.
    pub positions: BTreeMap<NodeId, Sublayer>,
    /// Smallest distance of a reachable input from a step threshold, per
    /// discretising MLP.
    pub mlp_margins: Vec<(NodeId, f64)>,
    pub head_margins: Vec<HeadMargin>,
    /// What [`build`] verified, when it did.
    pub verified: Option<verify::Report>,
    /// The size estimate the compiler checked before building.
    pub estimate: Option<size::Estimate>,
}

impl Compiled {
    pub fn title(&self, id: NodeId) -> String {
        self.titles
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("#{}", id.0))
    }
}

fn check_options(opts: &Options) -> Result<(), Diag> {
    if opts.vocab.is_empty() {
        return Err(Diag::error(codes::COMPILE_VOCAB, "the vocab is empty"));
    }
    if opts.max_len == 0 {
        return Err(Diag::error(
            codes::COMPILE_VOCAB,
            "the max length must be at least 1",
        ));
    }
    check_max_len(opts.max_len)?;
    check_vocab(&opts.vocab)
}

/// The longest input a model is asked for, against the length limit:
/// the value sets, the position embedding and the verification all grow
/// with it.
pub fn check_max_len(max_len: usize) -> Result<(), Diag> {
    crate::diag::limits::Limit::Length.check(max_len as u128, || {
        format!("--max-len {max_len} asks for inputs of up to {max_len} tokens")
    })
}

/// Compile `target` into a model (not verified: see [`build`]).
pub fn compile(
    graph: &Graph,
    sources: &SourceMap,
    target: NodeId,
    opts: &Options,
    source: &Source,
) -> Result<Compiled, Diag> {
    check_options(opts)?;
    let domain = Domain {
        vocab: opts.vocab.clone(),
        max_len: opts.max_len,
        causal: opts.causal,
    };
    let first_sets = valueset::infer(graph, &[target], &domain, true)?;
    let (rewritten, target) = rewrite::rewrite(graph, &first_sets, target);
    let graph = &rewritten;
    let sets = valueset::infer(graph, &[target], &domain, false)?;
    let ctx = plan::Ctx::new(graph, &sets, &[target], &domain);
    let plan = plan::plan(&ctx, target)?;
    let estimate = size::estimate(&ctx, &plan, opts, target);
    if estimate.params > opts.max_params {
        return Err(size::too_big(graph, sources, &estimate, opts.max_params));
    }
    // A program of embeddings and linear maps needs no layer at all.
    let n_layers = plan::n_layers(&plan);
    let mut b = Builder::new(graph, sources, &sets, &plan, opts, n_layers);
    b.layout()?;
    // Blocks, sublayer by sublayer, so the BOS content is known when each
    // block reads it.
    for sub in Sublayer::all(n_layers) {
        let layer = sub.layer().unwrap_or(0);
        for id in plan.nodes.iter().copied() {
            let pos = plan.pos.get(&id).copied().unwrap_or(Sublayer::EMBED);
            let is_width = matches!(graph.op(id), Op::SelectorWidth(_) | Op::Length);
            match sub.kind() {
                sublayer::SublayerKind::Attn => {
                    // A width's head runs in the attention before its decoder.
                    let head_at = if is_width {
                        pos.attn_of_layer()
                    } else if matches!(graph.op(id), Op::Aggregate { .. }) {
                        Some(pos)
                    } else {
                        None
                    };
                    if head_at == Some(sub) {
                        b.attention(id, layer)?;
                    }
                }
                _ => {
                    let has_mlp = is_width
                        || plan
                            .fused
                            .get(&id)
                            .is_some_and(|f| f.mode != plan::MapMode::Linear);
                    if pos == sub && has_mlp {
                        b.mlp(id, layer)?;
                    }
                    if plan.conv_pos.get(&id) == Some(&sub) {
                        b.conversion(id, layer)?;
                    }
                }
            }
        }
        if sub.kind() == sublayer::SublayerKind::Mlp {
            for i in 0..plan.products.len() {
                if plan.product_pos.get(i) == Some(&sub) {
                    b.product_mlp(i, layer)?;
                }
            }
        }
    }
    // Dead dims are zeroed and reused by later s-ops.
    let logical: BTreeMap<NodeId, Vec<usize>> = b
        .dims
        .iter()
        .map(|(id, d)| {
            let mut dims: Vec<usize> = d.cat.iter().flat_map(|c| c.0.clone()).collect();
            dims.extend(d.num.iter().flatten().map(|x| x.0));
            dims.extend(b.conv.get(id).into_iter().flat_map(|c| c.0.clone()));
            (*id, dims)
        })
        .collect();
    let keep: std::collections::BTreeSet<usize> = logical
        .get(&target)
        .into_iter()
        .flatten()
        .copied()
        .collect();
    let reclaimed = reclaim::reclaim(&mut b, n_layers, target, &keep)?;
    let cleared = reclaim::cleared_nodes(&logical, &reclaimed);
    let mut compiled = assemble::assemble(b, graph, target, opts, source, &cleared)?;
    // The estimate is an upper bound; this check makes the limit hold even
    // if it were not.
    let params = explain::parameter_count(&compiled.model).0 as u64;
    if params > opts.max_params {
        let mut e = estimate.clone();
        e.params = params;
        return Err(size::too_big(graph, sources, &e, opts.max_params));
    }
    compiled.graph = rewritten.clone();
    compiled.estimate = Some(estimate);
    Ok(compiled)
}

/// How [`build`] checks a model before handing it out.
#[derive(Clone, Copy, Debug)]
pub enum Check {
    /// Not at all (`--no-verify`).
    Skip,
    /// A seeded sample covering every length: every input of the lengths
    /// small enough, about `samples / N` of each other length up to 16
    /// tokens and fewer of the longer ones (at least 8 of each).
    Verify { samples: usize, seed: u64 },
}

/// Inputs checked by default when compiling.
pub const DEFAULT_CHECK_SAMPLES: usize = 2_000;

impl Default for Check {
    fn default() -> Check {
        Check::Verify {
            samples: DEFAULT_CHECK_SAMPLES,
            seed: 0,
        }
    }
}

/// Compile and verify: the model, or a diagnostic saying why there is
/// none (it disagrees with the interpreter on a counterexample, or the
/// check was vacuous). The one orchestration of `rasp compile`, `:compile`
/// and every other place that hands out a model.
pub fn build(
    graph: &Graph,
    sources: &SourceMap,
    target: NodeId,
    opts: &Options,
    source: &Source,
    check: Check,
) -> Result<Compiled, Diag> {
    let mut compiled = compile(graph, sources, target, opts, source)?;
    if let Check::Verify { samples, seed } = check {
        let report = verify::verify(
            graph,
            sources,
            &compiled,
            target,
            verify::Mode::Cover { samples, seed },
        )?;
        report.require_sound(graph, target)?;
        compiled.model.meta.verified = Some(report.record());
        compiled.verified = Some(report);
    }
    Ok(compiled)
}

/// The s-ops of the program whose causal values differ from their
/// bidirectional ones on a seeded sample covering every length up to
/// `max_len` (every input of the short lengths), each with a witness; and
/// how many inputs were checked.
pub fn causal_check(
    graph: &Graph,
    target: NodeId,
    vocab: &[Value],
    max_len: usize,
) -> (Vec<verify::CausalDifference>, usize) {
    let mode = verify::Mode::Cover {
        samples: DEFAULT_CHECK_SAMPLES,
        seed: 0,
    };
    match verify::inputs(vocab, max_len, mode) {
        Ok((inputs, _, _)) => (
            verify::causal_differences(graph, target, &inputs),
            inputs.len(),
        ),
        Err(_) => (Vec::new(), 0),
    }
}

#[cfg(test)]
mod vocab_tests {
    use super::{check_vocab, parse_vocab, vocab_text};
    use crate::diag::codes;
    use crate::ir::Value;

    #[test]
    fn a_token_listed_twice_is_refused_with_the_list_to_give() {
        for (text, twice, help) in [
            ("aab", "'a'", "ab"),
            ("a,b,a", "'a'", "ab"),
            ("[1, 2, 1]", "1", "[1,2]"),
            ("[\"x\", \"yz\", \"yz\"]", "'yz'", "[\"x\",\"yz\"]"),
            ("\"abca\"", "'a'", "abc"),
        ] {
            let d = parse_vocab(text).expect_err(text);
            assert_eq!(d.code, codes::COMPILE_VOCAB);
            assert!(
                d.message.contains(&format!("lists {twice} twice")),
                "{text}: {}",
                d.message
            );
            let h = d.help.as_deref().expect("a help line");
            assert!(h.ends_with(&format!(": {help}")), "{text}: {h}");
        }
        // 1, 1.0, True and "1" are four tokens.
        assert_eq!(
            parse_vocab("[1, 1.0, true, \"1\"]")
                .expect("distinct")
                .len(),
            4
        );
        assert!(check_vocab(&[Value::Int(1), Value::Int(1)]).is_err());
        // The help's list parses back to the same tokens.
        for text in [
            "ab",
            "[1,2]",
            "[\"x\",\"yz\"]",
            "[\" \",\"a\"]",
            "[\",\",\"a\"]",
        ] {
            let v = parse_vocab(text).expect(text);
            let again = parse_vocab(&vocab_text(&v)).expect("its text");
            assert!(
                v.len() == again.len() && v.iter().zip(&again).all(|(a, b)| a.same(b)),
                "{text}"
            );
        }
    }
}
