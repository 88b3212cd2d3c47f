//! `animica_native._native`: a thin PyO3 layer over `animica-core`.
//!
//! This crate only converts types, releases the GIL around heavy work and
//! maps errors (in `error`); every algorithm lives in the core crate. The
//! public Python API is the `animica_native` package, which re-exports
//! these functions under their documented names.

mod args;
mod buffer;
mod error;
mod hash;
mod nmt;
mod rs;

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// What this build is and which kernels this process runs: the version,
/// the build's features, the backend (the best this CPU runs, or the one
/// ``ANIMICA_BACKEND`` caps it to: portable, avx2, avx512, neon) and the
/// backends this CPU runs, for SHA-256 batches, Keccak and Reed-Solomon
/// the implementation that backend uses, and the default thread count.
///
/// Returns: a dict with keys version, features, backend, backends,
/// sha256_batch, keccak, reed_solomon and threads.
/// Raises: BackendUnavailable if the thread pool cannot be started.
#[pyfunction]
fn build_info(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let k = animica_core::selection::kernels();
    let mut features = vec!["python"];
    features.extend(k.features.iter().map(|f| match *f {
        "threads" => "rayon",
        "optimized-keccak" => "c_keccak",
        other => other,
    }));
    if cfg!(feature = "isal") {
        features.push("isal");
    }
    let d = PyDict::new(py);
    d.set_item("version", env!("CARGO_PKG_VERSION"))?;
    d.set_item("features", features)?;
    d.set_item("backend", k.backend)?;
    d.set_item("backends", k.backends)?;
    d.set_item("sha256_batch", k.sha256_batch)?;
    d.set_item("keccak", k.keccak)?;
    d.set_item("reed_solomon", k.reed_solomon)?;
    d.set_item("threads", k.threads)?;
    Ok(d)
}

/// The extension module. Free-threaded CPython may run it without the GIL:
/// all state is either per call, behind a mutex, or set once.
#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("AnimicaError", py.get_type::<error::AnimicaError>())?;
    m.add("InvalidInput", py.get_type::<error::InvalidInput>())?;
    m.add("ComputationFailed", py.get_type::<error::ComputationFailed>())?;
    m.add("BackendUnavailable", py.get_type::<error::BackendUnavailable>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(build_info, m)?)?;
    hash::register(m)?;
    nmt::register(m)?;
    rs::register(m)?;
    Ok(())
}
