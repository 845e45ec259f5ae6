//! A character-level transformer language model that prints samples as it learns.
//!
//! By default it trains on the text this machine already has: the project's own `.rs` sources.
//! Give a path to train on any text file instead.
//!
//! ```sh
//! cargo run --release -p silica-ml --example char_transformer [-- path/to/file.txt [steps]]
//! ```

use silica::nn::{
    cross_entropy, CrossEntropyOptions, Embedding, LayerNorm, Linear, Module, ModuleList, Slot,
    TransformerActivation, TransformerEncoderLayer, TransformerEncoderLayerConfig,
};
use silica::optim::{
    clip_grad_norm, AdamW, AdamWConfig, CosineAnnealingLR, LrScheduler, Optimizer,
};
use silica::prelude::*;
use std::path::{Path, PathBuf};

const CONTEXT: usize = 64;
const WIDTH: usize = 96;
const HEADS: usize = 4;
const LAYERS: usize = 3;
const BATCH: usize = 16;

/// Token and position embeddings, causal pre-norm encoder layers, a final norm and a head.
struct CharLm {
    tok: Embedding,
    pos: Embedding,
    blocks: ModuleList,
    ln: LayerNorm,
    head: Linear,
}

impl CharLm {
    fn new(vocab: usize, gen: &Generator) -> Result<CharLm> {
        let config = TransformerEncoderLayerConfig {
            dim_feedforward: 4 * WIDTH,
            dropout: 0.0,
            activation: TransformerActivation::Gelu,
            norm_first: true,
            causal: true,
            ..Default::default()
        };
        let mut blocks = ModuleList::new();
        for _ in 0..LAYERS {
            blocks.push(TransformerEncoderLayer::new(WIDTH, HEADS, config, gen)?);
        }
        Ok(CharLm {
            tok: Embedding::new(vocab, WIDTH, gen)?,
            pos: Embedding::new(CONTEXT, WIDTH, gen)?,
            blocks,
            ln: LayerNorm::new(&[WIDTH])?,
            head: Linear::new(WIDTH, vocab, true, gen)?,
        })
    }
}

impl Module for CharLm {
    /// `[batch, time]` token ids to `[batch, time, vocab]` logits.
    fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        let t = ids.size(1)?;
        let positions = Tensor::arange(0.0, t as f64, 1.0, DType::I64, ids.device())?;
        let mut x = self.tok.forward(ids)?.add(&self.pos.forward(&positions)?)?;
        for block in self.blocks.iter() {
            x = block.forward(&x)?;
        }
        self.head.forward(&self.ln.forward(&x)?)
    }

    fn visit(&self, f: &mut dyn FnMut(Slot<'_>)) {
        f(Slot::Child("tok", &self.tok));
        f(Slot::Child("pos", &self.pos));
        f(Slot::Child("blocks", &self.blocks));
        f(Slot::Child("ln", &self.ln));
        f(Slot::Child("head", &self.head));
    }
}

/// The text to learn: the file given, or every `.rs` file of this repository.
fn corpus(arg: Option<&str>) -> std::io::Result<String> {
    if let Some(path) = arg {
        return std::fs::read_to_string(path);
    }
    fn walk(dir: &Path, out: &mut String) -> std::io::Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()?;
        entries.sort();
        for p in entries {
            if p.is_dir() && !p.ends_with("target") {
                walk(&p, out)?;
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push_str(&std::fs::read_to_string(&p)?);
            }
        }
        Ok(())
    }
    let mut text = String::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates"),
        &mut text,
    )?;
    Ok(text)
}

/// `n` characters continuing `prompt`, sampled with temperature 0.8.
fn sample(
    model: &CharLm,
    vocab: &[char],
    prompt: &str,
    n: usize,
    gen: &Generator,
) -> Result<String> {
    let _no_grad = no_grad();
    let mut ids: Vec<i64> = prompt
        .chars()
        .filter_map(|c| vocab.iter().position(|&v| v == c).map(|i| i as i64))
        .collect();
    let mut out = String::from(prompt);
    for _ in 0..n {
        let window = &ids[ids.len().saturating_sub(CONTEXT)..];
        let x = Tensor::from_slice(window, [1, window.len()], Device::Cpu)?;
        let logits = model.forward(&x)?.select(1, -1)?.squeeze(0)?;
        let probs = logits.div_scalar(0.8)?.softmax(0)?.to_vec::<f32>()?;
        let u = gen.rand([1], DType::F32, Device::Cpu)?.item::<f32>()?;
        let mut acc = 0.0;
        let next = probs
            .iter()
            .position(|&p| {
                acc += p;
                acc > u
            })
            .unwrap_or(probs.len() - 1);
        ids.push(next as i64);
        out.push(vocab[next]);
    }
    Ok(out)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let text = corpus(args.first().map(String::as_str)).map_err(|e| Error::Io {
        path: args
            .first()
            .cloned()
            .unwrap_or_else(|| "the repository's sources".into()),
        source: e,
    })?;
    let steps: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(400);
    let mut vocab: Vec<char> = text.chars().collect();
    vocab.sort_unstable();
    vocab.dedup();
    let data: Vec<i64> = text
        .chars()
        .map(|c| vocab.binary_search(&c).expect("in the vocabulary") as i64)
        .collect();
    if data.len() <= CONTEXT + 1 {
        return Err(Error::invalid("char_transformer", "the text is too short"));
    }
    println!("{} characters, vocabulary of {}", data.len(), vocab.len());

    let gen = Generator::new(0);
    let model = CharLm::new(vocab.len(), &gen)?;
    let params = model.parameters();
    let count: usize = params.iter().map(Tensor::elem_count).sum();
    println!("{count} parameters");
    let mut opt = AdamW::new(params.clone(), AdamWConfig::new(3e-3))?;
    let mut schedule = CosineAnnealingLR::new(&mut opt, steps, 3e-4)?;

    for step in 1..=steps {
        // A batch of random windows: inputs and the next characters.
        let starts = gen.randint(
            0,
            (data.len() - CONTEXT - 1) as i64,
            [BATCH],
            DType::I64,
            Device::Cpu,
        )?;
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for s in starts.to_vec::<i64>()? {
            let s = s as usize;
            xs.extend_from_slice(&data[s..s + CONTEXT]);
            ys.extend_from_slice(&data[s + 1..s + CONTEXT + 1]);
        }
        let x = Tensor::from_vec(xs, [BATCH, CONTEXT], Device::Cpu)?;
        let y = Tensor::from_vec(ys, [BATCH * CONTEXT], Device::Cpu)?;
        let logits = model.forward(&x)?.reshape([BATCH * CONTEXT, vocab.len()])?;
        let loss = cross_entropy(&logits, &y, &CrossEntropyOptions::default())?;
        opt.zero_grad();
        loss.backward()?;
        clip_grad_norm(&params, 1.0, 2.0)?;
        opt.step()?;
        schedule.step(&mut opt)?;
        if step % 50 == 0 || step == 1 {
            println!(
                "step {step:>4}  loss {:.3}  lr {:.2e}",
                loss.to_scalar()?,
                opt.learning_rates()[0]
            );
        }
        if step % 200 == 0 || step == steps {
            println!(
                "--- sample ---\n{}\n--------------",
                sample(&model, &vocab, "fn ", 120, &gen)?
            );
        }
    }
    Ok(())
}
