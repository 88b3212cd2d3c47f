//! SHA-256 of many independent messages at once.
//!
//! One message is a chain of dependent compressions, so SHA-NI (what
//! `sha2` uses) is bound by latency. Many short messages — batches, Merkle
//! leaves, Merkle levels — have no such chain between them: with AVX-512,
//! sixteen messages advance together, one per 32-bit lane, and each
//! instruction does sixteen messages' worth of work. A lane that finishes
//! its message takes the next one, so messages of different lengths keep
//! every lane busy until the queue runs dry.
//!
//! A message is given as up to three pieces (`prefix`, `a`, `b`) that are
//! hashed as their concatenation, which is exactly what the NMT needs
//! (`0x00 || ns || leaf`, `0x01 || left || right`) without copying.

use sha2::{Digest as _, Sha256};

use super::Digest;
use super::batch::DigestSlot;

/// A message: the concatenation of its pieces.
pub(crate) type Pieces<'a> = [&'a [u8]; 3];

/// Below this many messages most of the 16 lanes would compress padding,
/// and SHA-NI one message at a time is expected to win. An estimate, not
/// a measured crossover: no benchmark in this repository sweeps it yet.
#[cfg(all(target_arch = "x86_64", feature = "simd"))]
const LANES_MIN: usize = 6;

/// SHA-256 of the concatenation of `pieces`, on the scalar / SHA-NI path.
pub(crate) fn sha256_pieces(pieces: Pieces<'_>) -> Digest {
    let mut h = Sha256::new();
    for p in pieces {
        h.update(p);
    }
    h.finalize().into()
}

/// Writes the SHA-256 of message `i` (`message(i)`) to `out[i]` for every
/// `i < out.len()`.
pub(crate) fn sha256_batch<'a, S: DigestSlot>(message: impl Fn(usize) -> Pieces<'a>, out: &mut [S]) {
    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    if out.len() >= LANES_MIN && x16::available() {
        // SAFETY: `available` checked that this CPU has AVX-512F and BW.
        unsafe { x16::run(&message, out) };
        return;
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o.slot() = sha256_pieces(message(i));
    }
}

/// Where one lane stands in its message.
#[cfg(all(target_arch = "x86_64", feature = "simd"))]
#[derive(Clone, Copy)]
struct Cursor<'a> {
    index: usize,
    pieces: Pieces<'a>,
    len: usize,
    block: usize,
    blocks: usize,
}

#[cfg(all(target_arch = "x86_64", feature = "simd"))]
impl<'a> Cursor<'a> {
    fn new(index: usize, pieces: Pieces<'a>) -> Self {
        let len = pieces.iter().map(|p| p.len()).sum();
        // The message, a 0x80 byte and a 64-bit length, rounded up.
        Cursor { index, pieces, len, block: 0, blocks: (len + 8) / 64 + 1 }
    }

    /// The current 64-byte block: read in place when it lies inside one
    /// piece, else assembled (with padding) in `buf`.
    fn block(&self, buf: &mut [u8; 64]) -> *const u8 {
        let start = self.block * 64;
        let end = start + 64;
        let mut off = 0;
        if end <= self.len {
            for p in self.pieces {
                if start >= off && end <= off + p.len() {
                    return p[start - off..].as_ptr();
                }
                off += p.len();
            }
            off = 0;
        }
        buf.fill(0);
        for p in self.pieces {
            let (lo, hi) = (start.max(off), end.min(off + p.len()));
            if lo < hi {
                buf[lo - start..hi - start].copy_from_slice(&p[lo - off..hi - off]);
            }
            off += p.len();
        }
        if (start..end).contains(&self.len) {
            buf[self.len - start] = 0x80;
        }
        if self.block + 1 == self.blocks {
            buf[56..].copy_from_slice(&((self.len as u64) << 3).to_be_bytes());
        }
        buf.as_ptr()
    }
}

#[cfg(all(target_arch = "x86_64", feature = "simd"))]
mod x16 {
    use std::arch::x86_64::*;

    use super::{Cursor, DigestSlot, Pieces};

    const LANES: usize = 16;

    const IV: [u32; 8] =
        [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
        0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
        0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
        0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
        0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
        0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
        0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];

    /// What idle lanes compress once the queue is empty; results dropped.
    static IDLE: [u8; 64] = [0; 64];

    pub(super) fn available() -> bool {
        crate::kernels::has("avx512")
    }

    /// The chaining values of all lanes: `words[j][lane]`.
    #[repr(C, align(64))]
    struct State {
        words: [[u32; LANES]; 8],
    }

    /// # Safety
    /// The CPU must support AVX-512F and AVX-512BW.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn run<'a, S: DigestSlot>(message: &impl Fn(usize) -> Pieces<'a>, out: &mut [S]) {
        let mut state = State { words: [[0; LANES]; 8] };
        let mut lanes: [Option<Cursor<'a>>; LANES] = [None; LANES];
        let mut bufs = [[0u8; 64]; LANES];
        let mut next = 0;
        loop {
            let mut busy = false;
            for (l, lane) in lanes.iter_mut().enumerate() {
                if lane.is_none() && next < out.len() {
                    *lane = Some(Cursor::new(next, message(next)));
                    for (w, iv) in state.words.iter_mut().zip(IV) {
                        w[l] = iv;
                    }
                    next += 1;
                }
                busy |= lane.is_some();
            }
            if !busy {
                return;
            }
            let mut blocks = [IDLE.as_ptr(); LANES];
            for ((b, lane), buf) in blocks.iter_mut().zip(&lanes).zip(&mut bufs) {
                if let Some(c) = lane {
                    *b = c.block(buf);
                }
            }
            for b in blocks {
                // Long messages are read as sixteen interleaved streams,
                // too many for the hardware prefetchers to follow: ask
                // for each lane's next block while this one compresses.
                _mm_prefetch::<_MM_HINT_T0>(b.wrapping_add(256).cast());
            }
            // SAFETY: every pointer is to 64 readable bytes: a block inside
            // a piece, a lane's buffer, or IDLE, none written meanwhile.
            unsafe { compress(&mut state, &blocks) };
            for (l, lane) in lanes.iter_mut().enumerate() {
                let Some(c) = lane else { continue };
                c.block += 1;
                if c.block == c.blocks {
                    let o = out[c.index].slot();
                    for (j, w) in state.words.iter().enumerate() {
                        o[4 * j..4 * j + 4].copy_from_slice(&w[l].to_be_bytes());
                    }
                    *lane = None;
                }
            }
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

    /// 16 blocks of 16 big-endian words -> word `j` of every lane in `w[j]`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    unsafe fn load_transposed(blocks: &[*const u8; LANES]) -> [__m512i; 16] {
        let mut r = [_mm512_setzero_si512(); 16];
        for (r, &b) in r.iter_mut().zip(blocks) {
            // SAFETY: the caller passes pointers to 64 readable bytes.
            *r = unsafe { _mm512_loadu_si512(b.cast()) };
        }
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

    macro_rules! round {
        ($a:ident, $b:ident, $c:ident, $d:ident, $e:ident, $f:ident, $g:ident, $h:ident, $w:ident, $i:expr) => {
            if $i >= 16 {
                let i = $i & 15;
                $w[i] = add(
                    add(small_sigma1($w[(i + 14) & 15]), $w[(i + 9) & 15]),
                    add(small_sigma0($w[(i + 1) & 15]), $w[i]),
                );
            }
            let t1 = add(
                add(*$h, big_sigma1(*$e)),
                add(
                    _mm512_ternarylogic_epi32::<0xCA>(*$e, *$f, *$g),
                    add($w[$i & 15], _mm512_set1_epi32(K[$i] as i32)),
                ),
            );
            let t2 = add(big_sigma0(*$a), _mm512_ternarylogic_epi32::<0xE8>(*$a, *$b, *$c));
            *$d = add(*$d, t1);
            *$h = add(t1, t2);
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

    /// One compression of every lane.
    ///
    /// # Safety
    /// Each pointer in `blocks` must point to 64 readable bytes.
    #[target_feature(enable = "avx512f,avx512bw")]
    unsafe fn compress(state: &mut State, blocks: &[*const u8; LANES]) {
        // SAFETY: forwarded from the caller.
        let mut w = unsafe { load_transposed(blocks) };
        let mut init = [_mm512_setzero_si512(); 8];
        for (v, words) in init.iter_mut().zip(&state.words) {
            // SAFETY: `words` is 64 bytes inside the 64-aligned State.
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u8) -> Vec<u8> {
        (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
    }

    /// The 16-lane kernel itself (not the dispatch, which falls back to
    /// sha2 and would compare sha2 with sha2 on a CPU without AVX-512).
    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    fn lanes<'a>(message: impl Fn(usize) -> Pieces<'a>, n: usize) -> Option<Vec<[u8; 32]>> {
        if !crate::kernels::runnable("sha256_lanes", "avx512") {
            return None;
        }
        let mut out = vec![[0u8; 32]; n];
        // SAFETY: `runnable` checked that this CPU has AVX-512F and BW.
        unsafe { x16::run(&message, &mut out) };
        Some(out)
    }

    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    #[test]
    fn every_length_and_split_matches_sha2() {
        let msgs: Vec<Vec<u8>> = (0..300).map(|n| data(n, n as u8)).collect();
        // Pieces cut at varying points, so blocks straddle piece borders.
        let pieces = |i: usize| -> Pieces<'_> {
            let m = &msgs[i];
            let a = (i * 7) % (m.len() + 1);
            let b = a + (m.len() - a) / 3;
            [&m[..a], &m[a..b], &m[b..]]
        };
        let Some(out) = lanes(pieces, msgs.len()) else { return };
        for (m, o) in msgs.iter().zip(&out) {
            assert_eq!(o, &<[u8; 32]>::from(Sha256::digest(m)), "length {}", m.len());
        }
    }

    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    #[test]
    fn uneven_lengths_refill_lanes() {
        let lens = [0usize, 5000, 1, 64, 55, 56, 119, 120, 3000, 17, 0, 640, 63, 1, 2, 9999, 128, 127, 4, 200];
        let msgs: Vec<Vec<u8>> = lens.iter().enumerate().map(|(i, &n)| data(n, i as u8)).collect();
        // Fewer messages than lanes too: idle lanes must not leak into results.
        for count in [1, 5, 16, msgs.len()] {
            let Some(out) = lanes(|i| [&msgs[i][..], &[], &[]], count) else { return };
            for (m, o) in msgs.iter().zip(&out) {
                assert_eq!(o, &<[u8; 32]>::from(Sha256::digest(m)), "length {} of {count}", m.len());
            }
        }
    }

    /// The dispatch: on the lanes above `LANES_MIN` when the kernel runs,
    /// on sha2 below it and on CPUs without it; the same digests either way.
    #[test]
    fn dispatch_agrees_with_sha2_at_every_batch_size() {
        let msgs: Vec<Vec<u8>> = (0..40).map(|n| data(n * 13, n as u8)).collect();
        for count in 0..msgs.len() {
            let mut out = vec![[0u8; 32]; count];
            sha256_batch(|i| [&msgs[i][..], &[], &[]], &mut out);
            for (m, o) in msgs.iter().zip(&out) {
                assert_eq!(o, &<[u8; 32]>::from(Sha256::digest(m)), "length {} of {count}", m.len());
            }
        }
    }
}
