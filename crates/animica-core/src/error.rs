//! The one error type of the core crate.
//!
//! Every variant says what was wrong and with which value. [`Error::kind`]
//! groups the variants into the three families the bindings expose
//! (`InvalidInput`, `ComputationFailed`, `BackendUnavailable`) plus I/O.

use std::path::PathBuf;

/// Everything that can go wrong in `animica-core`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A namespace width outside `1..=64`.
    #[error("namespace_size {size} is out of range 1..=64")]
    NamespaceSize {
        /// The rejected width in bytes.
        size: usize,
    },
    /// A namespace (or namespace-bearing value) of the wrong width.
    #[error("{what} has {got} bytes, expected {expected}")]
    Width {
        /// Which value, e.g. "namespace 3" or "root".
        what: String,
        /// Its length.
        got: usize,
        /// The required length.
        expected: usize,
    },
    /// Two parallel sequences of different lengths.
    #[error("got {left} {left_name} but {right} {right_name}")]
    CountMismatch {
        /// Name of the first sequence.
        left_name: &'static str,
        /// Its length.
        left: usize,
        /// Name of the second sequence.
        right_name: &'static str,
        /// Its length.
        right: usize,
    },
    /// NMT leaves must be pushed in non-decreasing namespace order.
    #[error("namespace {index} is smaller than namespace {prev}; namespaces must be non-decreasing")]
    UnsortedNamespaces {
        /// Index of the offending namespace.
        index: usize,
        /// Index of its predecessor.
        prev: usize,
    },
    /// A leaf range that is empty or not inside the tree.
    #[error("range [{start}, {end}) is not a non-empty range within the {len} leaves")]
    InvalidRange {
        /// First index.
        start: usize,
        /// One past the last index.
        end: usize,
        /// Number of leaves in the tree.
        len: usize,
    },
    /// A serialized proof that cannot be decoded.
    #[error("malformed proof: {reason}")]
    MalformedProof {
        /// What is wrong with it.
        reason: String,
    },
    /// A Reed-Solomon shard count the codec does not support.
    #[error("{data} data + {parity} parity shards are not supported: {limit}")]
    ShardCount {
        /// Data shards requested.
        data: usize,
        /// Parity shards requested.
        parity: usize,
        /// The limit that was exceeded.
        limit: &'static str,
    },
    /// An empty shard (shards must be non-empty).
    #[error("shard {index} is empty; shards must be non-empty")]
    EmptyShard {
        /// Index of the shard.
        index: usize,
    },
    /// A shard whose length differs from the others.
    #[error("shard {index} has {got} bytes, expected {expected} like shard {first}")]
    ShardLength {
        /// Index of the shard.
        index: usize,
        /// Its length.
        got: usize,
        /// The length of the first shard.
        expected: usize,
        /// Index of the shard that set the length.
        first: usize,
    },
    /// A shard list that is not `data + parity` long.
    #[error("got {got} shards, expected {expected} ({data} data + {parity} parity)")]
    ShardListLength {
        /// Length of the list.
        got: usize,
        /// `data + parity`.
        expected: usize,
        /// Data shards.
        data: usize,
        /// Parity shards.
        parity: usize,
    },
    /// More shards are missing than parity can restore.
    #[error("{missing} shards are missing but only {parity} parity shards exist; cannot reconstruct")]
    TooManyErasures {
        /// Missing shards.
        missing: usize,
        /// Parity shards.
        parity: usize,
    },
    /// A BLAKE3 key of the wrong length.
    #[error("key has {got} bytes, expected 32")]
    KeyLength {
        /// Its length.
        got: usize,
    },
    /// `key` and `derive_key_context` were both given.
    #[error("key and derive_key_context are mutually exclusive")]
    KeyAndContext,
    /// An unknown hash algorithm name.
    #[error("unknown algorithm {name:?}; expected one of \"blake3\", \"sha256\", \"keccak256\"")]
    UnknownAlgorithm {
        /// The rejected name.
        name: String,
    },
    /// `max_threads` of zero.
    #[error("max_threads must be at least 1, got 0")]
    ZeroThreads,
    /// The thread pool could not be started.
    #[error("the thread pool could not be started: {reason}")]
    ThreadPool {
        /// What the OS said.
        reason: String,
    },
    /// The codec rejected input after validation passed (a bug if it happens).
    #[error("Reed-Solomon codec failed: {reason}")]
    Codec {
        /// The codec's message.
        reason: String,
    },
    /// Reading a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// The family an [`Error`] belongs to; each maps to one Python exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller passed something invalid.
    InvalidInput,
    /// Valid input, but the computation cannot succeed (e.g. too many erasures).
    ComputationFailed,
    /// A native resource (threads) is unavailable.
    BackendUnavailable,
    /// The operating system refused an I/O operation.
    Io,
}

impl Error {
    /// Which family this error belongs to.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::TooManyErasures { .. } | Error::Codec { .. } => ErrorKind::ComputationFailed,
            Error::ThreadPool { .. } => ErrorKind::BackendUnavailable,
            Error::Io { .. } => ErrorKind::Io,
            _ => ErrorKind::InvalidInput,
        }
    }
}

/// `Result` with the core's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
