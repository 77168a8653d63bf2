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
pub use evaluator::{Evaluator, evaluate_in, evaluate_one, evaluate_with};
pub use types::{SeqType, seq_type};

/// What the selectors see. `Causal` is RASP-L's causality (Zhou et al.
/// 2023), the meaning a decoder-only transformer has: every selector is
/// restricted to the keys at or before its query, and `length` at position
/// i is the prefix length i + 1. So an s-op's value at position i depends
/// only on the first i + 1 tokens, and equals its value at the last
/// position of that prefix. It is *not* the bidirectional program run on
/// each prefix: an s-op read at another position sees that position's
/// causal value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Semantics {
    /// The original's: every query sees every key, `length` is the input's.
    #[default]
    Bidirectional,
    /// RASP-L's: query i sees the keys 0..=i, `length` at i is i + 1.
    Causal,
}

impl Semantics {
    /// `Causal` when `causal`, else `Bidirectional` (a `--causal` flag).
    pub fn from_causal(causal: bool) -> Semantics {
        if causal {
            Semantics::Causal
        } else {
            Semantics::Bidirectional
        }
    }

    /// Whether it is `Causal`.
    pub fn is_causal(self) -> bool {
        self == Semantics::Causal
    }

    /// How many keys query `q` of an `n`-token input may select.
    pub(crate) fn keys(self, q: usize, n: usize) -> usize {
        match self {
            Semantics::Bidirectional => n,
            Semantics::Causal => (q + 1).min(n),
        }
    }

    /// The word used in messages and files: `bidirectional` or `causal`.
    pub fn name(self) -> &'static str {
        match self {
            Semantics::Bidirectional => "bidirectional",
            Semantics::Causal => "causal",
        }
    }
}

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
