//! Attention: [`MultiheadAttention`] and [`TransformerEncoderLayer`], with PyTorch's
//! parameter names, so that their `state_dict`s load into each other.
//!
//! Both are composed of tensor ops (projections by `matmul`, heads by `reshape` and
//! `transpose`, `softmax` of the scaled scores), so autograd and every backend come for free.
//!
//! Masks follow PyTorch: a boolean mask is true where attention is *not* allowed, and a float
//! mask is added to the scores (`-inf` forbids). An attention mask is `[T, S]` (shared by the
//! batch) or `[B * num_heads, T, S]`; a key padding mask is `[B, S]`. A query whose every key
//! is masked gets NaN, as in PyTorch.

use super::init;
use super::{Dropout, LayerNorm, LayerNormConfig, Linear, Module, Slot};
use silica_core::{DType, Device, Error, Generator, Result, Tensor};

/// A `[size, size]` boolean mask that is true above the diagonal, so that position `i` attends
/// only to positions `<= i` (PyTorch's `generate_square_subsequent_mask` gives the same as a
/// float mask of 0 and `-inf`).
///
/// # Examples
///
/// ```
/// use silica_core::Device;
/// use silica_nn::nn::causal_mask;
/// let m = causal_mask(3, Device::Cpu).unwrap();
/// assert_eq!(
///     m.to_vec::<bool>().unwrap(),
///     vec![false, true, true, false, false, true, false, false, false]
/// );
/// ```
pub fn causal_mask(size: usize, device: Device) -> Result<Tensor> {
    let i = Tensor::arange(0.0, size as f64, 1.0, DType::I64, device)?;
    i.unsqueeze(1)?.lt(&i.unsqueeze(0)?)
}

/// A seed for a layer's own dropout stream, drawn from `generator`.
fn draw_seed(generator: &Generator) -> Result<u64> {
    let seed = generator.randint(0, i64::MAX, (), DType::I64, Device::Cpu)?;
    Ok(seed.item::<i64>()? as u64)
}

/// Options of [`MultiheadAttention`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MultiheadAttentionConfig {
    /// Dropout on the attention weights, in training mode (0).
    pub dropout: f64,
    /// Biases on the input and output projections (true).
    pub bias: bool,
    /// Inputs and outputs are `[B, T, E]` when true (the default here; PyTorch's default is
    /// false), else `[T, B, E]`.
    pub batch_first: bool,
}

impl Default for MultiheadAttentionConfig {
    fn default() -> Self {
        MultiheadAttentionConfig {
            dropout: 0.0,
            bias: true,
            batch_first: true,
        }
    }
}

/// Multi-head scaled dot-product attention, as `torch.nn.MultiheadAttention` with
/// `batch_first=True`: queries `[B, T, E]`, keys and values `[B, S, E]`, output `[B, T, E]`
/// (unbatched `[T, E]` inputs give `[T, E]`).
///
/// Each of the `num_heads` heads attends over `head_dim = E / num_heads` features with
/// `softmax(q kᵀ / sqrt(head_dim) + mask) v`. Parameters (PyTorch's names): `in_proj_weight`
/// `[3E, E]` (the query, key and value projections stacked), `in_proj_bias` `[3E]`, and the
/// output projection `out_proj` (a [`Linear`]). Initialised as PyTorch does: Xavier-uniform
/// input projection, zero biases, and `out_proj.weight` as a `Linear`'s.
///
/// # Examples
///
/// ```
/// use silica_core::{DType, Device, Generator, Tensor};
/// use silica_nn::nn::{causal_mask, Module, MultiheadAttention};
/// # fn main() -> silica_core::Result<()> {
/// let mha = MultiheadAttention::new(16, 4, &Generator::new(0))?;
/// let x = Tensor::randn([2, 5, 16], DType::F32, Device::Cpu)?;
/// assert_eq!(mha.forward(&x)?.dims(), &[2, 5, 16]);
/// let mask = causal_mask(5, Device::Cpu)?;
/// assert_eq!(mha.forward_qkv(&x, &x, &x, Some(&mask), None)?.dims(), &[2, 5, 16]);
/// assert_eq!(
///     mha.state_dict().keys().collect::<Vec<_>>(),
///     ["in_proj_bias", "in_proj_weight", "out_proj.bias", "out_proj.weight"]
/// );
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct MultiheadAttention {
    in_proj_weight: Tensor,
    in_proj_bias: Option<Tensor>,
    out_proj: Linear,
    num_heads: usize,
    config: MultiheadAttentionConfig,
    /// Drops attention weights in training; not a child, as PyTorch has none here.
    attn_dropout: Dropout,
}

impl MultiheadAttention {
    /// Attention over `embed_dim` features with `num_heads` heads (which must divide it), with
    /// the default options, in F32 on the CPU.
    pub fn new(
        embed_dim: usize,
        num_heads: usize,
        generator: &Generator,
    ) -> Result<MultiheadAttention> {
        Self::with_config(
            embed_dim,
            num_heads,
            MultiheadAttentionConfig::default(),
            generator,
        )
    }

    /// Attention over `embed_dim` features with `num_heads` heads and `config`.
    pub fn with_config(
        embed_dim: usize,
        num_heads: usize,
        config: MultiheadAttentionConfig,
        generator: &Generator,
    ) -> Result<MultiheadAttention> {
        if num_heads == 0 || embed_dim == 0 || embed_dim % num_heads != 0 {
            return Err(Error::invalid(
                "MultiheadAttention",
                format!(
                    "embed_dim {embed_dim} must be a positive multiple of num_heads {num_heads}"
                ),
            ));
        }
        // PyTorch builds out_proj first, then resets the input projection.
        let out_proj = Linear::new(embed_dim, embed_dim, config.bias, generator)?;
        let in_proj_weight = init::full_param(&[3 * embed_dim, embed_dim], 0.0)?;
        init::xavier_uniform_(&in_proj_weight, 1.0, generator)?;
        let in_proj_bias = if config.bias {
            if let Some(b) = out_proj.bias() {
                init::zeros_(b)?;
            }
            Some(init::full_param(&[3 * embed_dim], 0.0)?)
        } else {
            None
        };
        let attn_dropout = Dropout::with_seed(config.dropout, draw_seed(generator)?)?;
        Ok(MultiheadAttention {
            in_proj_weight,
            in_proj_bias,
            out_proj,
            num_heads,
            config,
            attn_dropout,
        })
    }

    /// The model width `E`.
    pub fn embed_dim(&self) -> usize {
        self.in_proj_weight.dims()[1]
    }

    /// The number of heads.
    pub fn num_heads(&self) -> usize {
        self.num_heads
    }

    /// The options.
    pub fn config(&self) -> &MultiheadAttentionConfig {
        &self.config
    }

    /// The stacked query, key and value projections, `[3E, E]`.
    pub fn in_proj_weight(&self) -> &Tensor {
        &self.in_proj_weight
    }

    /// The stacked projection biases, `[3E]`, if the layer has biases.
    pub fn in_proj_bias(&self) -> Option<&Tensor> {
        self.in_proj_bias.as_ref()
    }

    /// The output projection.
    pub fn out_proj(&self) -> &Linear {
        &self.out_proj
    }

    /// `x Wᵀ + b` with rows `part * E .. (part + parts) * E` of the input projection.
    fn project(&self, x: &Tensor, part: usize, parts: usize) -> Result<Tensor> {
        let e = self.embed_dim();
        let w = self.in_proj_weight.narrow(0, part * e, parts * e)?;
        let y = x.matmul(&w.t()?)?;
        match &self.in_proj_bias {
            Some(b) => y.add(&b.narrow(0, part * e, parts * e)?),
            None => Ok(y),
        }
    }

    /// `[B, L, E]` → `[B, H, L, head_dim]`.
    fn split_heads(&self, x: &Tensor) -> Result<Tensor> {
        let (b, l, e) = (x.dims()[0], x.dims()[1], x.dims()[2]);
        x.reshape([b, l, self.num_heads, e / self.num_heads])?
            .transpose(1, 2)
    }

    /// Attention of `query` `[B, T, E]` over `key` and `value` `[B, S, E]` (or `[T, B, E]` and
    /// `[S, B, E]` without `batch_first`; or unbatched `[T, E]` and `[S, E]`), with an optional
    /// attention mask (`[T, S]` or `[B * num_heads, T, S]`) and key padding mask (`[B, S]`),
    /// each boolean (true = masked) or float (added to the scores). Returns `[B, T, E]`.
    pub fn forward_qkv(
        &self,
        query: &Tensor,
        key: &Tensor,
        value: &Tensor,
        attn_mask: Option<&Tensor>,
        key_padding_mask: Option<&Tensor>,
    ) -> Result<Tensor> {
        if query.rank() == 2 {
            // Unbatched: a batch of one.
            let kpm = key_padding_mask.map(|m| m.unsqueeze(0)).transpose()?;
            let dim = if self.config.batch_first { 0 } else { 1 };
            let (q, k, v) = (
                query.unsqueeze(dim)?,
                key.unsqueeze(dim)?,
                value.unsqueeze(dim)?,
            );
            return self
                .forward_qkv(&q, &k, &v, attn_mask, kpm.as_ref())?
                .squeeze(dim);
        }
        if !self.config.batch_first {
            let (q, k, v) = (
                query.transpose(0, 1)?,
                key.transpose(0, 1)?,
                value.transpose(0, 1)?,
            );
            return self
                .attend(&q, &k, &v, attn_mask, key_padding_mask)?
                .transpose(0, 1);
        }
        self.attend(query, key, value, attn_mask, key_padding_mask)
    }

    /// [`MultiheadAttention::forward_qkv`] on batch-first inputs.
    fn attend(
        &self,
        query: &Tensor,
        key: &Tensor,
        value: &Tensor,
        attn_mask: Option<&Tensor>,
        key_padding_mask: Option<&Tensor>,
    ) -> Result<Tensor> {
        self.check_inputs(query, key, value)?;
        let (b, t, e) = (query.dims()[0], query.dims()[1], query.dims()[2]);
        let s = key.dims()[1];
        let (q, k, v) = if query.id() == key.id() && key.id() == value.id() {
            // Self-attention: one product with the stacked projection.
            let qkv = self.project(query, 0, 3)?.chunk(3, -1)?;
            (qkv[0].clone(), qkv[1].clone(), qkv[2].clone())
        } else {
            (
                self.project(query, 0, 1)?,
                self.project(key, 1, 1)?,
                self.project(value, 2, 1)?,
            )
        };
        let head_dim = e / self.num_heads;
        // Scale the queries before the product, as PyTorch does.
        let q = self.split_heads(&q)?.div_scalar((head_dim as f64).sqrt())?;
        let (k, v) = (self.split_heads(&k)?, self.split_heads(&v)?);
        let mut scores = q.matmul(&k.transpose(-1, -2)?)?; // [B, H, T, S]
        if let Some(m) = attn_mask {
            let m = self.attn_mask_view(m, b, t, s)?;
            scores = apply_mask(&scores, &m)?;
        }
        if let Some(m) = key_padding_mask {
            if m.dims() != [b, s] {
                return Err(Error::shape(
                    "MultiheadAttention",
                    &[m.shape(), key.shape()],
                    format!(
                        "key_padding_mask of shape {} must be [batch, source length] = [{b}, {s}]",
                        m.shape()
                    ),
                ));
            }
            scores = apply_mask(&scores, &m.reshape([b, 1, 1, s])?)?;
        }
        let weights = self.attn_dropout.forward(&scores.softmax(-1)?)?;
        let out = weights.matmul(&v)?.transpose(1, 2)?.reshape([b, t, e])?;
        self.out_proj.forward(&out)
    }

    fn check_inputs(&self, query: &Tensor, key: &Tensor, value: &Tensor) -> Result<()> {
        let e = self.embed_dim();
        let ok = query.rank() == 3
            && key.rank() == 3
            && value.rank() == 3
            && query.dims()[2] == e
            && key.dims()[2] == e
            && value.dims()[2] == e
            && key.dims()[0] == query.dims()[0]
            && key.dims() == value.dims();
        if !ok {
            return Err(Error::shape(
                "MultiheadAttention",
                &[query.shape(), key.shape(), value.shape()],
                format!(
                    "expected query [B, T, {e}] and key and value [B, S, {e}] (batch first), got {}, {} and {}",
                    query.shape(),
                    key.shape(),
                    value.shape()
                ),
            ));
        }
        Ok(())
    }

    /// An attention mask as `[T, S]` or `[B, H, T, S]`, broadcastable to the scores.
    fn attn_mask_view(&self, m: &Tensor, b: usize, t: usize, s: usize) -> Result<Tensor> {
        let h = self.num_heads;
        if m.dims() == [t, s] {
            Ok(m.clone())
        } else if m.dims() == [b * h, t, s] {
            m.reshape([b, h, t, s])
        } else {
            Err(Error::shape(
                "MultiheadAttention",
                &[m.shape()],
                format!(
                    "attn_mask of shape {} must be [T, S] = [{t}, {s}] or [B * num_heads, T, S] = [{}, {t}, {s}]",
                    m.shape(),
                    b * h
                ),
            ))
        }
    }
}

/// `scores` with a boolean mask's true entries set to `-inf`, or a float mask added.
fn apply_mask(scores: &Tensor, mask: &Tensor) -> Result<Tensor> {
    match mask.dtype() {
        // As PyTorch: a bool mask becomes 0 / -inf and is added, so that a row with every key
        // masked gives NaN weights and NaN gradients, not NaN weights and zero gradients.
        DType::Bool => {
            let additive = Tensor::zeros(mask.shape(), scores.dtype(), scores.device())?
                .masked_fill(mask, f64::NEG_INFINITY)?;
            scores.add(&additive)
        }
        d if d.is_float() => scores.add(&mask.to_dtype(scores.dtype())?),
        d => Err(Error::dtype(
            "MultiheadAttention",
            d,
            format!("a bool or float mask (mask shape {})", mask.shape()),
        )),
    }
}

impl Module for MultiheadAttention {
    /// Unmasked self-attention of `x`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_qkv(x, x, x, None, None)
    }

    fn visit(&self, f: &mut dyn FnMut(Slot<'_>)) {
        f(Slot::Param("in_proj_weight", &self.in_proj_weight));
        if let Some(b) = &self.in_proj_bias {
            f(Slot::Param("in_proj_bias", b));
        }
        f(Slot::Child("out_proj", &self.out_proj));
    }

    fn set_own_training(&self, training: bool) {
        self.attn_dropout.set_own_training(training);
    }
}

/// The activation between the two linear layers of a [`TransformerEncoderLayer`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TransformerActivation {
    /// `max(x, 0)` (PyTorch's default).
    #[default]
    Relu,
    /// The exact GELU.
    Gelu,
}

/// Options of [`TransformerEncoderLayer`]; the defaults are PyTorch's, except `batch_first`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TransformerEncoderLayerConfig {
    /// Width of the feed-forward block (2048).
    pub dim_feedforward: usize,
    /// Dropout probability, in attention and after each block (0.1).
    pub dropout: f64,
    /// Activation of the feed-forward block (ReLU).
    pub activation: TransformerActivation,
    /// `eps` of both layer norms (1e-5).
    pub layer_norm_eps: f64,
    /// Inputs are `[B, T, d_model]` when true (the default here), else `[T, B, d_model]`.
    pub batch_first: bool,
    /// Pre-norm: normalise before each block instead of after the residual sum (false).
    pub norm_first: bool,
    /// [`Module::forward`] applies a causal mask (false).
    pub causal: bool,
}

impl Default for TransformerEncoderLayerConfig {
    fn default() -> Self {
        TransformerEncoderLayerConfig {
            dim_feedforward: 2048,
            dropout: 0.1,
            activation: TransformerActivation::Relu,
            layer_norm_eps: 1e-5,
            batch_first: true,
            norm_first: false,
            causal: false,
        }
    }
}

/// One transformer encoder block, as `torch.nn.TransformerEncoderLayer`: self-attention and a
/// feed-forward block `linear2(dropout(activation(linear1(x))))`, each with a residual
/// connection and a layer norm, before the block (`norm_first`) or after the sum. Input and
/// output `[B, T, d_model]`.
///
/// Children, by PyTorch's names: `self_attn`, `linear1`, `dropout`, `linear2`, `norm1`,
/// `norm2`, `dropout1`, `dropout2`.
///
/// # Examples
///
/// ```
/// use silica_core::{DType, Device, Generator, Tensor};
/// use silica_nn::nn::{Module, TransformerEncoderLayer, TransformerEncoderLayerConfig};
/// # fn main() -> silica_core::Result<()> {
/// let cfg = TransformerEncoderLayerConfig {
///     dim_feedforward: 64,
///     norm_first: true,
///     causal: true,
///     ..Default::default()
/// };
/// let layer = TransformerEncoderLayer::new(16, 4, cfg, &Generator::new(0))?;
/// layer.eval();
/// let x = Tensor::randn([2, 5, 16], DType::F32, Device::Cpu)?;
/// assert_eq!(layer.forward(&x)?.dims(), &[2, 5, 16]);
/// assert_eq!(layer.parameters().len(), 12);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TransformerEncoderLayer {
    self_attn: MultiheadAttention,
    linear1: Linear,
    dropout: Dropout,
    linear2: Linear,
    norm1: LayerNorm,
    norm2: LayerNorm,
    dropout1: Dropout,
    dropout2: Dropout,
    config: TransformerEncoderLayerConfig,
}

impl TransformerEncoderLayer {
    /// A layer of width `d_model` with `nhead` heads (which must divide it) and `config`, in
    /// F32 on the CPU. The dropout layers draw their seeds from `generator` too.
    pub fn new(
        d_model: usize,
        nhead: usize,
        config: TransformerEncoderLayerConfig,
        generator: &Generator,
    ) -> Result<TransformerEncoderLayer> {
        let attn = MultiheadAttentionConfig {
            dropout: config.dropout,
            bias: true,
            batch_first: config.batch_first,
        };
        let self_attn = MultiheadAttention::with_config(d_model, nhead, attn, generator)?;
        let ff = config.dim_feedforward;
        let linear1 = Linear::new(d_model, ff, true, generator)?;
        let linear2 = Linear::new(ff, d_model, true, generator)?;
        let norm = LayerNormConfig {
            eps: config.layer_norm_eps,
            elementwise_affine: true,
        };
        let dropout = |g: &Generator| Dropout::with_seed(config.dropout, draw_seed(g)?);
        Ok(TransformerEncoderLayer {
            self_attn,
            linear1,
            dropout: dropout(generator)?,
            linear2,
            norm1: LayerNorm::with_config(&[d_model], norm)?,
            norm2: LayerNorm::with_config(&[d_model], norm)?,
            dropout1: dropout(generator)?,
            dropout2: dropout(generator)?,
            config,
        })
    }

    /// The options.
    pub fn config(&self) -> &TransformerEncoderLayerConfig {
        &self.config
    }

    /// The self-attention block.
    pub fn self_attn(&self) -> &MultiheadAttention {
        &self.self_attn
    }

    /// The layer on `x` `[B, T, d_model]` with an optional attention mask (`[T, T]` or
    /// `[B * nhead, T, T]`) and key padding mask (`[B, T]`), boolean (true = masked) or float
    /// (added), as PyTorch's `forward(src, src_mask, src_key_padding_mask)`. The `causal`
    /// option is not applied here: pass [`causal_mask`] as `mask`.
    pub fn forward_masked(
        &self,
        x: &Tensor,
        mask: Option<&Tensor>,
        key_padding_mask: Option<&Tensor>,
    ) -> Result<Tensor> {
        let attention = |x: &Tensor| -> Result<Tensor> {
            let a = self
                .self_attn
                .forward_qkv(x, x, x, mask, key_padding_mask)?;
            self.dropout1.forward(&a)
        };
        let feed_forward = |x: &Tensor| -> Result<Tensor> {
            let h = self.linear1.forward(x)?;
            let h = match self.config.activation {
                TransformerActivation::Relu => h.relu()?,
                TransformerActivation::Gelu => h.gelu()?,
            };
            let y = self.linear2.forward(&self.dropout.forward(&h)?)?;
            self.dropout2.forward(&y)
        };
        if self.config.norm_first {
            let x = x.add(&attention(&self.norm1.forward(x)?)?)?;
            x.add(&feed_forward(&self.norm2.forward(&x)?)?)
        } else {
            let x = self.norm1.forward(&x.add(&attention(x)?)?)?;
            self.norm2.forward(&x.add(&feed_forward(&x)?)?)
        }
    }
}

impl Module for TransformerEncoderLayer {
    /// The layer on `x`, with a causal mask when the `causal` option is set.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if !self.config.causal {
            return self.forward_masked(x, None, None);
        }
        let time = match (x.rank(), self.config.batch_first) {
            (3, true) => 1,
            _ => 0,
        };
        let mask = causal_mask(x.size(time)?, x.device())?;
        self.forward_masked(x, Some(&mask), None)
    }

    fn visit(&self, f: &mut dyn FnMut(Slot<'_>)) {
        f(Slot::Child("self_attn", &self.self_attn));
        f(Slot::Child("linear1", &self.linear1));
        f(Slot::Child("dropout", &self.dropout));
        f(Slot::Child("linear2", &self.linear2));
        f(Slot::Child("norm1", &self.norm1));
        f(Slot::Child("norm2", &self.norm2));
        f(Slot::Child("dropout1", &self.dropout1));
        f(Slot::Child("dropout2", &self.dropout2));
    }
}
