//! The result of `silica bench`: the machine, the command, and one row per workload with
//! Silica's figure, each peer's, and the ratios of the times; printed as a Markdown table (so
//! that it pastes into `docs/BENCHMARKS.md`) or as JSON.

use super::peers::PeerRun;
use super::workloads::{Metric, Workload};
use serde_json::{json, Value};
use std::fmt::Write;

/// One workload's times.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The workload.
    pub workload: Workload,
    /// Silica's median seconds per step.
    pub silica: f64,
}

/// Everything `silica bench` measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The day of the run, `YYYY-MM-DD` (UTC).
    pub date: String,
    /// The CPU's model name, as `/proc/cpuinfo` gives it.
    pub cpu: String,
    /// The load averages over 1, 5 and 15 minutes when the run began and when it ended, as
    /// `/proc/loadavg` gives them (other work on the machine skews every figure).
    pub load: [String; 2],
    /// The device Silica ran on.
    pub device: String,
    /// Threads on every side.
    pub threads: usize,
    /// The command line, as `silica bench ...`.
    pub command: String,
    /// Silica's rows, in the order of [`Workload::all`].
    pub rows: Vec<Row>,
    /// The PyTorch twin's run, with `--vs-torch`.
    pub torch: Option<PeerRun>,
    /// The candle runner's run, with `--vs-candle`.
    pub candle: Option<PeerRun>,
}

impl Report {
    /// PyTorch's OpenBLAS core type, and whether the twin had to choose it.
    fn openblas(&self) -> String {
        let Some(torch) = &self.torch else {
            return "not used (no --vs-torch)".into();
        };
        match torch.info_str("openblas_core") {
            None => format!(
                "none found (PyTorch's BLAS: {})",
                torch.info_str("blas").unwrap_or("unknown")
            ),
            Some(core) => match torch.info_str("openblas_core_detected") {
                Some(detected) if detected != core => {
                    format!("{core} (set by OPENBLAS_CORETYPE; OpenBLAS alone picked {detected})")
                }
                _ => format!("{core} (OpenBLAS's own choice)"),
            },
        }
    }

    /// The Markdown table with its header lines.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let peer = |p: &Option<PeerRun>| {
            p.as_ref().map_or("not run".to_string(), |p| {
                format!("{} {}", p.engine, p.version)
            })
        };
        let _ = writeln!(out, "- date: {}", self.date);
        let _ = writeln!(
            out,
            "- machine: {} ({}), {} threads on every side",
            self.cpu,
            std::env::consts::ARCH,
            self.threads
        );
        let _ = writeln!(
            out,
            "- load average: {} before the run, {} after",
            self.load[0], self.load[1]
        );
        let _ = writeln!(out, "- Silica on {}", self.device);
        let notes = |out: &mut String, p: &Option<PeerRun>| {
            for key in ["gemm", "malloc"] {
                if let Some(note) = p.as_ref().and_then(|p| p.info_str(key)) {
                    let _ = writeln!(out, "  - {key}: {note}");
                }
            }
        };
        let _ = writeln!(out, "- PyTorch: {}", peer(&self.torch));
        notes(&mut out, &self.torch);
        let _ = writeln!(out, "- OpenBLAS core type: {}", self.openblas());
        let _ = writeln!(out, "- candle: {}", peer(&self.candle));
        notes(&mut out, &self.candle);
        let _ = writeln!(out, "- command: `{}`", self.command);
        let _ = writeln!(
            out,
            "- ratios are Silica's time over the peer's (below 1: Silica is faster)\n"
        );
        let _ = writeln!(
            out,
            "| workload | Silica | PyTorch | Silica/PyTorch | candle | Silica/candle |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
        for row in &self.rows {
            let name = row.workload.name();
            let metric = row.workload.metric();
            let torch = peer_seconds(&self.torch, &name);
            let candle = peer_seconds(&self.candle, &name);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                row.workload.label(),
                show(metric, Some(row.silica)),
                show(metric, torch),
                ratio(row.silica, torch),
                show(metric, candle),
                ratio(row.silica, candle),
            );
        }
        out
    }

    /// The same data as JSON: times in seconds, figures in their units, ratios of times.
    pub fn json(&self) -> Value {
        let peer_json = |p: &Option<PeerRun>| match p {
            None => Value::Null,
            Some(p) => {
                let mut v = p.info.clone();
                v.insert("engine".into(), json!(p.engine));
                v.insert("version".into(), json!(p.version));
                Value::Object(v)
            }
        };
        let workloads: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let name = row.workload.name();
                let metric = row.workload.metric();
                let side = |seconds: Option<f64>| match seconds {
                    None => Value::Null,
                    Some(s) => json!({"seconds": s, "figure": metric.figure(s)}),
                };
                let torch = peer_seconds(&self.torch, &name);
                let candle = peer_seconds(&self.candle, &name);
                json!({
                    "name": name,
                    "label": row.workload.label(),
                    "unit": metric.unit(),
                    "silica": side(Some(row.silica)),
                    "pytorch": side(torch),
                    "candle": side(candle),
                    "silica_over_pytorch": torch.map(|t| row.silica / t),
                    "silica_over_candle": candle.map(|t| row.silica / t),
                })
            })
            .collect();
        json!({
            "date": self.date,
            "cpu": self.cpu,
            "load_average": {"before": self.load[0], "after": self.load[1]},
            "arch": std::env::consts::ARCH,
            "device": self.device,
            "threads": self.threads,
            "command": self.command,
            "openblas_core": self.openblas(),
            "pytorch": peer_json(&self.torch),
            "candle": peer_json(&self.candle),
            "workloads": workloads,
        })
    }
}

fn peer_seconds(peer: &Option<PeerRun>, name: &str) -> Option<f64> {
    peer.as_ref()?.seconds.get(name).copied()
}

/// A figure with its unit, or `—` where the side did not run the workload.
fn show(metric: Metric, seconds: Option<f64>) -> String {
    match seconds {
        None => "—".into(),
        Some(s) => {
            let f = metric.figure(s);
            match metric {
                Metric::Flops(_) => format!("{f:.1} {}", metric.unit()),
                Metric::PerOp(_) => format!("{f:.3} {}", metric.unit()),
                Metric::Time => format!("{f:.2} {}", metric.unit()),
            }
        }
    }
}

/// Silica's time over the peer's.
fn ratio(silica: f64, peer: Option<f64>) -> String {
    peer.map_or("—".into(), |p| format!("{:.2}", silica / p))
}

/// The CPU's model name from `/proc/cpuinfo`, or `unknown CPU`.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, name)| name.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// The load averages over 1, 5 and 15 minutes from `/proc/loadavg`, or `unknown`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Today's date in UTC, `YYYY-MM-DD`.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_790), (2026, 12, 3));
    }

    #[test]
    fn table_shows_ratios_and_dashes() {
        let torch = PeerRun {
            engine: "PyTorch".into(),
            version: "1.13".into(),
            seconds: [("small_add_chain_1000".to_string(), 1e-3)].into(),
            info: serde_json::Map::new(),
        };
        let report = Report {
            date: "2026-12-03".into(),
            cpu: "Test CPU".into(),
            load: ["0.00 0.00 0.00".into(), "0.10 0.00 0.00".into()],
            device: "cpu".into(),
            threads: 2,
            command: "silica bench".into(),
            rows: vec![
                Row {
                    workload: Workload::SmallAddChain,
                    silica: 5e-4,
                },
                Row {
                    workload: Workload::Matmul(256),
                    silica: 2.0 * 256f64.powi(3) / 1e11,
                },
            ],
            torch: Some(torch),
            candle: None,
        };
        let table = report.table();
        assert!(
            table.contains("| 0.500 µs/op | 1.000 µs/op | 0.50 | — | — |"),
            "{table}"
        );
        assert!(table.contains("| 100.0 GFLOP/s | — | — |"), "{table}");
        let json = report.json();
        assert_eq!(json["workloads"][0]["silica_over_pytorch"], 0.5);
        assert!(json["workloads"][1]["candle"].is_null());
    }
}
