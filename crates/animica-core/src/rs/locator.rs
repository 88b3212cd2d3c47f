//! The decoder's error-locator evaluation, remembered per thread.
//!
//! `reed-solomon-simd`'s decoder evaluates a polynomial over the whole
//! field (two Walsh–Hadamard transforms of 65,536 elements) on every
//! decode, whatever the shard size: about 115 us on AMD Zen 5 in the
//! crate's scalar code, a fraction of that on vectors here ([`vector`]).
//! Its result depends only on which shards are missing, so the blocks of
//! one reconstruct (see `codec::in_blocks`) and repeated reconstructs with
//! the same losses compute it once per thread. The input is compared
//! whole, so a remembered result is exactly what the computation would
//! give, whichever engine (all give the crate's bits) computed it.

use std::cell::RefCell;

use reed_solomon_simd::engine::{Engine, GF_ORDER, GfElement, ShardsRefMut};

/// One evaluation: its input, its truncation and its output. The buffers
/// are kept and overwritten: at 128 KiB each, fresh ones would be mapped
/// and faulted in by the allocator on every new loss pattern.
struct Evaluation {
    truncated: usize,
    input: Box<[GfElement]>,
    output: Box<[GfElement]>,
}

thread_local! {
    static LAST: RefCell<Option<Evaluation>> = const { RefCell::new(None) };
}

/// `compute(erasures, truncated_size)`, or its remembered result when this
/// thread's last call had the same arguments.
pub(super) fn eval_poly(
    erasures: &mut [GfElement; GF_ORDER],
    truncated_size: usize,
    compute: fn(&mut [GfElement; GF_ORDER], usize),
) {
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        let e = last.get_or_insert_with(|| Evaluation {
            // No input matches a truncation past the field.
            truncated: usize::MAX,
            input: vec![0; GF_ORDER].into_boxed_slice(),
            output: vec![0; GF_ORDER].into_boxed_slice(),
        });
        if e.truncated == truncated_size && *e.input == erasures[..] {
            erasures.copy_from_slice(&e.output);
            return;
        }
        // Invalid until the output is in (should `compute` panic).
        e.truncated = usize::MAX;
        e.input.copy_from_slice(erasures);
        compute(erasures, truncated_size);
        e.output.copy_from_slice(erasures);
        e.truncated = truncated_size;
    });
}

/// How an engine's error locator is computed, before remembering.
pub(crate) trait Locate {
    /// The crate's `eval_poly`, or the same result computed faster.
    fn locate(erasures: &mut [GfElement; GF_ORDER], truncated_size: usize);
}

/// Ours on AVX2 with the `simd` feature (our kernels), else the crate's.
#[cfg(target_arch = "x86_64")]
impl Locate for reed_solomon_simd::engine::Avx2 {
    fn locate(erasures: &mut [GfElement; GF_ORDER], truncated_size: usize) {
        #[cfg(feature = "simd")]
        // SAFETY: the codec builds an Avx2 engine only where the CPU has
        // AVX2 (`EngineKind::of`).
        unsafe {
            vector::avx2(erasures, truncated_size)
        }
        #[cfg(not(feature = "simd"))]
        <Self as Engine>::eval_poly(erasures, truncated_size);
    }
}

#[cfg(target_arch = "aarch64")]
impl Locate for reed_solomon_simd::engine::Neon {
    fn locate(erasures: &mut [GfElement; GF_ORDER], truncated_size: usize) {
        <Self as Engine>::eval_poly(erasures, truncated_size);
    }
}

impl Locate for reed_solomon_simd::engine::NoSimd {
    fn locate(erasures: &mut [GfElement; GF_ORDER], truncated_size: usize) {
        <Self as Engine>::eval_poly(erasures, truncated_size);
    }
}

/// A `reed-solomon-simd` engine whose `eval_poly` is [`Locate`]'s,
/// remembered as above.
#[derive(Clone, Copy)]
pub(crate) struct Remembering<E>(pub(crate) E);

impl<E: Engine + Locate> Engine for Remembering<E> {
    fn fft(&self, data: &mut ShardsRefMut, pos: usize, size: usize, truncated_size: usize, skew_delta: usize) {
        self.0.fft(data, pos, size, truncated_size, skew_delta);
    }

    fn ifft(&self, data: &mut ShardsRefMut, pos: usize, size: usize, truncated_size: usize, skew_delta: usize) {
        self.0.ifft(data, pos, size, truncated_size, skew_delta);
    }

    fn mul(&self, x: &mut [[u8; 64]], log_m: GfElement) {
        self.0.mul(x, log_m);
    }

    fn eval_poly(erasures: &mut [GfElement; GF_ORDER], truncated_size: usize) {
        eval_poly(erasures, truncated_size, E::locate);
    }
}

/// The crate's `eval_poly` on vectors (AVX2: 16 elements, AVX-512BW: 32).
///
/// It is two Walsh–Hadamard transforms in the crate's arithmetic (sums and
/// differences modulo 65,535 with end-around carry, so 0 and 65,535 are
/// distinct results) around an element-wise product. Each transform is 16
/// radix-2 layers, distances 1, 2, ..., 32,768, in that order; every
/// element here goes through the same operations in the same order as in
/// the crate, so the result is the same bits.
///
/// The crate's first transform is truncated: only the first
/// `truncated_size` inputs may be nonzero. Then after the layers inside
/// the first power-of-two block, every further layer pairs a value with a
/// zero, which copies it (`x + 0 = x - 0 = x`): the transform is the
/// block's transform repeated. That is computed directly when the inputs
/// past `truncated_size` are zero, as the crate's decoder leaves them (and
/// otherwise the crate's own code runs).
#[cfg(all(target_arch = "x86_64", feature = "simd"))]
pub(crate) mod vector {
    use std::arch::x86_64::*;

    use reed_solomon_simd::engine::{Engine, GF_ORDER, GfElement, tables};

    /// A vector of 16-bit elements and the crate's arithmetic on it. Every
    /// method needs the CPU features of its implementation; they are
    /// `#[inline(always)]` to compile into the entry points below, which
    /// have those features.
    pub(super) trait Lanes: Copy {
        /// Elements per vector.
        const LANES: usize;
        /// # Safety
        /// The CPU features; `i + LANES <= data.len()`.
        unsafe fn load(data: &[GfElement], i: usize) -> Self;
        /// # Safety
        /// As for `load`.
        unsafe fn store(self, data: &mut [GfElement], i: usize);
        /// `x + y` modulo 65,535 as the crate computes it: the 16-bit sum
        /// plus its carry.
        /// # Safety
        /// The CPU features.
        unsafe fn add_mod(self, y: Self) -> Self;
        /// `x - y` modulo 65,535 as the crate computes it: the 16-bit
        /// difference minus its borrow.
        /// # Safety
        /// The CPU features.
        unsafe fn sub_mod(self, y: Self) -> Self;
        /// The `x * y` step of `eval_poly`: the 32-bit product's halves
        /// added modulo 65,535.
        /// # Safety
        /// The CPU features.
        unsafe fn mul_mod(self, y: Self) -> Self;
        /// The layers of distance 1, 2, ..., LANES / 2 inside the vector:
        /// lane `i` meets lane `i ^ d`; the lower one of a pair takes the
        /// sum, the upper one the difference.
        /// # Safety
        /// The CPU features.
        unsafe fn in_vector(self) -> Self;
    }

    #[derive(Clone, Copy)]
    pub(super) struct Ymm(__m256i);

    impl Lanes for Ymm {
        const LANES: usize = 16;

        #[inline(always)]
        unsafe fn load(data: &[GfElement], i: usize) -> Self {
            debug_assert!(i + Self::LANES <= data.len());
            // SAFETY: the caller's contract.
            Ymm(unsafe { _mm256_loadu_si256(data.as_ptr().add(i).cast()) })
        }

        #[inline(always)]
        unsafe fn store(self, data: &mut [GfElement], i: usize) {
            debug_assert!(i + Self::LANES <= data.len());
            // SAFETY: the caller's contract.
            unsafe { _mm256_storeu_si256(data.as_mut_ptr().add(i).cast(), self.0) }
        }

        #[inline(always)]
        unsafe fn add_mod(self, y: Self) -> Self {
            // SAFETY: the caller's contract (AVX2).
            unsafe {
                let s = _mm256_add_epi16(self.0, y.0);
                // All ones where there was no carry (s >= x).
                let no_carry = _mm256_cmpeq_epi16(_mm256_max_epu16(s, self.0), s);
                Ymm(_mm256_add_epi16(s, _mm256_add_epi16(no_carry, _mm256_set1_epi16(1))))
            }
        }

        #[inline(always)]
        unsafe fn sub_mod(self, y: Self) -> Self {
            // SAFETY: the caller's contract (AVX2).
            unsafe {
                let d = _mm256_sub_epi16(self.0, y.0);
                // All ones where there was no borrow (x >= y).
                let no_borrow = _mm256_cmpeq_epi16(_mm256_max_epu16(self.0, y.0), self.0);
                Ymm(_mm256_sub_epi16(d, _mm256_add_epi16(no_borrow, _mm256_set1_epi16(1))))
            }
        }

        #[inline(always)]
        unsafe fn mul_mod(self, y: Self) -> Self {
            // SAFETY: the caller's contract (AVX2).
            unsafe { Ymm(_mm256_mullo_epi16(self.0, y.0)).add_mod(Ymm(_mm256_mulhi_epu16(self.0, y.0))) }
        }

        #[inline(always)]
        unsafe fn in_vector(self) -> Self {
            // SAFETY: the caller's contract (AVX2).
            unsafe {
                let layer =
                    |x: Ymm, p: Ymm, blend: fn(__m256i, __m256i) -> __m256i| Ymm(blend(x.add_mod(p).0, p.sub_mod(x).0));
                let swap_words = _mm256_setr_epi8(
                    2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15,
                    12, 13,
                );
                let mut x = self;
                x = layer(x, Ymm(_mm256_shuffle_epi8(x.0, swap_words)), |a, b| _mm256_blend_epi16::<0xAA>(a, b));
                x = layer(x, Ymm(_mm256_shuffle_epi32::<0b10_11_00_01>(x.0)), |a, b| _mm256_blend_epi16::<0xCC>(a, b));
                x = layer(x, Ymm(_mm256_shuffle_epi32::<0b01_00_11_10>(x.0)), |a, b| _mm256_blend_epi16::<0xF0>(a, b));
                layer(x, Ymm(_mm256_permute2x128_si256::<0x01>(x.0, x.0)), |a, b| _mm256_blend_epi32::<0xF0>(a, b))
            }
        }
    }

    #[derive(Clone, Copy)]
    pub(super) struct Zmm(__m512i);

    impl Zmm {
        /// The in-vector layer of distance `d`: `p` is the vector with each
        /// lane's partner, `upper` the lanes that take the difference.
        #[inline(always)]
        unsafe fn layer(self, p: Self, upper: __mmask32) -> Self {
            // SAFETY: the caller's contract (AVX-512BW).
            unsafe {
                let one = _mm512_set1_epi16(1);
                let sum = _mm512_add_epi16(self.0, p.0);
                let r = _mm512_mask_sub_epi16(sum, upper, p.0, self.0);
                // Lower lanes: a carry where sum < x; upper: a borrow where p < x.
                let carry = _mm512_mask_cmplt_epu16_mask(!upper, sum, self.0);
                let borrow = _mm512_mask_cmplt_epu16_mask(upper, p.0, self.0);
                Zmm(_mm512_mask_sub_epi16(_mm512_mask_add_epi16(r, carry, r, one), borrow, r, one))
            }
        }
    }

    impl Lanes for Zmm {
        const LANES: usize = 32;

        #[inline(always)]
        unsafe fn load(data: &[GfElement], i: usize) -> Self {
            debug_assert!(i + Self::LANES <= data.len());
            // SAFETY: the caller's contract.
            Zmm(unsafe { _mm512_loadu_si512(data.as_ptr().add(i).cast()) })
        }

        #[inline(always)]
        unsafe fn store(self, data: &mut [GfElement], i: usize) {
            debug_assert!(i + Self::LANES <= data.len());
            // SAFETY: the caller's contract.
            unsafe { _mm512_storeu_si512(data.as_mut_ptr().add(i).cast(), self.0) }
        }

        #[inline(always)]
        unsafe fn add_mod(self, y: Self) -> Self {
            // SAFETY: the caller's contract (AVX-512BW).
            unsafe {
                let s = _mm512_add_epi16(self.0, y.0);
                Zmm(_mm512_mask_add_epi16(s, _mm512_cmplt_epu16_mask(s, self.0), s, _mm512_set1_epi16(1)))
            }
        }

        #[inline(always)]
        unsafe fn sub_mod(self, y: Self) -> Self {
            // SAFETY: the caller's contract (AVX-512BW).
            unsafe {
                let d = _mm512_sub_epi16(self.0, y.0);
                Zmm(_mm512_mask_sub_epi16(d, _mm512_cmplt_epu16_mask(self.0, y.0), d, _mm512_set1_epi16(1)))
            }
        }

        #[inline(always)]
        unsafe fn mul_mod(self, y: Self) -> Self {
            // SAFETY: the caller's contract (AVX-512BW).
            unsafe { Zmm(_mm512_mullo_epi16(self.0, y.0)).add_mod(Zmm(_mm512_mulhi_epu16(self.0, y.0))) }
        }

        #[inline(always)]
        unsafe fn in_vector(self) -> Self {
            // SAFETY: the caller's contract (AVX-512BW).
            unsafe {
                let mut x = self;
                x = x.layer(Zmm(_mm512_rol_epi32::<16>(x.0)), 0xAAAA_AAAA);
                x = x.layer(Zmm(_mm512_rol_epi64::<32>(x.0)), 0xCCCC_CCCC);
                x = x.layer(Zmm(_mm512_shuffle_epi32::<0b01_00_11_10>(x.0)), 0xF0F0_F0F0);
                x = x.layer(Zmm(_mm512_shuffle_i64x2::<0b10_11_00_01>(x.0, x.0)), 0xFF00_FF00);
                x.layer(Zmm(_mm512_shuffle_i64x2::<0b01_00_11_10>(x.0, x.0)), 0xFFFF_0000)
            }
        }
    }

    /// The Walsh–Hadamard transform of `data` (a power of two, at least one
    /// vector, long), layer by layer as the crate does it.
    #[inline(always)]
    unsafe fn fwht<V: Lanes>(data: &mut [GfElement]) {
        let n = data.len();
        debug_assert!(n.is_power_of_two() && n >= V::LANES);
        // SAFETY: for the whole body, the caller has V's features; every
        // index below is a whole vector inside `data`.
        unsafe {
            for i in (0..n).step_by(V::LANES) {
                V::load(data, i).in_vector().store(data, i);
            }
            let mut dist = V::LANES;
            while dist < n {
                if dist * 4 <= n {
                    // Two layers at once: distances `dist` then `2 * dist`.
                    for r in (0..n).step_by(4 * dist) {
                        for i in (r..r + dist).step_by(V::LANES) {
                            let (a0, a1) = (V::load(data, i), V::load(data, i + dist));
                            let (a2, a3) = (V::load(data, i + 2 * dist), V::load(data, i + 3 * dist));
                            let (s0, d0) = (a0.add_mod(a1), a0.sub_mod(a1));
                            let (s1, d1) = (a2.add_mod(a3), a2.sub_mod(a3));
                            s0.add_mod(s1).store(data, i);
                            d0.add_mod(d1).store(data, i + dist);
                            s0.sub_mod(s1).store(data, i + 2 * dist);
                            d0.sub_mod(d1).store(data, i + 3 * dist);
                        }
                    }
                    dist *= 4;
                } else {
                    for r in (0..n).step_by(2 * dist) {
                        for i in (r..r + dist).step_by(V::LANES) {
                            let (a, b) = (V::load(data, i), V::load(data, i + dist));
                            a.add_mod(b).store(data, i);
                            a.sub_mod(b).store(data, i + dist);
                        }
                    }
                    dist *= 2;
                }
            }
        }
    }

    /// `eval_poly` of `reed-solomon-simd` on vectors `V` (see the module).
    ///
    /// # Safety
    /// The CPU has V's features.
    #[inline(always)]
    unsafe fn eval_poly<V: Lanes>(erasures: &mut [GfElement; GF_ORDER], truncated_size: usize) {
        let block = truncated_size.clamp(1, GF_ORDER).next_power_of_two().max(V::LANES);
        // An OR over the tail, which compiles to vector code (`any` stops
        // early and stays scalar: it was a third of the time).
        if erasures[truncated_size.min(GF_ORDER)..].iter().fold(0, |acc, &e| acc | e) != 0 {
            <reed_solomon_simd::engine::NoSimd as Engine>::eval_poly(erasures, truncated_size);
            return;
        }
        let log_walsh = tables::get_log_walsh();
        // SAFETY: for the whole body, V's features (the caller's
        // contract); indices are whole vectors inside the arrays.
        unsafe {
            fwht::<V>(&mut erasures[..block]);
            // The first transform is the block repeated; multiply each
            // element by its factor. Last to first, so the block is read
            // before it is overwritten.
            for i in (0..GF_ORDER).step_by(V::LANES).rev() {
                let e = V::load(&erasures[..], i % block);
                e.mul_mod(V::load(&log_walsh[..], i)).store(&mut erasures[..], i);
            }
            fwht::<V>(&mut erasures[..]);
        }
    }

    /// [`eval_poly`] on AVX2.
    ///
    /// # Safety
    /// The CPU has AVX2.
    #[target_feature(enable = "avx2")]
    pub(crate) unsafe fn avx2(erasures: &mut [GfElement; GF_ORDER], truncated_size: usize) {
        // SAFETY: this function's features.
        unsafe { eval_poly::<Ymm>(erasures, truncated_size) }
    }

    /// [`eval_poly`] on AVX-512BW.
    ///
    /// # Safety
    /// The CPU has AVX-512F and BW.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(crate) unsafe fn avx512(erasures: &mut [GfElement; GF_ORDER], truncated_size: usize) {
        // SAFETY: this function's features.
        unsafe { eval_poly::<Zmm>(erasures, truncated_size) }
    }
}

#[cfg(test)]
mod tests {
    use reed_solomon_simd::engine::utils;

    use super::*;

    /// A pattern of `n` leading values: erasure flags (0 or 1, as the
    /// decoder passes) or any 16-bit values (the arithmetic's edges).
    fn pattern(n: usize, seed: u64, flags: bool) -> Box<[GfElement; GF_ORDER]> {
        let mut e: Box<[GfElement; GF_ORDER]> = vec![0; GF_ORDER].into_boxed_slice().try_into().unwrap();
        let mut x = seed | 1;
        for v in &mut e[..n] {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *v = if flags { (x & 1) as GfElement } else { [0, 1, 65534, 65535, x as GfElement][(x >> 8) as usize % 5] };
        }
        e
    }

    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    #[test]
    fn vector_eval_poly_is_the_crates() {
        use crate::kernels::{Backend, Feature, runnable};
        type Locator = unsafe fn(&mut [GfElement; GF_ORDER], usize);
        let mut kernels: Vec<(&str, Locator)> = Vec::new();
        if runnable("rs::locator avx2", Backend::Avx2, Feature::Avx2) {
            kernels.push(("avx2", vector::avx2));
        }
        if runnable("rs::locator avx512", Backend::Avx512, Feature::Avx512) {
            kernels.push(("avx512", vector::avx512));
        }
        let cases = [
            (0, 0),
            (1, 1),
            (3, 3),
            (16, 16),
            (40, 40),
            (64, 64),
            (96, 100),
            (4096, 4096),
            (30000, 30000),
            (GF_ORDER, GF_ORDER),
        ];
        for (name, locate) in kernels {
            for (n, truncated) in cases {
                for flags in [true, false] {
                    let mut want = pattern(n, n as u64 + 7, flags);
                    let mut got = want.clone();
                    utils::eval_poly(&mut want, truncated);
                    // SAFETY: runnable() checked the features.
                    unsafe { locate(&mut got, truncated) };
                    assert!(got[..] == want[..], "{name}: n={n} truncated={truncated} flags={flags}");
                }
            }
            // Nonzero inputs past `truncated_size` (not what the decoder
            // passes) take the crate's code, and still agree.
            let mut want = pattern(200, 3, true);
            let mut got = want.clone();
            utils::eval_poly(&mut want, 64);
            // SAFETY: as above.
            unsafe { locate(&mut got, 64) };
            assert!(got[..] == want[..], "{name}");
        }
    }

    #[test]
    fn a_remembered_evaluation_is_the_computed_one() {
        for (n, seed) in [(64, 1), (64, 2), (64, 1), (100, 1)] {
            let mut want = pattern(n, seed, true);
            let got = want.clone();
            utils::eval_poly(&mut want, n);
            // Twice: computed, then remembered.
            for _ in 0..2 {
                let mut e = got.clone();
                eval_poly(&mut e, n, utils::eval_poly);
                assert!(e[..] == want[..], "n={n} seed={seed}");
            }
        }
        // Same input, other truncation: not the remembered result.
        let mut a = pattern(64, 9, true);
        let mut b = a.clone();
        eval_poly(&mut a, 64, utils::eval_poly);
        eval_poly(&mut b, 128, |_, _| {});
        assert!(b[..] == pattern(64, 9, true)[..], "recomputed (here: left as is) for a new truncation");
    }
}
