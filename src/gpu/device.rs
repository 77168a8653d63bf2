//! The wgpu device: one per process, opened on first use (adapter choice
//! follows `WGPU_BACKEND`, `WGPU_ADAPTER_NAME` and `WGPU_POWER_PREF`), with
//! its faults (validation errors, device loss) caught and turned into
//! diagnostics instead of panics.

use std::sync::{Arc, Mutex, OnceLock};

use crate::diag::{Diag, codes};
use crate::model::executor::DeviceInfo;

/// The help every GPU diagnostic carries.
pub const HELP_CPU: &str = "run on the CPU instead: --backend cpu (or :backend cpu in the REPL)";

/// An open device and what it reported.
pub struct Device {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: DeviceInfo,
    pub limits: wgpu::Limits,
    /// Whether the adapter is a real GPU (not a CPU driver such as
    /// lavapipe or llvmpipe).
    pub is_gpu: bool,
    /// The first uncaptured error or device loss, if any happened.
    fault: Arc<Mutex<Option<String>>>,
    /// The compiled kernels, made on first use.
    kernels: OnceLock<Result<Kernels, Diag>>,
}

/// The forward pass's kernels (`forward.wgsl`) and their bind group
/// layout, compiled once per device.
pub struct Kernels {
    pub layout: wgpu::BindGroupLayout,
    /// Indexed by `program::Kernel`.
    pub pipelines: [wgpu::ComputePipeline; 3],
}

static DEVICE: OnceLock<Result<Arc<Device>, Diag>> = OnceLock::new();

/// The process's device, opened on first use.
pub fn device() -> Result<Arc<Device>, Diag> {
    DEVICE.get_or_init(|| open().map(Arc::new)).clone()
}

fn open() -> Result<Device, Diag> {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    // `WGPU_ADAPTER_NAME` picks an adapter by (part of) its name. wgpu's
    // own helper panics when none matches, so the choice is made here.
    if let Some(wanted) = std::env::var("WGPU_ADAPTER_NAME")
        .ok()
        .filter(|n| !n.is_empty())
    {
        let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
        let names: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
        let adapter = adapters.into_iter().find(|a| {
            a.get_info()
                .name
                .to_lowercase()
                .contains(&wanted.to_lowercase())
        });
        return match adapter {
            Some(adapter) => open_adapter(adapter),
            None => Err(Diag::error(
                codes::GPU_ADAPTER,
                format!("no GPU adapter's name contains WGPU_ADAPTER_NAME={wanted:?}"),
            )
            .help(if names.is_empty() {
                format!("there is no adapter at all; {HELP_CPU}")
            } else {
                format!(
                    "the adapters are: {}; unset WGPU_ADAPTER_NAME to take the default, or {HELP_CPU}",
                    names.join(", ")
                )
            })),
        };
    }
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::from_env().unwrap_or_default(),
        compatible_surface: None,
        ..Default::default()
    }))
    .map_err(|e| {
        Diag::error(
            codes::GPU_ADAPTER,
            format!("no GPU adapter found: {e}"),
        )
        .help(format!(
            "{HELP_CPU}; on Linux without a GPU, the Vulkan software driver (Debian: mesa-vulkan-drivers libvulkan1) provides one"
        ))
    })?;
    open_adapter(adapter)
}

/// The device of an adapter, checked against the limits the executor needs.
fn open_adapter(adapter: wgpu::Adapter) -> Result<Device, Diag> {
    let a = adapter.get_info();
    let is_gpu = matches!(
        a.device_type,
        wgpu::DeviceType::DiscreteGpu
            | wgpu::DeviceType::IntegratedGpu
            | wgpu::DeviceType::VirtualGpu
    );
    let info = DeviceInfo {
        executor: "wgpu",
        name: a.name.clone(),
        backend: format!("{:?}", a.backend),
        driver: [a.driver.as_str(), a.driver_info.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" "),
        device_type: format!("{:?}", a.device_type),
    };
    let have = adapter.limits();
    let need = wgpu::Limits::downlevel_defaults();
    if have.max_storage_buffers_per_shader_stage < 4
        || have.max_compute_invocations_per_workgroup < 256
        || have.max_compute_workgroup_size_x < 64
        || have.max_compute_workgroup_size_y < 16
        || have.max_compute_workgroup_storage_size < 2048
    {
        return Err(Diag::error(
            codes::GPU_LIMITS,
            format!(
                "the adapter {} lacks the compute limits the executor needs (4 storage buffers per stage, 256 invocations and 2 KiB of shared memory per workgroup)",
                info.name
            ),
        )
        .help(HELP_CPU));
    }
    let limits = wgpu::Limits {
        max_storage_buffer_binding_size: have.max_storage_buffer_binding_size,
        max_buffer_size: have.max_buffer_size,
        max_compute_workgroups_per_dimension: have.max_compute_workgroups_per_dimension,
        ..need.using_resolution(have.clone())
    };
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("rasp"),
        required_features: wgpu::Features::empty(),
        required_limits: limits.clone(),
        ..Default::default()
    }))
    .map_err(|e| {
        Diag::error(
            codes::GPU_DEVICE,
            format!("cannot open the device {}: {e}", info.name),
        )
        .help(HELP_CPU)
    })?;
    let fault: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let f = fault.clone();
    device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
        let mut slot = f.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert_with(|| e.to_string());
    }));
    let f = fault.clone();
    device.set_device_lost_callback(move |reason, msg| {
        let mut slot = f.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert_with(|| format!("the device was lost ({reason:?}): {msg}"));
    });
    Ok(Device {
        device,
        queue,
        info,
        limits,
        is_gpu,
        fault,
        kernels: OnceLock::new(),
    })
}

impl Device {
    /// The kernels, compiled on first use (a shader or validation error is
    /// a diagnostic, for this and every later call).
    pub fn kernels(&self) -> Result<&Kernels, Diag> {
        self.kernels
            .get_or_init(|| self.compile_kernels())
            .as_ref()
            .map_err(Clone::clone)
    }

    fn compile_kernels(&self) -> Result<Kernels, Diag> {
        let d = &self.device;
        let scope = d.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = d.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("rasp forward"),
            source: wgpu::ShaderSource::Wgsl(include_str!("forward.wgsl").into()),
        });
        let entry =
            |binding: u32, ty: wgpu::BufferBindingType, dynamic: bool| wgpu::BindGroupLayoutEntry {
                binding,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty,
                    has_dynamic_offset: dynamic,
                    min_binding_size: None,
                },
                count: None,
            };
        let read = wgpu::BufferBindingType::Storage { read_only: true };
        let layout = d.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("rasp forward"),
            entries: &[
                entry(0, wgpu::BufferBindingType::Uniform, true),
                entry(1, read, false),
                entry(2, read, false),
                entry(3, read, false),
                entry(
                    4,
                    wgpu::BufferBindingType::Storage { read_only: false },
                    false,
                ),
            ],
        });
        let pipeline_layout = d.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("rasp forward"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = |entry: &str| {
            d.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: Some(&pipeline_layout),
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        let pipelines = [pipeline("embed"), pipeline("gmm"), pipeline("attend")];
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(fault(&self.info, &format!("compiling the kernels: {e}")));
        }
        self.check()?;
        Ok(Kernels { layout, pipelines })
    }

    /// The first fault since the device opened, as a diagnostic.
    pub fn check(&self) -> Result<(), Diag> {
        let slot = self.fault.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_ref() {
            None => Ok(()),
            Some(msg) => Err(fault(&self.info, msg)),
        }
    }
}

/// A device fault as a diagnostic.
pub fn fault(info: &DeviceInfo, msg: &str) -> Diag {
    Diag::error(
        codes::GPU_DEVICE,
        format!("the GPU device {} failed: {msg}", info.name),
    )
    .help(HELP_CPU)
}
