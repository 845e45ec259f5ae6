//! The CPU backend hands kernels reused buffers without clearing them, so every such kernel
//! must write each element of its output. Each case here runs once on an empty buffer cache
//! and once on a cache stuffed with NaN-filled buffers of the sizes it will ask for; the two
//! results must agree bit for bit. One test in this binary, so that no other test shares the
//! cache while it runs.

use silica_core::backend::AdamStep;
use silica_core::{
    empty_cache, no_grad, Conv2dConfig, DType, Device, Generator, Pool2dConfig, Result, Tensor,
};

const CPU: Device = Device::Cpu;

/// Every output (and gradient) of one case, as f64 bits.
fn bits(ts: &[Tensor]) -> Result<Vec<Vec<u64>>> {
    ts.iter()
        .map(|t| {
            let v = t.to_dtype(DType::F64)?.flatten_all()?.to_vec::<f64>()?;
            Ok(v.into_iter().map(f64::to_bits).collect())
        })
        .collect()
}

/// Fills the cache with NaN (and -1 for integers) buffers of every size `sizes` names, in
/// the float dtype given and in I64.
fn poison(sizes: &[usize], dtype: DType) -> Result<()> {
    for &n in sizes {
        for _ in 0..4 {
            drop(Tensor::full([n], f64::NAN, dtype, CPU)?);
            drop(Tensor::full([n], -1.0, DType::I64, CPU)?);
        }
    }
    Ok(())
}

fn conv(dtype: DType, bias: bool) -> Result<Vec<Tensor>> {
    let gen = Generator::new(3);
    let x = gen.randn([16, 3, 24, 24], dtype, CPU)?;
    let w = gen.randn([8, 3, 3, 3], dtype, CPU)?;
    let b = gen.randn([8], dtype, CPU)?;
    for t in [&x, &w, &b] {
        t.set_requires_grad(true)?;
    }
    let y = x.conv2d(
        &w,
        bias.then_some(&b),
        &Conv2dConfig::default().with_padding(1),
    )?;
    y.square()?.sum_all()?.backward()?;
    let mut out = vec![y.detach(), x.grad().unwrap(), w.grad().unwrap()];
    out.extend(b.grad());
    Ok(out)
}

fn pools(dtype: DType) -> Result<Vec<Tensor>> {
    let x = Generator::new(4).randn([8, 8, 32, 32], dtype, CPU)?;
    x.set_requires_grad(true)?;
    let cfg = Pool2dConfig::new(2);
    let (m, a) = (x.max_pool2d(&cfg)?, x.avg_pool2d(&cfg)?);
    m.mul(&a)?.sum_all()?.backward()?;
    Ok(vec![m.detach(), a.detach(), x.grad().unwrap()])
}

fn elementwise(dtype: DType) -> Result<Vec<Tensor>> {
    let gen = Generator::new(5);
    let a = gen.randn([64, 512], dtype, CPU)?;
    let b = gen.randn([512], dtype, CPU)?;
    let sum = a.add(&b)?;
    let picked = a
        .gt(&b)?
        .where_cond(&a.exp()?, &b.broadcast_to([64, 512])?)?;
    let strided = a.t()?.sigmoid()?;
    Ok(vec![sum, picked, strided, a.softmax(1)?, a.log_softmax(0)?])
}

fn matmul(dtype: DType) -> Result<Vec<Tensor>> {
    let gen = Generator::new(6);
    let a = gen.randn([128, 96], dtype, CPU)?;
    let b = gen.randn([96, 160], dtype, CPU)?;
    let empty_k =
        Tensor::zeros([128, 0], dtype, CPU)?.matmul(&Tensor::zeros([0, 160], dtype, CPU)?)?;
    Ok(vec![a.matmul(&b)?, empty_k])
}

fn batch_norm(dtype: DType) -> Result<Vec<Tensor>> {
    let gen = Generator::new(7);
    let x = gen.randn([16, 8, 16, 16], dtype, CPU)?;
    let w = gen.randn([8], dtype, CPU)?;
    let b = gen.randn([8], dtype, CPU)?;
    for t in [&x, &w, &b] {
        t.set_requires_grad(true)?;
    }
    let (y, mean, var) = x.batch_norm_train(Some(&w), Some(&b), 1e-5)?;
    y.square()?.sum_all()?.backward()?;
    Ok(vec![
        y.detach(),
        mean,
        var,
        x.grad().unwrap(),
        w.grad().unwrap(),
    ])
}

fn adam(dtype: DType) -> Result<Vec<Tensor>> {
    let gen = Generator::new(8);
    let p = gen.randn([40_000], dtype, CPU)?;
    let g = gen.randn([40_000], dtype, CPU)?;
    let s = AdamStep {
        lr: 1e-2,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.1,
        decoupled: true,
        amsgrad: true,
        maximize: false,
        step: 1,
    };
    let _guard = no_grad();
    let mut out = p.adam_step_(&g, [None; 3], &s)?;
    out.push(p);
    Ok(out)
}

#[test]
fn kernels_write_every_element_of_reused_buffers() -> Result<()> {
    type Case = fn(DType) -> Result<Vec<Tensor>>;
    let cases: [(&str, Case); 7] = [
        ("conv2d", |d| conv(d, false)),
        ("conv2d with bias", |d| conv(d, true)),
        ("pools", pools),
        ("elementwise", elementwise),
        ("matmul", matmul),
        ("batch_norm", batch_norm),
        ("adam", adam),
    ];
    for (name, case) in cases {
        for dtype in [DType::F32, DType::F64] {
            empty_cache(CPU)?;
            let clean = case(dtype)?;
            let sizes: Vec<usize> = clean.iter().map(Tensor::elem_count).collect();
            let clean = bits(&clean)?;
            empty_cache(CPU)?;
            poison(&sizes, dtype)?;
            let reused = bits(&case(dtype)?)?;
            assert_eq!(clean, reused, "{name} {dtype}");
        }
    }
    empty_cache(CPU)
}
