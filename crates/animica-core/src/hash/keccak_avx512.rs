//! Keccak-f[1600] on AVX-512, one state in five registers.
//!
//! Register `p[y]` holds plane `y` of the state: lane `x` is `A[x][y]`
//! (lanes 5 to 7 carry nothing the result reads). A round is then:
//!
//! - theta: the column parities are two three-way XORs (`vpternlogq`) of
//!   the planes, their neighbours two lane permutations, and each plane
//!   takes `D` in one more three-way XOR;
//! - rho: one variable rotate per plane (`vprolvq`);
//! - pi: the output plane `Y` is the diagonal `A[(X + 3Y) % 5][X]`. Five
//!   blends first gather the skewed diagonals `U[j][x] = A[x][(x + j) % 5]`
//!   (lane `x` from plane `(x + j) % 5`); each output plane is then one
//!   lane permutation of one of them;
//! - chi: `a ^ (!a[x + 1] & a[x + 2])` is one `vpternlogq` of three
//!   permutations of the same skewed diagonal, so the three run side by
//!   side instead of after each other;
//! - iota: one XOR into lane 0 of plane 0, folded into the next round's
//!   theta so that it is off the round's chain of dependent instructions.
//!
//! About 55 vector instructions a round, none of them a load or store.

use std::arch::x86_64::*;

use super::keccak::{RATE, RC};

/// How far ahead of the block being absorbed its successors are fetched.
const PREFETCH: usize = 4 * RATE;

/// `vpternlogq` truth tables (operands a = 0xF0, b = 0xCC, c = 0xAA).
const XOR3: i32 = 0x96;
/// `a ^ (!b & c)`, Keccak's chi.
const CHI: i32 = 0xD2;

/// Rho's rotation of lane `x` of plane `y`.
const RHO: [[u64; 8]; 5] = [
    [0, 1, 62, 28, 27, 0, 0, 0],
    [36, 44, 6, 55, 20, 0, 0, 0],
    [3, 10, 43, 25, 39, 0, 0, 0],
    [41, 45, 15, 21, 8, 0, 0, 0],
    [18, 2, 61, 56, 14, 0, 0, 0],
];

/// `ROT[k]`: the permutation that puts lane `(x + k) % 5` in lane `x`
/// (lanes 5 to 7 stay where they are).
const ROT: [[u64; 8]; 5] = {
    let mut rot = [[0u64; 8]; 5];
    let mut k = 0;
    while k < 5 {
        let mut x = 0;
        while x < 8 {
            rot[k][x] = if x < 5 { ((x + k) % 5) as u64 } else { x as u64 };
            x += 1;
        }
        k += 1;
    }
    rot
};

#[inline(always)]
fn vector(v: [u64; 8]) -> __m512i {
    // SAFETY: __m512i is 64 plain bytes, as is [u64; 8].
    unsafe { std::mem::transmute::<[u64; 8], __m512i>(v) }
}

/// The skewed diagonal `J`: lane `x` from plane `(x + J) % 5`, so plane
/// `y` supplies lane `(y - J) % 5`.
#[inline]
#[target_feature(enable = "avx512f")]
fn skewed<const J: usize>(p: &[__m512i; 5]) -> __m512i {
    // A tree of blends, three deep (a chain would be four): written out,
    // because a loop here is left rolled for some J.
    let low = _mm512_mask_blend_epi64(0b00010, p[J], p[(J + 1) % 5]);
    let high = _mm512_mask_blend_epi64(0b01000, p[(J + 2) % 5], p[(J + 3) % 5]);
    let high = _mm512_mask_blend_epi64(0b10000, high, p[(J + 4) % 5]);
    _mm512_mask_blend_epi64(0b11100, low, high)
}

/// Pi's output plane from skewed diagonal `d` (moved by `ROT[K]`), with
/// chi: `a ^ (!a[x + 1] & a[x + 2])`, its three inputs permuted from `d`
/// side by side.
#[inline]
#[target_feature(enable = "avx512f")]
fn chi<const K: usize>(d: __m512i, rot: &[__m512i; 5]) -> __m512i {
    let moved = |k: usize| if k.is_multiple_of(5) { d } else { _mm512_permutexvar_epi64(rot[k % 5], d) };
    _mm512_ternarylogic_epi64::<CHI>(moved(K), moved(K + 1), moved(K + 2))
}

/// The 24 rounds on the planes.
///
/// A round is one long chain of dependent instructions (a permutation
/// costs 2.5 times a logic instruction on AMD Zen 5), so iota's XOR is
/// kept off it: a round's constant is folded into the next round's theta
/// (its column parity and plane 0's XOR), and the last one is XORed in at
/// the end.
#[inline]
#[target_feature(enable = "avx512f")]
fn permute(p: &mut [__m512i; 5]) {
    let rot = ROT.map(vector);
    let rho = RHO.map(vector);
    let rho1 = RHO.map(|r| vector(r.map(|n| (n + 1) % 64)));
    let mut iota = _mm512_setzero_si512();
    for &rc in &RC {
        // Theta, with the previous round's iota.
        let c = _mm512_ternarylogic_epi64::<XOR3>(
            _mm512_ternarylogic_epi64::<XOR3>(p[0], p[1], p[2]),
            p[3],
            _mm512_xor_si512(p[4], iota),
        );
        let before = _mm512_permutexvar_epi64(rot[4], c);
        let after = _mm512_permutexvar_epi64(rot[1], c);
        // Theta's last XOR and rho, rotated first: rol(p ^ before ^
        // rol(after, 1), r) is rol(p, r) ^ rol(before, r) ^ rol(after, r + 1),
        // and rol(p, r) does not wait for the column parity. Lane 0 of
        // plane 0 is not rotated, so iota joins rol(p, r) there.
        let mut a = *p;
        for (y, plane) in a.iter_mut().enumerate() {
            let mut early = _mm512_rolv_epi64(*plane, rho[y]);
            if y == 0 {
                early = _mm512_xor_si512(early, iota);
            }
            let late = (_mm512_rolv_epi64(before, rho[y]), _mm512_rolv_epi64(after, rho1[y]));
            *plane = _mm512_ternarylogic_epi64::<XOR3>(early, late.0, late.1);
        }
        // Pi: output plane y is skewed diagonal (5 - k) % 5 moved by
        // ROT[k], where k = 3y % 5; then chi.
        let (u0, u1, u2, u3, u4) =
            (skewed::<0>(&a), skewed::<1>(&a), skewed::<2>(&a), skewed::<3>(&a), skewed::<4>(&a));
        p[0] = chi::<0>(u0, &rot);
        p[1] = chi::<3>(u2, &rot);
        p[2] = chi::<1>(u4, &rot);
        p[3] = chi::<4>(u1, &rot);
        p[4] = chi::<2>(u3, &rot);
        iota = _mm512_maskz_set1_epi64(1, rc as i64);
    }
    p[0] = _mm512_xor_si512(p[0], iota);
}

/// XORs each `RATE`-byte block of `blocks` into `state` and permutes (a
/// trailing partial block is ignored).
///
/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn absorb(state: &mut [u64; 25], blocks: &[u8]) {
    let mut p = [0usize, 1, 2, 3, 4].map(|y| {
        // SAFETY: lanes 5y..5y+5 of the 25 (the mask reads 5).
        unsafe { _mm512_maskz_loadu_epi64(0x1f, state.as_ptr().add(5 * y).cast()) }
    });
    for block in blocks.chunks_exact(RATE) {
        // A permutation is over a thousand instructions, more than the
        // out-of-order window, so the next blocks' loads cannot start
        // early by themselves: ask for them a few blocks ahead.
        for line in [0, 64, 128] {
            _mm_prefetch::<_MM_HINT_T0>(block.as_ptr().wrapping_add(PREFETCH + line).cast());
        }
        // The 17 words of a block: planes 0 to 2 whole, two lanes of plane 3.
        for (y, mask) in [(0usize, 0x1f_u8), (1, 0x1f), (2, 0x1f), (3, 0x03)] {
            // SAFETY: the mask reads words 5y..5y+popcount(mask) of the
            // block's 17 (at most 16 + 1 = word 16).
            let w = unsafe { _mm512_maskz_loadu_epi64(mask, block.as_ptr().add(40 * y).cast()) };
            p[y] = _mm512_xor_si512(p[y], w);
        }
        permute(&mut p);
    }
    for (y, plane) in p.iter().enumerate() {
        // SAFETY: writes lanes 5y..5y+5 of the 25 (the mask writes 5).
        unsafe { _mm512_mask_storeu_epi64(state.as_mut_ptr().add(5 * y).cast(), 0x1f, *plane) };
    }
}
