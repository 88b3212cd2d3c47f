//! Which implementation each operation uses in this process: fixed by the
//! build's features and, within them, by the process's backend
//! ([`crate::kernels`]).

use crate::kernels::{Backend, Feature};
use crate::parallel::{self, Threads};

/// The kernels selected in this process, for diagnostics (`build_info()`
/// in Python). Names are stable strings meant for people, not parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernels {
    /// Cargo features this crate was built with.
    pub features: Vec<&'static str>,
    /// The process's backend ([`Backend::get`]).
    pub backend: &'static str,
    /// Every backend this CPU runs, best first.
    pub backends: Vec<&'static str>,
    /// SHA-256 of many messages (batches, NMT levels).
    pub sha256_batch: &'static str,
    /// Keccak-f[1600].
    pub keccak: &'static str,
    /// The Reed-Solomon engine.
    pub reed_solomon: &'static str,
    /// Threads the default pool runs (1: serial).
    pub threads: usize,
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
    let backend = Backend::get();
    let arm = cfg!(target_arch = "aarch64");
    Kernels {
        features,
        backend: backend.name(),
        backends: Backend::available().into_iter().map(Backend::name).collect(),
        sha256_batch: match (crate::hash::sha256_batch_kernel(backend), arm, backend.has(Feature::ArmSha2)) {
            (Some(name), _, _) => name,
            (None, true, true) => "sha2, ARMv8 SHA-2 instructions, one message at a time",
            (None, true, false) => "sha2, portable, one message at a time",
            (None, false, _) => "sha2 (SHA-NI where available), one message at a time",
        },
        keccak: crate::hash::keccak_kernel(backend),
        reed_solomon: crate::rs::engine_name(backend),
        threads: parallel::thread_count(Threads::Auto).unwrap_or(1),
    }
}
