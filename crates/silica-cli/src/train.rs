//! `silica train`: trains a small MLP or CNN on the bundled digits (an 80/20 split with a fixed
//! seed), shows progress, saves a checkpoint after every epoch, and can resume from one.
//!
//! A resumed run ends with the same weights as an uninterrupted one: the checkpoint holds the
//! model, the optimizer, the epoch and the generator, and the loader's order in epoch `k`
//! depends only on the seed and `k`.

use crate::devices::parse_device;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use silica::data::{random_split, DataLoader, DataLoaderConfig, Digits};
use silica::io::{load_checkpoint, save_checkpoint, save_state_dict, Checkpoint};
use silica::nn::{
    cross_entropy, BatchNorm2d, Conv2d, CrossEntropyOptions, Flatten, Linear, MaxPool2d, Module,
    ReLU, Sequential,
};
use silica::optim::{Adam, AdamConfig, Optimizer};
use silica::{
    backend, no_grad, Conv2dConfig, Device, Error, Generator, Pool2dConfig, Result, Tensor,
};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModelKind {
    /// 64 → 128 → 64 → 10, with ReLU.
    Mlp,
    /// Two 3x3 convolutions with batch norm, a 2x2 max pool, and a linear head.
    Cnn,
}

impl ModelKind {
    fn name(self) -> &'static str {
        match self {
            ModelKind::Mlp => "mlp",
            ModelKind::Cnn => "cnn",
        }
    }
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The model to train.
    #[arg(long, value_enum, default_value_t = ModelKind::Cnn)]
    model: ModelKind,
    /// Passes over the training split.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u64).range(1..))]
    epochs: u64,
    /// Samples per batch.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..))]
    batch: u64,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 2e-3)]
    lr: f64,
    /// Where to train: cpu, cuda[:N], metal, or fake (the asynchronous fake device: the CPU
    /// kernels on a worker thread, run later, as on a GPU).
    #[arg(long, default_value = "cpu", value_parser = parse_device)]
    device: Device,
    /// Folder for the checkpoint and the final weights.
    #[arg(long, default_value = "runs/digits")]
    out: PathBuf,
    /// A checkpoint to resume from (written by an earlier `silica train`).
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Seed of the split, the initial weights and the shuffling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Data-loading worker threads (0 loads in the training thread).
    #[arg(long, default_value_t = 0)]
    workers: usize,
}

/// The model for `kind`, initialised from `gen`.
fn build_model(kind: ModelKind, gen: &Generator) -> Result<Sequential> {
    Ok(match kind {
        ModelKind::Mlp => Sequential::new()
            .add(Linear::new(64, 128, true, gen)?)
            .add(ReLU)
            .add(Linear::new(128, 64, true, gen)?)
            .add(ReLU)
            .add(Linear::new(64, 10, true, gen)?),
        ModelKind::Cnn => {
            // No bias before batch norm, which cancels it (it would train on rounding noise).
            let same = Conv2dConfig::default().with_padding(1);
            Sequential::new()
                .add(Conv2d::new(1, 16, [3, 3], same, false, gen)?)
                .add(BatchNorm2d::new(16)?)
                .add(ReLU)
                .add(Conv2d::new(16, 32, [3, 3], same, false, gen)?)
                .add(BatchNorm2d::new(32)?)
                .add(ReLU)
                .add(MaxPool2d::new(Pool2dConfig::new(2)))
                .add(Flatten::new())
                .add(Linear::new(32 * 4 * 4, 10, true, gen)?)
        }
    })
}

/// Digits features `[b, 64]` shaped for the model.
fn model_input(kind: ModelKind, x: &Tensor) -> Result<Tensor> {
    match kind {
        ModelKind::Mlp => Ok(x.clone()),
        ModelKind::Cnn => x.reshape([-1, 1, 8, 8]),
    }
}

/// (mean loss, accuracy) of `model` over `loader` in evaluation mode.
fn evaluate(kind: ModelKind, model: &Sequential, loader: &DataLoader) -> Result<(f64, f64)> {
    model.eval();
    let _guard = no_grad();
    let (mut loss_sum, mut correct, mut seen) = (0.0, 0usize, 0usize);
    for batch in loader.iter_epoch(0) {
        let batch = batch?;
        let logits = model.forward(&model_input(kind, &batch[0])?)?;
        let n = batch[1].elem_count();
        loss_sum += cross_entropy(&logits, &batch[1], &CrossEntropyOptions::default())?
            .to_scalar()?
            * n as f64;
        correct += count_correct(&logits, &batch[1])?;
        seen += n;
    }
    model.train();
    Ok((
        loss_sum / seen.max(1) as f64,
        correct as f64 / seen.max(1) as f64,
    ))
}

fn count_correct(logits: &Tensor, labels: &Tensor) -> Result<usize> {
    let hits = logits.argmax(1, false)?.eq(labels)?.sum_all()?;
    Ok(hits.to_scalar()? as usize)
}

pub fn run(args: &TrainArgs) -> Result<()> {
    // Fail early, with a clear message, on a device this build or machine lacks.
    backend::get(args.device)?;
    let kind = args.model;
    let data = Digits::load()?;
    let [train_set, test_set]: [_; 2] = random_split(data, [0.8, 0.2], &Generator::new(args.seed))?
        .try_into()
        .map_err(|_| Error::invalid("train", "random_split returned the wrong number of parts"))?;
    let config = |shuffle: bool| DataLoaderConfig {
        batch_size: args.batch as usize,
        shuffle,
        seed: args.seed,
        num_workers: args.workers,
        device: args.device,
        ..DataLoaderConfig::default()
    };
    let train_loader = DataLoader::new(train_set, config(true))?;
    let test_loader = DataLoader::new(test_set, config(false))?;

    // The model is built on the CPU (the same weights for every device) and moved, with its
    // optimizer, to the training device.
    let gen = Generator::new(args.seed.wrapping_add(1));
    let model = build_model(kind, &gen)?;
    let mut opt = Adam::new(model.parameters(), AdamConfig::new(args.lr))?;
    model.to_device(args.device)?;
    opt.to_device(args.device)?;
    let (mut epoch, mut step) = (0, 0);
    if let Some(path) = &args.resume {
        let ckpt = load_checkpoint(path, args.device)?;
        if ckpt.extra.get("model").map(String::as_str) != Some(kind.name()) {
            return Err(Error::invalid(
                "train",
                format!(
                    "{} holds a {:?} model, not {}",
                    path.display(),
                    ckpt.extra.get("model").map_or("unknown", String::as_str),
                    kind.name()
                ),
            ));
        }
        model.load_state_dict(&ckpt.model, true)?;
        let state = ckpt.optimizer.ok_or_else(|| {
            Error::invalid(
                "train",
                format!("{} has no optimizer state", path.display()),
            )
        })?;
        opt.load_state_dict(&state)?;
        if let Some(g) = ckpt.generator {
            gen.set_state(g);
        }
        (epoch, step) = (ckpt.epoch, ckpt.step);
        println!("resumed from {} at epoch {epoch}", path.display());
    }
    std::fs::create_dir_all(&args.out).map_err(|source| Error::Io {
        path: args.out.display().to_string(),
        source,
    })?;
    let ckpt_path = args.out.join("checkpoint.safetensors");
    println!(
        "training {} on {} digits ({} train, {} test batches of {}) on {}",
        kind.name(),
        Digits::LEN,
        train_loader.len(),
        test_loader.len(),
        args.batch,
        args.device
    );

    let started = Instant::now();
    while epoch < args.epochs {
        let bar = ProgressBar::new(train_loader.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{}/{}", epoch + 1, args.epochs));
        let (mut loss_sum, mut correct, mut seen) = (0.0, 0usize, 0usize);
        for batch in train_loader.iter_epoch(epoch) {
            let batch = batch?;
            let logits = model.forward(&model_input(kind, &batch[0])?)?;
            let loss = cross_entropy(&logits, &batch[1], &CrossEntropyOptions::default())?;
            opt.zero_grad();
            loss.backward()?;
            opt.step()?;
            step += 1;
            let n = batch[1].elem_count();
            let l = loss.to_scalar()?;
            loss_sum += l * n as f64;
            correct += {
                let _g = no_grad();
                count_correct(&logits.detach(), &batch[1])?
            };
            seen += n;
            bar.set_message(format!("loss {l:.4}"));
            bar.inc(1);
        }
        bar.finish_and_clear();
        epoch += 1;
        let (test_loss, test_acc) = evaluate(kind, &model, &test_loader)?;
        println!(
            "epoch {epoch:>3}/{}  loss {:.4}  train acc {:5.1}%  test loss {test_loss:.4}  test acc {:5.1}%",
            args.epochs,
            loss_sum / seen.max(1) as f64,
            100.0 * correct as f64 / seen.max(1) as f64,
            100.0 * test_acc
        );
        save(&ckpt_path, &model, &opt, epoch, step, &gen, kind)?;
    }
    let (_, test_acc) = evaluate(kind, &model, &test_loader)?;
    let weights = args.out.join("model.safetensors");
    save_state_dict(&model.state_dict(), &weights)?;
    println!(
        "trained in {:.1} s; checkpoint {}, weights {}",
        started.elapsed().as_secs_f64(),
        ckpt_path.display(),
        weights.display()
    );
    println!("test accuracy: {:.1}%", 100.0 * test_acc);
    Ok(())
}

fn save(
    path: &Path,
    model: &Sequential,
    opt: &Adam,
    epoch: u64,
    step: u64,
    gen: &Generator,
    kind: ModelKind,
) -> Result<()> {
    let ckpt = Checkpoint {
        model: model.state_dict(),
        optimizer: Some(opt.state_dict()?),
        scheduler: None,
        step,
        epoch,
        generator: Some(gen.state()),
        extra: [("model".to_string(), kind.name().to_string())].into(),
    };
    save_checkpoint(&ckpt, path)
}
