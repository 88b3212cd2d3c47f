//! The Python exception hierarchy and the one place core errors map to it.
//!
//! `AnimicaError(RuntimeError)` is the base, so code written against the
//! seed's `except RuntimeError` keeps working.

use animica_core::{Error, ErrorKind};
use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyRuntimeError};
use pyo3::prelude::*;

create_exception!(animica_native, AnimicaError, PyRuntimeError, "Base class of animica_native errors.");
create_exception!(animica_native, InvalidInput, AnimicaError, "An argument has an invalid value.");
create_exception!(
    animica_native,
    ComputationFailed,
    AnimicaError,
    "Valid input, but the computation cannot succeed (e.g. too many erasures)."
);
create_exception!(
    animica_native,
    BackendUnavailable,
    AnimicaError,
    "A native resource (such as the thread pool) is unavailable."
);

/// Convert a core error into the matching Python exception.
pub(crate) fn to_py(e: Error) -> PyErr {
    match e.kind() {
        ErrorKind::InvalidInput => InvalidInput::new_err(e.to_string()),
        ErrorKind::ComputationFailed => ComputationFailed::new_err(e.to_string()),
        ErrorKind::BackendUnavailable => BackendUnavailable::new_err(e.to_string()),
        ErrorKind::Io => match e {
            // OSError(errno, strerror, filename) picks the subclass
            // (FileNotFoundError, PermissionError, ...) from errno.
            Error::Io { path, source } => match source.raw_os_error() {
                Some(errno) => {
                    // Rust appends " (os error N)"; Python shows errno itself.
                    let msg = source.to_string();
                    let msg = msg.split(" (os error").next().unwrap_or(&msg).to_owned();
                    PyOSError::new_err((errno, msg, path))
                }
                None => PyOSError::new_err(format!("{}: {source}", path.display())),
            },
            other => PyOSError::new_err(other.to_string()),
        },
    }
}

/// Run native work, turning a Rust panic (a bug) into `ComputationFailed`
/// rather than letting PyO3 raise a `PanicException` (a `BaseException`).
pub(crate) fn guard<T>(f: impl FnOnce() -> animica_core::Result<T>) -> PyResult<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(to_py),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(ComputationFailed::new_err(format!("internal error (please report): {msg}")))
        }
    }
}
