//! Iteration: the items a `for` or a comprehension runs over, their
//! unpacking into names, and the list and dict comprehensions.

use std::rc::Rc;

use super::{check_size, dict_key, type_err};
use crate::diag::{Diag, Span, codes};
use crate::front::Session;
use crate::front::value::{self, Dict, MVal, Scope, ScopeRef};
use crate::syntax::ast::{Expr, Ident};

impl Session {
    /// `[elem for names in iter]`.
    pub(super) fn eval_list_comp(
        &mut self,
        elem: &Expr,
        names: &[Ident],
        iter: &Expr,
        scope: &ScopeRef,
        span: Span,
    ) -> Result<MVal, Diag> {
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

    /// `{key: value for names in iter}`.
    pub(super) fn eval_dict_comp(
        &mut self,
        key: &Expr,
        value: &Expr,
        names: &[Ident],
        iter: &Expr,
        scope: &ScopeRef,
        span: Span,
    ) -> Result<MVal, Diag> {
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
}

/// The items a `for` or comprehension iterates: list elements or dict keys.
pub(super) fn iteration_items(v: &MVal, span: Span) -> Result<Vec<MVal>, Diag> {
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
pub(super) fn unpack_item(names: &[Ident], item: MVal, span: Span) -> Result<Vec<MVal>, Diag> {
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
