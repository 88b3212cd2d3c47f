//! Building an NMT: leaf hashing, level reduction, proof generation.
//!
//! The shape is RFC 6962's: for `n > 1` leaves the left subtree holds the
//! largest power of two `< n`. Built bottom-up, that is the same as pairing
//! neighbours level by level and promoting an odd last node unchanged, so
//! node `i` of level `h` always covers leaves `[i·2^h, min((i+1)·2^h, n))`.
//! So a chunk of leaves that starts at a multiple of `2^h` climbs to its own
//! nodes of level `h` without its neighbours, which is how [`root`] splits
//! the work.

use std::ops::Range;
use std::sync::Mutex;

use super::hasher::{NmtHasher, ns_le};
use super::parents::Parents;
use super::proof::Proof;
use crate::error::{Error, Result};
use crate::parallel::{self, Threads};

/// Levels with fewer nodes than this are reduced on one thread.
const PARALLEL_MIN_NODES: usize = 2048;
/// Nodes a worker hashes at a time.
const CHUNK_NODES: usize = 256;
/// Levels [`root`] climbs within each chunk of leaves: a chunk ends as 16
/// nodes, as many messages as the widest SHA-256 kernel hashes at once.
const CHUNK_CLIMB: u32 = 4;
/// Trees with fewer leaves than this are built on the calling thread, and
/// so are trees with less work than `PARALLEL_MIN_WORK` (in bytes hashed:
/// each leaf's bytes, plus 64 for its padding and prefix, plus
/// `PARENT_WORK` for its share of the parents). On a virtual machine a pool's sleeping
/// worker takes 20-100 us to wake, so parallel work must save more than
/// that. Measured (Rust, 29-byte namespaces, 0.5 ms idle between calls,
/// 200 calls each alternating, AMD Zen 5 with 2 vCPUs), median time on 2
/// threads against 1, 512-byte leaves: 1.00 at 384 leaves, 1.15 at 512,
/// 0.97 at 768, 0.84 at 1,024, 0.54 at 4,096; from Python 0.98 at 512,
/// 0.84 at 768, 0.80 at 1,024. 64-byte leaves: 1.00 up to 2,048 leaves
/// (168 us on one thread, 640 KiB of work), 0.75 at 4,096.
const PARALLEL_MIN_LEAVES: usize = 4 * CHUNK_NODES;
const PARALLEL_MIN_WORK: usize = 640 * 1024;
/// A parent's three blocks (Celestia's 29-byte namespaces), one per leaf.
const PARENT_WORK: usize = 192;

/// The thread setting a tree over `leaves` is built with.
fn tree_threads(leaves: &[&[u8]], threads: Threads) -> Threads {
    let parents = leaves.len().saturating_mul(PARENT_WORK);
    let small = leaves.len() < PARALLEL_MIN_LEAVES
        || parents.saturating_add(parallel::work(leaves, PARALLEL_MIN_WORK)) < PARALLEL_MIN_WORK;
    if small { Threads::SERIAL } else { threads }
}

/// Checks the inputs of every tree-building function.
fn validate(hasher: &NmtHasher, leaves: usize, namespaces: &[&[u8]]) -> Result<()> {
    if leaves != namespaces.len() {
        return Err(Error::CountMismatch {
            left_name: "leaves",
            left: leaves,
            right_name: "namespaces",
            right: namespaces.len(),
        });
    }
    check_namespaces(hasher, 0, None, namespaces)
}

/// Checks the namespaces of leaves `first..` (each `N` bytes, none below the
/// one before); `before` is the namespace of leaf `first - 1`, if any.
fn check_namespaces(hasher: &NmtHasher, first: usize, before: Option<&[u8]>, namespaces: &[&[u8]]) -> Result<()> {
    let n = hasher.namespace_size();
    let mut prev = before;
    for (i, &ns) in (first..).zip(namespaces) {
        if ns.len() != n {
            return Err(Error::Width { what: format!("namespace {i}"), got: ns.len(), expected: n });
        }
        if prev.is_some_and(|p| !ns_le(p, ns)) {
            return Err(Error::UnsortedNamespaces { index: i, prev: i - 1 });
        }
        prev = Some(ns);
    }
    Ok(())
}

/// Hash every leaf into a flat buffer of nodes.
fn leaf_level(hasher: &NmtHasher, leaves: &[&[u8]], namespaces: &[&[u8]], threads: Threads) -> Result<Vec<u8>> {
    let len = hasher.node_len();
    let mut out = vec![0u8; leaves.len() * len];
    parallel::share_parts(threads, &mut out, len * CHUNK_NODES, |i, o| {
        let at = i * CHUNK_NODES..(i * CHUNK_NODES + o.len() / len);
        hasher.hash_leaves(&namespaces[at.clone()], &leaves[at], o);
    })?;
    Ok(out)
}

/// Writes the level above `level` to `out`: adjacent pairs hashed (their
/// messages laid out in `parents`), an odd last node promoted unchanged.
fn reduce(hasher: &NmtHasher, parents: &mut Parents, level: &[u8], out: &mut [u8]) {
    let len = hasher.node_len();
    let paired = level.len() / (2 * len) * 2 * len;
    let (above, promoted) = out.split_at_mut(paired / 2);
    parents.hash_pairs(hasher, &level[..paired], above);
    promoted.copy_from_slice(&level[paired..]);
}

/// The level above `level`.
fn next_level(hasher: &NmtHasher, level: &[u8], threads: Threads) -> Result<Vec<u8>> {
    let len = hasher.node_len();
    let count = level.len() / len;
    let mut out = vec![0u8; count.div_ceil(2) * len];
    let threads = if count >= PARALLEL_MIN_NODES { threads } else { Threads::SERIAL };
    // Every part but the last holds whole pairs.
    parallel::share_parts_with(threads, &mut out, len * CHUNK_NODES, Parents::default, |parents, i, o| {
        let pairs = &level[2 * len * CHUNK_NODES * i..];
        reduce(hasher, parents, &pairs[..pairs.len().min(2 * len * CHUNK_NODES)], o);
    })?;
    Ok(out)
}

/// Level `CHUNK_CLIMB` of the tree over `leaves`: each chunk of
/// `CHUNK_NODES` leaves is hashed and its subtree climbed in two buffers of
/// the worker's own, which stay in its cache. Measured (65,536 x 512-byte
/// leaves, 29-byte namespaces, Intel Xeon with AVX-512, alternating runs):
/// 22.9-24.7 against 26.7-31.7 ms on 1 thread and 11.7-14.4 against
/// 13.7-16.2 ms on 2, for building every level whole (a zeroed allocation
/// the size of the level, written, then read back).
fn climbed_level(hasher: &NmtHasher, leaves: &[&[u8]], namespaces: &[&[u8]], threads: Threads) -> Result<Vec<u8>> {
    let mut out = vec![0u8; climbed_len(hasher, leaves.len())];
    let out_chunk = (CHUNK_NODES >> CHUNK_CLIMB) * hasher.node_len();
    let scratch = || Scratch::new(hasher, leaves.len());
    parallel::share_parts_with(threads, &mut out, out_chunk, scratch, |s, i, o| {
        let at = i * CHUNK_NODES..leaves.len().min((i + 1) * CHUNK_NODES);
        climb_chunk(hasher, s, &leaves[at.clone()], &namespaces[at], o);
    })?;
    Ok(out)
}

/// Bytes of level `CHUNK_CLIMB` of a tree of `leaves` leaves.
fn climbed_len(hasher: &NmtHasher, leaves: usize) -> usize {
    leaves.div_ceil(1 << CHUNK_CLIMB) * hasher.node_len()
}

/// A worker's two buffers for climbing chunks of leaves, and its parent
/// messages.
struct Scratch(Vec<u8>, Vec<u8>, Parents);

impl Scratch {
    /// Buffers for the chunks of a tree of `leaves` leaves: no bigger than
    /// the largest chunk, so a tree of a few leaves zeroes a few nodes, not
    /// a whole chunk's.
    fn new(hasher: &NmtHasher, leaves: usize) -> Scratch {
        let widest = leaves.min(CHUNK_NODES);
        let len = hasher.node_len();
        Scratch(vec![0u8; widest * len], vec![0u8; widest.div_ceil(2) * len], Parents::default())
    }
}

/// Hashes one chunk of at most `CHUNK_NODES` leaves and climbs its subtree
/// `CHUNK_CLIMB` levels in `scratch`, writing the nodes it ends with to `out`.
fn climb_chunk(hasher: &NmtHasher, scratch: &mut Scratch, leaves: &[&[u8]], namespaces: &[&[u8]], out: &mut [u8]) {
    let len = hasher.node_len();
    let Scratch(a, b, parents) = scratch;
    let mut count = leaves.len();
    hasher.hash_leaves(namespaces, leaves, &mut a[..count * len]);
    for _ in 0..CHUNK_CLIMB {
        reduce(hasher, parents, &a[..count * len], &mut b[..count.div_ceil(2) * len]);
        count = count.div_ceil(2);
        std::mem::swap(a, b);
    }
    out.copy_from_slice(&a[..count * len]);
}

/// The levels above `level` (level `CHUNK_CLIMB`), up to the root.
fn climb_rest(hasher: &NmtHasher, mut level: Vec<u8>, threads: Threads) -> Result<Vec<u8>> {
    while level.len() > hasher.node_len() {
        level = next_level(hasher, &level, threads)?;
    }
    Ok(level)
}

/// Root of the tree over `leaves`, where `namespaces[i]` belongs to
/// `leaves[i]`. Namespaces must be `N` bytes each and non-decreasing.
pub fn root(hasher: &NmtHasher, leaves: &[&[u8]], namespaces: &[&[u8]], threads: Threads) -> Result<Vec<u8>> {
    validate(hasher, leaves.len(), namespaces)?;
    if leaves.is_empty() {
        return Ok(hasher.empty_root());
    }
    let threads = tree_threads(leaves, threads);
    climb_rest(hasher, climbed_level(hasher, leaves, namespaces, threads)?, threads)
}

/// Leaves [`root_streamed`] hands to `pin` at a time: four chunks.
pub const STREAM_UNIT: usize = 4 * CHUNK_NODES;

/// Slots [`root_streamed`]'s `pin` fills: one leaf's bytes or namespace each.
type Slots<'s, 'a> = &'s mut [&'a [u8]];

/// [`root`] of `count` leaves that only the calling thread can get ready,
/// overlapping that with the hashing: for the Python binding, whose leaves
/// are items of a list, pinned while it holds the interpreter.
/// `pin(range, leaves, namespaces)` fills the slots of leaves `range` (at
/// most [`STREAM_UNIT`] of them, in order) on the calling thread; their
/// namespaces are then checked there, and the range is hashed on the pool
/// while the next is pinned. Once every leaf is pinned, `idle` is given
/// the rest of the work to run, as in [`parallel::pipelined`] (the binding
/// releases the interpreter there). The root, and the error for a
/// namespace of the wrong width or out of order, are `root`'s. An error
/// from `pin` stops the pinning, and is returned once the ranges already
/// out are hashed.
pub fn root_streamed<'a, E>(
    hasher: &NmtHasher,
    count: usize,
    threads: Threads,
    mut pin: impl FnMut(Range<usize>, Slots<'_, 'a>, Slots<'_, 'a>) -> std::result::Result<(), E>,
    idle: impl FnOnce(&mut (dyn FnMut() + Send)),
) -> Result<std::result::Result<Vec<u8>, E>> {
    /// Why the pinning stopped.
    enum Stop<E> {
        Pin(E),
        Invalid(Error),
    }
    if count == 0 {
        return Ok(Ok(hasher.empty_root()));
    }
    let (mut leaves, mut namespaces) = (vec![&[][..]; count], vec![&[][..]; count]);
    let units = (0..).step_by(STREAM_UNIT).zip(leaves.chunks_mut(STREAM_UNIT).zip(namespaces.chunks_mut(STREAM_UNIT)));
    // Level `CHUNK_CLIMB`, each unit's nodes written by the worker that
    // climbed them (shared: the units borrow the slots, not this).
    let level = Mutex::new(vec![0u8; climbed_len(hasher, count)]);
    let out_chunk = (CHUNK_NODES >> CHUNK_CLIMB) * hasher.node_len();
    // The namespace of the last leaf pinned, for the order check.
    let mut last = None;
    let prepare = |(first, (l, n)): &mut (usize, (Slots<'_, 'a>, Slots<'_, 'a>))| {
        pin(*first..*first + l.len(), l, n).map_err(Stop::Pin)?;
        check_namespaces(hasher, *first, last, n).map_err(Stop::Invalid)?;
        last = n.last().copied();
        Ok(())
    };
    let work = |(first, (l, n)): (usize, (Slots<'_, 'a>, Slots<'_, 'a>))| {
        let mut s = Scratch::new(hasher, l.len());
        let mut nodes = vec![0u8; climbed_len(hasher, l.len())];
        for (o, (l, n)) in nodes.chunks_mut(out_chunk).zip(l.chunks(CHUNK_NODES).zip(n.chunks(CHUNK_NODES))) {
            climb_chunk(hasher, &mut s, l, n, o);
        }
        let at = first / CHUNK_NODES * out_chunk;
        level.lock().unwrap_or_else(|e| e.into_inner())[at..at + nodes.len()].copy_from_slice(&nodes);
    };
    let finish = |par| {
        let level = std::mem::take(&mut *level.lock().unwrap_or_else(|e| e.into_inner()));
        climb_rest(hasher, level, if par { threads } else { Threads::SERIAL })
    };
    let threads = if count < PARALLEL_MIN_LEAVES { Threads::SERIAL } else { threads };
    Ok(match parallel::pipelined(threads, units, prepare, work, idle, finish)? {
        Ok(root) => Ok(root?),
        Err(Stop::Pin(e)) => Err(e),
        Err(Stop::Invalid(e)) => return Err(e),
    })
}

/// A whole tree kept in memory, for generating proofs.
#[derive(Debug, Clone)]
pub struct Tree {
    hasher: NmtHasher,
    leaves: usize,
    /// `levels[0]` holds the leaf hashes; the last level holds the root.
    levels: Vec<Vec<u8>>,
}

impl Tree {
    /// Build the tree over `leaves` (same rules as [`root`]).
    pub fn new(hasher: NmtHasher, leaves: &[&[u8]], namespaces: &[&[u8]], threads: Threads) -> Result<Tree> {
        validate(&hasher, leaves.len(), namespaces)?;
        let threads = tree_threads(leaves, threads);
        let mut levels = vec![leaf_level(&hasher, leaves, namespaces, threads)?];
        while let Some(level) = levels.last().filter(|l| l.len() > hasher.node_len()) {
            let next = next_level(&hasher, level, threads)?;
            levels.push(next);
        }
        Ok(Tree { hasher, leaves: leaves.len(), levels })
    }

    /// Number of leaves.
    pub fn len(&self) -> usize {
        self.leaves
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.leaves == 0
    }

    /// The hasher (namespace width) of this tree.
    pub fn hasher(&self) -> &NmtHasher {
        &self.hasher
    }

    fn node(&self, height: usize, index: usize) -> &[u8] {
        let len = self.hasher.node_len();
        &self.levels[height][index * len..(index + 1) * len]
    }

    /// The root (the empty root for an empty tree).
    pub fn root(&self) -> Vec<u8> {
        match self.levels.last() {
            Some(top) if self.leaves > 0 => top.clone(),
            _ => self.hasher.empty_root(),
        }
    }

    /// The namespace of leaf `i`, read back from its hash.
    fn leaf_namespace(&self, i: usize) -> &[u8] {
        self.hasher.min(self.node(0, i))
    }

    /// Inclusion proof for the leaves `[start, end)`.
    pub fn prove_range(&self, start: usize, end: usize) -> Result<Proof> {
        if start >= end || end > self.leaves {
            return Err(Error::InvalidRange { start, end, len: self.leaves });
        }
        let mut nodes = Vec::new();
        let top = self.levels.len() - 1;
        self.collect(top, 0, start, end, &mut nodes);
        Proof::new(self.hasher, start, end, nodes, None)
    }

    /// Appends, in order, the roots of the maximal subtrees under node
    /// `(height, index)` that lie outside `[start, end)`.
    fn collect(&self, height: usize, index: usize, start: usize, end: usize, nodes: &mut Vec<u8>) {
        let lo = index << height;
        if lo >= self.leaves {
            return; // a subtree beyond the last leaf does not exist
        }
        let hi = (index + 1) << height;
        if hi <= start || lo >= end {
            nodes.extend_from_slice(self.node(height, index));
            return;
        }
        if height == 0 {
            return; // a leaf inside the range
        }
        self.collect(height - 1, 2 * index, start, end, nodes);
        self.collect(height - 1, 2 * index + 1, start, end, nodes);
    }

    /// Proof for the complete range of `namespace`, or an absence proof
    /// (the neighbouring leaf's hash) when no leaf has it, or the empty
    /// proof when it lies outside the leaves' namespaces (first..=last,
    /// the all-0xFF namespace included: celestiaorg/nmt up to v0.15; see
    /// docs/nmt.md for the change in v0.16).
    pub fn prove_namespace(&self, namespace: &[u8]) -> Result<Proof> {
        let n = self.hasher.namespace_size();
        if namespace.len() != n {
            return Err(Error::Width { what: "namespace".into(), got: namespace.len(), expected: n });
        }
        if self.leaves == 0 {
            return Ok(Proof::empty(self.hasher));
        }
        // The pushed leaves' range, as celestiaorg/nmt tracks it (minNID /
        // maxNID, up to v0.15): unlike the root's max, it includes the
        // all-0xFF namespace, so the parity namespace gets a real proof.
        if namespace < self.leaf_namespace(0) || namespace > self.leaf_namespace(self.leaves - 1) {
            return Ok(Proof::empty(self.hasher));
        }
        let start = partition_point(self.leaves, |i| self.leaf_namespace(i) < namespace);
        let end = partition_point(self.leaves, |i| self.leaf_namespace(i) <= namespace);
        if start < end {
            return self.prove_range(start, end);
        }
        // Absent: `start` is the first leaf whose namespace is larger. It
        // exists and is not leaf 0 because first < namespace < last.
        let proof = self.prove_range(start, start + 1)?;
        Proof::new(self.hasher, start, start + 1, proof.nodes_flat().to_vec(), Some(self.node(0, start).to_vec()))
    }
}

/// First `i` in `0..len` for which `pred(i)` is false (`pred` monotone).
fn partition_point(len: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) { lo = mid + 1 } else { hi = mid }
    }
    lo
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroUsize;

    use super::*;

    const TWO: Threads = Threads::Max(NonZeroUsize::new(2).unwrap());

    /// `count` leaves of 1 to 40 bytes in namespaces of 8 bytes, rising
    /// every 100 leaves.
    fn data(count: usize) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let leaves = (0..count).map(|i| vec![i as u8; 1 + i % 40]).collect();
        let nss = (0..count).map(|i| ((i / 100) as u64).to_be_bytes().to_vec()).collect();
        (leaves, nss)
    }

    /// `root_streamed` over `leaves`, checking that `pin` gets every range
    /// once, in order, and that `idle` runs exactly once (when nothing
    /// fails first): the root or error, and the ranges pinned.
    fn streamed(
        leaves: &[&[u8]],
        nss: &[&[u8]],
        threads: Threads,
        fail_at: Option<usize>,
    ) -> (Result<std::result::Result<Vec<u8>, usize>>, usize) {
        let h = NmtHasher::new(8).unwrap();
        let mut next = 0;
        let mut idled = 0;
        let r = root_streamed(
            &h,
            leaves.len(),
            threads,
            |range, l, n| {
                assert_eq!(range.start, next, "ranges in order, none skipped");
                assert!(range.len() <= STREAM_UNIT && range.len() == l.len() && l.len() == n.len());
                assert!(l.iter().chain(n.iter()).all(|s| s.is_empty()), "slots are filled once");
                next = range.end;
                if fail_at.is_some_and(|f| range.contains(&f)) {
                    return Err(range.start);
                }
                l.copy_from_slice(&leaves[range.clone()]);
                n.copy_from_slice(&nss[range]);
                Ok(())
            },
            |rest| {
                idled += 1;
                rest();
            },
        );
        assert_eq!(idled, 1, "idle runs once");
        (r, next)
    }

    fn refs(v: &[Vec<u8>]) -> Vec<&[u8]> {
        v.iter().map(Vec::as_slice).collect()
    }

    /// Sizes around the units and chunks, serial and parallel.
    #[test]
    fn streamed_roots_are_roots() {
        for count in [1, 2, 17, 255, 256, 511, 512, 1023, 1024, 1025, 2048, 3001, 5000] {
            let (leaves, nss) = data(count);
            let (l, n) = (refs(&leaves), refs(&nss));
            let h = NmtHasher::new(8).unwrap();
            let want = root(&h, &l, &n, Threads::SERIAL).unwrap();
            for threads in [Threads::SERIAL, TWO, Threads::Auto] {
                let (r, pinned) = streamed(&l, &n, threads, None);
                assert_eq!(r.unwrap(), Ok(want.clone()), "{count} leaves");
                assert_eq!(pinned, count);
            }
        }
        let h = NmtHasher::new(8).unwrap();
        let r = root_streamed(&h, 0, TWO, |_, _, _| Err::<(), _>(()), |_| unreachable!("nothing to do"));
        assert_eq!(r.unwrap(), Ok(h.empty_root()));
    }

    /// A namespace of the wrong width or out of order, in the first unit,
    /// first in a unit (so below the last of the unit before), or last of
    /// all: `root`'s error, and no unit is pinned after the one that holds it.
    #[test]
    fn streamed_errors_are_roots() {
        let count = 3 * STREAM_UNIT + 10;
        let cases =
            [(0, true), (5, true), (STREAM_UNIT, false), (STREAM_UNIT, true), (count - 1, false), (count - 1, true)];
        for (at, width) in cases {
            let (leaves, mut nss) = data(count);
            if width {
                nss[at].push(0);
            } else {
                nss[at] = vec![0; 8];
            }
            let (l, n) = (refs(&leaves), refs(&nss));
            let h = NmtHasher::new(8).unwrap();
            let want = root(&h, &l, &n, Threads::SERIAL).unwrap_err().to_string();
            assert!(want.contains(&format!("{at}")), "{want}");
            for threads in [Threads::SERIAL, TWO] {
                let (r, pinned) = streamed(&l, &n, threads, None);
                assert_eq!(r.unwrap_err().to_string(), want);
                assert_eq!(pinned, ((at / STREAM_UNIT + 1) * STREAM_UNIT).min(count), "stopped after {at}");
            }
        }
    }

    /// An error from `pin` stops the pinning and comes back as it was.
    #[test]
    fn a_pin_error_stops_the_stream() {
        let (leaves, nss) = data(3 * STREAM_UNIT);
        let (l, n) = (refs(&leaves), refs(&nss));
        for threads in [Threads::SERIAL, TWO] {
            let (r, pinned) = streamed(&l, &n, threads, Some(STREAM_UNIT + 7));
            assert_eq!(r.unwrap(), Err(STREAM_UNIT));
            assert_eq!(pinned, 2 * STREAM_UNIT);
        }
    }
}
