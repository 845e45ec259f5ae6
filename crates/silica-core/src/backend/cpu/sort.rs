//! Stable sorting along one dim, with PyTorch's order for NaN (greater than every number).

use super::{Contiguous, Read};
use crate::dtype::is_nan;
use crate::{Element, HostData, Result};
use rayon::prelude::*;
use std::cmp::Ordering;

/// The values of `x` sorted along `dim` (ascending, or descending), and the I64 index of each
/// value in its slice. Equal values keep their order (a stable sort) in both directions; NaN
/// sorts after every number ascending and before them descending, as in PyTorch.
pub(crate) fn sort(x: &Read<'_>, dim: usize, descending: bool) -> Result<(HostData, HostData)> {
    fn go<T: Element>(
        data: &[T],
        dims: &[usize],
        dim: usize,
        descending: bool,
    ) -> (HostData, HostData) {
        let n = dims[dim];
        let inner: usize = dims[dim + 1..].iter().product();
        let outer: usize = dims[..dim].iter().product();
        let total = outer * n * inner;
        let mut values = super::cache::output::<T>(total);
        let mut indices = super::cache::output::<i64>(total);
        if total == 0 {
            return (T::into_host(values), HostData::I64(indices));
        }
        // NaN is the largest: ascending puts it last, descending first.
        let order = |a: &T, b: &T| match (is_nan(*a), is_nan(*b)) {
            (false, false) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
            (a_nan, b_nan) => a_nan.cmp(&b_nan),
        };
        // One task per outer index; inside it, every slice along `dim`.
        values
            .par_chunks_mut(n * inner)
            .zip(indices.par_chunks_mut(n * inner))
            .enumerate()
            .for_each(|(o, (vals, idxs))| {
                let block = &data[o * n * inner..][..n * inner];
                let mut perm: Vec<usize> = Vec::with_capacity(n);
                for i in 0..inner {
                    let at = |j: usize| &block[j * inner + i];
                    perm.clear();
                    perm.extend(0..n);
                    if descending {
                        perm.sort_by(|&a, &b| order(at(b), at(a)));
                    } else {
                        perm.sort_by(|&a, &b| order(at(a), at(b)));
                    }
                    for (j, &p) in perm.iter().enumerate() {
                        vals[j * inner + i] = *at(p);
                        idxs[j * inner + i] = p as i64;
                    }
                }
            });
        (T::into_host(values), HostData::I64(indices))
    }
    let c = Contiguous::of(x, x.data.dtype());
    let (d, o) = c.data();
    let dims = x.layout.dims();
    Ok(match_host!(d, v => go(&v[o..], dims, dim, descending)))
}
