//! Reclaiming residual dims: once a dim has been read for the last time, an
//! MLP zeroes it exactly (`x - relu(x) + relu(-x) = 0`) and a dim written
//! later takes its place. Runs on the built blocks, before assembly: every
//! head and unit says which dims it reads and writes, so the live range of
//! each dim is known without re-deriving the plan.
//!
//! Only dims that hold 0 at BOS are reclaimed (the clearing units are gated
//! off at BOS, like every unit, so BOS content must already be 0), never
//! `one`, `bos`, or the output's dims, and only into a dim first written
//! strictly after the clearing MLP. A reclaimed s-op is readable up to the
//! clearing MLP, which its placement records (`cleared_in`).

use std::collections::{BTreeMap, BTreeSet};

use super::builder::{Builder, Unit};
use super::sublayer::{Sublayer, SublayerKind};
use crate::ir::{NodeId, Op};

/// When a logical dim is first written, last written and last read.
#[derive(Clone, Copy, Debug, Default)]
struct Life {
    first_write: Option<Sublayer>,
    last_write: Option<Sublayer>,
    last_read: Option<Sublayer>,
}

impl Life {
    fn write(&mut self, at: Sublayer) {
        self.first_write = Some(self.first_write.map_or(at, |w| w.min(at)));
        self.last_write = Some(self.last_write.map_or(at, |w| w.max(at)));
    }
    fn read(&mut self, at: Sublayer) {
        self.last_read = Some(self.last_read.map_or(at, |r| r.max(at)));
    }
}

/// What reclaiming did: the layer whose MLP clears each reclaimed logical
/// dim.
#[derive(Clone, Debug, Default)]
pub struct Reclaimed {
    pub cleared_in: BTreeMap<usize, usize>,
}

/// Reuse dead dims. `keep` are dims that must survive to the end (the
/// output's). Returns the mapping it applied to the builder.
pub fn reclaim(b: &mut Builder, n_layers: usize, keep: &BTreeSet<usize>) -> Reclaimed {
    let n = b.labels.len();
    let mut life = vec![Life::default(); n];
    life[b.one].write(Sublayer::EMBED);
    life[b.bos_dim].write(Sublayer::EMBED);
    for (id, d) in &b.dims {
        if matches!(b.graph.op(*id), Op::Tokens(_) | Op::Indices | Op::Const(_)) {
            for dim in d.cat.iter().flat_map(|c| c.0.iter()) {
                life[*dim].write(Sublayer::EMBED);
            }
            for (dim, _) in d.num.iter().flatten() {
                life[*dim].write(Sublayer::EMBED);
            }
        }
    }
    for (l, heads) in b.heads.iter().enumerate() {
        let at = Sublayer::attn(l);
        for (_, h) in heads {
            for (dim, _, _) in h.q.iter().chain(&h.k).chain(&h.v) {
                life[*dim].read(at);
            }
            for (_, dim, _) in &h.o {
                life[*dim].write(at);
            }
        }
    }
    for (l, units) in b.mlps.iter().enumerate() {
        let at = Sublayer::mlp(l);
        for u in units {
            for (dim, _) in &u.w_in {
                life[*dim].read(at);
            }
            for (dim, _) in &u.w_out {
                life[*dim].write(at);
            }
        }
    }
    let last_mlp = n_layers.checked_sub(1).map(Sublayer::mlp);
    // The MLP that clears a dim: at or after its last read, after its last
    // write.
    let clear_at = |d: usize| -> Option<Sublayer> {
        if keep.contains(&d) || d == b.one || d == b.bos_dim || b.bos[d] != 0.0 {
            return None;
        }
        let lf = life[d];
        let r = lf.last_read?;
        let w = lf.last_write.unwrap_or(Sublayer::EMBED);
        let mut s = match r.kind() {
            SublayerKind::Mlp => r,
            _ => r.next_mlp(),
        };
        if s <= w {
            s = w.next_mlp();
        }
        (Some(s) <= last_mlp).then_some(s)
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|d| (life[*d].first_write.unwrap_or(Sublayer::EMBED), *d));
    let mut physical = vec![usize::MAX; n];
    let mut labels: Vec<Vec<String>> = Vec::new();
    let mut pool: Vec<(usize, Sublayer)> = Vec::new();
    let mut cleared_in = BTreeMap::new();
    let mut clears: Vec<(usize, usize)> = Vec::new();
    for d in order {
        let first = life[d].first_write.unwrap_or(Sublayer::EMBED);
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
            clears.push((p, layer));
            pool.push((p, c));
        }
    }
    if labels.len() == n {
        // Nothing to gain: leave the layout as it is.
        return Reclaimed::default();
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
    for (p, layer) in clears {
        for sign in [1.0f32, -1.0] {
            let u = Unit {
                w_in: vec![(p, sign)],
                b_in: 0.0,
                w_out: vec![(p, -sign)],
            };
            let gated = b.gate_unit(u);
            b.mlps[layer].push(gated);
        }
    }
    Reclaimed { cleared_in }
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
