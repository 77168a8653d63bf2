//! Meta-level values (what names are bound to while a program is read) and
//! scopes.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::diag::Span;
use crate::ir::value::{DictKey, Value};
use crate::ir::{Elem, NodeId, Table};
use crate::syntax::ast::{Expr, Ident, Stmt};

/// A value of the meta level.
#[derive(Clone, Debug)]
pub enum MVal {
    Atom(Value),
    List(Rc<List>),
    Dict(Rc<Dict>),
    Sop(NodeId),
    Sel(NodeId),
    Func(Rc<Func>),
}

/// A list of the meta level, with its size (as the size limit counts it,
/// see [`size`]) counted once, when it is made from its elements' sizes:
/// checking a new list never walks the lists it holds.
#[derive(Clone, Debug, Default)]
pub struct List {
    items: Vec<MVal>,
    size: u64,
}

impl List {
    pub fn new(items: Vec<MVal>) -> List {
        let size = items
            .iter()
            .fold(items.len() as u64, |t, v| t.saturating_add(size(v)));
        List { items, size }
    }

    /// One per element, plus the elements' own sizes (saturating).
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl std::ops::Deref for List {
    type Target = Vec<MVal>;
    fn deref(&self) -> &Vec<MVal> {
        &self.items
    }
}

/// An insertion-ordered dict with atom keys (Python equality).
#[derive(Clone, Debug, Default)]
pub struct Dict {
    entries: Vec<(Value, MVal)>,
    index: HashMap<DictKey, usize>,
    /// Its size (see [`size`]), kept as entries come and go.
    size: u64,
}

impl Dict {
    pub fn insert(&mut self, key: Value, value: MVal) {
        let dk = DictKey::of(&key);
        let new = size(&value);
        match self.index.get(&dk) {
            Some(&i) => {
                let old = size(&self.entries[i].1);
                self.size = self.size.saturating_sub(old).saturating_add(new);
                self.entries[i].1 = value;
            }
            None => {
                self.size = self
                    .size
                    .saturating_add(1 + atom_size(&key))
                    .saturating_add(new);
                self.index.insert(dk, self.entries.len());
                self.entries.push((key, value));
            }
        }
    }

    /// Its size, as the size limit counts it (saturating).
    pub fn size(&self) -> u64 {
        self.size
    }
    pub fn get(&self, key: &Value) -> Option<&MVal> {
        self.index
            .get(&DictKey::of(key))
            .map(|&i| &self.entries[i].1)
    }
    pub fn keys(&self) -> impl Iterator<Item = &Value> {
        self.entries.iter().map(|(k, _)| k)
    }
    pub fn entries(&self) -> &[(Value, MVal)] {
        &self.entries
    }
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A function value.
#[derive(Debug)]
pub enum Func {
    User(UserFunc),
    /// `selector_width`, an IR primitive exposed as a library function.
    SelectorWidth,
    /// `numerical(x)` / `categorical(x)`: `x` itself, with an encoding
    /// asked of the compiler.
    Hint(crate::ir::Hint),
}

#[derive(Debug)]
pub struct UserFunc {
    pub name: String,
    pub params: Vec<Ident>,
    pub body: Rc<[Stmt]>,
    pub results: Rc<[Expr]>,
    pub closure: ScopeRef,
    /// Where it was defined (`console`, a file stem, `rasplib`).
    pub origin: Rc<str>,
    pub span: Span,
}

impl Func {
    pub fn name(&self) -> &str {
        match self {
            Func::User(f) => &f.name,
            Func::SelectorWidth => "selector_width",
            Func::Hint(h) => h.name(),
        }
    }
    pub fn params(&self) -> Vec<String> {
        match self {
            Func::User(f) => f.params.iter().map(|p| p.name.clone()).collect(),
            Func::SelectorWidth => vec!["sel".into()],
            Func::Hint(_) => vec!["sop".into()],
        }
    }
}

impl MVal {
    /// A list of `items` (its size counted; see [`List::new`]).
    pub fn list(items: Vec<MVal>) -> MVal {
        MVal::List(Rc::new(List::new(items)))
    }

    /// A short description of the kind of value, for messages.
    pub fn kind_name(&self) -> String {
        match self {
            MVal::Atom(v) => format!("{} ({})", v.type_name(), v.repr()),
            MVal::List(_) => "a list".into(),
            MVal::Dict(_) => "a dict".into(),
            MVal::Sop(_) => "an s-op".into(),
            MVal::Sel(_) => "a selector".into(),
            MVal::Func(f) => format!("the function {}", f.name()),
        }
    }

    /// Python truthiness of meta values (lists/dicts by emptiness).
    pub fn truthy(&self) -> Option<bool> {
        match self {
            MVal::Atom(v) => Some(v.truthy()),
            MVal::List(l) => Some(!l.is_empty()),
            MVal::Dict(d) => Some(!d.is_empty()),
            MVal::Func(_) => Some(true),
            MVal::Sop(_) | MVal::Sel(_) => None,
        }
    }

    /// Python `repr`, as the REPL shows lists and values.
    pub fn repr(&self) -> String {
        let mut out = String::new();
        self.repr_into(&mut out);
        out
    }

    /// [`MVal::repr`] appended to `out` (linear in the text, however deep
    /// the lists nest).
    fn repr_into(&self, out: &mut String) {
        match self {
            MVal::Atom(v) => out.push_str(&v.repr()),
            MVal::List(l) => {
                out.push('[');
                for (i, item) in l.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.repr_into(out);
                }
                out.push(']');
            }
            MVal::Dict(d) => {
                out.push('{');
                for (i, (k, v)) in d.entries().iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&k.repr());
                    out.push_str(": ");
                    v.repr_into(out);
                }
                out.push('}');
            }
            MVal::Sop(id) => out.push_str(&format!("<s-op #{}>", id.0)),
            MVal::Sel(id) => out.push_str(&format!("<selector #{}>", id.0)),
            MVal::Func(f) => out.push_str(&format!("<function {}>", f.name())),
        }
    }

    /// This value as an element of a constant table.
    pub fn to_elem(&self) -> Elem {
        match self {
            MVal::Atom(v) => Elem::Atom(v.clone()),
            other => Elem::Other(other.kind_name()),
        }
    }
}

/// The size of a value, as the size limit counts it: a string's bytes,
/// and for a list or dict one per element plus the elements' own sizes (so
/// nested lists and the strings they hold count in full, however much
/// they share). Lists and dicts know theirs ([`List::size`]), so this
/// takes constant time.
pub fn size(v: &MVal) -> u64 {
    match v {
        MVal::Atom(a) => atom_size(a),
        MVal::List(l) => l.size(),
        MVal::Dict(d) => d.size(),
        MVal::Sop(_) | MVal::Sel(_) | MVal::Func(_) => 0,
    }
}

/// The size of an atom: a string's bytes, else nothing beyond the
/// element it is.
fn atom_size(a: &Value) -> u64 {
    match a {
        Value::Str(s) => s.len() as u64,
        _ => 0,
    }
}

/// A constant table for indexing by an s-op.
pub fn list_table(items: &[MVal]) -> Table {
    Table::List(items.iter().map(MVal::to_elem).collect())
}

pub fn dict_table(d: &Dict) -> Table {
    Table::dict(
        d.entries()
            .iter()
            .map(|(k, v)| (k.clone(), v.to_elem()))
            .collect(),
    )
}

pub type ScopeRef = Rc<RefCell<Scope>>;

/// A scope: its names, in order of first assignment, and its parent.
#[derive(Debug, Default)]
pub struct Scope {
    vars: HashMap<String, MVal>,
    order: Vec<String>,
    pub parent: Option<ScopeRef>,
    /// Names this scope refuses to rebind (beyond the always-reserved ones).
    pub extra_reserved: Vec<String>,
}

impl Scope {
    pub fn new_ref(parent: Option<ScopeRef>) -> ScopeRef {
        Rc::new(RefCell::new(Scope {
            parent,
            ..Scope::default()
        }))
    }

    pub fn set(&mut self, name: &str, value: MVal) {
        if self.vars.insert(name.to_string(), value).is_none() {
            self.order.push(name.to_string());
        }
    }

    pub fn get_local(&self, name: &str) -> Option<MVal> {
        self.vars.get(name).cloned()
    }

    pub fn remove(&mut self, name: &str) {
        if self.vars.remove(name).is_some() {
            self.order.retain(|n| n != name);
        }
    }

    /// Names in order of first assignment.
    pub fn names(&self) -> &[String] {
        &self.order
    }
}

/// The s-ops and selectors a file defines (its own scope, in order of
/// first assignment), without `out` and, unless `all`, without the private
/// `_` names: what `rasp run` shows and `rasp test` snapshots.
pub fn named_values(scope: &ScopeRef, all: bool) -> Vec<(String, crate::ir::NodeId)> {
    let s = scope.borrow();
    s.names()
        .iter()
        .filter(|n| n.as_str() != "out" && (all || !n.starts_with('_')))
        .filter_map(|n| match s.get_local(n) {
            Some(MVal::Sop(id) | MVal::Sel(id)) => Some((n.clone(), id)),
            _ => None,
        })
        .collect()
}

/// The s-op or selector a command names (`rasp eval FILE NAME`, the
/// library's `Program::eval`): its node and whether it is a selector, or a
/// diagnostic saying what the name is instead, with a suggestion, and
/// whether `file` (as shown) had errors that may have left it undefined.
pub fn lookup_target(
    scope: &ScopeRef,
    name: &str,
    file: &str,
    had_errors: bool,
) -> Result<(crate::ir::NodeId, bool), crate::diag::Diag> {
    use crate::diag::{Diag, codes};
    match lookup(scope, name) {
        Some(MVal::Sop(id)) => Ok((id, false)),
        Some(MVal::Sel(id)) => Ok((id, true)),
        Some(other) => Err(Diag::error(
            codes::CLI_NOT_SOP,
            format!(
                "`{name}` is {}, not an s-op or a selector",
                other.kind_name()
            ),
        )),
        None => {
            let mut d = Diag::error(
                codes::CLI_NO_SUCH_NAME,
                format!("`{name}` is not defined after loading {file}"),
            );
            let suggestion = super::suggest(name, &visible_names(scope))
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            let errors = if had_errors {
                "the file has errors (above); a statement that fails defines nothing"
            } else {
                ""
            };
            if !suggestion.is_empty() || !errors.is_empty() {
                d = d.help(format!("{suggestion}{errors}").trim_end().to_string());
            }
            Err(d)
        }
    }
}

/// Look a name up through the scope chain.
pub fn lookup(scope: &ScopeRef, name: &str) -> Option<MVal> {
    let mut cur = scope.clone();
    loop {
        if let Some(v) = cur.borrow().get_local(name) {
            return Some(v);
        }
        let parent = cur.borrow().parent.clone();
        match parent {
            Some(p) => cur = p,
            None => return None,
        }
    }
}

/// Every name visible from a scope (for suggestions and completion).
pub fn visible_names(scope: &ScopeRef) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = Some(scope.clone());
    while let Some(s) = cur {
        out.extend(s.borrow().names().iter().cloned());
        cur = s.borrow().parent.clone();
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Elements count one each, nested ones and strings' bytes in full,
    /// however much the value shares.
    #[test]
    fn sizes_count_nested_elements_and_bytes() {
        let one = MVal::Atom(Value::Int(1));
        let ab = MVal::Atom(Value::str("ab"));
        assert_eq!(size(&one), 0);
        assert_eq!(size(&ab), 2);
        let flat = MVal::list(vec![one.clone(), one.clone(), ab.clone()]);
        assert_eq!(size(&flat), 5);
        let mut shared = flat.clone();
        for _ in 0..10 {
            shared = MVal::list(vec![shared.clone(), shared]);
        }
        // 2 + 2 * (2 + 2 * ...): 1024 copies of 5, and 2 per list.
        assert_eq!(size(&shared), 1024 * 5 + 2046);
        for _ in 0..60 {
            shared = MVal::list(vec![shared.clone(), shared]);
        }
        assert_eq!(size(&shared), u64::MAX, "saturates");
        let mut d = Dict::default();
        d.insert(Value::str("key"), flat.clone());
        assert_eq!(d.size(), 1 + 3 + 5);
        d.insert(Value::str("key"), one);
        assert_eq!(d.size(), 1 + 3, "a replaced value no longer counts");
    }
}
