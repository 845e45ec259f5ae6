//! The candle runner of `silica bench --vs-candle`: the workloads of
//! `shared/reference/torch_bench.py` at its CPU sizes, written with candle, timed as Silica
//! times them (warm-up steps, then synchronised steps until at least 10 and 2 s, the median),
//! printed as one JSON object on stdout with the median seconds of one step by workload name
//! (the names of `crates/silica-cli/src/bench/workloads.rs`).
//!
//! ```text
//! RAYON_NUM_THREADS=2 cargo run --release --manifest-path tools/bench/candle/Cargo.toml -- \
//!     [--threads 2] [--quick] [--only NAME] [--device cpu]
//! ```
//!
//! Like the PyTorch twin, it runs candle at its best: candle's CPU tensors come from glibc's
//! malloc, which maps large blocks fresh on every allocation, so their pages fault in again and
//! again. With the full timing the runner runs the workloads twice, in child processes of
//! itself (`--worker`), as built and with glibc keeping freed memory mapped (`GLIBC_TUNABLES`,
//! [`WARM_MALLOC`]), and keeps each workload's faster time.
//!
//! candle-nn has no Adam (its AdamW with no weight decay is Adam), no SGD momentum (written
//! here as PyTorch's update) and no multi-head attention module (written here from linear
//! layers, as PyTorch's `MultiheadAttention` computes it).

use candle_core::{DType, Device, Module, ModuleT, Result, Tensor, Var};
use candle_nn::{
    AdamW, BatchNorm, Conv2d, Embedding, LayerNorm, Linear, Optimizer, ParamsAdamW, VarBuilder,
    VarMap,
};
use serde_json::json;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

type Step = Box<dyn FnMut() -> Result<()>>;

/// glibc settings under which freed memory stays mapped (the twin uses the same).
const WARM_MALLOC: &str =
    "glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296";

struct Options {
    threads: usize,
    quick: bool,
    only: Option<String>,
    device: String,
    worker: bool,
}

fn options() -> std::result::Result<Options, String> {
    let mut o = Options {
        threads: 2,
        quick: false,
        only: None,
        device: "cpu".into(),
        worker: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--threads" => o.threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--quick" => o.quick = true,
            "--only" => o.only = Some(value()?),
            "--device" => o.device = value()?,
            "--worker" => o.worker = true,
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    Ok(o)
}

/// Silica's timing: warm-up steps, then synchronised steps until both minimums; the median.
fn median_seconds(step: &mut Step, device: &Device, quick: bool) -> Result<f64> {
    let (warmup, min_runs, min_time) = if quick {
        (1, 3, Duration::ZERO)
    } else {
        (3, 10, Duration::from_secs(2))
    };
    for _ in 0..warmup {
        step()?;
    }
    device.synchronize()?;
    let (mut times, mut total) = (Vec::new(), Duration::ZERO);
    while times.len() < min_runs || total < min_time {
        let start = Instant::now();
        step()?;
        device.synchronize()?;
        let took = start.elapsed();
        total += took;
        times.push(took.as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

fn matmul(n: usize, dev: &Device) -> Result<Step> {
    let a = Tensor::randn(0f32, 1.0, (n, n), dev)?;
    let b = Tensor::randn(0f32, 1.0, (n, n), dev)?;
    Ok(Box::new(move || {
        black_box(a.matmul(&b)?);
        Ok(())
    }))
}

fn small_add_chain(dev: &Device) -> Result<Step> {
    let x = Tensor::randn(0f32, 1.0, 16, dev)?;
    let y = Tensor::randn(0f32, 1.0, 16, dev)?;
    Ok(Box::new(move || {
        let mut z = x.clone();
        for _ in 0..1000 {
            z = (&z + &y)?;
        }
        black_box(z);
        Ok(())
    }))
}

/// 784-512-512-10 with ReLU, batch 128, cross entropy, one Adam step (AdamW without decay).
fn mlp(dev: &Device) -> Result<Step> {
    let vars = VarMap::new();
    let vb = VarBuilder::from_varmap(&vars, DType::F32, dev);
    let l1 = candle_nn::linear(784, 512, vb.pp("0"))?;
    let l2 = candle_nn::linear(512, 512, vb.pp("2"))?;
    let l3 = candle_nn::linear(512, 10, vb.pp("4"))?;
    let params = ParamsAdamW {
        lr: 1e-3,
        weight_decay: 0.0,
        ..Default::default()
    };
    let mut opt = AdamW::new(vars.all_vars(), params)?;
    let x = Tensor::randn(0f32, 1.0, (128, 784), dev)?;
    let y = Tensor::rand(0f32, 10.0, 128, dev)?.to_dtype(DType::U32)?;
    Ok(Box::new(move || {
        let h = l1.forward(&x)?.relu()?;
        let h = l2.forward(&h)?.relu()?;
        let loss = candle_nn::loss::cross_entropy(&l3.forward(&h)?, &y)?;
        opt.backward_step(&loss)
    }))
}

/// PyTorch's SGD with momentum: `buf = momentum * buf + grad` (`buf = grad` at the first step),
/// `p -= lr * buf`.
struct SgdMomentum {
    vars: Vec<Var>,
    bufs: Vec<Option<Tensor>>,
    lr: f64,
    momentum: f64,
}

impl SgdMomentum {
    fn backward_step(&mut self, loss: &Tensor) -> Result<()> {
        let grads = loss.backward()?;
        for (var, buf) in self.vars.iter().zip(&mut self.bufs) {
            let Some(g) = grads.get(var) else { continue };
            let b = match buf.take() {
                None => g.clone(),
                Some(b) => ((b * self.momentum)? + g)?,
            };
            var.set(&(var.as_tensor() - (&b * self.lr)?)?)?;
            *buf = Some(b);
        }
        Ok(())
    }
}

/// conv-bn-relu-pool ×2 and a linear layer on [64, 3, 32, 32], one SGD momentum step.
fn cnn(dev: &Device) -> Result<Step> {
    let vars = VarMap::new();
    let vb = VarBuilder::from_varmap(&vars, DType::F32, dev);
    let same = candle_nn::Conv2dConfig {
        padding: 1,
        ..Default::default()
    };
    let c1: Conv2d = candle_nn::conv2d(3, 32, 3, same, vb.pp("0"))?;
    let b1: BatchNorm = candle_nn::batch_norm(32, 1e-5, vb.pp("1"))?;
    let c2: Conv2d = candle_nn::conv2d(32, 64, 3, same, vb.pp("4"))?;
    let b2: BatchNorm = candle_nn::batch_norm(64, 1e-5, vb.pp("5"))?;
    let fc = candle_nn::linear(64 * 8 * 8, 10, vb.pp("9"))?;
    let vars = vars.all_vars();
    let mut opt = SgdMomentum {
        bufs: vec![None; vars.len()],
        vars,
        lr: 0.1,
        momentum: 0.9,
    };
    let x = Tensor::randn(0f32, 1.0, (64, 3, 32, 32), dev)?;
    let y = Tensor::rand(0f32, 10.0, 64, dev)?.to_dtype(DType::U32)?;
    Ok(Box::new(move || {
        let h = b1
            .forward_t(&c1.forward(&x)?, true)?
            .relu()?
            .max_pool2d(2)?;
        let h = b2
            .forward_t(&c2.forward(&h)?, true)?
            .relu()?
            .max_pool2d(2)?;
        let logits = fc.forward(&h.flatten_from(1)?)?;
        opt.backward_step(&candle_nn::loss::cross_entropy(&logits, &y)?)
    }))
}

/// PyTorch's `MultiheadAttention` (batch first) on `x` `[B, T, d]` with an additive mask.
struct Attention {
    in_proj: Linear,
    out_proj: Linear,
    heads: usize,
}

impl Attention {
    fn forward(&self, x: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        let hd = d / self.heads;
        let qkv = self
            .in_proj
            .forward(x)?
            .reshape((b, t, 3, self.heads, hd))?;
        let part = |i: usize| {
            qkv.narrow(2, i, 1)?
                .squeeze(2)?
                .transpose(1, 2)?
                .contiguous()
        };
        let (q, k, v) = (part(0)?, part(1)?, part(2)?);
        let scores = (q.matmul(&k.t()?)? / (hd as f64).sqrt())?.broadcast_add(mask)?;
        let att = candle_nn::ops::softmax_last_dim(&scores)?;
        let out = att.matmul(&v)?.transpose(1, 2)?.reshape((b, t, d))?;
        self.out_proj.forward(&out)
    }
}

/// The script's `Block`: `x + attn(ln1(x))`, then `x + mlp(ln2(x))`, with GELU.
struct Block {
    ln1: LayerNorm,
    attn: Attention,
    ln2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

impl Block {
    fn new(d: usize, heads: usize, vb: VarBuilder) -> Result<Block> {
        Ok(Block {
            ln1: candle_nn::layer_norm(d, 1e-5, vb.pp("ln1"))?,
            attn: Attention {
                in_proj: candle_nn::linear(d, 3 * d, vb.pp("attn.in_proj"))?,
                out_proj: candle_nn::linear(d, d, vb.pp("attn.out_proj"))?,
                heads,
            },
            ln2: candle_nn::layer_norm(d, 1e-5, vb.pp("ln2"))?,
            fc1: candle_nn::linear(d, 4 * d, vb.pp("mlp.0"))?,
            fc2: candle_nn::linear(4 * d, d, vb.pp("mlp.2"))?,
        })
    }

    fn forward(&self, x: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let x = (x + self.attn.forward(&self.ln1.forward(x)?, mask)?)?;
        let h = self.fc1.forward(&self.ln2.forward(&x)?)?.gelu_erf()?;
        x + self.fc2.forward(&h)?
    }
}

/// The small GPT at the script's CPU sizes (L4 d128 h4 T64 B16, vocabulary 65), one AdamW step.
fn gpt(dev: &Device) -> Result<Step> {
    let (vocab, d, heads, layers, t, b) = (65, 128, 4, 4, 64, 16);
    let vars = VarMap::new();
    let vb = VarBuilder::from_varmap(&vars, DType::F32, dev);
    let tok: Embedding = candle_nn::embedding(vocab, d, vb.pp("tok"))?;
    let pos: Embedding = candle_nn::embedding(t, d, vb.pp("pos"))?;
    let blocks = (0..layers)
        .map(|i| Block::new(d, heads, vb.pp(format!("blocks.{i}"))))
        .collect::<Result<Vec<_>>>()?;
    let ln = candle_nn::layer_norm(d, 1e-5, vb.pp("ln"))?;
    let head = candle_nn::linear(d, vocab, vb.pp("head"))?;
    let params = ParamsAdamW {
        lr: 3e-4,
        ..Default::default()
    };
    let mut opt = AdamW::new(vars.all_vars(), params)?;
    let ids = Tensor::rand(0f32, vocab as f32, (b, t), dev)?.to_dtype(DType::U32)?;
    let targets = Tensor::rand(0f32, vocab as f32, b * t, dev)?.to_dtype(DType::U32)?;
    let positions = Tensor::arange(0u32, t as u32, dev)?;
    // 0 on and below the diagonal, -inf above, as the script's mask.
    let mask: Vec<f32> = (0..t * t)
        .map(|i| {
            if i % t > i / t {
                f32::NEG_INFINITY
            } else {
                0.0
            }
        })
        .collect();
    let mask = Tensor::from_vec(mask, (t, t), dev)?;
    Ok(Box::new(move || {
        let mut x = tok
            .forward(&ids)?
            .broadcast_add(&pos.forward(&positions)?)?;
        for block in &blocks {
            x = block.forward(&x, &mask)?;
        }
        let logits = head.forward(&ln.forward(&x)?)?.reshape((b * t, vocab))?;
        opt.backward_step(&candle_nn::loss::cross_entropy(&logits, &targets)?)
    }))
}

fn fail(msg: String) -> ! {
    eprintln!("candle runner: {msg}");
    std::process::exit(1);
}

/// Runs the workloads in this process and returns the median seconds by name.
fn work(o: &Options) -> BTreeMap<&'static str, f64> {
    if let Err(e) = rayon::ThreadPoolBuilder::new()
        .num_threads(o.threads)
        .build_global()
    {
        fail(e.to_string());
    }
    let dev = Device::Cpu;
    type Build = fn(&Device) -> Result<Step>;
    let workloads: [(&str, Build); 7] = [
        ("matmul_f32_256", |d| matmul(256, d)),
        ("matmul_f32_512", |d| matmul(512, d)),
        ("matmul_f32_1024", |d| matmul(1024, d)),
        ("small_add_chain_1000", small_add_chain),
        ("mlp_b128_adam", mlp),
        ("cnn_b64_sgd", cnn),
        ("gpt_L4_d128_T64_B16_adamw", gpt),
    ];
    let mut seconds = BTreeMap::new();
    for (name, build) in workloads {
        if o.only
            .as_ref()
            .is_some_and(|only| !name.contains(only.as_str()))
        {
            continue;
        }
        eprintln!("candle: {name}");
        match build(&dev).and_then(|mut step| median_seconds(&mut step, &dev, o.quick)) {
            Ok(t) => {
                seconds.insert(name, t);
            }
            Err(e) => fail(format!("{name}: {e}")),
        }
    }
    seconds
}

/// Runs this program as a worker with `GLIBC_TUNABLES` set to `tunables` (or unset) and returns
/// its times.
fn run_worker(tunables: Option<&str>) -> BTreeMap<String, f64> {
    let exe = std::env::current_exe().unwrap_or_else(|e| fail(e.to_string()));
    let mut cmd = std::process::Command::new(exe);
    cmd.args(std::env::args().skip(1)).arg("--worker");
    match tunables {
        Some(t) => cmd.env("GLIBC_TUNABLES", t),
        None => cmd.env_remove("GLIBC_TUNABLES"),
    };
    let out = cmd
        .stderr(std::process::Stdio::inherit())
        .output()
        .unwrap_or_else(|e| fail(e.to_string()));
    if !out.status.success() {
        fail(format!("a worker failed ({})", out.status));
    }
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| fail(format!("a worker's JSON: {e}")))
}

fn main() {
    let o = options().unwrap_or_else(|e| {
        eprintln!("candle runner: {e}");
        std::process::exit(2);
    });
    if o.device != "cpu" {
        eprintln!(
            "candle runner: this build runs on the CPU only, not {}",
            o.device
        );
        std::process::exit(2);
    }
    if o.worker {
        println!("{}", json!(work(&o)));
        return;
    }
    let mut seconds = run_worker(None);
    let mut warm_faster = Vec::new();
    let malloc = if o.quick {
        "glibc's defaults".to_string()
    } else {
        for (name, t) in run_worker(Some(WARM_MALLOC)) {
            if seconds.get(&name).is_none_or(|&s| t < s) {
                seconds.insert(name.clone(), t);
                warm_faster.push(name);
            }
        }
        format!(
            "each workload's faster run of glibc's defaults and GLIBC_TUNABLES={WARM_MALLOC} \
             (faster with the latter: {})",
            if warm_faster.is_empty() {
                "none".to_string()
            } else {
                warm_faster.join(", ")
            }
        )
    };
    let report = json!({
        "engine": "candle",
        // The version that Cargo.toml asks for.
        "version": "0.11.1",
        "threads": o.threads,
        "gemm": "gemm 0.19 with its AVX-512 (x86-v4) kernels enabled",
        "malloc": malloc,
        "warm_malloc_faster": warm_faster,
        "seconds": seconds,
    });
    println!("{report:#}");
}
