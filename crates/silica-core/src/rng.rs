//! Counter-based random numbers (Philox 4x32-10), the same on every device.
//!
//! A [`Generator`] is a seed and an offset counted in Philox blocks. Each random tensor takes
//! the next blocks of the stream, so element `i` of a draw depends only on the seed, the offset
//! and `i`, never on the device or on thread scheduling. The mapping from blocks to elements,
//! which every backend follows, is:
//!
//! | draw | dtypes | elements per block | element `i` uses |
//! |---|---|---|---|
//! | uniform | f32, f16, bf16 | 4 | lane `i % 4`: `(x >> 8) * 2^-24` |
//! | uniform | the others | 2 | lanes `2(i % 2)`, `2(i % 2) + 1` as a 53-bit fraction |
//! | normal | f32, f16, bf16 | 4 | Box–Muller on lanes `2j`, `2j + 1`, `j = (i % 4) / 2`; cos for even `i`, sin for odd |
//! | normal | the others | 2 | Box–Muller on lanes (0, 1) and (2, 3) as 53-bit fractions |
//! | integers | all | 2 | lanes `2(i % 2)`, `2(i % 2) + 1` as a u64, modulo the range |
//!
//! Block `b` of seed `s` is `philox4x32_10([b_lo, b_hi, 0, 0], [s_lo, s_hi])`.

use crate::backend::Distribution;
use crate::{DType, Element, HostData};
use std::sync::{Mutex, OnceLock};

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// PyTorch's default seed, used until [`manual_seed`] is called.
pub const DEFAULT_SEED: u64 = 67_280_421_310_721;

/// The Philox 4x32 block function with 10 rounds.
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let (mut c, mut k) = (counter, key);
    for round in 0..10 {
        if round > 0 {
            k[0] = k[0].wrapping_add(W0);
            k[1] = k[1].wrapping_add(W1);
        }
        let p0 = (M0 as u64) * (c[0] as u64);
        let p1 = (M1 as u64) * (c[2] as u64);
        c = [
            ((p1 >> 32) as u32) ^ c[1] ^ k[0],
            p1 as u32,
            ((p0 >> 32) as u32) ^ c[3] ^ k[1],
            p0 as u32,
        ];
    }
    c
}

fn block(seed: u64, index: u64) -> [u32; 4] {
    philox4x32_10(
        [index as u32, (index >> 32) as u32, 0, 0],
        [seed as u32, (seed >> 32) as u32],
    )
}

/// True when draws of `dtype` use the 4-per-block single-precision mapping.
fn single_precision(dtype: DType) -> bool {
    matches!(dtype, DType::F32 | DType::F16 | DType::BF16)
}

/// How many Philox blocks a draw of `len` elements of `dtype` from `dist` consumes.
pub fn blocks_needed(dist: Distribution, dtype: DType, len: usize) -> u64 {
    let per_block = match dist {
        Distribution::Int { .. } => 2,
        _ if single_precision(dtype) => 4,
        _ => 2,
    };
    len.div_ceil(per_block) as u64
}

fn unit_f32(x: u32) -> f32 {
    (x >> 8) as f32 * (1.0 / 16_777_216.0)
}

fn unit_f64(hi: u32, lo: u32) -> f64 {
    ((((hi as u64) << 32) | lo as u64) >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
}

fn box_muller(u1: f64, u2: f64, sin: bool) -> f64 {
    // u1 in [0, 1): use 1 - u1 in (0, 1] so the log is finite.
    let r = (-2.0 * (1.0 - u1).ln()).sqrt();
    let theta = std::f64::consts::TAU * u2;
    if sin {
        r * theta.sin()
    } else {
        r * theta.cos()
    }
}

/// Element `i` of a draw, as f64, following the table in the module docs.
pub fn sample(dist: Distribution, dtype: DType, seed: u64, offset: u64, i: usize) -> f64 {
    let i = i as u64;
    match dist {
        Distribution::Int { low, high } => {
            let b = block(seed, offset + i / 2);
            let j = 2 * (i % 2) as usize;
            let r = ((b[j] as u64) << 32) | b[j + 1] as u64;
            let range = (high - low) as u64;
            (low + (r % range) as i64) as f64
        }
        Distribution::Uniform { low, high } if single_precision(dtype) => {
            let b = block(seed, offset + i / 4);
            let u = unit_f32(b[(i % 4) as usize]);
            (low as f32 + u * (high - low) as f32) as f64
        }
        Distribution::Uniform { low, high } => {
            let b = block(seed, offset + i / 2);
            let j = 2 * (i % 2) as usize;
            low + unit_f64(b[j], b[j + 1]) * (high - low)
        }
        Distribution::Normal { mean, std } if single_precision(dtype) => {
            let b = block(seed, offset + i / 4);
            let j = 2 * ((i % 4) / 2) as usize;
            let z = box_muller(unit_f32(b[j]) as f64, unit_f32(b[j + 1]) as f64, i % 2 == 1);
            (mean as f32 + (z as f32) * std as f32) as f64
        }
        Distribution::Normal { mean, std } => {
            let b = block(seed, offset + i / 2);
            let z = box_muller(unit_f64(b[0], b[1]), unit_f64(b[2], b[3]), i % 2 == 1);
            mean + z * std
        }
    }
}

/// Fills a host vector with a draw; the CPU backend's implementation of `Kernels::random`.
pub fn fill_host(dist: Distribution, dtype: DType, len: usize, seed: u64, offset: u64) -> HostData {
    use rayon::prelude::*;
    fn draw<T: Element>(dist: Distribution, len: usize, seed: u64, offset: u64) -> HostData {
        let mut out = vec![T::from_f64(0.0); len];
        out.par_chunks_mut(4096).enumerate().for_each(|(c, chunk)| {
            for (j, v) in chunk.iter_mut().enumerate() {
                *v = T::from_f64(sample(dist, T::DTYPE, seed, offset, c * 4096 + j));
            }
        });
        T::into_host(out)
    }
    dispatch_dtype!(dtype, T => draw::<T>(dist, len, seed, offset))
}

/// A seeded random stream. Cheap to share: draws take disjoint block ranges atomically.
///
/// # Examples
///
/// ```
/// use silica_core::{Generator, Tensor, DType, Device};
/// let a = Generator::new(7).rand([3], DType::F32, Device::Cpu).unwrap();
/// let b = Generator::new(7).rand([3], DType::F32, Device::Cpu).unwrap();
/// assert_eq!(a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
/// ```
#[derive(Debug)]
pub struct Generator {
    state: Mutex<GeneratorState>,
}

/// The complete state of a [`Generator`], for checkpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GeneratorState {
    /// The seed.
    pub seed: u64,
    /// The next unused Philox block.
    pub offset: u64,
}

impl Generator {
    /// A generator at the start of the stream of `seed`.
    pub fn new(seed: u64) -> Self {
        Generator {
            state: Mutex::new(GeneratorState { seed, offset: 0 }),
        }
    }

    /// Restarts the stream of `seed`.
    pub fn manual_seed(&self, seed: u64) {
        self.set_state(GeneratorState { seed, offset: 0 });
    }

    /// The seed and offset.
    pub fn state(&self) -> GeneratorState {
        *self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Restores a state saved by [`Generator::state`].
    pub fn set_state(&self, state: GeneratorState) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = state;
    }

    /// Reserves `blocks` blocks and returns (seed, first block).
    pub(crate) fn take(&self, blocks: u64) -> (u64, u64) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let offset = s.offset;
        s.offset += blocks;
        (s.seed, offset)
    }
}

/// The process-wide default generator, which `Tensor::rand` and friends use.
pub fn default_generator() -> &'static Generator {
    static GEN: OnceLock<Generator> = OnceLock::new();
    GEN.get_or_init(|| Generator::new(DEFAULT_SEED))
}

/// Seeds the default generator, like `torch.manual_seed`.
pub fn manual_seed(seed: u64) {
    default_generator().manual_seed(seed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn philox_known_answer() {
        // Random123's known-answer vectors for philox4x32_10.
        assert_eq!(
            philox4x32_10([0, 0, 0, 0], [0, 0]),
            [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]
        );
        assert_eq!(
            philox4x32_10([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]
        );
        assert_eq!(
            philox4x32_10(
                [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
                [0xa409_3822, 0x299f_31d0]
            ),
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
        );
    }

    #[test]
    fn moments() {
        let n = 100_000;
        let cases = [
            (
                Distribution::Uniform {
                    low: -1.0,
                    high: 3.0,
                },
                DType::F32,
                1.0,
                16.0 / 12.0,
            ),
            (
                Distribution::Uniform {
                    low: 0.0,
                    high: 1.0,
                },
                DType::F64,
                0.5,
                1.0 / 12.0,
            ),
            (
                Distribution::Normal {
                    mean: 2.0,
                    std: 0.5,
                },
                DType::F32,
                2.0,
                0.25,
            ),
            (
                Distribution::Normal {
                    mean: 0.0,
                    std: 1.0,
                },
                DType::F64,
                0.0,
                1.0,
            ),
            (
                Distribution::Int { low: 0, high: 10 },
                DType::I64,
                4.5,
                8.25,
            ),
        ];
        for (dist, dtype, mean, var) in cases {
            let var: f64 = var;
            let v = fill_host(dist, dtype, n, 1234, 0).to_f64_vec();
            let m = v.iter().sum::<f64>() / n as f64;
            let s = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n as f64;
            assert!(
                (m - mean).abs() < 0.02 * var.sqrt().max(1.0),
                "{dist:?}: mean {m}"
            );
            assert!((s / var - 1.0).abs() < 0.03, "{dist:?}: var {s}");
        }
    }

    #[test]
    fn offsets_continue_the_stream() {
        // Two draws of 8 equal one draw of 16.
        let d = Distribution::Uniform {
            low: 0.0,
            high: 1.0,
        };
        let whole = fill_host(d, DType::F32, 16, 9, 0).to_f64_vec();
        let first = fill_host(d, DType::F32, 8, 9, 0).to_f64_vec();
        let second = fill_host(d, DType::F32, 8, 9, blocks_needed(d, DType::F32, 8)).to_f64_vec();
        assert_eq!(whole, [first, second].concat());
    }
}
