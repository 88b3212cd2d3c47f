//! Column-striped, parallel use of `reed-solomon-simd`.
//!
//! The codec works on 64-byte chunks of 32 16-bit symbols, and each symbol
//! position is coded independently. Cutting every shard at the same 64-byte
//! boundaries therefore gives independent sub-problems whose results,
//! placed side by side, are exactly the serial result.

use std::cell::RefCell;
use std::ops::Range;

use reed_solomon_simd::engine::{self, Engine};
use reed_solomon_simd::rate::{DefaultRateEncoder, RateEncoder};

#[cfg(all(target_arch = "x86_64", feature = "simd"))]
use super::avx512::{Avx512, Gfni, Nibbles};
use super::decoder;
use super::gf256;
use super::locator::Remembering;
use crate::error::{Error, Result};
use crate::kernels::{Backend, Feature};
use crate::parallel::{self, Threads};

/// Below this much data (k × shard bytes) one thread does all the work of
/// an encode, and of a reconstruct (more work a byte). On a virtual
/// machine a pool's sleeping worker takes 20-100 us to wake, so parallel
/// work must save more than that. Measured (Rust, 32 + 32 shards, 2
/// threads against 1, 0.5 ms idle between calls, medians of 200
/// alternating runs, AMD Zen 5 with 2 vCPUs): encode 1.40 at 16 KiB
/// shards (512 KiB), 1.08 at 24 KiB, 0.96 at 32 KiB on GFNI, 0.84 at 24
/// KiB on AVX2; reconstruct 1.16 at 16 KiB, 0.91 at 24 KiB on GFNI, 0.84
/// at 16 KiB on AVX2.
const ENCODE_PARALLEL_MIN_BYTES: usize = 1 << 20;
const DECODE_PARALLEL_MIN_BYTES: usize = 768 * 1024;
/// Stripes per thread when coding in parallel: a helper that wakes late
/// leaves the calling thread more of them instead of the last half.
/// Measured (Rust, 32 + 32 x 64 KiB, 2 threads, 0.38 ms idle between
/// calls, medians of 150 alternating runs, AMD Zen 5): encode 203 -> 173
/// us (GFNI) and 257 -> 255 us (AVX2), reconstruct 458 -> 409 and 630 ->
/// 615 us, against one stripe per thread; the best runs were unchanged.
const STRIPES_PER_THREAD: usize = 4;
/// No stripe is made narrower than this many bytes.
const STRIPE_MIN: usize = 4 * 1024;
/// A thread keeps its codec (and its work buffer) between calls only if the
/// buffer is at most this large, so one huge call does not pin memory.
const CACHE_MAX_BYTES: usize = 16 << 20;

thread_local! {
    static ENCODER: RefCell<Option<Encoder>> = const { RefCell::new(None) };
    static DECODER: RefCell<Option<Decoder>> = const { RefCell::new(None) };
}

/// A `reed-solomon-simd` encoder on one engine, built for a backend.
enum Encoder {
    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    Avx512(DefaultRateEncoder<Avx512<Nibbles>>),
    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    Avx512Gfni(DefaultRateEncoder<Avx512<Gfni>>),
    #[cfg(target_arch = "x86_64")]
    Avx2(DefaultRateEncoder<Remembering<engine::Avx2>>),
    #[cfg(target_arch = "aarch64")]
    Neon(DefaultRateEncoder<Remembering<engine::Neon>>),
    Portable(DefaultRateEncoder<Remembering<engine::NoSimd>>),
}

/// A decoder ([`decoder::Decoder`]) on one engine, likewise.
enum Decoder {
    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    Avx512(decoder::Decoder<Avx512<Nibbles>>),
    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    Avx512Gfni(decoder::Decoder<Avx512<Gfni>>),
    #[cfg(target_arch = "x86_64")]
    Avx2(decoder::Decoder<Remembering<engine::Avx2>>),
    #[cfg(target_arch = "aarch64")]
    Neon(decoder::Decoder<Remembering<engine::Neon>>),
    Portable(decoder::Decoder<Remembering<engine::NoSimd>>),
}

/// The engine each backend uses: ours on AVX-512 (multiplying on GFNI where
/// the CPU has it), else reed-solomon-simd's for the backend's instructions
/// (its NoSimd engine on `Portable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EngineKind {
    Avx512Gfni,
    Avx512,
    Avx2,
    Neon,
    Portable,
}

impl EngineKind {
    /// Every engine, best first.
    const ALL: [EngineKind; 5] =
        [EngineKind::Avx512Gfni, EngineKind::Avx512, EngineKind::Avx2, EngineKind::Neon, EngineKind::Portable];

    /// Every engine this CPU runs, best first.
    pub(crate) fn available() -> Vec<EngineKind> {
        Self::ALL.into_iter().filter(|k| k.runs_here()).collect()
    }

    /// Whether this build and this CPU run the engine.
    fn runs_here(self) -> bool {
        let ours = cfg!(all(target_arch = "x86_64", feature = "simd")) && Backend::Avx512.has(Feature::Avx512);
        match self {
            EngineKind::Avx512Gfni => ours && Backend::Avx512.has(Feature::Gfni),
            EngineKind::Avx512 => ours,
            EngineKind::Avx2 => Backend::Avx2.has(Feature::Avx2),
            EngineKind::Neon => Backend::Neon.has(Feature::Neon),
            EngineKind::Portable => true,
        }
    }

    /// The engine this CPU runs called `name` (as `name()` gives it).
    pub(crate) fn runnable(name: &str) -> Option<EngineKind> {
        Self::available().into_iter().find(|k| k.name() == name)
    }

    pub(crate) fn of(backend: Backend) -> EngineKind {
        let ours = cfg!(all(target_arch = "x86_64", feature = "simd")) && backend.has(Feature::Avx512);
        if ours && backend.has(Feature::Gfni) {
            EngineKind::Avx512Gfni
        } else if ours {
            EngineKind::Avx512
        } else if backend.has(Feature::Avx2) {
            EngineKind::Avx2
        } else if backend.has(Feature::Neon) {
            EngineKind::Neon
        } else {
            EngineKind::Portable
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            EngineKind::Avx512Gfni => "avx512 gfni",
            EngineKind::Avx512 => "avx512",
            EngineKind::Avx2 => "reed-solomon-simd AVX2 engine",
            EngineKind::Neon => "reed-solomon-simd NEON engine",
            EngineKind::Portable => "reed-solomon-simd NoSimd engine",
        }
    }
}

/// `$wrap` (`Encoder` or `Decoder`) on the engine `$kind` names: `$make`
/// with the engine bound to `$e`.
macro_rules! build {
    ($wrap:ident, $kind:expr, |$e:ident| $make:expr) => {
        match $kind {
            #[cfg(all(target_arch = "x86_64", feature = "simd"))]
            EngineKind::Avx512Gfni => {
                let $e = Avx512::new().expect("EngineKind::of checked AVX-512F, BW and GFNI");
                $wrap::Avx512Gfni($make)
            }
            #[cfg(all(target_arch = "x86_64", feature = "simd"))]
            EngineKind::Avx512 => {
                let $e = Avx512::new().expect("EngineKind::of checked AVX-512F and BW");
                $wrap::Avx512($make)
            }
            // `EngineKind::of` picks AVX2 only where the CPU has it.
            #[cfg(target_arch = "x86_64")]
            EngineKind::Avx2 => {
                let $e = Remembering(engine::Avx2::new());
                $wrap::Avx2($make)
            }
            #[cfg(target_arch = "aarch64")]
            EngineKind::Neon => {
                let $e = Remembering(engine::Neon::new());
                $wrap::Neon($make)
            }
            _ => {
                let $e = Remembering(engine::NoSimd::new());
                $wrap::Portable($make)
            }
        }
    };
}

impl Encoder {
    fn new(kind: EngineKind, k: usize, m: usize, len: usize) -> Result<Self> {
        Ok(build!(Encoder, kind, |e| DefaultRateEncoder::new(k, m, len, e, None).map_err(codec_err)?))
    }

    fn kind(&self) -> EngineKind {
        match self {
            #[cfg(all(target_arch = "x86_64", feature = "simd"))]
            Encoder::Avx512Gfni(_) => EngineKind::Avx512Gfni,
            #[cfg(all(target_arch = "x86_64", feature = "simd"))]
            Encoder::Avx512(_) => EngineKind::Avx512,
            #[cfg(target_arch = "x86_64")]
            Encoder::Avx2(_) => EngineKind::Avx2,
            #[cfg(target_arch = "aarch64")]
            Encoder::Neon(_) => EngineKind::Neon,
            Encoder::Portable(_) => EngineKind::Portable,
        }
    }
}

impl Decoder {
    fn new(kind: EngineKind) -> Self {
        build!(Decoder, kind, |e| decoder::Decoder::new(e))
    }

    fn kind(&self) -> EngineKind {
        match self {
            #[cfg(all(target_arch = "x86_64", feature = "simd"))]
            Decoder::Avx512Gfni(_) => EngineKind::Avx512Gfni,
            #[cfg(all(target_arch = "x86_64", feature = "simd"))]
            Decoder::Avx512(_) => EngineKind::Avx512,
            #[cfg(target_arch = "x86_64")]
            Decoder::Avx2(_) => EngineKind::Avx2,
            #[cfg(target_arch = "aarch64")]
            Decoder::Neon(_) => EngineKind::Neon,
            Decoder::Portable(_) => EngineKind::Portable,
        }
    }
}

fn codec_err(e: reed_solomon_simd::Error) -> Error {
    Error::Codec { reason: e.to_string() }
}

/// At most `n` column ranges covering `0..even`, cut on 64-byte boundaries.
fn stripes(even: usize, n: usize) -> Vec<Range<usize>> {
    let n = n.min(even / STRIPE_MIN).max(1);
    let width = even.div_ceil(n).next_multiple_of(64);
    (0..even).step_by(width).map(|s| s..(s + width).min(even)).collect()
}

/// Run `f(stripe, outputs-for-that-stripe)` for every stripe, in parallel
/// when the pool has more than one thread: the calling thread codes
/// stripes too, and does not wait for a worker still waking up
/// ([`parallel::share_parts`]).
/// One thread does it all when the `k` shards hold less than `min_bytes`.
fn striped<F>(even: usize, k: usize, min_bytes: usize, outs: &mut [&mut [u8]], threads: Threads, f: F) -> Result<()>
where
    F: Fn(Range<usize>, &mut [&mut [u8]]) -> Result<()> + Sync,
{
    let threads_n = if k * even < min_bytes { 1 } else { parallel::thread_count(threads)? };
    let n = if threads_n > 1 { STRIPES_PER_THREAD * threads_n } else { 1 };
    let ranges = stripes(even, n);
    let shards = k + outs.len();
    let f = |r: Range<usize>, outs: &mut [&mut [u8]]| in_blocks(r, shards, outs, &f);
    if ranges.len() == 1 {
        return f(0..even, &mut outs.iter_mut().map(|o| &mut o[..even]).collect::<Vec<_>>());
    }
    let width = ranges[0].len();
    let mut per: Vec<(Vec<&mut [u8]>, Result<()>)> =
        ranges.iter().map(|_| (Vec::with_capacity(outs.len()), Ok(()))).collect();
    for o in outs.iter_mut() {
        for (s, chunk) in o[..even].chunks_mut(width).enumerate() {
            per[s].0.push(chunk);
        }
    }
    parallel::share_parts(threads, &mut per, 1, |s, stripe| {
        let (o, res) = &mut stripe[0];
        *res = f(ranges[s].clone(), o);
    })?;
    per.into_iter().try_for_each(|(_, res)| res)
}

/// `f` over `r` cut into blocks narrow enough that the codec's work buffer
/// (about `shards` rows, rounded up to a power of two, of one block's
/// width) stays in cache: the FFT passes then re-read it from there
/// instead of from memory.
fn in_blocks<F>(r: Range<usize>, shards: usize, outs: &mut [&mut [u8]], f: &F) -> Result<()>
where
    F: Fn(Range<usize>, &mut [&mut [u8]]) -> Result<()>,
{
    let rows = shards.next_power_of_two();
    // Shards read from memory want wide columns; ones likely in cache want
    // a work buffer that fits in L2.
    let budget = if shards * r.len() > LARGE_BYTES { BLOCK_BYTES_LARGE } else { BLOCK_BYTES };
    let width = (budget / rows).max(BLOCK_MIN).next_multiple_of(64);
    if r.len() <= width {
        return f(r, outs);
    }
    let n = r.len().div_ceil(width);
    let width = r.len().div_ceil(n).next_multiple_of(64);
    let mut start = r.start;
    while start < r.end {
        let block = start..(start + width).min(r.end);
        let (a, b) = (block.start - r.start, block.end - r.start);
        let mut o: Vec<&mut [u8]> = outs.iter_mut().map(|o| &mut o[a..b]).collect();
        f(block.clone(), &mut o)?;
        start = block.end;
    }
    Ok(())
}

/// The work buffer's target size for [`in_blocks`], and for stripes of
/// more than [`LARGE_BYTES`] of shards. Measured in Rust on AMD Zen 5, one
/// thread, 32 + 32 shards (64 work rows), GFNI engine, inputs in cache at
/// 64 KiB shards and read from memory at 1 MiB:
///
/// | budget | 64 KiB encode | 1 MiB encode | 1 MiB reconstruct |
/// | --- | ---: | ---: | ---: |
/// | none | 194 us | 34.7 ms | 57.9 ms |
/// | 512 KiB | 171 us | 18.6 ms | 18.2 ms |
/// | 1 MiB | 142 us | 17.9 ms | 17.7 ms |
/// | 2 MiB | 169 us | 11.6 ms | 11.7 ms |
/// | 4 MiB | 198 us | 11.4 ms | 11.1 ms |
///
/// Reconstruct at 64 KiB was within noise at every size (each block pays
/// the decoder's fixed costs again).
const BLOCK_BYTES: usize = 1 << 20;
const BLOCK_BYTES_LARGE: usize = 2 << 20;
/// Shard bytes in a stripe beyond which its shards are taken to come from
/// memory (past a typical L3 share).
const LARGE_BYTES: usize = 8 << 20;
/// No block is narrower than this many bytes (per-call costs).
const BLOCK_MIN: usize = 1024;

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

fn encode_stripe(kind: EngineKind, data: &[&[u8]], r: Range<usize>, outs: &mut [&mut [u8]]) -> Result<()> {
    let (k, m, len) = (data.len(), outs.len(), r.len());
    ENCODER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_some_and(|e| e.kind() != kind) {
            *slot = None;
        }
        let enc = match slot.as_mut() {
            Some(e) => e,
            None => slot.insert(Encoder::new(kind, k, m, len)?),
        };
        match enc {
            #[cfg(all(target_arch = "x86_64", feature = "simd"))]
            Encoder::Avx512Gfni(e) => encode_with(e, data, r, outs)?,
            #[cfg(all(target_arch = "x86_64", feature = "simd"))]
            Encoder::Avx512(e) => encode_with(e, data, r, outs)?,
            #[cfg(target_arch = "x86_64")]
            Encoder::Avx2(e) => encode_with(e, data, r, outs)?,
            #[cfg(target_arch = "aarch64")]
            Encoder::Neon(e) => encode_with(e, data, r, outs)?,
            Encoder::Portable(e) => encode_with(e, data, r, outs)?,
        }
        if (k + m) * len > CACHE_MAX_BYTES {
            *slot = None;
        }
        Ok(())
    })
}

/// Parity of `data` into `parity` (lengths already validated), on the
/// engine `kind`.
pub(super) fn encode(
    kind: EngineKind,
    data: &[&[u8]],
    parity: &mut [&mut [u8]],
    len: usize,
    threads: Threads,
) -> Result<()> {
    let even = len & !1;
    if even > 0 {
        striped(even, data.len(), ENCODE_PARALLEL_MIN_BYTES, parity, threads, |r, outs| {
            encode_stripe(kind, data, r, outs)
        })?;
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

/// [`decoder::Decoder::restore`] compiled for the instructions of an
/// engine: its formal derivative (XORs over the work rows) and its copies
/// are not engine calls, and would otherwise be built for baseline x86_64.
#[cfg(target_arch = "x86_64")]
macro_rules! restore_compiled_for {
    ($name:ident, $engine:ty, $features:literal) => {
        /// # Safety
        /// The CPU must support the features this is compiled for.
        #[target_feature(enable = $features)]
        unsafe fn $name(
            dec: &mut decoder::Decoder<$engine>,
            k: usize,
            shards: &[Option<&[u8]>],
            lost: &[usize],
            r: Range<usize>,
            outs: &mut [&mut [u8]],
        ) -> Result<()> {
            dec.restore(k, shards, lost, r, outs)
        }
    };
}
#[cfg(all(target_arch = "x86_64", feature = "simd"))]
restore_compiled_for!(restore_avx512, Avx512<Nibbles>, "avx512f,avx512bw");
#[cfg(all(target_arch = "x86_64", feature = "simd"))]
restore_compiled_for!(restore_avx512_gfni, Avx512<Gfni>, "avx512f,avx512bw");
#[cfg(target_arch = "x86_64")]
restore_compiled_for!(restore_avx2, Remembering<engine::Avx2>, "avx2");

fn decode_stripe(
    kind: EngineKind,
    k: usize,
    shards: &[Option<&[u8]>],
    lost: &[usize],
    r: Range<usize>,
    outs: &mut [&mut [u8]],
) -> Result<()> {
    let len = r.len();
    DECODER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_some_and(|d| d.kind() != kind) {
            *slot = None;
        }
        let dec = slot.get_or_insert_with(|| Decoder::new(kind));
        match dec {
            #[cfg(all(target_arch = "x86_64", feature = "simd"))]
            // SAFETY: an Avx512 decoder is made only where the CPU has AVX-512F and BW.
            Decoder::Avx512Gfni(d) => unsafe { restore_avx512_gfni(d, k, shards, lost, r, outs) }?,
            #[cfg(all(target_arch = "x86_64", feature = "simd"))]
            // SAFETY: as above.
            Decoder::Avx512(d) => unsafe { restore_avx512(d, k, shards, lost, r, outs) }?,
            #[cfg(target_arch = "x86_64")]
            // SAFETY: an Avx2 decoder is made only where the CPU has AVX2.
            Decoder::Avx2(d) => unsafe { restore_avx2(d, k, shards, lost, r, outs) }?,
            #[cfg(target_arch = "aarch64")]
            Decoder::Neon(d) => d.restore(k, shards, lost, r, outs)?,
            Decoder::Portable(d) => d.restore(k, shards, lost, r, outs)?,
        }
        if shards.len() * len > CACHE_MAX_BYTES {
            *slot = None;
        }
        Ok(())
    })
}

/// Restore `missing` (ascending) into `out` (validated by the caller), on
/// the engine `kind`.
pub(super) fn reconstruct(
    kind: EngineKind,
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
        striped(even, k, DECODE_PARALLEL_MIN_BYTES, data_out, threads, |r, outs| {
            decode_stripe(kind, k, shards, lost, r, outs)
        })?;
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
    encode(kind, &data, &mut all, len, threads)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every engine this CPU runs; with a `test` name, reports which ran
    /// and which of this build's could not (`kernels::report_ran`).
    fn each_engine(test: &str) -> Vec<EngineKind> {
        let ran = EngineKind::available();
        if !test.is_empty() {
            // Ours exist in builds with the `simd` feature only.
            let x86: &[EngineKind] = if cfg!(feature = "simd") {
                &[EngineKind::Avx512Gfni, EngineKind::Avx512, EngineKind::Avx2]
            } else {
                &[EngineKind::Avx2]
            };
            let here: &[EngineKind] = if cfg!(target_arch = "x86_64") { x86 } else { &[EngineKind::Neon] };
            let missing: Vec<&str> = here.iter().filter(|k| !ran.contains(k)).map(|k| k.name()).collect();
            let names: Vec<&str> = ran.iter().map(|k| k.name()).collect();
            crate::kernels::report_ran(&format!("{test} (engines)"), &names, &missing);
        }
        ran
    }

    /// The decoder's pruned closing FFT, on every engine
    /// (`decoder::check_pruned_fft`).
    #[test]
    fn the_pruned_fft_gives_the_wanted_rows_of_the_full_one() {
        for kind in each_engine("rs pruned fft") {
            match Decoder::new(kind) {
                #[cfg(all(target_arch = "x86_64", feature = "simd"))]
                Decoder::Avx512Gfni(d) => decoder::check_pruned_fft(d.engine(), kind.name()),
                #[cfg(all(target_arch = "x86_64", feature = "simd"))]
                Decoder::Avx512(d) => decoder::check_pruned_fft(d.engine(), kind.name()),
                #[cfg(target_arch = "x86_64")]
                Decoder::Avx2(d) => decoder::check_pruned_fft(d.engine(), kind.name()),
                #[cfg(target_arch = "aarch64")]
                Decoder::Neon(d) => decoder::check_pruned_fft(d.engine(), kind.name()),
                Decoder::Portable(d) => decoder::check_pruned_fft(d.engine(), kind.name()),
            }
        }
    }

    /// Parity of `data` (`m` shards) on the engine `kind`.
    fn parity_on(kind: EngineKind, data: &[Vec<u8>], m: usize, threads: Threads) -> Vec<Vec<u8>> {
        let len = data[0].len();
        let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        let mut parity = vec![vec![0u8; len]; m];
        let mut outs: Vec<&mut [u8]> = parity.iter_mut().map(Vec::as_mut_slice).collect();
        encode(kind, &refs, &mut outs, len, threads).unwrap();
        parity
    }

    /// Loses the shards `missing` (data, then parity indices) and restores
    /// them on the engine `kind`; checks they come back as they were.
    fn check_restored(kind: EngineKind, data: &[Vec<u8>], parity: &[Vec<u8>], missing: &[usize], threads: Threads) {
        let (k, len) = (data.len(), data[0].len());
        let whole = |i: usize| if i < k { &data[i] } else { &parity[i - k] };
        let shards: Vec<Option<&[u8]>> =
            (0..k + parity.len()).map(|i| (!missing.contains(&i)).then(|| &whole(i)[..])).collect();
        let mut restored = vec![vec![0u8; len]; missing.len()];
        let mut outs: Vec<&mut [u8]> = restored.iter_mut().map(Vec::as_mut_slice).collect();
        reconstruct(kind, k, &shards, missing, &mut outs, len, threads).unwrap();
        for (&i, r) in missing.iter().zip(&restored) {
            assert!(r == whole(i), "{kind:?} {threads:?} shard {i}");
        }
    }

    #[test]
    fn an_engine_is_chosen_by_name() {
        let data = [&[1u8, 2, 3, 4][..], &[5, 6, 7, 8][..]];
        let want = crate::rs::encode(&data, 2, Threads::SERIAL).unwrap();
        for name in crate::rs::engines() {
            assert_eq!(crate::rs::encode_with(name, &data, 2, Threads::SERIAL).unwrap(), want, "{name}");
        }
        let err = crate::rs::encode_with("avx1024", &data, 2, Threads::SERIAL).unwrap_err().to_string();
        assert!(err.contains("\"avx1024\"") && err.contains("NoSimd"), "{err}");
    }

    /// Every engine, both of the crate's rates and its rate choice at the
    /// edges, partial last chunks, and losses of data and parity shards,
    /// at random: each restored shard is the original.
    #[test]
    fn every_shape_and_loss_is_restored() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let shapes = [(1, 1), (3, 3), (3, 4), (3, 5), (4, 3), (5, 3), (10, 200), (200, 10), (100, 100), (64, 64)];
        for kind in each_engine("rs decode shapes") {
            for (k, m) in shapes {
                for len in [2, 62, 66, 130, 1000, 1001] {
                    let data: Vec<Vec<u8>> = (0..k).map(|_| (0..len).map(|_| next(256) as u8).collect()).collect();
                    let parity = parity_on(kind, &data, m, Threads::SERIAL);
                    // Up to m losses, at least one a data shard.
                    let mut missing: Vec<usize> = (0..k + m).filter(|_| next(k + m) < m).take(m).collect();
                    if !missing.iter().any(|&i| i < k) {
                        missing.pop();
                        missing.insert(0, next(k));
                    }
                    missing.sort_unstable();
                    missing.dedup();
                    check_restored(kind, &data, &parity, &missing, Threads::SERIAL);
                }
            }
        }
    }

    /// Shards wide enough to be coded in several blocks give what one call
    /// of `reed-solomon-simd` on whole shards gives, and losses are
    /// restored across the block boundaries.
    #[test]
    fn blocks_code_as_one_call() {
        let (k, m) = (24, 40);
        // Several blocks of each budget: shards in cache, then from memory.
        for len in [3 * BLOCK_BYTES / 64 + 192, LARGE_BYTES / (k + m) + 3 * BLOCK_BYTES_LARGE / 64 + 64] {
            let large = (k + m) * len > LARGE_BYTES;
            let budget = if large { BLOCK_BYTES_LARGE } else { BLOCK_BYTES };
            assert!(len > 2 * budget / (k + m), "more than two blocks");
            let data: Vec<Vec<u8>> =
                (0..k).map(|i| (0..len).map(|j| ((i * 29 + j * 13) % 253) as u8).collect()).collect();
            let mut enc = reed_solomon_simd::ReedSolomonEncoder::new(k, m, len).unwrap();
            for d in &data {
                enc.add_original_shard(d).unwrap();
            }
            let want: Vec<Vec<u8>> = enc.encode().unwrap().recovery_iter().map(<[u8]>::to_vec).collect();
            for kind in each_engine(if large { "rs blocks from memory" } else { "rs blocks in cache" }) {
                assert!(parity_on(kind, &data, m, Threads::SERIAL) == want, "{kind:?} len={len}");
                let missing: Vec<usize> = (0..k).step_by(2).collect();
                check_restored(kind, &data, &want, &missing, Threads::SERIAL);
            }
        }
    }

    /// Every backend's engine gives the portable engine's parity, and
    /// recovers lost data shards from it, serially and in stripes.
    #[test]
    fn every_backend_codes_alike() {
        let (k, m, len) = (12, 8, 64 * 1024 + 3);
        let data: Vec<Vec<u8>> = (0..k).map(|i| (0..len).map(|j| ((i * 131 + j * 7) % 251) as u8).collect()).collect();
        let max = |n| Threads::Max(std::num::NonZeroUsize::new(n).unwrap());
        let want = parity_on(EngineKind::Portable, &data, m, max(1));
        crate::kernels::each_backend("rs codec", |backend| assert!(each_engine("").contains(&EngineKind::of(backend))));
        for kind in each_engine("rs codec") {
            for threads in [max(1), max(2)] {
                assert_eq!(parity_on(kind, &data, m, threads), want, "{kind:?} {threads:?}");
                // Lose data shards 0, 5, 11 and parity 2.
                check_restored(kind, &data, &want, &[0, 5, 11, k + 2], threads);
            }
        }
    }
}
