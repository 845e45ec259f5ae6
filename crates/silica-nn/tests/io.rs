//! Checkpoints: a full round trip, and corrupt or truncated files that must be refused with a
//! message listing the problems, leaving the model as it was.

use silica_core::{DType, Device, Generator, GeneratorState, Tensor};
use silica_nn::io::{load_checkpoint, save_checkpoint, Checkpoint};
use silica_nn::nn::{Linear, Module};
use silica_nn::optim::{Adam, AdamConfig, Optimizer};

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("silica-io-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A model and optimizer after one step, so the optimizer has state.
fn trained() -> (Linear, Adam) {
    let gen = Generator::new(4);
    let model = Linear::new(3, 2, true, &gen).unwrap();
    let mut opt = Adam::new(model.parameters(), AdamConfig::new(0.1)).unwrap();
    let x = gen.randn([5, 3], DType::F32, Device::Cpu).unwrap();
    model
        .forward(&x)
        .unwrap()
        .square()
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    opt.step().unwrap();
    (model, opt)
}

#[test]
fn checkpoints_round_trip() {
    let dir = scratch("roundtrip");
    let (model, opt) = trained();
    let ckpt = Checkpoint {
        model: model.state_dict(),
        optimizer: Some(opt.state_dict().unwrap()),
        scheduler: Some(serde_json::json!({"last_epoch": 3})),
        step: 17,
        epoch: 2,
        generator: Some(GeneratorState {
            seed: 5,
            offset: 99,
        }),
        extra: [("model".to_string(), "linear".to_string())].into(),
    };
    let path = dir.join("ckpt.safetensors");
    save_checkpoint(&ckpt, &path).unwrap();
    let back = load_checkpoint(&path, Device::Cpu).unwrap();
    assert_eq!((back.step, back.epoch), (17, 2));
    assert_eq!(
        back.generator,
        Some(GeneratorState {
            seed: 5,
            offset: 99
        })
    );
    assert_eq!(back.scheduler, ckpt.scheduler);
    assert_eq!(back.extra, ckpt.extra);
    for (k, v) in &ckpt.model {
        assert_eq!(
            back.model[k].to_vec::<f32>().unwrap(),
            v.to_vec::<f32>().unwrap(),
            "{k}"
        );
    }
    let (saved, loaded) = (ckpt.optimizer.unwrap(), back.optimizer.unwrap());
    assert_eq!(saved.meta, loaded.meta);
    assert_eq!(
        saved.tensors.keys().collect::<Vec<_>>(),
        loaded.tensors.keys().collect::<Vec<_>>()
    );
    // A fresh optimizer accepts the loaded state.
    let (fresh_model, _) = trained();
    let mut fresh = Adam::new(fresh_model.parameters(), AdamConfig::new(0.1)).unwrap();
    fresh.load_state_dict(&loaded).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn corrupt_checkpoints_are_refused_and_leave_the_model_alone() {
    let dir = scratch("corrupt");
    let (model, opt) = trained();
    let good = Checkpoint {
        model: model.state_dict(),
        optimizer: Some(opt.state_dict().unwrap()),
        ..Default::default()
    };
    let path = dir.join("good.safetensors");
    save_checkpoint(&good, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let plain = dir.join("plain.safetensors");
    silica_core::safetensors::save(
        &[("w", &Tensor::ones([2], DType::F32, Device::Cpu).unwrap())],
        &plain,
    )
    .unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated",
            bytes[..bytes.len() - 7].to_vec(),
            "not a readable checkpoint",
        ),
        ("empty", Vec::new(), "not a readable checkpoint"),
        (
            "header garbage",
            [&bytes[..8], &vec![b'x'; bytes.len() - 8][..]].concat(),
            "not a readable checkpoint",
        ),
        (
            "a plain state dict",
            std::fs::read(&plain).unwrap(),
            "silica.checkpoint",
        ),
    ];
    let target = Linear::new(3, 2, true, &Generator::new(77)).unwrap();
    let before: Vec<Vec<f32>> = target
        .parameters()
        .iter()
        .map(|p| p.to_vec().unwrap())
        .collect();
    for (what, data, needle) in cases {
        let bad = dir.join("bad.safetensors");
        std::fs::write(&bad, data).unwrap();
        let err = match load_checkpoint(&bad, Device::Cpu) {
            Ok(ckpt) => target
                .load_state_dict(&ckpt.model, true)
                .map(|_| ())
                .unwrap_err(),
            Err(e) => e,
        };
        let msg = err.to_string();
        assert!(
            msg.contains(needle) && msg.contains("bad.safetensors"),
            "{what}: {msg}"
        );
    }
    let after: Vec<Vec<f32>> = target
        .parameters()
        .iter()
        .map(|p| p.to_vec().unwrap())
        .collect();
    assert_eq!(before, after);
    // A state dict with a wrong shape and an unknown key: every problem is listed, nothing loads.
    let mut wrong = good.model.clone();
    wrong.insert(
        "weight".into(),
        Tensor::zeros([5, 5], DType::F32, Device::Cpu).unwrap(),
    );
    wrong.insert(
        "extra".into(),
        Tensor::zeros([1], DType::F32, Device::Cpu).unwrap(),
    );
    wrong.remove("bias");
    let msg = target
        .load_state_dict(&wrong, true)
        .unwrap_err()
        .to_string();
    for needle in [
        "\"weight\"",
        "[5, 5]",
        "missing key \"bias\"",
        "unexpected key \"extra\"",
    ] {
        assert!(msg.contains(needle), "{msg} lacks {needle}");
    }
    let after: Vec<Vec<f32>> = target
        .parameters()
        .iter()
        .map(|p| p.to_vec().unwrap())
        .collect();
    assert_eq!(before, after);
    let _ = std::fs::remove_dir_all(&dir);
}
