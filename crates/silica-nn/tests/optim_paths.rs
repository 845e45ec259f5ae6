//! The CPU backend's fused Adam kernel and the composed update that other backends fall back
//! to give the same parameters and state. The async fake device has no fused kernel, so it
//! runs the composed path.

use silica_core::backendtest::AsyncCpuBackend;
use silica_core::{DType, Device, Generator, Tensor};
use silica_nn::optim::{Adam, AdamConfig, AdamW, AdamWConfig, Optimizer};

/// Parameters after three steps with fixed gradients on `device`, and the state tensors.
fn run(
    device: Device,
    dtype: DType,
    make: &dyn Fn(Vec<Tensor>) -> Box<dyn Optimizer>,
) -> Vec<Vec<f64>> {
    let gen = Generator::new(3);
    let p = gen
        .randn([4, 5], dtype, Device::Cpu)
        .unwrap()
        .to_device(device)
        .unwrap();
    p.set_requires_grad(true).unwrap();
    let mut opt = make(vec![p.clone()]);
    for _ in 0..3 {
        let g = gen
            .randn([4, 5], dtype, Device::Cpu)
            .unwrap()
            .to_device(device)
            .unwrap();
        p.set_grad(Some(g)).unwrap();
        opt.step().unwrap();
    }
    let mut out = vec![p.to_f64_vec().unwrap()];
    for t in opt.state_dict().unwrap().tensors.values() {
        out.push(t.to_f64_vec().unwrap());
    }
    out
}

#[test]
fn fused_and_composed_adam_agree() {
    let other = AsyncCpuBackend::register();
    type Make = Box<dyn Fn(Vec<Tensor>) -> Box<dyn Optimizer>>;
    let cases: Vec<(&str, Make)> = vec![
        (
            "adam",
            Box::new(|p| Box::new(Adam::new(p, AdamConfig::new(0.1)).unwrap())),
        ),
        (
            "adam l2 amsgrad maximize",
            Box::new(|p| {
                let c = AdamConfig {
                    weight_decay: 0.1,
                    amsgrad: true,
                    maximize: true,
                    ..AdamConfig::new(0.05)
                };
                Box::new(Adam::new(p, c).unwrap())
            }),
        ),
        (
            "adamw amsgrad",
            Box::new(|p| {
                let c = AdamWConfig {
                    amsgrad: true,
                    ..AdamWConfig::new(0.02)
                };
                Box::new(AdamW::new(p, c).unwrap())
            }),
        ),
    ];
    for (name, make) in &cases {
        for (dtype, tol) in [(DType::F32, 1e-6), (DType::F64, 1e-12)] {
            let fused = run(Device::Cpu, dtype, make.as_ref());
            let composed = run(other, dtype, make.as_ref());
            assert_eq!(fused.len(), composed.len(), "{name}");
            for (a, b) in fused.iter().flatten().zip(composed.iter().flatten()) {
                assert!(
                    (a - b).abs() <= tol * b.abs().max(1.0),
                    "{name} {dtype}: {a} vs {b}"
                );
            }
        }
    }
}
