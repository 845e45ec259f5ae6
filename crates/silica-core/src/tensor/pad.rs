//! Padding: [`PadMode`] and [`Tensor::pad`].

use super::Tensor;
use crate::{Error, Result, Shape};

/// How [`Tensor::pad`] fills the border.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PadMode {
    /// A constant value.
    Constant(f64),
    /// Mirror without repeating the edge (`[1, 2, 3]` → `3 2 | 1 2 3 | 2 1`).
    Reflect,
    /// Repeat the edge element.
    Replicate,
    /// Wrap around.
    Circular,
}

impl Tensor {
    /// Pads the last dims, as `torch.nn.functional.pad`: `pads` lists (before, after) pairs
    /// starting from the last dim, e.g. `[left, right, top, bottom]`.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Tensor, Device, PadMode};
    /// let x = Tensor::from_slice(&[1.0f32, 2.0, 3.0], [3], Device::Cpu).unwrap();
    /// let r = x.pad(&[2, 1], PadMode::Reflect).unwrap();
    /// assert_eq!(r.to_vec::<f32>().unwrap(), vec![3.0, 2.0, 1.0, 2.0, 3.0, 2.0]);
    /// ```
    pub fn pad(&self, pads: &[usize], mode: PadMode) -> Result<Tensor> {
        if pads.len() % 2 != 0 || pads.len() / 2 > self.rank() {
            return Err(Error::invalid(
                "pad",
                format!(
                    "expected (before, after) pairs for at most {} dims, got {pads:?}",
                    self.rank()
                ),
            ));
        }
        let mut region = vec![(0usize, 1usize); self.rank()];
        let mut dims = self.dims().to_vec();
        for (i, pair) in pads.chunks(2).enumerate() {
            let d = self.rank() - 1 - i;
            region[d].0 = pair[0];
            dims[d] += pair[0] + pair[1];
        }
        if let PadMode::Constant(v) = mode {
            return self.embed(&Shape::new(dims), &region, v);
        }
        let mut out = self.clone();
        for (i, pair) in pads.chunks(2).enumerate() {
            let d = self.rank() - 1 - i;
            let n = self.dims()[d] as isize;
            let (before, after) = (pair[0] as isize, pair[1] as isize);
            if mode == PadMode::Reflect && (before >= n || after >= n) {
                return Err(Error::invalid(
                    "pad",
                    format!("reflect padding {pair:?} must be smaller than dim {d} of size {n} (shape {})", self.shape()),
                ));
            }
            if n == 0 || (mode == PadMode::Circular && (before > n || after > n)) {
                return Err(Error::invalid(
                    "pad",
                    format!("padding {pair:?} does not fit dim {d} of size {n}"),
                ));
            }
            let idx: Vec<i64> = (-before..n + after)
                .map(|j| match mode {
                    PadMode::Reflect => {
                        if j < 0 {
                            -j
                        } else if j >= n {
                            2 * (n - 1) - j
                        } else {
                            j
                        }
                    }
                    PadMode::Replicate => j.clamp(0, n - 1),
                    _ => j.rem_euclid(n),
                } as i64)
                .collect();
            let len = idx.len();
            out = out.index_select(d, &Tensor::from_vec(idx, [len], self.device())?)?;
        }
        Ok(out)
    }
}
