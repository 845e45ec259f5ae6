//! Tensor hooks (`register_hook`) and gradients kept on non-leaf tensors (`retain_grad`).

use crate::tensor::TensorImpl;
use crate::{Error, Result, Tensor};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

/// A hook: sees a gradient and may return a replacement.
type HookFn = Arc<dyn Fn(&Tensor) -> Result<Option<Tensor>> + Send + Sync>;

/// The hooks of one tensor, and whether it keeps its gradient.
#[derive(Default)]
pub(crate) struct Hooks {
    list: Vec<(u64, HookFn)>,
    retain_grad: bool,
}

/// Removes a hook registered with [`Tensor::register_hook`] (PyTorch's `handle.remove()`).
#[derive(Debug)]
pub struct HookHandle {
    tensor: Weak<TensorImpl>,
    id: u64,
}

impl HookHandle {
    /// Unregisters the hook; a no-op if the tensor is gone.
    pub fn remove(self) {
        if let Some(t) = self.tensor.upgrade() {
            if let Some(h) = t.hooks.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
                h.list.retain(|(id, _)| *id != self.id);
            }
        }
    }
}

impl Tensor {
    /// Registers `hook` to run on this tensor's gradient each time a backward pass computes it,
    /// as PyTorch's `tensor.register_hook`: it sees the whole gradient (for a leaf, before it
    /// is added to `grad()`), and a returned tensor (same shape) replaces it for the rest of
    /// the pass. Hooks run in the order they were registered.
    ///
    /// # Examples
    ///
    /// ```
    /// use silica_core::{Device, Tensor};
    /// # fn main() -> silica_core::Result<()> {
    /// let x = Tensor::from_slice(&[1.0f64, 2.0], [2], Device::Cpu)?;
    /// x.set_requires_grad(true)?;
    /// let y = x.mul_scalar(3.0)?;
    /// let _handle = y.register_hook(|g| Ok(Some(g.mul_scalar(2.0)?)))?;
    /// y.sum_all()?.backward()?;
    /// assert_eq!(x.grad().unwrap().to_vec::<f64>()?, vec![6.0, 6.0]);
    /// # Ok(()) }
    /// ```
    pub fn register_hook(
        &self,
        hook: impl Fn(&Tensor) -> Result<Option<Tensor>> + Send + Sync + 'static,
    ) -> Result<HookHandle> {
        self.check_requires_grad("register_hook")?;
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        self.with_hooks(|h| h.list.push((id, Arc::new(hook))));
        Ok(HookHandle {
            tensor: Arc::downgrade(&self.0),
            id,
        })
    }

    /// Makes `backward` keep this non-leaf tensor's gradient in [`Tensor::grad`], as PyTorch's
    /// `retain_grad`. A leaf keeps its gradient anyway.
    pub fn retain_grad(&self) -> Result<()> {
        self.check_requires_grad("retain_grad")?;
        if !self.is_leaf() {
            self.with_hooks(|h| h.retain_grad = true);
        }
        Ok(())
    }

    /// True for a leaf that requires a gradient, or a tensor on which `retain_grad` was called.
    pub fn retains_grad(&self) -> bool {
        (self.is_leaf() && self.requires_grad())
            || self
                .0
                .hooks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .is_some_and(|h| h.retain_grad)
    }

    fn check_requires_grad(&self, op: &str) -> Result<()> {
        if self.requires_grad() {
            Ok(())
        } else {
            Err(Error::Autograd(format!(
                "{op}: the tensor {} does not require a gradient",
                self.shape()
            )))
        }
    }

    fn with_hooks(&self, f: impl FnOnce(&mut Hooks)) {
        let mut slot = self.0.hooks.lock().unwrap_or_else(|e| e.into_inner());
        f(slot.get_or_insert_with(Box::default));
    }

    /// `g` after this tensor's hooks, and whether the tensor keeps its gradient.
    pub(crate) fn run_hooks(&self, mut g: Tensor) -> Result<(Tensor, bool)> {
        let (hooks, retain) = match self
            .0
            .hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            None => return Ok((g, false)),
            Some(h) => (
                h.list.iter().map(|(_, f)| f.clone()).collect::<Vec<_>>(),
                h.retain_grad,
            ),
        };
        for hook in hooks {
            if let Some(new) = hook(&g)? {
                if new.shape() != g.shape()
                    || new.dtype() != g.dtype()
                    || new.device() != g.device()
                {
                    return Err(Error::Autograd(format!(
                        "register_hook: a hook returned {} {} on {} for a gradient {} {} on {}",
                        new.shape(),
                        new.dtype(),
                        new.device(),
                        g.shape(),
                        g.dtype(),
                        g.device()
                    )));
                }
                g = new;
            }
        }
        Ok((g, retain))
    }
}
