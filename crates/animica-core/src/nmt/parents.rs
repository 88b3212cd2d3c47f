//! Batches of parent messages (`0x01 || left || right`), laid out padded
//! for the multi-message SHA-256 kernels: a tree's level of pairs
//! ([`Parents::hash_pairs`], for building roots and trees) and the parents
//! of many climbs at one level ([`Parents::hash`], for `verify_many`).
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
        if self.padded.len() < count * stride {
            self.padded.resize(count * stride, 0);
        }
        let padded = &mut self.padded[..count * stride];
        if self.laid.0 != len {
            self.laid = (len, 0);
        }
        for m in padded.chunks_exact_mut(stride).skip(self.laid.1) {
            m[0] = NODE_PREFIX;
            pad(m, len);
        }
        self.laid.1 = self.laid.1.max(count);
        for (k, m) in padded.chunks_exact_mut(stride).enumerate() {
            children(k, &mut m[1..len]);
        }
        self.digests.clear();
        self.digests.resize(count, [0u8; 32]);
        sha256_padded_batch(padded, stride / 64, &mut self.digests);
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
