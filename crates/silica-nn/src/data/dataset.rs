//! Datasets built from other data: [`TensorDataset`], [`Subset`], [`random_split`], and the
//! seeded permutation [`randperm`] that shuffling uses.

use super::{share, Dataset};
use silica_core::{DType, Device, Error, Generator, Result, Tensor};
use std::sync::Arc;

/// Rows of tensors that share their first dim: sample `i` is row `i` of each tensor, as
/// `torch.utils.data.TensorDataset`.
///
/// Samples are views of the rows (no copy); the loader's stacking makes the batch copy.
///
/// # Examples
///
/// ```
/// use silica_core::{Tensor, DType, Device};
/// use silica_nn::data::{Dataset, TensorDataset};
/// # fn main() -> silica_core::Result<()> {
/// let x = Tensor::zeros([10, 3], DType::F32, Device::Cpu)?;
/// let y = Tensor::arange(0.0, 10.0, 1.0, DType::I64, Device::Cpu)?;
/// let ds = TensorDataset::new(vec![x, y])?;
/// assert_eq!(ds.len(), 10);
/// let sample = ds.get(4)?;
/// assert_eq!(sample[0].dims(), &[3]);
/// assert_eq!(sample[1].item::<i64>()?, 4);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct TensorDataset {
    tensors: Vec<Tensor>,
    len: usize,
}

impl TensorDataset {
    /// A dataset over `tensors`, each of shape `[n, ...]` with the same `n`.
    pub fn new(tensors: Vec<Tensor>) -> Result<Self> {
        let first = tensors
            .first()
            .ok_or_else(|| Error::invalid("TensorDataset", "expected at least one tensor"))?;
        if first.rank() == 0 {
            return Err(Error::shape(
                "TensorDataset",
                &[first.shape()],
                "tensors need a first dim to index samples, got a zero-dim tensor",
            ));
        }
        let len = first.dims()[0];
        for t in &tensors {
            if t.rank() == 0 || t.dims()[0] != len {
                return Err(Error::shape(
                    "TensorDataset",
                    &[first.shape(), t.shape()],
                    format!(
                        "all tensors need the same first dim, got shapes {} and {}",
                        first.shape(),
                        t.shape()
                    ),
                ));
            }
        }
        Ok(TensorDataset { tensors, len })
    }

    /// The tensors, each of shape `[len, ...]`.
    pub fn tensors(&self) -> &[Tensor] {
        &self.tensors
    }
}

impl Dataset for TensorDataset {
    fn len(&self) -> usize {
        self.len
    }

    fn get(&self, index: usize) -> Result<Vec<Tensor>> {
        check_index("TensorDataset::get", index, self.len)?;
        self.tensors
            .iter()
            .map(|t| t.select(0, index as isize))
            .collect()
    }
}

/// The samples of `dataset` at `indices`, in that order, as `torch.utils.data.Subset`.
///
/// # Examples
///
/// ```
/// use silica_core::{Tensor, DType, Device};
/// use silica_nn::data::{Dataset, Subset, TensorDataset};
/// # fn main() -> silica_core::Result<()> {
/// let y = Tensor::arange(0.0, 5.0, 1.0, DType::I64, Device::Cpu)?;
/// let sub = Subset::new(TensorDataset::new(vec![y])?, vec![4, 1])?;
/// assert_eq!(sub.len(), 2);
/// assert_eq!(sub.get(0)?[0].item::<i64>()?, 4);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Subset {
    dataset: Arc<dyn Dataset>,
    indices: Vec<usize>,
}

impl Subset {
    /// The samples of `dataset` at `indices`; every index must be below `dataset.len()`.
    pub fn new(dataset: impl Dataset + 'static, indices: Vec<usize>) -> Result<Self> {
        Subset::from_shared(share(dataset), indices)
    }

    fn from_shared(dataset: Arc<dyn Dataset>, indices: Vec<usize>) -> Result<Self> {
        let len = dataset.len();
        if let Some(&bad) = indices.iter().find(|&&i| i >= len) {
            return Err(Error::IndexOutOfBounds {
                op: "Subset::new",
                index: bad as i64,
                dim: 0,
                size: len,
            });
        }
        Ok(Subset { dataset, indices })
    }

    /// The indices into the underlying dataset.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    /// The underlying dataset.
    pub fn dataset(&self) -> &Arc<dyn Dataset> {
        &self.dataset
    }
}

impl std::fmt::Debug for Subset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Subset[{} of {} samples]",
            self.indices.len(),
            self.dataset.len()
        )
    }
}

impl Dataset for Subset {
    fn len(&self) -> usize {
        self.indices.len()
    }

    fn get(&self, index: usize) -> Result<Vec<Tensor>> {
        check_index("Subset::get", index, self.indices.len())?;
        self.dataset.get(self.indices[index])
    }
}

/// The sizes of the parts of a [`random_split`]: sample counts summing to the dataset's length,
/// or fractions summing to 1.
///
/// Built with `From` from arrays, slices or vectors of `usize` (counts) or `f64` (fractions).
#[derive(Clone, Debug, PartialEq)]
pub enum SplitLengths {
    /// Numbers of samples; they must sum to the dataset's length.
    Counts(Vec<usize>),
    /// Fractions in `[0, 1]` summing to 1 (within 1e-9). Each part gets `floor(n * fraction)`
    /// samples, and the remaining samples go one each to the parts in turn from the first, as
    /// PyTorch 1.13 does.
    Fractions(Vec<f64>),
}

impl From<Vec<usize>> for SplitLengths {
    fn from(v: Vec<usize>) -> Self {
        SplitLengths::Counts(v)
    }
}

impl From<&[usize]> for SplitLengths {
    fn from(v: &[usize]) -> Self {
        SplitLengths::Counts(v.to_vec())
    }
}

impl<const N: usize> From<[usize; N]> for SplitLengths {
    fn from(v: [usize; N]) -> Self {
        SplitLengths::Counts(v.to_vec())
    }
}

impl From<Vec<f64>> for SplitLengths {
    fn from(v: Vec<f64>) -> Self {
        SplitLengths::Fractions(v)
    }
}

impl From<&[f64]> for SplitLengths {
    fn from(v: &[f64]) -> Self {
        SplitLengths::Fractions(v.to_vec())
    }
}

impl<const N: usize> From<[f64; N]> for SplitLengths {
    fn from(v: [f64; N]) -> Self {
        SplitLengths::Fractions(v.to_vec())
    }
}

impl SplitLengths {
    /// The sample count of each part for a dataset of `n` samples.
    pub fn counts(&self, n: usize) -> Result<Vec<usize>> {
        let counts = match self {
            SplitLengths::Counts(c) => c.clone(),
            SplitLengths::Fractions(fracs) => {
                let sum: f64 = fracs.iter().sum();
                if fracs.iter().any(|f| !(0.0..=1.0).contains(f)) || (sum - 1.0).abs() > 1e-9 {
                    return Err(Error::invalid(
                        "random_split",
                        format!("fractions {fracs:?} must lie in [0, 1] and sum to 1"),
                    ));
                }
                let mut c: Vec<usize> = fracs.iter().map(|f| (n as f64 * f) as usize).collect();
                let assigned: usize = c.iter().sum();
                // Fractions summing to a hair over 1 could over-assign for huge n; the sum check
                // below reports that.
                let parts = c.len();
                for i in 0..n.saturating_sub(assigned) {
                    c[i % parts] += 1;
                }
                c
            }
        };
        let total: usize = counts.iter().sum();
        if total != n {
            return Err(Error::invalid(
                "random_split",
                format!("lengths {counts:?} sum to {total}, expected the dataset's length {n}"),
            ));
        }
        Ok(counts)
    }
}

/// Splits `dataset` into disjoint random [`Subset`]s of the given sizes, as
/// `torch.utils.data.random_split`: the parts are consecutive runs of
/// [`randperm`]`(len, generator)`, so a seed always gives the same split.
///
/// # Examples
///
/// ```
/// use silica_core::{Tensor, DType, Device, Generator};
/// use silica_nn::data::{random_split, Dataset, TensorDataset};
/// # fn main() -> silica_core::Result<()> {
/// let x = Tensor::zeros([10, 2], DType::F32, Device::Cpu)?;
/// let parts = random_split(TensorDataset::new(vec![x])?, [0.7, 0.3], &Generator::new(0))?;
/// assert_eq!((parts[0].len(), parts[1].len()), (7, 3));
/// let x = Tensor::zeros([10, 2], DType::F32, Device::Cpu)?;
/// let parts = random_split(TensorDataset::new(vec![x])?, [6, 4], &Generator::new(0))?;
/// assert_eq!((parts[0].len(), parts[1].len()), (6, 4));
/// # Ok(()) }
/// ```
pub fn random_split(
    dataset: impl Dataset + 'static,
    lengths: impl Into<SplitLengths>,
    generator: &Generator,
) -> Result<Vec<Subset>> {
    let dataset = share(dataset);
    let counts = lengths.into().counts(dataset.len())?;
    let perm = randperm(dataset.len(), generator)?;
    let mut start = 0;
    counts
        .iter()
        .map(|&c| {
            let part = perm[start..start + c].to_vec();
            start += c;
            Subset::from_shared(dataset.clone(), part)
        })
        .collect()
}

/// A random permutation of `0..n` drawn from `generator`, like `torch.randperm`.
///
/// Draws `n` integer keys in `[0, 2^63 - 1)` (one draw of shape `[n]`, advancing the generator)
/// and sorts the indices by key, ties by index: the result depends only on the generator's seed
/// and offset. Successive calls on one generator give successive, independent permutations.
/// The values differ from PyTorch's, whose generator is not Philox-based on the CPU.
///
/// # Examples
///
/// ```
/// use silica_core::Generator;
/// use silica_nn::data::randperm;
/// let a = randperm(5, &Generator::new(42)).unwrap();
/// let mut sorted = a.clone();
/// sorted.sort();
/// assert_eq!(sorted, vec![0, 1, 2, 3, 4]);
/// assert_eq!(a, randperm(5, &Generator::new(42)).unwrap());
/// ```
pub fn randperm(n: usize, generator: &Generator) -> Result<Vec<usize>> {
    let keys = generator
        .randint(0, i64::MAX, [n], DType::I64, Device::Cpu)?
        .to_vec::<i64>()?;
    let mut perm: Vec<usize> = (0..n).collect();
    perm.sort_unstable_by_key(|&i| (keys[i], i));
    Ok(perm)
}

/// Fails with [`Error::IndexOutOfBounds`] unless `index < len`.
pub(super) fn check_index(op: &'static str, index: usize, len: usize) -> Result<()> {
    if index >= len {
        return Err(Error::IndexOutOfBounds {
            op,
            index: index as i64,
            dim: 0,
            size: len,
        });
    }
    Ok(())
}
