//! Micro-benchmarks of the CPU backend, paired with `tools/bench/torch_ops.py`, which times the
//! same workloads in PyTorch. The comparison that `docs/BENCHMARKS.md` reports is
//! `silica bench --vs-torch --vs-candle`.
//!
//! Run with `RAYON_NUM_THREADS=2 cargo bench -p silica-core --bench ops`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use silica_core::{Conv2dConfig, DType, Device, Generator, Tensor};
use std::hint::black_box;
use std::time::Duration;

fn matmul(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul_f32");
    group.measurement_time(Duration::from_secs(4));
    for n in [256usize, 512, 1024] {
        let gen = Generator::new(0);
        let a = gen.randn([n, n], DType::F32, Device::Cpu).unwrap();
        let b = gen.randn([n, n], DType::F32, Device::Cpu).unwrap();
        group.throughput(Throughput::Elements((2 * n * n * n) as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |bench, _| {
            bench.iter(|| black_box(a.matmul(&b).unwrap()))
        });
    }
    group.finish();
}

/// One conv2d forward and backward: batch 64, 3 -> 32 channels, 32x32, 3x3, padding 1.
fn conv2d(c: &mut Criterion) {
    let gen = Generator::new(1);
    let x = gen.randn([64, 3, 32, 32], DType::F32, Device::Cpu).unwrap();
    let w = gen.randn([32, 3, 3, 3], DType::F32, Device::Cpu).unwrap();
    let b = gen.randn([32], DType::F32, Device::Cpu).unwrap();
    for t in [&x, &w, &b] {
        t.set_requires_grad(true).unwrap();
    }
    let cfg = Conv2dConfig::default().with_padding(1);
    let seed = Tensor::ones([64, 32, 32, 32], DType::F32, Device::Cpu).unwrap();
    let mut group = c.benchmark_group("conv2d");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("fwd_bwd_b64_3x32x32_to_32_k3", |bench| {
        bench.iter(|| {
            for t in [&x, &w, &b] {
                t.set_grad(None).unwrap();
            }
            let y = x.conv2d(&w, Some(&b), &cfg).unwrap();
            y.backward_with(&seed).unwrap();
            black_box(w.grad())
        })
    });
    group.bench_function("fwd_b64_3x32x32_to_32_k3", |bench| {
        let _guard = silica_core::no_grad();
        bench.iter(|| black_box(x.conv2d(&w, Some(&b), &cfg).unwrap()))
    });
    group.finish();
}

/// Per-op overhead: a chain of 1000 adds of 16-element tensors.
fn small_add(c: &mut Criterion) {
    let gen = Generator::new(2);
    let x = gen.randn([16], DType::F32, Device::Cpu).unwrap();
    let y = gen.randn([16], DType::F32, Device::Cpu).unwrap();
    c.bench_function("small_add_chain_1000", |bench| {
        bench.iter(|| {
            let mut z = x.clone();
            for _ in 0..1000 {
                z = z.add(&y).unwrap();
            }
            black_box(z)
        })
    });
}

criterion_group!(benches, matmul, conv2d, small_add);
criterion_main!(benches);
