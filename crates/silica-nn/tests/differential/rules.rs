//! The documented differences between Silica and PyTorch 1.13 that the fuzzer allows. Nothing
//! else is skipped: a case whose spec names a rule not listed here fails the run.
//!
//! In each rule, `tools/golden/fuzz.py` records the answer (values and gradients) of an
//! equivalent computation instead of PyTorch's own, and Silica must give that answer.
//!
//! Where PyTorch 1.13 raises:
//!
//! - `half_kernel_missing`: PyTorch 1.13's CPU has no f16/bf16 kernel for many ops (`"rsqrt_cpu"
//!   not implemented for 'Half'`), forward or backward. Later versions compute each op in f32
//!   and round its result, as Silica does; the reference is the op on f32 copies, with every op
//!   of its forward and backward rounded to the low dtype (`RoundEachOp` in `fuzz.py`). So a
//!   gradient summed over a broadcast dim adds rounded terms, as Silica's does: with all-f32
//!   terms, a sum that cancelled (`pow`'s f16 gradient, seed 6) differed by 2%.
//! - `int_kernel_missing`: a float-valued op of an integer or bool tensor that PyTorch 1.13 has
//!   no kernel for (`"softplus_cpu" not implemented for 'Long'`). Silica computes float-valued
//!   ops of integers in F32, as PyTorch does for the others (`exp`, `sigmoid`); the reference is
//!   the op on F32 copies.
//! - `einsum_empty_dtype`: `einsum` with an empty operand and operands of several dtypes:
//!   PyTorch 1.13 answers a pair with an empty operand by zeros in the second operand's dtype,
//!   whatever the promotion, and may then fail at the next pair ("expected scalar type Double
//!   but found Half"). With an empty operand nothing meets in a matrix product, so Silica
//!   promotes every operand to their common dtype; the reference casts them first.
//! - `bool_clamp_missing`: PyTorch 1.13 has bool kernels for `clamp_min` and `clamp_max` but
//!   not for `clamp` with both bounds (`"clamp_cpu" not implemented for 'Bool'`). Silica's
//!   `clamp_tensor` is `min(max(x, min), max)` for every dtype; the reference clamps in those
//!   two steps.
//! - `conv2d_zero_batch`: some convolutions of a zero batch fail in PyTorch 1.13 with a view
//!   error. The reference convolves one extra image of zeros and cuts it off again.
//! - `scatter_add_src_larger`: with `src` larger than `index`, PyTorch 1.13's backward returns a
//!   gradient of index's shape and fails. The reference reads only the used corner of `src`.
//! - `pow_bool_backward`: PyTorch 1.13's backward of `pow` subtracts from a bool operand and
//!   fails. The reference promotes the operands first.
//! - `nll_strided_backward`: PyTorch 1.13's `nll_loss` backward refuses some strided inputs
//!   ("grad_input must be contiguous"). The reference passes contiguous copies.
//! - `clamp_broadcast_backward`: `clamp` with tensor bounds where the bounds broadcast `x` (or
//!   `min`) to a larger shape: PyTorch 1.13's backward fails ("output with shape [1] doesn't
//!   match the broadcast shape [3]"). The reference clamps the operands expanded to their common
//!   shape, the same function.
//!
//! Where PyTorch 1.13 answers, but inconsistently or wrongly:
//!
//! - `arange_i32_size`: for integer dtypes PyTorch truncates `start`, `end` and `step`, then
//!   sizes an int64 result from the truncated values but an int32 result from the untruncated
//!   ones: `arange(0, 1.5, 1)` is `[0]` in int64 and `[0, 1]` in int32. Silica sizes both as
//!   int64 does.
//! - `batch_norm_strided`: PyTorch 1.13's CPU batch-norm backward gives wrong input gradients
//!   for some strided inputs: it reads a non-contiguous weight as if it were contiguous, and
//!   scrambles the gradient of a permuted input when running statistics are given (training
//!   or evaluation). The reference passes contiguous copies.
//! - `var_without_dof`: with as many elements as `correction`, PyTorch 1.13's variance gradient
//!   is -inf for a 0-dim input and NaN or inf for one of shape `[1]`. Silica (and later
//!   PyTorch) uses `2 (x - mean) / (n - correction)`: NaN where `x` is the mean, ±inf elsewhere.
//! - `norm_composed`: PyTorch 1.13's CPU layer norm and evaluation-mode batch norm are fused
//!   kernels. Layer norm computes `x · s + (b - mean · s)`, which cancels when the spread of a
//!   slice is small against its mean (an error of 1e-4 in f32 when each slice has one
//!   element); with an infinite weight, both put NaN at other elements than the formula does.
//!   Silica's layers are the formulas (normalise, scale, shift). For f32 layer norm, and for
//!   inputs with NaN or inf, the reference is the formula in the input dtype (the precise
//!   reference may add it in f64); other cases compare with the fused kernels themselves.
//! - `bce_logits_limit`: PyTorch's `binary_cross_entropy_with_logits` computes
//!   `(1 - t) x + (1 + (p - 1) t) softplus(-x)`, which is NaN at an infinite logit (its
//!   gradients stay finite). Silica computes the same function as
//!   `p t softplus(-x) + (1 - t) softplus(x)`, which gives the limit (inf, or the finite
//!   part); that formula is the reference where a logit is infinite.
//! - `prod_exclusive`: PyTorch 1.13's product gradient is `result / x` when the whole tensor
//!   has no zero (NaN at a NaN or infinite element, even over a dim of size 1) and the product
//!   of the other elements otherwise. Silica always gives the product of the other elements
//!   (the reference multiplies the slices in a chain); only tensors with a zero, NaN or inf
//!   take this rule.
//! - `cumprod_exclusive`: the same for `cumprod`: PyTorch 1.13 divides the output by the
//!   input where it can (NaN at an infinite element); Silica's gradient sums, over the later
//!   outputs, the product of the other factors (a chain of multiplications is the reference).
//!   Where a slice holds an infinite factor, that sum adds infinite terms: the sequential chain
//!   factors the infinity out (±inf), while Silica's parallel scan may meet inf - inf first, so
//!   a NaN gradient matches an infinite reference in this rule only.
//! - `topk_ties`: among equal values PyTorch 1.13's CPU `topk` returns the indices in no set
//!   order; Silica's `topk` is a stable sort and a narrow, so the first in the slice comes
//!   first. Where the two differ, a stable `sort` and `narrow` are the reference. (For f16
//!   and bf16, which PyTorch 1.13's `topk` lacks, the order its f32 kernel gives decides.)
//! - `conv2d_padding_nonfinite_weight`: with zero padding and an infinite or NaN weight,
//!   PyTorch 1.13's CPU convolution skips the padding, while Silica multiplies it
//!   (`0 · inf = NaN`), as convolving the explicitly padded input does; that is the reference.
//! - `mixed_dtype_backward`: for operands of different dtypes, PyTorch's backward evaluates
//!   parts of a formula in an operand's own dtype (`pow`'s `log(self)` in bf16). Silica
//!   promotes first and differentiates in the result dtype; the reference promotes first.
//!
//! The precise reference, which any case may carry:
//!
//! - PyTorch rounds in the op's dtype, sometimes more often than it must: it sums some f16/bf16
//!   results in the low dtype (a broadcast matmul's gradient, off by 15% where terms cancel),
//!   the gradient of an f64 operand that an op computed in f32 carries f32's rounding, and its
//!   fused batch-norm backward loses precision even in f64 where a channel has two values.
//!   Where PyTorch's answer is further than a sixteenth of the tolerance from the f64 answer
//!   rounded to the same dtype (for batch norm, the formula in f64), the generator stores that
//!   answer too,
//!   and Silica may match either: the reference within the tolerance, or within four times
//!   PyTorch's largest distance from it on that tensor (a gradient that cancels large terms is
//!   only as accurate as f32 allows, but Silica's must be about as accurate as PyTorch's). The summary counts
//!   how many comparisons the precise reference decided.
//!
//! In what is drawn:
//!
//! - Casting NaN, an infinity or an out-of-range float to an integer dtype is undefined
//!   behaviour in C++, so PyTorch's answer depends on the CPU: the generator draws finite,
//!   in-range values for such casts.
//! - PyTorch 1.13 returns an empty tensor unchanged before it checks some arguments: `roll`
//!   accepts any dim (`roll(zeros(0, 3), 1, 5)`), and `tril`/`triu` accept a tensor of rank 1.
//!   Silica checks them whatever the size, so the generator draws dims in range for `roll` of
//!   an empty tensor, and a rank below 2 for `tril`/`triu` only with elements.

/// The rules a case may name.
pub const RULES: [&str; 19] = [
    "bool_clamp_missing",
    "einsum_empty_dtype",
    "clamp_broadcast_backward",
    "cumprod_exclusive",
    "topk_ties",
    "nll_strided_backward",
    "bce_logits_limit",
    "norm_composed",
    "half_kernel_missing",
    "int_kernel_missing",
    "conv2d_zero_batch",
    "scatter_add_src_larger",
    "pow_bool_backward",
    "arange_i32_size",
    "batch_norm_strided",
    "var_without_dof",
    "prod_exclusive",
    "conv2d_padding_nonfinite_weight",
    "mixed_dtype_backward",
];

/// True for the rule whose gradients may be NaN where the reference is infinite.
pub fn nan_for_inf(rule: Option<&str>) -> bool {
    rule == Some("cumprod_exclusive")
}
