//! The syntax stage: source text to [`ast::Stmt`]s plus diagnostics.
//!
//! * `lexer.rs` turns text into tokens (logos), reporting lexical errors and
//!   cutting out constructs nested deeper than [`lexer::MAX_NESTING`].
//! * `grammar/rasp.lalrpop` is the LR(1) grammar. Its semantic actions call the
//!   `Build` helpers below, which build the AST, measure expression depth and
//!   collect every diagnostic; error recovery resynchronises at `;`, `}` or a
//!   statement keyword so one file reports all of its syntax errors.
//!
//! Entry points: [`parse_program`] and [`is_incomplete`].

pub mod ast;
mod build;
mod errors;
pub mod lexer;
pub mod names;
#[cfg(test)]
mod tests;
pub mod words;

use std::cell::{Cell, RefCell};

use lalrpop_util::{ErrorRecovery, ParseError};

use crate::diag::{Diag, FileId, Span, codes};
use ast::{CmpOp, Expr, ExprKind, Ident, Stmt, StmtKind, UnOp};
use lexer::{Token, Triple, shorten};

lalrpop_util::lalrpop_mod!(
    #[allow(clippy::all, unused, private_interfaces)]
    grammar,
    "/rasp.rs"
);

/// Parse a whole file/REPL entry. Never panics, on any input. Returns every
/// statement that parsed (a statement with an error is omitted, so the
/// result never contains [`StmtKind::Error`]; but a `def` or `for` whose
/// body has one is kept, marked `broken`, with the statements that parsed)
/// and ALL diagnostics found, sorted by position. Every span carries
/// `file`.
pub fn parse_program(src: &str, file: FileId) -> (Vec<Stmt>, Vec<Diag>) {
    let p = parse_file(src, file);
    (p.stmts, p.diags)
}

/// A parsed file with what the AST leaves out: its comments. Blank lines
/// are the source's own ([`blank_lines`]).
pub struct Parsed {
    pub stmts: Vec<Stmt>,
    pub diags: Vec<Diag>,
    /// Every comment (`#` to the end of its line), in order.
    pub comments: Vec<Span>,
}

/// [`parse_program`], keeping the comments.
pub fn parse_file(src: &str, file: FileId) -> Parsed {
    let lexed = lexer::lex(src, file);
    let comments = lexed
        .comments
        .iter()
        .map(|&(s, e)| Span::new(file, s, e))
        .collect();
    let build = Build {
        src,
        file,
        toks: lexed.tokens,
        stmts: RefCell::new(Vec::new()),
        diags: RefCell::new(Vec::new()),
        deep: Cell::new(None),
        quiet_pulls: Cell::new(0),
    };
    let tokens = Tokens {
        build: &build,
        next: 0,
    };
    if let Err(e) = grammar::ProgramParser::new().parse(&build, tokens) {
        // Only reachable if error recovery itself gives up.
        build.report(e);
    }
    let mut diags = lexed.diags;
    diags.extend(build.diags.into_inner());
    diags.sort_by_key(|d| d.span.map_or((u32::MAX, u32::MAX), |s| (s.start, s.end)));
    Parsed {
        stmts: build.stmts.into_inner(),
        diags,
        comments,
    }
}

/// The 0-based numbers of the lines that hold only whitespace.
pub fn blank_lines(src: &str) -> Vec<usize> {
    src.lines()
        .enumerate()
        .filter(|(_, l)| l.trim().is_empty())
        .map(|(i, _)| i)
        .collect()
}

/// True when `src` is an incomplete statement: the input ended early (an
/// unclosed `(`, `[`, `{`, a def/for body, a missing final `;`) and there is
/// no other error. Used by the REPL to ask for another line.
pub fn is_incomplete(src: &str) -> bool {
    let (_, diags) = parse_program(src, 0);
    !diags.is_empty() && diags.iter().all(|d| d.code == codes::PARSE_EOF)
}

/// The error type of the token stream (the lexer never fails; lexical errors
/// are [`Token::Error`] tokens).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Never {}

/// Depth weights: an expression is too deep when the sum of the weights on
/// a path from the root exceeds [`MAX_DEPTH`]. Brackets, calls, indexing and
/// prefix operators weigh [`W_NEST`] (so 256 levels), binary operators,
/// conditionals and `in` weigh [`W_CHAIN`] (so chains of ~5000 operators).
const W_NEST: u32 = 20;
const W_CHAIN: u32 = 1;
const MAX_DEPTH: u32 = 256 * W_NEST;

/// An expression under construction, with its weighted depth.
pub(crate) struct X {
    e: Expr,
    d: u32,
}

/// Builtin forms (`aggregate(`, `range(`, ... are single tokens).
pub(crate) enum Builtin {
    Aggregate,
    Range,
    Zip,
    Len,
}

/// A REPL command before its span is known.
pub(crate) enum Cmd {
    SetExample(ast::ExampleTarget, X),
    Plain(StmtKind),
}

/// One item of a def/for body.
pub(crate) enum Item {
    Stmt(Stmt),
    Return {
        values: Vec<Expr>,
        span: Span,
    },
    /// A statement that failed (already reported).
    Error,
    /// A lone `;`.
    Empty,
}

/// A parsed `{ ... }` body and the span of its closing `}`.
pub(crate) struct Body {
    items: Vec<Item>,
    close: Span,
}

impl Body {
    /// A syntax error in it, or in a `def` or `for` nested in it.
    fn has_error(&self) -> bool {
        self.items.iter().any(|i| match i {
            Item::Error => true,
            Item::Stmt(s) => matches!(s.kind, StmtKind::Error) || s.is_broken(),
            _ => false,
        })
    }
}

type Recovery<'a> = ErrorRecovery<usize, Token<'a>, Never>;
type PError<'a> = ParseError<usize, Token<'a>, Never>;

/// Shared state of one parse, used by the grammar's actions.
pub(crate) struct Build<'a> {
    src: &'a str,
    file: FileId,
    toks: Vec<Triple<'a>>,
    /// Top-level statements, in order, as soon as they are reduced.
    stmts: RefCell<Vec<Stmt>>,
    diags: RefCell<Vec<Diag>>,
    /// Set when an expression exceeded [`MAX_DEPTH`]; taken by the statement
    /// that contains it.
    deep: Cell<Option<Span>>,
    /// Tokens handed to the parser since the last semantic action.
    quiet_pulls: Cell<usize>,
}

/// In normal parsing every operand token leads to a semantic action within a
/// few tokens, and runs of tokens without one are bounded by the nesting
/// guard. A longer run means error recovery is discarding tokens.
const RECOVERY_RUN: usize = 1000;

/// The parser's token stream. While error recovery is discarding tokens, it
/// passes over tokens at which recovery cannot stop anyway, so that recovery
/// (which inspects the whole parser stack for every discarded token) stays
/// linear on hostile input. The result is the same as without skipping.
struct Tokens<'b, 'a> {
    build: &'b Build<'a>,
    next: usize,
}

impl<'a> Iterator for Tokens<'_, 'a> {
    type Item = Result<Triple<'a>, Never>;

    fn next(&mut self) -> Option<Self::Item> {
        let toks = &self.build.toks;
        let pulls = self.build.quiet_pulls.get() + 1;
        self.build.quiet_pulls.set(pulls);
        if pulls > RECOVERY_RUN {
            while self.next < toks.len() && !resynchronises(&toks[self.next].1) {
                self.next += 1;
            }
        }
        let t = toks.get(self.next).copied()?;
        self.next += 1;
        Some(Ok(t))
    }
}

/// Tokens at which error recovery can resume (see the uses of `Err` in the
/// grammar): `;`, `}`, `{` (body of a broken def/for header), and keywords
/// that start a statement.
fn resynchronises(tok: &Token<'_>) -> bool {
    matches!(
        tok,
        Token::Semi
            | Token::RBrace
            | Token::LBrace
            | Token::Def
            | Token::Load
            | Token::Draw
            | Token::Return
            | Token::Set
            | Token::Show
            | Token::Examples
            | Token::SOp
            | Token::Selector
            | Token::FullSeqDisplay
            | Token::Exit
            | Token::ExitCall
            | Token::Quit
            | Token::QuitCall
    )
}

fn unzip(xs: Vec<X>) -> (Vec<Expr>, u32) {
    let d = xs.iter().map(|x| x.d).max().unwrap_or(0);
    (xs.into_iter().map(|x| x.e).collect(), d)
}
