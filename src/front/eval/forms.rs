//! The builtin forms: `select`, `aggregate`, `range`, `zip`, `len`,
//! `round`, `indicator`.

use super::{arity_diag, check_size, op_err, type_err};
use crate::diag::limits::{self, Limit};
use crate::diag::{Diag, Span, codes};
use crate::front::Session;
use crate::front::value::{MVal, ScopeRef};
use crate::ir::Op;
use crate::ir::expr::Expr as E;
use crate::ir::value::{self as atom, Value};
use crate::syntax::ast::{CmpOp, Expr};

impl Session {
    /// `select(keys, queries, op)`: a selector node.
    pub(super) fn eval_select(
        &mut self,
        keys: &Expr,
        queries: &Expr,
        op: CmpOp,
        scope: &ScopeRef,
        span: Span,
    ) -> Result<MVal, Diag> {
        let k = self.eval(keys, scope)?;
        let q = self.eval(queries, scope)?;
        let k = self.sop_or_const(k, keys.span, "select")?;
        let q = self.sop_or_const(q, queries.span, "select")?;
        Ok(MVal::Sel(self.graph.add(
            Op::Select {
                keys: k,
                queries: q,
                cmp: op,
            },
            Some(span),
        )))
    }

    /// `aggregate(selector, values[, default])`.
    pub(super) fn eval_aggregate(
        &mut self,
        args: &[Expr],
        scope: &ScopeRef,
        span: Span,
    ) -> Result<MVal, Diag> {
        if args.len() < 2 || args.len() > 3 {
            return Err(arity_diag("aggregate", "2 or 3", args.len(), span)
                .help("aggregate(selector, values) or aggregate(selector, values, default)"));
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

    /// `range(...)`: a list of ints, as Python's.
    pub(super) fn eval_range(
        &mut self,
        args: &[Expr],
        scope: &ScopeRef,
        span: Span,
    ) -> Result<MVal, Diag> {
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
            return Err(Diag::error(codes::EVAL_VALUE, "range() arg 3 must not be zero").at(span));
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

    /// `zip(lists...)`: a list of lists, one per position.
    pub(super) fn eval_zip(
        &mut self,
        args: &[Expr],
        scope: &ScopeRef,
        span: Span,
    ) -> Result<MVal, Diag> {
        if args.is_empty() {
            return Err(
                arity_diag("zip", "at least 1", 0, span).help("zip needs at least one list")
            );
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

    /// `len(list)`.
    pub(super) fn eval_len(
        &mut self,
        args: &[Expr],
        scope: &ScopeRef,
        span: Span,
    ) -> Result<MVal, Diag> {
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

    /// `round(x)`: of an atom, or elementwise of an s-op.
    pub(super) fn eval_round(
        &mut self,
        a: &Expr,
        scope: &ScopeRef,
        span: Span,
    ) -> Result<MVal, Diag> {
        match self.eval(a, scope)? {
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
        }
    }

    /// `indicator(sop)`: 1 where truthy, else 0.
    pub(super) fn eval_indicator(
        &mut self,
        a: &Expr,
        scope: &ScopeRef,
        span: Span,
    ) -> Result<MVal, Diag> {
        match self.eval(a, scope)? {
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
        }
    }
}
