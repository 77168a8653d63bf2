//! The interpreter: evaluates IR nodes on concrete inputs with the original's
//! exact semantics. It is the oracle every other back end is checked
//! against.
//!
//! Nodes are evaluated in topological (id) order over columns, one
//! `Vec<Value>` per s-op. Selectors are never materialised: aggregate and
//! selector_width compute one query row at a time (O(n) memory), except when
//! a selector itself is the requested output.

pub mod display;

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

mod bits;
mod fast;

use crate::syntax::ast::CmpOp;

use crate::diag::limits::Limit;
use crate::diag::{Diag, SourceMap, codes};
use crate::ir::value::{self, OpError, OpErrorKind, Value};
use crate::ir::{Graph, Kind, NodeId, Op};

/// The type of a whole sequence, as the original's `lazy_type_check`
/// computes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeqType {
    Ints,
    Floats,
    Strings,
    Bools,
}

impl SeqType {
    pub fn name(self) -> &'static str {
        match self {
            SeqType::Ints => "ints",
            SeqType::Floats => "floats",
            SeqType::Strings => "strings",
            SeqType::Bools => "bools",
        }
    }
    pub fn is_numeric(self) -> bool {
        matches!(self, SeqType::Ints | SeqType::Floats)
    }
}

/// A computed s-op.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub values: Vec<Value>,
    pub ty: SeqType,
}

/// The value of a requested node on one input.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    Sop(Column),
    /// One row per query position, one bool per key position.
    Selector(Vec<Vec<bool>>),
}

/// An evaluation failure, tied to the node that failed.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalError {
    pub node: Option<NodeId>,
    pub code: &'static str,
    pub message: String,
    /// The query/position where it failed, when known.
    pub position: Option<usize>,
}

impl EvalError {
    fn at(node: NodeId, position: Option<usize>, e: OpError) -> EvalError {
        let code = match e.kind {
            OpErrorKind::Type => codes::EVAL_TYPE,
            OpErrorKind::Value => codes::EVAL_VALUE,
            OpErrorKind::DivZero => codes::EVAL_DIV_ZERO,
            OpErrorKind::Overflow => codes::EVAL_OVERFLOW,
            OpErrorKind::Index => codes::EVAL_INDEX,
            OpErrorKind::Key => codes::EVAL_KEY,
            OpErrorKind::Limit(l) => l.code(),
        };
        EvalError {
            node: Some(node),
            code,
            message: e.message,
            position,
        }
    }

    /// [`EvalError::to_diag`] for an evaluation of `requested`: a failure
    /// inside a builtin (`tokens_int` on a letter, ...) has no span of its
    /// own, so it points at the s-op that was asked for.
    pub fn to_diag_for(
        &self,
        graph: &Graph,
        sources: &SourceMap,
        input: &[Value],
        requested: NodeId,
    ) -> Diag {
        let d = self.to_diag(graph, sources, input);
        match (d.span, graph.node(requested).span) {
            (None, Some(span)) if self.node.is_some_and(|n| n != requested) => d
                .at(span)
                .label("while evaluating this")
                .with_sources(sources),
            _ => d,
        }
    }

    /// A diagnostic naming the input and the s-op that failed.
    pub fn to_diag(&self, graph: &Graph, sources: &SourceMap, input: &[Value]) -> Diag {
        let input_text = display::input_short(input, self.position);
        let mut msg = match self.node {
            Some(node) => format!(
                "evaluating `{}` on input {} failed: {}",
                node_title(graph, sources, node),
                input_text,
                self.message
            ),
            None if input.is_empty() => format!("the input is empty: {}", self.message),
            None => format!("input {input_text}: {}", self.message),
        };
        if let Some(p) = self.position {
            msg.push_str(&format!(" (at position {p})"));
        }
        let mut d = Diag::error(self.code, msg);
        if let Some(node) = self.node
            && let Some(span) = graph.node(node).span
        {
            d = d.at(span).label("this s-op");
        }
        d = match self.code {
            codes::EVAL_MIXED_TYPES => d.help(
                "every position of an s-op must hold the same type; an aggregate with no selected \
                 key gives its default (0 unless given as the third argument)",
            ),
            codes::EVAL_NON_NUMERIC_MEAN => d.help(
                "an aggregate over two or more selected keys averages them, which needs numbers; \
                 select exactly one key per query for strings or bools",
            ),
            codes::EVAL_DIV_ZERO => d.help(
                "both branches of an s-op conditional are computed at every position, so a guard \
                 like `x / y if y > 0 else 0` still divides by zero",
            ),
            code => match Limit::by_code(code) {
                Some(l) => d.help(l.help()),
                None => d,
            },
        };
        d.with_sources(sources)
    }
}

/// How a node is named in messages: its user name, else its source text
/// (shortened), else a description of the operation.
pub fn node_title(graph: &Graph, sources: &SourceMap, node: NodeId) -> String {
    let n = graph.node(node);
    if let Some(name) = n.names.first() {
        return name.to_string();
    }
    if let Some(text) = n.span.and_then(|s| sources.snippet(s)) {
        let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if one_line.chars().count() <= 60 {
            return one_line;
        }
        let short: String = one_line.chars().take(57).collect();
        return format!("{short}...");
    }
    n.op.describe(graph)
}

/// Check an input and report why it cannot be evaluated (the empty input:
/// RASP sequences are never empty). `rasp exec` uses it too, so that a
/// compiled model refuses what the interpreter refuses.
pub fn check_input(input: &[Value]) -> Result<(), EvalError> {
    if input.is_empty() {
        return Err(EvalError {
            node: None,
            code: codes::EVAL_EMPTY_INPUT,
            message: "RASP sequences/selectors expect non-empty inputs".into(),
            position: None,
        });
    }
    Ok(())
}

/// The type of a sequence, or the original's error for mixed values.
pub fn seq_type(values: &[Value]) -> Result<SeqType, String> {
    let (mut s, mut b, mut i) = (0usize, 0usize, 0usize);
    for v in values {
        match v {
            Value::Str(_) => s += 1,
            Value::Bool(_) => b += 1,
            Value::Int(_) => i += 1,
            Value::Float(_) => {}
        }
    }
    let n = values.len();
    if s == n {
        Ok(SeqType::Strings)
    } else if b == n {
        Ok(SeqType::Bools)
    } else if b + i == n {
        Ok(SeqType::Ints)
    } else if s == 0 {
        Ok(SeqType::Floats)
    } else {
        let shown: Vec<String> = values.iter().take(20).map(Value::repr).collect();
        let more = if n > 20 { ", ..." } else { "" };
        Err(format!(
            "attempted to create sequence with vals of different types: ({}{more})",
            shown.join(", ")
        ))
    }
}

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
struct Run<'g> {
    graph: &'g Graph,
    n: usize,
    cols: Vec<Option<Column>>,
    cancel: Option<&'g AtomicBool>,
    /// Use the O(n log n) selectors (`fast.rs`) and the bit matrices
    /// (`bits.rs`) where they apply.
    fast: bool,
    /// Short inputs' selector matrices.
    bits: bits::Bits,
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

    fn col(&self, id: NodeId) -> &Column {
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

    fn eval_sop(
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
                out.resize(n, Value::Int(n as i64));
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
                            let v = expr.eval(&[x, y]).map_err(|e| EvalError::at(id, Some(p), e))?;
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
                let sums = fast.as_ref().map(|f| f.int_sums(vals));
                let mut row = vec![false; n];
                for q in 0..n {
                    if q % 1024 == 0 {
                        self.check_cancel(id)?;
                    }
                    if let (Some(f), Some(sums)) = (&fast, &sums)
                        && let Some(v) = f.aggregate(q, vals, default, sums)
                    {
                        out.push(v);
                        continue;
                    }
                    self.row(*sel, q, &mut row, pool)?;
                    out.push(aggregate_row(&row, vals, default).map_err(|m| EvalError {
                        node: Some(id),
                        code: codes::EVAL_NON_NUMERIC_MEAN,
                        message: m,
                        position: Some(q),
                    })?);
                }
                out
            }
            Op::SelectorWidth(sel) => {
                if let Some(at) = self.bit_rows(*sel) {
                    let widths = self.bits.rows(at, n).iter();
                    out.extend(widths.map(|w| Value::Int(i64::from(w.count_ones()))));
                    return self.finish(id, out);
                }
                if let Some(f) = self.fast(*sel) {
                    self.check_cancel(id)?;
                    out.extend((0..n).map(|q| Value::Int(f.width(q) as i64)));
                    return self.finish(id, out);
                }
                let mut row = vec![false; n];
                for q in 0..n {
                    self.check_cancel(id)?;
                    self.row(*sel, q, &mut row, pool)?;
                    out.push(Value::Int(row.iter().filter(|b| **b).count() as i64));
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
    /// the evaluator was made without it).
    fn fast(&self, sel: NodeId) -> Option<fast::Fast<'_>> {
        if !self.fast || self.n < fast::MIN_LEN {
            return None;
        }
        fast::Fast::new(self.graph, sel, &|id| self.col(id))
    }

    /// Fill `row[k]` with the selector's value at (query q, key k); `pool`
    /// lends the buffers of and/or (no allocation per row).
    fn row(
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
                // path per key: int (or bool) keys and query, string keys and
                // query. The same results as `value::compare`.
                match (kc.ty, query) {
                    (SeqType::Ints | SeqType::Bools, Value::Int(_) | Value::Bool(_)) => {
                        let y = query.as_int().unwrap_or(0);
                        fill(row, keys.iter().map(|v| v.as_int().unwrap_or(0)), &y, *cmp);
                        return Ok(());
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

/// Evaluate `targets` on one input.
pub fn evaluate(
    graph: &Graph,
    input: &[Value],
    targets: &[NodeId],
) -> Result<Vec<Output>, EvalError> {
    evaluate_with(graph, input, targets, None)
}

/// Evaluate `targets` on one input; stop with `rasp::interrupted` as soon
/// as `cancel` is set.
pub fn evaluate_with(
    graph: &Graph,
    input: &[Value],
    targets: &[NodeId],
    cancel: Option<&AtomicBool>,
) -> Result<Vec<Output>, EvalError> {
    Evaluator::new(graph, targets).run(input, cancel)
}

/// Evaluates the same targets on many inputs, one after another, reusing
/// what does not depend on the input: the order of the nodes to compute,
/// the column slots, the selector rows' buffers.
pub struct Evaluator<'g> {
    graph: &'g Graph,
    targets: Vec<NodeId>,
    order: Vec<NodeId>,
    /// How many columns an input fills (the s-ops of `order`) and how many
    /// selector matrices it returns: what the memory estimate counts.
    columns: usize,
    matrices: usize,
    cols: Vec<Option<Column>>,
    pool: Vec<Vec<bool>>,
    fast: bool,
    bits: bits::Bits,
}

impl<'g> Evaluator<'g> {
    pub fn new(graph: &'g Graph, targets: &[NodeId]) -> Evaluator<'g> {
        let order = graph.ancestors(targets);
        Evaluator {
            graph,
            targets: targets.to_vec(),
            columns: order
                .iter()
                .filter(|id| graph.kind(**id) == Kind::Sop)
                .count(),
            matrices: targets
                .iter()
                .filter(|id| graph.kind(**id) == Kind::Selector)
                .count(),
            order,
            cols: vec![None; graph.len()],
            pool: Vec::new(),
            fast: true,
            bits: bits::Bits::default(),
        }
    }

    /// Only the general O(n²) path: the reference the fast selectors are
    /// tested against.
    pub fn general(graph: &'g Graph, targets: &[NodeId]) -> Evaluator<'g> {
        Evaluator {
            fast: false,
            ..Evaluator::new(graph, targets)
        }
    }

    /// Refuse, before anything is allocated, an input whose evaluation
    /// would hold more than the memory limit: a column of `n` values per
    /// s-op, an `n` by `n` matrix per selector asked for.
    fn check_memory(&self, n: usize) -> Result<(), EvalError> {
        let n = n as u128;
        let value = std::mem::size_of::<Value>() as u128;
        let bytes = self.columns as u128 * n * value + self.matrices as u128 * n * n;
        if Limit::Memory.allows(bytes) {
            return Ok(());
        }
        Err(EvalError {
            node: None,
            code: codes::LIMIT_MEMORY,
            message: Limit::Memory.message(format!(
                "evaluating {} s-op(s){} on {n} tokens would hold {bytes} bytes",
                self.columns,
                match self.matrices {
                    0 => String::new(),
                    k => format!(" and {k} selector matrix(es)"),
                }
            )),
            position: None,
        })
    }

    /// The targets' values on `input`.
    pub fn run(
        &mut self,
        input: &[Value],
        cancel: Option<&AtomicBool>,
    ) -> Result<Vec<Output>, EvalError> {
        check_input(input)?;
        let n = input.len();
        self.check_memory(n)?;
        let mut run = Run {
            graph: self.graph,
            n,
            cols: std::mem::take(&mut self.cols),
            cancel,
            fast: self.fast,
            bits: std::mem::take(&mut self.bits),
        };
        run.bits.reset(self.graph.len());
        let mut pool = std::mem::take(&mut self.pool);
        let result = (|| {
            for &id in &self.order {
                run.eval_sop(id, input, &mut pool)?;
            }
            let mut outputs = Vec::with_capacity(self.targets.len());
            for &t in &self.targets {
                outputs.push(match self.graph.kind(t) {
                    Kind::Sop => Output::Sop(run.col(t).clone()),
                    Kind::Selector => {
                        let mut rows = Vec::with_capacity(n);
                        for q in 0..n {
                            let mut row = vec![false; n];
                            run.row(t, q, &mut row, &mut pool)?;
                            rows.push(row);
                        }
                        Output::Selector(rows)
                    }
                });
            }
            Ok(outputs)
        })();
        // The columns stay for the next input (each is recomputed before
        // it is read).
        self.cols = run.cols;
        self.bits = run.bits;
        self.pool = pool;
        result
    }
}

/// Evaluate one node on one input.
pub fn evaluate_one(graph: &Graph, input: &[Value], target: NodeId) -> Result<Output, EvalError> {
    let mut outs = evaluate(graph, input, &[target])?;
    Ok(outs.pop().expect("one target gives one output"))
}

/// Evaluate named nodes on one input, each to its value or its own error:
/// all together, and one by one only when that fails, so every name that
/// works still has its value.
pub fn evaluate_each(
    graph: &Graph,
    input: &[Value],
    named: &[(String, NodeId)],
) -> Vec<Result<Output, EvalError>> {
    let targets: Vec<NodeId> = named.iter().map(|(_, id)| *id).collect();
    match evaluate(graph, input, &targets) {
        Ok(outs) => outs.into_iter().map(Ok).collect(),
        Err(_) => targets
            .iter()
            .map(|id| evaluate_one(graph, input, *id))
            .collect(),
    }
}

/// Evaluate one node on many inputs, in parallel; results in input order.
pub fn evaluate_batch(
    graph: &Graph,
    inputs: &[Vec<Value>],
    target: NodeId,
) -> Vec<Result<Output, EvalError>> {
    if inputs.len() < 2 {
        // Not worth starting the thread pool for (a process that
        // evaluates one input would spend more on it than on the input).
        let mut ev = Evaluator::new(graph, &[target]);
        return inputs
            .iter()
            .map(|input| {
                ev.run(input, None)
                    .map(|mut o| o.pop().expect("one target gives one output"))
            })
            .collect();
    }
    inputs
        .par_iter()
        .map_init(
            || Evaluator::new(graph, &[target]),
            |ev, input| {
                ev.run(input, None)
                    .map(|mut o| o.pop().expect("one target gives one output"))
            },
        )
        .collect()
}
