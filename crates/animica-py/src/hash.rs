//! Bindings for `animica_core::hash`.

use std::path::PathBuf;
use std::sync::Mutex;

use animica_core::hash::{self, Algorithm, Blake3Mode, StreamHasher};
use animica_core::{Threads, parallel};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use crate::args;
use crate::buffer::{Batch, ByteView, DigestItem, DigestList, OutBytes};
#[cfg(not(Py_GIL_DISABLED))]
use crate::buffer::{ListItem, item_view, list_in_place};
use crate::error::{AnimicaError, InvalidInput, guard, to_py};

/// Inputs shorter than this are hashed without releasing the GIL: for
/// them, releasing and re-acquiring costs more than the hashing.
pub(crate) const GIL_RELEASE_MIN: usize = 16 * 1024;

fn threads(max_threads: Option<usize>) -> PyResult<Threads> {
    Threads::from_option(max_threads).map_err(to_py)
}

/// Run `f` detached from the interpreter when `work` bytes make it worth it.
pub(crate) fn maybe_detach<T: Send>(
    py: Python<'_>,
    work: usize,
    f: impl FnOnce() -> PyResult<T> + Send,
) -> PyResult<T> {
    if work >= GIL_RELEASE_MIN { py.detach(f) } else { f() }
}

/// SHA-256 of ``data`` (any bytes-like object), as hashlib computes it.
///
/// Returns: the 32-byte digest.
/// Raises: TypeError if an argument is not a bytes-like object;
/// InvalidInput if a buffer is not C-contiguous.
#[pyfunction]
pub(crate) fn sha256<'py>(py: Python<'py>, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let v = ByteView::new(data)?;
    let s = v.as_slice();
    let d = maybe_detach(py, s.len(), || Ok(hash::sha256(s)))?;
    Ok(PyBytes::new(py, &d))
}

/// Ethereum's Keccak-256 of ``data`` (pad byte 0x01; not FIPS SHA3-256).
///
/// Returns: the 32-byte digest.
/// Raises: TypeError if an argument is not a bytes-like object;
/// InvalidInput if a buffer is not C-contiguous.
#[pyfunction]
pub(crate) fn keccak256<'py>(py: Python<'py>, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let v = ByteView::new(data)?;
    let s = v.as_slice();
    let d = maybe_detach(py, s.len(), || Ok(hash::keccak256(s)))?;
    Ok(PyBytes::new(py, &d))
}

fn mode<'a>(key: Option<&'a ByteView<'_>>, context: Option<&'a str>) -> PyResult<Blake3Mode<'a>> {
    Blake3Mode::new(key.map(ByteView::as_slice), context).map_err(to_py)
}

/// BLAKE3 of ``data``; ``length`` bytes from its extendable output (XOF),
/// keyed with a 32-byte ``key`` or in derive-key mode with
/// ``derive_key_context``. Inputs of 128 KiB or more are hashed on up to
/// ``max_threads`` threads (default: all).
///
/// Returns: ``length`` bytes (32 by default).
/// Raises: InvalidInput for a key that is not 32 bytes, both ``key`` and
/// ``derive_key_context``, or ``length`` / ``max_threads`` out of range (the
/// message names the range); MemoryError if ``length`` bytes cannot be
/// allocated; TypeError if an argument is not a bytes-like object;
/// InvalidInput if a buffer is not C-contiguous.
#[pyfunction]
#[pyo3(signature = (data, *, length = 32, key = None, derive_key_context = None, max_threads = None))]
pub(crate) fn blake3<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = args::length)] length: usize,
    key: Option<&Bound<'py, PyAny>>,
    derive_key_context: Option<&str>,
    #[pyo3(from_py_with = args::max_threads)] max_threads: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let v = ByteView::new(data)?;
    let key = key.map(ByteView::new).transpose()?;
    let mode = mode(key.as_ref(), derive_key_context)?;
    let threads = threads(max_threads)?;
    let s = v.as_slice();
    let mut out = OutBytes::bytes(py, length)?;
    let o = out.as_mut_slice();
    maybe_detach(py, s.len(), || guard(|| hash::blake3_xof(s, mode, threads, o)))?;
    Ok(out.obj)
}

fn many<'py>(
    py: Python<'py>,
    algorithm: Algorithm,
    items: &Bound<'py, PyAny>,
    max_threads: Option<usize>,
) -> PyResult<Bound<'py, PyList>> {
    let threads = threads(max_threads)?;
    // Alone on the calling thread, hashing detached from the interpreter
    // (below) lets other Python threads run; with a pool, overlap.
    let overlap =
        |len| -> PyResult<bool> { Ok(len >= OVERLAP_MIN_ITEMS && parallel::thread_count(threads).map_err(to_py)? > 1) };
    #[cfg(not(Py_GIL_DISABLED))]
    if let Ok(list) = items.cast_exact::<PyList>()
        && overlap(list.len())?
    {
        // The output list first: making it may start the garbage collector,
        // and so finalizers that could change `list`.
        // A finalizer that changed its length leaves the list to the
        // snapshot below.
        let out = DigestList::empty(py, list.len())?;
        // SAFETY: from here until `overlapped` returns, this thread stays
        // attached and runs no Python code: it only makes `bytes` objects,
        // which never start a collection, while the pool checks and hashes
        // the items. With the GIL held, no other thread runs Python code
        // either, so nothing changes `list` while its items are read.
        let items = unsafe { list_in_place(list) };
        if items.len() == out.len() {
            match overlapped(py, algorithm, items, out, threads, ListItem::as_bytes)? {
                Overlapped::All(digests) => return Ok(digests),
                Overlapped::Except(mut out, refused) => {
                    // Hold every item left before running any Python code
                    // (a buffer export may run some, and change `list`).
                    let held: Vec<(usize, Vec<Bound<'py, PyAny>>)> = refused
                        .into_iter()
                        .map(|c| {
                            let chunk = &items[c..items.len().min(c + OVERLAP_CHUNK)];
                            // SAFETY: nothing has run Python code since
                            // `items` was read, so each is a live item of
                            // `list`.
                            (c, chunk.iter().map(|i| unsafe { i.hold(py) }).collect())
                        })
                        .collect();
                    for (c, chunk) in held {
                        let views = chunk
                            .iter()
                            .enumerate()
                            .map(|(k, item)| item_view(item, "items", c + k))
                            .collect::<PyResult<Vec<_>>>()?;
                        let slices: Vec<&[u8]> = views.iter().map(ByteView::as_slice).collect();
                        many_into(py, algorithm, &slices, &mut out.slots()[c..c + slices.len()], threads)?;
                    }
                    return Ok(out.into_list());
                }
                // Too many items of other kinds: the snapshot below.
                Overlapped::Refused => {}
            }
        }
    }
    let batch = Batch::new(items, "items")?;
    if overlap(batch.len())? {
        let out = DigestList::empty(py, batch.len())?;
        return match overlapped(py, algorithm, batch.slices(), out, threads, |chunk| Some(chunk))? {
            Overlapped::All(digests) => Ok(digests),
            // `view` refuses nothing here.
            _ => Err(AnimicaError::new_err("internal error: a batch of buffers was refused")),
        };
    }
    let mut out = DigestList::new(py, batch.len())?;
    many_into(py, algorithm, batch.slices(), out.slots(), threads)?;
    Ok(out.into_list())
}

/// Batches of at least this many items overlap making their output
/// `bytes` (which needs the interpreter, so one thread) with hashing.
const OVERLAP_MIN_ITEMS: usize = 16 * 1024;
/// Items per unit of overlapped work.
const OVERLAP_CHUNK: usize = 2048;

/// Chunks whose items are not all `bytes` that [`many`] hashes itself, an
/// item at a time through the buffer protocol, once the other chunks are
/// done; with more, it leaves the whole list to the snapshot (a list of
/// `bytearray`s, say), and [`overlapped`] stops making the output early.
const PATCHED_CHUNKS_MAX: usize = 4;

/// How [`overlapped`] ended.
enum Overlapped<'py> {
    /// Every digest made.
    All(Bound<'py, PyList>),
    /// Every digest made but those of the chunks starting at these items
    /// (at most [`PATCHED_CHUNKS_MAX`], in order), which `view` refused.
    #[cfg_attr(Py_GIL_DISABLED, expect(dead_code, reason = "only a list read in place has chunks refused"))]
    Except(DigestList<'py>, Vec<usize>),
    /// `view` refused more chunks; the output is dropped.
    Refused,
}

/// `many` for large batches, on the core's `parallel::overlapped`: this
/// thread allocates the output `bytes` a chunk at a time while the pool
/// hashes the chunks already allocated, then hashes the chunks no worker
/// has taken yet beside them. It keeps the interpreter throughout: other
/// threads wait for the hashing left once every chunk is allocated, which
/// this thread's help shortens.
/// `out` is a list of `items.len()` empty slots. Each chunk of `items` is
/// hashed as `view` sees it, on the thread that hashes it; a chunk `view`
/// refuses (an item of another type) is left for the caller.
fn overlapped<'py, T: Sync, U: AsRef<[u8]> + Sync>(
    py: Python<'py>,
    algorithm: Algorithm,
    items: &[T],
    mut out: DigestList<'py>,
    threads: Threads,
    view: impl Fn(&[T]) -> Option<&[U]> + Sync,
) -> PyResult<Overlapped<'py>> {
    /// Why the allocating stopped.
    enum Stop {
        Refused,
        Failed(PyErr),
    }
    let refused = Mutex::new(Vec::new());
    let too_many = || refused.lock().map_or(true, |r| r.len() > PATCHED_CHUNKS_MAX);
    let allocated = guard(|| {
        parallel::overlapped(
            threads,
            items,
            out.slots(),
            OVERLAP_CHUNK,
            |head| {
                if too_many() {
                    return Err(Stop::Refused);
                }
                DigestList::alloc(py, head).map_err(Stop::Failed)
            },
            // A panic here reaches `guard` through the pool's scope.
            |chunk, head| match view(chunk) {
                Some(chunk) => {
                    hash::many_into(algorithm, chunk, head, Threads::SERIAL).expect("chunk and slots differ in length")
                }
                None => {
                    // The chunk's first item, from its place in `items`.
                    let first = (chunk.as_ptr() as usize - items.as_ptr() as usize) / size_of::<T>().max(1);
                    refused.lock().unwrap_or_else(|e| e.into_inner()).push(first);
                }
            },
        )
    })?;
    let mut refused = refused.into_inner().unwrap_or_else(|e| e.into_inner());
    refused.sort_unstable();
    Ok(match allocated {
        Err(Stop::Failed(e)) => return Err(e),
        Err(Stop::Refused) => Overlapped::Refused,
        Ok(()) if refused.len() > PATCHED_CHUNKS_MAX => Overlapped::Refused,
        Ok(()) if refused.is_empty() => Overlapped::All(out.into_list()),
        Ok(()) => Overlapped::Except(out, refused),
    })
}

fn many_into<T: AsRef<[u8]> + Sync>(
    py: Python<'_>,
    algorithm: Algorithm,
    items: &[T],
    out: &mut [DigestItem],
    threads: Threads,
) -> PyResult<()> {
    let work = parallel::work(items, GIL_RELEASE_MIN);
    maybe_detach(py, work, || guard(|| hash::many_into(algorithm, items, out, threads)))
}

/// BLAKE3 of each buffer of ``items`` (a sequence of bytes-like objects),
/// computed in parallel on up to ``max_threads`` threads (default: all).
///
/// Returns: a list of 32-byte digests, in the order of ``items``.
/// Raises: InvalidInput if ``max_threads`` is out of range or a buffer is not
/// C-contiguous; TypeError if ``items`` is not a sequence of bytes-like
/// objects.
#[pyfunction]
#[pyo3(signature = (items, *, max_threads = None))]
pub(crate) fn blake3_many<'py>(
    py: Python<'py>,
    items: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = args::max_threads)] max_threads: Option<usize>,
) -> PyResult<Bound<'py, PyList>> {
    many(py, Algorithm::Blake3, items, max_threads)
}

/// SHA-256 of each buffer of ``items`` (a sequence of bytes-like objects),
/// computed in parallel on up to ``max_threads`` threads (default: all).
///
/// Returns: a list of 32-byte digests, in the order of ``items``.
/// Raises: InvalidInput if ``max_threads`` is out of range or a buffer is not
/// C-contiguous; TypeError if ``items`` is not a sequence of bytes-like
/// objects.
#[pyfunction]
#[pyo3(signature = (items, *, max_threads = None))]
pub(crate) fn sha256_many<'py>(
    py: Python<'py>,
    items: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = args::max_threads)] max_threads: Option<usize>,
) -> PyResult<Bound<'py, PyList>> {
    many(py, Algorithm::Sha256, items, max_threads)
}

/// Keccak-256 of each buffer of ``items`` (a sequence of bytes-like objects),
/// computed in parallel on up to ``max_threads`` threads (default: all).
///
/// Returns: a list of 32-byte digests, in the order of ``items``.
/// Raises: InvalidInput if ``max_threads`` is out of range or a buffer is not
/// C-contiguous; TypeError if ``items`` is not a sequence of bytes-like
/// objects.
#[pyfunction]
#[pyo3(signature = (items, *, max_threads = None))]
pub(crate) fn keccak256_many<'py>(
    py: Python<'py>,
    items: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = args::max_threads)] max_threads: Option<usize>,
) -> PyResult<Bound<'py, PyList>> {
    many(py, Algorithm::Keccak256, items, max_threads)
}

fn parse_algorithm(name: &str) -> PyResult<Algorithm> {
    name.parse().map_err(to_py)
}

/// The digest of the file at ``path``, read by memory mapping (never
/// whole into Python); ``algorithm`` is "blake3" (multithreaded for large
/// files, up to ``max_threads``), "sha256" or "keccak256".
///
/// Returns: the 32-byte digest.
/// Raises: OSError (FileNotFoundError, PermissionError, ...) if the file
/// cannot be read; InvalidInput for an unknown algorithm or ``max_threads``
/// out of range.
#[pyfunction]
#[pyo3(signature = (path, algorithm = "blake3", *, max_threads = None))]
pub(crate) fn file<'py>(
    py: Python<'py>,
    path: PathBuf,
    algorithm: &str,
    #[pyo3(from_py_with = args::max_threads)] max_threads: Option<usize>,
) -> PyResult<Bound<'py, PyBytes>> {
    let alg = parse_algorithm(algorithm)?;
    let threads = threads(max_threads)?;
    let d = py.detach(|| guard(|| hash::file(&path, alg, threads)))?;
    Ok(PyBytes::new(py, &d))
}

/// Shared body of the three hashlib-protocol classes. The state sits
/// behind a mutex so concurrent `update` calls (free-threaded Python, or
/// another thread while we run detached) are serialised, as in hashlib.
/// The lock is only ever taken either briefly while attached, or entirely
/// inside a detached section, so no thread waits for the GIL holding it.
#[derive(Debug)]
pub(crate) struct State {
    inner: Mutex<StreamHasher>,
    threads: Threads,
}

impl State {
    fn new(h: StreamHasher, threads: Threads) -> Self {
        State { inner: Mutex::new(h), threads }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StreamHasher> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let v = ByteView::new(data)?;
        let s = v.as_slice();
        let threads = self.threads;
        maybe_detach(py, s.len(), || guard(|| self.lock().update(s, threads)))
    }

    fn snapshot(&self) -> StreamHasher {
        self.lock().clone()
    }

    fn digest<'py>(&self, py: Python<'py>, length: usize) -> PyResult<Bound<'py, PyAny>> {
        let h = self.snapshot();
        if h.algorithm() != Algorithm::Blake3 && length > 32 {
            return Err(InvalidInput::new_err(format!(
                "{} digests are 32 bytes, asked for {length}",
                h.algorithm().name()
            )));
        }
        let mut out = OutBytes::bytes(py, length)?;
        h.finalize_into(out.as_mut_slice());
        Ok(out.obj)
    }

    /// The digest as hex: the bytes are made (and their size checked) by
    /// the interpreter, then `bytes.hex()` makes the string, so a length
    /// too large for memory raises `MemoryError` rather than aborting.
    fn hexdigest<'py>(&self, py: Python<'py>, length: usize) -> PyResult<Bound<'py, PyAny>> {
        self.digest(py, length)?.call_method0(pyo3::intern!(py, "hex"))
    }
}

macro_rules! fixed_hasher {
    ($ty:ident, $pyname:literal, $alg:expr, $doc:literal) => {
        #[doc = $doc]
        #[pyclass(name = $pyname, module = "animica_native.hash", frozen)]
        #[derive(Debug)]
        pub(crate) struct $ty {
            state: State,
        }

        #[pymethods]
        impl $ty {
            #[new]
            #[pyo3(signature = (data = None, *, usedforsecurity = true))]
            fn new(py: Python<'_>, data: Option<&Bound<'_, PyAny>>, usedforsecurity: bool) -> PyResult<Self> {
                let _ = usedforsecurity; // accepted for hashlib compatibility
                let this = $ty { state: State::new(StreamHasher::new($alg), Threads::SERIAL) };
                if let Some(d) = data {
                    this.state.update(py, d)?;
                }
                Ok(this)
            }

            /// Absorbs ``data`` (bytes-like).
            ///
            /// Returns: self, so calls can be chained.
            /// Raises: TypeError if ``data`` is not bytes-like.
            fn update<'py>(slf: Bound<'py, Self>, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
                slf.get().state.update(slf.py(), data)?;
                Ok(slf)
            }

            /// The digest of everything absorbed so far (the state is kept).
            ///
            /// Returns: 32 bytes.
            fn digest<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                self.state.digest(py, 32)
            }

            /// The digest as lowercase hex.
            ///
            /// Returns: a 64-character ``str``.
            fn hexdigest<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                self.state.hexdigest(py, 32)
            }

            /// An independent copy of the current state.
            ///
            /// Returns: a new Blake3 hasher (same mode and thread limit).
            ///
            /// Returns: a new hasher of the same kind.
            fn copy(&self) -> Self {
                $ty { state: State::new(self.state.snapshot(), self.state.threads) }
            }

            /// The algorithm's name, as hashlib spells it.
            #[getter]
            fn name(&self) -> &'static str {
                $alg.name()
            }

            /// Bytes in a digest (32).
            #[getter]
            fn digest_size(&self) -> usize {
                $alg.digest_size()
            }

            /// Bytes in the algorithm's internal block (for hmac).
            #[getter]
            fn block_size(&self) -> usize {
                $alg.block_size()
            }

            fn __repr__(&self) -> String {
                format!("<animica_native.hash.{} object>", $pyname)
            }
        }
    };
}

fixed_hasher!(
    Sha256,
    "Sha256",
    Algorithm::Sha256,
    "Sha256(data=None, *, usedforsecurity=True): streaming SHA-256 with hashlib's\n\
     protocol (update, digest, hexdigest, copy), for hashlib.file_digest and hmac.new.\n\n\
     Raises: TypeError if data is not bytes-like; InvalidInput if it is not C-contiguous."
);
fixed_hasher!(
    Keccak256,
    "Keccak256",
    Algorithm::Keccak256,
    "Keccak256(data=None, *, usedforsecurity=True): streaming Ethereum Keccak-256 with\n\
     hashlib's protocol (update, digest, hexdigest, copy).\n\n\
     Raises: TypeError if data is not bytes-like; InvalidInput if it is not C-contiguous."
);

/// Blake3(data=None, *, key=None, derive_key_context=None, max_threads=None):
/// streaming BLAKE3 with hashlib's protocol (update, digest, hexdigest,
/// copy), keyed or derive-key modes, and extendable output
/// (``digest(length)``).
///
/// Raises: InvalidInput for a key that is not 32 bytes, both key and
/// derive_key_context, or max_threads out of range; TypeError if data is
/// not bytes-like.
#[pyclass(name = "Blake3", module = "animica_native.hash", frozen)]
#[derive(Debug)]
pub(crate) struct Blake3 {
    state: State,
}

#[pymethods]
impl Blake3 {
    #[new]
    #[pyo3(signature = (data = None, *, key = None, derive_key_context = None, max_threads = None, usedforsecurity = true))]
    fn new(
        py: Python<'_>,
        data: Option<&Bound<'_, PyAny>>,
        key: Option<&Bound<'_, PyAny>>,
        derive_key_context: Option<&str>,
        #[pyo3(from_py_with = args::max_threads)] max_threads: Option<usize>,
        usedforsecurity: bool,
    ) -> PyResult<Self> {
        let _ = usedforsecurity;
        let key = key.map(ByteView::new).transpose()?;
        let mode = mode(key.as_ref(), derive_key_context)?;
        let this = Blake3 { state: State::new(StreamHasher::blake3(mode), threads(max_threads)?) };
        if let Some(d) = data {
            this.state.update(py, d)?;
        }
        Ok(this)
    }

    /// Absorbs ``data`` (bytes-like); large inputs use up to ``max_threads``.
    ///
    /// Returns: self, so calls can be chained.
    /// Raises: TypeError if ``data`` is not bytes-like.
    fn update<'py>(slf: Bound<'py, Self>, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        slf.get().state.update(slf.py(), data)?;
        Ok(slf)
    }

    /// ``length`` bytes of output (default 32) from BLAKE3's XOF, for
    /// everything absorbed so far (the state is kept).
    ///
    /// Returns: ``length`` bytes.
    /// Raises: InvalidInput if ``length`` is out of range (named in the
    /// message); MemoryError if it cannot be allocated.
    #[pyo3(signature = (length = 32))]
    fn digest<'py>(
        &self,
        py: Python<'py>,
        #[pyo3(from_py_with = args::length)] length: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.state.digest(py, length)
    }

    /// ``digest(length)`` as lowercase hex.
    ///
    /// Returns: a ``str`` of ``2 * length`` characters.
    /// Raises: as ``digest``.
    #[pyo3(signature = (length = 32))]
    fn hexdigest<'py>(
        &self,
        py: Python<'py>,
        #[pyo3(from_py_with = args::length)] length: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.state.hexdigest(py, length)
    }

    /// An independent copy of the current state.
    ///
    /// Returns: a new Blake3 hasher (same mode and thread limit).
    fn copy(&self) -> Self {
        Blake3 { state: State::new(self.state.snapshot(), self.state.threads) }
    }

    /// "blake3".
    #[getter]
    fn name(&self) -> &'static str {
        "blake3"
    }

    /// Bytes in the default digest (32).
    #[getter]
    fn digest_size(&self) -> usize {
        32
    }

    /// Bytes in BLAKE3's block (64, for hmac).
    #[getter]
    fn block_size(&self) -> usize {
        64
    }

    fn __repr__(&self) -> String {
        "<animica_native.hash.Blake3 object>".to_owned()
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(blake3, m)?)?;
    m.add_function(wrap_pyfunction!(sha256, m)?)?;
    m.add_function(wrap_pyfunction!(keccak256, m)?)?;
    m.add_function(wrap_pyfunction!(blake3_many, m)?)?;
    m.add_function(wrap_pyfunction!(sha256_many, m)?)?;
    m.add_function(wrap_pyfunction!(keccak256_many, m)?)?;
    m.add_function(wrap_pyfunction!(file, m)?)?;
    m.add_class::<Blake3>()?;
    m.add_class::<Sha256>()?;
    m.add_class::<Keccak256>()?;
    Ok(())
}
