//! Indexing and joining: index_select, gather, scatter_add, embedding, one_hot, cat, stack.

use super::Tensor;
use crate::autograd::{record, Op};
use crate::{DType, Dim, Error, Layout, Result, Scalar, Shape};

fn check_index_dtype(op: &'static str, index: &Tensor) -> Result<()> {
    match index.dtype() {
        DType::I64 | DType::I32 => Ok(()),
        d => Err(Error::dtype(
            op,
            d,
            format!("i64 or i32 indices (index shape {})", index.shape()),
        )),
    }
}

impl Tensor {
    /// The entries of `dim` listed by the 1-D integer `index`, as `torch.index_select`.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Tensor, Device};
    /// let t = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [3, 2], Device::Cpu).unwrap();
    /// let i = Tensor::from_slice(&[2i64, 0], [2], Device::Cpu).unwrap();
    /// assert_eq!(t.index_select(0, &i).unwrap().to_vec::<f32>().unwrap(), vec![5.0, 6.0, 1.0, 2.0]);
    /// ```
    pub fn index_select(&self, dim: impl Dim, index: &Tensor) -> Result<Tensor> {
        let d = self.shape().dim("index_select", dim)?;
        self.same_device("index_select", &[index])?;
        check_index_dtype("index_select", index)?;
        if index.rank() > 1 {
            return Err(Error::shape(
                "index_select",
                &[index.shape()],
                format!("index must be 1-D, got shape {}", index.shape()),
            ));
        }
        let mut dims = self.dims().to_vec();
        dims[d] = index.elem_count();
        let buf = self
            .backend()
            .index_select(self.hold().view(), d, index.hold().view())?;
        let op = record(&[self], || Op::IndexSelect {
            x: self.clone(),
            dim: d,
            index: index.flatten_all().expect("1-D"),
        });
        Ok(Tensor::from_buffer(
            self.backend(),
            buf,
            &Shape::new(dims),
            op,
        ))
    }

    /// Checks gather/scatter index shapes: same rank, and no larger than `self` off `dim`.
    fn check_scatter_shapes(&self, op: &'static str, d: usize, index: &Tensor) -> Result<()> {
        check_index_dtype(op, index)?;
        self.same_device(op, &[index])?;
        let ok = index.rank() == self.rank()
            && (0..self.rank()).all(|i| i == d || index.dims()[i] <= self.dims()[i]);
        if !ok {
            return Err(Error::shape(
                op,
                &[self.shape(), index.shape()],
                format!(
                    "index of shape {} must have the rank of the tensor ({}) and no larger size off dim {d}",
                    index.shape(),
                    self.shape()
                ),
            ));
        }
        Ok(())
    }

    /// `out[i][j] = self[i][index[i][j]]` for `dim = 1` (likewise for other dims), as
    /// `torch.gather`.
    pub fn gather(&self, dim: impl Dim, index: &Tensor) -> Result<Tensor> {
        let d = self.shape().dim("gather", dim)?;
        self.check_scatter_shapes("gather", d, index)?;
        let buf = self
            .backend()
            .gather(self.hold().view(), d, index.hold().view())?;
        let op = record(&[self], || Op::Gather {
            x: self.clone(),
            dim: d,
            index: index.clone(),
        });
        Ok(Tensor::from_buffer(self.backend(), buf, index.shape(), op))
    }

    /// A copy of `self` with `out[i][index[i][j]] += src[i][j]` for `dim = 1` (likewise for
    /// other dims), as `torch.scatter_add`.
    pub fn scatter_add(&self, dim: impl Dim, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        let d = self.shape().dim("scatter_add", dim)?;
        self.check_scatter_shapes("scatter_add", d, index)?;
        self.same_device("scatter_add", &[src])?;
        let fits =
            src.rank() == index.rank() && (0..src.rank()).all(|i| index.dims()[i] <= src.dims()[i]);
        if !fits {
            return Err(Error::shape(
                "scatter_add",
                &[index.shape(), src.shape()],
                format!(
                    "index of shape {} must not be larger than src of shape {}",
                    index.shape(),
                    src.shape()
                ),
            ));
        }
        let src = src.to_dtype(self.dtype())?;
        let buf = self.backend().scatter_add(
            self.hold().view(),
            d,
            index.hold().view(),
            src.hold().view(),
        )?;
        let op = record(&[self, &src], || Op::ScatterAdd {
            base: self.clone(),
            dim: d,
            index: index.clone(),
            src: src.clone(),
        });
        Ok(Tensor::from_buffer(self.backend(), buf, self.shape(), op))
    }

    /// Looks up rows of this `[num_embeddings, dim]` weight for integer `ids` of any shape:
    /// the result has shape `ids.shape + [dim]`, as `torch.nn.functional.embedding`.
    pub fn embedding(&self, ids: &Tensor) -> Result<Tensor> {
        if self.rank() != 2 {
            return Err(Error::shape(
                "embedding",
                &[self.shape()],
                format!(
                    "weight must be [num_embeddings, dim], got shape {}",
                    self.shape()
                ),
            ));
        }
        let rows = self.index_select(0, &ids.flatten_all()?)?;
        let mut dims = ids.dims().to_vec();
        dims.push(self.dims()[1]);
        rows.reshape(dims)
    }

    /// The one-hot encoding of I64 class indices, as `torch.nn.functional.one_hot`: shape
    /// `[..]` becomes `[.., num_classes]` (I64), with a 1 at each index. `None` takes
    /// `max + 1` classes, which reads the indices to the host (as PyTorch does); with a count
    /// given, nothing is read, and an index outside `[0, num_classes)` is reported by the
    /// scatter kernel (on an asynchronous device, at the next synchronisation).
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Device, Tensor};
    /// let c = Tensor::from_slice(&[2i64, 0], [2], Device::Cpu).unwrap();
    /// assert_eq!(c.one_hot(None).unwrap().to_vec::<i64>().unwrap(), vec![0, 0, 1, 1, 0, 0]);
    /// assert_eq!(c.one_hot(Some(4)).unwrap().dims(), &[2, 4]);
    /// assert!(c.one_hot(Some(2)).is_err());
    /// ```
    pub fn one_hot(&self, num_classes: Option<usize>) -> Result<Tensor> {
        if self.dtype() != DType::I64 {
            return Err(Error::dtype(
                "one_hot",
                self.dtype(),
                format!(
                    "i64 class indices (shape {}; cast with to_dtype)",
                    self.shape()
                ),
            ));
        }
        let classes = match num_classes {
            Some(0) => {
                return Err(Error::invalid(
                    "one_hot",
                    format!(
                        "num_classes must be positive, got 0 (indices of shape {})",
                        self.shape()
                    ),
                ))
            }
            Some(c) => c,
            None if self.elem_count() == 0 => {
                return Err(Error::invalid(
                    "one_hot",
                    format!(
                        "cannot infer the number of classes from an empty tensor (shape {}); give num_classes",
                        self.shape()
                    ),
                ))
            }
            None => {
                let bounds = Tensor::stack(&[&self.min_all()?, &self.max_all()?], 0)?;
                let [lo, hi] = bounds.to_vec::<i64>()?[..] else {
                    unreachable!("two bounds")
                };
                if lo < 0 {
                    return Err(Error::invalid(
                        "one_hot",
                        format!("class values must be non-negative, got {lo}"),
                    ));
                }
                hi as usize + 1
            }
        };
        let mut dims = self.dims().to_vec();
        dims.push(classes);
        let index = self.unsqueeze(-1)?;
        let one = Tensor::ones((), DType::I64, self.device())?.broadcast_to(index.shape())?;
        Tensor::zeros(dims, DType::I64, self.device())?
            .scatter_add(-1, &index, &one)
            .map_err(|e| match e {
                Error::IndexOutOfBounds { index, .. } => Error::invalid(
                    "one_hot",
                    format!(
                        "class value {index} is outside [0, {classes}) (indices of shape {})",
                        self.shape()
                    ),
                ),
                e => e,
            })
    }

    /// Joins tensors along `dim`; all other dims must match. Dtypes promote, as in `torch.cat`.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Tensor, DType, Device};
    /// let a = Tensor::zeros([2, 3], DType::F32, Device::Cpu).unwrap();
    /// let b = Tensor::ones([1, 3], DType::F32, Device::Cpu).unwrap();
    /// assert_eq!(Tensor::cat(&[&a, &b], 0).unwrap().dims(), &[3, 3]);
    /// ```
    pub fn cat(tensors: &[&Tensor], dim: impl Dim) -> Result<Tensor> {
        let any = tensors
            .first()
            .ok_or_else(|| Error::invalid("cat", "expected at least one tensor"))?;
        any.same_device("cat", tensors)?;
        let mut dtype = any.dtype();
        for t in tensors {
            dtype = dtype.promote(t.dtype());
        }
        // As in PyTorch, a 1-D empty tensor is a placeholder that joins any shape: it takes
        // part in type promotion, and in autograd as an empty piece of the others' shape.
        let placeholder = |t: &Tensor| t.dims() == [0];
        let Some(first) = tensors.iter().find(|t| !placeholder(t)) else {
            return Tensor::cat_checked(tensors, 0, dtype);
        };
        let d = first.shape().dim("cat", dim)?;
        let mut empty = first.dims().to_vec();
        empty[d] = 0;
        let pieces = tensors
            .iter()
            .map(|t| match placeholder(t) {
                true => t.reshape(empty.clone()),
                false => Ok((*t).clone()),
            })
            .collect::<Result<Vec<_>>>()?;
        Tensor::cat_checked(&pieces.iter().collect::<Vec<_>>(), d, dtype)
    }

    /// `cat` of tensors that share a device, along `d` (resolved for the first), in `dtype`.
    fn cat_checked(tensors: &[&Tensor], d: usize, dtype: DType) -> Result<Tensor> {
        let first = tensors[0];
        let mut dims = first.dims().to_vec();
        dims[d] = 0;
        for t in tensors {
            let same = t.rank() == first.rank()
                && (0..t.rank()).all(|i| i == d || t.dims()[i] == first.dims()[i]);
            if !same {
                return Err(Error::shape(
                    "cat",
                    &[first.shape(), t.shape()],
                    format!(
                        "shapes {} and {} differ outside dim {d}",
                        first.shape(),
                        t.shape()
                    ),
                ));
            }
            dims[d] += t.dims()[d];
        }
        let xs: Vec<Tensor> = tensors
            .iter()
            .map(|t| t.to_dtype(dtype))
            .collect::<Result<_>>()?;
        let shape = Shape::new(dims);
        let backend = first.backend();
        let out_buf = backend.fill(dtype, shape.elem_count(), Scalar::Int(0))?;
        let full = Layout::contiguous(shape.clone());
        let mut start = 0;
        for x in &xs {
            let len = x.dims()[d];
            backend.copy_into(x.hold().view(), &*out_buf, &full.narrow(d, start, len, 1))?;
            start += len;
        }
        let refs: Vec<&Tensor> = xs.iter().collect();
        let op = record(&refs, || Op::Cat {
            xs: xs.clone(),
            dim: d,
        });
        Ok(Tensor::from_buffer(backend, out_buf, &shape, op))
    }

    /// Joins tensors of one shape along a new dim `dim`.
    pub fn stack(tensors: &[&Tensor], dim: impl Dim) -> Result<Tensor> {
        let first = tensors
            .first()
            .ok_or_else(|| Error::invalid("stack", "expected at least one tensor"))?;
        for t in tensors {
            if t.shape() != first.shape() {
                return Err(Error::shape(
                    "stack",
                    &[first.shape(), t.shape()],
                    format!(
                        "all tensors need one shape, got {} and {}",
                        first.shape(),
                        t.shape()
                    ),
                ));
            }
        }
        let d = first.shape().dim_inclusive("stack", dim.to_isize())?;
        let xs: Vec<Tensor> = tensors
            .iter()
            .map(|t| t.unsqueeze(d))
            .collect::<Result<_>>()?;
        let refs: Vec<&Tensor> = xs.iter().collect();
        Tensor::cat(&refs, d)
    }

    /// A tensor of `shape` filled with `fill`, with `self` written at `(start, step)` of each
    /// dim. The adjoint of [`Tensor::strided_box`]; it implements constant padding and the
    /// gradient of `narrow`.
    pub(crate) fn embed(
        &self,
        shape: &Shape,
        region: &[(usize, usize)],
        fill: impl Into<Scalar>,
    ) -> Result<Tensor> {
        let backend = self.backend();
        let buf = backend.fill(self.dtype(), shape.elem_count(), fill.into())?;
        let mut layout = Layout::contiguous(shape.clone());
        for (d, &(start, step)) in region.iter().enumerate() {
            layout = layout.narrow(d, start, self.dims()[d], step);
        }
        backend.copy_into(self.hold().view(), &*buf, &layout)?;
        let op = record(&[self], || Op::Embed {
            x: self.clone(),
            region: region.to_vec(),
        });
        Ok(Tensor::from_buffer(backend, buf, shape, op))
    }

    /// The view of `dims` elements at `(start, step)` of each dim.
    pub(crate) fn strided_box(&self, region: &[(usize, usize)], dims: &[usize]) -> Result<Tensor> {
        let mut t = self.clone();
        for (d, (&(start, step), &len)) in region.iter().zip(dims).enumerate() {
            t = t.narrow_step(d, start, len, step)?;
        }
        Ok(t)
    }
}
