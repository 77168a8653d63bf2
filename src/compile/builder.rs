//! The builder's state and the residual layout: which dims each s-op gets,
//! their labels, what the BOS position holds, and the embeddings.
//!
//! Everything is keyed by IR node. Titles (`Titles`) are labels for people,
//! made unique when two s-ops would show the same text (`count#2`); no
//! table is ever looked up by a title.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use ndarray::Array2;

use super::Options;
use super::plan::Plan;
use super::precision::ErrBound;
use super::size::{Group, Own, Sizer};
use super::sublayer::Sublayer;
use super::valueset::ValueSet;
use crate::diag::{Diag, SourceMap, codes};
use crate::interp;
use crate::ir::value::Value;
use crate::ir::{Graph, NodeId, Op};

/// A number held in the residual stream: `Σ coef · resid[dim]` (the `one`
/// dim carries constants). Most are one dim with coefficient 1; a linear
/// map is a combination of its arguments'; a categorical s-op read as a
/// number is the sum of its one-hot dims weighted by their values.
pub type Lin = Vec<(usize, f32)>;

/// Residual dims of one s-op.
#[derive(Clone, Debug, Default)]
pub struct Dims {
    /// One-hot dims and the value of each.
    pub cat: Option<(Vec<usize>, Vec<Value>)>,
    /// The number, when the s-op has a numerical form of its own.
    pub num: Option<Lin>,
    /// Where a width's heads write `1/(w+1)` for their decoders (one per
    /// inclusion-exclusion part).
    pub scratch: Vec<usize>,
}

/// A head in compact form: sparse rows of Q, K, V and O.
#[derive(Clone, Debug, Default)]
pub struct Head {
    pub q: Vec<(usize, usize, f32)>,
    pub k: Vec<(usize, usize, f32)>,
    pub v: Vec<(usize, usize, f32)>,
    pub o: Vec<(usize, usize, f32)>,
    pub width: usize,
    /// Smallest gap between the score of a selected key and of any other
    /// key (BOS included), before the softmax.
    pub margin: f32,
}

/// One ReLU unit: `relu(Σ w_in·x + b_in)` added to `w_out` dims.
#[derive(Clone, Debug, Default)]
pub struct Unit {
    pub w_in: Vec<(usize, f32)>,
    pub b_in: f32,
    pub w_out: Vec<(usize, f32)>,
}

/// Unique display titles of the nodes a plan touches.
#[derive(Clone, Debug, Default)]
pub struct Titles(BTreeMap<NodeId, String>);

impl Titles {
    /// Titles for `nodes` (in id order, so program order): the user's name
    /// or the source text, `tokens`/`indices` for the inputs, and `#2`,
    /// `#3`, ... after the second and later s-ops that would share one.
    pub fn new(graph: &Graph, sources: &SourceMap, nodes: &[NodeId]) -> Titles {
        let token_kinds = nodes
            .iter()
            .filter(|n| matches!(graph.op(**n), Op::Tokens(_)))
            .count();
        let mut sorted = nodes.to_vec();
        sorted.sort();
        sorted.dedup();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut out = BTreeMap::new();
        for id in sorted {
            let base = match graph.op(id) {
                Op::Indices => "indices".to_string(),
                Op::Tokens(_) if token_kinds == 1 => "tokens".to_string(),
                Op::Tokens(kind) => kind.name().to_string(),
                _ => interp::node_title(graph, sources, id),
            };
            let n = seen.entry(base.clone()).or_insert(0);
            *n += 1;
            let title = if *n == 1 { base } else { format!("{base}#{n}") };
            out.insert(id, title);
        }
        Titles(out)
    }

    pub fn get(&self, id: NodeId) -> String {
        self.0
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("#{}", id.0))
    }
}

pub struct Builder<'a> {
    pub graph: &'a Graph,
    pub sources: &'a SourceMap,
    pub sets: &'a BTreeMap<NodeId, ValueSet>,
    pub plan: &'a Plan,
    pub opts: &'a Options,
    pub titles: Titles,
    pub labels: Vec<String>,
    /// What the BOS position holds in each dim (input-independent).
    pub bos: Vec<f32>,
    pub dims: BTreeMap<NodeId, Dims>,
    /// Numerical s-ops converted to one-hots (node -> cat dims).
    pub conv: BTreeMap<NodeId, (Vec<usize>, Vec<Value>)>,
    /// Product one-hots: dims and the value tuple of each.
    pub products: Vec<(Vec<usize>, Vec<Vec<Value>>)>,
    pub heads: Vec<Vec<(NodeId, Head)>>,
    pub mlps: Vec<Vec<Unit>>,
    /// The table units built so far, per MLP layer and list of leaves: the
    /// unit that detects each tuple of leaf values (by their indices).
    /// Another table over the same leaves in that layer writes its outputs
    /// from the same unit (`mlps::table`).
    pub table_rows: BTreeMap<(usize, Vec<NodeId>), HashMap<Vec<usize>, usize>>,
    /// Smallest margin of each discretising MLP (node, margin).
    pub margins: Vec<(NodeId, f64)>,
    /// Error bounds of the numerical dims (`precision`); one-hot dims are
    /// exact and have none.
    pub errs: BTreeMap<usize, ErrBound>,
    pub one: usize,
    pub bos_dim: usize,
    /// The logical dims of each group, in allocation order (what
    /// `reclaim` frees together).
    pub groups: Vec<(Group, Range<usize>)>,
}

impl<'a> Builder<'a> {
    pub fn new(
        graph: &'a Graph,
        sources: &'a SourceMap,
        sets: &'a BTreeMap<NodeId, ValueSet>,
        plan: &'a Plan,
        opts: &'a Options,
        n_layers: usize,
    ) -> Builder<'a> {
        let mut touched: Vec<NodeId> = plan.nodes.iter().copied().collect();
        touched.extend(&plan.fused_away);
        let mut b = Builder {
            graph,
            sources,
            sets,
            plan,
            opts,
            titles: Titles::new(graph, sources, &touched),
            labels: Vec::new(),
            bos: Vec::new(),
            dims: BTreeMap::new(),
            conv: BTreeMap::new(),
            products: Vec::new(),
            heads: vec![Vec::new(); n_layers],
            mlps: vec![Vec::new(); n_layers],
            table_rows: BTreeMap::new(),
            margins: Vec::new(),
            errs: BTreeMap::new(),
            one: 0,
            bos_dim: 1,
            groups: Vec::new(),
        };
        b.one = b.alloc_group(Group::One, 1, |_| "one".into())[0];
        b.bos_dim = b.alloc_group(Group::Bos, 1, |_| "bos".into())[0];
        b.bos[b.one] = 1.0;
        b.bos[b.bos_dim] = 1.0;
        b
    }

    pub fn alloc(&mut self, label: String) -> usize {
        self.labels.push(label);
        self.bos.push(0.0);
        self.labels.len() - 1
    }

    pub fn name(&self, id: NodeId) -> String {
        self.titles.get(id)
    }

    pub fn values(&self, id: NodeId) -> &[Value] {
        self.sets.get(&id).and_then(ValueSet::values).unwrap_or(&[])
    }

    pub fn err_at(&self, id: NodeId, d: Diag) -> Diag {
        match self.graph.node(id).span {
            Some(s) => d.at(s).with_sources(self.sources),
            None => d,
        }
    }

    /// A planning gap: reported as a diagnostic (a bug in rasp), never a
    /// panic and never a wrong model.
    pub fn internal(&self, id: NodeId, what: &str) -> Diag {
        self.err_at(
            id,
            Diag::error(
                codes::COMPILE_INTERNAL,
                format!("internal compiler error: `{}` {what}", self.name(id)),
            )
            .help("this is a bug in rasp; please report it with the program"),
        )
    }

    /// The sizes the plan gives this builder (what the estimate read).
    pub fn sizer(&self) -> Sizer<'a> {
        Sizer::new(self.graph, self.sets, self.plan, self.opts.max_len)
    }

    /// Allocate `n` dims labelled by `label(i)` as one group.
    fn alloc_group(
        &mut self,
        group: Group,
        n: usize,
        label: impl Fn(usize) -> String,
    ) -> Vec<usize> {
        let dims: Vec<usize> = (0..n).map(|i| self.alloc(label(i))).collect();
        let start = dims.first().copied().unwrap_or(self.labels.len());
        self.groups.push((group, start..start + n));
        dims
    }

    /// Allocate the dims of every materialized node, in program order, as
    /// [`Sizer::groups`] lists them.
    pub fn layout(&mut self) -> Result<(), Diag> {
        let nodes: Vec<NodeId> = self.plan.nodes.iter().copied().collect();
        let sizer = self.sizer();
        for id in nodes {
            let label = self.name(id);
            let mut d = Dims::default();
            match (self.graph.op(id), sizer.own(id)) {
                (Op::Const(v), _) => {
                    d.cat = Some((vec![self.one], vec![v.clone()]));
                    d.num = v.as_f64().map(|x| vec![(self.one, x as f32)]);
                    self.dims.insert(id, d);
                    continue;
                }
                // A linear map's number is filled in by `linear()` once the
                // arguments have dims.
                (_, Own::None) => {}
                (_, Own::Num) => {
                    let dims = self.alloc_group(Group::Own(id), 1, |_| label.clone());
                    d.num = Some(vec![(dims[0], 1.0)]);
                }
                (_, Own::Cat(n)) => {
                    let vals = self.values(id).to_vec();
                    let dims = self
                        .alloc_group(Group::Own(id), n, |i| format!("{label}:{}", vals[i].repr()));
                    d.cat = Some((dims, vals));
                }
            }
            if matches!(self.graph.op(id), Op::SelectorWidth(_) | Op::Length) {
                // The head writes 1/(w+1) here; the MLP decodes it.
                let parts = sizer.width_parts(id);
                d.scratch = self.alloc_group(Group::Scratch(id), parts, |i| {
                    if parts == 1 {
                        format!("{label}:scratch")
                    } else {
                        format!("{label}:scratch{}", i + 1)
                    }
                });
            }
            self.dims.insert(id, d);
            if sizer.own(id) == Own::None {
                let lin = self.linear(id)?;
                if let Some(d) = self.dims.get_mut(&id) {
                    d.num = Some(lin);
                }
            }
            if self.plan.conv_pos.contains_key(&id) {
                let vals = match self.plan.conv_values.get(&id) {
                    Some(kept) => kept.clone(),
                    None => self.values(id).to_vec(),
                };
                let dims = self.alloc_group(Group::Conv(id), sizer.conv(id), |i| {
                    format!("{label}:{}", vals[i].repr())
                });
                self.conv.insert(id, (dims, vals));
            }
        }
        self.layout_products();
        Ok(())
    }

    /// The combination of a linear map's arguments: `f(x) = f(0) + Σ
    /// (f(e_i) - f(0)) x_i` for an affine `f`.
    fn linear(&self, id: NodeId) -> Result<Lin, Diag> {
        let f = &self.plan.fused[&id];
        let k = f.leaves.len();
        let at = |xs: &[Value]| -> Result<f64, Diag> {
            let refs: Vec<&Value> = xs.iter().collect();
            f.expr
                .eval(&refs)
                .ok()
                .and_then(|v| v.as_f64())
                .ok_or_else(|| self.internal(id, "is linear but cannot be evaluated at 0 and 1"))
        };
        let zero = vec![Value::Int(0); k];
        let c0 = at(&zero)?;
        let mut out: Lin = Vec::new();
        if c0 != 0.0 {
            out.push((self.one, c0 as f32));
        }
        for (i, leaf) in f.leaves.iter().enumerate() {
            let mut e = zero.clone();
            e[i] = Value::Int(1);
            let c = at(&e)? - c0;
            if c != 0.0 {
                for (dim, w) in self.num(*leaf)? {
                    out.push((dim, w * c as f32));
                }
            }
        }
        let mut lin = merge_lin(out);
        if lin.is_empty() {
            // A constant 0: still a number consumers can read.
            lin.push((self.one, 0.0));
        }
        Ok(lin)
    }

    /// Dims of the product one-hots: one per tuple of leaf values.
    fn layout_products(&mut self) {
        for (i, prod) in self.plan.products.clone().into_iter().enumerate() {
            let names: Vec<String> = prod.leaves.iter().map(|l| self.name(*l)).collect();
            let lists: Vec<&[Value]> = prod.leaves.iter().map(|l| self.values(*l)).collect();
            let tuples = super::valueset::tuples(&lists);
            let dims = self.alloc_group(Group::Product(i), tuples.len(), |j| {
                let vals: Vec<String> = tuples[j].iter().map(Value::repr).collect();
                format!("({}):({})", names.join(", "), vals.join(", "))
            });
            self.products.push((dims, tuples));
        }
    }

    /// The one-hot dims of a node (its conversion for numerical s-ops).
    pub fn cat(&self, id: NodeId) -> Result<(Vec<usize>, Vec<Value>), Diag> {
        if let Some(c) = self.conv.get(&id) {
            return Ok(c.clone());
        }
        self.dims
            .get(&id)
            .and_then(|d| d.cat.clone())
            .ok_or_else(|| self.internal(id, "is read as a category but has no one-hot dims"))
    }

    /// The number a node holds: its own numerical form, or the read-out of
    /// its one-hot (each dim weighted by its value).
    pub fn num(&self, id: NodeId) -> Result<Lin, Diag> {
        let d = self
            .dims
            .get(&id)
            .ok_or_else(|| self.internal(id, "is read but has no dims"))?;
        if let Some(lin) = &d.num {
            return Ok(lin.clone());
        }
        let Some((dims, vals)) = &d.cat else {
            return Err(self.internal(id, "is read as a number but has no dims"));
        };
        let mut out = Vec::with_capacity(dims.len());
        for (dim, v) in dims.iter().zip(vals) {
            match v.as_f64() {
                Some(x) => {
                    if x != 0.0 {
                        out.push((*dim, x as f32));
                    }
                }
                None => {
                    return Err(self.err_at(
                        id,
                        Diag::error(
                            codes::COMPILE_UNSUPPORTED,
                            format!(
                                "`{}` is read as a number, but it can be {}",
                                self.name(id),
                                v.repr()
                            ),
                        ),
                    ));
                }
            }
        }
        Ok(out)
    }

    pub fn scratch(&self, id: NodeId, part: usize) -> Result<usize, Diag> {
        self.dims
            .get(&id)
            .and_then(|d| d.scratch.get(part).copied())
            .ok_or_else(|| self.internal(id, "has no scratch dim"))
    }

    /// Embeddings: tokens, indices and the `one`/`bos` dims.
    pub fn embeddings(&self) -> Result<(Array2<f32>, Array2<f32>), Diag> {
        let d_model = self.labels.len();
        let n_vocab = self.opts.vocab.len();
        let mut w_e = Array2::<f32>::zeros((n_vocab + 2, d_model));
        let mut w_pos = Array2::<f32>::zeros((self.opts.max_len + 1, d_model));
        for row in 0..n_vocab + 1 {
            w_e[[row, self.one]] = 1.0;
        }
        w_e[[n_vocab, self.bos_dim]] = 1.0;
        // Only s-ops the embedding writes have a dim of their own here.
        let own = |d: &Dims| -> Option<usize> {
            match d.num.as_deref() {
                Some([(dim, w)]) if *w == 1.0 => Some(*dim),
                _ => None,
            }
        };
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
                            && let Some(j) = super::valueset::index_of(vals, &v)
                        {
                            w_e[[i, dims[j]]] = 1.0;
                        }
                        if let Some(dim) = own(d) {
                            w_e[[i, dim]] = v.as_f64().unwrap_or(0.0) as f32;
                        }
                    }
                }
                Op::Indices => {
                    for p in 0..self.opts.max_len {
                        if let Some((dims, _)) = &d.cat {
                            w_pos[[p + 1, dims[p]]] = 1.0;
                        }
                        if let Some(dim) = own(d) {
                            w_pos[[p + 1, dim]] = p as f32;
                        }
                    }
                }
                _ => {}
            }
        }
        Ok((w_e, w_pos))
    }

    /// The sublayer a node's block runs in.
    pub fn pos(&self, id: NodeId) -> Sublayer {
        self.plan.pos.get(&id).copied().unwrap_or(Sublayer::EMBED)
    }
}

/// A combination with repeated dims summed and zero terms dropped.
pub fn merge_lin(lin: Lin) -> Lin {
    let mut m: BTreeMap<usize, f32> = BTreeMap::new();
    for (d, w) in lin {
        *m.entry(d).or_default() += w;
    }
    m.into_iter().filter(|(_, w)| *w != 0.0).collect()
}
