//! Limits: every size that comes from the command line or from a program
//! (a length asked for, a value a program builds, the program itself, a
//! drawing, the memory an evaluation holds) is checked against a limit
//! before anything of that size is allocated, and refused with a
//! `rasp::limit::*` diagnostic that gives the value, the limit and the
//! option that raises it.
//!
//! [`TABLE`] is the one list of limits: the README's "Limits" section is
//! [`markdown`] (checked by `tests/it/limits.rs`), and `--limit NAME=N`
//! accepts the names of [`Limit::ALL`].
//!
//! The limits a user can raise are process-wide ([`Limit::get`],
//! [`Limit::set`]): the CLI sets them from `--limit NAME=N` (a global
//! option, so `rasp lsp --limit size=N` too), the REPL from `:set limit
//! NAME N`, a Rust program from `rasp::set_limit`. Each stage reads them
//! where it allocates (the front end for lists, dicts and its graph,
//! `ir::value` for strings, the interpreter for columns, the compiler for
//! lengths and value sets, `rasp gen` for lengths, the drawing for its
//! layout), so every caller is held to them by the same code.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{Diag, codes};

/// Longest input `rasp eval` and `rasp run` evaluate unless raised
/// (`--max-len`), and the default of [`Limit::Length`]: selectors compare
/// every pair of positions, so time grows with the square of the length.
pub const DEFAULT_MAX_LEN: usize = 10_000;

/// Deepest nesting of user function calls (fixed: the CLI's thread has a
/// stack sized for it).
pub const MAX_CALL_DEPTH: usize = 1000;

/// Models estimated above this many parameters are refused unless
/// `--max-params` raises it.
pub const DEFAULT_MAX_PARAMS: u64 = 100_000_000;

/// A limit a user can raise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    /// The longest input a command is asked to build or compile for.
    Length,
    /// The size of one value a program builds.
    Size,
    /// The s-ops and selectors a session builds.
    Graph,
    /// The boxes and edge pieces of one drawing.
    Drawing,
    /// The memory one evaluation or build may take.
    Memory,
}

/// One slot per [`Limit`], in the order of [`Limit::ALL`].
static VALUES: [AtomicU64; 5] = [
    AtomicU64::new(Limit::Length.default_value()),
    AtomicU64::new(Limit::Size.default_value()),
    AtomicU64::new(Limit::Graph.default_value()),
    AtomicU64::new(Limit::Drawing.default_value()),
    AtomicU64::new(Limit::Memory.default_value()),
];

impl Limit {
    /// Every limit a user can raise, in the order of their codes.
    pub const ALL: [Limit; 5] = [
        Limit::Length,
        Limit::Size,
        Limit::Graph,
        Limit::Drawing,
        Limit::Memory,
    ];

    /// Its name in `--limit NAME=N` and `:set limit NAME N`.
    pub const fn name(self) -> &'static str {
        match self {
            Limit::Length => "length",
            Limit::Size => "size",
            Limit::Graph => "graph",
            Limit::Drawing => "drawing",
            Limit::Memory => "memory",
        }
    }

    /// The code of the diagnostic that refuses what is over it.
    pub const fn code(self) -> &'static str {
        match self {
            Limit::Length => codes::LIMIT_LENGTH,
            Limit::Size => codes::LIMIT_SIZE,
            Limit::Graph => codes::LIMIT_GRAPH,
            Limit::Drawing => codes::LIMIT_DRAWING,
            Limit::Memory => codes::LIMIT_MEMORY,
        }
    }

    /// Its value unless raised.
    pub const fn default_value(self) -> u64 {
        match self {
            Limit::Length => DEFAULT_MAX_LEN as u64,
            Limit::Size => 1_000_000,
            Limit::Graph => 1_000_000,
            Limit::Drawing => 100_000,
            Limit::Memory => 4 << 30,
        }
    }

    /// What it counts, for messages and the table.
    pub const fn unit(self) -> &'static str {
        match self {
            Limit::Length => "tokens",
            Limit::Size => "elements or bytes",
            Limit::Graph => "s-ops and selectors",
            Limit::Drawing => "boxes and edge pieces",
            Limit::Memory => "bytes",
        }
    }

    /// What it bounds, for the table.
    const fn bounds(self) -> &'static str {
        match self {
            Limit::Length => {
                "the longest input a command is asked for: `gen --len`, `--max-len` of \
                 `compile`, `verify` and `explain` (and the REPL's `:compile`, `:verify`, \
                 `:explain`, `:type`; `# test compile:`; `Target` in Rust)"
            }
            Limit::Size => {
                "one value a program builds: a list's or dict's elements (nested ones \
                 counted, strings by their bytes; `range`, `+`, comprehensions, `zip`), a \
                 string's bytes (`+`, `*`), the strings one map of an s-op makes on one \
                 input, the strings of a compiled s-op's value set"
            }
            Limit::Graph => "the s-ops and selectors a program (or REPL session) builds",
            Limit::Drawing => {
                "one drawing (`rasp draw`, the REPL's `draw`): its boxes plus its edge \
                 pieces (an SVG edge passing k rows of boxes is k pieces)"
            }
            Limit::Memory => {
                "what one evaluation holds (a column per s-op, a selector's matrix), \
                 estimated before it starts, and what a raised limit lets a command \
                 allocate; an allocation the system refuses is this code too"
            }
        }
    }

    /// The limit named `name`.
    pub fn by_name(name: &str) -> Option<Limit> {
        Limit::ALL.into_iter().find(|l| l.name() == name)
    }

    /// The limit whose code is `code`.
    pub fn by_code(code: &str) -> Option<Limit> {
        Limit::ALL.into_iter().find(|l| l.code() == code)
    }

    /// Its value now.
    pub fn get(self) -> u64 {
        VALUES[self as usize].load(Ordering::Relaxed)
    }

    /// Its value now, as a count of items (saturating).
    pub fn get_usize(self) -> usize {
        usize::try_from(self.get()).unwrap_or(usize::MAX)
    }

    /// Set it, for the whole process.
    pub fn set(self, value: u64) {
        VALUES[self as usize].store(value, Ordering::Relaxed);
    }

    /// Whether `value` is within it.
    pub fn allows(self, value: u128) -> bool {
        value <= u128::from(self.get())
    }

    /// The message for `subject` (which says what and its size, e.g.
    /// "`l + l` would make a list of size 2097152") being over the limit.
    pub fn message(self, subject: impl std::fmt::Display) -> String {
        format!(
            "{subject}, over the {} limit of {}",
            self.name(),
            self.get()
        )
    }

    /// The diagnostic for `subject` being over the limit: the value, the
    /// limit, how to raise it.
    pub fn exceeded(self, subject: impl std::fmt::Display) -> Diag {
        Diag::error(self.code(), self.message(subject)).help(self.help())
    }

    /// `Err(exceeded)` when `value` is over the limit; `subject` says what
    /// and its size.
    pub fn check(self, value: u128, subject: impl FnOnce() -> String) -> Result<(), Diag> {
        if self.allows(value) {
            Ok(())
        } else {
            Err(self.exceeded(subject()))
        }
    }

    /// How to raise it.
    pub fn help(self) -> String {
        let name = self.name();
        let why = match self {
            Limit::Length => {
                "selectors compare every pair of positions: time grows with the square of the length"
            }
            Limit::Size => {
                "values this large are rarely meant (a value doubled in a loop is the usual cause)"
            }
            Limit::Graph => "a loop that builds s-ops at every iteration is the usual cause",
            Limit::Drawing => "draw an s-op nearer the inputs",
            Limit::Memory => "the budget keeps one command from taking all of the machine's memory",
        };
        format!(
            "{why}; raise the limit with `--limit {name}=N` (`:set limit {name} N` in the REPL, \
             `rasp::set_limit` in Rust)"
        )
    }
}

/// A `--limit NAME=N` argument.
pub fn parse_setting(text: &str) -> Result<(Limit, u64), String> {
    let names = || {
        Limit::ALL
            .iter()
            .map(|l| l.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("write NAME=N, where NAME is one of {}", names()))?;
    let limit = Limit::by_name(name.trim())
        .ok_or_else(|| format!("no limit is called {name:?}; the limits are {}", names()))?;
    let value = value
        .trim()
        .replace('_', "")
        .parse::<u64>()
        .map_err(|_| format!("the value of {name} must be a whole number, got {value:?}"))?;
    Ok((limit, value))
}

/// Whether `bytes` more may be allocated for `what`, by the memory budget.
pub fn check_bytes(bytes: u128, what: &str) -> Result<(), Diag> {
    Limit::Memory.check(bytes, || format!("{what} would take {bytes} bytes"))
}

/// The message for an allocation the system refused.
pub fn refused_message(bytes: u128, what: &str) -> String {
    format!("the system refused {bytes} bytes for {what}")
}

/// The diagnostic for an allocation the system refused.
pub fn refused(bytes: u128, what: &str) -> Diag {
    Diag::error(codes::LIMIT_MEMORY, refused_message(bytes, what)).help(
        "the machine has not that much memory free: lower the limit that allowed it, or free memory",
    )
}

/// An empty vector with room for `n` items, for `what`: within the memory
/// budget and granted by the system, or `rasp::limit::memory`.
pub fn vec_with_capacity<T>(n: usize, what: &str) -> Result<Vec<T>, Diag> {
    let bytes = (n as u128) * (std::mem::size_of::<T>() as u128);
    check_bytes(bytes, what)?;
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| refused(bytes, what))?;
    Ok(v)
}

/// One row of [`TABLE`].
#[derive(Clone, Copy, Debug)]
pub struct Row {
    /// The code of the diagnostic.
    pub code: &'static str,
    /// The default, as shown.
    pub default: Shown,
    /// How to raise it.
    pub option: &'static str,
    /// What it bounds.
    pub bounds: &'static str,
}

/// A default as [`TABLE`] shows it.
#[derive(Clone, Copy, Debug)]
pub enum Shown {
    /// A limit set with `--limit` (its current default).
    Settable(Limit),
    /// A fixed number, in a unit.
    Fixed(u64, &'static str),
}

/// The longest message `rasp lsp` reads unless `--max-message-bytes`
/// raises it (64 MiB: far above any real document, far below what would
/// exhaust the memory).
pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 64 * 1024 * 1024;

/// Every limit, in the order of their codes: the ones `--limit` raises,
/// and the others whose code belongs elsewhere.
pub const TABLE: &[Row] = &[
    Row {
        code: codes::LIMIT_RECURSION,
        default: Shown::Fixed(MAX_CALL_DEPTH as u64, "nested calls"),
        option: "none (the interpreter's stack is sized for it)",
        bounds: "user function calls nested in each other",
    },
    Row {
        code: codes::LIMIT_LENGTH,
        default: Shown::Settable(Limit::Length),
        option: "`--limit length=N`",
        bounds: Limit::Length.bounds(),
    },
    Row {
        code: codes::LIMIT_SIZE,
        default: Shown::Settable(Limit::Size),
        option: "`--limit size=N`",
        bounds: Limit::Size.bounds(),
    },
    Row {
        code: codes::LIMIT_GRAPH,
        default: Shown::Settable(Limit::Graph),
        option: "`--limit graph=N`",
        bounds: Limit::Graph.bounds(),
    },
    Row {
        code: codes::LIMIT_DRAWING,
        default: Shown::Settable(Limit::Drawing),
        option: "`--limit drawing=N`",
        bounds: Limit::Drawing.bounds(),
    },
    Row {
        code: codes::LIMIT_MEMORY,
        default: Shown::Settable(Limit::Memory),
        option: "`--limit memory=BYTES`",
        bounds: Limit::Memory.bounds(),
    },
    Row {
        code: codes::LIMIT_MESSAGE,
        default: Shown::Fixed(DEFAULT_MAX_MESSAGE_BYTES, "bytes"),
        option: "`rasp lsp --max-message-bytes BYTES`",
        bounds: "one message the language server reads (its `Content-Length`)",
    },
    Row {
        code: codes::EVAL_TOO_LONG,
        default: Shown::Fixed(DEFAULT_MAX_LEN as u64, "tokens"),
        option: "`--max-len N` (`eval`, `run`)",
        bounds: "an input given to `rasp eval` or `rasp run`",
    },
    Row {
        code: codes::COMPILE_SIZE,
        default: Shown::Fixed(DEFAULT_MAX_PARAMS, "parameters"),
        option: "`--max-params P` (`compile`, `verify`, `explain`; `Target::max_params`)",
        bounds: "a compiled model, estimated before it is built",
    },
];

impl Shown {
    /// As the table shows it.
    pub fn render(self) -> String {
        match self {
            Shown::Settable(Limit::Memory) => format!(
                "{} GiB ({} bytes)",
                Limit::Memory.default_value() >> 30,
                group(Limit::Memory.default_value())
            ),
            Shown::Settable(l) => format!("{} {}", group(l.default_value()), l.unit()),
            Shown::Fixed(n, unit) => format!("{} {unit}", group(n)),
        }
    }
}

/// `1000000` as `1,000,000`.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// [`TABLE`] as a Markdown table (the README's "Limits" section).
pub fn markdown() -> String {
    let mut out = String::from(
        "| code | default | raised with | what it bounds |\n| --- | --- | --- | --- |\n",
    );
    for r in TABLE {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            r.code,
            r.default.render(),
            r.option,
            r.bounds
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_and_name_the_limits() {
        assert_eq!(parse_setting("size=2_000"), Ok((Limit::Size, 2000)));
        assert_eq!(parse_setting(" length = 5 "), Ok((Limit::Length, 5)));
        assert!(parse_setting("size").unwrap_err().contains("NAME=N"));
        assert!(
            parse_setting("sise=3")
                .unwrap_err()
                .contains("length, size")
        );
        assert!(
            parse_setting("size=-1")
                .unwrap_err()
                .contains("whole number")
        );
    }

    #[test]
    fn every_settable_limit_has_one_row_and_a_limit_code() {
        for l in Limit::ALL {
            let rows: Vec<&Row> = TABLE.iter().filter(|r| r.code == l.code()).collect();
            assert_eq!(rows.len(), 1, "{}", l.code());
            assert!(matches!(rows[0].default, Shown::Settable(x) if x == l));
            assert!(rows[0].option.contains(&format!("--limit {}=", l.name())));
            assert!(l.code().starts_with("rasp::limit::"));
            assert_eq!(Limit::by_code(l.code()), Some(l));
        }
    }

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(group(0), "0");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(4294967296), "4,294,967,296");
    }
}
