//! Containers of modules: [`Sequential`] (a chain) and [`ModuleList`] (an indexable list).
//!
//! Both name their children `"0"`, `"1"`, ... as PyTorch does, so that a state dict key reads
//! `"3.weight"` for the weight of the fourth child, and both pass `train`/`eval` on to every
//! child.

use super::module::{Module, Slot};
use silica_core::{Error, Result, Tensor};
use std::marker::PhantomData;

/// What a [`ModuleVec`] is: a chain ([`Sequential`]) or a plain list ([`ModuleList`]). It
/// names the container and gives it its `forward`.
pub trait ContainerKind: Default + Send + Sync {
    /// The container's name, in `Debug` and errors.
    const NAME: &'static str;

    /// The container's `forward` over its children.
    fn forward(modules: &[Box<dyn Module>], x: &Tensor) -> Result<Tensor>;
}

/// An ordered list of child modules named `"0"`, `"1"`, ...: the one type behind
/// [`Sequential`] and [`ModuleList`], which differ only in their [`ContainerKind`].
#[derive(Default)]
pub struct ModuleVec<K: ContainerKind> {
    modules: Vec<Box<dyn Module>>,
    kind: PhantomData<K>,
}

impl<K: ContainerKind> ModuleVec<K> {
    /// An empty container.
    pub fn new() -> Self {
        Self::default()
    }

    /// This container with `module` appended (a builder).
    // A builder step, as candle-nn's `seq().add(..)`; not `std::ops::Add`.
    #[allow(clippy::should_implement_trait)]
    pub fn add<M: Module + 'static>(mut self, module: M) -> Self {
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

impl<K: ContainerKind> std::ops::Index<usize> for ModuleVec<K> {
    type Output = dyn Module;
    /// Child `index`; panics when out of range, as a `Vec` does (see `get`).
    fn index(&self, index: usize) -> &(dyn Module + 'static) {
        self.modules[index].as_ref()
    }
}

impl<K: ContainerKind> FromIterator<Box<dyn Module>> for ModuleVec<K> {
    fn from_iter<I: IntoIterator<Item = Box<dyn Module>>>(iter: I) -> Self {
        ModuleVec {
            modules: iter.into_iter().collect(),
            kind: PhantomData,
        }
    }
}

impl<K: ContainerKind> std::fmt::Debug for ModuleVec<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({} modules)", K::NAME, self.modules.len())
    }
}

impl<K: ContainerKind> Module for ModuleVec<K> {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        K::forward(&self.modules, x)
    }

    fn visit(&self, f: &mut dyn FnMut(Slot<'_>)) {
        for (i, m) in self.modules.iter().enumerate() {
            f(Slot::Child(&i.to_string(), m.as_ref()));
        }
    }
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
pub type Sequential = ModuleVec<Chain>;

/// The [`ContainerKind`] of [`Sequential`]: `forward` runs the children in order.
#[derive(Clone, Copy, Debug, Default)]
pub struct Chain;

impl ContainerKind for Chain {
    const NAME: &'static str = "Sequential";

    fn forward(modules: &[Box<dyn Module>], x: &Tensor) -> Result<Tensor> {
        let mut y = x.clone();
        for m in modules {
            y = m.forward(&y)?;
        }
        Ok(y)
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
pub type ModuleList = ModuleVec<List>;

/// The [`ContainerKind`] of [`ModuleList`]: no `forward` of its own.
#[derive(Clone, Copy, Debug, Default)]
pub struct List;

impl ContainerKind for List {
    const NAME: &'static str = "ModuleList";

    fn forward(modules: &[Box<dyn Module>], x: &Tensor) -> Result<Tensor> {
        Err(Error::invalid(
            "ModuleList",
            format!(
                "a list of {} modules has no forward of its own (input {}); index it (list[i].forward(x)) or iterate over it",
                modules.len(),
                x.shape()
            ),
        ))
    }
}
