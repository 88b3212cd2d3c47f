//! Systematic Reed-Solomon erasure coding over GF(2^16).
//!
//! `k` data shards of equal, non-empty length produce `m` parity shards of
//! the same length; any `k` of the `k + m` shards restore the rest. The
//! heavy lifting is `reed-solomon-simd` (Leopard-RS, O(n log n), AVX2 /
//! SSSE3 / NEON chosen at run time). Large shards are cut into column
//! stripes on 64-byte boundaries and coded in parallel; because the code
//! is applied per 16-bit symbol position, the output is byte-identical to
//! the serial encoder. An odd shard length's last byte is coded with a
//! GF(2^8) Cauchy code (see `gf256`), so any length works.

#[cfg(all(target_arch = "x86_64", feature = "simd"))]
mod avx512;
mod codec;
mod decoder;
mod gf256;
mod locator;

use self::codec::EngineKind;
use crate::error::{Error, Result};
use crate::kernels::Backend;
use crate::parallel::Threads;

/// The Reed-Solomon engine `backend` uses, for [`crate::selection`].
pub(crate) fn engine_name(backend: Backend) -> &'static str {
    codec::EngineKind::of(backend).name()
}

/// The count rule of `reed-solomon-simd`, quoted in errors.
pub const COUNT_LIMIT: &str = "need data >= 1 and parity >= 1; up to 32768 of each, and beyond that \
     (data + parity <= 65536) only when the smaller count is at most 2^16 minus the larger \
     rounded up to a power of two";
const ODD_LIMIT: &str = "an odd shard length needs data + parity <= 256 (use an even length for more shards)";

/// Whether `data` + `parity` shards of `shard_len` bytes can be coded.
pub fn check_counts(data: usize, parity: usize, shard_len: usize) -> Result<()> {
    if data == 0 || parity == 0 || !reed_solomon_simd::ReedSolomonEncoder::supports(data, parity) {
        return Err(Error::ShardCount { data, parity, limit: COUNT_LIMIT });
    }
    if shard_len % 2 == 1 && data + parity > gf256::MAX_SHARDS {
        return Err(Error::ShardCount { data, parity, limit: ODD_LIMIT });
    }
    Ok(())
}

/// The common length of the given shards (`None` entries skipped).
fn common_len<'a>(shards: impl Iterator<Item = (usize, Option<&'a [u8]>)>) -> Result<Option<usize>> {
    let mut first: Option<(usize, usize)> = None;
    for (index, s) in shards {
        let Some(s) = s else { continue };
        if s.is_empty() {
            return Err(Error::EmptyShard { index });
        }
        match first {
            None => first = Some((index, s.len())),
            Some((f, len)) if s.len() != len => {
                return Err(Error::ShardLength { index, got: s.len(), expected: len, first: f });
            }
            Some(_) => {}
        }
    }
    Ok(first.map(|(_, len)| len))
}

/// Validate data shards and return their common length.
fn data_len(data: &[&[u8]]) -> Result<usize> {
    common_len(data.iter().map(|s| Some(*s)).enumerate())?.ok_or(Error::ShardCount {
        data: 0,
        parity: 0,
        limit: COUNT_LIMIT,
    })
}

/// Encode `data` into the `parity` buffers (each as long as a data shard).
pub fn encode_into(data: &[&[u8]], parity: &mut [&mut [u8]], threads: Threads) -> Result<()> {
    let len = data_len(data)?;
    check_counts(data.len(), parity.len(), len)?;
    if let Some((index, p)) = parity.iter().enumerate().find(|(_, p)| p.len() != len) {
        return Err(Error::ShardLength { index: data.len() + index, got: p.len(), expected: len, first: 0 });
    }
    codec::encode(EngineKind::of(Backend::get()), data, parity, len, threads)
}

/// Encode `data` into `parity_count` new parity shards.
pub fn encode(data: &[&[u8]], parity_count: usize, threads: Threads) -> Result<Vec<Vec<u8>>> {
    encode_on(Backend::get(), data, parity_count, threads)
}

/// [`encode`] on the engine of `backend` (one this CPU runs: tests, benches).
pub fn encode_on(backend: Backend, data: &[&[u8]], parity_count: usize, threads: Threads) -> Result<Vec<Vec<u8>>> {
    encode_in(EngineKind::of(backend), data, parity_count, threads)
}

/// The Reed-Solomon engines this CPU runs, best first, by the names
/// `build_info()` gives them (benches: each engine by itself).
pub fn engines() -> Vec<&'static str> {
    EngineKind::available().into_iter().map(EngineKind::name).collect()
}

/// The engine called `name`, or an error naming the ones this CPU runs.
fn engine(name: &str) -> Result<EngineKind> {
    EngineKind::runnable(name).ok_or_else(|| Error::Codec {
        reason: format!("no Reed-Solomon engine {name:?} runs here; these do: {}", engines().join(", ")),
    })
}

/// [`encode`] on the engine called `name` (one of [`engines`]).
pub fn encode_with(name: &str, data: &[&[u8]], parity_count: usize, threads: Threads) -> Result<Vec<Vec<u8>>> {
    encode_in(engine(name)?, data, parity_count, threads)
}

fn encode_in(kind: EngineKind, data: &[&[u8]], parity_count: usize, threads: Threads) -> Result<Vec<Vec<u8>>> {
    let len = data_len(data)?;
    check_counts(data.len(), parity_count, len)?;
    let mut out = vec![vec![0u8; len]; parity_count];
    let mut refs: Vec<&mut [u8]> = out.iter_mut().map(Vec::as_mut_slice).collect();
    codec::encode(kind, data, &mut refs, len, threads)?;
    Ok(out)
}

/// Validated shape of a shard list: `(missing indices, shard length)`.
pub fn plan(data_count: usize, shards: &[Option<&[u8]>]) -> Result<(Vec<usize>, usize)> {
    let parity = shards.len().saturating_sub(data_count);
    if data_count == 0 || data_count >= shards.len() {
        return Err(Error::ShardCount { data: data_count, parity, limit: COUNT_LIMIT });
    }
    let missing: Vec<usize> = (0..shards.len()).filter(|&i| shards[i].is_none()).collect();
    if missing.len() > parity {
        return Err(Error::TooManyErasures { missing: missing.len(), parity });
    }
    let len = common_len(shards.iter().copied().enumerate())?
        .ok_or(Error::TooManyErasures { missing: missing.len(), parity })?;
    check_counts(data_count, parity, len)?;
    Ok((missing, len))
}

/// Restore the missing shards of `shards` (`data_count` data shards then
/// parity; `None` for lost ones) into `out`, one buffer per missing index
/// in ascending order, each of the shard length.
pub fn reconstruct_into(
    data_count: usize,
    shards: &[Option<&[u8]>],
    out: &mut [&mut [u8]],
    threads: Threads,
) -> Result<()> {
    let (missing, len) = plan(data_count, shards)?;
    if out.len() != missing.len() || out.iter().any(|o| o.len() != len) {
        return Err(Error::CountMismatch {
            left_name: "output buffers",
            left: out.len(),
            right_name: "missing shards",
            right: missing.len(),
        });
    }
    codec::reconstruct(EngineKind::of(Backend::get()), data_count, shards, &missing, out, len, threads)
}

/// Restore the missing shards; returns `(index, shard)` for each.
pub fn reconstruct(data_count: usize, shards: &[Option<&[u8]>], threads: Threads) -> Result<Vec<(usize, Vec<u8>)>> {
    reconstruct_on(Backend::get(), data_count, shards, threads)
}

/// [`reconstruct`] on the engine of `backend` (one this CPU runs: tests,
/// benches).
pub fn reconstruct_on(
    backend: Backend,
    data_count: usize,
    shards: &[Option<&[u8]>],
    threads: Threads,
) -> Result<Vec<(usize, Vec<u8>)>> {
    reconstruct_in(EngineKind::of(backend), data_count, shards, threads)
}

/// [`reconstruct`] on the engine called `name` (one of [`engines`]).
pub fn reconstruct_with(
    name: &str,
    data_count: usize,
    shards: &[Option<&[u8]>],
    threads: Threads,
) -> Result<Vec<(usize, Vec<u8>)>> {
    reconstruct_in(engine(name)?, data_count, shards, threads)
}

fn reconstruct_in(
    kind: EngineKind,
    data_count: usize,
    shards: &[Option<&[u8]>],
    threads: Threads,
) -> Result<Vec<(usize, Vec<u8>)>> {
    let (missing, len) = plan(data_count, shards)?;
    let mut bufs = vec![vec![0u8; len]; missing.len()];
    let mut refs: Vec<&mut [u8]> = bufs.iter_mut().map(Vec::as_mut_slice).collect();
    codec::reconstruct(kind, data_count, shards, &missing, &mut refs, len, threads)?;
    Ok(missing.into_iter().zip(bufs).collect())
}

/// Whether the parity shards of `shards` (all present) match the data.
pub fn verify(data_count: usize, shards: &[&[u8]], threads: Threads) -> Result<bool> {
    let opt: Vec<Option<&[u8]>> = shards.iter().map(|s| Some(*s)).collect();
    let (_, len) = plan(data_count, &opt)?;
    let (data, parity) = shards.split_at(data_count);
    let mut fresh = vec![vec![0u8; len]; parity.len()];
    let mut refs: Vec<&mut [u8]> = fresh.iter_mut().map(Vec::as_mut_slice).collect();
    codec::encode(EngineKind::of(Backend::get()), data, &mut refs, len, threads)?;
    Ok(fresh.iter().zip(parity).all(|(a, b)| a.as_slice() == *b))
}
