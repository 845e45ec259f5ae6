//! Datasets and the DataLoader: batching, shuffling, workers, errors, and the file readers.

use silica_core::backendtest::AsyncCpuBackend;
use silica_core::{DType, Device, Error, Generator, Result, Tensor};
use silica_nn::data::*;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// `n` samples `[x, y]`: x F32 `[2]` = `[i, -i]`, y I64 = `i`.
fn numbered(n: usize) -> TensorDataset {
    let x: Vec<f32> = (0..n).flat_map(|i| [i as f32, -(i as f32)]).collect();
    let y: Vec<i64> = (0..n as i64).collect();
    TensorDataset::new(vec![
        Tensor::from_vec(x, [n, 2], Device::Cpu).unwrap(),
        Tensor::from_vec(y, [n], Device::Cpu).unwrap(),
    ])
    .unwrap()
}

fn config(batch_size: usize) -> DataLoaderConfig {
    DataLoaderConfig {
        batch_size,
        ..Default::default()
    }
}

/// The label field of each batch of one epoch.
fn labels(batches: Batches) -> Vec<Vec<i64>> {
    batches
        .map(|b| b.unwrap()[1].to_vec::<i64>().unwrap())
        .collect()
}

/// Every batch of one epoch, as host vectors per field.
fn contents(batches: Batches) -> Vec<(Vec<usize>, Vec<f32>, Vec<i64>)> {
    batches
        .map(|b| {
            let b = b.unwrap();
            (
                b[0].dims().to_vec(),
                b[0].to_vec::<f32>().unwrap(),
                b[1].to_vec::<i64>().unwrap(),
            )
        })
        .collect()
}

fn err_string<T: std::fmt::Debug>(r: Result<T>) -> String {
    r.expect_err("expected an error").to_string()
}

#[test]
fn batch_sizes_len_and_drop_last() {
    // (samples, batch size, drop_last, expected batch sizes)
    let cases: &[(usize, usize, bool, &[usize])] = &[
        (10, 4, false, &[4, 4, 2]),
        (10, 4, true, &[4, 4]),
        (8, 4, true, &[4, 4]),
        (8, 4, false, &[4, 4]),
        (3, 5, false, &[3]),
        (3, 5, true, &[]),
        (0, 2, false, &[]),
        (5, 1, false, &[1, 1, 1, 1, 1]),
    ];
    for &(n, bs, drop_last, expected) in cases {
        for workers in [0, 3] {
            let cfg = DataLoaderConfig {
                batch_size: bs,
                drop_last,
                num_workers: workers,
                ..Default::default()
            };
            let loader = DataLoader::new(numbered(n), cfg).unwrap();
            let what = format!("n {n}, batch {bs}, drop_last {drop_last}, workers {workers}");
            assert_eq!(loader.len(), expected.len(), "{what}");
            assert_eq!(loader.is_empty(), expected.is_empty(), "{what}");
            let got = contents(loader.iter_epoch(0));
            let sizes: Vec<usize> = got.iter().map(|(d, _, _)| d[0]).collect();
            assert_eq!(sizes, expected, "{what}");
            for (dims, x, y) in &got {
                assert_eq!(dims[1], 2, "{what}");
                // Unshuffled: x rows follow the labels.
                let want: Vec<f32> = y.iter().flat_map(|&i| [i as f32, -(i as f32)]).collect();
                assert_eq!(x, &want, "{what}");
            }
            let all: Vec<i64> = got.into_iter().flat_map(|(_, _, y)| y).collect();
            let kept: usize = expected.iter().sum();
            assert_eq!(all, (0..kept as i64).collect::<Vec<_>>(), "{what}");
        }
    }
}

#[test]
fn batch_dtypes_and_shapes() {
    let loader = DataLoader::new(numbered(6), config(4)).unwrap();
    let b = loader.iter().next().unwrap().unwrap();
    assert_eq!(b.len(), 2);
    assert_eq!((b[0].dims(), b[0].dtype()), (&[4, 2][..], DType::F32));
    assert_eq!((b[1].dims(), b[1].dtype()), (&[4][..], DType::I64));
}

#[test]
fn bad_config_is_an_error() {
    for cfg in [
        config(0),
        DataLoaderConfig {
            num_workers: 2,
            prefetch_factor: 0,
            ..config(1)
        },
    ] {
        assert!(err_string(DataLoader::new(numbered(3), cfg)).contains("at least 1"));
    }
}

fn shuffled(seed: u64, workers: usize) -> DataLoader {
    let cfg = DataLoaderConfig {
        batch_size: 7,
        shuffle: true,
        seed,
        num_workers: workers,
        ..Default::default()
    };
    DataLoader::new(numbered(50), cfg).unwrap()
}

#[test]
fn shuffle_is_a_permutation_per_epoch_deterministic_per_seed_and_epoch() {
    let loader = shuffled(3, 0);
    let mut epochs = Vec::new();
    for epoch in 0..4 {
        let order: Vec<i64> = labels(loader.iter_epoch(epoch)).concat();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>(), "epoch {epoch}");
        assert_ne!(
            order,
            (0..50).collect::<Vec<_>>(),
            "epoch {epoch} is not shuffled"
        );
        // The same epoch again, and from a fresh loader of the same seed.
        assert_eq!(labels(loader.iter_epoch(epoch)).concat(), order);
        assert_eq!(labels(shuffled(3, 0).iter_epoch(epoch)).concat(), order);
        // Another seed gives another order.
        assert_ne!(labels(shuffled(4, 0).iter_epoch(epoch)).concat(), order);
        epochs.push(order);
    }
    for i in 0..epochs.len() {
        for j in 0..i {
            assert_ne!(epochs[i], epochs[j], "epochs {i} and {j}");
        }
    }
    // Epoch k is the k-th permutation one generator of the seed draws.
    let g = Generator::new(3);
    for (k, order) in epochs.iter().enumerate() {
        let perm: Vec<i64> = randperm(50, &g)
            .unwrap()
            .into_iter()
            .map(|i| i as i64)
            .collect();
        assert_eq!(&perm, order, "epoch {k}");
        assert_eq!(
            loader.indices(k as u64).unwrap(),
            perm.iter().map(|&i| i as usize).collect::<Vec<_>>()
        );
    }
}

#[test]
fn iter_counts_epochs_and_set_epoch_resumes() {
    let loader = shuffled(9, 0);
    assert_eq!(loader.epoch(), 0);
    let e0 = labels(loader.iter());
    let e1 = labels((&loader).into_iter());
    assert_eq!(loader.epoch(), 2);
    assert_eq!(e0, labels(loader.iter_epoch(0)));
    assert_eq!(e1, labels(loader.iter_epoch(1)));
    loader.set_epoch(1);
    assert_eq!(labels(loader.iter()), e1);
    assert_eq!(loader.epoch(), 2);
}

#[test]
fn workers_give_the_same_batches_in_the_same_order() {
    // (samples, batch, drop_last, shuffle, prefetch)
    let cases = [
        (50, 7, false, true, 2),
        (50, 7, true, true, 1),
        (64, 8, false, false, 3),
        (5, 10, false, true, 2),
    ];
    for (n, bs, drop_last, shuffle, prefetch_factor) in cases {
        let make = |workers| {
            let cfg = DataLoaderConfig {
                batch_size: bs,
                drop_last,
                shuffle,
                seed: 11,
                num_workers: workers,
                prefetch_factor,
                ..Default::default()
            };
            DataLoader::new(numbered(n), cfg).unwrap()
        };
        let serial = make(0);
        for workers in [1, 4] {
            let parallel = make(workers);
            for epoch in 0..2 {
                assert_eq!(
                    contents(parallel.iter_epoch(epoch)),
                    contents(serial.iter_epoch(epoch)),
                    "n {n}, batch {bs}, workers {workers}, epoch {epoch}"
                );
            }
        }
    }
}

/// A dataset whose `get` sleeps and counts calls, and can be told to fail or panic at an index.
struct Probe {
    n: usize,
    sleep: Duration,
    calls: Arc<AtomicUsize>,
    fail_at: Option<usize>,
    panic_at: Option<usize>,
}

impl Probe {
    fn new(n: usize, sleep_ms: u64) -> Self {
        Probe {
            n,
            sleep: Duration::from_millis(sleep_ms),
            calls: Arc::new(AtomicUsize::new(0)),
            fail_at: None,
            panic_at: None,
        }
    }
}

impl Dataset for Probe {
    fn len(&self) -> usize {
        self.n
    }

    fn get(&self, index: usize) -> Result<Vec<Tensor>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(self.sleep);
        if self.fail_at == Some(index) {
            return Err(Error::invalid("Probe::get", "the disk is on fire"));
        }
        if self.panic_at == Some(index) {
            panic!("probe panics on purpose");
        }
        Ok(vec![Tensor::scalar(index as i64, Device::Cpu)?])
    }
}

#[test]
fn dropping_the_iterator_halfway_stops_and_joins_the_workers() {
    let probe = Probe::new(1000, 2);
    let calls = probe.calls.clone();
    let cfg = DataLoaderConfig {
        batch_size: 4,
        num_workers: 4,
        prefetch_factor: 2,
        ..Default::default()
    };
    let loader = DataLoader::new(probe, cfg).unwrap();
    let mut batches = loader.iter();
    for i in 0..3 {
        let b = batches.next().unwrap().unwrap();
        assert_eq!(
            b[0].to_vec::<i64>().unwrap(),
            vec![4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3]
        );
    }
    // The workers hold the dataset while they run.
    assert!(Arc::strong_count(loader.dataset()) > 2);
    drop(batches);
    // Joined: no worker holds the dataset any more, and no more samples are loaded.
    assert_eq!(Arc::strong_count(loader.dataset()), 1);
    let after_drop = calls.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(calls.load(Ordering::SeqCst), after_drop);
    // Bounded prefetch: 3 batches consumed, at most 4 workers x 2 batches ahead (plus the
    // sample each worker may have started when cancelled).
    assert!(after_drop <= (3 + 8) * 4 + 4, "{after_drop} samples loaded");

    // A finished epoch leaves no workers either.
    let all = loader.iter_epoch(0).take(2).count();
    assert_eq!(all, 2);
    assert_eq!(Arc::strong_count(loader.dataset()), 1);
}

#[test]
fn a_get_error_names_the_sample_and_batch_and_ends_the_epoch() {
    for workers in [0, 1, 4] {
        let mut probe = Probe::new(40, 0);
        probe.fail_at = Some(13);
        let cfg = DataLoaderConfig {
            batch_size: 4,
            num_workers: workers,
            ..Default::default()
        };
        let loader = DataLoader::new(probe, cfg).unwrap();
        let mut batches = loader.iter();
        for _ in 0..3 {
            assert!(batches.next().unwrap().is_ok(), "workers {workers}");
        }
        let msg = err_string(batches.next().unwrap());
        assert!(
            msg.contains("batch 3") && msg.contains("sample 13") && msg.contains("on fire"),
            "workers {workers}: {msg}"
        );
        assert!(batches.next().is_none(), "workers {workers}");
        assert!(batches.next().is_none(), "workers {workers}");
        drop(batches);
        assert_eq!(Arc::strong_count(loader.dataset()), 1);
    }
}

#[test]
fn a_panic_in_get_becomes_an_error() {
    for workers in [0, 3] {
        let mut probe = Probe::new(20, 0);
        probe.panic_at = Some(6);
        let cfg = DataLoaderConfig {
            batch_size: 5,
            shuffle: false,
            num_workers: workers,
            ..Default::default()
        };
        let loader = DataLoader::new(probe, cfg).unwrap();
        let results: Vec<Result<Vec<Tensor>>> = loader.iter().collect();
        assert_eq!(results.len(), 2, "workers {workers}");
        assert!(results[0].is_ok());
        let msg = results[1].as_ref().unwrap_err().to_string();
        assert!(
            msg.contains("batch 1") && msg.contains("sample 6") && msg.contains("on purpose"),
            "workers {workers}: {msg}"
        );
        assert_eq!(Arc::strong_count(loader.dataset()), 1);
    }
}

/// Samples whose second field changes shape or whose field count changes at one index.
struct Ragged {
    odd_one: usize,
    extra_field: bool,
}

impl Dataset for Ragged {
    fn len(&self) -> usize {
        8
    }

    fn get(&self, index: usize) -> Result<Vec<Tensor>> {
        let odd = index == self.odd_one;
        let x = Tensor::zeros([2], DType::F32, Device::Cpu)?;
        if odd && self.extra_field {
            return Ok(vec![x.clone(), x.clone(), x]);
        }
        let y = Tensor::zeros([if odd { 3 } else { 1 }], DType::F32, Device::Cpu)?;
        Ok(vec![x, y])
    }
}

#[test]
fn ragged_samples_are_errors_naming_the_sample() {
    // (dataset, words the message must hold)
    let cases = [
        (
            Ragged {
                odd_one: 5,
                extra_field: false,
            },
            ["batch 1", "field 1 of sample 5", "[3]"],
        ),
        (
            Ragged {
                odd_one: 2,
                extra_field: true,
            },
            ["batch 0", "sample 2 has 3 fields", "expected 2"],
        ),
    ];
    for (ds, words) in cases {
        let loader = DataLoader::new(ds, config(4)).unwrap();
        let err = loader.iter().find_map(|b| b.err()).expect("an error");
        let msg = err.to_string();
        for w in words {
            assert!(msg.contains(w), "{msg:?} lacks {w:?}");
        }
    }
}

fn async_device() -> Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    *DEVICE.get_or_init(AsyncCpuBackend::register)
}

#[test]
fn batches_move_to_the_target_device() {
    let device = async_device();
    for workers in [0, 2] {
        let cfg = DataLoaderConfig {
            batch_size: 3,
            num_workers: workers,
            device,
            ..Default::default()
        };
        let loader = DataLoader::new(numbered(7), cfg).unwrap();
        let mut seen = Vec::new();
        for batch in loader.iter() {
            let batch = batch.unwrap();
            for t in &batch {
                assert_eq!(t.device(), device);
            }
            seen.extend(batch[1].to_vec::<i64>().unwrap());
        }
        assert_eq!(seen, (0..7).collect::<Vec<_>>());
    }
}

#[test]
fn user_datasets_work_shared_and_boxed() {
    let shared: Arc<dyn Dataset> = Arc::new(numbered(5));
    let boxed: Box<dyn Dataset> = Box::new(numbered(5));
    let a = DataLoader::new(shared.clone(), config(2)).unwrap();
    let b = DataLoader::new(boxed, config(2)).unwrap();
    assert_eq!(contents(a.iter()), contents(b.iter()));
    let sub = Subset::new(shared, vec![4, 0]).unwrap();
    let c = DataLoader::new(sub, config(2)).unwrap();
    assert_eq!(labels(c.iter()), vec![vec![4, 0]]);
}

#[test]
fn tensor_dataset_and_subset_errors() {
    let x = Tensor::zeros([3, 2], DType::F32, Device::Cpu).unwrap();
    let y = Tensor::zeros([4], DType::I64, Device::Cpu).unwrap();
    let s = Tensor::scalar(1.0f32, Device::Cpu).unwrap();
    assert!(err_string(TensorDataset::new(vec![x.clone(), y])).contains("same first dim"));
    assert!(err_string(TensorDataset::new(vec![s])).contains("zero-dim"));
    assert!(err_string(TensorDataset::new(vec![])).contains("at least one"));
    let ds = TensorDataset::new(vec![x]).unwrap();
    assert!(err_string(ds.get(3)).contains("index 3 is out of bounds"));
    assert!(err_string(Subset::new(ds.clone(), vec![0, 3])).contains("index 3"));
    let sub = Subset::new(ds, vec![2]).unwrap();
    assert!(err_string(sub.get(1)).contains("index 1"));
}

#[test]
fn randperm_is_a_deterministic_permutation() {
    for n in [0, 1, 2, 17, 1000] {
        let a = randperm(n, &Generator::new(5)).unwrap();
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..n).collect::<Vec<_>>());
        assert_eq!(a, randperm(n, &Generator::new(5)).unwrap());
        if n > 10 {
            assert_ne!(a, randperm(n, &Generator::new(6)).unwrap());
        }
    }
    // Successive draws from one generator differ.
    let g = Generator::new(1);
    assert_ne!(randperm(100, &g).unwrap(), randperm(100, &g).unwrap());
}

#[test]
fn random_split_sizes_follow_pytorch() {
    // (samples, lengths, expected sizes): fractions floor, then the remainder goes round-robin.
    let cases: Vec<(usize, SplitLengths, Vec<usize>)> = vec![
        (10, [3usize, 7].into(), vec![3, 7]),
        (10, [0.1, 0.2, 0.7].into(), vec![1, 2, 7]),
        (11, [0.5, 0.5].into(), vec![6, 5]),
        (5, [0.3, 0.3, 0.4].into(), vec![2, 1, 2]),
        (7, vec![0.25; 4].into(), vec![2, 2, 2, 1]),
        (1797, [0.8, 0.2].into(), vec![1438, 359]),
        (4, [1.0, 0.0].into(), vec![4, 0]),
    ];
    for (n, lengths, expected) in cases {
        assert_eq!(lengths.counts(n).unwrap(), expected, "{lengths:?} of {n}");
        let parts = random_split(numbered(n), lengths.clone(), &Generator::new(2)).unwrap();
        let sizes: Vec<usize> = parts.iter().map(|p| p.len()).collect();
        assert_eq!(sizes, expected, "{lengths:?} of {n}");
        // Disjoint and covering, with the samples the indices name.
        let mut all: Vec<usize> = parts.iter().flat_map(|p| p.indices().to_vec()).collect();
        all.sort();
        assert_eq!(all, (0..n).collect::<Vec<_>>());
        for p in &parts {
            for (i, &j) in p.indices().iter().enumerate() {
                assert_eq!(p.get(i).unwrap()[1].item::<i64>().unwrap(), j as i64);
            }
        }
        // The split is the seed's permutation cut in order.
        let perm = randperm(n, &Generator::new(2)).unwrap();
        assert_eq!(
            parts
                .iter()
                .flat_map(|p| p.indices().to_vec())
                .collect::<Vec<_>>(),
            perm
        );
    }
    // (lengths, words the error must hold)
    let bad: Vec<(SplitLengths, &str)> = vec![
        (
            [3usize, 3].into(),
            "sum to 6, expected the dataset's length 10",
        ),
        ([0.5, 0.6].into(), "sum to 1"),
        ([1.5, -0.5].into(), "lie in [0, 1]"),
    ];
    for (lengths, words) in bad {
        let msg = err_string(random_split(numbered(10), lengths, &Generator::new(0)));
        assert!(msg.contains(words), "{msg:?} lacks {words:?}");
    }
}

#[test]
fn digits_load() {
    let digits = Digits::load().unwrap();
    assert_eq!(digits.len(), 1797);
    let [x, y] = digits.tensors() else {
        panic!("two fields")
    };
    assert_eq!((x.dims(), x.dtype()), (&[1797, 64][..], DType::F32));
    assert_eq!((y.dims(), y.dtype()), (&[1797][..], DType::I64));
    let labels = y.to_vec::<i64>().unwrap();
    let mut histogram = [0usize; 10];
    for &l in &labels {
        assert!((0..=9).contains(&l), "label {l}");
        histogram[l as usize] += 1;
    }
    assert_eq!(histogram.iter().sum::<usize>(), 1797);
    // scikit-learn's class counts for load_digits.
    assert_eq!(
        histogram,
        [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    );
    let pixels = x.to_vec::<f32>().unwrap();
    assert!(pixels.iter().all(|&p| (0.0..=1.0).contains(&p)));
    // The first CSV row, divided by 16.
    let first: [f32; 64] = [
        0., 0., 5., 13., 9., 1., 0., 0., 0., 0., 13., 15., 10., 15., 5., 0., 0., 3., 15., 2., 0.,
        11., 8., 0., 0., 4., 12., 0., 0., 8., 8., 0., 0., 5., 8., 0., 0., 9., 8., 0., 0., 4., 11.,
        0., 1., 12., 7., 0., 0., 2., 14., 5., 10., 12., 0., 0., 0., 0., 6., 13., 10., 0., 0., 0.,
    ];
    let sample = digits.get(0).unwrap();
    let want: Vec<f32> = first.iter().map(|p| p / 16.0).collect();
    assert_eq!(sample[0].to_vec::<f32>().unwrap(), want);
    assert_eq!(sample[1].item::<i64>().unwrap(), 0);
    // Deterministic.
    let again = Digits::load().unwrap();
    assert_eq!(again.tensors()[0].to_vec::<f32>().unwrap(), pixels);
    assert_eq!(again.tensors()[1].to_vec::<i64>().unwrap(), labels);
}

/// An IDX file of u8 data: magic `00 00 08 ndim`, the dims, the data.
fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        out.extend(d.to_be_bytes());
    }
    out.extend(data);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn mnist_reads_idx_files_plain_and_gzipped() {
    let dir = tempfile::tempdir().unwrap();
    // 3 images of 2x4 pixels.
    let pixels: Vec<u8> = (0..24).map(|i| (i * 10) as u8).collect();
    let images = idx(&[3, 2, 4], &pixels);
    let labels = idx(&[3], &[7, 0, 9]);
    let plain = (
        write(dir.path(), "images", &images),
        write(dir.path(), "labels", &labels),
    );
    let gz = (
        write(dir.path(), "images.gz", &gzip(&images)),
        write(dir.path(), "labels.gz", &gzip(&labels)),
    );
    for (img, lab) in [plain, gz] {
        let ds = MnistDataset::from_files(&img, &lab).unwrap();
        assert_eq!(ds.len(), 3);
        assert_eq!(ds.images().dims(), &[3, 1, 2, 4]);
        let s = ds.get(1).unwrap();
        assert_eq!((s[0].dims(), s[0].dtype()), (&[1, 2, 4][..], DType::F32));
        let want: Vec<f32> = pixels[8..16].iter().map(|&p| p as f32 / 255.0).collect();
        assert_eq!(s[0].to_vec::<f32>().unwrap(), want);
        assert_eq!((s[1].dtype(), s[1].item::<i64>().unwrap()), (DType::I64, 0));
        let loader = DataLoader::new(ds, config(2)).unwrap();
        let b = loader.iter().next().unwrap().unwrap();
        assert_eq!(b[0].dims(), &[2, 1, 2, 4]);
        assert_eq!(b[1].to_vec::<i64>().unwrap(), vec![7, 0]);
    }
}

/// (case, images, labels, the file the error names, words it must hold)
type MnistCase = (&'static str, Vec<u8>, Vec<u8>, &'static str, &'static str);

#[test]
fn mnist_bad_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good_images = idx(&[2, 2, 2], &[0; 8]);
    let good_labels = idx(&[2], &[1, 2]);
    let mut label_magic_as_images = good_images.clone();
    label_magic_as_images[3] = 1;
    let mut float_type = good_images.clone();
    float_type[2] = 0x0d;
    let cases: Vec<MnistCase> = vec![
        (
            "swapped",
            good_labels.clone(),
            good_images.clone(),
            "images",
            "magic number 0x00000801",
        ),
        (
            "label magic",
            label_magic_as_images,
            good_labels.clone(),
            "images",
            "expected 0x00000803",
        ),
        (
            "float data",
            float_type,
            good_labels.clone(),
            "images",
            "0x00000d03",
        ),
        (
            "empty",
            vec![],
            good_labels.clone(),
            "images",
            "truncated: 0 bytes",
        ),
        (
            "short header",
            good_images[..9].to_vec(),
            good_labels.clone(),
            "images",
            "truncated: 9 bytes",
        ),
        (
            "short data",
            good_images[..18].to_vec(),
            good_labels.clone(),
            "images",
            "truncated: the header promises dims [2, 2, 2] (8 bytes",
        ),
        (
            "long data",
            idx(&[2, 2, 2], &[0; 9]),
            good_labels.clone(),
            "images",
            "trailing bytes",
        ),
        (
            "short labels",
            good_images.clone(),
            idx(&[2], &[1]),
            "labels",
            "truncated",
        ),
        (
            "count mismatch",
            good_images.clone(),
            idx(&[3], &[1, 2, 3]),
            "labels",
            "3 labels for 2 images",
        ),
        (
            "zero-size images",
            idx(&[2, 0, 2], &[]),
            good_labels.clone(),
            "images",
            "no pixels",
        ),
        (
            "bad gzip",
            vec![0x1f, 0x8b, 1, 2, 3],
            good_labels.clone(),
            "images",
            "cannot decompress",
        ),
    ];
    for (case, images, labels, culprit, words) in cases {
        let img = write(dir.path(), "images", &images);
        let lab = write(dir.path(), "labels", &labels);
        let err = MnistDataset::from_files(&img, &lab).expect_err(case);
        let msg = err.to_string();
        let culprit_path = dir.path().join(culprit).display().to_string();
        assert!(
            msg.starts_with(&format!("{culprit_path}: ")),
            "{case}: {msg}"
        );
        assert!(msg.contains(words), "{case}: {msg:?} lacks {words:?}");
        assert!(
            matches!(&err, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::InvalidData),
            "{case}: {err:?}"
        );
    }
    let missing = dir.path().join("missing");
    let msg = err_string(MnistDataset::from_files(&missing, &missing));
    assert!(msg.contains("missing"), "{msg}");
}

#[test]
fn csv_reads_features_and_targets() {
    let dir = tempfile::tempdir().unwrap();
    let text = "a; b ;label;c\n\n1;2;0;3\r\n-1.5; 1e2 ;2.0;\"4\"\n";
    let path = write(dir.path(), "data.csv", text.as_bytes());
    let gz = write(dir.path(), "data.csv.gz", &gzip(text.as_bytes()));
    let options = CsvOptions {
        has_header: true,
        label_column: "label".into(),
        delimiter: ';',
        target: CsvTarget::Class,
    };
    for p in [&path, &gz] {
        let ds = CsvDataset::from_path(p, options.clone()).unwrap();
        assert_eq!(ds.len(), 2);
        assert_eq!(ds.features().dims(), &[2, 3]);
        assert_eq!(
            ds.features().to_vec::<f32>().unwrap(),
            vec![1.0, 2.0, 3.0, -1.5, 100.0, 4.0]
        );
        assert_eq!(ds.targets().to_vec::<i64>().unwrap(), vec![0, 2]);
        assert_eq!(ds.feature_names().unwrap(), &["a", "b", "c"]);
        assert_eq!(ds.target_name(), Some("label"));
    }
    // By index, as regression targets, with no header.
    let options = CsvOptions {
        label_column: LabelColumn::Index(0),
        target: CsvTarget::Regression,
        ..Default::default()
    };
    let ds = CsvDataset::from_bytes(b"0.5,1,2\n1.5,3,4\n", "t.csv", options).unwrap();
    assert_eq!(ds.targets().to_vec::<f32>().unwrap(), vec![0.5, 1.5]);
    assert_eq!(ds.features().to_vec::<f32>().unwrap(), vec![1., 2., 3., 4.]);
    assert_eq!(ds.feature_names(), None);
    assert_eq!(ds.get(1).unwrap()[1].item::<f32>().unwrap(), 1.5);
}

#[test]
fn csv_bad_files_are_clear_errors() {
    let header = CsvOptions {
        has_header: true,
        ..Default::default()
    };
    let by_name = |n: &str| CsvOptions {
        label_column: n.into(),
        ..header.clone()
    };
    // (case, text, options, words the error must hold)
    let cases: Vec<(&str, &str, CsvOptions, &str)> = vec![
        (
            "bad number",
            "1,2,0\n3,x,1\n",
            CsvOptions::default(),
            "line 2, column 2: cannot parse \"x\" as a number",
        ),
        (
            "bad number, named",
            "p,q,y\n1,2,0\n3,4,1\n5,,1\n",
            header.clone(),
            "line 4, column 2 (\"q\"): cannot parse \"\"",
        ),
        (
            "fractional label",
            "1,2,0\n3,4,1.5\n",
            CsvOptions::default(),
            "line 2, column 3: cannot parse \"1.5\" as an integer class label",
        ),
        (
            "short row",
            "1,2,0\n3,4\n",
            CsvOptions::default(),
            "line 2: 2 columns, expected 3 (as on the first line)",
        ),
        (
            "long row",
            "a,b\n1,2\n3,4,5\n",
            header.clone(),
            "line 3: 3 columns, expected 2 (as in the header)",
        ),
        ("no rows", "a,b\n", header.clone(), "no data lines"),
        ("empty", "", CsvOptions::default(), "no data lines"),
        (
            "empty with header",
            "\n\n",
            header.clone(),
            "empty; expected a header",
        ),
        (
            "unknown name",
            "a,b\n1,2\n",
            by_name("label"),
            "no column is named \"label\"",
        ),
        (
            "name without header",
            "1,2\n",
            CsvOptions {
                label_column: "a".into(),
                ..Default::default()
            },
            "has_header is false",
        ),
        (
            "index out of range",
            "1,2\n",
            CsvOptions {
                label_column: LabelColumn::Index(2),
                ..Default::default()
            },
            "index 2 is out of range for 2 columns",
        ),
    ];
    for (case, text, options, words) in cases {
        let msg = err_string(CsvDataset::from_bytes(text.as_bytes(), "t.csv", options));
        assert!(msg.contains(words), "{case}: {msg:?} lacks {words:?}");
    }
    let msg = err_string(CsvDataset::from_bytes(
        b"1,2\n3,\xff\n",
        "t.csv",
        CsvOptions::default(),
    ));
    assert!(
        msg.contains("t.csv: line 2: the text is not valid UTF-8"),
        "{msg}"
    );
    let msg = err_string(CsvDataset::from_path(
        "/nonexistent/x.csv",
        CsvOptions::default(),
    ));
    assert!(msg.starts_with("/nonexistent/x.csv: "), "{msg}");
}

/// Reads sample `i` from a file that does not exist.
struct MissingFiles;

impl Dataset for MissingFiles {
    fn len(&self) -> usize {
        4
    }

    fn get(&self, index: usize) -> Result<Vec<Tensor>> {
        let path = format!("/nonexistent/silica/sample-{index}.bin");
        let bytes = std::fs::read(&path).map_err(|source| Error::Io { path, source })?;
        Ok(vec![Tensor::from_vec(bytes, [1], Device::Cpu)?])
    }
}

#[test]
fn an_io_error_in_a_dataset_stays_an_io_error_with_context() {
    for workers in [0, 2] {
        let cfg = DataLoaderConfig {
            num_workers: workers,
            ..config(2)
        };
        let loader = DataLoader::new(MissingFiles, cfg).unwrap();
        let err = loader.iter().find_map(|b| b.err()).expect("an error");
        let msg = err.to_string();
        assert!(
            msg.starts_with("DataLoader: batch 0, sample 0: /nonexistent/silica/sample-0.bin"),
            "workers {workers}: {msg}"
        );
        match err.root_cause() {
            Error::Io { path, source } => {
                assert!(path.ends_with("sample-0.bin"), "{path}");
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("workers {workers}: the cause lost its kind: {other:?}"),
        }
        assert!(
            std::error::Error::source(&err).is_some(),
            "the cause is chained"
        );
    }
}
