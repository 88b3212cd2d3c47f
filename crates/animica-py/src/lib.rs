//! `animica_native._native`: a thin PyO3 layer over `animica-core`.
//!
//! This crate only converts types, releases the GIL around heavy work and
//! maps errors (in `error`); every algorithm lives in the core crate. The
//! public Python API is the `animica_native` package, which re-exports
//! these functions under their documented names.

mod buffer;
mod error;
mod hash;
mod nmt;
mod rs;

use pyo3::prelude::*;

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
    hash::register(m)?;
    nmt::register(m)?;
    rs::register(m)?;
    Ok(())
}
