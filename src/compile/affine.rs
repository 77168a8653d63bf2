//! Ordered comparisons of an affine key of two s-ops, split into digits.
//!
//! `select(k, k, <)` where `k = α·a + β·b + γ` over two s-ops with few
//! values each, whose pairs are not lexicographic (the library's
//! `-hist + indices/100` at N > 100: `-5 + 1.27` and `-4 + 0.27` are one
//! number). Over the reals, with `α·a` on a lattice of step δ, every key is
//! `δ·(A(a) + m(b)) + r(b)` with `0 <= r < δ`: the pair `(hi, lo) =
//! (A(a) + m(b), rank of r(b))` orders keys lexicographically. `hi` is a
//! sum (no table over both s-ops), `lo` a map of `b` alone.
//!
//! The interpreter compares floats, and two roundings of one number (`-4 +
//! 0.27` and `-5 + 1.27`) can differ: a third digit `tw`, the rank of a
//! key's float among the floats of its number, breaks those ties. It is
//! zero for all but a few pairs of values (a table that writes a number,
//! with units only where it is not zero).
//!
//! The split is checked, not assumed: every pair of values is sorted by
//! its digits and the interpreter's comparison must agree on each
//! neighbouring pair.

use crate::ir::value::{Value, compare};
use crate::syntax::ast::CmpOp;

/// Relative tolerance for "on the lattice" and "the same remainder".
const TOL: f64 = 1e-7;

/// Most pairs of values the split evaluates and sorts (tracr's
/// `sort_freq` at N = 512 has 262,656).
const MAX_PAIRS: usize = 1 << 21;

/// Numbers floats hold exactly (finite floats, ints below 2^53): there the
/// interpreter's comparison is one total order. Past 2^53 it compares two
/// ints exactly but an int and a float as floats, which is no order to
/// rank by (2^53 < 2^53 + 1, both == 2^53 as a float).
pub(super) fn exact_number(v: &Value) -> bool {
    match v {
        Value::Float(f) => f.is_finite(),
        Value::Int(i) => i.unsigned_abs() < 1 << 53,
        _ => false,
    }
}

/// The interpreter's order of two values (`==` values are equal).
pub(super) fn value_order(a: &Value, b: &Value) -> std::cmp::Ordering {
    if compare(CmpOp::Lt, a, b).unwrap_or(false) {
        std::cmp::Ordering::Less
    } else if compare(CmpOp::Gt, a, b).unwrap_or(false) {
        std::cmp::Ordering::Greater
    } else {
        std::cmp::Ordering::Equal
    }
}

/// The digits of a split key: per value of `a`, `A`; per value of `b`,
/// `m` and `lo`; and `tw` per (a, b) pair where it is not zero.
#[derive(Debug, Clone, PartialEq)]
pub struct AffineDigits {
    /// How many values `hi` and `lo` take together (the one-hot dims the
    /// comparison reads).
    pub width: usize,
    pub a_hi: Vec<i64>,
    pub b_hi: Vec<i64>,
    pub b_lo: Vec<i64>,
    /// ((index into a's values, index into b's values), tw), tw > 0.
    pub twins: Vec<((usize, usize), i64)>,
}

/// The digits of `f(a, b)` over `av` × `bv` (see the module's
/// documentation), `None` where they do not order every pair as the
/// interpreter does or would not be smaller than the key's one-hot.
pub fn affine_digits(
    f: impl Fn(&Value, &Value) -> Option<Value>,
    av: &[Value],
    bv: &[Value],
) -> Option<AffineDigits> {
    let (na, nb) = (av.len(), bv.len());
    if na < 2 || nb < 2 || na.saturating_mul(nb) > MAX_PAIRS {
        return None;
    }
    let mut table: Vec<Value> = Vec::with_capacity(na.checked_mul(nb)?);
    for a in av {
        for b in bv {
            let v = f(a, b)?;
            if !exact_number(&v) {
                return None;
            }
            table.push(v);
        }
    }
    let x = |i: usize, j: usize| table[i * nb + j].as_f64().unwrap_or(f64::NAN);
    let scale = table
        .iter()
        .filter_map(Value::as_f64)
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(1.0);
    let tol = TOL * scale;
    // Row offsets on a lattice of step δ.
    let u: Vec<f64> = (0..na).map(|i| x(i, 0) - x(0, 0)).collect();
    let mut sorted = u.clone();
    sorted.sort_by(f64::total_cmp);
    let delta = sorted
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > tol)
        .fold(f64::INFINITY, f64::min);
    if !delta.is_finite() {
        return None;
    }
    let umin = sorted[0];
    let mut a_hi = Vec::with_capacity(na);
    for ui in &u {
        let k = (ui - umin) / delta;
        if (k - k.round()).abs() * delta > tol {
            return None;
        }
        a_hi.push(k.round() as i64);
    }
    // Column offsets: whole steps and remainders.
    let w: Vec<f64> = (0..nb).map(|j| x(0, j)).collect();
    let wmin = w.iter().copied().fold(f64::INFINITY, f64::min);
    let mut b_hi = Vec::with_capacity(nb);
    let mut rem = Vec::with_capacity(nb);
    for wj in &w {
        let off = wj - wmin;
        let mut m = (off / delta).floor();
        // A remainder within tolerance of δ is the next step.
        if off - m * delta > delta - tol {
            m += 1.0;
        }
        b_hi.push(m as i64);
        rem.push((off - m * delta).max(0.0));
    }
    // Remainders equal within tolerance share a rank.
    let mut order: Vec<usize> = (0..nb).collect();
    order.sort_by(|p, q| rem[*p].total_cmp(&rem[*q]));
    let mut b_lo = vec![0i64; nb];
    let mut rank = 0i64;
    for w in order.windows(2) {
        if rem[w[1]] - rem[w[0]] > tol {
            rank += 1;
        }
        b_lo[w[1]] = rank;
    }
    let n_hi = {
        let lo = a_hi.iter().min()? + b_hi.iter().min()?;
        let hi = a_hi.iter().max()? + b_hi.iter().max()?;
        usize::try_from(hi - lo + 1).ok()?
    };
    // Smaller than the key's own one-hot, or no gain.
    if n_hi.saturating_add(rank as usize + 1) * 4 > na * nb {
        return None;
    }
    // Sort every pair by (hi, lo, value); tw ranks the distinct floats of
    // one (hi, lo).
    let key = |e: usize| (a_hi[e / nb] + b_hi[e % nb], b_lo[e % nb]);
    let mut all: Vec<usize> = (0..na * nb).collect();
    all.sort_by(|p, q| {
        key(*p)
            .cmp(&key(*q))
            .then_with(|| value_order(&table[*p], &table[*q]))
    });
    let mut twins = Vec::new();
    let mut tw = 0i64;
    for w in all.windows(2) {
        let (p, q) = (w[0], w[1]);
        let ord = value_order(&table[p], &table[q]);
        if key(p) == key(q) {
            if ord == std::cmp::Ordering::Less {
                tw += 1;
            }
        } else {
            // Digits increase: so must the interpreter's value.
            if ord != std::cmp::Ordering::Less {
                return None;
            }
            tw = 0;
        }
        if tw > 0 {
            twins.push(((q / nb, q % nb), tw));
        }
    }
    twins.sort();
    Some(AffineDigits {
        width: n_hi + rank as usize + 1,
        a_hi,
        b_hi,
        b_lo,
        twins,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(a: &Value, b: &Value) -> Option<Value> {
        // -a + b/100, as the interpreter computes `neg + indices / 100`.
        let q =
            crate::ir::value::binary(crate::syntax::ast::BinOp::Div, b, &Value::Int(100)).ok()?;
        let neg = crate::ir::value::unary(crate::syntax::ast::UnOp::Neg, a).ok()?;
        crate::ir::value::binary(crate::syntax::ast::BinOp::Add, &neg, &q).ok()
    }

    /// Every pair of keys compares as its digits do, float twins included,
    /// at a length where the key is not lexicographic.
    #[test]
    fn digits_order_every_pair_as_the_interpreter() {
        let av: Vec<Value> = (1..=40).map(Value::Int).collect();
        let bv: Vec<Value> = (0..250).map(Value::Int).collect();
        let d = affine_digits(eval, &av, &bv).expect("affine");
        let tw = |i: usize, j: usize| {
            d.twins
                .iter()
                .find(|(p, _)| *p == (i, j))
                .map_or(0, |(_, t)| *t)
        };
        let digits = |i: usize, j: usize| (d.a_hi[i] + d.b_hi[j], d.b_lo[j], tw(i, j));
        let mut rng = crate::compile::verify::Rng::new(7);
        for _ in 0..20_000 {
            let (i, j) = (rng.below(40), rng.below(250));
            let (k, l) = (rng.below(40), rng.below(250));
            let (x, y) = (eval(&av[i], &bv[j]).unwrap(), eval(&av[k], &bv[l]).unwrap());
            let lt = compare(CmpOp::Lt, &x, &y).unwrap();
            assert_eq!(lt, digits(i, j) < digits(k, l), "{x:?} < {y:?}");
        }
        // The twins of one number: -5 + 1.27 and -4 + 0.27 share hi and lo.
        assert_eq!(digits(4, 127).0, digits(3, 27).0);
        assert_eq!(digits(4, 127).1, digits(3, 27).1);
        assert!(!d.twins.is_empty());
        // A key of one s-op's values only is not split.
        assert!(affine_digits(eval, &av[..1], &bv).is_none());
    }
}
