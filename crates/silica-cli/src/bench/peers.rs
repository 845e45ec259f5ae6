//! The competitors, run as child processes right after Silica on the same machine: the PyTorch
//! twin (`tools/bench/torch_twin.py`, embedded in this binary) and the candle runner
//! (`tools/bench/candle/`, a crate outside the workspace that `cargo run` builds).
//!
//! Both print one JSON object on stdout: `engine`, `version`, `seconds` (the median seconds of
//! one step, by workload name) and whatever else describes how they ran (PyTorch's OpenBLAS
//! core type, for one).

use serde_json::{Map, Value};
use silica::{Error, Result};
use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The PyTorch twin's source, written to a temporary file when it runs.
const TORCH_TWIN: &str = include_str!("../../../../tools/bench/torch_twin.py");

/// The repository root at build time, where the candle runner's crate lives.
const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// What the peers are asked to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerOptions {
    /// The peer's device, in PyTorch's words: `cpu`, `cuda:N` or `mps`.
    pub device: String,
    /// Threads for the peer's kernels.
    pub threads: usize,
    /// Short timing, as `silica bench --quick`.
    pub quick: bool,
    /// Only the workloads whose name contains this.
    pub only: Option<String>,
}

impl PeerOptions {
    fn args(&self) -> Vec<String> {
        let mut args = vec![
            "--device".to_string(),
            self.device.clone(),
            "--threads".to_string(),
            self.threads.to_string(),
        ];
        if self.quick {
            args.push("--quick".into());
        }
        if let Some(only) = &self.only {
            args.extend(["--only".to_string(), only.clone()]);
        }
        args
    }
}

/// One peer's measurements.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerRun {
    /// `PyTorch` or `candle`.
    pub engine: String,
    /// The peer's version.
    pub version: String,
    /// Median seconds of one step, by workload name; a workload the peer cannot run is absent.
    pub seconds: BTreeMap<String, f64>,
    /// The rest of the peer's report (threads, BLAS, OpenBLAS core type, ...).
    pub info: Map<String, Value>,
}

impl PeerRun {
    /// A string field of [`PeerRun::info`].
    pub fn info_str(&self, key: &str) -> Option<&str> {
        self.info.get(key).and_then(Value::as_str)
    }
}

/// Runs the PyTorch twin with the Python of `SILICA_PYTHON` (default `/usr/bin/python3`).
pub fn run_torch(options: &PeerOptions) -> Result<PeerRun> {
    let python = std::env::var("SILICA_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let script = std::env::temp_dir().join(format!("silica-torch-twin-{}.py", std::process::id()));
    std::fs::write(&script, TORCH_TWIN).map_err(|source| Error::Io {
        path: script.display().to_string(),
        source,
    })?;
    eprintln!("running the PyTorch twin with {python} ...");
    let output = Command::new(&python)
        .arg(&script)
        .args(options.args())
        .stdin(Stdio::null())
        .output();
    let _ = std::fs::remove_file(&script);
    let output = output.map_err(|e| {
        let why = if e.kind() == ErrorKind::NotFound {
            "it was not found".to_string()
        } else {
            e.to_string()
        };
        Error::invalid(
            "bench",
            format!(
                "--vs-torch could not run {python} ({why}); set SILICA_PYTHON to a Python 3 \
                 with PyTorch"
            ),
        )
    })?;
    if !output.status.success() {
        return Err(Error::invalid(
            "bench",
            format!(
                "the PyTorch twin failed ({}): {}",
                output.status,
                tail(&String::from_utf8_lossy(&output.stderr))
            ),
        ));
    }
    parse(&output.stdout, "the PyTorch twin")
}

/// Builds and runs the candle runner with `cargo run --release`, with `RAYON_NUM_THREADS` set
/// to the thread count. Cargo's build output goes to stderr.
pub fn run_candle(options: &PeerOptions) -> Result<PeerRun> {
    let manifest = candle_manifest();
    if !manifest.is_file() {
        return Err(Error::invalid(
            "bench",
            format!(
                "--vs-candle needs the candle runner's crate at {}, in a checkout of the \
                 Silica repository",
                manifest.display()
            ),
        ));
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!(
        "building and running the candle runner ({}); its first build takes minutes ...",
        manifest.display()
    );
    let output = Command::new(&cargo)
        .args(["run", "--release", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .arg("--")
        .args(options.args())
        .env("RAYON_NUM_THREADS", options.threads.to_string())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| {
            let why = if e.kind() == ErrorKind::NotFound {
                "cargo is not installed".to_string()
            } else {
                e.to_string()
            };
            Error::invalid(
                "bench",
                format!("--vs-candle could not run {cargo} to build the candle runner: {why}"),
            )
        })?;
    if !output.status.success() {
        return Err(Error::invalid(
            "bench",
            format!(
                "the candle runner failed ({}); its errors are above",
                output.status
            ),
        ));
    }
    parse(&output.stdout, "the candle runner")
}

/// `tools/bench/candle/Cargo.toml` of the checkout this binary was built from.
fn candle_manifest() -> PathBuf {
    Path::new(REPO).join("tools/bench/candle/Cargo.toml")
}

/// A peer's JSON report.
fn parse(stdout: &[u8], who: &str) -> Result<PeerRun> {
    let bad = |msg: String| Error::invalid("bench", format!("{who} printed {msg}"));
    let value: Value = serde_json::from_slice(stdout).map_err(|e| {
        bad(format!(
            "something other than its JSON report ({e}): {}",
            tail(&String::from_utf8_lossy(stdout))
        ))
    })?;
    let Value::Object(mut info) = value else {
        return Err(bad("JSON that is not an object".into()));
    };
    let mut text = |key: &str| match info.remove(key) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(bad(format!("a report without a string {key:?}"))),
    };
    let (engine, version) = (text("engine")?, text("version")?);
    let Some(Value::Object(times)) = info.remove("seconds") else {
        return Err(bad("a report without a \"seconds\" object".into()));
    };
    let mut seconds = BTreeMap::new();
    for (name, t) in times {
        match t.as_f64() {
            Some(t) if t.is_finite() && t > 0.0 => seconds.insert(name, t),
            _ => return Err(bad(format!("a time for {name} that is not positive: {t}"))),
        };
    }
    Ok(PeerRun {
        engine,
        version,
        seconds,
        info,
    })
}

/// The last few lines of a child's output, for an error message.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_report() {
        let run = parse(
            br#"{"engine": "PyTorch", "version": "1.13", "openblas_core": "Haswell",
                 "seconds": {"matmul_f32_256": 0.001}}"#,
            "test",
        )
        .unwrap();
        assert_eq!(run.engine, "PyTorch");
        assert_eq!(run.seconds["matmul_f32_256"], 0.001);
        assert_eq!(run.info_str("openblas_core"), Some("Haswell"));
    }

    #[test]
    fn rejects_bad_reports() {
        for bad in [
            &b"not json"[..],
            br#"{"engine": "x", "version": "1"}"#,
            br#"{"engine": "x", "version": "1", "seconds": {"a": -1}}"#,
            br#"{"version": "1", "seconds": {}}"#,
        ] {
            assert!(parse(bad, "test").is_err());
        }
    }
}
