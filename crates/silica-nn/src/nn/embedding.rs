//! The lookup table [`Embedding`].

use super::init;
use super::module::{Module, Slot};
use silica_core::{DType, Error, Generator, Result, Tensor};

/// A table of `num_embeddings` vectors of size `embedding_dim`, as `torch.nn.Embedding`:
/// integer ids of any shape `[..]` give `[.., embedding_dim]`. The weight
/// `[num_embeddings, embedding_dim]` starts as N(0, 1) samples.
///
/// # Examples
///
/// ```
/// use silica_core::{Device, Generator, Tensor};
/// use silica_nn::nn::{Embedding, Module};
/// # fn main() -> silica_core::Result<()> {
/// let emb = Embedding::new(10, 4, &Generator::new(0))?;
/// let ids = Tensor::from_slice(&[1i64, 7, 7], [3], Device::Cpu)?;
/// let v = emb.forward(&ids)?;
/// assert_eq!(v.dims(), &[3, 4]);
/// assert_eq!(v.select(0, 1)?.to_vec::<f32>()?, v.select(0, 2)?.to_vec::<f32>()?);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Embedding {
    weight: Tensor,
}

impl Embedding {
    /// A table of `num_embeddings` rows of size `embedding_dim`, drawn from N(0, 1), in F32 on
    /// the CPU.
    pub fn new(
        num_embeddings: usize,
        embedding_dim: usize,
        generator: &Generator,
    ) -> Result<Embedding> {
        let weight = init::full_param(&[num_embeddings, embedding_dim], 0.0)?;
        init::normal_(&weight, 0.0, 1.0, generator)?;
        Ok(Embedding { weight })
    }

    /// A table holding `weight` `[num_embeddings, embedding_dim]` (shared, not copied), as
    /// `Embedding.from_pretrained`; it is learnable unless `freeze`.
    pub fn from_pretrained(weight: Tensor, freeze: bool) -> Result<Embedding> {
        if weight.rank() != 2 {
            return Err(Error::shape(
                "Embedding",
                &[weight.shape()],
                format!(
                    "weight {} has rank {}, expected [num_embeddings, embedding_dim]",
                    weight.shape(),
                    weight.rank()
                ),
            ));
        }
        let weight = weight.detach();
        weight.set_requires_grad(!freeze)?;
        Ok(Embedding { weight })
    }

    /// The table, `[num_embeddings, embedding_dim]`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The number of rows.
    pub fn num_embeddings(&self) -> usize {
        self.weight.dims()[0]
    }

    /// The size of each vector.
    pub fn embedding_dim(&self) -> usize {
        self.weight.dims()[1]
    }
}

impl Module for Embedding {
    fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        if ids.dtype().is_float() || ids.dtype() == DType::Bool {
            return Err(Error::dtype(
                "Embedding",
                ids.dtype(),
                format!("an integer dtype for the ids of input {}", ids.shape()),
            ));
        }
        self.weight.embedding(ids)
    }

    fn visit(&self, f: &mut dyn FnMut(Slot<'_>)) {
        f(Slot::Param("weight", &self.weight));
    }
}
