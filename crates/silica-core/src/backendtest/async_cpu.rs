//! A fake asynchronous device: the CPU kernels run later, in order, on a worker thread.
//!
//! Every kernel call only enqueues a job and returns a buffer whose data does not exist yet.
//! The data can be read only through [`DeviceBackend::to_host`] (or after
//! [`DeviceBackend::synchronize`]), which waits for the queue. Jobs start after a random delay,
//! and errors raised by a job (an index out of bounds, say) surface at the next synchronisation,
//! as on a GPU. Running the conformance suite on this device proves that the tensor layer never
//! assumes that an op has finished when it returns.

use crate::backend::cpu::{CpuBackend, CpuBuffer};
use crate::backend::{
    BinaryOp, Buffer, BufferBox, Conv2dParams, DeviceBackend, Distribution, Kernels,
    MemoryCounters, Pool2dParams, ReduceOp, UnaryOp, View,
};
use crate::{DType, Device, Error, HostData, Layout, Result, Scalar};
use std::any::Any;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex, OnceLock};

type Job = Box<dyn FnOnce() + Send>;

/// The asynchronous fake backend. Register it with [`AsyncCpuBackend::register`].
#[derive(Debug)]
pub struct AsyncCpuBackend {
    device: Device,
    queue: Mutex<Sender<Job>>,
    /// The first error raised by a job since the last synchronisation.
    error: Arc<Mutex<Option<Error>>>,
    memory: MemoryCounters,
    /// Dtypes this device refuses, to stand in for a device like Metal (no F64).
    unsupported: &'static [DType],
}

/// The result slot of one job: empty until the job has run.
#[derive(Debug, Default)]
struct Slot {
    data: OnceLock<std::result::Result<CpuBuffer, ()>>,
}

/// A buffer of the fake device. Its data is reachable only from jobs on the worker.
#[derive(Debug)]
pub struct AsyncBuffer {
    slot: Arc<Slot>,
    dtype: DType,
    len: usize,
}

impl Buffer for AsyncBuffer {
    fn dtype(&self) -> DType {
        self.dtype
    }
    fn len(&self) -> usize {
        self.len
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An input captured by a job: the slot and the view's layout.
struct Captured {
    slot: Arc<Slot>,
    layout: Layout,
}

impl Captured {
    /// The input's data; an error if its producer failed or (a scheduling bug) has not run.
    fn get(&self) -> Result<&CpuBuffer> {
        match self.slot.data.get() {
            Some(Ok(b)) => Ok(b),
            Some(Err(())) => Err(Error::invalid(
                "async",
                "an input was produced by an op that failed",
            )),
            None => Err(Error::invalid(
                "async",
                "a job ran before the job producing its input",
            )),
        }
    }
}

fn slot_of(buf: &dyn Buffer) -> Result<Arc<Slot>> {
    buf.as_any()
        .downcast_ref::<AsyncBuffer>()
        .map(|b| b.slot.clone())
        .ok_or_else(|| Error::invalid("async", format!("foreign buffer {buf:?}")))
}

fn capture(v: View<'_>) -> Result<Captured> {
    Ok(Captured {
        slot: slot_of(v.buf)?,
        layout: v.layout.clone(),
    })
}

/// Builds a `View` of a captured input's data.
fn view_of<'a>(c: &'a Captured, b: &'a CpuBuffer) -> View<'a> {
    View::new(b, &c.layout)
}

impl AsyncCpuBackend {
    /// Starts the worker thread and registers the device; returns its [`Device::Custom`].
    pub fn register() -> Device {
        Self::register_without(&[])
    }

    /// Like [`AsyncCpuBackend::register`], for a device that refuses the `unsupported`
    /// dtypes, as Metal refuses F64.
    pub fn register_without(unsupported: &'static [DType]) -> Device {
        crate::backend::register(|device| {
            let (tx, rx) = channel::<Job>();
            std::thread::Builder::new()
                .name(format!("silica-{device}"))
                .spawn(move || {
                    let mut state = 0x9E37_79B9_7F4A_7C15u64;
                    for job in rx {
                        // A random delay of up to ~50 µs before each job.
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        std::thread::sleep(std::time::Duration::from_micros(state % 50));
                        job();
                    }
                })
                .expect("spawn the fake device's worker");
            Box::new(AsyncCpuBackend {
                device,
                queue: Mutex::new(tx),
                error: Arc::new(Mutex::new(None)),
                memory: MemoryCounters::default(),
                unsupported,
            })
        })
    }

    fn submit(&self, job: Job) -> Result<()> {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(job)
            .map_err(|_| Error::Device {
                device: self.device,
                msg: "the worker thread has stopped".into(),
            })
    }

    /// Enqueues `work` over `inputs`, filling one new buffer of (`dtype`, `len`).
    fn launch(
        &self,
        dtype: DType,
        len: usize,
        inputs: Vec<Captured>,
        work: impl FnOnce(&CpuBackend, &[(&Captured, &CpuBuffer)]) -> Result<BufferBox> + Send + 'static,
    ) -> Result<BufferBox> {
        let out = Arc::new(Slot::default());
        let (slot, error) = (out.clone(), self.error.clone());
        self.submit(Box::new(move || {
            let cpu = CpuBackend::new();
            let result = inputs
                .iter()
                .map(|c| c.get().map(|b| (c, b)))
                .collect::<Result<Vec<_>>>()
                .and_then(|ins| work(&cpu, &ins))
                .and_then(|b| into_cpu(b, dtype, len));
            let stored = match result {
                Ok(b) => Ok(b),
                Err(e) => {
                    error
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_or_insert(e);
                    Err(())
                }
            };
            let _ = slot.data.set(stored);
        }))?;
        Ok(BufferBox::new(AsyncBuffer {
            slot: out,
            dtype,
            len,
        }))
    }

    /// Enqueues a job that produces two buffers (max pooling's values and indices).
    fn launch2(
        &self,
        outs: [(DType, usize); 2],
        input: Captured,
        work: impl FnOnce(&CpuBackend, View<'_>) -> Result<(BufferBox, BufferBox)> + Send + 'static,
    ) -> Result<(BufferBox, BufferBox)> {
        let slots = [Arc::new(Slot::default()), Arc::new(Slot::default())];
        let (s, error) = (slots.clone(), self.error.clone());
        self.submit(Box::new(move || {
            let cpu = CpuBackend::new();
            let result = input
                .get()
                .and_then(|b| work(&cpu, view_of(&input, b)))
                .and_then(|(a, b)| {
                    Ok((
                        into_cpu(a, outs[0].0, outs[0].1)?,
                        into_cpu(b, outs[1].0, outs[1].1)?,
                    ))
                });
            match result {
                Ok((a, b)) => {
                    let _ = s[0].data.set(Ok(a));
                    let _ = s[1].data.set(Ok(b));
                }
                Err(e) => {
                    error
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_or_insert(e);
                    let _ = s[0].data.set(Err(()));
                    let _ = s[1].data.set(Err(()));
                }
            }
        }))?;
        let [a, b] = slots;
        Ok((
            BufferBox::new(AsyncBuffer {
                slot: a,
                dtype: outs[0].0,
                len: outs[0].1,
            }),
            BufferBox::new(AsyncBuffer {
                slot: b,
                dtype: outs[1].0,
                len: outs[1].1,
            }),
        ))
    }

    /// Waits for every queued job, then reports (and clears) the first error they raised.
    fn wait(&self) -> Result<()> {
        let (tx, rx) = channel();
        self.submit(Box::new(move || {
            let _ = tx.send(());
        }))?;
        rx.recv().map_err(|_| Error::Device {
            device: self.device,
            msg: "the worker thread has stopped".into(),
        })?;
        match self.error.lock().unwrap_or_else(|e| e.into_inner()).take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Unwraps a CPU kernel's buffer and checks it has the predicted dtype and length.
fn into_cpu(b: BufferBox, dtype: DType, len: usize) -> Result<CpuBuffer> {
    if b.dtype() != dtype || b.len() != len {
        return Err(Error::invalid(
            "async",
            format!(
                "predicted {len} x {dtype}, the kernel made {} x {}",
                b.len(),
                b.dtype()
            ),
        ));
    }
    b.into_cpu()
        .ok_or_else(|| Error::invalid("async", "the CPU kernel returned a foreign buffer"))
}

impl DeviceBackend for AsyncCpuBackend {
    fn device(&self) -> Device {
        self.device
    }

    fn describe(&self) -> String {
        "async fake device (CPU kernels on a worker thread)".into()
    }

    fn supports(&self, dtype: DType) -> bool {
        !self.unsupported.contains(&dtype)
    }

    fn upload(&self, data: HostData) -> Result<BufferBox> {
        let (dtype, len) = (data.dtype(), data.len());
        self.launch(dtype, len, vec![], move |_, _| Ok(CpuBuffer::boxed(data)))
    }

    fn to_host(&self, src: View<'_>) -> Result<HostData> {
        let c = capture(src)?;
        let (tx, rx) = channel();
        self.submit(Box::new(move || {
            let cpu = CpuBackend::new();
            let _ = tx.send(c.get().and_then(|b| cpu.to_host(view_of(&c, b))));
        }))?;
        let data = rx.recv().map_err(|_| Error::Device {
            device: self.device,
            msg: "the worker thread has stopped".into(),
        })?;
        // An earlier failure surfaces first, as at a CUDA synchronisation.
        self.wait()?;
        data
    }

    fn synchronize(&self) -> Result<()> {
        self.wait()
    }

    fn memory(&self) -> &MemoryCounters {
        &self.memory
    }
}

fn n(l: &Layout) -> usize {
    l.elem_count()
}

impl Kernels for AsyncCpuBackend {
    fn fill(&self, dtype: DType, len: usize, value: Scalar) -> Result<BufferBox> {
        self.launch(dtype, len, vec![], move |cpu, _| {
            cpu.fill(dtype, len, value)
        })
    }

    fn random(
        &self,
        dist: Distribution,
        dtype: DType,
        len: usize,
        seed: u64,
        offset: u64,
    ) -> Result<BufferBox> {
        self.launch(dtype, len, vec![], move |cpu, _| {
            cpu.random(dist, dtype, len, seed, offset)
        })
    }

    fn copy(&self, src: View<'_>, dtype: DType) -> Result<BufferBox> {
        self.launch(dtype, n(src.layout), vec![capture(src)?], move |cpu, i| {
            cpu.copy(view_of(i[0].0, i[0].1), dtype)
        })
    }

    fn copy_into(&self, src: View<'_>, dst: &dyn Buffer, dst_layout: &Layout) -> Result<()> {
        let (s, d) = (
            capture(src)?,
            Captured {
                slot: slot_of(dst)?,
                layout: dst_layout.clone(),
            },
        );
        let error = self.error.clone();
        self.submit(Box::new(move || {
            let cpu = CpuBackend::new();
            let r = s.get().and_then(|sb| {
                let db = d.get()?;
                cpu.copy_into(view_of(&s, sb), db, &d.layout)
            });
            if let Err(e) = r {
                error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert(e);
            }
        }))
    }

    fn unary(&self, op: UnaryOp, src: View<'_>) -> Result<BufferBox> {
        self.launch(
            src.dtype(),
            n(src.layout),
            vec![capture(src)?],
            move |cpu, i| cpu.unary(op, view_of(i[0].0, i[0].1)),
        )
    }

    fn binary(&self, op: BinaryOp, lhs: View<'_>, rhs: View<'_>) -> Result<BufferBox> {
        let dtype = if op.is_predicate() {
            DType::Bool
        } else {
            lhs.dtype()
        };
        self.launch(
            dtype,
            n(lhs.layout),
            vec![capture(lhs)?, capture(rhs)?],
            move |cpu, i| cpu.binary(op, view_of(i[0].0, i[0].1), view_of(i[1].0, i[1].1)),
        )
    }

    fn where_cond(
        &self,
        cond: View<'_>,
        on_true: View<'_>,
        on_false: View<'_>,
    ) -> Result<BufferBox> {
        let ins = vec![capture(cond)?, capture(on_true)?, capture(on_false)?];
        self.launch(on_true.dtype(), n(cond.layout), ins, move |cpu, i| {
            cpu.where_cond(
                view_of(i[0].0, i[0].1),
                view_of(i[1].0, i[1].1),
                view_of(i[2].0, i[2].1),
            )
        })
    }

    fn reduce(&self, op: ReduceOp, src: View<'_>, dims: &[usize]) -> Result<BufferBox> {
        let len = src.layout.shape().reduced(dims, true).elem_count();
        let dtype = if matches!(op, ReduceOp::ArgMax | ReduceOp::ArgMin) {
            DType::I64
        } else {
            src.dtype()
        };
        let dims = dims.to_vec();
        self.launch(dtype, len, vec![capture(src)?], move |cpu, i| {
            cpu.reduce(op, view_of(i[0].0, i[0].1), &dims)
        })
    }

    fn matmul(&self, lhs: View<'_>, rhs: View<'_>) -> Result<BufferBox> {
        let (a, b) = (lhs.dims(), rhs.dims());
        let r = a.len();
        let len = a[..r - 1].iter().product::<usize>() * b[r - 1];
        self.launch(
            lhs.dtype(),
            len,
            vec![capture(lhs)?, capture(rhs)?],
            move |cpu, i| cpu.matmul(view_of(i[0].0, i[0].1), view_of(i[1].0, i[1].1)),
        )
    }

    fn conv2d(
        &self,
        input: View<'_>,
        weight: View<'_>,
        bias: Option<View<'_>>,
        p: &Conv2dParams,
    ) -> Result<BufferBox> {
        let p = *p;
        let len = p.batch * p.out_channels * p.out_h() * p.out_w();
        let mut inputs = vec![capture(input)?, capture(weight)?];
        if let Some(b) = bias {
            inputs.push(capture(b)?);
        }
        self.launch(input.dtype(), len, inputs, move |cpu, i| {
            let bias = i.get(2).map(|b| view_of(b.0, b.1));
            cpu.conv2d(view_of(i[0].0, i[0].1), view_of(i[1].0, i[1].1), bias, &p)
        })
    }

    fn conv2d_backward_input(
        &self,
        grad_out: View<'_>,
        weight: View<'_>,
        p: &Conv2dParams,
    ) -> Result<BufferBox> {
        let p = *p;
        let len = p.batch * p.in_channels * p.in_h * p.in_w;
        self.launch(
            grad_out.dtype(),
            len,
            vec![capture(grad_out)?, capture(weight)?],
            move |cpu, i| {
                cpu.conv2d_backward_input(view_of(i[0].0, i[0].1), view_of(i[1].0, i[1].1), &p)
            },
        )
    }

    fn conv2d_backward_weight(
        &self,
        input: View<'_>,
        grad_out: View<'_>,
        p: &Conv2dParams,
    ) -> Result<BufferBox> {
        let p = *p;
        let len = p.out_channels * (p.in_channels / p.groups) * p.kernel_h * p.kernel_w;
        self.launch(
            input.dtype(),
            len,
            vec![capture(input)?, capture(grad_out)?],
            move |cpu, i| {
                cpu.conv2d_backward_weight(view_of(i[0].0, i[0].1), view_of(i[1].0, i[1].1), &p)
            },
        )
    }

    fn max_pool2d(&self, input: View<'_>, p: &Pool2dParams) -> Result<(BufferBox, BufferBox)> {
        let p = *p;
        let len = p.batch * p.channels * p.out_h() * p.out_w();
        self.launch2(
            [(input.dtype(), len), (DType::I64, len)],
            capture(input)?,
            move |cpu, v| cpu.max_pool2d(v, &p),
        )
    }

    fn sort(&self, src: View<'_>, dim: usize, descending: bool) -> Result<(BufferBox, BufferBox)> {
        let len = n(src.layout);
        self.launch2(
            [(src.dtype(), len), (DType::I64, len)],
            capture(src)?,
            move |cpu, v| cpu.sort(v, dim, descending),
        )
    }

    fn avg_pool2d(&self, input: View<'_>, p: &Pool2dParams) -> Result<BufferBox> {
        let p = *p;
        let len = p.batch * p.channels * p.out_h() * p.out_w();
        self.launch(input.dtype(), len, vec![capture(input)?], move |cpu, i| {
            cpu.avg_pool2d(view_of(i[0].0, i[0].1), &p)
        })
    }

    fn avg_pool2d_backward(&self, grad_out: View<'_>, p: &Pool2dParams) -> Result<BufferBox> {
        let p = *p;
        let len = p.batch * p.channels * p.in_h * p.in_w;
        self.launch(
            grad_out.dtype(),
            len,
            vec![capture(grad_out)?],
            move |cpu, i| cpu.avg_pool2d_backward(view_of(i[0].0, i[0].1), &p),
        )
    }

    fn index_select(&self, src: View<'_>, dim: usize, index: View<'_>) -> Result<BufferBox> {
        let len = n(src.layout) / src.dims()[dim].max(1) * n(index.layout);
        let len = if src.dims()[dim] == 0 { 0 } else { len };
        self.launch(
            src.dtype(),
            len,
            vec![capture(src)?, capture(index)?],
            move |cpu, i| cpu.index_select(view_of(i[0].0, i[0].1), dim, view_of(i[1].0, i[1].1)),
        )
    }

    fn gather(&self, src: View<'_>, dim: usize, index: View<'_>) -> Result<BufferBox> {
        self.launch(
            src.dtype(),
            n(index.layout),
            vec![capture(src)?, capture(index)?],
            move |cpu, i| cpu.gather(view_of(i[0].0, i[0].1), dim, view_of(i[1].0, i[1].1)),
        )
    }

    fn scatter_add(
        &self,
        base: View<'_>,
        dim: usize,
        index: View<'_>,
        src: View<'_>,
    ) -> Result<BufferBox> {
        let ins = vec![capture(base)?, capture(index)?, capture(src)?];
        self.launch(base.dtype(), n(base.layout), ins, move |cpu, i| {
            cpu.scatter_add(
                view_of(i[0].0, i[0].1),
                dim,
                view_of(i[1].0, i[1].1),
                view_of(i[2].0, i[2].1),
            )
        })
    }

    fn softmax(&self, src: View<'_>, dim: usize, log: bool) -> Result<BufferBox> {
        self.launch(
            src.dtype(),
            n(src.layout),
            vec![capture(src)?],
            move |cpu, i| cpu.softmax(view_of(i[0].0, i[0].1), dim, log),
        )
    }
}
