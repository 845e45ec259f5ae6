//! RMSprop, optionally centered and with momentum, as `torch.optim.RMSprop`.

use super::{
    check_lr, check_non_negative, decayed, effective_grad, GroupConfig, GroupOptimizer, Groups,
    ParamGroup, ParamState,
};
use serde::{Deserialize, Serialize};
use silica_core::{Result, Tensor};

const SQUARE_AVG: &str = "square_avg";
const MOMENTUM_BUFFER: &str = "momentum_buffer";
const GRAD_AVG: &str = "grad_avg";

/// Hyper-parameters of [`RMSprop`], with PyTorch's defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RMSpropConfig {
    /// Learning rate (default 1e-2).
    pub lr: f64,
    /// Decay rate of the squared-gradient average (default 0.99).
    pub alpha: f64,
    /// Added to the denominator (default 1e-8).
    pub eps: f64,
    /// L2 penalty added to the gradient: `grad + weight_decay * param` (default 0).
    pub weight_decay: f64,
    /// Momentum factor (default 0: none).
    pub momentum: f64,
    /// Normalise by the estimated variance (the squared average minus the squared mean
    /// gradient) instead of the squared average.
    pub centered: bool,
    /// Maximize the objective instead of minimizing it.
    pub maximize: bool,
}

impl Default for RMSpropConfig {
    fn default() -> Self {
        RMSpropConfig {
            lr: 1e-2,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
            maximize: false,
        }
    }
}

impl RMSpropConfig {
    /// The defaults with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        RMSpropConfig {
            lr,
            ..Default::default()
        }
    }
}

impl GroupConfig for RMSpropConfig {
    const NAME: &'static str = "RMSprop";
    const STATE: &'static [&'static str] = &[SQUARE_AVG, MOMENTUM_BUFFER, GRAD_AVG];

    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn validate(&self) -> Result<()> {
        check_lr(Self::NAME, self.lr)?;
        check_non_negative(Self::NAME, "eps", self.eps)?;
        check_non_negative(Self::NAME, "momentum", self.momentum)?;
        check_non_negative(Self::NAME, "weight_decay", self.weight_decay)?;
        check_non_negative(Self::NAME, "alpha", self.alpha)
    }
    fn required_state(&self) -> Vec<&'static str> {
        let mut names = vec![SQUARE_AVG];
        if self.momentum > 0.0 {
            names.push(MOMENTUM_BUFFER);
        }
        if self.centered {
            names.push(GRAD_AVG);
        }
        names
    }
}

/// One RMSprop step, as PyTorch's `_single_tensor_rmsprop`. Zero-initialised buffers are
/// left out at the first step, where `0 * decay + term` is exactly `term`.
fn update(c: &RMSpropConfig, p: &Tensor, g: &Tensor, st: &mut ParamState) -> Result<()> {
    st.step += 1;
    let grad = effective_grad(g, p, c.maximize, c.weight_decay)?;
    // square_avg = alpha square_avg + ((1 - alpha) g) g
    let square_avg = decayed(
        st.buf(SQUARE_AVG),
        c.alpha,
        grad.mul_scalar(1.0 - c.alpha)?.mul(&grad)?,
    )?;
    let avg = if c.centered {
        let grad_avg = decayed(st.buf(GRAD_AVG), c.alpha, grad.mul_scalar(1.0 - c.alpha)?)?;
        let avg = square_avg.sub(&grad_avg.square()?)?.sqrt()?;
        st.set(GRAD_AVG, grad_avg);
        avg
    } else {
        square_avg.sqrt()?
    }
    .add_scalar(c.eps)?;
    let new = if c.momentum > 0.0 {
        // buf = momentum buf + g / avg;  p -= lr buf
        let buf = decayed(st.buf(MOMENTUM_BUFFER), c.momentum, grad.div(&avg)?)?;
        let new = p.add(&buf.mul_scalar(-c.lr)?)?;
        st.set(MOMENTUM_BUFFER, buf);
        new
    } else {
        p.add(&grad.mul_scalar(-c.lr)?.div(&avg)?)?
    };
    st.set(SQUARE_AVG, square_avg);
    p.assign(&new)
}

/// RMSprop (PyTorch's `torch.optim.RMSprop`): divides the gradient by a running root mean
/// square of recent gradients.
///
/// With `g = grad + weight_decay * p`: `s = alpha s + (1 - alpha) g²`; the denominator is
/// `sqrt(s) + eps`, or `sqrt(s - a²) + eps` when centered (with `a = alpha a + (1 - alpha) g`);
/// then `p = p - lr g / denom`, or with momentum `b = momentum b + g / denom; p = p - lr b`.
///
/// # Examples
///
/// ```
/// use silica_core::{Device, Tensor};
/// use silica_nn::optim::{Optimizer, RMSprop, RMSpropConfig};
/// # fn main() -> silica_core::Result<()> {
/// let w = Tensor::from_slice(&[1.0f64, -2.0], [2], Device::Cpu)?;
/// w.set_requires_grad(true)?;
/// let config = RMSpropConfig { momentum: 0.9, centered: true, ..RMSpropConfig::new(0.01) };
/// let mut opt = RMSprop::new(vec![w.clone()], config)?;
/// for _ in 0..3 {
///     opt.zero_grad();
///     w.square()?.sum_all()?.backward()?;
///     opt.step()?;
/// }
/// let got = w.to_vec::<f64>()?;
/// assert!(got[0] < 1.0 && got[1] > -2.0);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct RMSprop {
    groups: Groups<RMSpropConfig>,
}

impl RMSprop {
    /// RMSprop over `params`, all with `config`.
    pub fn new(params: Vec<Tensor>, config: RMSpropConfig) -> Result<Self> {
        Self::with_groups(vec![ParamGroup::new(params, config)])
    }

    /// RMSprop over parameter groups with their own hyper-parameters.
    pub fn with_groups(groups: Vec<ParamGroup<RMSpropConfig>>) -> Result<Self> {
        Ok(RMSprop {
            groups: Groups::new(groups)?,
        })
    }

    /// The parameter groups.
    pub fn groups(&self) -> &[ParamGroup<RMSpropConfig>] {
        &self.groups.groups
    }
}

impl GroupOptimizer for RMSprop {
    type Config = RMSpropConfig;
    fn state(&self) -> &Groups<RMSpropConfig> {
        &self.groups
    }
    fn state_mut(&mut self) -> &mut Groups<RMSpropConfig> {
        &mut self.groups
    }
    fn update(c: &RMSpropConfig, p: &Tensor, g: &Tensor, st: &mut ParamState) -> Result<()> {
        update(c, p, g, st)
    }
}
