//! Borrowed views of a model's weights, whoever owns them: a [`Model`] in
//! memory ([`Model::weights`]) or a memory-mapped model file
//! ([`ModelFile::weights`](super::io::ModelFile::weights)). Executors are
//! prepared from these views, so running a model from a file never copies
//! its (mostly zero) dense tensors.

use ndarray::{ArrayView1, ArrayView2, ArrayView3};

use super::{Config, Model};

/// One attention sublayer's weights (shapes as in [`super::Attn`]).
#[derive(Clone, Copy, Debug)]
pub struct AttnView<'a> {
    pub w_q: ArrayView3<'a, f32>,
    pub b_q: ArrayView2<'a, f32>,
    pub w_k: ArrayView3<'a, f32>,
    pub b_k: ArrayView2<'a, f32>,
    pub w_v: ArrayView3<'a, f32>,
    pub b_v: ArrayView2<'a, f32>,
    pub w_o: ArrayView3<'a, f32>,
    pub b_o: ArrayView1<'a, f32>,
}

/// One MLP sublayer's weights (shapes as in [`super::Mlp`]).
#[derive(Clone, Copy, Debug)]
pub struct MlpView<'a> {
    pub w_in: ArrayView2<'a, f32>,
    pub b_in: ArrayView1<'a, f32>,
    pub w_out: ArrayView2<'a, f32>,
    pub b_out: ArrayView1<'a, f32>,
}

/// Every weight of a model, borrowed, with the config whose shapes they
/// have (checked by whoever made the view).
#[derive(Clone, Debug)]
pub struct Weights<'a> {
    pub config: &'a Config,
    pub w_e: ArrayView2<'a, f32>,
    pub w_pos: ArrayView2<'a, f32>,
    pub blocks: Vec<(AttnView<'a>, MlpView<'a>)>,
    pub w_u: ArrayView2<'a, f32>,
    pub b_u: ArrayView1<'a, f32>,
}

impl Model {
    /// Views of this model's weights.
    pub fn weights(&self) -> Weights<'_> {
        Weights {
            config: &self.config,
            w_e: self.w_e.view(),
            w_pos: self.w_pos.view(),
            blocks: self
                .blocks
                .iter()
                .map(|b| {
                    let (a, m) = (&b.attn, &b.mlp);
                    (
                        AttnView {
                            w_q: a.w_q.view(),
                            b_q: a.b_q.view(),
                            w_k: a.w_k.view(),
                            b_k: a.b_k.view(),
                            w_v: a.w_v.view(),
                            b_v: a.b_v.view(),
                            w_o: a.w_o.view(),
                            b_o: a.b_o.view(),
                        },
                        MlpView {
                            w_in: m.w_in.view(),
                            b_in: m.b_in.view(),
                            w_out: m.w_out.view(),
                            b_out: m.b_out.view(),
                        },
                    )
                })
                .collect(),
            w_u: self.w_u.view(),
            b_u: self.b_u.view(),
        }
    }
}
