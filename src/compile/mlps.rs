//! MLP units: lookup tables over one-hots, discretising steps over a
//! number (numerical maps, width decoders, conversions to one-hots), and
//! the product one-hots of `or`/`not` selectors.
//!
//! Every unit is gated off at BOS (its pre-activation there is made
//! negative), so MLPs never write into the BOS position.

use std::collections::BTreeMap;

use super::builder::{Builder, Lin, Unit};
use super::plan::MapMode;
use super::precision;
use super::size::merge_points;
use super::valueset;
use crate::diag::{Diag, codes};
use crate::ir::value::Value;
use crate::ir::{NodeId, Op};

/// A point of a discretised function: an input number and the residual
/// writes of the output there.
type Point = (f64, Vec<(usize, f32)>);

impl Builder<'_> {
    /// Gate a unit off at BOS: its pre-activation there becomes negative.
    fn gate(&self, mut u: Unit) -> Unit {
        let pre: f32 = u.w_in.iter().map(|(d, w)| self.bos[*d] * w).sum::<f32>() + u.b_in;
        u.w_in.push((self.bos_dim, -(pre.max(0.0) + 1.0)));
        u
    }

    /// [`Builder::gate`], for units built elsewhere.
    pub fn gate_unit(&self, u: Unit) -> Unit {
        self.gate(u)
    }

    fn push_units(&mut self, layer: usize, units: Vec<Unit>) {
        let gated: Vec<Unit> = units.into_iter().map(|u| self.gate(u)).collect();
        self.mlps[layer].extend(gated);
    }

    /// What an MLP writes for output value `v` of node `id`: its one-hot
    /// dim and/or its number.
    fn outputs(&self, id: NodeId, v: &Value) -> Vec<(usize, f32)> {
        let mut out = Vec::new();
        if let Some(d) = self.dims.get(&id) {
            if let Some((dims, vals)) = &d.cat
                && let Some(j) = valueset::index_of(vals, v)
            {
                out.push((dims[j], 1.0));
            }
            if let Some([(dim, _)]) = d.num.as_deref() {
                out.push((*dim, v.as_f64().unwrap_or(0.0) as f32));
            }
        }
        out
    }

    /// A lookup table over the one-hots of the leaves: one unit per tuple
    /// of leaf values where the map writes something. A tuple another
    /// table over the same leaves already detects in this layer adds its
    /// outputs to that unit (the same hidden value; its writes go to other
    /// dims, so no sum changes).
    fn table(&mut self, id: NodeId, layer: usize) -> Result<(), Diag> {
        let f = self.plan.fused[&id].clone();
        let leaves: Vec<(Vec<usize>, Vec<Value>)> = f
            .leaves
            .iter()
            .map(|l| self.cat(*l))
            .collect::<Result<_, _>>()?;
        let k = leaves.len();
        let mut rows: Vec<(Vec<usize>, Lin)> = Vec::new();
        let sizes: Vec<usize> = leaves.iter().map(|l| l.1.len()).collect();
        // The usual value's dim: lit by a constant unit, taken back by
        // every tuple of another value.
        let usual = match self.sizer().usual(&f) {
            Some(u) => {
                let dims = self.dims.get(&id).and_then(|d| d.cat.as_ref());
                let dim = dims.and_then(|(ds, vs)| valueset::index_of(vs, u).map(|j| ds[j]));
                match dim {
                    Some(d) => Some((u.clone(), d)),
                    None => return Err(self.internal(id, "has no one-hot dim for its usual value")),
                }
            }
            None => None,
        };
        valueset::for_each_index(&sizes, |idx| {
            let combo: Vec<&Value> = idx.iter().zip(&leaves).map(|(i, l)| &l.1[*i]).collect();
            if let Ok(v) = f.expr.eval(&combo) {
                let mut w_out = self.outputs(id, &v);
                // A number 0 writes nothing (its dim holds 0).
                w_out.retain(|(_, w)| *w != 0.0);
                if let Some((u, ud)) = &usual {
                    if u.same(&v) {
                        w_out.retain(|(d, _)| d != ud);
                    } else {
                        w_out.push((*ud, -1.0));
                    }
                }
                if !w_out.is_empty() {
                    rows.push((idx.to_vec(), w_out));
                }
            }
        });
        if let Some((_, ud)) = usual {
            self.push_units(
                layer,
                vec![Unit {
                    w_in: vec![(self.one, 1.0)],
                    b_in: 0.0,
                    w_out: vec![(ud, 1.0)],
                }],
            );
        }
        let key = (layer, f.leaves.clone());
        let mut shared = self.table_rows.remove(&key).unwrap_or_default();
        let mut fresh = Vec::new();
        for (idx, w_out) in rows {
            let unit = shared.get(&idx).map(|u| &mut self.mlps[layer][*u]);
            match unit {
                Some(u)
                    if w_out
                        .iter()
                        .all(|(d, _)| u.w_out.iter().all(|(e, _)| e != d)) =>
                {
                    u.w_out.extend(w_out);
                }
                _ => fresh.push((idx, w_out)),
            }
        }
        let start = self.mlps[layer].len();
        let mut units = Vec::with_capacity(fresh.len());
        for (i, (idx, w_out)) in fresh.into_iter().enumerate() {
            units.push(Unit {
                w_in: idx
                    .iter()
                    .zip(&leaves)
                    .map(|(i, l)| (l.0[*i], 1.0))
                    .collect(),
                b_in: -(k as f32 - 1.0),
                w_out,
            });
            shared.entry(idx).or_insert(start + i);
        }
        self.push_units(layer, units);
        self.table_rows.insert(key, shared);
        Ok(())
    }

    /// Step units that read the number `x` and write, at each reachable
    /// input, the outputs of the nearest point. A step is placed half-way
    /// between neighbouring points only where the output changes, with a
    /// slope from that gap alone: the step is saturated a quarter gap away
    /// from its threshold, so every reachable input gets exact outputs.
    /// Each step is checked against the float32 error of `x` as the model
    /// computes it (`precision`); `gate` is the size (in units of `x`) and
    /// count of the terms a gate adds to each unit.
    /// Returns the units (not gated) and the smallest margin.
    fn steps(
        &self,
        id: NodeId,
        x: &Lin,
        points: Vec<Point>,
        gate: (f64, usize),
    ) -> Result<(Vec<Unit>, Option<f64>), Diag> {
        let points = merge_points(points);
        let Some(first) = points.first() else {
            return Ok((Vec::new(), None));
        };
        let mut units = Vec::new();
        if !first.1.is_empty() {
            units.push(Unit {
                // The first point's outputs: a constant unit.
                w_in: vec![(self.one, 1.0)],
                b_in: 0.0,
                w_out: first.1.clone(),
            });
        }
        let mut smallest: Option<f64> = None;
        for w in points.windows(2) {
            let delta = diff(&w[1].1, &w[0].1);
            if delta.is_empty() {
                continue;
            }
            let gap = w[1].0 - w[0].0;
            let at = w[0].0.abs().max(w[1].0.abs());
            let (x_err, mag, terms) = self.lin_err(x, at);
            if let Err(u) =
                precision::check_step(w[0].0, w[1].0, x_err, mag + gate.0, terms + gate.1)
            {
                return Err(self.err_at(
                    id,
                    Diag::error(
                        codes::COMPILE_PRECISION,
                        format!(
                            "`{}` must tell apart the values {} and {} ({gap:.3e} apart), \
                             but float32 may compute its input up to {:.1e} off \
                             (a step between them tolerates {:.1e})",
                            self.name(id),
                            w[0].0,
                            w[1].0,
                            u.err,
                            u.tolerance,
                        ),
                    )
                    .help("a smaller max length or vocab spreads the values further apart"),
                ));
            }
            smallest = Some(smallest.map_or(gap / 4.0, |m: f64| m.min(gap / 4.0)));
            let t = (w[0].0 + w[1].0) / 2.0;
            let slope = 2.0 / gap;
            // step = relu(k(x - t) + 0.5) - relu(k(x - t) - 0.5)
            let w_in: Vec<(usize, f32)> = x
                .iter()
                .map(|(d, c)| (*d, (slope * *c as f64) as f32))
                .collect();
            units.push(Unit {
                w_in: w_in.clone(),
                b_in: (-slope * t + 0.5) as f32,
                w_out: delta.clone(),
            });
            units.push(Unit {
                w_in,
                b_in: (-slope * t - 0.5) as f32,
                w_out: delta.iter().map(|(d, w)| (*d, -w)).collect(),
            });
        }
        Ok((units, smallest))
    }

    fn discretise(
        &mut self,
        id: NodeId,
        layer: usize,
        x: &Lin,
        points: Vec<Point>,
    ) -> Result<(), Diag> {
        let (units, margin) = self.steps(id, x, points, (0.0, 0))?;
        if let Some(m) = margin {
            self.margins.push((id, m));
        }
        self.record_outputs(id, &units);
        self.push_units(layer, units);
        Ok(())
    }

    /// A map of one number and categorical leaves: for each tuple of
    /// categorical values, the steps of the number's function, each unit
    /// gated by the tuple's one-hots (a unit whose tuple is absent gets a
    /// pre-activation below zero at every reachable number).
    fn gated(&mut self, id: NodeId, layer: usize) -> Result<(), Diag> {
        let f = self.plan.fused[&id].clone();
        let Some(slot) = f.number else {
            return Err(self.internal(id, "is gated but reads no number"));
        };
        let xnode = f.leaves[slot];
        let x = self.num(xnode)?;
        let xs: Vec<Value> = self.values(xnode).to_vec();
        let (lo, hi) = xs
            .iter()
            .filter_map(Value::as_f64)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
        type Cat = (usize, (Vec<usize>, Vec<Value>));
        let cats: Vec<Cat> = f
            .leaves
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != slot)
            .map(|(i, l)| self.cat(*l).map(|c| (i, c)))
            .collect::<Result<_, _>>()?;
        let sizes: Vec<usize> = cats.iter().map(|(_, c)| c.1.len()).collect();
        let mut tuples: Vec<Vec<usize>> = Vec::new();
        valueset::for_each_index(&sizes, |idx| tuples.push(idx.to_vec()));
        let k = cats.len() as f32;
        let mut all = Vec::new();
        let mut smallest: Option<f64> = None;
        for idx in tuples {
            let mut args: Vec<Value> = vec![Value::Int(0); f.leaves.len()];
            for ((i, c), j) in cats.iter().zip(&idx) {
                args[*i] = c.1[*j].clone();
            }
            let mut points: Vec<Point> = Vec::new();
            for v in &xs {
                args[slot] = v.clone();
                let refs: Vec<&Value> = args.iter().collect();
                if let (Some(xv), Ok(out)) = (v.as_f64(), f.expr.eval(&refs)) {
                    points.push((xv, self.outputs(id, &out)));
                }
            }
            // A gate adds, per categorical leaf, a one-hot term of about the
            // largest pre-activation and a bias of that size.
            let span = lo.abs().max(hi.abs()) + (hi - lo);
            let gate = (2.1 * f64::from(k) * span, 2 * cats.len());
            let (units, margin) = self.steps(id, &x, points, gate)?;
            if let Some(m) = margin {
                smallest = Some(smallest.map_or(m, |s: f64| s.min(m)));
            }
            for mut u in units {
                // The largest pre-activation over reachable numbers: a step
                // unit reads `slope · x + b`, the constant unit 1.
                let probe = x.iter().find(|(d, c)| *d != self.one && *c != 0.0);
                let slope = probe
                    .and_then(|(d, c)| {
                        u.w_in
                            .iter()
                            .find(|(e, _)| e == d)
                            .map(|(_, w)| f64::from(*w) / f64::from(*c))
                    })
                    .unwrap_or(0.0);
                let top = if slope == 0.0 {
                    u.w_in.iter().map(|(_, w)| f64::from(*w)).sum::<f64>() + f64::from(u.b_in)
                } else {
                    let b = f64::from(u.b_in);
                    (slope * lo + b).abs().max((slope * hi + b).abs())
                };
                let g = (top * 1.01 + 2.0) as f32;
                for ((_, c), j) in cats.iter().zip(&idx) {
                    u.w_in.push((c.0[*j], g));
                }
                u.b_in -= g * k;
                all.push(u);
            }
        }
        if let Some(m) = smallest {
            self.margins.push((id, m));
        }
        self.record_outputs(id, &all);
        self.push_units(layer, all);
        Ok(())
    }

    /// The MLP of a map, a width decoder or `length` (no more units than
    /// the size estimate counted).
    pub fn mlp(&mut self, id: NodeId, layer: usize) -> Result<(), Diag> {
        let before = self.mlps[layer].len();
        self.mlp_units(id, layer)?;
        debug_assert!(
            self.mlps[layer].len() - before <= self.sizer().units(id),
            "MLP units within the estimate's"
        );
        Ok(())
    }

    fn mlp_units(&mut self, id: NodeId, layer: usize) -> Result<(), Diag> {
        match self.graph.op(id) {
            Op::Map { .. } => match self.plan.fused[&id].mode {
                MapMode::Table => self.table(id, layer),
                MapMode::Discretise => {
                    let f = self.plan.fused[&id].clone();
                    let leaf = f.leaves[0];
                    let x = self.num(leaf)?;
                    let mut points: Vec<Point> = Vec::new();
                    for v in self.values(leaf).to_vec() {
                        if let (Some(xv), Ok(out)) = (v.as_f64(), f.expr.eval(&[&v])) {
                            points.push((xv, self.outputs(id, &out)));
                        }
                    }
                    self.discretise(id, layer, &x, points)
                }
                MapMode::Gated => self.gated(id, layer),
                MapMode::Linear => Err(self.internal(id, "is linear and has no MLP")),
            },
            Op::SelectorWidth(_) | Op::Length => {
                let parts = self.sizer().decoder_parts(id);
                let single = parts.len() == 1 && parts[0].0 == 1.0;
                for (i, (sign, counts)) in parts.into_iter().enumerate() {
                    let scratch = self.scratch(id, i)?;
                    let own = match self.dims.get(&id).and_then(|d| d.num.as_deref()) {
                        Some([(dim, _)]) => Some(*dim),
                        _ => None,
                    };
                    let points: Vec<Point> = counts
                        .map(|w| {
                            let out = if single {
                                self.outputs(id, &Value::Int(w as i64))
                            } else {
                                own.map(|d| vec![(d, sign * w as f32)]).unwrap_or_default()
                            };
                            (1.0 / (w as f64 + 1.0), out)
                        })
                        .collect();
                    self.discretise(id, layer, &vec![(scratch, 1.0)], points)?;
                }
                Ok(())
            }
            _ => Err(self.internal(id, "has no MLP")),
        }
    }

    /// The conversion of a numerical s-op to one-hots: steps of its number,
    /// or, where those cannot tell its values apart and it is a linear map
    /// of s-ops that have one-hots, a table over their one-hots. Every
    /// reachable value is a point; one without a dim (`Plan::conv_values`)
    /// writes nothing, so no neighbour's dim is lit for it.
    pub fn conversion(&mut self, id: NodeId, layer: usize) -> Result<(), Diag> {
        let x = self.num(id)?;
        let (dims, vals) = self.cat(id)?;
        let points: Vec<Point> = self
            .values(id)
            .iter()
            .filter_map(|v| {
                // Structurally: a twin of a kept value (another rounding
                // of it) may satisfy no select.
                let out = vals
                    .iter()
                    .position(|w| w.same(v))
                    .map(|j| vec![(dims[j], 1.0)])
                    .unwrap_or_default();
                v.as_f64().map(|f| (f, out))
            })
            .collect();
        match self.steps(id, &x, points, (0.0, 0)) {
            Ok((units, margin)) => {
                if let Some(m) = margin {
                    self.margins.push((id, m));
                }
                debug_assert!(
                    units.len() <= self.sizer().conv_units(id),
                    "conversion units within the estimate's"
                );
                self.push_units(layer, units);
                Ok(())
            }
            Err(d) if d.code == codes::COMPILE_PRECISION => match self.table_conversion(id)? {
                Some(units) => {
                    self.push_units(layer, units);
                    Ok(())
                }
                None => Err(d),
            },
            Err(d) => Err(d),
        }
    }

    /// A linear map's one-hot from a table over the one-hots it is computed
    /// from (its arguments, through linear maps without one-hots of their
    /// own; one unit per tuple of their values): two float roundings of one
    /// number that the interpreter tells apart are two entries of the
    /// one-hot, however close. `None` where something it reads has no
    /// one-hot or the table alone would be over the parameter limit.
    fn table_conversion(&self, id: NodeId) -> Result<Option<Vec<Unit>>, Diag> {
        // Only the planned tables: their leaves' one-hots live until here.
        let Some(planned) = self.plan.conv_tables.get(&id) else {
            return Ok(None);
        };
        let mut leaves: Vec<NodeId> = Vec::new();
        if !self.one_hot_leaves(id, &mut leaves) {
            return Ok(None);
        }
        leaves.sort();
        leaves.dedup();
        if leaves != *planned {
            return Err(self.internal(id, "reads other one-hots than its planned table"));
        }
        let cats: Vec<(Vec<usize>, Vec<Value>)> = leaves
            .iter()
            .map(|l| self.cat(*l))
            .collect::<Result<_, _>>()?;
        let (dims, vals) = self.cat(id)?;
        let partial = self.plan.conv_values.contains_key(&id);
        let all = self.values(id);
        let sizes: Vec<usize> = cats.iter().map(|l| l.1.len()).collect();
        let rows = sizes.iter().try_fold(1usize, |a, b| a.checked_mul(*b));
        // A table whose units alone (one column of W_in and one row of
        // W_out each) would exceed the parameter limit is not built.
        let limit = usize::try_from(self.opts.max_params).unwrap_or(usize::MAX)
            / (2 * self.labels.len().max(1));
        if rows.is_none_or(|r| r > limit) {
            return Ok(None);
        }
        let k = cats.len() as f32;
        let mut units = Vec::new();
        let mut missing = None;
        valueset::for_each_index(&sizes, |idx| {
            let at: BTreeMap<NodeId, &Value> = leaves
                .iter()
                .zip(idx.iter().zip(&cats))
                .map(|(l, (i, c))| (*l, &c.1[*i]))
                .collect();
            if let Some(v) = self.eval_at(id, &at) {
                // Exactly this value (`same`), not a float near it.
                match vals.iter().position(|x| x.same(&v)) {
                    Some(j) => units.push(Unit {
                        w_in: idx.iter().zip(&cats).map(|(i, c)| (c.0[*i], 1.0)).collect(),
                        b_in: -(k - 1.0),
                        w_out: vec![(dims[j], 1.0)],
                    }),
                    // A value without a dim (`Plan::conv_values`): none lit.
                    None if partial && all.iter().any(|x| x.same(&v)) => {}
                    None => missing = Some(v),
                }
            }
        });
        match missing {
            Some(v) => Err(self.internal(
                id,
                &format!(
                    "computes {} from its arguments' values, outside its value set",
                    v.repr()
                ),
            )),
            None => Ok(Some(units)),
        }
    }

    /// The s-ops with one-hots a map is computed from, through maps that
    /// have none; false where something else (a mean) is read.
    fn one_hot_leaves(&self, id: NodeId, out: &mut Vec<NodeId>) -> bool {
        let Op::Map { args, .. } = self.graph.op(id) else {
            return false;
        };
        for a in args {
            if self.dims.get(a).is_some_and(|d| d.cat.is_some()) {
                if !out.contains(a) {
                    out.push(*a);
                }
            } else if !(matches!(self.graph.op(*a), Op::Map { .. }) && self.one_hot_leaves(*a, out))
            {
                return false;
            }
        }
        true
    }

    /// A map's value where the s-ops of [`Builder::one_hot_leaves`] hold
    /// `at`; `None` where the interpreter would fail.
    fn eval_at(&self, id: NodeId, at: &BTreeMap<NodeId, &Value>) -> Option<Value> {
        if let Some(v) = at.get(&id) {
            return Some((*v).clone());
        }
        let Op::Map { expr, args } = self.graph.op(id) else {
            return None;
        };
        let vals: Vec<Value> = args
            .iter()
            .map(|a| self.eval_at(*a, at))
            .collect::<Option<_>>()?;
        let refs: Vec<&Value> = vals.iter().collect();
        expr.eval(&refs).ok()
    }

    /// The MLP that builds product one-hot `i` from its leaves' one-hots.
    pub fn product_mlp(&mut self, i: usize, layer: usize) -> Result<(), Diag> {
        let leaves = self.plan.products[i].leaves.clone();
        let cats: Vec<(Vec<usize>, Vec<Value>)> = leaves
            .iter()
            .map(|l| self.cat(*l))
            .collect::<Result<_, _>>()?;
        let (dims, tuples) = self.products[i].clone();
        let k = leaves.len() as f32;
        let mut units = Vec::with_capacity(dims.len());
        for (dim, tuple) in dims.iter().zip(&tuples) {
            let mut w_in = Vec::with_capacity(tuple.len());
            for ((ld, lv), v) in cats.iter().zip(tuple) {
                if let Some(j) = valueset::index_of(lv, v) {
                    w_in.push((ld[j], 1.0));
                }
            }
            units.push(Unit {
                w_in,
                b_in: -(k - 1.0),
                w_out: vec![(*dim, 1.0)],
            });
        }
        self.push_units(layer, units);
        Ok(())
    }
}

/// `a - b` as sparse vectors.
fn diff(a: &[(usize, f32)], b: &[(usize, f32)]) -> Vec<(usize, f32)> {
    let mut out: BTreeMap<usize, f32> = BTreeMap::new();
    for (d, w) in a {
        *out.entry(*d).or_default() += w;
    }
    for (d, w) in b {
        *out.entry(*d).or_default() -= w;
    }
    out.into_iter().filter(|(_, w)| *w != 0.0).collect()
}
