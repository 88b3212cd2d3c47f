//! A chain of messages, each after the first holding the digest of the one
//! before (one Merkle proof's climb to its root), on SHA-NI with the
//! chain's state kept in registers from the first block to the last.
//!
//! Through `sha2` (`chain_sha2`), every link's state is loaded and stored
//! by each block's call, its digest stored as bytes, copied into the next
//! message and read back as words. Here the digest goes into the next
//! message's words straight from the state registers: two byte shuffles
//! and an OR for each 16 bytes of message it overlaps ([`SPLICE`]). The
//! blocks of a message before its digest's place do not depend on the
//! chain; they are compressed during the message before
//! ([`compress_beside`]). A proof of one leaf of 512 bytes in a tree of
//! 65,536 (16 levels, 29-byte namespaces) took 2.35 us through `sha2` and
//! 2.01 us here (AMD Zen 5, best of 16 runs of 1,000 proofs, alternating).

use std::arch::x86_64::*;

use super::engine::{IV, K, assemble_block};
use super::shani::{BSWAP, pack, unpack};
use super::{CHAIN_MESSAGE_MAX, Chain, Digest, Pieces, digest, padded_len};

/// The `pshufb` masks that move a digest, held as SHA-NI state (`abef`:
/// words f, e, b, a from the low lane up; `cdgh`: h, g, d, c), into 16 bytes
/// of message words (each lane a big-endian word, as the rounds take them)
/// whose first byte lies `s` bytes after the digest's first: entry
/// `s + 15`, for the `s` (-15 to 31) where the two overlap, is the mask on
/// `abef` and the mask on `cdgh`. Bytes outside the digest, or in the other
/// register, select zero (0x80).
const SPLICE: [[[u8; 16]; 2]; 47] = splice_masks();

const fn splice_masks() -> [[[u8; 16]; 2]; 47] {
    let mut masks = [[[0x80u8; 16]; 2]; 47];
    let mut i = 0;
    while i < 47 {
        let s = i as isize - 15;
        let mut q = 0;
        while q < 16 {
            // Register byte q is byte 3 - q % 4 (from the most significant)
            // of word q / 4: message byte 4 (q / 4) + 3 - q % 4.
            let m = s + (4 * (q / 4) + 3 - q % 4) as isize;
            if m >= 0 && m < 32 {
                let (word, from_top) = ((m / 4) as usize, (m % 4) as usize);
                let (reg, lane) = match word {
                    0 => (0, 3),
                    1 => (0, 2),
                    2 => (1, 3),
                    3 => (1, 2),
                    4 => (0, 1),
                    5 => (0, 0),
                    6 => (1, 1),
                    _ => (1, 0),
                };
                masks[i][reg][q] = (4 * lane + 3 - from_top) as u8;
            }
            q += 1;
        }
        i += 1;
    }
    masks
}

/// A chaining value in the layout `sha256rnds2` works on.
#[derive(Clone, Copy)]
struct State {
    abef: __m128i,
    cdgh: __m128i,
}

/// A block's sixteen message words, four to a register.
type Words = [__m128i; 4];

impl State {
    /// SHA-256's initial value.
    fn iv() -> State {
        let (abef, cdgh) = pack(IV);
        State { abef, cdgh }
    }

    /// The digest of this chaining value.
    fn digest(self) -> Digest {
        digest(&unpack(self.abef, self.cdgh))
    }
}

/// The words of the block at `block` (64 readable bytes).
///
/// # Safety
/// `block` must point to 64 readable bytes.
#[inline]
#[target_feature(enable = "sse2,ssse3")]
unsafe fn words(block: *const u8) -> Words {
    // SAFETY: BSWAP is 16 bytes; the caller vouches for the block.
    unsafe {
        let bswap = _mm_loadu_si128(BSWAP.as_ptr().cast());
        std::array::from_fn(|j| _mm_shuffle_epi8(_mm_loadu_si128(block.cast::<__m128i>().add(j)), bswap))
    }
}

/// The words of block `block` of `message` (padded, with zeros where the
/// digest goes), with the digest `prev` put in at byte `at`.
#[inline]
#[target_feature(enable = "sse2,ssse3")]
fn spliced(message: &[u8], block: usize, at: usize, prev: State) -> Words {
    let b = &message[64 * block..64 * block + 64];
    // SAFETY: `b` is 64 bytes.
    let mut w = unsafe { words(b.as_ptr()) };
    for (g, w) in w.iter_mut().enumerate() {
        let s = (64 * block + 16 * g) as isize - at as isize;
        if (-15..32).contains(&s) {
            let [on_abef, on_cdgh] = &SPLICE[(s + 15) as usize];
            // SAFETY: each mask is 16 bytes.
            let (ma, mc) =
                unsafe { (_mm_loadu_si128(on_abef.as_ptr().cast()), _mm_loadu_si128(on_cdgh.as_ptr().cast())) };
            let digest = _mm_or_si128(_mm_shuffle_epi8(prev.abef, ma), _mm_shuffle_epi8(prev.cdgh, mc));
            *w = _mm_or_si128(*w, digest);
        }
    }
    w
}

/// Four rounds (`i` from 0 to 15), their message words first where the
/// schedule makes them (`i >= 4`, replacing the oldest four). A macro so
/// that every index is a constant: as a loop, LLVM kept it rolled with the
/// words on the stack (2.6 against 2.1 us a proof).
macro_rules! quad {
    ($abef:ident, $cdgh:ident, $w:ident, $i:literal) => {
        // SAFETY: K has 64 words; i < 16 reads words 4i..4i+4.
        let k = unsafe { _mm_loadu_si128(K.as_ptr().add(4 * $i).cast()) };
        if $i >= 4 {
            let (w0, w1, w2, w3) = ($w[$i % 4], $w[($i + 1) % 4], $w[($i + 2) % 4], $w[($i + 3) % 4]);
            let t = _mm_add_epi32(_mm_sha256msg1_epu32(w0, w1), _mm_alignr_epi8::<4>(w3, w2));
            $w[$i % 4] = _mm_sha256msg2_epu32(t, w3);
        }
        let wk = _mm_add_epi32($w[$i % 4], k);
        $cdgh = _mm_sha256rnds2_epu32($cdgh, $abef, wk);
        $abef = _mm_sha256rnds2_epu32($abef, $cdgh, _mm_shuffle_epi32::<0x0E>(wk));
    };
}

/// One compression of the block `w` into `state`.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn compress(state: &mut State, mut w: Words) {
    let (mut abef, mut cdgh) = (state.abef, state.cdgh);
    quad!(abef, cdgh, w, 0);
    quad!(abef, cdgh, w, 1);
    quad!(abef, cdgh, w, 2);
    quad!(abef, cdgh, w, 3);
    quad!(abef, cdgh, w, 4);
    quad!(abef, cdgh, w, 5);
    quad!(abef, cdgh, w, 6);
    quad!(abef, cdgh, w, 7);
    quad!(abef, cdgh, w, 8);
    quad!(abef, cdgh, w, 9);
    quad!(abef, cdgh, w, 10);
    quad!(abef, cdgh, w, 11);
    quad!(abef, cdgh, w, 12);
    quad!(abef, cdgh, w, 13);
    quad!(abef, cdgh, w, 14);
    quad!(abef, cdgh, w, 15);
    *state = State { abef: _mm_add_epi32(state.abef, abef), cdgh: _mm_add_epi32(state.cdgh, cdgh) };
}

/// Compresses `chain_blocks` blocks into `chain` and `side_blocks` into
/// `side`, a block of each in turn, the chain's first. Both are written
/// one block after the other, not interleaved round by round: the
/// processor runs the oldest instruction that is ready first, so the
/// side's rounds then take the unit only where the chain's wait, while
/// interleaved they took turns with the chain (AMD Zen 5: 2.78 against
/// 2.13 us a proof of 16 levels; the side's blocks all after the chain's
/// took 2.56).
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn compress_beside(
    chain: &mut State,
    chain_blocks: usize,
    mut chain_words: impl FnMut(usize) -> Words,
    side: &mut State,
    side_blocks: usize,
    mut side_words: impl FnMut(usize) -> Words,
) {
    // Three loops, so that each call site gets its own copy of the rounds:
    // one loop with a test around each call measured 2.38 against 2.06 us
    // a proof.
    let both = chain_blocks.min(side_blocks);
    for i in 0..both {
        compress(chain, chain_words(i));
        compress(side, side_words(i));
    }
    for i in both..chain_blocks {
        compress(chain, chain_words(i));
    }
    for i in both..side_blocks {
        compress(side, side_words(i));
    }
}

/// A pointer to block `block` of the message `pieces` (`len` bytes in all,
/// padded): inside a piece where the block lies in one, else the block put
/// together in `buf`.
fn piece_block(pieces: &Pieces<'_>, len: usize, block: usize, buf: &mut [u8; 64]) -> *const u8 {
    let (lo, hi) = (64 * block, 64 * block + 64);
    let mut start = 0;
    for p in pieces {
        if start <= lo && hi <= start + p.len() {
            return p[lo - start..].as_ptr();
        }
        start += p.len();
    }
    assemble_block(pieces, len, block, buf);
    buf.as_ptr()
}

/// [`super::sha256_chain`] on SHA-NI.
///
/// # Safety
/// The CPU must have SHA-NI and SSE4.1.
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
pub(super) unsafe fn chain(links: Chain<'_, impl Fn(usize) -> usize, impl FnMut(usize, &mut [u8])>) -> Digest {
    let mut buffers = links.buffers();
    let Chain { first, links, len, at, mut fill } = links;
    let blocks = padded_len(len) / 64;
    let [message, next] = &mut buffers;
    let (mut message, mut next) = (message, next);
    // Link `k`'s message, laid out with zeros where its digest goes, and
    // how many of its blocks come before that (compressed ahead).
    let mut lay = |k: usize, m: &mut [u8; CHAIN_MESSAGE_MAX]| {
        fill(k, &mut m[..len]);
        let at = at(k);
        m[at..at + 32].fill(0);
        at / 64
    };
    let mut ahead = if links > 0 { lay(0, message) } else { 0 };
    // The first message, beside link 0's blocks known ahead.
    let first_len: usize = first.iter().map(|p| p.len()).sum();
    let mut buf = [0u8; 64];
    let (mut chain, mut side) = (State::iv(), State::iv());
    compress_beside(
        &mut chain,
        padded_len(first_len) / 64,
        // SAFETY: `piece_block` points into a piece or `buf`, 64 bytes.
        |b| unsafe { words(piece_block(&first, first_len, b, &mut buf)) },
        &mut side,
        ahead,
        // SAFETY: block `b` of `message` is inside it (`b < ahead <= blocks`).
        |b| unsafe { words(message[64 * b..].as_ptr()) },
    );
    for k in 0..links {
        let (at_k, prev) = (at(k), chain);
        let known = if k + 1 < links { lay(k + 1, next) } else { 0 };
        chain = if ahead > 0 { side } else { State::iv() };
        side = State::iv();
        compress_beside(
            &mut chain,
            blocks - ahead,
            |b| spliced(&message[..], ahead + b, at_k, prev),
            &mut side,
            known,
            // SAFETY: block `b` of `next` is inside it (`b < known <= blocks`).
            |b| unsafe { words(next[64 * b..].as_ptr()) },
        );
        ahead = known;
        // The buffers trade places, not their bytes.
        std::mem::swap(&mut message, &mut next);
    }
    chain.digest()
}
