//! MLPs on the CPU, with their outputs remembered by input.
//!
//! An MLP is position-wise: its output at a position depends only on that
//! position's residual at the MLP's input dims. In a compiled model those
//! rows repeat: the first layers read token and position one-hots (at
//! most `d_vocab * n_ctx` distinct rows), later ones a few categorical
//! values. Verifying a model at N = 512 runs a million positions through
//! MLPs of thousands of units, nearly all of them rows seen before, so
//! each thread remembers, per layer, the output of the rows it has
//! computed ([`Memo`]). A remembered output is the one the products give:
//! the key is the input's non-zero entries bit for bit, and the output is
//! computed from zero and then added to the residual, as `x + mlp(x)` is
//! (a deep-learning framework's association, too).
//!
//! An MLP of a compiled model is many small ones side by side (a table
//! per s-op, a width's decoder, the units that clear dead dims), and the
//! distinct rows of the whole input are the products of theirs. So each
//! MLP is split into [`Block`]s that write disjoint residual dims (units
//! joined by a dim they both write), each remembered by its own input:
//! the clearing units of the one-hots that a width's decoder sits beside
//! no longer make every decoder input look new. Each output dim still
//! sums the same units in the same order.

use std::collections::HashMap;

use ndarray::{Array2, Zip};

use super::Scratch;
use super::mat::{Mat, add_bias, nonzeros, product, zeroed};
use crate::ir::hash::Words;
use crate::model::plan::{Dims, MlpPlan};

/// Components with fewer units than this are gathered into one block
/// (two clearing units each would cost more in lookups than they save).
const SMALL_BLOCK: usize = 16;

/// Most blocks an MLP is split into.
const MAX_BLOCKS: usize = 8;

/// A part of an MLP whose units write residual dims no other part writes.
pub(super) struct Block {
    /// Residual dims its units read, ascending.
    input: Dims,
    /// `[|input|, units]`.
    w_in: Mat,
    b_in: Vec<f32>,
    /// Residual dims its units write, ascending.
    output: Vec<usize>,
    /// `[units, |output|]`, scattering into `output`.
    w_out: Mat,
    units: usize,
}

/// `p`'s units as blocks: connected by the residual dims they write, the
/// largest components (of [`SMALL_BLOCK`] units or more) one block each,
/// up to [`MAX_BLOCKS`] blocks in all, the others gathered into one; units
/// in their order within each block.
pub(super) fn blocks(p: &MlpPlan) -> Vec<Block> {
    let units = p.units;
    if units == 0 {
        return Vec::new();
    }
    let n_out = p.w_out.ncols();
    // Union-find over units and output columns.
    let mut parent: Vec<usize> = (0..units + n_out).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for (u, row) in p.w_out.rows().into_iter().enumerate() {
        for (c, &w) in row.iter().enumerate() {
            if w != 0.0 {
                let (a, b) = (find(&mut parent, u), find(&mut parent, units + c));
                parent[a] = b;
            }
        }
    }
    let mut comps: Vec<Vec<usize>> = Vec::new();
    let mut at: HashMap<usize, usize> = HashMap::new();
    for u in 0..units {
        let r = find(&mut parent, u);
        let i = *at.entry(r).or_insert_with(|| {
            comps.push(Vec::new());
            comps.len() - 1
        });
        comps[i].push(u);
    }
    // The largest components on their own (at most MAX_BLOCKS - 1 of
    // them, so that a row costs a bounded number of lookups), the rest
    // together.
    comps.sort_by_key(|c| std::cmp::Reverse(c.len()));
    let mut small: Vec<usize> = Vec::new();
    let mut sets: Vec<Vec<usize>> = Vec::new();
    for c in comps {
        if c.len() < SMALL_BLOCK || sets.len() + 1 >= MAX_BLOCKS {
            small.extend(c);
        } else {
            sets.push(c);
        }
    }
    if !small.is_empty() {
        small.sort_unstable();
        sets.push(small);
    }
    let in_dims = p.input.list(p.w_in.nrows());
    let out_dims = p.output.list(n_out);
    sets.into_iter()
        .map(|us| {
            let rows: Vec<usize> = (0..p.w_in.nrows())
                .filter(|&k| us.iter().any(|&u| p.w_in[[k, u]] != 0.0))
                .collect();
            let cols: Vec<usize> = (0..n_out)
                .filter(|&c| us.iter().any(|&u| p.w_out[[u, c]] != 0.0))
                .collect();
            let w_in =
                Array2::from_shape_fn((rows.len(), us.len()), |(i, j)| p.w_in[[rows[i], us[j]]]);
            let w_out =
                Array2::from_shape_fn((us.len(), cols.len()), |(i, j)| p.w_out[[us[i], cols[j]]]);
            let output: Vec<usize> = cols.iter().map(|&c| out_dims[c]).collect();
            Block {
                input: Dims::Some(rows.iter().map(|&k| in_dims[k]).collect()),
                w_in: Mat::new(&w_in, None),
                b_in: us.iter().map(|&u| p.b_in[u]).collect(),
                w_out: Mat::new(&w_out, Some(output.clone())),
                output,
                units: us.len(),
            }
        })
        .collect()
}

/// At most about this many bytes of remembered outputs per thread, all
/// layers together (an entry is counted as its words plus 64 bytes).
pub(super) const MEMO_BYTES: usize = 32 << 20;

/// After this many rows, a layer whose rows repeat less often than one in
/// [`MIN_HIT_RATE`] stops being remembered (its keys would cost more than
/// they save).
const TRIAL_ROWS: u64 = 4096;
const MIN_HIT_RATE: u64 = 8;

/// One layer's remembered MLP outputs on one thread: from an input's
/// non-zero entries (`index << 32 | bits`) to the output's non-zero
/// entries (residual dim, value).
#[derive(Default)]
pub(super) struct Memo {
    map: HashMap<Box<[u64]>, Output, Words>,
    pub(super) bytes: usize,
    hits: u64,
    rows: u64,
}

impl Memo {
    /// Whether rows are still worth looking up.
    fn useful(&self) -> bool {
        self.rows < TRIAL_ROWS || self.hits * MIN_HIT_RATE >= self.rows
    }
}

/// A remembered output: (residual dim, value) where it is not zero.
type Output = Box<[(u32, f32)]>;

/// `resid += mlp(resid)` for every row, block by block; `memos` are this
/// layer's memories on this thread (one per block), which may grow by
/// `room` bytes in all.
pub(super) fn mlp_forward(
    p: &MlpPlan,
    blocks: &[Block],
    resid: &mut Array2<f32>,
    scratch: &mut Scratch,
    memos: &mut Vec<Memo>,
    mut room: usize,
) {
    memos.resize_with(blocks.len(), Memo::default);
    for (b, memo) in blocks.iter().zip(memos.iter_mut()) {
        if memo.useful() {
            let before = memo.bytes;
            by_row(b, resid, scratch, memo, room);
            room = room.saturating_sub(memo.bytes - before);
        } else {
            whole(b, resid, scratch);
        }
    }
    if let Some(bias) = &p.b_out {
        add_bias(&p.output, resid, bias);
    }
}

/// All rows at once: two products over the chunk.
fn whole(b: &Block, resid: &mut Array2<f32>, scratch: &mut Scratch) {
    let mut h_buf = std::mem::take(&mut scratch.h);
    let mut h = zeroed(&mut h_buf, resid.nrows(), b.units);
    product(resid.view(), &b.input, &b.w_in, &mut h, &mut scratch.nz);
    Zip::from(h.rows_mut()).for_each(|mut r| {
        Zip::from(&mut r)
            .and(&b.b_in)
            .for_each(|v, &bias| *v = (*v + bias).max(0.0));
    });
    product(
        h.view(),
        &Dims::All,
        &b.w_out,
        &mut resid.view_mut(),
        &mut scratch.nz,
    );
    scratch.h = h_buf;
}

/// Row by row, each output looked up or computed and remembered.
fn by_row(
    b: &Block,
    resid: &mut Array2<f32>,
    scratch: &mut Scratch,
    memo: &mut Memo,
    mut room: usize,
) {
    let width = resid.ncols();
    let Scratch {
        nz, h, acc, key, ..
    } = scratch;
    h.clear();
    h.resize(b.units, 0.0);
    // `acc` is all zeros between rows.
    acc.clear();
    acc.resize(width, 0.0);
    let mut delta = Vec::new();
    let input = match &b.input {
        Dims::All => None,
        Dims::Some(idx) => Some(&idx[..]),
    };
    for mut row in resid.rows_mut() {
        let row = row
            .as_slice_mut()
            .expect("the residual's rows are contiguous");
        nonzeros(row, input, nz);
        key.clear();
        key.extend(
            nz.iter()
                .map(|&(k, x)| (u64::from(k) << 32) | u64::from(x.to_bits())),
        );
        memo.rows += 1;
        if let Some(out) = memo.map.get(&key[..]) {
            memo.hits += 1;
            for &(d, v) in out.iter() {
                row[d as usize] += v;
            }
            continue;
        }
        h.fill(0.0);
        for &(k, x) in nz.iter() {
            b.w_in.add_row(k as usize, x, h);
        }
        for (v, &bias) in h.iter_mut().zip(&b.b_in) {
            *v = (*v + bias).max(0.0);
        }
        nonzeros(h, None, nz);
        for &(u, x) in nz.iter() {
            b.w_out.add_row(u as usize, x, acc);
        }
        delta.clear();
        for &d in &b.output {
            if acc[d] != 0.0 {
                delta.push((d as u32, acc[d]));
                acc[d] = 0.0;
            }
        }
        for &(d, v) in &delta {
            row[d as usize] += v;
        }
        let bytes = 8 * (key.len() + delta.len()) + 64;
        if bytes <= room {
            room -= bytes;
            memo.bytes += bytes;
            memo.map
                .insert(key.as_slice().into(), delta.as_slice().into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::verify::Rng;
    use ndarray::{Array1, Array2};

    /// An MLP of `comps` side-by-side parts (units of part `c` write dims
    /// `3c..3c + 3`), reading a shared gate dim and dims of their own.
    fn plan(comps: usize, per: usize, seed: u64) -> MlpPlan {
        let mut rng = Rng::new(seed);
        let mut next = move || rng.next_u64();
        let units = comps * per;
        let (d_in, d_out) = (1 + 2 * comps, 3 * comps);
        let mut w_in = Array2::zeros((d_in, units));
        let mut w_out = Array2::zeros((units, d_out));
        for u in 0..units {
            let c = u / per;
            w_in[[0, u]] = -8.0;
            w_in[[1 + 2 * c + (u % 2), u]] = 1.0 + (next() % 5) as f32 / 3.0;
            for d in 0..3 {
                if next() % 2 == 0 {
                    w_out[[u, 3 * c + d]] = (next() % 11) as f32 / 7.0 - 0.7;
                }
            }
            w_out[[u, 3 * c]] += 0.1;
        }
        MlpPlan {
            units,
            input: Dims::Some((0..d_in).map(|d| 2 * d).collect()),
            w_in,
            b_in: Array1::from_iter((0..units).map(|u| u as f32 / 10.0 - 1.0)),
            output: Dims::Some((0..d_out).map(|d| 2 * d + 1).collect()),
            w_out,
            b_out: Some(Array1::from_elem(d_out, 0.25)),
        }
    }

    /// The rows' MLP outputs summed as one MLP would: each unit's input
    /// over its non-zero inputs in order, each output dim over its units
    /// in order, from zero, then added to the row, then the bias.
    fn reference(p: &MlpPlan, resid: &Array2<f32>) -> Array2<f32> {
        let mut out = resid.clone();
        let input = p.input.list(p.w_in.nrows());
        let output = p.output.list(p.w_out.ncols());
        for mut row in out.rows_mut() {
            let h: Vec<f32> = (0..p.units)
                .map(|u| {
                    let mut v = 0.0f32;
                    for (k, &d) in input.iter().enumerate() {
                        if row[d] != 0.0 && p.w_in[[k, u]] != 0.0 {
                            v += row[d] * p.w_in[[k, u]];
                        }
                    }
                    (v + p.b_in[u]).max(0.0)
                })
                .collect();
            for (c, &d) in output.iter().enumerate() {
                let mut acc = 0.0f32;
                for (u, &hu) in h.iter().enumerate() {
                    if hu != 0.0 && p.w_out[[u, c]] != 0.0 {
                        acc += hu * p.w_out[[u, c]];
                    }
                }
                row[d] += acc;
            }
            if let Some(b) = &p.b_out {
                for (c, &d) in output.iter().enumerate() {
                    row[d] += b[c];
                }
            }
        }
        out
    }

    /// Blocks split the units by the dims they write (small components
    /// gathered into one), and the MLP computed block by block, remembered
    /// or not, gives the floats of the MLP computed as one.
    #[test]
    fn blocks_give_the_whole_mlps_floats() {
        let cases = [
            (1, 20, 1),
            (3, 20, 2),
            (5, 2, 3),
            (4, 17, 4),
            (6, 3, 5),
            (12, 16, 6),
        ];
        for (comps, per, seed) in cases {
            let p = plan(comps, per, seed);
            let bs = blocks(&p);
            let big = if per >= SMALL_BLOCK {
                comps.min(MAX_BLOCKS - 1)
            } else {
                0
            };
            let small = usize::from(per < SMALL_BLOCK || comps > MAX_BLOCKS - 1);
            assert_eq!(bs.len(), big + small, "{comps} x {per}");
            assert_eq!(bs.iter().map(|b| b.units).sum::<usize>(), p.units);
            let mut written: Vec<usize> = bs.iter().flat_map(|b| b.output.clone()).collect();
            written.sort_unstable();
            assert!(written.windows(2).all(|w| w[0] < w[1]), "disjoint outputs");
            let width = 2 * (1 + 2 * comps).max(3 * comps) + 2;
            let mut resid = Array2::zeros((40, width));
            for (r, mut row) in resid.rows_mut().into_iter().enumerate() {
                row[0] = f32::from(r % 3 == 0);
                for c in 0..comps {
                    row[2 * (1 + 2 * c + (r + c) % 2)] = 1.0 + ((r * 7 + c) % 4) as f32;
                }
            }
            let want = reference(&p, &resid);
            let mut scratch = Scratch::default();
            let mut memos = Vec::new();
            // Twice: computed, then remembered.
            for _ in 0..2 {
                let mut got = resid.clone();
                mlp_forward(&p, &bs, &mut got, &mut scratch, &mut memos, MEMO_BYTES);
                assert_eq!(
                    got.mapv(f32::to_bits),
                    want.mapv(f32::to_bits),
                    "{comps} x {per}"
                );
            }
            let mut got = resid.clone();
            for b in &bs {
                whole(b, &mut got, &mut scratch);
            }
            add_bias(&p.output, &mut got, p.b_out.as_ref().expect("a bias"));
            assert!(got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-4));
        }
    }
}
