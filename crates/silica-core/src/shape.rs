//! Shapes, dimension indices and broadcasting.

use crate::{Error, Result};
use smallvec::SmallVec;
use std::fmt;

/// Dimension sizes or strides, inline up to rank 4 so that most shapes cost no allocation.
pub(crate) type DimVec = SmallVec<[usize; 4]>;

/// A copy of `dims`. The inline cases are built as values: `SmallVec`'s own `clone` writes
/// the elements one by one, and reading them back as a whole stalls on store forwarding.
#[inline]
pub(crate) fn clone_dims(dims: &DimVec) -> DimVec {
    match **dims {
        [] => DimVec::new(),
        [a] => DimVec::from_buf_and_len([a, 0, 0, 0], 1),
        [a, b] => DimVec::from_buf_and_len([a, b, 0, 0], 2),
        [a, b, c] => DimVec::from_buf_and_len([a, b, c, 0], 3),
        [a, b, c, d] => DimVec::from_buf_and_len([a, b, c, d], 4),
        _ => DimVec::from_slice(dims),
    }
}

/// The sizes of a tensor's dimensions. A scalar has the empty shape `[]`.
#[derive(Eq, Default)]
pub struct Shape(DimVec);

impl Clone for Shape {
    #[inline]
    fn clone(&self) -> Self {
        Shape(clone_dims(&self.0))
    }
}

impl PartialEq for Shape {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        // Element by element: ranks are small, and a call to `memcmp` costs more.
        self.rank() == other.rank() && self.0.iter().zip(other.0.iter()).all(|(a, b)| a == b)
    }
}

impl std::hash::Hash for Shape {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.dims().hash(state);
    }
}

impl Shape {
    /// A shape with these dimension sizes.
    pub fn new(dims: Vec<usize>) -> Self {
        Shape(DimVec::from_vec(dims))
    }

    /// A shape with these dimension sizes, without a copy.
    pub(crate) fn from_dims(dims: DimVec) -> Self {
        Shape(dims)
    }

    /// The shape of a scalar, `[]`.
    pub fn scalar() -> Self {
        Shape(DimVec::new())
    }

    /// The dimension sizes.
    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// Number of elements (1 for a scalar).
    pub fn elem_count(&self) -> usize {
        self.0.iter().product()
    }

    /// Number of elements, or an error naming `op` when the product overflows `usize`.
    pub fn checked_elem_count(&self, op: &'static str) -> Result<usize> {
        self.0
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| {
                Error::invalid(
                    op,
                    format!("shape {self} has more elements than fit in usize"),
                )
            })
    }

    /// Row-major (C-contiguous) strides of this shape, in elements.
    pub fn contiguous_strides(&self) -> Vec<usize> {
        self.strides_inline().into_vec()
    }

    /// [`Shape::contiguous_strides`], inline for small ranks.
    #[inline]
    pub(crate) fn strides_inline(&self) -> DimVec {
        // The inline cases are built as values, so that the strides stay in registers.
        match *self.dims() {
            [] => DimVec::new(),
            [_] => DimVec::from_buf_and_len([1, 0, 0, 0], 1),
            [_, b] => DimVec::from_buf_and_len([b, 1, 0, 0], 2),
            [_, b, c] => DimVec::from_buf_and_len([b * c, c, 1, 0], 3),
            [_, b, c, d] => DimVec::from_buf_and_len([b * c * d, c * d, d, 1], 4),
            _ => {
                let mut strides = DimVec::from_elem(0, self.rank());
                let mut acc = 1;
                for (s, &d) in strides.iter_mut().zip(&self.0).rev() {
                    *s = acc;
                    acc *= d;
                }
                strides
            }
        }
    }

    /// Resolves a possibly negative dim (`-1` is the last) against this shape.
    pub fn dim(&self, op: &'static str, dim: impl Dim) -> Result<usize> {
        dim.resolve(op, self)
    }

    /// Like [`Shape::dim`], for the rank of a result one larger (as `unsqueeze` and `stack` need).
    pub(crate) fn dim_inclusive(&self, op: &'static str, dim: isize) -> Result<usize> {
        let rank = self.rank() as isize + 1;
        let d = if dim < 0 { dim + rank } else { dim };
        if d < 0 || d >= rank {
            return Err(Error::DimOutOfRange {
                op,
                dim,
                shape: Shape(DimVec::from_elem(0, rank as usize)),
            });
        }
        Ok(d as usize)
    }

    /// Like [`Shape::dim`], but a 0-dim shape also accepts dim 0 or -1, as PyTorch's
    /// `maybe_wrap_dim` does: `None` then, meaning the scalar itself.
    pub(crate) fn dim_or_scalar(&self, op: &'static str, dim: impl Dim) -> Result<Option<usize>> {
        let d = dim.to_isize();
        match self.rank() {
            0 if d == 0 || d == -1 => Ok(None),
            0 => Err(Error::DimOutOfRange {
                op,
                dim: d,
                shape: self.clone(),
            }),
            _ => self.dim(op, d).map(Some),
        }
    }

    /// Resolves a list of dims, rejecting repeats. An empty list means every dim; a 0-dim
    /// shape accepts 0 or -1 (once), and has no dims to reduce.
    pub fn dims_list(&self, op: &'static str, dims: &[isize]) -> Result<Vec<usize>> {
        if dims.is_empty() {
            return Ok((0..self.rank()).collect());
        }
        let mut out = Vec::with_capacity(dims.len());
        for &d in dims {
            let Some(r) = self.dim_or_scalar(op, d)? else {
                if dims.len() > 1 {
                    return Err(Error::invalid(
                        op,
                        format!("dim {d} appears more than once in {dims:?}"),
                    ));
                }
                return Ok(Vec::new());
            };
            if out.contains(&r) {
                return Err(Error::invalid(
                    op,
                    format!("dim {d} appears more than once in {dims:?}"),
                ));
            }
            out.push(r);
        }
        out.sort_unstable();
        Ok(out)
    }

    /// The shape NumPy/PyTorch broadcasting gives to `self` and `other`, or an error naming `op`.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::Shape;
    /// let s = Shape::from([2, 1, 3]).broadcast(&Shape::from([4, 1]), "add").unwrap();
    /// assert_eq!(s.dims(), &[2, 4, 3]);
    /// ```
    pub fn broadcast(&self, other: &Shape, op: &'static str) -> Result<Shape> {
        let rank = self.rank().max(other.rank());
        let mut dims = DimVec::from_elem(0, rank);
        for (i, d) in dims.iter_mut().enumerate() {
            let a = self.size_from_end(rank - 1 - i);
            let b = other.size_from_end(rank - 1 - i);
            *d = match (a, b) {
                (a, b) if a == b => a,
                (1, b) => b,
                (a, 1) => a,
                _ => {
                    return Err(Error::shape(
                        op,
                        &[self, other],
                        format!(
                            "shapes {self} and {other} cannot be broadcast (dim {} is {a} and {b})",
                            i as isize - rank as isize
                        ),
                    ))
                }
            };
        }
        Ok(Shape(dims))
    }

    /// The size of the dim `i` places from the end, 1 where the shape is shorter.
    fn size_from_end(&self, i: usize) -> usize {
        if i < self.rank() {
            self.0[self.rank() - 1 - i]
        } else {
            1
        }
    }

    /// This shape with dimension `dim` removed.
    pub(crate) fn without(&self, dim: usize) -> Shape {
        let mut d = self.0.clone();
        d.remove(dim);
        Shape(d)
    }

    /// This shape with the reduced `dims` set to 1 (keepdim) or removed.
    pub(crate) fn reduced(&self, dims: &[usize], keepdim: bool) -> Shape {
        let mut out = DimVec::new();
        for (i, &d) in self.0.iter().enumerate() {
            if dims.contains(&i) {
                if keepdim {
                    out.push(1);
                }
            } else {
                out.push(d);
            }
        }
        Shape(out)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl From<Vec<usize>> for Shape {
    fn from(v: Vec<usize>) -> Self {
        Shape::new(v)
    }
}

impl From<&[usize]> for Shape {
    fn from(v: &[usize]) -> Self {
        Shape(DimVec::from_slice(v))
    }
}

impl<const N: usize> From<[usize; N]> for Shape {
    fn from(v: [usize; N]) -> Self {
        Shape(DimVec::from_slice(&v))
    }
}

impl<const N: usize> From<&[usize; N]> for Shape {
    fn from(v: &[usize; N]) -> Self {
        Shape(DimVec::from_slice(v))
    }
}

impl From<&Shape> for Shape {
    fn from(s: &Shape) -> Self {
        s.clone()
    }
}

impl From<()> for Shape {
    fn from(_: ()) -> Self {
        Shape::scalar()
    }
}

impl From<usize> for Shape {
    fn from(d: usize) -> Self {
        Shape(DimVec::from_slice(&[d]))
    }
}

/// A dimension index. Negative values count from the end, as in PyTorch.
pub trait Dim: Copy {
    /// The index as `isize`.
    fn to_isize(self) -> isize;

    /// The non-negative index into `shape`, or an error naming `op`.
    fn resolve(self, op: &'static str, shape: &Shape) -> Result<usize> {
        let dim = self.to_isize();
        let rank = shape.rank() as isize;
        let d = if dim < 0 { dim + rank } else { dim };
        if d < 0 || d >= rank {
            return Err(Error::DimOutOfRange {
                op,
                dim,
                shape: shape.clone(),
            });
        }
        Ok(d as usize)
    }
}

macro_rules! impl_dim {
    ($($t:ty),*) => {$(
        impl Dim for $t {
            fn to_isize(self) -> isize {
                self as isize
            }
        }
    )*};
}
impl_dim!(i32, i64, isize, usize);

/// A list of dimension indices, for reductions and permutations.
pub trait Dims {
    /// The indices as `isize`.
    fn dim_list(&self) -> Vec<isize>;
}

impl<D: Dim> Dims for D {
    fn dim_list(&self) -> Vec<isize> {
        vec![self.to_isize()]
    }
}

impl<D: Dim, const N: usize> Dims for [D; N] {
    fn dim_list(&self) -> Vec<isize> {
        self.iter().map(|d| d.to_isize()).collect()
    }
}

impl<D: Dim> Dims for &[D] {
    fn dim_list(&self) -> Vec<isize> {
        self.iter().map(|d| d.to_isize()).collect()
    }
}

impl<D: Dim> Dims for Vec<D> {
    fn dim_list(&self) -> Vec<isize> {
        self.iter().map(|d| d.to_isize()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_compare_and_hash_as_their_dims_at_every_rank() {
        use std::hash::{BuildHasher, RandomState};
        let hasher = RandomState::new();
        let shapes: Vec<Shape> = (0..=6)
            .map(|rank| Shape::new((2..2 + rank).collect()))
            .collect();
        for (i, a) in shapes.iter().enumerate() {
            let copy = a.clone();
            assert_eq!(copy.dims(), a.dims(), "rank {i}");
            assert_eq!(
                hasher.hash_one(&copy),
                hasher.hash_one(a.dims()),
                "rank {i}"
            );
            for (j, b) in shapes.iter().enumerate() {
                assert_eq!(a == b, i == j, "{a} == {b}");
            }
        }
        // Same rank, one dim apart.
        assert_ne!(Shape::new(vec![2, 3, 4]), Shape::new(vec![2, 3, 5]));
    }

    #[test]
    fn contiguous_strides_at_every_rank() {
        let cases: [(&[usize], &[usize]); 8] = [
            (&[], &[]),
            (&[5], &[1]),
            (&[2, 3], &[3, 1]),
            (&[2, 3, 4], &[12, 4, 1]),
            (&[2, 3, 4, 5], &[60, 20, 5, 1]),
            (&[2, 3, 4, 5, 6], &[360, 120, 30, 6, 1]),
            (&[2, 0, 3], &[0, 3, 1]),
            (&[1, 1, 7, 1, 2, 1], &[14, 14, 2, 2, 1, 1]),
        ];
        for (dims, want) in cases {
            let shape = Shape::from(dims);
            assert_eq!(shape.contiguous_strides(), want, "{shape}");
            assert_eq!(&shape.strides_inline()[..], want, "{shape}");
        }
    }

    #[test]
    fn broadcast_table() {
        let ok: &[(&[usize], &[usize], &[usize])] = &[
            (&[2, 3], &[3], &[2, 3]),
            (&[2, 1], &[1, 3], &[2, 3]),
            (&[], &[4, 5], &[4, 5]),
            (&[5, 1, 4], &[3, 1], &[5, 3, 4]),
            (&[0, 3], &[1, 3], &[0, 3]),
        ];
        for (a, b, want) in ok {
            let got = Shape::from(*a).broadcast(&Shape::from(*b), "t").unwrap();
            assert_eq!(got.dims(), *want);
        }
        let err = Shape::from([2, 3])
            .broadcast(&Shape::from([4]), "add")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "add: shapes [2, 3] and [4] cannot be broadcast (dim -1 is 3 and 4)"
        );
    }

    #[test]
    fn dims_resolve() {
        let s = Shape::from([2, 3, 4]);
        assert_eq!(s.dim("t", -1).unwrap(), 2);
        assert_eq!(s.dim("t", 0usize).unwrap(), 0);
        let e = s.dim("sum", 3).unwrap_err().to_string();
        assert_eq!(
            e,
            "sum: dim 3 is out of range for a tensor of shape [2, 3, 4] (expected a dim in [-3, 3))"
        );
        assert!(s.dims_list("sum", &[0, -3]).is_err());
        assert_eq!(s.dims_list("sum", &[-1, 0]).unwrap(), vec![0, 2]);
    }
}
