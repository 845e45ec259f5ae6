//! A multi-layer perceptron on the bundled digits (8x8 images, 10 classes).
//!
//! ```sh
//! cargo run --release -p silica-ml --example digits_mlp
//! ```

use silica::data::{random_split, DataLoader, DataLoaderConfig, Digits};
use silica::nn::{cross_entropy, CrossEntropyOptions, Linear, ReLU, Sequential};
use silica::optim::{Adam, AdamConfig};
use silica::prelude::*;

fn main() -> Result<()> {
    let gen = Generator::new(0);
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

    // 64 -> 128 -> 10, as `nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))`.
    let model = Sequential::new()
        .add(Linear::new(64, 128, true, &gen)?)
        .add(ReLU)
        .add(Linear::new(128, 10, true, &gen)?);
    let mut opt = Adam::new(model.parameters(), AdamConfig::new(1e-3))?;

    for epoch in 0..30 {
        let mut total = 0.0;
        for batch in train.iter_epoch(epoch) {
            let [x, y] = <[Tensor; 2]>::try_from(batch?).expect("features and labels");
            let loss = cross_entropy(&model.forward(&x)?, &y, &CrossEntropyOptions::default())?;
            opt.zero_grad();
            loss.backward()?;
            opt.step()?;
            total += loss.to_scalar()?;
        }
        if (epoch + 1) % 10 == 0 {
            println!(
                "epoch {:>2}: mean loss {:.4}",
                epoch + 1,
                total / train.len() as f64
            );
        }
    }

    model.eval();
    let _no_grad = no_grad();
    let (mut correct, mut seen) = (0.0, 0);
    for batch in test.iter_epoch(0) {
        let [x, y] = <[Tensor; 2]>::try_from(batch?).expect("features and labels");
        let pred = model.forward(&x)?.argmax(1, false)?;
        correct += pred.eq(&y)?.sum_all()?.to_scalar()?;
        seen += y.elem_count();
    }
    println!("test accuracy: {:.1}%", 100.0 * correct / seen as f64);
    Ok(())
}
