//! 2-D pooling: [`Pool2dConfig`], max, average and adaptive average pooling. The average
//! pooling's gradient lives in `autograd/pool.rs`.

use super::Tensor;
use crate::autograd::{record, Op};
use crate::backend::Pool2dParams;
use crate::{Error, Result, Shape};

/// Hyper-parameters of [`Tensor::max_pool2d`] and [`Tensor::avg_pool2d`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dConfig {
    /// Window size.
    pub kernel: [usize; 2],
    /// Step between windows; PyTorch's default is the window size.
    pub stride: [usize; 2],
    /// Implicit padding on each side (at most half the window).
    pub padding: [usize; 2],
    /// Use `ceil` for the output size.
    pub ceil_mode: bool,
    /// Average pooling: count padded elements in the divisor (PyTorch's default, true).
    pub count_include_pad: bool,
}

impl Pool2dConfig {
    /// A square `k x k` window with stride `k` and no padding.
    pub fn new(k: usize) -> Self {
        Pool2dConfig {
            kernel: [k, k],
            stride: [k, k],
            padding: [0, 0],
            ceil_mode: false,
            count_include_pad: true,
        }
    }
    /// The same stride in both dims.
    pub fn with_stride(mut self, s: usize) -> Self {
        self.stride = [s, s];
        self
    }
    /// The same padding in both dims.
    pub fn with_padding(mut self, p: usize) -> Self {
        self.padding = [p, p];
        self
    }
}

impl Tensor {
    fn pool_params(&self, name: &'static str, cfg: &Pool2dConfig) -> Result<Pool2dParams> {
        if self.rank() != 4 {
            return Err(Error::shape(
                name,
                &[self.shape()],
                format!("expected input [n, c, h, w], got {}", self.shape()),
            ));
        }
        if cfg.kernel.contains(&0) || cfg.stride.contains(&0) {
            return Err(Error::invalid(
                name,
                format!("kernel and stride must be positive, got {cfg:?}"),
            ));
        }
        if cfg.padding[0] * 2 > cfg.kernel[0] || cfg.padding[1] * 2 > cfg.kernel[1] {
            return Err(Error::invalid(
                name,
                format!(
                    "padding {:?} should be at most half of kernel {:?}",
                    cfg.padding, cfg.kernel
                ),
            ));
        }
        let d = self.dims();
        let p = Pool2dParams {
            batch: d[0],
            channels: d[1],
            in_h: d[2],
            in_w: d[3],
            kernel: (cfg.kernel[0], cfg.kernel[1]),
            stride: (cfg.stride[0], cfg.stride[1]),
            padding: (cfg.padding[0], cfg.padding[1]),
            ceil_mode: cfg.ceil_mode,
            count_include_pad: cfg.count_include_pad,
        };
        if p.out_h() == 0 || p.out_w() == 0 {
            return Err(Error::shape(
                name,
                &[self.shape()],
                format!(
                    "input {} is smaller than the window {:?}",
                    self.shape(),
                    cfg.kernel
                ),
            ));
        }
        Ok(p)
    }

    /// 2-D max pooling of `[n, c, h, w]` to `[n, c, out_h, out_w]`.
    pub fn max_pool2d(&self, cfg: &Pool2dConfig) -> Result<Tensor> {
        let p = self.pool_params("max_pool2d", cfg)?;
        let (vals, idx) = self.backend().max_pool2d(self.hold().view(), &p)?;
        let shape = Shape::new(vec![p.batch, p.channels, p.out_h(), p.out_w()]);
        let indices = Tensor::from_buffer(self.backend(), idx, &shape, None);
        let op = record(&[self], || Op::MaxPool2d {
            x: self.clone(),
            indices,
        });
        Ok(Tensor::from_buffer(self.backend(), vals, &shape, op))
    }

    /// 2-D average pooling of `[n, c, h, w]` to `[n, c, out_h, out_w]`.
    pub fn avg_pool2d(&self, cfg: &Pool2dConfig) -> Result<Tensor> {
        let p = self.pool_params("avg_pool2d", cfg)?;
        self.avg_pool2d_with(&p)
    }

    /// Average pooling with checked `p` (also the gradient of the pooling's input gradient),
    /// recorded for autograd.
    pub(crate) fn avg_pool2d_with(&self, p: &Pool2dParams) -> Result<Tensor> {
        let buf = self.backend().avg_pool2d(self.hold().view(), p)?;
        let shape = Shape::new(vec![p.batch, p.channels, p.out_h(), p.out_w()]);
        let op = record(&[self], || Op::AvgPool2d {
            x: self.clone(),
            params: *p,
        });
        Ok(Tensor::from_buffer(self.backend(), buf, &shape, op))
    }

    /// Average pooling of `[n, c, h, w]` to `[n, c, out_h, out_w]` with windows chosen as
    /// `torch.nn.functional.adaptive_avg_pool2d` chooses them.
    pub fn adaptive_avg_pool2d(&self, out_h: usize, out_w: usize) -> Result<Tensor> {
        if self.rank() != 4 || out_h == 0 || out_w == 0 {
            return Err(Error::shape(
                "adaptive_avg_pool2d",
                &[self.shape()],
                format!("expected input [n, c, h, w] and a positive output size, got {} and ({out_h}, {out_w})", self.shape()),
            ));
        }
        let (h, w) = (self.dims()[2], self.dims()[3]);
        if h % out_h == 0 && w % out_w == 0 {
            let cfg = Pool2dConfig {
                kernel: [h / out_h, w / out_w],
                stride: [h / out_h, w / out_w],
                ..Pool2dConfig::new(1)
            };
            return self.avg_pool2d(&cfg);
        }
        // Uneven windows: the mean of each window of rows, then of each window of columns
        // (separable, so out_h + out_w small reductions; a matrix product would turn an
        // infinite element into NaN through its zero weights).
        self.adaptive_mean(2, out_h)?.adaptive_mean(3, out_w)
    }

    /// The means over `out` windows of `dim`, window `i` covering
    /// `[floor(i·n/out), ceil((i+1)·n/out))` as PyTorch's adaptive pooling.
    fn adaptive_mean(&self, dim: usize, out: usize) -> Result<Tensor> {
        let n = self.dims()[dim];
        if n == out {
            return Ok(self.clone());
        }
        let windows = (0..out)
            .map(|i| {
                let (s, e) = (i * n / out, ((i + 1) * n).div_ceil(out));
                self.narrow(dim, s, e - s)?.mean(dim, true)
            })
            .collect::<Result<Vec<_>>>()?;
        Tensor::cat(&windows.iter().collect::<Vec<_>>(), dim)
    }
}
