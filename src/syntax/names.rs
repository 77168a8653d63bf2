//! Names with spans: a static pass over the AST (nothing is evaluated) that
//! records every definition and every use of a name with its span and
//! scope: assignments, functions, parameters, `for` and comprehension
//! variables, and `load`s. Uses are resolved to definitions as the language
//! scopes them (see `docs` of [`resolve`]); what no definition of the file
//! covers is left to the caller (a loaded file, the library, a builtin).
//! The language server's definitions, references, renames, symbols and
//! completions come from here.

use std::collections::{HashMap, HashSet};

use super::ast::{Expr, ExprKind, Ident, Stmt, StmtKind};
use crate::diag::Span;

/// Index of a scope in [`Index::scopes`].
pub type ScopeId = usize;
/// Index of a definition in [`Index::defs`].
pub type DefId = usize;

/// What opened a scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeKind {
    /// The file (or REPL entry).
    File,
    /// A function body (its parameters and assignments).
    Function,
    /// A list or dict comprehension (its loop names).
    Comprehension,
}

/// A scope: the file's, a function body's or a comprehension's.
#[derive(Clone, Debug)]
pub struct Scope {
    pub kind: ScopeKind,
    pub parent: Option<ScopeId>,
    /// The text the scope covers.
    pub span: Span,
}

/// What a definition binds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DefKind {
    /// `name = e;` (or one of `a, b = ...`).
    Variable,
    /// `def name(params) { ... }`.
    Function { params: Vec<String> },
    /// A function's parameter.
    Parameter,
    /// A `for` loop's name.
    LoopVariable,
    /// A comprehension's name.
    ComprehensionVariable,
}

/// One definition of a name.
#[derive(Clone, Debug)]
pub struct Def {
    pub name: String,
    /// The name where it is bound.
    pub span: Span,
    pub kind: DefKind,
    pub scope: ScopeId,
    /// The whole statement (or loop, or comprehension) that binds it.
    pub statement: Span,
    /// From this offset on, uses in its scope see it (the end of its
    /// statement for an assignment; the body for parameters and loop
    /// names).
    pub visible_from: u32,
    /// For a `def` inside an enclosing function or a comprehension: no;
    /// the file's own top-level definitions are what `load` exports (when
    /// not `_private`).
    pub top_level: bool,
}

/// One use of a name.
#[derive(Clone, Debug)]
pub struct Use {
    pub name: String,
    pub span: Span,
    pub scope: ScopeId,
    /// The definition it refers to, when this file has one.
    pub def: Option<DefId>,
}

/// A `load "path";` statement.
#[derive(Clone, Debug)]
pub struct Load {
    pub path: String,
    /// The string (quotes included).
    pub span: Span,
    pub scope: ScopeId,
}

/// Every scope, definition, use and load of a file.
#[derive(Clone, Debug, Default)]
pub struct Index {
    pub scopes: Vec<Scope>,
    pub defs: Vec<Def>,
    pub uses: Vec<Use>,
    pub loads: Vec<Load>,
}

impl Index {
    /// The definition or use whose name covers byte `offset`.
    pub fn at(&self, offset: u32) -> Option<Target> {
        let covers = |s: Span| s.start <= offset && offset <= s.end;
        if let Some(i) = self.defs.iter().position(|d| covers(d.span)) {
            return Some(Target::Def(i));
        }
        self.uses
            .iter()
            .position(|u| covers(u.span))
            .map(Target::Use)
    }

    /// The uses that refer to a definition.
    pub fn uses_of(&self, def: DefId) -> impl Iterator<Item = &Use> {
        self.uses.iter().filter(move |u| u.def == Some(def))
    }

    /// Every definition that refers to the same binding as `def`: a name
    /// assigned again in the same scope is one binding for renaming.
    pub fn same_binding(&self, def: DefId) -> Vec<DefId> {
        let d = &self.defs[def];
        self.defs
            .iter()
            .enumerate()
            .filter(|(_, e)| e.scope == d.scope && e.name == d.name)
            .map(|(i, _)| i)
            .collect()
    }

    /// The innermost scope that contains `offset`.
    pub fn scope_at(&self, offset: u32) -> ScopeId {
        self.scopes
            .iter()
            .enumerate()
            .filter(|(_, s)| s.span.start <= offset && offset <= s.span.end)
            .max_by_key(|(_, s)| s.span.start)
            .map_or(0, |(i, _)| i)
    }

    /// The definitions visible at `offset`, innermost scope first, each
    /// name once.
    pub fn visible_at(&self, offset: u32) -> Vec<DefId> {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut out = Vec::new();
        let innermost = self.scope_at(offset);
        let mut scope = Some(innermost);
        while let Some(s) = scope {
            let here = self
                .defs
                .iter()
                .enumerate()
                .rev()
                .filter(|(_, d)| d.scope == s && (d.visible_from <= offset || s != innermost));
            for (i, d) in here {
                if seen.insert(d.name.as_str()) {
                    out.push(i);
                }
            }
            scope = self.scopes[s].parent;
        }
        out
    }

    /// The file's top-level definitions that `load` exports: public names,
    /// the last definition of each.
    pub fn exports(&self) -> Vec<DefId> {
        let mut last: HashMap<&str, DefId> = HashMap::new();
        let mut order: Vec<&str> = Vec::new();
        for (i, d) in self.defs.iter().enumerate() {
            if d.top_level && !d.name.starts_with('_') && d.name != "out" {
                if !last.contains_key(d.name.as_str()) {
                    order.push(&d.name);
                }
                last.insert(&d.name, i);
            }
        }
        order.iter().map(|n| last[n]).collect()
    }
}

/// A name at a position: a definition or a use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Def(DefId),
    Use(usize),
}

/// Index the names of a parsed file whose text spans `file_span`.
///
/// Resolution follows the language: a use sees the definitions of its own
/// scope made before it (an assignment counts from the end of its
/// statement), then the enclosing scopes'. A function body runs when the
/// function is called (late binding), so from a body, an enclosing scope's
/// name may also be one defined after the `def`: the latest one before the
/// use is taken (counted from the end of the `def`: a body runs once it
/// is defined), else the first one after it. Names of `load`ed files, the
/// library and the builtins are not definitions of this file (`def` is
/// `None`).
pub fn resolve(stmts: &[Stmt], file_span: Span) -> Index {
    let mut b = Builder {
        index: Index::default(),
        pending: Vec::new(),
    };
    let file = b.scope(ScopeKind::File, None, file_span);
    b.stmts(stmts, file, true);
    let pending = std::mem::take(&mut b.pending);
    let by_name = b.by_name();
    let mut uses: Vec<Use> = pending
        .into_iter()
        .map(|(name, span, scope)| {
            let def = b.lookup(&by_name, &name, span.start, scope);
            Use {
                name,
                span,
                scope,
                def,
            }
        })
        .collect();
    drop(by_name);
    uses.sort_by_key(|u| u.span.start);
    b.index.uses = uses;
    b.index
}

/// A scope's definitions of a name, and whether they are ordered by
/// `visible_from`.
type ByName<'a> = HashMap<(ScopeId, &'a str), (Vec<DefId>, bool)>;

struct Builder {
    index: Index,
    /// Uses, resolved once every definition is known (late binding).
    pending: Vec<(String, Span, ScopeId)>,
}

impl Builder {
    fn scope(&mut self, kind: ScopeKind, parent: Option<ScopeId>, span: Span) -> ScopeId {
        self.index.scopes.push(Scope { kind, parent, span });
        self.index.scopes.len() - 1
    }

    #[allow(clippy::too_many_arguments)]
    fn def(
        &mut self,
        id: &Ident,
        kind: DefKind,
        scope: ScopeId,
        statement: Span,
        visible_from: u32,
        top_level: bool,
    ) {
        self.index.defs.push(Def {
            name: id.name.clone(),
            span: id.span,
            kind,
            scope,
            statement,
            visible_from,
            top_level,
        });
    }

    fn stmts(&mut self, stmts: &[Stmt], scope: ScopeId, top: bool) {
        for s in stmts {
            self.stmt(s, scope, top);
        }
    }

    fn stmt(&mut self, s: &Stmt, scope: ScopeId, top: bool) {
        match &s.kind {
            StmtKind::Expr(e) => self.expr(e, scope),
            StmtKind::Assign { targets, values } => {
                for v in values {
                    self.expr(v, scope);
                }
                for t in targets {
                    self.def(t, DefKind::Variable, scope, s.span, s.span.end, top);
                }
            }
            StmtKind::Def {
                name,
                params,
                body,
                results,
                ..
            } => {
                let kind = DefKind::Function {
                    params: params.iter().map(|p| p.name.clone()).collect(),
                };
                self.def(name, kind, scope, s.span, s.span.end, top);
                let inner = self.scope(ScopeKind::Function, Some(scope), s.span);
                for p in params {
                    self.def(p, DefKind::Parameter, inner, s.span, p.span.end, false);
                }
                self.stmts(body, inner, false);
                for r in results {
                    self.expr(r, inner);
                }
            }
            StmtKind::For {
                names, iter, body, ..
            } => {
                self.expr(iter, scope);
                for n in names {
                    self.def(n, DefKind::LoopVariable, scope, s.span, iter.span.end, top);
                }
                self.stmts(body, scope, top);
            }
            StmtKind::Load { path, path_span } => self.index.loads.push(Load {
                path: path.clone(),
                span: *path_span,
                scope,
            }),
            StmtKind::Draw { args } => {
                for a in args {
                    self.expr(a, scope);
                }
            }
            StmtKind::SetExample { value, .. } => self.expr(value, scope),
            StmtKind::ShowExample { .. }
            | StmtKind::Examples { .. }
            | StmtKind::FullSeqDisplay { .. }
            | StmtKind::Exit
            | StmtKind::Error => {}
        }
    }

    fn comprehension(
        &mut self,
        names: &[Ident],
        iter: &Expr,
        inner: &[&Expr],
        span: Span,
        scope: ScopeId,
    ) {
        self.expr(iter, scope);
        let s = self.scope(ScopeKind::Comprehension, Some(scope), span);
        for n in names {
            self.def(
                n,
                DefKind::ComprehensionVariable,
                s,
                span,
                span.start,
                false,
            );
        }
        for e in inner {
            self.expr(e, s);
        }
    }

    fn expr(&mut self, e: &Expr, scope: ScopeId) {
        match &e.kind {
            ExprKind::Var(name) => self.pending.push((name.clone(), e.span, scope)),
            ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Str(_) => {}
            ExprKind::List(items)
            | ExprKind::Aggregate(items)
            | ExprKind::Range(items)
            | ExprKind::Zip(items)
            | ExprKind::Len(items) => {
                for i in items {
                    self.expr(i, scope);
                }
            }
            ExprKind::Dict(entries) => {
                for (k, v) in entries {
                    self.expr(k, scope);
                    self.expr(v, scope);
                }
            }
            ExprKind::ListComp { elem, names, iter } => {
                self.comprehension(names, iter, &[elem], e.span, scope)
            }
            ExprKind::DictComp {
                key,
                value,
                names,
                iter,
            } => self.comprehension(names, iter, &[key, value], e.span, scope),
            ExprKind::Select { keys, queries, .. } => {
                self.expr(keys, scope);
                self.expr(queries, scope);
            }
            ExprKind::Round(a)
            | ExprKind::Indicator(a)
            | ExprKind::Unary(_, a)
            | ExprKind::Paren(a) => self.expr(a, scope),
            ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) | ExprKind::In(a, b) => {
                self.expr(a, scope);
                self.expr(b, scope);
            }
            ExprKind::Call(f, args) => {
                self.expr(f, scope);
                for a in args {
                    self.expr(a, scope);
                }
            }
            ExprKind::Cond {
                then,
                cond,
                otherwise,
            } => {
                self.expr(then, scope);
                self.expr(cond, scope);
                self.expr(otherwise, scope);
            }
        }
    }

    /// Each scope's definitions of each name, in order, and whether they
    /// become visible in that order.
    fn by_name(&self) -> ByName<'_> {
        let mut map: ByName = HashMap::new();
        for (i, d) in self.index.defs.iter().enumerate() {
            map.entry((d.scope, d.name.as_str()))
                .or_insert_with(|| (Vec::new(), true))
                .0
                .push(i);
        }
        for (defs, ordered) in map.values_mut() {
            *ordered = defs.is_sorted_by_key(|&i| self.index.defs[i].visible_from);
        }
        map
    }

    /// The definition a use of `name` at `at` in `scope` refers to.
    fn lookup(&self, by_name: &ByName, name: &str, mut at: u32, scope: ScopeId) -> Option<DefId> {
        let mut s = Some(scope);
        let mut in_body = false;
        while let Some(cur) = s {
            let (defs, ordered) = by_name
                .get(&(cur, name))
                .map_or((&[][..], true), |(d, o)| (d.as_slice(), *o));
            let visible_from = |i: &DefId| self.index.defs[*i].visible_from;
            // The last one visible at `at`: definitions of a scope become
            // visible in the order they are made (a binary search), a
            // scan should that ever not hold.
            let before = if ordered {
                defs[..defs.partition_point(|i| visible_from(i) <= at)]
                    .last()
                    .copied()
            } else {
                defs.iter().rev().find(|i| visible_from(i) <= at).copied()
            };
            // Late binding: from inside a function body, a name of an
            // enclosing scope may be defined after the use.
            let found = before.or_else(|| if in_body { defs.first().copied() } else { None });
            if found.is_some() {
                return found;
            }
            if self.index.scopes[cur].kind == ScopeKind::Function {
                in_body = true;
                // The body runs after its `def` completes: the enclosing
                // scope's bindings as of then (a recursive call finds the
                // function even if the name was bound before).
                at = at.max(self.index.scopes[cur].span.end);
            }
            s = self.index.scopes[cur].parent;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse_program;

    fn index(src: &str) -> Index {
        let (stmts, diags) = parse_program(src, 0);
        assert!(diags.is_empty(), "{diags:?}");
        resolve(&stmts, Span::new(0, 0, src.len()))
    }

    /// The definition a use at the `n`-th occurrence of `needle` refers to,
    /// as the text of its statement's line.
    fn def_of<'s>(src: &'s str, idx: &Index, needle: &str, n: usize) -> Option<&'s str> {
        let word = |c: char| c.is_alphanumeric() || c == '_';
        let at = src
            .match_indices(needle)
            .filter(|(i, _)| {
                !src[..*i].ends_with(word) && !src[i + needle.len()..].starts_with(word)
            })
            .nth(n)
            .expect("occurrence")
            .0 as u32;
        let u = idx
            .uses
            .iter()
            .find(|u| u.span.start == at)
            .expect("a use there");
        let d = &idx.defs[u.def?];
        let line_start = src[..d.span.start as usize]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let line_end = src[d.span.start as usize..]
            .find('\n')
            .map_or(src.len(), |i| i + d.span.start as usize);
        Some(&src[line_start..line_end])
    }

    #[test]
    fn assignments_are_seen_after_their_statement() {
        let src = "x = 1;\nx = x + 1;\ny = x;";
        let idx = index(src);
        assert_eq!(
            def_of(src, &idx, "x", 2),
            Some("x = 1;"),
            "x + 1 sees the first x"
        );
        assert_eq!(def_of(src, &idx, "x", 3), Some("x = x + 1;"));
        assert_eq!(idx.defs.len(), 3);
        assert_eq!(idx.same_binding(0), vec![0, 1]);
        assert_eq!(
            idx.exports()
                .iter()
                .map(|&i| idx.defs[i].name.as_str())
                .collect::<Vec<_>>(),
            ["x", "y"]
        );
    }

    #[test]
    fn functions_parameters_and_late_binding() {
        let src = "def f(a) {\n  b = a + g;\n  return b + f(a);\n}\ng = 2;\nz = f(1);";
        let idx = index(src);
        assert_eq!(
            def_of(src, &idx, "a", 1),
            Some("def f(a) {"),
            "a is the parameter"
        );
        assert_eq!(def_of(src, &idx, "g", 0), Some("g = 2;"), "late binding");
        assert_eq!(def_of(src, &idx, "b", 1), Some("  b = a + g;"));
        assert_eq!(def_of(src, &idx, "f", 1), Some("def f(a) {"), "recursion");
        assert_eq!(def_of(src, &idx, "f", 2), Some("def f(a) {"));
        // A name bound before the `def` and by it: the body sees the function.
        let rec = "f = 1;\ndef f() {\n  return f;\n}";
        assert_eq!(def_of(rec, &index(rec), "f", 2), Some("def f() {"));
        assert!(matches!(idx.defs[0].kind, DefKind::Function { ref params } if params == &["a"]));
        // The body's names are not exported; the parameter is not visible outside.
        let names: Vec<&str> = idx
            .exports()
            .iter()
            .map(|&i| idx.defs[i].name.as_str())
            .collect();
        assert_eq!(names, ["f", "g", "z"]);
        let visible: Vec<&str> = idx
            .visible_at(src.len() as u32)
            .iter()
            .map(|&i| idx.defs[i].name.as_str())
            .collect();
        assert_eq!(visible, ["z", "g", "f"]);
        let inside = src.find("return").expect("return") as u32;
        let visible: Vec<&str> = idx
            .visible_at(inside)
            .iter()
            .map(|&i| idx.defs[i].name.as_str())
            .collect();
        assert!(
            visible.contains(&"a") && visible.contains(&"b") && visible.contains(&"g"),
            "{visible:?}"
        );
    }

    #[test]
    fn loops_comprehensions_loads_and_unknown_names() {
        let src = "load \"lib\";\nfor c in [\"a\"] {\n  n = c;\n}\nm = c;\nl = [i * k for i in range(3)];\nq = tokens;";
        let idx = index(src);
        assert_eq!(idx.loads.len(), 1);
        assert_eq!(idx.loads[0].path, "lib");
        assert_eq!(def_of(src, &idx, "c", 1), Some("for c in [\"a\"] {"));
        assert_eq!(
            def_of(src, &idx, "c", 2),
            Some("for c in [\"a\"] {"),
            "the loop name stays defined"
        );
        assert_eq!(
            def_of(src, &idx, "i", 0),
            Some("l = [i * k for i in range(3)];")
        );
        assert_eq!(def_of(src, &idx, "k", 0), None, "not defined here");
        assert_eq!(def_of(src, &idx, "tokens", 0), None, "a builtin");
        assert_eq!(
            idx.scopes[idx.defs.iter().find(|d| d.name == "i").expect("i").scope].kind,
            ScopeKind::Comprehension
        );
        // What is at a position.
        let at = src.find("m = c").expect("m") as u32;
        assert!(matches!(idx.at(at), Some(Target::Def(_))));
        assert!(matches!(idx.at(at + 4), Some(Target::Use(_))));
    }
}
