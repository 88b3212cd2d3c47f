//! An AVX-512 engine for `reed-solomon-simd`.
//!
//! The crate's fastest x86 engine uses 256-bit registers: a 64-byte chunk
//! (32 low bytes, then 32 high bytes of 16-bit symbols) is two registers,
//! and a multiply by a constant is eight 16-entry table lookups. Here a
//! chunk is one 512-bit register. Lookups stay within 128-bit lanes, so
//! each table register pairs two of the crate's tables — the one the low
//! half needs and the one the high half needs — and a half-swapped copy of
//! the nibbles feeds the cross terms: four lookups per chunk instead of
//! eight. The FFT and IFFT also do two butterfly layers per pass over the
//! data with all four chunks in registers, where the crate re-reads memory
//! for each layer.
//!
//! Results are bit-identical to the crate's engines (tests compare them).

use std::arch::x86_64::*;

use reed_solomon_simd::engine::tables::{self, Mul128, Skew};
use reed_solomon_simd::engine::{Engine, GF_MODULUS, GF_ORDER, GfElement, ShardsRefMut};

/// The AVX-512 engine; build it only where [`Avx512::available`] is true.
#[derive(Clone, Copy)]
pub(crate) struct Avx512 {
    mul128: &'static Mul128,
    skew: &'static Skew,
}

impl Avx512 {
    /// Whether this CPU can run the engine (AVX-512F and BW).
    pub(crate) fn available() -> bool {
        crate::kernels::Backend::Avx512.has(crate::kernels::Feature::Avx512)
    }

    /// The engine, or `None` when the CPU lacks AVX-512F/BW.
    pub(crate) fn new() -> Option<Self> {
        Self::available().then(|| Avx512 { mul128: tables::get_mul128(), skew: tables::get_skew() })
    }
}

/// Multiplication by one constant: four lookup tables, each pairing the
/// table for the low output half (bytes 0..32) with the one for the high
/// half (bytes 32..64).
#[derive(Clone, Copy)]
struct Lut {
    /// Low nibbles, same half: [t0.lo | t2.hi].
    direct_lo: __m512i,
    /// Low nibbles, other half: [t2.lo | t0.hi].
    swapped_lo: __m512i,
    /// High nibbles, same half: [t1.lo | t3.hi].
    direct_hi: __m512i,
    /// High nibbles, other half: [t3.lo | t1.hi].
    swapped_hi: __m512i,
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn pair(lo: u128, hi: u128) -> __m512i {
    let lo = _mm256_broadcastsi128_si256(_mm_set_epi64x((lo >> 64) as i64, lo as i64));
    let hi = _mm256_broadcastsi128_si256(_mm_set_epi64x((hi >> 64) as i64, hi as i64));
    _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)
}

impl Avx512 {
    /// The tables for a butterfly twiddle: `GF_MODULUS` is the crate's
    /// "no multiply-add" marker, so it gets all-zero tables (the product
    /// term vanishes) and the butterflies need no branches.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn twiddle(&self, log_m: GfElement) -> Lut {
        if log_m == GF_MODULUS {
            let z = _mm512_setzero_si512();
            return Lut { direct_lo: z, swapped_lo: z, direct_hi: z, swapped_hi: z };
        }
        self.lut(log_m)
    }

    /// The tables for multiplying by `exp(log_m)`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn lut(&self, log_m: GfElement) -> Lut {
        let t = &self.mul128[log_m as usize];
        Lut {
            direct_lo: pair(t.lo[0], t.hi[2]),
            swapped_lo: pair(t.lo[2], t.hi[0]),
            direct_hi: pair(t.lo[1], t.hi[3]),
            swapped_hi: pair(t.lo[3], t.hi[1]),
        }
    }
}

/// `x * m` for the 32 symbols of one chunk.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn mul(x: __m512i, lut: &Lut) -> __m512i {
    let mask = _mm512_set1_epi8(0x0f);
    let lo = _mm512_and_si512(x, mask);
    let hi = _mm512_and_si512(_mm512_srli_epi64::<4>(x), mask);
    // Swap the 256-bit halves: 128-bit lanes [2, 3, 0, 1].
    let lo_swapped = _mm512_shuffle_i64x2::<0x4E>(lo, lo);
    let hi_swapped = _mm512_shuffle_i64x2::<0x4E>(hi, hi);
    let a = _mm512_shuffle_epi8(lut.direct_lo, lo);
    let b = _mm512_shuffle_epi8(lut.swapped_lo, lo_swapped);
    let c = _mm512_shuffle_epi8(lut.direct_hi, hi);
    let d = _mm512_shuffle_epi8(lut.swapped_hi, hi_swapped);
    _mm512_xor_si512(_mm512_ternarylogic_epi64::<0x96>(a, b, c), d)
}

/// One chunk of each of four shards.
struct Quad<'a> {
    s: [&'a mut [[u8; 64]]; 4],
}

impl Quad<'_> {
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn load(&self, j: usize) -> [__m512i; 4] {
        // SAFETY: `j` < the shard length in chunks (callers loop over it);
        // unaligned 64-byte loads of initialised memory.
        self.s.each_ref().map(|s| unsafe { _mm512_loadu_si512(s[j].as_ptr().cast()) })
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn store(&mut self, j: usize, v: [__m512i; 4]) {
        for (s, v) in self.s.iter_mut().zip(v) {
            // SAFETY: as in `load`; the slices are disjoint `&mut`s.
            unsafe { _mm512_storeu_si512(s[j].as_mut_ptr().cast(), v) };
        }
    }
}

impl Avx512 {
    #[target_feature(enable = "avx512f,avx512bw")]
    fn fft_impl(&self, data: &mut ShardsRefMut, pos: usize, size: usize, truncated: usize, skew_delta: usize) {
        // Two layers per pass: distances 2d then d inside blocks of 4d.
        let (mut dist4, mut dist) = (size, size >> 2);
        while dist != 0 {
            let mut r = 0;
            while r < truncated {
                let base = r + dist + skew_delta - 1;
                let (m01, m02, m23) = (
                    self.twiddle(self.skew[base]),
                    self.twiddle(self.skew[base + dist]),
                    self.twiddle(self.skew[base + 2 * dist]),
                );
                for i in r..r + dist {
                    let (s0, s1, s2, s3) = data.dist4_mut(pos + i, dist);
                    let mut q = Quad { s: [s0, s1, s2, s3] };
                    for j in 0..q.s[0].len() {
                        let [mut a, mut b, mut c, mut d] = q.load(j);
                        a = _mm512_xor_si512(a, mul(c, &m02));
                        c = _mm512_xor_si512(c, a);
                        b = _mm512_xor_si512(b, mul(d, &m02));
                        d = _mm512_xor_si512(d, b);
                        a = _mm512_xor_si512(a, mul(b, &m01));
                        b = _mm512_xor_si512(b, a);
                        c = _mm512_xor_si512(c, mul(d, &m23));
                        d = _mm512_xor_si512(d, c);
                        q.store(j, [a, b, c, d]);
                    }
                }
                r += dist4;
            }
            dist4 = dist;
            dist >>= 2;
        }
        if dist4 == 2 {
            // An odd number of layers: the last one has distance 1.
            let mut r = 0;
            while r < truncated {
                let m = self.twiddle(self.skew[r + skew_delta]);
                let (x, y) = data.dist2_mut(pos + r, 1);
                butterfly_pairs(x, y, &m, false);
                r += 2;
            }
        }
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    fn ifft_impl(&self, data: &mut ShardsRefMut, pos: usize, size: usize, truncated: usize, skew_delta: usize) {
        // Two layers per pass: distances d then 2d inside blocks of 4d.
        let (mut dist, mut dist4) = (1, 4);
        while dist4 <= size {
            let mut r = 0;
            while r < truncated {
                let base = r + dist + skew_delta - 1;
                let (m01, m02, m23) = (
                    self.twiddle(self.skew[base]),
                    self.twiddle(self.skew[base + dist]),
                    self.twiddle(self.skew[base + 2 * dist]),
                );
                for i in r..r + dist {
                    let (s0, s1, s2, s3) = data.dist4_mut(pos + i, dist);
                    let mut q = Quad { s: [s0, s1, s2, s3] };
                    for j in 0..q.s[0].len() {
                        let [mut a, mut b, mut c, mut d] = q.load(j);
                        b = _mm512_xor_si512(b, a);
                        a = _mm512_xor_si512(a, mul(b, &m01));
                        d = _mm512_xor_si512(d, c);
                        c = _mm512_xor_si512(c, mul(d, &m23));
                        c = _mm512_xor_si512(c, a);
                        a = _mm512_xor_si512(a, mul(c, &m02));
                        d = _mm512_xor_si512(d, b);
                        b = _mm512_xor_si512(b, mul(d, &m02));
                        q.store(j, [a, b, c, d]);
                    }
                }
                r += dist4;
            }
            dist = dist4;
            dist4 <<= 2;
        }
        if dist < size {
            // An odd number of layers: the last one spans the whole block.
            let m = self.twiddle(self.skew[dist + skew_delta - 1]);
            for i in 0..dist {
                let (x, y) = data.dist2_mut(pos + i, dist);
                butterfly_pairs(x, y, &m, true);
            }
        }
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    fn mul_impl(&self, x: &mut [[u8; 64]], log_m: GfElement) {
        let lut = self.lut(log_m);
        for chunk in x {
            let p = chunk.as_mut_ptr().cast();
            // SAFETY: a 64-byte chunk, read then written in place.
            unsafe { _mm512_storeu_si512(p, mul(_mm512_loadu_si512(p), &lut)) };
        }
    }
}

/// One butterfly layer over two whole shards: FFT (`x ^= y·m; y ^= x`) or
/// IFFT (`y ^= x; x ^= y·m`).
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn butterfly_pairs(x: &mut [[u8; 64]], y: &mut [[u8; 64]], m: &Lut, inverse: bool) {
    for (xc, yc) in x.iter_mut().zip(y.iter_mut()) {
        let (xp, yp) = (xc.as_mut_ptr().cast(), yc.as_mut_ptr().cast());
        // SAFETY: two distinct 64-byte chunks, read then written in place.
        unsafe {
            let (mut a, mut b) = (_mm512_loadu_si512(xp), _mm512_loadu_si512(yp));
            if inverse {
                b = _mm512_xor_si512(b, a);
                a = _mm512_xor_si512(a, mul(b, m));
            } else {
                a = _mm512_xor_si512(a, mul(b, m));
                b = _mm512_xor_si512(b, a);
            }
            _mm512_storeu_si512(xp, a);
            _mm512_storeu_si512(yp, b);
        }
    }
}

impl Engine for Avx512 {
    fn fft(&self, data: &mut ShardsRefMut, pos: usize, size: usize, truncated_size: usize, skew_delta: usize) {
        // SAFETY: an Avx512 exists only where the CPU has AVX-512F/BW.
        unsafe { self.fft_impl(data, pos, size, truncated_size, skew_delta) }
    }

    fn ifft(&self, data: &mut ShardsRefMut, pos: usize, size: usize, truncated_size: usize, skew_delta: usize) {
        // SAFETY: as for `fft`.
        unsafe { self.ifft_impl(data, pos, size, truncated_size, skew_delta) }
    }

    fn mul(&self, x: &mut [[u8; 64]], log_m: GfElement) {
        // SAFETY: as for `fft`.
        unsafe { self.mul_impl(x, log_m) }
    }

    /// The decoder's error-locator evaluation (a Walsh transform over the
    /// whole field) on the crate's AVX2 code: without this override the
    /// trait's scalar default ran, and decoding on this engine was slower
    /// than on the crate's AVX2 engine. Every CPU that runs this engine has
    /// AVX2 (the `avx512` backend requires it).
    fn eval_poly(erasures: &mut [GfElement; GF_ORDER], truncated_size: usize) {
        <reed_solomon_simd::engine::Avx2 as Engine>::eval_poly(erasures, truncated_size);
    }
}

#[cfg(test)]
mod tests {
    use reed_solomon_simd::engine::DefaultEngine;
    use reed_solomon_simd::rate::{DefaultRateDecoder, DefaultRateEncoder, RateDecoder, RateEncoder};

    use super::*;
    use crate::kernels::{Backend, Feature};

    fn shards(n: usize, len: usize, seed: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| (0..len).map(|j| ((i * 131 + j * 7 + seed) % 251) as u8).collect()).collect()
    }

    fn parity<E: Engine>(engine: E, data: &[Vec<u8>], m: usize) -> Vec<Vec<u8>> {
        let mut enc = DefaultRateEncoder::new(data.len(), m, data[0].len(), engine, None).unwrap();
        for d in data {
            enc.add_original_shard(d).unwrap();
        }
        enc.encode().unwrap().recovery_iter().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn mul_matches_the_naive_engine() {
        if !crate::kernels::runnable("rs::avx512 mul", Backend::Avx512, Feature::Avx512) {
            return;
        }
        let fast = Avx512::new().expect("runnable");
        let naive = reed_solomon_simd::engine::Naive::new();
        for log_m in [0u16, 1, 2, 77, 1000, 40000, 65534, 65535] {
            let mut a: Vec<[u8; 64]> = (0..4).map(|c| std::array::from_fn(|i| (i * 37 + c * 11) as u8)).collect();
            let mut b = a.clone();
            fast.mul(&mut a, log_m);
            naive.mul(&mut b, log_m);
            assert_eq!(a, b, "log_m {log_m}");
        }
    }

    #[test]
    fn same_parity_and_recovery_as_the_default_engine() {
        if !crate::kernels::runnable("rs::avx512 parity and recovery", Backend::Avx512, Feature::Avx512) {
            return;
        }
        let fast = Avx512::new().expect("runnable");
        // High rate, low rate, odd counts (odd layer counts), tiny shards.
        for &(k, m, len) in
            &[(32, 32, 4096), (10, 4, 128), (3, 17, 64), (64, 8, 640), (5, 5, 2), (1, 1, 64), (200, 56, 192)]
        {
            let data = shards(k, len, k + m);
            let want = parity(DefaultEngine::new(), &data, m);
            assert_eq!(parity(fast, &data, m), want, "k={k} m={m} len={len}");
            // Lose the first min(k, m) data shards and decode with both parity and survivors.
            let lost = k.min(m);
            let mut dec = DefaultRateDecoder::new(k, m, len, fast, None).unwrap();
            for (i, d) in data.iter().enumerate().skip(lost) {
                dec.add_original_shard(i, d).unwrap();
            }
            for (i, p) in want.iter().enumerate() {
                dec.add_recovery_shard(i, p).unwrap();
            }
            let out = dec.decode().unwrap();
            for (i, d) in data.iter().enumerate().take(lost) {
                assert_eq!(out.restored_original(i).unwrap(), &d[..], "k={k} m={m} len={len} shard {i}");
            }
        }
    }
}
