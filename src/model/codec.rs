//! Encoding inputs and decoding outputs, for every executor: token ids
//! with BOS (and the interpreter's refusals), output logits to values with
//! the interpreter's number types, and any s-op read from a residual.

use ndarray::{Array2, ArrayView2, s};
use rayon::prelude::*;

use super::executor::{Executor, Want};
use super::{Config, Encoding, Meta, Model, Placement};
use crate::diag::{Diag, codes};
use crate::ir::Value;

pub use crate::ir::value::{value_from_json, value_to_json};

/// Most vocabulary entries an error message lists.
const MAX_LISTED: usize = 60;

/// How a JSON value prints in a message: as the atom (Python repr) when it
/// is one, else as JSON.
fn json_repr(v: &serde_json::Value) -> String {
    match value_from_json(v) {
        Some(a) => a.repr(),
        None => v.to_string(),
    }
}

/// "an int", "a str", ...
fn a_type(v: &Value) -> String {
    let t = v.type_name();
    let article = if t.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {t}")
}

impl Model {
    /// Token ids for one input: see [`encode`].
    pub fn encode(&self, input: &[Value]) -> Result<Vec<usize>, Diag> {
        encode(&self.meta, input)
    }
}

/// Token ids for one input: BOS, then each token's index in `meta.vocab`.
/// Tokens are matched by their JSON form, so `1`, `1.0` and `"1"` are
/// different tokens. The empty input is just BOS.
pub fn encode(meta: &Meta, input: &[Value]) -> Result<Vec<usize>, Diag> {
    if input.len() > meta.max_len {
        return Err(Diag::error(
            codes::MODEL_INPUT,
            format!(
                "the input has {} tokens, but this model takes at most {}",
                input.len(),
                meta.max_len
            ),
        )
        .help(format!(
            "the model was compiled for inputs of up to {} tokens; shorten the input or compile again with a larger maximum length",
            meta.max_len
        )));
    }
    let mut ids = Vec::with_capacity(input.len() + 1);
    ids.push(meta.bos_id);
    for (pos, tok) in input.iter().enumerate() {
        let json = value_to_json(tok);
        let id = json
            .as_ref()
            .and_then(|j| meta.vocab.iter().position(|v| v == j));
        match id {
            Some(id) => ids.push(id),
            None => return Err(unknown_token(meta, pos, tok)),
        }
    }
    Ok(ids)
}

fn unknown_token(meta: &Meta, pos: usize, tok: &Value) -> Diag {
    let vocab = &meta.vocab;
    let mut listed: Vec<String> = vocab.iter().take(MAX_LISTED).map(json_repr).collect();
    if vocab.len() > MAX_LISTED {
        listed.push(format!("... and {} more", vocab.len() - MAX_LISTED));
    }
    let mut help = format!("the model's vocabulary is [{}]", listed.join(", "));
    // The same text with another type is the usual mistake (1 vs '1').
    let text = tok.to_string();
    if let Some(near) = vocab
        .iter()
        .filter_map(value_from_json)
        .find(|v| v.to_string() == text)
    {
        help.push_str(&format!(
            "; it has {} ({}), which is not the same token as {} ({})",
            near.repr(),
            a_type(&near),
            tok.repr(),
            a_type(tok)
        ));
    }
    Diag::error(
        codes::MODEL_INPUT,
        format!(
            "token {} (at position {}) is not in the model's vocabulary",
            tok.repr(),
            pos
        ),
    )
    .help(help)
}

impl Model {
    /// Output logits of each position: `resid · W_U + b_U`,
    /// `[len, d_vocab_out]`.
    pub fn logits(&self, resid: &Array2<f32>) -> Array2<f32> {
        self.logits_of(resid.view())
    }

    fn logits_of(&self, resid: ArrayView2<'_, f32>) -> Array2<f32> {
        let mut out = resid.dot(&self.w_u);
        out += &self.b_u;
        out
    }

    /// The model's output at positions 1.. (BOS excluded), decoded from the
    /// final residual: see [`Decoder::decode_logits`].
    ///
    /// # Panics
    /// If the output placement disagrees with `d_vocab_out` (see
    /// [`Model::validate`]).
    pub fn decode(&self, resid: &Array2<f32>) -> Vec<Value> {
        self.decode_with(resid, None)
    }

    /// [`Model::decode`], with `mean` as in [`Decoder::decode_logits`].
    ///
    /// # Panics
    /// As [`Model::decode`]; also if `mean` is shorter than the output.
    pub fn decode_with(&self, resid: &Array2<f32>, mean: Option<&[bool]>) -> Vec<Value> {
        self.decoder().decode_logits(&self.logits(resid), mean)
    }

    /// A decoder for this model's outputs.
    pub fn decoder(&self) -> Decoder<'_> {
        Decoder::new(&self.meta)
    }
}

/// Decodes a model's output logits (the output's values are read from
/// `rasp.json` once).
pub struct Decoder<'m> {
    meta: &'m Meta,
    snap: Option<Snap>,
    atoms: Vec<Value>,
}

impl<'m> Decoder<'m> {
    /// A decoder for the model `meta` describes.
    ///
    /// # Panics
    /// On an output value that is not an atom ([`load`](super::io::load)
    /// rejects such files).
    pub fn new(meta: &'m Meta) -> Decoder<'m> {
        let out = &meta.output;
        Decoder {
            meta,
            snap: (out.encoding == Encoding::Numerical).then(|| Snap::new(&out.values)),
            atoms: match out.encoding {
                Encoding::Categorical => atoms(&out.values),
                Encoding::Numerical => Vec::new(),
            },
        }
    }

    /// The model's output at positions 1.. (BOS excluded), from the logits
    /// of every position (`[len, d_vocab_out]`, BOS's row first, then one
    /// row per token: no PAD rows, since a grid keyed by length reads the
    /// input's length off the rows; slice a padded batch's rows to each
    /// sequence's own length first): for a
    /// categorical output the argmax of each row mapped through
    /// `meta.output.values`; for a numerical output `(logit0 - logit1) / 2`
    /// (the `+x` and `-x` columns of [`unembedding`](super::unembedding)),
    /// snapped to the nearest of `meta.output.values` when that list is not
    /// empty, or, with an output grid, to the nearest value at its position
    /// or for the input's length ([`Grid::decode`](super::grid::Grid::decode)).
    ///
    /// Where the nearest number is listed with several types (`1` and
    /// `1.0`), `mean[i]` decides for output position `i + 1`: whether an
    /// aggregate behind the output averaged several keys there (the
    /// interpreter's result is then a float, the first listed float) or not
    /// (one key gives the selected value itself, the first non-float). With
    /// no `mean`, the first listed wins; [`run`] decides such ties the way
    /// the interpreter does, from the attention of [`kind_heads`].
    ///
    /// # Panics
    /// If the logits' width disagrees with the output placement, or `mean`
    /// is shorter than the output.
    pub fn decode_logits(&self, logits: &Array2<f32>, mean: Option<&[bool]>) -> Vec<Value> {
        if logits.nrows() <= 1 {
            return Vec::new();
        }
        let logits = logits.slice(s![1.., ..]);
        let out = &self.meta.output;
        match out.encoding {
            Encoding::Categorical => {
                let values = &self.atoms;
                assert!(
                    values.len() >= logits.ncols(),
                    "the output has {} values for {} logits",
                    values.len(),
                    logits.ncols()
                );
                logits
                    .rows()
                    .into_iter()
                    .map(|row| values[argmax(row.iter().copied())].clone())
                    .collect()
            }
            Encoding::Numerical => {
                assert!(
                    logits.ncols() == 2,
                    "a numerical output needs two logits (+x, -x), not {}",
                    logits.ncols()
                );
                let Some(snap) = &self.snap else {
                    unreachable!("a numerical output has a snap");
                };
                let len = logits.nrows();
                logits
                    .rows()
                    .into_iter()
                    .enumerate()
                    .map(|(i, row)| {
                        let x = (row[0] - row[1]) / 2.0;
                        match &self.meta.output_grid {
                            Some(grid) => grid.decode(i, len, f64::from(x)),
                            None => snap.value_kind(x, mean.map(|m| m[i])),
                        }
                    })
                    .collect()
            }
        }
    }
}

impl Model {
    /// See [`kind_heads`].
    pub fn kind_heads(&self) -> Vec<(usize, usize)> {
        kind_heads(&self.config, &self.meta)
    }
}

/// The attention heads whose patterns decide a numerical output's type
/// where its number is listed with several types (`1` and `1.0`), as
/// `(layer, head)`: the output's own head when one head writes it; for an
/// output that sums several dims (`coefs`), the head of each term that is
/// itself such an aggregate (a sum of ints and a float mean is a float).
/// Empty when the type never depends on the attention (no such twins, or
/// no such head).
pub fn kind_heads(config: &Config, meta: &Meta) -> Vec<(usize, usize)> {
    let out = &meta.output;
    if out.encoding != Encoding::Numerical || !Snap::new(&out.values).has_twins() {
        return Vec::new();
    }
    let one_head = |p: &Placement| -> Option<(usize, usize)> {
        let (layer, &[head]) = (p.layer?, p.heads.as_slice()) else {
            return None;
        };
        (p.encoding == Encoding::Numerical
            && p.sublayer == "attn"
            && layer < config.n_layers
            && head < config.n_heads)
            .then_some((layer, head))
    };
    if let Some(h) = one_head(out) {
        return vec![h];
    }
    let mut heads = Vec::new();
    if out.dims.len() > 1 || !out.coefs.is_empty() {
        for &d in &out.dims {
            let term = meta
                .sops
                .iter()
                .find(|p| p.encoding == Encoding::Numerical && p.dims == [d] && p.coefs.is_empty());
            if let Some(h) = term
                .filter(|p| Snap::new(&p.values).has_twins())
                .and_then(one_head)
                && !heads.contains(&h)
            {
                heads.push(h);
            }
        }
    }
    heads
}

/// Per query position 1.. of one sequence, whether an attention pattern
/// (`[len, len]`, a row per query) attends to a single key: a key counts
/// when its weight is at least half the query's largest.
pub fn single_key(pattern: &Array2<f32>) -> Vec<bool> {
    pattern
        .rows()
        .into_iter()
        .skip(1)
        .map(|row| {
            let top = row.iter().copied().fold(0.0f32, f32::max);
            row.iter().filter(|&&p| p >= top / 2.0).count() == 1
        })
        .collect()
}

impl Model {
    /// Whether `head` of `layer` attends to a single key at each query
    /// position 1.. of one sequence ([`single_key`]), computed straight from
    /// the dense weights. `before` is the residual entering the layer (see
    /// [`Cpu::forward_to`](super::cpu::Cpu::forward_to)), `ids` the
    /// sequence's token ids (for the PAD mask).
    ///
    /// # Panics
    /// If `before` and `ids` differ in length, or `layer`/`head` is out of
    /// range.
    pub fn attends_to_one(
        &self,
        before: &Array2<f32>,
        ids: &[usize],
        layer: usize,
        head: usize,
    ) -> Vec<bool> {
        assert_eq!(before.nrows(), ids.len(), "one residual row per token");
        let c = &self.config;
        let a = &self.blocks[layer].attn;
        let q = before.dot(&a.w_q.slice(s![head, .., ..])) + a.b_q.row(head);
        let k = before.dot(&a.w_k.slice(s![head, .., ..])) + a.b_k.row(head);
        let scale = if c.use_attn_scale { c.attn_scale } else { 1.0 };
        let causal = c.attention_dir == "causal";
        let n = ids.len();
        let mut pattern = Array2::<f32>::zeros((n, n));
        for i in 0..n {
            let keys = if causal { i + 1 } else { n };
            let scores: Vec<f64> = (0..keys)
                .map(|j| {
                    if ids[j] == self.meta.pad_id {
                        f64::NEG_INFINITY
                    } else {
                        f64::from(q.row(i).dot(&k.row(j))) / scale
                    }
                })
                .collect();
            let top = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if top == f64::NEG_INFINITY {
                continue;
            }
            let sum: f64 = scores.iter().map(|s| (s - top).exp()).sum();
            for (j, s) in scores.iter().enumerate() {
                pattern[[i, j]] = ((s - top).exp() / sum) as f32;
            }
        }
        single_key(&pattern)
    }

    /// Any placement read straight from the residual stream at positions
    /// 1.. (BOS excluded): categorical = argmax over `p.dims` mapped
    /// through `p.values`; numerical = the value of its dim, snapped to the
    /// nearest of `p.values` when that list is not empty (the output's, by
    /// the output grid when there is one). The rows are BOS's and one per
    /// token, no PAD rows (as for [`Decoder::decode_logits`]).
    ///
    /// # Panics
    /// If a dim is not below `d_model`, a categorical placement has fewer
    /// values than dims or a value that is not an atom, or a numerical
    /// placement has no dim.
    pub fn read(&self, resid: &Array2<f32>, p: &Placement) -> Vec<Value> {
        if resid.nrows() <= 1 {
            return Vec::new();
        }
        let rows = resid.slice(s![1.., ..]);
        match p.encoding {
            Encoding::Categorical => {
                let values = atoms(&p.values);
                assert!(
                    values.len() >= p.dims.len(),
                    "placement {} has {} values for {} dims",
                    p.name,
                    values.len(),
                    p.dims.len()
                );
                rows.rows()
                    .into_iter()
                    .map(|row| values[argmax(p.dims.iter().map(|&d| row[d]))].clone())
                    .collect()
            }
            Encoding::Numerical => {
                assert!(
                    !p.dims.is_empty(),
                    "numerical placement {} has no dim",
                    p.name
                );
                let terms = p.terms();
                let snap = Snap::new(&p.values);
                // The output's number, where its values are decoded by
                // position.
                let grid = self
                    .meta
                    .output_grid
                    .as_ref()
                    .filter(|_| terms == self.meta.output.terms());
                let len = rows.nrows();
                rows.rows()
                    .into_iter()
                    .enumerate()
                    .map(|(i, row)| {
                        let x: f32 = terms.iter().map(|(d, c)| row[*d] * c).sum();
                        match grid {
                            Some(g) => g.decode(i, len, f64::from(x)),
                            None => snap.value(x),
                        }
                    })
                    .collect()
            }
        }
    }

    /// Encode every input, run them as one batch on the CPU, decode the
    /// outputs ([`run`]). Checks the model first ([`Model::validate`]).
    pub fn run(&self, inputs: &[Vec<Value>]) -> Result<Vec<Vec<Value>>, Diag> {
        self.validate()?;
        run(&self.prepare(), &self.meta, inputs)
    }
}

/// Encode every input, run them as one batch on `exec` (prepared from the
/// model `meta` describes), decode the outputs. Where a numerical output's
/// number stands for values of several types, the attention of
/// [`kind_heads`] decides, as in the interpreter: a mean of several keys is
/// a float (`1.0`), one key gives the value itself (`1`).
pub fn run(
    exec: &dyn Executor,
    meta: &Meta,
    inputs: &[Vec<Value>],
) -> Result<Vec<Vec<Value>>, Diag> {
    let ids = inputs
        .iter()
        .map(|input| encode(meta, input))
        .collect::<Result<Vec<_>, _>>()?;
    let want = Want {
        resid: false,
        patterns: kind_heads(exec.config(), meta),
    };
    let fwd = exec.run_batch(&ids, &want)?;
    check_logits(&fwd.logits)?;
    let decoder = Decoder::new(meta);
    if want.patterns.is_empty() {
        return Ok(fwd
            .logits
            .par_iter()
            .map(|l| decoder.decode_logits(l, None))
            .collect());
    }
    // mean[s][i]: some head averaged several keys at position i + 1.
    let mut mean: Vec<Vec<bool>> = ids.iter().map(|s| vec![false; s.len() - 1]).collect();
    for per_seq in &fwd.patterns {
        for (m, pattern) in mean.iter_mut().zip(per_seq) {
            for (m, one) in m.iter_mut().zip(single_key(pattern)) {
                *m |= !one;
            }
        }
    }
    Ok(fwd
        .logits
        .par_iter()
        .zip(&mean)
        .map(|(l, m)| decoder.decode_logits(l, Some(m)))
        .collect())
}

/// Every output logit (positions 1.., BOS's row aside) must be a finite
/// number: a NaN or an infinity decodes to no value of the output (a
/// categorical argmax over NaN, a number that is not one), so it is a
/// diagnostic (`rasp::model::output`), never an answer. Only weights that
/// overflow the forward pass (a model edited by hand and run with
/// `--allow-modified`) produce one.
pub fn check_logits(logits: &[Array2<f32>]) -> Result<(), Diag> {
    let bad = logits.par_iter().enumerate().find_map_first(|(s, l)| {
        l.rows()
            .into_iter()
            .enumerate()
            .skip(1)
            .find_map(|(p, row)| row.iter().find(|x| !x.is_finite()).map(|x| (s, p, *x)))
    });
    match bad {
        None => Ok(()),
        Some((s, p, x)) => Err(Diag::error(
            codes::MODEL_OUTPUT,
            format!(
                "the model's output is not a number: a logit at position {} of input {} is {x}",
                p - 1,
                s + 1
            ),
        )
        .help("the model's weights overflow its forward pass (were they edited?); compile the program again, or undo the edit")),
    }
}

/// JSON values as atoms.
///
/// # Panics
/// On a value that is not an atom (load rejects such files).
fn atoms(values: &[serde_json::Value]) -> Vec<Value> {
    values
        .iter()
        .map(|v| value_from_json(v).unwrap_or_else(|| panic!("{v} is not an atom")))
        .collect()
}

/// Index of the largest item (the first on ties; NaN never wins; 0 when
/// there is none).
fn argmax(items: impl Iterator<Item = f32>) -> usize {
    let mut best = 0;
    let mut best_x = f32::NEG_INFINITY;
    let mut seen = false;
    for (i, x) in items.enumerate() {
        if !seen || x > best_x {
            if x.is_nan() {
                continue;
            }
            best = i;
            best_x = x;
            seen = true;
        }
    }
    best
}

/// Snapping a number to the nearest of a set of known values.
struct Snap {
    points: Vec<(f64, Value)>,
    /// Indices of `points` sorted by number (listed order among equals).
    order: Vec<usize>,
}

impl Snap {
    fn new(values: &[serde_json::Value]) -> Snap {
        let points: Vec<(f64, Value)> = values
            .iter()
            .filter_map(value_from_json)
            .filter_map(|v| v.as_f64().filter(|x| x.is_finite()).map(|x| (x, v)))
            .collect();
        let mut order: Vec<usize> = (0..points.len()).collect();
        order.sort_by(|a, b| points[*a].0.total_cmp(&points[*b].0));
        Snap { points, order }
    }

    /// Whether some number is listed twice (with different types: `1` and
    /// `1.0`, or `True` and `1`).
    fn has_twins(&self) -> bool {
        let mut xs: Vec<u64> = self
            .points
            .iter()
            .map(|(x, _)| (x + 0.0).to_bits())
            .collect();
        xs.sort_unstable();
        xs.windows(2).any(|w| w[0] == w[1])
    }

    /// The nearest known value (the first on ties), or the raw number when
    /// none is known or it is not finite.
    fn value(&self, x: f32) -> Value {
        self.value_kind(x, None)
    }

    /// [`Snap::value`], where among the values equal to the nearest number
    /// `mean` picks the first float (`Some(true)`), the first non-float
    /// (`Some(false)`) or the first listed (`None`, or no such value).
    fn value_kind(&self, x: f32, mean: Option<bool>) -> Value {
        let x = f64::from(x);
        if !x.is_finite() {
            return Value::Float(x);
        }
        if self.points.is_empty() {
            return Value::Float(x);
        }
        // `order` sorts the points by number (stable: listed order on ties),
        // so the nearest number is next to the insertion point.
        let key = |i: usize| self.points[self.order[i]].0;
        let at = self.order.partition_point(|&i| self.points[i].0 < x);
        let mut nearest = at.min(self.order.len() - 1);
        if at > 0 && (key(at - 1) - x).abs() <= (key(nearest) - x).abs() {
            nearest = at - 1;
        }
        let num = key(nearest);
        // The first listed point with that number.
        let lo = self.order.partition_point(|&i| self.points[i].0 < num);
        let hi = self.order.partition_point(|&i| self.points[i].0 <= num);
        let same = &self.order[lo..hi];
        let first = same.iter().copied().min().map(|i| &self.points[i].1);
        let Some(first) = first else {
            return Value::Float(x);
        };
        let Some(want_float) = mean else {
            return first.clone();
        };
        let mut listed: Vec<usize> = same.to_vec();
        listed.sort_unstable();
        listed
            .iter()
            .map(|i| &self.points[*i].1)
            .find(|v| matches!(v, Value::Float(_)) == want_float)
            .unwrap_or(first)
            .clone()
    }
}
