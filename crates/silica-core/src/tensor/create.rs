//! Creating tensors: from data, filled, ranges, identity, random.

use super::Tensor;
use crate::backend::{get, Distribution};
use crate::rng::{blocks_needed, default_generator, Generator};
use crate::{DType, Device, Element, Error, HostData, Result, Scalar, Shape};

impl Tensor {
    /// A tensor holding `data` with `shape`, on `device`.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Tensor, Device};
    /// let t = Tensor::from_slice(&[1i64, 2, 3, 4, 5, 6], [2, 3], Device::Cpu).unwrap();
    /// assert_eq!(t.dims(), &[2, 3]);
    /// ```
    pub fn from_slice<T: Element>(
        data: &[T],
        shape: impl Into<Shape>,
        device: Device,
    ) -> Result<Tensor> {
        Tensor::from_vec(data.to_vec(), shape, device)
    }

    /// A tensor that takes ownership of `data`, with `shape`, on `device`.
    pub fn from_vec<T: Element>(
        data: Vec<T>,
        shape: impl Into<Shape>,
        device: Device,
    ) -> Result<Tensor> {
        Tensor::from_host(T::into_host(data), shape, device)
    }

    /// A tensor from typed host data, with `shape`, on `device`.
    pub fn from_host(data: HostData, shape: impl Into<Shape>, device: Device) -> Result<Tensor> {
        let shape = shape.into();
        let n = shape.checked_elem_count("from_vec")?;
        if n != data.len() {
            return Err(Error::shape(
                "from_vec",
                &[&shape],
                format!(
                    "{} elements cannot fill shape {shape} ({n} elements)",
                    data.len()
                ),
            ));
        }
        let backend = get(device)?;
        backend.check_dtype("from_vec", data.dtype())?;
        let buf = backend.upload(data)?;
        Ok(Tensor::from_buffer(backend, buf, &shape, None))
    }

    /// A zero-dimensional tensor holding `value`.
    pub fn scalar<T: Element>(value: T, device: Device) -> Result<Tensor> {
        Tensor::from_vec(vec![value], (), device)
    }

    /// A tensor of `shape` filled with `value`, converted to `dtype` as
    /// [`Scalar::cast_checked`] does (so a value out of the dtype's range is an error).
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Tensor, DType, Device};
    /// let t = Tensor::full([2, 2], 7, DType::I32, Device::Cpu).unwrap();
    /// assert_eq!(t.to_vec::<i32>().unwrap(), vec![7; 4]);
    /// assert!(Tensor::full([2], f64::INFINITY, DType::I32, Device::Cpu).is_err());
    /// ```
    pub fn full(
        shape: impl Into<Shape>,
        value: impl Into<Scalar>,
        dtype: DType,
        device: Device,
    ) -> Result<Tensor> {
        let value = value.into().cast_checked(dtype, "full")?;
        Tensor::filled(shape, value, dtype, device)
    }

    /// A tensor of `shape` whose every element is `value` converted to `dtype` as a cast does
    /// (no range check: the caller's value fits, or an op means to wrap or round it).
    pub(crate) fn filled(
        shape: impl Into<Shape>,
        value: impl Into<Scalar>,
        dtype: DType,
        device: Device,
    ) -> Result<Tensor> {
        let shape = shape.into();
        let n = shape.checked_elem_count("full")?;
        let backend = get(device)?;
        backend.check_dtype("full", dtype)?;
        let buf = backend.fill(dtype, n, value.into())?;
        Ok(Tensor::from_buffer(backend, buf, &shape, None))
    }

    /// A tensor of zeros.
    pub fn zeros(shape: impl Into<Shape>, dtype: DType, device: Device) -> Result<Tensor> {
        Tensor::filled(shape, 0.0, dtype, device)
    }

    /// A tensor of ones.
    pub fn ones(shape: impl Into<Shape>, dtype: DType, device: Device) -> Result<Tensor> {
        Tensor::filled(shape, 1.0, dtype, device)
    }

    /// Zeros with this tensor's shape, dtype and device.
    pub fn zeros_like(&self) -> Result<Tensor> {
        Tensor::zeros(self.shape(), self.dtype(), self.device())
    }

    /// Ones with this tensor's shape, dtype and device.
    pub fn ones_like(&self) -> Result<Tensor> {
        Tensor::ones(self.shape(), self.dtype(), self.device())
    }

    /// `value` with this tensor's shape, dtype and device.
    pub fn full_like(&self, value: impl Into<Scalar>) -> Result<Tensor> {
        Tensor::full(self.shape(), value, self.dtype(), self.device())
    }

    /// Uniform samples on `[0, 1)` with this tensor's shape, dtype and device.
    pub fn rand_like(&self) -> Result<Tensor> {
        Tensor::rand(self.shape(), self.dtype(), self.device())
    }

    /// Standard normal samples with this tensor's shape, dtype and device.
    pub fn randn_like(&self) -> Result<Tensor> {
        Tensor::randn(self.shape(), self.dtype(), self.device())
    }

    /// `start, start + step, ...` up to but excluding `end`, as `torch.arange`. For an integer
    /// dtype, `start`, `end` and `step` are first truncated to integers, as PyTorch does (so a
    /// step of 0.5 is an error there).
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Tensor, DType, Device};
    /// let t = Tensor::arange(0.0, 1.0, 0.25, DType::F64, Device::Cpu).unwrap();
    /// assert_eq!(t.to_vec::<f64>().unwrap(), vec![0.0, 0.25, 0.5, 0.75]);
    /// ```
    pub fn arange(start: f64, end: f64, step: f64, dtype: DType, device: Device) -> Result<Tensor> {
        if step == 0.0 || !step.is_finite() || !start.is_finite() || !end.is_finite() {
            return Err(Error::invalid(
                "arange",
                format!(
                    "start {start}, end {end} and step {step} must be finite, with a non-zero step"
                ),
            ));
        }
        let (start, end, step) = if dtype.is_float() {
            (start, end, step)
        } else {
            (start.trunc(), end.trunc(), step.trunc())
        };
        if step == 0.0 {
            return Err(Error::invalid(
                "arange",
                format!("step {step} truncates to 0 for dtype {dtype}"),
            ));
        }
        if (end - start) * step < 0.0 {
            return Err(Error::invalid(
                "arange",
                format!("step {step} moves away from end {end} (start {start})"),
            ));
        }
        let n = ((end - start) / step).ceil().max(0.0) as usize;
        let v: Vec<f64> = (0..n).map(|i| start + i as f64 * step).collect();
        Tensor::from_host(HostData::from_f64s(dtype, &v), [n], device)
    }

    /// `steps` evenly spaced values from `start` to `end` inclusive, as `torch.linspace` (an
    /// integer dtype truncates `start` and `end` first, then each value).
    pub fn linspace(
        start: f64,
        end: f64,
        steps: usize,
        dtype: DType,
        device: Device,
    ) -> Result<Tensor> {
        // As PyTorch, an integer dtype truncates the ends first.
        let (start, end) = if dtype.is_float() {
            (start, end)
        } else {
            (start.trunc(), end.trunc())
        };
        let v: Vec<f64> = match steps {
            0 => vec![],
            1 => vec![start],
            _ => {
                let step = (end - start) / (steps - 1) as f64;
                // PyTorch fills the second half backwards from `end`, so the end is exact.
                let half = steps / 2;
                (0..steps)
                    .map(|i| {
                        if i < half {
                            start + step * i as f64
                        } else {
                            end - step * (steps - 1 - i) as f64
                        }
                    })
                    .collect()
            }
        };
        Tensor::from_host(HostData::from_f64s(dtype, &v), [steps], device)
    }

    /// The `n x n` identity matrix.
    pub fn eye(n: usize, dtype: DType, device: Device) -> Result<Tensor> {
        let mut v = vec![0.0f64; n * n];
        for i in 0..n {
            v[i * n + i] = 1.0;
        }
        Tensor::from_host(HostData::from_f64s(dtype, &v), [n, n], device)
    }

    /// Uniform samples on `[0, 1)` from the default generator (see [`crate::manual_seed`]).
    pub fn rand(shape: impl Into<Shape>, dtype: DType, device: Device) -> Result<Tensor> {
        default_generator().rand(shape, dtype, device)
    }

    /// Standard normal samples from the default generator.
    pub fn randn(shape: impl Into<Shape>, dtype: DType, device: Device) -> Result<Tensor> {
        default_generator().randn(shape, dtype, device)
    }

    /// Uniform integers on `[low, high)` from the default generator.
    pub fn randint(
        low: i64,
        high: i64,
        shape: impl Into<Shape>,
        dtype: DType,
        device: Device,
    ) -> Result<Tensor> {
        default_generator().randint(low, high, shape, dtype, device)
    }
}

impl Generator {
    /// Samples of `dist` with `shape` and `dtype`, taking the next blocks of this stream.
    pub fn sample(
        &self,
        dist: Distribution,
        shape: impl Into<Shape>,
        dtype: DType,
        device: Device,
    ) -> Result<Tensor> {
        let shape = shape.into();
        let n = shape.checked_elem_count("rand")?;
        let backend = get(device)?;
        backend.check_dtype("rand", dtype)?;
        let (seed, offset) = self.take(blocks_needed(dist, dtype, n));
        let buf = backend.random(dist, dtype, n, seed, offset)?;
        Ok(Tensor::from_buffer(backend, buf, &shape, None))
    }

    /// Uniform samples on `[0, 1)`.
    pub fn rand(&self, shape: impl Into<Shape>, dtype: DType, device: Device) -> Result<Tensor> {
        self.uniform(shape, 0.0, 1.0, dtype, device)
    }

    /// Uniform samples on `[low, high)`.
    pub fn uniform(
        &self,
        shape: impl Into<Shape>,
        low: f64,
        high: f64,
        dtype: DType,
        device: Device,
    ) -> Result<Tensor> {
        if !dtype.is_float() {
            return Err(Error::dtype(
                "rand",
                dtype,
                "a float dtype (use randint for integers)",
            ));
        }
        if low.is_nan() || high.is_nan() || low > high {
            return Err(Error::invalid(
                "uniform",
                format!("low {low} must not exceed high {high}"),
            ));
        }
        self.sample(Distribution::Uniform { low, high }, shape, dtype, device)
    }

    /// Standard normal samples.
    pub fn randn(&self, shape: impl Into<Shape>, dtype: DType, device: Device) -> Result<Tensor> {
        self.normal(shape, 0.0, 1.0, dtype, device)
    }

    /// Normal samples with this mean and standard deviation.
    pub fn normal(
        &self,
        shape: impl Into<Shape>,
        mean: f64,
        std: f64,
        dtype: DType,
        device: Device,
    ) -> Result<Tensor> {
        if !dtype.is_float() {
            return Err(Error::dtype("randn", dtype, "a float dtype"));
        }
        if std.is_nan() || std < 0.0 {
            return Err(Error::invalid(
                "normal",
                format!("std {std} must be non-negative"),
            ));
        }
        self.sample(Distribution::Normal { mean, std }, shape, dtype, device)
    }

    /// Uniform integers on `[low, high)`.
    pub fn randint(
        &self,
        low: i64,
        high: i64,
        shape: impl Into<Shape>,
        dtype: DType,
        device: Device,
    ) -> Result<Tensor> {
        if low >= high {
            return Err(Error::invalid(
                "randint",
                format!("low {low} must be below high {high}"),
            ));
        }
        self.sample(Distribution::Int { low, high }, shape, dtype, device)
    }
}
