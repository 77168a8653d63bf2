//! Elementwise functions: small expression trees over the positional
//! arguments of a `Map`/`Zip` node, with captured constants. The same tree is
//! evaluated by the interpreter and, later, by the compiler's value-set
//! inference.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use super::value::{self, DictKey, OpError, OpErrorKind, OpResult, Value, py_str_repr};
use crate::syntax::ast::{BinOp, UnOp};

/// A constant container indexed by an s-op (`"abc"[indices]`, `l[t]`, `d[t]`).
/// Elements that are not atoms (nested lists, s-ops, functions) are kept as
/// their description: selecting one is an evaluation error, as in the
/// original (sequences hold atoms only).
#[derive(Clone, Debug)]
pub enum Table {
    Str(Arc<[char]>),
    List(Arc<[Elem]>),
    Dict(Arc<Vec<(DictKey, Value, Elem)>>),
}

/// An element of a constant table: an atom, or the description of a
/// non-atom.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Elem {
    Atom(Value),
    Other(String),
}

impl PartialEq for Table {
    fn eq(&self, other: &Table) -> bool {
        match (self, other) {
            (Table::Str(a), Table::Str(b)) => a == b,
            (Table::List(a), Table::List(b)) => a == b,
            (Table::Dict(a), Table::Dict(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b.iter())
                        .all(|(x, y)| x.0 == y.0 && x.1.same(&y.1) && x.2 == y.2)
            }
            _ => false,
        }
    }
}
impl Eq for Table {}
impl Hash for Table {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Table::Str(s) => s.hash(state),
            Table::List(l) => l.hash(state),
            Table::Dict(d) => {
                for (k, _, e) in d.iter() {
                    k.hash(state);
                    e.hash(state);
                }
            }
        }
    }
}

impl Table {
    /// `table[i]` with Python's rules.
    pub fn get(&self, index: &Value) -> OpResult {
        let elem = match self {
            Table::Str(chars) => {
                let i = seq_index(index, chars.len(), "string")?;
                return Ok(Value::Str(Arc::from(chars[i].to_string())));
            }
            Table::List(items) => &items[seq_index(index, items.len(), "list")?],
            Table::Dict(entries) => {
                let key = DictKey::of(index);
                match entries.binary_search_by(|e| e.0.cmp(&key)) {
                    Ok(pos) => &entries[pos].2,
                    Err(_) => {
                        return Err(OpError::new(
                            OpErrorKind::Key,
                            format!("index [ {} ] not in dict.", index.repr()),
                        ));
                    }
                }
            }
        };
        match elem {
            Elem::Atom(v) => Ok(v.clone()),
            Elem::Other(desc) => Err(OpError::new(
                OpErrorKind::Type,
                format!("a sequence can only hold atoms (bool, float, int or string), got {desc}"),
            )),
        }
    }

    /// Build a dict table; later entries win, as in Python (the first
    /// key stays, with the last value). O(n log n): a dict of a million
    /// entries indexed by an s-op is built at once.
    pub fn dict(entries: Vec<(Value, Elem)>) -> Table {
        let mut all: Vec<(DictKey, Value, Elem)> = entries
            .into_iter()
            .map(|(k, e)| (DictKey::of(&k), k, e))
            .collect();
        // Stable: equal keys stay in the order they came.
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let mut v: Vec<(DictKey, Value, Elem)> = Vec::with_capacity(all.len());
        for (dk, k, e) in all {
            match v.last_mut() {
                Some(last) if last.0 == dk => last.2 = e,
                _ => v.push((dk, k, e)),
            }
        }
        Table::Dict(Arc::new(v))
    }
}

fn seq_index(index: &Value, len: usize, what: &str) -> Result<usize, OpError> {
    let Some(i) = index.as_int() else {
        return Err(OpError::new(
            OpErrorKind::Type,
            format!("{what} indices must be integers, not {}", index.type_name()),
        ));
    };
    let n = len as i64;
    let j = if i < 0 { i + n } else { i };
    if j < 0 || j >= n {
        return Err(OpError::new(
            OpErrorKind::Index,
            format!("index {i} out of range for {what} of length {len}"),
        ));
    }
    Ok(j as usize)
}

/// An elementwise expression over argument positions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Expr {
    Arg(u32),
    Const(Value),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `then if cond else otherwise`: both branches are evaluated at every
    /// position (an error in either is an error), as in the original.
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    /// Membership in a constant list of atoms.
    In(Box<Expr>, Arc<[Value]>),
    Index(Arc<Table>, Box<Expr>),
    Round(Box<Expr>),
    Indicator(Box<Expr>),
}

impl Expr {
    pub fn eval(&self, args: &[&Value]) -> OpResult {
        match self {
            Expr::Arg(i) => Ok(args[*i as usize].clone()),
            Expr::Const(v) => Ok(v.clone()),
            Expr::Unary(op, a) => value::unary(*op, &a.eval(args)?),
            Expr::Binary(op, a, b) => {
                let x = a.eval(args)?;
                let y = b.eval(args)?;
                value::binary(*op, &x, &y)
            }
            Expr::Cond(c, t, e) => {
                let c = c.eval(args)?;
                let t = t.eval(args)?;
                let e = e.eval(args)?;
                Ok(if c.truthy() { t } else { e })
            }
            Expr::In(a, list) => {
                let x = a.eval(args)?;
                Ok(Value::Bool(list.iter().any(|v| value::py_eq(&x, v))))
            }
            Expr::Index(t, a) => t.get(&a.eval(args)?),
            Expr::Round(a) => value::round(&a.eval(args)?),
            Expr::Indicator(a) => Ok(value::indicator(&a.eval(args)?)),
        }
    }

    /// How many nodes the tree has, if `Arg(i)` stood for a tree of
    /// `args[i]` nodes (1 where `args` has no entry): the size of a
    /// substitution before it is built (saturating).
    pub fn nodes_with(&self, args: &[usize]) -> usize {
        let sub = |e: &Expr| e.nodes_with(args);
        match self {
            Expr::Arg(i) => args.get(*i as usize).copied().unwrap_or(1),
            Expr::Const(_) => 1,
            Expr::Unary(_, a)
            | Expr::In(a, _)
            | Expr::Index(_, a)
            | Expr::Round(a)
            | Expr::Indicator(a) => sub(a).saturating_add(1),
            Expr::Binary(_, a, b) => sub(a).saturating_add(sub(b)).saturating_add(1),
            Expr::Cond(c, t, e) => sub(c)
                .saturating_add(sub(t))
                .saturating_add(sub(e))
                .saturating_add(1),
        }
    }

    /// Renumber arguments (used when merging argument lists).
    pub fn remap(&self, map: &[u32]) -> Expr {
        match self {
            Expr::Arg(i) => Expr::Arg(map[*i as usize]),
            Expr::Const(v) => Expr::Const(v.clone()),
            Expr::Unary(op, a) => Expr::Unary(*op, Box::new(a.remap(map))),
            Expr::Binary(op, a, b) => {
                Expr::Binary(*op, Box::new(a.remap(map)), Box::new(b.remap(map)))
            }
            Expr::Cond(c, t, e) => Expr::Cond(
                Box::new(c.remap(map)),
                Box::new(t.remap(map)),
                Box::new(e.remap(map)),
            ),
            Expr::In(a, l) => Expr::In(Box::new(a.remap(map)), l.clone()),
            Expr::Index(t, a) => Expr::Index(t.clone(), Box::new(a.remap(map))),
            Expr::Round(a) => Expr::Round(Box::new(a.remap(map))),
            Expr::Indicator(a) => Expr::Indicator(Box::new(a.remap(map))),
        }
    }

    /// A short human-readable rendering (`x0 + 1`), for displays.
    pub fn render(&self, names: &[String]) -> String {
        match self {
            Expr::Arg(i) => names
                .get(*i as usize)
                .cloned()
                .unwrap_or_else(|| format!("x{i}")),
            Expr::Const(v) => v.repr(),
            Expr::Unary(op, a) => match op {
                UnOp::Not => format!("not {}", a.render(names)),
                _ => format!("{}{}", op.symbol(), a.render(names)),
            },
            Expr::Binary(op, a, b) => {
                format!("({} {} {})", a.render(names), op.symbol(), b.render(names))
            }
            Expr::Cond(c, t, e) => format!(
                "({} if {} else {})",
                t.render(names),
                c.render(names),
                e.render(names)
            ),
            Expr::In(a, l) => format!(
                "{} in [{}]",
                a.render(names),
                l.iter().map(Value::repr).collect::<Vec<_>>().join(", ")
            ),
            Expr::Index(t, a) => {
                let table = match &**t {
                    Table::Str(s) => py_str_repr(&s.iter().collect::<String>()),
                    Table::List(l) => format!("<list of {}>", l.len()),
                    Table::Dict(d) => format!("<dict of {}>", d.len()),
                };
                format!("{table}[{}]", a.render(names))
            }
            Expr::Round(a) => format!("round({})", a.render(names)),
            Expr::Indicator(a) => format!("indicator({})", a.render(names)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dict_tables_keep_the_first_key_and_the_last_value() {
        let e = |i: i64| Elem::Atom(Value::Int(i));
        let t = Table::dict(vec![
            (Value::Int(1), e(10)),
            (Value::str("a"), e(20)),
            (Value::Float(1.0), e(30)),
            (Value::Bool(true), e(40)),
        ]);
        let Table::Dict(d) = &t else {
            unreachable!("a dict table")
        };
        assert_eq!(d.len(), 2);
        assert_eq!(
            t.get(&Value::Int(1)).ok().map(|v| v.repr()),
            Some("40".into())
        );
        assert!(
            d.iter().any(|x| matches!(x.1, Value::Int(1))),
            "the first key stays"
        );
    }

    #[test]
    fn node_counts_of_substitutions() {
        let twice = Expr::Binary(BinOp::Add, Box::new(Expr::Arg(0)), Box::new(Expr::Arg(0)));
        assert_eq!(twice.nodes_with(&[]), 3);
        // Each use of the argument gets its whole tree.
        assert_eq!(twice.nodes_with(&[3]), 7);
        assert_eq!(twice.nodes_with(&[usize::MAX]), usize::MAX, "saturates");
    }
}
