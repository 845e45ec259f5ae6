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
    // The ops composed from primitives.
    (
        "max_dim of an empty dim",
        || Ok(t(&[0, 3]).max_dim(0, false)?.0),
        &["max_dim", "dim 0 of size 0", "[0, 3]"],
    ),
    (
        "min_dim dim",
        || Ok(t(&[2, 3]).min_dim(2, false)?.1),
        &["min_dim", "dim 2", "[2, 3]"],
    ),
    (
        "tril of a vector",
        || t(&[3]).tril(0),
        &["tril", "at least 2 dims", "[3]"],
    ),
    (
        "triu of a 0-dim tensor",
        || t(&[]).triu(1),
        &["triu", "at least 2 dims", "[]"],
    ),
    (
        "repeat too few",
        || t(&[2, 3]).repeat(&[2]),
        &["repeat", "[2]", "[2, 3]", "at least one per dim"],
    ),
    (
        "repeat overflow",
        || t(&[2, 3]).repeat(&[usize::MAX, 1]),
        &["repeat", "[2, 3]", "overflow"],
    ),
    (
        "flip repeated dim",
        || t(&[2, 3]).flip([1, -1]),
        &["flip", "appears more than once", "[2, 3]"],
    ),
    (
        "flip dim",
        || t(&[2, 3]).flip([2]),
        &["flip", "dim 2", "[2, 3]"],
    ),
    (
        "roll shifts and dims",
        || t(&[2, 3]).roll(&[1, 2], [0]),
        &["roll: shifts has 2 entries, dims 1", "[2, 3]"],
    ),
    (
        "roll without dims",
        || t(&[2, 3]).roll(&[1, 2], Vec::<isize>::new()),
        &["roll: shifts has 2 entries, dims 0", "exactly one shift"],
    ),
    (
        "roll dim",
        || t(&[2, 3]).roll(&[1], [-3]),
        &["roll", "dim -3", "[2, 3]"],
    ),
    (
        "one_hot float indices",
        || t(&[3]).one_hot(Some(2)),
        &["one_hot", "f32", "i64", "[3]"],
    ),
    (
        "one_hot class out of range",
        || idx(&[1, 4]).one_hot(Some(3)),
        &["one_hot", "class value 4", "[0, 3)", "[2]"],
    ),
    (
        "one_hot negative class",
        || idx(&[1, -1]).one_hot(None),
        &["one_hot", "non-negative", "-1"],
    ),
    (
        "one_hot zero classes",
        || idx(&[0]).one_hot(Some(0)),
        &["one_hot", "positive", "[1]"],
    ),
    (
        "one_hot infers from nothing",
        || idx(&[]).one_hot(None),
        &["one_hot", "empty", "[0]", "num_classes"],
    ),
    (
        "norm of integers",
        || Tensor::zeros([2, 3], DType::I64, Device::Cpu)?.norm(2.0, 1, false),
        &["norm", "i64", "float", "[2, 3]"],
    ),
    (
        "norm p",
        || t(&[2, 3]).norm(3.0, 1, false),
        &["norm", "p = 3", "[2, 3]", "f32"],
    ),
    (
        "inf norm of an empty dim",
        || t(&[0, 3]).norm(f64::INFINITY, 0, false),
        &["norm", "inf", "dim 0 of size 0", "[0, 3]"],
    ),
    (
        "norm repeated dim",
        || t(&[2, 3]).norm(1.0, [0, -2], false),
        &["norm", "appears more than once"],
    ),
    (
        "clamp_tensor without bounds",
        || t(&[2]).clamp_tensor(None, None),
        &["clamp_tensor", "min", "max", "[2]"],
    ),
    (
        "clamp_tensor broadcast",
        || t(&[2, 3]).clamp_tensor(Some(&t(&[4])), Some(&t(&[3]))),
        &[
            "clamp_tensor",
            "[2, 3]",
            "[4]",
            "[3]",
            "cannot be broadcast",
        ],
    ),
    (
        "lerp dtypes",
        || {
            let end = Tensor::zeros([3], DType::F64, Device::Cpu)?;
            t(&[3]).lerp_scalar(&end, 0.5)
        },
        &["lerp", "f64", "f32", "end", "[3]", "does not promote"],
    ),
    (
        "lerp of integers",
        || {
            let x = Tensor::zeros([3], DType::I64, Device::Cpu)?;
            x.lerp(&x, &t(&[3]))
        },
        &["lerp", "i64", "float", "[3]"],
    ),
    (
        "lerp broadcast",
        || t(&[2, 3]).lerp(&t(&[2]), &t(&[3])),
        &["lerp", "[2, 3]", "[2]", "cannot be broadcast"],
    ),
    (
        "einsum operand count",
        || Tensor::einsum("ij,jk->ik", &[&t(&[2, 3])]),
        &["einsum", "ij,jk->ik", "2 operand terms", "1 operands"],
    ),
    (
        "einsum rank",
        || Tensor::einsum("ij->i", &[&t(&[2, 3, 4])]),
        &["einsum", "operand 0", "[2, 3, 4]", "2 subscripts"],
    ),
    (
        "einsum sizes",
        || Tensor::einsum("ij,jk->ik", &[&t(&[2, 3]), &t(&[4, 5])]),
        &[
            "einsum",
            "subscript j",
            "size 4",
            "[4, 5]",
            "size 3",
            "[2, 3]",
        ],
    ),
    (
        "einsum diagonal sizes",
        || Tensor::einsum("ii->i", &[&t(&[2, 3])]),
        &["einsum", "subscript i", "[2, 3]", "sizes 2 and 3"],
    ),
    (
        "einsum bad subscript",
        || Tensor::einsum("i1->i", &[&t(&[2, 3])]),
        &["einsum", "invalid subscript '1'", "index 1"],
    ),
    (
        "einsum output letter",
        || Tensor::einsum("ij->k", &[&t(&[2, 3])]),
        &["einsum", "output subscript k", "no operand"],
    ),
    (
        "einsum repeated output",
        || Tensor::einsum("ij->ii", &[&t(&[2, 3])]),
        &["einsum", "output subscript i", "more than once"],
    ),
    (
        "einsum two arrows",
        || Tensor::einsum("ij->j->i", &[&t(&[2, 3])]),
        &["einsum", "more than one '->'"],
    ),
    (
        "einsum dtypes",
        || {
            let b = Tensor::zeros([3, 4], DType::F64, Device::Cpu)?;
            Tensor::einsum("ij,jk->ik", &[&t(&[2, 3]), &b])
        },
        &["einsum", "f32", "f64", "[2, 3]", "[3, 4]"],
    ),
    (
        "einsum without operands",
        || Tensor::einsum("->", &[]),
        &["einsum", "at least one operand"],
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
