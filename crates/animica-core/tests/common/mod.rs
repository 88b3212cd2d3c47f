//! Shared helpers: the repository's test vectors and the thread settings
//! every parallel path is tested under.

#![allow(dead_code, unreachable_pub)]

use std::num::NonZeroUsize;
use std::path::PathBuf;

use animica_core::Threads;

pub fn vectors(name: &str) -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/vectors").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `make vectors` from the repository root", path.display()));
    serde_json::from_str(&text).expect("valid JSON")
}

pub fn hex(v: &serde_json::Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("valid hex")
}

/// Serial, two threads, and the process default.
pub fn all_threads() -> [Threads; 3] {
    [Threads::SERIAL, Threads::Max(NonZeroUsize::new(2).unwrap()), Threads::Auto]
}

pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
