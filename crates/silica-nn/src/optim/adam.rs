//! Adam with coupled L2 weight decay (`torch.optim.Adam`) and AdamW with decoupled weight
//! decay (`torch.optim.AdamW`), both with the AMSGrad variant. They share one update rule.

use super::{
    check_lr, check_non_negative, check_unit, GroupConfig, GroupOptimizer, Groups, ParamGroup,
    ParamState,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use silica_core::backend::AdamStep;
use silica_core::{Result, Tensor};

const EXP_AVG: &str = "exp_avg";
const EXP_AVG_SQ: &str = "exp_avg_sq";
const MAX_EXP_AVG_SQ: &str = "max_exp_avg_sq";
const STATE: &[&str] = &[EXP_AVG, EXP_AVG_SQ, MAX_EXP_AVG_SQ];

/// Hyper-parameters of [`Adam`], with PyTorch's defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// Decay rates of the first and second moment averages, each in `[0, 1)`
    /// (default `(0.9, 0.999)`).
    pub betas: (f64, f64),
    /// Added to the denominator (default 1e-8).
    pub eps: f64,
    /// L2 penalty added to the gradient: `grad + weight_decay * param` (default 0).
    pub weight_decay: f64,
    /// Use the maximum of all second-moment averages so far (AMSGrad).
    pub amsgrad: bool,
    /// Maximize the objective instead of minimizing it.
    pub maximize: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            maximize: false,
        }
    }
}

impl AdamConfig {
    /// The defaults with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        AdamConfig {
            lr,
            ..Default::default()
        }
    }
}

/// Hyper-parameters of [`AdamW`], with PyTorch's defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamWConfig {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// Decay rates of the first and second moment averages, each in `[0, 1)`
    /// (default `(0.9, 0.999)`).
    pub betas: (f64, f64),
    /// Added to the denominator (default 1e-8).
    pub eps: f64,
    /// Decoupled weight decay: each step first scales the parameter by
    /// `1 - lr * weight_decay` (default 1e-2).
    pub weight_decay: f64,
    /// Use the maximum of all second-moment averages so far (AMSGrad).
    pub amsgrad: bool,
    /// Maximize the objective instead of minimizing it.
    pub maximize: bool,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 1e-2,
            amsgrad: false,
            maximize: false,
        }
    }
}

impl AdamWConfig {
    /// The defaults with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        AdamWConfig {
            lr,
            ..Default::default()
        }
    }
}

/// The hyper-parameters of one Adam or AdamW update.
struct Rule {
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
    amsgrad: bool,
    maximize: bool,
    /// AdamW: decay the parameter instead of adding an L2 term to the gradient.
    decoupled: bool,
}

fn validate(name: &'static str, lr: f64, betas: (f64, f64), eps: f64, wd: f64) -> Result<()> {
    check_lr(name, lr)?;
    check_non_negative(name, "eps", eps)?;
    check_unit(name, "beta1 (betas.0)", betas.0)?;
    check_unit(name, "beta2 (betas.1)", betas.1)?;
    check_non_negative(name, "weight_decay", wd)
}

fn required(amsgrad: bool) -> Vec<&'static str> {
    if amsgrad {
        vec![EXP_AVG, EXP_AVG_SQ, MAX_EXP_AVG_SQ]
    } else {
        vec![EXP_AVG, EXP_AVG_SQ]
    }
}

/// What `AdamConfig` and `AdamWConfig` share: their hyper-parameters as a [`Rule`]. They differ
/// only in their name and in how weight decay applies (`DECOUPLED`); [`GroupConfig`] is
/// implemented once for both.
trait AdamFamily: Clone + std::fmt::Debug + Send + Serialize + DeserializeOwned {
    const NAME: &'static str;
    const DECOUPLED: bool;
    fn rule(&self) -> Rule;
    fn lr_mut(&mut self) -> &mut f64;
}

impl AdamFamily for AdamConfig {
    const NAME: &'static str = "Adam";
    const DECOUPLED: bool = false;
    fn rule(&self) -> Rule {
        let AdamConfig {
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize,
        } = self.clone();
        Rule {
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize,
            decoupled: Self::DECOUPLED,
        }
    }
    fn lr_mut(&mut self) -> &mut f64 {
        &mut self.lr
    }
}

impl AdamFamily for AdamWConfig {
    const NAME: &'static str = "AdamW";
    const DECOUPLED: bool = true;
    fn rule(&self) -> Rule {
        let AdamWConfig {
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize,
        } = self.clone();
        Rule {
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize,
            decoupled: Self::DECOUPLED,
        }
    }
    fn lr_mut(&mut self) -> &mut f64 {
        &mut self.lr
    }
}

impl<C: AdamFamily> GroupConfig for C {
    const NAME: &'static str = C::NAME;
    const STATE: &'static [&'static str] = STATE;

    fn lr(&self) -> f64 {
        self.rule().lr
    }
    fn set_lr(&mut self, lr: f64) {
        *self.lr_mut() = lr;
    }
    fn validate(&self) -> Result<()> {
        let r = self.rule();
        validate(C::NAME, r.lr, r.betas, r.eps, r.weight_decay)
    }
    fn required_state(&self) -> Vec<&'static str> {
        required(self.rule().amsgrad)
    }
}

/// One Adam or AdamW step of parameter `p`, as PyTorch's `_single_tensor_adam(w)`: the
/// backend's fused kernel where it has one, else the same update composed in core.
fn update(r: &Rule, p: &Tensor, g: &Tensor, st: &mut ParamState) -> Result<()> {
    let (beta1, beta2) = r.betas;
    st.step += 1;
    let s = AdamStep {
        lr: r.lr,
        beta1,
        beta2,
        eps: r.eps,
        weight_decay: r.weight_decay,
        decoupled: r.decoupled,
        amsgrad: r.amsgrad,
        maximize: r.maximize,
        step: st.step,
    };
    let moments = [st.buf(EXP_AVG), st.buf(EXP_AVG_SQ), st.buf(MAX_EXP_AVG_SQ)];
    let new = p.adam_step_(
        g,
        [
            moments[0].as_ref(),
            moments[1].as_ref(),
            moments[2].as_ref(),
        ],
        &s,
    )?;
    for (name, t) in [EXP_AVG, EXP_AVG_SQ, MAX_EXP_AVG_SQ].into_iter().zip(new) {
        st.set(name, t);
    }
    Ok(())
}

/// Adam (PyTorch's `torch.optim.Adam`): adaptive moment estimation with bias correction and
/// a coupled L2 penalty.
///
/// With `g = grad + weight_decay * p`: `m = beta1 m + (1 - beta1) g`,
/// `v = beta2 v + (1 - beta2) g²`, and
/// `p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)`, where AMSGrad uses
/// the running maximum of `v` instead of `v`.
///
/// # Examples
///
/// ```
/// use silica_core::{Device, Tensor};
/// use silica_nn::optim::{Adam, AdamConfig, Optimizer};
/// # fn main() -> silica_core::Result<()> {
/// let w = Tensor::from_slice(&[1.0f32, -1.0], [2], Device::Cpu)?;
/// w.set_requires_grad(true)?;
/// let mut opt = Adam::new(vec![w.clone()], AdamConfig::new(0.1))?;
/// w.square()?.sum_all()?.backward()?;
/// opt.step()?;
/// // The first step moves each weight by lr against the sign of its gradient.
/// let got = w.to_vec::<f32>()?;
/// assert!((got[0] - 0.9).abs() < 1e-6 && (got[1] + 0.9).abs() < 1e-6);
/// assert_eq!(opt.state_dict()?.tensors.len(), 3); // step, exp_avg, exp_avg_sq
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Adam {
    groups: Groups<AdamConfig>,
}

impl Adam {
    /// Adam over `params`, all with `config`.
    pub fn new(params: Vec<Tensor>, config: AdamConfig) -> Result<Self> {
        Self::with_groups(vec![ParamGroup::new(params, config)])
    }

    /// Adam over parameter groups with their own hyper-parameters.
    pub fn with_groups(groups: Vec<ParamGroup<AdamConfig>>) -> Result<Self> {
        Ok(Adam {
            groups: Groups::new(groups)?,
        })
    }

    /// The parameter groups.
    pub fn groups(&self) -> &[ParamGroup<AdamConfig>] {
        &self.groups.groups
    }
}

impl GroupOptimizer for Adam {
    type Config = AdamConfig;
    fn state(&self) -> &Groups<AdamConfig> {
        &self.groups
    }
    fn state_mut(&mut self) -> &mut Groups<AdamConfig> {
        &mut self.groups
    }
    fn update(c: &AdamConfig, p: &Tensor, g: &Tensor, st: &mut ParamState) -> Result<()> {
        update(&c.rule(), p, g, st)
    }
}

/// AdamW (PyTorch's `torch.optim.AdamW`): Adam with decoupled weight decay.
///
/// Each step first scales the parameter by `1 - lr * weight_decay`, then applies Adam's
/// update to it with the plain gradient.
///
/// # Examples
///
/// ```
/// use silica_core::{Device, Tensor};
/// use silica_nn::optim::{AdamW, AdamWConfig, Optimizer};
/// # fn main() -> silica_core::Result<()> {
/// let w = Tensor::from_slice(&[2.0f64], [1], Device::Cpu)?;
/// w.set_requires_grad(true)?;
/// let config = AdamWConfig { weight_decay: 0.5, ..AdamWConfig::new(0.1) };
/// let mut opt = AdamW::new(vec![w.clone()], config)?;
/// w.set_grad(Some(Tensor::from_slice(&[3.0f64], [1], Device::Cpu)?))?;
/// opt.step()?;
/// // 2 * (1 - 0.1 * 0.5) - 0.1 (the first Adam step is lr against the gradient's sign)
/// assert!((w.to_vec::<f64>()?[0] - 1.8).abs() < 1e-7);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct AdamW {
    groups: Groups<AdamWConfig>,
}

impl AdamW {
    /// AdamW over `params`, all with `config`.
    pub fn new(params: Vec<Tensor>, config: AdamWConfig) -> Result<Self> {
        Self::with_groups(vec![ParamGroup::new(params, config)])
    }

    /// AdamW over parameter groups with their own hyper-parameters.
    pub fn with_groups(groups: Vec<ParamGroup<AdamWConfig>>) -> Result<Self> {
        Ok(AdamW {
            groups: Groups::new(groups)?,
        })
    }

    /// The parameter groups.
    pub fn groups(&self) -> &[ParamGroup<AdamWConfig>] {
        &self.groups.groups
    }
}

impl GroupOptimizer for AdamW {
    type Config = AdamWConfig;
    fn state(&self) -> &Groups<AdamWConfig> {
        &self.groups
    }
    fn state_mut(&mut self) -> &mut Groups<AdamWConfig> {
        &mut self.groups
    }
    fn update(c: &AdamWConfig, p: &Tensor, g: &Tensor, st: &mut ParamState) -> Result<()> {
        update(&c.rule(), p, g, st)
    }
}
