//! One leaf's climb to the root, for checking many proofs of single leaves
//! together ([`super::verify_many`]).
//!
//! A proof of one leaf gives one sibling per level, and the leaf's index
//! says which side each is on: celestiaorg/nmt's `computeRoot` takes the
//! left siblings top-down, then the right ones bottom-up, then any nodes
//! left over as roots further right. The namespace range of every node on
//! the way up follows from the leaf's namespace and the siblings' ranges
//! alone, so every namespace rule is checked while planning, before any
//! hashing. What is left is one SHA-256 per level, whose message is written
//! straight into place: no program to interpret, no stack of nodes. Many
//! climbs ([`run`], for `verify_many`) hash each level of all of them in one
//! batch; one climb ([`Climb::run_alone`], for `verify`) is a chain of
//! dependent hashes. [`super::recompute`] (any range) stays the reference;
//! the tests and the fuzzer check that the two answer alike.

use std::ops::Range;

use super::hasher::{NODE_PREFIX, NmtHasher, PARENT_MESSAGE_MAX, is_max_namespace, ns_le};
use super::parents::Parents;
use super::proof::ProofRef;
use super::recompute::walked_size;
use crate::hash::{CHAIN_MESSAGE_MAX, Digest, Sha256Chain, sha256_chain};
use crate::short_copy::copy_short;

// Every parent of one climb fits a chain's message.
const _: () = assert!(PARENT_MESSAGE_MAX <= CHAIN_MESSAGE_MAX);

/// One level of a climb.
#[derive(Debug, Clone, Copy)]
pub(super) struct Step<'a> {
    /// The sibling node the proof gives for this level.
    sibling: &'a [u8],
    /// Whether the sibling is the left child (the climbing node the right).
    sibling_left: bool,
    /// The climbing node's namespace range.
    min: &'a [u8],
    max: &'a [u8],
}

/// One leaf's climb: its steps (in a list shared by many climbs), the hash
/// of the node it has reached, and the namespace range of its root.
pub(super) struct Climb<'a> {
    hasher: NmtHasher,
    steps: Range<usize>,
    hash: Digest,
    min: &'a [u8],
    max: &'a [u8],
}

impl<'a> Climb<'a> {
    /// The climb of `proof`, a proof of the one leaf `proof.start()`, from
    /// that leaf's node (`namespace`, `namespace`, `leaf_hash`); its steps
    /// are appended to `steps`. `None` (and `steps` unchanged) when the
    /// proof cannot hold: too few nodes for the siblings on the left, a
    /// malformed node, or siblings out of namespace order.
    pub(super) fn plan(
        proof: &ProofRef<'a>,
        namespace: &'a [u8],
        leaf_hash: Digest,
        steps: &mut Vec<Step<'a>>,
    ) -> Option<Climb<'a>> {
        let h = proof.hasher;
        let leaf = proof.start() as u64;
        debug_assert_eq!(proof.end() as u64, leaf + 1);
        let size = walked_size(leaf + 1);
        let len = h.node_len();
        let count = proof.nodes.len() / len;
        let node = |k: usize| &proof.nodes[k * len..(k + 1) * len];
        // The siblings on the left, one per 1 bit of the index, come first.
        // Every node is a step of a climb that succeeds (`size` holds every
        // bit of the index, and the nodes past the right siblings climb at
        // the end), so `step` checks each node's own range as it goes. A
        // separate pass over the nodes first made `verify_many` of 1,000
        // proofs 1.413 against 1.359 us a proof (capped to AVX2 + SHA-NI,
        // best of 20 alternating runs).
        let on_left = leaf.count_ones() as usize;
        if count < on_left {
            return None;
        }
        let at = steps.len();
        let mut climb = Climb { hasher: h, steps: at..at, hash: leaf_hash, min: namespace, max: namespace };
        let mut climb_all = || {
            let (mut left, mut right) = (on_left, on_left);
            for bit in 0..size.trailing_zeros() {
                if leaf >> bit & 1 == 1 {
                    left -= 1;
                    if !climb.step(node(left), true, steps) {
                        return false;
                    }
                } else if right < count {
                    right += 1;
                    if !climb.step(node(right - 1), false, steps) {
                        return false;
                    }
                }
            }
            (right..count).all(|k| climb.step(node(k), false, steps))
        };
        if !climb_all() {
            steps.truncate(at);
            return None;
        }
        climb.steps = at..steps.len();
        Some(climb)
    }

    /// Records the step past `sibling` and moves the range up to the
    /// parent's; `false` when the sibling's own range is reversed
    /// (`min > max`: a malformed node) or the two children are out of order.
    fn step(&mut self, sibling: &'a [u8], sibling_left: bool, steps: &mut Vec<Step<'a>>) -> bool {
        let h = self.hasher;
        let (smin, smax) = (h.min(sibling), h.max(sibling));
        let ((lmin, lmax), (rmin, rmax)) =
            if sibling_left { ((smin, smax), (self.min, self.max)) } else { ((self.min, self.max), (smin, smax)) };
        steps.push(Step { sibling, sibling_left, min: self.min, max: self.max });
        // The parent's range: the left child's minimum, and the right
        // child's maximum unless that child starts in the maximum
        // namespace (the ignore-max rule), then the left one's.
        self.min = lmin;
        self.max = if is_max_namespace(rmin) { lmax } else { rmax };
        ns_le(smin, smax) && ns_le(lmax, rmin)
    }

    /// Writes the message after `0x01` of the parent at `step`: the two
    /// children, the sibling and the climbing node (its range, and `hash`
    /// where given: a chain puts it in itself).
    fn children(&self, step: &Step<'_>, hash: Option<&Digest>, out: &mut [u8]) {
        let (n, len) = (self.hasher.namespace_size(), self.hasher.node_len());
        let (first, second) = out.split_at_mut(len);
        let (sibling, climbing) = if step.sibling_left { (first, second) } else { (second, first) };
        sibling.copy_from_slice(step.sibling);
        copy_short(&mut climbing[..n], step.min);
        copy_short(&mut climbing[n..2 * n], step.max);
        if let Some(hash) = hash {
            climbing[2 * n..2 * n + 32].copy_from_slice(hash);
        }
    }

    /// Climbs to the root alone from the leaf whose message is `leaf`
    /// (`0x00 || namespace || data`): each parent needs the hash of the one
    /// below, so this is one chain of dependent compressions
    /// ([`sha256_chain`]: on SHA-NI, the chain's state stays in registers
    /// and a parent's blocks before the climbing node's hash, which the
    /// plan already knows, are compressed during the level below).
    pub(super) fn run_alone(&mut self, leaf: [&[u8]; 3], steps: &[Step<'_>]) {
        let (n, node_len) = (self.hasher.namespace_size(), self.hasher.node_len());
        let steps = &steps[self.steps.clone()];
        // Where the climbing node's hash starts in its parent's message.
        let at = |k: usize| if steps[k].sibling_left { 1 + node_len + 2 * n } else { 1 + 2 * n };
        let fill = |k: usize, m: &mut [u8]| {
            m[0] = NODE_PREFIX;
            self.children(&steps[k], None, &mut m[1..]);
        };
        let hash = sha256_chain(Sha256Chain { first: leaf, links: steps.len(), len: 1 + 2 * node_len, at, fill });
        self.hash = hash;
    }

    /// Whether the climb, once [`run`] or [`Climb::run_alone`] has ended
    /// it, reached `root`.
    pub(super) fn reaches(&self, root: &[u8]) -> bool {
        let h = self.hasher;
        root.len() == h.node_len()
            && h.min(root) == self.min
            && h.max(root) == self.max
            && root[2 * h.namespace_size()..] == self.hash
    }
}

/// Climbs every climb to its root, a level a round: each round's parents
/// are hashed in one batch ([`Parents`]) per namespace width, a parent
/// whose message equals the climb before's once ([`Parents::hash_merged`]:
/// climbs of one tree in leaf order share their parents above where their
/// paths join).
pub(super) fn run(climbs: &mut [Climb<'_>], steps: &[Step<'_>]) {
    // (node length, climb) of each climb with a level left, by node length
    // once: a round keeps the climbs still climbing, in that order, so its
    // groups need no sort.
    let mut due: Vec<(usize, usize)> = climbs.iter().enumerate().map(|(i, c)| (c.hasher.node_len(), i)).collect();
    due.sort_by_key(|&(node_len, _)| node_len);
    let mut parents = Parents::default();
    let mut slots = Vec::new();
    for level in 0.. {
        due.retain(|&(_, i)| level < climbs[i].steps.len());
        if due.is_empty() {
            return;
        }
        for group in due.chunk_by(|a, b| a.0 == b.0) {
            let hasher = climbs[group[0].1].hasher;
            let digests = parents.hash_merged(
                &hasher,
                group.len(),
                |k, out| {
                    let climb = &climbs[group[k].1];
                    climb.children(&steps[climb.steps.start + level], Some(&climb.hash), out);
                },
                &mut slots,
            );
            for (&(_, i), &slot) in group.iter().zip(&slots) {
                climbs[i].hash = digests[slot];
            }
        }
    }
}
