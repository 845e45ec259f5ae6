//! A state dict saved by Silica loads in PyTorch, and one saved by PyTorch loads in Silica,
//! with the same outputs. Runs the Python side with `/usr/bin/python3`; where it or its
//! `torch` is missing, the test prints why and passes without checking, except under
//! `CI=true`, where it fails (`.ci/run` installs them, so a missing PyTorch is a CI fault).

use silica_core::{Conv2dConfig, DType, Device, Generator, Pool2dConfig, Tensor};
use silica_nn::io::{load_state_dict, save_state_dict};
use silica_nn::nn::{
    BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential, StateDict,
};
use std::path::PathBuf;
use std::process::Command;

const PYTHON: &str = "/usr/bin/python3";

fn model(gen: &Generator) -> Sequential {
    Sequential::new()
        .add(
            Conv2d::new(
                1,
                4,
                [3, 3],
                Conv2dConfig::default().with_padding(1),
                true,
                gen,
            )
            .unwrap(),
        )
        .add(BatchNorm2d::new(4).unwrap())
        .add(ReLU)
        .add(MaxPool2d::new(Pool2dConfig::new(2)))
        .add(Flatten::new())
        .add(Linear::new(4 * 4 * 4, 5, true, gen).unwrap())
}

fn torch_available() -> Result<(), String> {
    match Command::new(PYTHON)
        .args(["-c", "import torch, numpy"])
        .output()
    {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "{PYTHON} cannot import torch: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("{PYTHON} is not runnable: {e}")),
    }
}

fn assert_close(what: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.dims(), want.dims(), "{what}");
    for (a, b) in got
        .to_f64_vec()
        .unwrap()
        .iter()
        .zip(want.to_f64_vec().unwrap())
    {
        assert!(
            (a - b).abs() <= 1e-5 * b.abs().max(1.0),
            "{what}: {a} vs {b}"
        );
    }
}

#[test]
fn state_dicts_round_trip_through_pytorch() {
    if let Err(why) = torch_available() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(!ci, "CI is set but PyTorch is missing: {why}");
        println!("skipped: {why}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("silica-torch-rt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let gen = Generator::new(9);
    let ours = model(&gen);
    // Give batch norm non-trivial running statistics before saving.
    ours.forward(&gen.randn([8, 1, 8, 8], DType::F32, Device::Cpu).unwrap())
        .unwrap();
    ours.eval();
    let x = gen.randn([3, 1, 8, 8], DType::F32, Device::Cpu).unwrap();
    let state = dir.join("silica.safetensors");
    save_state_dict(&ours.state_dict(), &state).unwrap();
    let input = dir.join("input.safetensors");
    silica_core::safetensors::save(&[("x", &x)], &input).unwrap();
    let out = dir.join("torch.safetensors");

    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/golden/torch_roundtrip.py");
    let run = Command::new(PYTHON)
        .arg(&script)
        .args([&state, &input, &out])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "python: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let back = load_state_dict(&out, Device::Cpu).unwrap();

    // Silica's weights in PyTorch give Silica's output.
    assert_close(
        "silica weights in torch",
        &back["y_silica_weights"],
        &ours.forward(&x).unwrap(),
    );

    // PyTorch's weights load in Silica (strict) and give PyTorch's output.
    let torch_state: StateDict = back
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("torch.")?.to_string(), v.clone())))
        .collect();
    assert!(
        torch_state.contains_key("1.num_batches_tracked"),
        "{:?}",
        torch_state.keys()
    );
    let theirs = model(&Generator::new(1));
    theirs.load_state_dict(&torch_state, true).unwrap();
    theirs.eval();
    assert_close(
        "torch weights in silica",
        &theirs.forward(&x).unwrap(),
        &back["y_torch_weights"],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
