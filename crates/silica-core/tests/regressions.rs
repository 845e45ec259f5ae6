//! One test per bug family found by comparing Silica with PyTorch 1.13 on random cases
//! (issue 7). Each names its bug; the expected values are PyTorch's.

use silica_core::{grad, BackwardOptions, DType, Device, Pool2dConfig, Tensor};

fn t(v: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_slice(v, shape, Device::Cpu).unwrap()
}

fn leaf(v: &[f32], shape: &[usize]) -> Tensor {
    let x = t(v, shape);
    x.set_requires_grad(true).unwrap();
    x
}

fn vals(x: &Tensor) -> Vec<f32> {
    x.to_dtype(DType::F32).unwrap().to_vec::<f32>().unwrap()
}

/// The gradient of `sum(y * seed)` with respect to `x`.
fn grad_of(y: &Tensor, x: &Tensor, seed: &Tensor) -> Tensor {
    grad(y, &[x], Some(seed), BackwardOptions::default()).unwrap()[0]
        .clone()
        .expect("a gradient")
}

#[test]
fn empty_view_at_a_storage_offset_does_not_panic() {
    let z = Tensor::zeros([0, 2], DType::F32, Device::Cpu).unwrap();
    let v = z.select(1, 1).unwrap();
    assert_eq!(v.dims(), &[0]);
    assert_eq!(v.exp().unwrap().dims(), &[0]);
    assert_eq!(v.add(&v).unwrap().dims(), &[0]);
    assert_eq!(v.to_dtype(DType::F64).unwrap().dtype(), DType::F64);
    assert_eq!(v.contiguous().unwrap().dims(), &[0]);
    assert_eq!(v.sum_all().unwrap().item::<f32>().unwrap(), 0.0);

    // Backward through stack of such views.
    let b = Tensor::zeros([0, 2], DType::F32, Device::Cpu).unwrap();
    b.set_requires_grad(true).unwrap();
    let s = Tensor::stack(&[&b, &b], 1).unwrap();
    assert_eq!(s.dims(), &[0, 2, 2]);
    s.backward_with(&s.ones_like().unwrap()).unwrap();
    assert_eq!(b.grad().unwrap().dims(), &[0, 2]);

    // A matmul of an empty narrowed view.
    let a = Tensor::zeros([0, 3], DType::F32, Device::Cpu)
        .unwrap()
        .narrow(1, 1, 2)
        .unwrap();
    let w = Tensor::zeros([2, 4], DType::F32, Device::Cpu).unwrap();
    assert_eq!(a.matmul(&w).unwrap().dims(), &[0, 4]);
}

#[test]
fn scatter_add_gives_a_larger_src_a_gradient_of_its_own_shape() {
    // PyTorch 1.13 itself fails here ("invalid gradient at index 1 - got [2] but expected
    // shape compatible with [3]"); later versions and the math give [1, 1, 0].
    let index = Tensor::from_slice(&[1i64, 1], [2], Device::Cpu).unwrap();
    let src = leaf(&[1.0, 2.0, 3.0], &[3]);
    let y = Tensor::zeros([3], DType::F32, Device::Cpu)
        .unwrap()
        .scatter_add(0, &index, &src)
        .unwrap();
    assert_eq!(vals(&y), [0.0, 3.0, 0.0]);
    let g = grad_of(&y, &src, &y.ones_like().unwrap());
    assert_eq!(g.dims(), &[3]);
    assert_eq!(vals(&g), [1.0, 1.0, 0.0]);

    // Through a view of a larger leaf, with backward() storing the leaf's gradient.
    let base = leaf(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let src = base.t().unwrap(); // [3, 2]
    let index = Tensor::from_slice(&[0i64, 1], [2, 1], Device::Cpu).unwrap();
    let y = Tensor::zeros([2, 2], DType::F32, Device::Cpu)
        .unwrap()
        .scatter_add(1, &index, &src)
        .unwrap();
    let seed = t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    y.backward_with(&seed).unwrap();
    // src[0][0] and src[1][0] feed y[0][0] and y[1][1]; src[.][0] is base[0][.].
    assert_eq!(vals(&base.grad().unwrap()), [1.0, 4.0, 0.0, 0.0, 0.0, 0.0]);
}

#[test]
fn pooling_with_ceil_mode_lets_the_last_window_overhang() {
    let x = t(&[-2.0, 2.0], &[1, 1, 1, 2]);
    let floor = Pool2dConfig {
        kernel: [1, 3],
        stride: [1, 2],
        ..Pool2dConfig::new(1)
    };
    let cfg = Pool2dConfig {
        ceil_mode: true,
        ..floor
    };
    let m = x.max_pool2d(&cfg).unwrap();
    assert_eq!(m.dims(), &[1, 1, 1, 1]);
    assert_eq!(vals(&m), [2.0]);
    let a = x.avg_pool2d(&cfg).unwrap();
    assert_eq!(a.dims(), &[1, 1, 1, 1]);
    assert_eq!(vals(&a), [0.0]);
    // Without ceil_mode the window does not fit: an error, as in PyTorch.
    assert!(x.max_pool2d(&floor).is_err());
    assert!(x.avg_pool2d(&floor).is_err());
}

#[test]
fn std_backward_at_zero_is_zero() {
    let x = leaf(&[2.0, 2.0], &[2]);
    let s = x.std(0, 1, false).unwrap();
    assert_eq!(vals(&s), [0.0]);
    let g = grad_of(&s, &x, &s.ones_like().unwrap());
    assert_eq!(vals(&g), [0.0, 0.0]);

    let x0 = leaf(&[2.0], &[]);
    let s = x0.std(Vec::<usize>::new(), 0, false).unwrap();
    let g = grad_of(&s, &x0, &s.ones_like().unwrap());
    assert_eq!(vals(&g), [0.0]);

    // One element with correction 1 has no standard deviation: NaN, and a NaN gradient.
    let x1 = leaf(&[2.0], &[1]);
    let s = x1.std(0, 1, false).unwrap();
    assert!(vals(&s)[0].is_nan());
    assert!(vals(&grad_of(&s, &x1, &s.ones_like().unwrap()))[0].is_nan());
}

#[test]
fn clamp_of_an_integer_tensor_with_float_bounds_promotes() {
    let x = Tensor::from_slice(&[-2i64, 0, 5], [3], Device::Cpu).unwrap();
    let y = x.clamp(-0.5, f64::INFINITY).unwrap();
    assert_eq!(y.dtype(), DType::F32);
    assert_eq!(vals(&y), [-0.5, 0.0, 5.0]);
    // Integer bounds keep the integer dtype.
    let y = x.clamp(-1, 3).unwrap();
    assert_eq!(y.dtype(), DType::I64);
    assert_eq!(y.to_vec::<i64>().unwrap(), [-1, 0, 3]);
    let y = x.clamp_min(-1).unwrap();
    assert_eq!(y.to_vec::<i64>().unwrap(), [-1, 0, 5]);
    let y = x.clamp_max(1.5).unwrap();
    assert_eq!(y.dtype(), DType::F32);
    assert_eq!(vals(&y), [-2.0, 0.0, 1.5]);
}

#[test]
fn chunk_of_a_size_zero_dim_gives_every_piece() {
    let z = Tensor::zeros([0], DType::F32, Device::Cpu).unwrap();
    let pieces = z.chunk(3, 0).unwrap();
    assert_eq!(pieces.len(), 3);
    assert!(pieces.iter().all(|p| p.dims() == [0]));
    // torch.split allows a split size of 0 on a size-0 dim: one empty piece.
    assert_eq!(z.split(0, 0).unwrap().len(), 1);
    assert!(Tensor::zeros([2], DType::F32, Device::Cpu)
        .unwrap()
        .split(0, 0)
        .is_err());
}

#[test]
fn extremum_and_clamp_backward_select_rather_than_multiply() {
    let inf = f32::INFINITY;
    let seed = t(&[inf, inf], &[2]);
    let (a, b) = (leaf(&[1.0, 3.0], &[2]), leaf(&[2.0, 2.0], &[2]));
    let m = a.minimum(&b).unwrap();
    let g = grad(&m, &[&a, &b], Some(&seed), BackwardOptions::default()).unwrap();
    assert_eq!(vals(g[0].as_ref().unwrap()), [inf, 0.0]);
    assert_eq!(vals(g[1].as_ref().unwrap()), [0.0, inf]);

    let m = a.maximum(&b).unwrap();
    let g = grad(&m, &[&a, &b], Some(&seed), BackwardOptions::default()).unwrap();
    assert_eq!(vals(g[0].as_ref().unwrap()), [0.0, inf]);
    assert_eq!(vals(g[1].as_ref().unwrap()), [inf, 0.0]);

    // A NaN operand: neither wins, so both take the whole gradient (PyTorch); a tie splits it.
    let (a, b) = (leaf(&[f32::NAN, 2.0], &[2]), leaf(&[1.0, 2.0], &[2]));
    let m = a.maximum(&b).unwrap();
    let ones = m.ones_like().unwrap();
    let g = grad(&m, &[&a, &b], Some(&ones), BackwardOptions::default()).unwrap();
    assert_eq!(vals(g[0].as_ref().unwrap()), [1.0, 0.5]);
    assert_eq!(vals(g[1].as_ref().unwrap()), [1.0, 0.5]);

    let x = leaf(&[f32::NAN, 1.0, -3.0, 0.7], &[4]);
    let y = x.clamp(-0.5, 0.7).unwrap();
    let g = grad_of(&y, &x, &t(&[inf; 4], &[4]));
    assert_eq!(vals(&g), [0.0, 0.0, 0.0, inf]);
}

// ---- Found by the differential fuzzer's first sweeps (tools/golden/fuzz_sweep.sh). Expected
// values are PyTorch 1.13's, except where rules.rs documents a departure.

fn f64s(v: &[f64]) -> Tensor {
    Tensor::from_slice(v, [v.len()], Device::Cpu).unwrap()
}

/// The gradient of `sum(f(x))` for a leaf `x` holding `v`.
fn grad_sum(v: &[f64], f: impl Fn(&Tensor) -> silica_core::Result<Tensor>) -> Vec<f64> {
    let x = f64s(v);
    x.set_requires_grad(true).unwrap();
    f(&x).unwrap().sum_all().unwrap().backward().unwrap();
    x.grad().unwrap().to_vec::<f64>().unwrap()
}

/// A name, the input, the function, and the gradient of its sum.
type GradCase<'a> = (
    &'a str,
    &'a [f64],
    fn(&Tensor) -> silica_core::Result<Tensor>,
    &'a [f64],
);

fn same(got: &[f64], want: &[f64]) -> bool {
    got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .all(|(g, w)| g == w || (g.is_nan() && w.is_nan()))
}

#[test]
fn zero_dim_tensors_accept_dim_0_and_minus_1() {
    let x = Tensor::from_slice(&[2.0f64], [], Device::Cpu).unwrap();
    let item = |t: silica_core::Result<Tensor>| t.unwrap().to_f64_vec().unwrap();
    assert_eq!(item(x.sum(0, false)), [2.0]);
    assert_eq!(item(x.softmax(-1)), [1.0]);
    assert_eq!(item(x.argmax(0, false)), [0.0]);
    assert_eq!(item(x.transpose(0, -1)), [2.0]);
    assert_eq!(item(x.squeeze(-1)), [2.0]);
    assert_eq!(item(x.logsumexp(0, false)), [2.0]);
    assert!(x.sum(1, false).is_err() && x.select(0, 0).is_err());
    assert!(x.sum([0, -1], false).is_err(), "a repeated dim");
}

#[test]
fn gradients_follow_pytorch_at_nan_inf_and_zero() {
    let (nan, inf) = (f64::NAN, f64::INFINITY);
    let cases: [GradCase<'_>; 8] = [
        (
            "var with inf",
            &[1.0, inf, 2.0],
            |x| x.var(0, 1, false),
            &[-inf, nan, -inf],
        ),
        (
            "prod, two zeros",
            &[2.0, 0.0, 3.0, 0.0],
            |x| x.prod(0, false),
            &[0.0; 4],
        ),
        (
            "prod, one zero",
            &[2.0, 0.0, 3.0, 4.0],
            |x| x.prod(0, false),
            &[0.0, 24.0, 0.0, 0.0],
        ),
        (
            "prod, inf and zeros",
            &[inf, 0.0, 3.0],
            |x| x.prod(0, false),
            &[0.0, inf, nan],
        ),
        (
            "max_all with NaN",
            &[1.0, nan, 2.0, nan],
            |x| x.max_all(),
            &[0.0, 0.5, 0.0, 0.5],
        ),
        ("rsqrt at -0", &[-0.0, 4.0], |x| x.rsqrt(), &[inf, -0.0625]),
        (
            "relu at NaN",
            &[nan, -1.0, 2.0],
            |x| x.relu(),
            &[1.0, 0.0, 1.0],
        ),
        ("pow 0.5 is sqrt", &[4.0], |x| x.pow_scalar(0.5), &[0.25]),
    ];
    for (name, v, f, want) in cases {
        let got = grad_sum(v, f);
        assert!(same(&got, want), "{name}: {got:?}, expected {want:?}");
    }
    let p = f64s(&[f64::NEG_INFINITY, 4.0]).pow_scalar(0.5).unwrap();
    assert!(
        same(&p.to_vec::<f64>().unwrap(), &[nan, 2.0]),
        "sqrt(-inf) is NaN"
    );
}

#[test]
fn scalars_fill_tensors_as_pytorch_converts_them() {
    let u8s = |t: silica_core::Result<Tensor>| t.unwrap().to_vec::<u8>().unwrap();
    assert_eq!(
        u8s(Tensor::full([2], -1, DType::U8, Device::Cpu)),
        [255, 255]
    );
    let zeros = Tensor::zeros([2], DType::U8, Device::Cpu).unwrap();
    let mask = Tensor::from_slice(&[true, false], [2], Device::Cpu).unwrap();
    assert_eq!(u8s(zeros.masked_fill(&mask, -3)), [253, 0]);
    assert_eq!(u8s(zeros.clamp_max(-2)), [0, 0], "-2 is 254 in u8");
    for bad in [f64::NAN, f64::INFINITY, 3e9] {
        assert!(
            Tensor::full([1], bad, DType::I32, Device::Cpu).is_err(),
            "{bad}"
        );
    }
    assert!(Tensor::full([1], -1.5, DType::U8, Device::Cpu).is_err());
    assert!(Tensor::full([1], 1e10, DType::F16, Device::Cpu).is_err());
    // Subtracting a bool is refused, as in PyTorch; integer powers may be negative.
    assert!(mask.sub(&mask).is_err() && zeros.to_dtype(DType::F32).unwrap().sub(&mask).is_err());
    let ints = |v: &[i64]| Tensor::from_slice(v, [v.len()], Device::Cpu).unwrap();
    let p = ints(&[2, -1, 1, 0]).pow(&ints(&[-1, -3, -2, -1])).unwrap();
    assert_eq!(p.to_vec::<i64>().unwrap(), [0, -1, 1, 0]);
    assert!(ints(&[2]).pow_scalar(-1).is_err());
}

#[test]
fn integer_ranges_and_float_valued_ops_of_integers() {
    let lin = Tensor::linspace(2.5, -3.0, 5, DType::I64, Device::Cpu).unwrap();
    assert_eq!(lin.to_vec::<i64>().unwrap(), [2, 0, 0, -1, -3]);
    let ar = Tensor::arange(0.5, 4.0, 1.5, DType::I64, Device::Cpu).unwrap();
    assert_eq!(ar.to_vec::<i64>().unwrap(), [0, 1, 2, 3]);
    assert!(Tensor::arange(0.0, 3.0, 0.5, DType::I32, Device::Cpu).is_err());
    let ints = Tensor::from_slice(&[1i64, 2], [2], Device::Cpu).unwrap();
    let lse = ints.logsumexp(0, false).unwrap();
    assert_eq!(lse.dtype(), DType::F32);
    assert!((lse.item::<f32>().unwrap() - 2.3132617).abs() < 1e-6);
    let b = Tensor::from_slice(&[true, false], [2], Device::Cpu).unwrap();
    assert_eq!(b.sign().unwrap().to_vec::<bool>().unwrap(), [true, false]);
    assert_eq!(b.square().unwrap().to_vec::<i64>().unwrap(), [1, 0]);
}

#[test]
fn shapes_at_the_edges() {
    // masked_fill broadcasts like the out-of-place torch.masked_fill.
    let one = Tensor::from_slice(&[1.0f32], [], Device::Cpu).unwrap();
    let mask = Tensor::from_slice(&[true, false], [2], Device::Cpu).unwrap();
    assert_eq!(vals(&one.masked_fill(&mask, 5.0).unwrap()), [5.0, 1.0]);
    // A 1-D empty tensor joins a cat of any shape.
    let e = Tensor::zeros([0], DType::F32, Device::Cpu).unwrap();
    let m = Tensor::ones([2, 3], DType::F32, Device::Cpu).unwrap();
    assert_eq!(Tensor::cat(&[&e, &m], 1).unwrap().dims(), &[2, 3]);
    // Uneven adaptive pooling keeps an infinity (no 0 * inf).
    let x = Tensor::from_slice(&[1.0f32, f32::INFINITY, 2.0], [1, 1, 1, 3], Device::Cpu).unwrap();
    assert_eq!(
        vals(&x.adaptive_avg_pool2d(1, 2).unwrap()),
        [f32::INFINITY; 2]
    );
    // conv2d refuses an empty image; batch norm refuses one value per channel.
    let w = Tensor::ones([1, 1, 1, 1], DType::F32, Device::Cpu).unwrap();
    let empty = Tensor::zeros([1, 1, 0, 2], DType::F32, Device::Cpu).unwrap();
    let cfg = silica_core::Conv2dConfig::default().with_padding(1);
    assert!(empty.conv2d(&w, None, &cfg).is_err());
    let single = Tensor::ones([1, 3], DType::F32, Device::Cpu).unwrap();
    assert!(single.batch_norm_train(None, None, 1e-5).is_err());
}
