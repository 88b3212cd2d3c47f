//! Verification of untrusted proofs. Nothing here returns an error or
//! panics: every malformed or mismatched input is simply `false`.
//!
//! The rules are those of celestiaorg/nmt (`Proof.VerifyInclusion` and
//! `Proof.VerifyNamespace`), so proofs interoperate both ways.

use super::hasher::NmtHasher;
use super::proof::Proof;

/// Largest power of two strictly below `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    let p = 1u64 << (63 - n.leading_zeros());
    if p == n { p / 2 } else { p }
}

/// Recomputes a root from a range's leaf hashes and the proof's nodes, the
/// way celestiaorg/nmt's `computeRoot` does: nodes are consumed in order
/// while walking the perfect tree over `[0, 2^ceil(log2 end))`, and nodes
/// left over afterwards are roots of subtrees further right.
struct Recompute<'a> {
    hasher: &'a NmtHasher,
    start: u64,
    end: u64,
    leaves: std::slice::Iter<'a, Vec<u8>>,
    nodes: std::iter::Peekable<std::slice::ChunksExact<'a, u8>>,
}

impl Recompute<'_> {
    fn walk(&mut self, lo: u64, hi: u64) -> Result<Option<Vec<u8>>, ()> {
        if hi - lo == 1 && lo >= self.start && lo < self.end {
            return Ok(self.leaves.next().cloned());
        }
        if hi <= self.start || lo >= self.end || hi - lo == 1 {
            return Ok(self.nodes.next().map(<[u8]>::to_vec));
        }
        let k = split_point(hi - lo);
        let left = self.walk(lo, lo + k)?;
        let right = self.walk(lo + k, hi)?;
        match (left, right) {
            (left, None) => Ok(left),
            (Some(l), Some(r)) => self.hasher.hash_node(&l, &r).map(Some).ok_or(()),
            (None, Some(_)) => Err(()),
        }
    }

    fn root(mut self) -> Option<Vec<u8>> {
        let size = if self.end <= 1 { 1 } else { 2 * split_point(self.end) };
        let mut root = self.walk(0, size).ok()??;
        for node in self.nodes {
            root = self.hasher.hash_node(&root, node)?;
        }
        Some(root)
    }
}

/// Sizes of the subtrees left of `start`, in the order their roots appear
/// in a proof (largest aligned power of two first).
fn left_subtree_count(start: u64) -> usize {
    // Each set bit of `start` is one maximal aligned subtree left of it.
    start.count_ones() as usize
}

fn check_structure(proof: &Proof, namespace: &[u8], root: &[u8], leaf_hashes: &[Vec<u8>]) -> bool {
    let h = proof.hasher();
    namespace.len() == h.namespace_size()
        && proof.start() < proof.end()
        && leaf_hashes.len() == proof.end() - proof.start()
        && h.is_valid_node(root)
        && proof.nodes().all(|n| h.is_valid_node(n))
        && leaf_hashes.iter().all(|l| h.is_valid_node(l))
}

fn recompute_matches(proof: &Proof, leaf_hashes: &[Vec<u8>], root: &[u8]) -> bool {
    let h = proof.hasher();
    let r = Recompute {
        hasher: h,
        start: proof.start() as u64,
        end: proof.end() as u64,
        leaves: leaf_hashes.iter(),
        nodes: proof.nodes_flat().chunks_exact(h.node_len()).peekable(),
    };
    r.root().is_some_and(|computed| computed == root)
}

fn leaf_hashes(h: &NmtHasher, namespace: &[u8], leaves: &[&[u8]]) -> Vec<Vec<u8>> {
    leaves
        .iter()
        .map(|leaf| {
            let mut out = vec![0u8; h.node_len()];
            h.hash_leaf(namespace, leaf, &mut out);
            out
        })
        .collect()
}

fn decode(proof: &[u8], namespace_size: Option<usize>) -> Option<Proof> {
    let p = Proof::from_bytes(proof).ok()?;
    match namespace_size {
        Some(n) if n != p.hasher().namespace_size() => None,
        _ => Some(p),
    }
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
    let Some(p) = decode(proof, namespace_size) else { return false };
    let h = *p.hasher();
    if p.is_absence() {
        return false;
    }
    if p.start() == p.end() {
        // The empty range proves nothing and is valid only for no leaves.
        return p.is_empty() && leaves.is_empty() && namespace.len() == h.namespace_size() && h.is_valid_node(root);
    }
    if namespace.len() != h.namespace_size() || leaves.len() != p.end() - p.start() {
        return false;
    }
    let hashes = leaf_hashes(&h, namespace, leaves);
    check_structure(&p, namespace, root, &hashes) && recompute_matches(&p, &hashes, root)
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
    let h = *p.hasher();
    if namespace.len() != h.namespace_size() || !h.is_valid_node(root) {
        return false;
    }
    if p.start() == p.end() {
        return p.is_empty()
            && leaves.is_empty()
            && (namespace < h.min(root) || namespace > h.max(root) || root == h.empty_root());
    }
    let hashes = match p.leaf_hash() {
        Some(lh) => {
            // The neighbour's namespace must be larger than the one absent.
            if !leaves.is_empty() || p.end() - p.start() != 1 || !h.is_valid_node(lh) || h.min(lh) <= namespace {
                return false;
            }
            vec![lh.to_vec()]
        }
        None => {
            if leaves.len() != p.end() - p.start() {
                return false;
            }
            leaf_hashes(&h, namespace, leaves)
        }
    };
    if !check_structure(&p, namespace, root, &hashes) {
        return false;
    }
    // Completeness: no leaf of `namespace` outside the range.
    let left = left_subtree_count(p.start() as u64);
    if p.nodes().len() < left {
        return false;
    }
    let complete =
        p.nodes().enumerate().all(|(i, node)| if i < left { h.max(node) < namespace } else { h.min(node) > namespace });
    complete && recompute_matches(&p, &hashes, root)
}

/// Whether `proof` shows that `leaf` (in `namespace`) is the one leaf of its
/// range (`end - start == 1`) in the tree with `root`.
pub fn verify(proof: &[u8], leaf: &[u8], namespace: &[u8], root: &[u8], namespace_size: Option<usize>) -> bool {
    verify_range(proof, &[leaf], namespace, root, namespace_size)
}
