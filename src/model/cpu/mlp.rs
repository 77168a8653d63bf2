//! MLPs on the CPU.

use ndarray::{Array2, Zip};

use super::mat::{add_bias, add_product, product, zeroed};
use super::{LayerMats, Scratch};
use crate::model::plan::MlpPlan;

pub(super) fn mlp_forward(
    p: &MlpPlan,
    mats: &LayerMats,
    resid: &mut Array2<f32>,
    scratch: &mut Scratch,
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
