//! The op codes and parameter structs that kernels take.

/// Elementwise ops of one operand. The output has the input's dtype. Ops other than
/// `Neg`, `Abs`, `Sign`, `Square`, `Relu`, `Clamp`, `Floor`, `Ceil` and `Round` take float
/// inputs only; the tensor layer casts integers to float first.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryOp {
    Neg,
    Abs,
    Exp,
    Log,
    Log1p,
    Sqrt,
    Rsqrt,
    Square,
    Sin,
    Cos,
    Tanh,
    Sigmoid,
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
        beta: f64,
        threshold: f64,
    },
    Erf,
    /// -1, 0 or 1 (NaN stays NaN).
    Sign,
    Floor,
    Ceil,
    /// Rounds half to even, as `torch.round`.
    Round,
    Recip,
    /// `min(max(x, min), max)`; NaN passes through.
    Clamp {
        min: f64,
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
    Add,
    Sub,
    Mul,
    /// Float division, or integer division truncating toward zero.
    Div,
    Pow,
    /// The larger operand; NaN if either is NaN.
    Maximum,
    /// The smaller operand; NaN if either is NaN.
    Minimum,
    /// Comparisons give Bool.
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// Logical ops treat non-zero as true and give Bool.
    And,
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
    Sum,
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
    Uniform { low: f64, high: f64 },
    /// Normal with this mean and standard deviation.
    Normal { mean: f64, std: f64 },
    /// Uniform integers on `[low, high)`.
    Int { low: i64, high: i64 },
}

/// Hyper-parameters of one Adam or AdamW step, as PyTorch's single-tensor update computes it.
///
/// With `g = grad` (negated with `maximize`), and `g += weight_decay * p` for Adam or
/// `p *= 1 - lr * weight_decay` for AdamW (`decoupled`): `m = beta1 m + (1 - beta1) g`,
/// `v = beta2 v + (1 - beta2) g²`, `v̂ = max(v̂, v)` with AMSGrad (else `v̂ = v`), and
/// `p -= lr / (1 - beta1^step) * m / (sqrt(v̂) / sqrt(1 - beta2^step) + eps)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// AdamW's decoupled weight decay instead of Adam's L2 term.
    pub decoupled: bool,
    pub amsgrad: bool,
    pub maximize: bool,
    /// The step number, counted from 1.
    pub step: u64,
}

/// Sizes and hyper-parameters of one 2-D convolution (NCHW input, OIHW weight).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dParams {
    pub batch: usize,
    pub in_channels: usize,
    pub out_channels: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub kernel_h: usize,
    pub kernel_w: usize,
    /// (height, width) stride.
    pub stride: (usize, usize),
    /// (height, width) zero padding on each side.
    pub padding: (usize, usize),
    /// (height, width) dilation.
    pub dilation: (usize, usize),
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
    pub batch: usize,
    pub channels: usize,
    pub in_h: usize,
    pub in_w: usize,
    /// (height, width) window.
    pub kernel: (usize, usize),
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
