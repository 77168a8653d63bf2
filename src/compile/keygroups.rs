//! Head dims shared by keys that score alike.
//!
//! A conjunct's head reads a one-hot of its keys (an s-op's, a conversion's
//! or a product's) and gives each key value a head dim, which the query
//! side fills with `ATTN_C` where the conjunct holds. Two key values that
//! every query value treats the same (the same column of the conjunct's
//! truth table) can share one head dim, and a key value that no query
//! selects needs none: the scores are the same floats (each key still
//! lights exactly one dim, with weight 1), but the head is narrower. A
//! comparison of `indices % 100` read off the 512 dims of `indices` takes
//! 100 head dims, not 512.
//!
//! The grouping is computed once per conjunct, at the end of planning,
//! and stored on the `Term`: the size estimate and the builder read the
//! same one.

use std::collections::HashMap;
use std::sync::Arc;

use super::plan::Plan;
use super::selectors::{SelMaps, Side, Term, term_holds};
use super::valueset::ValueSet;
use crate::ir::{Graph, NodeId, Value};

/// Most (key value, query value) pairs a conjunct's grouping evaluates;
/// past it each key value keeps a head dim of its own (the builder's
/// table is as large, so such a head is refused for size long before).
const MAX_PAIRS: usize = 1 << 24;

/// The head dims of a conjunct's key values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyGroups {
    /// Per key value (in the order of its one-hot dims): its head dim
    /// among the conjunct's, or none when no query value selects it.
    pub of_key: Vec<Option<u32>>,
    /// Per head dim: one key value it stands for (the first).
    pub reps: Vec<usize>,
}

impl KeyGroups {
    /// Every key value a head dim of its own (no grouping).
    pub fn identity(n: usize) -> KeyGroups {
        KeyGroups {
            of_key: (0..n).map(|i| Some(i as u32)).collect(),
            reps: (0..n).collect(),
        }
    }

    /// The head dims the conjunct takes.
    pub fn width(&self) -> usize {
        self.reps.len()
    }
}

/// Groups key values by their column of the conjunct's truth table over
/// the query values; a key value whose column is empty gets no head dim.
pub fn group_keys(
    graph: &Graph,
    maps: &SelMaps,
    t: &Term,
    keys: &[Vec<Value>],
    queries: &[Vec<Value>],
) -> KeyGroups {
    if keys.len().saturating_mul(queries.len()) > MAX_PAIRS {
        return KeyGroups::identity(keys.len());
    }
    let words = queries.len().div_ceil(64);
    let mut seen: HashMap<Vec<u64>, u32> = HashMap::new();
    let mut of_key = Vec::with_capacity(keys.len());
    let mut reps = Vec::new();
    for (a, kv) in keys.iter().enumerate() {
        let k = Side {
            leaves: &t.keys,
            values: kv,
        };
        let mut column = vec![0u64; words];
        for (b, qv) in queries.iter().enumerate() {
            let q = Side {
                leaves: &t.queries,
                values: qv,
            };
            if term_holds(graph, maps, &t.trees, &k, &q) {
                column[b / 64] |= 1 << (b % 64);
            }
        }
        if column.iter().all(|w| *w == 0) {
            of_key.push(None);
            continue;
        }
        let next = reps.len() as u32;
        let g = *seen.entry(column).or_insert(next);
        if g == next {
            reps.push(a);
        }
        of_key.push(Some(g));
    }
    KeyGroups { of_key, reps }
}

/// The value tuples of a conjunct side's one-hot dims, in the builder's
/// order: a product's tuples (its leaves' values, the last varying
/// fastest), or one leaf's kept conversion values, or its values.
pub fn side_values(
    sets: &std::collections::BTreeMap<NodeId, ValueSet>,
    p: &Plan,
    leaves: &[NodeId],
    product: Option<usize>,
) -> Vec<Vec<Value>> {
    let values =
        |id: NodeId| -> &[Value] { sets.get(&id).and_then(ValueSet::values).unwrap_or(&[]) };
    match product {
        Some(i) => {
            let lists: Vec<&[Value]> = p.products[i].leaves.iter().map(|l| values(*l)).collect();
            super::valueset::tuples(&lists)
        }
        None => {
            let Some(leaf) = leaves.first() else {
                return Vec::new();
            };
            match p.conv_values.get(leaf) {
                Some(kept) => kept.iter().map(|v| vec![v.clone()]).collect(),
                None => values(*leaf).iter().map(|v| vec![v.clone()]).collect(),
            }
        }
    }
}

/// Groups the keys of every conjunct a head reads (not the quadratic
/// numerical equalities, which have no key one-hot of their own).
pub fn assign(graph: &Graph, sets: &std::collections::BTreeMap<NodeId, ValueSet>, p: &mut Plan) {
    let group = |p: &Plan, t: &Term| -> Option<Arc<KeyGroups>> {
        if t.numeq {
            return None;
        }
        let kv = side_values(sets, p, &t.keys, t.key_product);
        let qv = side_values(sets, p, &t.queries, t.query_product);
        Some(Arc::new(group_keys(graph, &p.sel_maps, t, &kv, &qv)))
    };
    let mut terms = std::mem::take(&mut p.terms);
    for ts in terms.values_mut() {
        for t in ts.iter_mut() {
            t.groups = group(p, t);
        }
    }
    p.terms = terms;
    let mut parts = std::mem::take(&mut p.width_parts);
    for ws in parts.values_mut() {
        for w in ws.iter_mut() {
            for t in w.terms.iter_mut() {
                t.groups = group(p, t);
            }
        }
    }
    p.width_parts = parts;
}
