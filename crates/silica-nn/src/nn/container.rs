//! Containers of modules: [`Sequential`] (a chain) and [`ModuleList`] (an indexable list).
//!
//! Both name their children `"0"`, `"1"`, ... as PyTorch does, so that a state dict key reads
//! `"3.weight"` for the weight of the fourth child, and both pass `train`/`eval` on to every
//! child.

use super::module::{Module, Slot};
use silica_core::{Error, Result, Tensor};

/// Calls `f` with each of `modules` as a child named by its index.
fn visit_indexed(modules: &[Box<dyn Module>], f: &mut dyn FnMut(Slot<'_>)) {
    for (i, m) in modules.iter().enumerate() {
        f(Slot::Child(&i.to_string(), m.as_ref()));
    }
}

/// The list API both containers share: construction, pushing, length, indexing, iteration,
/// `FromIterator` and `Debug`, over a `modules: Vec<Box<dyn Module>>` field.
macro_rules! module_vec {
    ($name:ident) => {
        impl $name {
            /// An empty container.
            pub fn new() -> $name {
                $name::default()
            }

            /// This container with `module` appended (a builder).
            // A builder step, as candle-nn's `seq().add(..)`; not `std::ops::Add`.
            #[allow(clippy::should_implement_trait)]
            pub fn add<M: Module + 'static>(mut self, module: M) -> $name {
                self.push(module);
                self
            }

            /// Appends `module`.
            pub fn push<M: Module + 'static>(&mut self, module: M) {
                self.modules.push(Box::new(module));
            }

            /// Appends a module that is already boxed.
            pub fn push_boxed(&mut self, module: Box<dyn Module>) {
                self.modules.push(module);
            }

            /// The number of children.
            pub fn len(&self) -> usize {
                self.modules.len()
            }

            /// True when there are no children.
            pub fn is_empty(&self) -> bool {
                self.modules.is_empty()
            }

            /// Child `index`, if there is one.
            pub fn get(&self, index: usize) -> Option<&dyn Module> {
                self.modules.get(index).map(|m| m.as_ref())
            }

            /// The children in order.
            pub fn iter(&self) -> impl Iterator<Item = &dyn Module> {
                self.modules.iter().map(|m| m.as_ref())
            }
        }

        impl std::ops::Index<usize> for $name {
            type Output = dyn Module;
            /// Child `index`; panics when out of range, as a `Vec` does (see `get`).
            fn index(&self, index: usize) -> &(dyn Module + 'static) {
                self.modules[index].as_ref()
            }
        }

        impl FromIterator<Box<dyn Module>> for $name {
            fn from_iter<I: IntoIterator<Item = Box<dyn Module>>>(iter: I) -> Self {
                $name {
                    modules: iter.into_iter().collect(),
                }
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({} modules)", stringify!($name), self.modules.len())
            }
        }
    };
}

/// A chain of modules, as `torch.nn.Sequential`: `forward` feeds the input through each child
/// in order. Any [`Module`] can be a child, including another container.
///
/// # Examples
///
/// ```
/// use silica_core::{DType, Device, Generator, Tensor};
/// use silica_nn::nn::{Linear, Module, ReLU, Sequential};
/// # fn main() -> silica_core::Result<()> {
/// let g = Generator::new(0);
/// let mlp = Sequential::new()
///     .add(Linear::new(4, 8, true, &g)?)
///     .add(ReLU)
///     .add(Linear::new(8, 2, true, &g)?);
/// let x = Tensor::ones([5, 4], DType::F32, Device::Cpu)?;
/// assert_eq!(mlp.forward(&x)?.dims(), &[5, 2]);
/// assert_eq!(
///     mlp.state_dict().keys().collect::<Vec<_>>(),
///     ["0.bias", "0.weight", "2.bias", "2.weight"]
/// );
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct Sequential {
    modules: Vec<Box<dyn Module>>,
}

module_vec!(Sequential);

impl Module for Sequential {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut y = x.clone();
        for m in &self.modules {
            y = m.forward(&y)?;
        }
        Ok(y)
    }

    fn visit(&self, f: &mut dyn FnMut(Slot<'_>)) {
        visit_indexed(&self.modules, f);
    }
}

/// A list of modules that registers each as a child, as `torch.nn.ModuleList`. It has no
/// `forward` of its own (calling it is an error): index it, or iterate over it, in the forward
/// of the module that holds it.
///
/// # Examples
///
/// ```
/// use silica_core::{DType, Device, Generator, Tensor};
/// use silica_nn::nn::{Linear, Module, ModuleList};
/// # fn main() -> silica_core::Result<()> {
/// let g = Generator::new(0);
/// let mut blocks = ModuleList::new();
/// for _ in 0..3 {
///     blocks.push(Linear::new(4, 4, false, &g)?);
/// }
/// let mut x = Tensor::ones([2, 4], DType::F32, Device::Cpu)?;
/// for block in blocks.iter() {
///     x = block.forward(&x)?;
/// }
/// assert_eq!(blocks[2].state_dict().len(), 1);
/// assert!(blocks.state_dict().contains_key("2.weight"));
/// assert!(blocks.forward(&x).is_err());
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct ModuleList {
    modules: Vec<Box<dyn Module>>,
}

module_vec!(ModuleList);

impl Module for ModuleList {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Err(Error::invalid(
            "ModuleList",
            format!(
                "a list of {} modules has no forward of its own (input {}); index it (list[i].forward(x)) or iterate over it",
                self.modules.len(),
                x.shape()
            ),
        ))
    }

    fn visit(&self, f: &mut dyn FnMut(Slot<'_>)) {
        visit_indexed(&self.modules, f);
    }
}
