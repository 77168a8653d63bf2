//! The compiler: an s-op of the IR -> the weights of a transformer that
//! computes it exactly, on every input up to the maximum length.
//!
//! Pipeline: value sets (`valueset`) -> plan (`plan`: fusion, encodings,
//! schedule) -> blocks (this file: residual layout, attention heads, MLP
//! units) -> a [`Model`]. `verify` checks a model against the interpreter.
//!
//! Two conventions make every block exact:
//! * **BOS bookkeeping.** Position 0 holds BOS. Every head gives the BOS
//!   *query* an overwhelming score on the BOS *key*, so whatever the BOS
//!   position holds never depends on the input; the compiler tracks that
//!   content (`bos_resid`) and corrects each head's key and value rows so the
//!   BOS key scores exactly the BOS score and carries exactly the default.
//!   Every MLP unit is gated off at BOS, so MLPs write nothing there.
//! * **Margins from value sets.** Attention separates selected keys from the
//!   rest by `ATTN_C` logits; discretising MLPs get their slopes from the
//!   smallest gap between reachable values, and compilation refuses (with a
//!   diagnostic) gaps float32 cannot resolve.

pub mod explain;
pub mod plan;
pub mod rewrite;
pub mod valueset;
pub mod verify;

use std::collections::BTreeMap;

use ndarray::{Array1, Array2, Array3};

use crate::diag::{Diag, SourceMap, codes};
use crate::interp;
use crate::ir::value::{self, Value};
use crate::ir::{Graph, NodeId, Op};
use crate::model::{self, Attn, Block, Config, Encoding, Meta, Mlp, Model, Placement};
use plan::{MapMode, Plan, Term};
use valueset::{Domain, ValueSet};

/// Logit gap between a selected and an unselected key (before scaling).
pub const ATTN_C: f32 = 60.0;
/// Smallest allowed gap between neighbouring numerical values, relative to
/// their magnitude.
pub const MIN_REL_GAP: f64 = 1e-5;

/// Parse a `--vocab` argument.
pub fn parse_vocab(text: &str) -> Result<Vec<Value>, Diag> {
    let bad = |m: String| {
        Diag::error(codes::COMPILE_VOCAB, m)
            .help("write the vocab as a,b,c or abc (strings), or as a JSON list like [1, 2, 3]")
    };
    let trimmed = text.trim();
    let vocab: Vec<Value> = if trimmed.starts_with('[') || trimmed.starts_with('"') {
        let json: serde_json::Value = serde_json::from_str(trimmed)
            .map_err(|e| bad(format!("--vocab is not valid JSON: {e}")))?;
        crate::front::input_from_json(&json).map_err(|m| bad(format!("--vocab: {m}")))?
    } else if trimmed.contains(',') {
        trimmed.split(',').map(|t| Value::str(t.trim())).collect()
    } else {
        trimmed
            .chars()
            .map(|c| Value::str(&c.to_string()))
            .collect()
    };
    if vocab.is_empty() {
        return Err(bad("--vocab is empty".into()));
    }
    Ok(vocab)
}

/// What to compile.
#[derive(Clone, Debug)]
pub struct Options {
    pub vocab: Vec<Value>,
    pub max_len: usize,
    pub causal: bool,
}

/// The program a model comes from (recorded in `rasp.json`).
#[derive(Clone, Debug, Default)]
pub struct Source {
    pub text: String,
    pub file: String,
    pub sop: String,
}

/// A compiled model and what the compiler learnt on the way.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub model: Model,
    /// The graph the model was compiled from (the program after the
    /// compiler's rewrites) and the compiled node in it.
    pub graph: Graph,
    pub target: NodeId,
    pub sets: BTreeMap<NodeId, ValueSet>,
    pub plan: Plan,
    /// Node -> its placement (index into `model.meta.sops`).
    pub placements: BTreeMap<NodeId, usize>,
    /// Smallest margin of each discretising MLP (name, margin).
    pub margins: Vec<(String, f64)>,
}

/// Residual dims of one s-op.
#[derive(Clone, Debug, Default)]
struct Dims {
    /// One-hot dims and the value of each.
    cat: Option<(Vec<usize>, Vec<Value>)>,
    /// The numerical dim and the factor it holds the value with.
    num: Option<(usize, f32)>,
}

/// A head in compact form: sparse rows of Q, K, V and O.
#[derive(Clone, Debug, Default)]
struct Head {
    q: Vec<(usize, usize, f32)>,
    k: Vec<(usize, usize, f32)>,
    v: Vec<(usize, usize, f32)>,
    o: Vec<(usize, usize, f32)>,
    width: usize,
}

/// One ReLU unit: `relu(Σ w_in·x + b_in)` added to `w_out` dims.
#[derive(Clone, Debug, Default)]
struct Unit {
    w_in: Vec<(usize, f32)>,
    b_in: f32,
    w_out: Vec<(usize, f32)>,
}

struct Builder<'a> {
    graph: &'a Graph,
    sources: &'a SourceMap,
    sets: &'a BTreeMap<NodeId, ValueSet>,
    plan: &'a Plan,
    opts: &'a Options,
    labels: Vec<String>,
    /// What the BOS position holds in each dim (input-independent).
    bos: Vec<f32>,
    dims: BTreeMap<NodeId, Dims>,
    /// Numerical means converted to one-hots (node -> cat dims).
    conv: BTreeMap<NodeId, (Vec<usize>, Vec<Value>)>,
    /// Product one-hots: dims and the value tuple of each.
    products: Vec<(Vec<usize>, Vec<Vec<Value>>)>,
    heads: Vec<Vec<(NodeId, Head)>>,
    mlps: Vec<Vec<Unit>>,
    margins: Vec<(String, f64)>,
    one: usize,
    bos_dim: usize,
}

fn name_of(graph: &Graph, sources: &SourceMap, id: NodeId) -> String {
    interp::node_title(graph, sources, id)
}

impl<'a> Builder<'a> {
    fn alloc(&mut self, label: String) -> usize {
        self.labels.push(label);
        self.bos.push(0.0);
        self.labels.len() - 1
    }

    fn name(&self, id: NodeId) -> String {
        name_of(self.graph, self.sources, id)
    }

    fn values(&self, id: NodeId) -> &[Value] {
        self.sets.get(&id).and_then(ValueSet::values).unwrap_or(&[])
    }

    fn err_at(&self, id: NodeId, d: Diag) -> Diag {
        match self.graph.node(id).span {
            Some(s) => d.at(s).with_sources(self.sources),
            None => d,
        }
    }

    /// The label stem of a node's dims: `tokens` and `indices` for the
    /// inputs (`tokens_int` etc. when several token kinds are used), else
    /// the s-op's name.
    fn dim_label(&self, id: NodeId) -> String {
        match self.graph.op(id) {
            Op::Indices => "indices".into(),
            Op::Tokens(kind) => {
                let kinds = self
                    .plan
                    .nodes
                    .iter()
                    .filter(|n| matches!(self.graph.op(**n), Op::Tokens(_)))
                    .count();
                if kinds == 1 {
                    "tokens".into()
                } else {
                    kind.name().into()
                }
            }
            _ => self.name(id),
        }
    }

    /// Allocate the dims of every materialized node, in program order.
    fn layout(&mut self) {
        let nodes: Vec<NodeId> = self.plan.nodes.iter().copied().collect();
        for id in nodes {
            let label = self.dim_label(id);
            let mut d = Dims::default();
            if let Op::Const(v) = self.graph.op(id) {
                d.cat = Some((vec![self.one], vec![v.clone()]));
                d.num = v.as_f64().map(|x| (self.one, x as f32));
                self.dims.insert(id, d);
                continue;
            }
            if self.plan.need_cat.contains(&id) && !plan::is_numerical(self.graph, self.sets, id) {
                let vals = self.values(id).to_vec();
                let dims = vals
                    .iter()
                    .map(|v| self.alloc(format!("{label}:{}", v.repr())))
                    .collect();
                d.cat = Some((dims, vals));
            }
            if self.plan.need_num.contains(&id) || plan::is_numerical(self.graph, self.sets, id) {
                d.num = Some((self.alloc(label.clone()), 1.0));
            }
            if matches!(self.graph.op(id), Op::SelectorWidth(_) | Op::Length) {
                // The head writes 1/(w+1) here; the MLP decodes it.
                self.alloc(format!("{label}:scratch"));
            }
            self.dims.insert(id, d);
            if self.plan.conv_pos.contains_key(&id) {
                let vals = self.values(id).to_vec();
                let dims = vals
                    .iter()
                    .map(|v| self.alloc(format!("{label}:{}", v.repr())))
                    .collect();
                self.conv.insert(id, (dims, vals));
            }
        }
    }

    /// Dims of the product one-hots: one per tuple of leaf values.
    fn layout_products(&mut self) {
        for prod in self.plan.products.clone() {
            let names: Vec<String> = prod.leaves.iter().map(|l| self.dim_label(*l)).collect();
            let mut tuples: Vec<Vec<Value>> = vec![Vec::new()];
            for l in &prod.leaves {
                let vals = self.values(*l).to_vec();
                tuples = tuples
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
            let dims = tuples
                .iter()
                .map(|t| {
                    let vals: Vec<String> = t.iter().map(Value::repr).collect();
                    self.alloc(format!("({}):({})", names.join(", "), vals.join(", ")))
                })
                .collect();
            self.products.push((dims, tuples));
        }
    }

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

    /// The MLP that builds product one-hot `i` from its leaves' one-hots.
    fn product_mlp(&mut self, i: usize, layer: usize) -> Result<(), Diag> {
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
                if let Some(j) = lv.iter().position(|x| x.same(v)) {
                    w_in.push((ld[j], 1.0));
                }
            }
            units.push(Unit {
                w_in,
                b_in: -(k - 1.0),
                w_out: vec![(*dim, 1.0)],
            });
        }
        let gated: Vec<Unit> = units.into_iter().map(|u| self.gate(u)).collect();
        self.mlps[layer].extend(gated);
        Ok(())
    }

    /// The one-hot dims of a node (its conversion for numerical means).
    fn cat(&self, id: NodeId) -> Result<(Vec<usize>, Vec<Value>), Diag> {
        if let Some(c) = self.conv.get(&id) {
            return Ok(c.clone());
        }
        self.dims
            .get(&id)
            .and_then(|d| d.cat.clone())
            .ok_or_else(|| self.internal(id, "is read as a category but has no one-hot dims"))
    }

    fn num(&self, id: NodeId) -> Result<(usize, f32), Diag> {
        self.dims
            .get(&id)
            .and_then(|d| d.num)
            .ok_or_else(|| self.internal(id, "is read as a number but has no numerical dim"))
    }

    /// A planning gap: reported as a diagnostic (a bug in rasp), never a
    /// panic and never a wrong model.
    fn internal(&self, id: NodeId, what: &str) -> Diag {
        self.err_at(
            id,
            Diag::error(
                codes::COMPILE_UNSUPPORTED,
                format!("internal compiler error: `{}` {what}", self.name(id)),
            )
            .help("this is a bug in rasp; please report it with the program"),
        )
    }

    fn scratch(&self, id: NodeId) -> Result<usize, Diag> {
        let label = format!("{}:scratch", self.dim_label(id));
        self.labels
            .iter()
            .position(|l| *l == label)
            .ok_or_else(|| self.internal(id, "has no scratch dim"))
    }

    /// Embeddings: tokens, indices and the `one`/`bos` dims.
    fn embeddings(&self) -> Result<(Array2<f32>, Array2<f32>), Diag> {
        let d_model = self.labels.len();
        let n_vocab = self.opts.vocab.len();
        let mut w_e = Array2::<f32>::zeros((n_vocab + 2, d_model));
        let mut w_pos = Array2::<f32>::zeros((self.opts.max_len + 1, d_model));
        for row in 0..n_vocab + 1 {
            w_e[[row, self.one]] = 1.0;
        }
        w_e[[n_vocab, self.bos_dim]] = 1.0;
        for (id, d) in &self.dims {
            match self.graph.op(*id) {
                Op::Tokens(kind) => {
                    for (i, t) in self.opts.vocab.iter().enumerate() {
                        let v = kind.convert(t).map_err(|e| {
                            Diag::error(
                                codes::COMPILE_VOCAB,
                                format!("{}: {}", kind.name(), e.message),
                            )
                        })?;
                        if let Some((dims, vals)) = &d.cat
                            && let Some(j) = vals.iter().position(|x| x.same(&v))
                        {
                            w_e[[i, dims[j]]] = 1.0;
                        }
                        if let Some((dim, _)) = d.num {
                            w_e[[i, dim]] = v.as_f64().unwrap_or(0.0) as f32;
                        }
                    }
                }
                Op::Indices => {
                    for p in 0..self.opts.max_len {
                        if let Some((dims, _)) = &d.cat {
                            w_pos[[p + 1, dims[p]]] = 1.0;
                        }
                        if let Some((dim, _)) = d.num {
                            w_pos[[p + 1, dim]] = p as f32;
                        }
                    }
                }
                _ => {}
            }
        }
        Ok((w_e, w_pos))
    }

    /// Score rows (Q and K) of a selector's conjuncts; returns the head and
    /// the score of a key that satisfies every conjunct.
    fn qk(&self, terms: &[Term], head: &mut Head) -> Result<f32, Diag> {
        for t in terms {
            let (kd, kv) = self.side(&t.keys, t.key_product)?;
            let (qd, qv) = self.side(&t.queries, t.query_product)?;
            let base = head.width;
            head.width += kd.len();
            for (a, key_dim) in kd.iter().enumerate() {
                head.k.push((*key_dim, base + a, 1.0));
            }
            let keys = Side {
                leaves: &t.keys,
                values: &[],
            };
            for (b, query_dim) in qd.iter().enumerate() {
                for (a, key_vals) in kv.iter().enumerate() {
                    let k = Side {
                        values: key_vals,
                        ..keys
                    };
                    let q = Side {
                        leaves: &t.queries,
                        values: &qv[b],
                    };
                    if term_holds(self.graph, &self.plan.sel_maps, &t.trees, &k, &q) {
                        head.q.push((*query_dim, base + a, ATTN_C));
                    }
                }
            }
        }
        Ok(ATTN_C * terms.len() as f32)
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

    fn attention(&mut self, id: NodeId, layer: usize) -> Result<(), Diag> {
        let mut head = Head::default();
        match self.graph.op(id).clone() {
            Op::Aggregate {
                sel,
                values,
                default,
            } => {
                let terms = &self.plan.terms[&sel];
                let full = self.qk(terms, &mut head)?;
                let numeric = plan::is_numerical(self.graph, self.sets, id);
                // Values live in head dims [0, v_width): shift the QK part.
                let fold = self.plan.value_fold.get(&id).cloned();
                if numeric {
                    let (od, _) = self.num(id)?;
                    match &fold {
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
                            let (vd, scale) = self.num(values)?;
                            head.v.push((vd, 0, scale));
                        }
                    }
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
                } else {
                    let (od, ov) = self.cat(id)?;
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
                        if let Some(j) = ov.iter().position(|x| x.same(&v)) {
                            head.v.push((*dim, j, 1.0));
                        }
                    }
                    for (j, dim) in od.iter().enumerate() {
                        head.o.push((j, *dim, 1.0));
                    }
                    let j = ov.iter().position(|x| x.same(&default)).ok_or_else(|| {
                        Diag::error(codes::COMPILE_VALUES, "default missing from the value set")
                    })?;
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
                self.bos_rows(&mut head, full - ATTN_C / 2.0, full);
            }
            op @ (Op::SelectorWidth(_) | Op::Length) => {
                // Length: no selector at all; every key (BOS included) scores
                // the same, so BOS gets 1/(n+1).
                let terms: Vec<Term> = match &op {
                    Op::SelectorWidth(sel) => self.plan.terms[sel].clone(),
                    _ => Vec::new(),
                };
                let full = self.qk(&terms, &mut head)?;
                let scratch = self.scratch(id)?;
                // Value: 1 at BOS only, so the head writes 1/(w+1).
                for r in head.q.iter_mut().chain(head.k.iter_mut()) {
                    r.1 += 1;
                }
                head.width += 1;
                self.bos_value(&mut head, &[(0, 1.0)], 1);
                head.o.push((0, scratch, 1.0));
                // BOS scores like a selected key: every selected key and BOS
                // share the attention equally.
                self.bos_rows(&mut head, full, full);
                self.bos[scratch] = 1.0;
            }
            _ => unreachable!("attention() is called on aggregates and widths"),
        }
        self.heads[layer].push((id, head));
        Ok(())
    }

    /// Gate a unit off at BOS: its pre-activation there becomes negative.
    fn gate(&self, mut u: Unit) -> Unit {
        let pre: f32 = u.w_in.iter().map(|(d, w)| self.bos[*d] * w).sum::<f32>() + u.b_in;
        u.w_in.push((self.bos_dim, -(pre.max(0.0) + 1.0)));
        u
    }

    fn push_units(&mut self, layer: usize, _id: NodeId, units: Vec<Unit>) {
        let gated: Vec<Unit> = units.into_iter().map(|u| self.gate(u)).collect();
        self.mlps[layer].extend(gated);
    }

    /// Outputs of a map value: one-hot and/or number.
    fn outputs(&self, id: NodeId, v: &Value) -> Vec<(usize, f32)> {
        let mut out = Vec::new();
        if let Some(d) = self.dims.get(&id) {
            if let Some((dims, vals)) = &d.cat
                && let Some(j) = vals.iter().position(|x| x.same(v))
            {
                out.push((dims[j], 1.0));
            }
            if let Some((dim, _)) = d.num {
                out.push((dim, v.as_f64().unwrap_or(0.0) as f32));
            }
        }
        out
    }

    /// A lookup table over the one-hots of the leaves.
    fn table(&mut self, id: NodeId, layer: usize) -> Result<(), Diag> {
        let f = self.plan.fused[&id].clone();
        let leaves: Vec<(Vec<usize>, Vec<Value>)> = f
            .leaves
            .iter()
            .map(|l| self.cat(*l))
            .collect::<Result<_, _>>()?;
        let k = leaves.len();
        let mut units = Vec::new();
        let sizes: Vec<usize> = leaves.iter().map(|l| l.1.len()).collect();
        valueset::for_each_index(&sizes, |idx| {
            let combo: Vec<&Value> = idx.iter().zip(&leaves).map(|(i, l)| &l.1[*i]).collect();
            if let Ok(v) = f.expr.eval(&combo) {
                let w_out = self.outputs(id, &v);
                if !w_out.is_empty() {
                    units.push(Unit {
                        w_in: idx
                            .iter()
                            .zip(&leaves)
                            .map(|(i, l)| (l.0[*i], 1.0))
                            .collect(),
                        b_in: -(k as f32 - 1.0),
                        w_out,
                    });
                }
            }
        });
        self.push_units(layer, id, units);
        Ok(())
    }

    /// Step units that discretise the numerical dim `x` (times `scale`)
    /// between the sorted `points`, writing `f(point)` outputs.
    fn discretise(
        &mut self,
        id: NodeId,
        layer: usize,
        x: (usize, f32),
        points: &[(f64, Vec<(usize, f32)>)],
    ) -> Result<(), Diag> {
        let mut units = Vec::new();
        if points.is_empty() {
            self.push_units(layer, id, units);
            return Ok(());
        }
        let mut min_gap = f64::INFINITY;
        let mut max_abs: f64 = 1.0;
        for w in points.windows(2) {
            min_gap = min_gap.min(w[1].0 - w[0].0);
        }
        for p in points {
            max_abs = max_abs.max(p.0.abs());
        }
        if points.len() > 1 && min_gap < MIN_REL_GAP * max_abs {
            return Err(self.err_at(
                id,
                Diag::error(
                    codes::COMPILE_PRECISION,
                    format!(
                        "`{}` must tell apart values {min_gap:.3e} apart (out of {max_abs}), \
                         closer than float32 can resolve reliably",
                        self.name(id)
                    ),
                )
                .help("a smaller max length or vocab spreads the values further apart"),
            ));
        }
        // Steps of width gap/4 around thresholds half-way between points.
        let slope = if points.len() > 1 { 2.0 / min_gap } else { 1.0 };
        if points.len() > 1 {
            self.margins.push((self.name(id), min_gap / 4.0));
        }
        // First point: a constant (gated) unit.
        units.push(Unit {
            w_in: vec![(self.one, 1.0)],
            b_in: 0.0,
            w_out: points[0].1.clone(),
        });
        for i in 1..points.len() {
            let t = (points[i - 1].0 + points[i].0) / 2.0;
            let delta: Vec<(usize, f32)> = diff(&points[i].1, &points[i - 1].1);
            if delta.is_empty() {
                continue;
            }
            let s = (slope * x.1 as f64) as f32;
            // step = relu(k(x - t) + 0.5) - relu(k(x - t) - 0.5)
            units.push(Unit {
                w_in: vec![(x.0, s)],
                b_in: (-slope * t + 0.5) as f32,
                w_out: delta.clone(),
            });
            units.push(Unit {
                w_in: vec![(x.0, s)],
                b_in: (-slope * t - 0.5) as f32,
                w_out: delta.iter().map(|(d, w)| (*d, -w)).collect(),
            });
        }
        self.push_units(layer, id, units);
        Ok(())
    }

    fn mlp(&mut self, id: NodeId, layer: usize) -> Result<(), Diag> {
        match self.graph.op(id) {
            Op::Map { .. } => match self.plan.fused[&id].mode {
                MapMode::Table => self.table(id, layer),
                MapMode::Discretise => {
                    let f = self.plan.fused[&id].clone();
                    let leaf = f.leaves[0];
                    let x = self.num(leaf)?;
                    let mut points: Vec<(f64, Vec<(usize, f32)>)> = Vec::new();
                    for v in self.values(leaf).to_vec() {
                        if let (Some(xv), Ok(out)) = (v.as_f64(), f.expr.eval(&[&v])) {
                            points.push((xv, self.outputs(id, &out)));
                        }
                    }
                    let points = merge_points(points);
                    self.discretise(id, layer, x, &points)
                }
            },
            Op::SelectorWidth(_) | Op::Length => {
                let n = self.opts.max_len;
                let scratch = self.scratch(id)?;
                let lo = if matches!(self.graph.op(id), Op::Length) {
                    1
                } else {
                    0
                };
                let mut points: Vec<(f64, Vec<(usize, f32)>)> = (lo..=n)
                    .map(|w| {
                        (
                            1.0 / (w as f64 + 1.0),
                            self.outputs(id, &Value::Int(w as i64)),
                        )
                    })
                    .collect();
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                self.discretise(id, layer, (scratch, 1.0), &points)
            }
            _ => unreachable!("mlp() is called on maps and widths"),
        }
    }

    /// The conversion of a numerical mean to one-hots.
    fn conversion(&mut self, id: NodeId, layer: usize) -> Result<(), Diag> {
        let x = self.num(id)?;
        let (dims, vals) = self.cat(id)?;
        let points: Vec<(f64, Vec<(usize, f32)>)> = vals
            .iter()
            .zip(&dims)
            .filter_map(|(v, d)| v.as_f64().map(|f| (f, vec![(*d, 1.0)])))
            .collect();
        let mut points = merge_points(points);
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        self.discretise(id, layer, x, &points)
    }
}

/// Output vectors with equal inputs merged (1 and 1.0 are one point).
fn merge_points(mut points: Vec<(f64, Vec<(usize, f32)>)>) -> Vec<(f64, Vec<(usize, f32)>)> {
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<(f64, Vec<(usize, f32)>)> = Vec::with_capacity(points.len());
    for p in points {
        match out.last_mut() {
            Some(last) if last.0 == p.0 => {
                // Equal numbers: the interpreter treats them alike; keep the
                // first (ints sort before floats).
            }
            _ => out.push(p),
        }
    }
    out
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

type SelMaps = BTreeMap<NodeId, plan::SelMap>;

/// One side (keys or queries) of a conjunct: its leaves and one value each.
#[derive(Clone, Copy)]
struct Side<'a> {
    leaves: &'a [NodeId],
    values: &'a [Value],
}

impl Side<'_> {
    fn get(&self, leaf: NodeId) -> Option<&Value> {
        self.leaves
            .iter()
            .position(|l| *l == leaf)
            .and_then(|i| self.values.get(i))
    }
}

/// Whether a selector subtree holds for these key and query leaf values,
/// applying the maps folded into each select.
fn term_holds(graph: &Graph, maps: &SelMaps, trees: &[NodeId], k: &Side, q: &Side) -> bool {
    fn apply(f: &Option<crate::ir::Expr>, v: Option<&Value>) -> Option<Value> {
        let v = v?;
        match f {
            Some(e) => e.eval(&[v]).ok(),
            None => Some(v.clone()),
        }
    }
    fn eval(graph: &Graph, maps: &SelMaps, s: NodeId, k: &Side, q: &Side) -> bool {
        match graph.op(s) {
            Op::Select { cmp, .. } => {
                let Some(m) = maps.get(&s) else { return false };
                match (
                    apply(&m.fk, k.get(m.key_leaf)),
                    apply(&m.fq, q.get(m.query_leaf)),
                ) {
                    (Some(a), Some(b)) => value::compare(*cmp, &a, &b).unwrap_or(false),
                    _ => false,
                }
            }
            Op::SelAnd(a, b) => eval(graph, maps, *a, k, q) && eval(graph, maps, *b, k, q),
            Op::SelOr(a, b) => eval(graph, maps, *a, k, q) || eval(graph, maps, *b, k, q),
            Op::SelNot(a) => !eval(graph, maps, *a, k, q),
            _ => false,
        }
    }
    trees.iter().all(|t| eval(graph, maps, *t, k, q))
}

fn json(v: &Value) -> serde_json::Value {
    value::value_to_json(v).unwrap_or(serde_json::Value::Null)
}

/// Compile `target` into a model.
pub fn compile(
    graph: &Graph,
    sources: &SourceMap,
    target: NodeId,
    opts: &Options,
    source: &Source,
) -> Result<Compiled, Diag> {
    if opts.vocab.is_empty() {
        return Err(Diag::error(codes::COMPILE_VOCAB, "the vocab is empty"));
    }
    if opts.max_len == 0 {
        return Err(Diag::error(
            codes::COMPILE_VOCAB,
            "the max length must be at least 1",
        ));
    }
    for (i, v) in opts.vocab.iter().enumerate() {
        if opts.vocab[..i].iter().any(|w| w.same(v)) {
            return Err(Diag::error(
                codes::COMPILE_VOCAB,
                format!("the vocab lists {} twice", v.repr()),
            ));
        }
    }
    let domain = Domain {
        vocab: opts.vocab.clone(),
        max_len: opts.max_len,
    };
    let first_sets = valueset::infer(graph, &[target], &domain)?;
    let (rewritten, target) = rewrite::rewrite(graph, &first_sets, target);
    let graph = &rewritten;
    let sets = valueset::infer(graph, &[target], &domain)?;
    let plan = plan::plan(graph, &sets, target)?;
    let n_layers = plan::n_layers(&plan).max(1);
    let mut b = Builder {
        graph,
        sources,
        sets: &sets,
        plan: &plan,
        opts,
        labels: Vec::new(),
        bos: Vec::new(),
        dims: BTreeMap::new(),
        conv: BTreeMap::new(),
        products: Vec::new(),
        heads: vec![Vec::new(); n_layers],
        mlps: vec![Vec::new(); n_layers],
        margins: Vec::new(),
        one: 0,
        bos_dim: 1,
    };
    b.one = b.alloc("one".into());
    b.bos_dim = b.alloc("bos".into());
    b.bos[b.one] = 1.0;
    b.bos[b.bos_dim] = 1.0;
    b.layout();
    b.layout_products();
    // Blocks, sublayer by sublayer, so the BOS content is known when each
    // block reads it.
    let max_pos = (2 * n_layers) as i64;
    for sub in 0..max_pos {
        let layer = (sub / 2) as usize;
        let nodes: Vec<NodeId> = plan.nodes.iter().copied().collect();
        for id in nodes {
            let pos = plan.pos.get(&id).copied().unwrap_or(-1);
            let is_width = matches!(graph.op(id), Op::SelectorWidth(_) | Op::Length);
            if sub % 2 == 0 {
                let attn_pos = if is_width { pos - 1 } else { pos };
                let is_head = is_width || matches!(graph.op(id), Op::Aggregate { .. });
                if is_head && attn_pos == sub {
                    b.attention(id, layer)?;
                }
            } else {
                if pos == sub && (matches!(graph.op(id), Op::Map { .. }) || is_width) {
                    b.mlp(id, layer)?;
                }
                if plan.conv_pos.get(&id) == Some(&sub) {
                    b.conversion(id, layer)?;
                }
            }
        }
        if sub % 2 == 1 {
            for i in 0..plan.products.len() {
                if plan.product_pos.get(i) == Some(&sub) {
                    b.product_mlp(i, layer)?;
                }
            }
        }
    }
    let mut compiled = assemble(b, graph, target, opts, source, &sets, &plan)?;
    compiled.graph = rewritten.clone();
    Ok(compiled)
}

#[allow(clippy::too_many_arguments)]
fn assemble(
    b: Builder<'_>,
    graph: &Graph,
    target: NodeId,
    opts: &Options,
    source: &Source,
    sets: &BTreeMap<NodeId, ValueSet>,
    plan: &Plan,
) -> Result<Compiled, Diag> {
    let (w_e, w_pos) = b.embeddings()?;
    let d_model = b.labels.len();
    let n_heads = b.heads.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let d_head = b
        .heads
        .iter()
        .flatten()
        .map(|(_, h)| h.width)
        .max()
        .unwrap_or(1)
        .max(1);
    let d_mlp = b.mlps.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let scale = (d_head as f32).sqrt();
    let mut blocks = Vec::with_capacity(b.heads.len());
    let mut layout = Vec::new();
    for (l, heads) in b.heads.iter().enumerate() {
        let mut attn = Attn {
            w_q: Array3::zeros((n_heads, d_model, d_head)),
            b_q: Array2::zeros((n_heads, d_head)),
            w_k: Array3::zeros((n_heads, d_model, d_head)),
            b_k: Array2::zeros((n_heads, d_head)),
            w_v: Array3::zeros((n_heads, d_model, d_head)),
            b_v: Array2::zeros((n_heads, d_head)),
            w_o: Array3::zeros((n_heads, d_head, d_model)),
            b_o: Array1::zeros(d_model),
        };
        for (h, (_, head)) in heads.iter().enumerate() {
            for (d, hd, w) in &head.q {
                attn.w_q[[h, *d, *hd]] += w * scale;
            }
            for (d, hd, w) in &head.k {
                attn.w_k[[h, *d, *hd]] += w;
            }
            for (d, hd, w) in &head.v {
                attn.w_v[[h, *d, *hd]] += w;
            }
            for (hd, d, w) in &head.o {
                attn.w_o[[h, *hd, *d]] += w;
            }
        }
        let units = &b.mlps[l];
        let mut mlp = Mlp {
            w_in: Array2::zeros((d_model, d_mlp)),
            b_in: Array1::zeros(d_mlp),
            w_out: Array2::zeros((d_mlp, d_model)),
            b_out: Array1::zeros(d_model),
        };
        for (u, unit) in units.iter().enumerate() {
            for (d, w) in &unit.w_in {
                mlp.w_in[[*d, u]] += w;
            }
            mlp.b_in[u] = unit.b_in;
            for (d, w) in &unit.w_out {
                mlp.w_out[[u, *d]] += w;
            }
        }
        let mut parts = Vec::new();
        if !heads.is_empty() {
            parts.push(format!("A{}", heads.len()));
        }
        if !units.is_empty() {
            parts.push(format!("M{}", units.len()));
        }
        layout.push(parts.join(" "));
        blocks.push(Block { attn, mlp });
    }
    // Placements, in program order.
    let mut sops = Vec::new();
    let mut placements = BTreeMap::new();
    let head_of = |id: NodeId| -> Option<(usize, usize)> {
        b.heads
            .iter()
            .enumerate()
            .find_map(|(l, hs)| hs.iter().position(|(n, _)| *n == id).map(|h| (l, h)))
    };
    for id in &plan.nodes {
        if matches!(graph.op(*id), Op::Const(_)) {
            continue;
        }
        let d = &b.dims[id];
        let name = b.dim_label(*id);
        let pos = plan.pos.get(id).copied().unwrap_or(-1);
        let (sublayer, layer) = match pos {
            p if p < 0 => ("embed".to_string(), None),
            p if p % 2 == 0 => ("attn".to_string(), Some((p / 2) as usize)),
            p => ("mlp".to_string(), Some((p / 2) as usize)),
        };
        let heads: Vec<usize> = head_of(*id).map(|(_, h)| vec![h]).unwrap_or_default();
        let values: Vec<serde_json::Value> = sets
            .get(id)
            .and_then(ValueSet::values)
            .map(|v| v.iter().map(json).collect())
            .unwrap_or_default();
        let placement = match (&d.cat, d.num) {
            (Some((dims, vals)), _) => Placement {
                name,
                encoding: Encoding::Categorical,
                dims: dims.clone(),
                values: vals.iter().map(json).collect(),
                sublayer,
                layer,
                heads,
            },
            (None, Some((dim, _))) => Placement {
                name,
                encoding: Encoding::Numerical,
                dims: vec![dim],
                values,
                sublayer,
                layer,
                heads,
            },
            (None, None) => continue,
        };
        placements.insert(*id, sops.len());
        sops.push(placement);
    }
    let Some(&out_idx) = placements.get(&target) else {
        return Err(Diag::error(
            codes::COMPILE_UNSUPPORTED,
            "the output has no residual dims",
        ));
    };
    let mut output = sops[out_idx].clone();
    // A numerical output prefers its numerical dim.
    if plan::is_numerical(graph, sets, target)
        && let Some((dim, _)) = b.dims[&target].num
    {
        output.encoding = Encoding::Numerical;
        output.dims = vec![dim];
        output.values = sets
            .get(&target)
            .and_then(ValueSet::values)
            .map(|v| v.iter().map(json).collect())
            .unwrap_or_default();
    }
    let d_vocab_out = match output.encoding {
        Encoding::Categorical => output.dims.len(),
        Encoding::Numerical => 1,
    };
    let mut w_u = Array2::<f32>::zeros((d_model, d_vocab_out));
    for (i, d) in output.dims.iter().enumerate() {
        w_u[[*d, i]] = 1.0;
    }
    let n_vocab = opts.vocab.len();
    let config = Config {
        n_layers: blocks.len(),
        d_model,
        d_head,
        n_heads,
        d_mlp,
        n_ctx: opts.max_len + 1,
        d_vocab: n_vocab + 2,
        d_vocab_out,
        act_fn: "relu".into(),
        normalization_type: None,
        attention_dir: if opts.causal {
            "causal"
        } else {
            "bidirectional"
        }
        .into(),
        attn_only: false,
        use_attn_scale: true,
        attn_scale: scale as f64,
        positional_embedding_type: "standard".into(),
    };
    let meta = Meta {
        format: model::FORMAT.into(),
        format_version: model::FORMAT_VERSION,
        rasp_version: env!("CARGO_PKG_VERSION").into(),
        source: source.text.clone(),
        file: source.file.clone(),
        sop: source.sop.clone(),
        vocab: opts.vocab.iter().map(json).collect(),
        bos_id: n_vocab,
        pad_id: n_vocab + 1,
        max_len: opts.max_len,
        causal: opts.causal,
        residual: b.labels.clone(),
        output,
        sops,
        layout,
    };
    let model = Model {
        config,
        w_e,
        w_pos,
        blocks,
        w_u,
        b_u: Array1::zeros(d_vocab_out),
        meta,
    };
    Ok(Compiled {
        model,
        graph: Graph::new(),
        target,
        sets: sets.clone(),
        plan: plan.clone(),
        placements,
        margins: b.margins,
    })
}
