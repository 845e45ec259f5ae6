//! Autograd beyond `backward`: tensor hooks, `retain_grad`, user-defined functions, and
//! second derivatives (a small CNN's, and `create_graph` refused where a gradient cannot be
//! differentiated again).

use silica_core::backendtest::AsyncCpuBackend;
use silica_core::{
    grad, gradcheck, gradgradcheck, BackwardOptions, Conv2dConfig, DType, Device, Function,
    Generator, GradcheckOptions, Pool2dConfig, Result, Tensor,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn leaf(values: &[f64], shape: &[usize]) -> Tensor {
    let t = Tensor::from_slice(values, shape, Device::Cpu).unwrap();
    t.set_requires_grad(true).unwrap();
    t
}

fn values(t: &Tensor) -> Vec<f64> {
    t.to_f64_vec().unwrap()
}

#[test]
fn a_hook_on_an_intermediate_replaces_its_gradient() -> Result<()> {
    let x = leaf(&[1.0, 2.0], &[2]);
    let y = x.mul_scalar(3.0)?;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    y.register_hook(move |g| {
        log.lock().unwrap().push(g.to_f64_vec()?);
        Ok(Some(g.mul_scalar(10.0)?))
    })?;
    y.square()?.sum_all()?.backward()?;
    // dL/dy = 2y = [6, 12]; the hook sees it and scales it by 10 before it reaches x.
    assert_eq!(*seen.lock().unwrap(), vec![vec![6.0, 12.0]]);
    assert_eq!(values(&x.grad().unwrap()), vec![180.0, 360.0]);
    Ok(())
}

#[test]
fn a_leaf_hook_sees_the_whole_gradient_once_and_can_be_removed() -> Result<()> {
    let x = leaf(&[1.0, -1.0], &[2]);
    let calls = Arc::new(AtomicUsize::new(0));
    let count = calls.clone();
    let handle = x.register_hook(move |g| {
        count.fetch_add(1, Ordering::Relaxed);
        // Two paths reach x (x + 2x): the hook sees their sum.
        assert_eq!(g.to_f64_vec()?, vec![3.0, 3.0]);
        Ok(None)
    })?;
    let loss = || x.add(&x.mul_scalar(2.0)?)?.sum_all();
    loss()?.backward()?;
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    assert_eq!(values(&x.grad().unwrap()), vec![3.0, 3.0]);
    handle.remove();
    loss()?.backward()?;
    assert_eq!(
        calls.load(Ordering::Relaxed),
        1,
        "a removed hook does not run"
    );
    assert_eq!(values(&x.grad().unwrap()), vec![6.0, 6.0]);
    Ok(())
}

#[test]
fn hooks_also_run_for_autograd_grad_and_on_the_root() -> Result<()> {
    let x = leaf(&[2.0], &[1]);
    let y = x.square()?;
    y.register_hook(|g| Ok(Some(g.mul_scalar(0.5)?)))?;
    let g = grad(
        &y,
        &[&x],
        Some(&Tensor::ones([1], DType::F64, Device::Cpu)?),
        BackwardOptions::default(),
    )?;
    assert_eq!(values(g[0].as_ref().unwrap()), vec![2.0]);
    Ok(())
}

#[test]
fn bad_hooks_are_errors() -> Result<()> {
    let x = leaf(&[1.0, 2.0], &[2]);
    x.register_hook(|g| Ok(Some(g.sum_all()?)))?;
    let err = x.sum_all()?.backward().unwrap_err().to_string();
    assert!(
        err.contains("register_hook") && err.contains("[2]"),
        "{err}"
    );

    let x = leaf(&[1.0], &[1]);
    x.register_hook(|_| Err(silica_core::Error::Autograd("stop here".into())))?;
    let err = x.sum_all()?.backward().unwrap_err().to_string();
    assert!(err.contains("stop here"), "{err}");
    assert!(x.grad().is_none(), "a failed pass leaves grad() alone");

    let plain = Tensor::ones([2], DType::F64, Device::Cpu)?;
    for err in [
        plain.register_hook(|_| Ok(None)).unwrap_err().to_string(),
        plain.retain_grad().unwrap_err().to_string(),
    ] {
        assert!(err.contains("does not require a gradient"), "{err}");
    }
    Ok(())
}

#[test]
fn retain_grad_keeps_a_non_leaf_gradient() -> Result<()> {
    let x = leaf(&[1.0, 2.0, 3.0], &[3]);
    let y = x.mul_scalar(2.0)?;
    let z = y.exp()?;
    y.retain_grad()?;
    assert!(y.retains_grad() && x.retains_grad() && !z.retains_grad());
    z.sum_all()?.backward_with_options(
        None,
        BackwardOptions {
            retain_graph: true,
            create_graph: false,
        },
    )?;
    let want: Vec<f64> = [2.0f64, 4.0, 6.0].iter().map(|v| v.exp()).collect();
    assert_eq!(values(&y.grad().unwrap()), want);
    assert!(
        z.grad().is_none(),
        "an intermediate without retain_grad keeps nothing"
    );
    // A second pass accumulates, as for leaves.
    z.sum_all()?.backward()?;
    let twice: Vec<f64> = want.iter().map(|v| 2.0 * v).collect();
    assert_eq!(values(&y.grad().unwrap()), twice);
    Ok(())
}

/// `x @ wᵀ + b` with a hand-written gradient (saves its inputs).
#[derive(Default)]
struct LinearFn {
    saved: Vec<Tensor>,
}

impl Function for LinearFn {
    fn name(&self) -> &'static str {
        "linear_fn"
    }
    fn forward(&mut self, inputs: &[Tensor]) -> Result<Tensor> {
        self.saved = inputs.to_vec();
        inputs[0].matmul(&inputs[1].t()?)?.add(&inputs[2])
    }
    fn backward(&self, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let (x, w) = (&self.saved[0], &self.saved[1]);
        Ok(vec![
            Some(g.matmul(w)?),
            Some(g.t()?.matmul(x)?),
            Some(g.sum(0, false)?),
        ])
    }
    fn supports_double_backward(&self) -> bool {
        true
    }
}

#[test]
fn a_custom_function_passes_gradcheck_and_gradgradcheck() -> Result<()> {
    let gen = Generator::new(3);
    let xs: Vec<Tensor> = [[4usize, 3].as_slice(), &[2, 3], &[2]]
        .iter()
        .map(|s| {
            let t = gen.randn(*s, DType::F64, Device::Cpu)?;
            t.set_requires_grad(true)?;
            Ok(t)
        })
        .collect::<Result<_>>()?;
    let f = |x: &[Tensor]| LinearFn::default().apply(&[&x[0], &x[1], &x[2]])?.tanh();
    gradcheck(f, &xs, GradcheckOptions::default())?;
    gradgradcheck(f, &xs, GradcheckOptions::default())
}

/// Fits `y = x @ [2, -3]ᵀ + 0.5` by SGD, with `linear` as the model; returns the final loss
/// and parameters.
fn fit(linear: impl Fn(&Tensor, &Tensor, &Tensor) -> Result<Tensor>) -> Result<(f64, Vec<f64>)> {
    let gen = Generator::new(8);
    let x = gen.randn([32, 2], DType::F64, Device::Cpu)?;
    let truth = Tensor::from_slice(&[2.0f64, -3.0], [1, 2], Device::Cpu)?;
    let y = x.matmul(&truth.t()?)?.add_scalar(0.5)?;
    let w = Tensor::zeros([1, 2], DType::F64, Device::Cpu)?;
    let b = Tensor::zeros([1], DType::F64, Device::Cpu)?;
    let mut loss = f64::NAN;
    for _ in 0..200 {
        w.set_requires_grad(true)?;
        b.set_requires_grad(true)?;
        let l = linear(&x, &w, &b)?.sub(&y)?.square()?.mean_all()?;
        loss = l.to_scalar()?;
        l.backward()?;
        let _off = silica_core::no_grad();
        for p in [&w, &b] {
            p.set_data(&p.sub(&p.grad().unwrap().mul_scalar(0.1)?)?)?;
            p.set_grad(None)?;
        }
    }
    Ok((loss, [values(&w), values(&b)].concat()))
}

#[test]
fn a_model_built_on_a_custom_function_trains() -> Result<()> {
    let (loss, params) = fit(|x, w, b| LinearFn::default().apply(&[x, w, b]))?;
    assert!(loss < 1e-8, "loss {loss}");
    for (p, want) in params.iter().zip([2.0, -3.0, 0.5]) {
        assert!((p - want).abs() < 1e-4, "{params:?}");
    }
    // The same steps as the built-in ops take.
    let (_, builtin) = fit(|x, w, b| x.matmul(&w.t()?)?.add(b))?;
    for (a, b) in params.iter().zip(&builtin) {
        assert!((a - b).abs() < 1e-12, "{params:?} vs {builtin:?}");
    }
    Ok(())
}

/// `x²` whose gradient uses a detached `x`: right once, wrong when differentiated again.
struct DetachedSquare {
    x: Option<Tensor>,
    claims_double_backward: bool,
}

impl Function for DetachedSquare {
    fn name(&self) -> &'static str {
        "detached_square"
    }
    fn forward(&mut self, inputs: &[Tensor]) -> Result<Tensor> {
        self.x = Some(inputs[0].detach());
        inputs[0].square()
    }
    fn backward(&self, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(
            g.mul(&self.x.as_ref().unwrap().mul_scalar(2.0)?)?,
        )])
    }
    fn supports_double_backward(&self) -> bool {
        self.claims_double_backward
    }
}

#[test]
fn create_graph_through_a_function_without_double_backward_is_refused() -> Result<()> {
    let x = leaf(&[1.5, -0.5], &[2]);
    let square = |claims| DetachedSquare {
        x: None,
        claims_double_backward: claims,
    };
    let y = square(false).apply(&[&x])?.sum_all()?;
    let opts = BackwardOptions {
        create_graph: true,
        retain_graph: true,
    };
    let err = grad(&y, &[&x], None, opts).unwrap_err().to_string();
    assert!(
        err.contains("detached_square") && err.contains("create_graph"),
        "{err}"
    );
    // Without create_graph it is fine.
    let g = grad(&y, &[&x], None, BackwardOptions::default())?;
    assert_eq!(values(g[0].as_ref().unwrap()), vec![3.0, -1.0]);
    // A function that claims double backward falsely is caught by gradgradcheck.
    let f = |x: &[Tensor]| square(true).apply(&[&x[0]]);
    gradcheck(f, std::slice::from_ref(&x), GradcheckOptions::default())?;
    let err = gradgradcheck(f, &[x], GradcheckOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("gradgradcheck"), "{err}");
    Ok(())
}

/// Returns the gradients it was built with, whatever the inputs.
struct Fixed(Vec<Option<Tensor>>);

impl Function for Fixed {
    fn name(&self) -> &'static str {
        "fixed"
    }
    fn forward(&mut self, inputs: &[Tensor]) -> Result<Tensor> {
        inputs[0].mul_scalar(1.0)
    }
    fn backward(&self, _: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(self.0.clone())
    }
}

#[test]
fn a_function_returning_bad_gradients_is_an_error_naming_it() -> Result<()> {
    let x = leaf(&[1.0, 2.0], &[2]);
    let cases = [
        (vec![], "returned 0 gradients for 1 inputs"),
        (
            vec![Some(Tensor::ones([3], DType::F64, Device::Cpu)?)],
            "[3]",
        ),
        (
            vec![Some(Tensor::ones([2], DType::F32, Device::Cpu)?)],
            "f32",
        ),
    ];
    for (grads, needle) in cases {
        let err = Fixed(grads)
            .apply(&[&x])?
            .sum_all()?
            .backward()
            .unwrap_err()
            .to_string();
        assert!(err.contains("fixed") && err.contains(needle), "{err}");
    }
    // No input requires a gradient: nothing is recorded.
    let plain = Tensor::ones([2], DType::F64, Device::Cpu)?;
    assert!(!Fixed(vec![]).apply(&[&plain])?.requires_grad());
    Ok(())
}

/// A small CNN's loss as a function of (input, conv weight, conv bias, batch-norm weight,
/// linear weight): conv, batch norm, ReLU, max and average pooling, a linear layer and cross
/// entropy.
fn cnn_loss(xs: &[Tensor]) -> Result<Tensor> {
    let (x, w, b, gamma, fc) = (&xs[0], &xs[1], &xs[2], &xs[3], &xs[4]);
    let h = x.conv2d(w, Some(b), &Conv2dConfig::default().with_padding(1))?;
    let h = h.batch_norm_train(Some(gamma), None, 1e-5)?.0.relu()?;
    let h = h.max_pool2d(&Pool2dConfig::new(2))?;
    let h = h.avg_pool2d(&Pool2dConfig::new(2))?.flatten(1, 3)?;
    let logits = h.matmul(&fc.t()?)?;
    let targets = Tensor::from_slice(&[0i64, 2, 1], [3], x.device())?;
    logits
        .log_softmax(1)?
        .gather(1, &targets.unsqueeze(1)?)?
        .neg()?
        .mean_all()
}

#[test]
fn a_small_cnns_second_derivative_agrees_with_finite_differences() -> Result<()> {
    let fake = AsyncCpuBackend::register();
    for device in [Device::Cpu, fake] {
        let gen = Generator::new(21);
        let shapes: [&[usize]; 5] = [&[3, 2, 4, 4], &[3, 2, 3, 3], &[3], &[3], &[3, 3]];
        let xs: Vec<Tensor> = shapes
            .iter()
            .map(|s| {
                let t = gen.randn(*s, DType::F64, Device::Cpu)?.to_device(device)?;
                t.set_requires_grad(true)?;
                Ok(t)
            })
            .collect::<Result<_>>()?;
        gradgradcheck(cnn_loss, &xs, GradcheckOptions::default())
            .map_err(|e| silica_core::Error::Autograd(format!("on {device}: {e}")))?;
    }
    Ok(())
}
