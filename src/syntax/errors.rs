//! Syntax errors: lalrpop's errors turned into diagnostics with readable
//! expectations and hints.

use super::*;

impl<'a> Build<'a> {
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
    pub(super) fn report(&self, err: PError<'a>) {
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

    pub(super) fn unexpected(
        &self,
        s: usize,
        tok: Token<'a>,
        e: usize,
        expected: &[String],
    ) -> Diag {
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

    pub(super) fn help_for(
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
            // Causal evaluation is a flag, never a statement of a program.
            Token::Ident("causal") if i >= 1 && matches!(self.toks[i - 1].1, Token::Set) => {
                return Some(
                    "causal evaluation is a setting, not a statement: `:set causal on` in the REPL, `--causal` on the command line"
                        .to_string(),
                );
            }
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
    pub(super) fn used_as_name(&self, i: usize) -> bool {
        let next = self.toks.get(i + 1).map(|t| t.1);
        let prev = i.checked_sub(1).and_then(|p| self.toks.get(p)).map(|t| t.1);
        matches!(next, Some(Token::Assign | Token::Comma))
            || matches!(prev, Some(Token::Def | Token::For))
    }

    /// Whether some bracket opened before `pos` is still open there (looking
    /// back a bounded number of tokens; `true` when unsure).
    pub(super) fn has_open_bracket(&self, pos: usize) -> bool {
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

    pub(super) fn eof(&self, location: usize, expected: &[String]) -> Diag {
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

    pub(super) fn token_index(&self, pos: usize) -> usize {
        self.toks.partition_point(|t| t.0 < pos)
    }

    pub(super) fn prev_token_end(&self, pos: usize) -> usize {
        let i = self.token_index(pos);
        if i == 0 { 0 } else { self.toks[i - 1].2 }
    }

    /// `select (` (and friends) earlier in the same statement: with a space
    /// it is a call of a variable, not the builtin.
    pub(super) fn spaced_builtin_before(&self, pos: usize) -> Option<&'a str> {
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
pub(super) fn describe_expected(expected: &[String]) -> Option<String> {
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
