//! Einstein summation, as `torch.einsum`, composed from diagonals (reshape and a stepped slice),
//! sums, permutes, broadcast products and batched matrix products.
//!
//! The equation names each operand's dims with letters (`bij,bjk->bik`); `...` stands for the
//! dims no letter names, which broadcast across operands like a batch. The work, in order:
//!
//! 1. each operand takes the diagonal of every letter it repeats (`ii->i`);
//! 2. each operand sums the letters that no other operand and not the output has (`ij->i`);
//! 3. the operands are contracted left to right, two at a time: letters that both have and that
//!    are still needed (by the output or a later operand) become batch dims, letters both have
//!    and nobody needs are summed by a matrix product `[batch.., left, k] @ [batch.., k, right]`,
//!    or, with nothing to sum, the two are multiplied with broadcasting (an outer product);
//! 4. the result is permuted into the output's order.
//!
//! Every step is a differentiable tensor op, so einsum has no gradient formula of its own and
//! runs on every backend.

use super::Tensor;
use crate::{DType, Error, Result};

/// A dim label: 0..52 for the letters (`A-Z` then `a-z`, ASCII order), 52 + k for the k-th
/// dim of the ellipsis (counted so that the ellipses of all operands align on the right).
type Label = usize;

const LETTERS: usize = 52;

fn letter_label(c: char) -> Option<Label> {
    match c {
        'A'..='Z' => Some(c as usize - 'A' as usize),
        'a'..='z' => Some(c as usize - 'a' as usize + 26),
        _ => None,
    }
}

fn label_name(l: Label) -> String {
    match l {
        0..=25 => char::from(b'A' + l as u8).to_string(),
        26..=51 => char::from(b'a' + (l - 26) as u8).to_string(),
        _ => format!("... dim {}", l - LETTERS),
    }
}

/// One term of the equation: its letters, and where its ellipsis stands (how many letters
/// come before it).
struct Term {
    letters: Vec<Label>,
    ellipsis: Option<usize>,
}

/// Parses one term; `start` is its offset in the equation, for messages.
fn parse_term(text: &str, start: usize, equation: &str) -> Result<Term> {
    let mut letters = Vec::new();
    let mut ellipsis = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '.' {
            let dots = text[i..].starts_with("...");
            if !dots || ellipsis.is_some() {
                return Err(Error::invalid(
                    "einsum",
                    format!(
                        "equation {equation:?}: a term may hold one ellipsis '...', at index {}",
                        start + i
                    ),
                ));
            }
            ellipsis = Some(letters.len());
            chars.next();
            chars.next();
            continue;
        }
        let label = letter_label(c).ok_or_else(|| {
            Error::invalid(
                "einsum",
                format!(
                    "equation {equation:?}: invalid subscript {c:?} at index {}; subscripts are letters [a-zA-Z] (and '...')",
                    start + i
                ),
            )
        })?;
        letters.push(label);
    }
    Ok(Term { letters, ellipsis })
}

/// An operand on its way through the contraction: a tensor and the label of each dim.
struct Labeled {
    t: Tensor,
    labels: Vec<Label>,
}

impl Labeled {
    fn size(&self, l: Label) -> Option<usize> {
        self.labels
            .iter()
            .position(|&m| m == l)
            .map(|i| self.t.dims()[i])
    }

    /// Sums the dims whose labels `drop` picks.
    fn sum_out(self, drop: impl Fn(Label) -> bool) -> Result<Labeled> {
        let dims: Vec<usize> = (0..self.labels.len())
            .filter(|&i| drop(self.labels[i]))
            .collect();
        if dims.is_empty() {
            return Ok(self);
        }
        let labels = (0..self.labels.len())
            .filter(|i| !dims.contains(i))
            .map(|i| self.labels[i])
            .collect();
        Ok(Labeled {
            t: self.t.sum(dims, false)?,
            labels,
        })
    }

    /// The dims in the order of `order` (a permutation of the labels).
    fn permuted(&self, order: &[Label]) -> Result<Tensor> {
        let perm: Vec<usize> = order
            .iter()
            .map(|l| self.labels.iter().position(|m| m == l).expect("a label"))
            .collect();
        self.t.permute(perm)
    }

    /// Replaces each repeated label by the diagonal of its dims.
    fn diagonals(mut self, operand: usize) -> Result<Labeled> {
        while let Some((p, q)) = repeated(&self.labels) {
            let n = self.t.dims()[p];
            if self.t.dims()[q] != n {
                return Err(Error::shape(
                    "einsum",
                    &[self.t.shape()],
                    format!(
                        "subscript {} repeats in operand {operand} (shape {}) with sizes {n} and {}",
                        label_name(self.labels[p]),
                        self.t.shape(),
                        self.t.dims()[q]
                    ),
                ));
            }
            // Move the pair last, merge it, and step over it by n + 1: the diagonal.
            let rest: Vec<usize> = (0..self.labels.len())
                .filter(|&i| i != p && i != q)
                .collect();
            let mut perm = rest.clone();
            perm.extend([p, q]);
            let mut merged: Vec<usize> = rest.iter().map(|&i| self.t.dims()[i]).collect();
            merged.push(n * n);
            let last = merged.len() - 1;
            let t = self.t.permute(perm)?.reshape(merged)?;
            let label = self.labels[p];
            self.labels = rest.iter().map(|&i| self.labels[i]).collect();
            self.labels.push(label);
            self.t = t.slice(last, 0, (n * n) as isize, n + 1)?;
        }
        Ok(self)
    }
}

/// The first pair of positions holding one label.
fn repeated(labels: &[Label]) -> Option<(usize, usize)> {
    (0..labels.len()).find_map(|q| {
        labels[..q]
            .iter()
            .position(|&l| l == labels[q])
            .map(|p| (p, q))
    })
}

/// Contracts `a` and `b`, keeping the labels `keep` says are still needed.
fn contract(a: Labeled, b: Labeled, keep: impl Fn(Label) -> bool) -> Result<Labeled> {
    // Labels only one side has and nobody needs are summed there first.
    let a = a.sum_out(|l| !keep(l) && !b.labels.contains(&l))?;
    let b = b.sum_out(|l| !keep(l) && !a.labels.contains(&l))?;
    // A label to sum that is broadcast (size 1) on one side, or has size 1 on both, sums on
    // each side separately: as in PyTorch, only labels above size 1 on both sides make a matrix
    // product (which needs one dtype), so `ij,jk` with j of size 1 promotes like an outer one.
    let lone = |l: Label| {
        !keep(l) && b.labels.contains(&l) && (a.size(l) != b.size(l) || a.size(l) == Some(1))
    };
    let a_lone: Vec<Label> = a.labels.iter().copied().filter(|&l| lone(l)).collect();
    let a = a.sum_out(|l| a_lone.contains(&l))?;
    let b = b.sum_out(|l| a_lone.contains(&l))?;
    let (batch, summed): (Vec<Label>, Vec<Label>) = a
        .labels
        .iter()
        .copied()
        .filter(|l| b.labels.contains(l))
        .partition(|&l| keep(l));
    let left: Vec<Label> = a
        .labels
        .iter()
        .copied()
        .filter(|l| !b.labels.contains(l))
        .collect();
    let right: Vec<Label> = b
        .labels
        .iter()
        .copied()
        .filter(|l| !a.labels.contains(l))
        .collect();
    let sizes = |t: &Labeled, ls: &[Label]| -> Vec<usize> {
        ls.iter().map(|&l| t.size(l).expect("a label")).collect()
    };
    let labels: Vec<Label> = [&batch[..], &left, &right].concat();
    let t = if summed.is_empty() {
        // An outer product over left and right, broadcast over batch.
        let ones = |n: usize| vec![1; n];
        let ta = a
            .permuted(&[&batch[..], &left].concat())?
            .reshape([sizes(&a, &batch), sizes(&a, &left), ones(right.len())].concat())?;
        let tb = b
            .permuted(&[&batch[..], &right].concat())?
            .reshape([sizes(&b, &batch), ones(left.len()), sizes(&b, &right)].concat())?;
        ta.mul(&tb)?
    } else {
        if a.t.dtype() != b.t.dtype() {
            return Err(Error::invalid(
                "einsum",
                format!(
                    "operands of dtypes {} and {} (shapes {} and {}) need a matrix product; give them one dtype",
                    a.t.dtype(),
                    b.t.dtype(),
                    a.t.shape(),
                    b.t.shape()
                ),
            ));
        }
        let product = |t: &Labeled, ls: &[Label]| sizes(t, ls).iter().product::<usize>();
        let k = product(&a, &summed);
        let ta = a
            .permuted(&[&batch[..], &left, &summed].concat())?
            .reshape([sizes(&a, &batch), vec![product(&a, &left), k]].concat())?;
        let tb = b
            .permuted(&[&batch[..], &summed, &right].concat())?
            .reshape([sizes(&b, &batch), vec![k, product(&b, &right)]].concat())?;
        let out = ta.matmul(&tb)?;
        let batch_dims = &out.dims()[..batch.len()].to_vec();
        out.reshape([batch_dims.clone(), sizes(&a, &left), sizes(&b, &right)].concat())?
    };
    Ok(Labeled { t, labels })
}

impl Tensor {
    /// Einstein summation over `operands`, as `torch.einsum`: `"bij,bjk->bik"` is a batched
    /// matrix product, `"bhqd,bhkd->bhqk"` attention scores, `"i,j->ij"` an outer product,
    /// `"ii->"` a trace, `"ii->i"` a diagonal, `"ij->i"` a sum over an axis and `"ij->ji"` a
    /// transpose. Without `->`, the output holds the letters that appear exactly once, in
    /// alphabetical (ASCII) order, after the ellipsis dims. `...` stands for the unnamed dims
    /// and broadcasts across operands; an output without it sums them. Dims with the same
    /// letter must have equal sizes, or size 1 (which broadcasts). Spaces are ignored.
    ///
    /// The result has the output's shape. Operands that meet in a matrix product (a summed
    /// subscript above size 1 in both) need one dtype, as in PyTorch; otherwise they promote,
    /// as in an outer product, and an empty operand makes every operand promote (the result
    /// is zeros, or empty). Differentiable.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{DType, Device, Tensor};
    /// let a = Tensor::ones([2, 3, 4], DType::F32, Device::Cpu).unwrap();
    /// let b = Tensor::ones([2, 4, 5], DType::F32, Device::Cpu).unwrap();
    /// let c = Tensor::einsum("bij,bjk->bik", &[&a, &b]).unwrap();
    /// assert_eq!(c.dims(), &[2, 3, 5]);
    /// assert_eq!(c.to_vec::<f32>().unwrap()[0], 4.0);
    /// let m = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0], [2, 2], Device::Cpu).unwrap();
    /// assert_eq!(Tensor::einsum("ii", &[&m]).unwrap().item::<f32>().unwrap(), 5.0);
    /// assert_eq!(Tensor::einsum("ij->ji", &[&m]).unwrap().to_vec::<f32>().unwrap(), vec![1.0, 3.0, 2.0, 4.0]);
    /// ```
    pub fn einsum(equation: &str, operands: &[&Tensor]) -> Result<Tensor> {
        let first = operands.first().ok_or_else(|| {
            Error::invalid(
                "einsum",
                format!("equation {equation:?}: expected at least one operand"),
            )
        })?;
        first.same_device("einsum", operands)?;
        let compact: String = equation.chars().filter(|c| !c.is_whitespace()).collect();
        let (lhs, rhs) = match compact.split_once("->") {
            Some((_, r)) if r.contains("->") => {
                return Err(Error::invalid(
                    "einsum",
                    format!("equation {equation:?} has more than one '->'"),
                ))
            }
            Some((l, r)) => (l, Some(r)),
            None => (compact.as_str(), None),
        };
        let mut terms = Vec::new();
        let mut start = 0;
        for text in lhs.split(',') {
            terms.push(parse_term(text, start, &compact)?);
            start += text.len() + 1;
        }
        if terms.len() != operands.len() {
            return Err(Error::invalid(
                "einsum",
                format!(
                    "equation {equation:?} has {} operand terms, got {} operands",
                    terms.len(),
                    operands.len()
                ),
            ));
        }
        // Each operand's labels, its ellipsis dims aligned on the right across operands.
        let mut spans = Vec::with_capacity(terms.len());
        for (i, (term, t)) in terms.iter().zip(operands).enumerate() {
            let named = term.letters.len();
            let span = match term.ellipsis {
                Some(_) if t.rank() >= named => t.rank() - named,
                None if t.rank() == named => 0,
                _ => {
                    return Err(Error::shape(
                        "einsum",
                        &[t.shape()],
                        format!(
                            "equation {equation:?}: operand {i} has shape {}, which does not fit its {named} subscripts{}",
                            t.shape(),
                            if term.ellipsis.is_some() { " and an ellipsis" } else { "" }
                        ),
                    ))
                }
            };
            spans.push(span);
        }
        let ellipsis_dims = spans.iter().copied().max().unwrap_or(0);
        let ellipsis: Vec<Label> = (LETTERS..LETTERS + ellipsis_dims).collect();
        // With an empty operand nothing meets in a real matrix product: all promote.
        let common = operands.iter().any(|t| t.elem_count() == 0).then(|| {
            operands
                .iter()
                .map(|t| t.dtype())
                .reduce(DType::promote)
                .expect("one operand")
        });
        let mut inputs: Vec<Labeled> = Vec::with_capacity(terms.len());
        for ((term, t), span) in terms.iter().zip(operands).zip(&spans) {
            let mut labels = term.letters.clone();
            if let Some(at) = term.ellipsis {
                let own = &ellipsis[ellipsis_dims - span..];
                labels.splice(at..at, own.iter().copied());
            }
            let t = match common {
                Some(dtype) => t.to_dtype(dtype)?,
                None => (*t).clone(),
            };
            inputs.push(Labeled { t, labels });
        }
        let count = |l: Label| -> usize {
            inputs
                .iter()
                .map(|x| x.labels.iter().filter(|&&m| m == l).count())
                .sum()
        };
        let output: Vec<Label> = match rhs {
            Some(text) => {
                let term = parse_term(text, lhs.len() + 2, &compact)?;
                let mut out = term.letters.clone();
                if let Some(at) = term.ellipsis {
                    out.splice(at..at, ellipsis.iter().copied());
                }
                for (i, &l) in out.iter().enumerate() {
                    if out[..i].contains(&l) {
                        return Err(Error::invalid(
                            "einsum",
                            format!(
                                "equation {equation:?}: output subscript {} appears more than once",
                                label_name(l)
                            ),
                        ));
                    }
                    if count(l) == 0 {
                        return Err(Error::invalid(
                            "einsum",
                            format!(
                                "equation {equation:?}: output subscript {} appears in no operand",
                                label_name(l)
                            ),
                        ));
                    }
                }
                out
            }
            None => ellipsis
                .iter()
                .copied()
                .chain((0..LETTERS).filter(|&l| count(l) == 1))
                .collect(),
        };
        let mut left = Vec::with_capacity(inputs.len());
        for (i, x) in inputs.into_iter().enumerate() {
            left.push(x.diagonals(i)?);
        }
        check_sizes(&left, equation)?;
        // Sum what only one operand has and the output lacks.
        let labels_of: Vec<Vec<Label>> = left.iter().map(|x| x.labels.clone()).collect();
        let elsewhere = |i: usize, l: Label| {
            output.contains(&l)
                || labels_of
                    .iter()
                    .enumerate()
                    .any(|(j, ls)| j != i && ls.contains(&l))
        };
        let mut pending = Vec::with_capacity(left.len());
        for (i, x) in left.into_iter().enumerate() {
            pending.push(x.sum_out(|l| !elsewhere(i, l))?);
        }
        let labels_of: Vec<Vec<Label>> = pending.iter().map(|x| x.labels.clone()).collect();
        let mut rest = pending.into_iter().enumerate();
        let (_, mut acc) = rest.next().expect("one operand");
        for (k, b) in rest {
            let after = &labels_of[k + 1..];
            let keep = |l: Label| output.contains(&l) || after.iter().any(|ls| ls.contains(&l));
            acc = contract(acc, b, keep)?;
        }
        let acc = acc.sum_out(|l| !output.contains(&l))?;
        acc.permuted(&output)
    }
}

/// Dims with one label must have one size, or size 1.
fn check_sizes(inputs: &[Labeled], equation: &str) -> Result<()> {
    let mut seen: Vec<Option<(usize, usize)>> = vec![None; LETTERS + 64];
    for (i, x) in inputs.iter().enumerate() {
        for (&l, &n) in x.labels.iter().zip(x.t.dims()) {
            if l >= seen.len() {
                seen.resize(l + 1, None);
            }
            match seen[l] {
                Some((m, j)) if m != n && m != 1 && n != 1 => {
                    return Err(Error::shape(
                        "einsum",
                        &[inputs[j].t.shape(), x.t.shape()],
                        format!(
                            "equation {equation:?}: subscript {} has size {n} in operand {i} (shape {}), which does not broadcast with size {m} in operand {j} (shape {})",
                            label_name(l),
                            x.t.shape(),
                            inputs[j].t.shape()
                        ),
                    ))
                }
                Some((m, _)) if m != 1 => {}
                _ => seen[l] = Some((n, i)),
            }
        }
    }
    Ok(())
}
