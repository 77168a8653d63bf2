//! `Evaluator`: the same targets over many inputs, one after another, and
//! the one-input entry points built on it.

use std::sync::atomic::AtomicBool;

use super::run::Run;
use super::{Column, EvalError, Output, Semantics, bits, check_input};
use crate::diag::codes;
use crate::diag::limits::Limit;
use crate::ir::value::Value;
use crate::ir::{Graph, Kind, NodeId};

/// Evaluate `targets` on one input under `sem`.
pub fn evaluate_in(
    graph: &Graph,
    input: &[Value],
    targets: &[NodeId],
    sem: Semantics,
) -> Result<Vec<Output>, EvalError> {
    evaluate_with(graph, input, targets, sem, None)
}

/// Evaluate `targets` on one input under `sem`; stop with
/// `rasp::interrupted` as soon as `cancel` is set.
pub fn evaluate_with(
    graph: &Graph,
    input: &[Value],
    targets: &[NodeId],
    sem: Semantics,
    cancel: Option<&AtomicBool>,
) -> Result<Vec<Output>, EvalError> {
    Evaluator::new(graph, targets)
        .semantics(sem)
        .run(input, cancel)
}

/// Evaluates the same targets on many inputs, one after another, reusing
/// what does not depend on the input: the order of the nodes to compute,
/// the column slots, the selector rows' buffers.
pub struct Evaluator<'g> {
    graph: &'g Graph,
    targets: Vec<NodeId>,
    order: Vec<NodeId>,
    /// How many columns an input fills (the s-ops of `order`) and how many
    /// selector matrices it returns: what the memory estimate counts.
    columns: usize,
    matrices: usize,
    cols: Vec<Option<Column>>,
    pool: Vec<Vec<bool>>,
    fast: bool,
    sem: Semantics,
    bits: bits::Bits,
}

impl<'g> Evaluator<'g> {
    pub fn new(graph: &'g Graph, targets: &[NodeId]) -> Evaluator<'g> {
        let order = graph.ancestors(targets);
        Evaluator {
            graph,
            targets: targets.to_vec(),
            columns: order
                .iter()
                .filter(|id| graph.kind(**id) == Kind::Sop)
                .count(),
            matrices: targets
                .iter()
                .filter(|id| graph.kind(**id) == Kind::Selector)
                .count(),
            order,
            cols: vec![None; graph.len()],
            pool: Vec::new(),
            fast: true,
            sem: Semantics::Bidirectional,
            bits: bits::Bits::default(),
        }
    }

    /// Evaluate under `sem` (bidirectional unless told).
    pub fn semantics(mut self, sem: Semantics) -> Evaluator<'g> {
        self.sem = sem;
        self
    }

    /// Only the general O(n²) path: the reference the fast selectors are
    /// tested against.
    pub fn general(graph: &'g Graph, targets: &[NodeId]) -> Evaluator<'g> {
        Evaluator {
            fast: false,
            ..Evaluator::new(graph, targets)
        }
    }

    /// Refuse, before anything is allocated, an input whose evaluation
    /// would hold more than the memory limit: a column of `n` values per
    /// s-op, an `n` by `n` matrix per selector asked for.
    fn check_memory(&self, n: usize) -> Result<(), EvalError> {
        let n = n as u128;
        let value = std::mem::size_of::<Value>() as u128;
        let bytes = self.columns as u128 * n * value + self.matrices as u128 * n * n;
        if Limit::Memory.allows(bytes) {
            return Ok(());
        }
        Err(EvalError {
            node: None,
            code: codes::LIMIT_MEMORY,
            message: Limit::Memory.message(format!(
                "evaluating {} s-op(s){} on {n} tokens would hold {bytes} bytes",
                self.columns,
                match self.matrices {
                    0 => String::new(),
                    k => format!(" and {k} selector matrix(es)"),
                }
            )),
            position: None,
        })
    }

    /// The targets' values on `input`.
    pub fn run(
        &mut self,
        input: &[Value],
        cancel: Option<&AtomicBool>,
    ) -> Result<Vec<Output>, EvalError> {
        check_input(input)?;
        let n = input.len();
        self.check_memory(n)?;
        let mut run = Run {
            graph: self.graph,
            n,
            cols: std::mem::take(&mut self.cols),
            cancel,
            fast: self.fast,
            sem: self.sem,
            bits: std::mem::take(&mut self.bits),
        };
        run.bits.reset(self.graph.len());
        let mut pool = std::mem::take(&mut self.pool);
        let result = (|| {
            for &id in &self.order {
                run.eval_sop(id, input, &mut pool)?;
            }
            let mut outputs = Vec::with_capacity(self.targets.len());
            for &t in &self.targets {
                outputs.push(match self.graph.kind(t) {
                    Kind::Sop => Output::Sop(run.col(t).clone()),
                    Kind::Selector => {
                        let mut rows = Vec::with_capacity(n);
                        for q in 0..n {
                            let mut row = vec![false; n];
                            run.row(t, q, &mut row[..self.sem.keys(q, n)], &mut pool)?;
                            rows.push(row);
                        }
                        Output::Selector(rows)
                    }
                });
            }
            Ok(outputs)
        })();
        // The columns stay for the next input (each is recomputed before
        // it is read).
        self.cols = run.cols;
        self.bits = run.bits;
        self.pool = pool;
        result
    }
}

/// Evaluate one node on one input.
pub fn evaluate_one(
    graph: &Graph,
    input: &[Value],
    target: NodeId,
    sem: Semantics,
) -> Result<Output, EvalError> {
    let mut outs = evaluate_in(graph, input, &[target], sem)?;
    Ok(outs.pop().expect("one target gives one output"))
}
