//! Bad input gives an `Err` that names the op, the shapes and what was expected — never a panic.

use silica_core::backendtest::AsyncCpuBackend;
use silica_core::{safetensors, Conv2dConfig, DType, Device, Error, Pool2dConfig, Result, Tensor};

fn t(shape: &[usize]) -> Tensor {
    Tensor::zeros(shape, DType::F32, Device::Cpu).unwrap()
}

fn idx(v: &[i64]) -> Tensor {
    Tensor::from_slice(v, [v.len()], Device::Cpu).unwrap()
}

/// (what, the failing call, substrings the message must contain)
type Row = (
    &'static str,
    fn() -> Result<Tensor>,
    &'static [&'static str],
);

const ROWS: &[Row] = &[
    // Shape mismatches.
    (
        "add broadcast",
        || t(&[2, 3]).add(&t(&[4])),
        &["add", "[2, 3]", "[4]", "cannot be broadcast"],
    ),
    (
        "matmul inner dims",
        || t(&[2, 3]).matmul(&t(&[4, 5])),
        &["matmul", "[2, 3]", "[4, 5]", "3 != 4"],
    ),
    (
        "matmul batch dims",
        || t(&[2, 3, 4]).matmul(&t(&[3, 4, 5])),
        &["matmul", "[2]", "[3]"],
    ),
    (
        "matmul scalar",
        || t(&[]).matmul(&t(&[3])),
        &["matmul", "at least 1 dim"],
    ),
    (
        "reshape count",
        || t(&[2, 3]).reshape([4, 2]),
        &["reshape", "[4, 2]", "[2, 3]"],
    ),
    (
        "reshape two holes",
        || t(&[2, 3]).reshape([-1, -1]),
        &["reshape", "-1"],
    ),
    (
        "view of transposed",
        || t(&[2, 3]).t()?.view([6]),
        &["view", "[3, 2]", "reshape"],
    ),
    (
        "expand",
        || t(&[2, 3]).expand([4, 3]),
        &["expand", "[2, 3]", "[4, 3]"],
    ),
    (
        "narrow past end",
        || t(&[4, 3]).narrow(0, 2, 3),
        &["narrow", "exceeds size 4"],
    ),
    (
        "select out of range",
        || t(&[4, 3]).select(1, 3),
        &["select", "index 3", "size 3"],
    ),
    (
        "cat shapes",
        || Tensor::cat(&[&t(&[2, 3]), &t(&[2, 4])], 0),
        &["cat", "[2, 3]", "[2, 4]"],
    ),
    (
        "stack shapes",
        || Tensor::stack(&[&t(&[2]), &t(&[3])], 0),
        &["stack", "[2]", "[3]"],
    ),
    (
        "conv2d channels",
        || t(&[8, 3, 32, 32]).conv2d(&t(&[16, 4, 3, 3]), None, &Conv2dConfig::default()),
        &["conv2d: input [8, 3, 32, 32] has 3 channels, weight [16, 4, 3, 3] expects 4"],
    ),
    (
        "conv2d kernel too big",
        || t(&[1, 1, 2, 2]).conv2d(&t(&[1, 1, 3, 3]), None, &Conv2dConfig::default()),
        &["conv2d", "[1, 1, 2, 2]", "smaller"],
    ),
    (
        "conv2d bias",
        || t(&[1, 2, 4, 4]).conv2d(&t(&[3, 2, 3, 3]), Some(&t(&[2])), &Conv2dConfig::default()),
        &["conv2d", "bias [2]", "[3]"],
    ),
    (
        "max_pool2d rank",
        || t(&[3, 4]).max_pool2d(&Pool2dConfig::new(2)),
        &["max_pool2d", "[3, 4]", "[n, c, h, w]"],
    ),
    (
        "gather index rank",
        || t(&[3, 4]).gather(1, &idx(&[0, 1])),
        &["gather", "[2]", "[3, 4]"],
    ),
    (
        "backward seed shape",
        || {
            let x = t(&[3]);
            x.set_requires_grad(true)?;
            x.mul_scalar(2.0)?.backward_with(&t(&[4]))?;
            Ok(x)
        },
        &["backward", "[4]", "[3]"],
    ),
    // Dims out of range.
    (
        "sum dim",
        || t(&[2, 3]).sum(2, false),
        &["sum", "dim 2", "[2, 3]", "[-2, 2)"],
    ),
    (
        "transpose dim",
        || t(&[2, 3]).transpose(0, -3),
        &["transpose", "dim -3"],
    ),
    (
        "softmax dim",
        || t(&[2, 3]).softmax(5),
        &["softmax", "dim 5"],
    ),
    (
        "unsqueeze dim",
        || t(&[2, 3]).unsqueeze(4),
        &["unsqueeze", "dim 4"],
    ),
    (
        "permute repeat",
        || t(&[2, 3]).permute([0, 0]),
        &["permute", "repeats"],
    ),
    // Dtype errors.
    (
        "index_select float index",
        || t(&[3, 2]).index_select(0, &Tensor::zeros([2], DType::F32, Device::Cpu)?),
        &["index_select", "f32", "i64 or i32 indices"],
    ),
    (
        "where float condition",
        || t(&[2]).where_cond(&t(&[2]), &t(&[2])),
        &["where", "f32", "bool"],
    ),
    (
        "mean of integers",
        || Tensor::zeros([3], DType::I64, Device::Cpu)?.mean_all(),
        &["mean", "i64", "float"],
    ),
    (
        "matmul mixed dtypes",
        || t(&[2, 2]).matmul(&Tensor::zeros([2, 2], DType::F64, Device::Cpu)?),
        &["matmul", "f32", "f64"],
    ),
    (
        "requires_grad on ints",
        || {
            let x = Tensor::zeros([2], DType::I32, Device::Cpu)?;
            x.set_requires_grad(true)?;
            Ok(x)
        },
        &["set_requires_grad", "i32", "float"],
    ),
    (
        "to_vec wrong type",
        || {
            t(&[2]).to_vec::<f64>()?;
            Ok(t(&[1]))
        },
        &["to_vec", "f32", "f64"],
    ),
    // Index values.
    (
        "index_select out of bounds",
        || t(&[3, 2]).index_select(0, &idx(&[0, 3])),
        &["index_select", "index 3", "size 3"],
    ),
    (
        "gather negative index",
        || t(&[2, 3]).gather(1, &Tensor::from_slice(&[-1i64, 0], [2, 1], Device::Cpu)?),
        &["gather", "index -1"],
    ),
    (
        "embedding id out of range",
        || t(&[4, 2]).embedding(&idx(&[1, 9])),
        &["index_select", "index 9", "size 4"],
    ),
    // Mixing devices.
    (
        "add across devices",
        || {
            let other = AsyncCpuBackend::register();
            t(&[2]).add(&t(&[2]).to_device(other)?)
        },
        &["add", "one device", "cpu", "custom:"],
    ),
    (
        "matmul across devices",
        || {
            let other = AsyncCpuBackend::register();
            t(&[2, 2]).to_device(other)?.matmul(&t(&[2, 2]))
        },
        &["matmul", "cpu", "custom:"],
    ),
    (
        "unbuilt device",
        || t(&[2]).to_device(Device::Metal(0)),
        &["metal:0", "not available"],
    ),
    // Autograd misuse.
    (
        "backward non-scalar",
        || {
            let x = t(&[3]);
            x.set_requires_grad(true)?;
            x.mul_scalar(2.0)?.backward()?;
            Ok(x)
        },
        &["backward", "one element", "[3]", "backward_with"],
    ),
    (
        "backward without grad",
        || {
            t(&[1]).sum_all()?.backward()?;
            Ok(t(&[1]))
        },
        &["backward", "does not require grad"],
    ),
    (
        "backward twice",
        || {
            let x = t(&[2]);
            x.set_requires_grad(true)?;
            let y = x.exp()?.sum_all()?;
            y.backward()?;
            y.backward()?;
            Ok(x)
        },
        &["backward", "second time", "retain_graph"],
    ),
    (
        "requires_grad on non-leaf",
        || {
            let x = t(&[2]);
            x.set_requires_grad(true)?;
            let y = x.exp()?;
            y.set_requires_grad(false)?;
            Ok(y)
        },
        &["leaf"],
    ),
    // Bad arguments.
    (
        "arange zero step",
        || Tensor::arange(0.0, 1.0, 0.0, DType::F32, Device::Cpu),
        &["arange", "step"],
    ),
    (
        "from_vec count",
        || Tensor::from_vec(vec![1.0f32; 5], [2, 3], Device::Cpu),
        &["from_vec", "5 elements", "[2, 3]"],
    ),
    (
        "dropout probability",
        || t(&[2]).dropout(1.5, &silica_core::Generator::new(0)),
        &["dropout", "1.5"],
    ),
    (
        "hostile safetensors",
        || {
            // A header length far past the end of the file.
            let mut bytes = u64::MAX.to_le_bytes().to_vec();
            bytes.extend_from_slice(b"{}");
            safetensors::deserialize(&bytes, Device::Cpu)?;
            Ok(t(&[1]))
        },
        &["safetensors", "header"],
    ),
];

#[test]
fn bad_input_gives_a_clear_error() {
    let mut failures = Vec::new();
    for (what, call, needles) in ROWS {
        match std::panic::catch_unwind(call) {
            Err(_) => failures.push(format!("{what}: panicked")),
            Ok(Ok(_)) => failures.push(format!("{what}: succeeded")),
            Ok(Err(e)) => {
                let msg = e.to_string();
                for n in *needles {
                    if !msg.contains(n) {
                        failures.push(format!("{what}: {msg:?} lacks {n:?}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn errors_are_matchable() {
    let e = t(&[2, 3]).sum(5, false).unwrap_err();
    assert!(matches!(
        e,
        Error::DimOutOfRange {
            op: "sum",
            dim: 5,
            ..
        }
    ));
    let e = t(&[3]).index_select(0, &idx(&[4])).unwrap_err();
    assert!(matches!(
        e,
        Error::IndexOutOfBounds {
            index: 4,
            size: 3,
            ..
        }
    ));
}
