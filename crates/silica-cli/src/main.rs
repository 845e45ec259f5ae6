//! `silica`: train the demo model on the bundled digits, list devices, benchmark.
//!
//! ```text
//! silica train [--model cnn|mlp] [--epochs N] [--batch B] [--lr LR] [--device cpu]
//!              [--out DIR] [--resume CHECKPOINT] [--seed S] [--workers W]
//! silica devices
//! silica bench [--device cpu] [--json] [--vs-torch] [--vs-candle] [--threads N] [--quick]
//!              [--only NAME]
//! ```

mod bench;
mod devices;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "silica", version, about = "Silica: deep learning in Rust")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a small model on the bundled digits data set (8x8 images, 10 classes).
    Train(train::TrainArgs),
    /// List the devices this build can use, with their memory.
    Devices,
    /// Time matmul, per-op dispatch and three training steps, optionally against PyTorch and
    /// candle on the same machine.
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    // Usage errors exit with code 2, as clap does by default.
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train::run(&args),
        Command::Devices => devices::run(),
        Command::Bench(args) => bench::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
