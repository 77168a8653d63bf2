//! The size of a model, computed from its plan before anything is built, by
//! following the construction: the residual dims `Builder::layout`
//! allocates (the same decisions, [`Sizer::own`]), the dims `reclaim`
//! reuses (the same live ranges, [`Sizer::lives`], and the same clearing
//! rule, [`clear_at`]), the width of every head `heads.rs` builds, and the
//! units of every MLP `mlps.rs` builds (counted over the same points, or
//! bounded where counting would cost as much as building). The result is
//! an upper bound on the dense parameter count, equal to it for most
//! programs; `compile` checks the real count again after building.

use std::collections::BTreeMap;

use super::Options;
use super::plan::{Ctx, MapMode, Plan, Term};
use super::sublayer::{Sublayer, SublayerKind};
use super::valueset::{self, ValueSet};
use crate::diag::{Diag, SourceMap, codes};
use crate::interp;
use crate::ir::value::Value;
use crate::ir::{Graph, Hint, NodeId, Op};

/// A run of residual dims the builder allocates together and `reclaim`
/// frees together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    /// The dim that holds 1 at every position.
    One,
    /// The dim that marks BOS.
    Bos,
    /// An s-op's own dims: its one-hot or its number.
    Own(NodeId),
    /// Where a width's heads write `1/(w+1)`, one dim per part.
    Scratch(NodeId),
    /// The one-hot a numerical s-op is converted to.
    Conv(NodeId),
    /// Product one-hot `i` of the plan.
    Product(usize),
}

/// An s-op's own dims.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Own {
    /// None: a constant (the `one` dim) or a linear map (its arguments').
    None,
    /// A one-hot over its values.
    Cat(usize),
    /// One dim holding the number.
    Num,
}

/// When a group is written and read, and whether it must survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Life {
    /// The sublayer that writes it (the embedding for inputs).
    pub write: Sublayer,
    /// The last sublayer that reads it.
    pub last_read: Option<Sublayer>,
    /// The last sublayer that reads its dims of value 0: a one-hot read as
    /// a number skips them, so only readers of the one-hot count.
    pub zero_read: Option<Sublayer>,
    /// How many of its dims stand for the value 0 (and hold 0 at BOS).
    pub zeros: usize,
    /// Never reused: `one`, `bos` and the output's dims.
    pub keep: bool,
    /// How many of its dims hold something other than 0 at BOS (an
    /// aggregate's default, a width's scratch): those are never reused.
    pub bos_live: usize,
    /// A one-hot (an s-op's, a conversion's, a product's): its dims hold
    /// no negative number at any real position (a copy's are weights of
    /// a softmax), so one unit clears each, `x - relu(x)`, not two.
    pub one_hot: bool,
}

/// The MLP that zeroes a group's dims once they are dead: at or after
/// their last read (`zero`: of the dims of value 0), after the write;
/// `None` when they are kept, never read, dead only after the last layer,
/// or dead at or after `last_write`, the last sublayer that first writes
/// any dim (nothing could take their place: zeroing them would only cost
/// units).
pub fn clear_at(
    life: &Life,
    zero: bool,
    n_layers: usize,
    last_write: Option<Sublayer>,
) -> Option<Sublayer> {
    if life.keep {
        return None;
    }
    let r = if zero { life.zero_read } else { life.last_read }?;
    let mut s = match r.kind() {
        SublayerKind::Mlp => r,
        _ => r.next_mlp(),
    };
    if s <= life.write {
        s = life.write.next_mlp();
    }
    let last_mlp = n_layers.checked_sub(1).map(Sublayer::mlp)?;
    (s <= last_mlp && last_write.is_some_and(|w| s < w)).then_some(s)
}

/// Units of a discretisation over `points` (an input number and what is
/// written there), as `Builder::steps` builds it: points with equal inputs
/// are one (the first kept), then one constant unit and two per
/// neighbouring pair whose outputs `differ`; no points, no units.
pub fn step_units<T>(points: Vec<(f64, T)>, differ: impl Fn(&T, &T) -> bool) -> usize {
    let points = merge_points(points);
    if points.is_empty() {
        return 0;
    }
    1 + 2 * points
        .windows(2)
        .filter(|w| differ(&w[0].1, &w[1].1))
        .count()
}

/// Points sorted by input, equal inputs merged (1 and 1.0 are one point:
/// the interpreter treats them alike; the first, an int, is kept).
pub fn merge_points<T>(mut points: Vec<(f64, T)>) -> Vec<(f64, T)> {
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<(f64, T)> = Vec::with_capacity(points.len());
    for p in points {
        match out.last() {
            Some(last) if last.0 == p.0 => {}
            _ => out.push(p),
        }
    }
    out
}

/// A read of a group in a sublayer; `false` when it skips the dims of
/// value 0 (a one-hot read as a number).
type Read = (Group, Sublayer, bool);

/// Whether a one-hot dim of this value is left out when the one-hot is
/// read as a number (`Builder::num` skips zero weights).
pub fn is_zero(v: &Value) -> bool {
    v.as_f64() == Some(0.0)
}

/// Most rows a table's units are counted over one by one; a larger table
/// is bounded by its size (every row a unit).
const COUNT_ROWS: usize = 1 << 20;

/// The construction's sizes, read off a plan: what the builder allocates
/// and builds for each s-op.
pub struct Sizer<'a> {
    pub graph: &'a Graph,
    pub sets: &'a BTreeMap<NodeId, ValueSet>,
    pub plan: &'a Plan,
    pub max_len: usize,
}

impl<'a> Sizer<'a> {
    pub fn new(
        graph: &'a Graph,
        sets: &'a BTreeMap<NodeId, ValueSet>,
        plan: &'a Plan,
        max_len: usize,
    ) -> Sizer<'a> {
        Sizer {
            graph,
            sets,
            plan,
            max_len,
        }
    }

    /// The values of an s-op (none when its set is unbounded), as the
    /// builder sees them.
    pub fn values(&self, id: NodeId) -> &'a [Value] {
        self.sets.get(&id).and_then(ValueSet::values).unwrap_or(&[])
    }

    fn len(&self, id: NodeId) -> usize {
        self.values(id).len()
    }

    fn linear(&self, id: NodeId) -> bool {
        self.plan
            .fused
            .get(&id)
            .is_some_and(|f| f.mode == MapMode::Linear)
    }

    fn is_width(&self, id: NodeId) -> bool {
        matches!(self.graph.op(id), Op::SelectorWidth(_) | Op::Length)
    }

    /// An s-op's own dims: a categorical producer gets a one-hot when it
    /// is read as one (a copying head always needs it), else just the
    /// number when the producer can write one.
    pub fn own(&self, id: NodeId) -> Own {
        let op = self.graph.op(id);
        if matches!(op, Op::Const(_)) || self.linear(id) {
            Own::None
        } else if self.plan.numerical.contains(&id) {
            Own::Num
        } else if self.plan.need_cat.contains(&id)
            || matches!(op, Op::Aggregate { .. })
            || !self.plan.need_num.contains(&id)
        {
            Own::Cat(self.len(id))
        } else {
            Own::Num
        }
    }

    /// The parts of a width (one head, one scratch dim and one decoder
    /// each); 0 for any other s-op.
    pub fn width_parts(&self, id: NodeId) -> usize {
        if self.is_width(id) {
            self.plan.width_parts.get(&id).map_or(1, Vec::len)
        } else {
            0
        }
    }

    /// Dims of the conversion to a one-hot (0: none).
    /// Dims of the conversion to a one-hot (0: none): one per value, or
    /// per kept value where only some can satisfy a select
    /// (`Plan::conv_values`).
    pub fn conv(&self, id: NodeId) -> usize {
        if !self.plan.conv_pos.contains_key(&id) {
            0
        } else {
            self.plan
                .conv_values
                .get(&id)
                .map_or_else(|| self.len(id), Vec::len)
        }
    }

    /// Dims (and units) of product one-hot `i`: one per tuple of values.
    pub fn product(&self, i: usize) -> usize {
        self.plan.products[i]
            .leaves
            .iter()
            .map(|l| self.len(*l))
            .try_fold(1usize, |a, b| a.checked_mul(b))
            .unwrap_or(usize::MAX)
    }

    fn own_len(&self, id: NodeId) -> usize {
        match self.own(id) {
            Own::None => 0,
            Own::Cat(n) => n,
            Own::Num => 1,
        }
    }

    /// Every group, with its number of dims, in the order the builder
    /// allocates them.
    pub fn groups(&self) -> Vec<(Group, usize)> {
        let mut out = vec![(Group::One, 1), (Group::Bos, 1)];
        for &id in &self.plan.nodes {
            if self.own(id) != Own::None {
                out.push((Group::Own(id), self.own_len(id)));
            }
            if self.is_width(id) {
                out.push((Group::Scratch(id), self.width_parts(id)));
            }
            if self.plan.conv_pos.contains_key(&id) {
                out.push((Group::Conv(id), self.conv(id)));
            }
        }
        for i in 0..self.plan.products.len() {
            out.push((Group::Product(i), self.product(i)));
        }
        out
    }

    fn pos(&self, id: NodeId) -> Sublayer {
        self.plan.pos.get(&id).copied().unwrap_or(Sublayer::EMBED)
    }

    /// The attention sublayer of an s-op's heads, if it has any.
    pub fn head_at(&self, id: NodeId) -> Option<Sublayer> {
        match self.graph.op(id) {
            Op::Aggregate { .. } => Some(self.pos(id)),
            Op::SelectorWidth(_) | Op::Length => self.pos(id).attn_of_layer(),
            _ => None,
        }
    }

    /// The MLP sublayer of an s-op's own block (a map's table or steps, a
    /// width's decoders), if it has one.
    pub fn mlp_at(&self, id: NodeId) -> Option<Sublayer> {
        let has = self.is_width(id) || self.plan.fused.contains_key(&id) && !self.linear(id);
        has.then(|| self.pos(id))
    }

    /// The conjuncts each of an s-op's heads evaluates.
    fn head_terms(&self, id: NodeId) -> Vec<&'a [Term]> {
        let plan = self.plan;
        match self.graph.op(id) {
            Op::Aggregate { sel, .. } | Op::SelectorWidth(sel)
                if !plan.width_parts.contains_key(&id) =>
            {
                vec![plan.terms.get(sel).map_or(&[][..], Vec::as_slice)]
            }
            Op::SelectorWidth(_) => plan.width_parts[&id]
                .iter()
                .map(|w| w.terms.as_slice())
                .collect(),
            Op::Length => vec![&[]],
            _ => Vec::new(),
        }
    }

    /// The head dims a conjunct's keys take: one per group of key values
    /// that score alike (`keygroups`), else one per dim of their product
    /// one-hot or of the key s-op's one-hot.
    fn key_width(&self, t: &Term) -> usize {
        if let Some(g) = &t.groups {
            return g.width();
        }
        match t.key_product {
            Some(i) => self.product(i),
            None => t.keys.first().map_or(0, |k| self.one_hot_len(*k)),
        }
    }

    /// Dims of an s-op's one-hot: its conversion's (which may keep only
    /// some values) where it has one, else one per value.
    fn one_hot_len(&self, id: NodeId) -> usize {
        if self.plan.conv_pos.contains_key(&id) {
            self.conv(id)
        } else {
            self.len(id)
        }
    }

    /// The width of each head an s-op has, as `heads.rs` lays them out.
    /// An aggregate: its value dims (one for a mean, one per value for a
    /// copy), the key dims of each conjunct (two for a numerical equality)
    /// and the BOS dim. A width's part: one value dim, the key dims, BOS.
    pub fn head_widths(&self, id: NodeId) -> Vec<usize> {
        let terms = self.head_terms(id);
        match self.graph.op(id) {
            Op::Aggregate { .. } => {
                let ts = terms[0];
                let values = if self.plan.numerical.contains(&id) {
                    1
                } else {
                    self.len(id).max(1)
                };
                let keys = if ts.len() == 1 && ts[0].numeq {
                    2
                } else {
                    ts.iter()
                        .map(|t| self.key_width(t))
                        .fold(0usize, usize::saturating_add)
                };
                vec![values.saturating_add(keys).saturating_add(1)]
            }
            _ => terms
                .iter()
                .map(|ts| {
                    ts.iter()
                        .map(|t| self.key_width(t))
                        .fold(2usize, usize::saturating_add)
                })
                .collect(),
        }
    }

    /// A table's usual value (`Fused::default`), where it writes a one-hot.
    pub fn usual<'f>(&self, f: &'f super::plan::Fused) -> Option<&'f Value> {
        f.default.as_ref().filter(|_| f.mode == MapMode::Table)
    }

    /// Whether an MLP writes something for output value `v` of `id`.
    fn writes(&self, id: NodeId, v: &Value) -> bool {
        match self.own(id) {
            // A zero adds nothing to a dim that holds zero.
            Own::Num => v.as_f64() != Some(0.0),
            Own::Cat(_) => valueset::index_of(self.values(id), v).is_some(),
            Own::None => false,
        }
    }

    /// The units of an s-op's own MLP block (0 when it has none).
    pub fn units(&self, id: NodeId) -> usize {
        if self.is_width(id) {
            return self.decoder_units(id);
        }
        let Some(f) = self.plan.fused.get(&id) else {
            return 0;
        };
        match f.mode {
            MapMode::Linear => 0,
            // Exactly `gated_units`' count, which bounds the builder's.
            MapMode::Gated => f.units.unwrap_or(usize::MAX),
            MapMode::Discretise => {
                let points: Vec<(f64, Value)> = self
                    .values(f.leaves[0])
                    .iter()
                    .filter_map(|v| Some((v.as_f64()?, f.expr.eval(&[v]).ok()?)))
                    .collect();
                let own = self.own(id);
                step_units(points, |a, b| self.differ(own, id, a, b))
            }
            MapMode::Table => self.shared_table_units(&[id]),
        }
    }

    /// The leaves of a map built as a table (`MapMode::Table`).
    fn table_leaves(&self, id: NodeId) -> Option<Vec<NodeId>> {
        if self.is_width(id) {
            return None;
        }
        let f = self.plan.fused.get(&id)?;
        (f.mode == MapMode::Table).then(|| f.leaves.clone())
    }

    /// The units of tables over the same leaves in one MLP (`ids`, one or
    /// more), which share one unit per tuple of leaf values: the tuples
    /// where the map gives a value some table's dims can hold.
    pub fn shared_table_units(&self, ids: &[NodeId]) -> usize {
        let fs: Vec<_> = ids
            .iter()
            .filter_map(|id| Some((*id, self.plan.fused.get(id)?)))
            .collect();
        let Some((_, first)) = fs.first() else {
            return 0;
        };
        let leaves: Vec<&[Value]> = first.leaves.iter().map(|l| self.values(*l)).collect();
        let sizes: Vec<usize> = leaves.iter().map(|l| l.len()).collect();
        let rows = sizes
            .iter()
            .try_fold(1usize, |a, b| a.checked_mul(*b))
            .unwrap_or(usize::MAX);
        if rows > COUNT_ROWS {
            return rows;
        }
        // One constant unit per table with a usual value, which the
        // tuples of that value leave alone.
        let mut units = fs.iter().filter(|(_, f)| self.usual(f).is_some()).count();
        valueset::for_each_index(&sizes, |idx| {
            let combo: Vec<&Value> = idx.iter().zip(&leaves).map(|(i, l)| &l[*i]).collect();
            if fs.iter().any(|(id, f)| {
                f.expr.eval(&combo).is_ok_and(|v| {
                    self.writes(*id, &v) && self.usual(f).is_none_or(|u| !u.same(&v))
                })
            }) {
                units += 1;
            }
        });
        units
    }

    /// Whether two output values of `id` may write differently: different
    /// values, unless neither has a dim to write.
    fn differ(&self, own: Own, id: NodeId, a: &Value, b: &Value) -> bool {
        match own {
            Own::Num => !a.same(b),
            Own::Cat(_) => {
                let vals = self.values(id);
                valueset::index_of(vals, a) != valueset::index_of(vals, b)
            }
            Own::None => false,
        }
    }

    /// A width's (or `length`'s) decoded parts: each one's sign and the
    /// counts `lo..=hi` it decodes: from 1 where the part selects every
    /// key (else 0) to the most keys its conjunction selects (else N).
    pub fn decoder_parts(&self, id: NodeId) -> Vec<(f32, std::ops::RangeInclusive<usize>)> {
        let n = self.max_len;
        let range = |every_key: bool, most: Option<usize>| {
            usize::from(every_key)..=most.map_or(n, |m| m.min(n))
        };
        match self.plan.width_parts.get(&id) {
            Some(parts) => parts
                .iter()
                .map(|w| (w.sign, range(w.terms.is_empty(), w.most)))
                .collect(),
            None => vec![(1.0, range(matches!(self.graph.op(id), Op::Length), None))],
        }
    }

    /// A width's decoders: per part, steps over `1/(w+1)` for the counts
    /// it decodes ([`Sizer::decoder_parts`]).
    fn decoder_units(&self, id: NodeId) -> usize {
        let parts = self.decoder_parts(id);
        let single = parts.len() == 1 && parts[0].0 == 1.0;
        let own = self.own(id);
        parts
            .iter()
            .map(|(_, counts)| {
                let points: Vec<(f64, Value)> = counts
                    .clone()
                    .map(|w| (1.0 / (w as f64 + 1.0), Value::Int(w as i64)))
                    .collect();
                if single {
                    step_units(points, |a, b| self.differ(own, id, a, b))
                } else {
                    // The part writes `sign * w` into the width's number.
                    step_units(points, |a, b| own == Own::Num && !a.same(b))
                }
            })
            .fold(0usize, usize::saturating_add)
    }

    /// The units of the conversion to a one-hot: steps over its values,
    /// each writing its own dim.
    pub fn conv_units(&self, id: NodeId) -> usize {
        if !self.plan.conv_pos.contains_key(&id) {
            return 0;
        }
        // Each value's output: its kept dim, or nothing (a value no select
        // can match writes no dim; `Builder::conversion`).
        let kept = self.plan.conv_values.get(&id);
        let points: Vec<(f64, Option<usize>)> = self
            .values(id)
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let out = match kept {
                    Some(k) => k.iter().position(|w| w.same(v)),
                    None => Some(i),
                };
                Some((v.as_f64()?, out))
            })
            .collect();
        let points = merge_points(points);
        let Some(first) = points.first() else {
            return 0;
        };
        let steps = usize::from(first.1.is_some())
            + 2 * points.windows(2).filter(|w| w[0].1 != w[1].1).count();
        // Where steps cannot tell its values apart, a table: a unit per
        // tuple of its leaves' values at most.
        let table = self.plan.conv_tables.get(&id).map_or(0, |leaves| {
            leaves
                .iter()
                .map(|l| self.one_hot_len(*l))
                .try_fold(1usize, |a, b| a.checked_mul(b))
                .unwrap_or(usize::MAX)
        });
        steps.max(table)
    }

    /// When each group is written and last read, with every reader the
    /// builder gives it: heads (queries, keys, values), tables, steps,
    /// gated steps, decoders, conversions and product MLPs. A linear map
    /// is read wherever it is read (it is its arguments' dims).
    pub fn lives(&self, target: NodeId) -> BTreeMap<Group, Life> {
        let plan = self.plan;
        let mut lives: BTreeMap<Group, Life> = BTreeMap::new();
        let life = |write: Sublayer| Life {
            write,
            last_read: None,
            zero_read: None,
            zeros: 0,
            keep: false,
            bos_live: 0,
            one_hot: false,
        };
        lives.insert(
            Group::One,
            Life {
                keep: true,
                ..life(Sublayer::EMBED)
            },
        );
        lives.insert(
            Group::Bos,
            Life {
                keep: true,
                ..life(Sublayer::EMBED)
            },
        );
        for &id in &plan.nodes {
            let pos = self.pos(id);
            let op = self.graph.op(id);
            let own = self.own(id);
            if own != Own::None {
                // An aggregate holds its default at BOS.
                let vals = self.values(id);
                let default_dim = match op {
                    Op::Aggregate { default, .. } => vals
                        .iter()
                        .position(|x| x.same(default))
                        .or_else(|| valueset::index_of(vals, default)),
                    _ => None,
                };
                let bos_live = match (op, own) {
                    (Op::Aggregate { .. }, Own::Cat(n)) => n.min(1),
                    (Op::Aggregate { default, .. }, Own::Num) => {
                        usize::from(default.as_f64().is_none_or(|x| x != 0.0))
                    }
                    _ => 0,
                };
                let zeros = match own {
                    Own::Cat(_) => vals
                        .iter()
                        .enumerate()
                        .filter(|(j, v)| is_zero(v) && Some(*j) != default_dim)
                        .count(),
                    _ => 0,
                };
                lives.insert(
                    Group::Own(id),
                    Life {
                        bos_live,
                        zeros,
                        one_hot: matches!(own, Own::Cat(_)),
                        ..life(pos)
                    },
                );
            }
            if self.is_width(id) {
                let parts = self.width_parts(id);
                let at = pos.attn_of_layer().unwrap_or(Sublayer::EMBED);
                lives.insert(
                    Group::Scratch(id),
                    Life {
                        bos_live: parts,
                        ..life(at)
                    },
                );
            }
            if let Some(c) = plan.conv_pos.get(&id) {
                lives.insert(
                    Group::Conv(id),
                    Life {
                        one_hot: true,
                        ..life(*c)
                    },
                );
            }
        }
        for i in 0..plan.products.len() {
            let at = plan.product_pos.get(i).copied().unwrap_or(Sublayer::EMBED);
            lives.insert(
                Group::Product(i),
                Life {
                    one_hot: true,
                    ..life(at)
                },
            );
        }
        let mut reads: Vec<Read> = Vec::new();
        for &id in &plan.nodes {
            if let Some(at) = self.head_at(id) {
                if let Op::Aggregate { values, .. } = self.graph.op(id) {
                    match plan.value_fold.get(&id) {
                        Some((leaf, _)) => self.read_cat(*leaf, at, &mut reads),
                        None if plan.numerical.contains(&id) => {
                            self.read_num(*values, at, &mut reads)
                        }
                        None => self.read_cat(*values, at, &mut reads),
                    }
                }
                for ts in self.head_terms(id) {
                    for t in ts {
                        self.read_side(&t.keys, t.key_product, true, at, &mut reads);
                        self.read_side(&t.queries, t.query_product, !t.numeq, at, &mut reads);
                    }
                }
            }
            if let Some(at) = self.mlp_at(id) {
                if self.is_width(id) {
                    reads.push((Group::Scratch(id), at, true));
                } else {
                    let f = &plan.fused[&id];
                    for (i, l) in f.leaves.iter().enumerate() {
                        let cat = match f.mode {
                            MapMode::Table => true,
                            // The leaf planned as its number (`Fused::number`);
                            // the others, even one numerical since, are read
                            // as one-hots (through their conversions).
                            MapMode::Gated => f.number != Some(i),
                            MapMode::Discretise | MapMode::Linear => false,
                        };
                        if cat {
                            self.read_cat(*l, at, &mut reads);
                        } else {
                            self.read_num(*l, at, &mut reads);
                        }
                    }
                }
            }
            if let Some(c) = plan.conv_pos.get(&id) {
                self.read_num(id, *c, &mut reads);
                for l in plan.conv_tables.get(&id).into_iter().flatten() {
                    self.read_cat(*l, *c, &mut reads);
                }
            }
        }
        for (i, p) in plan.products.iter().enumerate() {
            if let Some(at) = plan.product_pos.get(i) {
                for l in &p.leaves {
                    self.read_cat(*l, *at, &mut reads);
                }
            }
        }
        let later = |r: Option<Sublayer>, at: Sublayer| Some(r.map_or(at, |r| r.max(at)));
        for (g, at, whole) in reads {
            if let Some(l) = lives.get_mut(&g) {
                l.last_read = later(l.last_read, at);
                if whole {
                    l.zero_read = later(l.zero_read, at);
                }
            }
        }
        // The output's dims survive: its one-hot, its number (a linear
        // map's arguments), its conversion.
        let mut kept = vec![(Group::Own(target), Sublayer::EMBED, true)];
        kept.push((Group::Conv(target), Sublayer::EMBED, true));
        self.read_num(target, Sublayer::EMBED, &mut kept);
        for (g, _, _) in kept {
            if let Some(l) = lives.get_mut(&g) {
                l.keep = true;
            }
        }
        lives
    }

    /// A read of `x`'s one-hot: its conversion when it has one.
    fn read_cat(&self, x: NodeId, at: Sublayer, reads: &mut Vec<Read>) {
        if self.plan.conv_pos.contains_key(&x) {
            reads.push((Group::Conv(x), at, true));
        } else if matches!(self.own(x), Own::Cat(_)) {
            reads.push((Group::Own(x), at, true));
        }
    }

    /// A read of `x` as a number: its own dims (its number, or its one-hot
    /// read out, which skips the dims of value 0), or a linear map's
    /// arguments.
    fn read_num(&self, x: NodeId, at: Sublayer, reads: &mut Vec<Read>) {
        if self.linear(x) {
            for l in &self.plan.fused[&x].leaves {
                self.read_num(*l, at, reads);
            }
        } else if self.own(x) != Own::None {
            reads.push((Group::Own(x), at, false));
        }
    }

    fn read_side(
        &self,
        leaves: &[NodeId],
        product: Option<usize>,
        cat: bool,
        at: Sublayer,
        reads: &mut Vec<Read>,
    ) {
        match product {
            Some(i) => reads.push((Group::Product(i), at, true)),
            None => {
                for l in leaves {
                    if cat {
                        self.read_cat(*l, at, reads);
                    } else {
                        self.read_num(*l, at, reads);
                    }
                }
            }
        }
    }

    /// The width of the unembedding: the output's values when it is read
    /// as a one-hot, 2 when as a number (`assemble`'s choice).
    pub fn output_width(&self, target: NodeId) -> usize {
        let plan = self.plan;
        let prefer_num = self.graph.hint(target) != Some(Hint::Categorical)
            && (plan.need_num.contains(&target) && !plan.need_cat.contains(&target)
                || plan.numerical.contains(&target));
        let (cat, num) = match (self.graph.op(target), self.own(target)) {
            (Op::Const(v), _) => (Some(1), v.as_f64().is_some()),
            (_, Own::Cat(n)) => (Some(n), false),
            (_, Own::Num) => (None, true),
            (_, Own::None) => (None, self.linear(target)),
        };
        let cat = cat.or_else(|| {
            plan.conv_pos
                .contains_key(&target)
                .then(|| self.conv(target))
        });
        match cat {
            Some(n) if !(prefer_num && num) => n,
            _ => 2,
        }
    }
}

/// The units that zero one dim of a group: `relu(x)` taken back for a
/// one-hot, `relu(x) - relu(-x)` for a number of either sign.
pub fn clearing_units(life: &Life) -> usize {
    if life.one_hot { 1 } else { 2 }
}

/// The residual width `reclaim` ends with, and the clearing units it adds
/// to each layer's MLP (`clearing_units` per dim it zeroes). `reclaim` gives every dim
/// of a group its group's live range and takes any free dim for each dim
/// in order of first write, which needs exactly as many dims as are ever
/// live at once; when that is all of them it changes nothing.
pub fn reuse(
    groups: &[(Group, usize)],
    lives: &BTreeMap<Group, Life>,
    n_layers: usize,
) -> (usize, Vec<usize>) {
    let total = groups
        .iter()
        .map(|g| g.1)
        .fold(0usize, usize::saturating_add);
    let last_write = groups
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(g, _)| lives[g].write)
        .max();
    // (write, clear, dims never freed, dims freed at `clear`, units per
    // cleared dim): a group's dims of value 0 and its others.
    let mut spans: Vec<(Sublayer, Option<Sublayer>, usize, usize, usize)> = Vec::new();
    for (g, n) in groups {
        let l = lives[g];
        let stay = l.bos_live.min(*n);
        let zeros = l.zeros.min(n - stay);
        let units = clearing_units(&l);
        for (dims, zero) in [(zeros, true), (n - stay - zeros, false)] {
            match clear_at(&l, zero, n_layers, last_write) {
                Some(c) => spans.push((l.write, Some(c), 0, dims, units)),
                None => spans.push((l.write, None, dims, 0, units)),
            }
        }
        spans.push((l.write, None, stay, 0, units));
    }
    let mut most = 0usize;
    for s in std::iter::once(Sublayer::EMBED).chain(Sublayer::all(n_layers)) {
        let live = spans
            .iter()
            .filter(|sp| sp.0 <= s)
            .map(|sp| {
                sp.2 + if sp.1.is_some_and(|c| c >= s) {
                    sp.3
                } else {
                    0
                }
            })
            .fold(0usize, usize::saturating_add);
        most = most.max(live);
    }
    let mut clears = vec![0usize; n_layers];
    if most >= total {
        return (total, clears);
    }
    for sp in &spans {
        if let Some(l) = sp.1.and_then(Sublayer::layer) {
            clears[l] = clears[l].saturating_add(sp.3.saturating_mul(sp.4));
        }
    }
    (most, clears)
}

/// What one s-op (or product one-hot) costs.
#[derive(Clone, Debug)]
pub struct Cost {
    /// The s-op (a product one-hot names its first leaf).
    pub node: NodeId,
    /// Residual dims it is given (before any are reused).
    pub dims: usize,
    /// MLP units of its blocks (its table or steps, decoders, conversion).
    pub units: usize,
    /// Its heads and the widest of them.
    pub heads: usize,
    pub head_width: usize,
    /// Why, in words (`a table over 21 x 20 values`).
    pub why: String,
    /// The leaves of a product one-hot (which is no s-op of its own).
    pub product_of: Vec<NodeId>,
    /// Parameters it accounts for in the estimate (its share, for ranking).
    pub share: u128,
}

impl Cost {
    /// What the cost is of: the s-op, or `(a, b)` for a product one-hot.
    pub fn title(&self, title: impl Fn(NodeId) -> String) -> String {
        if self.product_of.is_empty() {
            title(self.node)
        } else {
            let names: Vec<String> = self.product_of.iter().map(|n| title(*n)).collect();
            format!("({})", names.join(", "))
        }
    }
}

#[derive(Clone, Debug)]
pub struct Estimate {
    pub n_layers: usize,
    pub d_model: usize,
    pub d_mlp: usize,
    pub n_heads: usize,
    pub d_head: usize,
    pub params: u64,
    /// Most expensive first.
    pub costs: Vec<Cost>,
}

/// The dense parameter count of a model of these dimensions, as
/// `explain::parameter_count` counts it: embeddings, per layer the
/// attention (Q, K, V, O and their biases) and the MLP, the unembedding.
#[allow(clippy::too_many_arguments)]
pub fn dense_params(
    n_vocab: usize,
    max_len: usize,
    n_layers: usize,
    d_model: usize,
    n_heads: usize,
    d_head: usize,
    d_mlp: usize,
    d_out: usize,
) -> u128 {
    let [v, n, l, dm, h, dh, mlp, out] = [
        n_vocab, max_len, n_layers, d_model, n_heads, d_head, d_mlp, d_out,
    ]
    .map(|x| x as u128);
    let attn = 4 * h * dm * dh + 3 * h * dh + dm;
    let ffn = 2 * dm * mlp + mlp + dm;
    (v + 2 + n + 1) * dm + l * (attn + ffn) + dm * out + out
}

/// The model `plan` gives for `target`, from the construction's sizes: an
/// upper bound on its dense parameter count (exact unless a table has rows
/// it skips or a discretisation steps it merges).
pub fn estimate(ctx: &Ctx, plan: &Plan, opts: &Options, target: NodeId) -> Estimate {
    let s = Sizer::new(ctx.graph, ctx.sets, plan, opts.max_len);
    let n_layers = super::plan::n_layers(plan);
    let groups = s.groups();
    let lives = s.lives(target);
    let (d_model, clears) = reuse(&groups, &lives, n_layers);
    let mut units = clears;
    let mut heads = vec![0usize; n_layers];
    let mut d_head = 1usize;
    let mut tables: BTreeMap<(Sublayer, Vec<NodeId>), Vec<NodeId>> = BTreeMap::new();
    let add = |v: &mut Vec<usize>, at: Sublayer, k: usize| {
        if let Some(l) = at.layer().filter(|l| *l < v.len()) {
            v[l] = v[l].saturating_add(k);
        }
    };
    for &id in &plan.nodes {
        if let Some(at) = s.head_at(id) {
            let widths = s.head_widths(id);
            add(&mut heads, at, widths.len());
            d_head = d_head.max(widths.iter().copied().max().unwrap_or(1));
        }
        if let Some(at) = s.mlp_at(id) {
            match s.table_leaves(id) {
                // Tables over the same leaves in one MLP share their units
                // (`mlps::table`): counted once, for all of them, below.
                Some(leaves) => tables.entry((at, leaves)).or_default().push(id),
                None => add(&mut units, at, s.units(id)),
            }
        }
        if let Some(c) = plan.conv_pos.get(&id) {
            add(&mut units, *c, s.conv_units(id));
        }
    }
    for ((at, _), ids) in &tables {
        add(&mut units, *at, s.shared_table_units(ids));
    }
    for i in 0..plan.products.len() {
        if let Some(at) = plan.product_pos.get(i) {
            add(&mut units, *at, s.product(i));
        }
    }
    let d_mlp = units.iter().copied().max().unwrap_or(0).max(1);
    let n_heads = heads.iter().copied().max().unwrap_or(0).max(1);
    let d_out = s.output_width(target);
    let params = dense_params(
        opts.vocab.len(),
        opts.max_len,
        n_layers,
        d_model,
        n_heads,
        d_head,
        d_mlp,
        d_out,
    );
    // Each cost's share: a residual dim costs a row of every matrix that
    // reads or writes the residual; a unit costs its two MLP rows in every
    // layer; a head dim costs its Q, K, V and O rows in every layer.
    let (l, dm, h, dh, mlp) = (
        n_layers as u128,
        d_model as u128,
        n_heads as u128,
        d_head as u128,
        d_mlp as u128,
    );
    let per_dim =
        (opts.vocab.len() + opts.max_len + 3 + d_out) as u128 + l * (4 * h * dh + 2 * mlp + 2);
    let per_unit = l * (2 * dm + 1);
    let per_head_dim = l * (4 * dm + 3);
    let share = |dims: usize, units: usize, heads: usize, width: usize| {
        dims as u128 * per_dim
            + units as u128 * per_unit
            + (heads as u128) * (width as u128) * per_head_dim
    };
    let mut costs: Vec<Cost> = Vec::new();
    for &id in &plan.nodes {
        let op = ctx.graph.op(id);
        let mut why = Vec::new();
        let own = s.own(id);
        if let Own::Cat(n) = own {
            why.push(format!("a one-hot of {n} values"));
        }
        let conv = s.conv(id);
        if conv > 0 {
            let all = s.len(id);
            why.push(if conv < all {
                format!("a conversion to a one-hot of {conv} of its {all} values")
            } else {
                format!("a conversion to a one-hot of {conv} values")
            });
        }
        if let Some(f) = plan.fused.get(&id) {
            let sizes: Vec<String> = f.leaves.iter().map(|l| s.len(*l).to_string()).collect();
            match f.mode {
                MapMode::Table if f.leaves.len() > 1 => {
                    why.push(format!("a table over {} values", sizes.join(" x ")))
                }
                MapMode::Discretise => why.push(format!("steps over {} values", sizes.join(""))),
                MapMode::Gated => {
                    // The number is the leaf `Builder::gated` reads as one.
                    let slot = f.leaves.iter().position(|l| plan.numerical.contains(l));
                    let cats: Vec<&str> = (0..sizes.len())
                        .filter(|i| Some(*i) != slot)
                        .map(|i| sizes[i].as_str())
                        .collect();
                    why.push(format!(
                        "steps over {} values for each of {} tuples",
                        slot.map_or("?", |i| sizes[i].as_str()),
                        cats.join(" x ")
                    ))
                }
                _ => {}
            }
        }
        let parts = s.width_parts(id);
        if parts > 1 {
            why.push(format!("{parts} heads by inclusion-exclusion"));
        }
        if s.is_width(id) {
            why.push(format!("decoding widths up to {}", opts.max_len));
        }
        let widths = s.head_widths(id);
        let head_width = widths.iter().copied().max().unwrap_or(0);
        if let Op::Aggregate { .. } = op {
            why.push(format!("a head {head_width} wide"));
        }
        let dims = s.own_len(id) + if s.is_width(id) { parts } else { 0 } + conv;
        let units = s.units(id).saturating_add(s.conv_units(id));
        costs.push(Cost {
            node: id,
            dims,
            units,
            heads: widths.len(),
            head_width,
            why: why.join(", "),
            product_of: Vec::new(),
            share: share(dims, units, widths.len(), head_width),
        });
    }
    for (i, p) in plan.products.iter().enumerate() {
        let size = s.product(i);
        let sizes: Vec<String> = p.leaves.iter().map(|l| s.len(*l).to_string()).collect();
        costs.push(Cost {
            node: p.leaves[0],
            dims: size,
            units: size,
            heads: 0,
            head_width: 0,
            why: format!(
                "a joint one-hot of {} values for a selector's `or`/`not`",
                sizes.join(" x ")
            ),
            product_of: p.leaves.clone(),
            share: share(size, size, 0, 0),
        });
    }
    costs.sort_by_key(|c| std::cmp::Reverse(c.share));
    Estimate {
        n_layers,
        d_model,
        d_mlp,
        n_heads,
        d_head,
        params: u64::try_from(params).unwrap_or(u64::MAX),
        costs,
    }
}

/// The diagnostic for a model over the parameter limit: its size and the
/// operations that cost most.
pub fn too_big(graph: &Graph, sources: &SourceMap, e: &Estimate, limit: u64) -> Diag {
    let mut lines = Vec::new();
    for c in e.costs.iter().take(3) {
        let mut what = format!(
            "`{}`: {} residual dims, {} MLP units",
            c.title(|n| interp::node_title(graph, sources, n)),
            c.dims,
            c.units
        );
        if c.heads > 1 {
            what.push_str(&format!(", {} heads", c.heads));
        }
        if !c.why.is_empty() {
            what.push_str(&format!(" ({})", c.why));
        }
        lines.push(what);
    }
    let mut d = Diag::error(
        codes::COMPILE_SIZE,
        format!(
            "the model would have at most {} parameters ({} layer{}, residual width {}, MLP width {}, \
             {} head{}/layer of width {}), over the limit of {limit}; the largest costs: {}",
            e.params,
            e.n_layers,
            if e.n_layers == 1 { "" } else { "s" },
            e.d_model,
            e.d_mlp,
            e.n_heads,
            if e.n_heads == 1 { "" } else { "s" },
            e.d_head,
            lines.join("; ")
        ),
    )
    .help("use a smaller vocab or max length, or raise the limit with --max-params");
    if let Some(c) = e.costs.first()
        && let Some(span) = graph.node(c.node).span
    {
        d = d.at(span).label("the largest cost").with_sources(sources);
    }
    d
}
