//! Selectors of short inputs (n ≤ 64) as bit matrices: row `q` is one
//! `u64` whose bit `k` is the selector at (query q, key k).
//!
//! A `select` is one typed comparison per cell, `and` / `or` / `not` are one
//! word operation per row, a selector width is a popcount, and an aggregate
//! reads the one selected key with `trailing_zeros`. Each selector node is
//! computed once per input, however many aggregates and widths read it (the
//! general path recomputes its rows for every reader). The words live in
//! one arena reused from input to input: no allocation per example.
//!
//! Only selectors whose comparisons cannot fail take this path: int (or
//! bool) keys with int (or bool) queries, string keys with string queries,
//! where `value::compare` is the plain total order. Anything else (floats,
//! mixed kinds) returns `None` and the general path computes it, errors
//! and all, so the values and the errors are the general path's.

use super::{Column, SeqType};
use crate::ir::value::Value;
use crate::ir::{Graph, NodeId, Op};
use crate::syntax::ast::CmpOp;

/// The longest input a row fits in.
pub const MAX_LEN: usize = 64;

/// The selector matrices computed for the current input.
#[derive(Default)]
pub struct Bits {
    /// Every computed matrix's rows, back to back.
    words: Vec<u64>,
    /// Per node: `offset + 1` into `words` when computed for this input, 0
    /// when not; `u32::MAX` when it has no bit form on this input.
    slot: Vec<u32>,
    /// Nodes whose slot is set (reset at the next input).
    touched: Vec<NodeId>,
    /// Typed copies of the int columns selects read, back to back.
    ints: Vec<i64>,
    /// Per node: `offset + 1` into `ints` when copied for this input.
    int_slot: Vec<u32>,
    int_touched: Vec<NodeId>,
}

const NONE: u32 = u32::MAX;

impl Bits {
    /// Forget the previous input's matrices (keeping the buffers).
    pub fn reset(&mut self, nodes: usize) {
        if self.slot.len() < nodes {
            self.slot.resize(nodes, 0);
            self.int_slot.resize(nodes, 0);
        }
        for id in self.touched.drain(..) {
            self.slot[id.index()] = 0;
        }
        for id in self.int_touched.drain(..) {
            self.int_slot[id.index()] = 0;
        }
        self.words.clear();
        self.ints.clear();
    }

    /// The offset in `ints` of column `id`'s values as ints (it holds ints
    /// or bools).
    fn int_column(&mut self, id: NodeId, c: &Column) -> usize {
        match self.int_slot[id.index()] {
            0 => {
                let at = self.ints.len();
                self.ints
                    .extend(c.values.iter().map(|v| v.as_int().unwrap_or(0)));
                self.int_slot[id.index()] = at as u32 + 1;
                self.int_touched.push(id);
                at
            }
            s => s as usize - 1,
        }
    }

    /// The `n` rows of selector `sel`, when it has a bit form.
    pub fn rows(&self, at: usize, n: usize) -> &[u64] {
        &self.words[at..at + n]
    }

    /// Compute `sel` (and the selectors below it) on the current input:
    /// the offset of its rows, or `None` when it has no bit form.
    pub fn matrix<'c>(
        &mut self,
        graph: &Graph,
        col: &impl Fn(NodeId) -> &'c Column,
        n: usize,
        sel: NodeId,
    ) -> Option<usize> {
        debug_assert!(n <= MAX_LEN);
        match self.slot[sel.index()] {
            0 => {}
            NONE => return None,
            s => return Some(s as usize - 1),
        }
        let at = self.build(graph, col, n, sel);
        self.slot[sel.index()] = at.map_or(NONE, |a| a as u32 + 1);
        self.touched.push(sel);
        at
    }

    fn build<'c>(
        &mut self,
        graph: &Graph,
        col: &impl Fn(NodeId) -> &'c Column,
        n: usize,
        sel: NodeId,
    ) -> Option<usize> {
        let full = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
        match graph.op(sel) {
            Op::Select { keys, queries, cmp } => {
                let (kc, qc) = (col(*keys), col(*queries));
                let at = self.words.len();
                match (kc.ty, qc.ty) {
                    (SeqType::Ints | SeqType::Bools, SeqType::Ints | SeqType::Bools) => {
                        let k = self.int_column(*keys, kc);
                        let q = self.int_column(*queries, qc);
                        let (ks, qs) = (&self.ints[k..k + n], &self.ints[q..q + n]);
                        self.words
                            .extend(qs.iter().map(|&y| row(ks.iter().copied(), y, *cmp)));
                    }
                    (SeqType::Strings, SeqType::Strings) => {
                        for y in &qc.values {
                            let y = str_of(y);
                            let w = row(kc.values.iter().map(str_of), y, *cmp);
                            self.words.push(w);
                        }
                    }
                    _ => return None,
                }
                Some(at)
            }
            Op::SelAnd(a, b) | Op::SelOr(a, b) => {
                let is_and = matches!(graph.op(sel), Op::SelAnd(..));
                let x = self.matrix(graph, col, n, *a)?;
                let y = self.matrix(graph, col, n, *b)?;
                let at = self.words.len();
                for q in 0..n {
                    let (u, v) = (self.words[x + q], self.words[y + q]);
                    self.words.push(if is_and { u & v } else { u | v });
                }
                Some(at)
            }
            Op::SelNot(a) => {
                let x = self.matrix(graph, col, n, *a)?;
                let at = self.words.len();
                for q in 0..n {
                    let u = self.words[x + q];
                    self.words.push(!u & full);
                }
                Some(at)
            }
            _ => None,
        }
    }
}

fn str_of(v: &Value) -> &str {
    match v {
        Value::Str(s) => s,
        _ => "",
    }
}

/// Bit `k` set when `keys[k] cmp y`.
fn row<T: PartialOrd>(keys: impl Iterator<Item = T>, y: T, cmp: CmpOp) -> u64 {
    let mut w = 0u64;
    let bits = keys.enumerate();
    match cmp {
        CmpOp::Eq => bits.for_each(|(k, x)| w |= u64::from(x == y) << k),
        CmpOp::Ne => bits.for_each(|(k, x)| w |= u64::from(x != y) << k),
        CmpOp::Lt => bits.for_each(|(k, x)| w |= u64::from(x < y) << k),
        CmpOp::Le => bits.for_each(|(k, x)| w |= u64::from(x <= y) << k),
        CmpOp::Gt => bits.for_each(|(k, x)| w |= u64::from(x > y) << k),
        CmpOp::Ge => bits.for_each(|(k, x)| w |= u64::from(x >= y) << k),
    }
    w
}

/// The keys query `q` sees, as a row mask: all of them, or under causal
/// semantics the keys 0..=q (a causal row is the full row cut at q).
pub fn visible(sem: super::Semantics, q: usize) -> u64 {
    match sem {
        super::Semantics::Bidirectional => u64::MAX,
        super::Semantics::Causal if q >= 63 => u64::MAX,
        super::Semantics::Causal => (1u64 << (q + 1)) - 1,
    }
}

/// The keys a row selects, in key order.
pub fn selected(w: u64) -> impl Iterator<Item = usize> {
    let mut w = w;
    std::iter::from_fn(move || {
        if w == 0 {
            return None;
        }
        let k = w.trailing_zeros() as usize;
        w &= w - 1;
        Some(k)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_selected_bits() {
        assert_eq!(row([1i64, 5, 3, 5].into_iter(), 5, CmpOp::Eq), 0b1010);
        assert_eq!(row([1i64, 5, 3, 5].into_iter(), 4, CmpOp::Lt), 0b0101);
        assert_eq!(row(["b", "a", "c"].into_iter(), "b", CmpOp::Ge), 0b101);
        assert_eq!(row(std::iter::repeat_n(0i64, 64), 0, CmpOp::Eq), u64::MAX);
        assert_eq!(selected(0b1010_0001).collect::<Vec<_>>(), vec![0, 5, 7]);
        assert_eq!(selected(0).count(), 0);
        assert_eq!(selected(1 << 63).collect::<Vec<_>>(), vec![63]);
    }
}
