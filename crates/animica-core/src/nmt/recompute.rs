//! Recomputing a root from a proof of any range: the order in which the
//! range's leaf hashes and the proof's sibling nodes combine (celestiaorg/
//! nmt's `computeRoot`), as a program over a stack of nodes, and a runner
//! for its chain of parents.
//!
//! One proof is a chain of dependent hashes (each parent needs the one
//! below it), bound by the latency of SHA-256's rounds; the runner fills
//! some of the chain's gaps with the next parent's known blocks. Proofs
//! of single leaves (`verify`, `verify_many`) take [`super::climb`]
//! instead, which needs no program; `verify_range` keeps this for one leaf
//! too, so the tests and the fuzzer can compare the two.

use super::hasher::{NODE_PREFIX, NmtHasher, PARENT_MESSAGE_MAX, is_max_namespace, ns_le};
use super::proof::ProofRef;
use crate::hash::{Digest, SHA256_IV, pad, padded_len, sha256_compress_two, sha256_digest};

/// One step of a root computation: a postfix program over a stack of nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// Push the range's next leaf hash.
    Leaf,
    /// Push the proof's next sibling node.
    Node,
    /// Pop the right node, then the left one; push their parent.
    Combine,
}

/// Largest power of two strictly below `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    let p = 1u64 << (63 - n.leading_zeros());
    if p == n { p / 2 } else { p }
}

/// The leaves of the perfect tree `computeRoot` walks for a range ending at
/// `end`: the smallest power of two holding `[0, end)`.
pub(super) fn walked_size(end: u64) -> u64 {
    if end <= 1 { 1 } else { 2 * split_point(end) }
}

/// Walks the perfect tree over `[0, 2^ceil(log2 end))` the way
/// celestiaorg/nmt's `computeRoot` does, writing the program instead of
/// hashing: subtrees inside the range descend to its leaves, each subtree
/// outside it takes the next proof node (when one is left).
struct Planner {
    start: u64,
    end: u64,
    /// Proof nodes not yet taken.
    nodes: usize,
    ops: Vec<Op>,
}

impl Planner {
    /// Whether the subtree `[lo, hi)` yields a node; `Err` when a subtree
    /// yields one but its left sibling does not (a proof missing a node).
    fn walk(&mut self, lo: u64, hi: u64) -> Result<bool, ()> {
        if hi - lo == 1 && lo >= self.start && lo < self.end {
            self.ops.push(Op::Leaf);
            return Ok(true);
        }
        if hi <= self.start || lo >= self.end || hi - lo == 1 {
            if self.nodes == 0 {
                return Ok(false);
            }
            self.nodes -= 1;
            self.ops.push(Op::Node);
            return Ok(true);
        }
        let k = split_point(hi - lo);
        let left = self.walk(lo, lo + k)?;
        let right = self.walk(lo + k, hi)?;
        match (left, right) {
            (left, false) => Ok(left),
            (true, true) => {
                self.ops.push(Op::Combine);
                Ok(true)
            }
            (false, true) => Err(()),
        }
    }
}

/// The program recomputing the root of a proof of leaves `[start, end)`
/// (`start < end`) with `nodes` sibling nodes; nodes left over after the
/// walk are roots of subtrees further right. `None` when the nodes cannot
/// form a root.
fn program(start: u64, end: u64, nodes: usize) -> Option<Vec<Op>> {
    let size = walked_size(end);
    let mut planner = Planner { start, end, nodes, ops: Vec::with_capacity(2 * (end - start) as usize + 2 * nodes) };
    if !planner.walk(0, size).ok()? {
        return None;
    }
    for _ in 0..planner.nodes {
        planner.ops.extend([Op::Node, Op::Combine]);
    }
    Some(planner.ops)
}

/// One root being recomputed.
pub(super) struct Job<'a> {
    hasher: NmtHasher,
    ops: Vec<Op>,
    /// The next op to run.
    pc: usize,
    /// The range's leaf hashes and the proof's nodes, each consumed in order.
    leaves: std::slice::ChunksExact<'a, u8>,
    nodes: std::slice::ChunksExact<'a, u8>,
    /// Nodes of `hasher.node_len()` bytes, concatenated: when a parent is
    /// due, the top two are `left || right`, the message after `0x01`.
    stack: Vec<u8>,
    /// Set when two nodes could not be siblings: the proof is invalid.
    failed: bool,
}

impl<'a> Job<'a> {
    /// The computation of `proof`'s root from the range's `leaf_hashes`
    /// (concatenated, one per leaf of the range, already checked to be
    /// that many); `None` when the proof's nodes cannot form a root.
    pub(super) fn new(proof: &ProofRef<'a>, leaf_hashes: &'a [u8]) -> Option<Job<'a>> {
        let len = proof.hasher.node_len();
        let nodes = proof.nodes();
        let ops = program(proof.start() as u64, proof.end() as u64, nodes.len())?;
        // The stack's deepest point, so that it never grows.
        let depth = ops
            .iter()
            .scan(0usize, |d, op| {
                *d = if *op == Op::Combine { d.saturating_sub(1) } else { *d + 1 };
                Some(*d)
            })
            .max()
            .unwrap_or(0);
        Some(Job {
            hasher: proof.hasher,
            ops,
            pc: 0,
            leaves: leaf_hashes.chunks_exact(len),
            nodes,
            stack: Vec::with_capacity(depth * len),
            failed: false,
        })
    }

    /// The top two nodes, left then right (two are there when a parent is due).
    fn pair(&self) -> (&[u8], &[u8]) {
        self.children().split_at(self.hasher.node_len())
    }

    /// The top two nodes as one run, `left || right`.
    fn children(&self) -> &[u8] {
        &self.stack[self.stack.len() - 2 * self.hasher.node_len()..]
    }

    /// Runs the program up to its next parent, leaving the two children on
    /// top of the stack; `false` when the job has ended (finished or failed).
    fn advance(&mut self) -> bool {
        let len = self.hasher.node_len();
        while !self.failed && self.pc < self.ops.len() {
            let op = self.ops[self.pc];
            self.pc += 1;
            let pushed = match op {
                Op::Leaf => self.leaves.next(),
                Op::Node => self.nodes.next(),
                Op::Combine => {
                    if self.stack.len() >= 2 * len && {
                        let (left, right) = self.pair();
                        ns_le(self.hasher.max(left), self.hasher.min(right))
                    } {
                        return true;
                    }
                    None
                }
            };
            // A program never runs out of leaves, nodes or stack (the
            // caller checked the counts). Each node is checked once, as it
            // is pushed: a parent of two well-formed nodes in order is well
            // formed itself (its minimum is the left one's, its maximum the
            // right one's or the left one's), so `Combine` checks only the
            // order. A malformed node or two out of order fail the proof.
            match pushed.filter(|node| self.hasher.is_valid_node(node)) {
                Some(node) => self.stack.extend_from_slice(node),
                None => self.failed = true,
            }
        }
        false
    }

    /// Replaces the top two nodes with their parent, whose SHA-256 part is
    /// `hash`: the left node becomes the parent in place (its minimum is
    /// the parent's), taking the right one's maximum unless that is ignored.
    fn combine(&mut self, hash: &Digest) {
        let (n, len) = (self.hasher.namespace_size(), self.hasher.node_len());
        let at = self.stack.len() - 2 * len;
        let (left, right) = self.stack[at..].split_at_mut(len);
        if !self.hasher.is_max_ignored(right) {
            left[n..2 * n].copy_from_slice(self.hasher.max(right));
        }
        left[2 * n..].copy_from_slice(hash);
        self.stack.truncate(at + len);
    }

    /// The recomputed root, once [`run`] has ended the job; `None` when the
    /// proof was invalid.
    pub(super) fn root(&self) -> Option<&[u8]> {
        let done = !self.failed && self.pc == self.ops.len() && self.stack.len() == self.hasher.node_len();
        done.then_some(&self.stack[..])
    }
}

/// Runs a job to its end: a chain of dependent hashes, each parent on sha2
/// (SHA-NI) straight away. Where the parent being made will be the right
/// child of the next one, the next one's message starts with what is known
/// already (`0x01`, its left child, and the namespaces of the parent being
/// made: two of its three blocks for Celestia's 29-byte namespaces), so
/// those blocks are compressed beside this parent's (two independent
/// chains, `sha256_compress_two`), and the next parent compresses only the
/// rest.
pub(super) fn run(job: &mut Job<'_>) {
    let (n, node_len) = (job.hasher.namespace_size(), job.hasher.node_len());
    let len = 1 + 2 * node_len;
    let padded = padded_len(len);
    let mut message = [0u8; PARENT_MESSAGE_MAX];
    let mut next = [0u8; PARENT_MESSAGE_MAX];
    // The next parent's chaining value after its first `ahead.1` blocks.
    let mut ahead: Option<([u32; 8], usize)> = None;
    while job.advance() {
        let m = &mut message[..padded];
        m[0] = NODE_PREFIX;
        m[1..len].copy_from_slice(job.children());
        pad(m, len);
        let (mut state, done) = ahead.take().unwrap_or((SHA256_IV, 0));
        debug_assert!(done == 0 || next[..64 * done] == m[..64 * done]);
        let rest = &m[64 * done..];
        // The next parent's known start, when the one being made is its
        // right child: the next op combines it with the node below.
        let mut prefix = ([0u32; 8], 0);
        if job.ops.get(job.pc) == Some(&Op::Combine) && job.stack.len() >= 3 * node_len {
            let (left, right) = job.pair();
            let below = &job.stack[job.stack.len() - 3 * node_len..][..node_len];
            let max =
                if is_max_namespace(job.hasher.min(right)) { job.hasher.max(left) } else { job.hasher.max(right) };
            next[0] = NODE_PREFIX;
            next[1..1 + node_len].copy_from_slice(below);
            next[1 + node_len..1 + node_len + n].copy_from_slice(job.hasher.min(left));
            next[1 + node_len + n..1 + node_len + 2 * n].copy_from_slice(max);
            prefix = (SHA256_IV, (1 + node_len + 2 * n) / 64);
        }
        sha256_compress_two(&mut state, rest, &mut prefix.0, &next[..64 * prefix.1]);
        if prefix.1 > 0 {
            ahead = Some(prefix);
        }
        job.combine(&sha256_digest(&state));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(s: &str) -> Vec<Op> {
        s.chars()
            .map(|c| match c {
                'L' => Op::Leaf,
                'N' => Op::Node,
                'C' => Op::Combine,
                _ => unreachable!("op {c}"),
            })
            .collect()
    }

    #[test]
    fn programs_follow_the_walk() {
        // Leaf 5 of 8: left siblings top-down, then right siblings bottom-up.
        // Tree over [0, 8): [0,4) is a node; [4,6) holds the leaf: [4,5) is
        // a node, 5 the leaf; then [6,8) is a node.
        assert_eq!(program(5, 6, 3), Some(ops("NNLCNCC")));
        // A single leaf tree and a proof with nothing to add.
        assert_eq!(program(0, 1, 0), Some(ops("L")));
        // Leftover nodes are subtrees further right.
        assert_eq!(program(0, 1, 2), Some(ops("LNCNC")));
        // The whole range of four leaves.
        assert_eq!(program(0, 4, 0), Some(ops("LLCLLCC")));
        // A subtree right of the range may be missing (the tree ends there).
        assert_eq!(program(0, 3, 0), Some(ops("LLCLC")));
        // A subtree left of the range may not.
        assert_eq!(program(1, 2, 0), None);
    }
}
