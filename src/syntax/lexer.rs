//! The RASP lexer: a logos token definition plus a driver that turns the source
//! text into the `(start, token, end)` triples the generated parser consumes.
//!
//! Lexical errors never stop lexing: each one becomes a diagnostic and a single
//! [`Token::Error`] in the stream, which no grammar rule accepts, so the parser
//! reports nothing more about it and resynchronises at the next statement.

use logos::Logos;

use crate::diag::{Diag, FileId, Span, ceil_boundary, codes, floor_boundary};

/// What went wrong while lexing one piece of text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LexError {
    /// A character that starts no token.
    #[default]
    Invalid,
    /// `1.` (a float needs digits after the point).
    BadFloat,
    /// `"abc` with no closing quote on the same line.
    Unterminated,
    /// An integer literal that does not fit in an `i64`.
    IntTooBig,
}

impl From<std::num::ParseIntError> for LexError {
    fn from(_: std::num::ParseIntError) -> Self {
        LexError::IntTooBig
    }
}

fn bad_float<'a>(_: &mut logos::Lexer<'a, Token<'a>>) -> Result<(), LexError> {
    Err(LexError::BadFloat)
}

fn unterminated<'a>(_: &mut logos::Lexer<'a, Token<'a>>) -> Result<(), LexError> {
    Err(LexError::Unterminated)
}

fn parse_int<'a>(lex: &mut logos::Lexer<'a, Token<'a>>) -> Result<i64, LexError> {
    Ok(lex.slice().parse::<i64>()?)
}

fn parse_float<'a>(lex: &mut logos::Lexer<'a, Token<'a>>) -> Option<f64> {
    lex.slice().parse::<f64>().ok()
}

fn string_body<'a>(lex: &mut logos::Lexer<'a, Token<'a>>) -> &'a str {
    let s = lex.slice();
    &s[1..s.len() - 1]
}

/// The tokens of RASP. Names of the grammar's terminals are given in
/// `grammar/rasp.lalrpop` (for example `";"`, `"select("`, `Ident`).
#[derive(Logos, Clone, Copy, Debug, PartialEq)]
#[logos(skip r"[ \t\r\n\u{FEFF}]+")]
#[logos(error = LexError)]
pub enum Token<'a> {
    /// `# ...` to the end of the line: kept apart from the token stream,
    /// in [`Lexed::comments`] (the parser never sees it).
    #[regex(r"#[^\n]*", allow_greedy = true)]
    Comment,
    #[token(";")]
    Semi,
    #[token("=")]
    Assign,
    #[token(",")]
    Comma,
    #[token(":")]
    Colon,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("^")]
    Caret,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("%")]
    Percent,
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("==")]
    EqEq,
    #[token("!=")]
    NotEq,
    #[token("<=")]
    Le,
    #[token(">=")]
    Ge,
    #[token("<")]
    Lt,
    #[token(">")]
    Gt,

    // Keywords.
    #[token("set")]
    Set,
    #[token("s-op")]
    SOp,
    #[token("selector")]
    Selector,
    #[token("example")]
    Example,
    #[token("show")]
    Show,
    #[token("examples")]
    Examples,
    #[token("on")]
    On,
    #[token("off")]
    Off,
    #[token("exit")]
    Exit,
    #[token("quit")]
    Quit,
    #[token("exit()")]
    ExitCall,
    #[token("quit()")]
    QuitCall,
    #[regex(r"full[ \t\r\n]+seq[ \t\r\n]+display")]
    FullSeqDisplay,
    #[token("load")]
    Load,
    #[token("draw")]
    Draw,
    #[token("def")]
    Def,
    #[token("for")]
    For,
    #[token("in")]
    In,
    #[token("return")]
    Return,
    #[token("not")]
    Not,
    #[token("round")]
    Round,
    #[token("indicator")]
    Indicator,
    #[token("and")]
    And,
    #[token("or")]
    Or,
    #[token("if")]
    If,
    #[token("else")]
    Else,

    // Builtins whose `(` is part of the token (no space allowed).
    #[token("select(")]
    SelectParen,
    #[token("aggregate(")]
    AggregateParen,
    #[token("range(")]
    RangeParen,
    #[token("zip(")]
    ZipParen,
    #[token("len(")]
    LenParen,

    // Literals and names.
    #[regex("[0-9]+", parse_int)]
    Int(i64),
    #[regex(r"[0-9]+\.[0-9]+", parse_float)]
    Float(f64),
    /// `1.`: always a lexical error (never reaches the parser).
    #[regex(r"[0-9]+\.", bad_float)]
    BadFloat,
    #[regex(r#""[^"\r\n]*""#, string_body)]
    Str(&'a str),
    /// A string without its closing quote: always a lexical error.
    #[regex(r#""[^"\r\n]*"#, unterminated)]
    Unterminated,
    #[regex("[a-zA-Z_][a-zA-Z_0-9]*")]
    Ident(&'a str),

    /// Stands for text that could not be lexed (already reported). No grammar
    /// rule accepts it; the lexer itself never produces it.
    Error,
}

impl Token<'_> {
    /// Tokens that open a nesting level (for the nesting guard).
    pub(crate) fn opens(&self) -> bool {
        matches!(
            self,
            Token::LParen
                | Token::LBracket
                | Token::LBrace
                | Token::SelectParen
                | Token::AggregateParen
                | Token::RangeParen
                | Token::ZipParen
                | Token::LenParen
                | Token::If
        )
    }

    fn closes(&self) -> bool {
        matches!(
            self,
            Token::RParen | Token::RBracket | Token::RBrace | Token::Else
        )
    }

    /// Tokens after which a `-`, `+` or `not` is binary (they end an operand).
    fn ends_operand(&self) -> bool {
        matches!(
            self,
            Token::Ident(_)
                | Token::Int(_)
                | Token::Float(_)
                | Token::Str(_)
                | Token::RParen
                | Token::RBracket
                | Token::RBrace
        )
    }

    fn is_operand(&self) -> bool {
        matches!(
            self,
            Token::Ident(_) | Token::Int(_) | Token::Float(_) | Token::Str(_)
        )
    }

    /// Keywords that can only start a statement or REPL command.
    fn starts_statement(&self) -> bool {
        matches!(
            self,
            Token::Set
                | Token::Show
                | Token::Examples
                | Token::SOp
                | Token::Selector
                | Token::FullSeqDisplay
                | Token::Exit
                | Token::ExitCall
                | Token::Quit
                | Token::QuitCall
                | Token::Def
                | Token::For
                | Token::Load
                | Token::Draw
                | Token::Return
        )
    }

    fn maybe_prefix(&self) -> bool {
        matches!(self, Token::Minus | Token::Plus | Token::Not)
    }
}

/// A token with its byte range in the source.
pub type Triple<'a> = (usize, Token<'a>, usize);

/// Deepest nesting of brackets, `if ... else` and prefix-operator chains the
/// parser accepts. Deeper input is reported as [`codes::PARSE_TOO_DEEP`]
/// before parsing, which keeps the parser's own stack (and its error recovery)
/// small on hostile input.
pub const MAX_NESTING: usize = 256;

/// The result of lexing a whole source text.
pub struct Lexed<'a> {
    pub tokens: Vec<Triple<'a>>,
    pub diags: Vec<Diag>,
    /// Every comment's byte range (`#` to the end of its line, the line
    /// break excluded), in order: the side table that makes the source
    /// lossless for the formatter and the language server.
    pub comments: Vec<(usize, usize)>,
}

/// A short, printable rendering of source text for messages.
pub fn shorten(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    let mut words = one_line.split(' ').filter(|w| !w.is_empty());
    let mut joined = words.next().unwrap_or("").to_string();
    for w in words {
        joined.push(' ');
        joined.push_str(w);
    }
    if joined.chars().count() > 30 {
        let cut: String = joined.chars().take(27).collect();
        format!("{cut}...")
    } else {
        joined
    }
}

fn lex_diag(src: &str, file: FileId, kind: LexError, start: usize, end: usize) -> Diag {
    let text = src.get(start..end).unwrap_or("");
    let span = Span::new(file, start, end);
    match kind {
        LexError::Invalid => {
            let d = Diag::error(
                codes::PARSE_TOKEN,
                format!("invalid token `{}`", shorten(text)),
            )
            .at(span)
            .label("not part of any RASP token");
            if text.starts_with('\'') {
                d.help("strings are written with double quotes: \"abc\"")
            } else if text.starts_with('!') {
                d.help("there is no `!` operator: use `not`")
            } else if text.starts_with('.') {
                d.help("a float literal needs digits on both sides of the point: 0.5")
            } else if text.starts_with('&') || text.starts_with('|') {
                d.help("logical operators are written `and` and `or`")
            } else {
                d
            }
        }
        LexError::BadFloat => Diag::error(
            codes::PARSE_TOKEN,
            format!("invalid number `{}`", shorten(text)),
        )
        .at(span)
        .label("a float needs digits after the point")
        .help(format!("write `{text}0`")),
        LexError::Unterminated => Diag::error(codes::PARSE_TOKEN, "unterminated string")
            .at(span)
            .label("this string has no closing `\"` on its line")
            .help("strings cannot span lines and have no escape sequences"),
        LexError::IntTooBig => Diag::error(
            codes::PARSE_TOKEN,
            format!("integer literal `{}` is too large", shorten(text)),
        )
        .at(span)
        .label("does not fit in a 64-bit integer")
        .help("integers range from -9223372036854775808 to 9223372036854775807"),
    }
}

/// Lex all of `src`. Never fails: every lexical error becomes a diagnostic and
/// one [`Token::Error`]. Runs of adjacent invalid characters are reported once.
/// The token stream is then passed through the nesting guard.
pub fn lex(src: &str, file: FileId) -> Lexed<'_> {
    let mut tokens: Vec<Triple<'_>> = Vec::new();
    let mut diags = Vec::new();
    let mut comments = Vec::new();
    // A run of adjacent invalid characters being accumulated.
    let mut pending: Option<(usize, usize)> = None;
    let mut lexer = Token::lexer(src);
    while let Some(res) = lexer.next() {
        let range = lexer.span();
        let start = floor_boundary(src, range.start);
        let end = ceil_boundary(src, range.end.max(start));
        match res {
            Err(LexError::Invalid) => match &mut pending {
                Some((_, e)) if *e == start => *e = end,
                _ => {
                    if let Some((s, e)) = pending.take() {
                        diags.push(lex_diag(src, file, LexError::Invalid, s, e));
                        tokens.push((s, Token::Error, e));
                    }
                    pending = Some((start, end));
                }
            },
            other => {
                if let Some((s, e)) = pending.take() {
                    diags.push(lex_diag(src, file, LexError::Invalid, s, e));
                    tokens.push((s, Token::Error, e));
                }
                match other {
                    Ok(Token::Comment) => {
                        let text = &src[start..end];
                        comments.push((start, start + text.trim_end_matches('\r').len()));
                    }
                    Ok(tok) => tokens.push((start, tok, end)),
                    Err(kind) => {
                        diags.push(lex_diag(src, file, kind, start, end));
                        tokens.push((start, Token::Error, end));
                    }
                }
            }
        }
    }
    if let Some((s, e)) = pending.take() {
        diags.push(lex_diag(src, file, LexError::Invalid, s, e));
        tokens.push((s, Token::Error, e));
    }
    let tokens = nesting_guard(tokens, file, &mut diags);
    let tokens = terminate_set_example(tokens, src);
    Lexed {
        tokens,
        diags,
        comments,
    }
}

/// Kinds of nesting levels tracked by the nesting guard.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Base,
    /// `(`, `[`, `select(` and friends.
    Paren,
    Brace,
    /// `if` waiting for its `else`.
    If,
}

/// Token-level nesting count used by [`nesting_guard`]: open levels plus
/// pending prefix operators.
struct Nesting {
    /// Open levels, each with its number of pending prefix operators.
    levels: Vec<(Level, usize)>,
    total: usize,
}

impl Nesting {
    fn top_kind(&self) -> Level {
        self.levels.last().map_or(Level::Base, |l| l.0)
    }

    fn push(&mut self, kind: Level) {
        self.levels.push((kind, 0));
        self.total += 1;
    }

    fn pop(&mut self) {
        if self.levels.len() > 1
            && let Some((_, unary)) = self.levels.pop()
        {
            self.total -= unary + 1;
        }
    }

    /// The prefix operators of the innermost level are complete.
    fn end_prefix(&mut self) {
        if let Some(top) = self.levels.last_mut() {
            self.total -= top.1;
            top.1 = 0;
        }
    }

    fn add_prefix(&mut self) {
        if let Some(top) = self.levels.last_mut() {
            top.1 += 1;
            self.total += 1;
        }
    }

    /// Account for one token (mirroring what the parser, or its error
    /// recovery, does with brackets).
    fn step(&mut self, tok: &Token<'_>, prev: Option<&Token<'_>>) {
        match tok {
            Token::If => {
                self.end_prefix();
                self.push(Level::If);
            }
            Token::LBrace => self.push(Level::Brace),
            t if t.opens() => self.push(Level::Paren),
            Token::RParen | Token::RBracket => {
                if self.top_kind() == Level::Paren {
                    self.pop();
                }
            }
            Token::Else => {
                if self.top_kind() == Level::If {
                    self.pop();
                }
            }
            Token::RBrace => {
                if self.levels.iter().any(|l| l.0 == Level::Brace) {
                    while self.top_kind() != Level::Brace {
                        self.pop();
                    }
                    self.pop();
                }
            }
            Token::Semi => {
                // Brackets cannot contain `;`: the statement ends (or error
                // recovery resumes) at the enclosing block.
                while matches!(self.top_kind(), Level::Paren | Level::If) {
                    self.pop();
                }
                self.end_prefix();
            }
            t if t.maybe_prefix() && !prev.is_some_and(Token::ends_operand) => self.add_prefix(),
            t if t.is_operand() => {}
            _ => self.end_prefix(),
        }
    }
}

/// Cut out constructs nested deeper than [`MAX_NESTING`].
///
/// Nesting is counted on tokens: each open bracket (including `select(` and
/// friends) and each `if` waiting for its `else` is one level, and each prefix
/// operator (`-`, `+`, `not` where an operand is expected) counts one until the
/// operand it applies to is finished. When the count would exceed the limit, a
/// diagnostic is reported, the offending construct is replaced by a single
/// [`Token::Error`] (so the parser drops that statement), and tokens are skipped
/// until the nesting is back under the limit or the statement ends at `;`.
fn nesting_guard<'a>(
    tokens: Vec<Triple<'a>>,
    file: FileId,
    diags: &mut Vec<Diag>,
) -> Vec<Triple<'a>> {
    let mut nesting = Nesting {
        levels: vec![(Level::Base, 0)],
        total: 0,
    };
    let mut prev: Option<Token<'a>> = None;
    // While skipping: the total to get back to.
    let mut skip_until: Option<usize> = None;
    // After a report, further overflows nearby are cut out silently.
    let mut quiet = false;
    let mut out = Vec::with_capacity(tokens.len());

    for (start, tok, end) in tokens {
        nesting.step(&tok, prev.as_ref());
        prev = Some(tok);
        let total = nesting.total;

        if let Some(target) = skip_until {
            if total <= target {
                skip_until = None;
                // A closing token that ends the skipped construct is skipped
                // too; anything else (`;`, the end of a prefix chain) is kept.
                if !tok.closes() {
                    out.push((start, tok, end));
                }
            }
            continue;
        }
        if total <= MAX_NESTING {
            if total < MAX_NESTING {
                quiet = false;
            }
            out.push((start, tok, end));
            continue;
        }
        if !quiet {
            quiet = true;
            diags.push(
                Diag::error(codes::PARSE_TOO_DEEP, "expression is nested too deeply")
                    .at(Span::new(file, start, end))
                    .label(format!("more than {MAX_NESTING} levels of nesting here"))
                    .help(
                        "split the expression into several statements with intermediate variables",
                    ),
            );
        }
        out.push((start, Token::Error, end));
        skip_until = Some(total - 1);
    }
    out
}

/// `set [s-op|selector] example E` is a REPL command with an optional `;`.
/// So that `E` cannot run on into the next statement (`set example x` then
/// `(1);` on the next line), a zero-width `;` is inserted after `E` when it is
/// missing: at the first line break outside brackets that follows a complete
/// operand (so `set example "a" +` still continues on the next line), before
/// a statement keyword, or at the end of the input.
fn terminate_set_example<'a>(tokens: Vec<Triple<'a>>, src: &str) -> Vec<Triple<'a>> {
    if !tokens.iter().any(|t| matches!(t.1, Token::Set)) {
        return tokens;
    }
    let mut out: Vec<Triple<'a>> = Vec::with_capacity(tokens.len() + 1);
    // Inside a `set` command: the current bracket depth.
    let mut in_set: Option<usize> = None;
    for (start, tok, end) in tokens {
        if let (Some(depth), Some(&(_, prev, prev_end))) = (in_set, out.last()) {
            let line_break = src.get(prev_end..start).is_some_and(|g| g.contains('\n'));
            if matches!(tok, Token::Semi) && depth == 0 {
                in_set = None;
            } else if depth == 0 && (line_break || tok.starts_statement()) && prev.ends_operand() {
                out.push((prev_end, Token::Semi, prev_end));
                in_set = None;
            }
        }
        if let Some(depth) = &mut in_set {
            if tok.opens() && !matches!(tok, Token::If) {
                *depth += 1;
            } else if tok.closes() && !matches!(tok, Token::Else) {
                if *depth == 0 {
                    // A `}` closing an enclosing block ends the command.
                    in_set = None;
                } else {
                    *depth -= 1;
                }
            }
        }
        if matches!(tok, Token::Set) {
            in_set = Some(0);
        }
        out.push((start, tok, end));
    }
    if in_set.is_some()
        && let Some(&(_, prev, prev_end)) = out.last()
        && prev.ends_operand()
    {
        out.push((prev_end, Token::Semi, prev_end));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Token<'_>> {
        lex(src, 0).tokens.into_iter().map(|t| t.1).collect()
    }

    #[test]
    fn keywords_and_longest_match() {
        assert_eq!(
            kinds("offset ones settle format s-op s select( select (x"),
            vec![
                Token::Ident("offset"),
                Token::Ident("ones"),
                Token::Ident("settle"),
                Token::Ident("format"),
                Token::SOp,
                Token::Ident("s"),
                Token::SelectParen,
                Token::Ident("select"),
                Token::LParen,
                Token::Ident("x"),
            ]
        );
        assert_eq!(
            kinds("s-1 s-o full seq full  seq\n display exit() exit(1) quit()"),
            vec![
                Token::Ident("s"),
                Token::Minus,
                Token::Int(1),
                Token::Ident("s"),
                Token::Minus,
                Token::Ident("o"),
                Token::Ident("full"),
                Token::Ident("seq"),
                Token::FullSeqDisplay,
                Token::ExitCall,
                Token::Exit,
                Token::LParen,
                Token::Int(1),
                Token::RParen,
                Token::QuitCall,
            ]
        );
        assert_eq!(
            kinds("True round(x) != <= 1.5 \"a b\" # comment\n 7"),
            vec![
                Token::Ident("True"),
                Token::Round,
                Token::LParen,
                Token::Ident("x"),
                Token::RParen,
                Token::NotEq,
                Token::Le,
                Token::Float(1.5),
                Token::Str("a b"),
                Token::Int(7),
            ]
        );
    }

    #[test]
    fn lexical_errors() {
        let l = lex("x = 1. + $$ \"abc\ny 99999999999999999999 é", 0);
        let codes: Vec<_> = l.diags.iter().map(|d| d.code).collect();
        assert_eq!(codes, vec![codes::PARSE_TOKEN; 5], "{:?}", l.diags);
        let spans: Vec<_> = l
            .diags
            .iter()
            .map(|d| {
                let s = d.span.unwrap();
                (s.start, s.end)
            })
            .collect();
        assert_eq!(spans, vec![(4, 6), (9, 11), (12, 16), (19, 39), (40, 42)]);
        assert_eq!(l.tokens.iter().filter(|t| t.1 == Token::Error).count(), 5);
    }

    #[test]
    fn nesting_guard_cuts_deep_input() {
        let src = "(".repeat(100_000);
        let l = lex(&src, 0);
        assert_eq!(l.diags.len(), 1);
        assert_eq!(l.diags[0].code, codes::PARSE_TOO_DEEP);
        assert_eq!(l.tokens.len(), MAX_NESTING + 1);
        let ok = format!("{}1{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        assert!(lex(&ok, 0).diags.is_empty());
        let ok = format!("{}1", "-".repeat(MAX_NESTING));
        assert!(lex(&ok, 0).diags.is_empty());
        let bad = format!("{}1", "- ".repeat(MAX_NESTING + 1));
        assert_eq!(lex(&bad, 0).diags.len(), 1);
        // Binary operators do not nest.
        let ok = "1 - ".repeat(10_000) + "1";
        assert!(lex(&ok, 0).diags.is_empty());
    }
}
