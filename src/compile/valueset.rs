//! Value sets: the finite set of values every s-op can take, over all inputs
//! of length 1..=N drawn from the vocabulary (design.md 2.1).
//!
//! The sets are over-approximations computed bottom-up (a map's set is the
//! image of the product of its arguments' sets), so the compiled blocks are
//! exact on every reachable input. Combinations on which a map fails are
//! left out: an input that reaches them fails in the interpreter too.

use std::collections::{BTreeMap, HashSet};

use crate::diag::{Diag, codes};
use crate::ir::value::Value;
use crate::ir::{Graph, NodeId, Op};

/// Largest argument product a map's value set is computed over.
pub const MAX_PRODUCT: usize = 1 << 20;
/// Largest value set kept for a mean (beyond it the set is `Unbounded`).
pub const MAX_MEANS: usize = 200_000;

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

/// A total order for display and for stable encodings.
pub fn value_order(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let rank = |v: &Value| match v {
        Value::Bool(_) => 0,
        Value::Int(_) | Value::Float(_) => 1,
        Value::Str(_) => 2,
    };
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        _ if rank(a) == rank(b) => {
            let o = a
                .as_f64()
                .partial_cmp(&b.as_f64())
                .unwrap_or(Ordering::Equal);
            // 3 before 3.0: ints first among equal numbers.
            o.then_with(|| matches!(a, Value::Float(_)).cmp(&matches!(b, Value::Float(_))))
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

fn finite(mut v: Vec<Value>) -> ValueSet {
    v.sort_by(value_order);
    v.dedup_by(|a, b| a.same(b));
    ValueSet::Finite(v)
}

/// What the value sets are computed for.
#[derive(Clone, Debug)]
pub struct Domain {
    /// The raw input tokens (before any `tokens_*` conversion).
    pub vocab: Vec<Value>,
    pub max_len: usize,
}

/// Infer the value set of every ancestor of `targets`.
pub fn infer(
    graph: &Graph,
    targets: &[NodeId],
    domain: &Domain,
) -> Result<BTreeMap<NodeId, ValueSet>, Diag> {
    let n = domain.max_len;
    let mut sets: BTreeMap<NodeId, ValueSet> = BTreeMap::new();
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
            Op::Indices => finite((0..n as i64).map(Value::Int).collect()),
            Op::Length => finite((1..=n as i64).map(Value::Int).collect()),
            Op::Const(v) => finite(vec![v.clone()]),
            Op::Map { expr, args } => {
                let arg_sets: Vec<&[Value]> = args
                    .iter()
                    .map(|a| {
                        sets[a].values().ok_or_else(|| {
                            at(Diag::error(
                                codes::COMPILE_VALUES,
                                format!(
                                    "`{}` reads a mean whose value set is too large to tabulate",
                                    graph.label(id)
                                ),
                            ))
                        })
                    })
                    .collect::<Result<_, _>>()?;
                let product = arg_sets
                    .iter()
                    .try_fold(1usize, |acc, s| acc.checked_mul(s.len()));
                match product {
                    Some(p) if p <= MAX_PRODUCT => {}
                    _ => {
                        return Err(at(Diag::error(
                            codes::COMPILE_VALUES,
                            format!(
                                "the elementwise operation `{}` combines {} value sets whose product is too large (limit {MAX_PRODUCT})",
                                graph.label(id),
                                arg_sets.len()
                            ),
                        )));
                    }
                }
                let mut out = Vec::new();
                let mut seen: HashSet<Value> = HashSet::new();
                for_each_combination(&arg_sets, |combo| {
                    if let Ok(v) = expr.eval(combo)
                        && seen.insert(v.clone())
                    {
                        out.push(v);
                    }
                });
                if out.is_empty() {
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
                values, default, ..
            } => {
                let vals = &sets[values];
                if vals.is_numeric() {
                    means(vals, default, n)
                } else {
                    let mut v = vals.values().map(<[Value]>::to_vec).unwrap_or_default();
                    v.push(default.clone());
                    finite(v)
                }
            }
            Op::SelectorWidth(_) => finite((0..=n as i64).map(Value::Int).collect()),
            Op::Select { .. } | Op::SelAnd(..) | Op::SelOr(..) | Op::SelNot(_) => continue,
        };
        sets.insert(id, set);
    }
    Ok(sets)
}

/// Every combination of one value per argument.
fn for_each_combination(sets: &[&[Value]], mut f: impl FnMut(&[&Value])) {
    let sizes: Vec<usize> = sets.iter().map(|s| s.len()).collect();
    for_each_index(&sizes, |idx| {
        let combo: Vec<&Value> = idx.iter().zip(sets).map(|(i, s)| &s[*i]).collect();
        f(&combo);
    });
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

/// The values of a numerical aggregate: the default, each value itself (one
/// key selected) and the mean of every multiset of 2..=n values.
fn means(vals: &ValueSet, default: &Value, n: usize) -> ValueSet {
    let Some(v) = vals.values() else {
        return vals.clone();
    };
    let mut out: Vec<Value> = v.to_vec();
    out.push(default.clone());
    let nums: Vec<f64> = v.iter().filter_map(Value::as_f64).collect();
    let all_int = v.iter().all(|x| x.as_int().is_some());
    if all_int {
        // Sums of m values, exactly, as integers.
        let ints: Vec<i64> = v.iter().filter_map(Value::as_int).collect();
        let mut sums: HashSet<i64> = ints.iter().copied().collect();
        for m in 2..=n {
            let mut next = HashSet::with_capacity(sums.len() * 2);
            for s in &sums {
                for x in &ints {
                    next.insert(s + x);
                }
            }
            for s in &next {
                out.push(Value::Float(*s as f64 / m as f64));
            }
            if out.len() > MAX_MEANS {
                return ValueSet::Unbounded {
                    reason: format!("more than {MAX_MEANS} possible means"),
                };
            }
            sums = next;
        }
    } else {
        let mut sums: HashSet<u64> = nums.iter().map(|x| x.to_bits()).collect();
        for m in 2..=n {
            let mut next = HashSet::with_capacity(sums.len() * 2);
            for s in &sums {
                for x in &nums {
                    next.insert((f64::from_bits(*s) + x).to_bits());
                }
            }
            for s in &next {
                out.push(Value::Float(f64::from_bits(*s) / m as f64));
            }
            if out.len() > MAX_MEANS {
                return ValueSet::Unbounded {
                    reason: format!("more than {MAX_MEANS} possible means"),
                };
            }
            sums = next;
        }
    }
    finite(out)
}
