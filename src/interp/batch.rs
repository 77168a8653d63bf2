//! Many evaluations at once: several named targets on one input, one
//! target on many inputs (in parallel).

use rayon::prelude::*;

use super::{EvalError, Evaluator, Output, Semantics, evaluate_in, evaluate_one};
use crate::ir::value::Value;
use crate::ir::{Graph, NodeId};

/// Evaluate named nodes on one input, each to its value or its own error:
/// all together, and one by one only when that fails, so every name that
/// works still has its value.
pub fn evaluate_each(
    graph: &Graph,
    input: &[Value],
    named: &[(String, NodeId)],
    sem: Semantics,
) -> Vec<Result<Output, EvalError>> {
    let targets: Vec<NodeId> = named.iter().map(|(_, id)| *id).collect();
    match evaluate_in(graph, input, &targets, sem) {
        Ok(outs) => outs.into_iter().map(Ok).collect(),
        Err(_) => targets
            .iter()
            .map(|id| evaluate_one(graph, input, *id, sem))
            .collect(),
    }
}

/// Evaluate one node on many inputs under `sem`, in parallel; results in
/// input order.
pub fn evaluate_batch(
    graph: &Graph,
    inputs: &[Vec<Value>],
    target: NodeId,
    sem: Semantics,
) -> Vec<Result<Output, EvalError>> {
    if inputs.len() < 2 {
        // Not worth starting the thread pool for (a process that
        // evaluates one input would spend more on it than on the input).
        let mut ev = Evaluator::new(graph, &[target]).semantics(sem);
        return inputs
            .iter()
            .map(|input| {
                ev.run(input, None)
                    .map(|mut o| o.pop().expect("one target gives one output"))
            })
            .collect();
    }
    inputs
        .par_iter()
        .map_init(
            || Evaluator::new(graph, &[target]).semantics(sem),
            |ev, input| {
                ev.run(input, None)
                    .map(|mut o| o.pop().expect("one target gives one output"))
            },
        )
        .collect()
}
