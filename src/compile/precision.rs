//! Float32 error bounds of the compiled constructions, from which the
//! precision check of discretising MLPs is derived (`rasp::compile::precision`).
//!
//! Every numerical residual dim carries a bound on how far the number a
//! float32 model holds there can be from the interpreter's value `x`:
//! `abs + rel·|x|` ([`ErrBound`]). Heads set it from the softmax they
//! compute (a sum over up to N + 1 keys, the rounding of their scores, the
//! leak of keys ATTN_C logits down), MLPs from the outputs they sum. A
//! discretising step sits half-way between neighbouring values `x0 < x1`
//! with slope `2/gap` and is saturated a quarter gap from its threshold, so
//! it is exact while the error of its pre-activation, measured in units of
//! `x`, stays below `gap/4`; the check asks for half that
//! ([`step_tolerance`]).
//!
//! These are first-order bounds (products of `u` are dropped); the
//! verification after compiling remains the check that a model is exact.

use std::collections::BTreeMap;

use super::ATTN_C;
use super::builder::{Builder, Head, Lin, Unit};
use crate::ir::NodeId;
use crate::ir::value::Value;

/// The unit roundoff of float32.
pub const U: f64 = f32::EPSILON as f64 / 2.0;

/// A bound on the error of a residual dim: `abs + rel·|x|` where `x` is the
/// interpreter's value; `mag` is the largest `|x|` the dim holds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ErrBound {
    pub abs: f64,
    pub rel: f64,
    pub mag: f64,
}

impl ErrBound {
    /// The bound at value `x`.
    pub fn at(&self, x: f64) -> f64 {
        self.abs + self.rel * x.abs()
    }

    /// The bound at the largest value the dim holds.
    pub fn worst(&self) -> f64 {
        self.at(self.mag)
    }
}

/// The rounding error of a score that sums `terms` products in float32
/// (plus the scaling by `1/sqrt(d_head)`), for a score of size `score`.
pub fn score_err(score: f64, terms: usize) -> f64 {
    (terms as f64 + 2.0) * U * score.abs()
}

/// The relative error of the attention weight of a selected key when
/// `keys` keys (BOS included) share the attention and the scores of
/// selected keys are each off by at most `score_err`: the exponentials
/// (one rounding each, and `e^(±2·score_err)` between two selected keys),
/// the sum of `keys` terms and the division.
pub fn softmax_rel(keys: usize, score_err: f64) -> f64 {
    (keys as f64 + 3.0) * U + (2.0 * score_err).exp_m1()
}

/// How much of the attention keys that score `margin` logits below the
/// winners can take from them, `keys` of them at most.
pub fn leak(keys: usize, margin: f64) -> f64 {
    keys as f64 * (-margin).exp()
}

/// The error, in units of the input, of a step unit's own arithmetic: its
/// weights (`2/gap` times the input's coefficients) and bias rounded to
/// float32, and a dot product over `terms` non-zero terms whose sizes add up
/// to `mag` (in units of the input), plus the bias at the threshold `t`.
pub fn unit_err(mag: f64, t: f64, terms: usize) -> f64 {
    (terms as f64 + 3.0) * U * (mag + t.abs())
}

/// The error a step between two values `gap` apart tolerates: it is
/// saturated a quarter gap from its threshold; half of that, for safety.
pub fn step_tolerance(gap: f64) -> f64 {
    gap / 8.0
}

/// The error a numerical output decoded by its nearest reachable value
/// tolerates between two values `gap` apart: anything within half the gap
/// decodes right (the error it is compared with is already a bound, the
/// decoder's own rounding included).
pub fn decode_tolerance(gap: f64) -> f64 {
    gap / 2.0
}

/// The rounding error of the scores of a numerical equality select
/// between values in `lo..=hi` whose nearest wrong key is `delta` away:
/// the scores `λ(2(q-c)(k-c) - (k-c)²)` with `λ = ATTN_C/δ²`, centred at
/// `c`, are at most `3λh²` (`h`: half the range), summed from two
/// products.
pub fn numeq_score_err(lo: f64, hi: f64, delta: f64) -> f64 {
    let h = (hi - lo) / 2.0;
    let lambda = f64::from(ATTN_C) / (delta * delta);
    score_err(3.0 * lambda * h * h, 2)
}

/// The most score error a numerical equality tolerates: a quarter of the
/// half-`ATTN_C` margin between a match and BOS.
pub fn numeq_tolerance() -> f64 {
    f64::from(ATTN_C) / 8.0
}

/// Whether float32 scores keep a numerical equality's margins.
pub fn numeq_resolved(lo: f64, hi: f64, delta: f64) -> bool {
    numeq_score_err(lo, hi, delta) <= numeq_tolerance()
}

/// What a step check finds wrong: the error it would see and the error it
/// tolerates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Unresolved {
    pub err: f64,
    pub tolerance: f64,
}

/// The check of one step between `x0 < x1` reading an input whose error
/// near the threshold is `x_err` and whose unit sums `terms` non-zero
/// terms of total size `mag` (all in units of the input).
pub fn check_step(x0: f64, x1: f64, x_err: f64, mag: f64, terms: usize) -> Result<(), Unresolved> {
    let t = (x0 + x1) / 2.0;
    let err = x_err + unit_err(mag, t, terms);
    let tolerance = step_tolerance(x1 - x0);
    if err <= tolerance {
        Ok(())
    } else {
        Err(Unresolved { err, tolerance })
    }
}

impl Builder<'_> {
    /// The error of a linear combination of residual dims as a model
    /// computes it, near a value of size `at`: the bounds of its numerical
    /// dims and the rounding of its one-hot read-outs (at most one hot dim
    /// per one-hot). Returns the error, the total size of the terms and
    /// their count.
    pub fn lin_err(&self, x: &Lin, at: f64) -> (f64, f64, usize) {
        if let [(d, c)] = x.as_slice()
            && let Some(e) = self.errs.get(d)
            && *c != 0.0
        {
            let c = f64::from(*c).abs();
            return (c * e.at(at / c) + U * at.abs(), at.abs(), 1);
        }
        let (mut err, mut mag, mut terms) = (0.0, 0.0, 0);
        let mut hot: BTreeMap<usize, f64> = BTreeMap::new();
        for (d, c) in x {
            let c = f64::from(*c).abs();
            match self.errs.get(d) {
                Some(e) => {
                    err += c * e.worst();
                    mag += c * e.mag;
                    terms += 1;
                }
                None => {
                    hot.insert(*d, c);
                }
            }
        }
        // Group the one-hot dims by the one-hot they belong to: one term each.
        let groups = self
            .dims
            .values()
            .filter_map(|d| d.cat.as_ref().map(|c| &c.0))
            .chain(self.conv.values().map(|c| &c.0))
            .chain(self.products.iter().map(|p| &p.0));
        for dims in groups {
            let top = dims
                .iter()
                .filter_map(|d| hot.remove(d))
                .fold(0.0f64, f64::max);
            if top > 0.0 {
                mag += top;
                err += U * top;
                terms += 1;
            }
        }
        // Anything else (the `one` dim): a term of its own.
        for c in hot.values() {
            mag += c;
            err += U * c;
            terms += 1;
        }
        (err, mag, terms)
    }

    /// The largest size of a linear combination of residual dims.
    pub fn lin_mag(&self, x: &Lin) -> f64 {
        let (_, mag, _) = self.lin_err(x, 0.0);
        match x.as_slice() {
            [(d, c)] => self
                .errs
                .get(d)
                .map_or(mag, |e| e.mag * f64::from(*c).abs()),
            _ => mag,
        }
    }

    /// Record what an MLP's units write into the numerical dim of `id`:
    /// exact values up to float32 rounding of each written number and of
    /// their sum. Integers whose magnitudes add up to less than 2^24 sum
    /// exactly (a saturated step's two units differ by exactly 1 where
    /// their pre-activations share a binade), so a decoder of counts adds
    /// only the rounding of the value itself.
    pub fn record_outputs(&mut self, id: NodeId, units: &[Unit]) {
        let Some([(dim, _)]) = self.dims.get(&id).and_then(|d| d.num.as_deref()) else {
            return;
        };
        let dim = *dim;
        let ws: Vec<f64> = units
            .iter()
            .flat_map(|u| &u.w_out)
            .filter(|(d, _)| *d == dim)
            .map(|(_, w)| f64::from(*w))
            .collect();
        let total: f64 = ws.iter().map(|w| w.abs()).sum();
        let integers = ws.iter().all(|w| w.fract() == 0.0) && total < f64::from(1u32 << 24);
        let written = if integers { 0.0 } else { total };
        let mag = self
            .values(id)
            .iter()
            .filter_map(Value::as_f64)
            .fold(0.0f64, |m, v| m.max(v.abs()));
        let e = self.errs.entry(dim).or_insert(ErrBound {
            abs: 0.0,
            rel: U,
            mag,
        });
        e.abs += 2.0 * U * written;
    }
}

impl Builder<'_> {
    /// The largest size of a residual dim: its bound's, else 1 (one-hots).
    fn dim_mag(&self, d: usize) -> f64 {
        self.errs.get(&d).map_or(1.0, |e| e.mag)
    }

    /// A bound on the size of a head's scores from its rows: per head dim,
    /// the largest query term times the largest key term.
    pub fn score_size(&self, head: &Head) -> f64 {
        let mut q = vec![0.0f64; head.width];
        let mut k = vec![0.0f64; head.width];
        for (d, c, w) in &head.q {
            q[*c] = q[*c].max(f64::from(*w).abs() * self.dim_mag(*d));
        }
        for (d, c, w) in &head.k {
            k[*c] = k[*c].max(f64::from(*w).abs() * self.dim_mag(*d));
        }
        q.iter().zip(&k).map(|(a, b)| a * b).sum()
    }

    /// Record the bound of a width head's scratch dim (`1/(w+1)`): BOS and
    /// the selected keys (scoring `full` from `terms` conjuncts) share the
    /// attention over up to N + 1 keys; unselected keys are `ATTN_C` down.
    pub fn record_width(&mut self, scratch: usize, full: f32, terms: usize) {
        let n = self.opts.max_len;
        let rel =
            softmax_rel(n + 1, score_err(f64::from(full), terms)) + leak(n, f64::from(ATTN_C));
        self.errs.insert(
            scratch,
            ErrBound {
                abs: 0.0,
                rel,
                mag: 1.0,
            },
        );
    }

    /// Record the bound of a numerical mean written into `od`: its value
    /// circuit `vlin` (values of `values`), scores of size `score` from
    /// `terms` conjuncts, the default `dflt` that BOS carries (30 logits
    /// down when a key is selected), and, for a numerical equality (one
    /// selected key), the margin its score rounding leaves.
    pub fn record_mean(&mut self, od: usize, vlin: &Lin, values: NodeId, mean: Mean) {
        let n = self.opts.max_len;
        let m = self.lin_mag(vlin);
        let (verr, _, _) = self.lin_err(vlin, m);
        let se = score_err(mean.score, mean.terms);
        let half = f64::from(ATTN_C) / 2.0;
        let (rel, lk) = if mean.single {
            (4.0 * U, leak(n + 1, (half - 2.0 * se).max(0.0)))
        } else if mean.exact_scores {
            // The selected keys' scores are one float: equal weights.
            (softmax_rel(n + 1, 0.0), leak(n + 1, half))
        } else {
            (softmax_rel(n + 1, se), leak(n + 1, half))
        };
        let same_sign = self
            .sets
            .get(&values)
            .and_then(|s| s.values())
            .is_some_and(|vs| {
                let f: Vec<f64> = vs.iter().filter_map(Value::as_f64).collect();
                f.len() == vs.len() && (f.iter().all(|v| *v >= 0.0) || f.iter().all(|v| *v <= 0.0))
            });
        let abs = verr + lk * (m + mean.dflt.abs());
        let bound = if same_sign {
            ErrBound { abs, rel, mag: m }
        } else {
            ErrBound {
                abs: abs + rel * m,
                rel: 0.0,
                mag: m,
            }
        };
        self.errs.insert(od, bound);
    }
}

/// What [`Builder::record_mean`] needs of a mean head.
pub struct Mean {
    /// The size of its scores.
    pub score: f64,
    /// How many conjuncts add up to a score.
    pub terms: usize,
    /// Whether it selects one key (a numerical equality on indices).
    pub single: bool,
    /// Whether every selected key's score is the same float
    /// (`Builder::exact_scores`).
    pub exact_scores: bool,
    /// The default.
    pub dflt: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A width head's `1/(w+1)` read by a step: the bound of the
    /// construction, not a fixed relative gap, decides.
    fn width_step_ok(n: usize) -> bool {
        let rel = softmax_rel(n + 1, score_err(60.0, 1));
        let bound = ErrBound {
            abs: leak(n, 60.0),
            rel,
            mag: 1.0,
        };
        // The closest pair: 1/(n+1) and 1/n.
        let (x0, x1) = (1.0 / (n as f64 + 1.0), 1.0 / n as f64);
        let t = (x0 + x1) / 2.0;
        bound.at(x1) + unit_err(x1, t, 1) <= step_tolerance(x1 - x0)
    }

    #[test]
    fn widths_up_to_512_are_resolved_and_huge_ones_are_not() {
        for n in [1, 2, 10, 64, 256, 512, 1024] {
            assert!(width_step_ok(n), "N = {n}");
        }
        assert!(!width_step_ok(100_000));
    }

    #[test]
    fn a_mean_of_large_numbers_is_not_resolved() {
        // Means of 1000000 and 1000001 over 3 keys are 1/6 apart.
        let rel = softmax_rel(4, score_err(60.0, 1));
        let bound = ErrBound {
            abs: 0.0,
            rel,
            mag: 1_000_001.0,
        };
        let t = 1_000_000.25;
        assert!(bound.at(t) + unit_err(t, t, 1) > step_tolerance(1.0 / 6.0));
        // The same gap between small numbers is.
        assert!(bound.at(1.0) + unit_err(1.0, 1.0, 1) < step_tolerance(1.0 / 6.0));
    }

    #[test]
    fn numerical_equalities_over_512_positions_keep_their_margin() {
        assert!(numeq_resolved(0.0, 511.0, 1.0));
        assert!(numeq_resolved(-1.0, 600.0, 1.0));
        assert!(!numeq_resolved(0.0, 4095.0, 1.0));
        // Centred: only the range counts, not where it lies.
        assert_eq!(
            numeq_score_err(0.0, 511.0, 1.0),
            numeq_score_err(1000.0, 1511.0, 1.0)
        );
    }

    #[test]
    fn bounds_grow_with_the_keys_and_the_scores() {
        assert!(softmax_rel(513, 0.0) > softmax_rel(65, 0.0));
        assert!(softmax_rel(65, score_err(1e6, 1)) > softmax_rel(65, score_err(60.0, 1)));
        assert!(leak(512, 30.0) < 1e-10);
    }
}
