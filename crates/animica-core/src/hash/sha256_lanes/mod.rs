//! SHA-256 of many independent messages at once.
//!
//! One message is a chain of dependent compressions, so SHA-NI one message
//! at a time (what `sha2` does) is bound by the latency of its rounds. Many
//! short messages (batches, Merkle leaves, Merkle levels) have no such
//! chain between them, and two kernels advance several at once:
//!
//! - `shani`: four messages interleaved round by round on the SHA-NI
//!   instructions, so each one's rounds fill the others' latency (AVX2-era
//!   x86_64 with SHA-NI: most cloud hosts, AMD Zen, Intel since Ice Lake);
//! - `avx512`: sixteen messages, one per 32-bit lane of AVX-512 registers.
//!
//! One message that holds the digest of another (a Merkle proof's climb:
//! the leaf, then a parent a level) is a chain no lanes can share;
//! `chain.rs` runs it on SHA-NI with its state in registers throughout.
//!
//! Both multi-message kernels run on one engine (`engine.rs`). Messages of
//! one shape (the same piece lengths: a tree's equal-sized leaves, its
//! parents) go through in lockstep, a group of lanes at a time; from the first group that is not
//! uniform on, a lane that finishes its message takes the next one, so
//! messages of different lengths keep every lane busy until the queue runs
//! dry.
//!
//! A message is given as up to three pieces (`prefix`, `a`, `b`) that are
//! hashed as their concatenation, which is exactly what the NMT needs
//! (`0x00 || ns || leaf`, `0x01 || left || right`) without copying.

#[cfg(all(target_arch = "x86_64", feature = "simd"))]
mod avx512;
#[cfg(all(target_arch = "x86_64", feature = "simd"))]
mod chain;
#[cfg(all(target_arch = "x86_64", feature = "simd"))]
mod engine;
#[cfg(all(target_arch = "x86_64", feature = "simd"))]
mod shani;

use sha2::{Digest as _, Sha256};

use super::{Digest, DigestSlot};
use crate::kernels::Backend;
#[cfg(all(target_arch = "x86_64", feature = "simd"))]
use crate::kernels::Feature;

/// A message: the concatenation of its pieces.
pub(crate) type Pieces<'a> = [&'a [u8]; 3];

/// Below this many messages most of the 16 lanes would compress padding,
/// and sha2 one message at a time is expected to win. An estimate, not a
/// measured crossover.
#[cfg(all(target_arch = "x86_64", feature = "simd"))]
const X16_MIN: usize = 6;

/// The multi-message kernels.
#[cfg(all(target_arch = "x86_64", feature = "simd"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    /// Sixteen messages in AVX-512 lanes.
    X16,
    /// Four messages interleaved on SHA-NI.
    X4,
}

/// Each kernel with the lowest backend that has it and what it needs.
#[cfg(all(target_arch = "x86_64", feature = "simd"))]
const KERNELS: [(Kernel, Backend, Feature); 2] =
    [(Kernel::X16, Backend::Avx512, Feature::Avx512), (Kernel::X4, Backend::Avx2, Feature::ShaNi)];

#[cfg(all(target_arch = "x86_64", feature = "simd"))]
impl Kernel {
    fn name(self) -> &'static str {
        match self {
            Kernel::X16 => "avx512 16-lane",
            Kernel::X4 => "SHA-NI, 4 messages interleaved",
        }
    }

    /// Runs `message(i)` for every `i` into `out` on this kernel.
    ///
    /// # Safety
    /// The CPU must have the kernel's instructions (see [`kernel`]).
    unsafe fn run<'a, S: DigestSlot>(self, message: &impl Fn(usize) -> Pieces<'a>, out: &mut [S]) {
        match self {
            // SAFETY: the caller checked AVX-512F and BW.
            Kernel::X16 => unsafe { engine::run::<16, avx512::X16, S>(message, out) },
            // SAFETY: the caller checked SHA-NI and SSE4.1.
            Kernel::X4 => unsafe { engine::run::<4, shani::X4, S>(message, out) },
        }
    }

    /// Runs every message of `padded` (each `blocks` blocks, already
    /// padded) into `out` on this kernel.
    ///
    /// # Safety
    /// As for [`Kernel::run`]; `padded` holds `out.len() * blocks * 64` bytes.
    unsafe fn run_padded<S: DigestSlot>(self, padded: &[u8], blocks: usize, out: &mut [S]) {
        match self {
            // SAFETY: the caller checked AVX-512F and BW, and the length.
            Kernel::X16 => unsafe { engine::run_padded::<16, avx512::X16, S>(padded, blocks, out) },
            // SAFETY: the caller checked SHA-NI and SSE4.1, and the length.
            Kernel::X4 => unsafe { engine::run_padded::<4, shani::X4, S>(padded, blocks, out) },
        }
    }
}

/// The kernel for large batches on `backend`: sixteen on AVX-512 or four
/// on SHA-NI, whichever the CPU has; on a CPU with both, the one
/// [`timed_choice`] found faster.
#[cfg(all(target_arch = "x86_64", feature = "simd"))]
fn kernel(backend: Backend) -> Option<Kernel> {
    match (backend.has(Feature::Avx512), backend.has(Feature::ShaNi)) {
        (true, true) => Some(timed_choice()),
        (true, false) => Some(Kernel::X16),
        (false, true) => Some(Kernel::X4),
        (false, false) => None,
    }
}

/// Which kernel is faster on a CPU with both AVX-512 and SHA-NI depends on
/// its AVX-512 units, and no CPUID bit says how wide they are. Measured
/// over the NMT root of 65,536 leaves of 512 bytes, one thread: on AMD
/// Zen 5 (512-bit units) sixteen lanes take 12.0 ms and four SHA-NI
/// streams 16.0 ms. Each kernel by itself is near its bound there: 16
/// lanes take 630 cycles a compression for about 1,830 ZMM ops, at most
/// three a cycle; SHA-NI 67 cycles a block for 32 `sha256rnds2`, one
/// every two cycles. The rest is the engine and the tree. On Zen 4
/// (512-bit operations split in two 256-bit halves; an earlier version of
/// the sixteen lanes) the two tied in cache and four streams were faster
/// out of it. On Intel Emerald Rapids (ZMM ops on two ports, rotates and
/// shifts on one; `sha256rnds2` one per 3 cycles, 4 of latency) sixteen
/// lanes take 26 ns a block and four SHA-NI streams 42 ns (65,536 messages
/// of 542 bytes). So the first batch times both kernels, once per
/// process, on 64 leaf-sized messages in cache (about 0.3 ms with the
/// warm-up; `kernels::timed_faster`); sixteen lanes must be at least 10%
/// faster to be chosen, so a tie keeps SHA-NI.
/// Outputs are the same either way; `build_info()` names the choice.
#[cfg(all(target_arch = "x86_64", feature = "simd"))]
fn timed_choice() -> Kernel {
    use std::sync::OnceLock;

    static CHOICE: OnceLock<Kernel> = OnceLock::new();
    *CHOICE.get_or_init(|| {
        let msg = [0x5a_u8; 542];
        let message = |_| -> Pieces<'_> { [&msg[..], &[], &[]] };
        let run = |k: Kernel| {
            move || {
                let mut out = [[0u8; 32]; 64];
                // SAFETY: called only where the backend has both AVX-512
                // and SHA-NI (`kernel`), so the CPU runs either kernel.
                unsafe { k.run(&message, &mut out) };
                std::hint::black_box(out);
            }
        };
        let x16_faster = crate::kernels::timed_faster(run(Kernel::X16), run(Kernel::X4), 10);
        if x16_faster { Kernel::X16 } else { Kernel::X4 }
    })
}

/// The name of the multi-message kernel large batches use on `backend`, or
/// `None` when they run on sha2 one message at a time.
pub(crate) fn sha256_batch_kernel(backend: Backend) -> Option<&'static str> {
    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    return kernel(backend).map(|k| match (k, backend.has(Feature::Avx512) && backend.has(Feature::ShaNi)) {
        (Kernel::X16, true) => "avx512 16-lane (timed faster than SHA-NI here)",
        (Kernel::X4, true) => "SHA-NI, 4 messages interleaved (timed no slower than 16 AVX-512 lanes here)",
        (k, false) => k.name(),
    });
    #[cfg(not(all(target_arch = "x86_64", feature = "simd")))]
    {
        let _ = backend;
        None
    }
}

/// SHA-256's initial hash value.
pub(crate) const IV: [u32; 8] =
    [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/// Messages whose padded length is at most this many bytes (a Merkle
/// parent of up to 45-byte namespaces) are hashed one pass by
/// [`sha256_pieces`].
const ONE_PASS_MAX: usize = 256;

/// The length of a `len`-byte message padded for SHA-256: the message, a
/// 0x80 byte and its 64-bit bit length, rounded up to whole blocks.
pub(crate) const fn padded_len(len: usize) -> usize {
    (len + 8) / 64 * 64 + 64
}

/// Writes SHA-256's padding after the `len`-byte message at the start of
/// `padded` (which is [`padded_len`]`(len)` bytes): a 0x80 byte, zeros, and
/// the message's length in bits, big-endian.
pub(crate) fn pad(padded: &mut [u8], len: usize) {
    let end = padded.len();
    padded[len] = 0x80;
    padded[len + 1..end - 8].fill(0);
    padded[end - 8..].copy_from_slice(&((len as u64) << 3).to_be_bytes());
}

/// SHA-256 of one message already padded (a whole number of blocks), on
/// sha2 (SHA-NI where the CPU has it).
fn sha2_padded(padded: &[u8]) -> Digest {
    let mut state = IV;
    compress(&mut state, padded);
    digest(&state)
}

/// SHA-256's compression of each 64-byte block of `blocks` (a whole number
/// of them) into the chaining value `state`, on sha2 (SHA-NI where the CPU
/// has it). One call, not one per block, loads and stores the state once.
pub(crate) fn compress(state: &mut [u32; 8], blocks: &[u8]) {
    debug_assert_eq!(blocks.len() % 64, 0);
    // SAFETY: `blocks` is `blocks.len() / 64` runs of 64 bytes, and a
    // `GenericArray<u8, U64>` is exactly 64 bytes with alignment 1
    // (repr(transparent) over repr(C) halves of `u8`; its own `from_slice`
    // casts a 64-byte slice the same way).
    let blocks = unsafe {
        std::slice::from_raw_parts(
            blocks.as_ptr().cast::<sha2::digest::generic_array::GenericArray<u8, sha2::digest::consts::U64>>(),
            blocks.len() / 64,
        )
    };
    sha2::compress256(state, blocks);
}

/// [`compress`] of two independent chains, `blocks` into `state` and
/// `other_blocks` into `other`, a block of each in turn: neither waits on
/// the other, so a processor whose SHA-256 unit can take a second chain
/// between a first one's rounds runs them side by side (AMD Zen 5: two
/// blocks so take 45.7 ns, one alone 35 ns).
pub(crate) fn compress_two(state: &mut [u32; 8], blocks: &[u8], other: &mut [u32; 8], other_blocks: &[u8]) {
    let (mut a, mut b) = (blocks.chunks_exact(64), other_blocks.chunks_exact(64));
    loop {
        match (a.next(), b.next()) {
            (None, None) => return,
            (x, y) => {
                if let Some(x) = x {
                    compress(state, x);
                }
                if let Some(y) = y {
                    compress(other, y);
                }
            }
        }
    }
}

/// The digest of a final chaining value.
pub(crate) fn digest(state: &[u32; 8]) -> Digest {
    let mut d = [0u8; 32];
    for (o, w) in d.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    d
}

/// SHA-256 of the concatenation of `pieces`, on the scalar / SHA-NI path
/// (sha2). A short message is assembled, padding included, on the stack
/// and its blocks compressed in one pass: the dependent chain of a proof's
/// parents (181 bytes each) measured 122 ns a parent through sha2's
/// streaming interface and 102 ns so, on AMD Zen 5.
pub(crate) fn sha256_pieces(pieces: Pieces<'_>) -> Digest {
    let len: usize = pieces.iter().map(|p| p.len()).sum();
    let padded = padded_len(len);
    if padded > ONE_PASS_MAX {
        let mut h = Sha256::new();
        for p in pieces {
            h.update(p);
        }
        return h.finalize().into();
    }
    let mut buf = [0u8; ONE_PASS_MAX];
    let mut at = 0;
    for p in pieces {
        buf[at..at + p.len()].copy_from_slice(p);
        at += p.len();
    }
    pad(&mut buf[..padded], len);
    sha2_padded(&buf[..padded])
}

/// The longest padded message of a chain after its first ([`sha256_chain`]):
/// a Merkle parent of two nodes with 64-byte namespaces (321 bytes).
pub(crate) const CHAIN_MESSAGE_MAX: usize = 384;

/// A chain of messages, each after the first holding the digest of the
/// one before: `first`, then `links` messages of `len` bytes each, where
/// message `k` (from 0) holds the digest before it at byte `at(k)` and
/// `fill(k, m)` writes the rest of it (the 32 bytes at `at(k)` are
/// overwritten). One Merkle proof's climb: the leaf, then a parent a level.
/// `len` pads to at most [`CHAIN_MESSAGE_MAX`] bytes, and `at(k) + 32 <= len`.
pub(crate) struct Chain<'a, A, F> {
    pub first: Pieces<'a>,
    pub links: usize,
    pub len: usize,
    pub at: A,
    pub fill: F,
}

impl<A: Fn(usize) -> usize, F: FnMut(usize, &mut [u8])> Chain<'_, A, F> {
    /// Two message buffers, each with the messages' padding laid.
    fn buffers(&self) -> [[u8; CHAIN_MESSAGE_MAX]; 2] {
        let mut buffers = [[0u8; CHAIN_MESSAGE_MAX]; 2];
        for m in &mut buffers {
            pad(&mut m[..padded_len(self.len)], self.len);
        }
        buffers
    }
}

/// The digest of the last message of `chain`.
pub(crate) fn sha256_chain(chain: Chain<'_, impl Fn(usize) -> usize, impl FnMut(usize, &mut [u8])>) -> Digest {
    sha256_chain_on(Backend::get(), chain)
}

/// [`sha256_chain`] on `backend` (one this CPU runs).
pub(crate) fn sha256_chain_on(
    backend: Backend,
    chain: Chain<'_, impl Fn(usize) -> usize, impl FnMut(usize, &mut [u8])>,
) -> Digest {
    assert!(padded_len(chain.len) <= CHAIN_MESSAGE_MAX, "a chain's messages pad to at most {CHAIN_MESSAGE_MAX} bytes");
    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    if backend.has(Feature::ShaNi) {
        // SAFETY: the backend has SHA-NI only where the CPU has SHA-NI and
        // SSE4.1 (`Feature::ShaNi`).
        return unsafe { chain::chain(chain) };
    }
    let _ = backend;
    chain_sha2(chain)
}

/// [`sha256_chain`] on sha2 (SHA-NI or the ARMv8 SHA-2 instructions where
/// the CPU has them): each message's blocks before its digest's place are
/// compressed during the message before ([`compress_two`]).
fn chain_sha2(chain: Chain<'_, impl Fn(usize) -> usize, impl FnMut(usize, &mut [u8])>) -> Digest {
    let mut buffers = chain.buffers();
    let Chain { first, links, len, at, mut fill } = chain;
    let padded = padded_len(len);
    let mut digest_before = sha256_pieces(first);
    let [message, next] = &mut buffers;
    let (mut message, mut next) = (message, next);
    if links > 0 {
        fill(0, &mut message[..len]);
    }
    // The state after the first blocks of this link, compressed during the
    // link before, and how many.
    let mut ahead = (IV, 0);
    for k in 0..links {
        let at_k = at(k);
        message[at_k..at_k + 32].copy_from_slice(&digest_before);
        let known = if k + 1 < links {
            fill(k + 1, &mut next[..len]);
            at(k + 1) / 64
        } else {
            0
        };
        let (mut state, done) = std::mem::replace(&mut ahead, (IV, known));
        compress_two(&mut state, &message[64 * done..padded], &mut ahead.0, &next[..64 * known]);
        digest_before = digest(&state);
        // The buffers trade places, not their bytes.
        std::mem::swap(&mut message, &mut next);
    }
    digest_before
}

/// Writes the SHA-256 of message `i` (`message(i)`) to `out[i]` for every
/// `i < out.len()`, on the process's backend.
pub(crate) fn sha256_batch<'a, S: DigestSlot>(message: impl Fn(usize) -> Pieces<'a>, out: &mut [S]) {
    sha256_batch_on(Backend::get(), message, out)
}

/// The SHA-256 of each of `items` on `backend` (one this CPU runs), on the
/// calling thread: the batch kernel by itself, for tests and benches.
pub fn sha256_many_on(backend: Backend, items: &[&[u8]]) -> Vec<Digest> {
    let mut out = vec![[0u8; 32]; items.len()];
    sha256_batch_on(backend, |i| [items[i], &[], &[]], &mut out);
    out
}

/// The multi-message kernels this CPU runs, by name, each of which
/// [`sha256_many_with`] runs by itself (benches compare them where the
/// dispatch would pick one).
pub fn sha256_many_kernels() -> Vec<&'static str> {
    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    return KERNELS.into_iter().filter(|&(_, b, f)| b.has(f)).map(|(k, ..)| k.name()).collect();
    #[cfg(not(all(target_arch = "x86_64", feature = "simd")))]
    Vec::new()
}

/// The SHA-256 of each of `items` on the multi-message kernel called
/// `name` (one of [`sha256_many_kernels`]), on the calling thread; `None`
/// for a kernel this CPU does not run.
pub fn sha256_many_with(name: &str, items: &[&[u8]]) -> Option<Vec<Digest>> {
    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    {
        let (k, ..) = KERNELS.into_iter().find(|&(k, b, f)| k.name() == name && b.has(f))?;
        let mut out = vec![[0u8; 32]; items.len()];
        // SAFETY: found only if the CPU has the kernel's feature.
        unsafe { k.run(&|i| [items[i], &[], &[]], &mut out) };
        Some(out)
    }
    #[cfg(not(all(target_arch = "x86_64", feature = "simd")))]
    {
        let _ = (name, items);
        None
    }
}

/// The chain kernels this CPU runs, by name, each of which
/// [`sha256_chain_with`] runs by itself: ours on SHA-NI where the CPU has
/// it, and sha2 one message after another (what it replaces).
pub fn sha256_chain_kernels() -> Vec<&'static str> {
    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    if Backend::Avx2.has(Feature::ShaNi) {
        return vec![CHAIN_SHANI, CHAIN_SHA2];
    }
    vec![CHAIN_SHA2]
}

#[cfg(all(target_arch = "x86_64", feature = "simd"))]
const CHAIN_SHANI: &str = "SHA-NI, state in registers";
const CHAIN_SHA2: &str = "sha2, a message at a time";

/// The digest of the last of `links` after `first`, on the chain kernel
/// `name` (one of [`sha256_chain_kernels`]), for benches and tests: link
/// `k` holds the digest of the message before it at byte `at[k]` (its own
/// 32 bytes there are overwritten). `None` for a kernel this CPU does not
/// run.
///
/// # Panics
/// If the links differ in length, `at` is not one place a link, a place
/// leaves no room for the digest, or a link pads to more than
/// [`CHAIN_MESSAGE_MAX`] bytes.
pub fn sha256_chain_with(name: &str, first: &[u8], links: &[&[u8]], at: &[usize]) -> Option<Digest> {
    let len = links.first().map_or(0, |l| l.len());
    assert!(links.iter().all(|l| l.len() == len), "links of one length");
    let fits = |a: usize| len.checked_sub(32).is_some_and(|room| a <= room);
    assert!(at.len() == links.len() && at.iter().all(|&a| fits(a)), "a place for each link's digest");
    assert!(padded_len(len) <= CHAIN_MESSAGE_MAX, "links pad to at most {CHAIN_MESSAGE_MAX} bytes");
    let chain = Chain {
        first: [first, &[], &[]],
        links: links.len(),
        len,
        at: |k: usize| at[k],
        fill: |k: usize, m: &mut [u8]| m.copy_from_slice(links[k]),
    };
    match name {
        CHAIN_SHA2 => Some(chain_sha2(chain)),
        #[cfg(all(target_arch = "x86_64", feature = "simd"))]
        CHAIN_SHANI if Backend::Avx2.has(Feature::ShaNi) => {
            // SAFETY: the CPU has SHA-NI and SSE4.1 (`Feature::ShaNi`).
            Some(unsafe { chain::chain(chain) })
        }
        _ => None,
    }
}

/// The multi-message kernel for a batch of `count` messages on `backend`,
/// or `None` when one message at a time on sha2 is expected to win.
#[cfg(all(target_arch = "x86_64", feature = "simd"))]
fn batch_kernel(backend: Backend, count: usize) -> Option<Kernel> {
    // Sixteen lanes want enough messages not to compress mostly padding.
    kernel(backend).filter(|&k| count >= if k == Kernel::X16 { X16_MIN } else { 2 })
}

/// [`sha256_batch`] on `backend` (one this CPU runs).
pub(crate) fn sha256_batch_on<'a, S: DigestSlot>(
    backend: Backend,
    message: impl Fn(usize) -> Pieces<'a>,
    out: &mut [S],
) {
    #[cfg(not(all(target_arch = "x86_64", feature = "simd")))]
    let _ = backend;
    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    if let Some(k) = batch_kernel(backend, out.len()) {
        // SAFETY: `kernel` chose `k` only if the CPU has it (`Backend::has`).
        unsafe { k.run(&message, out) };
        return;
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o.slot() = sha256_pieces(message(i));
    }
}

/// Writes the SHA-256 of message `i` of `padded` to `out[i]`, for messages
/// each already padded ([`pad`]) to `blocks` blocks and laid end to end:
/// many messages of one length, such as a level of Merkle parents, hashed
/// without the per-message bookkeeping of [`sha256_batch`].
///
/// # Panics
/// If `blocks` is 0 or `padded` is not `out.len() * blocks * 64` bytes.
pub(crate) fn sha256_padded_batch(padded: &[u8], blocks: usize, out: &mut [Digest]) {
    sha256_padded_batch_on(Backend::get(), padded, blocks, out)
}

/// [`sha256_padded_batch`] on `backend` (one this CPU runs).
fn sha256_padded_batch_on(backend: Backend, padded: &[u8], blocks: usize, out: &mut [Digest]) {
    assert!(blocks > 0 && padded.len() == out.len() * blocks * 64, "padded messages of {blocks} blocks");
    #[cfg(not(all(target_arch = "x86_64", feature = "simd")))]
    let _ = backend;
    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    if let Some(k) = batch_kernel(backend, out.len()) {
        // SAFETY: `batch_kernel` chose `k` only if the CPU has it, and the
        // length was checked above.
        unsafe { k.run_padded(padded, blocks, out) };
        return;
    }
    for (m, o) in padded.chunks_exact(blocks * 64).zip(out) {
        *o = sha2_padded(m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u8) -> Vec<u8> {
        (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
    }

    /// The multi-message kernels themselves (not the dispatch, which falls
    /// back to sha2 and would compare sha2 with sha2 on a CPU without them).
    /// The ones this process cannot run say so (see `kernels::runnable`).
    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    fn kernels(test: &str) -> Vec<Kernel> {
        use crate::kernels::runnable;
        KERNELS
            .into_iter()
            .filter(|&(k, backend, feature)| runnable(&format!("{test} on {k:?}"), backend, feature))
            .map(|(k, ..)| k)
            .collect()
    }

    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    fn lanes<'a>(kernel: Kernel, message: impl Fn(usize) -> Pieces<'a>, n: usize) -> Vec<Digest> {
        let mut out = vec![[0u8; 32]; n];
        // SAFETY: `kernels` checked that this CPU has the kernel's instructions.
        unsafe { kernel.run(&message, &mut out) };
        out
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
        for kernel in kernels("every_length_and_split_matches_sha2") {
            let out = lanes(kernel, pieces, msgs.len());
            for (m, o) in msgs.iter().zip(&out) {
                assert_eq!(o, &<[u8; 32]>::from(Sha256::digest(m)), "{kernel:?}, length {}", m.len());
            }
        }
    }

    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    #[test]
    fn uneven_lengths_refill_lanes() {
        let lens = [0usize, 5000, 1, 64, 55, 56, 119, 120, 3000, 17, 0, 640, 63, 1, 2, 9999, 128, 127, 4, 200];
        let msgs: Vec<Vec<u8>> = lens.iter().enumerate().map(|(i, &n)| data(n, i as u8)).collect();
        // Fewer messages than lanes too: idle lanes must not leak into results.
        for kernel in kernels("uneven_lengths_refill_lanes") {
            for count in [1, 3, 4, 5, 16, msgs.len()] {
                let out = lanes(kernel, |i| [&msgs[i][..], &[], &[]], count);
                for (m, o) in msgs.iter().zip(&out) {
                    assert_eq!(o, &<[u8; 32]>::from(Sha256::digest(m)), "{kernel:?}, length {} of {count}", m.len());
                }
            }
        }
    }

    /// Batches whose groups of lanes share one shape (the same piece
    /// lengths) run in lockstep; the first group that breaks it hands the
    /// rest to the ragged engine. Lengths around the block and padding
    /// edges, blocks inside a piece, straddling pieces and of padding only,
    /// counts that leave lanes idle, and breaks early, late and never.
    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    #[test]
    fn uniform_groups_match_sha2() {
        let runs = kernels("uniform_groups_match_sha2");
        for len in [0usize, 1, 30, 55, 56, 63, 64, 65, 119, 120, 128, 181, 542, 1000] {
            let cuts = [(0, 0), (0, len), (len.min(1), len.min(30)), (len / 3, len / 2), (len, len)];
            for (a, b) in cuts {
                for (count, odd) in [
                    (1, None),
                    (15, None),
                    (16, None),
                    (17, None),
                    (40, None),
                    (40, Some(5)),
                    (40, Some(21)),
                    (40, Some(39)),
                ] {
                    // Message `odd` is one byte longer: it breaks the shape.
                    let msgs: Vec<Vec<u8>> =
                        (0..count).map(|i| data(len + usize::from(odd == Some(i)), i as u8)).collect();
                    let pieces = |i: usize| -> Pieces<'_> {
                        let m = &msgs[i];
                        [&m[..a], &m[a..b], &m[b..]]
                    };
                    for &kernel in &runs {
                        let out = lanes(kernel, pieces, count);
                        for (i, (m, o)) in msgs.iter().zip(&out).enumerate() {
                            let want = <[u8; 32]>::from(Sha256::digest(m));
                            assert_eq!(
                                o, &want,
                                "{kernel:?}: length {len}, cut {a}/{b}, message {i} of {count}, odd {odd:?}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// Pieces that start right after and end right before pages that
    /// cannot be read, on every kernel: one byte read outside a piece (the
    /// bytes a masked load leaves out included) faults, and the test dies.
    /// Groups of one shape (a Merkle leaf's, a parent's, ...), the same
    /// pieces in every message, so every lane of every group reads them.
    #[cfg(all(target_arch = "x86_64", feature = "simd", target_os = "linux"))]
    #[test]
    fn blocks_read_no_byte_outside_their_pieces() {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).expect("a page size");
        // SAFETY: a new private anonymous mapping of three pages; the
        // first and last are then made unreadable.
        let map = unsafe {
            let map = libc::mmap(
                std::ptr::null_mut(),
                3 * page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(map, libc::MAP_FAILED, "mmap");
            assert_eq!(libc::mprotect(map, page, libc::PROT_NONE), 0, "mprotect");
            assert_eq!(libc::mprotect(map.cast::<u8>().add(2 * page).cast(), page, libc::PROT_NONE), 0, "mprotect");
            map.cast::<u8>()
        };
        // SAFETY: the middle page is mapped readable and writable, and
        // only this slice refers to it until the mapping is removed below.
        let mid = unsafe { std::slice::from_raw_parts_mut(map.add(page), page) };
        for (i, b) in mid.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(73).wrapping_add(5);
        }
        let mid = &*mid;
        let runs = kernels("blocks_read_no_byte_outside_their_pieces");
        for (a, b) in [(29, 512), (0, 181), (1, 63), (63, 1), (30, 0), (8, 64), (64, 64), (90, 90)] {
            // At the page's start and at its end, then the other way round.
            let first: Pieces<'_> = [&mid[..1], &mid[..a], &mid[page - b..]];
            let second: Pieces<'_> = [&mid[page - 1..], &mid[page - a..], &mid[..b]];
            for pieces in [first, second] {
                let want = <[u8; 32]>::from(Sha256::digest(pieces.concat()));
                for &kernel in &runs {
                    for count in [1, 16, 40] {
                        for (i, o) in lanes(kernel, |_| pieces, count).iter().enumerate() {
                            assert_eq!(o, &want, "{kernel:?}: pieces of {a} and {b} bytes, message {i} of {count}");
                        }
                    }
                }
            }
        }
        // SAFETY: the mapping made above, no longer referred to.
        assert_eq!(unsafe { libc::munmap(map.cast(), 3 * page) }, 0, "munmap");
    }

    /// The public per-kernel entry benches use: it lists exactly the
    /// kernels this CPU runs, each matches sha2, and it refuses the others.
    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    #[test]
    fn each_listed_kernel_matches_sha2() {
        let msgs: Vec<Vec<u8>> = (0..70).map(|n| data(n * 9, n as u8)).collect();
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        let runs = kernels("each_listed_kernel_matches_sha2");
        assert_eq!(sha256_many_kernels(), runs.iter().map(|k| k.name()).collect::<Vec<_>>());
        for (k, ..) in KERNELS {
            let Some(out) = sha256_many_with(k.name(), &refs) else {
                assert!(!runs.contains(&k), "{k:?} runs here but sha256_many_with refused it");
                continue;
            };
            for (m, o) in msgs.iter().zip(&out) {
                assert_eq!(o, &<[u8; 32]>::from(Sha256::digest(m)), "{k:?}, length {}", m.len());
            }
        }
        assert!(sha256_many_with("no such kernel", &refs).is_none());
    }

    /// Messages padded ahead of time, of every length that pads to one to
    /// four blocks, on each kernel by itself and through the dispatch on
    /// every backend (sha2 below the kernels' smallest batch); counts that
    /// leave lanes idle in the last group.
    #[test]
    fn padded_batches_match_sha2() {
        type Run<'a> = &'a dyn Fn(&[u8], usize, &mut [Digest]);
        // (blocks, the messages laid out padded, their digests by sha2)
        let mut cases = Vec::new();
        for blocks in 1..=4 {
            let stride = blocks * 64;
            let msgs: Vec<Vec<u8>> =
                (0..stride).filter(|&n| padded_len(n) == stride).map(|n| data(n, n as u8)).collect();
            // Garbage where the padding goes: `pad` must write every byte.
            let mut padded = vec![0xA5u8; msgs.len() * stride];
            for (m, p) in msgs.iter().zip(padded.chunks_exact_mut(stride)) {
                p[..m.len()].copy_from_slice(m);
                pad(p, m.len());
            }
            let want: Vec<Digest> = msgs.iter().map(|m| Sha256::digest(m).into()).collect();
            cases.push((blocks, padded, want));
        }
        let check = |name: &str, run: Run<'_>| {
            for (blocks, padded, want) in &cases {
                for count in [0, 1, 2, 5, 16, 17, 31, want.len()] {
                    let mut out = vec![[0u8; 32]; count];
                    run(&padded[..count * blocks * 64], *blocks, &mut out);
                    assert_eq!(out, want[..count], "{name}: {count} messages of {blocks} blocks");
                }
            }
        };
        #[cfg(all(target_arch = "x86_64", feature = "simd"))]
        for kernel in kernels("padded_batches_match_sha2") {
            // SAFETY: `kernels` checked the CPU; `check` passes `out.len()` messages.
            check(&format!("{kernel:?}"), &|p, b, out| unsafe { kernel.run_padded(p, b, out) });
        }
        crate::kernels::each_backend("sha256 padded batch dispatch", |backend| {
            check(&format!("{backend:?}"), &|p, b, out| sha256_padded_batch_on(backend, p, b, out));
        });
    }

    #[test]
    #[should_panic(expected = "padded messages of 2 blocks")]
    fn a_padded_batch_of_the_wrong_length_is_refused() {
        sha256_padded_batch(&[0u8; 129], 2, &mut [[0u8; 32]]);
    }

    /// On a CPU with both kernels, the timed choice is stable and is what
    /// the dispatch and build_info use.
    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    #[test]
    fn the_timed_choice_is_used_and_named() {
        let both = kernels("the_timed_choice_is_used_and_named").len() == 2;
        if both {
            let k = timed_choice();
            assert_eq!(timed_choice(), k);
            assert_eq!(kernel(Backend::Avx512), Some(k));
            assert!(sha256_batch_kernel(Backend::Avx512).unwrap().starts_with(k.name()));
            eprintln!("the_timed_choice_is_used_and_named: this CPU batches on {}", k.name());
        } else {
            let msg = "NOT RUN in this process: the_timed_choice_is_used_and_named (needs AVX-512 and SHA-NI)\n";
            let _ = std::io::Write::write_all(&mut std::io::stderr(), msg.as_bytes());
        }
        if Backend::Avx2.has(Feature::ShaNi) {
            assert_eq!(kernel(Backend::Avx2), Some(Kernel::X4));
        }
    }

    /// One message at a time, in one pass up to ONE_PASS_MAX padded bytes
    /// and streamed beyond: every length across both, and across each
    /// padding boundary, in three pieces cut at varying points.
    #[test]
    fn pieces_match_sha2_at_every_length() {
        for n in 0..=ONE_PASS_MAX + 70 {
            let m = data(n, n as u8);
            let a = (n * 7) % (n + 1);
            let b = a + (n - a) / 3;
            let want = <[u8; 32]>::from(Sha256::digest(&m));
            assert_eq!(sha256_pieces([&m[..a], &m[a..b], &m[b..]]), want, "length {n}");
            assert_eq!(sha256_pieces([&m[..], &[], &[]]), want, "length {n}, one piece");
        }
    }

    /// The dispatch on every backend: on a multi-message kernel when the
    /// backend has one and the batch is large enough, else on sha2; the same
    /// digests either way.
    /// The chain of `sha256_chain`, message by message: each assembled
    /// whole and hashed by sha2.
    fn chain_by_sha2(
        first: &[u8],
        links: usize,
        len: usize,
        at: impl Fn(usize) -> usize,
        fill: impl Fn(usize, &mut [u8]),
    ) -> Digest {
        let mut digest: Digest = Sha256::digest(first).into();
        for k in 0..links {
            let mut m = vec![0u8; len];
            fill(k, &mut m);
            m[at(k)..at(k) + 32].copy_from_slice(&digest);
            digest = Sha256::digest(&m).into();
        }
        digest
    }

    #[test]
    fn chains_match_sha2_at_every_offset_and_length() {
        #[cfg(all(target_arch = "x86_64", feature = "simd"))]
        let _ = crate::kernels::runnable("sha256 chain on SHA-NI", Backend::Avx2, Feature::ShaNi);
        crate::kernels::each_backend("sha256 chain", |backend| {
            // Every place for the digest in messages of one to five blocks
            // (the longest a parent of 64-byte namespaces), so that it
            // straddles every word and block edge; links alternate between
            // two places, as a proof's left and right siblings do.
            for len in [32, 33, 55, 56, 63, 64, 65, 119, 120, 181, 250, 321] {
                let room = len - 31;
                for first_at in 0..room {
                    let at = |k: usize| if k.is_multiple_of(2) { first_at } else { (first_at * 7 + 13) % room };
                    let fill = |k: usize, m: &mut [u8]| {
                        for (i, b) in m.iter_mut().enumerate() {
                            *b = (i as u8).wrapping_mul(7) ^ (k as u8).wrapping_mul(29) ^ (first_at as u8);
                        }
                    };
                    let first = data(first_at % 70, len as u8);
                    let got =
                        sha256_chain_on(backend, Chain { first: [&first[..], &[], &[]], links: 3, len, at, fill });
                    assert_eq!(
                        got,
                        chain_by_sha2(&first, 3, len, at, fill),
                        "{backend:?}: {len} bytes, digest at {first_at}"
                    );
                }
            }
            // First messages of every length around the block edges, in
            // pieces cut anywhere, and chains of no link to seventeen.
            for first_len in (0..200).chain([542, 1000]) {
                let first = data(first_len, 3);
                let (a, b) = ((first_len * 5) % (first_len + 1), (first_len * 2) / 3);
                let (a, b) = (a.min(b), a.max(b));
                let pieces = [&first[..a], &first[a..b], &first[b..]];
                let links = first_len % 18;
                let at = |k: usize| if (first_len >> k) & 1 == 1 { 149 } else { 59 };
                let fill = |k: usize, m: &mut [u8]| m.fill(k as u8 ^ 0x5a);
                let got = sha256_chain_on(backend, Chain { first: pieces, links, len: 181, at, fill });
                assert_eq!(
                    got,
                    chain_by_sha2(&first, links, 181, at, fill),
                    "{backend:?}: first message of {first_len}"
                );
            }
        });
    }

    /// The chain kernels benches time by name: each this CPU runs matches
    /// sha2 message by message, and it refuses any other name.
    #[test]
    fn each_listed_chain_kernel_matches_sha2() {
        let names = sha256_chain_kernels();
        #[cfg(all(target_arch = "x86_64", feature = "simd"))]
        if crate::kernels::runnable("each_listed_chain_kernel_matches_sha2", Backend::Avx2, Feature::ShaNi) {
            assert!(names.contains(&CHAIN_SHANI));
        }
        assert!(names.contains(&CHAIN_SHA2));
        // A proof's climb: a leaf, then parents with the digest on the left
        // and the right (181 bytes: Celestia's nodes), and one of 321.
        let first = data(542, 1);
        for (len, places) in [(181, [59, 149]), (321, [129, 289])] {
            let links: Vec<Vec<u8>> = (0..17).map(|k| data(len, k as u8)).collect();
            let refs: Vec<&[u8]> = links.iter().map(Vec::as_slice).collect();
            let at: Vec<usize> = (0..17).map(|k| places[(k * 5 / 3) % 2]).collect();
            let expected = chain_by_sha2(&first, 17, len, |k| at[k], |k, m| m.copy_from_slice(&links[k]));
            for name in &names {
                assert_eq!(sha256_chain_with(name, &first, &refs, &at), Some(expected), "{name}, {len} bytes");
            }
            assert_eq!(sha256_chain_with("no such kernel", &first, &refs, &at), None);
        }
        assert_eq!(sha256_chain_with(CHAIN_SHA2, &first, &[], &[]), Some(Sha256::digest(&first).into()));
    }

    /// Links a chain cannot take are refused by every kernel before any is
    /// read, with a message saying why: uneven lengths, a digest's place
    /// that does not fit (or overflows), too few places, a link longer than
    /// the buffers.
    #[test]
    fn chain_kernels_refuse_links_they_cannot_take() {
        let (short, long, huge) = (data(181, 1), data(182, 2), data(376, 3));
        for name in sha256_chain_kernels() {
            // The links, each one's place, the refusal.
            type Case<'a> = (&'a [&'a [u8]], &'a [usize], &'a str);
            let cases: [Case<'_>; 5] = [
                (&[&short, &long], &[0, 0], "links of one length"),
                (&[&short], &[150], "a place for each link's digest"),
                (&[&short], &[usize::MAX], "a place for each link's digest"),
                (&[&short, &short], &[0], "a place for each link's digest"),
                (&[&huge], &[0], "links pad to at most 384 bytes"),
            ];
            for (links, at, why) in cases {
                let panic =
                    std::panic::catch_unwind(|| sha256_chain_with(name, b"leaf", links, at)).expect_err("refused");
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|m| m.to_string()));
                assert_eq!(message.as_deref(), Some(why), "{name}, places {at:?}");
            }
            assert!(sha256_chain_with(name, b"leaf", &[&short], &[149]).is_some());
        }
    }

    #[test]
    fn dispatch_agrees_with_sha2_at_every_batch_size() {
        let msgs: Vec<Vec<u8>> = (0..40).map(|n| data(n * 13, n as u8)).collect();
        crate::kernels::each_backend("sha256 batch dispatch", |backend| {
            for count in 0..msgs.len() {
                let mut out = vec![[0u8; 32]; count];
                sha256_batch_on(backend, |i| [&msgs[i][..], &[], &[]], &mut out);
                for (m, o) in msgs.iter().zip(&out) {
                    let want = <[u8; 32]>::from(Sha256::digest(m));
                    assert_eq!(o, &want, "{backend:?}: length {} of {count}", m.len());
                }
            }
        });
    }
}
