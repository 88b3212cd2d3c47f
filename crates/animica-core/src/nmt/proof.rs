//! NMT proofs and their stable wire format, version 1 (big-endian):
//!
//! ```text
//! u8  version = 1
//! u8  flags        bit0: ignore-max-namespace (must be 1)
//!                  bit1: absence proof (leaf_hash present)
//! u8  N            namespace size
//! u32 start        first proven leaf index
//! u32 end          one past the last proven leaf index
//! u32 count        number of sibling nodes
//! count * (2N+32)  sibling nodes, in order (left of the range, then right)
//! (2N+32)          leaf_hash of the neighbouring leaf (absence proofs only)
//! ```
//!
//! Decoding is strict: any unknown version or flag, a width outside 1..=64,
//! `start > end`, or a missing or trailing byte is an error.

use super::hasher::NmtHasher;
use crate::error::{Error, Result};

/// Wire format version written and accepted.
pub const VERSION: u8 = 1;
/// Flag bit: the "ignore max namespace" rule was used (always set).
pub const FLAG_IGNORE_MAX_NAMESPACE: u8 = 0b01;
/// Flag bit: this is an absence proof carrying a leaf hash.
pub const FLAG_ABSENCE: u8 = 0b10;
const HEADER_LEN: usize = 3 + 4 + 4 + 4;

/// A range, namespace or absence proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    hasher: NmtHasher,
    start: u32,
    end: u32,
    /// Sibling nodes, concatenated (`count * (2N + 32)` bytes).
    nodes: Vec<u8>,
    leaf_hash: Option<Vec<u8>>,
}

fn malformed(reason: impl Into<String>) -> Error {
    Error::MalformedProof { reason: reason.into() }
}

impl Proof {
    /// A proof from its parts; node lengths must match the hasher.
    pub fn new(
        hasher: NmtHasher,
        start: usize,
        end: usize,
        nodes: Vec<u8>,
        leaf_hash: Option<Vec<u8>>,
    ) -> Result<Proof> {
        let len = hasher.node_len();
        let (Ok(s), Ok(e)) = (u32::try_from(start), u32::try_from(end)) else {
            return Err(malformed(format!("range [{start}, {end}) does not fit in 32 bits")));
        };
        if s > e {
            return Err(malformed(format!("start {start} is after end {end}")));
        }
        if !nodes.len().is_multiple_of(len) {
            return Err(malformed(format!("nodes are {} bytes, not a multiple of {len}", nodes.len())));
        }
        if u32::try_from(nodes.len() / len).is_err() {
            return Err(malformed("more than 2^32 - 1 nodes"));
        }
        if let Some(h) = leaf_hash.as_ref().filter(|h| h.len() != len) {
            return Err(Error::Width { what: "leaf_hash".into(), got: h.len(), expected: len });
        }
        Ok(Proof { hasher, start: s, end: e, nodes, leaf_hash })
    }

    /// The empty proof `[0, 0)` with no nodes.
    pub fn empty(hasher: NmtHasher) -> Proof {
        Proof { hasher, start: 0, end: 0, nodes: Vec::new(), leaf_hash: None }
    }

    /// The hasher (namespace width) the proof is for.
    pub fn hasher(&self) -> &NmtHasher {
        &self.hasher
    }

    /// First proven leaf index.
    pub fn start(&self) -> usize {
        self.start as usize
    }

    /// One past the last proven leaf index.
    pub fn end(&self) -> usize {
        self.end as usize
    }

    /// The sibling nodes, concatenated.
    pub fn nodes_flat(&self) -> &[u8] {
        &self.nodes
    }

    /// The sibling nodes, one slice each.
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.nodes.chunks_exact(self.hasher.node_len())
    }

    /// The neighbouring leaf's hash, for absence proofs.
    pub fn leaf_hash(&self) -> Option<&[u8]> {
        self.leaf_hash.as_deref()
    }

    /// Whether this proves that a namespace is absent.
    pub fn is_absence(&self) -> bool {
        self.leaf_hash.is_some()
    }

    /// Whether this is the empty proof (`start == end`, nothing else).
    pub fn is_empty(&self) -> bool {
        self.start == self.end && self.nodes.is_empty() && self.leaf_hash.is_none()
    }

    /// Serialize to wire format v1.
    pub fn to_bytes(&self) -> Vec<u8> {
        let len = self.hasher.node_len();
        let count = self.nodes.len() / len;
        let mut out = Vec::with_capacity(HEADER_LEN + self.nodes.len() + len);
        let flags = FLAG_IGNORE_MAX_NAMESPACE | if self.is_absence() { FLAG_ABSENCE } else { 0 };
        out.extend_from_slice(&[VERSION, flags, self.hasher.namespace_size() as u8]);
        out.extend_from_slice(&self.start.to_be_bytes());
        out.extend_from_slice(&self.end.to_be_bytes());
        out.extend_from_slice(&(count as u32).to_be_bytes());
        out.extend_from_slice(&self.nodes);
        if let Some(h) = &self.leaf_hash {
            out.extend_from_slice(h);
        }
        out
    }

    /// Parse wire format v1, rejecting anything not produced by `to_bytes`.
    pub fn from_bytes(b: &[u8]) -> Result<Proof> {
        let p = ProofRef::parse(b)?;
        Proof::new(p.hasher, p.start(), p.end(), p.nodes.to_vec(), p.leaf_hash.map(<[u8]>::to_vec))
    }
}

/// A proof read in place from its wire bytes, for verification: the same
/// strict decoding as [`Proof::from_bytes`] without copying the nodes.
#[derive(Debug, Clone, Copy)]
pub(super) struct ProofRef<'a> {
    pub(super) hasher: NmtHasher,
    start: u32,
    end: u32,
    /// Sibling nodes, concatenated (a multiple of the node length).
    pub(super) nodes: &'a [u8],
    pub(super) leaf_hash: Option<&'a [u8]>,
}

impl<'a> ProofRef<'a> {
    /// Decode wire format v1 (see the module documentation).
    pub(super) fn parse(b: &'a [u8]) -> Result<ProofRef<'a>> {
        if b.len() < HEADER_LEN {
            return Err(malformed(format!("{} bytes is shorter than the {HEADER_LEN}-byte header", b.len())));
        }
        if b[0] != VERSION {
            return Err(malformed(format!("version {} is not supported (expected {VERSION})", b[0])));
        }
        let flags = b[1];
        if flags & !(FLAG_IGNORE_MAX_NAMESPACE | FLAG_ABSENCE) != 0 {
            return Err(malformed(format!("unknown flags {flags:#04x}")));
        }
        if flags & FLAG_IGNORE_MAX_NAMESPACE == 0 {
            return Err(malformed("the ignore-max-namespace flag must be set"));
        }
        let hasher = NmtHasher::new(b[2] as usize).map_err(|e| malformed(e.to_string()))?;
        let word = |at: usize| u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let (start, end, count) = (word(3), word(7), word(11));
        if start > end {
            return Err(malformed(format!("start {start} is after end {end}")));
        }
        let len = hasher.node_len();
        let absent = flags & FLAG_ABSENCE != 0;
        let body = (count as u64) * (len as u64) + if absent { len as u64 } else { 0 };
        if (b.len() - HEADER_LEN) as u64 != body {
            return Err(malformed(format!(
                "{} bytes after the header, expected {body} for {count} nodes{}",
                b.len() - HEADER_LEN,
                if absent { " and a leaf hash" } else { "" }
            )));
        }
        let nodes_end = HEADER_LEN + count as usize * len;
        let leaf_hash = absent.then(|| &b[nodes_end..]);
        Ok(ProofRef { hasher, start, end, nodes: &b[HEADER_LEN..nodes_end], leaf_hash })
    }

    /// First proven leaf index.
    pub(super) fn start(&self) -> usize {
        self.start as usize
    }

    /// One past the last proven leaf index.
    pub(super) fn end(&self) -> usize {
        self.end as usize
    }

    /// The sibling nodes, one slice each.
    pub(super) fn nodes(&self) -> std::slice::ChunksExact<'a, u8> {
        self.nodes.chunks_exact(self.hasher.node_len())
    }

    /// Whether this is the empty proof (`start == end`, nothing else).
    pub(super) fn is_empty(&self) -> bool {
        self.start == self.end && self.nodes.is_empty() && self.leaf_hash.is_none()
    }
}
