//! Tells rustc which Python it builds for, as PyO3 itself is told: code
//! that is sound only with the GIL is left out of free-threaded builds
//! (`#[cfg(Py_GIL_DISABLED)]`).
fn main() {
    pyo3_build_config::use_pyo3_cfgs();
}
