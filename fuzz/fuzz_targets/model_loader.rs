//! The model loader on arbitrary bytes: loading never panics, and a model that
//! loads can score and explain without panicking. Each input is tried as a
//! whole model file and as a payload behind a valid header (so the fuzzer
//! reaches the decoder and the consistency checks past the checksum).

#![no_main]

use libfuzzer_sys::fuzz_target;
use moderate::model::file::{FORMAT_VERSION, MAGIC, load_bytes};
use std::path::Path;

/// FNV-1a 64, as in the model file header.
fn checksum(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn try_load(bytes: &[u8]) {
    if let Ok(model) = load_bytes(bytes, Path::new("fuzz.model")) {
        let mut scorer = model.scorer();
        for text in [
            "",
            "k i l l the 1d10ts",
            "Russia should use WMD on these animals",
        ] {
            let scores = scorer.score(text);
            assert_eq!(scores.probabilities.len(), model.labels.len());
            for label in 0..model.labels.len() {
                scorer.explain(text, label, 3);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    try_load(data);
    let mut file = Vec::with_capacity(28 + data.len());
    file.extend_from_slice(MAGIC);
    file.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    file.extend_from_slice(&(data.len() as u64).to_le_bytes());
    file.extend_from_slice(&checksum(data).to_le_bytes());
    file.extend_from_slice(data);
    try_load(&file);
});
