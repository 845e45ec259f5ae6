//! Reductions over a set of dims: sum, prod, max, min, argmax, argmin.

use super::strided::{Plan, PAR_THRESHOLD};
use crate::backend::ReduceOp;
use crate::dtype::is_nan;
use crate::{Element, Error, HostData, Layout, Result, Shape};
use rayon::prelude::*;

pub(crate) fn reduce(
    op: ReduceOp,
    src: &HostData,
    layout: &Layout,
    dims: &[usize],
) -> Result<HostData> {
    if matches!(op, ReduceOp::ArgMax | ReduceOp::ArgMin) && dims.len() != 1 {
        return Err(Error::invalid(
            "argmax",
            "argmax and argmin reduce exactly one dim",
        ));
    }
    Ok(match_host!(src, s => reduce_typed(op, s, layout, dims)))
}

fn reduce_typed<T: Element>(op: ReduceOp, src: &[T], layout: &Layout, dims: &[usize]) -> HostData {
    let is_float = T::DTYPE.is_float();
    if let (ReduceOp::Sum, true, Some(geo)) = (op, is_float, middle_block(layout, dims)) {
        return T::into_host(sum_middle(&src[layout.offset()..], geo));
    }
    match op {
        ReduceOp::Sum if is_float => T::into_host(fold_runs(
            src,
            layout,
            dims,
            0.0f64,
            |a, x, _| a + x.to_f64(),
            |a, xs, _| a + sum_lanes(xs),
            |a, b| a + b,
            T::from_f64,
        )),
        ReduceOp::Sum => T::into_host(fold(
            src,
            layout,
            dims,
            0i64,
            |a, x, _| a.wrapping_add(x.to_f64() as i64),
            i64::wrapping_add,
            |a| T::from_f64(a as f64),
        )),
        ReduceOp::Prod if is_float => T::into_host(fold(
            src,
            layout,
            dims,
            1.0f64,
            |a, x, _| a * x.to_f64(),
            |a, b| a * b,
            T::from_f64,
        )),
        ReduceOp::Prod => T::into_host(fold(
            src,
            layout,
            dims,
            1i64,
            |a, x, _| a.wrapping_mul(x.to_f64() as i64),
            i64::wrapping_mul,
            |a| T::from_f64(a as f64),
        )),
        ReduceOp::Max | ReduceOp::Min => {
            let is_max = op == ReduceOp::Max;
            let better = move |x: T, best: T| {
                // NaN wins and then stays.
                !is_nan(best) && (is_nan(x) || if is_max { x > best } else { x < best })
            };
            T::into_host(fold(
                src,
                layout,
                dims,
                None::<T>,
                move |a, x, _| match a {
                    Some(b) if !better(x, b) => a,
                    _ => Some(x),
                },
                move |a, b| match (a, b) {
                    (Some(x), Some(y)) => Some(if better(y, x) { y } else { x }),
                    (x, None) => x,
                    (None, y) => y,
                },
                |a| a.unwrap_or(T::from_f64(0.0)),
            ))
        }
        ReduceOp::ArgMax | ReduceOp::ArgMin => {
            let is_max = op == ReduceOp::ArgMax;
            let better = move |x: T, best: T| {
                !is_nan(best) && (is_nan(x) || if is_max { x > best } else { x < best })
            };
            HostData::I64(fold(
                src,
                layout,
                dims,
                None::<(T, usize)>,
                move |a, x, i| match a {
                    Some((b, _)) if !better(x, b) => a,
                    _ => Some((x, i)),
                },
                // Partial results arrive in index order, so ties keep the first.
                move |a, b| match (a, b) {
                    (Some(x), Some(y)) => Some(if better(y.0, x.0) { y } else { x }),
                    (x, None) => x,
                    (None, y) => y,
                },
                |a| a.map_or(0, |(_, i)| i as i64),
            ))
        }
    }
}

/// Folds the elements of each reduced slice with `step(acc, x, index_in_slice)` and maps the
/// result with `finish`. `combine` merges partial folds of one slice (in index order), for
/// parallel full reductions.
fn fold<T, A, D>(
    src: &[T],
    layout: &Layout,
    dims: &[usize],
    init: A,
    step: impl Fn(A, T, usize) -> A + Sync,
    combine: impl Fn(A, A) -> A + Sync,
    finish: impl Fn(A) -> D + Sync,
) -> Vec<D>
where
    T: Copy + Sync,
    A: Copy + Send + Sync,
    D: Element,
{
    let run = |a: A, xs: &[T], i0: usize| {
        xs.iter()
            .enumerate()
            .fold(a, |a, (k, &x)| step(a, x, i0 + k))
    };
    fold_runs(src, layout, dims, init, &step, run, combine, finish)
}

/// The sum of a contiguous run in f64, with eight independent accumulators so that the
/// conversion and the adds vectorise.
fn sum_lanes<T: Element>(xs: &[T]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let chunks = xs.chunks_exact(8);
    let tail: f64 = chunks.remainder().iter().map(|x| x.to_f64()).sum();
    for c in chunks {
        for (l, x) in lanes.iter_mut().zip(c) {
            *l += x.to_f64();
        }
    }
    lanes.iter().sum::<f64>() + tail
}

/// `[pre, red, post]` when `layout` is contiguous and `dims` are consecutive dims followed by
/// at least one kept dim of more than one element: the case where each output sums a column.
fn middle_block(layout: &Layout, dims: &[usize]) -> Option<(usize, usize, usize)> {
    let (first, last) = (*dims.first()?, *dims.last()?);
    if !layout.is_contiguous() || last - first + 1 != dims.len() {
        return None;
    }
    let d = layout.dims();
    let post: usize = d[last + 1..].iter().product();
    (post > 1).then(|| {
        let pre = d[..first].iter().product();
        (pre, d[first..=last].iter().product(), post)
    })
}

/// Sums `src` viewed as `[pre, red, post]` over `red`: whole rows of `post` add up at once
/// (in f64, in row order), in column blocks spread over threads.
fn sum_middle<T: Element>(src: &[T], (pre, red, post): (usize, usize, usize)) -> Vec<T> {
    const COLS: usize = 2048;
    let mut out = super::cache::output(pre * post);
    let block = |p: usize, q0: usize, o: &mut [T]| {
        let mut acc = vec![0.0f64; o.len()];
        for r in 0..red {
            let row = &src[(p * red + r) * post + q0..][..o.len()];
            for (a, x) in acc.iter_mut().zip(row) {
                *a += x.to_f64();
            }
        }
        for (o, a) in o.iter_mut().zip(acc) {
            *o = T::from_f64(a);
        }
    };
    if pre * red * post >= PAR_THRESHOLD {
        out.par_chunks_mut(post)
            .enumerate()
            .flat_map(|(p, row)| {
                row.par_chunks_mut(COLS)
                    .enumerate()
                    .map(move |(c, o)| (p, c, o))
            })
            .for_each(|(p, c, o)| block(p, c * COLS, o));
    } else {
        for (p, row) in out.chunks_mut(post).enumerate() {
            for (c, o) in row.chunks_mut(COLS).enumerate() {
                block(p, c * COLS, o);
            }
        }
    }
    out
}

/// [`fold`] with a separate folder for contiguous runs (`run(acc, elements, first index)`),
/// which may be faster than folding element by element.
#[allow(clippy::too_many_arguments)]
fn fold_runs<T, A, D>(
    src: &[T],
    layout: &Layout,
    dims: &[usize],
    init: A,
    step: impl Fn(A, T, usize) -> A + Sync,
    run: impl Fn(A, &[T], usize) -> A + Sync,
    combine: impl Fn(A, A) -> A + Sync,
    finish: impl Fn(A) -> D + Sync,
) -> Vec<D>
where
    T: Copy + Sync,
    A: Copy + Send + Sync,
    D: Element,
{
    let (mut kept_d, mut kept_s, mut red_d, mut red_s) = (vec![], vec![], vec![], vec![]);
    for (i, (&d, &s)) in layout.dims().iter().zip(layout.strides()).enumerate() {
        if dims.contains(&i) {
            red_d.push(d);
            red_s.push(s);
        } else {
            kept_d.push(d);
            kept_s.push(s);
        }
    }
    let outer = Layout::new(Shape::new(kept_d), &kept_s, layout.offset());
    let inner = Plan::new(&red_d, [(&red_s, 0)]);
    let n_out = outer.elem_count();
    let slice_len = inner.len();

    // Folds one reduced slice whose first element is at `base`, over inner runs r0..r1.
    let fold_slice = |base: usize, r0: usize, r1: usize, mut acc: A| -> A {
        let st = inner.inner_strides[0];
        let mut idx = r0 * inner.inner;
        inner.for_runs(r0, r1, |_, [o]| {
            let p = base + o;
            if st == 1 {
                acc = run(acc, &src[p..p + inner.inner], idx);
            } else {
                for k in 0..inner.inner {
                    acc = step(acc, src[p + k * st], idx + k);
                }
            }
            idx += inner.inner;
        });
        acc
    };

    let mut out = super::cache::filled(n_out, D::from_f64(0.0));
    if n_out == 0 {
        return out;
    }
    let out_plan = Plan::<1>::of(&outer);
    let ost = out_plan.inner_strides[0];
    // Offsets of every output's slice, in output order.
    let bases = |start: usize, len: usize, f: &mut dyn FnMut(usize, usize)| {
        let first_run = start / out_plan.inner.max(1);
        let last_run = (start + len).div_ceil(out_plan.inner.max(1));
        out_plan.for_runs(first_run, last_run, |r, [o]| {
            for j in 0..out_plan.inner {
                let i = r * out_plan.inner + j;
                if i >= start && i < start + len {
                    f(i - start, o + j * ost);
                }
            }
        });
    };

    if n_out == 1 && slice_len >= PAR_THRESHOLD && inner.runs() > 1 {
        // One big slice of many runs: fold run ranges in parallel, then combine in order.
        let tasks = rayon::current_num_threads() * 4;
        let per = inner.runs().div_ceil(tasks);
        let parts: Vec<A> = (0..tasks)
            .into_par_iter()
            .map(|t| {
                fold_slice(
                    layout.offset(),
                    t * per,
                    ((t + 1) * per).min(inner.runs()),
                    init,
                )
            })
            .collect();
        out[0] = finish(parts.into_iter().fold(init, &combine));
        return out;
    }
    if n_out == 1 && slice_len >= PAR_THRESHOLD {
        // One contiguous run: split it into chunks.
        let st = inner.inner_strides[0];
        let chunk = PAR_THRESHOLD;
        let parts: Vec<A> = (0..slice_len.div_ceil(chunk))
            .into_par_iter()
            .map(|c| {
                let (k0, k1) = (c * chunk, ((c + 1) * chunk).min(slice_len));
                if st == 1 {
                    return run(init, &src[layout.offset() + k0..layout.offset() + k1], k0);
                }
                (k0..k1).fold(init, |acc, k| step(acc, src[layout.offset() + k * st], k))
            })
            .collect();
        out[0] = finish(parts.into_iter().fold(init, &combine));
        return out;
    }
    let per_task = (PAR_THRESHOLD / slice_len.max(1)).max(1);
    let work = |task: usize, chunk: &mut [D]| {
        bases(task * per_task, chunk.len(), &mut |i, base| {
            chunk[i] = finish(fold_slice(base, 0, inner.runs(), init));
        });
    };
    if n_out * slice_len >= PAR_THRESHOLD && n_out > 1 {
        out.par_chunks_mut(per_task)
            .enumerate()
            .for_each(|(t, c)| work(t, c));
    } else {
        work(0, &mut out[..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Column sums of contiguous blocks (the fast path) equal the general strided fold, bit for
    /// bit: small and parallel sizes, several column blocks, leading and middle blocks.
    #[test]
    fn column_sums_match_the_general_fold() {
        let cases: [(&[usize], &[usize]); 5] = [
            (&[128, 512], &[0]),
            (&[3, 4, 5], &[1]),
            (&[2, 3, 4, 5], &[0, 1]),
            (&[7, 300, 4100], &[1]),
            (&[64, 3000], &[0]),
        ];
        for (shape, dims) in cases {
            let layout = Layout::contiguous(shape.to_vec());
            let n = layout.elem_count();
            let x: Vec<f32> = (0..n)
                .map(|i| ((i * 7919) % 1013) as f32 * 0.37 - 90.0)
                .collect();
            let geo = middle_block(&layout, dims).expect("a middle block");
            let fast = sum_middle(&x, geo);
            let general = fold_runs(
                &x,
                &layout,
                dims,
                0.0f64,
                |a, x, _| a + x.to_f64(),
                |a, xs, _| xs.iter().fold(a, |a, x| a + x.to_f64()),
                |a, b| a + b,
                f32::from_f64,
            );
            assert_eq!(fast, general, "{shape:?} over {dims:?}");
        }
        // Not a middle block: the reduced dims are last, or not consecutive, or not contiguous.
        let l = Layout::contiguous(vec![2, 3, 4]);
        assert!(middle_block(&l, &[2]).is_none());
        assert!(middle_block(&l, &[0, 2]).is_none());
        let t = l.permute(&[1, 0, 2]);
        assert!(middle_block(&t, &[0]).is_none());
    }
}
