//! The seam between what a model computes and where: an [`Executor`] is
//! prepared once from a model's weights and runs batches of token ids to
//! the output logits (and, when asked, the final residual stream and
//! attention patterns). Encoding inputs and decoding outputs are the same
//! for every executor ([`codec`](super::codec)); the CPU executor is
//! [`Cpu`](super::cpu::Cpu), the GPU one is in `crate::gpu`.

use ndarray::Array2;

use super::Config;
use crate::diag::{Diag, codes};

/// What a batch run returns besides the logits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Want {
    /// Also return each sequence's final residual stream.
    pub resid: bool,
    /// The attention patterns of these heads, `(layer, head)`.
    pub patterns: Vec<(usize, usize)>,
}

/// The result of running a batch.
#[derive(Clone, Debug, Default)]
pub struct Forward {
    /// Per sequence, `[len, d_vocab_out]`: the logits of every position
    /// (BOS's row included).
    pub logits: Vec<Array2<f32>>,
    /// Per sequence, `[len, d_model]`, when [`Want::resid`]; else empty.
    pub resid: Vec<Array2<f32>>,
    /// Per asked head (in [`Want::patterns`] order), per sequence,
    /// `[len, len]`: row i holds query i's attention weights over the keys
    /// (0 where a key is masked).
    pub patterns: Vec<Vec<Array2<f32>>>,
}

/// Which device runs a model, for `--info` and messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// "cpu" or "wgpu".
    pub executor: &'static str,
    /// The device's name ("llvmpipe (LLVM 15.0.6, 256 bits)", or the CPU's
    /// thread count for the CPU executor).
    pub name: String,
    /// The graphics API ("Vulkan", "Metal", ...; "ndarray" on the CPU).
    pub backend: String,
    /// Driver name and version, where known.
    pub driver: String,
    /// "DiscreteGpu", "IntegratedGpu", "Cpu", ...
    pub device_type: String,
}

impl std::fmt::Display for DeviceInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} ({}", self.executor, self.name, self.backend)?;
        if !self.driver.is_empty() {
            write!(f, ", {}", self.driver)?;
        }
        if !self.device_type.is_empty() {
            write!(f, ", {}", self.device_type)?;
        }
        write!(f, ")")
    }
}

/// Runs prepared models. Implementations give the same logits up to float
/// summation order, hence the same decoded outputs.
pub trait Executor: Send + Sync {
    /// The device this executor runs on.
    fn info(&self) -> &DeviceInfo;

    /// The config of the model it runs.
    fn config(&self) -> &Config;

    /// Run a batch of token-id sequences (ragged; each starts with BOS).
    /// Fails on ids the model cannot take ([`check_batch`]) and on device
    /// faults; never panics on its input.
    fn run_batch(&self, batch: &[Vec<usize>], want: &Want) -> Result<Forward, Diag>;
}

/// Check a batch against a model's config: every token id below
/// `d_vocab`, no sequence longer than `n_ctx`.
pub fn check_batch(config: &Config, batch: &[Vec<usize>]) -> Result<(), Diag> {
    for (i, seq) in batch.iter().enumerate() {
        if seq.len() > config.n_ctx {
            return Err(Diag::error(
                codes::MODEL_INPUT,
                format!(
                    "sequence {i} has {} token ids, but the model's context is {}",
                    seq.len(),
                    config.n_ctx
                ),
            ));
        }
        if let Some(t) = seq.iter().find(|&&t| t >= config.d_vocab) {
            return Err(Diag::error(
                codes::MODEL_INPUT,
                format!(
                    "sequence {i} holds token id {t}, but the model's vocabulary has {} ids",
                    config.d_vocab
                ),
            ));
        }
    }
    Ok(())
}

/// The batch cut into runs of whole sequences of at most `max_rows` rows
/// each (a longer sequence makes a run alone), in order.
pub fn chunks(batch: &[Vec<usize>], max_rows: usize) -> Vec<&[Vec<usize>]> {
    let mut out = Vec::new();
    let (mut start, mut rows) = (0, 0);
    for (i, seq) in batch.iter().enumerate() {
        if rows + seq.len() > max_rows && i > start {
            out.push(&batch[start..i]);
            start = i;
            rows = 0;
        }
        rows += seq.len();
    }
    if start < batch.len() {
        out.push(&batch[start..]);
    }
    out
}

/// Check the asked-for patterns against the heads a plan kept.
pub(crate) fn check_patterns(plan: &super::plan::Plan, want: &Want) -> Result<Vec<usize>, Diag> {
    want.patterns
        .iter()
        .map(|&(l, h)| {
            plan.slot(l, h).ok_or_else(|| {
                Diag::error(
                    codes::MODEL_INPUT,
                    format!(
                        "the attention pattern of layer {l} head {h} was not prepared (a head whose output is zero is dropped unless it is kept when the executor is made)"
                    ),
                )
            })
        })
        .collect()
}
