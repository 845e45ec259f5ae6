//! The timing method, shared with the PyTorch twin and the candle runner: a few warm-up steps,
//! then steps timed one by one, each ended by a device synchronisation, until both a minimum
//! count and a minimum total time are reached; the figure is the median.

use silica::Result;
use std::time::{Duration, Instant};

/// How long to time a workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Untimed steps before the timed ones.
    pub warmup: usize,
    /// At least this many timed steps.
    pub min_runs: usize,
    /// Timed steps go on until they add up to at least this long.
    pub min_time: Duration,
}

impl Timing {
    /// The real measurement: 3 warm-up steps, then at least 10 steps and 2 s.
    pub const FULL: Timing = Timing {
        warmup: 3,
        min_runs: 10,
        min_time: Duration::from_secs(2),
    };

    /// A short run for tests: 1 warm-up step and 3 timed steps.
    pub const QUICK: Timing = Timing {
        warmup: 1,
        min_runs: 3,
        min_time: Duration::ZERO,
    };
}

/// The median time in seconds of `step`, each run followed by `sync`, which waits until the
/// device has finished the queued work (so an asynchronous device is timed for its work, not
/// for queueing it).
pub fn median_seconds(
    step: &mut dyn FnMut() -> Result<()>,
    sync: &dyn Fn() -> Result<()>,
    timing: Timing,
) -> Result<f64> {
    for _ in 0..timing.warmup {
        step()?;
    }
    sync()?;
    let mut times = Vec::new();
    let mut total = Duration::ZERO;
    while times.len() < timing.min_runs.max(1) || total < timing.min_time {
        let start = Instant::now();
        step()?;
        sync()?;
        let took = start.elapsed();
        total += took;
        times.push(took.as_secs_f64());
    }
    Ok(median(&mut times))
}

/// The median of `values` (the upper one of an even count, as the Python side takes
/// `sorted(ts)[len(ts) // 2]`).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn runs_warmup_then_at_least_min_runs_each_synchronised() {
        let (steps, syncs) = (Cell::new(0), Cell::new(0));
        let mut step = || {
            steps.set(steps.get() + 1);
            Ok(())
        };
        let sync = || {
            syncs.set(syncs.get() + 1);
            Ok(())
        };
        let t = median_seconds(&mut step, &sync, Timing::QUICK).unwrap();
        assert!(t >= 0.0);
        assert_eq!(steps.get(), 4);
        assert_eq!(syncs.get(), 4);
    }

    #[test]
    fn median_takes_the_middle() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 3.0);
    }
}
