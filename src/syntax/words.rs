//! The words of the language, listed once: keywords and REPL command words,
//! the builtin forms whose `(` is part of the token, and the names the
//! base scope defines in Rust (the prelude's names come from
//! `stdlib/prelude.rasp`).
//!
//! What can derive from this table does: the front end's reserved names,
//! the REPL's completion, the LSP's completion and hovers, the robustness
//! tests' token soup. What cannot (the logos attributes in `lexer.rs`, the
//! token table of `grammar/rasp.lalrpop`, the base scope built by
//! `front::Session::new`, the editor grammars) is checked against it by
//! tests: `tests` below and in `front`, and `tests/it/editors.rs`.

/// What a word is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Syntax of statements and expressions (`def`, `if`, `and`, ...).
    Keyword,
    /// A word of the REPL's commands (`set`, `example`, `exit()`, ...),
    /// valid in files too.
    Command,
    /// A builtin form written with its `(` attached (`select(`, ...).
    Form,
    /// A name the base scope defines: an s-op, a function or a constant.
    Builtin,
    /// A name the language reserves without defining it for programs.
    Special,
}

/// One word of the language.
#[derive(Clone, Copy, Debug)]
pub struct Word {
    /// As written (`full seq display` is one word of three parts).
    pub text: &'static str,
    pub kind: Kind,
    /// No program may bind it (`rasp::name::reserved`).
    pub reserved: bool,
    /// One line for completion lists and hovers.
    pub doc: &'static str,
}

const fn w(text: &'static str, kind: Kind, reserved: bool, doc: &'static str) -> Word {
    Word {
        text,
        kind,
        reserved,
        doc,
    }
}

use Kind::{Builtin, Command, Form, Keyword, Special};

/// Every word, grouped by kind.
pub const WORDS: &[Word] = &[
    w(
        "def",
        Keyword,
        true,
        "define a function: `def f(a) { ...; return e; }`",
    ),
    w(
        "return",
        Keyword,
        true,
        "a function's result: the last statement of its body",
    ),
    w(
        "for",
        Keyword,
        true,
        "loop over a list or range: `for x in e { ... }`",
    ),
    w(
        "in",
        Keyword,
        true,
        "membership test, or the `in` of `for` and comprehensions",
    ),
    w(
        "if",
        Keyword,
        true,
        "conditional expression: `a if c else b`",
    ),
    w(
        "else",
        Keyword,
        true,
        "conditional expression: `a if c else b`",
    ),
    w("and", Keyword, true, "logical and (also of selectors)"),
    w("or", Keyword, true, "logical or (also of selectors)"),
    w("not", Keyword, true, "logical not (also of selectors)"),
    w(
        "load",
        Keyword,
        false,
        "run a file and import its public names: `load \"file\";`",
    ),
    w(
        "draw",
        Keyword,
        false,
        "draw the computation flow: `draw(sop[, input]);`",
    ),
    w(
        "round",
        Keyword,
        false,
        "round to the nearest int (half to even): `round(x)`",
    ),
    w(
        "indicator",
        Keyword,
        false,
        "1 where true, 0 where false: `indicator(x)`",
    ),
    w(
        "set",
        Command,
        false,
        "`set [s-op|selector] example E`: change the running example",
    ),
    w(
        "show",
        Command,
        false,
        "`show [s-op|selector] example`: show the running example",
    ),
    w(
        "example",
        Command,
        false,
        "the running example, in `set` and `show`",
    ),
    w(
        "examples",
        Command,
        false,
        "`[s-op|selector] examples on|off`: echo examples or not",
    ),
    w(
        "s-op",
        Command,
        false,
        "the s-op example, in `set`, `show` and `examples`",
    ),
    w(
        "selector",
        Command,
        false,
        "the selector example, in `set`, `show` and `examples`",
    ),
    w("on", Command, false, "turn a display setting on"),
    w("off", Command, false, "turn a display setting off"),
    w(
        "full seq display",
        Command,
        false,
        "`full seq display on|off`: aligned input/output echo",
    ),
    w("exit", Command, false, "leave the REPL"),
    w("exit()", Command, false, "leave the REPL"),
    w("quit", Command, false, "leave the REPL"),
    w("quit()", Command, false, "leave the REPL"),
    w(
        "select(",
        Form,
        false,
        "a selector: `select(keys, queries, op)` (op: == != < > <= >=)",
    ),
    w(
        "aggregate(",
        Form,
        false,
        "the mean of the selected values: `aggregate(sel, sop[, default])`",
    ),
    w("range(", Form, true, "a list of ints, as Python's range"),
    w("zip(", Form, true, "pairs of items, as Python's zip"),
    w("len(", Form, true, "the length of a list or dict"),
    w("tokens", Builtin, false, "the input's tokens, as strings"),
    w(
        "tokens_str",
        Builtin,
        true,
        "the input's tokens, as strings",
    ),
    w("tokens_int", Builtin, true, "the input's tokens, as ints"),
    w(
        "tokens_float",
        Builtin,
        true,
        "the input's tokens, as floats",
    ),
    w("tokens_bool", Builtin, true, "the input's tokens, as bools"),
    w("tokens_asis", Builtin, true, "the input's tokens, as given"),
    w(
        "indices",
        Builtin,
        true,
        "each position's index: 0, 1, 2, ...",
    ),
    w(
        "length",
        Builtin,
        false,
        "the input's length, at every position",
    ),
    w("True", Builtin, true, "the bool true"),
    w("False", Builtin, true, "the bool false"),
    w(
        "selector_width",
        Builtin,
        false,
        "how many keys a selector selects, per query",
    ),
    w(
        "numerical",
        Builtin,
        false,
        "compile this s-op as a number (a hint)",
    ),
    w(
        "categorical",
        Builtin,
        false,
        "compile this s-op as a one-hot (a hint)",
    ),
    w(
        "out",
        Special,
        true,
        "reserved: the name the original gives a file's last value",
    ),
    w("get", Special, true, "reserved by the original interpreter"),
];

/// The words of a kind.
pub fn of_kind(kind: Kind) -> impl Iterator<Item = &'static Word> {
    WORDS.iter().filter(move |w| w.kind == kind)
}

/// The lexer's keywords: the words of [`Kind::Keyword`], [`Kind::Command`]
/// and [`Kind::Form`].
pub fn keywords() -> impl Iterator<Item = &'static Word> {
    WORDS
        .iter()
        .filter(|w| matches!(w.kind, Keyword | Command | Form))
}

/// Whether no program may bind `name`.
pub fn is_reserved(name: &str) -> bool {
    WORDS
        .iter()
        .any(|w| w.reserved && w.text.trim_end_matches('(') == name)
}

/// The word of a text (a form with or without its `(`).
pub fn lookup(text: &str) -> Option<&'static Word> {
    WORDS
        .iter()
        .find(|w| w.text == text || (w.kind == Form && w.text.trim_end_matches('(') == text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::lexer::{Token, lex};

    /// Every keyword lexes as one keyword token (never a name), and every
    /// builtin name as a name.
    #[test]
    fn the_lexer_agrees_with_the_table() {
        for w in keywords() {
            let toks = lex(w.text, 0).tokens;
            assert_eq!(toks.len(), 1, "{:?} is one token", w.text);
            assert!(
                !matches!(toks[0].1, Token::Ident(_) | Token::Error),
                "{:?} is a keyword",
                w.text
            );
        }
        for w in WORDS.iter().filter(|w| matches!(w.kind, Builtin | Special)) {
            let toks = lex(w.text, 0).tokens;
            assert!(
                matches!(toks.as_slice(), [(_, Token::Ident(_), _)]),
                "{:?} is a name",
                w.text
            );
        }
    }

    /// The quoted words of the lexer's `#[token]` attributes and of the
    /// grammar's token table are exactly the table's keywords (plus
    /// punctuation).
    #[test]
    fn the_lexer_and_grammar_sources_list_exactly_the_table() {
        let quoted = |src: &str, prefix: &str| -> Vec<String> {
            src.lines()
                .filter_map(|l| l.trim().strip_prefix(prefix))
                .filter_map(|rest| rest.split('"').next())
                .filter(|t| t.chars().next().is_some_and(|c| c.is_alphabetic()))
                .map(str::to_string)
                .collect()
        };
        let mut want: Vec<String> = keywords().map(|w| w.text.to_string()).collect();
        want.retain(|t| t != "full seq display"); // a regex in the lexer
        want.sort();
        let mut lexer = quoted(include_str!("lexer.rs"), "#[token(\"");
        lexer.sort();
        assert_eq!(lexer, want, "src/syntax/lexer.rs's #[token] keywords");
        let mut grammar = quoted(include_str!("../../grammar/rasp.lalrpop"), "\"");
        grammar.retain(|t| !t.contains(' ') || t == "full seq display");
        grammar.retain(|t| t != "full seq display");
        grammar.sort();
        grammar.dedup();
        assert_eq!(grammar, want, "grammar/rasp.lalrpop's token table");
        assert!(
            include_str!("lexer.rs").contains(r#"#[regex(r"full[ \t\r\n]+seq[ \t\r\n]+display")]"#)
        );
    }

    #[test]
    fn reserved_names_and_lookup() {
        for n in [
            "def",
            "range",
            "zip",
            "len",
            "tokens_int",
            "True",
            "out",
            "get",
        ] {
            assert!(is_reserved(n), "{n}");
        }
        for n in ["tokens", "length", "select", "load", "x"] {
            assert!(!is_reserved(n), "{n}");
        }
        assert_eq!(lookup("select").map(|w| w.text), Some("select("));
        assert_eq!(lookup("def").map(|w| w.kind), Some(Keyword));
        assert!(lookup("hist").is_none());
    }
}
