//! One-shot, streaming, batch and file hashing: BLAKE3, SHA-256, Keccak-256.
//!
//! All three produce 32-byte digests by default. `keccak256` is Ethereum's
//! Keccak-256 (padding byte 0x01), not FIPS-202 SHA3-256.

mod batch;
mod file;
mod keccak;
#[cfg(all(target_arch = "x86_64", feature = "optimized-keccak"))]
mod keccak_avx512;
mod keccak_params;
#[cfg(all(target_arch = "x86_64", feature = "optimized-keccak"))]
mod keccak_x86_64;
mod sha256_lanes;
mod stream;

use std::str::FromStr;

pub use batch::{many, many_into};
pub use file::file;
pub(crate) use keccak::kernel_name as keccak_kernel;
pub use keccak::{Keccak256, keccak256, keccak256_kernels, keccak256_on, keccak256_with};
pub(crate) use sha256_lanes::{
    CHAIN_MESSAGE_MAX, Chain as Sha256Chain, IV as SHA256_IV, compress_two as sha256_compress_two,
    digest as sha256_digest, pad, padded_len, sha256_batch, sha256_batch_kernel, sha256_chain, sha256_padded_batch,
};
pub use sha256_lanes::{
    sha256_chain_kernels, sha256_chain_with, sha256_many_kernels, sha256_many_on, sha256_many_with,
};
pub use stream::StreamHasher;

use crate::error::{Error, Result};
use crate::parallel::{self, Threads};

/// A 32-byte digest.
pub type Digest = [u8; 32];

/// Where a digest goes: an owned array or a reference to memory owned by
/// someone else (for example, the buffer of a Python `bytes`).
pub trait DigestSlot: Send {
    /// The 32 bytes to write.
    fn slot(&mut self) -> &mut Digest;
}

impl DigestSlot for Digest {
    fn slot(&mut self) -> &mut Digest {
        self
    }
}

impl DigestSlot for &mut Digest {
    fn slot(&mut self) -> &mut Digest {
        self
    }
}

/// Inputs at least this long are hashed with BLAKE3's rayon tree mode when
/// more than one thread is allowed. The threshold is the blake3 crate's own
/// rule of thumb (`Hasher::update_rayon`: slower than `update` below 128 KiB
/// on x86_64); it has not been re-measured here.
pub const BLAKE3_PARALLEL_MIN: usize = 128 * 1024;

/// The three hash functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// BLAKE3.
    Blake3,
    /// SHA-256 (FIPS 180-4).
    Sha256,
    /// Keccak-256 as used by Ethereum.
    Keccak256,
}

impl Algorithm {
    /// Every algorithm, in a fixed order.
    pub const ALL: [Algorithm; 3] = [Algorithm::Blake3, Algorithm::Sha256, Algorithm::Keccak256];

    /// The lowercase name (`"blake3"`, `"sha256"`, `"keccak256"`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Blake3 => "blake3",
            Algorithm::Sha256 => "sha256",
            Algorithm::Keccak256 => "keccak256",
        }
    }

    /// Default digest size in bytes (32 for all three).
    pub fn digest_size(self) -> usize {
        32
    }

    /// Internal block size in bytes (what `hmac` uses for its pads).
    pub fn block_size(self) -> usize {
        match self {
            Algorithm::Blake3 | Algorithm::Sha256 => 64,
            // The sponge rate of Keccak-256: 1600 - 2 * 256 bits.
            Algorithm::Keccak256 => keccak_params::RATE,
        }
    }

    /// One-shot digest of `data` (BLAKE3 unkeyed, 32 bytes).
    pub fn digest(self, data: &[u8], threads: Threads) -> Result<Digest> {
        Ok(match self {
            Algorithm::Blake3 => blake3(data, threads)?,
            Algorithm::Sha256 => sha256(data),
            Algorithm::Keccak256 => keccak256(data),
        })
    }
}

impl FromStr for Algorithm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "blake3" => Ok(Algorithm::Blake3),
            "sha256" | "sha-256" => Ok(Algorithm::Sha256),
            "keccak256" | "keccak-256" => Ok(Algorithm::Keccak256),
            _ => Err(Error::UnknownAlgorithm { name: s.to_owned() }),
        }
    }
}

/// SHA-256 of `data` (SHA-NI / AVX2 chosen at run time by `sha2`).
pub fn sha256(data: &[u8]) -> Digest {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).into()
}

/// BLAKE3 of `data`; large inputs use several threads.
pub fn blake3(data: &[u8], threads: Threads) -> Result<Digest> {
    let mut out = [0u8; 32];
    blake3_xof(data, Blake3Mode::Hash, threads, &mut out)?;
    Ok(out)
}

/// The three BLAKE3 modes.
#[derive(Debug, Clone, Copy)]
pub enum Blake3Mode<'a> {
    /// Plain hashing.
    Hash,
    /// Keyed hashing (a 32-byte key, as a MAC or PRF).
    Keyed(&'a [u8; 32]),
    /// Key derivation with a context string.
    DeriveKey(&'a str),
}

impl<'a> Blake3Mode<'a> {
    /// Build a mode from optional key / context, validating both.
    pub fn new(key: Option<&'a [u8]>, context: Option<&'a str>) -> Result<Self> {
        match (key, context) {
            (Some(_), Some(_)) => Err(Error::KeyAndContext),
            (Some(k), None) => k.try_into().map(Blake3Mode::Keyed).map_err(|_| Error::KeyLength { got: k.len() }),
            (None, Some(c)) => Ok(Blake3Mode::DeriveKey(c)),
            (None, None) => Ok(Blake3Mode::Hash),
        }
    }

    pub(crate) fn hasher(self) -> blake3::Hasher {
        match self {
            Blake3Mode::Hash => blake3::Hasher::new(),
            Blake3Mode::Keyed(k) => blake3::Hasher::new_keyed(k),
            Blake3Mode::DeriveKey(c) => blake3::Hasher::new_derive_key(c),
        }
    }
}

/// Feed `data` into a BLAKE3 hasher, in parallel when it is large enough.
pub(crate) fn blake3_update(h: &mut blake3::Hasher, data: &[u8], threads: Threads) -> Result<()> {
    if data.len() < BLAKE3_PARALLEL_MIN {
        h.update(data);
        return Ok(());
    }
    parallel::run(threads, |par| {
        if par {
            h.update_rayon(data);
        } else {
            h.update(data);
        }
    })
}

/// BLAKE3 in any mode, filling `out` from the extendable output.
pub fn blake3_xof(data: &[u8], mode: Blake3Mode<'_>, threads: Threads, out: &mut [u8]) -> Result<()> {
    let mut h = mode.hasher();
    blake3_update(&mut h, data, threads)?;
    h.finalize_xof().fill(out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_blake3_matches_the_sequential_hasher_in_every_mode() {
        let key = [7u8; 32];
        let modes = [Blake3Mode::Hash, Blake3Mode::Keyed(&key), Blake3Mode::DeriveKey("animica split test")];
        let data: Vec<u8> = (0..(5 << 20) + 4321).map(|i: u32| (i % 251) as u8).collect();
        // Around the threshold, uneven splits, and a large odd size.
        for len in [BLAKE3_PARALLEL_MIN, BLAKE3_PARALLEL_MIN + 1, 3 << 20, (1 << 20) + 1025, data.len()] {
            for mode in modes {
                let mut want = [0u8; 80];
                let mut h = mode.hasher();
                h.update(&data[..len]);
                h.finalize_xof().fill(&mut want);
                for threads in [Threads::SERIAL, Threads::from_option(Some(2)).unwrap(), Threads::Auto] {
                    let mut got = [0u8; 80];
                    blake3_xof(&data[..len], mode, threads, &mut got).unwrap();
                    assert_eq!(got, want, "len {len} {mode:?} {threads:?}");
                }
            }
        }
    }
}
