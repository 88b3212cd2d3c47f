//! Celestia's Namespaced Merkle Tree over SHA-256.
//!
//! Every leaf carries a namespace (`N` bytes, big-endian, default 8); every
//! node records the minimum and maximum namespace below it, so a proof can
//! show that a range holds *all* the leaves of a namespace, or that a
//! namespace is absent. Roots and nodes are `2N + 32` bytes.
//!
//! Proofs are interoperable with celestiaorg/nmt: the same tree shape
//! (RFC 6962), the same node order, the same verification rules.

mod climb;
mod hasher;
mod parents;
mod proof;
mod recompute;
mod tree;
mod verify;

pub use hasher::{DEFAULT_NAMESPACE_SIZE, LEAF_PREFIX, MAX_NAMESPACE_SIZE, NODE_PREFIX, NmtHasher};
pub use proof::{FLAG_ABSENCE, FLAG_IGNORE_MAX_NAMESPACE, Proof, VERSION};
pub use tree::{STREAM_UNIT, Tree, root, root_streamed};
pub use verify::{Claim, verify, verify_many, verify_namespace, verify_range};

use crate::error::Result;
use crate::parallel::Threads;

/// Proof that leaf `index` is in the tree over `leaves`.
pub fn prove(hasher: NmtHasher, leaves: &[&[u8]], namespaces: &[&[u8]], index: usize) -> Result<Proof> {
    prove_range(hasher, leaves, namespaces, index, index.saturating_add(1))
}

/// Proof that `leaves[start..end]` are in the tree over `leaves`.
pub fn prove_range(
    hasher: NmtHasher,
    leaves: &[&[u8]],
    namespaces: &[&[u8]],
    start: usize,
    end: usize,
) -> Result<Proof> {
    Tree::new(hasher, leaves, namespaces, Threads::Auto)?.prove_range(start, end)
}

/// Proof of the complete range of `namespace`, or of its absence.
pub fn prove_namespace(hasher: NmtHasher, leaves: &[&[u8]], namespaces: &[&[u8]], namespace: &[u8]) -> Result<Proof> {
    Tree::new(hasher, leaves, namespaces, Threads::Auto)?.prove_namespace(namespace)
}
