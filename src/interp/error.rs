//! Evaluation errors, tied to the node that failed, and their diagnostics.

use super::display;
use crate::diag::limits::Limit;
use crate::diag::{Diag, SourceMap, codes};
use crate::ir::value::{OpError, OpErrorKind, Value};
use crate::ir::{Graph, NodeId};

/// An evaluation failure, tied to the node that failed.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalError {
    pub node: Option<NodeId>,
    pub code: &'static str,
    pub message: String,
    /// The query/position where it failed, when known.
    pub position: Option<usize>,
}

impl EvalError {
    pub(super) fn at(node: NodeId, position: Option<usize>, e: OpError) -> EvalError {
        let code = match e.kind {
            OpErrorKind::Type => codes::EVAL_TYPE,
            OpErrorKind::Value => codes::EVAL_VALUE,
            OpErrorKind::DivZero => codes::EVAL_DIV_ZERO,
            OpErrorKind::Overflow => codes::EVAL_OVERFLOW,
            OpErrorKind::Index => codes::EVAL_INDEX,
            OpErrorKind::Key => codes::EVAL_KEY,
            OpErrorKind::Limit(l) => l.code(),
        };
        EvalError {
            node: Some(node),
            code,
            message: e.message,
            position,
        }
    }

    /// [`EvalError::to_diag`] for an evaluation of `requested`: a failure
    /// inside a builtin (`tokens_int` on a letter, ...) has no span of its
    /// own, so it points at the s-op that was asked for.
    pub fn to_diag_for(
        &self,
        graph: &Graph,
        sources: &SourceMap,
        input: &[Value],
        requested: NodeId,
    ) -> Diag {
        let d = self.to_diag(graph, sources, input);
        match (d.span, graph.node(requested).span) {
            (None, Some(span)) if self.node.is_some_and(|n| n != requested) => d
                .at(span)
                .label("while evaluating this")
                .with_sources(sources),
            _ => d,
        }
    }

    /// A diagnostic naming the input and the s-op that failed.
    pub fn to_diag(&self, graph: &Graph, sources: &SourceMap, input: &[Value]) -> Diag {
        let input_text = display::input_short(input, self.position);
        let mut msg = match self.node {
            Some(node) => format!(
                "evaluating `{}` on input {} failed: {}",
                node_title(graph, sources, node),
                input_text,
                self.message
            ),
            None if input.is_empty() => format!("the input is empty: {}", self.message),
            None => format!("input {input_text}: {}", self.message),
        };
        if let Some(p) = self.position {
            msg.push_str(&format!(" (at position {p})"));
        }
        let mut d = Diag::error(self.code, msg);
        if let Some(node) = self.node
            && let Some(span) = graph.node(node).span
        {
            d = d.at(span).label("this s-op");
        }
        d = match self.code {
            codes::EVAL_MIXED_TYPES => d.help(
                "every position of an s-op must hold the same type; an aggregate with no selected \
                 key gives its default (0 unless given as the third argument)",
            ),
            codes::EVAL_NON_NUMERIC_MEAN => d.help(
                "an aggregate over two or more selected keys averages them, which needs numbers; \
                 select exactly one key per query for strings or bools",
            ),
            codes::EVAL_DIV_ZERO => d.help(
                "both branches of an s-op conditional are computed at every position, so a guard \
                 like `x / y if y > 0 else 0` still divides by zero",
            ),
            code => match Limit::by_code(code) {
                Some(l) => d.help(l.help()),
                None => d,
            },
        };
        d.with_sources(sources)
    }
}

/// How a node is named in messages: its user name, else its source text
/// (shortened), else a description of the operation.
pub fn node_title(graph: &Graph, sources: &SourceMap, node: NodeId) -> String {
    let n = graph.node(node);
    if let Some(name) = n.names.first() {
        return name.to_string();
    }
    if let Some(text) = n.span.and_then(|s| sources.snippet(s)) {
        let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if one_line.chars().count() <= 60 {
            return one_line;
        }
        let short: String = one_line.chars().take(57).collect();
        return format!("{short}...");
    }
    n.op.describe(graph)
}

/// Check an input and report why it cannot be evaluated (the empty input:
/// RASP sequences are never empty). `rasp exec` uses it too, so that a
/// compiled model refuses what the interpreter refuses.
pub fn check_input(input: &[Value]) -> Result<(), EvalError> {
    if input.is_empty() {
        return Err(EvalError {
            node: None,
            code: codes::EVAL_EMPTY_INPUT,
            message: "RASP sequences/selectors expect non-empty inputs".into(),
            position: None,
        });
    }
    Ok(())
}
