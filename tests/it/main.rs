//! The integration tests, as one binary (one link instead of one per file).
//! Each module is one concern; data-driven cases live in folders beside
//! this one (`tests/compile/`, `tests/errors/`, `tests/repl/`,
//! `tests/examples.txt`) and each folder has one runner here.

mod catalogue;
mod causal;
mod cli;
mod compile;
mod crash;
mod dataset;
mod draw;
mod editors;
mod errors;
mod estimate;
mod examples;
mod fmt;
mod genprog;
mod gpu;
mod grid;
mod integrity;
mod limits;
mod lsp;
mod lsp_robust;
mod model;
mod onekey;
mod options;
mod pty;
mod repl;
mod robustness;
mod selectors;
mod snapshot_cmd;
mod writes;
