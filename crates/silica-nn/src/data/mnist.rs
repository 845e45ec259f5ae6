//! [`MnistDataset`]: MNIST-style IDX files (MNIST, Fashion-MNIST, KMNIST) that the user
//! supplies; nothing is downloaded.
//!
//! An IDX file is a big-endian header, `00 00 <type> <ndim>` then `ndim` u32 sizes, followed
//! by the data in row-major order. Images are type `0x08` (u8) with 3 dims `[n, rows, cols]`
//! (magic `0x00000803`); labels are u8 with 1 dim `[n]` (magic `0x00000801`). The reader checks
//! the magic, the dims and that the data fills the file exactly, and names the file in every
//! error.

use super::{invalid_data, maybe_gunzip, read_file, Dataset};
use silica_core::{DType, Device, Result, Tensor};
use std::path::Path;

/// MNIST-style images and labels: sample `i` is `[image, label]`, the image F32 `[1, rows, cols]`
/// (`[1, 28, 28]` for MNIST) holding `pixel / 255` in `[0, 1]`, the label an I64 scalar.
///
/// The pixels are kept as u8 and converted per sample.
///
/// # Examples
///
/// ```no_run
/// use silica_nn::data::{Dataset, MnistDataset};
/// # fn main() -> silica_core::Result<()> {
/// // Plain or gzipped files, e.g. from the MNIST distribution.
/// let train = MnistDataset::from_files("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")?;
/// assert_eq!(train.get(0)?[0].dims(), &[1, 28, 28]);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct MnistDataset {
    /// U8 `[n, 1, rows, cols]`.
    images: Tensor,
    /// I64 `[n]`.
    labels: Tensor,
}

impl MnistDataset {
    /// Reads an IDX image file and an IDX label file with the same number of items. Either may
    /// be gzipped (recognised by its magic, whatever its name).
    pub fn from_files(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Self> {
        let (images, labels) = (images.as_ref(), labels.as_ref());
        let image_name = images.display().to_string();
        let label_name = labels.display().to_string();
        let image_bytes = maybe_gunzip(read_file(images)?, &image_name)?;
        let label_bytes = maybe_gunzip(read_file(labels)?, &label_name)?;
        MnistDataset::from_bytes(&image_bytes, &image_name, &label_bytes, &label_name)
    }

    /// Parses IDX images and labels held in memory (not gzipped); the names stand for the
    /// files in error messages.
    pub fn from_bytes(
        images: &[u8],
        image_name: &str,
        labels: &[u8],
        label_name: &str,
    ) -> Result<Self> {
        let (dims, pixels) = read_idx(images, image_name, 3, "image")?;
        let (label_dims, label_bytes) = read_idx(labels, label_name, 1, "label")?;
        let (n, rows, cols) = (dims[0], dims[1], dims[2]);
        if label_dims[0] != n {
            return Err(invalid_data(
                label_name,
                format!(
                    "{} labels for {n} images in {image_name}; the counts must match",
                    label_dims[0]
                ),
            ));
        }
        let labels: Vec<i64> = label_bytes.iter().map(|&l| l as i64).collect();
        Ok(MnistDataset {
            images: Tensor::from_slice(pixels, [n, 1, rows, cols], Device::Cpu)?,
            labels: Tensor::from_vec(labels, [n], Device::Cpu)?,
        })
    }

    /// The raw pixels, U8 `[n, 1, rows, cols]`.
    pub fn images(&self) -> &Tensor {
        &self.images
    }

    /// The labels, I64 `[n]`.
    pub fn labels(&self) -> &Tensor {
        &self.labels
    }
}

impl Dataset for MnistDataset {
    fn len(&self) -> usize {
        self.labels.dims()[0]
    }

    fn get(&self, index: usize) -> Result<Vec<Tensor>> {
        super::dataset::check_index("MnistDataset::get", index, self.len())?;
        let i = index as isize;
        let image = self
            .images
            .select(0, i)?
            .to_dtype(DType::F32)?
            .div_scalar(255.0)?;
        Ok(vec![image, self.labels.select(0, i)?])
    }
}

/// Checks an IDX file of u8 data with `ndim` dims; returns the dims and the data.
fn read_idx<'a>(
    bytes: &'a [u8],
    name: &str,
    ndim: usize,
    what: &str,
) -> Result<(Vec<usize>, &'a [u8])> {
    let expected_magic = 0x0800 | ndim as u32;
    let header = 4 + 4 * ndim;
    if bytes.len() < 4 {
        return Err(invalid_data(
            name,
            format!(
                "truncated: {} bytes, too short for an IDX header ({header} bytes)",
                bytes.len()
            ),
        ));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if magic != expected_magic {
        return Err(invalid_data(
            name,
            format!(
                "magic number {magic:#010x} is not that of an IDX {what} file \
                 (expected {expected_magic:#010x}: u8 data in {ndim} dims)"
            ),
        ));
    }
    if bytes.len() < header {
        return Err(invalid_data(
            name,
            format!(
                "truncated: {} bytes, too short for the IDX header of {header} bytes",
                bytes.len()
            ),
        ));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    if ndim == 3 && (dims[1] == 0 || dims[2] == 0) {
        return Err(invalid_data(
            name,
            format!("images of {}x{} pixels have no pixels", dims[1], dims[2]),
        ));
    }
    let count = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| invalid_data(name, format!("dims {dims:?} overflow")))?;
    let data = &bytes[header..];
    if data.len() != count {
        let problem = if data.len() < count {
            "truncated"
        } else {
            "trailing bytes"
        };
        return Err(invalid_data(
            name,
            format!(
                "{problem}: the header promises dims {dims:?} ({count} bytes of data), \
                 but the file holds {} bytes after the header",
                data.len()
            ),
        ));
    }
    Ok((dims, data))
}
