//! A small convolutional network with batch norm on the bundled digits, saved as safetensors
//! that PyTorch can load.
//!
//! ```sh
//! cargo run --release -p silica-ml --example digits_cnn
//! ```

use silica::data::{random_split, DataLoader, DataLoaderConfig, Digits};
use silica::nn::{
    cross_entropy, BatchNorm2d, Conv2d, CrossEntropyOptions, Flatten, Linear, MaxPool2d, ReLU,
    Sequential,
};
use silica::optim::{CosineAnnealingLR, LrScheduler, SGDConfig, SGD};
use silica::prelude::*;

fn main() -> Result<()> {
    let gen = Generator::new(1);
    let [train, test]: [_; 2] = random_split(Digits::load()?, [0.8, 0.2], &gen)?
        .try_into()
        .expect("two parts");
    let batches = |shuffle| DataLoaderConfig {
        batch_size: 32,
        shuffle,
        ..Default::default()
    };
    let train = DataLoader::new(train, batches(true))?;
    let test = DataLoader::new(test, batches(false))?;

    let same = Conv2dConfig::default().with_padding(1);
    let model = Sequential::new()
        .add(Conv2d::new(1, 16, [3, 3], same, true, &gen)?)
        .add(BatchNorm2d::new(16)?)
        .add(ReLU)
        .add(MaxPool2d::new(Pool2dConfig::new(2)))
        .add(Flatten::new())
        .add(Linear::new(16 * 4 * 4, 10, true, &gen)?);
    let epochs = 10;
    let config = SGDConfig {
        momentum: 0.9,
        nesterov: true,
        ..SGDConfig::new(0.05)
    };
    let mut opt = SGD::new(model.parameters(), config)?;
    let mut schedule = CosineAnnealingLR::new(&mut opt, epochs, 0.0)?;

    for epoch in 0..epochs as u64 {
        for batch in train.iter_epoch(epoch) {
            let [x, y] = <[Tensor; 2]>::try_from(batch?).expect("features and labels");
            let logits = model.forward(&x.reshape([-1, 1, 8, 8])?)?;
            let loss = cross_entropy(&logits, &y, &CrossEntropyOptions::default())?;
            opt.zero_grad();
            loss.backward()?;
            opt.step()?;
        }
        schedule.step(&mut opt)?;
    }

    model.eval();
    let _no_grad = no_grad();
    let (mut correct, mut seen) = (0.0, 0);
    for batch in test.iter_epoch(0) {
        let [x, y] = <[Tensor; 2]>::try_from(batch?).expect("features and labels");
        let pred = model
            .forward(&x.reshape([-1, 1, 8, 8])?)?
            .argmax(1, false)?;
        correct += pred.eq(&y)?.sum_all()?.to_scalar()?;
        seen += y.elem_count();
    }
    println!("test accuracy: {:.1}%", 100.0 * correct / seen as f64);
    let path = std::env::temp_dir().join("digits_cnn.safetensors");
    silica::io::save_state_dict(&model.state_dict(), &path)?;
    println!(
        "weights: {} (load in PyTorch with safetensors.torch.load_file)",
        path.display()
    );
    Ok(())
}
