//! The small GPT of `shared/reference/torch_bench.py`, built from Silica's layers: token and
//! learned position embeddings, pre-norm blocks of causal multi-head attention and a GELU
//! feed-forward layer, a final layer norm and a linear head.

use silica::nn::{
    causal_mask, Embedding, LayerNorm, Linear, Module, MultiheadAttention, Sequential, Slot, GELU,
};
use silica::{DType, Generator, Result, Tensor};

/// The sizes of a [`Gpt`] and of its input batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GptConfig {
    /// Tokens in the vocabulary.
    pub vocab: usize,
    /// The model width.
    pub d_model: usize,
    /// Attention heads per block.
    pub heads: usize,
    /// Blocks.
    pub layers: usize,
    /// Positions in the context (the sequence length of a batch).
    pub context: usize,
    /// Sequences per batch.
    pub batch: usize,
}

/// `x + attn(ln1(x))`, then `x + mlp(ln2(x))`, with a causal mask: the script's `Block`.
struct Block {
    ln1: LayerNorm,
    attn: MultiheadAttention,
    ln2: LayerNorm,
    mlp: Sequential,
}

impl Block {
    fn new(d: usize, heads: usize, gen: &Generator) -> Result<Block> {
        Ok(Block {
            ln1: LayerNorm::new(&[d])?,
            attn: MultiheadAttention::new(d, heads, gen)?,
            ln2: LayerNorm::new(&[d])?,
            mlp: Sequential::new()
                .add(Linear::new(d, 4 * d, true, gen)?)
                .add(GELU::new())
                .add(Linear::new(4 * d, d, true, gen)?),
        })
    }

    /// `x` `[B, T, d]` → `[B, T, d]`, where position `i` sees positions `<= i` (`mask`).
    fn forward_masked(&self, x: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let h = self.ln1.forward(x)?;
        let x = x.add(&self.attn.forward_qkv(&h, &h, &h, Some(mask), None)?)?;
        x.add(&self.mlp.forward(&self.ln2.forward(&x)?)?)
    }
}

/// The script's `GPT`: token ids `[B, T]` → logits `[B, T, vocab]`.
pub struct Gpt {
    tok: Embedding,
    pos: Embedding,
    blocks: Vec<Block>,
    ln: LayerNorm,
    head: Linear,
}

impl Gpt {
    /// A model of `config`'s sizes, initialised from `gen`, on the current build target.
    pub fn new(config: GptConfig, gen: &Generator) -> Result<Gpt> {
        let d = config.d_model;
        Ok(Gpt {
            tok: Embedding::new(config.vocab, d, gen)?,
            pos: Embedding::new(config.context, d, gen)?,
            blocks: (0..config.layers)
                .map(|_| Block::new(d, config.heads, gen))
                .collect::<Result<_>>()?,
            ln: LayerNorm::new(&[d])?,
            head: Linear::new(d, config.vocab, true, gen)?,
        })
    }
}

impl Module for Gpt {
    fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        let t = ids.dims()[1];
        let positions = Tensor::arange(0.0, t as f64, 1.0, DType::I64, ids.device())?;
        let mut x = self.tok.forward(ids)?.add(&self.pos.forward(&positions)?)?;
        let mask = causal_mask(t, ids.device())?;
        for block in &self.blocks {
            x = block.forward_masked(&x, &mask)?;
        }
        self.head.forward(&self.ln.forward(&x)?)
    }

    fn visit(&self, f: &mut dyn FnMut(Slot<'_>)) {
        f(Slot::Child("tok", &self.tok));
        f(Slot::Child("pos", &self.pos));
        for (i, block) in self.blocks.iter().enumerate() {
            f(Slot::Child(&format!("blocks.{i}"), block));
        }
        f(Slot::Child("ln", &self.ln));
        f(Slot::Child("head", &self.head));
    }
}

impl Module for Block {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mask = causal_mask(x.size(1)?, x.device())?;
        self.forward_masked(x, &mask)
    }

    fn visit(&self, f: &mut dyn FnMut(Slot<'_>)) {
        f(Slot::Child("ln1", &self.ln1));
        f(Slot::Child("attn", &self.attn));
        f(Slot::Child("ln2", &self.ln2));
        f(Slot::Child("mlp", &self.mlp));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use silica::Device;

    #[test]
    fn shapes_and_parameters_match_the_script() {
        let config = GptConfig {
            vocab: 11,
            d_model: 8,
            heads: 2,
            layers: 2,
            context: 5,
            batch: 3,
        };
        let gpt = Gpt::new(config, &Generator::new(0)).unwrap();
        let ids = Tensor::zeros([3, 5], DType::I64, Device::Cpu).unwrap();
        assert_eq!(gpt.forward(&ids).unwrap().dims(), &[3, 5, 11]);
        // As the script's GPT: two embeddings, 12 tensors per block, the final norm and head.
        assert_eq!(gpt.parameters().len(), 2 + 12 * 2 + 2 + 2);
    }
}
