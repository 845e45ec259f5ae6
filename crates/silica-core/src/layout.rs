//! Strided layouts: how a tensor's elements sit in its storage.
//!
//! A [`Layout`] is a shape, strides counted in elements, and an offset into the storage. Views
//! (transpose, narrow, expand, ...) only build a new layout over the same storage. An expanded
//! dimension has stride 0.

use crate::shape::{clone_dims, DimVec};
use crate::{Error, Result, Shape};

/// Shape, strides (in elements) and offset of a view into a storage.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Layout {
    shape: Shape,
    strides: DimVec,
    offset: usize,
}

impl Clone for Layout {
    fn clone(&self) -> Self {
        Layout {
            shape: self.shape.clone(),
            strides: clone_dims(&self.strides),
            offset: self.offset,
        }
    }
}

impl Layout {
    /// A row-major layout of `shape` starting at element 0.
    #[inline]
    pub fn contiguous(shape: impl Into<Shape>) -> Self {
        let shape = shape.into();
        let strides = shape.strides_inline();
        Layout {
            shape,
            strides,
            offset: 0,
        }
    }

    /// [`Layout::contiguous`] of a borrowed shape, built in place: the hot path of every op's
    /// output.
    #[inline(always)]
    pub(crate) fn contiguous_of(shape: &Shape) -> Self {
        Layout {
            shape: shape.clone(),
            strides: shape.strides_inline(),
            offset: 0,
        }
    }

    /// A layout with explicit strides and offset. The caller keeps it inside its storage.
    ///
    /// An empty view touches no element, so its offset is normalised to 0: kernels may then
    /// slice `[offset, offset + 0)` of any buffer, even an empty one.
    pub fn new(shape: Shape, strides: &[usize], offset: usize) -> Self {
        Layout::from_parts(shape, DimVec::from_slice(strides), offset)
    }

    fn from_parts(shape: Shape, strides: DimVec, offset: usize) -> Self {
        debug_assert_eq!(shape.rank(), strides.len());
        let offset = if shape.elem_count() == 0 { 0 } else { offset };
        Layout {
            shape,
            strides,
            offset,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// The dimension sizes.
    pub fn dims(&self) -> &[usize] {
        self.shape.dims()
    }

    /// The strides, in elements.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// Offset of the first element, in elements.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Number of elements in the view.
    pub fn elem_count(&self) -> usize {
        self.shape.elem_count()
    }

    /// True when the elements are in row-major order with no gaps (dims of size 1 may have any
    /// stride).
    #[inline]
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1;
        for (&d, &s) in self.dims().iter().zip(&self.strides).rev() {
            if d != 1 && s != expected {
                return false;
            }
            expected *= d;
        }
        true
    }

    /// The offset range `[offset, end)` of storage elements this view can touch; `end` is
    /// `offset` for an empty view.
    pub fn storage_span(&self) -> usize {
        if self.elem_count() == 0 {
            return self.offset;
        }
        self.offset
            + self
                .dims()
                .iter()
                .zip(&self.strides)
                .map(|(&d, &s)| (d - 1) * s)
                .sum::<usize>()
            + 1
    }

    /// The view with its dims reordered: result dim `i` is input dim `perm[i]`.
    pub fn permute(&self, perm: &[usize]) -> Layout {
        Layout::from_parts(
            Shape::from_dims(perm.iter().map(|&p| self.dims()[p]).collect()),
            perm.iter().map(|&p| self.strides[p]).collect(),
            self.offset,
        )
    }

    /// The view of `len` elements of `dim`, from `start`, taking every `step`-th one.
    pub fn narrow(&self, dim: usize, start: usize, len: usize, step: usize) -> Layout {
        let mut dims = DimVec::from_slice(self.dims());
        let mut strides = self.strides.clone();
        dims[dim] = len;
        let offset = self.offset + start * strides[dim];
        strides[dim] *= step;
        Layout::from_parts(Shape::from_dims(dims), strides, offset)
    }

    /// The view with `dim` removed by picking index `index` along it.
    pub fn select(&self, dim: usize, index: usize) -> Layout {
        let mut dims = DimVec::from_slice(self.dims());
        let mut strides = self.strides.clone();
        dims.remove(dim);
        let s = strides.remove(dim);
        Layout::from_parts(Shape::from_dims(dims), strides, self.offset + index * s)
    }

    /// The view with a new dim of size 1 at `dim`.
    pub fn unsqueeze(&self, dim: usize) -> Layout {
        let mut dims = DimVec::from_slice(self.dims());
        let mut strides = self.strides.clone();
        let s = if dim < strides.len() {
            strides[dim] * dims[dim]
        } else {
            1
        };
        dims.insert(dim, 1);
        strides.insert(dim, s);
        Layout::from_parts(Shape::from_dims(dims), strides, self.offset)
    }

    /// The view broadcast to `shape` (new leading dims and size-1 dims get stride 0), or an
    /// error naming `op`.
    pub fn broadcast_to(&self, shape: &Shape, op: &'static str) -> Result<Layout> {
        let rank = shape.rank();
        if rank < self.shape.rank() {
            return Err(Error::shape(
                op,
                &[&self.shape, shape],
                format!(
                    "cannot expand shape {} to {shape}, which has fewer dims",
                    self.shape
                ),
            ));
        }
        let lead = rank - self.shape.rank();
        let mut strides = DimVec::from_elem(0, rank);
        for (i, s) in strides.iter_mut().enumerate().skip(lead) {
            let (from, to) = (self.dims()[i - lead], shape.dims()[i]);
            *s = if from == to {
                self.strides[i - lead]
            } else if from == 1 {
                0
            } else {
                return Err(Error::shape(
                    op,
                    &[&self.shape, shape],
                    format!(
                        "cannot expand shape {} to {shape}: dim {i} has size {from}, expected 1 or {to}",
                        self.shape
                    ),
                ));
            };
        }
        Ok(Layout::from_parts(shape.clone(), strides, self.offset))
    }

    /// The same elements seen with `shape`, without a copy, when the strides allow it (as
    /// `torch.Tensor.view`); `None` when a copy is needed.
    pub fn reshape(&self, shape: &Shape) -> Option<Layout> {
        let strides = if self.is_contiguous() {
            shape.strides_inline()
        } else {
            view_strides(self.dims(), &self.strides, shape.dims())?
        };
        Some(Layout::from_parts(shape.clone(), strides, self.offset))
    }
}

/// Strides that let `new` view the elements of (`old`, `old_strides`) in row-major order, when
/// they exist. This follows PyTorch's `computeStride`: the old dims are split into chunks that
/// are contiguous among themselves, and each chunk must map onto whole new dims.
fn view_strides(old: &[usize], old_strides: &[usize], new: &[usize]) -> Option<DimVec> {
    if old.contains(&0) || old.is_empty() {
        return Some(Shape::from(new).strides_inline());
    }
    let mut new_strides = DimVec::from_elem(0, new.len());
    let mut view_d = new.len() as isize - 1;
    let mut chunk_base = *old_strides.last()?;
    let mut tensor_numel = 1;
    let mut view_numel = 1;
    for tensor_d in (0..old.len()).rev() {
        tensor_numel *= old[tensor_d];
        let chunk_ends = tensor_d == 0
            || (old[tensor_d - 1] != 1 && old_strides[tensor_d - 1] != tensor_numel * chunk_base);
        if chunk_ends {
            while view_d >= 0 && (view_numel < tensor_numel || new[view_d as usize] == 1) {
                new_strides[view_d as usize] = view_numel * chunk_base;
                view_numel *= new[view_d as usize];
                view_d -= 1;
            }
            if view_numel != tensor_numel {
                return None;
            }
            if tensor_d > 0 {
                chunk_base = old_strides[tensor_d - 1];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
    }
    (view_d == -1).then_some(new_strides)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguity() {
        let l = Layout::contiguous([2, 3, 4]);
        assert!(l.is_contiguous());
        assert_eq!(l.strides(), &[12, 4, 1]);
        let t = l.permute(&[0, 2, 1]);
        assert!(!t.is_contiguous());
        assert_eq!(t.dims(), &[2, 4, 3]);
        assert_eq!(t.strides(), &[12, 1, 4]);
        assert_eq!(t.storage_span(), 24);
    }

    #[test]
    fn reshape_views() {
        // A transposed [3, 4] -> [4, 3] view cannot flatten without a copy.
        let t = Layout::contiguous([3, 4]).permute(&[1, 0]);
        assert!(t.reshape(&Shape::from([12])).is_none());
        // Splitting a dim of a strided view works.
        let n = Layout::contiguous([4, 6]).narrow(1, 0, 4, 1);
        let v = n.reshape(&Shape::from([4, 2, 2])).unwrap();
        assert_eq!(v.strides(), &[6, 2, 1]);
        // Merging dims that are not adjacent in memory fails.
        assert!(n.reshape(&Shape::from([16])).is_none());
        // Size-1 dims are free.
        let e = Layout::contiguous([3])
            .broadcast_to(&Shape::from([2, 3]), "t")
            .unwrap();
        assert_eq!(e.strides(), &[0, 1]);
        let r = e.reshape(&Shape::from([2, 1, 3])).unwrap();
        assert_eq!(r.dims(), &[2, 1, 3]);
        assert_eq!(r.strides()[0], 0);
        assert_eq!(r.strides()[2], 1);
    }

    #[test]
    fn narrow_with_step() {
        let l = Layout::contiguous([10]).narrow(0, 1, 4, 2);
        assert_eq!(l.offset(), 1);
        assert_eq!(l.strides(), &[2]);
        assert_eq!(l.storage_span(), 8);
    }
}
