//! `silica bench`: the workloads of `shared/reference/torch_bench.py` on a chosen device, with
//! PyTorch (`--vs-torch`) and candle (`--vs-candle`) run right after Silica on the same
//! machine, and a table of the figures and the ratios of the times.
//!
//! Every side times a workload the same way ([`timing`]): warm-up steps, then steps timed one by
//! one, each ended by a device synchronisation, and the median. Silica's steps only queue work
//! on an asynchronous device; the synchronisation makes the clock see the work itself.

mod gpt;
mod peers;
mod report;
mod timing;
mod workloads;

use crate::devices::parse_device;
use clap::Args;
use peers::PeerOptions;
use report::{Report, Row};
use silica::{backend, Device, Error, Result};
use timing::{median_seconds, Timing};
use workloads::Workload;

/// The flags of `silica bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The device Silica runs on: cpu, cuda[:N], metal, or fake (the asynchronous test device).
    #[arg(long, default_value = "cpu", value_parser = parse_device)]
    device: Device,
    /// Print JSON instead of the table.
    #[arg(long)]
    json: bool,
    /// Run the same workloads in PyTorch (tools/bench/torch_twin.py) after Silica. The Python
    /// is /usr/bin/python3, or SILICA_PYTHON.
    #[arg(long)]
    vs_torch: bool,
    /// Run the workloads that candle can run (tools/bench/candle/, built with cargo) after
    /// Silica.
    #[arg(long)]
    vs_candle: bool,
    /// CPU threads for Silica's kernels, PyTorch's and candle's.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    threads: u64,
    /// Time each workload briefly (a warm-up step and 3 timed steps): for tests, not figures.
    #[arg(long)]
    quick: bool,
    /// Only the workloads whose name contains this (matmul, small_add, mlp, cnn, gpt).
    #[arg(long)]
    only: Option<String>,
}

/// Runs `silica bench`.
pub fn run(args: &BenchArgs) -> Result<()> {
    let threads = args.threads as usize;
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .map_err(|e| Error::invalid("bench", format!("could not start {threads} threads: {e}")))?;
    // Fail early, with a clear message, on a device this build or machine lacks.
    let device = backend::get(args.device)?;
    let load = report::load_average();
    let workloads: Vec<Workload> = Workload::all()
        .into_iter()
        .filter(|w| {
            args.only
                .as_ref()
                .is_none_or(|o| w.name().contains(o.as_str()))
        })
        .collect();
    if workloads.is_empty() {
        let names: Vec<String> = Workload::all().into_iter().map(Workload::name).collect();
        return Err(Error::invalid(
            "bench",
            format!(
                "--only {:?} matches no workload (the workloads: {})",
                args.only.as_deref().unwrap_or(""),
                names.join(", ")
            ),
        ));
    }
    let timing = if args.quick {
        Timing::QUICK
    } else {
        Timing::FULL
    };
    let sync = || device.synchronize();
    let mut rows = Vec::new();
    for workload in workloads {
        eprintln!("silica: {}", workload.name());
        let mut step = workload.build(args.device)?;
        let silica = median_seconds(&mut step, &sync, timing)?;
        rows.push(Row { workload, silica });
    }
    let options = PeerOptions {
        device: peer_device(args.device),
        threads,
        quick: args.quick,
        only: args.only.clone(),
    };
    let torch = args
        .vs_torch
        .then(|| peers::run_torch(&options))
        .transpose()?;
    let candle = args
        .vs_candle
        .then(|| peers::run_candle(&options))
        .transpose()?;
    let report = Report {
        date: report::today(),
        cpu: report::cpu_model(),
        load: [load, report::load_average()],
        device: format!("{}: {}", args.device, device.describe()),
        threads,
        command: command_line(),
        rows,
        torch,
        candle,
    };
    if args.json {
        println!("{:#}", report.json());
    } else {
        print!("{}", report.table());
    }
    Ok(())
}

/// The device the peers run on, in PyTorch's words: the fake device is the CPU underneath, and
/// Metal is PyTorch's `mps`.
fn peer_device(device: Device) -> String {
    match device {
        Device::Cuda(i) => format!("cuda:{i}"),
        Device::Metal(_) => "mps".into(),
        _ => "cpu".into(),
    }
}

/// `silica bench ...` as it was typed, without the path of the binary.
fn command_line() -> String {
    std::iter::once("silica".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ")
}
