//! One input's evaluation: the nodes in topological order, each to a
//! column; selectors one query row at a time (or as bit matrices, or from
//! sorted keys), aggregates and widths over those rows.

use std::sync::atomic::{AtomicBool, Ordering};

use super::{Column, EvalError, Semantics, SeqType, bits, fast, seq_type};
use crate::diag::codes;
use crate::diag::limits::Limit;
use crate::ir::value::{self, Value};
use crate::ir::{Graph, Kind, NodeId, Op};
use crate::syntax::ast::CmpOp;

/// The bytes of the strings one map makes on one input, within the size
/// limit: each string is within it already (`ir::value` refuses to make a
/// larger one), so the column never holds more than twice the limit.
struct StrBudget {
    node: NodeId,
    left: usize,
    limit: usize,
}

impl StrBudget {
    fn new(node: NodeId) -> StrBudget {
        let limit = Limit::Size.get_usize();
        StrBudget {
            node,
            left: limit,
            limit,
        }
    }

    /// Count `v` (at position `p`) and hand it back.
    fn take(&mut self, v: Value, p: usize) -> Result<Value, EvalError> {
        if let Value::Str(s) = &v {
            match self.left.checked_sub(s.len()) {
                Some(left) => self.left = left,
                None => {
                    return Err(EvalError {
                        node: Some(self.node),
                        code: codes::LIMIT_SIZE,
                        message: Limit::Size.message(format!(
                            "the strings it makes take {} bytes by position {p}",
                            (self.limit - self.left) as u128 + s.len() as u128
                        )),
                        position: Some(p),
                    });
                }
            }
        }
        Ok(v)
    }
}

/// Evaluation of one input: the columns computed so far.
pub(super) struct Run<'g> {
    pub(super) graph: &'g Graph,
    pub(super) n: usize,
    pub(super) cols: Vec<Option<Column>>,
    pub(super) cancel: Option<&'g AtomicBool>,
    /// Use the O(n log n) selectors (`fast.rs`) and the bit matrices
    /// (`bits.rs`) where they apply.
    pub(super) fast: bool,
    /// Causal: each query sees the keys at or before it, `length` is the
    /// prefix length.
    pub(super) sem: Semantics,
    /// Short inputs' selector matrices.
    pub(super) bits: bits::Bits,
}

impl<'g> Run<'g> {
    /// Stop when the user interrupted (Ctrl-C).
    fn check_cancel(&self, node: NodeId) -> Result<(), EvalError> {
        match self.cancel {
            Some(flag) if flag.load(Ordering::Relaxed) => Err(EvalError {
                node: Some(node),
                code: codes::INTERRUPTED,
                message: "interrupted".into(),
                position: None,
            }),
            _ => Ok(()),
        }
    }

    pub(super) fn col(&self, id: NodeId) -> &Column {
        // Inputs are always computed before their consumers (topological
        // order over `ancestors`), so this is an internal invariant.
        self.cols[id.index()]
            .as_ref()
            .expect("interpreter invariant: input column computed before use")
    }

    fn finish(&mut self, id: NodeId, values: Vec<Value>) -> Result<(), EvalError> {
        let ty = seq_type(&values).map_err(|message| EvalError {
            node: Some(id),
            code: codes::EVAL_MIXED_TYPES,
            message,
            position: None,
        })?;
        self.cols[id.index()] = Some(Column { values, ty });
        Ok(())
    }

    /// The bit-matrix form of `sel` on this input (short inputs only).
    fn bit_rows(&mut self, sel: NodeId) -> Option<usize> {
        if !self.fast || self.n > bits::MAX_LEN {
            return None;
        }
        let cols = &self.cols;
        let col = |id: NodeId| -> &Column {
            cols[id.index()]
                .as_ref()
                .expect("interpreter invariant: input column computed before use")
        };
        self.bits.matrix(self.graph, &col, self.n, sel)
    }

    pub(super) fn eval_sop(
        &mut self,
        id: NodeId,
        input: &[Value],
        pool: &mut Vec<Vec<bool>>,
    ) -> Result<(), EvalError> {
        self.check_cancel(id)?;
        if self.graph.kind(id) == Kind::Selector {
            // Selectors are computed by their readers.
            return Ok(());
        }
        let n = self.n;
        // The previous input's column of this node lends its buffer.
        let mut out = match self.cols[id.index()].take() {
            Some(c) => {
                let mut v = c.values;
                v.clear();
                v
            }
            None => Vec::with_capacity(n),
        };
        let values: Vec<Value> = match self.graph.op(id) {
            Op::Tokens(kind) => {
                for (p, x) in input.iter().enumerate() {
                    let v = kind.convert(x);
                    out.push(v.map_err(|e| EvalError::at(id, Some(p), e))?);
                }
                out
            }
            Op::Indices => {
                out.extend((0..n as i64).map(Value::Int));
                out
            }
            Op::Length => {
                match self.sem {
                    Semantics::Bidirectional => out.resize(n, Value::Int(n as i64)),
                    Semantics::Causal => out.extend((1..=n as i64).map(Value::Int)),
                }
                out
            }
            Op::Const(v) => {
                out.resize(n, v.clone());
                out
            }
            Op::Map { expr, args } => {
                // The strings a map makes count against the size limit.
                let mut strings = StrBudget::new(id);
                match args.as_slice() {
                    // One and two arguments (nearly every map) without a
                    // buffer per position.
                    [a] => {
                        let a = &self.col(*a).values;
                        for (p, x) in a.iter().enumerate() {
                            let v = expr.eval(&[x]).map_err(|e| EvalError::at(id, Some(p), e))?;
                            out.push(strings.take(v, p)?);
                        }
                    }
                    [a, b] => {
                        let (a, b) = (&self.col(*a).values, &self.col(*b).values);
                        for (p, (x, y)) in a.iter().zip(b).enumerate() {
                            let v = expr
                                .eval(&[x, y])
                                .map_err(|e| EvalError::at(id, Some(p), e))?;
                            out.push(strings.take(v, p)?);
                        }
                    }
                    _ => {
                        let cols: Vec<&Column> = args.iter().map(|a| self.col(*a)).collect();
                        let mut buf: Vec<&Value> = Vec::with_capacity(cols.len());
                        for p in 0..n {
                            buf.clear();
                            buf.extend(cols.iter().map(|c| &c.values[p]));
                            let v = expr.eval(&buf).map_err(|e| EvalError::at(id, Some(p), e))?;
                            out.push(strings.take(v, p)?);
                        }
                    }
                }
                out
            }
            Op::Aggregate {
                sel,
                values,
                default,
            } => {
                if let Some(at) = self.bit_rows(*sel) {
                    let vals = self.col(*values);
                    for (q, &w) in self.bits.rows(at, n).iter().enumerate() {
                        let w = w & bits::visible(self.sem, q);
                        out.push(match w.count_ones() {
                            0 => default.clone(),
                            1 => vals.values[w.trailing_zeros() as usize].clone(),
                            count => {
                                if !vals.ty.is_numeric() {
                                    return Err(EvalError {
                                        node: Some(id),
                                        code: codes::EVAL_NON_NUMERIC_MEAN,
                                        message: non_numeric_mean(vals),
                                        position: Some(q),
                                    });
                                }
                                let picked = bits::selected(w).map(|k| &vals.values[k]);
                                Value::Float(python_sum(picked) / f64::from(count))
                            }
                        });
                    }
                    return self.finish(id, out);
                }
                let vals = self.col(*values);
                let fast = self.fast(*sel);
                let mut cursor = fast.as_ref().map(|f| f.cursor(self.sem, Some(vals)));
                let mut row = vec![false; n];
                for q in 0..n {
                    if q % 1024 == 0 {
                        self.check_cancel(id)?;
                    }
                    if let Some(c) = cursor.as_mut()
                        && let Some(v) = c.aggregate(q, default)
                    {
                        out.push(v);
                        continue;
                    }
                    let keys = self.sem.keys(q, n);
                    self.row(*sel, q, &mut row[..keys], pool)?;
                    out.push(aggregate_row(&row[..keys], vals, default).map_err(|m| {
                        EvalError {
                            node: Some(id),
                            code: codes::EVAL_NON_NUMERIC_MEAN,
                            message: m,
                            position: Some(q),
                        }
                    })?);
                }
                out
            }
            Op::SelectorWidth(sel) => {
                if let Some(at) = self.bit_rows(*sel) {
                    let widths = self.bits.rows(at, n).iter().enumerate();
                    let sem = self.sem;
                    out.extend(widths.map(|(q, w)| {
                        Value::Int(i64::from((w & bits::visible(sem, q)).count_ones()))
                    }));
                    return self.finish(id, out);
                }
                if let Some(f) = self.fast(*sel) {
                    self.check_cancel(id)?;
                    let mut c = f.cursor(self.sem, None);
                    out.extend((0..n).map(|q| Value::Int(c.width(q) as i64)));
                    return self.finish(id, out);
                }
                let mut row = vec![false; n];
                for q in 0..n {
                    self.check_cancel(id)?;
                    let keys = self.sem.keys(q, n);
                    self.row(*sel, q, &mut row[..keys], pool)?;
                    out.push(Value::Int(row[..keys].iter().filter(|b| **b).count() as i64));
                }
                out
            }
            Op::Select { .. } | Op::SelAnd(..) | Op::SelOr(..) | Op::SelNot(_) => {
                unreachable!("selectors are skipped above")
            }
        };
        self.finish(id, values)
    }

    /// The O(n log n) form of a selector, for long enough inputs (unless
    /// the evaluator was made without it), under either semantics (its
    /// cursor counts only the keys at or before a causal query).
    fn fast(&self, sel: NodeId) -> Option<fast::Fast<'_>> {
        if !self.fast || self.n < fast::MIN_LEN {
            return None;
        }
        fast::Fast::new(self.graph, sel, &|id| self.col(id))
    }

    /// Fill `row[k]` with the selector's value at (query q, key k) for the
    /// keys `row` covers (all of them, or under causal semantics those at
    /// or before q: a causal row is the full row cut at q, since a
    /// selector's value at (q, k) depends only on the columns); `pool` lends
    /// the buffers of and/or (no allocation per row).
    pub(super) fn row(
        &self,
        sel: NodeId,
        q: usize,
        row: &mut [bool],
        pool: &mut Vec<Vec<bool>>,
    ) -> Result<(), EvalError> {
        match self.graph.op(sel) {
            Op::Select { keys, queries, cmp } => {
                let kc = self.col(*keys);
                let keys = &kc.values;
                let query = &self.col(*queries).values[q];
                // The common cases without a comparison's dispatch and error
                // path per key: int (or bool) keys and query, numbers exact
                // as floats, string keys and query. The same results as
                // `value::compare`.
                match (kc.ty, query) {
                    (SeqType::Ints | SeqType::Bools, Value::Int(_) | Value::Bool(_)) => {
                        let y = query.as_int().unwrap_or(0);
                        fill(row, keys.iter().map(|v| v.as_int().unwrap_or(0)), &y, *cmp);
                        return Ok(());
                    }
                    // Numbers that are all exact as floats (floats, and
                    // ints below 2^53, where `compare` of two ints is the
                    // float comparison too): one float comparison each, the
                    // keys checked in the same pass (a key that is not such
                    // a number leaves the row to the general loop below).
                    (SeqType::Floats, Value::Float(_) | Value::Int(_)) if exact_float(query) => {
                        let y = query.as_f64().unwrap_or(f64::NAN);
                        let mut exact = true;
                        let ks = keys.iter().map(|v| {
                            exact &= exact_float(v);
                            v.as_f64().unwrap_or(f64::NAN)
                        });
                        fill(row, ks, &y, *cmp);
                        if exact {
                            return Ok(());
                        }
                    }
                    (SeqType::Strings, Value::Str(y)) => {
                        let ks = keys.iter().map(|v| match v {
                            Value::Str(x) => x.as_ref(),
                            _ => "",
                        });
                        fill(row, ks, &y.as_ref(), *cmp);
                        return Ok(());
                    }
                    _ => {}
                }
                for (k, slot) in row.iter_mut().enumerate() {
                    *slot = value::compare(*cmp, &keys[k], query)
                        .map_err(|e| EvalError::at(sel, Some(q), e))?;
                }
                Ok(())
            }
            Op::SelAnd(a, b) | Op::SelOr(a, b) => {
                let is_and = matches!(self.graph.op(sel), Op::SelAnd(..));
                self.row(*a, q, row, pool)?;
                let mut other = pool.pop().unwrap_or_default();
                other.clear();
                other.resize(row.len(), false);
                let r = self.row(*b, q, &mut other, pool);
                if r.is_ok() {
                    for (x, y) in row.iter_mut().zip(&other) {
                        *x = if is_and { *x && *y } else { *x || *y };
                    }
                }
                pool.push(other);
                r
            }
            Op::SelNot(a) => {
                self.row(*a, q, row, pool)?;
                for x in row.iter_mut() {
                    *x = !*x;
                }
                Ok(())
            }
            _ => unreachable!("row() called on an s-op node"),
        }
    }
}

/// A float, or an int that a float holds exactly (below 2^53).
fn exact_float(v: &Value) -> bool {
    match v {
        Value::Float(_) => true,
        Value::Int(i) => i.unsigned_abs() < 1 << 53,
        _ => false,
    }
}

/// `row[k] = keys[k] cmp y`, one loop per comparison.
fn fill<T: PartialOrd>(row: &mut [bool], keys: impl Iterator<Item = T>, y: &T, cmp: CmpOp) {
    let pairs = row.iter_mut().zip(keys);
    match cmp {
        CmpOp::Eq => pairs.for_each(|(s, x)| *s = x == *y),
        CmpOp::Ne => pairs.for_each(|(s, x)| *s = x != *y),
        CmpOp::Lt => pairs.for_each(|(s, x)| *s = x < *y),
        CmpOp::Le => pairs.for_each(|(s, x)| *s = x <= *y),
        CmpOp::Gt => pairs.for_each(|(s, x)| *s = x > *y),
        CmpOp::Ge => pairs.for_each(|(s, x)| *s = x >= *y),
    }
}

/// One query row of an aggregate.
fn aggregate_row(row: &[bool], vals: &Column, default: &Value) -> Result<Value, String> {
    let mut count = 0usize;
    let mut single = 0usize;
    for (k, s) in row.iter().enumerate() {
        if *s {
            count += 1;
            single = k;
        }
    }
    match count {
        0 => Ok(default.clone()),
        1 => Ok(vals.values[single].clone()),
        _ => {
            if !vals.ty.is_numeric() {
                return Err(non_numeric_mean(vals));
            }
            let selected = row
                .iter()
                .zip(&vals.values)
                .filter(|(s, _)| **s)
                .map(|(_, v)| v);
            Ok(Value::Float(python_sum(selected) / count as f64))
        }
    }
}

/// The original's message for a mean of non-numbers.
fn non_numeric_mean(vals: &Column) -> String {
    let shown: Vec<String> = vals.values.iter().take(20).map(Value::repr).collect();
    let more = if vals.values.len() > 20 { ", ..." } else { "" };
    format!(
        "asked to average multiple values, but they are non-numbers: [{}{more}]",
        shown.join(", ")
    )
}

/// Python's `sum()` of numbers as a float: exact while all are ints, then
/// float additions in order.
fn python_sum<'a>(values: impl Iterator<Item = &'a Value>) -> f64 {
    let mut int_acc: i128 = 0;
    let mut float_acc: Option<f64> = None;
    for v in values {
        match (v, float_acc.as_mut()) {
            (Value::Float(f), None) => float_acc = Some(int_acc as f64 + f),
            (Value::Float(f), Some(acc)) => *acc += f,
            (v, None) => int_acc += v.as_int().unwrap_or(0) as i128,
            (v, Some(acc)) => *acc += v.as_f64().unwrap_or(0.0),
        }
    }
    float_acc.unwrap_or(int_acc as f64)
}
