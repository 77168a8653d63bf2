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

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use ndarray::{Array2, Zip};

use super::mat::{Mat, add_bias, add_product, nonzeros, product, zeroed};
use super::{LayerMats, Scratch};
use crate::model::plan::{Dims, MlpPlan};

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
    map: HashMap<Box<[u64]>, Output, BuildHasherDefault<Mix>>,
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

/// A multiplicative hash of whole words (the keys are a few words of
/// indices and float bits; the standard library's hash costs more than a
/// remembered row saves).
#[derive(Default)]
struct Mix(u64);

impl Hasher for Mix {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// `resid += mlp(resid)` for every row; `memo` is this layer's memory on
/// this thread, which may grow by `room` bytes.
pub(super) fn mlp_forward(
    p: &MlpPlan,
    mats: &LayerMats,
    resid: &mut Array2<f32>,
    scratch: &mut Scratch,
    memo: &mut Memo,
    room: usize,
) {
    if p.units == 0 {
        if let Some(b) = &p.b_out {
            add_bias(&p.output, resid, b);
        }
        return;
    }
    let (Some(w_in), Some(w_out)) = (&mats.w_in, &mats.w_out) else {
        unreachable!("an MLP plan has both matrices");
    };
    if !memo.useful() {
        whole(p, w_in, w_out, resid, scratch);
    } else {
        by_row(p, w_in, w_out, resid, scratch, memo, room);
        if let Some(b) = &p.b_out {
            add_bias(&p.output, resid, b);
        }
    }
}

/// All rows at once: two products over the chunk.
fn whole(p: &MlpPlan, w_in: &Mat, w_out: &Mat, resid: &mut Array2<f32>, scratch: &mut Scratch) {
    let mut h_buf = std::mem::take(&mut scratch.h);
    let mut h = zeroed(&mut h_buf, resid.nrows(), p.units);
    product(resid.view(), &p.input, w_in, &mut h, &mut scratch.nz);
    Zip::from(h.rows_mut()).for_each(|mut r| {
        Zip::from(&mut r)
            .and(&p.b_in)
            .for_each(|v, &b| *v = (*v + b).max(0.0));
    });
    add_product(
        &p.output,
        resid,
        h.view(),
        w_out,
        p.b_out.as_ref(),
        &mut scratch.nz,
    );
    scratch.h = h_buf;
}

/// Row by row, each output looked up or computed and remembered (the
/// output bias is left to the caller).
fn by_row(
    p: &MlpPlan,
    w_in: &Mat,
    w_out: &Mat,
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
    h.resize(p.units, 0.0);
    // `acc` is all zeros between rows.
    acc.clear();
    acc.resize(width, 0.0);
    let mut delta = Vec::new();
    for mut row in resid.rows_mut() {
        let row = row
            .as_slice_mut()
            .expect("the residual's rows are contiguous");
        match &p.input {
            Dims::All => nonzeros(row, None, nz),
            Dims::Some(idx) => nonzeros(row, Some(idx), nz),
        }
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
            w_in.add_row(k as usize, x, h);
        }
        for (v, &b) in h.iter_mut().zip(&p.b_in) {
            *v = (*v + b).max(0.0);
        }
        nonzeros(h, None, nz);
        for &(u, x) in nz.iter() {
            w_out.add_row(u as usize, x, acc);
        }
        delta.clear();
        let mut take = |d: usize| {
            if acc[d] != 0.0 {
                delta.push((d as u32, acc[d]));
                acc[d] = 0.0;
            }
        };
        match &p.output {
            Dims::All => (0..width).for_each(&mut take),
            Dims::Some(idx) => idx.iter().for_each(|&d| take(d)),
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
