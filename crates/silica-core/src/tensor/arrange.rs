//! Rearranging elements: flip, roll, repeat, and the triangles tril and triu.
//!
//! Each op is composed from differentiable primitives (index_select, narrow and cat, expand
//! and reshape, where), so it runs on every backend and needs no gradient formula of its own.
//! Like PyTorch's, every result owns fresh storage, even where nothing moves.

use super::Tensor;
use crate::{DType, Dims, Error, Result};

impl Tensor {
    /// The elements in reverse order along each of `dims`, as `torch.flip`. An empty list
    /// flips nothing (the result is a copy); a 0-dim tensor accepts dim 0 or -1.
    ///
    /// Layouts have unsigned strides, so a reversed view is impossible: each flipped dim of
    /// size above 1 costs one `index_select` with a reversed `arange`, whose gradient is the
    /// same permutation.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Device, Tensor};
    /// let x = Tensor::from_slice(&[1i64, 2, 3, 4, 5, 6], [2, 3], Device::Cpu).unwrap();
    /// assert_eq!(x.flip([1]).unwrap().to_vec::<i64>().unwrap(), vec![3, 2, 1, 6, 5, 4]);
    /// assert_eq!(x.flip([0, -1]).unwrap().to_vec::<i64>().unwrap(), vec![6, 5, 4, 3, 2, 1]);
    /// ```
    pub fn flip(&self, dims: impl Dims) -> Result<Tensor> {
        let list = dims.dim_list();
        let mut resolved: Vec<Option<usize>> = Vec::with_capacity(list.len());
        for &d in &list {
            let r = self.shape().dim_or_scalar("flip", d)?;
            if resolved.contains(&r) {
                return Err(Error::invalid(
                    "flip",
                    format!(
                        "dim {d} appears more than once in {list:?} (shape {})",
                        self.shape()
                    ),
                ));
            }
            resolved.push(r);
        }
        let mut out = self.clone();
        for d in resolved.into_iter().flatten() {
            let n = self.dims()[d];
            if n > 1 {
                let reversed =
                    Tensor::arange((n - 1) as f64, -1.0, -1.0, DType::I64, self.device())?;
                out = out.index_select(d, &reversed)?;
            }
        }
        if out.id() == self.id() {
            out = self.copy()?;
        }
        Ok(out)
    }

    /// The elements shifted by `shifts[i]` places along `dims[i]`, wrapping around, as
    /// `torch.roll`. With no dims, the tensor is rolled as if flattened (by one shift), then
    /// given its shape back. A dim may appear more than once (its shifts add up).
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Device, Tensor};
    /// let x = Tensor::from_slice(&[1i64, 2, 3, 4, 5, 6], [2, 3], Device::Cpu).unwrap();
    /// assert_eq!(x.roll(&[1], [1]).unwrap().to_vec::<i64>().unwrap(), vec![3, 1, 2, 6, 4, 5]);
    /// let none: [isize; 0] = [];
    /// assert_eq!(x.roll(&[-2], none).unwrap().to_vec::<i64>().unwrap(), vec![3, 4, 5, 6, 1, 2]);
    /// ```
    pub fn roll(&self, shifts: &[i64], dims: impl Dims) -> Result<Tensor> {
        let dims = dims.dim_list();
        let aligned = if dims.is_empty() {
            shifts.len() == 1
        } else {
            shifts.len() == dims.len()
        };
        if !aligned {
            return Err(Error::invalid(
                "roll",
                format!(
                    "shifts has {} entries, dims {}{} (shifts {shifts:?}, dims {dims:?}, tensor of shape {})",
                    shifts.len(),
                    dims.len(),
                    if dims.is_empty() {
                        "; without dims, give exactly one shift"
                    } else {
                        "; give one shift per dim"
                    },
                    self.shape()
                ),
            ));
        }
        if dims.is_empty() {
            return self.flatten_all()?.roll(shifts, [0])?.reshape(self.shape());
        }
        let mut out = self.clone();
        for (&shift, &dim) in shifts.iter().zip(&dims) {
            let d = self.shape().dim("roll", dim)?;
            let n = self.dims()[d];
            if n == 0 {
                continue;
            }
            let s = shift.rem_euclid(n as i64) as usize;
            if s != 0 {
                out = Tensor::cat(&[&out.narrow(d, n - s, s)?, &out.narrow(d, 0, n - s)?], d)?;
            }
        }
        if out.id() == self.id() {
            out = self.copy()?;
        }
        Ok(out)
    }

    /// The tensor tiled `repeats[i]` times along dim `i`, as `torch.Tensor.repeat`: with more
    /// repeats than dims, the tensor first gains leading dims of size 1. Shape
    /// `[s0, s1, ..]` becomes `[r0 * s0, r1 * s1, ..]`.
    ///
    /// Composed as a reshape to `[1, s0, 1, s1, ..]`, an expand to `[r0, s0, r1, s1, ..]` and
    /// a contiguous copy, so the gradient sums the tiles back.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Device, Tensor};
    /// let x = Tensor::from_slice(&[1i64, 2], [2], Device::Cpu).unwrap();
    /// let y = x.repeat(&[2, 3]).unwrap();
    /// assert_eq!(y.dims(), &[2, 6]);
    /// assert_eq!(y.to_vec::<i64>().unwrap(), vec![1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2]);
    /// ```
    pub fn repeat(&self, repeats: &[usize]) -> Result<Tensor> {
        let lead = repeats.len().checked_sub(self.rank()).ok_or_else(|| {
            Error::invalid(
                "repeat",
                format!(
                    "{} repeats {repeats:?} for a tensor of shape {}; give at least one per dim",
                    repeats.len(),
                    self.shape()
                ),
            )
        })?;
        let sizes: Vec<usize> = std::iter::repeat_n(1, lead)
            .chain(self.dims().iter().copied())
            .collect();
        let (mut split, mut expanded, mut out) = (Vec::new(), Vec::new(), Vec::new());
        for (&r, &s) in repeats.iter().zip(&sizes) {
            split.extend([1, s]);
            expanded.extend([r, s]);
            out.push(r.checked_mul(s).ok_or_else(|| {
                Error::invalid(
                    "repeat",
                    format!(
                        "repeats {repeats:?} of shape {} overflow usize",
                        self.shape()
                    ),
                )
            })?);
        }
        crate::Shape::new(out.clone()).checked_elem_count("repeat")?;
        self.reshape(split)?
            .broadcast_to(expanded)?
            .copy()?
            .reshape(out)
    }

    /// The lower triangle of the last two dims (a batch of matrices), as `torch.tril`: elements
    /// `[.., i, j]` with `j - i <= diagonal` are kept, the others are 0. Diagonal 0 is the main
    /// diagonal, positive values reach above it, negative ones below.
    ///
    /// Elements are selected with `where`, so a NaN or an infinity outside the triangle does not
    /// reach the result or the gradient.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Device, Tensor};
    /// let x = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3], Device::Cpu).unwrap();
    /// assert_eq!(x.tril(0).unwrap().to_vec::<f32>().unwrap(), vec![1.0, 0.0, 0.0, 4.0, 5.0, 0.0]);
    /// assert_eq!(x.triu(1).unwrap().to_vec::<f32>().unwrap(), vec![0.0, 2.0, 3.0, 0.0, 0.0, 6.0]);
    /// ```
    pub fn tril(&self, diagonal: i64) -> Result<Tensor> {
        self.triangle(diagonal, true, "tril")
    }

    /// The upper triangle of the last two dims, as `torch.triu`: elements `[.., i, j]` with
    /// `j - i >= diagonal` are kept, the others are 0. See [`Tensor::tril`].
    pub fn triu(&self, diagonal: i64) -> Result<Tensor> {
        self.triangle(diagonal, false, "triu")
    }

    fn triangle(&self, diagonal: i64, lower: bool, op: &'static str) -> Result<Tensor> {
        if self.rank() < 2 {
            return Err(Error::shape(
                op,
                &[self.shape()],
                format!(
                    "expects a tensor with at least 2 dims (a batch of matrices), got shape {}",
                    self.shape()
                ),
            ));
        }
        let (rows, cols) = (self.size(-2)?, self.size(-1)?);
        let index = |n: usize| Tensor::arange(0.0, n as f64, 1.0, DType::I64, self.device());
        // offset[i][j] = j - i
        let offset = index(cols)?
            .reshape([1, cols])?
            .sub(&index(rows)?.reshape([rows, 1])?)?;
        let keep = if lower {
            offset.le_scalar(diagonal)?
        } else {
            offset.ge_scalar(diagonal)?
        };
        let zero = Tensor::zeros((), self.dtype(), self.device())?;
        keep.where_cond(self, &zero)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Device, Tensor};

    fn t(v: &[f64], shape: &[usize]) -> Tensor {
        Tensor::from_slice(v, shape, Device::Cpu).unwrap()
    }

    #[test]
    fn flip_and_roll_copy_even_when_nothing_moves() {
        let x = t(&[1.0, 2.0], &[2, 1]);
        for y in [
            x.flip([1]).unwrap(),
            x.flip(Vec::<isize>::new()).unwrap(),
            x.roll(&[2], [0]).unwrap(),
            x.repeat(&[1, 1]).unwrap(),
        ] {
            assert!(!y.shares_storage(&x));
            assert_eq!(y.to_vec::<f64>().unwrap(), vec![1.0, 2.0]);
        }
    }

    #[test]
    fn roll_adds_the_shifts_of_a_repeated_dim() {
        let x = t(&[0.0, 1.0, 2.0, 3.0], &[4]);
        let y = x.roll(&[1, 2], [0, -1]).unwrap();
        assert_eq!(y.to_vec::<f64>().unwrap(), vec![1.0, 2.0, 3.0, 0.0]);
    }

    #[test]
    fn triangles_keep_nan_out() {
        let x = t(&[1.0, f64::NAN, f64::INFINITY, 4.0], &[2, 2]);
        assert_eq!(
            x.tril(0).unwrap().to_vec::<f64>().unwrap(),
            vec![1.0, 0.0, f64::INFINITY, 4.0]
        );
        let u = x.triu(0).unwrap().to_vec::<f64>().unwrap();
        assert_eq!((u[0], u[2], u[3]), (1.0, 0.0, 4.0));
        assert!(u[1].is_nan());
    }
}
