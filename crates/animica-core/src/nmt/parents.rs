//! Batches of parent messages (`0x01 || left || right`), laid out padded
//! for the multi-message SHA-256 kernels: a tree's level of pairs
//! ([`Parents::hash_pairs`], for building roots and trees) and the parents
//! of many climbs at one level ([`Parents::hash_merged`], for
//! `verify_many`: equal neighbours hashed once).
//!
//! Every parent of one node width is one message length, so the slots'
//! prefix and padding are written once and only the children change from
//! batch to batch; the kernels then read every block in place, with none
//! of the per-block assembly that pieces straddling blocks need. Measured
//! (Rust, 128 parents of Celestia's 90-byte nodes, in cache, AMD Zen 5):
//! 54.7 against 63.7 ns a parent capped to AVX2 + SHA-NI, 35.4 against
//! 40.8 on AVX-512, copying the children in included.

use super::hasher::{NODE_PREFIX, NmtHasher};
use crate::hash::{Digest, pad, padded_len, sha256_padded_batch};

/// Parent messages of one node width, padded, and their digests.
#[derive(Default)]
pub(super) struct Parents {
    padded: Vec<u8>,
    /// The message length whose prefix and padding the first `.1` slots
    /// of `padded` hold.
    laid: (usize, usize),
    digests: Vec<Digest>,
}

impl Parents {
    /// Makes the first `count` slots hold the prefix and padding of
    /// `len`-byte messages.
    fn lay(&mut self, len: usize, count: usize) {
        let stride = padded_len(len);
        if self.padded.len() < count * stride {
            self.padded.resize(count * stride, 0);
        }
        if self.laid.0 != len {
            self.laid = (len, 0);
        }
        for m in self.padded[..count * stride].chunks_exact_mut(stride).skip(self.laid.1) {
            m[0] = NODE_PREFIX;
            pad(m, len);
        }
        self.laid.1 = self.laid.1.max(count);
    }

    /// The digests of `count` parents of `node_len`-byte nodes, in order;
    /// `children(k, out)` writes parent `k`'s two children into `out`
    /// (`2 * node_len` bytes).
    pub(super) fn hash(
        &mut self,
        node_len: usize,
        count: usize,
        mut children: impl FnMut(usize, &mut [u8]),
    ) -> &[Digest] {
        let len = 1 + 2 * node_len;
        let stride = padded_len(len);
        self.lay(len, count);
        let padded = &mut self.padded[..count * stride];
        for (k, m) in padded.chunks_exact_mut(stride).enumerate() {
            children(k, &mut m[1..len]);
        }
        self.digests.clear();
        self.digests.resize(count, [0u8; 32]);
        sha256_padded_batch(padded, stride / 64, &mut self.digests);
        &self.digests
    }

    /// [`Parents::hash`] where a parent's message may equal the one before
    /// it: then it is hashed once. `slots[k]` (filled here) is the index in
    /// the returned digests of parent `k`'s. Climbs of leaves of one tree,
    /// taken in leaf order, meet where their paths join, and from there up
    /// hash the same parents (`climb::run`).
    pub(super) fn hash_merged(
        &mut self,
        hasher: &NmtHasher,
        count: usize,
        mut children: impl FnMut(usize, &mut [u8]),
        slots: &mut Vec<usize>,
    ) -> &[Digest] {
        let node_len = hasher.node_len();
        let len = 1 + 2 * node_len;
        let stride = padded_len(len);
        self.lay(len, count);
        slots.clear();
        let mut unique = 0;
        for k in 0..count {
            let (done, rest) = self.padded.split_at_mut(unique * stride);
            let m = &mut rest[1..len];
            children(k, m);
            // The children's hashes first: where two climbs have not met,
            // they differ.
            let same = unique > 0 && {
                let before = &done[(unique - 1) * stride + 1..][..len - 1];
                let n = 2 * hasher.namespace_size();
                let (l, r) = (n..n + 32, node_len + n..node_len + n + 32);
                before[l.clone()] == m[l] && before[r.clone()] == m[r] && before == m
            };
            if same {
                slots.push(unique - 1);
            } else {
                slots.push(unique);
                unique += 1;
            }
        }
        self.digests.clear();
        self.digests.resize(unique, [0u8; 32]);
        sha256_padded_batch(&self.padded[..unique * stride], stride / 64, &mut self.digests);
        &self.digests
    }

    /// Writes the parent of each pair of adjacent nodes in `pairs` to the
    /// matching node of `out`, unchecked: for trees built from validated,
    /// sorted leaves. `pairs` holds two nodes for each node of `out`.
    pub(super) fn hash_pairs(&mut self, hasher: &NmtHasher, pairs: &[u8], out: &mut [u8]) {
        let len = hasher.node_len();
        debug_assert_eq!(pairs.len(), 2 * out.len());
        // The two children are adjacent in `pairs`: one copy a parent.
        let digests = self.hash(len, out.len() / len, |k, m| m.copy_from_slice(&pairs[2 * k * len..][..2 * len]));
        for ((o, pair), digest) in out.chunks_exact_mut(len).zip(pairs.chunks_exact(2 * len)).zip(digests) {
            let (left, right) = pair.split_at(len);
            hasher.write_parent(left, right, digest, o);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha256;

    /// Adjacent equal messages are hashed once, others each time (an equal
    /// one after a different one included), and every parent's digest is
    /// its message's SHA-256.
    #[test]
    fn adjacent_equal_parents_are_hashed_once() {
        let h = NmtHasher::new(8).unwrap();
        let len = h.node_len();
        let child = |tag: u8| vec![tag; 2 * len];
        // Differing only in a namespace byte, not in the hashes.
        let mut c2 = child(1);
        c2[3] ^= 1;
        let messages = [child(1), child(1), c2.clone(), child(1), child(5), child(5), child(5)];
        let mut parents = Parents::default();
        let mut slots = Vec::new();
        let digests =
            parents.hash_merged(&h, messages.len(), |k, out| out.copy_from_slice(&messages[k]), &mut slots).to_vec();
        assert_eq!(slots, [0, 0, 1, 2, 3, 3, 3]);
        assert_eq!(digests.len(), 4);
        for (m, &slot) in messages.iter().zip(&slots) {
            assert_eq!(digests[slot], sha256(&[&[NODE_PREFIX][..], m].concat()));
        }
    }
}
