//! The plan's matrices as the CPU multiplies them: dense or compressed
//! rows, and products that skip the zero entries of their left side
//! (compiled residual streams are mostly one-hot). Skipping exact zeros
//! changes nothing but summation order.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, CowArray, Ix2};

use crate::model::plan::Dims;

/// A matrix of a plan as the CPU multiplies it.
pub(super) enum Mat {
    /// Dense; `scatter[c]` is the residual dim column `c` adds to, when the
    /// product goes into the residual at some dims.
    Dense {
        w: Array2<f32>,
        scatter: Option<Vec<usize>>,
    },
    /// Compressed rows: row `k`'s non-zeros are at `cols/vals[starts[k]..starts[k + 1]]`;
    /// the columns are residual dims when the product goes into the residual.
    Rows {
        starts: Vec<usize>,
        cols: Vec<u32>,
        vals: Vec<f32>,
    },
}

impl Mat {
    /// Compressed rows when at most a fifth of the entries are non-zero.
    /// `scatter`: the product is added to these residual dims (one per
    /// column).
    pub(super) fn new(w: &Array2<f32>, scatter: Option<Vec<usize>>) -> Mat {
        let nnz = w.iter().filter(|&&x| x != 0.0).count();
        let wide = scatter
            .as_ref()
            .map_or(w.ncols(), |s| s.iter().max().map_or(0, |m| m + 1));
        if 5 * nnz > w.len() || wide > u32::MAX as usize {
            return Mat::Dense {
                w: w.clone(),
                scatter,
            };
        }
        let mut starts = Vec::with_capacity(w.nrows() + 1);
        let (mut cols, mut vals) = (Vec::with_capacity(nnz), Vec::with_capacity(nnz));
        starts.push(0);
        for row in w.rows() {
            for (c, &x) in row.iter().enumerate() {
                if x != 0.0 {
                    let to = scatter.as_ref().map_or(c, |s| s[c]);
                    cols.push(to as u32);
                    vals.push(x);
                }
            }
            starts.push(cols.len());
        }
        Mat::Rows { starts, cols, vals }
    }

    /// `out += xv · row k`, `out` a residual row when the matrix scatters.
    pub(super) fn add_row(&self, k: usize, xv: f32, out: &mut [f32]) {
        match self {
            Mat::Dense { w, scatter: None } => {
                let row = w.row(k);
                let row = row.as_slice().expect("plan matrices are contiguous");
                for (o, &wv) in out.iter_mut().zip(row) {
                    *o += xv * wv;
                }
            }
            Mat::Dense {
                w,
                scatter: Some(to),
            } => {
                for (&d, &wv) in to.iter().zip(w.row(k)) {
                    out[d] += xv * wv;
                }
            }
            Mat::Rows { starts, cols, vals } => {
                let (a, b) = (starts[k], starts[k + 1]);
                for (&c, &v) in cols[a..b].iter().zip(&vals[a..b]) {
                    out[c as usize] += xv * v;
                }
            }
        }
    }
}

/// Whether a matrix product is worth it: more than a tenth of the left
/// side's entries are non-zero.
pub(super) fn dense_enough(nonzero: usize, len: usize) -> bool {
    len > 0 && 10 * nonzero > len
}

/// Whether `src[:, input]` times a dense matrix is best one matrix
/// product: more than a tenth of its entries are non-zero.
fn wants_matmul(src: ArrayView2<'_, f32>, input: &Dims) -> bool {
    let nonzero: usize = match input {
        Dims::All => src.iter().filter(|&&v| v != 0.0).count(),
        Dims::Some(idx) => src
            .rows()
            .into_iter()
            .map(|r| idx.iter().filter(|&&d| r[d] != 0.0).count())
            .sum(),
    };
    dense_enough(nonzero, src.nrows() * input.len(src.ncols()))
}

/// `out += src[:, input] · w`: `src` rows restricted to the input dims,
/// times a plan matrix; `out` holds the matrix's columns (or the residual,
/// for a scattering matrix). Zero entries of the left side are skipped
/// (compiled residual streams are mostly one-hot), as are those of a
/// compressed matrix; a dense left side times a dense matrix is one matrix
/// product. Skipping exact zeros changes nothing but summation order.
pub(super) fn product(
    src: ArrayView2<'_, f32>,
    input: &Dims,
    w: &Mat,
    out: &mut ArrayViewMut2<'_, f32>,
    nz: &mut Vec<(u32, f32)>,
) {
    if let Mat::Dense { w: dense, scatter } = w
        && wants_matmul(src, input)
    {
        let x = gather(input, src);
        match scatter {
            None => general_mat_mul(1.0, &x, dense, 1.0, out),
            Some(to) => {
                let mut y = Array2::zeros((x.nrows(), dense.ncols()));
                general_mat_mul(1.0, &x, dense, 0.0, &mut y);
                for (mut o, yr) in out.rows_mut().into_iter().zip(y.rows()) {
                    for (&d, &v) in to.iter().zip(yr) {
                        o[d] += v;
                    }
                }
            }
        }
        return;
    }
    let mut copy = Vec::new();
    for (xr, mut or) in src.rows().into_iter().zip(out.rows_mut()) {
        let xs = match xr.as_slice() {
            Some(xs) => xs,
            None => {
                copy.clear();
                copy.extend(xr.iter());
                &copy[..]
            }
        };
        match input {
            Dims::All => nonzeros(xs, None, nz),
            Dims::Some(idx) => nonzeros(xs, Some(idx), nz),
        }
        let o = or
            .as_slice_mut()
            .expect("products write into contiguous rows");
        for &(k, xv) in nz.iter() {
            w.add_row(k as usize, xv, o);
        }
    }
}

/// How many entries [`nonzeros`] tests at once: a block with no non-zero
/// entry (most of a one-hot residual row) costs one vectorised test.
const BLOCK: usize = 16;

/// [`nonzeros`] of `row[idx]` scans the whole row when `idx` holds more
/// than this fraction of its dims (one vectorised test per block against
/// one load per wanted dim).
const GATHER_FRACTION: usize = 8;

/// The non-zero entries of `row` (of `row[idx]` when `idx` is given, its
/// dims ascending), as (index, value), in order. Blocks of zeros are
/// skipped whole; within a block the entries are kept without a branch
/// per entry (how many are zero is unpredictable, and mispredicted
/// branches would cost more than the products).
pub(super) fn nonzeros(row: &[f32], idx: Option<&[usize]>, nz: &mut Vec<(u32, f32)>) {
    nz.clear();
    match idx {
        None => scan(row, nz),
        Some(idx) if idx.len() * GATHER_FRACTION > row.len() => pick(row, idx, nz),
        Some(idx) => gathered(row, idx, nz),
    }
}

/// Appends the non-zeros of `row`.
fn scan(row: &[f32], nz: &mut Vec<(u32, f32)>) {
    for (b, xs) in row.chunks(BLOCK).enumerate() {
        keep(xs, b * BLOCK, nz);
    }
}

/// Appends the non-zeros of `row[idx]`, gathered a block at a time.
fn gathered(row: &[f32], idx: &[usize], nz: &mut Vec<(u32, f32)>) {
    let mut block = [0.0f32; BLOCK];
    for (b, ds) in idx.chunks(BLOCK).enumerate() {
        for (x, &d) in block.iter_mut().zip(ds) {
            *x = row[d];
        }
        keep(&block[..ds.len()], b * BLOCK, nz);
    }
}

/// Appends the non-zeros of one block `xs`, which starts at `start`.
#[inline(always)]
fn keep(xs: &[f32], start: usize, nz: &mut Vec<(u32, f32)>) {
    if xs.iter().fold(false, |any, &x| any | (x != 0.0)) {
        let m0 = nz.len();
        nz.resize(m0 + xs.len(), (0, 0.0));
        let mut m = m0;
        for (k, &x) in xs.iter().enumerate() {
            nz[m] = ((start + k) as u32, x);
            m += usize::from(x != 0.0);
        }
        nz.truncate(m);
    }
}

/// [`nonzeros`] of `row[idx]` when `idx` is much of the row: the whole
/// row's non-zeros, then those at wanted dims, each found from the last
/// one's place in `idx` (both ascending).
fn pick(row: &[f32], idx: &[usize], nz: &mut Vec<(u32, f32)>) {
    scan(row, nz);
    let (mut at, mut m) = (0, 0);
    for e in 0..nz.len() {
        let (d, x) = nz[e];
        at += idx[at..].partition_point(|&i| i < d as usize);
        if idx.get(at) == Some(&(d as usize)) {
            nz[m] = (at as u32, x);
            m += 1;
        }
    }
    nz.truncate(m);
}

/// These columns of the residual stream.
pub(super) fn gather<'a>(dims: &Dims, src: ArrayView2<'a, f32>) -> CowArray<'a, f32, Ix2> {
    match dims {
        Dims::All => CowArray::from(src),
        Dims::Some(idx) => {
            let mut out = Array2::zeros((src.nrows(), idx.len()));
            for (mut o, r) in out.rows_mut().into_iter().zip(src.rows()) {
                for (o, &d) in o.iter_mut().zip(idx) {
                    *o = r[d];
                }
            }
            CowArray::from(out)
        }
    }
}

/// `resid[:, dims] += x · w + bias` (w scatters into these dims; the bias
/// is restricted to them).
pub(super) fn add_product(
    dims: &Dims,
    resid: &mut Array2<f32>,
    x: ArrayView2<'_, f32>,
    w: &Mat,
    bias: Option<&Array1<f32>>,
    nz: &mut Vec<(u32, f32)>,
) {
    product(x, &Dims::All, w, &mut resid.view_mut(), nz);
    if let Some(b) = bias {
        add_bias(dims, resid, b);
    }
}

/// `resid[:, dims] += bias`.
pub(super) fn add_bias(dims: &Dims, resid: &mut Array2<f32>, bias: &Array1<f32>) {
    match dims {
        Dims::All => *resid += bias,
        Dims::Some(idx) => {
            for mut r in resid.rows_mut() {
                for (&d, &b) in idx.iter().zip(bias) {
                    r[d] += b;
                }
            }
        }
    }
}

/// `buf` as a `[rows, cols]` matrix of zeros.
pub(super) fn zeroed(buf: &mut Vec<f32>, rows: usize, cols: usize) -> ArrayViewMut2<'_, f32> {
    buf.clear();
    buf.resize(rows * cols, 0.0);
    ArrayViewMut2::from_shape((rows, cols), buf).expect("the buffer has rows * cols entries")
}

/// The residual dims a product adds to, when not all of them.
pub(super) fn scatter(dims: &Dims) -> Option<Vec<usize>> {
    match dims {
        Dims::All => None,
        Dims::Some(idx) => Some(idx.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::verify::Rng;

    /// Picking the wanted dims out of the whole row's non-zeros gives the
    /// gathered ones, in the same order, signed zeros and NaNs included.
    #[test]
    fn picked_nonzeros_are_the_gathered_ones() {
        let mut rng = Rng::new(12);
        let mut next = move || rng.next_u64();
        for case in 0..400 {
            let width = 1 + (next() % 300) as usize;
            let row: Vec<f32> = (0..width)
                .map(|_| match next() % 10 {
                    0 => 1.0,
                    1 => -0.0,
                    2 => f32::NAN,
                    3 => (next() % 1000) as f32 / 7.0 - 70.0,
                    _ => 0.0,
                })
                .collect();
            let keep = 1 + next() % 4;
            let idx: Vec<usize> = (0..width).filter(|_| next() % 4 < keep).collect();
            let (mut picked, mut by_gather) = (Vec::new(), Vec::new());
            pick(&row, &idx, &mut picked);
            gathered(&row, &idx, &mut by_gather);
            let bits = |v: &[(u32, f32)]| -> Vec<(u32, u32)> {
                v.iter().map(|&(k, x)| (k, x.to_bits())).collect()
            };
            assert_eq!(bits(&picked), bits(&by_gather), "case {case}");
            let mut via = Vec::new();
            nonzeros(&row, Some(&idx), &mut via);
            assert_eq!(bits(&via), bits(&by_gather), "case {case}");
        }
    }
}
