//! Views: ops that build a new layout over the same storage (copying only when a reshape of a
//! non-contiguous tensor needs it).

use super::Tensor;
use crate::autograd::{record, Op};
use crate::{Dim, Dims, Error, Layout, Result, Shape};

/// A target shape that may contain one `-1`, inferred from the element count.
pub trait ShapeSpec {
    /// The sizes, with `None` for the inferred dim.
    fn sizes(&self) -> Vec<Option<usize>>;
}

/// A dimension size in a [`ShapeSpec`]: `usize`, or a signed integer where `-1` means "infer".
pub trait DimSize: Copy {
    /// The size, or `None` for `-1`; other negative values give `Some(usize::MAX)`, rejected
    /// later.
    fn size(self) -> Option<usize>;
}

macro_rules! impl_dim_size {
    ($($t:ty),*) => {$(
        impl DimSize for $t {
            #[allow(unused_comparisons)]
            fn size(self) -> Option<usize> {
                if self as i128 == -1 {
                    None
                } else if self < 0 {
                    Some(usize::MAX)
                } else {
                    Some(self as usize)
                }
            }
        }
    )*};
}
impl_dim_size!(usize, isize, i32, i64);

impl<D: DimSize, const N: usize> ShapeSpec for [D; N] {
    fn sizes(&self) -> Vec<Option<usize>> {
        self.iter().map(|d| d.size()).collect()
    }
}

impl<D: DimSize> ShapeSpec for &[D] {
    fn sizes(&self) -> Vec<Option<usize>> {
        self.iter().map(|d| d.size()).collect()
    }
}

impl<D: DimSize> ShapeSpec for Vec<D> {
    fn sizes(&self) -> Vec<Option<usize>> {
        self.iter().map(|d| d.size()).collect()
    }
}

impl ShapeSpec for Shape {
    fn sizes(&self) -> Vec<Option<usize>> {
        self.dims().iter().map(|&d| Some(d)).collect()
    }
}

impl ShapeSpec for &Shape {
    fn sizes(&self) -> Vec<Option<usize>> {
        self.dims().iter().map(|&d| Some(d)).collect()
    }
}

impl ShapeSpec for () {
    fn sizes(&self) -> Vec<Option<usize>> {
        Vec::new()
    }
}

/// Resolves `spec` against `numel` elements.
fn resolve(op: &'static str, from: &Shape, spec: &impl ShapeSpec) -> Result<Shape> {
    let sizes = spec.sizes();
    let bad = || {
        let shown: Vec<String> = sizes
            .iter()
            .map(|s| match s {
                None => "-1".to_string(),
                Some(usize::MAX) => "negative".to_string(),
                Some(d) => d.to_string(),
            })
            .collect();
        Error::shape(
            op,
            &[from],
            format!(
                "shape [{}] is invalid for input of shape {from} ({} elements)",
                shown.join(", "),
                from.elem_count()
            ),
        )
    };
    if sizes.iter().filter(|s| s.is_none()).count() > 1 || sizes.contains(&Some(usize::MAX)) {
        return Err(bad());
    }
    let known = sizes
        .iter()
        .flatten()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(bad)?;
    let numel = from.elem_count();
    let dims: Vec<usize> = if sizes.contains(&None) {
        if known == 0 || numel % known != 0 {
            return Err(bad());
        }
        sizes.iter().map(|s| s.unwrap_or(numel / known)).collect()
    } else {
        if known != numel {
            return Err(bad());
        }
        sizes.iter().map(|s| s.expect("no hole")).collect()
    };
    Ok(Shape::new(dims))
}

impl Tensor {
    /// The same elements with a new shape (one dim may be `-1`). A view when the strides
    /// allow, else a copy, as `torch.reshape`.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Tensor, DType, Device};
    /// let t = Tensor::zeros([2, 3, 4], DType::F32, Device::Cpu).unwrap();
    /// assert_eq!(t.reshape([-1, 4]).unwrap().dims(), &[6, 4]);
    /// ```
    pub fn reshape(&self, spec: impl ShapeSpec) -> Result<Tensor> {
        let shape = resolve("reshape", self.shape(), &spec)?;
        if &shape == self.shape() {
            return Ok(self.clone());
        }
        let op = || record(&[self], || Op::Reshape { x: self.clone() });
        match self.layout().reshape(&shape) {
            Some(layout) => Ok(self.with_layout(layout, op())),
            None => {
                let c = crate::autograd::no_grad_scope(|| self.copy())?;
                Ok(c.with_layout(Layout::contiguous(shape), op()))
            }
        }
    }

    /// Like [`Tensor::reshape`], but fails instead of copying, as `torch.Tensor.view`.
    pub fn view(&self, spec: impl ShapeSpec) -> Result<Tensor> {
        let shape = resolve("view", self.shape(), &spec)?;
        match self.layout().reshape(&shape) {
            Some(layout) => Ok(self.with_layout(layout, record(&[self], || Op::Reshape { x: self.clone() }))),
            None => Err(Error::shape(
                "view",
                &[self.shape()],
                format!(
                    "a tensor of shape {} with strides {:?} cannot be viewed as {shape}; use reshape (which copies) or contiguous()",
                    self.shape(),
                    self.strides()
                ),
            )),
        }
    }

    /// Merges dims `start..=end` into one.
    pub fn flatten(&self, start: impl Dim, end: impl Dim) -> Result<Tensor> {
        if self.rank() == 0 {
            return self.reshape([1usize]);
        }
        let (s, e) = (
            self.shape().dim("flatten", start)?,
            self.shape().dim("flatten", end)?,
        );
        if s > e {
            return Err(Error::invalid(
                "flatten",
                format!("start dim {s} comes after end dim {e}"),
            ));
        }
        let d = self.dims();
        let mut dims = d[..s].to_vec();
        dims.push(d[s..=e].iter().product());
        dims.extend_from_slice(&d[e + 1..]);
        self.reshape(dims)
    }

    /// All elements as one dim.
    pub fn flatten_all(&self) -> Result<Tensor> {
        self.reshape([self.elem_count()])
    }

    /// Removes dim `dim`, which must have size 1 (a dim of another size is left alone, as in
    /// PyTorch).
    pub fn squeeze(&self, dim: impl Dim) -> Result<Tensor> {
        let Some(d) = self.shape().dim_or_scalar("squeeze", dim)? else {
            return Ok(self.clone());
        };
        if self.dims()[d] != 1 {
            return Ok(self.clone());
        }
        self.reshape(self.shape().without(d))
    }

    /// Removes every dim of size 1.
    pub fn squeeze_all(&self) -> Result<Tensor> {
        let dims: Vec<usize> = self.dims().iter().copied().filter(|&d| d != 1).collect();
        self.reshape(dims)
    }

    /// Inserts a dim of size 1 at `dim` (which may equal the rank, or be negative).
    pub fn unsqueeze(&self, dim: impl Dim) -> Result<Tensor> {
        let d = self.shape().dim_inclusive("unsqueeze", dim.to_isize())?;
        let layout = self.layout().unsqueeze(d);
        Ok(self.with_layout(layout, record(&[self], || Op::Reshape { x: self.clone() })))
    }

    /// Reorders the dims: result dim `i` is input dim `dims[i]`.
    pub fn permute(&self, dims: impl Dims) -> Result<Tensor> {
        let dims = dims.dim_list();
        if dims.len() != self.rank() {
            return Err(Error::invalid(
                "permute",
                format!(
                    "got {} dims {dims:?} for a tensor of shape {}",
                    dims.len(),
                    self.shape()
                ),
            ));
        }
        let mut perm = Vec::with_capacity(dims.len());
        for &d in &dims {
            let r = self.shape().dim("permute", d)?;
            if perm.contains(&r) {
                return Err(Error::invalid(
                    "permute",
                    format!("dim {d} repeats in {dims:?}"),
                ));
            }
            perm.push(r);
        }
        let layout = self.layout().permute(&perm);
        Ok(self.with_layout(
            layout,
            record(&[self], || Op::Permute {
                x: self.clone(),
                perm,
            }),
        ))
    }

    /// Swaps two dims.
    pub fn transpose(&self, dim0: impl Dim, dim1: impl Dim) -> Result<Tensor> {
        let (a, b) = (
            self.shape().dim_or_scalar("transpose", dim0)?,
            self.shape().dim_or_scalar("transpose", dim1)?,
        );
        let (Some(a), Some(b)) = (a, b) else {
            return Ok(self.clone()); // a 0-dim tensor
        };
        let mut perm: Vec<usize> = (0..self.rank()).collect();
        perm.swap(a, b);
        self.permute(perm)
    }

    /// The transpose of a matrix (a tensor of rank 0 or 1 is returned as is).
    pub fn t(&self) -> Result<Tensor> {
        match self.rank() {
            0 | 1 => Ok(self.clone()),
            2 => self.transpose(0, 1),
            _ => Err(Error::invalid(
                "t",
                format!(
                    "expects a tensor with at most 2 dims, got shape {}; use transpose",
                    self.shape()
                ),
            )),
        }
    }

    /// A view broadcast to `shape` (size-1 dims repeat with stride 0; new dims are added in
    /// front).
    pub fn broadcast_to(&self, shape: impl Into<Shape>) -> Result<Tensor> {
        let shape = shape.into();
        if &shape == self.shape() {
            return Ok(self.clone());
        }
        let layout = self.layout().broadcast_to(&shape, "broadcast_to")?;
        Ok(self.with_layout(layout, record(&[self], || Op::Expand { x: self.clone() })))
    }

    /// Like [`Tensor::broadcast_to`], where `-1` keeps the existing size, as `torch.expand`.
    pub fn expand(&self, spec: impl ShapeSpec) -> Result<Tensor> {
        let sizes = spec.sizes();
        let lead = sizes.len().checked_sub(self.rank()).ok_or_else(|| {
            Error::shape(
                "expand",
                &[self.shape()],
                format!(
                    "cannot expand shape {} to {} dims",
                    self.shape(),
                    sizes.len()
                ),
            )
        })?;
        let mut dims = Vec::with_capacity(sizes.len());
        for (i, s) in sizes.iter().enumerate() {
            dims.push(match s {
                None if i >= lead => self.dims()[i - lead],
                Some(d) if *d != usize::MAX => *d,
                _ => {
                    return Err(Error::invalid(
                        "expand",
                        format!("invalid size at dim {i} for shape {}", self.shape()),
                    ));
                }
            });
        }
        self.broadcast_to(dims).map_err(|e| match e {
            Error::Shape { shapes, msg, .. } => Error::Shape {
                op: "expand",
                shapes,
                msg,
            },
            e => e,
        })
    }

    /// `len` elements of `dim` from `start`.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Tensor, DType, Device};
    /// let t = Tensor::arange(0.0, 6.0, 1.0, DType::F32, Device::Cpu).unwrap();
    /// assert_eq!(t.narrow(0, 2, 3).unwrap().to_vec::<f32>().unwrap(), vec![2.0, 3.0, 4.0]);
    /// ```
    pub fn narrow(&self, dim: impl Dim, start: usize, len: usize) -> Result<Tensor> {
        let d = self.shape().dim("narrow", dim)?;
        let size = self.dims()[d];
        if start.checked_add(len).is_none_or(|end| end > size) {
            return Err(Error::invalid(
                "narrow",
                format!(
                    "start {start} + length {len} exceeds size {size} of dim {d} (shape {})",
                    self.shape()
                ),
            ));
        }
        self.narrow_step(d, start, len, 1)
    }

    pub(crate) fn narrow_step(
        &self,
        d: usize,
        start: usize,
        len: usize,
        step: usize,
    ) -> Result<Tensor> {
        if start == 0 && len == self.dims()[d] && step == 1 {
            return Ok(self.clone());
        }
        let layout = self.layout().narrow(d, start, len, step);
        Ok(self.with_layout(
            layout,
            record(&[self], || Op::Narrow {
                x: self.clone(),
                dim: d,
                start,
                step,
            }),
        ))
    }

    /// Elements `start..end` of `dim` with a step, as Python's `x[start:end:step]`: negative
    /// bounds count from the end and bounds past the ends are clamped.
    pub fn slice(&self, dim: impl Dim, start: isize, end: isize, step: usize) -> Result<Tensor> {
        let d = self.shape().dim("slice", dim)?;
        if step == 0 {
            return Err(Error::invalid("slice", "step must be positive"));
        }
        let size = self.dims()[d] as isize;
        let clamp = |i: isize| {
            if i < 0 {
                (i + size).max(0)
            } else {
                i.min(size)
            }
        };
        let (s, e) = (clamp(start), clamp(end));
        let len = if e > s {
            ((e - s) as usize).div_ceil(step)
        } else {
            0
        };
        self.narrow_step(d, s as usize, len, step)
    }

    /// The slice at `index` of `dim`, with that dim removed (negative indices count from the
    /// end).
    pub fn select(&self, dim: impl Dim, index: isize) -> Result<Tensor> {
        let d = self.shape().dim("select", dim)?;
        let size = self.dims()[d];
        let i = if index < 0 {
            index + size as isize
        } else {
            index
        };
        if i < 0 || i as usize >= size {
            return Err(Error::IndexOutOfBounds {
                op: "select",
                index: index as i64,
                dim: d,
                size,
            });
        }
        self.narrow(d, i as usize, 1)?.squeeze(d)
    }

    /// `chunks` pieces of `dim`, of size `ceil(size / chunks)` (the last may be smaller, and
    /// fewer pieces come back when the size is small), as `torch.chunk`.
    pub fn chunk(&self, chunks: usize, dim: impl Dim) -> Result<Vec<Tensor>> {
        if chunks == 0 {
            return Err(Error::invalid("chunk", "chunks must be positive"));
        }
        let d = self.shape().dim("chunk", dim)?;
        if self.dims()[d] == 0 {
            // As torch.chunk: a size-0 dim gives `chunks` empty pieces.
            return (0..chunks).map(|_| self.narrow(d, 0, 0)).collect();
        }
        self.split(self.dims()[d].div_ceil(chunks), d)
    }

    /// Pieces of `size` elements along `dim` (the last may be smaller), as `torch.split`.
    pub fn split(&self, size: usize, dim: impl Dim) -> Result<Vec<Tensor>> {
        let d = self.shape().dim("split", dim)?;
        let total = self.dims()[d];
        if size == 0 {
            if total == 0 {
                return Ok(vec![self.narrow(d, 0, 0)?]);
            }
            return Err(Error::invalid(
                "split",
                format!("split size 0 is allowed only for a size-0 dim, dim {d} has size {total}"),
            ));
        }
        (0..total.div_ceil(size).max(1))
            .map(|i| {
                self.narrow(
                    d,
                    (i * size).min(total),
                    size.min(total.saturating_sub(i * size)),
                )
            })
            .collect()
    }
}
