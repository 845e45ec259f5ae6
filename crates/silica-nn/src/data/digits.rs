//! [`Digits`]: 1797 handwritten digits of 8x8 pixels, embedded in the library, so examples and
//! tests train on real data with nothing to download.
//!
//! The data is scikit-learn's copy of the UCI "Optical Recognition of Handwritten Digits" test
//! set (E. Alpaydin, 1998; scikit-learn is BSD-3-licensed): a gzipped CSV of 1797 rows, each 64
//! pixel values in `0..=16` (row-major 8x8) followed by the label `0..=9`.

use super::{CsvDataset, CsvOptions, Dataset, TensorDataset};
use silica_core::Result;

/// The gzipped CSV, 57 KB.
const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// The embedded 8x8 digits data set (UCI / scikit-learn `load_digits`).
///
/// # Examples
///
/// ```
/// use silica_nn::data::{Dataset, Digits};
/// # fn main() -> silica_core::Result<()> {
/// let digits = Digits::load()?;
/// assert_eq!(digits.len(), Digits::LEN);
/// let sample = digits.get(0)?; // [pixels F32 [64] in [0, 1], label I64 []]
/// assert_eq!(sample[0].dims(), &[64]);
/// assert_eq!(sample[1].item::<i64>()?, 0);
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Digits;

impl Digits {
    /// Number of samples.
    pub const LEN: usize = 1797;
    /// Features per sample (8x8 pixels).
    pub const FEATURES: usize = 64;
    /// Number of classes (the digits 0 to 9).
    pub const CLASSES: usize = 10;

    /// The data set as `[features, labels]`: features F32 `[1797, 64]`, the pixel values
    /// divided by 16 so they lie in `[0, 1]` (exactly: 16 is a power of two), in the file's
    /// row-major 8x8 order (reshape a batch to `[b, 1, 8, 8]` for convolutions); labels I64
    /// `[1797]` in `0..=9`. The rows are in the file's order, the same on every call.
    pub fn load() -> Result<TensorDataset> {
        let name = "digits.csv.gz (embedded)";
        let csv = super::maybe_gunzip(DIGITS_CSV_GZ.to_vec(), name)?;
        let data = CsvDataset::from_bytes(&csv, name, CsvOptions::default())?;
        if data.len() != Digits::LEN || data.features().dims()[1] != Digits::FEATURES {
            return Err(super::invalid_data(
                name,
                format!(
                    "expected {} rows of {} features, got shape {}",
                    Digits::LEN,
                    Digits::FEATURES,
                    data.features().shape()
                ),
            ));
        }
        let features = data.features().div_scalar(16.0)?;
        TensorDataset::new(vec![features, data.targets().clone()])
    }
}
