//! Walking N strided operands in row-major order of a common shape.
//!
//! The shape's dims are coalesced first (adjacent dims that are contiguous with each other in
//! every operand merge), so a contiguous or simply transposed operand costs one run per row.
//! Kernels then loop over the innermost dim themselves, with that dim's stride per operand.

use crate::shape::DimVec;
use crate::Layout;
use rayon::prelude::*;

/// Elements below which kernels stay on one thread.
pub(crate) const PAR_THRESHOLD: usize = 1 << 15;

/// N operands viewed through one shape: `runs()` runs of `inner` elements each.
#[derive(Clone, Debug)]
pub(crate) struct Plan<const N: usize> {
    outer: DimVec,
    outer_strides: [DimVec; N],
    pub inner: usize,
    pub inner_strides: [usize; N],
    base: [usize; N],
}

impl<const N: usize> Plan<N> {
    /// A plan over `shape` for operands with these (strides, offset).
    pub fn new(shape: &[usize], operands: [(&[usize], usize); N]) -> Self {
        // Drop size-1 dims, then merge dim i into i + 1 where every operand allows it.
        let mut dims = DimVec::new();
        let mut strides: [DimVec; N] = std::array::from_fn(|_| DimVec::new());
        for (i, &d) in shape.iter().enumerate() {
            if d == 1 {
                continue;
            }
            let mergeable = !dims.is_empty()
                && (0..N).all(|k| {
                    let prev = *strides[k].last().expect("non-empty");
                    prev == operands[k].0[i] * d
                });
            if mergeable {
                *dims.last_mut().expect("non-empty") *= d;
                for (k, s) in strides.iter_mut().enumerate() {
                    *s.last_mut().expect("non-empty") = operands[k].0[i];
                }
            } else {
                dims.push(d);
                for (k, s) in strides.iter_mut().enumerate() {
                    s.push(operands[k].0[i]);
                }
            }
        }
        let base = std::array::from_fn(|k| operands[k].1);
        if shape.contains(&0) {
            return Plan {
                outer: DimVec::from_slice(&[0]),
                outer_strides: std::array::from_fn(|_| DimVec::from_slice(&[0])),
                inner: 0,
                inner_strides: [0; N],
                base,
            };
        }
        let inner = dims.pop().unwrap_or(1);
        let inner_strides = std::array::from_fn(|k| strides[k].pop().unwrap_or(0));
        Plan {
            outer: dims,
            outer_strides: strides,
            inner,
            inner_strides,
            base,
        }
    }

    /// A plan for one layout.
    pub fn of(layout: &Layout) -> Plan<1> {
        Plan::new(layout.dims(), [(layout.strides(), layout.offset())])
    }

    /// Number of runs (product of the outer dims).
    pub fn runs(&self) -> usize {
        self.outer.iter().product()
    }

    /// Total number of elements.
    pub fn len(&self) -> usize {
        self.runs() * self.inner
    }

    /// The operand offsets at the start of run `r`.
    pub fn offsets_of(&self, mut r: usize) -> [usize; N] {
        let mut off = self.base;
        for d in (0..self.outer.len()).rev() {
            let i = r % self.outer[d];
            r /= self.outer[d];
            for (k, o) in off.iter_mut().enumerate() {
                *o += i * self.outer_strides[k][d];
            }
        }
        off
    }

    /// Calls `f(run, offsets)` for runs `start..end`, in order.
    pub fn for_runs(&self, start: usize, end: usize, mut f: impl FnMut(usize, [usize; N])) {
        if start >= end {
            return;
        }
        let rank = self.outer.len();
        let mut idx = DimVec::from_elem(0, rank);
        let mut r = start;
        for d in (0..rank).rev() {
            idx[d] = r % self.outer[d];
            r /= self.outer[d];
        }
        let mut off = self.offsets_of(start);
        for run in start..end {
            f(run, off);
            // Odometer increment.
            for d in (0..rank).rev() {
                idx[d] += 1;
                for (k, o) in off.iter_mut().enumerate() {
                    *o += self.outer_strides[k][d];
                }
                if idx[d] < self.outer[d] {
                    break;
                }
                for (k, o) in off.iter_mut().enumerate() {
                    *o -= self.outer_strides[k][d] * self.outer[d];
                }
                idx[d] = 0;
            }
        }
    }
}

/// Fills the contiguous `out` (of `plan.len()` elements) run by run, in parallel for large
/// outputs: `f(out_run, offsets)` writes one run of `plan.inner` elements.
pub(crate) fn fill_runs<T: Send, const N: usize>(
    plan: &Plan<N>,
    out: &mut [T],
    f: impl Fn(&mut [T], [usize; N]) + Sync,
) {
    let inner = plan.inner.max(1);
    if out.is_empty() {
        return;
    }
    if out.len() < PAR_THRESHOLD {
        let mut chunks = out.chunks_mut(inner);
        plan.for_runs(0, plan.runs(), |_, off| {
            f(chunks.next().expect("run count"), off)
        });
        return;
    }
    let runs_per_task = PAR_THRESHOLD.div_ceil(inner).max(1);
    out.par_chunks_mut(runs_per_task * inner)
        .enumerate()
        .for_each(|(task, chunk)| {
            let start = task * runs_per_task;
            let end = (start + chunk.len() / inner).min(plan.runs());
            let mut runs = chunk.chunks_mut(inner);
            plan.for_runs(start, end, |_, off| f(runs.next().expect("run count"), off));
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coalesces_contiguous_dims() {
        let l = Layout::contiguous([2, 3, 4]);
        let p = Plan::<1>::of(&l);
        assert_eq!((p.runs(), p.inner), (1, 24));
        let t = l.permute(&[0, 2, 1]);
        let p = Plan::<1>::of(&t);
        assert_eq!((p.runs(), p.inner, p.inner_strides[0]), (8, 3, 4));
        let mut offs = Vec::new();
        p.for_runs(0, p.runs(), |_, o| offs.push(o[0]));
        assert_eq!(offs, vec![0, 1, 2, 3, 12, 13, 14, 15]);
        assert_eq!(p.offsets_of(5), [13]);
    }

    #[test]
    fn broadcast_operand() {
        let a = Layout::contiguous([2, 3]);
        let b = Layout::contiguous([3])
            .broadcast_to(&[2, 3].into(), "t")
            .unwrap();
        let p = Plan::new(a.dims(), [(a.strides(), 0), (b.strides(), 0)]);
        assert_eq!((p.runs(), p.inner, p.inner_strides), (2, 3, [1, 1]));
        let mut offs = Vec::new();
        p.for_runs(0, 2, |_, o| offs.push(o));
        assert_eq!(offs, vec![[0, 0], [3, 0]]);
    }
}
