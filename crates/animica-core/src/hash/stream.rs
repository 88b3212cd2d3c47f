//! Incremental hashing (the hashlib protocol's state).

use super::{Algorithm, Blake3Mode, Digest, Keccak256, blake3_update};
use crate::error::Result;
use crate::parallel::Threads;

/// An incremental hasher for one of the three algorithms. Cloning copies
/// the state, so a prefix can be hashed once and extended several ways.
///
/// Sized for SHA-256 (the common case: hashlib's replacement, 100,000 live
/// objects must not cost more than hashlib's): the larger states are boxed.
#[derive(Clone, Debug)]
pub enum StreamHasher {
    /// BLAKE3 in any mode (boxed: its state is ~2 KiB).
    Blake3(Box<blake3::Hasher>),
    /// SHA-256 (112 bytes, inline).
    Sha256(sha2::Sha256),
    /// Keccak-256 (boxed: 344 bytes of sponge state and buffer).
    Keccak256(Box<Keccak256>),
}

// SHA-256's state plus the tag, nothing larger inline (checked when
// compiling).
const _: () = assert!(std::mem::size_of::<StreamHasher>() <= 128);

impl StreamHasher {
    /// A fresh hasher (BLAKE3 unkeyed).
    pub fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Blake3 => Self::blake3(Blake3Mode::Hash),
            Algorithm::Sha256 => StreamHasher::Sha256(Default::default()),
            Algorithm::Keccak256 => StreamHasher::Keccak256(Box::default()),
        }
    }

    /// A fresh BLAKE3 hasher in `mode`.
    pub fn blake3(mode: Blake3Mode<'_>) -> Self {
        StreamHasher::Blake3(Box::new(mode.hasher()))
    }

    /// Which algorithm this is.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            StreamHasher::Blake3(_) => Algorithm::Blake3,
            StreamHasher::Sha256(_) => Algorithm::Sha256,
            StreamHasher::Keccak256(_) => Algorithm::Keccak256,
        }
    }

    /// Absorb `data`. Only BLAKE3 can use more than one thread.
    pub fn update(&mut self, data: &[u8], threads: Threads) -> Result<()> {
        use sha2::Digest as _;
        match self {
            StreamHasher::Blake3(h) => blake3_update(h, data, threads)?,
            StreamHasher::Sha256(h) => h.update(data),
            StreamHasher::Keccak256(h) => h.update(data),
        }
        Ok(())
    }

    /// The 32-byte digest of everything absorbed so far (state unchanged).
    pub fn finalize(&self) -> Digest {
        let mut out = [0u8; 32];
        self.finalize_into(&mut out);
        out
    }

    /// Fill `out` with the digest. BLAKE3 fills any length from its XOF;
    /// SHA-256 and Keccak-256 fill at most 32 bytes (callers check).
    pub fn finalize_into(&self, out: &mut [u8]) {
        use sha2::Digest as _;
        match self {
            StreamHasher::Blake3(h) => h.finalize_xof().fill(out),
            StreamHasher::Sha256(h) => {
                let d = h.clone().finalize();
                out.copy_from_slice(&d[..out.len()]);
            }
            StreamHasher::Keccak256(h) => out.copy_from_slice(&h.finalize()[..out.len()]),
        }
    }
}
