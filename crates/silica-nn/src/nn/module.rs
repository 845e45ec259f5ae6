//! The [`Module`] trait: named parameters and buffers, train/eval mode, and state dicts with
//! PyTorch's key names.

use silica_core::{no_grad, DType, Device, Error, Result, Tensor};
use std::collections::BTreeMap;

/// Named tensors, sorted by name, with PyTorch `state_dict` keys (`features.0.weight`,
/// `bn1.running_mean`).
pub type StateDict = BTreeMap<String, Tensor>;

/// One entry that a module exposes to [`Module::visit`].
pub enum Slot<'a> {
    /// A learnable tensor (it requires grad), by local name.
    Param(&'a str, &'a Tensor),
    /// A tensor that is state but not learned (`running_mean`), by local name.
    Buffer(&'a str, &'a Tensor),
    /// A sub-module, by local name (`"0"` in a `Sequential`, `"fc1"` in a struct).
    Child(&'a str, &'a dyn Module),
}

/// A neural-network layer or model.
///
/// Implementors provide [`Module::forward`] and [`Module::visit`] (their parameters, buffers
/// and children, in a fixed order); everything else is provided: names, parameters,
/// `state_dict` and `load_state_dict`, `train`/`eval`, `zero_grad`. Parameters are ordinary
/// tensors that require grad; optimizers update them in place, so every clone of a parameter
/// handle sees the new values.
///
/// # Examples
///
/// ```
/// use silica_core::{Device, DType, Tensor, Result};
/// use silica_nn::nn::{Module, Slot};
///
/// /// y = x * scale, with one learnable scale.
/// struct Scale {
///     scale: Tensor,
/// }
///
/// impl Module for Scale {
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         x.mul(&self.scale)
///     }
///     fn visit(&self, f: &mut dyn FnMut(Slot<'_>)) {
///         f(Slot::Param("scale", &self.scale));
///     }
/// }
///
/// # fn main() -> Result<()> {
/// let m = Scale { scale: Tensor::ones([1], DType::F32, Device::Cpu)? };
/// m.scale.set_requires_grad(true)?;
/// assert_eq!(m.state_dict().keys().collect::<Vec<_>>(), ["scale"]);
/// # Ok(()) }
/// ```
pub trait Module: Send + Sync {
    /// Runs the module on one input.
    fn forward(&self, x: &Tensor) -> Result<Tensor>;

    /// Calls `f` for each parameter, buffer and child of this module (not recursively), always
    /// in the same order.
    fn visit(&self, f: &mut dyn FnMut(Slot<'_>));

    /// Switches this module's own behaviour (not its children's) between training and
    /// evaluation. Modules that behave differently (dropout, batch norm) override it.
    fn set_own_training(&self, training: bool) {
        let _ = training;
    }

    /// Every parameter, recursively, with dotted names, in visiting order.
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        walk(self, "", &mut |name, slot| {
            if let Entry::Param(t) = slot {
                out.push((name.to_string(), t.clone()));
            }
        });
        out
    }

    /// Every parameter, recursively, in visiting order.
    fn parameters(&self) -> Vec<Tensor> {
        self.named_parameters()
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    }

    /// Every buffer, recursively, with dotted names.
    fn named_buffers(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        walk(self, "", &mut |name, slot| {
            if let Entry::Buffer(t) = slot {
                out.push((name.to_string(), t.clone()));
            }
        });
        out
    }

    /// Parameters and buffers by their PyTorch `state_dict` keys. The tensors share storage
    /// with the module (detached from autograd), as PyTorch's do.
    fn state_dict(&self) -> StateDict {
        let mut out = StateDict::new();
        walk(self, "", &mut |name, slot| match slot {
            Entry::Param(t) | Entry::Buffer(t) => {
                out.insert(name.to_string(), t.detach());
            }
        });
        out
    }

    /// Copies the values of `state` into this module's parameters and buffers.
    ///
    /// With `strict`, a missing or unexpected key is an error; without it, they are listed in
    /// the returned report. A key whose shape differs is always an error. Values are cast to
    /// the parameter's dtype and moved to its device. Everything is checked before anything is
    /// written: on error the module is left as it was, and the error lists every problem.
    fn load_state_dict(&self, state: &StateDict, strict: bool) -> Result<LoadReport> {
        let own = self.state_dict();
        let mut problems = Vec::new();
        let missing: Vec<String> = own
            .keys()
            .filter(|k| !state.contains_key(*k))
            .cloned()
            .collect();
        let unexpected: Vec<String> = state
            .keys()
            .filter(|k| !own.contains_key(*k))
            .cloned()
            .collect();
        if strict {
            problems.extend(missing.iter().map(|k| format!("missing key {k:?}")));
            problems.extend(unexpected.iter().map(|k| format!("unexpected key {k:?}")));
        }
        let mut writes = Vec::new();
        for (key, dst) in &own {
            let Some(src) = state.get(key) else { continue };
            if src.shape() != dst.shape() {
                problems.push(format!(
                    "key {key:?} has shape {} in the state dict but {} in the module",
                    src.shape(),
                    dst.shape()
                ));
                continue;
            }
            match src
                .to_dtype(dst.dtype())
                .and_then(|s| s.to_device(dst.device()))
            {
                Ok(v) => writes.push((dst.clone(), v)),
                Err(e) => problems.push(format!("key {key:?}: {e}")),
            }
        }
        if !problems.is_empty() {
            return Err(Error::invalid("load_state_dict", problems.join("; ")));
        }
        let _guard = no_grad();
        for (dst, src) in writes {
            dst.assign(&src)?;
        }
        Ok(LoadReport {
            missing_keys: missing,
            unexpected_keys: unexpected,
        })
    }

    /// Puts this module and all its children in training mode.
    fn train(&self) {
        self.set_training(true);
    }

    /// Puts this module and all its children in evaluation mode.
    fn eval(&self) {
        self.set_training(false);
    }

    /// Sets training mode on this module and all its children.
    fn set_training(&self, training: bool) {
        self.set_own_training(training);
        self.visit(&mut |slot| {
            if let Slot::Child(_, m) = slot {
                m.set_training(training);
            }
        });
    }

    /// Moves every parameter and buffer, and every gradient, to `device`, as PyTorch's
    /// `module.to(device)`. Each tensor keeps its handle (see [`Tensor::set_data`]), so an
    /// optimizer built on the parameters keeps them; move its state with
    /// [`crate::optim::Optimizer::to_device`]. Every copy is made before any tensor changes,
    /// so a failure leaves the module as it was.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{backendtest::AsyncCpuBackend, Device, Generator};
    /// use silica_nn::nn::{Linear, Module};
    /// # fn main() -> silica_core::Result<()> {
    /// let fc = Linear::new(3, 2, true, &Generator::new(0))?;
    /// let weight = fc.weight().clone();
    /// let device = AsyncCpuBackend::register();
    /// fc.to_device(device)?;
    /// assert_eq!(weight.device(), device); // the same handle, moved
    /// # Ok(()) }
    /// ```
    fn to_device(&self, device: Device) -> Result<()> {
        convert_all(self, &|t| t.to_device(device))
    }

    /// Casts every floating-point parameter and buffer, and every gradient, to `dtype` (a
    /// float dtype), keeping each handle, as PyTorch's `module.to(dtype)`; integer buffers
    /// such as `num_batches_tracked` keep theirs. A failure leaves the module as it was.
    fn to_dtype(&self, dtype: DType) -> Result<()> {
        if !dtype.is_float() {
            return Err(Error::dtype(
                "to_dtype",
                dtype,
                "a float dtype for a module's parameters",
            ));
        }
        convert_all(self, &|t| {
            if t.dtype().is_float() {
                t.to_dtype(dtype)
            } else {
                Ok(t.clone())
            }
        })
    }

    /// This module with its float parameters and buffers cast to `dtype`, then everything moved
    /// to `device`: [`Module::to_dtype`] and [`Module::to_device`] for a builder chain,
    /// `Linear::new(..)?.to(DType::F64, device)?`.
    fn to(self, dtype: DType, device: Device) -> Result<Self>
    where
        Self: Sized,
    {
        self.to_dtype(dtype)?;
        self.to_device(device)?;
        Ok(self)
    }

    /// Clears the gradient of every parameter (PyTorch's `zero_grad(set_to_none=True)`).
    fn zero_grad(&self) {
        for p in self.parameters() {
            let _ = p.set_grad(None);
        }
    }
}

/// What [`Module::load_state_dict`] did not match (empty under `strict`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Keys of the module absent from the state dict.
    pub missing_keys: Vec<String>,
    /// Keys of the state dict the module does not have.
    pub unexpected_keys: Vec<String>,
}

enum Entry<'a> {
    Param(&'a Tensor),
    Buffer(&'a Tensor),
}

/// Replaces the data of every parameter and buffer of `m` (and every gradient) with
/// `convert`'s result, computing all of them first.
fn convert_all<M: Module + ?Sized>(
    m: &M,
    convert: &dyn Fn(&Tensor) -> Result<Tensor>,
) -> Result<()> {
    let _guard = no_grad();
    let mut tensors: Vec<Tensor> = Vec::new();
    walk(m, "", &mut |_, entry| {
        let (Entry::Param(t) | Entry::Buffer(t)) = entry;
        // A tied parameter appears twice: convert it once.
        if !tensors.iter().any(|seen| seen.id() == t.id()) {
            tensors.push(t.clone());
        }
    });
    let mut plan = Vec::with_capacity(tensors.len());
    for t in tensors {
        let data = convert(&t.detach())?;
        let grad = t.grad().map(|g| convert(&g)).transpose()?;
        plan.push((t, data, grad));
    }
    for (t, data, grad) in plan {
        t.set_data(&data)?;
        if grad.is_some() {
            t.set_grad(grad)?;
        }
    }
    Ok(())
}

/// Visits every parameter and buffer below `m`, with dotted names.
fn walk<M: Module + ?Sized>(m: &M, prefix: &str, f: &mut dyn FnMut(&str, Entry<'_>)) {
    m.visit(&mut |slot| match slot {
        Slot::Param(name, t) => f(&join(prefix, name), Entry::Param(t)),
        Slot::Buffer(name, t) => f(&join(prefix, name), Entry::Buffer(t)),
        Slot::Child(name, child) => walk(child, &join(prefix, name), f),
    });
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}
