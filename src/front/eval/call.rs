//! Calls: user functions (arity, recursion limit, parameters naming
//! their s-ops), the builtin functions, and an s-op or selector applied to
//! an input.

use std::rc::Rc;

use super::{arity_diag, check_size, to_input, type_err};
use crate::diag::{Diag, Span, codes};
use crate::front::value::{Func, List, MVal, Scope, ScopeRef, UserFunc};
use crate::front::{Flow, MAX_CALL_DEPTH, Session};
use crate::interp::Output;
use crate::ir::Op;
use crate::ir::value::Value;
use crate::syntax::ast::{Expr, ExprKind};

impl Session {
    pub(super) fn call_value(
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
                    Output::Selector(rows) => {
                        (rows.len() as u64).saturating_mul(rows.len() as u64 + 1)
                    }
                };
                check_size(size, "a list", span)?;
                Ok(match out {
                    Output::Sop(col) => {
                        MVal::list(col.values.into_iter().map(MVal::Atom).collect())
                    }
                    Output::Selector(rows) => MVal::list(
                        rows.into_iter()
                            .map(|r| {
                                MVal::list(
                                    r.into_iter().map(|b| MVal::Atom(Value::Bool(b))).collect(),
                                )
                            })
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
