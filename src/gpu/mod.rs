//! The GPU executor: compiled models on any wgpu adapter (Vulkan, Metal,
//! DX12, GL), batched, giving the CPU executor's answers.
//!
//! [`Gpu::new`] uploads a model's [`Plan`] (its weights with the zero parts
//! dropped, the same the CPU executor runs) once: every matrix and bias in
//! one storage buffer, every residual index list and head table in
//! another. A batch is packed into rows (the positions of all sequences,
//! one after another, as on the CPU) and run in chunks that fit the
//! device's buffer limits; each chunk is one submission (embedding, then
//! per layer the Q/K/V projections, attention, the output projection, the
//! MLP, then the unembedding: the kernels of `forward.wgsl`) and one
//! read-back of the logits (and, when asked, the final residual and
//! attention patterns). Faults (no adapter, too small limits, a shader or
//! validation error, a lost device, a timeout) are diagnostics
//! (`rasp::gpu::*`), never panics.

pub mod backend;
pub mod device;
mod program;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ndarray::Array2;
use wgpu::util::DeviceExt;

use crate::diag::{Diag, codes};
use crate::model::executor::{
    DeviceInfo, Executor, Forward, Want, check_batch, check_patterns, chunks,
};
use crate::model::plan::Plan;
use crate::model::weights::Weights;
use crate::model::{Config, Meta};
use device::{Device, HELP_CPU, fault};
use program::{Kernel, Layout, Program, Step};

/// How long one chunk may take before the device is declared hung.
const TIMEOUT: Duration = Duration::from_secs(120);
/// Bytes of one dispatch's parameters.
const PARAMS_BYTES: u64 = 64;
/// Most rows of a chunk, whatever the memory (dispatch sizes: 65,535
/// workgroups of 16 rows).
const MAX_CHUNK_ROWS: usize = 65_535 * 16;

/// A model prepared for a wgpu device (see the module doc).
pub struct Gpu {
    dev: Arc<Device>,
    program: Program,
    config: Config,
    plan: Plan,
    weights: wgpu::Buffer,
    index: wgpu::Buffer,
    /// Buffers sized for the largest chunk seen so far.
    state: Mutex<Option<State>>,
    /// Bytes of activations per row, and the most rows a chunk may have.
    row_bytes: u64,
    max_rows: usize,
}

/// The per-chunk buffers, for a capacity of `rows` rows.
struct State {
    rows: usize,
    acts: wgpu::Buffer,
    rows_buf: wgpu::Buffer,
    params: wgpu::Buffer,
    bind: wgpu::BindGroup,
    layout: Layout,
    steps: Vec<Step>,
}

impl Gpu {
    /// Upload the plan of `weights` to the process's device
    /// ([`device::device`]), keeping the heads whose patterns decoding
    /// needs.
    pub fn new(weights: &Weights<'_>, meta: &Meta) -> Result<Gpu, Diag> {
        let dev = device::device()?;
        let keep = crate::model::codec::kind_heads(weights.config, meta);
        let plan = Plan::new(weights, &keep);
        Gpu::with_plan(dev, plan, weights.config, meta)
    }

    fn with_plan(dev: Arc<Device>, plan: Plan, config: &Config, meta: &Meta) -> Result<Gpu, Diag> {
        let program = Program::new(&plan, config, meta);
        let d = &dev.device;
        let max_bind = dev
            .limits
            .max_storage_buffer_binding_size
            .min(dev.limits.max_buffer_size);
        let weight_bytes = 4 * program.weights.len() as u64;
        if weight_bytes > max_bind {
            return Err(Diag::error(
                codes::GPU_LIMITS,
                format!(
                    "the model's weights need {} MiB in one buffer, but the adapter {} binds at most {} MiB",
                    weight_bytes >> 20,
                    dev.info.name,
                    max_bind >> 20
                ),
            )
            .help(HELP_CPU));
        }
        let row_bytes = 4 * program.row_floats() as u64;
        let max_rows = usize::try_from(max_bind / row_bytes.max(1))
            .unwrap_or(usize::MAX)
            .min(MAX_CHUNK_ROWS);
        if max_rows < config.n_ctx {
            return Err(Diag::error(
                codes::GPU_LIMITS,
                format!(
                    "one sequence needs {} MiB of activations, but the adapter {} binds at most {} MiB",
                    (row_bytes * config.n_ctx as u64) >> 20,
                    dev.info.name,
                    max_bind >> 20
                ),
            )
            .help(HELP_CPU));
        }

        let scope = d.push_error_scope(wgpu::ErrorFilter::Validation);
        let storage = |label: &str, bytes: &[u8]| {
            d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytes,
                usage: wgpu::BufferUsages::STORAGE,
            })
        };
        let weights = storage("rasp weights", bytemuck::cast_slice(&program.weights));
        let index = storage("rasp index", bytemuck::cast_slice(&program.index));
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(fault(&dev.info, &format!("preparing the model: {e}")));
        }
        dev.kernels()?;
        dev.check()?;
        Ok(Gpu {
            program,
            config: config.clone(),
            plan,
            weights,
            index,
            state: Mutex::new(None),
            row_bytes,
            max_rows,
            dev,
        })
    }

    /// Split batches into chunks of at most `rows` rows (at least one
    /// sequence's worth), as a device with smaller buffer limits would.
    pub fn with_max_rows(mut self, rows: usize) -> Gpu {
        self.max_rows = rows.max(self.config.n_ctx).min(self.max_rows);
        self
    }

    /// Buffers for chunks of up to `rows` rows (grown when needed).
    fn state_for(&self, rows: usize) -> Result<std::sync::MutexGuard<'_, Option<State>>, Diag> {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if guard.as_ref().is_some_and(|s| s.rows >= rows) {
            return Ok(guard);
        }
        let d = &self.dev.device;
        let rows = rows.max(guard.as_ref().map_or(0, |s| s.rows));
        let layout = Layout::new(&self.program, rows);
        let steps = self.program.steps(&layout);
        let align =
            u64::from(self.dev.limits.min_uniform_buffer_offset_alignment).max(PARAMS_BYTES);
        let scope = d.push_error_scope(wgpu::ErrorFilter::Validation);
        let acts = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("rasp activations"),
            size: (self.row_bytes * rows as u64).max(4),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let rows_buf = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("rasp rows"),
            size: 16 * rows as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let params = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("rasp params"),
            size: align * steps.len().max(1) as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let bind = d.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("rasp forward"),
            layout: &self.dev.kernels()?.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &params,
                        offset: 0,
                        size: wgpu::BufferSize::new(PARAMS_BYTES),
                    }),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: self.weights.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: self.index.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: rows_buf.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 4,
                    resource: acts.as_entire_binding(),
                },
            ],
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(fault(
                &self.dev.info,
                &format!("allocating buffers for {rows} rows: {e}"),
            ));
        }
        *guard = Some(State {
            rows,
            acts,
            rows_buf,
            params,
            bind,
            layout,
            steps,
        });
        Ok(guard)
    }

    /// Run one chunk of whole sequences.
    fn run_chunk(
        &self,
        batch: &[Vec<usize>],
        want: &Want,
        slots: &[usize],
        out: &mut Forward,
    ) -> Result<(), Diag> {
        let n_rows: usize = batch.iter().map(Vec::len).sum();
        if n_rows == 0 {
            for seq in batch {
                out.logits
                    .push(Array2::zeros((seq.len(), self.config.d_vocab_out)));
            }
            return Ok(());
        }
        let guard = self.state_for(n_rows)?;
        let state = guard.as_ref().expect("state_for made the state");
        let kernels = self.dev.kernels()?;
        let d = &self.dev.device;
        let q = &self.dev.queue;

        // The rows and the parameters of every dispatch.
        let mut rows: Vec<[u32; 4]> = Vec::with_capacity(n_rows);
        for seq in batch {
            let start = rows.len() as u32;
            for (pos, &tok) in seq.iter().enumerate() {
                rows.push([tok as u32, start, seq.len() as u32, pos as u32]);
            }
        }
        q.write_buffer(&state.rows_buf, 0, bytemuck::cast_slice(&rows));
        let align =
            u64::from(self.dev.limits.min_uniform_buffer_offset_alignment).max(PARAMS_BYTES);
        let mut params = vec![0u8; (align as usize) * state.steps.len().max(1)];
        for (i, step) in state.steps.iter().enumerate() {
            let mut p = step.params;
            p[0] = n_rows as u32;
            let at = i * align as usize;
            params[at..at + 64].copy_from_slice(bytemuck::cast_slice(&p));
        }
        q.write_buffer(&state.params, 0, &params);

        // Read-back: logits, then the residual, then each pattern.
        let (dm, v, ctx) = (
            self.plan.d_model as u64,
            self.config.d_vocab_out as u64,
            self.config.n_ctx as u64,
        );
        let rows64 = n_rows as u64;
        let logits_bytes = 4 * rows64 * v;
        let resid_bytes = if want.resid { 4 * rows64 * dm } else { 0 };
        let pattern_bytes = 4 * rows64 * ctx;
        let total = logits_bytes + resid_bytes + pattern_bytes * slots.len() as u64;
        let readback = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("rasp read-back"),
            size: total.max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });

        let mut enc = d.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("rasp forward"),
        });
        let mut pass = Some(
            enc.begin_compute_pass(&wgpu::ComputePassDescriptor::default())
                .forget_lifetime(),
        );
        for (i, step) in state.steps.iter().enumerate() {
            let (x, y) = step.grid(n_rows);
            if x > 0 && y > 0 {
                let Some(ps) = pass.as_mut() else {
                    unreachable!("a pass is open between steps");
                };
                ps.set_pipeline(&kernels.pipelines[step.kernel as usize]);
                ps.set_bind_group(0, &state.bind, &[(i as u64 * align) as u32]);
                ps.dispatch_workgroups(x, y, 1);
            }
            // Patterns are copied right after their layer's attention,
            // before a later layer reuses the scores.
            if step.kernel == Kernel::Attend {
                for (w, (&(layer, _), &slot)) in want.patterns.iter().zip(slots).enumerate() {
                    if layer != step.layer {
                        continue;
                    }
                    drop(pass.take());
                    let src = 4 * (state.layout.scores + (slot * state.rows) as u64 * ctx);
                    let dst = logits_bytes + resid_bytes + w as u64 * pattern_bytes;
                    enc.copy_buffer_to_buffer(&state.acts, src, &readback, dst, pattern_bytes);
                    pass = Some(
                        enc.begin_compute_pass(&wgpu::ComputePassDescriptor::default())
                            .forget_lifetime(),
                    );
                }
            }
        }
        drop(pass);
        enc.copy_buffer_to_buffer(
            &state.acts,
            4 * state.layout.logits,
            &readback,
            0,
            logits_bytes,
        );
        if want.resid {
            enc.copy_buffer_to_buffer(&state.acts, 0, &readback, logits_bytes, resid_bytes);
        }
        let submission = q.submit([enc.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        readback.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        d.poll(wgpu::PollType::Wait {
            submission_index: Some(submission),
            timeout: Some(TIMEOUT),
        })
        .map_err(|e| fault(&self.dev.info, &format!("waiting for a batch: {e}")))?;
        self.dev.check()?;
        match rx.recv_timeout(TIMEOUT) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(fault(&self.dev.info, &format!("reading back: {e}"))),
            Err(_) => return Err(fault(&self.dev.info, "the read-back never completed")),
        }
        {
            let view = readback
                .get_mapped_range(..)
                .map_err(|e| fault(&self.dev.info, &format!("reading back: {e}")))?;
            let all: &[f32] = bytemuck::cast_slice(&view);
            let (logits, rest) = all.split_at((rows64 * v) as usize);
            let (resid, patterns) = rest.split_at(if want.resid {
                (rows64 * dm) as usize
            } else {
                0
            });
            let mut at = 0;
            for seq in batch {
                let len = seq.len();
                let take = |flat: &[f32], width: usize| {
                    Array2::from_shape_vec(
                        (len, width),
                        flat[at * width..(at + len) * width].to_vec(),
                    )
                    .expect("a sequence's rows")
                };
                out.logits.push(take(logits, v as usize));
                if want.resid {
                    out.resid.push(take(resid, dm as usize));
                }
                for (w, per) in out.patterns.iter_mut().enumerate() {
                    let flat = &patterns[w * (rows64 * ctx) as usize..];
                    let full = take(flat, ctx as usize);
                    per.push(full.slice(ndarray::s![.., ..len]).to_owned());
                }
                at += len;
            }
        }
        readback.unmap();
        Ok(())
    }
}

impl Executor for Gpu {
    fn info(&self) -> &DeviceInfo {
        &self.dev.info
    }

    fn config(&self) -> &Config {
        &self.config
    }

    fn run_batch(&self, batch: &[Vec<usize>], want: &Want) -> Result<Forward, Diag> {
        check_batch(&self.config, batch)?;
        let slots = check_patterns(&self.plan, want)?;
        let mut out = Forward {
            patterns: vec![Vec::with_capacity(batch.len()); slots.len()],
            ..Forward::default()
        };
        // Chunks of whole sequences within the device's limits.
        for chunk in chunks(batch, self.max_rows) {
            self.run_chunk(chunk, want, &slots, &mut out)?;
        }
        Ok(out)
    }
}
