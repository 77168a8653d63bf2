//! `rasp`: RASP, the language of "Thinking Like Transformers" (Weiss,
//! Goldberg, Yahav 2021), in Rust. A program is a transformer: `rasp` runs
//! programs written for the original interpreter with the same values,
//! compiles their s-ops into transformer weights that are checked against
//! the interpreter, and runs those weights on the CPU or a GPU.
//!
//! As a library, a few calls cover it:
//!
//! ```
//! use rasp::{Program, Target};
//!
//! // Load a program (or `Program::load("prog.rasp")`).
//! let program = Program::from_source(
//!     "hist.rasp",
//!     "hist = selector_width(select(tokens, tokens, ==));",
//! )?;
//!
//! // Evaluate an s-op; values display as the original interpreter shows them.
//! let out = program.eval("hist", &rasp::input("hello")?)?;
//! assert_eq!(out.to_string(), "[1, 1, 2, 2, 1] (ints)");
//! assert_eq!(out.values().map(<[_]>::len), Some(5));
//!
//! // Compile it (verified against the interpreter before it is returned),
//! // run the model, save it for PyTorch / TransformerLens.
//! let model = program.compile("hist", &Target::new(rasp::vocab("abc")?, 5))?;
//! assert_eq!(model.run(&[rasp::input("abca")?])?, vec![rasp::input("[2, 1, 1, 2]")?]);
//! # let dir = std::env::temp_dir().join(format!("rasp-doc-{}", std::process::id()));
//! model.save(&dir)?;
//! let reopened = rasp::Model::open(&dir)?;
//! assert_eq!(reopened.summary(), model.summary());
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), rasp::Error>(())
//! ```
//!
//! Errors are [`Diag`]nostics with stable codes; `diag.render(false)` shows
//! one as the command line does, with the program's source.
//!
//! The stages (front end, interpreter, compiler, executors, ...) are
//! private to the crate; ARCHITECTURE.md maps them. The project's own tests
//! and benchmarks see them through the `internals` feature, which is not
//! part of the public API.

#![warn(missing_docs)]
// Standard output and error only through `fsio::stdio` (closed pipes, full
// disks): the printing macros below, never `println!`/`eprintln!`.
#![deny(clippy::print_stdout, clippy::print_stderr)]

#[macro_use]
#[path = "fsio/macros.rs"]
mod macros;

/// Declares the stage modules: private to the crate, or public (and
/// hidden from the documentation) with the `internals` feature, which only
/// the project's own tests and benchmarks turn on.
macro_rules! stages {
    ($($name:ident),* $(,)?) => {$(
        #[cfg(feature = "internals")]
        #[doc(hidden)]
        #[allow(missing_docs)]
        pub mod $name;
        // Without `internals`, what only the tests use (accessors, test
        // hooks) would be reported dead.
        #[cfg(not(feature = "internals"))]
        #[allow(dead_code)]
        mod $name;
    )*};
}

stages!(
    diag, fsio, syntax, fmt, ir, interp, front, compile, model, gpu, dataset, workflow, snapshot,
    lsp, repl, cli,
);

// rustfmt does not look inside macro calls, so without these declarations
// `cargo fmt` would format none of the stages. Never compiled (`cfg(any())`
// is false); a test checks they name the stages `stages!` declares.
#[cfg(any())]
mod cli;
#[cfg(any())]
mod compile;
#[cfg(any())]
mod dataset;
#[cfg(any())]
mod diag;
#[cfg(any())]
mod fmt;
#[cfg(any())]
mod front;
#[cfg(any())]
mod fsio;
#[cfg(any())]
mod gpu;
#[cfg(any())]
mod interp;
#[cfg(any())]
mod ir;
#[cfg(any())]
mod lsp;
#[cfg(any())]
mod model;
#[cfg(any())]
mod repl;
#[cfg(any())]
mod snapshot;
#[cfg(any())]
mod syntax;
#[cfg(any())]
mod workflow;

mod api;

/// The README's Rust examples, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use api::{
    Backend, Error, Model, Output, Program, Semantics, Target, cli_main, input, set_limit, vocab,
};
pub use diag::Diag;
pub use ir::Value;

#[cfg(test)]
mod tests {
    /// The module names in `text` after `marker`, up to `end`.
    fn names_after(text: &str, marker: &str, end: &str) -> Vec<String> {
        let start = text.find(marker).expect("the marker") + marker.len();
        let rest = &text[start..];
        let rest = &rest[..rest.find(end).expect("the end")];
        rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty() && *w != "mod" && *w != "cfg" && *w != "any")
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn rustfmt_sees_every_stage() {
        let lib = include_str!("lib.rs");
        let mut declared = names_after(lib, "stages!(\n", ");");
        let mut shown = names_after(lib, "`stages!` declares.\n", "\nmod api;");
        declared.sort();
        shown.sort();
        assert_eq!(shown, declared);
    }
}
