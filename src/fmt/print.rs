//! The AST printed back in the house style, with the source's comments and
//! blank lines: one statement per line, bodies indented by four spaces,
//! spaces around binary operators, long expressions broken at their
//! outermost operators, arguments and items first. A comment before a
//! statement stays on its own lines before it; one after a statement on the
//! same line stays there; a run of blank lines becomes one. A statement
//! with a comment inside it is kept as written (re-indented), so no comment
//! is ever moved into the middle of other code.

use super::doc::{Doc, concat, group, nest, render, text};
use crate::diag::Span;
use crate::syntax::ast::{BinOp, ExampleTarget, Expr, ExprKind, Ident, Stmt, StmtKind, UnOp};

/// Columns a line should fit in.
pub const WIDTH: usize = 100;
/// Columns per indentation level.
pub const INDENT: usize = 4;
/// A width nothing reaches: laid out flat.
const NEVER_BREAK: usize = 1 << 40;

pub struct Printer<'a> {
    src: &'a str,
    /// Every comment, in order; `next` is the first not yet printed.
    comments: Vec<Span>,
    next: usize,
    out: String,
}

impl<'a> Printer<'a> {
    pub fn new(src: &'a str, comments: Vec<Span>) -> Printer<'a> {
        Printer {
            src,
            comments,
            next: 0,
            out: String::new(),
        }
    }

    /// The file: its statements, then the comments after the last one.
    pub fn file(mut self, stmts: &[Stmt]) -> String {
        let items: Vec<Item<'_>> = stmts.iter().map(Item::Stmt).collect();
        self.block(&items, 0, self.src.len() as u32);
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
        self.out
    }

    fn slice(&self, s: Span) -> &'a str {
        self.src.get(s.start as usize..s.end as usize).unwrap_or("")
    }

    /// Whether the source between two offsets holds an empty line.
    fn blank_between(&self, from: u32, to: u32) -> bool {
        let gap = self.src.get(from as usize..to as usize).unwrap_or("");
        gap.matches('\n').count() >= 2
    }

    fn line(&mut self, indent: usize, text: &str) {
        let text = text.trim_end();
        if !text.is_empty() {
            self.out.push_str(&" ".repeat(indent));
            self.out.push_str(text);
        }
        self.out.push('\n');
    }

    /// A comment after the code of the last line printed.
    fn trailing(&mut self, text: &str) {
        if self.out.ends_with('\n') {
            self.out.pop();
        }
        self.out.push_str("  ");
        self.out.push_str(text.trim_end());
        self.out.push('\n');
    }

    /// Print the items of a block (the file, or a body up to `end`).
    fn block(&mut self, items: &[Item<'_>], indent: usize, end: u32) {
        let mut prev_end: Option<u32> = None;
        for (k, item) in items.iter().enumerate() {
            let span = item.span();
            let next_start = items.get(k + 1).map_or(end, |i| i.span().start);
            // Comments before it, each on its own line.
            self.comments_before(span.start, indent, &mut prev_end);
            if let Some(p) = prev_end
                && self.blank_between(p, span.start)
            {
                self.out.push('\n');
            }
            let inner = self.comments[self.next..]
                .iter()
                .take_while(|c| c.start < span.end)
                .count();
            let keeps_own = matches!(item, Item::Stmt(s) if matches!(s.kind, StmtKind::Def { .. } | StmtKind::For { .. }))
                && !self.header_has_comment(item);
            if inner > 0 && !keeps_own {
                self.verbatim(span, indent);
                self.next += inner;
            } else {
                self.item(item, indent);
            }
            prev_end = Some(span.end);
            // A comment on the same line, after it (and before the next
            // statement).
            if let Some(&c) = self.comments.get(self.next)
                && c.start < next_start
                && !self.src[span.end as usize..c.start as usize].contains('\n')
            {
                let text = self.slice(c).to_string();
                self.trailing(&text);
                self.next += 1;
                prev_end = Some(c.end);
            }
        }
        // Comments after the last item, before the block's end.
        self.comments_before(end, indent, &mut prev_end);
    }

    /// The comments not yet printed that start before `until`, each on its
    /// own line (after an empty line where the source has one). A comment
    /// that follows code on its line in the source (`def f() { # c`, `; #
    /// c`) follows the last line printed instead: a comment that starts a
    /// line may mean something to tools (`# test:` declarations).
    fn comments_before(&mut self, until: u32, indent: usize, prev_end: &mut Option<u32>) {
        while let Some(&c) = self.comments.get(self.next).filter(|c| c.start < until) {
            let text = self.slice(c).to_string();
            if !super::starts_line(self.src, c) && !self.out.is_empty() {
                self.trailing(&text);
            } else {
                if let Some(p) = *prev_end
                    && self.blank_between(p, c.start)
                {
                    self.out.push('\n');
                }
                self.line(indent, &text);
            }
            self.next += 1;
            *prev_end = Some(c.end);
        }
    }

    /// A `def` or `for` with a comment in its header (before its `{`).
    fn header_has_comment(&self, item: &Item<'_>) -> bool {
        let Item::Stmt(s) = item else { return false };
        let open = self.open_brace(s);
        self.comments[self.next..]
            .iter()
            .take_while(|c| c.start < s.span.end)
            .any(|c| c.start < open)
    }

    /// The offset of the `{` that opens a `def`'s or `for`'s body.
    fn open_brace(&self, s: &Stmt) -> u32 {
        let from = match &s.kind {
            StmtKind::Def { name, params, .. } => params.last().unwrap_or(name).span.end,
            StmtKind::For { iter, .. } => iter.span.end,
            _ => return s.span.start,
        };
        let text = &self.src[from as usize..s.span.end as usize];
        let mut in_comment = false;
        for (i, ch) in text.char_indices() {
            match ch {
                '#' => in_comment = true,
                '\n' => in_comment = false,
                '{' if !in_comment => return from + i as u32,
                _ => {}
            }
        }
        s.span.end
    }

    /// A statement as written, its lines moved to `indent`.
    fn verbatim(&mut self, span: Span, indent: usize) {
        let text = self.slice(span);
        let line_start = self.src[..span.start as usize]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let old = self.src[line_start..span.start as usize]
            .chars()
            .take_while(|c| *c == ' ')
            .count();
        for (i, l) in text.lines().enumerate() {
            if i == 0 {
                self.line(indent, l.trim_start());
            } else {
                let own = l.chars().take_while(|c| *c == ' ').count();
                let rel = own.saturating_sub(old);
                self.line(indent + rel, l.trim_start());
            }
        }
    }

    fn item(&mut self, item: &Item<'_>, indent: usize) {
        match item {
            Item::Return(results, _) => {
                let doc = concat([text("return "), self.list(results), text(";")]);
                let s = render(&group(doc), WIDTH, indent);
                self.line(indent, &s);
            }
            Item::Stmt(s) => self.stmt(s, indent),
        }
    }

    fn stmt(&mut self, s: &Stmt, indent: usize) {
        let put = |p: &mut Printer<'_>, d: Doc| {
            let s = render(&group(d), WIDTH, indent);
            p.line(indent, &s);
        };
        match &s.kind {
            StmtKind::Expr(e) => {
                let d = concat([self.expr(e), text(";")]);
                put(self, d)
            }
            StmtKind::Assign { targets, values } => {
                let d = concat([
                    text(format!("{} = ", names(targets))),
                    self.list(values),
                    text(";"),
                ]);
                put(self, d)
            }
            StmtKind::Def {
                name,
                params,
                body,
                results,
                return_span,
                ..
            } => {
                let header = format!("def {}({}) {{", name.name, names(params));
                self.line(indent, &header);
                let mut items: Vec<Item<'_>> = body.iter().map(Item::Stmt).collect();
                items.push(Item::Return(results, *return_span));
                self.block(&items, indent + INDENT, s.span.end);
                self.line(indent, "}");
            }
            StmtKind::For {
                names: n,
                iter,
                body,
                ..
            } => {
                let d = concat([
                    text(format!("for {} in ", names(n))),
                    self.expr(iter),
                    text(" {"),
                ]);
                put(self, d);
                let items: Vec<Item<'_>> = body.iter().map(Item::Stmt).collect();
                self.block(&items, indent + INDENT, s.span.end);
                self.line(indent, "}");
            }
            StmtKind::Load { path_span, .. } => {
                let t = format!("load {};", self.slice(*path_span));
                self.line(indent, &t)
            }
            StmtKind::Draw { args } => {
                let d = concat([text("draw"), self.args(args), text(";")]);
                put(self, d)
            }
            StmtKind::SetExample { target, value } => {
                // Never broken: the end of the line ends the command.
                let v = render(&self.expr(value), NEVER_BREAK, 0);
                let t = format!("set {}example {v};", target_word(*target));
                self.line(indent, &t)
            }
            StmtKind::ShowExample { target } => {
                let t = format!("show {}example", target_word(*target));
                self.line(indent, &t)
            }
            StmtKind::Examples { target, on } => {
                let t = format!("{}examples {}", target_word(*target), on_off(*on));
                self.line(indent, &t)
            }
            StmtKind::FullSeqDisplay { on } => {
                let t = format!("full seq display {}", on_off(*on));
                self.line(indent, &t)
            }
            StmtKind::Exit | StmtKind::Error => {
                let t = self
                    .slice(s.span)
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                self.line(indent, &t)
            }
        }
    }

    /// `a, b, c`, breakable after each comma.
    fn list(&self, items: &[Expr]) -> Doc {
        let mut parts = Vec::new();
        for (i, e) in items.iter().enumerate() {
            if i > 0 {
                parts.push(text(","));
                parts.push(Doc::Line);
            }
            parts.push(self.expr(e));
        }
        concat(parts)
    }

    /// `(a, b)` that breaks into one argument per line.
    fn args(&self, items: &[Expr]) -> Doc {
        self.bracketed("(", self.list_docs(items), ")")
    }

    fn list_docs(&self, items: &[Expr]) -> Vec<Doc> {
        items.iter().map(|e| self.expr(e)).collect()
    }

    fn bracketed(&self, open: &str, items: Vec<Doc>, close: &str) -> Doc {
        if items.is_empty() {
            return text(format!("{open}{close}"));
        }
        let mut inner = vec![Doc::SoftLine];
        for (i, d) in items.into_iter().enumerate() {
            if i > 0 {
                inner.push(text(","));
                inner.push(Doc::Line);
            }
            inner.push(d);
        }
        group(concat([
            text(open),
            nest(INDENT, concat(inner)),
            Doc::SoftLine,
            text(close),
        ]))
    }

    fn expr(&self, e: &Expr) -> Doc {
        match &e.kind {
            ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Str(_) | ExprKind::Var(_) => {
                text(self.slice(e.span))
            }
            ExprKind::List(items) => self.bracketed("[", self.list_docs(items), "]"),
            ExprKind::Dict(entries) => {
                let items = entries
                    .iter()
                    .map(|(k, v)| concat([self.expr(k), text(": "), self.expr(v)]))
                    .collect();
                self.bracketed("{", items, "}")
            }
            ExprKind::ListComp {
                elem,
                names: n,
                iter,
            } => self.comprehension("[", self.expr(elem), n, iter, "]"),
            ExprKind::DictComp {
                key,
                value,
                names: n,
                iter,
            } => {
                let kv = concat([self.expr(key), text(": "), self.expr(value)]);
                self.comprehension("{", kv, n, iter, "}")
            }
            ExprKind::Select { keys, queries, op } => self.bracketed(
                "select(",
                vec![self.expr(keys), self.expr(queries), text(op.symbol())],
                ")",
            ),
            ExprKind::Aggregate(args) => self.bracketed("aggregate(", self.list_docs(args), ")"),
            ExprKind::Range(args) => self.bracketed("range(", self.list_docs(args), ")"),
            ExprKind::Zip(args) => self.bracketed("zip(", self.list_docs(args), ")"),
            ExprKind::Len(args) => self.bracketed("len(", self.list_docs(args), ")"),
            ExprKind::Round(a) => self.bracketed("round(", vec![self.expr(a)], ")"),
            ExprKind::Indicator(a) => self.bracketed("indicator(", vec![self.expr(a)], ")"),
            // Never broken inside: `x[\n i\n]` reads badly.
            ExprKind::Index(a, i) => concat([self.expr(a), text("["), self.expr(i), text("]")]),
            ExprKind::Call(f, args) => {
                // `len (x)` calls a variable named `len`; `len(x)` would be
                // the builtin form (one token): keep them apart.
                let form = matches!(&f.kind, ExprKind::Var(n)
                    if crate::syntax::words::lookup(n).is_some_and(|w| w.kind == crate::syntax::words::Kind::Form));
                let gap = if form { " " } else { "" };
                concat([self.expr(f), text(gap), self.args(args)])
            }
            ExprKind::Unary(op, a) => {
                let inner = self.expr(a);
                match op {
                    UnOp::Not => concat([text("not "), inner]),
                    // `- -x`, not `--x`: kept apart for the reader.
                    UnOp::Neg | UnOp::Plus => {
                        let sign = op.symbol();
                        let sep = match &a.kind {
                            ExprKind::Unary(UnOp::Neg | UnOp::Plus, _) => " ",
                            _ => "",
                        };
                        concat([text(format!("{sign}{sep}")), inner])
                    }
                }
            }
            ExprKind::Binary(op, _, _) => self.chain(e, level(*op), INDENT),
            ExprKind::Cond {
                then,
                cond,
                otherwise,
            } => group(concat([
                self.expr(then),
                nest(
                    INDENT,
                    concat([
                        Doc::Line,
                        text("if "),
                        self.expr(cond),
                        Doc::Line,
                        text("else "),
                        self.expr(otherwise),
                    ]),
                ),
            ])),
            ExprKind::In(a, b) => group(concat([
                self.expr(a),
                nest(INDENT, concat([Doc::Line, text("in "), self.expr(b)])),
            ])),
            ExprKind::Paren(inner) => {
                // Inside parentheses, a chain's operators line up with its
                // first operand.
                let body = match &inner.kind {
                    ExprKind::Binary(op, _, _) => self.chain(inner, level(*op), 0),
                    _ => self.expr(inner),
                };
                group(concat([
                    text("("),
                    nest(INDENT, concat([Doc::SoftLine, body])),
                    Doc::SoftLine,
                    text(")"),
                ]))
            }
        }
    }

    /// `a op b op c` of one precedence level, breakable before each
    /// operator.
    fn chain(&self, e: &Expr, lvl: u8, hang: usize) -> Doc {
        let mut operands: Vec<(Option<BinOp>, &Expr)> = Vec::new();
        let mut cur = e;
        loop {
            match &cur.kind {
                ExprKind::Binary(op, l, r) if level(*op) == lvl => {
                    operands.push((Some(*op), r));
                    cur = l;
                }
                _ => {
                    operands.push((None, cur));
                    break;
                }
            }
        }
        operands.reverse();
        let first = self.expr(operands[0].1);
        let mut rest = Vec::new();
        for (op, x) in &operands[1..] {
            rest.push(Doc::Line);
            rest.push(text(format!("{} ", op.map_or("", BinOp::symbol))));
            rest.push(self.expr(x));
        }
        group(concat([first, nest(hang, concat(rest))]))
    }

    fn comprehension(&self, open: &str, elem: Doc, n: &[Ident], iter: &Expr, close: &str) -> Doc {
        group(concat([
            text(open),
            nest(
                INDENT,
                concat([
                    Doc::SoftLine,
                    elem,
                    Doc::Line,
                    text(format!("for {} in ", names(n))),
                    self.expr(iter),
                ]),
            ),
            Doc::SoftLine,
            text(close),
        ]))
    }
}

/// A statement of a block, or a function's `return`.
enum Item<'s> {
    Stmt(&'s Stmt),
    Return(&'s [Expr], Span),
}

impl Item<'_> {
    fn span(&self) -> Span {
        match self {
            Item::Stmt(s) => s.span,
            Item::Return(_, span) => *span,
        }
    }
}

fn names(ids: &[Ident]) -> String {
    ids.iter()
        .map(|i| i.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn target_word(t: ExampleTarget) -> &'static str {
    match t {
        ExampleTarget::Both => "",
        ExampleTarget::Sop => "s-op ",
        ExampleTarget::Selector => "selector ",
    }
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

/// Binary operators of one level chain without parentheses (the grammar's
/// levels).
fn level(op: BinOp) -> u8 {
    match op {
        BinOp::And | BinOp::Or => 0,
        BinOp::Cmp(_) => 1,
        BinOp::Add | BinOp::Sub => 2,
        BinOp::Mod => 3,
        BinOp::Mul | BinOp::Div => 4,
        BinOp::Pow => 5,
    }
}
