//! Keccak-f[1600] on AVX-512, one state lane per vector register.
//!
//! The 25 lanes live in 25 of the 32 vector registers AVX-512 gives (only
//! the low 64 bits of each are used), and the round is the scalar one
//! written with AVX-512's three-input logic and immediate rotates:
//!
//! - theta: each column parity is two three-way XORs (`vpternlogq`), and
//!   each lane takes `c[x - 1] ^ rotl(c[x + 1], 1)` in one more;
//! - rho: one immediate rotate (`vprolq`) per lane; pi is only which
//!   register feeds which, at no cost;
//! - chi: `a ^ (!b & c)` is one `vpternlogq`;
//! - iota: folded into the next round's theta, off the chain.
//!
//! About 90 instructions a round, and its chain of dependent ones is six
//! long (two XOR levels, the parity's rotate, theta's XOR, rho, chi). On
//! AMD Zen 5, where every vector instruction takes two cycles and a lane
//! permutation five, that chain is 12 cycles, against about 26 for the
//! state kept as five planes (lane permutations for theta, pi and chi),
//! which this replaced: 64 MiB took 100 ms that way and 93 ms this way.
//! Measured, a round takes about 35 cycles, not the 12 of its chain: its
//! 29 rotates issue on two of the four vector pipes, and they sit between
//! the five column parities, which every lane waits for, and chi.
//! Nothing is spilled: the only load in a round is its constant.

use std::arch::x86_64::*;

use super::keccak_params::{RATE, RC};

/// How far ahead of the block being absorbed its successors are fetched.
const PREFETCH: usize = 4 * RATE;

/// A lane, in the low 64 bits.
type Lane = __m128i;

#[inline]
#[target_feature(enable = "avx512f,avx512vl")]
fn xor3(a: Lane, b: Lane, c: Lane) -> Lane {
    _mm_ternarylogic_epi64::<0x96>(a, b, c)
}

/// Keccak's chi for one lane: `a ^ (!b & c)`.
#[inline]
#[target_feature(enable = "avx512f,avx512vl")]
fn chi(a: Lane, b: Lane, c: Lane) -> Lane {
    _mm_ternarylogic_epi64::<0xD2>(a, b, c)
}

/// One round on lanes `a[x + 5y]`, except for iota, whose constant is
/// left for the next round to fold in: `iota` is the previous round's (in
/// the low 64 bits; zero before the first round) and belongs to lane 0.
/// There it joins theta in operations that wait on nothing else (the
/// parity of column 0 and lane 0's own XOR), so it adds no step to the
/// chain; applied after chi, it would add one to every round.
#[inline]
#[target_feature(enable = "avx512f,avx512vl")]
fn round(a: &mut [Lane; 25], iota: Lane) {
    let a0 = _mm_xor_si128(a[0], iota);
    let c = [0, 1, 2, 3, 4].map(|x| {
        let low = xor3(a[x], a[x + 5], a[x + 10]);
        if x == 0 { _mm_xor_si128(low, xor3(a[15], a[20], iota)) } else { xor3(low, a[x + 15], a[x + 20]) }
    });
    let r = c.map(|c| _mm_rol_epi64::<1>(c));
    // Lane `i`'s theta: a ^ c[x - 1] ^ rotl(c[x + 1], 1), x = i % 5.
    macro_rules! theta {
        ($i:expr) => {
            xor3(a[$i], c[($i + 4) % 5], r[($i + 1) % 5])
        };
        ($i:expr, $rot:literal) => {
            _mm_rol_epi64::<$rot>(theta!($i))
        };
    }
    // B[y][2x + 3y] = rotl(A[x][y] ^ D[x], r[x][y]), output plane by plane.
    let b = [
        xor3(a0, c[4], r[1]),
        theta!(6, 44),
        theta!(12, 43),
        theta!(18, 21),
        theta!(24, 14),
        theta!(3, 28),
        theta!(9, 20),
        theta!(10, 3),
        theta!(16, 45),
        theta!(22, 61),
        theta!(1, 1),
        theta!(7, 6),
        theta!(13, 25),
        theta!(19, 8),
        theta!(20, 18),
        theta!(4, 27),
        theta!(5, 36),
        theta!(11, 10),
        theta!(17, 15),
        theta!(23, 56),
        theta!(2, 62),
        theta!(8, 55),
        theta!(14, 39),
        theta!(15, 41),
        theta!(21, 2),
    ];
    for y in 0..5 {
        let p = &b[5 * y..5 * y + 5];
        for x in 0..5 {
            a[5 * y + x] = chi(p[x], p[(x + 1) % 5], p[(x + 2) % 5]);
        }
    }
}

/// XORs each `RATE`-byte block of `blocks` into `state` and permutes (a
/// trailing partial block is ignored).
///
/// # Safety
/// The CPU must have AVX-512F and VL.
#[target_feature(enable = "avx512f,avx512vl")]
pub(super) unsafe fn absorb(state: &mut [u64; 25], blocks: &[u8]) {
    let rc = RC.map(|k| _mm_cvtsi64_si128(k as i64));
    let mut a = state.map(|w| _mm_cvtsi64_si128(w as i64));
    for block in blocks.chunks_exact(RATE) {
        // The permutation is about two thousand instructions, more than
        // the out-of-order window, so the next blocks' loads cannot start
        // early by themselves: ask for them a few blocks ahead.
        for line in [0, 64, 128] {
            _mm_prefetch::<_MM_HINT_T0>(block.as_ptr().wrapping_add(PREFETCH + line).cast());
        }
        for (a, w) in a.iter_mut().zip(block.chunks_exact(8)) {
            // SAFETY: `w` is 8 readable bytes; the load reads exactly 8.
            *a = _mm_xor_si128(*a, unsafe { _mm_loadl_epi64(w.as_ptr().cast()) });
        }
        let mut iota = _mm_setzero_si128();
        for &rc in &rc {
            round(&mut a, iota);
            iota = rc;
        }
        a[0] = _mm_xor_si128(a[0], iota);
    }
    for (s, a) in state.iter_mut().zip(a) {
        *s = _mm_cvtsi128_si64(a) as u64;
    }
}
