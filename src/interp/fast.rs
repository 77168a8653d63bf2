//! Aggregates and selector widths in O(n log n) instead of O(n²), for the
//! selectors whose rows are blocks of the keys in sorted order:
//!
//! - `select(k, q, ==)`: the keys equal to the query;
//! - `select(k, q, <)` (and `<=`, `>`, `>=`): a prefix or suffix of the keys
//!   sorted;
//! - `select(k, k, <) or (select(k, k, ==) and select(t, t, <))` (and the
//!   same with `>`): pairs `(k, t)` compared lexicographically, the stdlib
//!   `sort`'s order.
//!
//! Keys and queries must be ints (bools count as ints) or strings on both
//! sides, where the comparison is a total order and `value::compare`
//! agrees with it.
//!
//! Query q selects the block `a..b` of the sorted keys that a binary search
//! finds (`Fast::span`). Bidirectional, every key of it counts: the width is
//! `b - a`, a block of one is the key `order[a]`, a sum is a difference of
//! prefix sums. Causal, only the keys at positions 0..=q count: a `Cursor`
//! walks the queries in order and inserts key q (at its place in the sorted
//! order) into Fenwick trees of counts and of int sums before it answers
//! query q, an offline dominance count in O(log n) per query; a block of
//! one is found by a descent of the count tree.
//!
//! The values are the general path's, bit for bit: a mean of ints is summed
//! exactly whatever the order; a mean of floats, which Python sums in key
//! order, and a mean of non-numbers (an error) fall back to the general
//! row.

use std::ops::{AddAssign, Sub};

use super::{Column, Semantics, SeqType};
use crate::ir::value::Value;
use crate::ir::{Graph, NodeId, Op};
use crate::syntax::ast::CmpOp;

/// Below this length the general path is as fast.
pub const MIN_LEN: usize = 48;

/// A totally ordered key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key<'a> {
    Int(i64),
    Str(&'a str),
}

/// A column's keys, when it is all ints (or bools) or all strings.
fn keys(col: &Column) -> Option<Vec<Key<'_>>> {
    match col.ty {
        SeqType::Ints | SeqType::Bools => col
            .values
            .iter()
            .map(|v| v.as_int().map(Key::Int))
            .collect(),
        SeqType::Strings => col
            .values
            .iter()
            .map(|v| match v {
                Value::Str(s) => Some(Key::Str(s.as_ref())),
                _ => None,
            })
            .collect(),
        SeqType::Floats => None,
    }
}

/// Keys and queries of one kind (ints with ints, strings with strings).
fn same_kind(a: &[Key<'_>], b: &[Key<'_>]) -> bool {
    let kind = |k: &Key<'_>| matches!(k, Key::Int(_));
    match (a.first(), b.first()) {
        (Some(x), Some(y)) => kind(x) == kind(y),
        _ => true,
    }
}

/// The key positions in key order (ties by position), and the keys in
/// that order.
fn sort_keys<T: Ord + Clone>(keys: &[T]) -> (Vec<usize>, Vec<T>) {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|a, b| keys[*a].cmp(&keys[*b]));
    let sorted = order.iter().map(|&i| keys[i].clone()).collect();
    (order, sorted)
}

/// A selector whose rows this module can count and aggregate.
pub enum Fast<'a> {
    /// `keys cmp queries`.
    Range {
        cmp: CmpOp,
        queries: Vec<Key<'a>>,
        /// Key positions by key (ascending, ties by position), and the keys
        /// in that order: every selected set is a block of it.
        order: Vec<usize>,
        sorted: Vec<Key<'a>>,
    },
    /// `(k, t) < (k_q, t_q)` lexicographically (or `>` when `descending`).
    Pairs {
        pairs: Vec<(Key<'a>, Key<'a>)>,
        /// As for `Range`.
        order: Vec<usize>,
        sorted: Vec<(Key<'a>, Key<'a>)>,
        descending: bool,
    },
}

impl<'a> Fast<'a> {
    /// The fast form of `sel`, if it has one; `col` gives the computed
    /// columns.
    pub fn new(
        graph: &Graph,
        sel: NodeId,
        col: &impl Fn(NodeId) -> &'a Column,
    ) -> Option<Fast<'a>> {
        match graph.op(sel) {
            Op::Select {
                keys: k,
                queries: q,
                cmp,
            } if *cmp != CmpOp::Ne => {
                let ks = keys(col(*k))?;
                let qs = keys(col(*q))?;
                if !same_kind(&ks, &qs) {
                    return None;
                }
                let (order, sorted) = sort_keys(&ks);
                Some(Fast::Range {
                    cmp: *cmp,
                    queries: qs,
                    order,
                    sorted,
                })
            }
            Op::SelOr(a, b) => {
                let (strict, tie) = [(a, b), (b, a)]
                    .into_iter()
                    .find(|(x, _)| matches!(graph.op(**x), Op::Select { .. }))?;
                let Op::Select {
                    keys: k,
                    queries: kq,
                    cmp,
                } = graph.op(*strict)
                else {
                    return None;
                };
                if k != kq || !matches!(cmp, CmpOp::Lt | CmpOp::Gt) {
                    return None;
                }
                let Op::SelAnd(x, y) = graph.op(*tie) else {
                    return None;
                };
                let leaf = |n: NodeId| match graph.op(n) {
                    Op::Select { keys, queries, cmp } if keys == queries => Some((*keys, *cmp)),
                    _ => None,
                };
                let (l1, l2) = (leaf(*x)?, leaf(*y)?);
                let (eq, minor) = if l1 == (*k, CmpOp::Eq) {
                    (l1, l2)
                } else if l2 == (*k, CmpOp::Eq) {
                    (l2, l1)
                } else {
                    return None;
                };
                if eq.0 != *k || minor.1 != *cmp {
                    return None;
                }
                let major = keys(col(*k))?;
                let minor_keys = keys(col(minor.0))?;
                if !same_kind(&major, &major) || !same_kind(&minor_keys, &minor_keys) {
                    return None;
                }
                let pairs: Vec<(Key<'a>, Key<'a>)> = major.into_iter().zip(minor_keys).collect();
                let (order, sorted) = sort_keys(&pairs);
                Some(Fast::Pairs {
                    pairs,
                    order,
                    sorted,
                    descending: *cmp == CmpOp::Gt,
                })
            }
            _ => None,
        }
    }

    /// Key positions in sorted key order.
    fn order(&self) -> &[usize] {
        match self {
            Fast::Range { order, .. } | Fast::Pairs { order, .. } => order,
        }
    }

    /// The block `a..b` of `order` holding the keys that query `q` selects
    /// when it sees every key.
    fn span(&self, q: usize) -> (usize, usize) {
        match self {
            Fast::Range {
                cmp,
                queries,
                sorted,
                ..
            } => {
                let y = &queries[q];
                let lo = sorted.partition_point(|k| k < y);
                let hi = sorted.partition_point(|k| k <= y);
                match cmp {
                    CmpOp::Eq => (lo, hi),
                    CmpOp::Lt => (0, lo),
                    CmpOp::Le => (0, hi),
                    CmpOp::Gt => (hi, sorted.len()),
                    CmpOp::Ge => (lo, sorted.len()),
                    CmpOp::Ne => unreachable!("`!=` has no fast form"),
                }
            }
            Fast::Pairs {
                pairs,
                sorted,
                descending,
                ..
            } => {
                let y = &pairs[q];
                if *descending {
                    (sorted.partition_point(|p| p <= y), sorted.len())
                } else {
                    (0, sorted.partition_point(|p| p < y))
                }
            }
        }
    }

    /// A cursor answering this selector's widths, and with `vals` its
    /// aggregates of `vals`, under `sem`. Causal queries must be asked in
    /// increasing order.
    pub fn cursor<'f>(&'f self, sem: Semantics, vals: Option<&'f Column>) -> Cursor<'f, 'a> {
        let order = self.order();
        // Bools are not numbers to a mean (the general path's error), and
        // floats are summed in key order: sums only of ints.
        let ints = vals.filter(|v| v.ty == SeqType::Ints);
        let seen = match sem {
            Semantics::Bidirectional => Seen::All {
                sums: ints.map(|v| {
                    let mut acc = 0i128;
                    let mut out = Vec::with_capacity(order.len() + 1);
                    out.push(0);
                    for &p in order {
                        acc += int(&v.values[p]);
                        out.push(acc);
                    }
                    out
                }),
            },
            Semantics::Causal => {
                let mut slot = vec![0; order.len()];
                for (s, &p) in order.iter().enumerate() {
                    slot[p] = s;
                }
                Seen::Prefix {
                    next: 0,
                    slot,
                    counts: Fenwick::new(order.len()),
                    sums: ints.map(|_| Fenwick::new(order.len())),
                }
            }
        };
        Cursor {
            fast: self,
            vals,
            seen,
        }
    }
}

/// An int (or bool) value, for a sum.
fn int(v: &Value) -> i128 {
    i128::from(v.as_int().unwrap_or(0))
}

/// One selector's widths and aggregates, query by query.
pub struct Cursor<'f, 'a> {
    fast: &'f Fast<'a>,
    /// The aggregated values (none for widths only).
    vals: Option<&'f Column>,
    seen: Seen,
}

/// The keys the current query sees, by slot (place in `order`).
enum Seen {
    /// All of them; the prefix sums of the int values in slot order (none
    /// unless the values are ints).
    All { sums: Option<Vec<i128>> },
    /// Those at positions `0..next`: `slot[p]` is position p's slot, the
    /// trees count and sum (ints only) the keys inserted so far by slot.
    Prefix {
        next: usize,
        slot: Vec<usize>,
        counts: Fenwick<usize>,
        sums: Option<Fenwick<i128>>,
    },
}

impl Cursor<'_, '_> {
    /// Insert the keys up to position `q` (causal only).
    fn advance(&mut self, q: usize) {
        let vals = self.vals;
        if let Seen::Prefix {
            next,
            slot,
            counts,
            sums,
        } = &mut self.seen
        {
            assert!(
                q + 1 >= *next,
                "fast-path invariant: causal queries are asked in increasing order"
            );
            while *next <= q {
                let s = slot[*next];
                counts.add(s, 1);
                if let (Some(sums), Some(v)) = (sums.as_mut(), vals) {
                    sums.add(s, int(&v.values[*next]));
                }
                *next += 1;
            }
        }
    }

    /// How many seen keys the slots `a..b` hold.
    fn count(&self, a: usize, b: usize) -> usize {
        match &self.seen {
            Seen::All { .. } => b - a,
            Seen::Prefix { counts, .. } => counts.range(a, b),
        }
    }

    /// The sum of the int values of the seen keys in slots `a..b`.
    fn sum(&self, a: usize, b: usize) -> Option<i128> {
        match &self.seen {
            Seen::All { sums } => sums.as_ref().map(|s| s[b] - s[a]),
            Seen::Prefix { sums, .. } => sums.as_ref().map(|s| s.range(a, b)),
        }
    }

    /// The first slot at or after `a` holding a seen key (there is one).
    fn first(&self, a: usize) -> usize {
        match &self.seen {
            Seen::All { .. } => a,
            Seen::Prefix { counts, .. } => counts.kth(counts.prefix(a) + 1),
        }
    }

    /// How many keys query `q` selects.
    pub fn width(&mut self, q: usize) -> usize {
        self.advance(q);
        let (a, b) = self.fast.span(q);
        self.count(a, b)
    }

    /// The aggregate at query `q`, when it needs no float sum in key order
    /// and is no error: `Some(value)`, else `None` (use the general row).
    pub fn aggregate(&mut self, q: usize, default: &Value) -> Option<Value> {
        let vals = self
            .vals
            .expect("fast-path invariant: an aggregate's cursor has its values");
        self.advance(q);
        let (a, b) = self.fast.span(q);
        match self.count(a, b) {
            0 => Some(default.clone()),
            1 => Some(vals.values[self.fast.order()[self.first(a)]].clone()),
            count => {
                let sum = self.sum(a, b)?;
                Some(Value::Float(sum as f64 / count as f64))
            }
        }
    }
}

/// A Fenwick (binary indexed) tree over slots `0..n`: add at a slot, sum
/// of a prefix, in O(log n).
struct Fenwick<T> {
    /// 1-based: `tree[i]` sums the slots `i - lowbit(i)..i`.
    tree: Vec<T>,
}

impl<T: Copy + Default + AddAssign + Sub<Output = T>> Fenwick<T> {
    fn new(n: usize) -> Fenwick<T> {
        Fenwick {
            tree: vec![T::default(); n + 1],
        }
    }

    fn add(&mut self, slot: usize, v: T) {
        let mut i = slot + 1;
        while i < self.tree.len() {
            self.tree[i] += v;
            i += i & i.wrapping_neg();
        }
    }

    /// The sum of slots `0..end`.
    fn prefix(&self, end: usize) -> T {
        let mut acc = T::default();
        let mut i = end;
        while i > 0 {
            acc += self.tree[i];
            i &= i - 1;
        }
        acc
    }

    /// The sum of slots `a..b`.
    fn range(&self, a: usize, b: usize) -> T {
        self.prefix(b) - self.prefix(a)
    }
}

impl Fenwick<usize> {
    /// The slot of the `k`-th counted item (from 1) in slot order, for a
    /// tree of non-negative counts holding at least `k`.
    fn kth(&self, k: usize) -> usize {
        let n = self.tree.len() - 1;
        let mut k = k;
        // The largest `pos` whose prefix holds fewer than `k`: the k-th is
        // at slot `pos`.
        let mut pos = 0;
        let mut step = n.checked_ilog2().map_or(0, |l| 1usize << l);
        while step > 0 {
            if pos + step <= n && self.tree[pos + step] < k {
                pos += step;
                k -= self.tree[pos];
            }
            step >>= 1;
        }
        pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fenwick_sums_and_kth_agree_with_a_plain_array() {
        for n in [1usize, 2, 5, 8, 13, 64, 100] {
            let mut tree = Fenwick::<usize>::new(n);
            let mut plain = vec![0usize; n];
            let mut x = n as u64;
            for step in 0..3 * n {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let slot = (x >> 33) as usize % n;
                let add = step % 3;
                tree.add(slot, add);
                plain[slot] += add;
                for a in 0..=n {
                    assert_eq!(tree.prefix(a), plain[..a].iter().sum::<usize>());
                    let b = (a + step) % (n + 1);
                    if a <= b {
                        assert_eq!(tree.range(a, b), plain[a..b].iter().sum::<usize>());
                    }
                }
                let total: usize = plain.iter().sum();
                for k in 1..=total {
                    // The slot where the running count first reaches k.
                    let mut run = 0;
                    let want = plain
                        .iter()
                        .position(|c| {
                            run += c;
                            run >= k
                        })
                        .expect("k is at most the total");
                    assert_eq!(tree.kth(k), want, "n = {n}, k = {k}");
                }
            }
        }
    }

    /// Pseudo-random ints in `0..m`.
    fn random(n: usize, m: u64, seed: u64) -> Vec<i64> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((x >> 33) % m) as i64
            })
            .collect()
    }

    /// Every query's width and aggregate by the cursor and by brute force
    /// over `selected(q, k)`, for keys 0..n or, causal, 0..=q.
    fn check(fast: &Fast<'_>, n: usize, selected: impl Fn(usize, usize) -> bool, what: &str) {
        let ints = Column {
            values: random(n, 1000, 7)
                .into_iter()
                .map(|x| Value::Int(i64::MAX / 1000 * x))
                .collect(),
            ty: SeqType::Ints,
        };
        let strs = Column {
            values: (0..n).map(|i| Value::str(&i.to_string())).collect(),
            ty: SeqType::Strings,
        };
        let default = Value::Int(-1);
        for sem in [Semantics::Bidirectional, Semantics::Causal] {
            let mut widths = fast.cursor(sem, None);
            let mut means = fast.cursor(sem, Some(&ints));
            let mut picks = fast.cursor(sem, Some(&strs));
            for q in 0..n {
                let keys: Vec<usize> = (0..sem.keys(q, n)).filter(|&k| selected(q, k)).collect();
                let at = format!("{what}, {}, q = {q}", sem.name());
                assert_eq!(widths.width(q), keys.len(), "{at}");
                let sum: i128 = keys
                    .iter()
                    .map(|&k| i128::from(ints.values[k].as_int().unwrap_or(0)))
                    .sum();
                let (mean, pick) = match keys.as_slice() {
                    [] => (Some(default.clone()), Some(default.clone())),
                    [k] => (Some(ints.values[*k].clone()), Some(strs.values[*k].clone())),
                    ks => (Some(Value::Float(sum as f64 / ks.len() as f64)), None),
                };
                assert_eq!(means.aggregate(q, &default), mean, "{at}");
                assert_eq!(picks.aggregate(q, &default), pick, "{at}");
            }
        }
    }

    #[test]
    fn cursors_agree_with_brute_force() {
        for (n, m) in [(1, 3), (2, 2), (17, 4), (60, 7), (60, 1000), (130, 2)] {
            let ks = random(n, m, n as u64);
            let qs = random(n, m, m);
            let keys: Vec<Key<'_>> = ks.iter().map(|&k| Key::Int(k)).collect();
            for cmp in [CmpOp::Eq, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge] {
                let (order, sorted) = sort_keys(&keys);
                let fast = Fast::Range {
                    cmp,
                    queries: qs.iter().map(|&q| Key::Int(q)).collect(),
                    order,
                    sorted,
                };
                let selected = |q: usize, k: usize| {
                    let (x, y) = (ks[k], qs[q]);
                    match cmp {
                        CmpOp::Eq => x == y,
                        CmpOp::Lt => x < y,
                        CmpOp::Le => x <= y,
                        CmpOp::Gt => x > y,
                        CmpOp::Ge => x >= y,
                        CmpOp::Ne => x != y,
                    }
                };
                check(&fast, n, selected, &format!("{cmp:?}, n = {n}, m = {m}"));
            }
            let minor = random(n, m, 3);
            let pairs: Vec<(Key<'_>, Key<'_>)> = ks
                .iter()
                .zip(&minor)
                .map(|(&k, &t)| (Key::Int(k), Key::Int(t)))
                .collect();
            for descending in [false, true] {
                let (order, sorted) = sort_keys(&pairs);
                let fast = Fast::Pairs {
                    pairs: pairs.clone(),
                    order,
                    sorted,
                    descending,
                };
                let selected = |q: usize, k: usize| {
                    let (x, y) = ((ks[k], minor[k]), (ks[q], minor[q]));
                    if descending { x > y } else { x < y }
                };
                check(&fast, n, selected, &format!("pairs, n = {n}, m = {m}"));
            }
        }
    }

    #[test]
    fn fenwick_of_signed_sums() {
        let mut tree = Fenwick::<i128>::new(4);
        tree.add(0, -5);
        tree.add(3, i128::from(i64::MAX));
        tree.add(3, i128::from(i64::MAX));
        tree.add(1, 2);
        assert_eq!(tree.range(0, 2), -3);
        assert_eq!(tree.range(1, 4), 2 + 2 * i128::from(i64::MAX));
        assert_eq!(tree.range(2, 3), 0);
    }
}
