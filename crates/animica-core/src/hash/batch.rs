//! Many independent messages hashed at once.

use rayon::prelude::*;

use super::{Algorithm, Digest, sha256};
use crate::error::Result;
use crate::parallel::{self, Threads};

/// Work below this many input bytes stays on the calling thread.
const PARALLEL_MIN_BYTES: usize = 64 * 1024;
/// Messages handed to a worker at a time: enough to amortise scheduling.
const CHUNK: usize = 512;

fn one(algorithm: Algorithm, item: &[u8]) -> Digest {
    match algorithm {
        // Batch items are usually small; the serial path avoids nested rayon.
        Algorithm::Blake3 => *blake3::hash(item).as_bytes(),
        Algorithm::Sha256 => sha256(item),
        Algorithm::Keccak256 => super::keccak256(item),
    }
}

fn serial(algorithm: Algorithm, items: &[&[u8]], out: &mut [Digest]) {
    for (o, item) in out.iter_mut().zip(items) {
        *o = one(algorithm, item);
    }
}

/// Digest of every item, in input order, computed in parallel.
pub fn many(algorithm: Algorithm, items: &[&[u8]], threads: Threads) -> Result<Vec<Digest>> {
    let mut out = vec![[0u8; 32]; items.len()];
    let total: usize = items.iter().map(|i| i.len()).sum();
    if total < PARALLEL_MIN_BYTES {
        serial(algorithm, items, &mut out);
        return Ok(out);
    }
    parallel::run(threads, |par| {
        if par {
            out.par_chunks_mut(CHUNK).zip(items.par_chunks(CHUNK)).for_each(|(o, i)| serial(algorithm, i, o));
        } else {
            serial(algorithm, items, &mut out);
        }
    })?;
    Ok(out)
}
