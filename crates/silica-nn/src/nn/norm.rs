//! Normalisation layers: [`BatchNorm1d`], [`BatchNorm2d`] and [`LayerNorm`].
//!
//! Batch norm normalises each channel (dim 1) over every other dim. In training mode it uses
//! the batch's mean and *biased* variance, and updates the running statistics with the
//! *unbiased* variance; in evaluation mode it uses the running statistics. This is PyTorch's
//! behaviour, including `num_batches_tracked` and the cumulative average of `momentum: None`.

use super::init;
use super::module::{Module, Slot};
use silica_core::{no_grad, DType, Error, Result, Tensor};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};

/// Options of [`BatchNorm1d`] and [`BatchNorm2d`]; the default is PyTorch's.
///
/// # Examples
///
/// ```
/// use silica_nn::nn::BatchNormConfig;
/// let cfg = BatchNormConfig::default().with_momentum(None).with_affine(false);
/// assert_eq!((cfg.eps, cfg.momentum, cfg.affine, cfg.track_running_stats), (1e-5, None, false, true));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormConfig {
    /// Added to the variance before the square root (1e-5).
    pub eps: f64,
    /// The weight of the new batch in the running statistics (0.1); `None` keeps a
    /// cumulative average (weight `1 / num_batches_tracked`).
    pub momentum: Option<f64>,
    /// Learn a per-channel scale `weight` (ones) and shift `bias` (zeros) (true).
    pub affine: bool,
    /// Keep running statistics for evaluation (true). Without them, evaluation mode also
    /// normalises with the batch's statistics.
    pub track_running_stats: bool,
}

impl Default for BatchNormConfig {
    fn default() -> Self {
        BatchNormConfig {
            eps: 1e-5,
            momentum: Some(0.1),
            affine: true,
            track_running_stats: true,
        }
    }
}

impl BatchNormConfig {
    /// Sets `eps`.
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
    /// Sets `momentum` (`None` for a cumulative average).
    pub fn with_momentum(mut self, momentum: Option<f64>) -> Self {
        self.momentum = momentum;
        self
    }
    /// Sets `affine`.
    pub fn with_affine(mut self, affine: bool) -> Self {
        self.affine = affine;
        self
    }
    /// Sets `track_running_stats`.
    pub fn with_track_running_stats(mut self, track: bool) -> Self {
        self.track_running_stats = track;
        self
    }
}

/// The parameters, buffers and computation that [`BatchNorm1d`] and [`BatchNorm2d`] share;
/// reach its getters through either (they dereference to it).
#[derive(Debug)]
pub struct BatchNorm {
    /// The layer's name in errors.
    name: &'static str,
    /// What a channel is called in errors ("features", "channels").
    channel_word: &'static str,
    num_features: usize,
    config: BatchNormConfig,
    weight: Option<Tensor>,
    bias: Option<Tensor>,
    running_mean: Option<Tensor>,
    running_var: Option<Tensor>,
    num_batches_tracked: Option<Tensor>,
    training: AtomicBool,
}

impl BatchNorm {
    fn new(
        name: &'static str,
        channel_word: &'static str,
        num_features: usize,
        config: BatchNormConfig,
    ) -> Result<BatchNorm> {
        let (weight, bias) = if config.affine {
            (
                Some(init::full_param(&[num_features], 1.0)?),
                Some(init::full_param(&[num_features], 0.0)?),
            )
        } else {
            (None, None)
        };
        let (running_mean, running_var, num_batches_tracked) = if config.track_running_stats {
            let (device, dtype) = super::build_target();
            (
                Some(Tensor::zeros([num_features], dtype, device)?),
                Some(Tensor::ones([num_features], dtype, device)?),
                Some(Tensor::zeros((), DType::I64, device)?),
            )
        } else {
            (None, None, None)
        };
        Ok(BatchNorm {
            name,
            channel_word,
            num_features,
            config,
            weight,
            bias,
            running_mean,
            running_var,
            num_batches_tracked,
            training: AtomicBool::new(true),
        })
    }

    /// The number of channels (the size of dim 1 of the input).
    pub fn num_features(&self) -> usize {
        self.num_features
    }

    /// The options this layer was built with.
    pub fn config(&self) -> &BatchNormConfig {
        &self.config
    }

    /// The per-channel scale `[c]`, when `affine`.
    pub fn weight(&self) -> Option<&Tensor> {
        self.weight.as_ref()
    }

    /// The per-channel shift `[c]`, when `affine`.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    /// The running mean `[c]`, when `track_running_stats`.
    pub fn running_mean(&self) -> Option<&Tensor> {
        self.running_mean.as_ref()
    }

    /// The running (unbiased) variance `[c]`, when `track_running_stats`.
    pub fn running_var(&self) -> Option<&Tensor> {
        self.running_var.as_ref()
    }

    /// The number of training batches seen (an I64 scalar), when `track_running_stats`.
    pub fn num_batches_tracked(&self) -> Option<&Tensor> {
        self.num_batches_tracked.as_ref()
    }

    /// True in training mode (the initial mode).
    pub fn is_training(&self) -> bool {
        self.training.load(Ordering::Relaxed)
    }

    /// Normalises `x`, whose rank the wrapper checked, over every dim but 1.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let c = self.num_features;
        if x.dims()[1] != c {
            return Err(Error::shape(
                self.name,
                &[x.shape()],
                format!(
                    "input {} has {} {}, expected {c}",
                    x.shape(),
                    x.dims()[1],
                    self.channel_word
                ),
            ));
        }
        let mut channel_shape = vec![1usize; x.rank()];
        channel_shape[1] = c;
        let training = self.is_training();
        let normalised = match (&self.running_mean, &self.running_var) {
            (Some(rm), Some(rv)) if !training => {
                let mean = rm.reshape(channel_shape.clone())?;
                let var = rv.reshape(channel_shape.clone())?;
                x.sub(&mean)?
                    .mul(&var.add_scalar(self.config.eps)?.rsqrt()?)?
            }
            _ => {
                let n = x.elem_count() / c.max(1);
                if training && n <= 1 {
                    return Err(Error::shape(
                        self.name,
                        &[x.shape()],
                        format!(
                            "input {} has {n} value per channel, expected more than 1 in training mode",
                            x.shape()
                        ),
                    ));
                }
                // The fused batch norm applies weight and bias itself.
                let (y, mean, var) =
                    x.batch_norm_train(self.weight.as_ref(), self.bias.as_ref(), self.config.eps)?;
                if training {
                    self.update_running_stats(&mean, &var, n)?;
                }
                return Ok(y);
            }
        };
        match (&self.weight, &self.bias) {
            (Some(w), Some(b)) => normalised
                .mul(&w.reshape(channel_shape.clone())?)?
                .add(&b.reshape(channel_shape)?),
            _ => Ok(normalised),
        }
    }

    /// Blends the batch's `mean` and biased `var` (over `n` values per channel) into the
    /// running statistics, and counts the batch.
    fn update_running_stats(&self, mean: &Tensor, var: &Tensor, n: usize) -> Result<()> {
        let (Some(rm), Some(rv), Some(count)) = (
            &self.running_mean,
            &self.running_var,
            &self.num_batches_tracked,
        ) else {
            return Ok(());
        };
        let _guard = no_grad();
        count.assign(&count.add_scalar(1)?)?;
        let c = [self.num_features];
        let mean = mean.reshape(c)?;
        let unbiased = var.reshape(c)?.mul_scalar(n as f64 / (n - 1) as f64)?;
        let blend = |running: &Tensor, batch: &Tensor| -> Result<()> {
            let new = match self.config.momentum {
                Some(m) => running.mul_scalar(1.0 - m)?.add(&batch.mul_scalar(m)?)?,
                // The cumulative average, 1 / count, stays on the device: no host sync.
                None => {
                    let factor = count.to_dtype(running.dtype())?.recip()?;
                    let keep = factor.neg()?.add_scalar(1.0)?;
                    running.mul(&keep)?.add(&batch.mul(&factor)?)?
                }
            };
            running.assign(&new)
        };
        blend(rm, &mean)?;
        blend(rv, &unbiased)
    }

    fn visit(&self, f: &mut dyn FnMut(Slot<'_>)) {
        if let (Some(w), Some(b)) = (&self.weight, &self.bias) {
            f(Slot::Param("weight", w));
            f(Slot::Param("bias", b));
        }
        if let (Some(rm), Some(rv), Some(n)) = (
            &self.running_mean,
            &self.running_var,
            &self.num_batches_tracked,
        ) {
            f(Slot::Buffer("running_mean", rm));
            f(Slot::Buffer("running_var", rv));
            f(Slot::Buffer("num_batches_tracked", n));
        }
    }
}

/// What sets [`BatchNorm1d`] and [`BatchNorm2d`] apart: their name, the word for their
/// channel dim, and the input ranks they take.
pub trait BatchNormKind: Send + Sync + std::fmt::Debug {
    /// The layer's name, in errors (`"BatchNorm2d"`).
    const NAME: &'static str;
    /// What the channel dim is called in errors (`"channels"`).
    const CHANNELS: &'static str;
    /// The input ranks accepted.
    const RANKS: &'static [usize];
    /// The accepted input shapes, in errors (`"[n, c, h, w]"`).
    const SHAPES: &'static str;
}

/// A batch-norm layer over [`BatchNorm`] for inputs of the ranks `K` accepts: the one type
/// behind [`BatchNorm1d`] and [`BatchNorm2d`]. It dereferences to [`BatchNorm`] for its
/// getters.
#[derive(Debug)]
pub struct BatchNormLayer<K: BatchNormKind> {
    inner: BatchNorm,
    kind: PhantomData<K>,
}

impl<K: BatchNormKind> BatchNormLayer<K> {
    /// A layer for `num_features` channels with the default options, in F32 on the CPU (or
    /// on the target of a [`crate::nn::build_on`] guard).
    pub fn new(num_features: usize) -> Result<Self> {
        Self::with_config(num_features, BatchNormConfig::default())
    }

    /// A layer for `num_features` channels with `config`.
    pub fn with_config(num_features: usize, config: BatchNormConfig) -> Result<Self> {
        Ok(BatchNormLayer {
            inner: BatchNorm::new(K::NAME, K::CHANNELS, num_features, config)?,
            kind: PhantomData,
        })
    }
}

impl<K: BatchNormKind> std::ops::Deref for BatchNormLayer<K> {
    type Target = BatchNorm;
    fn deref(&self) -> &BatchNorm {
        &self.inner
    }
}

impl<K: BatchNormKind> Module for BatchNormLayer<K> {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if !K::RANKS.contains(&x.rank()) {
            return Err(Error::shape(
                K::NAME,
                &[x.shape()],
                format!(
                    "input {} has rank {}, expected {}",
                    x.shape(),
                    x.rank(),
                    K::SHAPES
                ),
            ));
        }
        self.inner.forward(x)
    }

    fn visit(&self, f: &mut dyn FnMut(Slot<'_>)) {
        self.inner.visit(f)
    }

    fn set_own_training(&self, training: bool) {
        self.inner.training.store(training, Ordering::Relaxed);
    }
}

/// Batch normalisation of `[n, c]` or `[n, c, l]`, per channel `c`, as `torch.nn.BatchNorm1d`.
///
/// Parameters `weight` (ones) and `bias` (zeros), buffers `running_mean` (zeros),
/// `running_var` (ones) and `num_batches_tracked` (an I64 scalar), all in PyTorch's
/// `state_dict` names. Its getters are those of [`BatchNorm`].
///
/// # Examples
///
/// ```
/// use silica_core::{Device, Tensor};
/// use silica_nn::nn::{BatchNorm1d, Module};
/// # fn main() -> silica_core::Result<()> {
/// let bn = BatchNorm1d::new(2)?;
/// let x = Tensor::from_slice(&[1.0f32, 10.0, 3.0, 30.0], [2, 2], Device::Cpu)?;
/// let y = bn.forward(&x)?; // training mode: batch statistics
/// assert!((y.to_vec::<f32>()?[0] + 1.0).abs() < 1e-4);
/// // running_mean = 0.9 * 0 + 0.1 * [2, 20]
/// let rm = bn.running_mean().unwrap().to_vec::<f32>()?;
/// assert!((rm[0] - 0.2).abs() < 1e-6 && (rm[1] - 2.0).abs() < 1e-6);
/// bn.eval();
/// assert_eq!(bn.forward(&x)?.dims(), &[2, 2]);
/// # Ok(()) }
/// ```
pub type BatchNorm1d = BatchNormLayer<Norm1d>;

/// The [`BatchNormKind`] of [`BatchNorm1d`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Norm1d;

impl BatchNormKind for Norm1d {
    const NAME: &'static str = "BatchNorm1d";
    const CHANNELS: &'static str = "features";
    const RANKS: &'static [usize] = &[2, 3];
    const SHAPES: &'static str = "[n, c] or [n, c, l]";
}

/// Batch normalisation of `[n, c, h, w]`, per channel `c`, as `torch.nn.BatchNorm2d`.
///
/// The same parameters and buffers as [`BatchNorm1d`]; its getters are those of
/// [`BatchNorm`].
///
/// # Examples
///
/// ```
/// use silica_core::{DType, Device, Tensor};
/// use silica_nn::nn::{BatchNorm2d, BatchNormConfig, Module};
/// # fn main() -> silica_core::Result<()> {
/// let bn = BatchNorm2d::with_config(3, BatchNormConfig::default().with_momentum(Some(0.5)))?;
/// let x = Tensor::ones([4, 3, 8, 8], DType::F32, Device::Cpu)?;
/// assert_eq!(bn.forward(&x)?.dims(), &[4, 3, 8, 8]);
/// assert_eq!(bn.num_batches_tracked().unwrap().item::<i64>()?, 1);
/// assert_eq!(
///     bn.forward(&Tensor::ones([4, 2, 8, 8], DType::F32, Device::Cpu)?).unwrap_err().to_string(),
///     "BatchNorm2d: input [4, 2, 8, 8] has 2 channels, expected 3"
/// );
/// # Ok(()) }
/// ```
pub type BatchNorm2d = BatchNormLayer<Norm2d>;

/// The [`BatchNormKind`] of [`BatchNorm2d`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Norm2d;

impl BatchNormKind for Norm2d {
    const NAME: &'static str = "BatchNorm2d";
    const CHANNELS: &'static str = "channels";
    const RANKS: &'static [usize] = &[4];
    const SHAPES: &'static str = "[n, c, h, w]";
}

/// Options of [`LayerNorm`]; the default is PyTorch's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerNormConfig {
    /// Added to the variance before the square root (1e-5).
    pub eps: f64,
    /// Learn an elementwise `weight` (ones) and `bias` (zeros) of the normalized shape (true).
    pub elementwise_affine: bool,
}

impl Default for LayerNormConfig {
    fn default() -> Self {
        LayerNormConfig {
            eps: 1e-5,
            elementwise_affine: true,
        }
    }
}

/// Layer normalisation over the last dims, as `torch.nn.LayerNorm`: input `[.., *shape]`
/// where `shape` is the normalized shape, output of the same shape. Each slice over the last
/// dims is normalised with its own mean and biased variance, then scaled by `weight` and
/// shifted by `bias` (both of the normalized shape).
///
/// # Examples
///
/// ```
/// use silica_core::{Device, Tensor};
/// use silica_nn::nn::{LayerNorm, Module};
/// # fn main() -> silica_core::Result<()> {
/// let ln = LayerNorm::new(&[2])?;
/// let x = Tensor::from_slice(&[1.0f32, 3.0, -5.0, 5.0], [2, 2], Device::Cpu)?;
/// let y = ln.forward(&x)?.to_vec::<f32>()?;
/// assert!(y.iter().zip([-1.0f32, 1.0, -1.0, 1.0]).all(|(a, b)| (a - b).abs() < 1e-4));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LayerNorm {
    normalized_shape: Vec<usize>,
    config: LayerNormConfig,
    weight: Option<Tensor>,
    bias: Option<Tensor>,
}

impl LayerNorm {
    /// A layer normalising over the last dims, of sizes `normalized_shape`, with the default
    /// options, in F32 on the CPU.
    pub fn new(normalized_shape: &[usize]) -> Result<LayerNorm> {
        LayerNorm::with_config(normalized_shape, LayerNormConfig::default())
    }

    /// A layer normalising over the last dims, of sizes `normalized_shape`, with `config`.
    pub fn with_config(normalized_shape: &[usize], config: LayerNormConfig) -> Result<LayerNorm> {
        if normalized_shape.is_empty() {
            return Err(Error::invalid(
                "LayerNorm",
                "the normalized shape must have at least one dim",
            ));
        }
        let (weight, bias) = if config.elementwise_affine {
            (
                Some(init::full_param(normalized_shape, 1.0)?),
                Some(init::full_param(normalized_shape, 0.0)?),
            )
        } else {
            (None, None)
        };
        Ok(LayerNorm {
            normalized_shape: normalized_shape.to_vec(),
            config,
            weight,
            bias,
        })
    }

    /// The sizes of the normalised last dims.
    pub fn normalized_shape(&self) -> &[usize] {
        &self.normalized_shape
    }

    /// The elementwise scale, when `elementwise_affine`.
    pub fn weight(&self) -> Option<&Tensor> {
        self.weight.as_ref()
    }

    /// The elementwise shift, when `elementwise_affine`.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let k = self.normalized_shape.len();
        if x.rank() < k || x.dims()[x.rank() - k..] != self.normalized_shape[..] {
            return Err(Error::shape(
                "LayerNorm",
                &[x.shape()],
                format!(
                    "input {} does not end with the normalized shape {:?}",
                    x.shape(),
                    self.normalized_shape
                ),
            ));
        }
        let dims: Vec<usize> = (x.rank() - k..x.rank()).collect();
        let centered = x.sub(&x.mean(dims.clone(), true)?)?;
        let var = centered.square()?.mean(dims, true)?;
        let y = centered.mul(&var.add_scalar(self.config.eps)?.rsqrt()?)?;
        match (&self.weight, &self.bias) {
            (Some(w), Some(b)) => y.mul(w)?.add(b),
            _ => Ok(y),
        }
    }

    fn visit(&self, f: &mut dyn FnMut(Slot<'_>)) {
        if let (Some(w), Some(b)) = (&self.weight, &self.bias) {
            f(Slot::Param("weight", w));
            f(Slot::Param("bias", b));
        }
    }
}
