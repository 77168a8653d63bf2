//! The grammar's semantic actions that build the AST: expressions (with
//! their weighted depth) and statements, `def` and `for` bodies kept with
//! a `broken` mark when they hold an error.

use super::*;

impl<'a> Build<'a> {
    /// Note that the parser made progress (see [`Tokens`]).
    pub(crate) fn tick(&self) {
        self.quiet_pulls.set(0);
    }

    pub(super) fn span(&self, l: usize, r: usize) -> Span {
        self.quiet_pulls.set(0);
        Span::new(self.file, l, r)
    }

    pub(super) fn push_diag(&self, d: Diag) {
        self.diags.borrow_mut().push(d);
    }

    // ------------------------------------------------------------ expressions

    /// Make a node of depth `d`; a node that is too deep is reported (once per
    /// statement) and replaced by a leaf, so no tree ever gets deeper than the
    /// limit and nothing is dropped recursively at an unbounded depth.
    pub(super) fn node(&self, kind: ExprKind, span: Span, d: u32) -> X {
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

    /// `( e )`.
    pub(crate) fn paren(&self, e: X, l: usize, r: usize) -> X {
        self.node(
            ExprKind::Paren(Box::new(e.e)),
            self.span(l, r),
            e.d + W_NEST,
        )
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
    pub(super) fn take_deep(&self) -> bool {
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

    pub(super) fn finish(&self, kind: StmtKind, l: usize, r: usize) -> Stmt {
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

    pub(super) fn error_stmt(&self, l: usize, r: usize) -> Stmt {
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
        if self.take_deep() {
            return self.error_stmt(l, r);
        }
        // A syntax error in the body keeps the function, marked broken,
        // with the statements that parsed: tools still see its names.
        let mut broken = body.has_error();
        let mut stmts = Vec::new();
        let mut ret: Option<(Vec<Expr>, Span)> = None;
        for item in body.items {
            let span = match &item {
                Item::Stmt(s) => Some(s.span),
                Item::Return { span, .. } => Some(*span),
                Item::Error | Item::Empty => None,
            };
            if let (Some(_), Some(span), false) = (&ret, span, broken) {
                self.push_diag(
                    Diag::error(codes::PARSE_UNEXPECTED, "statement after `return`")
                        .at(span)
                        .label("this follows the function's `return`")
                        .help("`return` must be the last statement of a function body"),
                );
                broken = true;
            }
            match item {
                Item::Stmt(s) => stmts.push(s),
                Item::Return { values, span } if ret.is_none() => ret = Some((values, span)),
                Item::Return { .. } | Item::Error | Item::Empty => {}
            }
        }
        if ret.is_none() && !broken {
            self.push_diag(
                Diag::error(
                    codes::PARSE_UNEXPECTED,
                    format!("function `{}` has no `return` statement", name.name),
                )
                .at(body.close)
                .label("expected `return ...;` before this `}`")
                .help("a function body ends with exactly one `return` statement, e.g. `def f(x) { y = x + 1; return y; }`"),
            );
            broken = true;
        }
        let (results, return_span) = ret.unwrap_or((Vec::new(), body.close));
        self.finish(
            StmtKind::Def {
                name,
                params,
                body: stmts,
                results,
                return_span,
                broken,
            },
            l,
            r,
        )
    }

    pub(crate) fn for_loop(
        &self,
        names: Vec<Ident>,
        iter: X,
        body: Body,
        l: usize,
        r: usize,
    ) -> Stmt {
        if self.take_deep() {
            return self.error_stmt(l, r);
        }
        let mut stmts = Vec::new();
        let mut ok = !body.has_error();
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
        let kind = StmtKind::For {
            names,
            iter: iter.e,
            body: stmts,
            broken: !ok,
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
}
