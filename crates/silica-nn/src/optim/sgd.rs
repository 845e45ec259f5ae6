//! Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight
//! decay, as `torch.optim.SGD`.

use super::{
    check_lr, check_non_negative, effective_grad, scale, GroupConfig, GroupOptimizer, Groups,
    ParamGroup, ParamState,
};
use serde::{Deserialize, Serialize};
use silica_core::{Error, Result, Tensor};

const MOMENTUM_BUFFER: &str = "momentum_buffer";

/// Hyper-parameters of [`SGD`], with PyTorch's defaults. PyTorch 1.13 has no default learning
/// rate; `Default` uses 1e-3, as later PyTorch versions do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SGDConfig {
    /// Learning rate.
    pub lr: f64,
    /// Momentum factor (0: plain SGD).
    pub momentum: f64,
    /// Dampening of the momentum's new term.
    pub dampening: f64,
    /// Nesterov momentum (needs `momentum > 0` and `dampening == 0`).
    pub nesterov: bool,
    /// L2 penalty added to the gradient: `grad + weight_decay * param`.
    pub weight_decay: f64,
    /// Maximize the objective instead of minimizing it.
    pub maximize: bool,
}

impl Default for SGDConfig {
    fn default() -> Self {
        SGDConfig {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            maximize: false,
        }
    }
}

impl SGDConfig {
    /// Plain SGD with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        SGDConfig {
            lr,
            ..Default::default()
        }
    }

    /// SGD with learning rate `lr` and `momentum`.
    pub fn with_momentum(lr: f64, momentum: f64) -> Self {
        SGDConfig {
            lr,
            momentum,
            ..Default::default()
        }
    }
}

impl GroupConfig for SGDConfig {
    const NAME: &'static str = "SGD";
    const STATE: &'static [&'static str] = &[MOMENTUM_BUFFER];

    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn validate(&self) -> Result<()> {
        check_lr(Self::NAME, self.lr)?;
        check_non_negative(Self::NAME, "momentum", self.momentum)?;
        check_non_negative(Self::NAME, "dampening", self.dampening)?;
        check_non_negative(Self::NAME, "weight_decay", self.weight_decay)?;
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(Error::invalid(
                Self::NAME,
                format!(
                    "Nesterov momentum requires a momentum > 0 and zero dampening, got momentum {} and dampening {}",
                    self.momentum, self.dampening
                ),
            ));
        }
        Ok(())
    }
    fn required_state(&self) -> Vec<&'static str> {
        // A missing momentum buffer starts from the gradient, as at the first step.
        Vec::new()
    }
}

/// Stochastic gradient descent, optionally with momentum (PyTorch's `torch.optim.SGD`).
///
/// With `g = grad + weight_decay * p` (negated first when maximizing):
/// `buf = momentum * buf + (1 - dampening) * g` (`buf = g` at the first step),
/// then `g = g + momentum * buf` (Nesterov) or `g = buf`, and `p = p - lr * g`.
///
/// # Examples
///
/// ```
/// use silica_core::{DType, Device, Tensor};
/// use silica_nn::optim::{Optimizer, SGDConfig, SGD};
/// # fn main() -> silica_core::Result<()> {
/// let w = Tensor::from_slice(&[1.0f32, 2.0], [2], Device::Cpu)?;
/// w.set_requires_grad(true)?;
/// let mut opt = SGD::new(vec![w.clone()], SGDConfig::with_momentum(0.1, 0.9))?;
/// let loss = w.square()?.sum_all()?; // gradient 2w
/// loss.backward()?;
/// opt.step()?;
/// opt.zero_grad();
/// assert_eq!(w.to_vec::<f32>()?, vec![0.8, 1.6]);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct SGD {
    groups: Groups<SGDConfig>,
}

impl SGD {
    /// SGD over `params`, all with `config`.
    pub fn new(params: Vec<Tensor>, config: SGDConfig) -> Result<Self> {
        Self::with_groups(vec![ParamGroup::new(params, config)])
    }

    /// SGD over parameter groups with their own hyper-parameters.
    pub fn with_groups(groups: Vec<ParamGroup<SGDConfig>>) -> Result<Self> {
        Ok(SGD {
            groups: Groups::new(groups)?,
        })
    }

    /// The parameter groups.
    pub fn groups(&self) -> &[ParamGroup<SGDConfig>] {
        &self.groups.groups
    }
}

impl GroupOptimizer for SGD {
    type Config = SGDConfig;
    fn state(&self) -> &Groups<SGDConfig> {
        &self.groups
    }
    fn state_mut(&mut self) -> &mut Groups<SGDConfig> {
        &mut self.groups
    }
    fn update(c: &SGDConfig, p: &Tensor, g: &Tensor, st: &mut ParamState) -> Result<()> {
        update(c, p, g, st)
    }
}

fn update(c: &SGDConfig, p: &Tensor, g: &Tensor, st: &mut ParamState) -> Result<()> {
    st.step += 1;
    let mut d_p = effective_grad(g, p, c.maximize, c.weight_decay)?;
    if c.momentum != 0.0 {
        let buf = match st.buf(MOMENTUM_BUFFER) {
            // Our own copy: the gradient's storage belongs to the caller.
            None if d_p.shares_storage(g) => d_p.copy()?,
            None => d_p.clone(),
            Some(b) => b
                .mul_scalar(c.momentum)?
                .add(&scale(&d_p, 1.0 - c.dampening)?)?,
        };
        d_p = if c.nesterov {
            d_p.add(&buf.mul_scalar(c.momentum)?)?
        } else {
            buf.clone()
        };
        st.set(MOMENTUM_BUFFER, buf);
    }
    p.assign(&p.add(&d_p.mul_scalar(-c.lr)?)?)
}
