//! `silica bench` end to end, with the short timing of `--quick`: every workload appears in the
//! JSON with a finite positive figure, on the CPU and on the asynchronous fake device; a device
//! the machine lacks is a clear error. No test asserts anything about speed.

use serde_json::Value;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_silica"))
        .args(args)
        .output()
        .expect("run silica")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const WORKLOADS: [&str; 7] = [
    "matmul_f32_256",
    "matmul_f32_512",
    "matmul_f32_1024",
    "small_add_chain_1000",
    "mlp_b128_adam",
    "cnn_b64_sgd",
    "gpt_L4_d128_T64_B16_adamw",
];

/// Runs `silica bench --quick --json` with `extra` and returns the parsed report.
fn bench_json(extra: &[&str]) -> Value {
    let mut args = vec!["bench", "--quick", "--json"];
    args.extend_from_slice(extra);
    let out = run(&args);
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", text(&out.stdout)))
}

/// The figure of `name` on `side` (`silica`, `pytorch`, `candle`), checked finite and positive.
fn figure(report: &Value, name: &str, side: &str) -> f64 {
    let rows = report["workloads"].as_array().expect("a workloads array");
    let row = rows
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("{name} is missing: {report:#}"));
    let f = row[side]["figure"]
        .as_f64()
        .unwrap_or_else(|| panic!("{name}: no {side} figure: {row:#}"));
    let s = row[side]["seconds"].as_f64().unwrap();
    assert!(f.is_finite() && f > 0.0, "{name}: {side} figure {f}");
    assert!(s.is_finite() && s > 0.0, "{name}: {side} seconds {s}");
    f
}

#[test]
fn every_workload_runs_on_the_cpu() {
    let report = bench_json(&["--device", "cpu", "--threads", "2"]);
    for name in WORKLOADS {
        figure(&report, name, "silica");
    }
    assert_eq!(
        report["workloads"].as_array().unwrap().len(),
        WORKLOADS.len()
    );
    assert_eq!(report["threads"], 2);
    assert!(report["pytorch"].is_null() && report["candle"].is_null());
    for key in ["cpu", "date", "command", "openblas_core", "device"] {
        assert!(report[key].is_string(), "{key}: {report:#}");
    }
    // 2 n³ flops per n×n matmul: the figure is the flop count over the time.
    let rows = report["workloads"].as_array().unwrap();
    let mm = rows.iter().find(|r| r["name"] == "matmul_f32_256").unwrap();
    let (f, s) = (
        mm["silica"]["figure"].as_f64().unwrap(),
        mm["silica"]["seconds"].as_f64().unwrap(),
    );
    assert!((f * s * 1e9 / (2.0 * 256f64.powi(3)) - 1.0).abs() < 1e-9);
}

#[test]
fn every_workload_runs_on_the_async_fake_device() {
    let report = bench_json(&["--device", "fake"]);
    for name in WORKLOADS {
        figure(&report, name, "silica");
    }
    assert!(report["device"].as_str().unwrap().contains("fake"));
}

#[test]
fn the_table_names_the_machine_and_every_workload() {
    let out = run(&["bench", "--quick", "--only", "small_add"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    for needle in [
        "machine:",
        "OpenBLAS core type:",
        "date:",
        "command: `silica bench --quick --only small_add`",
        "| workload | Silica | PyTorch | Silica/PyTorch | candle | Silica/candle |",
        "| one small add (16 elements) in a chain of 1000 |",
    ] {
        assert!(table.contains(needle), "lacks {needle:?}:\n{table}");
    }
    assert!(!table.contains("matmul"), "{table}");
}

#[test]
fn unavailable_or_unknown_devices_are_clear_errors() {
    let out = run(&["bench", "--quick", "--device", "cuda"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cuda:0 is not available"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["bench", "--device", "tpu"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown device"));
    let out = run(&["bench", "--quick", "--only", "resnet"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("matches no workload"));
}

#[test]
fn a_missing_python_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_silica"))
        .args(["bench", "--quick", "--only", "small_add", "--vs-torch"])
        .env("SILICA_PYTHON", "/nonexistent/python3")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("could not run /nonexistent/python3") && err.contains("SILICA_PYTHON"),
        "{err}"
    );
}

/// With PyTorch installed (CI installs it), `--vs-torch` runs the twin and the ratio appears.
#[test]
fn vs_torch_reports_the_twin_and_its_openblas_core() {
    let has_torch = Command::new("/usr/bin/python3")
        .args(["-c", "import torch"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_torch {
        eprintln!("skipped: no PyTorch at /usr/bin/python3");
        return;
    }
    let report = bench_json(&["--only", "small_add", "--vs-torch"]);
    figure(&report, "small_add_chain_1000", "pytorch");
    let row = &report["workloads"][0];
    assert!(row["silica_over_pytorch"].as_f64().unwrap() > 0.0);
    assert_eq!(report["pytorch"]["engine"], "PyTorch");
    assert!(report["openblas_core"].is_string());
}
