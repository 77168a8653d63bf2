//! Attention heads: aggregates (numerical means and categorical copies)
//! and the heads of selector widths and `length`.
//!
//! A selector is a sum of conjuncts; each adds `ATTN_C` to a key that
//! satisfies it, so a key that satisfies all scores `full = ATTN_C · terms`
//! and any other at most `full - ATTN_C`. BOS scores `full - ATTN_C / 2`
//! for an aggregate (it wins only when nothing is selected and then carries
//! the default) and `full` for a width (it shares the attention with every
//! selected key, so the head writes `1/(w+1)`).

use super::ATTN_C;
use super::builder::{Builder, Head};
use super::plan::Term;
use super::precision::{self, Mean};
use super::selectors::{Side, term_holds};
use super::sublayer::Sublayer;
use crate::diag::{Diag, codes};
use crate::ir::value::Value;
use crate::ir::{NodeId, Op};

impl Builder<'_> {
    /// The one-hot dims of a conjunct's key or query side, with the tuple of
    /// leaf values each dim stands for.
    fn side(
        &self,
        leaves: &[NodeId],
        product: Option<usize>,
    ) -> Result<(Vec<usize>, Vec<Vec<Value>>), Diag> {
        match product {
            Some(i) => Ok(self.products[i].clone()),
            None => {
                let (dims, vals) = self.cat(leaves[0])?;
                Ok((dims, vals.into_iter().map(|v| vec![v]).collect()))
            }
        }
    }

    /// Score rows (Q and K) of a selector's conjuncts; returns the score of
    /// a key that satisfies every conjunct. Key values that score alike
    /// share a head dim, and one no query selects has none (`keygroups`).
    fn qk(&self, terms: &[Term], head: &mut Head) -> Result<f32, Diag> {
        for t in terms {
            let (kd, kv) = self.side(&t.keys, t.key_product)?;
            let (qd, qv) = self.side(&t.queries, t.query_product)?;
            let Some(groups) = t.groups.as_deref() else {
                return Err(self.internal(t.trees[0], "has no key groups"));
            };
            debug_assert_eq!(
                kv,
                super::keygroups::side_values(self.sets, self.plan, &t.keys, t.key_product),
                "key values in the order they were grouped"
            );
            if groups.of_key.len() != kd.len() {
                return Err(self.internal(
                    t.trees[0],
                    "has key groups that do not match its key one-hot",
                ));
            }
            let base = head.width;
            head.width += groups.width();
            for (key_dim, g) in kd.iter().zip(&groups.of_key) {
                if let Some(g) = g {
                    head.k.push((*key_dim, base + *g as usize, 1.0));
                }
            }
            for (b, query_dim) in qd.iter().enumerate() {
                for (g, &a) in groups.reps.iter().enumerate() {
                    let k = Side {
                        leaves: &t.keys,
                        values: &kv[a],
                    };
                    let q = Side {
                        leaves: &t.queries,
                        values: &qv[b],
                    };
                    if term_holds(self.graph, &self.plan.sel_maps, &t.trees, &k, &q) {
                        head.q.push((*query_dim, base + g, ATTN_C));
                    }
                }
            }
        }
        Ok(ATTN_C * terms.len() as f32)
    }

    /// Whether every selected key's score is computed exactly, and so is
    /// the same float for all of them: each conjunct reads one-hots that
    /// the embedding writes (exactly 0 and 1; not products or conversions,
    /// which MLPs write), so each head dim of the query is one weight or 0,
    /// each of the key 1 or 0, and a score a sum of a few `ATTN_C`s.
    fn exact_scores(&self, terms: &[Term]) -> bool {
        terms.iter().all(|t| {
            !t.numeq
                && t.key_product.is_none()
                && t.query_product.is_none()
                && t.keys.iter().chain(&t.queries).all(|l| {
                    self.pos(*l) == Sublayer::EMBED
                        && self.dims.get(l).is_some_and(|d| d.cat.is_some())
                })
        })
    }

    /// Give BOS its score: `bos_score` for every real query, overwhelming
    /// for the BOS query; and make the BOS key exactly the BOS direction.
    fn bos_rows(&self, head: &mut Head, bos_score: f32, full: f32) {
        let b = head.width;
        head.width += 1;
        if bos_score != 0.0 {
            head.q.push((self.one, b, bos_score));
        }
        head.q.push((self.bos_dim, b, 2.0 * full + ATTN_C));
        // K(BOS) = e_b exactly: cancel what the BOS content contributes.
        let mut garbage = vec![0f32; head.width];
        for (dim, hd, w) in &head.k {
            garbage[*hd] += self.bos[*dim] * w;
        }
        for (hd, g) in garbage.iter().enumerate() {
            let want = if hd == b { 1.0 } else { 0.0 };
            if (want - g).abs() > 0.0 {
                head.k.push((self.bos_dim, hd, want - g));
            }
        }
    }

    /// Value rows with the BOS value corrected to `bos_value` (head dims).
    fn bos_value(&self, head: &mut Head, bos_value: &[(usize, f32)], v_width: usize) {
        let mut garbage = vec![0f32; v_width];
        for (dim, hd, w) in &head.v {
            garbage[*hd] += self.bos[*dim] * w;
        }
        for (hd, g) in garbage.iter().enumerate() {
            let want = bos_value
                .iter()
                .find(|(h, _)| *h == hd)
                .map_or(0.0, |(_, w)| *w);
            if (want - g).abs() > 0.0 {
                head.v.push((self.bos_dim, hd, want - g));
            }
        }
    }

    /// The numerical mean's value circuit: the number each key carries.
    fn mean_values(&self, id: NodeId, values: NodeId, head: &mut Head) -> Result<(), Diag> {
        match self.plan.value_fold.get(&id) {
            Some((leaf, f)) => {
                // V maps the leaf's one-hot straight to f(a).
                let (ld, lv) = self.cat(*leaf)?;
                for (dim, a) in ld.iter().zip(&lv) {
                    if let Some(x) = f.eval(&[a]).ok().and_then(|v| v.as_f64()) {
                        head.v.push((*dim, 0, x as f32));
                    }
                }
            }
            None => {
                for (dim, w) in self.num(values)? {
                    head.v.push((dim, 0, w));
                }
            }
        }
        Ok(())
    }

    /// A width head: BOS and every selected key share the attention, BOS
    /// alone carries 1, so the head writes `1/(w+1)` into the part's
    /// scratch dim.
    fn width_head(&mut self, id: NodeId, part: usize, terms: &[Term]) -> Result<Head, Diag> {
        let mut head = Head::default();
        let full = self.qk(terms, &mut head)?;
        let scratch = self.scratch(id, part)?;
        for r in head.q.iter_mut().chain(head.k.iter_mut()) {
            r.1 += 1;
        }
        head.width += 1;
        self.bos_value(&mut head, &[(0, 1.0)], 1);
        head.o.push((0, scratch, 1.0));
        // BOS scores like a selected key.
        self.bos_rows(&mut head, full, full);
        self.bos[scratch] = 1.0;
        self.record_width(scratch, full, terms.len());
        head.margin = if terms.is_empty() {
            f32::INFINITY
        } else {
            ATTN_C
        };
        Ok(head)
    }

    /// The score rows of an equality between a numerical query `q` and a
    /// categorical key `k`: `λ(2(q-c)(k-c) - (k-c)²)`, which is `λ(q-c)²`
    /// for a key equal to the query and at least `λδ²` less for any other
    /// (δ: the smallest gap between a reachable query and a key value),
    /// with `λ = C/δ²`; centring at `c` (the middle of the values) keeps
    /// the scores small, so their float32 rounding (`precision`), with
    /// what the error of `q` adds, stays far below the margins, or the
    /// select is refused.
    /// The plan only uses it where some key always matches, so BOS scores
    /// `-C/2`, below every match (`λ(q-c)² >= 0`). Returns the largest score
    /// the BOS query could give a real key (for its own BOS score) and the
    /// BOS score of real queries.
    fn qk_numeq(&self, id: NodeId, t: &Term, head: &mut Head) -> Result<(f32, f32), Diag> {
        let (kd, kv) = self.cat(t.keys[0])?;
        let q = self.num(t.queries[0])?;
        let keys: Vec<f64> = kv.iter().filter_map(Value::as_f64).collect();
        let queries: Vec<f64> = self
            .values(t.queries[0])
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        let mut delta = f64::INFINITY;
        for x in &queries {
            for k in &keys {
                let d = (x - k).abs();
                if d > 0.0 {
                    delta = delta.min(d);
                }
            }
        }
        if !delta.is_finite() {
            delta = 1.0;
        }
        // Reachable queries are keys (the plan checked it): the scores
        // only matter there.
        let (lo, hi) = keys
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                (a.min(*x), b.max(*x))
            });
        let c = if lo.is_finite() {
            ((lo + hi) / 2.0).round()
        } else {
            0.0
        };
        let lambda = f64::from(ATTN_C) / (delta * delta);
        let h = (hi - lo).abs() / 2.0 + 0.5;
        let (q_err, _, _) = self.lin_err(&q, lo.abs().max(hi.abs()));
        let err = precision::numeq_score_err(c - h, c + h, delta) + 2.0 * lambda * h * q_err;
        if err.is_nan() || err > precision::numeq_tolerance() {
            return Err(self.err_at(
                id,
                Diag::error(
                    codes::COMPILE_PRECISION,
                    format!(
                        "`{}` selects the key equal to a number between {lo} and {hi}, \
                         but float32 may compute its scores up to {err:.1} logits off \
                         (it tolerates {:.1})",
                        self.name(id),
                        precision::numeq_tolerance()
                    ),
                )
                .help("a smaller max length spreads the scores less"),
            ));
        }
        let base = head.width;
        head.width += 2;
        for (dim, v) in kd.iter().zip(&kv) {
            let a = v.as_f64().unwrap_or(0.0) - c;
            head.k.push((*dim, base, a as f32));
            head.k.push((*dim, base + 1, (-a * a) as f32));
        }
        for (dim, w) in &q {
            head.q
                .push((*dim, base, (2.0 * lambda * f64::from(*w)) as f32));
        }
        head.q.push((self.one, base, (-2.0 * lambda * c) as f32));
        head.q.push((self.one, base + 1, lambda as f32));
        // What the BOS query scores on each key value.
        let qb: f64 = q
            .iter()
            .map(|(d, w)| f64::from(self.bos[*d] * w))
            .sum::<f64>()
            - c;
        let top = keys
            .iter()
            .map(|a| lambda * (2.0 * qb * (a - c) - (a - c) * (a - c)))
            .fold(0.0f64, f64::max);
        Ok((top as f32 + ATTN_C, -ATTN_C / 2.0))
    }

    pub fn attention(&mut self, id: NodeId, layer: usize) -> Result<(), Diag> {
        let mut head = Head::default();
        match self.graph.op(id).clone() {
            Op::Aggregate {
                sel,
                values,
                default,
            } => {
                let terms = &self.plan.terms[&sel];
                let numeq = terms.len() == 1 && terms[0].numeq;
                let (full, bos_score) = if numeq {
                    self.qk_numeq(id, &terms[0], &mut head)?
                } else {
                    let full = self.qk(terms, &mut head)?;
                    (full, full - ATTN_C / 2.0)
                };
                if self.plan.numerical.contains(&id) {
                    let od = match self.dims.get(&id).and_then(|d| d.num.as_deref()) {
                        Some([(dim, _)]) => *dim,
                        _ => return Err(self.internal(id, "has no numerical dim")),
                    };
                    self.mean_values(id, values, &mut head)?;
                    let vlin: Vec<(usize, f32)> = head.v.iter().map(|(d, _, w)| (*d, *w)).collect();
                    head.o.push((0, od, 1.0));
                    let dflt = default.as_f64().ok_or_else(|| {
                        self.err_at(
                            id,
                            Diag::error(
                                codes::COMPILE_UNSUPPORTED,
                                format!(
                                    "the default {} of a numerical aggregate must be a number",
                                    default.repr()
                                ),
                            ),
                        )
                    })? as f32;
                    self.bos_value(&mut head, &[(0, dflt)], 1);
                    self.bos[od] = dflt;
                    let score = if numeq {
                        self.score_size(&head)
                    } else {
                        f64::from(full)
                    };
                    let mean = Mean {
                        score,
                        terms: terms.len().max(2),
                        single: numeq,
                        exact_scores: !numeq && self.exact_scores(terms),
                        dflt: f64::from(dflt),
                    };
                    self.record_mean(od, &vlin, values, mean);
                } else {
                    let (od, ov) = self.cat(id)?;
                    let fold = self.plan.value_fold.get(&id).cloned();
                    let (vd, vv) = match &fold {
                        Some((leaf, _)) => self.cat(*leaf)?,
                        None => self.cat(values)?,
                    };
                    for (i, dim) in vd.iter().enumerate() {
                        let v = match &fold {
                            Some((_, f)) => match f.eval(&[&vv[i]]) {
                                Ok(v) => v,
                                Err(_) => continue,
                            },
                            None => vv[i].clone(),
                        };
                        if let Some(j) = super::valueset::index_of(&ov, &v) {
                            head.v.push((*dim, j, 1.0));
                        }
                    }
                    for (j, dim) in od.iter().enumerate() {
                        head.o.push((j, *dim, 1.0));
                    }
                    let j = ov
                        .iter()
                        .position(|x| x.same(&default))
                        .or_else(|| super::valueset::index_of(&ov, &default))
                        .ok_or_else(|| self.internal(id, "has no one-hot dim for its default"))?;
                    self.bos_value(&mut head, &[(j, 1.0)], ov.len());
                    self.bos[od[j]] = 1.0;
                }
                // Move the value dims in front of the QK dims.
                let v_width = head
                    .v
                    .iter()
                    .map(|x| x.1 + 1)
                    .max()
                    .unwrap_or(1)
                    .max(head.o.iter().map(|x| x.0 + 1).max().unwrap_or(1));
                for r in head.q.iter_mut().chain(head.k.iter_mut()) {
                    r.1 += v_width;
                }
                head.width += v_width;
                // The BOS score sits half-way below a full match.
                self.bos_rows(&mut head, bos_score, full);
                head.margin = ATTN_C / 2.0;
            }
            op @ (Op::SelectorWidth(_) | Op::Length) => {
                // Length: no selector at all; every key (BOS included) scores
                // the same, so BOS gets 1/(n+1). A width by
                // inclusion-exclusion has one head per part.
                let parts: Vec<Vec<Term>> = match (&op, self.plan.width_parts.get(&id)) {
                    (_, Some(parts)) => parts.iter().map(|w| w.terms.clone()).collect(),
                    (Op::SelectorWidth(sel), None) => vec![self.plan.terms[sel].clone()],
                    _ => vec![Vec::new()],
                };
                let mut widths = Vec::with_capacity(parts.len());
                for (i, terms) in parts.iter().enumerate() {
                    let head = self.width_head(id, i, terms)?;
                    widths.push(head.width);
                    self.heads[layer].push((id, head));
                }
                debug_assert_eq!(widths, self.sizer().head_widths(id), "head widths as sized");
                return Ok(());
            }
            _ => return Err(self.internal(id, "is neither an aggregate nor a width")),
        }
        debug_assert_eq!(
            vec![head.width],
            self.sizer().head_widths(id),
            "head width as sized"
        );
        self.heads[layer].push((id, head));
        Ok(())
    }
}
