//! The [`DataLoader`]: batches of a [`Dataset`], shuffled per epoch, fetched by worker threads,
//! delivered in order.

use super::{randperm, share, Dataset};
use silica_core::backend::Distribution;
use silica_core::rng::blocks_needed;
use silica_core::{DType, Device, Error, Generator, GeneratorState, Result, Tensor};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// How a [`DataLoader`] batches, orders, fetches and places samples.
///
/// # Examples
///
/// ```
/// use silica_nn::data::DataLoaderConfig;
/// let config = DataLoaderConfig { batch_size: 64, shuffle: true, seed: 7, ..Default::default() };
/// assert_eq!(config.num_workers, 0);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataLoaderConfig {
    /// Samples per batch (at least 1). Default 1.
    pub batch_size: usize,
    /// Draw a new seeded permutation of the samples each epoch. Default false (in order).
    pub shuffle: bool,
    /// The seed of the shuffling permutations. Default 0.
    pub seed: u64,
    /// Leave out the last batch when it is shorter than `batch_size`. Default false.
    pub drop_last: bool,
    /// Worker threads loading batches in parallel; 0 loads in the caller's thread. Default 0.
    pub num_workers: usize,
    /// Batches queued per worker ahead of the consumer (at least 1). Default 2.
    pub prefetch_factor: usize,
    /// The device every batch is moved to. Default the CPU.
    pub device: Device,
}

impl Default for DataLoaderConfig {
    fn default() -> Self {
        DataLoaderConfig {
            batch_size: 1,
            shuffle: false,
            seed: 0,
            drop_last: false,
            num_workers: 0,
            prefetch_factor: 2,
            device: Device::Cpu,
        }
    }
}

/// Batches of a [`Dataset`]: each field of the samples stacked into a `[batch, ...]` tensor on
/// the configured device.
///
/// An epoch's sample order is `0..len`, or with `shuffle` the permutation
/// [`randperm`]`(len, g)` where `g` is `Generator::new(seed)` advanced past the draws of the
/// earlier epochs: epoch `k` is the `k`-th permutation that one generator of `seed` would draw,
/// so a resumed run reproduces epoch `k` with [`DataLoader::iter_epoch`] or
/// [`DataLoader::set_epoch`] without replaying epochs `0..k`. The order is cut into batches of
/// `batch_size` indices (the last one shorter unless `drop_last`).
///
/// With `num_workers == 0` the caller's thread loads each batch when `next` is called. With `N`
/// workers, the iterator starts `N` threads on its first `next`; they take batch numbers from
/// one shared queue, load each sample with [`Dataset::get`], stack each field with
/// [`Tensor::stack`] on dim 0, move the batch to the target device, and send it back. At most
/// `N * prefetch_factor` batches are queued or waiting at once; the iterator reorders them so
/// batches arrive in order, whatever the thread timing: `N` workers give the same batches as 0.
///
/// The first failure (a `get` error, a collation error, or a panic in `get`) comes back as an
/// `Err` naming the batch and the sample, in its place in the order, and ends the iteration
/// (an [`Error::InvalidArgument`] of op `DataLoader` whose message quotes the original error).
/// Dropping the iterator (or finishing or failing) stops the workers: each finishes at most the
/// sample it is loading, and the drop joins them.
///
/// # Examples
///
/// ```
/// use silica_core::{Tensor, DType, Device};
/// use silica_nn::data::{DataLoader, DataLoaderConfig, TensorDataset};
/// # fn main() -> silica_core::Result<()> {
/// let x = Tensor::rand([10, 3], DType::F32, Device::Cpu)?;
/// let y = Tensor::arange(0.0, 10.0, 1.0, DType::I64, Device::Cpu)?;
/// let config = DataLoaderConfig { batch_size: 4, shuffle: true, num_workers: 2, ..Default::default() };
/// let loader = DataLoader::new(TensorDataset::new(vec![x, y])?, config)?;
/// assert_eq!(loader.len(), 3); // 4 + 4 + 2
/// for epoch in 0..2 {
///     for batch in loader.iter_epoch(epoch) {
///         let batch = batch?; // [features [b, 3], labels [b]]
///         assert_eq!(batch[0].dims()[1], 3);
///         assert_eq!(batch[1].dtype(), DType::I64);
///     }
/// }
/// # Ok(()) }
/// ```
pub struct DataLoader {
    dataset: Arc<dyn Dataset>,
    config: DataLoaderConfig,
    /// The epoch that the next [`DataLoader::iter`] runs.
    epoch: AtomicU64,
}

impl DataLoader {
    /// A loader over `dataset` (any `Dataset + 'static`, including an `Arc<dyn Dataset>`).
    /// Fails when `batch_size` or `prefetch_factor` is 0.
    pub fn new(dataset: impl Dataset + 'static, config: DataLoaderConfig) -> Result<Self> {
        if config.batch_size == 0 || config.prefetch_factor == 0 {
            return Err(Error::invalid(
                "DataLoader",
                format!(
                    "batch_size ({}) and prefetch_factor ({}) must be at least 1",
                    config.batch_size, config.prefetch_factor
                ),
            ));
        }
        Ok(DataLoader {
            dataset: share(dataset),
            config,
            epoch: AtomicU64::new(0),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &DataLoaderConfig {
        &self.config
    }

    /// The dataset.
    pub fn dataset(&self) -> &Arc<dyn Dataset> {
        &self.dataset
    }

    /// Number of batches per epoch.
    pub fn len(&self) -> usize {
        let (n, b) = (self.dataset.len(), self.config.batch_size);
        if self.config.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// True when an epoch has no batches.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The epoch that the next [`DataLoader::iter`] runs.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }

    /// Makes the next [`DataLoader::iter`] run `epoch` (to resume a run).
    pub fn set_epoch(&self, epoch: u64) {
        self.epoch.store(epoch, Ordering::Relaxed);
    }

    /// The batches of the next epoch: the first call runs epoch 0, the next epoch 1, and so on.
    pub fn iter(&self) -> Batches {
        self.iter_epoch(self.epoch.fetch_add(1, Ordering::Relaxed))
    }

    /// The batches of `epoch`, independent of earlier calls.
    pub fn iter_epoch(&self, epoch: u64) -> Batches {
        let c = &self.config;
        let (batches, pending) = match self.indices(epoch) {
            Ok(order) => {
                let mut batches: Vec<Vec<usize>> =
                    order.chunks(c.batch_size).map(<[usize]>::to_vec).collect();
                if c.drop_last && batches.last().is_some_and(|b| b.len() < c.batch_size) {
                    batches.pop();
                }
                (batches, None)
            }
            Err(e) => (Vec::new(), Some(e)),
        };
        Batches {
            dataset: self.dataset.clone(),
            batches,
            next: 0,
            num_workers: c.num_workers,
            prefetch: c.num_workers * c.prefetch_factor,
            device: c.device,
            pending,
            workers: None,
            done: false,
        }
    }

    /// The sample order of `epoch`: `0..len`, or its seeded permutation when shuffling.
    pub fn indices(&self, epoch: u64) -> Result<Vec<usize>> {
        let n = self.dataset.len();
        if !self.config.shuffle {
            return Ok((0..n).collect());
        }
        // Skip the blocks that the permutations of epochs 0..epoch take, so this is the
        // epoch-th permutation drawn from Generator::new(seed).
        let per_epoch = blocks_needed(Distribution::Int { low: 0, high: 1 }, DType::I64, n);
        let g = Generator::new(self.config.seed);
        g.set_state(GeneratorState {
            seed: self.config.seed,
            offset: epoch.wrapping_mul(per_epoch),
        });
        randperm(n, &g)
    }
}

impl std::fmt::Debug for DataLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataLoader")
            .field("samples", &self.dataset.len())
            .field("config", &self.config)
            .field("epoch", &self.epoch())
            .finish()
    }
}

impl IntoIterator for &DataLoader {
    type Item = Result<Vec<Tensor>>;
    type IntoIter = Batches;

    fn into_iter(self) -> Batches {
        self.iter()
    }
}

/// The batches of one epoch, from [`DataLoader::iter`] or [`DataLoader::iter_epoch`].
///
/// Yields `Ok(fields)` with one `[batch, ...]` tensor per sample field, or one `Err` naming the
/// batch and sample that failed, after which it ends. Dropping it stops and joins its workers.
pub struct Batches {
    dataset: Arc<dyn Dataset>,
    /// The sample indices of each batch of the epoch.
    batches: Vec<Vec<usize>>,
    /// The next batch to yield.
    next: usize,
    num_workers: usize,
    /// Most batches dispatched to workers and not yet yielded.
    prefetch: usize,
    device: Device,
    /// An error from building the epoch, yielded first.
    pending: Option<Error>,
    workers: Option<Workers>,
    done: bool,
}

impl Iterator for Batches {
    type Item = Result<Vec<Tensor>>;

    fn next(&mut self) -> Option<Result<Vec<Tensor>>> {
        if let Some(e) = self.pending.take() {
            self.finish();
            return Some(Err(e));
        }
        if self.done || self.next >= self.batches.len() {
            self.finish();
            return None;
        }
        let b = self.next;
        let result = if self.num_workers == 0 {
            load_batch(&*self.dataset, b, &self.batches[b], self.device, None)
        } else {
            self.next_from_workers(b)
        };
        self.next += 1;
        if result.is_err() || self.next >= self.batches.len() {
            self.finish();
        }
        Some(result)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // An error ends the epoch early, so only the upper bound is exact.
        let left = if self.done {
            0
        } else {
            self.batches.len() - self.next + self.pending.is_some() as usize
        };
        (0, Some(left))
    }
}

impl Batches {
    /// Waits for batch `b` from the workers (starting them on the first call).
    fn next_from_workers(&mut self, b: usize) -> Result<Vec<Tensor>> {
        if self.workers.is_none() {
            let threads = self.num_workers.min(self.batches.len());
            let workers = Workers::start(threads, self.dataset.clone(), self.device)?;
            self.workers = Some(workers);
            let ahead = self.prefetch.min(self.batches.len());
            for i in 0..ahead {
                self.dispatch(i);
            }
        }
        let workers = self.workers.as_mut().expect("started above");
        let result = loop {
            if let Some(r) = workers.ready.remove(&b) {
                break r;
            }
            match workers.results.recv() {
                Ok((i, r)) => {
                    workers.ready.insert(i, r);
                }
                Err(_) => {
                    break Err(Error::invalid(
                        "DataLoader",
                        format!("batch {b}: every worker thread stopped before delivering it"),
                    ))
                }
            }
        };
        // One batch leaves the window: let the next one in.
        if b + self.prefetch < self.batches.len() {
            self.dispatch(b + self.prefetch);
        }
        result
    }

    fn dispatch(&mut self, b: usize) {
        if let Some(tasks) = self.workers.as_ref().and_then(|w| w.tasks.as_ref()) {
            // A send fails only when every worker has exited; `recv` then reports it.
            let _ = tasks.send((b, self.batches[b].clone()));
        }
    }

    /// Ends the epoch: no more batches, and the workers are stopped and joined.
    fn finish(&mut self) {
        self.done = true;
        self.workers = None;
    }
}

impl std::fmt::Debug for Batches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batches")
            .field("batches", &self.batches.len())
            .field("next", &self.next)
            .field("num_workers", &self.num_workers)
            .field("done", &self.done)
            .finish()
    }
}

/// A batch number and its sample indices.
type Task = (usize, Vec<usize>);

/// Running worker threads and the channels to them.
struct Workers {
    /// `None` once dropped, which tells idle workers to exit.
    tasks: Option<Sender<Task>>,
    results: Receiver<(usize, Result<Vec<Tensor>>)>,
    /// Batches that arrived ahead of their turn.
    ready: HashMap<usize, Result<Vec<Tensor>>>,
    /// Set on drop; a busy worker checks it between samples.
    cancel: Arc<AtomicBool>,
    handles: Vec<JoinHandle<()>>,
}

impl Workers {
    fn start(threads: usize, dataset: Arc<dyn Dataset>, device: Device) -> Result<Workers> {
        let (task_tx, task_rx) = channel::<Task>();
        let (result_tx, result_rx) = channel();
        let task_rx = Arc::new(Mutex::new(task_rx));
        let mut workers = Workers {
            tasks: Some(task_tx),
            results: result_rx,
            ready: HashMap::new(),
            cancel: Arc::new(AtomicBool::new(false)),
            handles: Vec::with_capacity(threads),
        };
        for w in 0..threads {
            let (dataset, tasks, results) = (dataset.clone(), task_rx.clone(), result_tx.clone());
            let cancel = workers.cancel.clone();
            let handle = std::thread::Builder::new()
                .name(format!("silica-data-{w}"))
                .spawn(move || worker(&*dataset, &tasks, &results, &cancel, device))
                .map_err(|e| {
                    Error::invalid("DataLoader", format!("cannot start worker thread {w}: {e}"))
                })?;
            workers.handles.push(handle);
        }
        Ok(workers)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
        // Idle workers see the closed queue; busy ones see `cancel` after their sample.
        self.tasks = None;
        for h in self.handles.drain(..) {
            // Panics in `get` are caught inside the worker, so a join error cannot carry one.
            let _ = h.join();
        }
    }
}

/// A worker thread's loop: take a batch, load it, send it back, until the queue closes.
fn worker(
    dataset: &dyn Dataset,
    tasks: &Mutex<Receiver<Task>>,
    results: &Sender<(usize, Result<Vec<Tensor>>)>,
    cancel: &AtomicBool,
    device: Device,
) {
    loop {
        let task = tasks.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok((b, indices)) = task else { return };
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        let result = load_batch(dataset, b, &indices, device, Some(cancel));
        if results.send((b, result)).is_err() {
            return;
        }
    }
}

/// Loads batch `b` (samples `indices`), stacks it and moves it to `device`. A panic in the
/// dataset becomes an `Err`. Stops early (with an error nobody reads) once `cancel` is set.
fn load_batch(
    dataset: &dyn Dataset,
    b: usize,
    indices: &[usize],
    device: Device,
    cancel: Option<&AtomicBool>,
) -> Result<Vec<Tensor>> {
    let current = std::cell::Cell::new(None);
    let run = || -> Result<Vec<Tensor>> {
        let mut samples: Vec<Vec<Tensor>> = Vec::with_capacity(indices.len());
        for &i in indices {
            if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                return Err(Error::invalid("DataLoader", "cancelled"));
            }
            current.set(Some(i));
            let sample = dataset
                .get(i)
                .map_err(|e| e.context(format!("DataLoader: batch {b}, sample {i}")))?;
            let fields = samples.first().map_or(sample.len(), Vec::len);
            if sample.is_empty() || sample.len() != fields {
                return Err(batch_error(
                    b,
                    format!(
                        "sample {i} has {} fields, expected {} (as sample {}) and at least 1",
                        sample.len(),
                        fields,
                        indices[0]
                    ),
                ));
            }
            samples.push(sample);
        }
        current.set(None);
        collate(&samples, b, indices)?
            .iter()
            .map(|t| t.to_device(device))
            .collect::<Result<Vec<_>>>()
            .map_err(|e| e.context(format!("DataLoader: batch {b}, moving it to {device}")))
    };
    catch_unwind(AssertUnwindSafe(run)).unwrap_or_else(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a non-string panic payload".into());
        let at = match current.get() {
            Some(i) => format!("loading sample {i}"),
            None => "collating".into(),
        };
        Err(batch_error(b, format!("panic while {at}: {msg}")))
    })
}

/// Stacks field `f` of every sample into one `[batch, ...]` tensor, for each field.
fn collate(samples: &[Vec<Tensor>], b: usize, indices: &[usize]) -> Result<Vec<Tensor>> {
    let fields = samples.first().map_or(0, Vec::len);
    (0..fields)
        .map(|f| {
            let first = &samples[0][f];
            if let Some(j) = samples.iter().position(|s| s[f].shape() != first.shape()) {
                return Err(batch_error(
                    b,
                    format!(
                        "field {f} of sample {} has shape {}, but sample {} has shape {}",
                        indices[j],
                        samples[j][f].shape(),
                        indices[0],
                        first.shape()
                    ),
                ));
            }
            let refs: Vec<&Tensor> = samples.iter().map(|s| &s[f]).collect();
            Tensor::stack(&refs, 0)
                .map_err(|e| e.context(format!("DataLoader: batch {b}, field {f}")))
        })
        .collect()
}

fn batch_error(b: usize, msg: String) -> Error {
    Error::invalid("DataLoader", format!("batch {b}, {msg}"))
}
