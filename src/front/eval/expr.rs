//! Expressions: the dispatch over every kind of expression, literals,
//! names (with what an undefined one might have meant), conditionals and
//! unary operators; s-op operands as elementwise maps.

use std::rc::Rc;

use super::{check_size, dict_key, op_err, type_err};
use crate::diag::Span;
use crate::diag::{Diag, codes};
use crate::front::value::{self, Dict, List, MVal, ScopeRef};
use crate::front::{Session, suggest};
use crate::ir::expr::Expr as E;
use crate::ir::value::{self as atom, Value};
use crate::ir::{NodeId, Op};
use crate::syntax::ast::{Expr, ExprKind, UnOp};

/// An operand of an elementwise operation: an s-op or a broadcast atom.
pub(super) enum Operand {
    Sop(NodeId),
    Atom(Value),
}

impl Session {
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
                self.eval_list_comp(elem, names, iter, scope, span)
            }
            ExprKind::DictComp {
                key,
                value,
                names,
                iter,
            } => self.eval_dict_comp(key, value, names, iter, scope, span),
            ExprKind::Select { keys, queries, op } => {
                self.eval_select(keys, queries, *op, scope, span)
            }
            ExprKind::Aggregate(args) => self.eval_aggregate(args, scope, span),
            ExprKind::Range(args) => self.eval_range(args, scope, span),
            ExprKind::Zip(args) => self.eval_zip(args, scope, span),
            ExprKind::Len(args) => self.eval_len(args, scope, span),
            ExprKind::Round(a) => self.eval_round(a, scope, span),
            ExprKind::Indicator(a) => self.eval_indicator(a, scope, span),
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
    pub(super) fn sop_or_const(&mut self, v: MVal, span: Span, what: &str) -> Result<NodeId, Diag> {
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

    pub(super) fn operand(&self, v: MVal, span: Span, what: &str) -> Result<Operand, Diag> {
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

    pub(super) fn map(&mut self, expr: E, args: Vec<NodeId>, span: Span) -> NodeId {
        self.graph.add(Op::Map { expr, args }, Some(span))
    }
}

/// Build an elementwise expression over operands, giving each distinct s-op
/// one argument slot and inlining atoms as constants.
pub(super) fn build_expr(ops: Vec<Operand>, make: impl FnOnce(&[E]) -> E) -> (E, Vec<NodeId>) {
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
