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
pub mod lexer;

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
/// statement that parsed (statements with errors are omitted; the result
/// never contains [`StmtKind::Error`]) and ALL diagnostics found, sorted by
/// position. Every span carries `file`.
pub fn parse_program(src: &str, file: FileId) -> (Vec<Stmt>, Vec<Diag>) {
    let lexed = lexer::lex(src, file);
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
    (build.stmts.into_inner(), diags)
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
    fn has_error(&self) -> bool {
        self.items.iter().any(|i| match i {
            Item::Error => true,
            Item::Stmt(s) => matches!(s.kind, StmtKind::Error),
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

impl<'a> Build<'a> {
    /// Note that the parser made progress (see [`Tokens`]).
    pub(crate) fn tick(&self) {
        self.quiet_pulls.set(0);
    }

    fn span(&self, l: usize, r: usize) -> Span {
        self.quiet_pulls.set(0);
        Span::new(self.file, l, r)
    }

    fn push_diag(&self, d: Diag) {
        self.diags.borrow_mut().push(d);
    }

    // ------------------------------------------------------------ expressions

    /// Make a node of depth `d`; a node that is too deep is reported (once per
    /// statement) and replaced by a leaf, so no tree ever gets deeper than the
    /// limit and nothing is dropped recursively at an unbounded depth.
    fn node(&self, kind: ExprKind, span: Span, d: u32) -> X {
        self.quiet_pulls.set(0);
        if d > MAX_DEPTH {
            if self.deep.get().is_none() {
                self.deep.set(Some(span));
            }
            drop(kind);
            X {
                e: Expr {
                    kind: ExprKind::Int(0),
                    span,
                },
                d: MAX_DEPTH + 1,
            }
        } else {
            X {
                e: Expr { kind, span },
                d,
            }
        }
    }

    pub(crate) fn leaf(&self, kind: ExprKind, l: usize, r: usize) -> X {
        self.node(kind, self.span(l, r), 0)
    }

    pub(crate) fn ident(&self, name: &str, l: usize, r: usize) -> Ident {
        Ident {
            name: name.to_string(),
            span: self.span(l, r),
        }
    }

    pub(crate) fn binary(&self, op: ast::BinOp, l: X, r: X) -> X {
        let span = l.e.span.to(r.e.span);
        let d = l.d.max(r.d) + W_CHAIN;
        self.node(ExprKind::Binary(op, Box::new(l.e), Box::new(r.e)), span, d)
    }

    pub(crate) fn in_expr(&self, l: X, r: X) -> X {
        let span = l.e.span.to(r.e.span);
        let d = l.d.max(r.d) + W_CHAIN;
        self.node(ExprKind::In(Box::new(l.e), Box::new(r.e)), span, d)
    }

    pub(crate) fn cond(&self, then: X, cond: X, otherwise: X) -> X {
        let span = then.e.span.to(otherwise.e.span);
        let d = (then.d.max(otherwise.d) + W_CHAIN).max(cond.d + W_NEST);
        let kind = ExprKind::Cond {
            then: Box::new(then.e),
            cond: Box::new(cond.e),
            otherwise: Box::new(otherwise.e),
        };
        self.node(kind, span, d)
    }

    pub(crate) fn unary(&self, op: UnOp, e: X, l: usize) -> X {
        let span = self.span(l, e.e.span.end as usize);
        self.node(ExprKind::Unary(op, Box::new(e.e)), span, e.d + W_NEST)
    }

    pub(crate) fn index(&self, e: X, i: X, r: usize) -> X {
        let span = self.span(e.e.span.start as usize, r);
        let d = e.d.max(i.d) + W_NEST;
        self.node(ExprKind::Index(Box::new(e.e), Box::new(i.e)), span, d)
    }

    pub(crate) fn call(&self, f: X, args: Vec<X>, r: usize) -> X {
        let span = self.span(f.e.span.start as usize, r);
        let (args, d) = unzip(args);
        let d = d.max(f.d) + W_NEST;
        self.node(ExprKind::Call(Box::new(f.e), args), span, d)
    }

    /// `( e )`: the expression's span grows to include the parentheses.
    pub(crate) fn paren(&self, e: X, l: usize, r: usize) -> X {
        self.node(e.e.kind, self.span(l, r), e.d + W_NEST)
    }

    pub(crate) fn list(&self, items: Vec<X>, l: usize, r: usize) -> X {
        let (items, d) = unzip(items);
        self.node(ExprKind::List(items), self.span(l, r), d + W_NEST)
    }

    pub(crate) fn list_comp(&self, elem: X, names: Vec<Ident>, iter: X, l: usize, r: usize) -> X {
        let d = elem.d.max(iter.d) + W_NEST;
        let kind = ExprKind::ListComp {
            elem: Box::new(elem.e),
            names,
            iter: Box::new(iter.e),
        };
        self.node(kind, self.span(l, r), d)
    }

    pub(crate) fn dict(&self, entries: Vec<(X, X)>, l: usize, r: usize) -> X {
        let d = entries.iter().map(|(k, v)| k.d.max(v.d)).max().unwrap_or(0) + W_NEST;
        let entries = entries.into_iter().map(|(k, v)| (k.e, v.e)).collect();
        self.node(ExprKind::Dict(entries), self.span(l, r), d)
    }

    pub(crate) fn dict_comp(
        &self,
        key: X,
        value: X,
        names: Vec<Ident>,
        iter: X,
        l: usize,
        r: usize,
    ) -> X {
        let d = key.d.max(value.d).max(iter.d) + W_NEST;
        let kind = ExprKind::DictComp {
            key: Box::new(key.e),
            value: Box::new(value.e),
            names,
            iter: Box::new(iter.e),
        };
        self.node(kind, self.span(l, r), d)
    }

    pub(crate) fn select(&self, keys: X, queries: X, op: CmpOp, l: usize, r: usize) -> X {
        let d = keys.d.max(queries.d) + W_NEST;
        let kind = ExprKind::Select {
            keys: Box::new(keys.e),
            queries: Box::new(queries.e),
            op,
        };
        self.node(kind, self.span(l, r), d)
    }

    pub(crate) fn builtin(&self, which: Builtin, args: Vec<X>, l: usize, r: usize) -> X {
        let (args, d) = unzip(args);
        let kind = match which {
            Builtin::Aggregate => ExprKind::Aggregate(args),
            Builtin::Range => ExprKind::Range(args),
            Builtin::Zip => ExprKind::Zip(args),
            Builtin::Len => ExprKind::Len(args),
        };
        self.node(kind, self.span(l, r), d + W_NEST)
    }

    pub(crate) fn round(&self, e: X, l: usize, r: usize) -> X {
        self.node(
            ExprKind::Round(Box::new(e.e)),
            self.span(l, r),
            e.d + W_NEST,
        )
    }

    pub(crate) fn indicator(&self, e: X, l: usize, r: usize) -> X {
        self.node(
            ExprKind::Indicator(Box::new(e.e)),
            self.span(l, r),
            e.d + W_NEST,
        )
    }

    // ------------------------------------------------------------ statements

    /// Report a too-deep expression inside the statement being finished.
    fn take_deep(&self) -> bool {
        match self.deep.take() {
            Some(span) => {
                self.push_diag(
                    Diag::error(codes::PARSE_TOO_DEEP, "expression is nested too deeply")
                        .at(span)
                        .label(format!(
                            "more than 256 levels of nesting, or an operator chain longer than {MAX_DEPTH}"
                        ))
                        .help("split the expression into several statements with intermediate variables"),
                );
                true
            }
            None => false,
        }
    }

    fn finish(&self, kind: StmtKind, l: usize, r: usize) -> Stmt {
        let span = self.span(l, r);
        if self.take_deep() {
            Stmt {
                kind: StmtKind::Error,
                span,
            }
        } else {
            Stmt { kind, span }
        }
    }

    fn error_stmt(&self, l: usize, r: usize) -> Stmt {
        Stmt {
            kind: StmtKind::Error,
            span: self.span(l, r),
        }
    }

    pub(crate) fn expr_stmt(&self, e: X, l: usize, r: usize) -> Stmt {
        self.finish(StmtKind::Expr(e.e), l, r)
    }

    pub(crate) fn assign(&self, targets: Vec<Ident>, values: Vec<X>, l: usize, r: usize) -> Stmt {
        let (values, _) = unzip(values);
        self.finish(StmtKind::Assign { targets, values }, l, r)
    }

    pub(crate) fn load(&self, path: &str, pl: usize, pr: usize, l: usize, r: usize) -> Stmt {
        let kind = StmtKind::Load {
            path: path.to_string(),
            path_span: self.span(pl, pr),
        };
        self.finish(kind, l, r)
    }

    pub(crate) fn draw(&self, args: Vec<X>, l: usize, r: usize) -> Stmt {
        let (args, _) = unzip(args);
        self.finish(StmtKind::Draw { args }, l, r)
    }

    pub(crate) fn command(&self, cmd: Cmd, l: usize, r: usize) -> Stmt {
        let kind = match cmd {
            Cmd::SetExample(target, value) => StmtKind::SetExample {
                target,
                value: value.e,
            },
            Cmd::Plain(kind) => kind,
        };
        self.finish(kind, l, r)
    }

    pub(crate) fn body(&self, items: Vec<Item>, cl: usize, cr: usize) -> Body {
        Body {
            items,
            close: self.span(cl, cr),
        }
    }

    pub(crate) fn return_item(&self, values: Vec<X>, l: usize, r: usize) -> Item {
        let (values, _) = unzip(values);
        if self.take_deep() {
            Item::Error
        } else {
            Item::Return {
                values,
                span: self.span(l, r),
            }
        }
    }

    pub(crate) fn def(
        &self,
        name: Ident,
        params: Vec<Ident>,
        body: Body,
        l: usize,
        r: usize,
    ) -> Stmt {
        if self.take_deep() || body.has_error() {
            return self.error_stmt(l, r);
        }
        let mut stmts = Vec::new();
        let mut ret: Option<(Vec<Expr>, Span)> = None;
        for item in body.items {
            let span = match &item {
                Item::Stmt(s) => Some(s.span),
                Item::Return { span, .. } => Some(*span),
                Item::Error | Item::Empty => None,
            };
            if let (Some(_), Some(span)) = (&ret, span) {
                self.push_diag(
                    Diag::error(codes::PARSE_UNEXPECTED, "statement after `return`")
                        .at(span)
                        .label("this follows the function's `return`")
                        .help("`return` must be the last statement of a function body"),
                );
                return self.error_stmt(l, r);
            }
            match item {
                Item::Stmt(s) => stmts.push(s),
                Item::Return { values, span } => ret = Some((values, span)),
                Item::Error | Item::Empty => {}
            }
        }
        match ret {
            Some((results, return_span)) => self.finish(
                StmtKind::Def {
                    name,
                    params,
                    body: stmts,
                    results,
                    return_span,
                },
                l,
                r,
            ),
            None => {
                self.push_diag(
                    Diag::error(
                        codes::PARSE_UNEXPECTED,
                        format!("function `{}` has no `return` statement", name.name),
                    )
                    .at(body.close)
                    .label("expected `return ...;` before this `}`")
                    .help("a function body ends with exactly one `return` statement, e.g. `def f(x) { y = x + 1; return y; }`"),
                );
                self.error_stmt(l, r)
            }
        }
    }

    pub(crate) fn for_loop(
        &self,
        names: Vec<Ident>,
        iter: X,
        body: Body,
        l: usize,
        r: usize,
    ) -> Stmt {
        if self.take_deep() || body.has_error() {
            return self.error_stmt(l, r);
        }
        let mut stmts = Vec::new();
        let mut ok = true;
        for item in body.items {
            match item {
                Item::Stmt(s) => stmts.push(s),
                Item::Return { span, .. } => {
                    self.push_diag(
                        Diag::error(codes::PARSE_UNEXPECTED, "`return` outside a function body")
                            .at(span)
                            .label("not allowed in a `for` body")
                            .help("only a function body (`def`) ends with `return`"),
                    );
                    ok = false;
                }
                Item::Error | Item::Empty => {}
            }
        }
        if !ok {
            return self.error_stmt(l, r);
        }
        let kind = StmtKind::For {
            names,
            iter: iter.e,
            body: stmts,
        };
        Stmt {
            kind,
            span: self.span(l, r),
        }
    }

    /// `def`/`for` whose header failed to parse: the body was parsed (and its
    /// own errors reported) only to resynchronise.
    pub(crate) fn header_error(&self, body: Body, l: usize, r: usize) -> Stmt {
        drop(body);
        self.deep.set(None);
        self.error_stmt(l, r)
    }

    pub(crate) fn top(&self, s: Stmt) {
        if !matches!(s.kind, StmtKind::Error) {
            self.stmts.borrow_mut().push(s);
        }
    }

    // ------------------------------------------------------------ diagnostics

    /// The parser recovered from a syntax error: report it. The statement
    /// it was in is dropped, so a pending too-deep report is dropped too.
    pub(crate) fn recovered(&self, e: Recovery<'a>) {
        self.quiet_pulls.set(0);
        self.deep.set(None);
        self.report(e.error);
    }

    /// Turn a parse error into a diagnostic. Errors at a [`Token::Error`] are
    /// not reported again (the lexer or the nesting guard already did).
    fn report(&self, err: PError<'a>) {
        let d = match err {
            ParseError::UnrecognizedToken {
                token: (s, tok, e),
                expected,
            } => {
                if matches!(tok, Token::Error) {
                    return;
                }
                self.unexpected(s, tok, e, &expected)
            }
            ParseError::ExtraToken { token: (s, tok, e) } => {
                if matches!(tok, Token::Error) {
                    return;
                }
                self.unexpected(s, tok, e, &[])
            }
            ParseError::UnrecognizedEof { location, expected } => self.eof(location, &expected),
            ParseError::InvalidToken { location } => {
                Diag::error(codes::PARSE_TOKEN, "invalid token").at(self.span(location, location))
            }
            ParseError::User { error } => match error {},
        };
        self.push_diag(d);
    }

    fn unexpected(&self, s: usize, tok: Token<'a>, e: usize, expected: &[String]) -> Diag {
        let text = shorten(self.src.get(s..e).unwrap_or(""));
        let what = describe_expected(expected);
        let message = match &what {
            Some(w) => format!("unexpected `{text}`, expected {w}"),
            None => format!("unexpected `{text}`"),
        };
        let label = match &what {
            Some(w) if w.len() <= 40 => format!("expected {w}"),
            _ => "unexpected token".to_string(),
        };
        let d = Diag::error(codes::PARSE_UNEXPECTED, message)
            .at(self.span(s, e))
            .label(label);
        match self.help_for(s, tok, &text, expected) {
            Some(h) => d.help(h),
            None => d,
        }
    }

    fn help_for(
        &self,
        s: usize,
        tok: Token<'a>,
        text: &str,
        expected: &[String],
    ) -> Option<String> {
        let has = |name: &str| expected.iter().any(|x| x == name);
        if matches!(tok, Token::NotEq) {
            return Some(
                "`!=` is only allowed as the comparison of select(...); write `not (a == b)`"
                    .to_string(),
            );
        }
        let prev_end = self.prev_token_end(s);
        let after_newline = self.src.get(prev_end..s).is_some_and(|g| g.contains('\n'));
        if has("\";\"") && after_newline {
            return Some(
                "statements end with `;`: is one missing at the end of the previous line?"
                    .to_string(),
            );
        }
        let i = self.token_index(s);
        if i >= 2
            && matches!(self.toks[i - 1].1, Token::LParen)
            && matches!(self.toks[i - 2].1, Token::Exit | Token::Quit)
        {
            let word = if matches!(self.toks[i - 2].1, Token::Exit) {
                "exit"
            } else {
                "quit"
            };
            return Some(format!("write `{word}` or `{word}()`, without a space"));
        }
        if let Some(name) = self.spaced_builtin_before(s) {
            return Some(format!(
                "no space is allowed between `{name}` and `(`: write `{name}(`"
            ));
        }
        match tok {
            Token::Assign if !has("\"=\"") => {
                return Some(
                    "to compare, use `==`; `=` only follows the names being assigned (`a = ...;`)"
                        .to_string(),
                );
            }
            Token::Return if !has("\"return\"") => {
                return Some(
                    "`return` is only allowed as the last statement of a function body".to_string(),
                );
            }
            Token::RParen | Token::RBracket | Token::RBrace if !self.has_open_bracket(s) => {
                return Some(format!("this `{text}` has no matching opening bracket"));
            }
            Token::Ident(_) | Token::Error => {}
            _ if has("Ident")
                && text.chars().all(|c| c.is_ascii_alphabetic() || c == '-')
                && (expected.len() == 1 || self.used_as_name(i)) =>
            {
                return Some(format!(
                    "`{text}` is a keyword and cannot be used as a name"
                ));
            }
            _ => {}
        }
        if has("\";\"") {
            return Some("statements end with `;`".to_string());
        }
        None
    }

    /// Whether the token at index `i` stands where a name is being defined:
    /// before `=` or `,`, or after `def`/`for`.
    fn used_as_name(&self, i: usize) -> bool {
        let next = self.toks.get(i + 1).map(|t| t.1);
        let prev = i.checked_sub(1).and_then(|p| self.toks.get(p)).map(|t| t.1);
        matches!(next, Some(Token::Assign | Token::Comma))
            || matches!(prev, Some(Token::Def | Token::For))
    }

    /// Whether some bracket opened before `pos` is still open there (looking
    /// back a bounded number of tokens; `true` when unsure).
    fn has_open_bracket(&self, pos: usize) -> bool {
        let i = self.token_index(pos);
        let lo = i.saturating_sub(5000);
        let mut depth = 0usize;
        for &(_, tok, _) in self.toks[lo..i].iter().rev() {
            match tok {
                Token::RParen | Token::RBracket | Token::RBrace => depth += 1,
                Token::If | Token::Else => {}
                t if t.opens() => {
                    if depth == 0 {
                        return true;
                    }
                    depth -= 1;
                }
                _ => {}
            }
        }
        lo > 0
    }

    fn eof(&self, location: usize, expected: &[String]) -> Diag {
        let what = describe_expected(expected);
        let message = match &what {
            Some(w) => format!("unexpected end of input, expected {w}"),
            None => "unexpected end of input".to_string(),
        };
        let has = |name: &str| expected.iter().any(|x| x == name);
        let help = if has("\"}\"") {
            Some("a `{` is not closed")
        } else if has("\")\"") {
            Some("a `(` is not closed")
        } else if has("\"]\"") {
            Some("a `[` is not closed")
        } else if has("\";\"") {
            Some("statements end with `;`")
        } else if has("\"else\"") {
            Some("a conditional is written `a if c else b`")
        } else {
            None
        };
        // A zero-width label at the very end of the text cannot be drawn, so
        // there the last token is labelled instead.
        let last = self
            .toks
            .last()
            .filter(|t| location >= self.src.len() && t.2 == location);
        let d = match last {
            Some(&(s, _, e)) => Diag::error(codes::PARSE_EOF, message)
                .at(self.span(s, e))
                .label("the input ends after this"),
            None => Diag::error(codes::PARSE_EOF, message)
                .at(self.span(location, location))
                .label("the input ends here"),
        };
        match help {
            Some(h) => d.help(h),
            None => d,
        }
    }

    fn token_index(&self, pos: usize) -> usize {
        self.toks.partition_point(|t| t.0 < pos)
    }

    fn prev_token_end(&self, pos: usize) -> usize {
        let i = self.token_index(pos);
        if i == 0 { 0 } else { self.toks[i - 1].2 }
    }

    /// `select (` (and friends) earlier in the same statement: with a space
    /// it is a call of a variable, not the builtin.
    fn spaced_builtin_before(&self, pos: usize) -> Option<&'a str> {
        let i = self.token_index(pos);
        let lo = i.saturating_sub(2000);
        for j in (lo + 1..i).rev() {
            let (ps, paren, _) = self.toks[j];
            if matches!(paren, Token::Semi) {
                return None;
            }
            if let (Token::LParen, (_, Token::Ident(name), ie)) = (paren, self.toks[j - 1])
                && ie < ps
                && ["select", "aggregate", "range", "zip", "len"].contains(&name)
            {
                return Some(name);
            }
        }
        None
    }
}

const EXPR_START: &[&str] = &[
    "Ident",
    "Int",
    "Float",
    "Str",
    "\"(\"",
    "\"[\"",
    "\"{\"",
    "\"-\"",
    "\"+\"",
    "\"not\"",
    "\"select(\"",
    "\"aggregate(\"",
    "\"range(\"",
    "\"zip(\"",
    "\"len(\"",
    "\"round\"",
    "\"indicator\"",
];
const OPERATORS: &[&str] = &[
    "\"^\"", "\"*\"", "\"/\"", "\"%\"", "\"+\"", "\"-\"", "\"==\"", "\"<=\"", "\">=\"", "\"<\"",
    "\">\"", "\"and\"", "\"or\"", "\"if\"", "\"in\"",
];
/// Postfix `(` and `[` are listed with the operators.
const POSTFIX: &[&str] = &["\"(\"", "\"[\""];
const STMT_KEYWORDS: &[&str] = &["\"def\"", "\"for\"", "\"load\"", "\"draw\""];
const COMMAND_KEYWORDS: &[&str] = &[
    "\"set\"",
    "\"show\"",
    "\"examples\"",
    "\"s-op\"",
    "\"selector\"",
    "\"full seq display\"",
    "\"exit\"",
    "\"exit()\"",
    "\"quit\"",
    "\"quit()\"",
    "\";\"",
];
/// At most this many entries are listed after "expected".
const MAX_EXPECTED: usize = 8;

/// Render lalrpop's expected-terminal list readably: terminal names as
/// written in the grammar (`";"`, `"select("`), `identifier`, `number`,
/// `string`, and whole groups collapsed to "a statement", "an expression",
/// "an operator". `None` when nothing is expected.
fn describe_expected(expected: &[String]) -> Option<String> {
    let set: Vec<&str> = expected
        .iter()
        .map(String::as_str)
        .filter(|x| *x != "LexError")
        .collect();
    let has_all = |group: &[&str]| group.iter().all(|g| set.contains(g));
    let mut hidden: Vec<&str> = Vec::new();
    let mut groups: Vec<&str> = Vec::new();
    if has_all(EXPR_START) && has_all(STMT_KEYWORDS) {
        hidden.extend(EXPR_START);
        hidden.extend(STMT_KEYWORDS);
        hidden.extend(COMMAND_KEYWORDS);
        groups.push("a statement");
    } else if has_all(EXPR_START) {
        hidden.extend(EXPR_START);
        groups.push("an expression");
    }
    if has_all(OPERATORS) {
        hidden.extend(OPERATORS);
        hidden.extend(POSTFIX);
        groups.push("an operator");
    }
    let mut items: Vec<&str> = Vec::new();
    for name in set {
        if hidden.contains(&name) {
            continue;
        }
        let shown = match name {
            "Ident" => "identifier",
            "Int" | "Float" => "number",
            "Str" => "string",
            other => other,
        };
        if !items.contains(&shown) {
            items.push(shown);
        }
    }
    items.extend(groups);
    match items.len() {
        0 => None,
        1 => Some(items[0].to_string()),
        n if n <= MAX_EXPECTED => Some(format!("one of {}", items.join(", "))),
        n => Some(format!(
            "one of {}, and {} more",
            items[..MAX_EXPECTED - 1].join(", "),
            n - (MAX_EXPECTED - 1)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::ast::*;
    use super::*;

    /// A compact rendering of an expression tree for assertions.
    fn sx(e: &Expr) -> String {
        let list = |v: &[Expr]| v.iter().map(sx).collect::<Vec<_>>().join(" ");
        let names = |v: &[Ident]| {
            v.iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        match &e.kind {
            ExprKind::Int(i) => i.to_string(),
            ExprKind::Float(f) => format!("{f:?}"),
            ExprKind::Str(s) => format!("{s:?}"),
            ExprKind::Var(v) => v.clone(),
            ExprKind::List(v) => format!("[{}]", list(v)),
            ExprKind::Dict(v) => format!(
                "{{{}}}",
                v.iter()
                    .map(|(k, v)| format!("{}:{}", sx(k), sx(v)))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            ExprKind::ListComp {
                elem,
                names: n,
                iter,
            } => {
                format!("[{} for {} in {}]", sx(elem), names(n), sx(iter))
            }
            ExprKind::DictComp {
                key,
                value,
                names: n,
                iter,
            } => format!(
                "{{{}:{} for {} in {}}}",
                sx(key),
                sx(value),
                names(n),
                sx(iter)
            ),
            ExprKind::Select { keys, queries, op } => {
                format!("(select {} {} {})", sx(keys), sx(queries), op.symbol())
            }
            ExprKind::Aggregate(v) => format!("(aggregate {})", list(v)),
            ExprKind::Range(v) => format!("(range {})", list(v)),
            ExprKind::Zip(v) => format!("(zip {})", list(v)),
            ExprKind::Len(v) => format!("(len {})", list(v)),
            ExprKind::Round(e) => format!("(round {})", sx(e)),
            ExprKind::Indicator(e) => format!("(indicator {})", sx(e)),
            ExprKind::Index(a, i) => format!("(idx {} {})", sx(a), sx(i)),
            ExprKind::Call(f, v) if v.is_empty() => format!("(call {})", sx(f)),
            ExprKind::Call(f, v) => format!("(call {} {})", sx(f), list(v)),
            ExprKind::Unary(op, e) => format!("({} {})", op.symbol(), sx(e)),
            ExprKind::Binary(op, l, r) => format!("({} {} {})", op.symbol(), sx(l), sx(r)),
            ExprKind::Cond {
                then,
                cond,
                otherwise,
            } => format!("(ifelse {} {} {})", sx(then), sx(cond), sx(otherwise)),
            ExprKind::In(a, b) => format!("(in {} {})", sx(a), sx(b)),
        }
    }

    fn parse_ok(src: &str) -> Vec<Stmt> {
        let (stmts, diags) = parse_program(src, 3);
        assert!(
            diags.is_empty(),
            "unexpected diagnostics for {src:?}: {diags:#?}"
        );
        stmts
    }

    /// Parse `src` as one expression statement and render it.
    fn expr(src: &str) -> String {
        let stmts = parse_ok(&format!("{src};"));
        assert_eq!(stmts.len(), 1, "{src}");
        match &stmts[0].kind {
            StmtKind::Expr(e) => sx(e),
            other => panic!("not an expression statement: {other:?}"),
        }
    }

    fn diags(src: &str) -> Vec<Diag> {
        parse_program(src, 0).1
    }

    fn codes_of(src: &str) -> Vec<&'static str> {
        diags(src).iter().map(|d| d.code).collect()
    }

    #[test]
    fn precedence() {
        let cases = [
            ("1 + 2 * 3", "(+ 1 (* 2 3))"),
            ("1 - 2 - 3", "(- (- 1 2) 3)"),
            ("2 ^ 3 ^ 2", "(^ (^ 2 3) 2)"),
            ("-2^2", "(^ (- 2) 2)"),
            ("- 2 ^ 2", "(^ (- 2) 2)"),
            ("not x == 1", "(== (not x) 1)"),
            ("not tokens == \"a\"", "(== (not tokens) \"a\")"),
            ("+x * -y", "(* (+ x) (- y))"),
            ("7 % 3 * 2", "(% 7 (* 3 2))"),
            ("t % 3 * 2", "(% t (* 3 2))"),
            ("a * b % c", "(% (* a b) c)"),
            ("a + b % c", "(+ a (% b c))"),
            ("a / b * c", "(* (/ a b) c)"),
            ("t < 5 < 1", "(< (< t 5) 1)"),
            ("a + 1 == b * 2", "(== (+ a 1) (* b 2))"),
            ("1 or 0 and 0", "(and (or 1 0) 0)"),
            ("a == 1 and b <= 2", "(and (== a 1) (<= b 2))"),
            (
                "a if c1 else b if c2 else d",
                "(ifelse (ifelse a c1 b) c2 d)",
            ),
            ("a if x in y else b", "(ifelse a (in x y) b)"),
            ("a if c else b and d", "(ifelse a c (and b d))"),
            ("a or b if c else d", "(ifelse (or a b) c d)"),
            ("x in a if c else b", "(in x (ifelse a c b))"),
            ("t in [1] + [3]", "(in t (+ [1] [3]))"),
            (
                "\"a\" in tokens or \"e\" in tokens",
                "(in (in \"a\" (or tokens \"e\")) tokens)",
            ),
            ("a in b in c", "(in (in a b) c)"),
            ("-f(x)[0]", "(- (idx (call f x) 0))"),
            ("not a[1]", "(not (idx a 1))"),
            ("f(1)(2)", "(call (call f 1) 2)"),
            ("three()", "(call three)"),
            ("(1 + 2) * 3", "(* (+ 1 2) 3)"),
            ("- - x", "(- (- x))"),
            ("not not x", "(not (not x))"),
            ("x >= 1 > 2 <= 3", "(<= (> (>= x 1) 2) 3)"),
        ];
        for (src, want) in cases {
            assert_eq!(expr(src), want, "{src}");
        }
    }

    #[test]
    fn primaries() {
        let cases = [
            ("select(indices, indices, <)", "(select indices indices <)"),
            ("select(k, q, !=)", "(select k q !=)"),
            ("select(1,1,==)", "(select 1 1 ==)"),
            ("aggregate(s, v, 0)", "(aggregate s v 0)"),
            ("range(1, 5)", "(range 1 5)"),
            ("range()", "(range )"),
            ("zip(a, b)", "(zip a b)"),
            ("len(l)", "(len l)"),
            ("round (x / 2)", "(round (/ x 2))"),
            ("indicator(x == 1)", "(indicator (== x 1))"),
            ("select (a, b)", "(call select a b)"),
            ("len (x)", "(call len x)"),
            ("[]", "[]"),
            ("[1, 2.5, \"s\", True]", "[1 2.5 \"s\" True]"),
            ("{}", "{}"),
            ("{\"a\": 1, 2: b}", "{\"a\":1 2:b}"),
            ("[x * 2 for x in l]", "[(* x 2) for x in l]"),
            (
                "[a + b for a, b in zip(l, m)]",
                "[(+ a b) for a,b in (zip l m)]",
            ),
            ("[x in l for x in m]", "[(in x l) for x in m]"),
            ("{k: v for k in d}", "{k:v for k in d}"),
            ("x[0][1]", "(idx (idx x 0) 1)"),
            (
                "offset + ones + settle + format",
                "(+ (+ (+ offset ones) settle) format)",
            ),
        ];
        for (src, want) in cases {
            assert_eq!(expr(src), want, "{src}");
        }
    }

    #[test]
    fn statements() {
        let stmts = parse_ok("a = 1; b = 2;");
        assert_eq!(stmts.len(), 2);
        let src = "x, y = f(1), 2;";
        match &parse_ok(src)[0].kind {
            StmtKind::Assign { targets, values } => {
                assert_eq!(targets.len(), 2);
                assert_eq!(targets[1].name, "y");
                assert_eq!(targets[1].span, Span::new(3, 3, 4));
                assert_eq!(values.len(), 2);
            }
            other => panic!("{other:?}"),
        }
        match &parse_ok("a, b = f();")[0].kind {
            StmtKind::Assign { targets, values } => {
                assert_eq!((targets.len(), values.len()), (2, 1));
            }
            other => panic!("{other:?}"),
        }

        let src = "def f(a, b) {\n  # comment\n  c = a + b; # another\n  return c, a;\n}";
        let stmts = parse_ok(src);
        assert_eq!(stmts[0].span, Span::new(3, 0, src.len()));
        match &stmts[0].kind {
            StmtKind::Def {
                name,
                params,
                body,
                results,
                return_span,
            } => {
                assert_eq!(name.name, "f");
                assert_eq!(params.len(), 2);
                assert_eq!(body.len(), 1);
                assert_eq!(results.len(), 2);
                let r = &src[return_span.start as usize..return_span.end as usize];
                assert_eq!(r, "return c, a;");
            }
            other => panic!("{other:?}"),
        }
        match &parse_ok("def three() { return 3; }")[0].kind {
            StmtKind::Def { params, body, .. } => assert!(params.is_empty() && body.is_empty()),
            other => panic!("{other:?}"),
        }
        let stmts =
            parse_ok("for x in l { y = x; def g() { return 1; } for a, b in m { z = a; } }");
        match &stmts[0].kind {
            StmtKind::For { names, body, .. } => {
                assert_eq!(names.len(), 1);
                assert_eq!(body.len(), 3);
            }
            other => panic!("{other:?}"),
        }
        let src = "load \"lib/x\";";
        match &parse_ok(src)[0].kind {
            StmtKind::Load { path, path_span } => {
                assert_eq!(path, "lib/x");
                assert_eq!(
                    &src[path_span.start as usize..path_span.end as usize],
                    "\"lib/x\""
                );
            }
            other => panic!("{other:?}"),
        }
        match &parse_ok("draw(s); draw(s, \"abc\");")[1].kind {
            StmtKind::Draw { args } => assert_eq!(args.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn repl_commands() {
        use ExampleTarget::*;
        let src = "set example \"hello\"\nset s-op example [1, 2];\nset selector example \"ab\"\n\
                   show example\nshow s-op example;\nshow selector example\n\
                   examples on\ns-op examples off;\nselector examples on\n\
                   full seq display on\nfull  seq\tdisplay off;\nexit\nexit();\nquit\nquit()";
        let kinds: Vec<StmtKind> = parse_ok(src).into_iter().map(|s| s.kind).collect();
        assert_eq!(kinds.len(), 15);
        assert!(
            matches!(&kinds[0], StmtKind::SetExample { target: Both, value } if sx(value) == "\"hello\"")
        );
        assert!(
            matches!(&kinds[1], StmtKind::SetExample { target: Sop, value } if sx(value) == "[1 2]")
        );
        assert!(matches!(
            &kinds[2],
            StmtKind::SetExample {
                target: Selector,
                ..
            }
        ));
        assert_eq!(kinds[3], StmtKind::ShowExample { target: Both });
        assert_eq!(kinds[4], StmtKind::ShowExample { target: Sop });
        assert_eq!(kinds[5], StmtKind::ShowExample { target: Selector });
        assert_eq!(
            kinds[6],
            StmtKind::Examples {
                target: Both,
                on: true
            }
        );
        assert_eq!(
            kinds[7],
            StmtKind::Examples {
                target: Sop,
                on: false
            }
        );
        assert_eq!(
            kinds[8],
            StmtKind::Examples {
                target: Selector,
                on: true
            }
        );
        assert_eq!(kinds[9], StmtKind::FullSeqDisplay { on: true });
        assert_eq!(kinds[10], StmtKind::FullSeqDisplay { on: false });
        assert!(kinds[11..].iter().all(|k| *k == StmtKind::Exit));

        // The value of `set example` ends at the end of its line...
        let stmts = parse_ok("set example x\n(1);\n-2;");
        assert_eq!(stmts.len(), 3);
        assert!(matches!(&stmts[0].kind, StmtKind::SetExample { value, .. } if sx(value) == "x"));
        // ...unless a bracket is open or an operator is pending.
        let stmts = parse_ok("set example [1,\n 2] set example \"a\" +\n \"b\"");
        assert_eq!(stmts.len(), 2);
        assert!(
            matches!(&stmts[1].kind, StmtKind::SetExample { value, .. } if sx(value) == "(+ \"a\" \"b\")")
        );
        // Commands and statements on one line.
        assert_eq!(parse_ok("examples off x = 1; show example exit").len(), 4);
    }

    #[test]
    fn comments_and_layout() {
        let src = "x = a +  # note\n  b; y = [1, # one\n 2]; # end";
        let stmts = parse_ok(src);
        assert_eq!(stmts.len(), 2);
        match &stmts[0].kind {
            StmtKind::Assign { values, .. } => assert_eq!(sx(&values[0]), "(+ a b)"),
            other => panic!("{other:?}"),
        }
        assert!(parse_ok("").is_empty());
        assert!(parse_ok("# only a comment").is_empty());
        assert!(parse_ok(";;").is_empty());
        assert_eq!(parse_ok("def f() { return 1; }; x = 1;;").len(), 2);
    }

    #[test]
    fn spans() {
        let src = "x = (a + b) * c;";
        let stmts = parse_ok(src);
        let StmtKind::Assign { values, .. } = &stmts[0].kind else {
            panic!()
        };
        let text = |s: Span| &src[s.start as usize..s.end as usize];
        assert_eq!(text(values[0].span), "(a + b) * c");
        let ExprKind::Binary(_, l, _) = &values[0].kind else {
            panic!()
        };
        assert_eq!(text(l.span), "(a + b)");
        assert_eq!(stmts[0].span, Span::new(3, 0, src.len()));
        assert!(stmts[0].span.file == 3 && values[0].span.file == 3);
    }

    #[test]
    fn several_errors_are_all_reported() {
        let src = "a = 1;\nb = (2 + ;\nc = 3;\nd = 4 5;\ne = 5;\nf = ];\ng = 7;";
        let (stmts, diags) = parse_program(src, 9);
        assert_eq!(diags.len(), 3, "{diags:#?}");
        assert!(diags.iter().all(|d| d.code == codes::PARSE_UNEXPECTED));
        let at: Vec<&str> = diags
            .iter()
            .map(|d| {
                let s = d.span.unwrap();
                assert_eq!(s.file, 9);
                &src[s.start as usize..s.end as usize]
            })
            .collect();
        assert_eq!(at, vec![";", "5", "]"]);
        let names: Vec<_> = stmts
            .iter()
            .map(|s| match &s.kind {
                StmtKind::Assign { targets, .. } => targets[0].name.clone(),
                _ => panic!(),
            })
            .collect();
        assert_eq!(names, vec!["a", "c", "e", "g"]);
    }

    #[test]
    fn recovery_inside_bodies() {
        let src = "def f(a) {\n  x = a + ;\n  y = (a;\n  return a;\n}\nz = 1;\n\
                   for i in l { w = ; }\nv = 2;";
        let (stmts, diags) = parse_program(src, 0);
        assert_eq!(diags.len(), 3, "{diags:#?}");
        assert_eq!(stmts.len(), 2);
        // A missing `;` before a keyword statement resynchronises at the keyword.
        let (stmts, diags) = parse_program("x = 1\ndef f() { return 1; }\nz = 3;", 0);
        assert_eq!(diags.len(), 1, "{diags:#?}");
        assert_eq!(stmts.len(), 2);
        // Errors in a def header skip to its body.
        let (stmts, diags) = parse_program("def f(a b) { return a; }\nx = 1;", 0);
        assert_eq!(diags.len(), 1, "{diags:#?}");
        assert_eq!(stmts.len(), 1);
        // Missing `;` before the closing brace.
        let (stmts, diags) = parse_program("for x in l { y = x }\nz = 1;", 0);
        assert_eq!(diags.len(), 1, "{diags:#?}");
        assert_eq!(stmts.len(), 1);
        // Stray closing brace at top level.
        let (stmts, diags) = parse_program("x = 1; } y = 2;", 0);
        assert_eq!(diags.len(), 1, "{diags:#?}");
        assert_eq!(stmts.len(), 2);
    }

    #[test]
    fn body_structure_errors() {
        let d = diags("def f(a) { x = a; }");
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("no `return`"), "{d:?}");
        let d = diags("def f(a) { return a; x = 1; }");
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("after `return`"), "{d:?}");
        let d = diags("for x in l { return x; }");
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("outside a function"), "{d:?}");
        let d = diags("return 1;");
        assert_eq!(d.len(), 1);
        assert!(d[0].help.as_deref().unwrap_or("").contains("function body"));
    }

    #[test]
    fn lexical_errors_are_reported_once() {
        let src = "x = 1.;\ny = $;\nz = \"abc;\nw = 99999999999999999999;\nok = 1;";
        let (stmts, diags) = parse_program(src, 0);
        assert_eq!(codes_of(src), vec![codes::PARSE_TOKEN; 4], "{diags:#?}");
        assert_eq!(stmts.len(), 1);
    }

    #[test]
    fn messages_and_helps() {
        let d = &diags("x = 1 + ;")[0];
        assert_eq!(d.message, "unexpected `;`, expected an expression");
        let d = &diags("x = (1 + 2;")[0];
        assert_eq!(d.message, "unexpected `;`, expected \")\"");
        let d = &diags("x = 1\ny = 2;")[0];
        assert_eq!(
            d.message,
            "unexpected `y`, expected one of \";\", \",\", an operator"
        );
        assert!(
            d.help.as_deref().unwrap().contains("previous line"),
            "{d:?}"
        );
        let d = &diags("x = a != b;")[0];
        assert!(d.help.as_deref().unwrap().contains("not (a == b)"), "{d:?}");
        let d = &diags("s = select (indices, indices, ==);")[0];
        assert!(d.help.as_deref().unwrap().contains("no space"), "{d:?}");
        let d = &diags("in = 3;")[0];
        assert!(d.help.as_deref().unwrap().contains("keyword"), "{d:?}");
        let d = &diags("def f(a, on) { return a; }")[0];
        assert!(d.help.as_deref().unwrap().contains("keyword"), "{d:?}");
        let d = &diags("x = else;")[0];
        assert!(
            !d.help.as_deref().unwrap_or("").contains("keyword"),
            "{d:?}"
        );
        let d = &diags("x = (1));")[0];
        assert!(d.help.as_deref().unwrap().contains("no matching"), "{d:?}");
        let d = &diags("x = select(a, b, =);")[0];
        assert_eq!(
            d.message,
            "unexpected `=`, expected one of \"==\", \"!=\", \"<=\", \">=\", \"<\", \">\""
        );
        let d = &diags("x = (1 +")[0];
        assert_eq!(d.code, codes::PARSE_EOF);
        assert_eq!(d.span, Some(Span::new(0, 7, 8)));
        let d = &diags("x = (1 + 2 # c\n")[0];
        assert_eq!(d.span, Some(Span::new(0, 10, 10)));
        assert_eq!(d.help.as_deref(), Some("a `(` is not closed"));
        // An error whose recovery is later discarded is still reported.
        let d = diags("exit ()\ndef g(a) {\n  return a;\n");
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d[0].help.as_deref().unwrap().contains("without a space"));
        assert_eq!(d[1].code, codes::PARSE_EOF);
        let d = &diags(")")[0];
        assert_eq!(d.message, "unexpected `)`, expected a statement");
        // Rendering works.
        let rendered = diags("x = 1 +\n;")[0].clone().render_plain();
        assert!(rendered.contains("unexpected"), "{rendered}");
    }

    #[test]
    fn incomplete_input() {
        for src in [
            "x = (1 +",
            "def f(a) {",
            "x = 1",
            "x = 1 # comment",
            "x = [1,\n2",
            "for x in l { y = x;",
            "def f(a) { return a;",
            "a = 1; b = select(",
            "x = 1 if c",
            "set example",
        ] {
            assert!(is_incomplete(src), "{src:?}");
        }
        for src in [
            "x = 1;",
            "x = ;",
            "",
            "# c",
            "exit",
            "set example \"abc\"",
            "x = ); y = (",
            "x = \"abc",
            "def f(a) { }",
        ] {
            assert!(!is_incomplete(src), "{src:?}");
        }
    }

    #[test]
    fn nesting_limits() {
        let deep = |src: &str| {
            let (stmts, diags) = parse_program(src, 0);
            assert!(stmts.is_empty(), "{}", &src[..20.min(src.len())]);
            assert_eq!(
                diags.iter().map(|d| d.code).collect::<Vec<_>>(),
                vec![codes::PARSE_TOO_DEEP],
                "{}",
                &src[..20.min(src.len())]
            );
        };
        let n = 100_000;
        deep(&"(".repeat(n));
        deep(&format!("x = {}1{};", "(".repeat(n), ")".repeat(n)));
        deep(&format!("x = {}1{};", "[".repeat(n), "]".repeat(n)));
        deep(&format!("x = {}1;", "-".repeat(n)));
        deep(&format!("x = {}1;", "not ".repeat(n)));
        deep(&format!("x = 1{};", " + 1".repeat(n)));
        deep(&format!("x = a{};", "[0]".repeat(n)));
        deep(&format!("x = f{};", "()".repeat(n)));
        deep(&format!("x = a{};", " if c else a".repeat(n)));
        deep(&format!("x = a{};", " in a".repeat(n)));
        deep(&format!("x = {}a;", "a if ".repeat(n)));
        deep(&format!(
            "{}return 1;{}",
            "def f() {".repeat(300),
            "}".repeat(300)
        ));
        deep(&format!(
            "x = {}1{};",
            "select(".repeat(n),
            ",1,==)".repeat(n)
        ));
        // Within the limits.
        let ok = format!("x = {}1{};", "(".repeat(250), ")".repeat(250));
        assert_eq!(parse_ok(&ok).len(), 1);
        let ok = format!("x = 1{};", " + 1".repeat(4000));
        assert_eq!(parse_ok(&ok).len(), 1);
        // The statement after a too-deep one still parses.
        let (stmts, diags) = parse_program(&format!("x = {}; y = 1;", "(".repeat(n)), 0);
        assert_eq!(diags.len(), 1);
        assert_eq!(stmts.len(), 1);
        let (stmts, diags) = parse_program(&format!("x = a{}; y = 1;", "[0]".repeat(n)), 0);
        assert_eq!(diags.len(), 1);
        assert_eq!(stmts.len(), 1);
    }

    #[test]
    fn realistic_program() {
        let src = r#"
# A small library in the style of the reference's rasplib.
full_s = select(1, 1, ==);
length = round(1 / aggregate(full_s, indicator(indices == 0)));

def selector_width(sel) {
    at0 = indicator(indices == 0);
    with0 = sel or select(indices, 0, ==);   # also look at position 0
    only0 = sel and select(indices, 0, ==);
    frac = aggregate(with0, at0);
    return round(1 / frac - 1 + aggregate(only0, at0, 0));
}

def shift(seq, n, filler) {
    return aggregate(select(indices, indices - n, ==), seq, filler);
}

def pair(a, b) { return a, b; }
first, second = pair(1, 2);
counts = 0;
for c in ["a", "b"] {
    counts = counts + indicator(tokens == c);
}
pairs = {p[0]: p[1] for p in zip(["(", "{"], [")", "}"])};
rev = aggregate(select(indices, length - indices - 1, ==), tokens);
prevs = select(indices, indices, <); not_same = select(tokens, tokens, !=);
flags = [x % 2 == 0 for x in range(0, 10)];
big = tokens_int if len([1, 2]) > 1 else -tokens_int ^ 2;
load "paper_examples";
draw(rev, "abc");
set example "hello"
full seq display on
examples off
hist = selector_width(select(tokens, tokens, ==)); hist("abca");
"#;
        let stmts = parse_ok(src);
        assert_eq!(stmts.len(), 21);
        let kinds: Vec<&str> = stmts
            .iter()
            .map(|s| match &s.kind {
                StmtKind::Expr(_) => "expr",
                StmtKind::Assign { .. } => "assign",
                StmtKind::Def { .. } => "def",
                StmtKind::For { .. } => "for",
                StmtKind::Load { .. } => "load",
                StmtKind::Draw { .. } => "draw",
                StmtKind::SetExample { .. } => "set",
                StmtKind::FullSeqDisplay { .. } => "display",
                StmtKind::Examples { .. } => "examples",
                _ => "other",
            })
            .collect();
        assert_eq!(&kinds[..5], &["assign", "assign", "def", "def", "def"]);
        assert_eq!(
            &kinds[16..],
            &["set", "display", "examples", "assign", "expr"][..]
        );
        assert_eq!(kinds[14..16], ["load", "draw"]);
    }

    #[test]
    fn long_recovery_and_long_runs() {
        // Recovery discarding many tokens (the token stream skips ahead).
        let src = format!(
            "x = 1 {}; z = 2; def f() {{ y = 1 {}; return 1; }}",
            "y ".repeat(5000),
            "q ".repeat(5000)
        );
        let (stmts, diags) = parse_program(&src, 0);
        assert_eq!(diags.len(), 2, "{diags:?}");
        assert_eq!(stmts.len(), 1);
        let src = format!(
            "{}{}{}",
            "def f() {".repeat(200),
            "x x ".repeat(20_000),
            "}".repeat(200)
        );
        let (stmts, diags) = parse_program(&src, 0);
        assert_eq!((stmts.len(), diags.len()), (0, 1), "{diags:?}");
        // Long runs of tokens without any expression are not mistaken for recovery.
        let src = format!("{}x = 1;{}y = 2;", ";".repeat(5000), "exit ".repeat(5000));
        assert_eq!(parse_ok(&src).len(), 5002);
        let src = format!("def f() {{{}x = 1; return x; }}", ";".repeat(5000));
        assert_eq!(parse_ok(&src).len(), 1);
    }

    /// A tiny deterministic generator (no extra dependencies).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn check_invariants(src: &str) {
        let (stmts, diags) = parse_program(src, 7);
        let len = src.len() as u32;
        for d in &diags {
            let s = d.span.expect("every diagnostic has a span");
            assert!(
                s.file == 7 && s.start <= s.end && s.end <= len,
                "{src:?} {d:?}"
            );
        }
        for s in &stmts {
            assert!(s.span.file == 7 && s.span.end <= len, "{src:?}");
            assert!(!matches!(s.kind, StmtKind::Error));
        }
        let _ = is_incomplete(src);
    }

    #[test]
    fn fuzz_never_panics() {
        const ATOMS: &[&str] = &[
            "x",
            "f",
            "1",
            "2.5",
            "\"s\"",
            "(",
            ")",
            "[",
            "]",
            "{",
            "}",
            ",",
            ";",
            ":",
            "=",
            "+",
            "-",
            "*",
            "/",
            "%",
            "^",
            "==",
            "!=",
            "<",
            ">",
            "<=",
            ">=",
            "not",
            "and",
            "or",
            "if",
            "else",
            "in",
            "for",
            "def",
            "return",
            "load",
            "draw",
            "select(",
            "aggregate(",
            "range(",
            "zip(",
            "len(",
            "round",
            "indicator",
            "set",
            "show",
            "example",
            "examples",
            "s-op",
            "selector",
            "on",
            "off",
            "exit",
            "exit()",
            "quit",
            "full seq display",
            "# c\n",
            "\n",
            " ",
            "$",
            "1.",
            "\"open",
            "é",
            "\u{0}",
            "'",
            "99999999999999999999",
            "def f(a) {",
            "return x;",
            "x = 1;",
            "for a in l {",
            "s-",
            "full seq",
            "\t",
            "!",
            ".",
            "select (",
        ];
        let mut rng = Lcg(0x5eed);
        for _ in 0..4000 {
            let n = 1 + rng.below(40);
            let mut src = String::new();
            for _ in 0..n {
                src.push_str(ATOMS[rng.below(ATOMS.len())]);
                if rng.below(3) > 0 {
                    src.push(' ');
                }
            }
            check_invariants(&src);
        }
        for _ in 0..2000 {
            let n = rng.below(80);
            let bytes: Vec<u8> = (0..n)
                .map(|_| {
                    if rng.below(2) == 0 {
                        let pool = b"x1(){}[];=+-*\"#\n. !<>,:s";
                        pool[rng.below(pool.len())]
                    } else {
                        rng.below(256) as u8
                    }
                })
                .collect();
            check_invariants(&String::from_utf8_lossy(&bytes));
        }
    }
}
