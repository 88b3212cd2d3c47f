//! Sixteen messages at once, one per 32-bit lane of AVX-512 registers.

use std::arch::x86_64::*;

use super::engine::{IV, K, Lanes, Plan, Run};
use super::{Digest, Pieces};

const LANES: usize = 16;

/// The chaining values of all lanes: `words[j][lane]`.
#[repr(C, align(64))]
pub(super) struct X16 {
    words: [[u32; LANES]; 8],
}

impl Lanes<LANES> for X16 {
    fn new() -> Self {
        X16 { words: IV.map(|w| [w; LANES]) }
    }

    fn start(&mut self, lane: usize) {
        for (w, iv) in self.words.iter_mut().zip(IV) {
            w[lane] = iv;
        }
    }

    unsafe fn compress(&mut self, blocks: &[*const u8; LANES]) {
        // SAFETY: forwarded from the caller (AVX-512F and BW, readable blocks).
        unsafe { compress(self, blocks) }
    }

    unsafe fn hash_group(&mut self, plan: &Plan, group: &[Pieces<'_>; LANES], count: usize, ahead: &[Pieces<'_>]) {
        // SAFETY: forwarded from the caller (AVX-512F and BW, messages of
        // the plan's shape).
        unsafe { hash_group(self, plan, group, count, ahead) }
    }

    fn digest(&self, lane: usize) -> Digest {
        let mut d = [0u8; 32];
        for (o, w) in d.chunks_exact_mut(4).zip(&self.words) {
            o.copy_from_slice(&w[lane].to_be_bytes());
        }
        d
    }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn add(a: __m512i, b: __m512i) -> __m512i {
    _mm512_add_epi32(a, b)
}

#[inline]
#[target_feature(enable = "avx512f")]
fn xor3(a: __m512i, b: __m512i, c: __m512i) -> __m512i {
    _mm512_ternarylogic_epi32::<0x96>(a, b, c)
}

#[inline]
#[target_feature(enable = "avx512f")]
fn big_sigma0(x: __m512i) -> __m512i {
    xor3(_mm512_ror_epi32::<2>(x), _mm512_ror_epi32::<13>(x), _mm512_ror_epi32::<22>(x))
}

#[inline]
#[target_feature(enable = "avx512f")]
fn big_sigma1(x: __m512i) -> __m512i {
    xor3(_mm512_ror_epi32::<6>(x), _mm512_ror_epi32::<11>(x), _mm512_ror_epi32::<25>(x))
}

#[inline]
#[target_feature(enable = "avx512f")]
fn small_sigma0(x: __m512i) -> __m512i {
    xor3(_mm512_ror_epi32::<7>(x), _mm512_ror_epi32::<18>(x), _mm512_srli_epi32::<3>(x))
}

#[inline]
#[target_feature(enable = "avx512f")]
fn small_sigma1(x: __m512i) -> __m512i {
    xor3(_mm512_ror_epi32::<17>(x), _mm512_ror_epi32::<19>(x), _mm512_srli_epi32::<10>(x))
}

/// Every block of the first `count` messages of `group` (all of `plan`'s
/// shape) into lanes `0..count`. Each lane's block is loaded straight into
/// its row of registers: in place, or, where it straddles pieces or holds
/// padding, as the plan's padding template with each piece's bytes loaded
/// over it under a byte mask, so no block is pieced together in memory and
/// read back. Each block of `ahead` (the next group) is asked for as the
/// same block of this group is read, one group (about 1.5 us for a leaf)
/// before it is needed.
///
/// Measured on AMD Zen 5, NMT root of 65,536 leaves of 512 bytes, one
/// thread, best of 7 runs with the two builds alternating: 13.2 -> 12.1 ms
/// (cold leaves) and 10.8 -> 10.5 ms (one leaf, in cache) against the
/// engine's copies into buffers and the first 320 bytes of the next group
/// asked for at once. The masked loads alone made cold leaves slower
/// (13.5 -> 14.5 ms); asking for two groups ahead, into L2 only, or for
/// each segment's first line only, measured no better.
///
/// # Safety
/// The CPU must support AVX-512F and BW; each message of `group[..count]`
/// must have the pieces' lengths `plan` was made for (`ahead` may have any).
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn hash_group(state: &mut X16, plan: &Plan, group: &[Pieces<'_>; LANES], count: usize, ahead: &[Pieces<'_>]) {
    // Lanes from `count` on keep whatever rows they last had: their
    // digests are never read.
    let mut rows = [_mm512_setzero_si512(); LANES];
    for run in &plan.runs {
        match *run {
            Run::InPlace { piece, off, blocks } => {
                for at in (off..).step_by(64).take(blocks) {
                    for (r, p) in rows.iter_mut().zip(&group[..count]) {
                        // SAFETY: the block is 64 bytes inside the piece.
                        *r = unsafe { _mm512_loadu_si512(p[piece][at..][..64].as_ptr().cast()) };
                    }
                    for p in ahead {
                        prefetch(p[piece], at);
                    }
                    compress_rows(state, &rows);
                }
            }
            Run::Padding { ref template } => {
                // SAFETY: the template is 64 bytes.
                rows = [unsafe { _mm512_loadu_si512(template.as_ptr().cast()) }; LANES];
                compress_rows(state, &rows);
            }
            Run::Assembled { ref template, ref segments, used } => {
                // SAFETY: the template is 64 bytes.
                let template = unsafe { _mm512_loadu_si512(template.as_ptr().cast()) };
                for (r, p) in rows.iter_mut().zip(&group[..count]) {
                    let mut row = template;
                    for s in &segments[..used] {
                        let bytes = &p[s.piece][s.from..s.from + s.len];
                        // Bytes `to..to + len` of the block, from the piece.
                        let mask = (u64::MAX >> (64 - s.len)) << s.to;
                        let base = bytes.as_ptr().wrapping_sub(s.to);
                        // SAFETY: only the bytes the mask selects are read
                        // (a masked-off byte is not accessed and cannot
                        // fault), and they are `bytes`, inside the piece;
                        // a segment is 1 to 63 bytes ending by byte 64.
                        row = unsafe { _mm512_mask_loadu_epi8(row, mask, base.cast()) };
                    }
                    *r = row;
                }
                for p in ahead {
                    for s in &segments[..used] {
                        prefetch(p[s.piece], s.from);
                        prefetch(p[s.piece], s.from + s.len - 1);
                    }
                }
                compress_rows(state, &rows);
            }
        }
    }
}

/// Asks for the cache line holding `piece[at]`.
#[inline(always)]
fn prefetch(piece: &[u8], at: usize) {
    // SAFETY: prefetching is a hint; it never faults.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(piece.as_ptr().wrapping_add(at).cast()) };
}

/// 16 blocks of 16 big-endian words -> word `j` of every lane in `w[j]`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn transpose(r: &[__m512i; LANES]) -> [__m512i; 16] {
    let mut t = [_mm512_setzero_si512(); 16];
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    // u[4g + c], 128-bit lane k: rows 4g..4g+4 of column 4k + c.
    let mut u = [_mm512_setzero_si512(); 16];
    for g in 0..4 {
        let (a, b) = (4 * g, 4 * g + 2);
        u[4 * g] = _mm512_unpacklo_epi64(t[a], t[b]);
        u[4 * g + 1] = _mm512_unpackhi_epi64(t[a], t[b]);
        u[4 * g + 2] = _mm512_unpacklo_epi64(t[a + 1], t[b + 1]);
        u[4 * g + 3] = _mm512_unpackhi_epi64(t[a + 1], t[b + 1]);
    }
    let swap = _mm512_broadcast_i32x4(_mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3));
    let mut w = [_mm512_setzero_si512(); 16];
    for c in 0..4 {
        let v0 = _mm512_shuffle_i32x4::<0x88>(u[c], u[4 + c]);
        let v1 = _mm512_shuffle_i32x4::<0xDD>(u[c], u[4 + c]);
        let v2 = _mm512_shuffle_i32x4::<0x88>(u[8 + c], u[12 + c]);
        let v3 = _mm512_shuffle_i32x4::<0xDD>(u[8 + c], u[12 + c]);
        w[c] = _mm512_shuffle_epi8(_mm512_shuffle_i32x4::<0x88>(v0, v2), swap);
        w[4 + c] = _mm512_shuffle_epi8(_mm512_shuffle_i32x4::<0x88>(v1, v3), swap);
        w[8 + c] = _mm512_shuffle_epi8(_mm512_shuffle_i32x4::<0xDD>(v0, v2), swap);
        w[12 + c] = _mm512_shuffle_epi8(_mm512_shuffle_i32x4::<0xDD>(v1, v3), swap);
    }
    w
}

/// `x` unchanged, but opaque to the optimiser, so that it cannot
/// reassociate the sums around it: each round is ordered by hand for
/// latency (below), and LLVM's own order (measured on AMD Zen 5, where a
/// ZMM add, rotate or ternlog takes two cycles) made the chain through `e`
/// ten cycles long instead of six: 766 -> 630 cycles per compression.
#[inline]
#[target_feature(enable = "avx512f")]
fn opaque(mut x: __m512i) -> __m512i {
    // SAFETY: an empty template: no instruction, no memory or flags
    // touched; the register is passed through unchanged.
    unsafe { std::arch::asm!("/* {0} */", inout(zmm_reg) x, options(pure, nomem, nostack, preserves_flags)) };
    x
}

/// One round. Everything that does not depend on this round's `e` or `a`
/// is summed first (`hwk`, and `d + hwk` for the new `e`), so the new `e`
/// is two adds after `Ch(e, f, g)` and `Σ1(e)`. `T1` is then the new `e`
/// minus `d`, one op instead of summing it again, and the new `a` is
/// `T1 + Maj(a, b, c) + Σ0(a)`: 18 ops a round. The chain through `e`
/// stays three ops a round; the new `a` trails it and is needed (as `d`)
/// only three rounds later. On Intel Emerald Rapids, where ZMM rotates
/// issue on one port and everything else on two (not four, as on AMD Zen
/// 5), each op counts: one fewer a round took 2-3% off a compression
/// (27.4 -> 26.6 ns per block of 542-byte messages, medians).
macro_rules! round {
    ($a:ident, $b:ident, $c:ident, $d:ident, $e:ident, $f:ident, $g:ident, $h:ident, $w:ident, $i:expr) => {
        if $i >= 16 {
            let i = $i & 15;
            $w[i] =
                add(add(small_sigma1($w[(i + 14) & 15]), $w[(i + 9) & 15]), add(small_sigma0($w[(i + 1) & 15]), $w[i]));
        }
        let hwk = opaque(add(*$h, add($w[$i & 15], _mm512_set1_epi32(K[$i] as i32))));
        let ch = _mm512_ternarylogic_epi32::<0xCA>(*$e, *$f, *$g);
        let s1 = big_sigma1(*$e);
        let maj = _mm512_ternarylogic_epi32::<0xE8>(*$a, *$b, *$c);
        let d = *$d;
        let e = add(opaque(add(opaque(add(d, hwk)), ch)), s1);
        *$d = e;
        *$h = add(opaque(add(opaque(_mm512_sub_epi32(e, d)), maj)), big_sigma0(*$a));
    };
}

macro_rules! rounds8 {
    ($a:ident, $b:ident, $c:ident, $d:ident, $e:ident, $f:ident, $g:ident, $h:ident, $w:ident, $i:expr) => {
        let (a, b, c, d, e, f, g, h) = (&mut $a, &mut $b, &mut $c, &mut $d, &mut $e, &mut $f, &mut $g, &mut $h);
        round!(a, b, c, d, e, f, g, h, $w, $i);
        round!(h, a, b, c, d, e, f, g, $w, $i + 1);
        round!(g, h, a, b, c, d, e, f, $w, $i + 2);
        round!(f, g, h, a, b, c, d, e, $w, $i + 3);
        round!(e, f, g, h, a, b, c, d, $w, $i + 4);
        round!(d, e, f, g, h, a, b, c, $w, $i + 5);
        round!(c, d, e, f, g, h, a, b, $w, $i + 6);
        round!(b, c, d, e, f, g, h, a, $w, $i + 7);
    };
}

/// One compression of every lane, lane `l`'s block at `blocks[l]`.
///
/// # Safety
/// The CPU must support AVX-512F and BW; each pointer in `blocks` must
/// point to 64 readable bytes.
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn compress(state: &mut X16, blocks: &[*const u8; LANES]) {
    let mut rows = [_mm512_setzero_si512(); LANES];
    for (r, &b) in rows.iter_mut().zip(blocks) {
        // SAFETY: the caller passes pointers to 64 readable bytes.
        *r = unsafe { _mm512_loadu_si512(b.cast()) };
    }
    compress_rows(state, &rows);
}

/// One compression of every lane, lane `l`'s block in `rows[l]`.
#[inline(never)]
#[target_feature(enable = "avx512f,avx512bw")]
fn compress_rows(state: &mut X16, rows: &[__m512i; LANES]) {
    let mut w = transpose(rows);
    let mut init = [_mm512_setzero_si512(); 8];
    for (v, words) in init.iter_mut().zip(&state.words) {
        // SAFETY: `words` is 64 bytes inside the 64-aligned X16.
        *v = unsafe { _mm512_load_si512(words.as_ptr().cast()) };
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = init;
    rounds8!(a, b, c, d, e, f, g, h, w, 0);
    rounds8!(a, b, c, d, e, f, g, h, w, 8);
    rounds8!(a, b, c, d, e, f, g, h, w, 16);
    rounds8!(a, b, c, d, e, f, g, h, w, 24);
    rounds8!(a, b, c, d, e, f, g, h, w, 32);
    rounds8!(a, b, c, d, e, f, g, h, w, 40);
    rounds8!(a, b, c, d, e, f, g, h, w, 48);
    rounds8!(a, b, c, d, e, f, g, h, w, 56);
    for ((words, v), i) in state.words.iter_mut().zip([a, b, c, d, e, f, g, h]).zip(init) {
        // SAFETY: as for the load above.
        unsafe { _mm512_store_si512(words.as_mut_ptr().cast(), add(v, i)) };
    }
}
