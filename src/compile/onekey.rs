//! Which selectors select at most one key per query, whatever the input.
//!
//! An aggregate over such a selector never averages: each query gets one
//! key's value unchanged or, with none selected, the default. So its value
//! set is its source's values and the default (`valueset`), not every mean
//! of them, and an attention head that copies the selected key (a one-hot
//! or a number) computes it exactly.
//!
//! The analysis is sound, never complete: when unsure it answers "may
//! select several". A selector selects at most one key when
//! * it is `select(k, q, ==)` whose key s-op `k` is unique per position
//!   (no two positions of an input ever hold `==` values), whatever `q` is;
//! * it is an `and` with such a conjunct (it selects a subset of its keys);
//! * it never selects anything (a select of two constants that is false);
//! * or no input has two positions (a max length of 1).
//!
//! An s-op is unique per position when
//! * it is a map of `indices`, `length`, constants and other s-ops whose
//!   values at two different positions can never be `==`, whatever values
//!   the other s-ops take (`indices + 1`, `length - indices - 1`,
//!   `tokens + indices / 100` at lengths up to 100), checked at every
//!   length on the value sets;
//! * or it is the width of a strict order of the positions: the rank of
//!   each position, so different at every position (`select(k, k, <)` with
//!   `k` unique per position, or the library `sort`'s `select(k, k, <) or
//!   (select(k, k, ==) and select(indices, indices, <))` for any `k` of
//!   numbers or strings). Not under causal semantics: there each position
//!   counts only the positions up to it, and two can share a rank. The
//!   compiler's rank digits of a comparison (`rewrite`: `select(hi, hi, <)
//!   or (select(hi, hi, ==) and select(lo, lo, <))`, with `hi` and `lo`
//!   maps of one s-op) count as the comparison they stand for once the
//!   value sets show that the digit pairs order its values as they are
//!   ordered (`Inputs::comparison`).
//!
//! Under causal semantics a position sees `length` as its own index plus
//! one; maps of `length` are checked that way.
//!
//! A weaker property serves means: a selector selects keys that all hold
//! equal values of the aggregated s-op `v` (so a mean of them is one of
//! them, a float when several are averaged) when it selects at most one
//! key, or is `select(k, q, ==)` (or an `and` with one) where equal values
//! of `k` at two positions mean equal values of `v`: `k` is `v`, `v` is a
//! map of `k` alone, `k` is an injective map of one s-op that does, or
//! (bidirectional) `k` is the rank of an s-op that does (the width of
//! `select(w, w, <)`: positions with equal counts of smaller values hold
//! equal values). The library's `sort_unique` is such an aggregate.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use super::valueset::ValueSet;
use crate::ir::value::Value;
use crate::ir::{Graph, NodeId, Op};
use crate::syntax::ast::CmpOp;

/// Most elementwise evaluations the analysis spends on one key s-op
/// (beyond it the key counts as not unique).
const MAX_WORK: usize = 1 << 22;
/// Most combinations of values of the s-ops a key map reads besides
/// positions.
const MAX_COMBINATIONS: usize = 1 << 12;

/// What the analysis reads: the graph, the value sets of the s-ops the
/// selector reads, and the longest input.
pub struct Inputs<'a> {
    pub graph: &'a Graph,
    pub sets: &'a BTreeMap<NodeId, ValueSet>,
    pub max_len: usize,
    /// Causal semantics: each position sees the positions up to it.
    pub causal: bool,
    /// [`Inputs::selects_one`] of the selectors asked so far.
    one: RefCell<BTreeMap<NodeId, bool>>,
}

/// What the value sets ask of an aggregate's selector, from one analysis
/// (each question starts from whether it selects one key at most, which
/// the analysis remembers per selector).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selection {
    /// [`at_most_one`].
    pub at_most_one: bool,
    /// [`most_selected`].
    pub most: Option<usize>,
    /// [`same_values`] of the aggregated s-op.
    pub same_values: bool,
}

/// [`at_most_one`], [`most_selected`] and [`same_values`] of an
/// aggregate's selector `sel` and values `values`, analysed once.
pub fn selection(
    graph: &Graph,
    sel: NodeId,
    values: NodeId,
    sets: &BTreeMap<NodeId, ValueSet>,
    max_len: usize,
    causal: bool,
) -> Selection {
    let inputs = Inputs::new(graph, sets, max_len, causal);
    Selection {
        at_most_one: inputs.selects_one(sel),
        most: inputs.most(sel).filter(|m| *m < max_len),
        same_values: inputs.selects_equal(sel, values),
    }
}

/// Whether `sel` selects at most one key for every query of every input
/// of up to `max_len` tokens.
pub fn at_most_one(
    graph: &Graph,
    sel: NodeId,
    sets: &BTreeMap<NodeId, ValueSet>,
    max_len: usize,
    causal: bool,
) -> bool {
    Inputs::new(graph, sets, max_len, causal).selects_one(sel)
}

/// The most keys `sel` selects for one query of any input of up to
/// `max_len` tokens, where something better than `max_len` is known: an
/// `==` select whose keys can be `==` at that many positions at most (a map
/// of positions, or the rank of such a map), or an `and` with one.
pub fn most_selected(
    graph: &Graph,
    sel: NodeId,
    sets: &BTreeMap<NodeId, ValueSet>,
    max_len: usize,
    causal: bool,
) -> Option<usize> {
    Inputs::new(graph, sets, max_len, causal)
        .most(sel)
        .filter(|m| *m < max_len)
}

/// Whether every two keys `sel` selects for one query hold `==` values of
/// `values`, for every input of up to `max_len` tokens.
pub fn same_values(
    graph: &Graph,
    sel: NodeId,
    values: NodeId,
    sets: &BTreeMap<NodeId, ValueSet>,
    max_len: usize,
    causal: bool,
) -> bool {
    Inputs::new(graph, sets, max_len, causal).selects_equal(sel, values)
}

impl<'a> Inputs<'a> {
    fn most(&self, sel: NodeId) -> Option<usize> {
        if self.selects_one(sel) {
            return Some(1);
        }
        match self.graph.op(sel) {
            Op::Select {
                keys,
                cmp: CmpOp::Eq,
                ..
            } => self.multiplicity(*keys),
            Op::SelAnd(a, b) => match (self.most(*a), self.most(*b)) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, None) | (None, x) => x,
            },
            Op::SelNot(a) => match self.graph.op(*a) {
                Op::SelNot(inner) => self.most(*inner),
                _ => None,
            },
            _ => None,
        }
    }

    /// The most positions of one input that can hold `==` values of `sop`
    /// (below `max_len`), where known.
    fn multiplicity(&self, sop: NodeId) -> Option<usize> {
        let g = self.graph;
        match g.op(sop) {
            // A rank: equal ranks exactly where the ranked values are equal.
            Op::SelectorWidth(sel) if !self.causal => match self.comparison(*sel) {
                Some((keys, queries, cmp))
                    if keys == queries && !matches!(cmp, CmpOp::Eq | CmpOp::Ne) =>
                {
                    if self.ordered(keys) {
                        self.multiplicity(keys)
                    } else {
                        None
                    }
                }
                _ => self.strict_order(*sel).then_some(1),
            },
            _ => self.map_multiplicity(sop, self.max_len.saturating_sub(1)),
        }
    }

    fn selects_equal(&self, sel: NodeId, values: NodeId) -> bool {
        if self.selects_one(sel) {
            return true;
        }
        match self.graph.op(sel) {
            Op::Select {
                keys,
                cmp: CmpOp::Eq,
                ..
            } => self.determines(*keys, values, 0),
            Op::SelAnd(a, b) => self.selects_equal(*a, values) || self.selects_equal(*b, values),
            Op::SelNot(a) => match self.graph.op(*a) {
                Op::SelNot(inner) => self.selects_equal(*inner, values),
                _ => false,
            },
            _ => false,
        }
    }

    /// Whether `==` values of `k` at two positions of one input always
    /// come with `==` values of `v` there (`depth` bounds the search).
    fn determines(&self, k: NodeId, v: NodeId, depth: usize) -> bool {
        if k == v {
            return true;
        }
        if depth > 8 {
            return false;
        }
        let g = self.graph;
        // `v` a map of `k` and constants alone.
        if let Op::Map { args, .. } = g.op(v)
            && args
                .iter()
                .all(|a| *a == k || matches!(g.op(*a), Op::Const(_)))
        {
            return true;
        }
        match g.op(k) {
            // A rank: w_i < w_j gives the count at j at least one more.
            Op::SelectorWidth(sel) if !self.causal => match self.comparison(*sel) {
                Some((keys, queries, cmp))
                    if keys == queries && !matches!(cmp, CmpOp::Eq | CmpOp::Ne) =>
                {
                    self.ordered(keys) && self.determines(keys, v, depth + 1)
                }
                _ => false,
            },
            // An injective map of one s-op (and constants).
            Op::Map { args, .. } => {
                let inner: Vec<NodeId> = args
                    .iter()
                    .copied()
                    .filter(|a| !matches!(g.op(*a), Op::Const(_)))
                    .collect();
                match inner.as_slice() {
                    [a] => self.injective_of(k, *a) && self.determines(*a, v, depth + 1),
                    _ => false,
                }
            }
            _ => false,
        }
    }

    /// Whether the map `k` of the s-op `a` (and constants) takes values
    /// that are never `==` for values of `a` that are not.
    fn injective_of(&self, k: NodeId, a: NodeId) -> bool {
        let Some(vals) = self.sets.get(&a).and_then(ValueSet::values) else {
            return false;
        };
        if vals.len() > MAX_COMBINATIONS {
            return false;
        }
        let mut seen: HashMap<EqKey, EqKey> = HashMap::new();
        for x in vals {
            let assign = [(a, x)];
            let mut memo = Vec::new();
            // Failing (an input reaching it fails) or NaN (never selected):
            // no two keys meet there.
            let Some(ko) = eval_at(self.graph, k, 0, 1, &assign, &mut memo)
                .as_ref()
                .and_then(eq_key)
            else {
                continue;
            };
            let Some(xk) = eq_key(x) else {
                return false;
            };
            match seen.get(&ko) {
                Some(prev) if *prev != xk => return false,
                Some(_) => {}
                None => {
                    seen.insert(ko, xk);
                }
            }
        }
        true
    }

    pub fn new(
        graph: &'a Graph,
        sets: &'a BTreeMap<NodeId, ValueSet>,
        max_len: usize,
        causal: bool,
    ) -> Inputs<'a> {
        Inputs {
            graph,
            sets,
            max_len,
            causal,
            one: RefCell::default(),
        }
    }

    fn selects_one(&self, sel: NodeId) -> bool {
        if let Some(&known) = self.one.borrow().get(&sel) {
            return known;
        }
        let one = self.selects_one_now(sel);
        self.one.borrow_mut().insert(sel, one);
        one
    }

    fn selects_one_now(&self, sel: NodeId) -> bool {
        if self.max_len <= 1 {
            return true;
        }
        if super::valueset::constant_selector(self.graph, sel) == Some(false) {
            return true;
        }
        match self.graph.op(sel) {
            Op::Select {
                keys,
                cmp: CmpOp::Eq,
                ..
            } => self.unique_per_position(*keys),
            Op::SelAnd(a, b) => self.selects_one(*a) || self.selects_one(*b),
            Op::SelNot(a) => match self.graph.op(*a) {
                Op::SelNot(inner) => self.selects_one(*inner),
                _ => false,
            },
            _ => false,
        }
    }

    /// Whether no two positions of any input of up to `max_len` tokens
    /// hold `==` values of `sop`.
    pub fn unique_per_position(&self, sop: NodeId) -> bool {
        match self.graph.op(sop) {
            // Causally, each position ranks among those up to it only.
            Op::SelectorWidth(sel) => !self.causal && self.strict_order(*sel),
            _ => self.injective_map(sop),
        }
    }

    /// Whether `sel` orders the positions of every input totally (so a
    /// selector width over it is each position's rank): `k < k` (or `>`,
    /// `<=`, `>=`) with `k` unique per position, or `k < k` (or `>`) with
    /// ties broken by `m < m` (or `>`) with `m` unique per position.
    fn strict_order(&self, sel: NodeId) -> bool {
        if let Some((keys, queries, cmp)) = self.comparison(sel)
            && keys == queries
        {
            return self.ordered(keys)
                && self.unique_per_position(keys)
                && !matches!(cmp, CmpOp::Eq | CmpOp::Ne);
        }
        match self.graph.op(sel) {
            Op::SelOr(a, b) => self.lexicographic(*a, *b) || self.lexicographic(*b, *a),
            _ => false,
        }
    }

    /// `sel` as one comparison `select(k, q, cmp)`: itself, or the rank
    /// digits of one (`rewrite`'s `select(hi, hi, <) or (select(hi, hi, ==)
    /// and select(lo, lo, <))`, where `hi` and `lo` are maps of `k` on the
    /// key side and of `q` on the query side, and the pairs `(hi, lo)`
    /// order the values of `k` and `q` exactly as the values do, checked on
    /// the value sets).
    fn comparison(&self, sel: NodeId) -> Option<(NodeId, NodeId, CmpOp)> {
        let g = self.graph;
        if let Some(plain) = g.equivalent(sel) {
            return self.comparison(plain);
        }
        let select = |s: NodeId| match g.op(s) {
            Op::Select { keys, queries, cmp } => Some((*keys, *queries, *cmp)),
            _ => None,
        };
        if let Some(c) = select(sel) {
            return Some(c);
        }
        let Op::SelOr(a, b) = g.op(sel) else {
            return None;
        };
        let (hk, hq, strict) = select(*a)?;
        let Op::SelAnd(x, y) = g.op(*b) else {
            return None;
        };
        let (ek, eq, same) = select(*x)?;
        let (lk, lq, cmp) = select(*y)?;
        let directions = matches!(
            (strict, cmp),
            (CmpOp::Lt, CmpOp::Lt | CmpOp::Le) | (CmpOp::Gt, CmpOp::Gt | CmpOp::Ge)
        );
        if same != CmpOp::Eq || (ek, eq) != (hk, hq) || !directions {
            return None;
        }
        let k = self.digits_of(hk, lk)?;
        let q = self.digits_of(hq, lq)?;
        self.digits_order(&[(k, hk, lk), (q, hq, lq)])
            .then_some((k, q, cmp))
    }

    /// The s-op `x` when `hi` and `lo` are both maps of `x` alone.
    fn digits_of(&self, hi: NodeId, lo: NodeId) -> Option<NodeId> {
        match (self.graph.op(hi), self.graph.op(lo)) {
            (Op::Map { args: a, .. }, Op::Map { args: b, .. }) if a.len() == 1 && a == b => {
                Some(a[0])
            }
            _ => None,
        }
    }

    /// Whether, over the values of every `(x, hi, lo)` together, `(hi(x),
    /// lo(x))` compared as pairs of numbers orders them as `x` does: equal
    /// pairs for `==` values, a smaller pair for a smaller value.
    fn digits_order(&self, sides: &[(NodeId, NodeId, NodeId)]) -> bool {
        let digit = |m: NodeId, v: &Value| match self.graph.op(m) {
            Op::Map { expr, .. } => expr.eval(&[v]).ok().and_then(|d| d.as_int()),
            _ => None,
        };
        let mut all: Vec<(&Value, i64, i64)> = Vec::new();
        for (x, hi, lo) in sides {
            let Some(vals) = self.sets.get(x).and_then(ValueSet::values) else {
                return false;
            };
            if !self.ordered(*x) || all.len() + vals.len() > MAX_WORK {
                return false;
            }
            for v in vals {
                match (digit(*hi, v), digit(*lo, v)) {
                    (Some(h), Some(l)) => all.push((v, h, l)),
                    _ => return false,
                }
            }
        }
        let num = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
        if all.iter().any(|(v, ..)| num(v).is_nan()) {
            return false;
        }
        all.sort_by(|a, b| num(a.0).total_cmp(&num(b.0)));
        all.windows(2).all(|w| {
            let (a, b) = (&w[0], &w[1]);
            // `ordered` values compare exactly as floats (0.0 == -0.0).
            if num(a.0) == num(b.0) {
                (a.1, a.2) == (b.1, b.2)
            } else {
                (a.1, a.2) < (b.1, b.2)
            }
        })
    }

    /// `major or tie` is `k < k or (k == k and m < m)` (either strict
    /// direction for each, the `and` either way round).
    fn lexicographic(&self, major: NodeId, tie: NodeId) -> bool {
        let g = self.graph;
        let strict_self = |s: NodeId| match g.op(s) {
            Op::Select { keys, queries, cmp }
                if keys == queries && matches!(cmp, CmpOp::Lt | CmpOp::Gt) =>
            {
                Some(*keys)
            }
            _ => None,
        };
        let equal_self = |s: NodeId| match g.op(s) {
            Op::Select {
                keys,
                queries,
                cmp: CmpOp::Eq,
            } if keys == queries => Some(*keys),
            _ => None,
        };
        let (Some(k), Op::SelAnd(x, y)) = (strict_self(major), g.op(tie)) else {
            return false;
        };
        let minor = match (equal_self(*x), equal_self(*y)) {
            (Some(e), _) if e == k => strict_self(*y),
            (_, Some(e)) if e == k => strict_self(*x),
            _ => None,
        };
        minor.is_some_and(|m| self.ordered(k) && self.ordered(m) && self.unique_per_position(m))
    }

    /// Whether `<` and `==` order `sop`'s values totally and consistently:
    /// all strings, or all numbers that are exact as floats (ints below
    /// 2^53, where an int and a float compare exactly).
    fn ordered(&self, sop: NodeId) -> bool {
        let Some(vals) = self.sets.get(&sop).and_then(ValueSet::values) else {
            return false;
        };
        vals.iter().all(|v| matches!(v, Value::Str(_)))
            || vals.iter().all(|v| match v {
                Value::Str(_) => false,
                Value::Float(f) => f.is_finite(),
                _ => v.as_int().is_some_and(|i| i.unsigned_abs() < 1 << 53),
            })
    }

    /// Whether `sop`, a map of positions and other s-ops, differs at any two
    /// positions whatever the other s-ops hold: the sets of values it can
    /// take at each position are disjoint, at every length.
    fn injective_map(&self, sop: NodeId) -> bool {
        self.map_multiplicity(sop, 1).is_some_and(|m| m <= 1)
    }

    /// For `sop`, a map of positions and other s-ops: the most positions of
    /// one input that can hold `==` values, whatever the other s-ops hold
    /// (the most positions whose sets of possible values share one value),
    /// at every length; `None` when unknown or more than `most`. A
    /// combination on which the map fails is left out (an input that
    /// reaches it fails).
    fn map_multiplicity(&self, sop: NodeId, most: usize) -> Option<usize> {
        let g = self.graph;
        // The maps below `sop` and the leaves they read.
        let mut maps = Vec::new();
        let mut free = Vec::new();
        let mut uses_length = false;
        let mut stack = vec![sop];
        let mut seen = std::collections::BTreeSet::new();
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            match g.op(id) {
                Op::Map { args, .. } => {
                    maps.push(id);
                    stack.extend(args.iter().copied());
                }
                Op::Indices | Op::Const(_) => {}
                Op::Length => uses_length = true,
                Op::Tokens(_) | Op::Aggregate { .. } | Op::SelectorWidth(_) => free.push(id),
                _ => return None,
            }
        }
        if !matches!(g.op(sop), Op::Map { .. } | Op::Indices) {
            return None;
        }
        let mut free_sets: Vec<&[Value]> = Vec::with_capacity(free.len());
        for f in &free {
            match self.sets.get(f).and_then(ValueSet::values) {
                Some(v) => free_sets.push(v),
                None => return None,
            }
        }
        let sizes: Vec<usize> = free_sets.iter().map(|s| s.len()).collect();
        let combos = sizes.iter().try_fold(1usize, |a, s| a.checked_mul(*s))?;
        // Without `length`, the values at a position do not depend on the
        // length: the longest inputs decide. Causally, neither: position
        // `pos` sees `length` as `pos + 1` in every input.
        let lengths: Vec<usize> = if uses_length && !self.causal {
            (2..=self.max_len).collect()
        } else {
            vec![self.max_len]
        };
        let work = lengths.iter().try_fold(0usize, |acc, l| {
            acc.checked_add(l.checked_mul(combos)?.checked_mul(maps.len().max(1))?)
        });
        if combos > MAX_COMBINATIONS || work.is_none_or(|w| w > MAX_WORK) {
            return None;
        }
        // The maps that read none of the free s-ops: evaluated once per
        // position, not once per combination of the free s-ops' values.
        let mut reads_free: std::collections::BTreeSet<NodeId> = free.iter().copied().collect();
        let mut grew = true;
        while grew {
            grew = false;
            for &m in &maps {
                if let Op::Map { args, .. } = g.op(m)
                    && !reads_free.contains(&m)
                    && args.iter().any(|a| reads_free.contains(a))
                {
                    reads_free.insert(m);
                    grew = true;
                }
            }
        }
        let fixed: Vec<NodeId> = maps
            .iter()
            .copied()
            .filter(|m| !reads_free.contains(m))
            .collect();
        let mut worst = 0usize;
        let mut assign: Vec<(NodeId, &Value)> = Vec::with_capacity(free.len());
        let mut base: Vec<(NodeId, Option<Value>)> = Vec::new();
        let mut memo: Vec<(NodeId, Option<Value>)> = Vec::new();
        for len in lengths {
            // The positions each value (by what decides `==`) occurs at.
            let mut at: HashMap<EqKey, Vec<usize>> = HashMap::new();
            for pos in 0..len {
                let mut over = false;
                let seen = if self.causal { pos + 1 } else { len };
                base.clear();
                for m in &fixed {
                    eval_at(g, *m, pos, seen, &[], &mut base);
                }
                super::valueset::for_each_index(&sizes, |idx| {
                    if over {
                        return;
                    }
                    assign.clear();
                    assign.extend(
                        free.iter()
                            .zip(idx.iter().zip(&free_sets))
                            .map(|(f, (i, s))| (*f, &s[*i])),
                    );
                    memo.clear();
                    memo.extend_from_slice(&base);
                    if let Some(k) = eval_at(g, sop, pos, seen, &assign, &mut memo)
                        .as_ref()
                        .and_then(eq_key)
                    {
                        let ps = at.entry(k).or_default();
                        if ps.last() != Some(&pos) {
                            ps.push(pos);
                            worst = worst.max(ps.len());
                            over = worst > most;
                        }
                    }
                });
                if over {
                    return None;
                }
            }
        }
        Some(worst)
    }
}

/// The value of a map at position `pos` of an input of `len` tokens, with
/// the other s-ops it reads holding `assign`; `None` where it fails.
/// `memo` holds the nodes already evaluated (a few: a list).
fn eval_at(
    graph: &Graph,
    id: NodeId,
    pos: usize,
    len: usize,
    assign: &[(NodeId, &Value)],
    memo: &mut Vec<(NodeId, Option<Value>)>,
) -> Option<Value> {
    if let Some((_, v)) = memo.iter().find(|(n, _)| *n == id) {
        return v.clone();
    }
    let out = match graph.op(id) {
        Op::Indices => Some(Value::Int(pos as i64)),
        Op::Length => Some(Value::Int(len as i64)),
        Op::Const(v) => Some(v.clone()),
        Op::Map { expr, args } => {
            let mut vals = Vec::with_capacity(args.len());
            for a in args {
                vals.push(eval_at(graph, *a, pos, len, assign, memo)?);
            }
            let refs: Vec<&Value> = vals.iter().collect();
            expr.eval(&refs).ok()
        }
        _ => assign
            .iter()
            .find(|(n, _)| *n == id)
            .map(|(_, v)| (*v).clone()),
    };
    memo.push((id, out.clone()));
    out
}

/// What decides `==` between values: numbers (ints, bools, floats) by
/// their float value, strings by their text. Two values with different
/// keys are never `==` (an int and a float are equal only when the float
/// equals the int's float value), and no third value is `==` to both.
#[derive(Hash, PartialEq, Eq, Debug)]
enum EqKey {
    Num(u64),
    Str(String),
}

/// `None` for NaN, which is `==` to nothing (never selected, never a
/// collision).
fn eq_key(v: &Value) -> Option<EqKey> {
    match v {
        Value::Str(s) => Some(EqKey::Str(s.to_string())),
        _ => {
            let x = v.as_f64()?;
            if x.is_nan() {
                return None;
            }
            // 0.0 and -0.0 are equal.
            let x = if x == 0.0 { 0.0 } else { x };
            Some(EqKey::Num(x.to_bits()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::valueset::{Domain, infer};
    use crate::front::{MVal, Session, value::lookup};

    /// Whether the selector named `sel` in `src` selects at most one key,
    /// for the tokens 1..=5 (ints) and inputs of up to `max_len` tokens.
    fn one(src: &str, max_len: usize) -> bool {
        ask(src, max_len, false, None)
    }

    /// [`one`] under either semantics, or with `values` named, whether the
    /// keys `sel` selects hold equal values of that s-op.
    fn ask(src: &str, max_len: usize, causal: bool, values: Option<&str>) -> bool {
        analyse(src, max_len, causal, values, |g, sel, v, sets| {
            // The one analysis the value sets use answers alike.
            let all = selection(g, sel, v.unwrap_or(sel), sets, max_len, causal);
            let one = at_most_one(g, sel, sets, max_len, causal);
            assert_eq!(all.at_most_one, one);
            assert_eq!(all.most, most_selected(g, sel, sets, max_len, causal));
            match v {
                Some(v) => {
                    let same = same_values(g, sel, v, sets, max_len, causal);
                    assert_eq!(all.same_values, same);
                    same
                }
                None => one,
            }
        })
    }

    /// [`most_selected`] for the selector `sel` of `src` (tokens 1..=5).
    fn most(src: &str, max_len: usize) -> Option<usize> {
        analyse(src, max_len, false, None, |g, sel, _, sets| {
            most_selected(g, sel, sets, max_len, false)
        })
    }

    /// `f` on the graph of `src` (after `tokens = tokens_int`), its
    /// selector `sel`, the s-op named `values` if any, and their value sets
    /// for the tokens 1..=5 and inputs of up to `max_len` tokens.
    fn analyse<R>(
        src: &str,
        max_len: usize,
        causal: bool,
        values: Option<&str>,
        f: impl FnOnce(&Graph, NodeId, Option<NodeId>, &BTreeMap<NodeId, ValueSet>) -> R,
    ) -> R {
        let mut session = Session::new();
        let scope = session.new_scope();
        let src = format!("tokens = tokens_int;\n{src}");
        let result = session.run_source("<test>", &src, &scope, None);
        assert!(!result.has_errors(), "{:?}", result.diags);
        let Some(MVal::Sel(sel)) = lookup(&scope, "sel") else {
            panic!("`sel` is a selector");
        };
        let domain = Domain {
            vocab: (1..=5).map(Value::Int).collect(),
            max_len,
            causal,
        };
        let values = values.map(|name| match lookup(&scope, name) {
            Some(MVal::Sop(v)) => v,
            _ => panic!("`{name}` is an s-op"),
        });
        let mut targets = vec![sel];
        targets.extend(values);
        let sets = infer(&session.graph, &targets, &domain, true).expect("value sets");
        f(&session.graph, sel, values, &sets)
    }

    /// tracr's sort key `tokens + indices / 100` meets itself at positions
    /// 100 apart from N = 101 on: at most 5 (one per token) at N = 512, and
    /// so does its rank; a mean over it averages 5 keys at most.
    #[test]
    fn keys_meeting_at_few_positions_bound_the_keys_selected() {
        let key = "k = tokens + indices / 100;\n";
        assert_eq!(most(&format!("{key}sel = select(k, 3, ==);"), 100), Some(1));
        assert_eq!(most(&format!("{key}sel = select(k, 3, ==);"), 150), Some(2));
        assert_eq!(most(&format!("{key}sel = select(k, 3, ==);"), 512), Some(5));
        let rank =
            format!("{key}r = selector_width(select(k, k, <));\nsel = select(r, indices, ==);");
        assert_eq!(most(&rank, 512), Some(5));
        // Nothing better than the length: tokens repeat anywhere.
        assert_eq!(most("sel = select(tokens, 3, ==);", 8), None);
        assert_eq!(
            most(
                &format!("{key}sel = select(tokens, 3, ==) and select(k, 3, ==);"),
                512
            ),
            Some(5)
        );
    }

    /// Causally a position sees `length` as its index plus one and ranks
    /// among the positions up to it: ranks tie, and `length - indices` is
    /// 1 everywhere.
    #[test]
    fn causal_ranks_and_lengths_are_not_unique() {
        for src in [
            "sel = select(selector_width(select(tokens * 10 + indices, tokens * 10 + indices, <)), tokens, ==);",
            "sel = select(length - indices, 1, ==);",
            "sel = select(length - indices - 1, indices, ==);",
        ] {
            assert!(one(src, 8), "bidirectional: {src}");
            assert!(!ask(src, 8, true, None), "causal: {src}");
        }
        // Positions alone stay unique causally.
        assert!(ask("sel = select(indices + 1, tokens, ==);", 8, true, None));
        assert!(ask(
            "sel = select(indices * 2, tokens, ==) and select(tokens, tokens, ==);",
            8,
            true,
            None
        ));
    }

    /// Keys with equal values of `k` hold equal values of `v`: `k` is `v`,
    /// a map of `v` one to one, or (bidirectionally) `v`'s rank.
    #[test]
    fn selected_keys_holding_one_value() {
        let rank = "slot = selector_width(select(tokens, tokens, <));\n";
        for (src, causal) in [
            ("sel = select(tokens, indices, ==);\nv = tokens;", false),
            ("sel = select(tokens + 1, indices, ==);\nv = tokens;", true),
            (
                "sel = select(tokens * 2, indices, ==);\nv = tokens - 3;",
                true,
            ),
            (
                &format!("{rank}sel = select(slot, indices, ==);\nv = tokens;"),
                false,
            ),
            (
                &format!(
                    "{rank}sel = select(slot, indices, ==) and select(indices, indices, >=);\nv = tokens * tokens;"
                ),
                false,
            ),
        ] {
            assert!(ask(src, 8, causal, Some("v")), "{src}");
        }
        for (src, causal) in [
            // Two tokens can share `tokens % 2`.
            ("sel = select(tokens % 2, indices, ==);\nv = tokens;", false),
            // A rank ties causally.
            (
                &format!("{rank}sel = select(slot, indices, ==);\nv = tokens;"),
                true,
            ),
            // `v` is not a function of the key.
            ("sel = select(tokens, indices, ==);\nv = indices;", false),
            ("sel = select(tokens, indices, <=);\nv = tokens;", false),
        ] {
            assert!(!ask(src, 8, causal, Some("v")), "{src}");
        }
    }

    #[test]
    fn equality_with_unique_keys_selects_at_most_one() {
        for src in [
            "sel = select(indices, indices, ==);",
            "sel = select(indices, indices - 1, ==);",
            "sel = select(indices, 0, ==);",
            "sel = select(indices, length - 1, ==);",
            "sel = select(indices, tokens, ==);",
            "sel = select(indices + 1, tokens, ==);",
            "sel = select(length - indices - 1, indices, ==);",
            "sel = select(indices * 2 + 3, indices, ==);",
            "sel = select(indices / 2, indices, ==);",
            // Tokens and positions: the values at two positions never meet.
            "sel = select(tokens + indices / 100, tokens, ==);",
            "sel = select(indices * 10 + tokens, 7, ==);",
            // A token looked up at a computed position.
            "m = aggregate(select(tokens, tokens, >), 1, 0) == 0;\n\
             p = aggregate(select(m, True, ==), indices);\n\
             sel = select(indices, p, ==);",
            // Ranks: the widths of strict orders of the positions.
            "k = tokens + indices / 100;\n\
             sel = select(selector_width(select(k, k, <)), indices, ==);",
            "sel = select(selector_width(select(indices, indices, >=)), indices, ==);",
            "sel = select(selector_width(select(tokens, tokens, <) or \
             (select(tokens, tokens, ==) and select(indices, indices, <))), indices, ==);",
            "sel = select(selector_width((select(indices, indices, >) and select(tokens, tokens, ==)) \
             or select(tokens, tokens, >)), tokens, ==);",
            // `and` with such a conjunct; `not not`.
            "sel = select(indices, indices - 1, ==) and select(tokens, tokens, <);",
            "sel = select(tokens, tokens, ==) and select(indices, 2, ==);",
            "sel = not (not select(indices, 1, ==));",
            // Never selects.
            "sel = select(1, 2, ==);",
        ] {
            assert!(one(src, 8), "{src}");
        }
    }

    #[test]
    fn selectors_that_may_select_several_keys() {
        for src in [
            "sel = select(tokens, tokens, ==);",
            "sel = select(indices, indices, <=);",
            "sel = select(indices, 1, !=);",
            "sel = select(indices % 3, indices, ==);",
            "sel = select(indices - indices, indices, ==);",
            "sel = select(indices, indices, ==) or select(indices, 0, ==);",
            "sel = not select(indices, 0, ==);",
            "sel = select(tokens, tokens, ==) and select(indices, indices, <);",
            "sel = select(1, 1, ==);",
            // Key and query swapped: queries unique, keys not.
            "sel = select(tokens, indices, ==);",
            // Not injective at length 4.
            "sel = select(indices * length % 4, indices, ==);",
            // 1 and 1.0 and True are one value.
            "sel = select([1, 1.0, 2, 3, 4, 5, 6, 7][indices], indices, ==);",
            "sel = select([True, 1, 2, 3, 4, 5, 6, 7][indices], indices, ==);",
            // Tokens and positions that meet: 1 + 2 == 2 + 1.
            "sel = select(tokens + indices, 3, ==);",
            "sel = select(tokens + indices / 2, 3, ==);",
            // Widths of orders that tie: equal tokens have one rank.
            "sel = select(selector_width(select(tokens, tokens, <)), indices, ==);",
            "sel = select(selector_width(select(tokens, tokens, <) or \
             (select(tokens, tokens, ==) and select(tokens, tokens, <))), indices, ==);",
            "sel = select(selector_width(select(tokens, tokens, <) or \
             (select(tokens, tokens, ==) and select(indices % 2, indices % 2, <))), indices, ==);",
            "sel = select(selector_width(select(indices, indices, ==)), indices, ==);",
            // A mean is not a width of an order.
            "sel = select(aggregate(select(indices, indices, <=), indices), indices, ==);",
        ] {
            assert!(!one(src, 8), "{src}");
        }
        // Not unique beyond length 4 (`indices % 4`), but unique up to it.
        assert!(one("sel = select(indices % 4, indices, ==);", 4));
        assert!(!one("sel = select(indices % 4, indices, ==);", 5));
        // `tokens + indices / 10` meets itself from length 11 on.
        assert!(one("sel = select(tokens + indices / 10, 3, ==);", 10));
        assert!(!one("sel = select(tokens + indices / 10, 3, ==);", 11));
        // At most one position: every selector.
        assert!(one("sel = select(tokens, tokens, ==);", 1));
    }

    #[test]
    fn numbers_compare_by_value_and_nan_matches_nothing() {
        let key = |v: Value| eq_key(&v);
        assert!(key(Value::Int(1)) == key(Value::Float(1.0)));
        assert!(key(Value::Bool(true)) == key(Value::Int(1)));
        assert!(key(Value::Float(0.0)) == key(Value::Float(-0.0)));
        assert!(key(Value::Int(1)) != key(Value::str("1")));
        assert!(key(Value::Float(f64::NAN)).is_none());
        // Ints beyond 2^53 that round to one float count as equal (an int
        // and a float compare by float value, so a query could match both).
        let big = 1i64 << 53;
        assert!(key(Value::Int(big)) == key(Value::Int(big + 1)));
    }
}
