//! The workloads of `shared/reference/torch_bench.py` at its CPU sizes, built with Silica.
//!
//! Each [`Workload`] has a name that the PyTorch twin (`tools/bench/torch_twin.py`) and the
//! candle runner (`tools/bench/candle/`) use for the same computation, so their JSON lines up
//! with ours. [`Workload::build`] makes one step of it on a device; the step only queues work,
//! and the timer synchronises the device after it.

use super::gpt::{Gpt, GptConfig};
use silica::nn::{
    build_on, cross_entropy, BatchNorm2d, Conv2d, CrossEntropyOptions, Flatten, Linear, MaxPool2d,
    Module, ReLU, Sequential,
};
use silica::optim::{Adam, AdamConfig, AdamW, AdamWConfig, Optimizer, SGDConfig, SGD};
use silica::{Conv2dConfig, DType, Device, Generator, Pool2dConfig, Result, Tensor};
use std::hint::black_box;

/// One step of a workload: it queues the work and returns.
pub type Step = Box<dyn FnMut() -> Result<()>>;

/// How a workload's time becomes its figure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Metric {
    /// A rate: this many floating-point operations per step, shown in GFLOP/s.
    Flops(f64),
    /// A cost per op: the step runs this many ops, shown in µs per op.
    PerOp(f64),
    /// The time of one step, shown in ms.
    Time,
}

impl Metric {
    /// The figure for a step of `seconds`: GFLOP/s, µs per op, or ms.
    pub fn figure(self, seconds: f64) -> f64 {
        match self {
            Metric::Flops(flops) => flops / seconds / 1e9,
            Metric::PerOp(ops) => seconds / ops * 1e6,
            Metric::Time => seconds * 1e3,
        }
    }

    /// The unit of [`Metric::figure`].
    pub fn unit(self) -> &'static str {
        match self {
            Metric::Flops(_) => "GFLOP/s",
            Metric::PerOp(_) => "µs/op",
            Metric::Time => "ms",
        }
    }
}

/// The ops in the chain of tiny adds.
pub const CHAIN: usize = 1000;

/// The GPT of `torch_bench.py` at its CPU sizes.
pub const GPT: GptConfig = GptConfig {
    vocab: 65,
    d_model: 128,
    heads: 4,
    layers: 4,
    context: 64,
    batch: 16,
};

/// One benchmark workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// `[n, n] @ [n, n]` in f32.
    Matmul(usize),
    /// 1000 adds of 16-element f32 tensors, each on the result of the one before.
    SmallAddChain,
    /// One Adam step of an MLP 784-512-512-10 with ReLU, batch 128, cross entropy.
    MlpAdam,
    /// One SGD (momentum 0.9) step of conv-bn-relu-pool ×2 and a linear layer, batch 64 of
    /// 3×32×32.
    CnnSgd,
    /// One AdamW step of the small GPT ([`GPT`]), cross entropy over every position.
    GptAdamW,
}

impl Workload {
    /// Every workload, in the order of the table.
    pub fn all() -> Vec<Workload> {
        vec![
            Workload::Matmul(256),
            Workload::Matmul(512),
            Workload::Matmul(1024),
            Workload::SmallAddChain,
            Workload::MlpAdam,
            Workload::CnnSgd,
            Workload::GptAdamW,
        ]
    }

    /// The name shared with the PyTorch twin and the candle runner (`matmul_f32_1024`).
    pub fn name(self) -> String {
        match self {
            Workload::Matmul(n) => format!("matmul_f32_{n}"),
            Workload::SmallAddChain => "small_add_chain_1000".into(),
            Workload::MlpAdam => "mlp_b128_adam".into(),
            Workload::CnnSgd => "cnn_b64_sgd".into(),
            Workload::GptAdamW => format!(
                "gpt_L{}_d{}_T{}_B{}_adamw",
                GPT.layers, GPT.d_model, GPT.context, GPT.batch
            ),
        }
    }

    /// A short description for the table.
    pub fn label(self) -> String {
        match self {
            Workload::Matmul(n) => format!("matmul f32 {n}"),
            Workload::SmallAddChain => "one small add (16 elements) in a chain of 1000".into(),
            Workload::MlpAdam => "MLP 784-512-512-10, batch 128, Adam step".into(),
            Workload::CnnSgd => "CNN (conv-bn-relu-pool ×2, linear), batch 64, SGD step".into(),
            Workload::GptAdamW => format!(
                "GPT L{} d{} h{} T{} B{}, AdamW step",
                GPT.layers, GPT.d_model, GPT.heads, GPT.context, GPT.batch
            ),
        }
    }

    /// How the time of a step becomes the figure shown: `2 n³` flops per matmul.
    pub fn metric(self) -> Metric {
        match self {
            Workload::Matmul(n) => Metric::Flops(2.0 * (n as f64).powi(3)),
            Workload::SmallAddChain => Metric::PerOp(CHAIN as f64),
            _ => Metric::Time,
        }
    }

    /// Builds the workload's data and model on `device` (seeded, as the twin is) and returns
    /// one step of it.
    pub fn build(self, device: Device) -> Result<Step> {
        match self {
            Workload::Matmul(n) => {
                let gen = Generator::new(0);
                let a = gen.randn([n, n], DType::F32, device)?;
                let b = gen.randn([n, n], DType::F32, device)?;
                Ok(Box::new(move || {
                    black_box(a.matmul(&b)?);
                    Ok(())
                }))
            }
            Workload::SmallAddChain => {
                let gen = Generator::new(2);
                let x = gen.randn([16], DType::F32, device)?;
                let y = gen.randn([16], DType::F32, device)?;
                Ok(Box::new(move || {
                    let mut z = x.clone();
                    for _ in 0..CHAIN {
                        z = z.add(&y)?;
                    }
                    black_box(z);
                    Ok(())
                }))
            }
            Workload::MlpAdam => {
                let gen = Generator::new(0);
                let model = {
                    let _on = build_on(device, DType::F32)?;
                    Sequential::new()
                        .add(Linear::new(784, 512, true, &gen)?)
                        .add(ReLU)
                        .add(Linear::new(512, 512, true, &gen)?)
                        .add(ReLU)
                        .add(Linear::new(512, 10, true, &gen)?)
                };
                let opt = Adam::new(model.parameters(), AdamConfig::new(1e-3))?;
                let x = gen.randn([128, 784], DType::F32, device)?;
                let y = gen.randint(0, 10, [128], DType::I64, device)?;
                Ok(training_step(model, opt, x, y))
            }
            Workload::CnnSgd => {
                let gen = Generator::new(1);
                let same = Conv2dConfig::default().with_padding(1);
                let model = {
                    let _on = build_on(device, DType::F32)?;
                    Sequential::new()
                        .add(Conv2d::new(3, 32, [3, 3], same, true, &gen)?)
                        .add(BatchNorm2d::new(32)?)
                        .add(ReLU)
                        .add(MaxPool2d::new(Pool2dConfig::new(2)))
                        .add(Conv2d::new(32, 64, [3, 3], same, true, &gen)?)
                        .add(BatchNorm2d::new(64)?)
                        .add(ReLU)
                        .add(MaxPool2d::new(Pool2dConfig::new(2)))
                        .add(Flatten::new())
                        .add(Linear::new(64 * 8 * 8, 10, true, &gen)?)
                };
                let opt = SGD::new(model.parameters(), SGDConfig::with_momentum(0.1, 0.9))?;
                let x = gen.randn([64, 3, 32, 32], DType::F32, device)?;
                let y = gen.randint(0, 10, [64], DType::I64, device)?;
                Ok(training_step(model, opt, x, y))
            }
            Workload::GptAdamW => {
                let gen = Generator::new(3);
                let model = {
                    let _on = build_on(device, DType::F32)?;
                    Gpt::new(GPT, &gen)?
                };
                let opt = AdamW::new(model.parameters(), AdamWConfig::new(3e-4))?;
                let shape = [GPT.batch, GPT.context];
                let ids = gen.randint(0, GPT.vocab as i64, shape, DType::I64, device)?;
                let targets = gen.randint(0, GPT.vocab as i64, shape, DType::I64, device)?;
                let targets = targets.reshape([GPT.batch * GPT.context])?;
                let logits_shape = [GPT.batch * GPT.context, GPT.vocab];
                let mut opt = opt;
                Ok(Box::new(move || {
                    opt.zero_grad();
                    let logits = model.forward(&ids)?.reshape(logits_shape)?;
                    let loss = cross_entropy(&logits, &targets, &CrossEntropyOptions::default())?;
                    loss.backward()?;
                    opt.step()
                }))
            }
        }
    }
}

/// `zero_grad`, forward, cross entropy, backward and an optimizer step, as `torch_bench.py`'s
/// steps (`zero_grad(set_to_none=True)`).
fn training_step<M, O>(model: M, mut opt: O, x: Tensor, y: Tensor) -> Step
where
    M: Module + 'static,
    O: Optimizer + 'static,
{
    Box::new(move || {
        opt.zero_grad();
        let loss = cross_entropy(&model.forward(&x)?, &y, &CrossEntropyOptions::default())?;
        loss.backward()?;
        opt.step()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = Workload::all().into_iter().map(Workload::name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Workload::all().len());
    }

    #[test]
    fn matmul_counts_two_n_cubed_flops() {
        let m = Workload::Matmul(1024).metric();
        // 2 * 1024³ flops in one second: 2.147 GFLOP/s.
        assert!((m.figure(1.0) - 2.147483648).abs() < 1e-9);
        assert_eq!(Workload::SmallAddChain.metric().figure(1e-3), 1.0);
    }
}
