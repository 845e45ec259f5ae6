//! Models that move between devices and dtypes: `Module::to_device`/`to_dtype`, the optimizer's
//! state that moves with `Optimizer::to_device` (or is refused at `step` when left behind),
//! layers built directly on a device with `build_on`, and state dicts and checkpoints loaded
//! onto a model on another device. The device is the asynchronous fake backend: the CPU
//! kernels run later on a worker thread, as on a GPU.

use silica_core::backendtest::AsyncCpuBackend;
use silica_core::{Conv2dConfig, DType, Device, Generator, Pool2dConfig, Result, Tensor};
use silica_nn::io::{load_checkpoint, save_checkpoint, Checkpoint};
use silica_nn::nn::{
    build_on, cross_entropy, BatchNorm2d, Conv2d, CrossEntropyOptions, Flatten, Linear, MaxPool2d,
    Module, ReLU, Sequential,
};
use silica_nn::optim::{Adam, AdamConfig, Optimizer};
use std::ops::Range;
use std::sync::OnceLock;

/// The fake device, registered once for the whole binary.
fn fake() -> Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    *DEVICE.get_or_init(AsyncCpuBackend::register)
}

/// A fake device that lacks F64, as Metal does.
fn fake_without_f64() -> Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    *DEVICE.get_or_init(|| AsyncCpuBackend::register_without(&[DType::F64]))
}

/// A small CNN with batch norm (running-statistics buffers), pooling and a linear head, for
/// `[n, 1, 8, 8]` inputs. The convolution has no bias: batch norm would cancel it, leaving it a
/// gradient of rounding noise that Adam's normalisation blows up to full steps.
fn cnn(seed: u64) -> Result<Sequential> {
    let gen = Generator::new(seed);
    let same = Conv2dConfig::default().with_padding(1);
    Ok(Sequential::new()
        .add(Conv2d::new(1, 4, [3, 3], same, false, &gen)?)
        .add(BatchNorm2d::new(4)?)
        .add(ReLU)
        .add(MaxPool2d::new(Pool2dConfig::new(2)))
        .add(Flatten::new())
        .add(Linear::new(4 * 4 * 4, 3, true, &gen)?))
}

/// A batch of inputs and integer targets on `device`.
fn batch(step: u64, device: Device) -> Result<(Tensor, Tensor)> {
    let gen = Generator::new(100 + step);
    let x = gen.randn([6, 1, 8, 8], DType::F32, Device::Cpu)?;
    let y = Tensor::from_vec(vec![0i64, 1, 2, 2, 1, 0], [6], Device::Cpu)?;
    Ok((x.to_device(device)?, y.to_device(device)?))
}

/// Adam steps of `model` on `device`, on the batches numbered `steps`.
fn train(model: &Sequential, opt: &mut Adam, device: Device, steps: Range<u64>) -> Result<()> {
    for step in steps {
        let (x, y) = batch(step, device)?;
        opt.zero_grad();
        let loss = cross_entropy(&model.forward(&x)?, &y, &CrossEntropyOptions::default())?;
        loss.backward()?;
        opt.step()?;
    }
    Ok(())
}

/// Every parameter and buffer of a model, by name, as f64 values read back to the host.
fn values(model: &Sequential) -> Vec<(String, Vec<f64>)> {
    model
        .state_dict()
        .into_iter()
        .map(|(k, t)| (k, t.to_f64_vec().unwrap()))
        .collect()
}

fn assert_close(a: &[(String, Vec<f64>)], b: &[(String, Vec<f64>)], tol: f64) {
    assert_eq!(a.len(), b.len());
    for ((name, x), (other, y)) in a.iter().zip(b) {
        assert_eq!(name, other);
        assert_eq!(x.len(), y.len(), "{name}");
        for (i, (u, v)) in x.iter().zip(y).enumerate() {
            assert!((u - v).abs() <= tol, "{name}[{i}]: {u} vs {v}");
        }
    }
}

#[test]
fn a_cnn_moved_to_the_fake_device_trains_like_the_cpu() -> Result<()> {
    let on_cpu = cnn(1)?;
    let mut cpu_opt = Adam::new(on_cpu.parameters(), AdamConfig::new(1e-2))?;
    train(&on_cpu, &mut cpu_opt, Device::Cpu, 0..4)?;

    let moved = cnn(1)?;
    let handles = moved.parameters();
    let mut opt = Adam::new(moved.parameters(), AdamConfig::new(1e-2))?;
    moved.to_device(fake())?;
    opt.to_device(fake())?;
    for (t, _) in moved.state_dict().values().zip(0..) {
        assert_eq!(t.device(), fake(), "every parameter and buffer moves");
    }
    // The optimizer's handles are the model's: they moved with it.
    assert!(handles.iter().all(|p| p.device() == fake()));
    train(&moved, &mut opt, fake(), 0..4)?;
    assert_close(&values(&on_cpu), &values(&moved), 1e-6);
    // The running statistics moved and were updated on the device.
    let stats = moved.state_dict()["1.running_mean"].to_f64_vec()?;
    assert!(stats.iter().any(|&v| v != 0.0), "{stats:?}");
    Ok(())
}

#[test]
fn moving_mid_training_carries_the_optimizer_state_and_gradients() -> Result<()> {
    let straight = cnn(2)?;
    let mut opt = Adam::new(straight.parameters(), AdamConfig::new(1e-2))?;
    train(&straight, &mut opt, Device::Cpu, 0..3)?;

    let model = cnn(2)?;
    let mut opt = Adam::new(model.parameters(), AdamConfig::new(1e-2))?;
    train(&model, &mut opt, Device::Cpu, 0..2)?;
    let grad_before = model.parameters()[0].grad().unwrap().to_f64_vec()?;
    model.to_device(fake())?;
    opt.to_device(fake())?;
    let grad = model.parameters()[0].grad().unwrap();
    assert_eq!(
        grad.device(),
        fake(),
        "gradients move with their parameters"
    );
    assert_eq!(grad.to_f64_vec()?, grad_before);
    train(&model, &mut opt, fake(), 2..3)?;
    assert_close(&values(&straight), &values(&model), 1e-6);
    Ok(())
}

#[test]
fn an_optimizer_left_behind_is_a_clear_error_and_changes_nothing() -> Result<()> {
    let model = cnn(3)?;
    let mut opt = Adam::new(model.parameters(), AdamConfig::new(1e-2))?;
    train(&model, &mut opt, Device::Cpu, 0..1)?;
    model.to_device(fake())?;
    let params =
        || -> Result<Vec<Vec<f64>>> { model.parameters().iter().map(Tensor::to_f64_vec).collect() };
    let before = params()?;
    let err = train(&model, &mut opt, fake(), 1..2)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Adam") && err.contains("optimizer.to_device"),
        "{err}"
    );
    assert!(
        err.contains("cpu") && err.contains(&fake().to_string()),
        "{err}"
    );
    assert_eq!(params()?, before, "a refused step updates nothing");
    // Moving the state fixes it.
    opt.to_device(fake())?;
    opt.step()?;
    assert_ne!(params()?, before);
    Ok(())
}

#[test]
fn layers_built_on_a_device_match_the_cpu_weights() -> Result<()> {
    for dtype in [DType::F32, DType::F64] {
        let build = |device| -> Result<Sequential> {
            let _on = build_on(device, dtype)?;
            cnn(4)
        };
        let (on_cpu, built) = (build(Device::Cpu)?, build(fake())?);
        for (name, t) in built.state_dict() {
            assert_eq!(t.device(), fake(), "{name}");
            let want = if name.ends_with("num_batches_tracked") {
                DType::I64
            } else {
                dtype
            };
            assert_eq!(t.dtype(), want, "{name} in {dtype:?}");
        }
        // Every device draws the same Philox stream.
        assert_close(&values(&on_cpu), &values(&built), 0.0);
    }
    // The default is the CPU in F32, and out of a guard layers go back to it.
    let plain = cnn(4)?;
    let f32_on_cpu = {
        let _on = build_on(Device::Cpu, DType::F32)?;
        cnn(4)?
    };
    assert_close(&values(&plain), &values(&f32_on_cpu), 0.0);
    // Out of the guard, layers go back to the CPU in F32.
    let after = Linear::new(2, 2, true, &Generator::new(0))?;
    assert_eq!(
        (after.weight().device(), after.weight().dtype()),
        (Device::Cpu, DType::F32)
    );
    Ok(())
}

#[test]
fn build_on_refuses_integer_and_unsupported_dtypes() {
    let err = build_on(fake(), DType::I64).unwrap_err().to_string();
    assert!(err.contains("build_on") && err.contains("i64"), "{err}");
    let err = build_on(fake_without_f64(), DType::F64)
        .unwrap_err()
        .to_string();
    assert!(err.contains("f64"), "{err}");
}

#[test]
fn to_dtype_fails_cleanly_where_the_device_lacks_the_dtype() -> Result<()> {
    let model = cnn(5)?;
    model.to_device(fake_without_f64())?;
    let before = values(&model);
    let err = model.to_dtype(DType::F64).unwrap_err().to_string();
    assert!(err.contains("f64"), "{err}");
    for t in model.state_dict().values() {
        assert_eq!(t.device(), fake_without_f64());
        assert_ne!(
            t.dtype(),
            DType::F64,
            "a failed cast leaves every tensor as it was"
        );
    }
    assert_eq!(values(&model), before);
    let err = model.to_dtype(DType::I32).unwrap_err().to_string();
    assert!(err.contains("to_dtype"), "{err}");

    // Where it is supported, the cast keeps integer buffers and every handle.
    let model = cnn(5)?;
    let weight = model.parameters()[0].clone();
    model.to_dtype(DType::F64)?;
    assert_eq!(weight.dtype(), DType::F64);
    assert_eq!(
        model.state_dict()["1.num_batches_tracked"].dtype(),
        DType::I64
    );
    assert_close(&values(&cnn(5)?), &values(&model), 0.0);
    Ok(())
}

#[test]
fn a_state_dict_loads_onto_the_models_device() -> Result<()> {
    let source = cnn(6)?;
    let target = cnn(7)?;
    target.to_device(fake())?;
    target.load_state_dict(&source.state_dict(), true)?;
    for t in target.state_dict().values() {
        assert_eq!(t.device(), fake());
    }
    assert_close(&values(&source), &values(&target), 0.0);
    Ok(())
}

#[test]
fn a_checkpoint_restores_model_and_optimizer_on_the_device() -> Result<()> {
    let model = cnn(8)?;
    let mut opt = Adam::new(model.parameters(), AdamConfig::new(1e-2))?;
    train(&model, &mut opt, Device::Cpu, 0..2)?;
    let path =
        std::env::temp_dir().join(format!("silica-devices-{}.safetensors", std::process::id()));
    save_checkpoint(
        &Checkpoint {
            model: model.state_dict(),
            optimizer: Some(opt.state_dict()?),
            ..Checkpoint::default()
        },
        &path,
    )?;
    train(&model, &mut opt, Device::Cpu, 2..3)?;

    let ckpt = load_checkpoint(&path, fake())?;
    std::fs::remove_file(&path).ok();
    assert!(ckpt.model.values().all(|t| t.device() == fake()));
    let restored = cnn(9)?;
    restored.to_device(fake())?;
    restored.load_state_dict(&ckpt.model, true)?;
    let mut restored_opt = Adam::new(restored.parameters(), AdamConfig::new(1e-2))?;
    restored_opt.load_state_dict(ckpt.optimizer.as_ref().unwrap())?;
    // The moments sit on the device; `step` is a host counter, as PyTorch's.
    for (key, t) in restored_opt.state_dict()?.tensors {
        assert!(
            key.ends_with(".step") || t.device() == fake(),
            "{key} on {}",
            t.device()
        );
    }
    train(&restored, &mut restored_opt, fake(), 2..3)?;
    assert_close(&values(&model), &values(&restored), 1e-6);
    Ok(())
}
