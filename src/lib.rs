//! `rasp`: the RASP language ("Thinking Like Transformers") in Rust.
//!
//! Stages, each depending only on the ones before it:
//! [`diag`] (diagnostics) → [`syntax`] (lexer, parser, AST) → [`ir`] (the
//! s-op/selector DAG and Python-exact atoms) → [`interp`] (the reference
//! interpreter over the IR) → [`front`] (the meta level: values, functions,
//! loops, `load`, the library → IR) → [`cli`].
//! See ARCHITECTURE.md for the map and the invariants.

pub mod cli;
pub mod compile;
pub mod dataset;
pub mod diag;
pub mod front;
pub mod gpu;
pub mod interp;
pub mod ir;
pub mod model;
pub mod repl;
pub mod snapshot;
pub mod syntax;
pub mod workflow;
