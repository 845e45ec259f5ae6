//! Whole training steps, the workloads of `shared/reference/torch_bench.py`: an MLP with Adam
//! and a small CNN with SGD. `tools/bench/torch_ops.py` times the same steps in PyTorch;
//! `silica bench` runs them (and the GPT step) beside PyTorch and candle.
//!
//! Run with `RAYON_NUM_THREADS=2 cargo bench -p silica-nn --bench train_step`.

use criterion::{criterion_group, criterion_main, Criterion};
use silica_core::{Conv2dConfig, DType, Device, Generator, Pool2dConfig};
use silica_nn::nn::{
    cross_entropy, BatchNorm2d, Conv2d, CrossEntropyOptions, Flatten, Linear, MaxPool2d, Module,
    ReLU, Sequential,
};
use silica_nn::optim::{Adam, AdamConfig, Optimizer, SGDConfig, SGD};
use std::time::Duration;

/// 784-512-512-10 with ReLU, batch 128, cross-entropy, one Adam step.
fn mlp_adam(c: &mut Criterion) {
    let gen = Generator::new(0);
    let model = Sequential::new()
        .add(Linear::new(784, 512, true, &gen).unwrap())
        .add(ReLU)
        .add(Linear::new(512, 512, true, &gen).unwrap())
        .add(ReLU)
        .add(Linear::new(512, 10, true, &gen).unwrap());
    let mut opt = Adam::new(model.parameters(), AdamConfig::new(1e-3)).unwrap();
    let x = gen.randn([128, 784], DType::F32, Device::Cpu).unwrap();
    let y = gen.randint(0, 10, [128], DType::I64, Device::Cpu).unwrap();
    let mut group = c.benchmark_group("train_step");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("mlp_b128_adam", |b| {
        b.iter(|| {
            opt.zero_grad();
            let loss = cross_entropy(
                &model.forward(&x).unwrap(),
                &y,
                &CrossEntropyOptions::default(),
            )
            .unwrap();
            loss.backward().unwrap();
            opt.step().unwrap();
        })
    });
    group.finish();
}

/// conv-bn-relu-pool x2, then a linear layer, on [64, 3, 32, 32], one SGD momentum step.
fn cnn_sgd(c: &mut Criterion) {
    let gen = Generator::new(1);
    let same = Conv2dConfig::default().with_padding(1);
    let model = Sequential::new()
        .add(Conv2d::new(3, 32, [3, 3], same, true, &gen).unwrap())
        .add(BatchNorm2d::new(32).unwrap())
        .add(ReLU)
        .add(MaxPool2d::new(Pool2dConfig::new(2)))
        .add(Conv2d::new(32, 64, [3, 3], same, true, &gen).unwrap())
        .add(BatchNorm2d::new(64).unwrap())
        .add(ReLU)
        .add(MaxPool2d::new(Pool2dConfig::new(2)))
        .add(Flatten::new())
        .add(Linear::new(64 * 8 * 8, 10, true, &gen).unwrap());
    let mut opt = SGD::new(model.parameters(), SGDConfig::with_momentum(0.1, 0.9)).unwrap();
    let x = gen.randn([64, 3, 32, 32], DType::F32, Device::Cpu).unwrap();
    let y = gen.randint(0, 10, [64], DType::I64, Device::Cpu).unwrap();
    let mut group = c.benchmark_group("train_step");
    group.measurement_time(Duration::from_secs(8));
    group.sample_size(20);
    group.bench_function("cnn_b64_sgd", |b| {
        b.iter(|| {
            opt.zero_grad();
            let loss = cross_entropy(
                &model.forward(&x).unwrap(),
                &y,
                &CrossEntropyOptions::default(),
            )
            .unwrap();
            loss.backward().unwrap();
            opt.step().unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, mlp_adam, cnn_sgd);
criterion_main!(benches);
