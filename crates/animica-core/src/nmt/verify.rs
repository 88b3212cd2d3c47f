//! Verification of untrusted proofs. Nothing here returns an error or
//! panics: every malformed or mismatched input is simply `false`.
//!
//! The rules are those of celestiaorg/nmt (`Proof.VerifyInclusion` and
//! `Proof.VerifyNamespace`), so proofs interoperate both ways.

use super::climb::{self, Climb};
use super::hasher::{LEAF_PREFIX, NmtHasher};
use super::proof::ProofRef;
use super::recompute::{self, Job};
use crate::error::Result;
use crate::hash::{Digest, sha256_batch};
use crate::parallel::{self, Threads};

/// Sizes of the subtrees left of `start`, in the order their roots appear
/// in a proof (largest aligned power of two first).
fn left_subtree_count(start: u64) -> usize {
    // Each set bit of `start` is one maximal aligned subtree left of it.
    start.count_ones() as usize
}

/// Whether the root recomputed from `proof` and the range's `leaf_hashes`
/// (concatenated, as many as the range has leaves) is `root`.
fn root_matches(proof: &ProofRef<'_>, leaf_hashes: &[u8], root: &[u8]) -> bool {
    let Some(mut job) = Job::new(proof, leaf_hashes) else { return false };
    recompute::run(&mut job);
    job.root() == Some(root)
}

/// The leaf hashes of `leaves`, all in `namespace`, concatenated.
fn leaf_hashes(h: &NmtHasher, namespace: &[u8], leaves: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![0u8; leaves.len() * h.node_len()];
    h.hash_leaves(&vec![namespace; leaves.len()], leaves, &mut out);
    out
}

fn decode(proof: &[u8], namespace_size: Option<usize>) -> Option<ProofRef<'_>> {
    let p = ProofRef::parse(proof).ok()?;
    match namespace_size {
        Some(n) if n != p.hasher.namespace_size() => None,
        _ => Some(p),
    }
}

/// What [`verify_range`] can tell for `leaves` leaves before hashing any:
/// `Err(answer)` when the proof settles it (malformed, an absence proof,
/// the empty range, a width or count that does not match), else the
/// decoded proof, whose root is then recomputed.
fn range_proof<'a>(
    proof: &'a [u8],
    leaves: usize,
    namespace: &[u8],
    root: &[u8],
    namespace_size: Option<usize>,
) -> std::result::Result<ProofRef<'a>, bool> {
    let p = decode(proof, namespace_size).ok_or(false)?;
    let h = p.hasher;
    if p.leaf_hash.is_some() {
        return Err(false);
    }
    if p.start() == p.end() {
        // The empty range proves nothing and is valid only for no leaves.
        return Err(p.is_empty() && leaves == 0 && namespace.len() == h.namespace_size() && h.is_valid_node(root));
    }
    // The nodes are not checked here: the recomputation combines every one
    // of them and refuses a malformed node or two out of order.
    let well_formed = namespace.len() == h.namespace_size() && leaves == p.end() - p.start() && h.is_valid_node(root);
    if well_formed { Ok(p) } else { Err(false) }
}

/// Whether `proof` shows that `leaves` (all in `namespace`) are the leaves
/// `[start, end)` of the tree with `root`. Absence proofs are rejected.
/// `namespace_size`, when given, must equal the proof's width.
pub fn verify_range(
    proof: &[u8],
    leaves: &[&[u8]],
    namespace: &[u8],
    root: &[u8],
    namespace_size: Option<usize>,
) -> bool {
    match range_proof(proof, leaves.len(), namespace, root, namespace_size) {
        Ok(p) => root_matches(&p, &leaf_hashes(&p.hasher, namespace, leaves), root),
        Err(answer) => answer,
    }
}

/// Whether `proof` shows that `leaves` are *all* the leaves of `namespace`
/// in the tree with `root`: the range proof holds, every sibling left of
/// the range ends below `namespace`, and every sibling right of it starts
/// above. With an absence proof, `leaves` must be empty and the proof
/// shows that no leaf has `namespace`. The empty proof is valid when
/// `namespace` lies outside the root's range (or the tree is empty).
pub fn verify_namespace(
    proof: &[u8],
    leaves: &[&[u8]],
    namespace: &[u8],
    root: &[u8],
    namespace_size: Option<usize>,
) -> bool {
    let Some(p) = decode(proof, namespace_size) else { return false };
    let h = p.hasher;
    if namespace.len() != h.namespace_size() || !h.is_valid_node(root) {
        return false;
    }
    if p.start() == p.end() {
        return p.is_empty()
            && leaves.is_empty()
            && (namespace < h.min(root) || namespace > h.max(root) || root == h.empty_root());
    }
    let computed;
    let hashes = match p.leaf_hash {
        Some(lh) => {
            // The neighbour's namespace must be larger than the one absent.
            if !leaves.is_empty() || p.end() - p.start() != 1 || !h.is_valid_node(lh) || h.min(lh) <= namespace {
                return false;
            }
            lh
        }
        None => {
            if leaves.len() != p.end() - p.start() {
                return false;
            }
            computed = leaf_hashes(&h, namespace, leaves);
            &computed
        }
    };
    if !p.nodes().all(|n| h.is_valid_node(n)) {
        return false;
    }
    // Completeness: no leaf of `namespace` outside the range.
    let left = left_subtree_count(p.start() as u64);
    if p.nodes().len() < left {
        return false;
    }
    let complete =
        p.nodes().enumerate().all(|(i, node)| if i < left { h.max(node) < namespace } else { h.min(node) > namespace });
    complete && root_matches(&p, hashes, root)
}

/// Whether `proof` shows that `leaf` (in `namespace`) is the one leaf of its
/// range (`end - start == 1`) in the tree with `root`: what
/// [`verify_range`] answers for `&[leaf]`, found by the one-leaf climb
/// (`climb`: every namespace rule settled first, then one parent a level)
/// instead of the program any range needs. The tests and the fuzzer compare
/// the two.
pub fn verify(proof: &[u8], leaf: &[u8], namespace: &[u8], root: &[u8], namespace_size: Option<usize>) -> bool {
    let p = match range_proof(proof, 1, namespace, root, namespace_size) {
        Ok(p) => p,
        Err(answer) => return answer,
    };
    let mut steps = Vec::with_capacity(p.nodes().len());
    // The leaf's hash is the first link of the climb's chain.
    let Some(mut climb) = Climb::plan(&p, namespace, [0; 32], &mut steps) else { return false };
    climb.run_alone([&[LEAF_PREFIX], namespace, leaf], &steps);
    climb.reaches(root)
}

/// One claim for [`verify_many`]: `proof` shows that `leaf` (in
/// `namespace`) is the one leaf of its range in the tree with `root`.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    pub proof: &'a [u8],
    pub leaf: &'a [u8],
    pub namespace: &'a [u8],
    pub root: &'a [u8],
}

/// Claims a worker verifies together: enough to keep the multi-message
/// kernels' lanes full at every level, few enough to share among threads.
const CLAIMS_PER_CHUNK: usize = 64;
/// Fewer claims than this are checked on the calling thread. Measured
/// (Rust, proofs of single 512-byte leaves among 65,536, 0.5 ms idle
/// between calls, medians of 200 alternating runs, AMD Zen 5 with 2
/// vCPUs), 2 threads against 1: 0.79 at 128 claims (156 us on one
/// thread), 0.64 at 1,024.
const PARALLEL_MIN_CLAIMS: usize = 2 * CLAIMS_PER_CHUNK;

/// [`verify`] of each claim, in order. Each proof of one leaf is planned
/// first (every namespace rule settled; `climb`), then the proofs climb in
/// lockstep, so each level's parents are hashed in one batch by the
/// multi-message SHA-256 kernels instead of one chain at a time; chunks of
/// claims run in parallel on `threads`. Claims are taken by root, then by
/// leaf, and a parent whose message equals the one of the climb before it
/// is hashed once. The answers are those of `verify`
/// (the tests and the fuzzer compare the two); only a thread pool that
/// cannot start is an error.
///
/// Measured (Rust, 1,000 proofs of 512-byte leaves spread over 65,536, one
/// thread, AMD Zen 5 in a busy spell, best of 200, alternating builds):
/// 1.50-1.58 against 1.05-1.06 us a proof capped to AVX2 + SHA-NI, 1.02-1.09
/// against 0.87 on AVX-512.
pub fn verify_many(claims: &[Claim<'_>], namespace_size: Option<usize>, threads: Threads) -> Result<Vec<bool>> {
    let order = by_tree_and_leaf(claims);
    let mut sorted = vec![false; claims.len()];
    let threads = if claims.len() < PARALLEL_MIN_CLAIMS { Threads::SERIAL } else { threads };
    parallel::share_parts(threads, &mut sorted, CLAIMS_PER_CHUNK, |i, o| {
        verify_chunk(claims, &order[i * CLAIMS_PER_CHUNK..][..o.len()], namespace_size, o);
    })?;
    let mut out = vec![false; claims.len()];
    for (&i, answer) in order.iter().zip(sorted) {
        out[i] = answer;
    }
    Ok(out)
}

/// The claims' indices, those of one root together and in leaf order
/// within. Climbs from leaves of one tree meet where their paths join and
/// from there hash the same parents, which `climb::run` then hashes once
/// when the climbs are adjacent; sorted, the climbs of a chunk share their
/// upper levels. Roots are told apart by their last 8 bytes (part of the
/// hash): two roots alike there are only grouped less well.
fn by_tree_and_leaf(claims: &[Claim<'_>]) -> Vec<usize> {
    let key = |c: &Claim<'_>| {
        let tag = c.root.last_chunk::<8>().map_or(0, |t| u64::from_le_bytes(*t));
        (tag, ProofRef::parse(c.proof).map_or(usize::MAX, |p| p.start()))
    };
    let mut keyed: Vec<((u64, usize), usize)> = claims.iter().enumerate().map(|(i, c)| (key(c), i)).collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// [`verify_many`] on the calling thread, for the claims `order` lists:
/// `out[j]` answers `claims[order[j]]`.
fn verify_chunk(claims: &[Claim<'_>], order: &[usize], namespace_size: Option<usize>, out: &mut [bool]) {
    // Settle what needs no hashing; keep the rest with their proofs.
    let mut open: Vec<(usize, ProofRef<'_>)> = Vec::with_capacity(order.len());
    for (j, &i) in order.iter().enumerate() {
        let c = &claims[i];
        match range_proof(c.proof, 1, c.namespace, c.root, namespace_size) {
            Ok(p) => open.push((j, p)),
            Err(answer) => out[j] = answer,
        }
    }
    let claim = |j: usize| &claims[order[j]];
    // Every open claim's leaf hash in one batch.
    let mut digests: Vec<Digest> = vec![[0u8; 32]; open.len()];
    sha256_batch(|k| [&[LEAF_PREFIX], claim(open[k].0).namespace, claim(open[k].0).leaf], &mut digests);
    // Every climb's steps in one list; the namespace rules are settled here.
    // Its room is what the proofs need (a step per node at most), not a
    // bound for any tree: room for 32 steps a claim (114 KiB a chunk) made
    // glibc return the top of the heap to the system after every chunk and
    // fault it back in for the next, 77 `brk` calls a verify_many of 1,000
    // proofs; this took a fifth of its time (Rust, AMD Zen 5: 1.25 against
    // 1.00 us a proof on AVX-512, 1.61 against 1.34 on AVX2 + SHA-NI).
    let mut steps = Vec::with_capacity(open.iter().map(|(_, p)| p.nodes().len()).sum());
    let mut climbs = Vec::with_capacity(open.len());
    let mut owners = Vec::with_capacity(open.len());
    for ((j, p), digest) in open.iter().zip(digests) {
        match Climb::plan(p, claim(*j).namespace, digest, &mut steps) {
            Some(climb) => {
                climbs.push(climb);
                owners.push(*j);
            }
            None => out[*j] = false,
        }
    }
    climb::run(&mut climbs, &steps);
    for (climb, j) in climbs.iter().zip(owners) {
        out[j] = climb.reaches(claim(j).root);
    }
}
