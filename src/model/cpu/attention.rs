//! Attention on the CPU: the Q/K/V products of a chunk, then per sequence
//! and head the scores, the softmax and the weighted sum of values, with
//! the keys kept as sparse rows where they are one-hot.

use ndarray::{Array2, s};

use super::mat::{add_bias, add_product, nonzeros, product, zeroed};
use super::{Cpu, LayerMats, Packing, Scratch};
use crate::model::plan::{AttnPlan, HeadSlot};

impl Cpu {
    pub(super) fn attention(
        &self,
        a: &AttnPlan,
        mats: &LayerMats,
        resid: &mut Array2<f32>,
        pack: &Packing,
        scratch: &mut Scratch,
        patterns: &mut [(usize, &mut Vec<Array2<f32>>)],
    ) {
        let w_o = mats.w_o.as_ref().expect("an attention plan has W_O");
        if a.heads.is_empty() {
            if let Some(b) = &a.b_o {
                add_bias(&a.output, resid, b);
            }
            return;
        }
        let (mut qkv_buf, mut z_buf) = (
            std::mem::take(&mut scratch.qkv),
            std::mem::take(&mut scratch.z),
        );
        let mut qkv = zeroed(&mut qkv_buf, resid.nrows(), a.qkv_width);
        for (g, w) in a.groups.iter().zip(&mats.groups) {
            let mut dst = qkv.slice_mut(s![.., g.cols.clone()]);
            product(resid.view(), &g.input, w, &mut dst, &mut scratch.nz);
        }
        // The biases where they are not zero (a compiled model's Q and K
        // have none): a column each, not a pass over the whole matrix.
        // Adding 0.0 would change no float but -0.0, which nothing reads
        // as different.
        for (c, &b) in a.b_qkv.iter().enumerate() {
            if b != 0.0 {
                qkv.column_mut(c).mapv_inplace(|x| x + b);
            }
        }
        let mut z = zeroed(&mut z_buf, resid.nrows(), a.z_width);
        let qkv = qkv.into_slice().expect("a fresh matrix is contiguous");
        let zs = z.as_slice_mut().expect("a fresh matrix is contiguous");
        for (i, head) in a.heads.iter().enumerate() {
            let pattern = patterns
                .iter_mut()
                .find(|(s, _)| *s == i)
                .map(|(_, p)| &mut **p);
            let rows = Rows {
                qkv,
                qkv_width: a.qkv_width,
                z_width: a.z_width,
            };
            mix(
                &rows,
                zs,
                head,
                pack,
                self.causal,
                self.scale,
                scratch,
                pattern,
            );
        }
        add_product(
            &a.output,
            resid,
            z.view(),
            w_o,
            a.b_o.as_ref(),
            &mut scratch.nz,
        );
        scratch.qkv = qkv_buf;
        scratch.z = z_buf;
    }
}

/// The `qkv` rows of a packed chunk.
struct Rows<'a> {
    qkv: &'a [f32],
    qkv_width: usize,
    z_width: usize,
}

/// Scores, softmax and the weighted sum of values of one head for every
/// sequence: `qkv` rows hold the head's Q, K and V at `head`'s offsets,
/// `z` rows get its output at `head.z`; the weights go to `pattern` (per
/// sequence) when given.
#[allow(clippy::too_many_arguments)]
fn mix(
    rows: &Rows<'_>,
    z: &mut [f32],
    head: &HeadSlot,
    pack: &Packing,
    causal: bool,
    scale: f32,
    scratch: &mut Scratch,
    mut pattern: Option<&mut Vec<Array2<f32>>>,
) {
    let (qkv, qkv_width, z_width) = (rows.qkv, rows.qkv_width, rows.z_width);
    let (d_qk, d_v) = (head.d_qk, head.d_v);
    scratch.kt.resize(d_qk * pack.longest, 0.0);
    scratch.w.resize(pack.longest, 0.0);
    let (kt, w, nz) = (&mut scratch.kt, &mut scratch.w, &mut scratch.nz);
    let (kn, kstart, vs) = (&mut scratch.kn, &mut scratch.kstart, &mut scratch.vs);
    let (k1, sel, seen) = (&mut scratch.k1, &mut scratch.sel, &mut scratch.seen);
    let (kcol, kcstart) = (&mut scratch.kcol, &mut scratch.kcstart);
    for (seq, &(o, len)) in pack.spans.iter().enumerate() {
        // Bidirectionally, two positions with the same query bits see the
        // same keys: the later one's output is the earlier one's, copied
        // (the same floats). Given up for the sequence when the first
        // DEDUP_TRIAL queries are all different.
        let mut dedup = !causal;
        let mut hits = 0usize;
        seen.clear();
        let pad = &pack.pad[o..o + len];
        let has_pad = pad.contains(&true);
        // Keys as columns, so a query's scores are a sum of rows; and as
        // sparse rows (`kstart[j]..kstart[j + 1]` of `kn`), so that a
        // query with many non-zeros against one-hot keys costs a few terms
        // per key. Both sum each score's non-zero products in the order of
        // their dims: the same floats.
        kn.clear();
        kstart.clear();
        kstart.push(0);
        // Values packed together (a query reads every selected key's).
        vs.clear();
        for j in 0..len {
            vs.extend_from_slice(&qkv[(o + j) * qkv_width + head.v..][..d_v]);
        }
        // At most one non-zero per key (one-hot keys): that entry, or
        // (d_qk, 0) for none, so a score is one product.
        let mut single = true;
        for j in 0..len {
            let k = &qkv[(o + j) * qkv_width + head.k..][..d_qk];
            nonzeros(k, None, nz);
            kn.extend_from_slice(nz);
            single &= nz.len() <= 1;
            kstart.push(kn.len());
        }
        if single {
            k1.clear();
            k1.extend(kstart.windows(2).map(|w| {
                if w[1] > w[0] {
                    kn[w[0]]
                } else {
                    (d_qk as u32, 0.0)
                }
            }));
        }
        // Filled when a query first takes the dense way (the columns, when
        // the keys hold at most a quarter non-zeros).
        let mut kt_filled = false;
        let sparse_keys = 4 * kstart[len] <= d_qk * len;
        for i in 0..len {
            let q = &qkv[(o + i) * qkv_width + head.q..][..d_qk];
            if dedup {
                let h = bits_hash(q);
                match seen.get(&h) {
                    Some(&p) => {
                        let p = p as usize;
                        let earlier = &qkv[(o + p) * qkv_width + head.q..][..d_qk];
                        if same_bits(q, earlier) {
                            hits += 1;
                            let (from, to) =
                                ((o + p) * z_width + head.z, (o + i) * z_width + head.z);
                            z.copy_within(from..from + d_v, to);
                            if let Some(m) = pattern.as_deref_mut().map(|m| &mut m[seq]) {
                                let row = m.row(p).to_owned();
                                m.row_mut(i).assign(&row);
                            }
                            continue;
                        }
                    }
                    None => {
                        seen.insert(h, i as u32);
                    }
                }
                if i + 1 >= DEDUP_TRIAL && hits == 0 {
                    dedup = false;
                }
            }
            let keys = if causal { i + 1 } else { len };
            let wi = &mut w[..keys];
            // One-hot keys and a query with two non-zeros or more: one
            // product per key, added onto 0.0 as the other ways sum it,
            // without listing the query's non-zeros.
            let one_product = single && two_nonzeros(q);
            if !one_product {
                wi.fill(0.0);
                nonzeros(q, None, nz);
            }
            if one_product {
                for (s, &(d, kd)) in wi.iter_mut().zip(k1.iter()) {
                    *s = match q.get(d as usize) {
                        Some(&qd) => 0.0 + qd * kd,
                        None => 0.0,
                    };
                }
            } else if nz.len() * keys > kstart[keys] {
                // Each key's few products summed in a register, onto 0.0
                // in the order of its dims: the floats the others give.
                for (s, w) in wi.iter_mut().zip(kstart.windows(2)) {
                    *s = kn[w[0]..w[1]]
                        .iter()
                        .fold(0.0f32, |acc, &(d, kd)| acc + q[d as usize] * kd);
                }
            } else if sparse_keys {
                // Few non-zeros in the query and sparse keys: the keys'
                // columns, as lists of (key, entry), for the query's dims.
                if !kt_filled {
                    columns(kn, kstart, d_qk, kcstart, kcol);
                    kt_filled = true;
                }
                for &(d, qd) in nz.iter() {
                    let d = d as usize;
                    let col = &kcol[kcstart[d]..kcstart[d + 1]];
                    // Keys in order: those past the causal limit end it.
                    for &(j, kd) in col.iter().take_while(|(j, _)| (*j as usize) < keys) {
                        wi[j as usize] += qd * kd;
                    }
                }
            } else {
                if !kt_filled {
                    for j in 0..len {
                        let k = &qkv[(o + j) * qkv_width + head.k..][..d_qk];
                        for (d, &kd) in k.iter().enumerate() {
                            kt[d * len + j] = kd;
                        }
                    }
                    kt_filled = true;
                }
                for &(d, qd) in nz.iter() {
                    let d = d as usize;
                    for (s, &k) in wi.iter_mut().zip(&kt[d * len..d * len + keys]) {
                        *s += qd * k;
                    }
                }
            }
            // Scaled, PAD keys masked, then exp(s - max) and its sum: the
            // same floats as one loop of `exp` calls, in plain loops that
            // vectorize. Hard attention makes nearly every weight 1 (the
            // top score, often several tied keys: exp(0) is exactly 1) or
            // 0 (exp underflows to exactly 0 below -104): then no call is
            // made and the sum, of ones, is their count in any order.
            if scale != 1.0 {
                for s in wi.iter_mut() {
                    *s /= scale;
                }
            }
            if has_pad {
                for (s, &p) in wi.iter_mut().zip(pad) {
                    if p {
                        *s = f32::NEG_INFINITY;
                    }
                }
            }
            let max = max_of(wi);
            if max == f32::NEG_INFINITY {
                // Every key masked (only in hand-made batches): no output.
                continue;
            }
            // 1 at the top, 0 below -104, else the exponent still to take
            // (negative); in plain loops that vectorize.
            for s in wi.iter_mut() {
                *s -= max;
            }
            for s in wi.iter_mut() {
                let d = *s;
                let e = if d < -104.0 { 0.0 } else { d };
                *s = if d == 0.0 { 1.0 } else { e };
            }
            // The keys with a weight, in order: the others would only add
            // exact zeros to the sums below.
            nonzeros(wi, None, sel);
            for (_, s) in sel.iter_mut() {
                if *s < 0.0 {
                    *s = s.exp();
                }
            }
            // Sums in LANES partial sums, so that a long sum is not one
            // chain of dependent additions: a summation order like any
            // other (a framework's matrix product has its own), which the
            // compiler's error bounds allow for.
            let sum = lane_sum(sel.iter().map(|&(_, s)| s));
            let zi = &mut z[(o + i) * z_width + head.z..][..d_v];
            let mut prow = pattern.as_deref_mut().map(|p| p[seq].row_mut(i));
            if d_v == 1 && prow.is_none() {
                // One value (a mean).
                zi[0] += lane_sum(sel.iter().map(|&(j, s)| (s / sum) * vs[j as usize]));
                continue;
            }
            for &(j, s) in sel.iter() {
                let j = j as usize;
                let p = s / sum;
                if let Some(r) = prow.as_mut() {
                    r[j] = p;
                }
                let v = &vs[j * d_v..(j + 1) * d_v];
                for (zz, &vv) in zi.iter_mut().zip(v) {
                    *zz += p * vv;
                }
            }
        }
    }
}

/// The keys' sparse rows (`kn`, `kstart`) as sparse columns: column
/// `d`'s entries, (key, value) in key order, are
/// `kcol[kcstart[d]..kcstart[d + 1]]`.
fn columns(
    kn: &[(u32, f32)],
    kstart: &[usize],
    d_qk: usize,
    kcstart: &mut Vec<usize>,
    kcol: &mut Vec<(u32, f32)>,
) {
    kcstart.clear();
    kcstart.resize(d_qk + 2, 0);
    for &(d, _) in kn {
        kcstart[d as usize + 2] += 1;
    }
    for d in 2..kcstart.len() {
        kcstart[d] += kcstart[d - 1];
    }
    // kcstart[d + 1] is now where column d starts: fill, moving it on.
    kcol.clear();
    kcol.resize(kn.len(), (0, 0.0));
    for (j, w) in kstart.windows(2).enumerate() {
        for &(d, kd) in &kn[w[0]..w[1]] {
            let at = &mut kcstart[d as usize + 1];
            kcol[*at] = (j as u32, kd);
            *at += 1;
        }
    }
    kcstart.truncate(d_qk + 1);
}

/// Queries a sequence's head compares before it gives up looking for
/// repeated ones.
const DEDUP_TRIAL: usize = 32;

/// A hash of a row's bits, in four independent lanes.
fn bits_hash(q: &[f32]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = [1u64, 2, 3, 4];
    let mut blocks = q.chunks_exact(4);
    for b in &mut blocks {
        for (hh, x) in h.iter_mut().zip(b) {
            *hh = (*hh ^ u64::from(x.to_bits()))
                .wrapping_mul(K)
                .rotate_left(29);
        }
    }
    for (hh, x) in h.iter_mut().zip(blocks.remainder()) {
        *hh = (*hh ^ u64::from(x.to_bits())).wrapping_mul(K);
    }
    h.iter().fold(q.len() as u64, |a, x| {
        (a ^ x).wrapping_mul(K).rotate_left(31)
    })
}

/// Whether two rows hold the same bits.
fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Whether `q` has at least two non-zero entries (found in blocks, the
/// scan stopping at the second).
fn two_nonzeros(q: &[f32]) -> bool {
    let mut seen = 0;
    for block in q.chunks(16) {
        if block.iter().any(|x| *x != 0.0) {
            seen += block.iter().filter(|x| **x != 0.0).count();
            if seen >= 2 {
                return true;
            }
        }
    }
    false
}

/// Partial sums [`lane_sum`] keeps.
const LANES: usize = 8;

/// The sum of `xs`, the `k`-th term added to partial sum `k % LANES`,
/// then the partial sums in order.
fn lane_sum(xs: impl Iterator<Item = f32>) -> f32 {
    let mut lanes = [0.0f32; LANES];
    for (k, x) in xs.enumerate() {
        lanes[k % LANES] += x;
    }
    lanes.iter().sum()
}

/// The largest score (no score is NaN), in lanes that vectorize; the
/// largest is the same in any order.
fn max_of(w: &[f32]) -> f32 {
    let bigger = |m: f32, x: f32| if x > m { x } else { m };
    let mut lanes = [f32::NEG_INFINITY; 8];
    let mut chunks = w.chunks_exact(8);
    for c in &mut chunks {
        for (m, &x) in lanes.iter_mut().zip(c) {
            *m = bigger(*m, x);
        }
    }
    let tail = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |m, &x| bigger(m, x));
    lanes.into_iter().fold(tail, bigger)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::verify::Rng;

    /// The columns hold every key's entries, each column in key order,
    /// and a score summed over a query's dims by columns is the score
    /// summed key by key over its row (the same floats).
    #[test]
    fn key_columns_are_the_rows_transposed() {
        let mut rng = Rng::new(11);
        let mut next = move || rng.next_u64();
        for case in 0..200 {
            let d_qk = 1 + (next() % 40) as usize;
            let len = 1 + (next() % 30) as usize;
            let (mut kn, mut kstart) = (Vec::new(), vec![0]);
            for _ in 0..len {
                for d in 0..d_qk {
                    if next() % 5 == 0 {
                        kn.push((d as u32, (next() % 100) as f32 / 9.0 - 5.0));
                    }
                }
                kstart.push(kn.len());
            }
            let (mut kcstart, mut kcol) = (Vec::new(), Vec::new());
            columns(&kn, &kstart, d_qk, &mut kcstart, &mut kcol);
            assert_eq!(kcstart.len(), d_qk + 1);
            assert_eq!(kcstart[d_qk], kn.len());
            let mut q: Vec<(u32, f32)> = Vec::new();
            for d in 0..d_qk {
                if next() % 3 == 0 {
                    q.push((d as u32, (next() % 50) as f32 / 7.0 - 3.0));
                }
            }
            let mut dense = vec![0.0f32; d_qk];
            for &(d, x) in &q {
                dense[d as usize] = x;
            }
            let mut by_rows = vec![0.0f32; len];
            for (j, s) in by_rows.iter_mut().enumerate() {
                for &(d, kd) in &kn[kstart[j]..kstart[j + 1]] {
                    *s += dense[d as usize] * kd;
                }
            }
            let mut by_cols = vec![0.0f32; len];
            for &(d, qd) in &q {
                let col = &kcol[kcstart[d as usize]..kcstart[d as usize + 1]];
                assert!(col.windows(2).all(|w| w[0].0 < w[1].0), "case {case}");
                for &(j, kd) in col {
                    by_cols[j as usize] += qd * kd;
                }
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&by_rows), bits(&by_cols), "case {case}");
        }
    }
}
