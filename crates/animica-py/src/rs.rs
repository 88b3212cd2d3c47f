//! Bindings for `animica_core::rs`.

use std::sync::OnceLock;

use animica_core::{Threads, rs};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyType};

use crate::args;
use crate::buffer::{Batch, ByteView, OutBytes};
use crate::error::{guard, to_py};
use crate::hash::maybe_detach;

/// `animica_native.rs.ParityShard`, registered once by the Python package.
static PARITY_SHARD: OnceLock<Py<PyType>> = OnceLock::new();

/// Registers ``animica_native.rs.ParityShard`` (called once on import).
///
/// Returns: None.
/// Raises: TypeError if ``cls`` does not subclass ``bytes``.
#[pyfunction]
pub(crate) fn _register_parity_shard(cls: &Bound<'_, PyType>) -> PyResult<()> {
    if !cls.is_subclass_of::<PyBytes>()? {
        return Err(PyTypeError::new_err("ParityShard must subclass bytes"));
    }
    let _ = PARITY_SHARD.set(cls.clone().unbind());
    Ok(())
}

fn threads(max_threads: Option<usize>) -> PyResult<Threads> {
    Threads::from_option(max_threads).map_err(to_py)
}

/// Reed-Solomon parity (GF(2^16), reed-solomon-simd) for ``data_shards``:
/// ``k`` equal-length, non-empty bytes-like shards of any length. Large shards
/// are coded on up to ``max_threads`` threads; the output does not depend on
/// the thread count.
///
/// Returns: ``parity_shards`` parity shards, each a ``ParityShard`` (``bytes``
/// that remembers its index and the code's counts) as long as a data shard.
/// Raises: InvalidInput for shards of unequal or zero length, counts outside
/// reed-solomon-simd's limits (named in the message), or ``max_threads`` out
/// of range; TypeError if ``data_shards`` is not a sequence of bytes-like
/// objects.
#[pyfunction]
#[pyo3(name = "encode")]
#[pyo3(signature = (data_shards, parity_shards, *, max_threads = None))]
pub(crate) fn rs_encode<'py>(
    py: Python<'py>,
    data_shards: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = args::parity_shards)] parity_shards: usize,
    #[pyo3(from_py_with = args::max_threads)] max_threads: Option<usize>,
) -> PyResult<Bound<'py, PyList>> {
    let threads = threads(max_threads)?;
    let batch = Batch::new(data_shards, "data_shards")?;
    let data = batch.slices();
    // Validate before allocating outputs, so bad counts fail fast.
    let len = data.first().map_or(0, |d| d.len());
    rs::check_counts(data.len(), parity_shards, len).map_err(to_py)?;
    let cls = PARITY_SHARD
        .get()
        .ok_or_else(|| PyTypeError::new_err("animica_native.rs did not register ParityShard"))?
        .bind(py);
    let mut outs = (0..parity_shards).map(|_| OutBytes::subclass(cls, len)).collect::<PyResult<Vec<_>>>()?;
    let mut bufs: Vec<&mut [u8]> = outs.iter_mut().map(OutBytes::as_mut_slice).collect();
    maybe_detach(py, len * data.len(), || guard(|| rs::encode_into(data, &mut bufs, threads)))?;
    let k = data.len();
    for (i, o) in outs.iter().enumerate() {
        o.obj.setattr("index", i)?;
        o.obj.setattr("data_shards", k)?;
        o.obj.setattr("parity_shards", parity_shards)?;
    }
    PyList::new(py, outs.into_iter().map(|o| o.obj))
}

/// Views of a shard list with `None` for erased shards.
/// The shard objects as given, and a view of each (None for erasures).
type ShardViews<'py> = (Vec<Bound<'py, PyAny>>, Vec<Option<ByteView<'py>>>);

fn optional_views<'py>(shards: &Bound<'py, PyAny>) -> PyResult<ShardViews<'py>> {
    let items: Vec<Bound<'py, PyAny>> = if let Ok(l) = shards.cast::<PyList>() {
        l.iter().collect()
    } else {
        shards
            .try_iter()
            .map_err(|_| PyTypeError::new_err("shards must be a sequence of bytes-like objects or None"))?
            .collect::<PyResult<_>>()?
    };
    let views = items
        .iter()
        .enumerate()
        .map(|(i, x)| {
            if x.is_none() {
                Ok(None)
            } else {
                ByteView::new(x)
                    .map(Some)
                    .map_err(|e| PyErr::from_type(e.get_type(x.py()), format!("shards[{i}]: {}", e.value(x.py()))))
            }
        })
        .collect::<PyResult<_>>()?;
    Ok((items, views))
}

/// All ``k + m`` shards from ``shards`` (``None`` for erased ones), the
/// first ``data_shards`` being data (used by ``rs.reconstruct``).
///
/// Returns: the list of all shards, known ones unchanged.
/// Raises: ComputationFailed for more erasures than parity shards;
/// InvalidInput for unequal lengths or counts out of range.
#[pyfunction]
#[pyo3(signature = (shards, data_shards, *, max_threads = None))]
pub(crate) fn rs_reconstruct<'py>(
    py: Python<'py>,
    shards: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = args::data_shards)] data_shards: usize,
    #[pyo3(from_py_with = args::max_threads)] max_threads: Option<usize>,
) -> PyResult<Bound<'py, PyList>> {
    let threads = threads(max_threads)?;
    let (items, vs) = optional_views(shards)?;
    let opt: Vec<Option<&[u8]>> = vs.iter().map(|v| v.as_ref().map(ByteView::as_slice)).collect();
    let (missing, len) = rs::plan(data_shards, &opt).map_err(to_py)?;
    let mut outs = missing.iter().map(|_| OutBytes::bytes(py, len)).collect::<PyResult<Vec<_>>>()?;
    let mut bufs: Vec<&mut [u8]> = outs.iter_mut().map(OutBytes::as_mut_slice).collect();
    let work = len * data_shards;
    maybe_detach(py, work, || guard(|| rs::reconstruct_into(data_shards, &opt, &mut bufs, threads)))?;
    drop(bufs);
    let mut restored = outs.into_iter();
    let all = items.into_iter().map(|x| if x.is_none() { restored.next().map_or(x, |o| o.obj) } else { x });
    PyList::new(py, all)
}

/// Whether the parity shards of ``shards`` match its data (used by
/// ``rs.verify``).
///
/// Returns: ``True`` or ``False`` (also for missing shards or unequal lengths).
/// Raises: InvalidInput if ``data_shards`` or ``max_threads`` is out of range.
#[pyfunction]
#[pyo3(signature = (shards, data_shards, *, max_threads = None))]
pub(crate) fn rs_verify(
    py: Python<'_>,
    shards: &Bound<'_, PyAny>,
    #[pyo3(from_py_with = args::data_shards)] data_shards: usize,
    #[pyo3(from_py_with = args::max_threads)] max_threads: Option<usize>,
) -> PyResult<bool> {
    let threads = threads(max_threads)?;
    let (_, vs) = optional_views(shards)?;
    let Some(all) = vs.iter().map(|v| v.as_ref().map(ByteView::as_slice)).collect::<Option<Vec<&[u8]>>>() else {
        return Ok(false);
    };
    let work: usize = all.iter().map(|s| s.len()).sum();
    Ok(maybe_detach(py, work, || guard(|| rs::verify(data_shards, &all, threads))).unwrap_or(false))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_register_parity_shard, m)?)?;
    m.add_function(wrap_pyfunction!(rs_encode, m)?)?;
    m.add_function(wrap_pyfunction!(rs_reconstruct, m)?)?;
    m.add_function(wrap_pyfunction!(rs_verify, m)?)?;
    Ok(())
}
