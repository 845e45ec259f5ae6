//! `silica`: train the demo model on the bundled digits, list devices.
//!
//! ```text
//! silica train [--model cnn|mlp] [--epochs N] [--batch B] [--lr LR] [--device cpu]
//!              [--out DIR] [--resume CHECKPOINT] [--seed S] [--workers W]
//! silica devices
//! ```

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
}

fn main() -> ExitCode {
    // Usage errors exit with code 2, as clap does by default.
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train::run(&args),
        Command::Devices => devices::run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
