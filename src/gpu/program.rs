//! A plan as the GPU runs it: its numbers flattened into one weights array
//! and one index array, and the list of kernel dispatches of a forward
//! pass (with the activation buffer's layout for a chunk capacity).

use crate::model::plan::{Dims, Plan};
use crate::model::{Config, Meta};

/// "No index list" / "no bias" in a parameter slot.
const NONE: u32 = u32::MAX;

/// The kernels of `forward.wgsl` (the order of `Gpu::pipelines`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    Embed = 0,
    Gmm = 1,
    Attend = 2,
}

/// A region of the activation buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Region {
    Resid,
    Qkv,
    Z,
    Hidden,
    Logits,
}

/// `dst[r, out(c)] (=, = relu, +=) src[r, in(k)] · W + b`.
#[derive(Clone, Debug)]
struct Gmm {
    k: usize,
    n: usize,
    /// 0 store, 1 store relu, 2 add.
    mode: u32,
    src: Region,
    src_stride: usize,
    src_index: u32,
    dst: Region,
    /// Added to the destination region's offset (a column range of qkv).
    dst_col: usize,
    dst_stride: usize,
    dst_index: u32,
    w: u32,
    bias: u32,
}

#[derive(Clone, Debug)]
enum Op {
    Embed,
    Gmm(Gmm),
    Attend {
        layer: usize,
        heads: usize,
        qkv_stride: usize,
        z_stride: usize,
        table: u32,
    },
}

/// The plan's numbers and dispatches.
pub struct Program {
    pub weights: Vec<f32>,
    pub index: Vec<u32>,
    ops: Vec<(usize, Op)>,
    d_model: usize,
    n_ctx: usize,
    d_vocab_out: usize,
    causal: bool,
    pad_id: u32,
    scale: f32,
    w_e: u32,
    w_pos: u32,
    /// The widest qkv, z and hidden rows, and the most kept heads.
    widest: (usize, usize, usize, usize),
}

/// Element offsets of each region, for a chunk capacity of `rows` rows.
pub struct Layout {
    pub rows: usize,
    resid: u64,
    qkv: u64,
    z: u64,
    hidden: u64,
    pub logits: u64,
    pub scores: u64,
}

impl Layout {
    pub fn new(p: &Program, rows: usize) -> Layout {
        let r = rows as u64;
        let (qkv, z, h, _) = p.widest;
        let resid = 0;
        let qkv_at = resid + r * p.d_model as u64;
        let z_at = qkv_at + r * qkv as u64;
        let hidden = z_at + r * z as u64;
        let logits = hidden + r * h as u64;
        let scores = logits + r * p.d_vocab_out as u64;
        Layout {
            rows,
            resid,
            qkv: qkv_at,
            z: z_at,
            hidden,
            logits,
            scores,
        }
    }

    fn of(&self, r: Region) -> u64 {
        match r {
            Region::Resid => self.resid,
            Region::Qkv => self.qkv,
            Region::Z => self.z,
            Region::Hidden => self.hidden,
            Region::Logits => self.logits,
        }
    }
}

/// One dispatch: its kernel, its parameters (the first is the chunk's
/// row count, filled in per chunk) and the layer it belongs to.
pub struct Step {
    pub kernel: Kernel,
    pub params: [u32; 16],
    pub layer: usize,
    /// Columns (gmm) or heads (attend), for the grid.
    width: u32,
}

impl Step {
    /// Workgroups `(x, y)` for a chunk of `rows` rows.
    pub fn grid(&self, rows: usize) -> (u32, u32) {
        let rows = rows as u32;
        match self.kernel {
            Kernel::Embed => (rows.div_ceil(64), 1),
            Kernel::Gmm => (self.width.div_ceil(16), rows.div_ceil(16)),
            Kernel::Attend => (rows.div_ceil(64), self.width),
        }
    }
}

fn u(x: usize) -> u32 {
    u32::try_from(x).expect("GPU offsets fit in 32 bits (checked against the buffer limits)")
}

impl Program {
    pub fn new(plan: &Plan, config: &Config, meta: &Meta) -> Program {
        let mut p = Program {
            weights: Vec::new(),
            index: Vec::new(),
            ops: Vec::new(),
            d_model: plan.d_model,
            n_ctx: config.n_ctx,
            d_vocab_out: config.d_vocab_out,
            causal: config.attention_dir == "causal",
            pad_id: u(meta.pad_id),
            scale: if config.use_attn_scale {
                config.attn_scale as f32
            } else {
                1.0
            },
            w_e: 0,
            w_pos: 0,
            widest: plan.widest(),
        };
        p.w_e = p.floats(plan.w_e.iter().copied());
        p.w_pos = p.floats(plan.w_pos.iter().copied());
        p.ops.push((0, Op::Embed));
        let dm = plan.d_model;
        for (l, layer) in plan.layers.iter().enumerate() {
            if let Some(a) = &layer.attn {
                for g in &a.groups {
                    let b = p.floats(a.b_qkv.slice(ndarray::s![g.cols.clone()]).iter().copied());
                    let w = p.floats(g.w.iter().copied());
                    let src_index = p.dims(&g.input);
                    p.ops.push((
                        l,
                        Op::Gmm(Gmm {
                            k: g.input.len(dm),
                            n: g.cols.len(),
                            mode: 0,
                            src: Region::Resid,
                            src_stride: dm,
                            src_index,
                            dst: Region::Qkv,
                            dst_col: g.cols.start,
                            dst_stride: a.qkv_width,
                            dst_index: NONE,
                            w,
                            bias: b,
                        }),
                    ));
                }
                if !a.heads.is_empty() {
                    let table = u(p.index.len());
                    for h in &a.heads {
                        p.index.extend([h.q, h.k, h.v, h.d_qk, h.d_v, h.z].map(u));
                    }
                    p.ops.push((
                        l,
                        Op::Attend {
                            layer: l,
                            heads: a.heads.len(),
                            qkv_stride: a.qkv_width,
                            z_stride: a.z_width,
                            table,
                        },
                    ));
                }
                let w = p.floats(a.w_o.iter().copied());
                let bias = a.b_o.as_ref().map_or(NONE, |b| p.floats(b.iter().copied()));
                let dst_index = p.dims(&a.output);
                p.ops.push((
                    l,
                    Op::Gmm(Gmm {
                        k: a.z_width,
                        n: a.output.len(dm),
                        mode: 2,
                        src: Region::Z,
                        src_stride: a.z_width,
                        src_index: NONE,
                        dst: Region::Resid,
                        dst_col: 0,
                        dst_stride: dm,
                        dst_index,
                        w,
                        bias,
                    }),
                ));
            }
            if let Some(m) = &layer.mlp {
                if m.units > 0 {
                    let w = p.floats(m.w_in.iter().copied());
                    let bias = p.floats(m.b_in.iter().copied());
                    let src_index = p.dims(&m.input);
                    p.ops.push((
                        l,
                        Op::Gmm(Gmm {
                            k: m.input.len(dm),
                            n: m.units,
                            mode: 1,
                            src: Region::Resid,
                            src_stride: dm,
                            src_index,
                            dst: Region::Hidden,
                            dst_col: 0,
                            dst_stride: m.units,
                            dst_index: NONE,
                            w,
                            bias,
                        }),
                    ));
                }
                let w = p.floats(m.w_out.iter().copied());
                let bias = m
                    .b_out
                    .as_ref()
                    .map_or(NONE, |b| p.floats(b.iter().copied()));
                let dst_index = p.dims(&m.output);
                p.ops.push((
                    l,
                    Op::Gmm(Gmm {
                        k: m.units,
                        n: m.output.len(dm),
                        mode: 2,
                        src: Region::Hidden,
                        src_stride: m.units,
                        src_index: NONE,
                        dst: Region::Resid,
                        dst_col: 0,
                        dst_stride: dm,
                        dst_index,
                        w,
                        bias,
                    }),
                ));
            }
        }
        let w = p.floats(plan.w_u.iter().copied());
        let bias = p.floats(plan.b_u.iter().copied());
        let src_index = p.dims(&plan.unembed_input);
        p.ops.push((
            plan.layers.len(),
            Op::Gmm(Gmm {
                k: plan.unembed_input.len(dm),
                n: config.d_vocab_out,
                mode: 0,
                src: Region::Resid,
                src_stride: dm,
                src_index,
                dst: Region::Logits,
                dst_col: 0,
                dst_stride: config.d_vocab_out,
                dst_index: NONE,
                w,
                bias,
            }),
        ));
        // Bindings must not be empty.
        p.weights.push(0.0);
        p.index.push(0);
        p
    }

    /// Append numbers to the weights; their offset.
    fn floats(&mut self, xs: impl Iterator<Item = f32>) -> u32 {
        let at = u(self.weights.len());
        self.weights.extend(xs);
        at
    }

    /// Append an index list (none for all dims); its offset.
    fn dims(&mut self, d: &Dims) -> u32 {
        match d {
            Dims::All => NONE,
            Dims::Some(idx) => {
                let at = u(self.index.len());
                self.index.extend(idx.iter().map(|&i| u(i)));
                at
            }
        }
    }

    /// f32s of activations per row: residual, qkv, z, hidden, logits and
    /// the attention weights of every kept head of a layer.
    pub fn row_floats(&self) -> usize {
        let (qkv, z, h, heads) = self.widest;
        self.d_model + qkv + z + h + self.d_vocab_out + heads * self.n_ctx
    }

    /// The dispatches of a forward pass, for a layout.
    pub fn steps(&self, l: &Layout) -> Vec<Step> {
        let off = |x: u64| u32::try_from(x).expect("activation offsets fit in 32 bits");
        self.ops
            .iter()
            .map(|(layer, op)| match op {
                Op::Embed => Step {
                    kernel: Kernel::Embed,
                    params: [
                        0,
                        u(self.d_model),
                        self.w_e,
                        self.w_pos,
                        off(l.resid),
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                    ],
                    layer: *layer,
                    width: 1,
                },
                Op::Gmm(g) => Step {
                    kernel: Kernel::Gmm,
                    params: [
                        0,
                        u(g.k),
                        u(g.n),
                        g.mode,
                        off(l.of(g.src)),
                        u(g.src_stride),
                        g.src_index,
                        off(l.of(g.dst) + g.dst_col as u64),
                        u(g.dst_stride),
                        g.dst_index,
                        g.w,
                        g.bias,
                        0,
                        0,
                        0,
                        0,
                    ],
                    layer: *layer,
                    width: u(g.n),
                },
                Op::Attend {
                    layer,
                    heads,
                    qkv_stride,
                    z_stride,
                    table,
                } => Step {
                    kernel: Kernel::Attend,
                    params: [
                        0,
                        u(*heads),
                        off(l.qkv),
                        u(*qkv_stride),
                        off(l.z),
                        u(*z_stride),
                        off(l.scores),
                        u(self.n_ctx),
                        u32::from(self.causal),
                        self.pad_id,
                        self.scale.to_bits(),
                        *table,
                        u(l.rows),
                        0,
                        0,
                        0,
                    ],
                    layer: *layer,
                    width: u(*heads),
                },
            })
            .collect()
    }
}
