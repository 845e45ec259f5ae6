//! `Display` in PyTorch's style: `tensor([[ 1.0000, -2.5000], ...])`, eliding large tensors.

use super::Tensor;
use crate::{DType, Device};
use std::fmt;

/// Tensors with more elements than this print only `EDGE` items at each end of every dim.
const THRESHOLD: usize = 1000;
const EDGE: usize = 3;
const LINE_WIDTH: usize = 80;

/// How numbers are written: as integers, fixed point or scientific, as PyTorch decides.
enum Style {
    Int,
    /// Floats that are all whole numbers print as `3.`.
    WholeFloat,
    Fixed,
    Sci,
    Bool,
}

fn style_for(dtype: DType, values: &[f64]) -> Style {
    if dtype == DType::Bool {
        return Style::Bool;
    }
    if !dtype.is_float() {
        return Style::Int;
    }
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let whole = finite.iter().all(|v| v.fract() == 0.0);
    let nonzero: Vec<f64> = finite
        .iter()
        .map(|v| v.abs())
        .filter(|&v| v != 0.0)
        .collect();
    let max = nonzero.iter().fold(0.0f64, |m, &v| m.max(v));
    let min = nonzero.iter().fold(f64::INFINITY, |m, &v| m.min(v));
    let wide = !nonzero.is_empty() && (max / min > 1000.0 || max > 1e8);
    if wide || (!whole && !nonzero.is_empty() && min < 1e-4) {
        Style::Sci
    } else if whole {
        Style::WholeFloat
    } else {
        Style::Fixed
    }
}

fn format_value(style: &Style, v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    match style {
        Style::Bool => if v != 0.0 { "True" } else { "False" }.into(),
        Style::Int => format!("{}", v as i64),
        Style::WholeFloat => format!("{v:.0}."),
        Style::Fixed => format!("{v:.4}"),
        Style::Sci => {
            let s = format!("{v:.4e}");
            // Rust writes 1.2345e-5; PyTorch writes 1.2345e-05.
            match s.split_once('e') {
                Some((m, e)) => {
                    let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
                    format!("{m}e{sign}{digits:0>2}")
                }
                None => s,
            }
        }
    }
}

/// The indices printed along a dim of `size`: all, or the edges with `None` for "...".
fn shown(size: usize, summarize: bool) -> Vec<Option<usize>> {
    if summarize && size > 2 * EDGE {
        (0..EDGE)
            .map(Some)
            .chain(std::iter::once(None))
            .chain((size - EDGE..size).map(Some))
            .collect()
    } else {
        (0..size).map(Some).collect()
    }
}

struct Printer<'a> {
    values: &'a [f64],
    dims: &'a [usize],
    strides: Vec<usize>,
    summarize: bool,
    style: Style,
    width: usize,
}

impl Printer<'_> {
    fn item(&self, i: usize) -> String {
        format!(
            "{:>w$}",
            format_value(&self.style, self.values[i]),
            w = self.width
        )
    }

    fn write(&self, out: &mut String, dim: usize, offset: usize, indent: usize) {
        if self.dims.is_empty() {
            out.push_str(&self.item(0));
            return;
        }
        out.push('[');
        let idx = shown(self.dims[dim], self.summarize);
        if dim + 1 == self.dims.len() {
            let per_line = ((LINE_WIDTH.saturating_sub(indent + 1)) / (self.width + 2)).max(1);
            for (n, i) in idx.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                    if n % per_line == 0 {
                        out.push('\n');
                        out.push_str(&" ".repeat(indent + 1));
                    } else {
                        out.push(' ');
                    }
                }
                match i {
                    Some(i) => out.push_str(&self.item(offset + i * self.strides[dim])),
                    None => out.push_str(" ..."),
                }
            }
        } else {
            let gap = "\n".repeat(self.dims.len() - dim - 1);
            for (n, i) in idx.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                    out.push_str(&gap);
                    out.push_str(&" ".repeat(indent + 1));
                }
                match i {
                    Some(i) => self.write(out, dim + 1, offset + i * self.strides[dim], indent + 1),
                    None => out.push_str("..."),
                }
            }
        }
        out.push(']');
    }
}

impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = match self.to_f64_vec() {
            Ok(v) => v,
            Err(e) => return write!(f, "tensor(<unreadable: {e}>)"),
        };
        let dims = self.dims();
        let summarize = values.len() > THRESHOLD;
        // Pick the style and width from the printed elements only.
        let strides = crate::Shape::from(dims).contiguous_strides();
        let mut printed = Vec::new();
        collect(&values, dims, &strides, 0, 0, summarize, &mut printed);
        let style = style_for(self.dtype(), &printed);
        let width = printed
            .iter()
            .map(|&v| format_value(&style, v).len())
            .max()
            .unwrap_or(0);
        let mut out = String::from("tensor(");
        if values.is_empty() {
            out.push_str(&"[".repeat(dims.len().max(1)));
            out.push_str(&"]".repeat(dims.len().max(1)));
        } else {
            Printer {
                values: &values,
                dims,
                strides,
                summarize,
                style,
                width,
            }
            .write(&mut out, 0, 0, 7);
        }
        let mut suffix = Vec::new();
        if values.is_empty() && dims.len() != 1 {
            suffix.push(format!("size={dims:?}"));
        }
        if !matches!(self.dtype(), DType::F32 | DType::I64 | DType::Bool) {
            suffix.push(format!("dtype={}", self.dtype()));
        }
        if self.device() != Device::Cpu {
            suffix.push(format!("device={}", self.device()));
        }
        if self.requires_grad() {
            suffix.push(if self.is_leaf() {
                "requires_grad=True".into()
            } else {
                "grad_fn".into()
            });
        }
        for s in suffix {
            out.push_str(", ");
            out.push_str(&s);
        }
        out.push(')');
        f.write_str(&out)
    }
}

fn collect(
    values: &[f64],
    dims: &[usize],
    strides: &[usize],
    dim: usize,
    offset: usize,
    summarize: bool,
    out: &mut Vec<f64>,
) {
    if dim == dims.len() {
        if !values.is_empty() {
            out.push(values[offset]);
        }
        return;
    }
    for i in shown(dims[dim], summarize).into_iter().flatten() {
        collect(
            values,
            dims,
            strides,
            dim + 1,
            offset + i * strides[dim],
            summarize,
            out,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(v: Vec<f32>, shape: &[usize]) -> String {
        Tensor::from_vec(v, shape, Device::Cpu).unwrap().to_string()
    }

    #[test]
    fn matches_pytorch() {
        // Each expected string was printed by PyTorch 1.13.
        assert_eq!(
            show(vec![0.1, -0.2, 0.3, 0.4], &[2, 2]),
            "tensor([[ 0.1000, -0.2000],\n        [ 0.3000,  0.4000]])"
        );
        assert_eq!(show(vec![1.0, 2.0, 3.0], &[3]), "tensor([1., 2., 3.])");
        assert_eq!(show(vec![3.5], &[]), "tensor(3.5000)");
        assert_eq!(
            show(vec![1e-5, 1.0], &[2]),
            "tensor([1.0000e-05, 1.0000e+00])"
        );
        let i = Tensor::from_slice(&[1i64, -20, 3], [3], Device::Cpu).unwrap();
        assert_eq!(i.to_string(), "tensor([  1, -20,   3])");
        let b = Tensor::from_slice(&[true, false], [2], Device::Cpu).unwrap();
        assert_eq!(b.to_string(), "tensor([ True, False])");
        let d = Tensor::from_slice(&[0.5f64], [1], Device::Cpu).unwrap();
        assert_eq!(d.to_string(), "tensor([0.5000], dtype=f64)");
        let big = Tensor::arange(0.0, 2000.0, 1.0, DType::F32, Device::Cpu).unwrap();
        assert_eq!(
            big.to_string(),
            "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n        1.9990e+03])"
        );
        let rows = Tensor::arange(2.0, 1004.0, 1.0, DType::F32, Device::Cpu)
            .unwrap()
            .reshape([334, 3])
            .unwrap();
        let want = "tensor([[   2.,    3.,    4.],\n        [   5.,    6.,    7.],\n        [   8.,    9.,   10.],\n        ...,\n        [ 995.,  996.,  997.],\n        [ 998.,  999., 1000.],\n        [1001., 1002., 1003.]])";
        assert_eq!(rows.to_string(), want);
        let wrap = Tensor::arange(0.0, 60.0, 1.5, DType::F32, Device::Cpu).unwrap();
        assert!(wrap.to_string().starts_with("tensor([ 0.0000,  1.5000,  3.0000,  4.5000,  6.0000,  7.5000,  9.0000, 10.5000,\n        12.0000,"));
    }
}
