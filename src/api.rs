//! The library API: what a Rust program that depends on `rasp` uses. It is
//! a thin layer over the stages (front end, interpreter, `workflow`,
//! executors); the CLI and the REPL are built on the same stages and give
//! the same values, models and diagnostics.

use std::fmt;
use std::path::Path;

use crate::compile::{self, Compiled};
use crate::diag::{Diag, codes};
use crate::front::{self, ScopeRef, Session};
use crate::interp::{self, display};
use crate::ir::{NodeId, Value};
use crate::model::io::{Integrity, ModelFile, OpenOptions};
use crate::workflow;

pub use crate::gpu::backend::Backend;
pub use crate::interp::Semantics;

/// Every failure is a diagnostic: a stable code (`rasp::name::undefined`,
/// ...; `rasp explain-error CODE` explains each), a message and, where it
/// has one, a span in the program, rendered by [`Diag::render`].
pub type Error = Diag;

/// An input, parsed as the command line does: a JSON string is one token
/// per character (`"hello"`), a JSON list gives the tokens (`[1, 2.5,
/// true, "ab"]`), and a bare word that is not JSON is a string.
///
/// ```
/// let tokens = rasp::input("[1, 2, 3]")?;
/// assert_eq!(tokens, vec![rasp::Value::Int(1), rasp::Value::Int(2), rasp::Value::Int(3)]);
/// assert_eq!(rasp::input("hey")?.len(), 3);
/// // Integers are 64-bit: a bigger one is an error, never a float.
/// assert_eq!(rasp::input("[18446744073709551616]").unwrap_err().code, "rasp::eval::overflow");
/// # Ok::<(), rasp::Error>(())
/// ```
pub fn input(text: &str) -> Result<Vec<Value>, Error> {
    front::parse_input(text).map(|(_, tokens)| tokens)
}

/// A vocabulary, written as `rasp compile --vocab` takes it: a JSON list
/// (`[1, 2, 3]`), comma-separated tokens (`a,b,c`) or a word whose
/// characters are the tokens (`abc`). Each token is listed once.
///
/// ```
/// assert_eq!(rasp::vocab("abc")?.len(), 3);
/// assert_eq!(rasp::vocab("aba").unwrap_err().code, "rasp::compile::vocab");
/// # Ok::<(), rasp::Error>(())
/// ```
pub fn vocab(text: &str) -> Result<Vec<Value>, Error> {
    compile::parse_vocab(text)
}

/// Set a limit for the whole process, as `--limit NAME=N` does on the
/// command line: `length` (tokens), `size` (a value's elements or bytes),
/// `graph` (s-ops and selectors), `drawing` (boxes and edge pieces),
/// `memory` (bytes). The README's "Limits" lists their defaults. Whatever
/// would go over a limit is refused with a `rasp::limit::*` diagnostic
/// before it is allocated.
///
/// ```
/// let big = "r = range(2000000);";
/// let refused = rasp::Program::from_source("big.rasp", big).err().map(|e| e.code);
/// assert_eq!(refused, Some("rasp::limit::size"));
/// rasp::set_limit("size", 2_000_000)?;
/// assert!(rasp::Program::from_source("big.rasp", big).is_ok());
/// # Ok::<(), rasp::Error>(())
/// ```
pub fn set_limit(name: &str, value: u64) -> Result<(), Error> {
    let (limit, value) = crate::diag::limits::parse_setting(&format!("{name}={value}"))
        .map_err(|m| Diag::error(codes::CLI_INPUT, m))?;
    limit.set(value);
    Ok(())
}

/// A loaded RASP program: its named s-ops, selectors, functions and
/// values, ready to evaluate and compile.
///
/// ```
/// let program = rasp::Program::from_source(
///     "reverse.rasp",
///     "opp_index = length - indices - 1;
///      flip = select(indices, opp_index, ==);
///      reverse = aggregate(flip, tokens);",
/// )?;
/// let out = program.eval("reverse", &rasp::input("hello")?)?;
/// assert_eq!(out.to_string(), "[o, l, l, e, h] (strings)");
/// # Ok::<(), rasp::Error>(())
/// ```
///
/// A program holds its interpreter session, which is not `Send`: load it
/// in the thread that uses it ([`Program::eval_many`] evaluates in
/// parallel).
pub struct Program {
    session: Session,
    scope: ScopeRef,
    name: String,
    text: String,
    warnings: Vec<Diag>,
}

impl Program {
    /// Load a program file (and the files it `load`s). Any error in it is
    /// an error here, all of them related to the first (see
    /// [`Diag::related`]); warnings are kept ([`Program::warnings`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Program, Error> {
        let path = path.as_ref();
        let text = front::read_source(path)?;
        let mut session = Session::new();
        let (scope, result) = session.run_path(path)?;
        Program::finish(
            session,
            scope,
            path.display().to_string(),
            text,
            result.diags,
        )
    }

    /// Load a program from its text; `name` is how diagnostics name it,
    /// and `load` statements resolve against the working directory.
    pub fn from_source(name: &str, text: &str) -> Result<Program, Error> {
        let mut session = Session::new();
        let scope = session.new_scope();
        let result = session.run_source(name, text, &scope, None);
        Program::finish(
            session,
            scope,
            name.to_string(),
            text.to_string(),
            result.diags,
        )
    }

    fn finish(
        session: Session,
        scope: ScopeRef,
        name: String,
        text: String,
        diags: Vec<Diag>,
    ) -> Result<Program, Error> {
        let (errors, warnings): (Vec<Diag>, Vec<Diag>) =
            diags.into_iter().partition(Diag::is_error);
        let mut errors = errors.into_iter();
        if let Some(first) = errors.next() {
            return Err(errors.fold(first, Diag::with_related));
        }
        Ok(Program {
            session,
            scope,
            name,
            text,
            warnings,
        })
    }

    /// The warnings loading gave.
    pub fn warnings(&self) -> &[Diag] {
        &self.warnings
    }

    /// Evaluate under `semantics` from now on: [`Program::eval`] and
    /// [`Program::eval_many`] give causal values (RASP-L's semantics, as
    /// `rasp eval --causal` does: every selector sees only the keys at or
    /// before its query, and `length` at position i is i + 1) or the
    /// original's bidirectional ones (the default). A causal model
    /// ([`Target::causal`]) computes the causal values, whatever the
    /// program's setting. Values the program computed while it loaded (a
    /// top-level `sop(input)` call) were computed bidirectionally.
    ///
    /// ```
    /// use rasp::{Program, Semantics};
    ///
    /// let mut p = Program::from_source(
    ///     "last.rasp",
    ///     "last = aggregate(select(indices, length - 1, ==), tokens);",
    /// )?;
    /// let abc = rasp::input("abc")?;
    /// assert_eq!(p.eval("last", &abc)?.values(), Some(&rasp::input("ccc")?[..]));
    /// p.set_semantics(Semantics::Causal);
    /// // Position i sees the first i + 1 tokens, and `length` there is i + 1.
    /// assert_eq!(p.eval("last", &abc)?.values(), Some(&abc[..]));
    /// assert_eq!(p.semantics(), Semantics::Causal);
    /// # Ok::<(), rasp::Error>(())
    /// ```
    pub fn set_semantics(&mut self, semantics: Semantics) {
        self.session.settings.semantics = semantics;
    }

    /// The semantics [`Program::eval`] and [`Program::eval_many`] have
    /// (bidirectional unless [`Program::set_semantics`] said otherwise).
    pub fn semantics(&self) -> Semantics {
        self.session.settings.semantics
    }

    /// The public names of the program's s-ops and selectors (not those
    /// starting with `_`), in the order they were defined.
    pub fn names(&self) -> Vec<String> {
        front::value::named_values(&self.scope, false)
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    }

    /// The s-op or selector called `name`: its node and whether it is a
    /// selector.
    fn node(&self, name: &str) -> Result<(NodeId, bool), Error> {
        front::value::lookup_target(&self.scope, name, &self.name, false)
    }

    fn sop(&self, name: &str) -> Result<NodeId, Error> {
        match self.node(name)? {
            (id, false) => Ok(id),
            (_, true) => Err(Diag::error(
                codes::CLI_NOT_SOP,
                format!("`{name}` is a selector; compile an s-op (e.g. an aggregate of it)"),
            )),
        }
    }

    /// The value of the s-op or selector `name` on one input.
    pub fn eval(&self, name: &str, input: &[Value]) -> Result<Output, Error> {
        let (node, _) = self.node(name)?;
        self.session.evaluate(node, input).map(|value| Output {
            input: input.to_vec(),
            value,
        })
    }

    /// The values of `name` on many inputs, evaluated in parallel, each
    /// its own result, in input order.
    ///
    /// ```
    /// let p = rasp::Program::from_source("h", "hist = selector_width(select(tokens, tokens, ==));")?;
    /// let inputs = vec![rasp::input("aab")?, rasp::input("abc")?];
    /// let outs: Vec<String> = p
    ///     .eval_many("hist", &inputs)?
    ///     .into_iter()
    ///     .map(|o| o.map(|o| o.to_string()))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(outs, ["[2, 2, 1] (ints)", "[1]*3 (ints)"]);
    /// # Ok::<(), rasp::Error>(())
    /// ```
    pub fn eval_many(
        &self,
        name: &str,
        inputs: &[Vec<Value>],
    ) -> Result<Vec<Result<Output, Error>>, Error> {
        let (node, _) = self.node(name)?;
        for input in inputs {
            self.session.check_input_len(input)?;
        }
        let graph = &self.session.graph;
        Ok(
            interp::evaluate_batch(graph, inputs, node, self.session.settings.semantics)
                .into_iter()
                .zip(inputs)
                .map(|(r, input)| match r {
                    Ok(value) => Ok(Output {
                        input: input.clone(),
                        value,
                    }),
                    Err(e) => Err(e.to_diag_for(graph, &self.session.sources, input, node)),
                })
                .collect(),
        )
    }

    fn source(&self, name: &str) -> compile::Source {
        compile::Source {
            text: self.text.clone(),
            file: self.name.clone(),
            sop: name.to_string(),
        }
    }

    /// Compile the s-op `name` into transformer weights, checked against
    /// the interpreter first (a seeded sample covering every length up to
    /// the target's): a model that disagrees is an error, never a model.
    ///
    /// ```
    /// let p = rasp::Program::from_source("r", "r = aggregate(select(indices, length - indices - 1, ==), tokens);")?;
    /// let model = p.compile("r", &rasp::Target::new(rasp::vocab("abc")?, 4))?;
    /// let out = model.run(&[rasp::input("abc")?])?;
    /// assert_eq!(out[0], rasp::input("cba")?);
    /// # Ok::<(), rasp::Error>(())
    /// ```
    pub fn compile(&self, name: &str, target: &Target) -> Result<Model, Error> {
        let (_, compiled) = self.compiled(name, target, compile::Check::default())?;
        Ok(Model {
            inner: Inner::Built(Box::new(compiled)),
        })
    }

    /// Compile `name` and check the model against the interpreter on every
    /// input up to the target's length (seeded samples beyond 200,000
    /// inputs), running the model on `backend`. The report's text is what
    /// `rasp verify` prints; a mismatch or a vacuous check is an error.
    pub fn verify(&self, name: &str, target: &Target, backend: Backend) -> Result<String, Error> {
        let (node, compiled) = self.compiled(name, target, compile::Check::Skip)?;
        let (graph, sources) = (&self.session.graph, &self.session.sources);
        let mode = compile::verify::Mode::Auto {
            samples: compile::verify::DEFAULT_SAMPLES,
            seed: 0,
        };
        let v = workflow::verify(graph, sources, &compiled, node, mode, backend, false)?;
        v.outcome(graph, node)?;
        Ok(v.lines().join("\n"))
    }

    /// How `name` compiles (what `rasp explain` prints): layers, heads,
    /// MLPs, the residual stream, where each s-op lives.
    pub fn explain(&self, name: &str, target: &Target) -> Result<String, Error> {
        let (node, compiled) = self.compiled(name, target, compile::Check::Skip)?;
        let (graph, sources) = (&self.session.graph, &self.session.sources);
        Ok(workflow::explain(graph, sources, node, &compiled, false))
    }

    /// `name` compiled for `target`, checked as `check` says.
    fn compiled(
        &self,
        name: &str,
        target: &Target,
        check: compile::Check,
    ) -> Result<(NodeId, Compiled), Error> {
        let node = self.sop(name)?;
        let compiled = workflow::compile(
            &self.session.graph,
            &self.session.sources,
            node,
            &target.options(),
            &self.source(name),
            check,
        )?;
        Ok((node, compiled))
    }
}

/// The value of an s-op or a selector on an input.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    input: Vec<Value>,
    value: interp::Output,
}

impl Output {
    /// An s-op's values, one per position (`None` for a selector).
    pub fn values(&self) -> Option<&[Value]> {
        match &self.value {
            interp::Output::Sop(col) => Some(&col.values),
            interp::Output::Selector(_) => None,
        }
    }

    /// A selector's matrix: one row per query position, one bool per key
    /// position (`None` for an s-op).
    pub fn selector(&self) -> Option<&[Vec<bool>]> {
        match &self.value {
            interp::Output::Selector(rows) => Some(rows),
            interp::Output::Sop(_) => None,
        }
    }

    /// The JSON form of `rasp eval --json`: a list of typed values, or of
    /// rows of booleans. Always valid JSON: NaN and the infinities are the
    /// strings `"NaN"`, `"Infinity"` and `"-Infinity"`.
    ///
    /// ```
    /// let p = rasp::Program::from_source("p.rasp", "big = indices * (10.0 ^ 300 * 10.0 ^ 300);")?;
    /// let out = p.eval("big", &rasp::input("ab")?)?;
    /// assert_eq!(out.to_json(), r#"["NaN", "Infinity"]"#);
    /// assert_eq!(out.to_string(), "[nan, inf] (floats)"); // the original's display
    /// # Ok::<(), rasp::Error>(())
    /// ```
    pub fn to_json(&self) -> String {
        display::json_output(&self.value)
    }

    /// The original's display of a named value on its input, as `rasp
    /// run` prints it: `name("hello") = [...] (ints)`, or a selector's
    /// matrix below `name("hello") =`.
    pub fn named(&self, name: &str) -> String {
        display::named_output(name, &self.input, &self.value)
    }
}

/// The original interpreter's display: `[1, 1, 2, 2, 1] (ints)`, `[T]*5
/// (bools)`, or a selector's matrix with the input's tokens as headers.
impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            interp::Output::Sop(col) => f.write_str(&display::column_str(col)),
            interp::Output::Selector(rows) => {
                f.write_str(display::selector_matrix(&self.input, rows, "").trim_end())
            }
        }
    }
}

/// What to compile for: the input vocabulary and the longest input.
#[derive(Clone, Debug)]
pub struct Target {
    vocab: Vec<Value>,
    max_len: usize,
    causal: bool,
    max_params: u64,
}

impl Target {
    /// Inputs made of `vocab`'s tokens, up to `max_len` of them; not
    /// causal; refused above 100 million parameters.
    pub fn new(vocab: Vec<Value>, max_len: usize) -> Target {
        Target {
            vocab,
            max_len,
            causal: false,
            max_params: compile::DEFAULT_MAX_PARAMS,
        }
    }

    /// A causal (decoder) model, with RASP-L's causal semantics: every
    /// selector sees only the keys at or before its query and `length` at
    /// position i is i + 1, so position i depends on the first i + 1
    /// tokens alone. It computes (and is verified against) the values a
    /// program gives under [`Semantics::Causal`] ([`Program::set_semantics`]).
    ///
    /// ```
    /// use rasp::{Program, Semantics, Target};
    ///
    /// let mut p = Program::from_source(
    ///     "rev.rasp",
    ///     "rev = aggregate(select(indices, length - indices - 1, ==), tokens);",
    /// )?;
    /// let target = Target::new(rasp::vocab("abc")?, 4).causal(true);
    /// let model = p.compile("rev", &target)?;
    /// let input = rasp::input("abc")?;
    /// p.set_semantics(Semantics::Causal);
    /// let causal = p.eval("rev", &input)?;
    /// assert_eq!(model.run(&[input.clone()])?[0], causal.values().unwrap());
    /// // Causally, `length - indices - 1` is 0 everywhere: every position
    /// // reads the first token.
    /// assert_eq!(causal.to_string(), "[a]*3 (strings)");
    /// # Ok::<(), rasp::Error>(())
    /// ```
    pub fn causal(mut self, causal: bool) -> Target {
        self.causal = causal;
        self
    }

    /// Refuse models estimated to have more parameters than this.
    pub fn max_params(mut self, max_params: u64) -> Target {
        self.max_params = max_params;
        self
    }

    fn options(&self) -> compile::Options {
        compile::Options {
            vocab: self.vocab.clone(),
            max_len: self.max_len,
            causal: self.causal,
            max_params: self.max_params,
        }
    }
}

/// A compiled transformer: one [`Program::compile`] made, or one read from
/// a folder `rasp compile` (or [`Model::save`]) wrote.
pub struct Model {
    inner: Inner,
}

enum Inner {
    Built(Box<Compiled>),
    File(Box<ModelFile>),
}

impl Model {
    /// Open a model folder (`model.safetensors`, `config.json`,
    /// `rasp.json`); the weights are memory-mapped and checked, and a
    /// folder whose files changed after rasp wrote them (their checksums
    /// do not match) is refused (`rasp::model::integrity`).
    pub fn open(dir: impl AsRef<Path>) -> Result<Model, Error> {
        Model::open_with(dir, OpenOptions::default())
    }

    /// Open a model folder whose files may have been changed on purpose
    /// (weights ablated, patched or fine-tuned): as [`Model::open`], but a
    /// checksum mismatch makes it [not verified](Model::is_verified)
    /// instead of an error ([`Model::warning`] says what changed).
    /// Everything else is still checked: a model that cannot run (shapes,
    /// config and metadata that disagree, weights that are not finite) is
    /// refused, and so is an output that comes out NaN or infinite.
    pub fn open_modified(dir: impl AsRef<Path>) -> Result<Model, Error> {
        Model::open_with(
            dir,
            OpenOptions {
                allow_modified: true,
            },
        )
    }

    fn open_with(dir: impl AsRef<Path>, opts: OpenOptions) -> Result<Model, Error> {
        Ok(Model {
            inner: Inner::File(Box::new(crate::model::io::open_with(dir.as_ref(), opts)?)),
        })
    }

    /// Whether the model is as rasp made it: compiled here, or opened from
    /// files whose checksums all match. A model from
    /// [`Model::open_modified`] whose files changed is not.
    pub fn is_verified(&self) -> bool {
        match &self.inner {
            Inner::Built(_) => true,
            Inner::File(f) => f.integrity.is_verified(),
        }
    }

    /// The warning for a model that is not verified
    /// (`rasp::model::modified`, naming the files that changed).
    pub fn warning(&self) -> Option<Error> {
        match &self.inner {
            Inner::Built(_) => None,
            Inner::File(f) => f.warning(),
        }
    }

    /// Write the model to a folder, in the format `docs/model-format.md`
    /// describes (PyTorch and TransformerLens load it as is), with fresh
    /// checksums. A model that is not [verified](Model::is_verified) is
    /// written without the record of what its compilation verified: that
    /// was checked on other weights.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<(), Error> {
        match &self.inner {
            Inner::Built(c) => crate::model::io::save(&c.model, dir.as_ref()),
            Inner::File(f) => {
                let mut model = f.to_model();
                if !f.integrity.is_verified() {
                    model.meta.verified = None;
                }
                crate::model::io::save(&model, dir.as_ref())
            }
        }
    }

    fn meta(&self) -> &crate::model::Meta {
        match &self.inner {
            Inner::Built(c) => &c.model.meta,
            Inner::File(f) => &f.meta,
        }
    }

    /// Its size: layers (heads and MLP units per layer), residual width,
    /// parameters; for a model that is not [verified](Model::is_verified),
    /// also that and why.
    pub fn summary(&self) -> String {
        match &self.inner {
            Inner::Built(c) => compile::explain::size_line(&c.model),
            Inner::File(f) => {
                let line = compile::explain::size_line(&f.to_model());
                match &f.integrity {
                    Integrity::Verified => line,
                    not => format!("{line}; {}", not.describe()),
                }
            }
        }
    }

    /// Run the model on the CPU: each input's output, decoded into the
    /// interpreter's values.
    pub fn run(&self, inputs: &[Vec<Value>]) -> Result<Vec<Vec<Value>>, Error> {
        self.run_on(Backend::Cpu, inputs)
    }

    /// Run the model on a backend (the CPU, a wgpu adapter, or a GPU when
    /// there is one).
    pub fn run_on(
        &self,
        backend: Backend,
        inputs: &[Vec<Value>],
    ) -> Result<Vec<Vec<Value>>, Error> {
        for input in inputs {
            interp::check_input(input).map_err(|e| {
                e.to_diag(
                    &crate::ir::Graph::new(),
                    &crate::diag::SourceMap::new(),
                    input,
                )
            })?;
        }
        let weights = match &self.inner {
            Inner::Built(c) => c.model.weights(),
            Inner::File(f) => f.weights(),
        };
        let (exec, _) = crate::gpu::backend::executor(&weights, self.meta(), backend)?;
        crate::model::codec::run(exec.as_ref(), self.meta(), inputs)
    }
}

/// Stack for the threads that run programs (the command's, the language
/// server's analyses): deep recursion in a program ends in a diagnostic,
/// not a stack overflow.
pub(crate) const STACK_BYTES: usize = 512 * 1024 * 1024;

/// The `rasp` command line: parses the process's arguments, runs the
/// command on a thread with a large stack (deep recursion in a program
/// ends in a diagnostic, not a stack overflow) and returns the exit
/// status. The `rasp` binary is this function.
pub fn cli_main() -> i32 {
    let cli = match crate::cli::parse_args() {
        Ok(cli) => cli,
        Err(status) => return status,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::Builder::new()
        .name("rasp".into())
        .stack_size(STACK_BYTES)
        .spawn(move || {
            // Receive the command only once the thread exists, so that a
            // refused spawn leaves it here for this thread.
            rx.recv().map(crate::cli::main_with)
        });
    match worker {
        Ok(handle) => {
            if tx.send(cli).is_err() {
                errln!("rasp: internal error: the worker thread is gone");
                return 70;
            }
            match handle.join() {
                Ok(Ok(code)) => code,
                Ok(Err(_)) => 70,
                Err(_) => {
                    errln!("rasp: internal error (a bug): the worker thread panicked");
                    101
                }
            }
        }
        // No big stack to be had (e.g. strict memory overcommit): run here,
        // with the ordinary stack.
        Err(_) => crate::cli::main_with(cli),
    }
}
