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
//! Both run on one engine (`engine.rs`): a lane that finishes its message
//! takes the next one, so messages of different lengths keep every lane
//! busy until the queue runs dry.
//!
//! A message is given as up to three pieces (`prefix`, `a`, `b`) that are
//! hashed as their concatenation, which is exactly what the NMT needs
//! (`0x00 || ns || leaf`, `0x01 || left || right`) without copying.

#[cfg(all(target_arch = "x86_64", feature = "simd"))]
mod avx512;
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
}

/// The kernel for large batches on `backend`: four messages on SHA-NI
/// where the CPU has it, else sixteen on AVX-512. Measured on AMD Zen 4
/// (AVX-512 on 256-bit units; 542-byte messages as NMT leaves): the two tie
/// while the data is in cache (2.6 GB/s each), and over 65,536 messages
/// (35 MB) the four streams run at 2.5 GB/s where sixteen manage 2.0.
/// AVX-512 without SHA-NI is Intel's Skylake-SP and Cascade Lake.
#[cfg(all(target_arch = "x86_64", feature = "simd"))]
fn kernel(backend: Backend) -> Option<Kernel> {
    if backend.has(Feature::ShaNi) {
        Some(Kernel::X4)
    } else if backend.has(Feature::Avx512) {
        Some(Kernel::X16)
    } else {
        None
    }
}

/// The name of the multi-message kernel large batches use on `backend`, or
/// `None` when they run on sha2 one message at a time.
pub(crate) fn sha256_batch_kernel(backend: Backend) -> Option<&'static str> {
    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    return kernel(backend).map(Kernel::name);
    #[cfg(not(all(target_arch = "x86_64", feature = "simd")))]
    {
        let _ = backend;
        None
    }
}

/// SHA-256 of the concatenation of `pieces`, on the scalar / SHA-NI path.
pub(crate) fn sha256_pieces(pieces: Pieces<'_>) -> Digest {
    let mut h = Sha256::new();
    for p in pieces {
        h.update(p);
    }
    h.finalize().into()
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

/// [`sha256_batch`] on `backend` (one this CPU runs).
pub(crate) fn sha256_batch_on<'a, S: DigestSlot>(
    backend: Backend,
    message: impl Fn(usize) -> Pieces<'a>,
    out: &mut [S],
) {
    #[cfg(not(all(target_arch = "x86_64", feature = "simd")))]
    let _ = backend;
    #[cfg(all(target_arch = "x86_64", feature = "simd"))]
    if let Some(k) = kernel(backend) {
        // Sixteen lanes want enough messages not to compress mostly padding.
        let min = if k == Kernel::X16 { X16_MIN } else { 2 };
        if out.len() >= min {
            // SAFETY: `kernel` chose `k` only if the CPU has it (`Backend::has`).
            unsafe { k.run(&message, out) };
            return;
        }
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o.slot() = sha256_pieces(message(i));
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
        [(Kernel::X16, Backend::Avx512, Feature::Avx512), (Kernel::X4, Backend::Avx2, Feature::ShaNi)]
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

    /// The dispatch on every backend: on a multi-message kernel when the
    /// backend has one and the batch is large enough, else on sha2; the same
    /// digests either way.
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
