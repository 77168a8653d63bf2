//! The interpreter: evaluates IR nodes on concrete inputs with the original's
//! exact semantics. It is the oracle every other back end is checked
//! against.
//!
//! Nodes are evaluated in topological (id) order over columns, one
//! `Vec<Value>` per s-op. Selectors are never materialised: aggregate and
//! selector_width compute one query row at a time (O(n) memory), except when
//! a selector itself is the requested output.
//!
//! `evaluator.rs` holds `Evaluator` and the one-input entry points;
//! `run.rs` one input's evaluation, node by node; `batch.rs` many targets
//! or many inputs; `types.rs` the sequence type checks; `error.rs`
//! evaluation errors as diagnostics.

pub mod display;

mod batch;
mod bits;
mod error;
mod evaluator;
mod fast;
mod run;
mod types;

use crate::ir::value::Value;

pub use batch::{evaluate_batch, evaluate_each};
pub use error::{EvalError, check_input, node_title};
pub use evaluator::{Evaluator, evaluate, evaluate_one, evaluate_with};
pub use types::{SeqType, seq_type};

/// A computed s-op.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub values: Vec<Value>,
    pub ty: SeqType,
}

/// The value of a requested node on one input.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    Sop(Column),
    /// One row per query position, one bool per key position.
    Selector(Vec<Vec<bool>>),
}
