//! Reclaiming residual dims: once a group of dims (an s-op's one-hot or
//! number, a width's scratch, a conversion, a product one-hot) has been
//! read for the last time, an MLP zeroes it exactly (`x - relu(x) +
//! relu(-x) = 0`) and a dim written later takes its place.
//!
//! The live ranges come from the plan (`size::Sizer::lives`: the sublayer
//! that writes each group and the last one that reads it), the same ones
//! the size estimate reads, so the estimate knows the residual width and
//! the clearing units exactly. The built blocks are checked against them:
//! every head and unit says which dims it reads and writes, and an access
//! outside its group's range is an internal error, never a wrong model.
//!
//! Only dims that hold 0 at BOS are reclaimed (the clearing units are gated
//! off at BOS, like every unit, so BOS content must already be 0), never
//! `one`, `bos`, or the output's dims, and only into a dim first written
//! strictly after the clearing MLP. Where no dim is written after a dim
//! dies, nothing could take its place, and it is left as it is (no
//! clearing units in the last layers). A reclaimed s-op is readable up to
//! the clearing MLP, which its placement records (`cleared_in`).

use std::collections::{BTreeMap, BTreeSet};

use super::builder::{Builder, Unit};
use super::size::{Group, Life, clear_at, clearing_units, is_zero};
use super::sublayer::Sublayer;
use crate::diag::{Diag, codes};
use crate::ir::NodeId;

/// What reclaiming did: the layer whose MLP clears each reclaimed logical
/// dim.
#[derive(Clone, Debug, Default)]
pub struct Reclaimed {
    pub cleared_in: BTreeMap<usize, usize>,
}

/// An access the plan's live ranges do not allow: a bug in the plan's
/// bookkeeping, reported instead of building a model that could be wrong.
fn outside(b: &Builder, d: usize, at: Sublayer, write: bool) -> Diag {
    Diag::error(
        codes::COMPILE_INTERNAL,
        format!(
            "internal compiler error: the residual dim `{}` is {} in {at}, outside the live range \
             the plan gives it",
            b.labels[d],
            if write { "written" } else { "read" }
        ),
    )
    .help("this is a bug in rasp; please report it with the program")
}

/// Reuse dead dims. `keep` are dims that must survive to the end (the
/// output's); the plan must keep them too. Returns the mapping it applied
/// to the builder.
pub fn reclaim(
    b: &mut Builder,
    n_layers: usize,
    target: NodeId,
    keep: &BTreeSet<usize>,
) -> Result<Reclaimed, Diag> {
    let n = b.labels.len();
    let lives = b.sizer().lives(target);
    let mut life_of: Vec<Option<Life>> = vec![None; n];
    for (g, dims) in &b.groups {
        let l = lives.get(g).copied();
        for d in dims.clone() {
            life_of[d] = l;
        }
    }
    // The dims of value 0 of each one-hot: read as a number, it skips them.
    let mut zero = vec![false; n];
    for (g, dims) in &b.groups {
        if let Group::Own(x) = g
            && let Some((_, vals)) = b.dims.get(x).and_then(|d| d.cat.as_ref())
        {
            for (d, v) in dims.clone().zip(vals) {
                zero[d] = is_zero(v);
            }
        }
    }
    let mut life: Vec<Life> = Vec::with_capacity(n);
    for (d, l) in life_of.into_iter().enumerate() {
        match l {
            Some(l) => life.push(l),
            None => {
                return Err(Diag::error(
                    codes::COMPILE_INTERNAL,
                    format!(
                        "internal compiler error: the residual dim `{}` has no live range",
                        b.labels[d]
                    ),
                ));
            }
        }
    }
    // Every access inside its group's range: written where the plan
    // writes it, read after that and no later than its last read.
    let check = |d: usize, at: Sublayer, write: bool| -> Result<(), Diag> {
        let l = &life[d];
        let last = if zero[d] { l.zero_read } else { l.last_read };
        let ok = if write {
            at == l.write
        } else {
            at > l.write && (l.keep || last.is_some_and(|r| at <= r))
        };
        if ok {
            Ok(())
        } else {
            Err(outside(b, d, at, write))
        }
    };
    for (l, heads) in b.heads.iter().enumerate() {
        let at = Sublayer::attn(l);
        for (_, h) in heads {
            for (dim, _, _) in h.q.iter().chain(&h.k).chain(&h.v) {
                check(*dim, at, false)?;
            }
            for (_, dim, _) in &h.o {
                check(*dim, at, true)?;
            }
        }
    }
    for (l, units) in b.mlps.iter().enumerate() {
        let at = Sublayer::mlp(l);
        for u in units {
            for (dim, _) in &u.w_in {
                check(*dim, at, false)?;
            }
            for (dim, _) in &u.w_out {
                check(*dim, at, true)?;
            }
        }
    }
    if let Some(d) = keep.iter().find(|d| !life[**d].keep) {
        return Err(Diag::error(
            codes::COMPILE_INTERNAL,
            format!(
                "internal compiler error: the output's residual dim `{}` is not kept",
                b.labels[*d]
            ),
        ));
    }
    // The MLP that clears a dim: its group's, unless the dim holds
    // something at BOS (an aggregate's default, a width's scratch), or no
    // dim is written after it.
    let last_write = life.iter().map(|l| l.write).max();
    let clear_at = |d: usize| -> Option<Sublayer> {
        if b.bos[d] != 0.0 {
            return None;
        }
        clear_at(&life[d], zero[d], n_layers, last_write)
    };
    debug_assert!(
        b.groups.iter().all(|(_, dims)| {
            let live = dims.clone().filter(|d| b.bos[*d] != 0.0).count();
            let l = &life[dims.start.min(n.saturating_sub(1))];
            dims.is_empty() || l.keep || live == l.bos_live.min(dims.len())
        }),
        "the plan counts the dims that hold something at BOS as the builder does"
    );
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|d| (life[*d].write, *d));
    let mut physical = vec![usize::MAX; n];
    let mut labels: Vec<Vec<String>> = Vec::new();
    let mut pool: Vec<(usize, Sublayer)> = Vec::new();
    let mut cleared_in = BTreeMap::new();
    let mut clears: Vec<(usize, usize, usize)> = Vec::new();
    for d in order {
        let first = life[d].write;
        let p = match pool.iter().position(|(_, free)| *free < first) {
            Some(i) => pool.swap_remove(i).0,
            None => {
                labels.push(Vec::new());
                labels.len() - 1
            }
        };
        physical[d] = p;
        labels[p].push(b.labels[d].clone());
        if let Some(c) = clear_at(d) {
            let layer = c.layer().unwrap_or(0);
            cleared_in.insert(d, layer);
            clears.push((p, layer, clearing_units(&life[d])));
            pool.push((p, c));
        }
    }
    if labels.len() == n {
        // Nothing to gain: leave the layout as it is.
        return Ok(Reclaimed::default());
    }
    // Remap every row to physical dims.
    let map = |d: usize| physical[d];
    for heads in &mut b.heads {
        for (_, h) in heads.iter_mut() {
            for r in h.q.iter_mut().chain(h.k.iter_mut()).chain(h.v.iter_mut()) {
                r.0 = map(r.0);
            }
            for r in h.o.iter_mut() {
                r.1 = map(r.1);
            }
        }
    }
    for units in &mut b.mlps {
        for u in units.iter_mut() {
            for r in u.w_in.iter_mut().chain(u.w_out.iter_mut()) {
                r.0 = map(r.0);
            }
        }
    }
    for d in b.dims.values_mut() {
        if let Some((dims, _)) = &mut d.cat {
            dims.iter_mut().for_each(|x| *x = map(*x));
        }
        if let Some(lin) = &mut d.num {
            lin.iter_mut().for_each(|x| x.0 = map(x.0));
        }
        d.scratch.iter_mut().for_each(|x| *x = map(*x));
    }
    for (dims, _) in b.conv.values_mut() {
        dims.iter_mut().for_each(|x| *x = map(*x));
    }
    for (dims, _) in &mut b.products {
        dims.iter_mut().for_each(|x| *x = map(*x));
    }
    let mut bos = vec![0f32; labels.len()];
    for (d, v) in b.bos.iter().enumerate() {
        bos[map(d)] += v;
    }
    b.bos = bos;
    b.one = map(b.one);
    b.bos_dim = map(b.bos_dim);
    b.labels = labels.into_iter().map(|l| l.join(" | ")).collect();
    // The clearing units, gated off at BOS like every other unit.
    // A one-hot's dim holds no negative number: `relu(x)` is all of it.
    for (p, layer, units) in clears {
        for &sign in &[1.0f32, -1.0][..units] {
            let u = Unit {
                w_in: vec![(p, sign)],
                b_in: 0.0,
                w_out: vec![(p, -sign)],
            };
            let gated = b.gate_unit(u);
            b.mlps[layer].push(gated);
        }
    }
    Ok(Reclaimed { cleared_in })
}

/// The layer whose MLP first clears some dim of each node, given each
/// node's logical dims.
pub fn cleared_nodes(
    logical: &BTreeMap<NodeId, Vec<usize>>,
    r: &Reclaimed,
) -> BTreeMap<NodeId, usize> {
    let mut out = BTreeMap::new();
    for (id, dims) in logical {
        if let Some(l) = dims.iter().filter_map(|d| r.cleared_in.get(d)).min() {
            out.insert(*id, *l);
        }
    }
    out
}
