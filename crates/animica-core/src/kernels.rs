//! Which implementation each operation uses on this machine: fixed by the
//! build's features and, within them, by what the CPU offers.

use crate::parallel::{self, Threads};

/// The kernels selected in this process, for diagnostics (`build_info()`
/// in Python). Names are stable strings meant for people, not parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernels {
    /// Cargo features this crate was built with.
    pub features: Vec<&'static str>,
    /// SHA-256 of many messages (batches, NMT levels).
    pub sha256_batch: &'static str,
    /// Keccak-f[1600].
    pub keccak: &'static str,
    /// The Reed-Solomon engine.
    pub reed_solomon: &'static str,
    /// Threads the default pool runs (1: serial).
    pub threads: usize,
}

#[cfg(target_arch = "x86_64")]
fn has(feature: &str) -> bool {
    match feature {
        "avx512" => is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw"),
        "bmi1" => is_x86_feature_detected!("bmi1"),
        _ => false,
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn has(_feature: &str) -> bool {
    false
}

/// The kernels this process uses.
pub fn kernels() -> Kernels {
    let features = [
        ("simd", cfg!(feature = "simd")),
        ("threads", cfg!(feature = "threads")),
        ("optimized-keccak", cfg!(feature = "optimized-keccak")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    let simd = cfg!(feature = "simd") && has("avx512");
    Kernels {
        features,
        sha256_batch: if simd { "avx512 16-lane" } else { "sha2 (SHA-NI where available), one message at a time" },
        keccak: match (cfg!(feature = "optimized-keccak"), has("bmi1")) {
            (true, true) => "unrolled, BMI1",
            (true, false) => "unrolled",
            (false, _) => "keccak crate",
        },
        reed_solomon: if simd { "avx512" } else { "reed-solomon-simd default engine" },
        threads: parallel::thread_count(Threads::Auto).unwrap_or(1),
    }
}
