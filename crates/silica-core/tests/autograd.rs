//! Autograd semantics, as in PyTorch: accumulation into leaves, retain_graph, create_graph,
//! no_grad, detach, and gradients of non-scalar outputs.

use silica_core::{grad, no_grad, BackwardOptions, DType, Device, Tensor};

fn leaf(v: &[f64]) -> Tensor {
    let t = Tensor::from_slice(v, [v.len()], Device::Cpu).unwrap();
    t.set_requires_grad(true).unwrap();
    t
}

#[test]
fn gradients_accumulate_across_backward_calls() {
    let x = leaf(&[1.0, 2.0]);
    x.square().unwrap().sum_all().unwrap().backward().unwrap();
    x.square().unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec::<f64>().unwrap(), vec![4.0, 8.0]);
    x.set_grad(None).unwrap();
    assert!(x.grad().is_none());
}

#[test]
fn a_tensor_used_twice_sums_its_gradients() {
    let x = leaf(&[3.0]);
    let y = x.mul(&x).unwrap().add(&x).unwrap().sum_all().unwrap();
    y.backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec::<f64>().unwrap(), vec![7.0]);
}

#[test]
fn retain_graph_allows_a_second_backward() {
    let x = leaf(&[1.0, -1.0]);
    let y = x.exp().unwrap().sum_all().unwrap();
    let opts = BackwardOptions {
        retain_graph: true,
        ..Default::default()
    };
    y.backward_with_options(None, opts).unwrap();
    y.backward().unwrap();
    let g = x.grad().unwrap().to_vec::<f64>().unwrap();
    assert!((g[0] - 2.0 * 1f64.exp()).abs() < 1e-12);
    assert!(
        y.backward().is_err(),
        "the graph was freed by the second call"
    );
}

#[test]
fn backward_with_a_seed_gradient() {
    let x = leaf(&[1.0, 2.0, 3.0]);
    let y = x.mul_scalar(2.0).unwrap();
    let seed = Tensor::from_slice(&[1.0f64, 0.5, -1.0], [3], Device::Cpu).unwrap();
    y.backward_with(&seed).unwrap();
    assert_eq!(
        x.grad().unwrap().to_vec::<f64>().unwrap(),
        vec![2.0, 1.0, -2.0]
    );
}

#[test]
fn no_grad_and_detach_record_nothing() {
    let x = leaf(&[1.0]);
    {
        let _g = no_grad();
        let y = x.exp().unwrap();
        assert!(!y.requires_grad());
    }
    let d = x.detach();
    assert!(!d.requires_grad() && d.is_leaf() && d.shares_storage(&x));
    let y = x.mul(&d).unwrap().sum_all().unwrap();
    y.backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec::<f64>().unwrap(), vec![1.0]);
}

#[test]
fn create_graph_gives_second_derivatives() {
    // f(x) = x^3 sin(x): f' = 3x^2 sin x + x^3 cos x, f'' = 6x sin x + 6x^2 cos x - x^3 sin x.
    let x = leaf(&[0.7, -1.3]);
    let f = x
        .pow_scalar(3.0)
        .unwrap()
        .mul(&x.sin().unwrap())
        .unwrap()
        .sum_all()
        .unwrap();
    let opts = BackwardOptions {
        create_graph: true,
        ..Default::default()
    };
    let g = grad(&f, &[&x], None, opts).unwrap()[0].clone().unwrap();
    assert!(
        g.requires_grad(),
        "the first derivative is itself differentiable"
    );
    let gg = grad(
        &g.sum_all().unwrap(),
        &[&x],
        None,
        BackwardOptions::default(),
    )
    .unwrap()[0]
        .clone()
        .unwrap();
    for (i, &v) in [0.7f64, -1.3].iter().enumerate() {
        let d1 = 3.0 * v * v * v.sin() + v.powi(3) * v.cos();
        let d2 = 6.0 * v * v.sin() + 6.0 * v * v * v.cos() - v.powi(3) * v.sin();
        assert!((g.to_vec::<f64>().unwrap()[i] - d1).abs() < 1e-12);
        assert!((gg.to_vec::<f64>().unwrap()[i] - d2).abs() < 1e-12);
    }
}

#[test]
fn create_graph_through_matmul_and_elementwise_ops() {
    // L = sum((A x)^2) / 2 with Hessian A^T A; check d/dx of (grad . v) = A^T A v.
    let a = Tensor::from_slice(&[1.0f64, 2.0, -1.0, 0.5, 3.0, 1.0], [3, 2], Device::Cpu).unwrap();
    let x = leaf(&[0.3, -0.8]);
    let l = a
        .matmul(&x)
        .unwrap()
        .square()
        .unwrap()
        .sum_all()
        .unwrap()
        .mul_scalar(0.5)
        .unwrap();
    let opts = BackwardOptions {
        create_graph: true,
        ..Default::default()
    };
    let g = grad(&l, &[&x], None, opts).unwrap()[0].clone().unwrap();
    let v = Tensor::from_slice(&[1.0f64, -2.0], [2], Device::Cpu).unwrap();
    g.mul(&v).unwrap().sum_all().unwrap().backward().unwrap();
    let ata = a.t().unwrap().matmul(&a).unwrap();
    let want = ata.matmul(&v).unwrap().to_vec::<f64>().unwrap();
    let got = x.grad().unwrap().to_vec::<f64>().unwrap();
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-12, "{got:?} vs {want:?}");
    }
}

#[test]
fn integer_and_comparison_results_do_not_require_grad() {
    let x = leaf(&[1.0, 2.0]);
    assert!(!x.gt_scalar(1.5).unwrap().requires_grad());
    assert!(!x.argmax(0, false).unwrap().requires_grad());
    assert!(!x.to_dtype(DType::I32).unwrap().requires_grad());
    assert!(x.to_dtype(DType::F32).unwrap().requires_grad());
}

#[test]
fn dropping_a_long_graph_does_not_overflow_the_stack() {
    let x = Tensor::ones([2], DType::F32, Device::Cpu).unwrap();
    x.set_requires_grad(true).unwrap();
    let mut y = x.clone();
    for _ in 0..200_000 {
        y = y.add_scalar(1.0).unwrap();
    }
    drop(y);
}

#[test]
fn leaves_never_share_gradient_memory() {
    // add's gradient is the same tensor for both operands; each leaf gets its own copy.
    let a = leaf(&[1.0, 2.0]);
    let b = leaf(&[3.0, 4.0]);
    a.add(&b).unwrap().sum_all().unwrap().backward().unwrap();
    let (ga, gb) = (a.grad().unwrap(), b.grad().unwrap());
    assert!(!ga.shares_storage(&gb));
    {
        let _g = no_grad();
        ga.assign(&ga.mul_scalar(5.0).unwrap()).unwrap();
    }
    assert_eq!(gb.to_vec::<f64>().unwrap(), vec![1.0, 1.0]);
    // The seed given to backward_with is not aliased either.
    let c = leaf(&[1.0]);
    let seed = Tensor::from_slice(&[2.0f64], [1], Device::Cpu).unwrap();
    c.mul_scalar(1.0).unwrap().backward_with(&seed).unwrap();
    assert!(!c.grad().unwrap().shares_storage(&seed));
}
