//! Binary operators, `in` and indexing on meta values: on atoms as
//! Python, on s-ops as elementwise maps or aggregates, on selectors only
//! `and`/`or`.

use std::rc::Rc;

use super::expr::build_expr;
use super::{check_size, op_err, type_err};
use crate::diag::limits;
use crate::diag::{Diag, Span, codes};
use crate::front::Session;
use crate::front::value::{MVal, dict_table, list_table};
use crate::ir::expr::Expr as E;
use crate::ir::value::{self as atom, Value};
use crate::ir::{NodeId, Op};
use crate::syntax::ast::{BinOp, CmpOp};

impl Session {
    pub(super) fn binary(
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

    pub(super) fn membership(
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

    pub(super) fn index(
        &mut self,
        x: MVal,
        i: MVal,
        sx: Span,
        si: Span,
        span: Span,
    ) -> Result<MVal, Diag> {
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
