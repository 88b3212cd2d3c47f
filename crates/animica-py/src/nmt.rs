//! Bindings for `animica_core::nmt`.

use animica_core::nmt::{self, NmtHasher, Proof, Tree};
use animica_core::parallel;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use crate::args;
#[cfg(not(Py_GIL_DISABLED))]
use crate::buffer::Pins;
use crate::buffer::{Batch, ByteView};
use crate::error::{guard, to_py};
use crate::hash::{GIL_RELEASE_MIN, maybe_detach};

fn hasher(namespace_size: usize) -> PyResult<NmtHasher> {
    NmtHasher::new(namespace_size).map_err(to_py)
}

/// Build the tree over `leaves` (GIL released when large) and run `f` on it.
fn with_tree<'py, T: Send>(
    py: Python<'py>,
    leaves: &Bound<'py, PyAny>,
    namespaces: &Bound<'py, PyAny>,
    namespace_size: usize,
    f: impl FnOnce(&Tree) -> animica_core::Result<T> + Send,
) -> PyResult<T> {
    let h = hasher(namespace_size)?;
    let (lb, nb) = (Batch::new(leaves, "leaves")?, Batch::new(namespaces, "namespaces")?);
    let (l, n) = (lb.slices(), nb.slices());
    let work = parallel::work(l, GIL_RELEASE_MIN);
    maybe_detach(py, work, || guard(|| f(&Tree::new(h, l, n, animica_core::Threads::Auto)?)))
}

/// The root of the Namespaced Merkle Tree over ``leaves``, where
/// ``namespaces[i]`` is the namespace of ``leaves[i]`` (non-decreasing).
/// ``namespace_size`` (1 to 64, default 8) is the namespace width in bytes.
///
/// Returns: the root, ``2 * namespace_size + 32`` bytes (min || max || hash).
/// Raises: InvalidInput for unequal counts, a namespace of the wrong width,
/// decreasing namespaces, or ``namespace_size`` / ``max_threads`` out of
/// range; TypeError for arguments that are not sequences of bytes-like
/// objects.
#[pyfunction]
#[pyo3(name = "root")]
#[pyo3(signature = (leaves, namespaces, *, namespace_size = 8, max_threads = None))]
pub(crate) fn nmt_root<'py>(
    py: Python<'py>,
    leaves: &Bound<'py, PyAny>,
    namespaces: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = args::namespace_size)] namespace_size: usize,
    #[pyo3(from_py_with = args::max_threads)] max_threads: Option<usize>,
) -> PyResult<Bound<'py, PyBytes>> {
    let h = hasher(namespace_size)?;
    let threads = animica_core::Threads::from_option(max_threads).map_err(to_py)?;
    #[cfg(not(Py_GIL_DISABLED))]
    if let Some(root) = streamed_root(py, &h, leaves, namespaces, threads)? {
        return Ok(PyBytes::new(py, &root));
    }
    let (lb, nb) = (Batch::new(leaves, "leaves")?, Batch::new(namespaces, "namespaces")?);
    let (l, n) = (lb.slices(), nb.slices());
    let work = parallel::work(l, GIL_RELEASE_MIN);
    let root = maybe_detach(py, work, || guard(|| nmt::root(&h, l, n, threads)))?;
    Ok(PyBytes::new(py, &root))
}

/// Trees of at least this many leaves, on more than one thread, are pinned
/// a unit at a time while the pool hashes the units pinned before.
#[cfg(not(Py_GIL_DISABLED))]
const STREAM_MIN_LEAVES: usize = 4 * nmt::STREAM_UNIT;

/// `root` of lists or tuples of `bytes`, pinning overlapped with hashing
/// (`nmt::root_streamed`); the interpreter is released once every item is
/// pinned. `None` for other arguments, smaller trees, one thread, and every
/// error: the general path then answers, with its errors in its order.
#[cfg(not(Py_GIL_DISABLED))]
fn streamed_root<'py>(
    py: Python<'py>,
    h: &NmtHasher,
    leaves: &Bound<'py, PyAny>,
    namespaces: &Bound<'py, PyAny>,
    threads: animica_core::Threads,
) -> PyResult<Option<Vec<u8>>> {
    if !parallel::thread_count(threads).is_ok_and(|t| t > 1) {
        return Ok(None);
    }
    let Some(l) = Pins::new(leaves, STREAM_MIN_LEAVES)? else { return Ok(None) };
    let count = l.len();
    let Some(n) = Pins::new(namespaces, count)?.filter(|n| n.len() == count) else { return Ok(None) };
    guard(|| {
        let root = nmt::root_streamed(
            h,
            count,
            threads,
            // SAFETY: from the first pin until `idle` below, this thread
            // stays attached and runs no Python code: `root_streamed` only
            // pins, checks namespaces and hands work to the pool, and it
            // pins each range once.
            |range, ls, ns| unsafe {
                l.pin(range.clone(), ls)?;
                n.pin(range, ns)
            },
            |rest| py.detach(rest),
        );
        Ok(root.ok().and_then(Result::ok))
    })
}

/// A proof that ``leaves[index]`` is in the tree (a range proof of
/// length 1). ``namespace_size`` (1 to 64, default 8) is the namespace width in bytes.
///
/// Returns: the proof in wire format v1 (``bytes``; see ``Proof``).
/// Raises: InvalidInput if ``index`` is not a leaf of the tree, or as ``root``
/// does for the leaves and namespaces.
#[pyfunction]
#[pyo3(name = "prove")]
#[pyo3(signature = (leaves, namespaces, index, *, namespace_size = 8))]
pub(crate) fn nmt_prove<'py>(
    py: Python<'py>,
    leaves: &Bound<'py, PyAny>,
    namespaces: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = args::index)] index: usize,
    #[pyo3(from_py_with = args::namespace_size)] namespace_size: usize,
) -> PyResult<Bound<'py, PyBytes>> {
    let p = with_tree(py, leaves, namespaces, namespace_size, |t| t.prove_range(index, index.saturating_add(1)))?;
    Ok(PyBytes::new(py, &p.to_bytes()))
}

/// A proof for the leaves ``[start, end)``.
/// ``namespace_size`` (1 to 64, default 8) is the namespace width in bytes.
///
/// Returns: the proof in wire format v1 (``bytes``; see ``Proof``).
/// Raises: InvalidInput if the range is empty or not within the leaves, or as
/// ``root`` does for the leaves and namespaces.
#[pyfunction]
#[pyo3(name = "prove_range")]
#[pyo3(signature = (leaves, namespaces, start, end, *, namespace_size = 8))]
pub(crate) fn nmt_prove_range<'py>(
    py: Python<'py>,
    leaves: &Bound<'py, PyAny>,
    namespaces: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = args::start)] start: usize,
    #[pyo3(from_py_with = args::end)] end: usize,
    #[pyo3(from_py_with = args::namespace_size)] namespace_size: usize,
) -> PyResult<Bound<'py, PyBytes>> {
    let p = with_tree(py, leaves, namespaces, namespace_size, |t| t.prove_range(start, end))?;
    Ok(PyBytes::new(py, &p.to_bytes()))
}

/// A proof of every leaf of ``namespace``: their inclusion range, or an
/// absence proof (the hash of the leaf where the namespace would be) when no
/// leaf has it, or the empty proof when it lies outside the leaves'
/// namespaces (as celestiaorg/nmt's ProveNamespace).
/// ``namespace_size`` (1 to 64, default 8) is the namespace width in bytes.
///
/// Returns: the proof in wire format v1 (``bytes``; see ``Proof``).
/// Raises: InvalidInput if ``namespace`` is not ``namespace_size`` bytes, or as
/// ``root`` does for the leaves and namespaces.
#[pyfunction]
#[pyo3(name = "prove_namespace")]
#[pyo3(signature = (leaves, namespaces, namespace, *, namespace_size = 8))]
pub(crate) fn nmt_prove_namespace<'py>(
    py: Python<'py>,
    leaves: &Bound<'py, PyAny>,
    namespaces: &Bound<'py, PyAny>,
    namespace: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = args::namespace_size)] namespace_size: usize,
) -> PyResult<Bound<'py, PyBytes>> {
    let ns = ByteView::new(namespace)?;
    let ns = ns.as_slice();
    let p = with_tree(py, leaves, namespaces, namespace_size, |t| t.prove_namespace(ns))?;
    Ok(PyBytes::new(py, &p.to_bytes()))
}

/// Whether ``proof`` shows that ``leaf`` (in ``namespace``) is in the
/// tree with ``root``. ``namespace_size`` (optional) must match the proof's.
///
/// Returns: ``True`` or ``False``. Never raises on hostile proof bytes:
/// anything malformed or mismatched is ``False``.
/// Raises: TypeError if an argument is not bytes-like; InvalidInput if
/// ``namespace_size`` is out of range.
#[pyfunction]
#[pyo3(name = "verify")]
#[pyo3(signature = (proof, leaf, namespace, root, *, namespace_size = None))]
pub(crate) fn nmt_verify(
    py: Python<'_>,
    proof: &Bound<'_, PyAny>,
    leaf: &Bound<'_, PyAny>,
    namespace: &Bound<'_, PyAny>,
    root: &Bound<'_, PyAny>,
    #[pyo3(from_py_with = args::namespace_size_or_none)] namespace_size: Option<usize>,
) -> PyResult<bool> {
    let (p, l, n, r) = (ByteView::new(proof)?, ByteView::new(leaf)?, ByteView::new(namespace)?, ByteView::new(root)?);
    let (p, l, n, r) = (p.as_slice(), l.as_slice(), n.as_slice(), r.as_slice());
    Ok(maybe_detach(py, l.len() + p.len(), || guard(|| Ok(nmt::verify(p, l, n, r, namespace_size)))).unwrap_or(false))
}

/// `nmt::verify_range` or `nmt::verify_namespace`.
type VerifyFn = fn(&[u8], &[&[u8]], &[u8], &[u8], Option<usize>) -> bool;

fn verify_leaves(
    py: Python<'_>,
    proof: &Bound<'_, PyAny>,
    leaves: &Bound<'_, PyAny>,
    namespace: &Bound<'_, PyAny>,
    root: &Bound<'_, PyAny>,
    namespace_size: Option<usize>,
    f: VerifyFn,
) -> PyResult<bool> {
    let (p, n, r) = (ByteView::new(proof)?, ByteView::new(namespace)?, ByteView::new(root)?);
    let lb = Batch::new(leaves, "leaves")?;
    let l = lb.slices();
    let (p, n, r) = (p.as_slice(), n.as_slice(), r.as_slice());
    let work = parallel::work(l, GIL_RELEASE_MIN) + p.len();
    Ok(maybe_detach(py, work, || guard(|| Ok(f(p, l, n, r, namespace_size)))).unwrap_or(false))
}

/// Whether ``proof`` shows that ``leaves`` (all in ``namespace``) are the
/// leaves of its range in the tree with ``root``. Absence proofs are ``False``.
///
/// Returns: ``True`` or ``False``. Never raises on hostile proof bytes:
/// anything malformed or mismatched is ``False``.
/// Raises: TypeError if an argument is not bytes-like (or ``leaves`` not a
/// sequence of them); InvalidInput if ``namespace_size`` is out of range.
#[pyfunction]
#[pyo3(name = "verify_range")]
#[pyo3(signature = (proof, leaves, namespace, root, *, namespace_size = None))]
pub(crate) fn nmt_verify_range(
    py: Python<'_>,
    proof: &Bound<'_, PyAny>,
    leaves: &Bound<'_, PyAny>,
    namespace: &Bound<'_, PyAny>,
    root: &Bound<'_, PyAny>,
    #[pyo3(from_py_with = args::namespace_size_or_none)] namespace_size: Option<usize>,
) -> PyResult<bool> {
    verify_leaves(py, proof, leaves, namespace, root, namespace_size, nmt::verify_range)
}

/// Whether ``proof`` shows that ``leaves`` are all the leaves of
/// ``namespace`` in the tree with ``root``: the range holds and no leaf of the
/// namespace lies outside it. With an absence proof, ``leaves`` must be
/// empty; the empty proof holds when ``namespace`` is outside the root's range.
///
/// Returns: ``True`` or ``False``. Never raises on hostile proof bytes:
/// anything malformed or mismatched is ``False``.
/// Raises: TypeError if an argument is not bytes-like (or ``leaves`` not a
/// sequence of them); InvalidInput if ``namespace_size`` is out of range.
#[pyfunction]
#[pyo3(name = "verify_namespace")]
#[pyo3(signature = (proof, leaves, namespace, root, *, namespace_size = None))]
pub(crate) fn nmt_verify_namespace(
    py: Python<'_>,
    proof: &Bound<'_, PyAny>,
    leaves: &Bound<'_, PyAny>,
    namespace: &Bound<'_, PyAny>,
    root: &Bound<'_, PyAny>,
    #[pyo3(from_py_with = args::namespace_size_or_none)] namespace_size: Option<usize>,
) -> PyResult<bool> {
    verify_leaves(py, proof, leaves, namespace, root, namespace_size, nmt::verify_namespace)
}

/// ``verify`` of many claims at once: ``proofs[i]`` shows that ``leaves[i]``
/// (in ``namespaces[i]``) is in the tree with ``roots[i]``, or with ``roots``
/// itself when it is one bytes-like root shared by every claim. Proofs
/// advance together, so each level's hashes run on the multi-message
/// SHA-256 kernels, and chunks of claims on ``max_threads`` threads: many
/// proofs (data availability sampling) verify several times faster than one
/// ``verify`` at a time. ``namespace_size`` (optional) must match every proof's.
///
/// Returns: a list of ``True`` / ``False``, one per claim, each what
/// ``verify`` answers. Never raises on hostile proof bytes.
/// Raises: InvalidInput for sequences of different lengths or
/// ``namespace_size`` / ``max_threads`` out of range; TypeError for
/// arguments that are not sequences of bytes-like objects.
#[pyfunction]
#[pyo3(name = "verify_many")]
#[pyo3(signature = (proofs, leaves, namespaces, roots, *, namespace_size = None, max_threads = None))]
pub(crate) fn nmt_verify_many<'py>(
    py: Python<'py>,
    proofs: &Bound<'py, PyAny>,
    leaves: &Bound<'py, PyAny>,
    namespaces: &Bound<'py, PyAny>,
    roots: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = args::namespace_size_or_none)] namespace_size: Option<usize>,
    #[pyo3(from_py_with = args::max_threads)] max_threads: Option<usize>,
) -> PyResult<Vec<bool>> {
    let threads = animica_core::Threads::from_option(max_threads).map_err(to_py)?;
    let (pb, lb, nb) =
        (Batch::new(proofs, "proofs")?, Batch::new(leaves, "leaves")?, Batch::new(namespaces, "namespaces")?);
    let shared = ByteView::new(roots).ok();
    let rb = match shared {
        Some(_) => None,
        None => Some(Batch::new(roots, "roots")?),
    };
    let (p, l, n) = (pb.slices(), lb.slices(), nb.slices());
    let r = rb.as_ref().map(Batch::slices);
    for (name, count) in
        [("leaves", l.len()), ("namespaces", n.len()), ("roots", r.as_ref().map_or(p.len(), |r| r.len()))]
    {
        if count != p.len() {
            return Err(to_py(animica_core::Error::CountMismatch {
                left_name: "proofs",
                left: p.len(),
                right_name: name,
                right: count,
            }));
        }
    }
    let root = |i: usize| match (&shared, &r) {
        (_, Some(r)) => r[i],
        (Some(one), None) => one.as_slice(),
        (None, None) => unreachable!("either one root or a sequence of them"),
    };
    let claims: Vec<nmt::Claim<'_>> =
        (0..p.len()).map(|i| nmt::Claim { proof: p[i], leaf: l[i], namespace: n[i], root: root(i) }).collect();
    let work = parallel::work(l, GIL_RELEASE_MIN) + parallel::work(p, GIL_RELEASE_MIN);
    maybe_detach(py, work, || guard(|| nmt::verify_many(&claims, namespace_size, threads)))
}

/// `(namespace_size, start, end, nodes, leaf_hash)` of a decoded proof.
type DecodedProof<'py> = (usize, usize, usize, Bound<'py, PyList>, Option<Bound<'py, PyBytes>>);

/// Decodes wire format v1 (used by ``Proof.from_bytes``).
///
/// Returns: ``(namespace_size, start, end, nodes, leaf_hash)``.
/// Raises: InvalidInput for a malformed proof.
#[pyfunction]
pub(crate) fn nmt_proof_decode<'py>(py: Python<'py>, proof: &Bound<'py, PyAny>) -> PyResult<DecodedProof<'py>> {
    let v = ByteView::new(proof)?;
    let p = Proof::from_bytes(v.as_slice()).map_err(to_py)?;
    let nodes = PyList::new(py, p.nodes().map(|n| PyBytes::new(py, n)))?;
    let leaf = p.leaf_hash().map(|l| PyBytes::new(py, l));
    Ok((p.hasher().namespace_size(), p.start(), p.end(), nodes, leaf))
}

/// Encodes wire format v1 from its parts, validated as decoding would
/// (used by ``Proof.to_bytes``).
///
/// Returns: the proof bytes.
/// Raises: InvalidInput for inconsistent parts or integers out of range.
#[pyfunction]
#[pyo3(signature = (namespace_size, start, end, nodes, leaf_hash = None))]
pub(crate) fn nmt_proof_encode<'py>(
    py: Python<'py>,
    #[pyo3(from_py_with = args::namespace_size)] namespace_size: usize,
    #[pyo3(from_py_with = args::start)] start: usize,
    #[pyo3(from_py_with = args::end)] end: usize,
    nodes: &Bound<'py, PyAny>,
    leaf_hash: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let h = hasher(namespace_size)?;
    let nb = Batch::new(nodes, "nodes")?;
    let mut flat = Vec::new();
    for (i, n) in nb.slices().iter().enumerate() {
        if n.len() != h.node_len() {
            return Err(to_py(animica_core::Error::Width {
                what: format!("node {i}"),
                got: n.len(),
                expected: h.node_len(),
            }));
        }
        flat.extend_from_slice(n);
    }
    let leaf = leaf_hash.map(ByteView::new).transpose()?.map(|v| v.as_slice().to_vec());
    let p = Proof::new(h, start, end, flat, leaf).map_err(to_py)?;
    Ok(PyBytes::new(py, &p.to_bytes()))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(nmt_root, m)?)?;
    m.add_function(wrap_pyfunction!(nmt_prove, m)?)?;
    m.add_function(wrap_pyfunction!(nmt_prove_range, m)?)?;
    m.add_function(wrap_pyfunction!(nmt_prove_namespace, m)?)?;
    m.add_function(wrap_pyfunction!(nmt_verify, m)?)?;
    m.add_function(wrap_pyfunction!(nmt_verify_range, m)?)?;
    m.add_function(wrap_pyfunction!(nmt_verify_namespace, m)?)?;
    m.add_function(wrap_pyfunction!(nmt_verify_many, m)?)?;
    m.add_function(wrap_pyfunction!(nmt_proof_decode, m)?)?;
    m.add_function(wrap_pyfunction!(nmt_proof_encode, m)?)?;
    Ok(())
}
