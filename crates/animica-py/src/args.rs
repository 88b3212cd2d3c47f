//! Integer arguments. PyO3's own `usize` extraction raises `OverflowError`
//! for a negative or huge int; the contract wants `InvalidInput` naming the
//! limit, for every integer argument. Each function here is a
//! `#[pyo3(from_py_with = ..)]` extractor for one kind of argument: any
//! Python int (or `__index__` object) is accepted, anything outside the
//! argument's range is refused with the range in the message, and a
//! non-integer stays a `TypeError`.

use animica_core::nmt::MAX_NAMESPACE_SIZE;
use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;

use crate::error::InvalidInput;

/// The longest digest asked of BLAKE3's XOF: its hex form (twice as
/// long) must still be a Python `str`. Within this, a length the machine
/// cannot hold raises `MemoryError`, as `bytes` does.
pub(crate) const MAX_DIGEST_LENGTH: usize = isize::MAX as usize / 2;

/// Proofs store leaf indices as `u32`.
const MAX_LEAF_INDEX: usize = u32::MAX as usize;

/// `reed-solomon-simd` codes at most 65536 shards in all; see
/// `animica_core::rs::COUNT_LIMIT` for the exact rule checked after this.
const MAX_SHARDS: usize = 65536;

/// Thread counts beyond this are refused (any count above the cores
/// available already means "all of them").
const MAX_THREADS: usize = u32::MAX as usize;

/// `obj` as a `usize` in `lo..=hi`, else `InvalidInput` naming `name`.
fn ranged(obj: &Bound<'_, PyAny>, name: &str, lo: usize, hi: usize, note: &str) -> PyResult<usize> {
    let value = match obj.extract::<i128>() {
        Ok(v) => usize::try_from(v).ok().filter(|v| (lo..=hi).contains(v)).ok_or_else(|| v.to_string()),
        // Beyond i128: report the value as Python writes it.
        Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => Err(obj.str()?.to_string()),
        Err(e) => return Err(e),
    };
    value.map_err(|shown| InvalidInput::new_err(format!("{name} {shown} is out of range {lo}..={hi}{note}")))
}

/// `length=` of a BLAKE3 digest.
pub(crate) fn length(obj: &Bound<'_, PyAny>) -> PyResult<usize> {
    ranged(obj, "length", 0, MAX_DIGEST_LENGTH, "")
}

/// `namespace_size=` of the NMT functions.
pub(crate) fn namespace_size(obj: &Bound<'_, PyAny>) -> PyResult<usize> {
    ranged(obj, "namespace_size", 1, MAX_NAMESPACE_SIZE, "")
}

/// `namespace_size=None` or a width (the verify functions).
pub(crate) fn namespace_size_or_none(obj: &Bound<'_, PyAny>) -> PyResult<Option<usize>> {
    if obj.is_none() { Ok(None) } else { namespace_size(obj).map(Some) }
}

macro_rules! leaf_index {
    ($($fn:ident => $name:literal),*) => {$(
        #[doc = concat!("`", $name, "` (a leaf index of an NMT).")]
        pub(crate) fn $fn(obj: &Bound<'_, PyAny>) -> PyResult<usize> {
            ranged(obj, $name, 0, MAX_LEAF_INDEX, " (proofs hold leaf indices as u32)")
        }
    )*};
}
leaf_index!(index => "index", start => "start", end => "end");

/// `parity_shards` of `rs.encode`.
pub(crate) fn parity_shards(obj: &Bound<'_, PyAny>) -> PyResult<usize> {
    ranged(obj, "parity_shards", 1, MAX_SHARDS - 1, " (data + parity shards <= 65536)")
}

/// `data_shards` of `rs.reconstruct` / `rs.verify`.
pub(crate) fn data_shards(obj: &Bound<'_, PyAny>) -> PyResult<usize> {
    ranged(obj, "data_shards", 1, MAX_SHARDS - 1, " (data + parity shards <= 65536)")
}

/// `max_threads=None` (all) or a positive count.
pub(crate) fn max_threads(obj: &Bound<'_, PyAny>) -> PyResult<Option<usize>> {
    if obj.is_none() { Ok(None) } else { ranged(obj, "max_threads", 1, MAX_THREADS, "").map(Some) }
}
