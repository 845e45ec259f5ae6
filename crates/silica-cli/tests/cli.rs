//! The `silica` command end to end: bad flags, devices, training to accuracy, and a resume
//! after a kill that ends with the same weights as an uninterrupted run.

use silica::io::{load_checkpoint, load_state_dict};
use silica::Device;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn silica() -> Command {
    Command::new(env!("CARGO_BIN_EXE_silica"))
}

fn run(args: &[&str]) -> Output {
    silica().args(args).output().expect("run silica")
}

/// A fresh folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("silica-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn bad_flags_print_usage_and_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["train", "--epochs", "zero"], "--epochs"),
        (&["train", "--epochs", "0"], "--epochs"),
        (&["train", "--batch", "0"], "--batch"),
        (&["train", "--model", "rnn"], "--model"),
        (&["train", "--device", "tpu"], "unknown device"),
        (&["train", "--lr"], "--lr"),
        (&["train", "--no-such-flag"], "--no-such-flag"),
        (&["fly"], "fly"),
        (&[], "Usage"),
    ];
    for (args, needle) in cases {
        let out = run(args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: stderr lacks {needle:?}: {err}"
        );
        assert!(
            err.contains("Usage") || err.contains("--help"),
            "{args:?}: no usage hint: {err}"
        );
    }
}

#[test]
fn devices_lists_the_cpu() {
    let out = run(&["devices"]);
    assert!(out.status.success());
    let s = text(&out.stdout);
    assert!(
        s.lines()
            .any(|l| l.starts_with("cpu") && l.contains("available")),
        "{s}"
    );
    assert!(s.contains("cuda:0"), "{s}");
}

#[test]
fn unavailable_device_is_a_clear_error() {
    let dir = scratch("nodev");
    let out = run(&["train", "--device", "cuda", "--out", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cuda:0 is not available"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_default_cnn_reaches_97_percent() {
    let dir = scratch("cnn");
    let out = run(&["train", "--out", dir.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let last = stdout.lines().last().unwrap();
    let pct: f64 = last
        .strip_prefix("test accuracy: ")
        .and_then(|s| s.strip_suffix('%'))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("last line is {last:?}"));
    assert!(pct >= 97.0, "{stdout}");
    assert!(dir.join("model.safetensors").exists() && dir.join("checkpoint.safetensors").exists());
}

/// The model tensors of a weights file, as f64 vectors by name.
fn weights(path: &Path) -> Vec<(String, Vec<f64>)> {
    load_state_dict(path, Device::Cpu)
        .unwrap()
        .into_iter()
        .map(|(k, t)| (k, t.to_f64_vec().unwrap()))
        .collect()
}

/// The default CNN, built on the CPU and moved with its optimizer to the asynchronous fake
/// device, trains to the CPU run's weights (f32, within 1e-6).
#[test]
fn the_cnn_trained_on_the_fake_device_matches_the_cpu() {
    let mut finals = Vec::new();
    for device in ["cpu", "fake"] {
        let dir = scratch(&format!("device-{device}"));
        let out = run(&[
            "train",
            "--epochs",
            "1",
            "--seed",
            "5",
            "--device",
            device,
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{device}: {}", text(&out.stderr));
        finals.push(weights(&dir.join("model.safetensors")));
    }
    let (cpu, fake) = (&finals[0], &finals[1]);
    assert_eq!(cpu.len(), fake.len());
    assert!(
        cpu.len() >= 4,
        "the CNN has weights and biases: {}",
        cpu.len()
    );
    for ((name, a), (other, b)) in cpu.iter().zip(fake) {
        assert_eq!(name, other);
        assert_eq!(a.len(), b.len(), "{name}");
        let worst = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        assert!(
            worst <= 1e-6,
            "{name}: fake device differs from the CPU by {worst}"
        );
    }
}

#[test]
fn a_killed_run_resumes_to_the_same_weights() {
    let epochs = "40";
    let common = [
        "train", "--model", "mlp", "--epochs", epochs, "--seed", "3", "--batch", "64",
    ];
    let straight = scratch("straight");
    let out = run(&[&common[..], &["--out", straight.to_str().unwrap()]].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));

    // Start the same run, kill it once a checkpoint exists, and resume from that checkpoint.
    let cut = scratch("cut");
    let ckpt = cut.join("checkpoint.safetensors");
    let mut child = silica()
        .args(common)
        .args(["--out", cut.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !ckpt.exists() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let saved = load_checkpoint(&ckpt, Device::Cpu).unwrap();
    assert!(
        saved.epoch < 40,
        "the run was killed before it finished (epoch {})",
        saved.epoch
    );
    let out = run(&[
        &common[..],
        &[
            "--out",
            cut.to_str().unwrap(),
            "--resume",
            ckpt.to_str().unwrap(),
        ],
    ]
    .concat());
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!(
            "resumed from {} at epoch {}",
            ckpt.display(),
            saved.epoch
        )),
        "{stdout}"
    );
    assert_eq!(
        weights(&straight.join("model.safetensors")),
        weights(&cut.join("model.safetensors")),
        "resumed weights differ from the uninterrupted run"
    );
}

#[test]
fn a_corrupt_checkpoint_is_refused_and_nothing_is_overwritten() {
    let dir = scratch("corrupt");
    let out = run(&[
        "train",
        "--model",
        "mlp",
        "--epochs",
        "1",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let ckpt = dir.join("checkpoint.safetensors");
    let good = std::fs::read(&ckpt).unwrap();
    let bad = dir.join("bad.safetensors");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() / 2].to_vec()),
        ("garbage", b"not a checkpoint at all".to_vec()),
        (
            "flipped header length",
            [&[0xff; 8][..], &good[8..]].concat(),
        ),
    ];
    for (what, bytes) in cases {
        std::fs::write(&bad, &bytes).unwrap();
        let out = run(&[
            "train",
            "--model",
            "mlp",
            "--epochs",
            "2",
            "--out",
            dir.to_str().unwrap(),
            "--resume",
            bad.to_str().unwrap(),
        ]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {err}");
        assert!(
            err.contains("bad.safetensors"),
            "{what}: the error names the file: {err}"
        );
        assert_eq!(
            std::fs::read(&ckpt).unwrap(),
            good,
            "{what}: the existing checkpoint changed"
        );
    }
    // A checkpoint of the other model kind is refused too.
    let out = run(&[
        "train",
        "--model",
        "cnn",
        "--epochs",
        "2",
        "--out",
        dir.to_str().unwrap(),
        "--resume",
        ckpt.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not cnn"),
        "{}",
        text(&out.stderr)
    );
}
