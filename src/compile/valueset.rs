//! Value sets: the finite set of values every s-op can take, over all inputs
//! of length 1..=N drawn from the vocabulary (design.md 2.1).
//!
//! The sets are over-approximations computed bottom-up (a map's set is the
//! image of the product of its arguments' sets), so the compiled blocks are
//! exact on every reachable input. Combinations on which a map fails are
//! left out: an input that reaches them fails in the interpreter too.

use std::collections::{BTreeMap, HashSet};

use crate::ir::hash::Words;

use crate::diag::limits::Limit;
use crate::diag::{Diag, codes};
use crate::ir::value::Value;
pub use crate::ir::value::value_order;
use crate::ir::{Graph, NodeId, Op};

/// Largest argument product a map's value set is computed over.
pub const MAX_PRODUCT: usize = 1 << 20;
/// Largest value set kept for a mean (beyond it the set is `Unbounded`).
pub const MAX_MEANS: usize = 200_000;
/// Most sums one step of a mean's value-set enumeration may compute
/// (beyond it the set is `Unbounded`, like a set too large to keep).
pub const MAX_MEAN_WORK: usize = 4_000_000;

/// The values of one s-op.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueSet {
    /// Sorted (numbers by value, then strings), structurally distinct.
    Finite(Vec<Value>),
    /// A numerical mean whose set of reachable values is too large to
    /// enumerate: it can be computed, but not turned into a table.
    Unbounded { reason: String },
}

impl ValueSet {
    pub fn values(&self) -> Option<&[Value]> {
        match self {
            ValueSet::Finite(v) => Some(v),
            ValueSet::Unbounded { .. } => None,
        }
    }

    pub fn len(&self) -> Option<usize> {
        self.values().map(<[Value]>::len)
    }

    /// Whether the set is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// Whether every value is a number (bools count only alongside
    /// numbers, as in the original's sequence types).
    pub fn is_numeric(&self) -> bool {
        match self {
            ValueSet::Finite(v) => {
                !v.is_empty()
                    && v.iter().all(Value::is_number)
                    && v.iter().any(|x| !matches!(x, Value::Bool(_)))
            }
            ValueSet::Unbounded { .. } => true,
        }
    }
}

/// Where `v` is in a value set: the same value, or a float within a
/// relative 1e-12 of it (the set keeps one of two roundings of a number).
pub fn index_of(vals: &[Value], v: &Value) -> Option<usize> {
    vals.iter().position(|x| x.same(v)).or_else(|| match v {
        Value::Float(y) => vals.iter().position(|x| match x {
            Value::Float(x) => (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
            _ => false,
        }),
        _ => None,
    })
}

/// A sorted set of structurally distinct values. Two roundings of one
/// number (`-2.5` and `-2.5000000000000004`) stay two values: a consumer
/// may tell them apart (`round`, `==`), so merging them could give a wrong
/// model; a consumer that cannot needs no threshold between them.
fn finite(mut v: Vec<Value>) -> ValueSet {
    v.sort_by(value_order);
    v.dedup_by(|a, b| a.same(b));
    ValueSet::Finite(v)
}

/// Longest inputs for which positional s-ops are evaluated length by
/// length (an input per length: cubic work in the length at worst).
const POSITIONAL_MAX_LEN: usize = 512;

/// The exact values of every positional aggregate (one that reads no
/// tokens: a mean of positions, `length` and constants over a selector of
/// them, such as `aggregate(select(indices, indices, <=), indices)`): its
/// value at a position depends on the length alone, so evaluating it on
/// one input of each length gives every value it takes, where a rule over
/// value sets gives every mean of its values. Lengths on which it fails
/// add nothing (every input of that length fails). Empty beyond
/// [`POSITIONAL_MAX_LEN`].
fn positional_values(
    graph: &Graph,
    targets: &[NodeId],
    domain: &Domain,
) -> BTreeMap<NodeId, Vec<Value>> {
    let mut out = BTreeMap::new();
    let Some(token) = domain.vocab.first() else {
        return out;
    };
    if domain.max_len > POSITIONAL_MAX_LEN {
        return out;
    }
    let order = graph.ancestors(targets);
    let mut reads_tokens: BTreeMap<NodeId, bool> = BTreeMap::new();
    let mut wanted = Vec::new();
    for &id in &order {
        let op = graph.op(id);
        let tokens = matches!(op, Op::Tokens(_))
            || op
                .inputs()
                .iter()
                .any(|a| reads_tokens.get(a).copied().unwrap_or(true));
        reads_tokens.insert(id, tokens);
        if !tokens && matches!(op, Op::Aggregate { .. }) {
            wanted.push(id);
        }
    }
    if wanted.is_empty() {
        return out;
    }
    let sem = if domain.causal {
        crate::interp::Semantics::Causal
    } else {
        crate::interp::Semantics::Bidirectional
    };
    let mut eval = crate::interp::Evaluator::new(graph, &wanted).semantics(sem);
    let mut found: Vec<Vec<Value>> = vec![Vec::new(); wanted.len()];
    for len in 1..=domain.max_len {
        let input = vec![token.clone(); len];
        // A length whose input fails adds nothing: every input fails there.
        if let Ok(outs) = eval.run(&input, None) {
            for (f, o) in found.iter_mut().zip(outs) {
                if let crate::interp::Output::Sop(col) = o {
                    f.extend(col.values);
                }
            }
        }
    }
    for (id, vals) in wanted.into_iter().zip(found) {
        out.insert(id, vals);
    }
    out
}

/// What the value sets are computed for.
#[derive(Clone, Debug)]
pub struct Domain {
    /// The raw input tokens (before any `tokens_*` conversion).
    pub vocab: Vec<Value>,
    pub max_len: usize,
    /// Causal semantics (each position sees the positions up to it): the
    /// value sets are the same (a position's causal value is a value of
    /// its prefix), but which selectors select one key is not.
    pub causal: bool,
}

/// Infer the value set of every ancestor of `targets`. When `lenient`,
/// sets too large to compute are `Unbounded` instead of an error (for a
/// first look at a program the rewrites may still simplify).
///
/// The plain selects that rewritten selectors are equivalent to
/// ([`Graph::equivalent`]) are read by the selector analyses
/// (`onekey`), so their s-ops get value sets too, first and leniently
/// (nothing but those analyses reads them).
pub fn infer(
    graph: &Graph,
    targets: &[NodeId],
    domain: &Domain,
    lenient: bool,
) -> Result<BTreeMap<NodeId, ValueSet>, Diag> {
    let plain: Vec<NodeId> = graph.equivalents().map(|(_, p)| p).collect();
    let seed = if plain.is_empty() {
        BTreeMap::new()
    } else {
        infer_from(graph, &plain, domain, true, BTreeMap::new()).unwrap_or_default()
    };
    infer_from(graph, targets, domain, lenient, seed)
}

/// [`infer`], starting from the sets of `seed`.
fn infer_from(
    graph: &Graph,
    targets: &[NodeId],
    domain: &Domain,
    lenient: bool,
    seed: BTreeMap<NodeId, ValueSet>,
) -> Result<BTreeMap<NodeId, ValueSet>, Diag> {
    let n = domain.max_len;
    let mut sets: BTreeMap<NodeId, ValueSet> = seed;
    let exact = positional_values(graph, targets, domain);
    for id in graph.ancestors(targets) {
        let node = graph.node(id);
        let at = |d: Diag| match node.span {
            Some(s) => d.at(s),
            None => d,
        };
        let set = match &node.op {
            Op::Tokens(kind) => {
                let mut out = Vec::with_capacity(domain.vocab.len());
                for t in &domain.vocab {
                    let v = kind.convert(t);
                    out.push(v.map_err(|e| {
                        at(Diag::error(
                            codes::COMPILE_VALUES,
                            format!(
                                "{} cannot convert the vocab token {}: {}",
                                kind.name(),
                                t.repr(),
                                e.message
                            ),
                        )
                        .help("every vocab token must be valid input for the program"))
                    })?);
                }
                finite(out)
            }
            Op::Indices => finite(ints(0..n, "the values of indices").map_err(at)?),
            Op::Length => finite(ints(1..n + 1, "the values of length").map_err(at)?),
            Op::Const(v) => finite(vec![v.clone()]),
            Op::Map { expr, args } => {
                // An affine map of numbers needs no table: when its
                // arguments' values are too many to combine, its own are
                // unbounded (fine for a number that is only computed).
                let numeric_affine = super::rewrite::is_affine(expr)
                    && !args.is_empty()
                    && args.iter().all(|a| sets[a].is_numeric());
                let unbounded = |why: String| ValueSet::Unbounded { reason: why };
                let mut arg_sets: Vec<&[Value]> = Vec::with_capacity(args.len());
                let mut too_many = None;
                for a in args {
                    match sets[a].values() {
                        Some(v) => arg_sets.push(v),
                        None => {
                            too_many = Some(format!(
                                "it reads `{}`, whose values are too many",
                                graph.label(*a)
                            ))
                        }
                    }
                }
                let product = arg_sets
                    .iter()
                    .try_fold(1usize, |acc, s| acc.checked_mul(s.len()));
                if too_many.is_none() && product.is_none_or(|p| p > MAX_PRODUCT) {
                    too_many = Some(format!(
                        "it combines {} value sets whose product is over {MAX_PRODUCT}",
                        arg_sets.len()
                    ));
                }
                if let Some(why) = too_many {
                    if numeric_affine || lenient {
                        sets.insert(id, unbounded(why));
                        continue;
                    }
                    return Err(at(Diag::error(
                        codes::COMPILE_VALUES,
                        format!(
                            "the values of the elementwise operation `{}` cannot be tabulated: {why}",
                            graph.label(id)
                        ),
                    )
                    .help("use a smaller vocab or max length")));
                }
                let mut out = Vec::new();
                let mut seen: HashSet<Value> = HashSet::new();
                // The strings of the set count against the size limit
                // (each is within it: `ir::value` makes no larger one).
                let mut bytes = 0u128;
                let mut over = false;
                for_each_combination(&arg_sets, |combo| {
                    if over {
                        return;
                    }
                    if let Ok(v) = expr.eval(combo)
                        && seen.insert(v.clone())
                    {
                        if let Value::Str(s) = &v {
                            bytes += s.len() as u128;
                            over = !Limit::Size.allows(bytes);
                        }
                        out.push(v);
                    }
                });
                if over {
                    return Err(at(Limit::Size.exceeded(format!(
                        "the values `{}` can take hold {bytes} bytes of strings (and more)",
                        graph.label(id)
                    ))));
                }
                if out.is_empty() && !lenient {
                    return Err(at(Diag::error(
                        codes::COMPILE_VALUES,
                        format!(
                            "`{}` fails on every combination of its inputs' values",
                            graph.label(id)
                        ),
                    )));
                }
                finite(out)
            }
            Op::Aggregate {
                sel,
                values,
                default,
            } => {
                let vals = &sets[values];
                // A mean of several keys, or (one key at most, or no mean
                // possible) the values themselves and the default.
                let selection = vals.is_numeric().then(|| {
                    super::onekey::selection(graph, *sel, *values, &sets, n, domain.causal)
                });
                let mean = selection.is_some_and(|s| !s.at_most_one);
                if !mean {
                    match vals.values() {
                        Some(v) => {
                            let mut v = v.to_vec();
                            v.push(default.clone());
                            finite(v)
                        }
                        None => vals.clone(),
                    }
                } else if let Some(v) = exact.get(&id) {
                    // A mean of positions: the values it takes, and the
                    // default (which the head writes through BOS).
                    let mut v = v.clone();
                    v.push(default.clone());
                    finite(v)
                } else {
                    // How many keys a mean averages at most; keys that all
                    // hold one value average to it, a float.
                    let most = selection.and_then(|s| s.most).unwrap_or(n);
                    let equal = selection.is_some_and(|s| s.same_values);
                    match vals
                        .values()
                        .filter(|_| equal)
                        .and_then(|v| equal_means(v, most))
                    {
                        Some(mut v) => {
                            v.push(default.clone());
                            finite(v)
                        }
                        None => means(vals, default, most),
                    }
                }
            }
            Op::SelectorWidth(_) => {
                finite(ints(0..n + 1, "the values of a selector width").map_err(at)?)
            }
            Op::Select { .. } | Op::SelAnd(..) | Op::SelOr(..) | Op::SelNot(_) => continue,
        };
        // NaN and the infinities: f32 weights do not compute them, and
        // `rasp.json` (JSON numbers) cannot list them.
        if let Some(v) = set.values().and_then(|vs| {
            vs.iter()
                .find(|v| matches!(v, Value::Float(f) if !f.is_finite()))
        }) {
            return Err(at(Diag::error(
                codes::COMPILE_VALUES,
                format!(
                    "`{}` takes the value {}, which a compiled model cannot compute (its weights and files hold finite numbers)",
                    graph.label(id),
                    v.repr()
                ),
            )
            .help("keep the values finite (a float overflowing to inf, 0 * inf or inf - inf gives nan); the interpreter (`rasp eval`) computes them")));
        }
        sets.insert(id, set);
    }
    Ok(sets)
}

/// The ints of `range`, for `what`, within the memory limit.
fn ints(range: std::ops::Range<usize>, what: &str) -> Result<Vec<Value>, Diag> {
    let mut v = crate::diag::limits::vec_with_capacity(range.len(), what)?;
    v.extend(range.map(|i| Value::Int(i as i64)));
    Ok(v)
}

/// Every combination of one value per argument.
fn for_each_combination(sets: &[&[Value]], mut f: impl FnMut(&[&Value])) {
    let sizes: Vec<usize> = sets.iter().map(|s| s.len()).collect();
    for_each_index(&sizes, |idx| {
        let combo: Vec<&Value> = idx.iter().zip(sets).map(|(i, s)| &s[*i]).collect();
        f(&combo);
    });
}

/// Every tuple of one value from each list, the last list varying
/// fastest (the order of product one-hots' dims).
pub fn tuples(lists: &[&[Value]]) -> Vec<Vec<Value>> {
    let mut out: Vec<Vec<Value>> = vec![Vec::new()];
    for vals in lists {
        out = out
            .iter()
            .flat_map(|t| {
                vals.iter().map(move |v| {
                    let mut t = t.clone();
                    t.push(v.clone());
                    t
                })
            })
            .collect();
    }
    out
}

/// Every tuple of indices `idx` with `idx[k] < sizes[k]`, last index
/// fastest (nothing when a size is 0; one empty tuple when there are none).
pub fn for_each_index(sizes: &[usize], mut f: impl FnMut(&[usize])) {
    if sizes.contains(&0) {
        return;
    }
    let mut idx = vec![0usize; sizes.len()];
    loop {
        f(&idx);
        let mut k = sizes.len();
        loop {
            if k == 0 {
                return;
            }
            k -= 1;
            idx[k] += 1;
            if idx[k] < sizes[k] {
                break;
            }
            idx[k] = 0;
        }
    }
}

/// An exact rational `p / q` (q > 0, in lowest terms).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ratio {
    pub p: i128,
    pub q: i128,
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Largest denominator a float is read back as.
const MAX_DENOMINATOR: i128 = 1 << 24;

impl Ratio {
    pub fn new(p: i128, q: i128) -> Option<Ratio> {
        if q == 0 {
            return None;
        }
        let g = gcd(p, q).max(1);
        let s = if q < 0 { -1 } else { 1 };
        Some(Ratio {
            p: s * p / g,
            q: s * q / g,
        })
    }

    /// The rational a value stands for: ints and bools exactly; a float
    /// as the simplest fraction (denominator at most 2^24) that rounds to
    /// it, so the float `1/3` is one third, whatever rounding produced it.
    pub fn of(v: &Value) -> Option<Ratio> {
        if let Some(i) = v.as_int() {
            return Some(Ratio { p: i as i128, q: 1 });
        }
        let x = v.as_f64()?;
        if !x.is_finite() || x.abs() > 1e15 {
            return None;
        }
        // Continued fraction convergents of x.
        let (mut h0, mut h1): (i128, i128) = (0, 1);
        let (mut k0, mut k1): (i128, i128) = (1, 0);
        let mut r = x;
        for _ in 0..64 {
            let a = r.floor();
            let ai = a as i128;
            let h2 = ai.checked_mul(h1)?.checked_add(h0)?;
            let k2 = ai.checked_mul(k1)?.checked_add(k0)?;
            if k2 > MAX_DENOMINATOR {
                return None;
            }
            if (h2 as f64) / (k2 as f64) == x {
                return Ratio::new(h2, k2);
            }
            (h0, h1, k0, k1) = (h1, h2, k1, k2);
            let frac = r - a;
            if frac == 0.0 {
                return None;
            }
            r = 1.0 / frac;
        }
        None
    }

    pub fn checked_add(self, o: Ratio) -> Option<Ratio> {
        let q = self.q.checked_mul(o.q)?;
        let p = self
            .p
            .checked_mul(o.q)?
            .checked_add(o.p.checked_mul(self.q)?)?;
        Ratio::new(p, q)
    }

    pub fn div_int(self, m: i128) -> Option<Ratio> {
        Ratio::new(self.p, self.q.checked_mul(m)?)
    }

    pub fn to_f64(self) -> f64 {
        self.p as f64 / self.q as f64
    }
}

/// The values of a numerical aggregate: the default, each value itself (one
/// key selected) and the mean of every multiset of 2..=n values.
///
/// Means are computed exactly, as rationals, whenever the values are
/// rationals (ints, bools, and floats that are simple fractions), so one
/// mean is one value however its sum was rounded; otherwise in floats.
/// The values and every mean of 2..=`n` copies of one of them, as the
/// interpreter computes it (a Python `sum` over the count, a float): an
/// int's float, exactly, below 2^53; a float where each such mean rounds
/// back to it. `None` where one does not (then its means are enumerated
/// as any others).
fn equal_means(vals: &[Value], n: usize) -> Option<Vec<Value>> {
    let mut out = vals.to_vec();
    for v in vals {
        match v {
            Value::Float(f) => {
                if vals.len().saturating_mul(n) > MAX_MEAN_WORK {
                    return None;
                }
                let mut acc = *f;
                for k in 2..=n {
                    acc += f;
                    if acc / k as f64 != *f {
                        return None;
                    }
                }
            }
            _ => {
                let i = v.as_int()?;
                let top = i128::from(i).unsigned_abs().checked_mul(n as u128)?;
                if top >= 1 << 53 {
                    return None;
                }
                let f = Value::Float(i as f64);
                if n >= 2 && !out.iter().any(|w| w.same(&f)) {
                    out.push(f);
                }
            }
        }
    }
    Some(out)
}

fn means(vals: &ValueSet, default: &Value, n: usize) -> ValueSet {
    let Some(v) = vals.values() else {
        return vals.clone();
    };
    let mut out: Vec<Value> = v.to_vec();
    out.push(default.clone());
    let too_many = || ValueSet::Unbounded {
        reason: format!("more than {MAX_MEANS} possible means, or too many to enumerate"),
    };
    let ratios: Option<Vec<Ratio>> = v.iter().map(Ratio::of).collect();
    if let Some(ratios) = ratios {
        match grid_means(&ratios, n) {
            Some(Some(found)) => {
                out.extend(found);
                return finite(out);
            }
            Some(None) => return too_many(),
            None => {} // no small common grid: sums one by one
        }
        let exact = (|| -> Option<Option<Vec<Value>>> {
            let mut sums: HashSet<Ratio, Words> = ratios.iter().copied().collect();
            let mut found = Vec::new();
            for m in 2..=n {
                if sums.len().saturating_mul(ratios.len()) > MAX_MEAN_WORK {
                    return Some(None);
                }
                let mut next = HashSet::with_capacity_and_hasher(sums.len() * 2, Words::default());
                for s in &sums {
                    for x in &ratios {
                        next.insert(s.checked_add(*x)?);
                    }
                    // Each distinct sum is a distinct mean: stop early.
                    if next.len() + out.len() > MAX_MEANS {
                        return Some(None);
                    }
                }
                for s in &next {
                    found.push(Value::Float(s.div_int(m as i128)?.to_f64()));
                }
                if found.len() + out.len() > MAX_MEANS {
                    return Some(None);
                }
                sums = next;
            }
            Some(Some(found))
        })();
        match exact {
            Some(Some(found)) => {
                out.extend(found);
                return finite(out);
            }
            Some(None) => return too_many(),
            None => {} // overflow: fall back to floats
        }
    }
    let nums: Vec<f64> = v.iter().filter_map(Value::as_f64).collect();
    let mut sums: HashSet<u64, Words> = nums.iter().map(|x| x.to_bits()).collect();
    for m in 2..=n {
        if sums.len().saturating_mul(nums.len()) > MAX_MEAN_WORK {
            return too_many();
        }
        let mut next = HashSet::with_capacity_and_hasher(sums.len() * 2, Words::default());
        for s in &sums {
            for x in &nums {
                next.insert((f64::from_bits(*s) + x).to_bits());
            }
            if next.len() + out.len() > MAX_MEANS {
                return too_many();
            }
        }
        for s in &next {
            out.push(Value::Float(f64::from_bits(*s) / m as f64));
        }
        if out.len() > MAX_MEANS {
            return too_many();
        }
        sums = next;
    }
    finite(out)
}

/// Most bits the sums of one multiset size may span on a common grid.
const MAX_GRID_BITS: usize = 1 << 26;
/// Most word operations [`grid_means`] may spend.
const MAX_GRID_WORK: usize = 1 << 26;

/// The means of every multiset of 2..=n of `ratios`, exactly, when the
/// values sit on a common grid small enough (a common denominator `d` and
/// a span `r` of grid steps with `n · r` within [`MAX_GRID_BITS`]): the
/// sums of `m` values, shifted by `m` times the smallest, are integers in
/// `0..=m·r`, one bit each, and the sums of `m` values are the sums of
/// `m - 1` shifted by each value. `None`: no such grid (or too much work);
/// `Some(None)`: more than [`MAX_MEANS`] means.
fn grid_means(ratios: &[Ratio], n: usize) -> Option<Option<Vec<Value>>> {
    let d = ratios
        .iter()
        .try_fold(1i128, |l, r| l.checked_mul(r.q / gcd(l, r.q)))?;
    if d > MAX_DENOMINATOR {
        return None;
    }
    let lo = ratios.iter().map(|r| r.p * (d / r.q)).min()?;
    let mut steps: Vec<usize> = ratios
        .iter()
        .map(|r| usize::try_from(r.p * (d / r.q) - lo).ok())
        .collect::<Option<_>>()?;
    steps.sort_unstable();
    steps.dedup();
    let span = *steps.last()?;
    let top = n.checked_mul(span)?;
    let words = |m: usize| (m * span) / 64 + 1;
    let work = (2..=n).try_fold(0usize, |a, m| {
        a.checked_add(words(m).checked_mul(steps.len())?)
    });
    if top > MAX_GRID_BITS || work.is_none_or(|w| w > MAX_GRID_WORK) {
        return None;
    }
    let mut sums = vec![0u64; words(1)];
    for s in &steps {
        sums[s / 64] |= 1 << (s % 64);
    }
    let mut seen: HashSet<Ratio, Words> = HashSet::default();
    let mut found = Vec::new();
    // Sums read back (a mean reached by several sizes is read each time).
    let mut read = 0usize;
    for m in 2..=n {
        let mut next = vec![0u64; words(m)];
        for s in &steps {
            or_shifted(&mut next, &sums, *s);
        }
        for (w, word) in next.iter().enumerate() {
            let mut bits = *word;
            while bits != 0 {
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                read += 1;
                if read > MAX_MEAN_WORK {
                    return None;
                }
                let sum = (w * 64 + b) as i128 + m as i128 * lo;
                let mean = Ratio::new(sum, d * m as i128)?;
                if seen.insert(mean) {
                    found.push(Value::Float(mean.to_f64()));
                    if found.len() > MAX_MEANS {
                        return Some(None);
                    }
                }
            }
        }
        sums = next;
    }
    Some(Some(found))
}

/// `dst |= src << shift` on bit vectors (bits beyond `dst` dropped).
fn or_shifted(dst: &mut [u64], src: &[u64], shift: usize) {
    let (words, bits) = (shift / 64, shift % 64);
    for (i, w) in src.iter().enumerate() {
        if *w == 0 {
            continue;
        }
        if let Some(d) = dst.get_mut(i + words) {
            *d |= w << bits;
        }
        if bits > 0
            && let Some(d) = dst.get_mut(i + words + 1)
        {
            *d |= w >> (64 - bits);
        }
    }
}

/// Whether a selector never selects a query's own position, whatever the
/// input (`select(x, x, <)` and anything `and`-ed with it).
pub fn irreflexive(graph: &Graph, sel: NodeId) -> bool {
    use crate::syntax::ast::CmpOp;
    match graph.op(sel) {
        Op::Select { keys, queries, cmp } => {
            keys == queries && matches!(cmp, CmpOp::Lt | CmpOp::Gt | CmpOp::Ne)
        }
        Op::SelAnd(a, b) => irreflexive(graph, *a) || irreflexive(graph, *b),
        Op::SelOr(a, b) => irreflexive(graph, *a) && irreflexive(graph, *b),
        _ => false,
    }
}

/// Whether a selector selects every key (`Some(true)`) or none
/// (`Some(false)`) whatever the input: a select of two constants.
pub fn constant_selector(graph: &Graph, sel: NodeId) -> Option<bool> {
    match graph.op(sel) {
        Op::Select { keys, queries, cmp } => match (graph.op(*keys), graph.op(*queries)) {
            (Op::Const(k), Op::Const(q)) => crate::ir::value::compare(*cmp, k, q).ok(),
            _ => None,
        },
        Op::SelAnd(a, b) => match (constant_selector(graph, *a), constant_selector(graph, *b)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Op::SelOr(a, b) => match (constant_selector(graph, *a), constant_selector(graph, *b)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        Op::SelNot(a) => constant_selector(graph, *a).map(|x| !x),
        _ => None,
    }
}

/// The values `id` can take on inputs of exactly `len` tokens, when that
/// is cheap to know (inputs, constants, maps of them, selector widths);
/// `None` otherwise. Finer than [`infer`]: `length - indices - 1` is within
/// `0..len` at every length, though over all lengths it ranges wider.
pub fn at_length(
    graph: &Graph,
    id: NodeId,
    len: usize,
    domain: &Domain,
    memo: &mut BTreeMap<NodeId, Option<Vec<Value>>>,
) -> Option<Vec<Value>> {
    if let Some(v) = memo.get(&id) {
        return v.clone();
    }
    let out = match graph.op(id) {
        Op::Tokens(kind) => domain
            .vocab
            .iter()
            .map(|t| kind.convert(t).ok())
            .collect::<Option<Vec<_>>>(),
        Op::Indices => Some((0..len as i64).map(Value::Int).collect()),
        Op::Length => Some(vec![Value::Int(len as i64)]),
        Op::Const(v) => Some(vec![v.clone()]),
        Op::SelectorWidth(sel) => Some(match constant_selector(graph, *sel) {
            Some(true) => vec![Value::Int(len as i64)],
            Some(false) => vec![Value::Int(0)],
            None => {
                let top = if irreflexive(graph, *sel) {
                    len - 1
                } else {
                    len
                };
                (0..=top as i64).map(Value::Int).collect()
            }
        }),
        Op::Map { expr, args } => {
            let mut sets = Vec::with_capacity(args.len());
            for a in args {
                sets.push(at_length(graph, *a, len, domain, memo)?);
            }
            let product = sets
                .iter()
                .try_fold(1usize, |acc, s| acc.checked_mul(s.len()))?;
            if product > 1 << 14 {
                None
            } else {
                let refs: Vec<&[Value]> = sets.iter().map(Vec::as_slice).collect();
                let mut vals = Vec::new();
                let mut seen: HashSet<Value> = HashSet::new();
                // A combination that fails is left out: an input that
                // reaches it fails in the interpreter too.
                for_each_combination(&refs, |combo| {
                    if let Ok(v) = expr.eval(combo)
                        && seen.insert(v.clone())
                    {
                        vals.push(v);
                    }
                });
                Some(vals)
            }
        }
        _ => None,
    };
    memo.insert(id, out.clone());
    out
}

/// Whether `id`'s value at every position is the index of an existing
/// position (`0 <= x < length`), on every input up to the max length.
pub fn always_an_index(graph: &Graph, id: NodeId, domain: &Domain) -> bool {
    (1..=domain.max_len).all(|len| {
        let mut memo = BTreeMap::new();
        at_length(graph, id, len, domain, &mut memo).is_some_and(|vals| {
            vals.iter().all(|v| {
                v.as_f64()
                    .is_some_and(|x| x.fract() == 0.0 && x >= 0.0 && x < len as f64)
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front::{MVal, Session, value::lookup};

    /// The value set of the s-op `x` of `src` (tokens 0 and 4).
    fn set_of(src: &str, max_len: usize, causal: bool) -> Vec<Value> {
        let mut session = Session::new();
        let scope = session.new_scope();
        let src = format!("tokens = tokens_int;\n{src}");
        let result = session.run_source("<test>", &src, &scope, None);
        assert!(!result.has_errors(), "{:?}", result.diags);
        let Some(MVal::Sop(x)) = lookup(&scope, "x") else {
            panic!("`x` is an s-op");
        };
        let domain = Domain {
            vocab: vec![Value::Int(0), Value::Int(4)],
            max_len,
            causal,
        };
        let sets = infer(&session.graph, &[x], &domain, false).expect("value sets");
        sets[&x].values().expect("finite").to_vec()
    }

    /// A mean of positions takes one value per position and length (the
    /// prefix mean of `indices` is `i / 2`), not every mean of 0..N-1: 30
    /// values and the default at N = 30, where the means of subsets of
    /// 0..29 are thousands. Causally the same prefix means; a mean of
    /// every position but the first is `len / 2` per length.
    #[test]
    fn positional_means_take_exactly_their_values() {
        for causal in [false, true] {
            let v = set_of(
                "x = aggregate(select(indices, indices, <=), indices, -1);",
                30,
                causal,
            );
            assert_eq!(v.len(), 31, "{causal}: {v:?}");
            assert!(v.iter().any(|x| x.same(&Value::Float(14.5))));
        }
        let v = set_of(
            "x = aggregate(select(indices, 0, >), indices, 1);",
            30,
            false,
        );
        // 1 (length 1: the default; length 2: the one key, 1), then
        // `len / 2` for lengths 3..30 as floats: 1.5 to 15.0.
        assert_eq!(v.len(), 29, "{v:?}");
        // A mean that reads tokens is every mean of its values.
        let v = set_of(
            "x = aggregate(select(indices, indices, <=), tokens + indices);",
            12,
            false,
        );
        assert!(v.len() > 100, "{}", v.len());
    }

    #[test]
    fn floats_are_read_back_as_simple_fractions() {
        let third = Value::Float(1.0 / 3.0);
        assert_eq!(Ratio::of(&third), Ratio::new(1, 3));
        assert_eq!(Ratio::of(&Value::Float(0.1)), Ratio::new(1, 10));
        assert_eq!(Ratio::of(&Value::Int(-4)), Ratio::new(-4, 1));
        assert_eq!(Ratio::of(&Value::Bool(true)), Ratio::new(1, 1));
        assert_eq!(Ratio::of(&Value::Float(f64::NAN)), None);
    }

    /// The grid gives exactly the means the sums one by one give, on sets
    /// small enough for both (ints, fractions, negatives).
    #[test]
    fn grid_means_agree_with_sums_one_by_one() {
        let sets: Vec<Vec<Value>> = vec![
            vec![Value::Int(0), Value::Int(1)],
            vec![Value::Int(-3), Value::Int(2), Value::Int(7)],
            vec![
                Value::Int(0),
                Value::Float(1.0 / 3.0),
                Value::Float(0.5),
                Value::Int(2),
            ],
            vec![Value::Float(-0.25), Value::Float(0.1), Value::Int(1)],
        ];
        for vals in sets {
            let ratios: Vec<Ratio> = vals
                .iter()
                .map(|v| Ratio::of(v).expect("rational"))
                .collect();
            for n in 1..=6 {
                let Some(Some(grid)) = grid_means(&ratios, n) else {
                    panic!("{vals:?} at {n}: a grid");
                };
                let mut want: HashSet<Ratio> = HashSet::new();
                let mut sums: Vec<Ratio> = ratios.clone();
                for m in 2..=n {
                    let mut next = Vec::new();
                    for s in &sums {
                        for r in &ratios {
                            next.push(s.checked_add(*r).expect("small"));
                        }
                    }
                    for s in &next {
                        want.insert(s.div_int(m as i128).expect("small"));
                    }
                    sums = next;
                }
                let got: HashSet<Ratio> = grid
                    .iter()
                    .map(|v| Ratio::of(v).expect("rational"))
                    .collect();
                assert_eq!(got.len(), grid.len(), "{vals:?} at {n}: each mean once");
                assert_eq!(got, want, "{vals:?} at {n}");
            }
        }
        // No common grid small enough: the sums one by one decide.
        let far = [
            Ratio::new(0, 1),
            Ratio::new(1, 1 << 23),
            Ratio::new(1 << 40, 1),
        ];
        let far: Vec<Ratio> = far.iter().map(|r| r.expect("ratio")).collect();
        assert!(grid_means(&far, 4).is_none());
    }

    #[test]
    fn means_of_means_have_one_value_per_rational() {
        // Means of {0, 1/3, 2/3}: 1/3 + 1/3 + 1/3 rounds differently from 1,
        // but it is one value.
        let vals = ValueSet::Finite(vec![
            Value::Int(0),
            Value::Float(1.0 / 3.0),
            Value::Float(2.0 / 3.0),
        ]);
        let ValueSet::Finite(m) = means(&vals, &Value::Int(0), 3) else {
            panic!("finite");
        };
        let floats: Vec<f64> = m.iter().filter_map(Value::as_f64).collect();
        for w in floats.windows(2) {
            assert!(
                w[1] - w[0] > 1e-9 || w[1] == w[0],
                "no two roundings of one value: {floats:?}"
            );
        }
        // 0, 1/9, 2/9, ..., 2/3 (plus 1/6, 1/2 ... from pairs): all k/18.
        assert!(m.iter().all(|x| {
            let r = Ratio::of(x).expect("rational");
            18 % r.q == 0
        }));
    }
}
