//! Adagrad, as `torch.optim.Adagrad`.

use super::{
    check_lr, check_non_negative, effective_grad, GroupConfig, GroupOptimizer, Groups, ParamGroup,
    ParamState,
};
use serde::{Deserialize, Serialize};
use silica_core::{Result, Tensor};

const SUM: &str = "sum";

/// Hyper-parameters of [`Adagrad`], with PyTorch's defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdagradConfig {
    /// Learning rate (default 1e-2).
    pub lr: f64,
    /// The step `t` uses `lr / (1 + (t - 1) * lr_decay)` (default 0).
    pub lr_decay: f64,
    /// L2 penalty added to the gradient: `grad + weight_decay * param` (default 0).
    pub weight_decay: f64,
    /// The starting value of the sum of squared gradients (default 0).
    pub initial_accumulator_value: f64,
    /// Added to the denominator (default 1e-10).
    pub eps: f64,
    /// Maximize the objective instead of minimizing it.
    pub maximize: bool,
}

impl Default for AdagradConfig {
    fn default() -> Self {
        AdagradConfig {
            lr: 1e-2,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
            maximize: false,
        }
    }
}

impl AdagradConfig {
    /// The defaults with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        AdagradConfig {
            lr,
            ..Default::default()
        }
    }
}

impl GroupConfig for AdagradConfig {
    const NAME: &'static str = "Adagrad";
    const STATE: &'static [&'static str] = &[SUM];

    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn validate(&self) -> Result<()> {
        check_lr(Self::NAME, self.lr)?;
        check_non_negative(Self::NAME, "lr_decay", self.lr_decay)?;
        check_non_negative(Self::NAME, "weight_decay", self.weight_decay)?;
        check_non_negative(
            Self::NAME,
            "initial_accumulator_value",
            self.initial_accumulator_value,
        )?;
        check_non_negative(Self::NAME, "eps", self.eps)
    }
    fn required_state(&self) -> Vec<&'static str> {
        vec![SUM]
    }
    fn initial_state(&self, param: &Tensor) -> Result<Option<ParamState>> {
        let mut st = ParamState::default();
        st.set(SUM, param.full_like(self.initial_accumulator_value)?);
        Ok(Some(st))
    }
}

/// One Adagrad step, as PyTorch's `_single_tensor_adagrad`.
fn update(c: &AdagradConfig, p: &Tensor, g: &Tensor, st: &mut ParamState) -> Result<()> {
    st.step += 1;
    let grad = effective_grad(g, p, c.maximize, c.weight_decay)?;
    let clr = c.lr / (1.0 + (st.step - 1) as f64 * c.lr_decay);
    let sum = match st.buf(SUM) {
        Some(sum) => sum.add(&grad.mul(&grad)?)?,
        None => p
            .full_like(c.initial_accumulator_value)?
            .add(&grad.mul(&grad)?)?,
    };
    // p += (-clr g) / (sqrt(sum) + eps)
    let std = sum.sqrt()?.add_scalar(c.eps)?;
    let new = p.add(&grad.mul_scalar(-clr)?.div(&std)?)?;
    st.set(SUM, sum);
    p.assign(&new)
}

/// Adagrad (PyTorch's `torch.optim.Adagrad`): divides each gradient by the root of the sum
/// of all its squared values so far.
///
/// With `g = grad + weight_decay * p`: `sum = sum + g²` and
/// `p = p - lr / (1 + (t - 1) lr_decay) * g / (sqrt(sum) + eps)`. As in PyTorch, every
/// parameter's state (`sum` at `initial_accumulator_value`, step 0) exists from construction.
///
/// # Examples
///
/// ```
/// use silica_core::{Device, Tensor};
/// use silica_nn::optim::{Adagrad, AdagradConfig, Optimizer};
/// # fn main() -> silica_core::Result<()> {
/// let w = Tensor::from_slice(&[1.0f64], [1], Device::Cpu)?;
/// w.set_requires_grad(true)?;
/// let mut opt = Adagrad::new(vec![w.clone()], AdagradConfig::new(0.5))?;
/// w.set_grad(Some(Tensor::from_slice(&[4.0f64], [1], Device::Cpu)?))?;
/// opt.step()?;
/// // 1 - 0.5 * 4 / sqrt(16)
/// assert!((w.to_vec::<f64>()?[0] - 0.5).abs() < 1e-9);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Adagrad {
    groups: Groups<AdagradConfig>,
}

impl Adagrad {
    /// Adagrad over `params`, all with `config`.
    pub fn new(params: Vec<Tensor>, config: AdagradConfig) -> Result<Self> {
        Self::with_groups(vec![ParamGroup::new(params, config)])
    }

    /// Adagrad over parameter groups with their own hyper-parameters.
    pub fn with_groups(groups: Vec<ParamGroup<AdagradConfig>>) -> Result<Self> {
        Ok(Adagrad {
            groups: Groups::new(groups)?,
        })
    }

    /// The parameter groups.
    pub fn groups(&self) -> &[ParamGroup<AdagradConfig>] {
        &self.groups.groups
    }
}

impl GroupOptimizer for Adagrad {
    type Config = AdagradConfig;
    fn state(&self) -> &Groups<AdagradConfig> {
        &self.groups
    }
    fn state_mut(&mut self) -> &mut Groups<AdagradConfig> {
        &mut self.groups
    }
    fn update(c: &AdagradConfig, p: &Tensor, g: &Tensor, st: &mut ParamState) -> Result<()> {
        update(c, p, g, st)
    }
}
