//! [`CsvDataset`]: a numeric CSV file as features and targets.
//!
//! The reader is deliberately small: one record per line, fields split on a one-character
//! delimiter, surrounding whitespace and double quotes trimmed, blank lines skipped. It does not
//! handle quoted fields that contain the delimiter or a line break; numeric data never needs it.
//! Errors name the file, the line (counting from 1, header included) and the column (counting
//! from 1, with its header name when there is one).

use super::{invalid_data, maybe_gunzip, read_file, Dataset, TensorDataset};
use silica_core::{Device, Error, Result, Tensor};
use std::path::Path;

/// Which column holds the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabelColumn {
    /// The column at this index, counting from 0.
    Index(usize),
    /// The column with this header name (needs `has_header`).
    Name(String),
    /// The last column.
    Last,
}

impl From<usize> for LabelColumn {
    fn from(i: usize) -> Self {
        LabelColumn::Index(i)
    }
}

impl From<&str> for LabelColumn {
    fn from(name: &str) -> Self {
        LabelColumn::Name(name.to_string())
    }
}

/// How the target column is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsvTarget {
    /// Integer class labels, as I64 (`3` and `3.0` are both class 3; `3.5` is an error).
    Class,
    /// Real-valued targets, as F32.
    Regression,
}

/// Options of [`CsvDataset::from_path`].
///
/// The default reads a headerless comma-separated file whose last column is an integer class
/// label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvOptions {
    /// The first non-blank line names the columns. Default false.
    pub has_header: bool,
    /// The target column; every other column is a feature. Default [`LabelColumn::Last`].
    pub label_column: LabelColumn,
    /// The field separator. Default `,`.
    pub delimiter: char,
    /// Class labels (I64) or regression targets (F32). Default [`CsvTarget::Class`].
    pub target: CsvTarget,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            has_header: false,
            label_column: LabelColumn::Last,
            delimiter: ',',
            target: CsvTarget::Class,
        }
    }
}

/// A numeric CSV file as a dataset of `[features, target]` samples: features F32 `[f]` (every
/// column but the target's, in file order) and the target as an I64 or F32 scalar.
///
/// # Examples
///
/// ```
/// use silica_nn::data::{CsvDataset, CsvOptions, Dataset, LabelColumn};
/// # fn main() -> silica_core::Result<()> {
/// let text = "x,label,y\n1.5,0,2\n-1,1,0.25\n";
/// let options = CsvOptions { has_header: true, label_column: "label".into(), ..Default::default() };
/// let ds = CsvDataset::from_bytes(text.as_bytes(), "inline.csv", options)?;
/// assert_eq!(ds.len(), 2);
/// assert_eq!(ds.feature_names(), Some(&["x".to_string(), "y".to_string()][..]));
/// let sample = ds.get(1)?;
/// assert_eq!(sample[0].to_vec::<f32>()?, vec![-1.0, 0.25]);
/// assert_eq!(sample[1].item::<i64>()?, 1);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct CsvDataset {
    data: TensorDataset,
    feature_names: Option<Vec<String>>,
    target_name: Option<String>,
}

impl CsvDataset {
    /// Reads the CSV file at `path` (gzipped or not: a gzip file is recognised by its magic).
    pub fn from_path(path: impl AsRef<Path>, options: CsvOptions) -> Result<Self> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let bytes = maybe_gunzip(read_file(path)?, &name)?;
        CsvDataset::from_bytes(&bytes, &name, options)
    }

    /// Parses CSV text held in memory; `name` stands for the file in error messages.
    pub fn from_bytes(bytes: &[u8], name: &str, options: CsvOptions) -> Result<Self> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let line = 1 + bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&c| c == b'\n')
                .count();
            invalid_data(name, format!("line {line}: the text is not valid UTF-8"))
        })?;
        parse(text, name, &options)
    }

    /// The features, F32 `[n, f]`.
    pub fn features(&self) -> &Tensor {
        &self.data.tensors()[0]
    }

    /// The targets, `[n]`: I64 class labels or F32 regression targets.
    pub fn targets(&self) -> &Tensor {
        &self.data.tensors()[1]
    }

    /// The header names of the feature columns, when the file has a header.
    pub fn feature_names(&self) -> Option<&[String]> {
        self.feature_names.as_deref()
    }

    /// The header name of the target column, when the file has a header.
    pub fn target_name(&self) -> Option<&str> {
        self.target_name.as_deref()
    }

    /// The `[features, targets]` tensors as a [`TensorDataset`].
    pub fn into_tensor_dataset(self) -> TensorDataset {
        self.data
    }
}

impl Dataset for CsvDataset {
    fn len(&self) -> usize {
        self.data.len()
    }

    fn get(&self, index: usize) -> Result<Vec<Tensor>> {
        self.data.get(index)
    }
}

fn split_fields(line: &str, delimiter: char) -> Vec<&str> {
    line.split(delimiter)
        .map(|f| {
            let f = f.trim();
            f.strip_prefix('"')
                .and_then(|g| g.strip_suffix('"'))
                .unwrap_or(f)
                .trim()
        })
        .collect()
}

fn parse(text: &str, name: &str, options: &CsvOptions) -> Result<CsvDataset> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty())
        .peekable();
    let header: Option<Vec<String>> = if options.has_header {
        let (_, line) = lines
            .next()
            .ok_or_else(|| invalid_data(name, "the file is empty; expected a header line"))?;
        Some(
            split_fields(line, options.delimiter)
                .into_iter()
                .map(String::from)
                .collect(),
        )
    } else {
        None
    };
    let columns = match (&header, lines.peek()) {
        (Some(h), _) => h.len(),
        (None, Some((_, line))) => split_fields(line, options.delimiter).len(),
        (None, None) => return Err(invalid_data(name, "the file has no data lines")),
    };
    let label = match &options.label_column {
        LabelColumn::Last => columns - 1,
        LabelColumn::Index(i) if *i < columns => *i,
        LabelColumn::Index(i) => {
            return Err(invalid_data(
                name,
                format!("label column index {i} is out of range for {columns} columns"),
            ))
        }
        LabelColumn::Name(n) => match &header {
            Some(h) => h.iter().position(|c| c == n).ok_or_else(|| {
                invalid_data(
                    name,
                    format!("no column is named {n:?}; the header has {h:?}"),
                )
            })?,
            None => {
                return Err(Error::invalid(
                    "CsvDataset",
                    format!("label column {n:?} is given by name, but has_header is false"),
                ))
            }
        },
    };
    let column_name = |c: usize| match &header {
        Some(h) => format!("column {} ({:?})", c + 1, h[c]),
        None => format!("column {}", c + 1),
    };

    let mut features: Vec<f32> = Vec::new();
    let mut class_labels: Vec<i64> = Vec::new();
    let mut real_targets: Vec<f32> = Vec::new();
    let mut rows = 0usize;
    for (line_no, line) in lines {
        let fields = split_fields(line, options.delimiter);
        if fields.len() != columns {
            return Err(invalid_data(
                name,
                format!(
                    "line {line_no}: {} columns, expected {columns}{}",
                    fields.len(),
                    if header.is_some() {
                        " (as in the header)"
                    } else {
                        " (as on the first line)"
                    }
                ),
            ));
        }
        for (c, field) in fields.iter().enumerate() {
            let bad = |what: &str| {
                invalid_data(
                    name,
                    format!(
                        "line {line_no}, {}: cannot parse {field:?} as {what}",
                        column_name(c)
                    ),
                )
            };
            if c != label {
                features.push(field.parse::<f32>().map_err(|_| bad("a number"))?);
            } else if options.target == CsvTarget::Regression {
                real_targets.push(field.parse::<f32>().map_err(|_| bad("a number"))?);
            } else {
                let v = match field.parse::<i64>() {
                    Ok(v) => v,
                    Err(_) => match field.parse::<f64>() {
                        Ok(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => x as i64,
                        _ => return Err(bad("an integer class label")),
                    },
                };
                class_labels.push(v);
            }
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(invalid_data(name, "the file has no data lines"));
    }
    let x = Tensor::from_vec(features, [rows, columns - 1], Device::Cpu)?;
    let y = match options.target {
        CsvTarget::Class => Tensor::from_vec(class_labels, [rows], Device::Cpu)?,
        CsvTarget::Regression => Tensor::from_vec(real_targets, [rows], Device::Cpu)?,
    };
    let (feature_names, target_name) = match header {
        Some(mut h) => {
            let t = h.remove(label);
            (Some(h), Some(t))
        }
        None => (None, None),
    };
    Ok(CsvDataset {
        data: TensorDataset::new(vec![x, y])?,
        feature_names,
        target_name,
    })
}
