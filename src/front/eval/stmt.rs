//! Statements: expressions, assignments, `def`, `for`, `load`, `draw` and
//! the REPL's settings; the echoes each one leaves.

use std::path::Path;
use std::rc::Rc;

use super::iterate::{iteration_items, unpack_item};
use super::{arity_diag, to_input, type_err};
use crate::diag::{Diag, Span, codes};
use crate::front::value::{Func, MVal, ScopeRef, UserFunc};
use crate::front::{Echo, Flow, Session};
use crate::syntax::ast::{Ident, Stmt, StmtKind};

impl Session {
    pub(in crate::front) fn exec_stmt(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::value::Value;

    /// A loop's echoes keep one assignment per name, the last, in the
    /// place of the last; echoes before the loop and other echoes stay.
    #[test]
    fn superseded_assignments_are_dropped() {
        let set = |name: &str, v: i64| Echo::Assigned {
            name: name.into(),
            value: MVal::Atom(Value::Int(v)),
        };
        let mut echoes = vec![
            set("x", 0),
            set("x", 1),
            Echo::Exit,
            set("y", 2),
            set("x", 3),
        ];
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
