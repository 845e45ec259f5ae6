//! Learning-rate schedulers, as `torch.optim.lr_scheduler`.
//!
//! Each scheduler computes the rate of step `t` from its closed form (PyTorch's
//! `_get_closed_form_lr`, or `get_lr` where that is already closed, as for `OneCycleLR`), so the
//! rates do not drift from accumulated rounding; they equal PyTorch's recursive ("chainable")
//! rates to about 1e-15. Unlike those, they overwrite rather than scale whatever rate the
//! optimizer had, so two schedulers cannot be chained by stepping both; use [`SequentialLR`]
//! to run schedules one after another.
//!
//! A constructor reads the optimizer's rates as its base rates and writes the rates of step 0
//! into the optimizer, as PyTorch's constructors do.

use super::{from_json, to_json, LrScheduler, Optimizer, Progress};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use silica_core::{Error, Result};
use std::f64::consts::PI;

fn invalid(op: &'static str, msg: String) -> Error {
    Error::invalid(op, msg)
}

/// The rates of a closed-form schedule at `epoch`: `f(base, epoch)` for each group.
fn closed_form(base_lrs: &[f64], f: impl Fn(f64) -> f64) -> Vec<f64> {
    base_lrs.iter().map(|&b| f(b)).collect()
}

/// A scheduler with a closed form: [`LrScheduler`] is implemented once for all of them.
trait ClosedForm: Send {
    /// The step count and rates.
    fn progress(&self) -> &Progress;
    /// The step count and rates, to advance.
    fn progress_mut(&mut self) -> &mut Progress;
    /// The rates at `epoch` for `base_lrs`.
    fn lrs_at(&self, base_lrs: &[f64], epoch: usize) -> Vec<f64>;
}

impl<T: ClosedForm> LrScheduler for T {
    fn step(&mut self, opt: &mut dyn Optimizer) -> Result<()> {
        let epoch = self.progress().last_epoch + 1;
        let lrs = self.lrs_at(&self.progress().base_lrs, epoch);
        self.progress_mut().commit(opt, epoch, lrs)
    }
    fn last_lrs(&self) -> Vec<f64> {
        self.progress().last_lrs.clone()
    }
    fn base_lrs(&self) -> Vec<f64> {
        self.progress().base_lrs.clone()
    }
    fn restart(&mut self, base_lrs: &[f64], opt: &mut dyn Optimizer) -> Result<()> {
        let lrs = self.lrs_at(base_lrs, 0);
        self.progress_mut().restart(opt, base_lrs, lrs)
    }
    fn state_dict(&self) -> Value {
        to_json(self.progress())
    }
    fn load_state_dict(&mut self, state: &Value) -> Result<()> {
        self.progress_mut().load(state)
    }
}

/// Multiplies the rate by `gamma` every `step_size` steps:
/// `lr = base * gamma^(t / step_size)` (PyTorch's `StepLR`).
///
/// # Examples
///
/// ```
/// use silica_core::{DType, Device, Tensor};
/// use silica_nn::optim::{LrScheduler, Optimizer, SGDConfig, StepLR, SGD};
/// # fn main() -> silica_core::Result<()> {
/// let w = Tensor::zeros([1], DType::F32, Device::Cpu)?;
/// let mut opt = SGD::new(vec![w], SGDConfig::new(1.0))?;
/// let mut sched = StepLR::new(&mut opt, 2, 0.5)?;
/// let mut lrs = vec![];
/// for _ in 0..5 {
///     opt.step()?;
///     sched.step(&mut opt)?;
///     lrs.push(opt.learning_rates()[0]);
/// }
/// assert_eq!(lrs, vec![1.0, 0.5, 0.5, 0.25, 0.25]);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct StepLR {
    step_size: usize,
    gamma: f64,
    progress: Progress,
}

impl StepLR {
    /// Decays the rates of `opt` by `gamma` (PyTorch's default: 0.1) every `step_size` steps.
    pub fn new(opt: &mut dyn Optimizer, step_size: usize, gamma: f64) -> Result<Self> {
        if step_size == 0 {
            return Err(invalid("StepLR", "step_size must be at least 1".into()));
        }
        check_gamma("StepLR", gamma)?;
        let mut s = StepLR {
            step_size,
            gamma,
            progress: Progress::new("StepLR", opt),
        };
        s.restart(&opt.learning_rates(), opt)?;
        Ok(s)
    }
}

fn check_gamma(op: &'static str, gamma: f64) -> Result<()> {
    if gamma.is_finite() && gamma >= 0.0 {
        Ok(())
    } else {
        Err(invalid(
            op,
            format!("invalid gamma {gamma} (expected a finite value >= 0)"),
        ))
    }
}

impl ClosedForm for StepLR {
    fn progress(&self) -> &Progress {
        &self.progress
    }
    fn progress_mut(&mut self) -> &mut Progress {
        &mut self.progress
    }
    fn lrs_at(&self, base_lrs: &[f64], epoch: usize) -> Vec<f64> {
        let k = (epoch / self.step_size) as i32;
        closed_form(base_lrs, |b| b * self.gamma.powi(k))
    }
}

/// Multiplies the rate by `gamma` at each milestone: `lr = base * gamma^(number of milestones
/// <= t)` (PyTorch's `MultiStepLR`; a milestone listed twice counts twice).
#[derive(Clone, Debug)]
pub struct MultiStepLR {
    milestones: Vec<usize>,
    gamma: f64,
    progress: Progress,
}

impl MultiStepLR {
    /// Decays the rates of `opt` by `gamma` (PyTorch's default: 0.1) at each of `milestones`.
    pub fn new(opt: &mut dyn Optimizer, milestones: &[usize], gamma: f64) -> Result<Self> {
        check_gamma("MultiStepLR", gamma)?;
        let mut milestones = milestones.to_vec();
        milestones.sort_unstable();
        let mut s = MultiStepLR {
            milestones,
            gamma,
            progress: Progress::new("MultiStepLR", opt),
        };
        s.restart(&opt.learning_rates(), opt)?;
        Ok(s)
    }
}

impl ClosedForm for MultiStepLR {
    fn progress(&self) -> &Progress {
        &self.progress
    }
    fn progress_mut(&mut self) -> &mut Progress {
        &mut self.progress
    }
    fn lrs_at(&self, base_lrs: &[f64], epoch: usize) -> Vec<f64> {
        let k = self.milestones.partition_point(|&m| m <= epoch) as i32;
        closed_form(base_lrs, |b| b * self.gamma.powi(k))
    }
}

/// Multiplies the rate by `gamma` every step: `lr = base * gamma^t` (PyTorch's
/// `ExponentialLR`).
#[derive(Clone, Debug)]
pub struct ExponentialLR {
    gamma: f64,
    progress: Progress,
}

impl ExponentialLR {
    /// Decays the rates of `opt` by `gamma` every step.
    pub fn new(opt: &mut dyn Optimizer, gamma: f64) -> Result<Self> {
        check_gamma("ExponentialLR", gamma)?;
        let mut s = ExponentialLR {
            gamma,
            progress: Progress::new("ExponentialLR", opt),
        };
        s.restart(&opt.learning_rates(), opt)?;
        Ok(s)
    }
}

impl ClosedForm for ExponentialLR {
    fn progress(&self) -> &Progress {
        &self.progress
    }
    fn progress_mut(&mut self) -> &mut Progress {
        &mut self.progress
    }
    fn lrs_at(&self, base_lrs: &[f64], epoch: usize) -> Vec<f64> {
        let k = i32::try_from(epoch).unwrap_or(i32::MAX);
        closed_form(base_lrs, |b| b * self.gamma.powi(k))
    }
}

/// Cosine annealing from the base rate to `eta_min` over `t_max` steps:
/// `lr = eta_min + (base - eta_min) (1 + cos(π t / t_max)) / 2` (PyTorch's
/// `CosineAnnealingLR`). Past `t_max` the rate follows the cosine back up, as PyTorch's does.
///
/// # Examples
///
/// ```
/// use silica_core::{DType, Device, Tensor};
/// use silica_nn::optim::{CosineAnnealingLR, LrScheduler, Optimizer, SGDConfig, SGD};
/// # fn main() -> silica_core::Result<()> {
/// let w = Tensor::zeros([1], DType::F32, Device::Cpu)?;
/// let mut opt = SGD::new(vec![w], SGDConfig::new(0.1))?;
/// let mut sched = CosineAnnealingLR::new(&mut opt, 10, 0.0)?;
/// for _ in 0..5 {
///     sched.step(&mut opt)?;
/// }
/// assert!((opt.learning_rates()[0] - 0.05).abs() < 1e-12);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct CosineAnnealingLR {
    t_max: usize,
    eta_min: f64,
    progress: Progress,
}

impl CosineAnnealingLR {
    /// Anneals the rates of `opt` to `eta_min` over `t_max` steps.
    pub fn new(opt: &mut dyn Optimizer, t_max: usize, eta_min: f64) -> Result<Self> {
        if t_max == 0 {
            return Err(invalid(
                "CosineAnnealingLR",
                "t_max must be at least 1".into(),
            ));
        }
        if !(eta_min.is_finite() && eta_min >= 0.0) {
            return Err(invalid(
                "CosineAnnealingLR",
                format!("invalid eta_min {eta_min} (expected a finite value >= 0)"),
            ));
        }
        let mut s = CosineAnnealingLR {
            t_max,
            eta_min,
            progress: Progress::new("CosineAnnealingLR", opt),
        };
        s.restart(&opt.learning_rates(), opt)?;
        Ok(s)
    }
}

impl ClosedForm for CosineAnnealingLR {
    fn progress(&self) -> &Progress {
        &self.progress
    }
    fn progress_mut(&mut self) -> &mut Progress {
        &mut self.progress
    }
    fn lrs_at(&self, base_lrs: &[f64], epoch: usize) -> Vec<f64> {
        let (e, t) = (epoch as f64, self.t_max as f64);
        closed_form(base_lrs, |b| {
            self.eta_min + (b - self.eta_min) * (1.0 + (PI * e / t).cos()) / 2.0
        })
    }
}

/// Scales the rate linearly from `start_factor * base` to `end_factor * base` over
/// `total_iters` steps, then keeps it (PyTorch's `LinearLR`; a warm-up when
/// `start_factor < end_factor`).
#[derive(Clone, Debug)]
pub struct LinearLR {
    start_factor: f64,
    end_factor: f64,
    total_iters: usize,
    progress: Progress,
}

impl LinearLR {
    /// Ramps the rates of `opt` from `start_factor` to `end_factor` times their base over
    /// `total_iters` steps (PyTorch's defaults: 1/3, 1, 5). Both factors lie in `[0, 1]`.
    pub fn new(
        opt: &mut dyn Optimizer,
        start_factor: f64,
        end_factor: f64,
        total_iters: usize,
    ) -> Result<Self> {
        for (name, f) in [("start_factor", start_factor), ("end_factor", end_factor)] {
            if !(0.0..=1.0).contains(&f) {
                return Err(invalid(
                    "LinearLR",
                    format!("invalid {name} {f} (expected a value in [0, 1])"),
                ));
            }
        }
        if total_iters == 0 {
            return Err(invalid("LinearLR", "total_iters must be at least 1".into()));
        }
        let mut s = LinearLR {
            start_factor,
            end_factor,
            total_iters,
            progress: Progress::new("LinearLR", opt),
        };
        s.restart(&opt.learning_rates(), opt)?;
        Ok(s)
    }
}

impl ClosedForm for LinearLR {
    fn progress(&self) -> &Progress {
        &self.progress
    }
    fn progress_mut(&mut self) -> &mut Progress {
        &mut self.progress
    }
    fn lrs_at(&self, base_lrs: &[f64], epoch: usize) -> Vec<f64> {
        let (sf, ef, n) = (self.start_factor, self.end_factor, self.total_iters);
        let done = epoch.min(n) as f64;
        closed_form(base_lrs, |b| b * (sf + (ef - sf) * done / n as f64))
    }
}

/// How [`OneCycleLR`] moves between two rates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AnnealStrategy {
    /// Half a cosine wave (PyTorch's `'cos'`, the default).
    #[default]
    Cos,
    /// A straight line (`'linear'`).
    Linear,
}

/// Hyper-parameters of [`OneCycleLR`], with PyTorch's defaults (see [`OneCycleConfig::new`]).
#[derive(Clone, Debug, PartialEq)]
pub struct OneCycleConfig {
    /// The peak rate: one value for every group, or one per group.
    pub max_lr: Vec<f64>,
    /// The number of steps in the cycle; stepping past it is an error.
    pub total_steps: usize,
    /// The fraction of the cycle spent increasing the rate (default 0.3).
    pub pct_start: f64,
    /// How the rate moves (default cosine).
    pub anneal_strategy: AnnealStrategy,
    /// The starting rate is `max_lr / div_factor` (default 25).
    pub div_factor: f64,
    /// The final rate is `max_lr / div_factor / final_div_factor` (default 1e4).
    pub final_div_factor: f64,
    /// Three phases (up, back down to the start, then to the final rate) instead of two.
    pub three_phase: bool,
}

impl OneCycleConfig {
    /// A cycle peaking at `max_lr` (for every group) over `total_steps` steps, with PyTorch's
    /// other defaults.
    pub fn new(max_lr: f64, total_steps: usize) -> Self {
        OneCycleConfig {
            max_lr: vec![max_lr],
            total_steps,
            pct_start: 0.3,
            anneal_strategy: AnnealStrategy::Cos,
            div_factor: 25.0,
            final_div_factor: 1e4,
            three_phase: false,
        }
    }
}

/// One phase of a cycle: it ends at step `end` and moves between two of a group's rates
/// (0: initial, 1: max, 2: min).
#[derive(Clone, Debug)]
struct Phase {
    end: f64,
    from: usize,
    to: usize,
}

/// The 1cycle policy (PyTorch's `OneCycleLR`): the rate rises from `max_lr / div_factor` to
/// `max_lr` over the first `pct_start` of `total_steps`, then falls to
/// `max_lr / div_factor / final_div_factor`.
///
/// Momentum is not cycled (PyTorch's `cycle_momentum=False`): the optimizer's momentum or
/// betas stay as configured. Steps `0..total_steps` give PyTorch's rates; the step after
/// them (allowed, so a loop that steps the scheduler after every optimizer step works) keeps
/// the final rate where PyTorch extrapolates past it, and any later step is an error.
///
/// # Examples
///
/// ```
/// use silica_core::{DType, Device, Tensor};
/// use silica_nn::optim::{LrScheduler, OneCycleConfig, OneCycleLR, Optimizer, SGDConfig, SGD};
/// # fn main() -> silica_core::Result<()> {
/// let w = Tensor::zeros([1], DType::F32, Device::Cpu)?;
/// let mut opt = SGD::new(vec![w], SGDConfig::new(0.1))?;
/// let mut sched = OneCycleLR::new(&mut opt, OneCycleConfig::new(1.0, 10))?;
/// assert!((opt.learning_rates()[0] - 0.04).abs() < 1e-12); // max_lr / 25
/// let mut peak: f64 = 0.0;
/// for _ in 0..10 {
///     sched.step(&mut opt)?;
///     peak = peak.max(opt.learning_rates()[0]);
/// }
/// assert!((peak - 1.0).abs() < 1e-12);
/// assert!(sched.step(&mut opt).is_err()); // past total_steps
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct OneCycleLR {
    /// Per group: the initial, max and min rates.
    rates: Vec<[f64; 3]>,
    phases: Vec<Phase>,
    config: OneCycleConfig,
    progress: Progress,
}

impl OneCycleLR {
    /// Runs one cycle on the rates of `opt`.
    pub fn new(opt: &mut dyn Optimizer, config: OneCycleConfig) -> Result<Self> {
        const OP: &str = "OneCycleLR";
        let groups = opt.learning_rates().len();
        let max_lrs = match config.max_lr.len() {
            1 => vec![config.max_lr[0]; groups],
            n if n == groups => config.max_lr.clone(),
            n => {
                return Err(invalid(
                    OP,
                    format!("expected 1 or {groups} values for max_lr, got {n}"),
                ))
            }
        };
        if config.total_steps == 0 {
            return Err(invalid(OP, "total_steps must be at least 1".into()));
        }
        if !(0.0..=1.0).contains(&config.pct_start) {
            return Err(invalid(
                OP,
                format!(
                    "invalid pct_start {} (expected a value in [0, 1])",
                    config.pct_start
                ),
            ));
        }
        for (name, v) in [
            ("div_factor", config.div_factor),
            ("final_div_factor", config.final_div_factor),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(invalid(
                    OP,
                    format!("invalid {name} {v} (expected a finite value > 0)"),
                ));
            }
        }
        let rates: Vec<[f64; 3]> = max_lrs
            .iter()
            .map(|&max| {
                let initial = max / config.div_factor;
                [initial, max, initial / config.final_div_factor]
            })
            .collect();
        let (total, pct) = (config.total_steps as f64, config.pct_start);
        let last = total - 1.0;
        let phases = if config.three_phase {
            vec![
                Phase {
                    end: pct * total - 1.0,
                    from: 0,
                    to: 1,
                },
                Phase {
                    end: 2.0 * pct * total - 2.0,
                    from: 1,
                    to: 0,
                },
                Phase {
                    end: last,
                    from: 0,
                    to: 2,
                },
            ]
        } else {
            vec![
                Phase {
                    end: pct * total - 1.0,
                    from: 0,
                    to: 1,
                },
                Phase {
                    end: last,
                    from: 1,
                    to: 2,
                },
            ]
        };
        let mut progress = Progress::new(OP, opt);
        progress.base_lrs = rates.iter().map(|r| r[0]).collect();
        let mut s = OneCycleLR {
            rates,
            phases,
            config,
            progress,
        };
        let lrs = s.lrs_at(0)?;
        s.progress.commit(opt, 0, lrs)?;
        Ok(s)
    }

    /// PyTorch's `OneCycleLR.get_lr`, operation for operation.
    fn lrs_at(&self, step: usize) -> Result<Vec<f64>> {
        if step > self.config.total_steps {
            return Err(invalid(
                "OneCycleLR",
                format!(
                    "tried to step {} times, but total_steps is {}",
                    step + 1,
                    self.config.total_steps
                ),
            ));
        }
        let t = step as f64;
        let mut lrs = Vec::with_capacity(self.rates.len());
        for r in &self.rates {
            let mut start = 0.0;
            let mut lr = f64::NAN;
            for (i, ph) in self.phases.iter().enumerate() {
                let last = i == self.phases.len() - 1;
                if t <= ph.end || last {
                    let mut pct = (t - start) / (ph.end - start);
                    if last {
                        // PyTorch extrapolates at step total_steps (a negative rate with
                        // linear annealing); the cycle is over, so hold its final rate.
                        pct = pct.min(1.0);
                    }
                    let (a, b) = (r[ph.from], r[ph.to]);
                    lr = match self.config.anneal_strategy {
                        AnnealStrategy::Cos => b + (a - b) / 2.0 * ((PI * pct).cos() + 1.0),
                        AnnealStrategy::Linear => (b - a) * pct + a,
                    };
                    break;
                }
                start = ph.end;
            }
            lrs.push(lr);
        }
        Ok(lrs)
    }
}

impl LrScheduler for OneCycleLR {
    fn step(&mut self, opt: &mut dyn Optimizer) -> Result<()> {
        let epoch = self.progress.last_epoch + 1;
        let lrs = self.lrs_at(epoch)?;
        self.progress.commit(opt, epoch, lrs)
    }
    fn last_lrs(&self) -> Vec<f64> {
        self.progress.last_lrs.clone()
    }
    /// The cycle's initial rates, `max_lr / div_factor`.
    fn base_lrs(&self) -> Vec<f64> {
        self.progress.base_lrs.clone()
    }
    /// Restarts the cycle; its rates come from `max_lr`, so `base_lrs` is not used.
    fn restart(&mut self, _base_lrs: &[f64], opt: &mut dyn Optimizer) -> Result<()> {
        let lrs = self.lrs_at(0)?;
        self.progress.commit(opt, 0, lrs)
    }
    fn state_dict(&self) -> Value {
        to_json(&self.progress)
    }
    fn load_state_dict(&mut self, state: &Value) -> Result<()> {
        self.progress.load(state)
    }
}

/// Runs schedules one after another (PyTorch's `SequentialLR`): `schedulers[i + 1]` takes
/// over at step `milestones[i]`, restarted from the base rates.
///
/// Build the inner schedulers from the same optimizer first, in order; their constructors
/// change its rates, so `SequentialLR` takes its base rates from the first scheduler and resets
/// the optimizer to them, as PyTorch does.
///
/// # Examples
///
/// ```
/// use silica_core::{DType, Device, Tensor};
/// use silica_nn::optim::{
///     CosineAnnealingLR, LinearLR, LrScheduler, Optimizer, SGDConfig, SequentialLR, SGD,
/// };
/// # fn main() -> silica_core::Result<()> {
/// let w = Tensor::zeros([1], DType::F32, Device::Cpu)?;
/// let mut opt = SGD::new(vec![w], SGDConfig::new(0.1))?;
/// // Five warm-up steps from 0.01, then cosine annealing over 20 steps.
/// let warmup = LinearLR::new(&mut opt, 0.1, 1.0, 5)?;
/// let cosine = CosineAnnealingLR::new(&mut opt, 20, 0.0)?;
/// let mut sched = SequentialLR::new(&mut opt, vec![Box::new(warmup), Box::new(cosine)], &[5])?;
/// assert!((opt.learning_rates()[0] - 0.01).abs() < 1e-12);
/// for _ in 0..5 {
///     sched.step(&mut opt)?;
/// }
/// assert!((opt.learning_rates()[0] - 0.1).abs() < 1e-12);
/// # Ok(()) }
/// ```
pub struct SequentialLR {
    schedulers: Vec<Box<dyn LrScheduler>>,
    milestones: Vec<usize>,
    progress: Progress,
}

/// [`SequentialLR`]'s state dict: its progress, as every scheduler writes it, and beside it its
/// milestones and the states of its schedulers.
#[derive(Serialize, Deserialize)]
struct SequentialState {
    #[serde(flatten)]
    progress: Progress,
    milestones: Vec<usize>,
    schedulers: Vec<Value>,
}

impl std::fmt::Debug for SequentialLR {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SequentialLR")
            .field("schedulers", &self.schedulers.len())
            .field("milestones", &self.milestones)
            .field("progress", &self.progress)
            .finish()
    }
}

impl SequentialLR {
    /// Runs `schedulers` in turn, switching at `milestones` (one fewer than the schedulers,
    /// in increasing order).
    pub fn new(
        opt: &mut dyn Optimizer,
        schedulers: Vec<Box<dyn LrScheduler>>,
        milestones: &[usize],
    ) -> Result<Self> {
        const OP: &str = "SequentialLR";
        if schedulers.is_empty() {
            return Err(invalid(OP, "expected at least one scheduler".into()));
        }
        if milestones.len() + 1 != schedulers.len() {
            return Err(invalid(
                OP,
                format!(
                    "expected {} milestones for {} schedulers (one fewer), got {}",
                    schedulers.len() - 1,
                    schedulers.len(),
                    milestones.len()
                ),
            ));
        }
        if milestones.windows(2).any(|w| w[0] > w[1]) {
            return Err(invalid(
                OP,
                format!("milestones {milestones:?} are not in increasing order"),
            ));
        }
        let base_lrs = schedulers[0].base_lrs();
        let mut s = SequentialLR {
            schedulers,
            milestones: milestones.to_vec(),
            progress: Progress::new(OP, opt),
        };
        s.restart(&base_lrs, opt)?;
        Ok(s)
    }
}

impl LrScheduler for SequentialLR {
    fn step(&mut self, opt: &mut dyn Optimizer) -> Result<()> {
        let epoch = self.progress.last_epoch + 1;
        let idx = self.milestones.partition_point(|&m| m <= epoch);
        let sched = &mut self.schedulers[idx];
        if idx > 0 && self.milestones[idx - 1] == epoch {
            sched.restart(&self.progress.base_lrs, opt)?;
        } else {
            sched.step(opt)?;
        }
        self.progress.last_lrs = sched.last_lrs();
        self.progress.last_epoch = epoch;
        Ok(())
    }
    fn last_lrs(&self) -> Vec<f64> {
        self.progress.last_lrs.clone()
    }
    fn base_lrs(&self) -> Vec<f64> {
        self.progress.base_lrs.clone()
    }
    fn restart(&mut self, base_lrs: &[f64], opt: &mut dyn Optimizer) -> Result<()> {
        opt.set_learning_rates(base_lrs)?;
        self.schedulers[0].restart(base_lrs, opt)?;
        self.progress.base_lrs = base_lrs.to_vec();
        self.progress.last_epoch = 0;
        self.progress.last_lrs = self.schedulers[0].last_lrs();
        Ok(())
    }
    fn state_dict(&self) -> Value {
        to_json(&SequentialState {
            progress: self.progress.clone(),
            milestones: self.milestones.clone(),
            schedulers: self.schedulers.iter().map(|s| s.state_dict()).collect(),
        })
    }
    /// Loads its own progress and every inner scheduler's; when one of those fails, the ones
    /// already loaded are put back, so the whole scheduler is unchanged.
    fn load_state_dict(&mut self, state: &Value) -> Result<()> {
        const OP: &str = "SequentialLR::load_state_dict";
        // The progress first, on its own: a flattened field's errors do not name it.
        let progress = self.progress.parse(state)?;
        let saved: SequentialState = from_json(state).map_err(|m| invalid(OP, m))?;
        if saved.milestones != self.milestones {
            return Err(invalid(
                OP,
                format!(
                    "the state's milestones {:?} differ from the scheduler's {:?}",
                    saved.milestones, self.milestones
                ),
            ));
        }
        if saved.schedulers.len() != self.schedulers.len() {
            return Err(invalid(
                OP,
                format!(
                    "the state has {} schedulers, the scheduler {}",
                    saved.schedulers.len(),
                    self.schedulers.len()
                ),
            ));
        }
        let backup: Vec<Value> = self.schedulers.iter().map(|s| s.state_dict()).collect();
        for (i, (s, v)) in self
            .schedulers
            .iter_mut()
            .zip(&saved.schedulers)
            .enumerate()
        {
            if let Err(e) = s.load_state_dict(v) {
                for (s, b) in self.schedulers.iter_mut().zip(&backup).take(i) {
                    s.load_state_dict(b)?;
                }
                return Err(e);
            }
        }
        self.progress = progress;
        Ok(())
    }
}
