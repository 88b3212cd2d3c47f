//! The native core of `animica_native`: fast hashing, a Namespaced Merkle
//! Tree and Reed-Solomon erasure coding, with no Python in it.
//!
//! - [`hash`]: BLAKE3 (keyed, derive-key, XOF), SHA-256 and Keccak-256,
//!   one-shot, streaming, batched and by file.
//! - [`nmt`]: Celestia's Namespaced Merkle Tree over SHA-256: roots, range,
//!   namespace and absence proofs, verification, a versioned wire format.
//! - [`rs`]: systematic Reed-Solomon over GF(2^16) (`reed-solomon-simd`)
//!   for shards of any length, encoded in parallel column stripes.
//! - [`parallel`]: the fork-safe, per-process thread pools all of it uses.
//! - [`kernels`]: the CPU features the kernels may use in this process;
//!   [`selection`]: which implementation each operation uses.
//!
//! Every function validates its input and returns [`Error`]; none panics on
//! user data. Results do not depend on the number of threads.

pub mod error;
pub mod hash;
pub mod kernels;
pub mod nmt;
pub mod parallel;
pub mod rs;
pub mod selection;
mod short_copy;

pub use error::{Error, ErrorKind, Result};
pub use parallel::Threads;
