//! Choosing where a model runs: the one function the CLI, the REPL and
//! verification call to get an executor for `--backend cpu|wgpu|auto`.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::diag::{Diag, codes};
use crate::model::Meta;
use crate::model::cpu::Cpu;
use crate::model::executor::Executor;
use crate::model::weights::Weights;

/// Where to run a model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The CPU executor (ndarray, all cores).
    #[default]
    Cpu,
    /// A wgpu adapter (Vulkan, Metal, DX12 or GL; `WGPU_BACKEND` and
    /// `WGPU_ADAPTER_NAME` choose among several).
    Wgpu,
    /// A GPU adapter when there is one (not a CPU driver such as
    /// lavapipe), else the CPU.
    Auto,
}

impl Backend {
    /// Every backend's name, as `--backend` and `:backend` take it.
    pub const NAMES: [&'static str; 3] = ["cpu", "wgpu", "auto"];

    /// The backend's name (`cpu`, `wgpu`, `auto`).
    pub fn name(self) -> &'static str {
        match self {
            Backend::Cpu => Backend::NAMES[0],
            Backend::Wgpu => Backend::NAMES[1],
            Backend::Auto => Backend::NAMES[2],
        }
    }

    /// The backend of a name, as [`Backend::name`] gives it.
    pub fn from_name(name: &str) -> Option<Backend> {
        [Backend::Cpu, Backend::Wgpu, Backend::Auto]
            .into_iter()
            .find(|b| b.name() == name)
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An executor for a model on `backend`, and, when `auto` fell back to the
/// CPU, why (for stderr). `wgpu` fails with the device's diagnostic;
/// `auto` never fails.
pub fn executor(
    weights: &Weights<'_>,
    meta: &Meta,
    backend: Backend,
) -> Result<(Box<dyn Executor>, Option<String>), Diag> {
    match backend {
        Backend::Cpu => Ok((Box::new(Cpu::new(weights, meta)), None)),
        Backend::Wgpu => Ok((Box::new(super::Gpu::new(weights, meta)?), None)),
        Backend::Auto => {
            let why = match super::device::device() {
                Ok(dev) if dev.is_gpu => match super::Gpu::new(weights, meta) {
                    Ok(gpu) => {
                        let auto = Auto {
                            gpu,
                            cpu: Cpu::new(weights, meta),
                            failed: AtomicBool::new(false),
                        };
                        return Ok((Box::new(auto), None));
                    }
                    Err(d) => format!("the GPU failed ({}): {}", d.code, d.message),
                },
                Ok(dev) => format!("the only adapter, {}, is a CPU driver", dev.info.name),
                Err(d) => d.message.clone(),
            };
            Ok((
                Box::new(Cpu::new(weights, meta)),
                Some(format!("--backend auto: running on the CPU ({why})")),
            ))
        }
    }
}

/// `auto` on a GPU: the GPU, until it fails (a device fault or a limit);
/// from then on the CPU, said once on stderr.
struct Auto {
    gpu: super::Gpu,
    cpu: Cpu,
    failed: AtomicBool,
}

impl Executor for Auto {
    fn info(&self) -> &crate::model::executor::DeviceInfo {
        if self.failed.load(Ordering::Relaxed) {
            self.cpu.info()
        } else {
            self.gpu.info()
        }
    }

    fn config(&self) -> &crate::model::Config {
        self.cpu.config()
    }

    fn run_batch(
        &self,
        batch: &[Vec<usize>],
        want: &crate::model::executor::Want,
    ) -> Result<crate::model::executor::Forward, Diag> {
        if !self.failed.load(Ordering::Relaxed) {
            match self.gpu.run_batch(batch, want) {
                Err(d) if d.code == codes::GPU_DEVICE || d.code == codes::GPU_LIMITS => {
                    errln!(
                        "--backend auto: the GPU failed ({}: {}); running on the CPU",
                        d.code,
                        d.message
                    );
                    self.failed.store(true, Ordering::Relaxed);
                }
                other => return other,
            }
        }
        self.cpu.run_batch(batch, want)
    }
}
