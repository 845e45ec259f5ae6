//! Optimizers, learning-rate schedulers and gradient clipping, with PyTorch's update rules.
//!
//! Every optimizer implements [`Optimizer`]: `step` updates the parameters in place (under
//! `no_grad`) from their gradients, parameters without a gradient are skipped, and parameter
//! groups carry their own hyper-parameters. Schedulers implement [`LrScheduler`].
//!
//! # Design
//!
//! - **Formulas.** Each update follows PyTorch 1.13's single-tensor code path (`foreach=False`,
//!   its CPU default) op for op, in the same order, so float32 results agree to rounding.
//! - **Groups and indices.** An optimizer holds [`ParamGroup`]s. A parameter's *global index*
//!   is its position over all groups in order; state-dict keys use it
//!   (`state.3.exp_avg`), as PyTorch's do.
//! - **State.** Per-parameter state (a step counter and named tensors) is created at a
//!   parameter's first step (Adagrad's at construction, as in PyTorch). State tensors are
//!   *replaced* by each step, never written in place, so a state dict is a snapshot that later
//!   steps do not change, and no copy is needed to take one. Parameters are written in place
//!   with [`Tensor::assign`], so every clone of a parameter (a module's, the caller's) sees the
//!   update.
//! - **Atomicity.** A parameter's state is committed only after its update succeeded, and
//!   `load_state_dict` checks everything (the optimizer kind, the number of groups and of
//!   parameters, every hyper-parameter, every key and shape) before it changes anything.

mod adagrad;
mod adam;
mod clip;
mod rmsprop;
mod scheduler;
mod sgd;

pub use adagrad::*;
pub use adam::*;
pub use clip::*;
pub use rmsprop::*;
pub use scheduler::*;
pub use sgd::*;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use silica_core::{Device, Error, Result, Tensor, TensorId};
use std::collections::{BTreeMap, HashSet};

/// Parameters that share hyper-parameters (`C` is the optimizer's config type).
#[derive(Clone, Debug)]
pub struct ParamGroup<C> {
    /// The parameters, updated in place.
    pub params: Vec<Tensor>,
    /// Their hyper-parameters.
    pub config: C,
}

impl<C> ParamGroup<C> {
    /// A group of `params` with `config`.
    pub fn new(params: Vec<Tensor>, config: C) -> Self {
        ParamGroup { params, config }
    }
}

/// The state of an optimizer or scheduler for a checkpoint: named tensors (moments, momentum
/// buffers, step counts) and hyper-parameters as JSON.
///
/// Optimizers name their tensors `state.<global param index>.<name>`: `step` (a zero-dim I64
/// count) and the buffers (`exp_avg`, `exp_avg_sq`, `max_exp_avg_sq`, `momentum_buffer`,
/// `sum`, `square_avg`, `grad_avg`). `meta` is
/// `{"optimizer": "Adam", "groups": [{"lr": 0.001, ..., "params": [0, 1]}]}`.
#[derive(Clone, Debug, Default)]
pub struct OptimizerState {
    /// Per-parameter state, keyed like `state.<param index>.<name>` (`state.3.exp_avg`).
    pub tensors: BTreeMap<String, Tensor>,
    /// Hyper-parameters and counters, as JSON.
    pub meta: serde_json::Value,
}

/// An optimizer: updates parameters from their gradients.
pub trait Optimizer: Send {
    /// Applies one update to every parameter that has a gradient.
    fn step(&mut self) -> Result<()>;

    /// Every parameter of every group, in order.
    fn params(&self) -> Vec<Tensor>;

    /// Clears every parameter's gradient (`set_to_none`, PyTorch's default).
    fn zero_grad(&mut self) {
        for p in self.params() {
            let _ = p.set_grad(None);
        }
    }

    /// The learning rate of each parameter group.
    fn learning_rates(&self) -> Vec<f64>;

    /// Sets the learning rate of each parameter group (one value per group).
    fn set_learning_rates(&mut self, lrs: &[f64]) -> Result<()>;

    /// The optimizer's state, for checkpoints.
    fn state_dict(&self) -> Result<OptimizerState>;

    /// Restores a state from [`Optimizer::state_dict`]. On error, the optimizer is unchanged.
    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<()>;

    /// Moves the per-parameter state (moments, momentum buffers) to `device`, as after
    /// `model.to_device(device)`. A `step` with state on another device than its parameter
    /// is an error that says so; the optimizer never updates from a stale copy. On error,
    /// nothing moves.
    fn to_device(&mut self, device: Device) -> Result<()>;
}

/// A learning-rate schedule, stepped once per epoch or per iteration, as the caller chooses.
///
/// A scheduler is built from the optimizer it drives and sets the initial rates there, as
/// PyTorch's constructors do; then `step` advances it by one.
pub trait LrScheduler: Send {
    /// Advances the schedule by one step and writes the new rates into `opt`.
    fn step(&mut self, opt: &mut dyn Optimizer) -> Result<()>;

    /// The rates the last step (or the constructor) set, one per group.
    fn last_lrs(&self) -> Vec<f64>;

    /// The rates the schedule scales (PyTorch's `base_lrs`: the optimizer's rates when the
    /// first scheduler was built), one per group.
    fn base_lrs(&self) -> Vec<f64>;

    /// Restarts the schedule at step 0 from `base_lrs` and writes step 0's rates into `opt`.
    /// [`SequentialLR`] calls this when it hands over to the next schedule.
    fn restart(&mut self, base_lrs: &[f64], opt: &mut dyn Optimizer) -> Result<()>;

    /// The scheduler's state (its step count and base rates), for checkpoints.
    fn state_dict(&self) -> serde_json::Value;

    /// Restores a state from [`LrScheduler::state_dict`]. On error, the scheduler is unchanged.
    fn load_state_dict(&mut self, state: &serde_json::Value) -> Result<()>;
}

// ---- shared machinery of the optimizers --------------------------------------------------

/// What the shared optimizer code needs from a config type. Its serde form is a group's entry
/// in a state dict's meta (without `params`).
pub(crate) trait GroupConfig:
    Clone + std::fmt::Debug + Send + Serialize + DeserializeOwned
{
    /// The optimizer's name, in errors and in a state dict's meta (`"Adam"`).
    const NAME: &'static str;
    /// The per-parameter state tensors the optimizer may keep.
    const STATE: &'static [&'static str];
    /// The learning rate.
    fn lr(&self) -> f64;
    /// Sets the learning rate.
    fn set_lr(&mut self, lr: f64);
    /// Fails on a hyper-parameter PyTorch's constructor rejects.
    fn validate(&self) -> Result<()>;
    /// The state tensors a parameter that has taken a step must have under this config.
    fn required_state(&self) -> Vec<&'static str>;
    /// A parameter's state before its first step (Adagrad starts its sum at a set value).
    fn initial_state(&self, _param: &Tensor) -> Result<Option<ParamState>> {
        Ok(None)
    }
}

/// An optimizer made of [`Groups`] and a per-parameter update rule: [`Optimizer`] is
/// implemented once for all of them.
pub(crate) trait GroupOptimizer: Send {
    /// The hyper-parameters of one group.
    type Config: GroupConfig;
    /// The groups and the per-parameter state.
    fn state(&self) -> &Groups<Self::Config>;
    /// The groups and the per-parameter state, to update.
    fn state_mut(&mut self) -> &mut Groups<Self::Config>;
    /// One update of parameter `p` with gradient `g` and its state `st`.
    fn update(config: &Self::Config, p: &Tensor, g: &Tensor, st: &mut ParamState) -> Result<()>;
}

impl<T: GroupOptimizer> Optimizer for T {
    fn step(&mut self) -> Result<()> {
        self.state_mut().step(T::update)
    }
    fn params(&self) -> Vec<Tensor> {
        self.state().params()
    }
    fn learning_rates(&self) -> Vec<f64> {
        self.state().learning_rates()
    }
    fn set_learning_rates(&mut self, lrs: &[f64]) -> Result<()> {
        self.state_mut().set_learning_rates(lrs)
    }
    fn state_dict(&self) -> Result<OptimizerState> {
        self.state().state_dict()
    }
    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<()> {
        self.state_mut().load_state_dict(state)
    }
    fn to_device(&mut self, device: Device) -> Result<()> {
        self.state_mut().move_state(device)
    }
}

/// The state of one parameter: its step count and its named buffers.
#[derive(Clone, Debug, Default)]
pub(crate) struct ParamState {
    pub(crate) step: u64,
    pub(crate) bufs: BTreeMap<&'static str, Tensor>,
}

impl ParamState {
    /// The buffer `name`, if the parameter has one.
    pub(crate) fn buf(&self, name: &'static str) -> Option<Tensor> {
        self.bufs.get(name).cloned()
    }

    /// Replaces the buffer `name`.
    pub(crate) fn set(&mut self, name: &'static str, t: Tensor) {
        self.bufs.insert(name, t);
    }
}

/// Groups of parameters with their config and per-parameter state: everything an optimizer
/// holds apart from its update rule.
#[derive(Clone, Debug)]
pub(crate) struct Groups<C> {
    pub(crate) groups: Vec<ParamGroup<C>>,
    /// One entry per parameter, by global index; `None` before its first step.
    pub(crate) state: Vec<Option<ParamState>>,
}

/// Fails unless the gradient and every state tensor of parameter `index` sit on the
/// parameter's device: after a model moves, its optimizer's state must move too.
fn check_devices(
    name: &'static str,
    index: usize,
    p: &Tensor,
    g: &Tensor,
    st: &ParamState,
) -> Result<()> {
    let device = p.device();
    let stray = std::iter::once(("gradient", g))
        .chain(st.bufs.iter().map(|(&n, t)| (n, t)))
        .find(|(_, t)| t.device() != device);
    match stray {
        None => Ok(()),
        Some((what, t)) => Err(Error::invalid(
            name,
            format!(
                "the {what} of parameter {index} is on {}, the parameter on {device}; after moving the model, move the optimizer too (optimizer.to_device({device}))",
                t.device()
            ),
        )),
    }
}

/// Checks a learning rate: finite and not negative.
pub(crate) fn check_lr(op: &'static str, lr: f64) -> Result<()> {
    if lr.is_finite() && lr >= 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            op,
            format!("invalid learning rate {lr} (expected a finite lr >= 0)"),
        ))
    }
}

/// Checks that a hyper-parameter is finite and at least 0.
pub(crate) fn check_non_negative(op: &'static str, name: &str, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            op,
            format!("invalid {name} {v} (expected a finite value >= 0)"),
        ))
    }
}

/// Checks that a decay rate lies in `[0, 1)`.
pub(crate) fn check_unit(op: &'static str, name: &str, v: f64) -> Result<()> {
    if (0.0..1.0).contains(&v) {
        Ok(())
    } else {
        Err(Error::invalid(
            op,
            format!("invalid {name} {v} (expected a value in [0, 1))"),
        ))
    }
}

/// Reads a `T` from JSON. The message names the field at fault (`betas[1]: invalid type: ...`),
/// which serde_json's own message does not for a value of the wrong type.
pub(crate) fn from_json<T: DeserializeOwned>(v: &Value) -> std::result::Result<T, String> {
    serde_path_to_error::deserialize(v).map_err(|e| match e.path().to_string().as_str() {
        "." => e.inner().to_string(),
        path => format!("{path}: {}", e.inner()),
    })
}

/// `v` as JSON. serde_json fails only on a map whose keys are not strings or on a `Serialize`
/// impl that errs; the state types have neither, so the fallback (null) is never taken.
pub(crate) fn to_json(v: &impl Serialize) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// An optimizer's meta in a state dict: `{"optimizer": "Adam", "groups": [...]}`, each group
/// PyTorch's `param_groups` entry (its hyper-parameters and its parameters' global indices).
#[derive(Serialize, Deserialize)]
struct Meta<G> {
    optimizer: String,
    groups: Vec<G>,
}

/// A group as written: its config's fields and `params` side by side. It is read in two
/// parts instead ([`read_config`] and the length of `params`), since a flattened field loses
/// the name of a field at fault in serde's errors.
#[derive(Serialize)]
struct SavedGroup<'a, C> {
    #[serde(flatten)]
    config: &'a C,
    params: Vec<usize>,
}

/// Reads and checks the hyper-parameters of a saved group. It must hold every one that `like`
/// (the group's current config) writes; other keys, as `params`, are ignored.
fn read_config<C: GroupConfig>(saved: &Value, like: &C) -> std::result::Result<C, String> {
    // serde names a missing field only in its prose; name it here as the checks below do.
    if let (Value::Object(known), Value::Object(got)) = (to_json(like), saved) {
        if let Some(key) = known.keys().find(|k| !got.contains_key(*k)) {
            return Err(format!("hyper-parameter {key:?} is missing"));
        }
    }
    let config: C = from_json(saved)?;
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

/// The gradient an update uses: negated when maximizing, plus the L2 penalty
/// `weight_decay * param` (PyTorch's `grad.add(param, alpha=weight_decay)`).
pub(crate) fn effective_grad(
    g: &Tensor,
    p: &Tensor,
    maximize: bool,
    weight_decay: f64,
) -> Result<Tensor> {
    let g = if maximize { g.neg()? } else { g.clone() };
    if weight_decay == 0.0 {
        return Ok(g);
    }
    g.add(&p.mul_scalar(weight_decay)?)
}

/// `t * s`, skipping the op when `s` is 1 (an exact identity).
pub(crate) fn scale(t: &Tensor, s: f64) -> Result<Tensor> {
    if s == 1.0 {
        Ok(t.clone())
    } else {
        t.mul_scalar(s)
    }
}

/// A running average `prev * decay + term`; with no previous value (a zero buffer) this is
/// exactly `term`, so the first step allocates no zeros.
pub(crate) fn decayed(prev: Option<Tensor>, decay: f64, term: Tensor) -> Result<Tensor> {
    match prev {
        None => Ok(term),
        Some(prev) => prev.mul_scalar(decay)?.add(&term),
    }
}

impl<C: GroupConfig> Groups<C> {
    /// Validates the groups: at least one parameter, valid configs, float leaf parameters,
    /// each in one group only.
    pub(crate) fn new(groups: Vec<ParamGroup<C>>) -> Result<Self> {
        let n: usize = groups.iter().map(|g| g.params.len()).sum();
        if n == 0 {
            return Err(Error::invalid(
                C::NAME,
                "got an empty parameter list (expected at least one parameter)",
            ));
        }
        let mut seen: HashSet<TensorId> = HashSet::new();
        for (gi, group) in groups.iter().enumerate() {
            group.config.validate()?;
            for (pi, p) in group.params.iter().enumerate() {
                let what = format!("parameter {pi} of group {gi}");
                if !p.is_leaf() {
                    return Err(Error::invalid(
                        C::NAME,
                        format!("{what} is not a leaf tensor (an optimizer updates leaves only)"),
                    ));
                }
                if !p.dtype().is_float() {
                    return Err(Error::dtype(
                        C::NAME,
                        p.dtype(),
                        format!("a float dtype for {what}"),
                    ));
                }
                if !seen.insert(p.id()) {
                    return Err(Error::invalid(
                        C::NAME,
                        format!("{what} appears more than once in the parameter groups"),
                    ));
                }
            }
        }
        let state = groups
            .iter()
            .flat_map(|g| g.params.iter().map(|p| g.config.initial_state(p)))
            .collect::<Result<_>>()?;
        Ok(Groups { groups, state })
    }

    /// Runs `update(config, param, grad, state)` for every parameter with a gradient, under
    /// `no_grad`. A parameter's state is kept only when its update succeeds.
    pub(crate) fn step(
        &mut self,
        mut update: impl FnMut(&C, &Tensor, &Tensor, &mut ParamState) -> Result<()>,
    ) -> Result<()> {
        let _guard = silica_core::no_grad();
        let mut index = 0;
        for group in &self.groups {
            for p in &group.params {
                let slot = &mut self.state[index];
                index += 1;
                let Some(g) = p.grad() else { continue };
                let mut st = slot.clone().unwrap_or_default();
                check_devices(C::NAME, index - 1, p, &g, &st)?;
                update(&group.config, p, &g, &mut st)?;
                *slot = Some(st);
            }
        }
        Ok(())
    }

    /// Moves every state tensor to `device`, all copies made first.
    pub(crate) fn move_state(&mut self, device: Device) -> Result<()> {
        let moved = self
            .state
            .iter()
            .map(|st| {
                st.as_ref()
                    .map(|st| {
                        let bufs = st
                            .bufs
                            .iter()
                            .map(|(&name, t)| Ok((name, t.to_device(device)?)))
                            .collect::<Result<_>>()?;
                        Ok(ParamState {
                            step: st.step,
                            bufs,
                        })
                    })
                    .transpose()
            })
            .collect::<Result<Vec<_>>>()?;
        self.state = moved;
        Ok(())
    }

    pub(crate) fn params(&self) -> Vec<Tensor> {
        self.groups
            .iter()
            .flat_map(|g| g.params.iter().cloned())
            .collect()
    }

    pub(crate) fn learning_rates(&self) -> Vec<f64> {
        self.groups.iter().map(|g| g.config.lr()).collect()
    }

    pub(crate) fn set_learning_rates(&mut self, lrs: &[f64]) -> Result<()> {
        if lrs.len() != self.groups.len() {
            return Err(Error::invalid(
                "set_learning_rates",
                format!(
                    "got {} learning rates for {} parameter groups of {}",
                    lrs.len(),
                    self.groups.len(),
                    C::NAME
                ),
            ));
        }
        for &lr in lrs {
            check_lr("set_learning_rates", lr)?;
        }
        for (g, &lr) in self.groups.iter_mut().zip(lrs) {
            g.config.set_lr(lr);
        }
        Ok(())
    }

    pub(crate) fn state_dict(&self) -> Result<OptimizerState> {
        let mut tensors = BTreeMap::new();
        for (i, st) in self.state.iter().enumerate() {
            let Some(st) = st else { continue };
            tensors.insert(
                format!("state.{i}.step"),
                Tensor::scalar(st.step as i64, Device::Cpu)?,
            );
            for (name, t) in &st.bufs {
                tensors.insert(format!("state.{i}.{name}"), t.clone());
            }
        }
        let mut start = 0;
        let groups = self
            .groups
            .iter()
            .map(|g| {
                let params = (start..start + g.params.len()).collect();
                start += g.params.len();
                SavedGroup {
                    config: &g.config,
                    params,
                }
            })
            .collect();
        let meta = Meta {
            optimizer: C::NAME.to_string(),
            groups,
        };
        Ok(OptimizerState {
            tensors,
            meta: to_json(&meta),
        })
    }

    /// Checks `s` completely, then replaces the configs (keeping the parameters) and state.
    pub(crate) fn load_state_dict(&mut self, s: &OptimizerState) -> Result<()> {
        let _guard = silica_core::no_grad();
        let cannot = |problems: &[String]| {
            Error::invalid(
                "load_state_dict",
                format!(
                    "cannot load this state into {}: {}",
                    C::NAME,
                    problems.join("; ")
                ),
            )
        };
        let meta: Meta<Value> = from_json(&s.meta).map_err(|e| cannot(&[e]))?;
        if meta.optimizer != C::NAME {
            return Err(cannot(&[format!(
                "the state is for optimizer {:?}, not {}",
                meta.optimizer,
                C::NAME
            )]));
        }
        let mut problems: Vec<String> = Vec::new();
        let params = self.params();
        let saved = &meta.groups;
        let mut configs = Vec::new();
        if saved.len() != self.groups.len() {
            problems.push(format!(
                "the state has {} parameter groups, the optimizer {}",
                saved.len(),
                self.groups.len()
            ));
        } else {
            for (gi, (sg, g)) in saved.iter().zip(&self.groups).enumerate() {
                let count = sg.get("params").and_then(Value::as_array).map(Vec::len);
                if count != Some(g.params.len()) {
                    problems.push(format!(
                        "group {gi} has {} parameters in the state, {} in the optimizer",
                        count.map_or("no list of".to_string(), |c| c.to_string()),
                        g.params.len()
                    ));
                }
                match read_config(sg, &g.config) {
                    Ok(c) => configs.push(c),
                    Err(e) => problems.push(format!("group {gi}: {e}")),
                }
            }
        }
        let mut state: Vec<Option<ParamState>> = vec![None; params.len()];
        let mut has_step = vec![false; params.len()];
        for (key, t) in &s.tensors {
            if let Err(e) = load_entry(key, t, &params, C::STATE, &mut state, &mut has_step) {
                problems.push(e);
            }
        }
        if problems.is_empty() {
            let mut owner = Vec::with_capacity(params.len());
            for (gi, g) in self.groups.iter().enumerate() {
                owner.extend(std::iter::repeat_n(gi, g.params.len()));
            }
            for (i, st) in state.iter().enumerate() {
                let Some(st) = st else { continue };
                if !has_step[i] {
                    problems.push(format!("state.{i}.step is missing"));
                }
                for name in configs[owner[i]].required_state() {
                    if !st.bufs.contains_key(name) {
                        problems.push(format!("state.{i}.{name} is missing"));
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(cannot(&problems));
        }
        for (g, c) in self.groups.iter_mut().zip(configs) {
            g.config = c;
        }
        self.state = state;
        Ok(())
    }
}

/// Reads one state-dict entry `state.<index>.<name>` into `state`, converted to its
/// parameter's dtype and device, in storage of its own.
fn load_entry(
    key: &str,
    t: &Tensor,
    params: &[Tensor],
    names: &[&'static str],
    state: &mut [Option<ParamState>],
    has_step: &mut [bool],
) -> std::result::Result<(), String> {
    let parsed = key
        .strip_prefix("state.")
        .and_then(|rest| rest.split_once('.'))
        .and_then(|(i, name)| Some((i.parse::<usize>().ok()?, name)));
    let Some((i, name)) = parsed else {
        return Err(format!(
            "unexpected key {key:?} (expected state.<index>.<name>)"
        ));
    };
    let Some(p) = params.get(i) else {
        return Err(format!(
            "{key} names parameter {i}, but the optimizer has {} parameters",
            params.len()
        ));
    };
    let st = state[i].get_or_insert_with(ParamState::default);
    if name == "step" {
        let step = if t.elem_count() == 1 {
            t.to_scalar().map_err(|e| e.to_string())?
        } else {
            f64::NAN
        };
        if !(step >= 0.0 && step.fract() == 0.0 && step < 2f64.powi(63)) {
            return Err(format!(
                "{key} must hold one whole number >= 0, got a tensor of shape {}",
                t.shape()
            ));
        }
        st.step = step as u64;
        has_step[i] = true;
        return Ok(());
    }
    let Some(&name) = names.iter().find(|n| **n == name) else {
        return Err(format!(
            "unexpected key {key} (this optimizer keeps {})",
            names.join(", ")
        ));
    };
    if t.shape() != p.shape() {
        return Err(format!(
            "{key} has shape {}, but parameter {i} has shape {}",
            t.shape(),
            p.shape()
        ));
    }
    let own = (|| -> Result<Tensor> {
        let u = t.to_dtype(p.dtype())?.to_device(p.device())?;
        if u.shares_storage(t) {
            u.copy()
        } else {
            Ok(u.detach())
        }
    })()
    .map_err(|e| format!("{key}: {e}"))?;
    st.set(name, own);
    Ok(())
}

// ---- shared machinery of the schedulers ---------------------------------------------------

/// The progress every scheduler keeps: its base rates, its step and the rates it last set.
/// Its serde form is a scheduler's state dict
/// (`{"scheduler": "StepLR", "last_epoch": 3, "base_lrs": [...], "last_lrs": [...]}`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Progress {
    /// The scheduler's name.
    #[serde(rename = "scheduler")]
    pub(crate) kind: String,
    pub(crate) last_epoch: usize,
    pub(crate) base_lrs: Vec<f64>,
    pub(crate) last_lrs: Vec<f64>,
}

impl Progress {
    /// Base rates from `opt`'s current rates, at step 0.
    pub(crate) fn new(kind: &str, opt: &dyn Optimizer) -> Self {
        let base_lrs = opt.learning_rates();
        Progress {
            kind: kind.to_string(),
            last_lrs: base_lrs.clone(),
            base_lrs,
            last_epoch: 0,
        }
    }

    /// Writes `lrs` (the rates of step `epoch`) into `opt`, then records them.
    pub(crate) fn commit(
        &mut self,
        opt: &mut dyn Optimizer,
        epoch: usize,
        lrs: Vec<f64>,
    ) -> Result<()> {
        opt.set_learning_rates(&lrs)?;
        self.last_epoch = epoch;
        self.last_lrs = lrs;
        Ok(())
    }

    /// Writes `lrs` (the rates of step 0 from `base_lrs`) into `opt`, then records them.
    pub(crate) fn restart(
        &mut self,
        opt: &mut dyn Optimizer,
        base_lrs: &[f64],
        lrs: Vec<f64>,
    ) -> Result<()> {
        self.commit(opt, 0, lrs)?;
        self.base_lrs = base_lrs.to_vec();
        Ok(())
    }

    /// Reads a state written by [`LrScheduler::state_dict`]; on error `self` is unchanged.
    pub(crate) fn load(&mut self, v: &Value) -> Result<()> {
        *self = self.parse(v)?;
        Ok(())
    }

    /// Reads a state of a scheduler of this kind with as many groups, or says what is wrong.
    pub(crate) fn parse(&self, v: &Value) -> Result<Progress> {
        let cannot = |msg: String| {
            Error::invalid(
                "LrScheduler::load_state_dict",
                format!("cannot load this state into {}: {msg}", self.kind),
            )
        };
        let p: Progress = from_json(v).map_err(cannot)?;
        if p.kind != self.kind {
            return Err(cannot(format!(
                "the state is for scheduler {}, not {}",
                p.kind, self.kind
            )));
        }
        let groups = self.base_lrs.len();
        if p.base_lrs.len() != groups || p.last_lrs.len() != groups {
            return Err(cannot(format!(
                "the state has {} base rates and {} last rates, the scheduler {groups} groups",
                p.base_lrs.len(),
                p.last_lrs.len()
            )));
        }
        Ok(p)
    }
}
