//! An AVX-512 engine for `reed-solomon-simd`.
//!
//! A 64-byte chunk (32 low bytes, then 32 high bytes of 16-bit symbols) is
//! one 512-bit register, where the crate's fastest x86 engine uses two
//! 256-bit ones. A multiply by a constant is either four 16-entry table
//! lookups ([`Nibbles`], AVX-512BW) or two GF(2) matrix products
//! ([`Gfni`], where the CPU has GFNI). The FFT and IFFT do two butterfly
//! layers per pass over the data with all four chunks in registers, where
//! the crate re-reads memory for each layer.
//!
//! Results are bit-identical to the crate's engines (tests compare them).

use std::arch::x86_64::*;

use reed_solomon_simd::engine::tables::{self, Mul128, Skew};
use reed_solomon_simd::engine::{Engine, GF_MODULUS, GF_ORDER, GfElement, ShardsRefMut};

use crate::kernels::{Backend, Feature};

/// The AVX-512 engine, multiplying with `M` ([`Nibbles`] or [`Gfni`]);
/// build it only where [`Avx512::new`] returns one.
#[derive(Clone, Copy)]
pub(crate) struct Avx512<M> {
    mul128: &'static Mul128,
    skew: &'static Skew,
    _multiplier: std::marker::PhantomData<M>,
}

impl<M: Multiplier> Avx512<M> {
    /// The engine, or `None` when the CPU lacks what `M` needs.
    pub(crate) fn new() -> Option<Self> {
        M::available().then(|| Avx512 {
            mul128: {
                M::prepare();
                tables::get_mul128()
            },
            skew: tables::get_skew(),
            _multiplier: std::marker::PhantomData,
        })
    }
}

/// How the engine multiplies a 64-byte chunk (32 symbols) by a constant.
///
/// The methods are `#[inline(always)]` so that they compile into the
/// engine's `#[target_feature]` entry points with those features.
pub(crate) trait Multiplier: Copy {
    /// What one constant is turned into.
    type Table: Copy;

    /// Whether this CPU can run it.
    fn available() -> bool;

    /// Makes its tables, once per process (before the first `table`).
    fn prepare() {}

    /// The table of `exp(log_m)`, from the crate's 16-entry lookup tables.
    ///
    /// # Safety
    /// The CPU has the engine's features (`available`).
    unsafe fn table(mul128: &Mul128, log_m: GfElement) -> Self::Table;

    /// The table that multiplies by zero.
    ///
    /// # Safety
    /// As for `table`.
    unsafe fn zero() -> Self::Table;

    /// `x * m`.
    ///
    /// # Safety
    /// As for `table`.
    unsafe fn mul(x: __m512i, t: &Self::Table) -> __m512i;

    /// `acc ^ x * m`.
    ///
    /// # Safety
    /// As for `table`.
    #[inline(always)]
    unsafe fn mul_add(acc: __m512i, x: __m512i, t: &Self::Table) -> __m512i {
        // SAFETY: the caller's contract.
        unsafe { _mm512_xor_si512(acc, Self::mul(x, t)) }
    }
}

/// Multiplication by 16-entry table lookups (AVX-512F and BW).
///
/// The crate's fastest x86 engine uses 256-bit registers: a 64-byte chunk
/// (32 low bytes, then 32 high bytes of 16-bit symbols) is two registers,
/// and a multiply by a constant is eight 16-entry table lookups. Here a
/// chunk is one 512-bit register. Lookups stay within 128-bit lanes, so
/// each table register pairs two of the crate's tables — the one the low
/// half needs and the one the high half needs — and a half-swapped copy of
/// the nibbles feeds the cross terms: four lookups per chunk instead of
/// eight.
#[derive(Clone, Copy)]
pub(crate) struct Nibbles;

/// Multiplication by one constant: four lookup tables, each pairing the
/// table for the low output half (bytes 0..32) with the one for the high
/// half (bytes 32..64).
#[derive(Clone, Copy)]
pub(crate) struct Lut {
    /// Low nibbles, same half: [t0.lo | t2.hi].
    direct_lo: __m512i,
    /// Low nibbles, other half: [t2.lo | t0.hi].
    swapped_lo: __m512i,
    /// High nibbles, same half: [t1.lo | t3.hi].
    direct_hi: __m512i,
    /// High nibbles, other half: [t3.lo | t1.hi].
    swapped_hi: __m512i,
}

/// `[lo | hi]`: two 128-bit values, each broadcast to its 256-bit half.
#[inline(always)]
unsafe fn pair(lo: u128, hi: u128) -> __m512i {
    // SAFETY: the caller has AVX-512F.
    unsafe {
        let lo = _mm256_broadcastsi128_si256(_mm_set_epi64x((lo >> 64) as i64, lo as i64));
        let hi = _mm256_broadcastsi128_si256(_mm_set_epi64x((hi >> 64) as i64, hi as i64));
        _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)
    }
}

/// The 256-bit halves of `x` swapped (128-bit lanes [2, 3, 0, 1]).
#[inline(always)]
unsafe fn swap_halves(x: __m512i) -> __m512i {
    // SAFETY: the caller has AVX-512F.
    unsafe { _mm512_shuffle_i64x2::<0x4E>(x, x) }
}

impl Multiplier for Nibbles {
    type Table = Lut;

    fn available() -> bool {
        Backend::Avx512.has(Feature::Avx512)
    }

    #[inline(always)]
    unsafe fn table(mul128: &Mul128, log_m: GfElement) -> Lut {
        let t = &mul128[usize::from(log_m)];
        // SAFETY: the caller's contract.
        unsafe {
            Lut {
                direct_lo: pair(t.lo[0], t.hi[2]),
                swapped_lo: pair(t.lo[2], t.hi[0]),
                direct_hi: pair(t.lo[1], t.hi[3]),
                swapped_hi: pair(t.lo[3], t.hi[1]),
            }
        }
    }

    #[inline(always)]
    unsafe fn zero() -> Lut {
        // SAFETY: the caller's contract.
        let z = unsafe { _mm512_setzero_si512() };
        Lut { direct_lo: z, swapped_lo: z, direct_hi: z, swapped_hi: z }
    }

    #[inline(always)]
    unsafe fn mul(x: __m512i, lut: &Lut) -> __m512i {
        // SAFETY: the caller's contract.
        unsafe {
            let mask = _mm512_set1_epi8(0x0f);
            let lo = _mm512_and_si512(x, mask);
            let hi = _mm512_and_si512(_mm512_srli_epi64::<4>(x), mask);
            let a = _mm512_shuffle_epi8(lut.direct_lo, lo);
            let b = _mm512_shuffle_epi8(lut.swapped_lo, swap_halves(lo));
            let c = _mm512_shuffle_epi8(lut.direct_hi, hi);
            let d = _mm512_shuffle_epi8(lut.swapped_hi, swap_halves(hi));
            _mm512_xor_si512(_mm512_ternarylogic_epi64::<0x96>(a, b, c), d)
        }
    }
}

/// Multiplication as GF(2) matrices (AVX-512F, BW and GFNI).
///
/// Multiplying by a constant is linear over GF(2), so it is a 16 x 16 bit
/// matrix: four 8 x 8 blocks mapping each input byte (low, high) to each
/// output byte. `vgf2p8affineqb` applies one 8 x 8 matrix per 64-bit lane
/// to every byte, so a chunk `[lo | hi]` times `[A | D]`, XORed with the
/// half-swapped chunk `[hi | lo]` times `[B | C]`, is the product: two
/// matrix instructions and a swap per multiply, in place of four lookups
/// and the nibble masking.
#[derive(Clone, Copy)]
pub(crate) struct Gfni;

/// Multiplication by one constant as 8 x 8 bit matrices, one per 64-bit
/// lane: the low output half's in the low 256 bits, the high half's above.
#[derive(Clone, Copy)]
pub(crate) struct Matrices {
    /// Applied to the chunk: [lo -> lo | hi -> hi].
    direct: __m512i,
    /// Applied to the half-swapped chunk: [hi -> lo | lo -> hi].
    swapped: __m512i,
}

/// The 8 x 8 bit matrix, as `vgf2p8affineqb` takes it, of the map sending
/// input bit `k` to the output byte `images[k]`: byte `7 - i` of the
/// result holds, as a mask over input bits, which inputs reach output bit
/// `i`. That is the bit transpose of `images`, byte-reversed.
fn matrix(images: [u8; 8]) -> u64 {
    // Transpose the 8 x 8 bit matrix whose row k is images[k] (Hacker's
    // Delight, 7-3): bit j of byte k moves to bit k of byte j.
    let mut x = u64::from_le_bytes(images);
    let t = (x ^ (x >> 7)) & 0x00AA_00AA_00AA_00AA;
    x ^= t ^ (t << 7);
    let t = (x ^ (x >> 14)) & 0x0000_CCCC_0000_CCCC;
    x ^= t ^ (t << 14);
    let t = (x ^ (x >> 28)) & 0x0000_0000_F0F0_F0F0;
    x ^= t ^ (t << 28);
    x.swap_bytes()
}

/// The four matrices of multiplying by the constant of `t`:
/// `[lo -> lo, hi -> lo, lo -> hi, hi -> hi]`. Input bit `k` of a byte is
/// nibble `k / 4` with value `1 << (k % 4)`; the crate's tables give each
/// nibble value's product, low byte in `lo`, high byte in `hi`.
fn matrices(t: &tables::Multiply128lutT) -> [u64; 4] {
    let image = |table: &[u128; 4], byte: usize, k: usize| (table[2 * byte + k / 4] >> (8 << (k % 4))) as u8;
    let block = |table: &[u128; 4], byte: usize| matrix(std::array::from_fn(|k| image(table, byte, k)));
    [block(&t.lo, 0), block(&t.lo, 1), block(&t.hi, 0), block(&t.hi, 1)]
}

/// [`matrices`] of every constant, made once per process on first use
/// (2 MiB, 1.5-1.7 ms on AMD Zen 5): computed per twiddle instead, they made
/// this engine slower than the lookup one on 64-byte shards, where a
/// twiddle serves a single chunk.
fn all_matrices() -> &'static [[u64; 4]] {
    static ALL: std::sync::OnceLock<Box<[[u64; 4]]>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| tables::get_mul128().iter().map(matrices).collect())
}

impl Multiplier for Gfni {
    type Table = Matrices;

    fn available() -> bool {
        Backend::Avx512.has(Feature::Avx512) && Backend::Avx512.has(Feature::Gfni)
    }

    fn prepare() {
        all_matrices();
    }

    #[inline(always)]
    unsafe fn table(_: &Mul128, log_m: GfElement) -> Matrices {
        let [lo_lo, hi_lo, lo_hi, hi_hi] = all_matrices()[usize::from(log_m)];
        let half = |lo: u64, hi: u64| {
            // SAFETY: the caller's contract.
            unsafe {
                _mm512_set_epi64(hi as i64, hi as i64, hi as i64, hi as i64, lo as i64, lo as i64, lo as i64, lo as i64)
            }
        };
        Matrices { direct: half(lo_lo, hi_hi), swapped: half(hi_lo, lo_hi) }
    }

    #[inline(always)]
    unsafe fn zero() -> Matrices {
        // SAFETY: the caller's contract.
        let z = unsafe { _mm512_setzero_si512() };
        Matrices { direct: z, swapped: z }
    }

    #[inline(always)]
    unsafe fn mul(x: __m512i, m: &Matrices) -> __m512i {
        // SAFETY: the caller's contract (GFNI with AVX-512F).
        unsafe {
            let d = _mm512_gf2p8affine_epi64_epi8::<0>(x, m.direct);
            let s = _mm512_gf2p8affine_epi64_epi8::<0>(swap_halves(x), m.swapped);
            _mm512_xor_si512(d, s)
        }
    }

    #[inline(always)]
    unsafe fn mul_add(acc: __m512i, x: __m512i, m: &Matrices) -> __m512i {
        // SAFETY: the caller's contract (GFNI with AVX-512F).
        unsafe {
            let d = _mm512_gf2p8affine_epi64_epi8::<0>(x, m.direct);
            let s = _mm512_gf2p8affine_epi64_epi8::<0>(swap_halves(x), m.swapped);
            _mm512_ternarylogic_epi64::<0x96>(acc, d, s)
        }
    }
}

/// One chunk of each of four shards.
struct Quad<'a> {
    s: [&'a mut [[u8; 64]]; 4],
}

impl Quad<'_> {
    #[inline(always)]
    unsafe fn load(&self, j: usize) -> [__m512i; 4] {
        // SAFETY: `j` < the shard length in chunks (callers loop over it);
        // unaligned 64-byte loads of initialised memory; AVX-512F.
        self.s.each_ref().map(|s| unsafe { _mm512_loadu_si512(s[j].as_ptr().cast()) })
    }

    #[inline(always)]
    unsafe fn store(&mut self, j: usize, v: [__m512i; 4]) {
        for (s, v) in self.s.iter_mut().zip(v) {
            // SAFETY: as in `load`; the slices are disjoint `&mut`s.
            unsafe { _mm512_storeu_si512(s[j].as_mut_ptr().cast(), v) };
        }
    }
}

impl<M: Multiplier> Avx512<M> {
    /// The table for a butterfly twiddle: `GF_MODULUS` is the crate's
    /// "no multiply-add" marker, so it gets the zero table (the product
    /// term vanishes) and the butterflies need no branches.
    #[inline(always)]
    unsafe fn twiddle(&self, log_m: GfElement) -> M::Table {
        // SAFETY: the caller's contract.
        unsafe { if log_m == GF_MODULUS { M::zero() } else { M::table(self.mul128, log_m) } }
    }

    /// One pass of two butterfly layers (distances `2 * dist` and `dist`)
    /// over the blocks of `4 * dist` shards that start below `truncated`:
    /// `butterfly` takes one chunk of each of a group's four shards and the
    /// block's twiddles (skew entries `base`, `base + dist`, `base + 2 *
    /// dist`, as `[m01, m02, m23]`), all four chunks held in registers.
    ///
    /// # Safety
    /// As for `fft_body`.
    #[inline(always)]
    unsafe fn two_layers(
        &self,
        data: &mut ShardsRefMut,
        pos: usize,
        truncated: usize,
        dist: usize,
        skew_delta: usize,
        butterfly: impl Fn([__m512i; 4], [&M::Table; 3]) -> [__m512i; 4],
    ) {
        // SAFETY: for the whole body, the caller's contract.
        unsafe {
            let mut r = 0;
            while r < truncated {
                let base = r + dist + skew_delta - 1;
                let m = [base, base + dist, base + 2 * dist].map(|b| self.twiddle(self.skew[b]));
                for i in r..r + dist {
                    let (s0, s1, s2, s3) = data.dist4_mut(pos + i, dist);
                    let mut q = Quad { s: [s0, s1, s2, s3] };
                    for j in 0..q.s[0].len() {
                        q.store(j, butterfly(q.load(j), [&m[0], &m[1], &m[2]]));
                    }
                }
                r += 4 * dist;
            }
        }
    }

    /// # Safety
    /// The CPU has `M`'s features; the entry points below are compiled
    /// with them, and this is inlined there.
    #[inline(always)]
    unsafe fn fft_body(&self, data: &mut ShardsRefMut, pos: usize, size: usize, truncated: usize, skew_delta: usize) {
        // SAFETY: for the whole body, the caller's contract.
        unsafe {
            // Two layers per pass: distances 2d then d inside blocks of 4d.
            let (mut dist4, mut dist) = (size, size >> 2);
            while dist != 0 {
                self.two_layers(
                    data,
                    pos,
                    truncated,
                    dist,
                    skew_delta,
                    |[mut a, mut b, mut c, mut d], [m01, m02, m23]| {
                        forward::<M>(&mut a, &mut c, m02);
                        forward::<M>(&mut b, &mut d, m02);
                        forward::<M>(&mut a, &mut b, m01);
                        forward::<M>(&mut c, &mut d, m23);
                        [a, b, c, d]
                    },
                );
                dist4 = dist;
                dist >>= 2;
            }
            if dist4 == 2 {
                // An odd number of layers: the last one has distance 1.
                let mut r = 0;
                while r < truncated {
                    let m = self.twiddle(self.skew[r + skew_delta]);
                    let (x, y) = data.dist2_mut(pos + r, 1);
                    butterfly_pairs::<M>(x, y, &m, false);
                    r += 2;
                }
            }
        }
    }

    /// # Safety
    /// As for `fft_body`.
    #[inline(always)]
    unsafe fn ifft_body(&self, data: &mut ShardsRefMut, pos: usize, size: usize, truncated: usize, skew_delta: usize) {
        // SAFETY: for the whole body, the caller's contract.
        unsafe {
            // Two layers per pass: distances d then 2d inside blocks of 4d.
            let (mut dist, mut dist4) = (1, 4);
            while dist4 <= size {
                self.two_layers(
                    data,
                    pos,
                    truncated,
                    dist,
                    skew_delta,
                    |[mut a, mut b, mut c, mut d], [m01, m02, m23]| {
                        inverse::<M>(&mut a, &mut b, m01);
                        inverse::<M>(&mut c, &mut d, m23);
                        inverse::<M>(&mut a, &mut c, m02);
                        inverse::<M>(&mut b, &mut d, m02);
                        [a, b, c, d]
                    },
                );
                dist = dist4;
                dist4 <<= 2;
            }
            if dist < size {
                // An odd number of layers: the last one spans the whole block.
                let m = self.twiddle(self.skew[dist + skew_delta - 1]);
                for i in 0..dist {
                    let (x, y) = data.dist2_mut(pos + i, dist);
                    butterfly_pairs::<M>(x, y, &m, true);
                }
            }
        }
    }

    /// # Safety
    /// As for `fft_body`.
    #[inline(always)]
    unsafe fn mul_body(&self, x: &mut [[u8; 64]], log_m: GfElement) {
        // SAFETY: the caller's contract; each chunk is 64 bytes, read then
        // written in place.
        unsafe {
            let t = M::table(self.mul128, log_m);
            for chunk in x {
                let p = chunk.as_mut_ptr().cast();
                _mm512_storeu_si512(p, M::mul(_mm512_loadu_si512(p), &t));
            }
        }
    }
}

/// The FFT's butterfly on one pair of chunks: `x ^= y·m; y ^= x`.
///
/// # Safety
/// As for `Avx512::fft_body`.
#[inline(always)]
unsafe fn forward<M: Multiplier>(x: &mut __m512i, y: &mut __m512i, m: &M::Table) {
    // SAFETY: the caller's contract (AVX-512F and the multiplier's features).
    unsafe {
        *x = M::mul_add(*x, *y, m);
        *y = _mm512_xor_si512(*y, *x);
    }
}

/// The IFFT's butterfly, the inverse of [`forward`]: `y ^= x; x ^= y·m`.
///
/// # Safety
/// As for `Avx512::fft_body`.
#[inline(always)]
unsafe fn inverse<M: Multiplier>(x: &mut __m512i, y: &mut __m512i, m: &M::Table) {
    // SAFETY: the caller's contract (AVX-512F and the multiplier's features).
    unsafe {
        *y = _mm512_xor_si512(*y, *x);
        *x = M::mul_add(*x, *y, m);
    }
}

/// One butterfly layer over two whole shards: [`forward`] (FFT) or
/// [`inverse`] (IFFT) on each pair of chunks.
///
/// # Safety
/// As for `Avx512::fft_body`.
#[inline(always)]
unsafe fn butterfly_pairs<M: Multiplier>(x: &mut [[u8; 64]], y: &mut [[u8; 64]], m: &M::Table, ifft: bool) {
    for (xc, yc) in x.iter_mut().zip(y.iter_mut()) {
        let (xp, yp) = (xc.as_mut_ptr().cast(), yc.as_mut_ptr().cast());
        // SAFETY: two distinct 64-byte chunks, read then written in place;
        // the caller's contract for the instructions.
        unsafe {
            let (mut a, mut b) = (_mm512_loadu_si512(xp), _mm512_loadu_si512(yp));
            if ifft {
                inverse::<M>(&mut a, &mut b, m);
            } else {
                forward::<M>(&mut a, &mut b, m);
            }
            _mm512_storeu_si512(xp, a);
            _mm512_storeu_si512(yp, b);
        }
    }
}

/// `Engine` for `Avx512<$multiplier>`, its entry points compiled for
/// `$features`.
macro_rules! engine_for {
    ($multiplier:ty, $features:literal, $fft:ident, $ifft:ident, $mul:ident) => {
        impl Avx512<$multiplier> {
            #[target_feature(enable = $features)]
            fn $fft(&self, data: &mut ShardsRefMut, pos: usize, size: usize, truncated: usize, skew_delta: usize) {
                // SAFETY: compiled with the multiplier's features.
                unsafe { self.fft_body(data, pos, size, truncated, skew_delta) }
            }

            #[target_feature(enable = $features)]
            fn $ifft(&self, data: &mut ShardsRefMut, pos: usize, size: usize, truncated: usize, skew_delta: usize) {
                // SAFETY: as for the FFT.
                unsafe { self.ifft_body(data, pos, size, truncated, skew_delta) }
            }

            #[target_feature(enable = $features)]
            fn $mul(&self, x: &mut [[u8; 64]], log_m: GfElement) {
                // SAFETY: as for the FFT.
                unsafe { self.mul_body(x, log_m) }
            }
        }

        impl Engine for Avx512<$multiplier> {
            fn fft(&self, data: &mut ShardsRefMut, pos: usize, size: usize, truncated_size: usize, skew_delta: usize) {
                // SAFETY: an engine exists only where its multiplier is
                // available (`Avx512::new`).
                unsafe { self.$fft(data, pos, size, truncated_size, skew_delta) }
            }

            fn ifft(&self, data: &mut ShardsRefMut, pos: usize, size: usize, truncated_size: usize, skew_delta: usize) {
                // SAFETY: as for `fft`.
                unsafe { self.$ifft(data, pos, size, truncated_size, skew_delta) }
            }

            fn mul(&self, x: &mut [[u8; 64]], log_m: GfElement) {
                // SAFETY: as for `fft`.
                unsafe { self.$mul(x, log_m) }
            }

            /// The decoder's error-locator evaluation (two Walsh transforms
            /// over the whole field) on AVX-512BW vectors, remembered per
            /// thread (`locator`): without this override the trait's scalar
            /// default ran.
            fn eval_poly(erasures: &mut [GfElement; GF_ORDER], truncated_size: usize) {
                super::locator::eval_poly(erasures, truncated_size, |e, t| {
                    // SAFETY: an engine exists only where the CPU has
                    // AVX-512F and BW (`Avx512::new`).
                    unsafe { super::locator::vector::avx512(e, t) }
                });
            }
        }
    };
}

engine_for!(Nibbles, "avx512f,avx512bw", fft_nibbles, ifft_nibbles, mul_nibbles);
engine_for!(Gfni, "avx512f,avx512bw,gfni", fft_gfni, ifft_gfni, mul_gfni);

#[cfg(test)]
mod tests {
    use reed_solomon_simd::engine::DefaultEngine;
    use reed_solomon_simd::rate::{DefaultRateDecoder, DefaultRateEncoder, RateDecoder, RateEncoder};

    use super::*;
    use crate::kernels::runnable;

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

    /// Each multiplier this CPU runs, by name; the others are reported.
    fn each_multiplier(test: &str, mut run: impl FnMut(&str, &dyn Fn() -> Box<dyn EngineUnderTest>)) {
        if runnable(&format!("{test} (nibble tables)"), Backend::Avx512, Feature::Avx512) {
            run("nibbles", &|| Box::new(Avx512::<Nibbles>::new().expect("runnable")));
        }
        if runnable(&format!("{test} (GFNI)"), Backend::Avx512, Feature::Avx512)
            && runnable(&format!("{test} (GFNI)"), Backend::Avx512, Feature::Gfni)
        {
            run("gfni", &|| Box::new(Avx512::<Gfni>::new().expect("runnable")));
        }
    }

    /// What the tests do with an engine, object-safe over the multipliers.
    trait EngineUnderTest {
        fn mul(&self, x: &mut [[u8; 64]], log_m: GfElement);
        fn parity(&self, data: &[Vec<u8>], m: usize) -> Vec<Vec<u8>>;
        fn restore(&self, data: &[Vec<u8>], parity: &[Vec<u8>], lost: usize) -> Vec<Vec<u8>>;
    }

    impl<M: Multiplier> EngineUnderTest for Avx512<M>
    where
        Avx512<M>: Engine,
    {
        fn mul(&self, x: &mut [[u8; 64]], log_m: GfElement) {
            Engine::mul(self, x, log_m);
        }

        fn parity(&self, data: &[Vec<u8>], m: usize) -> Vec<Vec<u8>> {
            parity(*self, data, m)
        }

        /// Loses the first `lost` data shards and decodes them from the
        /// other data shards and every parity shard.
        fn restore(&self, data: &[Vec<u8>], parity: &[Vec<u8>], lost: usize) -> Vec<Vec<u8>> {
            let len = data[0].len();
            let mut dec = DefaultRateDecoder::new(data.len(), parity.len(), len, *self, None).unwrap();
            for (i, d) in data.iter().enumerate().skip(lost) {
                dec.add_original_shard(i, d).unwrap();
            }
            for (i, p) in parity.iter().enumerate() {
                dec.add_recovery_shard(i, p).unwrap();
            }
            let out = dec.decode().unwrap();
            (0..lost).map(|i| out.restored_original(i).unwrap().to_vec()).collect()
        }
    }

    #[test]
    fn mul_matches_the_naive_engine() {
        let naive = reed_solomon_simd::engine::Naive::new();
        // The edges, then a spread of constants (every matrix block and
        // nibble table gets nonzero and varied entries).
        let logs: Vec<GfElement> = [0u16, 1, 2, 77, 1000, 40000, 65534, 65535]
            .into_iter()
            .chain((0..4096u32).map(|i| (i * 16 + i % 16) as GfElement))
            .collect();
        each_multiplier("rs::avx512 mul", |name, engine| {
            let fast = engine();
            for &log_m in &logs {
                let mut a: Vec<[u8; 64]> =
                    (0..4).map(|c| std::array::from_fn(|i| (i * 37 + c * 11 + usize::from(log_m)) as u8)).collect();
                let mut b = a.clone();
                fast.mul(&mut a, log_m);
                naive.mul(&mut b, log_m);
                assert_eq!(a, b, "{name}: log_m {log_m}");
            }
        });
    }

    #[test]
    fn gfni_matrix_is_the_byte_reversed_bit_transpose() {
        // Input bit k maps to output bit k (identity): vgf2p8affineqb's
        // identity matrix is 0x0102040810204080.
        assert_eq!(matrix(std::array::from_fn(|k| 1 << k)), 0x0102_0408_1020_4080);
        // Every input bit reaches output bit 0 only: row i = 0 is byte 7.
        assert_eq!(matrix([1; 8]), 0xFF00_0000_0000_0000);
        // Input bit 0 reaches every output bit: bit 0 of every byte.
        assert_eq!(matrix([0xFF, 0, 0, 0, 0, 0, 0, 0]), 0x0101_0101_0101_0101);
    }

    #[test]
    fn same_parity_and_recovery_as_the_default_engine() {
        // High rate, low rate, odd counts (odd layer counts), tiny shards.
        let shapes = [(32, 32, 4096), (10, 4, 128), (3, 17, 64), (64, 8, 640), (5, 5, 2), (1, 1, 64), (200, 56, 192)];
        each_multiplier("rs::avx512 parity and recovery", |name, engine| {
            let fast = engine();
            for &(k, m, len) in &shapes {
                let data = shards(k, len, k + m);
                let want = parity(DefaultEngine::new(), &data, m);
                assert_eq!(fast.parity(&data, m), want, "{name}: k={k} m={m} len={len}");
                let lost = k.min(m);
                assert_eq!(fast.restore(&data, &want, lost), data[..lost], "{name}: k={k} m={m} len={len}");
            }
        });
    }
}
