//! Memory is freed by ownership: a training-style loop leaves no storage behind. This binary
//! holds one test, so no concurrent test allocates while it counts.

use silica_core::{memory_stats, no_grad, DType, Device, Generator};

#[test]
fn a_thousand_steps_leave_live_storage_unchanged() {
    let gen = Generator::new(5);
    let w1 = gen
        .randn([16, 32], DType::F32, Device::Cpu)
        .unwrap()
        .mul_scalar(0.1)
        .unwrap();
    let w2 = gen
        .randn([32, 4], DType::F32, Device::Cpu)
        .unwrap()
        .mul_scalar(0.1)
        .unwrap();
    for w in [&w1, &w2] {
        w.set_requires_grad(true).unwrap();
    }
    let x = gen.randn([8, 16], DType::F32, Device::Cpu).unwrap();
    let y = gen.randint(0, 4, [8], DType::I64, Device::Cpu).unwrap();

    let step = || {
        let h = x.matmul(&w1).unwrap().relu().unwrap();
        let logp = h.matmul(&w2).unwrap().log_softmax(1).unwrap();
        let loss = logp
            .gather(1, &y.unsqueeze(1).unwrap())
            .unwrap()
            .mean_all()
            .unwrap()
            .neg()
            .unwrap();
        loss.backward().unwrap();
        let _guard = no_grad();
        for w in [&w1, &w2] {
            let g = w.grad().unwrap();
            w.assign(&w.sub(&g.mul_scalar(0.1).unwrap()).unwrap())
                .unwrap();
            w.set_grad(None).unwrap();
        }
        loss.item::<f32>().unwrap()
    };
    let first_loss = step();
    let before = memory_stats(Device::Cpu).unwrap();
    let mut last_loss = first_loss;
    for _ in 0..1000 {
        last_loss = step();
    }
    let after = memory_stats(Device::Cpu).unwrap();
    assert_eq!(
        after.live_storages, before.live_storages,
        "{before:?} -> {after:?}"
    );
    assert_eq!(
        after.live_bytes, before.live_bytes,
        "{before:?} -> {after:?}"
    );
    assert!(
        after.allocations > before.allocations + 1000,
        "the loop allocated"
    );
    assert!(
        last_loss < first_loss,
        "training made progress: {first_loss} -> {last_loss}"
    );
}
