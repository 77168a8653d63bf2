//! Statements and expressions of the meta level.

use std::path::Path;
use std::rc::Rc;

use super::value::{
    self, Dict, Func, List, MVal, Scope, ScopeRef, UserFunc, dict_table, list_table,
};
use super::{Echo, Flow, MAX_CALL_DEPTH, Session, suggest};
use crate::diag::limits::{self, Limit};
use crate::diag::{Diag, Span, codes};
use crate::interp::Output;
use crate::ir::expr::Expr as E;
use crate::ir::value::{self as atom, OpError, OpErrorKind, Value};
use crate::ir::{NodeId, Op};
use crate::syntax::ast::{BinOp, CmpOp, Expr, ExprKind, Ident, Stmt, StmtKind, UnOp};

/// An operand of an elementwise operation: an s-op or a broadcast atom.
enum Operand {
    Sop(NodeId),
    Atom(Value),
}

fn op_err(e: OpError, span: Span) -> Diag {
    let code = match e.kind {
        OpErrorKind::Type => codes::TYPE_MISMATCH,
        OpErrorKind::Value => codes::EVAL_VALUE,
        OpErrorKind::DivZero => codes::EVAL_DIV_ZERO,
        OpErrorKind::Overflow => codes::EVAL_OVERFLOW,
        OpErrorKind::Index => codes::EVAL_INDEX,
        OpErrorKind::Key => codes::EVAL_KEY,
        OpErrorKind::Limit(l) => return Diag::error(l.code(), e.message).at(span).help(l.help()),
    };
    Diag::error(code, e.message).at(span)
}

fn type_err(message: impl Into<String>, span: Span) -> Diag {
    Diag::error(codes::TYPE_MISMATCH, message).at(span)
}

/// Refuse a value of `size` (as [`value::size`] counts it) over the size
/// limit: `what` says what would be made (`a list`).
fn check_size(size: u64, what: &str, span: Span) -> Result<(), Diag> {
    Limit::Size
        .check(u128::from(size), || format!("this would make {what} of size {size}"))
        .map_err(|d| d.at(span))
}

impl Session {
    pub(super) fn exec_stmt(
        &mut self,
        stmt: &Stmt,
        scope: &ScopeRef,
        origin: &Rc<str>,
        dir: Option<&Path>,
        echoes: &mut Vec<Echo>,
    ) -> Result<Flow, Vec<Diag>> {
        let one = |d: Diag| vec![d];
        match &stmt.kind {
            StmtKind::Expr(e) => {
                let v = self.eval(e, scope).map_err(one)?;
                scope.borrow_mut().set("out", v.clone());
                echoes.push(Echo::Value {
                    value: v,
                    expr: e.clone(),
                });
            }
            StmtKind::Assign { targets, values } => {
                let mut vals = Vec::with_capacity(values.len());
                for e in values {
                    vals.push(self.eval(e, scope).map_err(one)?);
                }
                if let Some(last) = vals.last() {
                    scope.borrow_mut().set("out", last.clone());
                }
                let span = values
                    .first()
                    .map(|e| e.span)
                    .unwrap_or(stmt.span)
                    .to(values.last().map(|e| e.span).unwrap_or(stmt.span));
                let vals = unpack(targets, vals, span).map_err(one)?;
                let mut errors = Vec::new();
                for (t, v) in targets.iter().zip(vals) {
                    match self.assign(scope, &t.name, v.clone(), t.span) {
                        Ok(()) => echoes.push(Echo::Assigned {
                            name: t.name.clone(),
                            value: v,
                        }),
                        Err(d) => errors.push(d),
                    }
                }
                if !errors.is_empty() {
                    return Err(errors);
                }
            }
            // Its syntax errors were reported; it defines and runs nothing.
            _ if stmt.is_broken() => {}
            StmtKind::Def {
                name,
                params,
                body,
                results,
                ..
            } => {
                let mut seen: Vec<&str> = Vec::new();
                for p in params {
                    if seen.contains(&p.name.as_str()) {
                        return Err(one(Diag::error(
                            codes::NAME_RESERVED,
                            format!("duplicate parameter `{}` in function {}", p.name, name.name),
                        )
                        .at(p.span)));
                    }
                    seen.push(&p.name);
                }
                let func = Rc::new(Func::User(UserFunc {
                    name: name.name.clone(),
                    params: params.clone(),
                    body: body.clone().into(),
                    results: results.clone().into(),
                    closure: scope.clone(),
                    origin: origin.clone(),
                    span: name.span,
                }));
                self.assign(scope, &name.name, MVal::Func(func.clone()), name.span)
                    .map_err(one)?;
                echoes.push(Echo::Defined {
                    name: name.name.clone(),
                    func,
                });
            }
            StmtKind::For {
                names, iter, body, ..
            } => {
                let it = self.eval(iter, scope).map_err(one)?;
                scope.borrow_mut().set("out", it.clone());
                let items = iteration_items(&it, iter.span).map_err(one)?;
                // Each iteration echoes its assignments; the REPL shows each
                // name once, with its final value, so superseded ones are
                // dropped as the loop goes (a long loop keeps as many echoes
                // as it has names, not one per iteration).
                let start = echoes.len();
                let mut compact_at = start + 64;
                for item in items {
                    self.check_interrupt(iter.span).map_err(one)?;
                    let vals = unpack_item(names, item, iter.span).map_err(one)?;
                    for (n, v) in names.iter().zip(vals) {
                        self.assign(scope, &n.name, v, n.span).map_err(one)?;
                    }
                    for s in body.iter() {
                        if let Flow::Exit = self.exec_stmt(s, scope, origin, dir, echoes)? {
                            return Ok(Flow::Exit);
                        }
                    }
                    if echoes.len() >= compact_at {
                        drop_superseded(echoes, start);
                        compact_at = start + 2 * (echoes.len() - start).max(32);
                    }
                }
                drop_superseded(echoes, start);
            }
            StmtKind::Load { path, path_span } => {
                self.load(path, *path_span, scope, dir, echoes)?;
            }
            StmtKind::Draw { args } => {
                if args.is_empty() || args.len() > 2 {
                    return Err(one(arity_diag("draw", "1 or 2", args.len(), stmt.span)));
                }
                let target = self.eval(&args[0], scope).map_err(one)?;
                let node = match target {
                    MVal::Sop(id) | MVal::Sel(id) => id,
                    other => {
                        return Err(one(type_err(
                            format!("draw expects an s-op, got {}", other.kind_name()),
                            args[0].span,
                        )));
                    }
                };
                let input = match args.get(1) {
                    Some(e) => {
                        let v = self.eval(e, scope).map_err(one)?;
                        Some(to_input(&v, e.span).map_err(one)?)
                    }
                    None => None,
                };
                echoes.push(Echo::Draw {
                    node,
                    input,
                    span: stmt.span,
                });
            }
            StmtKind::SetExample { target, value } => {
                let v = self.eval(value, scope).map_err(one)?;
                let input = to_input(&v, value.span).map_err(one)?;
                use crate::syntax::ast::ExampleTarget as T;
                if matches!(target, T::Both | T::Sop) {
                    self.settings.sop_example = input.clone();
                }
                if matches!(target, T::Both | T::Selector) {
                    self.settings.sel_example = input;
                }
                echoes.push(Echo::SetExample { target: *target });
            }
            StmtKind::ShowExample { target } => echoes.push(Echo::ShowExample { target: *target }),
            StmtKind::Examples { target, on } => {
                use crate::syntax::ast::ExampleTarget as T;
                if matches!(target, T::Both | T::Sop) {
                    self.settings.sop_examples = *on;
                }
                if matches!(target, T::Both | T::Selector) {
                    self.settings.sel_examples = *on;
                }
                echoes.push(Echo::Examples {
                    target: *target,
                    on: *on,
                });
            }
            StmtKind::FullSeqDisplay { on } => {
                self.settings.full_seq_display = *on;
                echoes.push(Echo::FullSeqDisplay { on: *on });
            }
            StmtKind::Exit => return Ok(Flow::Exit),
            StmtKind::Error => {}
        }
        Ok(Flow::Next)
    }

    /// Evaluate an expression of the meta level.
    pub(crate) fn eval(&mut self, e: &Expr, scope: &ScopeRef) -> Result<MVal, Diag> {
        let span = e.span;
        match &e.kind {
            ExprKind::Int(i) => Ok(MVal::Atom(Value::Int(*i))),
            ExprKind::Float(f) => Ok(MVal::Atom(Value::Float(*f))),
            ExprKind::Str(s) => Ok(MVal::Atom(Value::str(s))),
            ExprKind::Var(name) => value::lookup(scope, name).ok_or_else(|| {
                let mut d =
                    Diag::error(codes::NAME_UNDEFINED, format!("Undefined variable: {name}"))
                        .at(span)
                        .label("not defined");
                if crate::syntax::words::lookup(name)
                    .is_some_and(|w| w.kind == crate::syntax::words::Kind::Form)
                {
                    d = d.help(format!(
                        "`{name}(` is one token: write it with no space before the parenthesis"
                    ));
                } else if let Some(file) = self.private_names.get(name) {
                    d = Diag::error(
                        codes::NAME_PRIVATE,
                        format!("`{name}` is private to {file}.rasp"),
                    )
                    .at(span)
                    .label("private to the loaded file")
                    .help(
                        "names starting with `_` are private to the file that defines them and \
                         are not imported by `load`; use a public name, or rename it without the `_`",
                    );
                } else if name.starts_with('_') {
                    d = d.help(
                        "names starting with `_` are private to the file that defines them and \
                         are not imported by `load`",
                    );
                } else if let Some(s) = suggest(name, &value::visible_names(scope)) {
                    d = d.help(format!("did you mean `{s}`?"));
                }
                d
            }),
            ExprKind::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for it in items {
                    out.push(self.eval(it, scope)?);
                }
                let list = List::new(out);
                check_size(list.size(), "a list", span)?;
                Ok(MVal::List(Rc::new(list)))
            }
            ExprKind::Dict(entries) => {
                let mut d = Dict::default();
                for (k, v) in entries {
                    let key = self.eval(k, scope)?;
                    let key = dict_key(key, k.span)?;
                    let val = self.eval(v, scope)?;
                    d.insert(key, val);
                }
                check_size(d.size(), "a dict", span)?;
                Ok(MVal::Dict(Rc::new(d)))
            }
            ExprKind::ListComp { elem, names, iter } => {
                let it = self.eval(iter, scope)?;
                let items = iteration_items(&it, iter.span)?;
                let inner = Scope::new_ref(Some(scope.clone()));
                let mut out = Vec::with_capacity(items.len());
                // Its size so far, checked as each element comes.
                let mut size = 0u64;
                for item in items {
                    self.check_interrupt(iter.span)?;
                    for (n, v) in names.iter().zip(unpack_item(names, item, iter.span)?) {
                        self.assign(&inner, &n.name, v, n.span)?;
                    }
                    let v = self.eval(elem, &inner)?;
                    size = size.saturating_add(1).saturating_add(value::size(&v));
                    check_size(size, "a list", span)?;
                    out.push(v);
                }
                Ok(MVal::list(out))
            }
            ExprKind::DictComp {
                key,
                value,
                names,
                iter,
            } => {
                let it = self.eval(iter, scope)?;
                let items = iteration_items(&it, iter.span)?;
                let inner = Scope::new_ref(Some(scope.clone()));
                let mut d = Dict::default();
                for item in items {
                    self.check_interrupt(iter.span)?;
                    for (n, v) in names.iter().zip(unpack_item(names, item, iter.span)?) {
                        self.assign(&inner, &n.name, v, n.span)?;
                    }
                    let k = self.eval(key, &inner)?;
                    let k = dict_key(k, key.span)?;
                    let v = self.eval(value, &inner)?;
                    d.insert(k, v);
                    check_size(d.size(), "a dict", span)?;
                }
                Ok(MVal::Dict(Rc::new(d)))
            }
            ExprKind::Select { keys, queries, op } => {
                let k = self.eval(keys, scope)?;
                let q = self.eval(queries, scope)?;
                let k = self.sop_or_const(k, keys.span, "select")?;
                let q = self.sop_or_const(q, queries.span, "select")?;
                Ok(MVal::Sel(self.graph.add(
                    Op::Select {
                        keys: k,
                        queries: q,
                        cmp: *op,
                    },
                    Some(span),
                )))
            }
            ExprKind::Aggregate(args) => {
                if args.len() < 2 || args.len() > 3 {
                    return Err(arity_diag("aggregate", "2 or 3", args.len(), span).help(
                        "aggregate(selector, values) or aggregate(selector, values, default)",
                    ));
                }
                let sel = match self.eval(&args[0], scope)? {
                    MVal::Sel(id) => id,
                    other => {
                        return Err(type_err(
                            format!("Expected selector, got: {}", other.kind_name()),
                            args[0].span,
                        )
                        .label("the first argument of aggregate must be a selector"));
                    }
                };
                let vals = self.eval(&args[1], scope)?;
                let vals = self.sop_or_const(vals, args[1].span, "aggregate")?;
                let default = match args.get(2) {
                    Some(d) => match self.eval(d, scope)? {
                        MVal::Atom(v) => v,
                        other => {
                            return Err(type_err(
                                format!("Expected atom, got: {}", other.kind_name()),
                                d.span,
                            )
                            .label("the default of aggregate must be an atom"));
                        }
                    },
                    None => Value::Int(0),
                };
                Ok(MVal::Sop(self.graph.add(
                    Op::Aggregate {
                        sel,
                        values: vals,
                        default,
                    },
                    Some(span),
                )))
            }
            ExprKind::Range(args) => {
                if args.is_empty() || args.len() > 3 {
                    return Err(arity_diag("range", "1 to 3", args.len(), span));
                }
                let mut ints = Vec::with_capacity(3);
                for a in args {
                    match self.eval(a, scope)? {
                        MVal::Atom(v @ (Value::Int(_) | Value::Bool(_))) => {
                            ints.push(v.as_int().unwrap_or(0))
                        }
                        other => {
                            return Err(type_err(
                                format!(
                                    "range expects all integer inputs, got {}",
                                    other.kind_name()
                                ),
                                a.span,
                            ));
                        }
                    }
                }
                let (start, stop, step) = match ints.as_slice() {
                    [b] => (0, *b, 1),
                    [a, b] => (*a, *b, 1),
                    [a, b, c] => (*a, *b, *c),
                    _ => (0, 0, 1),
                };
                if step == 0 {
                    return Err(
                        Diag::error(codes::EVAL_VALUE, "range() arg 3 must not be zero").at(span),
                    );
                }
                let count = if step > 0 {
                    (stop as i128 - start as i128 + step as i128 - 1) / step as i128
                } else {
                    (start as i128 - stop as i128 - step as i128 - 1) / (-(step as i128))
                }
                .max(0);
                Limit::Size
                    .check(count as u128, || {
                        format!("this range would make a list of size {count}")
                    })
                    .map_err(|d| d.at(span))?;
                let mut out: Vec<MVal> =
                    limits::vec_with_capacity(count as usize, "a range").map_err(|d| d.at(span))?;
                out.extend((0..count as i64).map(|i| MVal::Atom(Value::Int(start + i * step))));
                Ok(MVal::list(out))
            }
            ExprKind::Zip(args) => {
                if args.is_empty() {
                    return Err(arity_diag("zip", "at least 1", 0, span)
                        .help("zip needs at least one list"));
                }
                let mut lists = Vec::with_capacity(args.len());
                for a in args {
                    match self.eval(a, scope)? {
                        MVal::List(l) => lists.push(l),
                        other => {
                            return Err(type_err(
                                format!("zip expects lists, got {}", other.kind_name()),
                                a.span,
                            ));
                        }
                    }
                }
                let n = lists[0].len();
                if lists.iter().any(|l| l.len() != n) {
                    let lens: Vec<String> = lists.iter().map(|l| l.len().to_string()).collect();
                    return Err(type_err(
                        format!(
                            "zip expects lists of equal length, got lengths {}",
                            lens.join(", ")
                        ),
                        span,
                    ));
                }
                // One list per position, holding one element of each list.
                let size = lists
                    .iter()
                    .fold(n as u64, |t, l| t.saturating_add(l.size()));
                check_size(size, "a list", span)?;
                let out: Vec<MVal> = (0..n)
                    .map(|i| MVal::list(lists.iter().map(|l| l[i].clone()).collect()))
                    .collect();
                Ok(MVal::list(out))
            }
            ExprKind::Len(args) => {
                if args.len() != 1 {
                    return Err(arity_diag("len", "1", args.len(), span));
                }
                match self.eval(&args[0], scope)? {
                    MVal::List(l) => Ok(MVal::Atom(Value::Int(l.len() as i64))),
                    other => Err(type_err(
                        format!(
                            "attempting to compute length of non-list: {}",
                            other.kind_name()
                        ),
                        args[0].span,
                    )
                    .help("len works on lists; the length of an s-op is the s-op `length`")),
                }
            }
            ExprKind::Round(a) => match self.eval(a, scope)? {
                MVal::Atom(v) => atom::round(&v).map(MVal::Atom).map_err(|e| op_err(e, span)),
                MVal::Sop(id) => Ok(MVal::Sop(self.map(
                    E::Round(Box::new(E::Arg(0))),
                    vec![id],
                    span,
                ))),
                other => Err(type_err(
                    format!(
                        "round expects a number or an s-op, got {}",
                        other.kind_name()
                    ),
                    a.span,
                )),
            },
            ExprKind::Indicator(a) => match self.eval(a, scope)? {
                MVal::Sop(id) => Ok(MVal::Sop(self.map(
                    E::Indicator(Box::new(E::Arg(0))),
                    vec![id],
                    span,
                ))),
                other => Err(type_err(
                    format!(
                        "indicator operator expects s-op, got: {}",
                        other.kind_name()
                    ),
                    a.span,
                )),
            },
            ExprKind::Index(x, i) => {
                let xv = self.eval(x, scope)?;
                let iv = self.eval(i, scope)?;
                self.index(xv, iv, x.span, i.span, span)
            }
            ExprKind::Call(f, args) => {
                let fv = self.eval(f, scope)?;
                let mut argv = Vec::with_capacity(args.len());
                for a in args {
                    argv.push(self.eval(a, scope)?);
                }
                self.call_value(fv, argv, f, args, span)
            }
            ExprKind::Unary(op, a) => {
                let v = self.eval(a, scope)?;
                match (op, v) {
                    (_, MVal::Atom(x)) => atom::unary(*op, &x)
                        .map(MVal::Atom)
                        .map_err(|e| op_err(e, span)),
                    (_, MVal::Sop(id)) => Ok(MVal::Sop(self.map(
                        E::Unary(*op, Box::new(E::Arg(0))),
                        vec![id],
                        span,
                    ))),
                    (UnOp::Not, MVal::Sel(id)) => {
                        Ok(MVal::Sel(self.graph.add(Op::SelNot(id), Some(span))))
                    }
                    (UnOp::Not, other) => {
                        Ok(MVal::Atom(Value::Bool(!other.truthy().unwrap_or(true))))
                    }
                    (_, MVal::Sel(_)) => Err(Diag::error(
                        codes::TYPE_SELECTOR,
                        format!("Cannot apply {} to selector(s)", op.symbol()),
                    )
                    .at(span)),
                    (_, other) => Err(type_err(
                        format!(
                            "bad operand type for unary {}: {}",
                            op.symbol(),
                            other.kind_name()
                        ),
                        span,
                    )),
                }
            }
            ExprKind::Binary(op, a, b) => {
                let x = self.eval(a, scope)?;
                let y = self.eval(b, scope)?;
                self.binary(*op, x, y, a.span, b.span, span)
            }
            ExprKind::Cond {
                then,
                cond,
                otherwise,
            } => {
                let c = self.eval(cond, scope)?;
                match c {
                    MVal::Sop(c) => {
                        let t = self.eval(then, scope)?;
                        let o = self.eval(otherwise, scope)?;
                        let t = self.operand(t, then.span, "a conditional branch")?;
                        let o = self.operand(o, otherwise.span, "a conditional branch")?;
                        let (expr, args) = build_expr(vec![Operand::Sop(c), t, o], |v| {
                            E::Cond(
                                Box::new(v[0].clone()),
                                Box::new(v[1].clone()),
                                Box::new(v[2].clone()),
                            )
                        });
                        Ok(MVal::Sop(self.map(expr, args, span)))
                    }
                    MVal::Sel(_) => Err(Diag::error(
                        codes::TYPE_SELECTOR,
                        "a selector cannot be the condition of `if`",
                    )
                    .at(cond.span)),
                    other => {
                        if other.truthy().unwrap_or(true) {
                            self.eval(then, scope)
                        } else {
                            self.eval(otherwise, scope)
                        }
                    }
                }
            }
            ExprKind::In(a, b) => {
                let x = self.eval(a, scope)?;
                let y = self.eval(b, scope)?;
                self.membership(x, y, a.span, b.span, span)
            }
            ExprKind::Paren(inner) => self.eval(inner, scope),
        }
    }

    /// An s-op node for a value: s-ops as they are, atoms as constants.
    fn sop_or_const(&mut self, v: MVal, span: Span, what: &str) -> Result<NodeId, Diag> {
        match v {
            MVal::Sop(id) => Ok(id),
            MVal::Atom(a) => Ok(self.graph.add(Op::Const(a), Some(span))),
            other => Err(type_err(
                format!(
                    "{what} expects an s-op or an atom here, got {}",
                    other.kind_name()
                ),
                span,
            )),
        }
    }

    fn operand(&self, v: MVal, span: Span, what: &str) -> Result<Operand, Diag> {
        match v {
            MVal::Sop(id) => Ok(Operand::Sop(id)),
            MVal::Atom(a) => Ok(Operand::Atom(a)),
            MVal::Sel(_) => Err(Diag::error(
                codes::TYPE_SELECTOR,
                format!("a selector cannot be {what}"),
            )
            .at(span)),
            other => Err(type_err(
                format!(
                    "{what} must be an s-op or an atom, got {}",
                    other.kind_name()
                ),
                span,
            )),
        }
    }

    fn map(&mut self, expr: E, args: Vec<NodeId>, span: Span) -> NodeId {
        self.graph.add(Op::Map { expr, args }, Some(span))
    }

    fn binary(
        &mut self,
        op: BinOp,
        x: MVal,
        y: MVal,
        sa: Span,
        sb: Span,
        span: Span,
    ) -> Result<MVal, Diag> {
        // Selectors: only and/or between two selectors.
        if matches!(x, MVal::Sel(_)) || matches!(y, MVal::Sel(_)) {
            return match (op, &x, &y) {
                (BinOp::And, MVal::Sel(a), MVal::Sel(b)) => Ok(MVal::Sel(self.graph.add(Op::SelAnd(*a, *b), Some(span)))),
                (BinOp::Or, MVal::Sel(a), MVal::Sel(b)) => Ok(MVal::Sel(self.graph.add(Op::SelOr(*a, *b), Some(span)))),
                (BinOp::And | BinOp::Or, _, _) => Err(Diag::error(
                    codes::TYPE_SELECTOR,
                    "Cannot apply and/or between selector and non-selector",
                )
                .at(span)),
                _ => Err(Diag::error(
                    codes::TYPE_SELECTOR,
                    format!("Cannot apply {} to selector(s)", op.symbol()),
                )
                .at(span)
                .help("selectors combine only with `and`, `or` and `not`; use aggregate or selector_width to get an s-op")),
            };
        }
        if matches!(x, MVal::Sop(_)) || matches!(y, MVal::Sop(_)) {
            let a = self.operand(x, sa, &format!("an operand of `{}`", op.symbol()))?;
            let b = self.operand(y, sb, &format!("an operand of `{}`", op.symbol()))?;
            let (expr, args) = build_expr(vec![a, b], |v| {
                E::Binary(op, Box::new(v[0].clone()), Box::new(v[1].clone()))
            });
            return Ok(MVal::Sop(self.map(expr, args, span)));
        }
        match (op, x, y) {
            // Python's and/or on plain values return an operand.
            (BinOp::And, x, y) => Ok(if x.truthy().unwrap_or(true) { y } else { x }),
            (BinOp::Or, x, y) => Ok(if x.truthy().unwrap_or(true) { x } else { y }),
            (_, MVal::Atom(a), MVal::Atom(b)) => atom::binary(op, &a, &b)
                .map(MVal::Atom)
                .map_err(|e| op_err(e, span)),
            (BinOp::Add, MVal::List(a), MVal::List(b)) => {
                check_size(a.size().saturating_add(b.size()), "a list", span)?;
                let mut out = limits::vec_with_capacity(a.len() + b.len(), "a list")
                    .map_err(|d| d.at(span))?;
                out.extend(a.iter().cloned());
                out.extend(b.iter().cloned());
                Ok(MVal::list(out))
            }
            (BinOp::Cmp(c @ (CmpOp::Eq | CmpOp::Ne)), a, b) => {
                let eq = meta_eq(&a, &b);
                Ok(MVal::Atom(Value::Bool(if c == CmpOp::Eq {
                    eq
                } else {
                    !eq
                })))
            }
            (_, a, b) => Err(type_err(
                format!(
                    "unsupported operand types for {}: {} and {}",
                    op.symbol(),
                    a.kind_name(),
                    b.kind_name()
                ),
                span,
            )),
        }
    }

    fn membership(
        &mut self,
        x: MVal,
        y: MVal,
        sa: Span,
        sb: Span,
        span: Span,
    ) -> Result<MVal, Diag> {
        match (x, y) {
            (MVal::Sop(id), MVal::List(l)) => {
                let mut atoms = Vec::with_capacity(l.len());
                for item in l.iter() {
                    match item {
                        MVal::Atom(v) => atoms.push(v.clone()),
                        other => {
                            return Err(type_err(
                                format!(
                                    "\"[s-op] in X\" expects X to be a list of atoms, but it holds {}",
                                    other.kind_name()
                                ),
                                sb,
                            ));
                        }
                    }
                }
                Ok(MVal::Sop(self.map(
                    E::In(Box::new(E::Arg(0)), atoms.into()),
                    vec![id],
                    span,
                )))
            }
            (MVal::Sop(_), other) => Err(type_err(
                format!(
                    "\"[s-op] in X\" expects X to be list of atoms, but got non-list: {}",
                    other.kind_name()
                ),
                sb,
            )),
            (MVal::Atom(a), MVal::Sop(seq)) => {
                // As the original: a mean over the full selector, > 0.
                let one = self.graph.add(Op::Const(Value::Int(1)), Some(span));
                let full = self.graph.add(
                    Op::Select {
                        keys: one,
                        queries: one,
                        cmp: CmpOp::Eq,
                    },
                    Some(span),
                );
                let hit = self.map(
                    E::Indicator(Box::new(E::Binary(
                        BinOp::Cmp(CmpOp::Eq),
                        Box::new(E::Arg(0)),
                        Box::new(E::Const(a)),
                    ))),
                    vec![seq],
                    span,
                );
                let mean = self.graph.add(
                    Op::Aggregate {
                        sel: full,
                        values: hit,
                        default: Value::Int(0),
                    },
                    Some(span),
                );
                Ok(MVal::Sop(self.map(
                    E::Binary(
                        BinOp::Cmp(CmpOp::Gt),
                        Box::new(E::Arg(0)),
                        Box::new(E::Const(Value::Int(0))),
                    ),
                    vec![mean],
                    span,
                )))
            }
            (a, MVal::List(l)) if !matches!(a, MVal::Sel(_)) => {
                Ok(MVal::Atom(Value::Bool(l.iter().any(|v| meta_eq(&a, v)))))
            }
            (MVal::Sel(_), _) | (_, MVal::Sel(_)) => {
                Err(Diag::error(codes::TYPE_SELECTOR, "Cannot apply in to selector(s)").at(span))
            }
            (_, other) => Err(type_err(
                format!(
                    "\"[atom] in X\" expects X to be list or s-op, got {}",
                    other.kind_name()
                ),
                sb.to(sa),
            )),
        }
    }

    fn index(&mut self, x: MVal, i: MVal, sx: Span, si: Span, span: Span) -> Result<MVal, Diag> {
        match (x, i) {
            (MVal::Sop(seq), MVal::Atom(k)) => {
                let Some(k) = k.as_int() else {
                    return Err(Diag::error(
                        codes::TYPE_INDEX,
                        format!("index into sequence has to be integer, got: {}", k.repr()),
                    )
                    .at(si));
                };
                let indices = self.indices_node();
                let query = if k >= 0 {
                    self.graph.add(Op::Const(Value::Int(k)), Some(si))
                } else {
                    let length = self.graph.add(Op::Length, None);
                    self.map(
                        E::Binary(BinOp::Add, Box::new(E::Arg(0)), Box::new(E::Const(Value::Int(k)))),
                        vec![length],
                        si,
                    )
                };
                let sel = self.graph.add(
                    Op::Select {
                        keys: indices,
                        queries: query,
                        cmp: CmpOp::Eq,
                    },
                    Some(span),
                );
                Ok(MVal::Sop(self.graph.add(
                    Op::Aggregate {
                        sel,
                        values: seq,
                        default: Value::Int(0),
                    },
                    Some(span),
                )))
            }
            (MVal::Sop(_), other) => Err(Diag::error(
                codes::TYPE_INDEX,
                format!("index into sequence has to be integer, got: {}", other.kind_name()),
            )
            .at(si)
            .help("to read an s-op at positions given by another s-op, use aggregate(select(indices, positions, ==), sop)")),
            (container, MVal::Sop(idx)) => {
                let table = match &container {
                    MVal::Atom(Value::Str(s)) => crate::ir::Table::Str(s.chars().collect()),
                    MVal::List(l) => list_table(l),
                    MVal::Dict(d) => dict_table(d),
                    other => {
                        return Err(Diag::error(
                            codes::TYPE_INDEX,
                            format!("cannot index into {}", other.kind_name()),
                        )
                        .at(sx));
                    }
                };
                Ok(MVal::Sop(self.map(E::Index(std::sync::Arc::new(table), Box::new(E::Arg(0))), vec![idx], span)))
            }
            (MVal::Atom(Value::Str(s)), MVal::Atom(k)) => {
                let t = crate::ir::Table::Str(s.chars().collect());
                t.get(&k).map(MVal::Atom).map_err(|e| op_err(e, span))
            }
            (MVal::List(l), MVal::Atom(k)) => {
                let Some(i) = k.as_int() else {
                    return Err(Diag::error(
                        codes::TYPE_INDEX,
                        format!("list indices must be integers, not {}", k.type_name()),
                    )
                    .at(si));
                };
                let n = l.len() as i64;
                let j = if i < 0 { i + n } else { i };
                if j < 0 || j >= n {
                    return Err(Diag::error(
                        codes::EVAL_INDEX,
                        format!("index {i} out of range for list of length {n}"),
                    )
                    .at(si));
                }
                Ok(l[j as usize].clone())
            }
            (MVal::Dict(d), MVal::Atom(k)) => d.get(&k).cloned().ok_or_else(|| {
                Diag::error(codes::EVAL_KEY, format!("index [ {} ] not in dict.", k.repr()))
                    .at(si)
                    .label("no such key")
            }),
            (other, i) => Err(Diag::error(
                codes::TYPE_INDEX,
                format!("cannot index {} with {}", other.kind_name(), i.kind_name()),
            )
            .at(span)),
        }
    }

    fn indices_node(&mut self) -> NodeId {
        self.graph.add(Op::Indices, None)
    }

    fn call_value(
        &mut self,
        f: MVal,
        args: Vec<MVal>,
        fexpr: &Expr,
        arg_exprs: &[Expr],
        span: Span,
    ) -> Result<MVal, Diag> {
        match f {
            MVal::Func(func) => self.call(&func, args, arg_exprs, span),
            MVal::Sop(id) | MVal::Sel(id) => {
                if args.len() != 1 {
                    return Err(Diag::error(
                        codes::TYPE_ARITY,
                        format!(
                            "wrong number of args for evaluate unfinished- expected: 1, got: {}.",
                            args.len()
                        ),
                    )
                    .at(span)
                    .help("an s-op or selector is applied to exactly one input: `sop(\"abc\")`"));
                }
                let input = to_input(&args[0], arg_exprs[0].span)?;
                let out = self.evaluate(id, &input).map_err(|d| d.or_at(span))?;
                // The values as a list (a selector's as n lists of n).
                let size = match &out {
                    Output::Sop(col) => col.values.iter().fold(col.values.len() as u64, |t, v| {
                        t.saturating_add(match v {
                            Value::Str(s) => s.len() as u64,
                            _ => 0,
                        })
                    }),
                    Output::Selector(rows) => (rows.len() as u64).saturating_mul(rows.len() as u64 + 1),
                };
                check_size(size, "a list", span)?;
                Ok(match out {
                    Output::Sop(col) => MVal::list(col.values.into_iter().map(MVal::Atom).collect()),
                    Output::Selector(rows) => MVal::list(
                        rows.into_iter()
                            .map(|r| MVal::list(r.into_iter().map(|b| MVal::Atom(Value::Bool(b))).collect()))
                            .collect(),
                    ),
                })
            }
            other => {
                let what = match &fexpr.unparen().kind {
                    ExprKind::Var(n) => format!("`{n}` is {}", other.kind_name()),
                    _ => format!("this is {}", other.kind_name()),
                };
                Err(Diag::error(
                    codes::TYPE_NOT_CALLABLE,
                    format!("{what}, which cannot be called"),
                )
                .at(fexpr.span)
                .label("not a function or an s-op")
                .help("only functions (`def`) and s-ops/selectors (applied to an input) can be called"))
            }
        }
    }

    pub(crate) fn call(
        &mut self,
        func: &Rc<Func>,
        args: Vec<MVal>,
        arg_exprs: &[Expr],
        span: Span,
    ) -> Result<MVal, Diag> {
        match &**func {
            Func::SelectorWidth => {
                if args.len() != 1 {
                    return Err(arity_diag("selector_width", "1", args.len(), span));
                }
                match &args[0] {
                    MVal::Sel(id) => Ok(MVal::Sop(
                        self.graph.add(Op::SelectorWidth(*id), Some(span)),
                    )),
                    other => Err(type_err(
                        format!(
                            "selector_width expects a selector, got {}",
                            other.kind_name()
                        ),
                        arg_exprs.first().map_or(span, |e| e.span),
                    )),
                }
            }
            Func::Hint(hint) => {
                if args.len() != 1 {
                    return Err(arity_diag(hint.name(), "1", args.len(), span));
                }
                match &args[0] {
                    MVal::Sop(id) => {
                        self.graph.set_hint(*id, *hint);
                        Ok(MVal::Sop(*id))
                    }
                    other => Err(type_err(
                        format!("{} expects an s-op, got {}", hint.name(), other.kind_name()),
                        arg_exprs.first().map_or(span, |e| e.span),
                    )),
                }
            }
            Func::User(f) => {
                if args.len() != f.params.len() {
                    return Err(Diag::error(
                        codes::TYPE_ARITY,
                        format!(
                            "wrong number of args for {}- expected: {}, got: {}.",
                            f.name,
                            f.params.len(),
                            args.len()
                        ),
                    )
                    .at(span)
                    .label("called here")
                    .with_related(
                        Diag::warning(codes::TYPE_ARITY, format!("{} is defined here", f.name))
                            .at(f.span)
                            .label(format!(
                                "{}({})",
                                f.name,
                                f.params
                                    .iter()
                                    .map(|p| p.name.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ))
                            .with_sources(&self.sources),
                    ));
                }
                if self.call_depth >= MAX_CALL_DEPTH {
                    return Err(Diag::error(
                        codes::LIMIT_RECURSION,
                        format!("recursion limit reached: {MAX_CALL_DEPTH} nested calls (in {})", f.name),
                    )
                    .at(span)
                    .help("recursion must end on an atom condition, e.g. `x if n == 0 else f(x, n - 1)`"));
                }
                self.check_interrupt(span)?;
                let scope = Scope::new_ref(Some(f.closure.clone()));
                for (p, v) in f.params.iter().zip(args) {
                    if let MVal::Sop(id) | MVal::Sel(id) = v {
                        self.graph.name(id, &p.name);
                    }
                    scope.borrow_mut().set(&p.name, v);
                }
                self.call_depth += 1;
                let r = self.run_body(f, &scope);
                self.call_depth -= 1;
                r
            }
        }
    }

    fn run_body(&mut self, f: &UserFunc, scope: &ScopeRef) -> Result<MVal, Diag> {
        let mut echoes = Vec::new();
        for s in f.body.iter() {
            match self.exec_stmt(s, scope, &f.origin, None, &mut echoes) {
                Ok(Flow::Next) => {}
                Ok(Flow::Exit) => break,
                Err(mut ds) => {
                    let first = ds.remove(0);
                    return Err(first);
                }
            }
        }
        let mut vals = Vec::with_capacity(f.results.len());
        for r in f.results.iter() {
            vals.push(self.eval(r, scope)?);
        }
        if vals.len() == 1 {
            return Ok(vals.pop().unwrap_or_else(|| MVal::list(Vec::new())));
        }
        // `return a, b;` makes a list.
        let list = List::new(vals);
        let span = f.results.first().map_or(f.span, |r| r.span);
        check_size(list.size(), "a list", span)?;
        Ok(MVal::List(Rc::new(list)))
    }
}

/// Drop the `Assigned` echoes of `echoes[start..]` that a later one of the
/// same name supersedes.
pub(crate) fn drop_superseded(echoes: &mut Vec<Echo>, start: usize) {
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut keep = vec![true; echoes.len() - start];
    for (i, e) in echoes[start..].iter().enumerate().rev() {
        if let Echo::Assigned { name, .. } = e
            && !seen.insert(name)
        {
            keep[i] = false;
        }
    }
    let mut i = 0usize;
    echoes.retain(|_| {
        let k = i < start || keep[i - start];
        i += 1;
        k
    });
}

/// Build an elementwise expression over operands, giving each distinct s-op
/// one argument slot and inlining atoms as constants.
fn build_expr(ops: Vec<Operand>, make: impl FnOnce(&[E]) -> E) -> (E, Vec<NodeId>) {
    let mut args: Vec<NodeId> = Vec::new();
    let leaves: Vec<E> = ops
        .into_iter()
        .map(|o| match o {
            Operand::Atom(v) => E::Const(v),
            Operand::Sop(id) => {
                let slot = match args.iter().position(|a| *a == id) {
                    Some(p) => p,
                    None => {
                        args.push(id);
                        args.len() - 1
                    }
                };
                E::Arg(slot as u32)
            }
        })
        .collect();
    (make(&leaves), args)
}

fn dict_key(k: MVal, span: Span) -> Result<Value, Diag> {
    match k {
        MVal::Atom(v) => Ok(v),
        other => Err(type_err(
            format!(
                "dictionary keys can only be atoms, got {}",
                other.kind_name()
            ),
            span,
        )),
    }
}

/// Python-style equality of meta values (used by `in` and `==` on lists).
fn meta_eq(a: &MVal, b: &MVal) -> bool {
    match (a, b) {
        (MVal::Atom(x), MVal::Atom(y)) => atom::py_eq(x, y),
        (MVal::List(x), MVal::List(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| meta_eq(p, q))
        }
        (MVal::Sop(x), MVal::Sop(y)) | (MVal::Sel(x), MVal::Sel(y)) => x == y,
        (MVal::Func(x), MVal::Func(y)) => Rc::ptr_eq(x, y),
        _ => false,
    }
}

fn arity_diag(what: &str, expected: &str, got: usize, span: Span) -> Diag {
    Diag::error(
        codes::TYPE_ARITY,
        format!("wrong number of args for {what}: expected {expected}, got {got}"),
    )
    .at(span)
}

/// The items a `for` or comprehension iterates: list elements or dict keys.
fn iteration_items(v: &MVal, span: Span) -> Result<Vec<MVal>, Diag> {
    match v {
        MVal::List(l) => Ok(l.to_vec()),
        MVal::Dict(d) => Ok(d.keys().map(|k| MVal::Atom(k.clone())).collect()),
        other => Err(type_err(
            format!(
                "can only iterate over a list or a dict, got {}",
                other.kind_name()
            ),
            span,
        )),
    }
}

/// Bind one iteration item to one or more names.
fn unpack_item(names: &[Ident], item: MVal, span: Span) -> Result<Vec<MVal>, Diag> {
    if names.len() == 1 {
        return Ok(vec![item]);
    }
    match item {
        MVal::List(l) if l.len() == names.len() => Ok(l.to_vec()),
        MVal::List(l) => Err(Diag::error(
            codes::TYPE_UNPACK,
            format!(
                "iterating with {} names but got {} values ({})",
                names.len(),
                l.len(),
                MVal::List(l.clone()).repr()
            ),
        )
        .at(span)),
        other => Err(Diag::error(
            codes::TYPE_UNPACK,
            format!(
                "iterating with {} names but got 1 values ({})",
                names.len(),
                other.repr()
            ),
        )
        .at(span)),
    }
}

/// Match assignment targets with values (`a, b = f();` unpacks a list).
fn unpack(targets: &[Ident], mut vals: Vec<MVal>, span: Span) -> Result<Vec<MVal>, Diag> {
    if targets.len() == vals.len() {
        return Ok(vals);
    }
    if vals.len() == 1 && targets.len() > 1 {
        if let Some(MVal::List(l)) = vals.pop() {
            if l.len() == targets.len() {
                return Ok(l.to_vec());
            }
            return Err(Diag::error(
                codes::TYPE_UNPACK,
                format!(
                    "cannot unpack a list of {} values into {} names",
                    l.len(),
                    targets.len()
                ),
            )
            .at(span));
        }
        return Err(Diag::error(
            codes::TYPE_UNPACK,
            format!("cannot unpack one value into {} names", targets.len()),
        )
        .at(span)
        .help("assign several names from a list, or from as many expressions"));
    }
    Err(Diag::error(
        codes::TYPE_UNPACK,
        format!("{} names but {} values", targets.len(), vals.len()),
    )
    .at(span))
}

/// A meta value as an input sequence (string or non-empty list of atoms).
pub(crate) fn to_input(v: &MVal, span: Span) -> Result<Vec<Value>, Diag> {
    let input: Vec<Value> = match v {
        MVal::Atom(Value::Str(s)) => s.chars().map(|c| Value::str(&c.to_string())).collect(),
        MVal::List(l) => {
            let mut out = Vec::with_capacity(l.len());
            for item in l.iter() {
                match item {
                    MVal::Atom(a) => out.push(a.clone()),
                    other => {
                        return Err(type_err(
                            format!("an input holds atoms only, got {}", other.kind_name()),
                            span,
                        ));
                    }
                }
            }
            out
        }
        other => {
            return Err(Diag::error(
                codes::EVAL_INPUT,
                format!(
                    "RASP sequences/selectors expect non-empty iterables, got: {}",
                    other.repr()
                ),
            )
            .at(span));
        }
    };
    if input.is_empty() {
        return Err(Diag::error(
            codes::EVAL_EMPTY_INPUT,
            format!(
                "RASP sequences/selectors expect non-empty iterables, got: {}",
                v.repr()
            ),
        )
        .at(span));
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loop's echoes keep one assignment per name, the last, in the
    /// place of the last; echoes before the loop and other echoes stay.
    #[test]
    fn superseded_assignments_are_dropped() {
        let set = |name: &str, v: i64| Echo::Assigned {
            name: name.into(),
            value: MVal::Atom(Value::Int(v)),
        };
        let mut echoes = vec![set("x", 0), set("x", 1), Echo::Exit, set("y", 2), set("x", 3)];
        drop_superseded(&mut echoes, 1);
        let shown: Vec<String> = echoes
            .iter()
            .map(|e| match e {
                Echo::Assigned { name, value } => format!("{name}={}", value.repr()),
                _ => "other".into(),
            })
            .collect();
        assert_eq!(shown, ["x=0", "other", "y=2", "x=3"]);
    }
}
