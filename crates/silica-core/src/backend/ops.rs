//! The op codes and parameter structs that kernels take.

/// Elementwise ops of one operand. The output has the input's dtype. Ops other than
/// `Neg`, `Abs`, `Sign`, `Square`, `Relu`, `Clamp`, `Floor`, `Ceil` and `Round` take float
/// inputs only; the tensor layer casts integers to float first.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryOp {
    /// `-x` (integers wrap).
    Neg,
    /// `|x|`.
    Abs,
    /// `e^x`.
    Exp,
    /// Natural logarithm `ln(x)`; NaN for `x < 0`, -inf at 0.
    Log,
    /// `ln(1 + x)`, accurate for small `x`, as `torch.log1p`.
    Log1p,
    /// `sqrt(x)`; NaN for `x < 0`.
    Sqrt,
    /// `1 / sqrt(x)`, as `torch.rsqrt`.
    Rsqrt,
    /// `x * x`.
    Square,
    /// `sin(x)`, `x` in radians.
    Sin,
    /// `cos(x)`, `x` in radians.
    Cos,
    /// `tanh(x)`.
    Tanh,
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// `max(x, 0)`.
    Relu,
    /// `x` for `x >= 0`, else `slope * x`.
    LeakyRelu(f64),
    /// `x * Φ(x)`, with the exact normal CDF.
    Gelu,
    /// GELU's tanh approximation.
    GeluTanh,
    /// `x * sigmoid(x)`.
    Silu,
    /// `log(1 + exp(beta * x)) / beta`, and `x` where `beta * x > threshold`.
    Softplus {
        /// Scale applied to the input before the softplus and divided out after; PyTorch's
        /// `beta` (default 1).
        beta: f64,
        /// Above this value of `beta * x` the op returns `x` unchanged, for numerical
        /// stability; PyTorch's `threshold` (default 20).
        threshold: f64,
    },
    /// The Gauss error function `erf(x)`, as `torch.erf`.
    Erf,
    /// -1, 0 or 1 (NaN stays NaN).
    Sign,
    /// Largest integer not above `x`; integers pass through.
    Floor,
    /// Smallest integer not below `x`; integers pass through.
    Ceil,
    /// Rounds half to even, as `torch.round`.
    Round,
    /// `1 / x`, as `torch.reciprocal`.
    Recip,
    /// `min(max(x, min), max)`; NaN passes through.
    Clamp {
        /// Lower bound, PyTorch's `min`; `-inf` for none.
        min: f64,
        /// Upper bound, PyTorch's `max`; `+inf` for none. Wins over `min` when `min > max`.
        max: f64,
    },
}

impl UnaryOp {
    /// True when the op is defined on integer dtypes.
    pub fn takes_int(self) -> bool {
        matches!(
            self,
            UnaryOp::Neg
                | UnaryOp::Abs
                | UnaryOp::Sign
                | UnaryOp::Square
                | UnaryOp::Relu
                | UnaryOp::Clamp { .. }
                | UnaryOp::Floor
                | UnaryOp::Ceil
                | UnaryOp::Round
        )
    }

    /// The op's name, for error messages.
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Abs => "abs",
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Log1p => "log1p",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Rsqrt => "rsqrt",
            UnaryOp::Square => "square",
            UnaryOp::Sin => "sin",
            UnaryOp::Cos => "cos",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Relu => "relu",
            UnaryOp::LeakyRelu(_) => "leaky_relu",
            UnaryOp::Gelu => "gelu",
            UnaryOp::GeluTanh => "gelu_tanh",
            UnaryOp::Silu => "silu",
            UnaryOp::Softplus { .. } => "softplus",
            UnaryOp::Erf => "erf",
            UnaryOp::Sign => "sign",
            UnaryOp::Floor => "floor",
            UnaryOp::Ceil => "ceil",
            UnaryOp::Round => "round",
            UnaryOp::Recip => "recip",
            UnaryOp::Clamp { .. } => "clamp",
        }
    }
}

/// Elementwise ops of two operands of one dtype.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `lhs + rhs` (integers wrap; logical or on Bool).
    Add,
    /// `lhs - rhs` (integers wrap).
    Sub,
    /// `lhs * rhs` (integers wrap; logical and on Bool).
    Mul,
    /// Float division, or integer division truncating toward zero.
    Div,
    /// `lhs ^ rhs`. For integers a negative power truncates `1 / lhs^-rhs` toward zero, as
    /// PyTorch's integer pow.
    Pow,
    /// The larger operand; NaN if either is NaN.
    Maximum,
    /// The smaller operand; NaN if either is NaN.
    Minimum,
    /// Comparisons give Bool.
    Eq,
    /// `lhs != rhs`, as Bool.
    Ne,
    /// `lhs < rhs`, as Bool.
    Lt,
    /// `lhs <= rhs`, as Bool.
    Le,
    /// `lhs > rhs`, as Bool.
    Gt,
    /// `lhs >= rhs`, as Bool.
    Ge,
    /// Logical ops treat non-zero as true and give Bool.
    And,
    /// Logical or: true when either operand is non-zero; gives Bool.
    Or,
}

impl BinaryOp {
    /// True when the output is Bool.
    pub fn is_predicate(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq
                | BinaryOp::Ne
                | BinaryOp::Lt
                | BinaryOp::Le
                | BinaryOp::Gt
                | BinaryOp::Ge
                | BinaryOp::And
                | BinaryOp::Or
        )
    }

    /// The op's name, for error messages.
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Pow => "pow",
            BinaryOp::Maximum => "maximum",
            BinaryOp::Minimum => "minimum",
            BinaryOp::Eq => "eq",
            BinaryOp::Ne => "ne",
            BinaryOp::Lt => "lt",
            BinaryOp::Le => "le",
            BinaryOp::Gt => "gt",
            BinaryOp::Ge => "ge",
            BinaryOp::And => "logical_and",
            BinaryOp::Or => "logical_or",
        }
    }
}

/// Reductions over dims.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// Sum of the elements (0 for an empty reduction).
    Sum,
    /// Product of the elements (1 for an empty reduction).
    Prod,
    /// NaN wins, as in PyTorch.
    Max,
    /// NaN wins, as in PyTorch.
    Min,
    /// Index of the first maximum along one dim, as I64.
    ArgMax,
    /// Index of the first minimum along one dim, as I64.
    ArgMin,
}

/// Distributions that [`super::Kernels::random`] draws from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Distribution {
    /// Uniform on `[low, high)`.
    Uniform {
        /// Inclusive lower bound.
        low: f64,
        /// Exclusive upper bound.
        high: f64,
    },
    /// Normal with this mean and standard deviation.
    Normal {
        /// The mean.
        mean: f64,
        /// The standard deviation.
        std: f64,
    },
    /// Uniform integers on `[low, high)`.
    Int {
        /// Inclusive lower bound.
        low: i64,
        /// Exclusive upper bound; greater than `low`.
        high: i64,
    },
}

/// Hyper-parameters of one Adam or AdamW step, as PyTorch's single-tensor update computes it.
///
/// With `g = grad` (negated with `maximize`), and `g += weight_decay * p` for Adam or
/// `p *= 1 - lr * weight_decay` for AdamW (`decoupled`): `m = beta1 m + (1 - beta1) g`,
/// `v = beta2 v + (1 - beta2) g²`, `v̂ = max(v̂, v)` with AMSGrad (else `v̂ = v`), and
/// `p -= lr / (1 - beta1^step) * m / (sqrt(v̂) / sqrt(1 - beta2^step) + eps)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep {
    /// Learning rate, PyTorch's `lr`.
    pub lr: f64,
    /// Decay rate of the first-moment average `m`, PyTorch's `betas[0]`.
    pub beta1: f64,
    /// Decay rate of the second-moment average `v`, PyTorch's `betas[1]`.
    pub beta2: f64,
    /// Term added to the denominator for numerical stability, PyTorch's `eps`.
    pub eps: f64,
    /// Weight decay coefficient (0 for none), PyTorch's `weight_decay`.
    pub weight_decay: f64,
    /// AdamW's decoupled weight decay instead of Adam's L2 term.
    pub decoupled: bool,
    /// Divide by the running maximum of `v` (AMSGrad), PyTorch's `amsgrad`.
    pub amsgrad: bool,
    /// Ascend instead of descend (the gradient is negated), PyTorch's `maximize`.
    pub maximize: bool,
    /// The step number, counted from 1.
    pub step: u64,
}

/// Sizes and hyper-parameters of one 2-D convolution (NCHW input, OIHW weight).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dParams {
    /// Batch size `n`, dim 0 of the input.
    pub batch: usize,
    /// Input channels `c_in`, dim 1 of the input.
    pub in_channels: usize,
    /// Output channels `c_out`, dim 0 of the weight.
    pub out_channels: usize,
    /// Input height, dim 2 of the input.
    pub in_h: usize,
    /// Input width, dim 3 of the input.
    pub in_w: usize,
    /// Kernel height `kh`, dim 2 of the weight.
    pub kernel_h: usize,
    /// Kernel width `kw`, dim 3 of the weight.
    pub kernel_w: usize,
    /// (height, width) stride.
    pub stride: (usize, usize),
    /// (height, width) zero padding on each side.
    pub padding: (usize, usize),
    /// (height, width) dilation.
    pub dilation: (usize, usize),
    /// Number of channel groups; `in_channels` and `out_channels` are both multiples of it,
    /// and the weight is `[c_out, c_in / groups, kh, kw]`.
    pub groups: usize,
}

impl Conv2dParams {
    /// Output height.
    pub fn out_h(&self) -> usize {
        conv_out(
            self.in_h,
            self.kernel_h,
            self.stride.0,
            self.padding.0,
            self.dilation.0,
        )
    }

    /// Output width.
    pub fn out_w(&self) -> usize {
        conv_out(
            self.in_w,
            self.kernel_w,
            self.stride.1,
            self.padding.1,
            self.dilation.1,
        )
    }
}

/// `floor((input + 2 * pad - dilation * (kernel - 1) - 1) / stride) + 1`, or 0 if negative.
fn conv_out(input: usize, kernel: usize, stride: usize, pad: usize, dilation: usize) -> usize {
    let span = dilation * (kernel - 1) + 1;
    if input + 2 * pad < span {
        0
    } else {
        (input + 2 * pad - span) / stride + 1
    }
}

/// Sizes and hyper-parameters of one 2-D pooling (NCHW).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pool2dParams {
    /// Batch size `n`, dim 0 of the input.
    pub batch: usize,
    /// Channels `c`, dim 1 of the input (pooled independently).
    pub channels: usize,
    /// Input height, dim 2 of the input.
    pub in_h: usize,
    /// Input width, dim 3 of the input.
    pub in_w: usize,
    /// (height, width) window.
    pub kernel: (usize, usize),
    /// (height, width) stride between windows.
    pub stride: (usize, usize),
    /// Implicit padding on each side: -inf for max pooling, zeros for average pooling.
    pub padding: (usize, usize),
    /// Use `ceil` instead of `floor` for the output size.
    pub ceil_mode: bool,
    /// Average pooling: count padded elements in the divisor.
    pub count_include_pad: bool,
}

impl Pool2dParams {
    /// Output height, as PyTorch computes it.
    pub fn out_h(&self) -> usize {
        pool_out(
            self.in_h,
            self.kernel.0,
            self.stride.0,
            self.padding.0,
            self.ceil_mode,
        )
    }

    /// Output width, as PyTorch computes it.
    pub fn out_w(&self) -> usize {
        pool_out(
            self.in_w,
            self.kernel.1,
            self.stride.1,
            self.padding.1,
            self.ceil_mode,
        )
    }
}

/// PyTorch's `pooling_output_shape` with dilation 1: with `ceil_mode` the last window may
/// overhang the padded input, as long as it starts inside the input or its left padding.
/// 0 when no window fits.
fn pool_out(input: usize, kernel: usize, stride: usize, pad: usize, ceil_mode: bool) -> usize {
    let (padded, kernel, stride) = (input as i64 + 2 * pad as i64, kernel as i64, stride as i64);
    let round_up = if ceil_mode { stride - 1 } else { 0 };
    let mut out = (padded - kernel + round_up).div_euclid(stride) + 1;
    if ceil_mode && out > 0 && (out - 1) * stride >= (input + pad) as i64 {
        out -= 1;
    }
    out.max(0) as usize
}
