//! The decoder's error-locator evaluation, remembered per thread.
//!
//! `reed-solomon-simd`'s decoder evaluates a polynomial over the whole
//! field (two Walsh–Hadamard transforms of 65,536 elements) on every
//! decode, whatever the shard size: about 115 us on AMD Zen 5. Its result
//! depends only on which shards are missing, so the blocks of one
//! reconstruct (see `codec::in_blocks`) and repeated reconstructs with the
//! same losses compute it once per thread. The input is compared whole, so
//! a remembered result is exactly what the computation would give.

use std::cell::RefCell;

use reed_solomon_simd::engine::{Engine, GF_ORDER, GfElement, ShardsRefMut};

/// One evaluation: its input, its truncation and its output.
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
        if let Some(e) = last.as_ref()
            && e.truncated == truncated_size
            && *e.input == erasures[..]
        {
            erasures.copy_from_slice(&e.output);
            return;
        }
        let input: Box<[GfElement]> = erasures[..].into();
        compute(erasures, truncated_size);
        *last = Some(Evaluation { truncated: truncated_size, input, output: erasures[..].into() });
    });
}

/// How an engine's error locator is computed, before remembering.
pub(crate) trait Locate {
    /// The crate's `eval_poly`, or the same result computed faster.
    fn locate(erasures: &mut [GfElement; GF_ORDER], truncated_size: usize);
}

#[cfg(target_arch = "x86_64")]
impl Locate for reed_solomon_simd::engine::Avx2 {
    fn locate(erasures: &mut [GfElement; GF_ORDER], truncated_size: usize) {
        // SAFETY: the codec builds an Avx2 engine only where the CPU has
        // AVX2 (`EngineKind::of`).
        unsafe { avx2::eval_poly(erasures, truncated_size) }
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

/// The crate's `eval_poly` on AVX2 vectors of 16 elements.
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
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    use std::arch::x86_64::*;

    use reed_solomon_simd::engine::{Engine, GF_ORDER, GfElement, tables};

    /// Elements per vector.
    const LANES: usize = 16;

    /// `x + y` modulo 65,535 as the crate computes it: the 16-bit sum plus
    /// its carry.
    #[inline(always)]
    unsafe fn add_mod(x: __m256i, y: __m256i) -> __m256i {
        // SAFETY: the caller has AVX2.
        unsafe {
            let s = _mm256_add_epi16(x, y);
            // All ones where there was no carry (s >= x).
            let no_carry = _mm256_cmpeq_epi16(_mm256_max_epu16(s, x), s);
            _mm256_add_epi16(s, _mm256_add_epi16(no_carry, _mm256_set1_epi16(1)))
        }
    }

    /// `x - y` modulo 65,535 as the crate computes it: the 16-bit
    /// difference minus its borrow.
    #[inline(always)]
    unsafe fn sub_mod(x: __m256i, y: __m256i) -> __m256i {
        // SAFETY: the caller has AVX2.
        unsafe {
            let d = _mm256_sub_epi16(x, y);
            // All ones where there was no borrow (x >= y).
            let no_borrow = _mm256_cmpeq_epi16(_mm256_max_epu16(x, y), x);
            _mm256_sub_epi16(d, _mm256_add_epi16(no_borrow, _mm256_set1_epi16(1)))
        }
    }

    #[inline(always)]
    unsafe fn load(data: &[GfElement], i: usize) -> __m256i {
        debug_assert!(i + LANES <= data.len());
        // SAFETY: callers index whole vectors inside `data`; AVX2.
        unsafe { _mm256_loadu_si256(data.as_ptr().add(i).cast()) }
    }

    #[inline(always)]
    unsafe fn store(data: &mut [GfElement], i: usize, v: __m256i) {
        debug_assert!(i + LANES <= data.len());
        // SAFETY: as in `load`.
        unsafe { _mm256_storeu_si256(data.as_mut_ptr().add(i).cast(), v) }
    }

    /// The layers of distance 1, 2, 4 and 8, inside one vector: each lane
    /// meets its partner (lane `i ^ d`); the lower lane of a pair takes the
    /// sum, the upper one the difference.
    #[inline(always)]
    unsafe fn in_vector(mut x: __m256i) -> __m256i {
        // SAFETY: the caller has AVX2.
        unsafe {
            let swap_words = _mm256_setr_epi8(
                2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12,
                13,
            );
            let p = _mm256_shuffle_epi8(x, swap_words);
            x = _mm256_blend_epi16::<0xAA>(add_mod(x, p), sub_mod(p, x));
            let p = _mm256_shuffle_epi32::<0b10_11_00_01>(x);
            x = _mm256_blend_epi16::<0xCC>(add_mod(x, p), sub_mod(p, x));
            let p = _mm256_shuffle_epi32::<0b01_00_11_10>(x);
            x = _mm256_blend_epi16::<0xF0>(add_mod(x, p), sub_mod(p, x));
            let p = _mm256_permute2x128_si256::<0x01>(x, x);
            _mm256_blend_epi32::<0xF0>(add_mod(x, p), sub_mod(p, x))
        }
    }

    /// The Walsh–Hadamard transform of `data` (a power of two, at least one
    /// vector, long), layer by layer as the crate does it.
    #[inline(always)]
    unsafe fn fwht(data: &mut [GfElement]) {
        let n = data.len();
        debug_assert!(n.is_power_of_two() && n >= LANES);
        // SAFETY: for the whole body, the caller has AVX2; every index below is a
        // whole vector inside `data`.
        unsafe {
            for i in (0..n).step_by(LANES) {
                store(data, i, in_vector(load(data, i)));
            }
            let mut dist = LANES;
            while dist < n {
                if dist * 4 <= n {
                    // Two layers at once: distances `dist` then `2 * dist`.
                    for r in (0..n).step_by(4 * dist) {
                        for i in (r..r + dist).step_by(LANES) {
                            let (a0, a1) = (load(data, i), load(data, i + dist));
                            let (a2, a3) = (load(data, i + 2 * dist), load(data, i + 3 * dist));
                            let (s0, d0) = (add_mod(a0, a1), sub_mod(a0, a1));
                            let (s1, d1) = (add_mod(a2, a3), sub_mod(a2, a3));
                            store(data, i, add_mod(s0, s1));
                            store(data, i + dist, add_mod(d0, d1));
                            store(data, i + 2 * dist, sub_mod(s0, s1));
                            store(data, i + 3 * dist, sub_mod(d0, d1));
                        }
                    }
                    dist *= 4;
                } else {
                    for r in (0..n).step_by(2 * dist) {
                        for i in (r..r + dist).step_by(LANES) {
                            let (a, b) = (load(data, i), load(data, i + dist));
                            store(data, i, add_mod(a, b));
                            store(data, i + dist, sub_mod(a, b));
                        }
                    }
                    dist *= 2;
                }
            }
        }
    }

    /// `eval_poly` of `reed-solomon-simd` (see the module).
    ///
    /// # Safety
    /// The CPU has AVX2.
    #[target_feature(enable = "avx2")]
    pub(crate) unsafe fn eval_poly(erasures: &mut [GfElement; GF_ORDER], truncated_size: usize) {
        let block = truncated_size.clamp(1, GF_ORDER).next_power_of_two().max(LANES);
        if erasures[truncated_size.min(GF_ORDER)..].iter().any(|&e| e != 0) {
            <reed_solomon_simd::engine::Avx2 as Engine>::eval_poly(erasures, truncated_size);
            return;
        }
        let log_walsh = tables::get_log_walsh();
        // SAFETY: for the whole body, AVX2 (this function's contract); indices
        // are whole vectors inside the arrays.
        unsafe {
            fwht(&mut erasures[..block]);
            // The first transform is the block repeated; multiply each
            // element by its factor (as the crate: the 32-bit product's
            // halves added modulo 65,535). Last to first, so the block is
            // read before it is overwritten.
            for i in (0..GF_ORDER).step_by(LANES).rev() {
                let (e, f) = (load(&erasures[..], i % block), load(&log_walsh[..], i));
                let product = add_mod(_mm256_mullo_epi16(e, f), _mm256_mulhi_epu16(e, f));
                store(&mut erasures[..], i, product);
            }
            fwht(&mut erasures[..]);
        }
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

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_eval_poly_is_the_crates() {
        if !crate::kernels::runnable("rs::locator avx2", crate::kernels::Backend::Avx2, crate::kernels::Feature::Avx2) {
            return;
        }
        for (n, truncated) in [
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
        ] {
            for flags in [true, false] {
                let want = {
                    let mut e = pattern(n, n as u64 + 7, flags);
                    utils::eval_poly(&mut e, truncated);
                    e
                };
                let mut got = pattern(n, n as u64 + 7, flags);
                // SAFETY: runnable() checked AVX2.
                unsafe { avx2::eval_poly(&mut got, truncated) };
                assert!(got[..] == want[..], "n={n} truncated={truncated} flags={flags}");
            }
        }
        // Nonzero inputs past `truncated_size` (not what the decoder passes)
        // take the crate's code, and still agree.
        let mut want = pattern(200, 3, true);
        let mut got = want.clone();
        utils::eval_poly(&mut want, 64);
        // SAFETY: as above.
        unsafe { avx2::eval_poly(&mut got, 64) };
        assert!(got[..] == want[..]);
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
