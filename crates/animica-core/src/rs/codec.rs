//! Column-striped, parallel use of `reed-solomon-simd`.
//!
//! The codec works on 64-byte chunks of 32 16-bit symbols, and each symbol
//! position is coded independently. Cutting every shard at the same 64-byte
//! boundaries therefore gives independent sub-problems whose results,
//! placed side by side, are exactly the serial result.

use std::cell::RefCell;
use std::ops::Range;

use reed_solomon_simd::engine::{DefaultEngine, Engine};
use reed_solomon_simd::rate::{DefaultRateDecoder, DefaultRateEncoder, RateDecoder, RateEncoder};

#[cfg(all(target_arch = "x86_64", feature = "simd"))]
use super::avx512::Avx512;
use super::gf256;
use crate::error::{Error, Result};
use crate::parallel::{self, Threads};

/// Below this much data (k × shard bytes) one thread does all the work.
const PARALLEL_MIN_BYTES: usize = 256 * 1024;
/// No stripe is made narrower than this many bytes.
const STRIPE_MIN: usize = 4 * 1024;
/// A thread keeps its codec (and its work buffer) between calls only if the
/// buffer is at most this large, so one huge call does not pin memory.
const CACHE_MAX_BYTES: usize = 16 << 20;

thread_local! {
    static ENCODER: RefCell<Option<Encoder>> = const { RefCell::new(None) };
    static DECODER: RefCell<Option<Decoder>> = const { RefCell::new(None) };
}

/// A `reed-solomon-simd` encoder on the fastest engine this CPU runs.
enum Encoder {
    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    Avx512(DefaultRateEncoder<Avx512>),
    Default(DefaultRateEncoder<DefaultEngine>),
}

/// A decoder, likewise.
enum Decoder {
    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    Avx512(DefaultRateDecoder<Avx512>),
    Default(DefaultRateDecoder<DefaultEngine>),
}

impl Encoder {
    fn new(k: usize, m: usize, len: usize) -> Result<Self> {
        #[cfg(all(target_arch = "x86_64", feature = "simd"))]
        if let Some(e) = Avx512::new() {
            return Ok(Encoder::Avx512(DefaultRateEncoder::new(k, m, len, e, None).map_err(codec_err)?));
        }
        Ok(Encoder::Default(DefaultRateEncoder::new(k, m, len, DefaultEngine::new(), None).map_err(codec_err)?))
    }
}

impl Decoder {
    fn new(k: usize, m: usize, len: usize) -> Result<Self> {
        #[cfg(all(target_arch = "x86_64", feature = "simd"))]
        if let Some(e) = Avx512::new() {
            return Ok(Decoder::Avx512(DefaultRateDecoder::new(k, m, len, e, None).map_err(codec_err)?));
        }
        Ok(Decoder::Default(DefaultRateDecoder::new(k, m, len, DefaultEngine::new(), None).map_err(codec_err)?))
    }
}

fn codec_err(e: reed_solomon_simd::Error) -> Error {
    Error::Codec { reason: e.to_string() }
}

/// Column ranges covering `0..even`, cut on 64-byte boundaries.
fn stripes(even: usize, data_count: usize, threads: usize) -> Vec<Range<usize>> {
    let by_width = even / STRIPE_MIN;
    let n = if data_count * even < PARALLEL_MIN_BYTES { 1 } else { threads.min(by_width).max(1) };
    let width = even.div_ceil(n).next_multiple_of(64);
    (0..even).step_by(width).map(|s| s..(s + width).min(even)).collect()
}

/// Run `f(stripe, outputs-for-that-stripe)` for every stripe, in parallel
/// when the pool has more than one thread.
fn striped<F>(even: usize, k: usize, outs: &mut [&mut [u8]], threads: Threads, f: F) -> Result<()>
where
    F: Fn(Range<usize>, &mut [&mut [u8]]) -> Result<()> + Sync,
{
    let n = if k * even < PARALLEL_MIN_BYTES { 1 } else { parallel::thread_count(threads)? };
    let ranges = stripes(even, k, n);
    if ranges.len() == 1 {
        return f(0..even, &mut outs.iter_mut().map(|o| &mut o[..even]).collect::<Vec<_>>());
    }
    let width = ranges[0].len();
    let mut per: Vec<Vec<&mut [u8]>> = ranges.iter().map(|_| Vec::with_capacity(outs.len())).collect();
    for o in outs.iter_mut() {
        for (s, chunk) in o[..even].chunks_mut(width).enumerate() {
            per[s].push(chunk);
        }
    }
    let Some(pool) = parallel::pool(threads)? else {
        return ranges.into_iter().zip(per).try_for_each(|(r, mut o)| f(r, &mut o));
    };
    // The calling thread codes the first stripe itself while the pool
    // codes the rest: for sub-millisecond calls, handing everything to the
    // pool and sleeping until it finishes costs as much as the work.
    let mut results: Vec<Result<()>> = ranges.iter().map(|_| Ok(())).collect();
    pool.in_place_scope(|scope| {
        let mut jobs = ranges.into_iter().zip(per).zip(results.iter_mut());
        let first = jobs.next();
        for ((r, mut o), res) in jobs {
            let f = &f;
            scope.spawn(move |_| *res = f(r, &mut o));
        }
        if let Some(((r, mut o), res)) = first {
            *res = f(r, &mut o);
        }
    });
    results.into_iter().collect()
}

fn encode_with<E: Engine>(
    enc: &mut DefaultRateEncoder<E>,
    data: &[&[u8]],
    r: Range<usize>,
    outs: &mut [&mut [u8]],
) -> Result<()> {
    enc.reset(data.len(), outs.len(), r.len()).map_err(codec_err)?;
    for d in data {
        enc.add_original_shard(&d[r.clone()]).map_err(codec_err)?;
    }
    let result = enc.encode().map_err(codec_err)?;
    for (o, rec) in outs.iter_mut().zip(result.recovery_iter()) {
        o.copy_from_slice(rec);
    }
    Ok(())
}

fn encode_stripe(data: &[&[u8]], r: Range<usize>, outs: &mut [&mut [u8]]) -> Result<()> {
    let (k, m, len) = (data.len(), outs.len(), r.len());
    ENCODER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let enc = match slot.as_mut() {
            Some(e) => e,
            None => slot.insert(Encoder::new(k, m, len)?),
        };
        match enc {
            #[cfg(all(target_arch = "x86_64", feature = "simd"))]
            Encoder::Avx512(e) => encode_with(e, data, r, outs)?,
            Encoder::Default(e) => encode_with(e, data, r, outs)?,
        }
        if (k + m) * len > CACHE_MAX_BYTES {
            *slot = None;
        }
        Ok(())
    })
}

/// Parity of `data` into `parity` (lengths already validated).
pub(super) fn encode(data: &[&[u8]], parity: &mut [&mut [u8]], len: usize, threads: Threads) -> Result<()> {
    let even = len & !1;
    if even > 0 {
        striped(even, data.len(), parity, threads, |r, outs| encode_stripe(data, r, outs))?;
    }
    if len % 2 == 1 {
        let column: Vec<u8> = data.iter().map(|d| d[len - 1]).collect();
        let mut out = vec![0u8; parity.len()];
        gf256::encode(&column, &mut out);
        for (p, b) in parity.iter_mut().zip(out) {
            p[len - 1] = b;
        }
    }
    Ok(())
}

fn decode_with<E: Engine>(
    dec: &mut DefaultRateDecoder<E>,
    k: usize,
    shards: &[Option<&[u8]>],
    lost: &[usize],
    r: Range<usize>,
    outs: &mut [&mut [u8]],
) -> Result<()> {
    dec.reset(k, shards.len() - k, r.len()).map_err(codec_err)?;
    for (i, s) in shards.iter().enumerate() {
        if let Some(s) = s {
            let piece = &s[r.clone()];
            if i < k {
                dec.add_original_shard(i, piece).map_err(codec_err)?;
            } else {
                dec.add_recovery_shard(i - k, piece).map_err(codec_err)?;
            }
        }
    }
    let result = dec.decode().map_err(codec_err)?;
    for (o, &i) in outs.iter_mut().zip(lost) {
        let restored = result
            .restored_original(i)
            .ok_or_else(|| Error::Codec { reason: format!("data shard {i} was not restored") })?;
        o.copy_from_slice(restored);
    }
    Ok(())
}

fn decode_stripe(
    k: usize,
    shards: &[Option<&[u8]>],
    lost: &[usize],
    r: Range<usize>,
    outs: &mut [&mut [u8]],
) -> Result<()> {
    let (m, len) = (shards.len() - k, r.len());
    DECODER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let dec = match slot.as_mut() {
            Some(d) => d,
            None => slot.insert(Decoder::new(k, m, len)?),
        };
        match dec {
            #[cfg(all(target_arch = "x86_64", feature = "simd"))]
            Decoder::Avx512(d) => decode_with(d, k, shards, lost, r, outs)?,
            Decoder::Default(d) => decode_with(d, k, shards, lost, r, outs)?,
        }
        if shards.len() * len > CACHE_MAX_BYTES {
            *slot = None;
        }
        Ok(())
    })
}

/// Restore `missing` (ascending) into `out` (validated by the caller).
pub(super) fn reconstruct(
    k: usize,
    shards: &[Option<&[u8]>],
    missing: &[usize],
    out: &mut [&mut [u8]],
    len: usize,
    threads: Threads,
) -> Result<()> {
    let even = len & !1;
    let lost_data = missing.iter().take_while(|&&i| i < k).count();
    let (data_out, parity_out) = out.split_at_mut(lost_data);
    if lost_data > 0 && even > 0 {
        let lost = &missing[..lost_data];
        striped(even, k, data_out, threads, |r, outs| decode_stripe(k, shards, lost, r, outs))?;
    }
    if len % 2 == 1 {
        let mut column: Vec<Option<u8>> = shards.iter().map(|s| s.map(|s| s[len - 1])).collect();
        gf256::reconstruct(k, &mut column);
        for (o, &i) in data_out.iter_mut().chain(parity_out.iter_mut()).zip(missing) {
            o[len - 1] = column[i].unwrap_or(0);
        }
    }
    if parity_out.is_empty() {
        return Ok(());
    }
    // Lost parity: re-encode from the now complete data.
    let mut restored = data_out.iter();
    let data: Vec<&[u8]> =
        shards[..k].iter().map(|s| s.unwrap_or_else(|| restored.next().map_or(&[][..], |o| &o[..]))).collect();
    let m = shards.len() - k;
    let mut scratch = vec![vec![0u8; len]; m - parity_out.len()];
    let mut scratch_it = scratch.iter_mut();
    let mut lost_it = parity_out.iter_mut();
    let mut all: Vec<&mut [u8]> = (k..shards.len())
        .map(|i| match shards[i] {
            Some(_) => scratch_it.next().map(|v| v.as_mut_slice()),
            None => lost_it.next().map(|o| &mut o[..]),
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| Error::Codec { reason: "parity bookkeeping mismatch".into() })?;
    encode(&data, &mut all, len, threads)
}
