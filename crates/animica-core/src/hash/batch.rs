//! Many independent messages hashed at once.

use super::sha256_lanes::sha256_batch;
use super::{Algorithm, Digest, DigestSlot};
use crate::error::Result;
use crate::parallel::{self, Threads};

/// Work below this many input bytes (plus 64 an item) stays on the
/// calling thread. On a virtual machine a pool's sleeping worker takes
/// 20-100 us to wake, so parallel work must save more than that. Measured
/// (Rust, SHA-256 on 16 AVX-512 lanes, 0.5 ms idle between calls, medians
/// of 200 alternating runs, AMD Zen 5 with 2 vCPUs), 2 threads against 1:
/// 64-byte items 1.29 at 256 KiB of work, 1.05 at 512 KiB, 0.73 at 1 MiB;
/// 1,024-byte items 0.76 at 1,088 KiB.
const PARALLEL_MIN_BYTES: usize = 768 * 1024;
/// Messages handed to a worker at a time: enough to amortise scheduling.
const CHUNK: usize = 512;

fn serial<T: AsRef<[u8]>, S: DigestSlot>(algorithm: Algorithm, items: &[T], out: &mut [S]) {
    match algorithm {
        Algorithm::Sha256 => sha256_batch(|i| [items[i].as_ref(), &[], &[]], out),
        // Batch items are usually small; the serial path avoids nested rayon.
        Algorithm::Blake3 => {
            for (o, item) in out.iter_mut().zip(items) {
                *o.slot() = *blake3::hash(item.as_ref()).as_bytes();
            }
        }
        Algorithm::Keccak256 => {
            for (o, item) in out.iter_mut().zip(items) {
                *o.slot() = super::keccak256(item.as_ref());
            }
        }
    }
}

/// Writes the digest of `items[i]` to `out[i]`, computing in parallel.
/// The two slices must have the same length.
pub fn many_into<T, S>(algorithm: Algorithm, items: &[T], out: &mut [S], threads: Threads) -> Result<()>
where
    T: AsRef<[u8]> + Sync,
    S: DigestSlot,
{
    if items.len() != out.len() {
        return Err(crate::Error::CountMismatch {
            left_name: "items",
            left: items.len(),
            right_name: "outputs",
            right: out.len(),
        });
    }
    if parallel::work(items, PARALLEL_MIN_BYTES) < PARALLEL_MIN_BYTES {
        serial(algorithm, items, out);
        return Ok(());
    }
    parallel::share_parts(threads, out, CHUNK, |i, o| serial(algorithm, &items[i * CHUNK..][..o.len()], o))
}

/// Digest of every item, in input order, computed in parallel.
pub fn many<T: AsRef<[u8]> + Sync>(algorithm: Algorithm, items: &[T], threads: Threads) -> Result<Vec<Digest>> {
    let mut out = vec![[0u8; 32]; items.len()];
    many_into(algorithm, items, &mut out, threads)?;
    Ok(out)
}
