//! The command line's grammar (clap): every command, argument and example.
//! `tests/it/cli.rs` checks that every argument has a description and every
//! command's `--help` ends with examples.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use super::gen_cmd::GenArgs;
use super::numbers::{at_least_0, at_least_1};
use super::test_cmd::TestArgs;
use crate::diag::Color;
use crate::front;

#[derive(Parser, Debug)]
#[command(
    name = "rasp",
    version,
    about = "RASP, the language of \"Thinking Like Transformers\": run, check and evaluate programs, \
             compile them into transformer weights, generate datasets",
    propagate_version = true,
    // `rasp FILE.rasp` opens the REPL on the file.
    allow_external_subcommands = true,
    after_help = "Examples:
  rasp                                         the REPL
  rasp examples/paper.rasp                     the REPL, with a file loaded
  rasp run examples/paper.rasp '\"hello\"'       every named s-op on \"hello\"
  rasp compile examples/paper.rasp reverse --vocab abc --max-len 5 -o reverse_model
  rasp gen --task sort -n 100000 -o sort.jsonl
  rasp test examples"
)]
pub struct Cli {
    /// When to colour diagnostics and diffs.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    pub color: Color,
    /// Raise (or lower) a limit, NAME=N: length (tokens), size (a value's
    /// elements or bytes), graph (s-ops and selectors), drawing (boxes and
    /// edge pieces), memory (bytes). Repeatable; the README's "Limits"
    /// lists the defaults.
    #[arg(
        long = "limit",
        value_name = "NAME=N",
        global = true,
        value_parser = crate::diag::limits::parse_setting
    )]
    pub limits: Vec<(crate::diag::limits::Limit, u64)>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Inputs, on the command line or from a file.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct InputArgs {
    /// Inputs: JSON strings ("hello", one token per character) or JSON
    /// lists of atoms ([1, 2.5, true, "ab"]); a bare word that is not JSON
    /// is taken as a string. `-` reads standard input and `@FILE` a file,
    /// one JSON value per line.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// Read inputs from FILE, one JSON value per line (`-`: standard
    /// input); blank lines are skipped.
    #[arg(long = "inputs", value_name = "FILE")]
    pub inputs_file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Evaluate one s-op or selector of a file on inputs.
    #[command(after_help = "Examples:
  rasp eval examples/paper.rasp reverse '\"hello\"'
  rasp eval examples/paper.rasp dyck2_ptf --json '\"({})\"' '\"({)}\"'
  rasp eval prog.rasp sorted --json '[3, 1, 2]'
  rasp eval prog.rasp sorted --json --inputs inputs.jsonl
  cat inputs.jsonl | rasp eval prog.rasp sorted --json -
  rasp eval examples/paper.rasp reverse --causal '\"hello\"'      (what a causal model computes)")]
    Eval {
        /// The program file.
        file: PathBuf,
        /// The name of the s-op or selector to evaluate.
        sop: String,
        /// Print one JSON line per input: {"input": ..., "output": [...]}.
        #[arg(long)]
        json: bool,
        /// The running example (a JSON value); it never changes the values.
        #[arg(long, value_name = "EX")]
        example: Option<String>,
        /// Longest input to evaluate (longer ones are refused).
        #[arg(long, value_name = "N", default_value_t = front::DEFAULT_MAX_LEN, allow_negative_numbers = true, value_parser = at_least_1::<usize>)]
        max_len: usize,
        #[command(flatten)]
        semantics: SemanticsArgs,
        #[command(flatten)]
        inputs: InputArgs,
    },
    /// Print every named s-op and selector of a file on inputs (default "hello").
    #[command(after_help = "Examples:
  rasp run examples/paper.rasp
  rasp run examples/paper.rasp '\"§hello\"' '\"abc\"'
  rasp run examples/addition.rasp --all '\"12+9\"'
  rasp run examples/paper.rasp --causal '\"hello\"'")]
    Run {
        /// The program file.
        file: PathBuf,
        #[command(flatten)]
        inputs: InputArgs,
        /// Also show names starting with `_` (private helpers).
        #[arg(long)]
        all: bool,
        /// Longest input to evaluate.
        #[arg(long, value_name = "N", default_value_t = front::DEFAULT_MAX_LEN, allow_negative_numbers = true, value_parser = at_least_1::<usize>)]
        max_len: usize,
        #[command(flatten)]
        semantics: SemanticsArgs,
    },
    /// Parse and build files without running them; report every diagnostic.
    #[command(after_help = "Examples:
  rasp check examples/paper.rasp
  rasp check stdlib/tasks/*.rasp
  rasp check --format short prog.rasp      (for Vim's :make)")]
    Check {
        /// The program files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// How to print diagnostics: for people, or one line each
        /// (`FILE:LINE:COL: error[CODE]: MESSAGE`, for editors' quickfix).
        #[arg(long, value_enum, default_value_t = DiagFormat::Human)]
        format: DiagFormat,
    },
    /// Compile an s-op into transformer weights: DIR/model.safetensors,
    /// DIR/config.json (TransformerLens), DIR/rasp.json (how to use them).
    /// The model is checked against the interpreter first (a seeded sample
    /// covering every length) and nothing is written if they disagree.
    #[command(after_help = "Examples:
  rasp compile examples/paper.rasp reverse --vocab abcde --max-len 8 -o reverse_model
  rasp compile prog.rasp sorted --vocab '[0,1,2,3]' --max-len 6 -o sort_model
  rasp compile prog.rasp next --vocab abc --max-len 10 --causal -o next_model")]
    Compile {
        /// The program file.
        file: PathBuf,
        /// The s-op to compile.
        sop: String,
        #[command(flatten)]
        target: TargetArgs,
        /// Output folder.
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
        /// Inputs to check before writing (spread over every length; all of
        /// a length when there are few).
        #[arg(
            long,
            value_name = "K",
            default_value_t = crate::compile::DEFAULT_CHECK_SAMPLES,
            allow_negative_numbers = true, value_parser = at_least_0::<usize>
        )]
        verify_samples: usize,
        /// Seed of the check's samples.
        #[arg(long, value_name = "S", default_value_t = 0, allow_negative_numbers = true, value_parser = at_least_0::<u64>)]
        seed: u64,
        /// Write the model without checking it.
        #[arg(long, conflicts_with = "verify_samples")]
        no_verify: bool,
    },
    /// Run a compiled model (a folder written by `rasp compile`) on inputs.
    /// A folder whose files changed since (their checksums in rasp.json do
    /// not match) is refused unless `--allow-modified`.
    #[command(after_help = "Examples:
  rasp exec reverse_model '\"abcde\"'
  rasp exec reverse_model --json --inputs inputs.jsonl
  rasp exec reverse_model --backend wgpu --info '\"abc\"'
  rasp exec ablated_model --allow-modified '\"abc\"'")]
    Exec {
        /// The model folder.
        dir: PathBuf,
        /// Print one JSON line per input, as `rasp eval --json` does.
        #[arg(long)]
        json: bool,
        /// Run a model whose files were changed after rasp wrote them
        /// (weights ablated, patched or fine-tuned; a version-2 folder):
        /// with a warning, as not verified. A model that cannot run is
        /// still refused.
        #[arg(long)]
        allow_modified: bool,
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        inputs: InputArgs,
    },
    /// Compile, then check the model against the interpreter on every input
    /// up to the max length (or on seeded samples when there are more than
    /// 200,000 inputs).
    #[command(after_help = "Examples:
  rasp verify examples/paper.rasp dyck2_ptf --vocab '(){}' --max-len 8
  rasp verify examples/paper.rasp dyck2_ptf --vocab '(){}' --max-len 9 --exhaustive
  rasp verify prog.rasp sorted --vocab '[0,1,2,3]' --max-len 12 --samples 100000 --backend auto")]
    Verify {
        /// The program file.
        file: PathBuf,
        /// The s-op to compile and check.
        sop: String,
        #[command(flatten)]
        target: TargetArgs,
        /// Check every input, however many.
        #[arg(long, conflicts_with = "samples")]
        exhaustive: bool,
        /// Check this many seeded random inputs.
        #[arg(long, value_name = "K", allow_negative_numbers = true, value_parser = at_least_0::<usize>)]
        samples: Option<usize>,
        /// Seed of the random inputs.
        #[arg(long, value_name = "S", default_value_t = 0, allow_negative_numbers = true, value_parser = at_least_0::<u64>)]
        seed: u64,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Show how an s-op compiles: layers, heads, MLP sizes, residual width,
    /// parameters, and where each s-op lives.
    #[command(after_help = "Examples:
  rasp explain examples/paper.rasp hist_bos --vocab abcde --max-len 5
  rasp explain examples/paper.rasp sort_by_freq --vocab abc --max-len 6 --margins")]
    Explain {
        /// The program file.
        file: PathBuf,
        /// The s-op to compile and explain.
        sop: String,
        #[command(flatten)]
        target: TargetArgs,
        /// Also show, per head and per MLP, the smallest margin.
        #[arg(long)]
        margins: bool,
    },
    /// Generate a dataset: examples of an s-op on sampled inputs, as JSON
    /// lines or text, reproducible from the seed and shardable
    /// (`rasp gen FILE SOP --vocab V ...`, or a preset: `rasp gen --task
    /// sort`; `rasp gen --list` shows the presets).
    #[command(after_help = "Examples:
  rasp gen --list
  rasp gen --task sort -n 1000000 -o sort.jsonl --stats
  rasp gen --task dyck2 --train-len 1..16 --test-len 17..32 -n 100000 -o dyck2
  rasp gen prog.rasp sorted --vocab '[0,1,2,3]' --len 1..8 --format parquet -o sort.parquet
  rasp gen --task sort -n 100000000 --shard 3/32 -o sort-3.jsonl
  rasp gen --task reverse --causal -n 1000 -o reverse-causal.jsonl")]
    Gen(GenArgs),
    /// Snapshot-test programs: each declares its tests in comments
    /// (`# test: "hello" [1, 2]`, `# test sops: a, b`, `# test compile: SOP
    /// vocab=abc max_len=5`); its values, load diagnostics and compile
    /// results are compared with `__snapshots__/NAME.snap` beside it
    /// (`NAME.causal.snap` with `--causal`). A difference prints a diff,
    /// writes `NAME.snap.new` and fails; with `CI` set nothing is written.
    #[command(after_help = "Examples:
  rasp test examples
  rasp test --review
  rasp test --accept examples/paper.rasp
  rasp test --causal --accept examples/paper.rasp
  CI=true rasp test --json")]
    Test(TestArgs),
    /// The interactive session (the default when no command is given).
    /// Files are loaded first. With stdin not a terminal, reads statements
    /// from stdin and prints the transcript without prompts.
    #[command(after_help = "Examples:
  rasp repl examples/paper.rasp
  rasp examples/paper.rasp
  echo 'reverse(\"abc\");' | rasp repl examples/paper.rasp")]
    Repl {
        /// Program files to load first.
        files: Vec<PathBuf>,
    },
    /// Draw the computation flow of an s-op: layers, heads, values.
    #[command(after_help = "Examples:
  rasp draw examples/paper.rasp sort_by_freq -o flow.svg
  rasp draw examples/paper.rasp hist_bos --input '\"§abca\"' -o hist.dot
  rasp draw examples/paper.rasp reverse --causal -o reverse-causal.svg")]
    Draw {
        /// The program file.
        file: PathBuf,
        /// The s-op or selector to draw.
        sop: String,
        /// The input whose values are shown (JSON; default "hello").
        #[arg(long, value_name = "INPUT")]
        input: Option<String>,
        #[command(flatten)]
        semantics: SemanticsArgs,
        /// Where to write; `.dot` writes Graphviz DOT, anything else SVG.
        #[arg(short, long, value_name = "PATH")]
        output: PathBuf,
    },
    /// Format programs: four-space bodies, one statement per line, spaces
    /// around operators, long expressions broken, every comment kept; the
    /// result is checked to be the same program. Files are rewritten in
    /// place; with no file, standard input goes to standard output.
    #[command(after_help = "Examples:
  rasp fmt prog.rasp
  rasp fmt examples stdlib
  rasp fmt --check .
  cat prog.rasp | rasp fmt")]
    Fmt(super::fmt_cmd::FmtArgs),
    /// The language server (LSP over stdio): diagnostics, hover (value on
    /// the running example, type, layers), definition, references,
    /// rename, completion, symbols, formatting, a verify code lens.
    #[command(after_help = "Examples:
  rasp lsp                  (started by an editor: VS Code, Neovim, Helix, Zed; see editors/README.md)
  rasp lsp --max-message-bytes 268435456   (documents up to 256 MiB)")]
    Lsp {
        /// Talk over standard input and output (the only transport; accepted
        /// for the clients that pass it).
        #[arg(long)]
        stdio: bool,
        /// The longest message read, in bytes: a longer one is refused
        /// (rasp::limit::message) before it is read.
        #[arg(long, value_name = "BYTES", default_value_t = crate::lsp::DEFAULT_MAX_MESSAGE_BYTES,
              value_parser = clap::value_parser!(u64).range(1..))]
        max_message_bytes: u64,
    },
    /// Explain a diagnostic code: what it means, a program that causes it
    /// and how to fix it (docs/errors.md); with no code, list them all.
    #[command(after_help = "Examples:
  rasp explain-error rasp::name::undefined
  rasp explain-error type::arity
  rasp explain-error")]
    ExplainError {
        /// The code, as a diagnostic prints it (`rasp::name::undefined`;
        /// the `rasp::` prefix may be left out).
        code: Option<String>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish,
    /// powershell).
    #[command(after_help = "Examples:
  source <(rasp completions bash)
  rasp completions zsh > ~/.zfunc/_rasp
  rasp completions fish > ~/.config/fish/completions/rasp.fish")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), for `man`.
    #[command(after_help = "Examples:
  rasp man > rasp.1 && man ./rasp.1
  rasp man > ~/.local/share/man/man1/rasp.1")]
    Man,
    /// A file argument instead of a command: `rasp FILE.rasp` opens the
    /// REPL with the file loaded.
    #[command(external_subcommand)]
    External(Vec<String>),
}

/// How `rasp check` prints diagnostics.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiagFormat {
    /// With the source and a caret (miette).
    Human,
    /// One line each: `FILE:LINE:COL: error[CODE]: MESSAGE`.
    Short,
}

/// Which semantics the evaluations of `eval`, `run` and `draw` have.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct SemanticsArgs {
    /// Evaluate causally (RASP-L's semantics, a decoder's): every selector
    /// sees only the keys at or before its query, and `length` at position
    /// i is i + 1, so position i depends on the first i + 1 tokens alone.
    #[arg(long)]
    pub causal: bool,
}

impl SemanticsArgs {
    pub fn semantics(self) -> crate::interp::Semantics {
        crate::interp::Semantics::from_causal(self.causal)
    }
}

/// Where a model runs.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Where to run the model: the CPU, a wgpu adapter (Vulkan, Metal,
    /// DX12, GL; WGPU_BACKEND / WGPU_ADAPTER_NAME choose), or a GPU when
    /// there is one, else the CPU.
    #[arg(long, value_enum, default_value_t = crate::gpu::backend::Backend::Cpu)]
    pub backend: crate::gpu::backend::Backend,
    /// Print the device the model runs on (name, graphics API, driver) on
    /// stderr.
    #[arg(long)]
    pub info: bool,
}

/// What to compile for.
#[derive(clap::Args, Debug, Clone)]
pub struct TargetArgs {
    /// The input tokens: a JSON list (`[1, 2, 3]`), a JSON string (one
    /// token per character), comma-separated tokens (`a,b,c`, strings), or
    /// a word whose characters are the tokens (`abc`).
    #[arg(long, value_name = "V")]
    pub vocab: String,
    /// The longest input the model must handle (refused over the length
    /// limit unless it is raised with `--limit length=N`).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = at_least_1::<usize>)]
    pub max_len: usize,
    /// Compile a causal (decoder) model, with RASP-L's causal semantics:
    /// every selector sees only the keys at or before its query and
    /// `length` at position i is i + 1, the values `rasp eval --causal`
    /// gives (verification checks exactly those).
    #[arg(long)]
    pub causal: bool,
    /// Refuse models estimated to have more parameters than this.
    #[arg(
        long,
        value_name = "P",
        default_value_t = crate::compile::DEFAULT_MAX_PARAMS,
        allow_negative_numbers = true, value_parser = at_least_0::<u64>
    )]
    pub max_params: u64,
}
