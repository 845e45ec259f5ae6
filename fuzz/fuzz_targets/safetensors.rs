//! Fuzzes `silica_core::safetensors::deserialize`: any input must give a tensor map or an
//! `Error::SafeTensors`, never a panic, and an accepted file must survive a round trip through
//! `serialize`. See `src/roundtrip.rs` for the check, which the corpus regression test in
//! `crates/silica-core/tests/safetensors.rs` shares.

#![no_main]

#[path = "../src/roundtrip.rs"]
mod roundtrip;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = roundtrip::check(data);
});
