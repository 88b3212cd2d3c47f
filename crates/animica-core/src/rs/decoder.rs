//! Restoring lost data shards on a `reed-solomon-simd` engine.
//!
//! The algorithm is the crate's decoder (its high- and low-rate forms, the
//! same choice between them, the same engine calls, so the same bits),
//! driven here through the crate's public `Engine` API:
//!
//! - **Only the FFT outputs wanted.** The closing FFT's first layer pairs
//!   the two halves of the work rows; after it, each half is an FFT of its
//!   own. The crate transforms both, though only the lost data rows are
//!   read: in the high-rate form (`k <= m`, the usual case) the data rows
//!   are all in the upper half, so the lower half's transform is skipped,
//!   and so on down while the lost rows share a half. A layer is one engine
//!   call: the block, viewed as two "shards" each half the block long, is
//!   an FFT of size two ([`layer`]).
//! - **Each row filled at once.** A received shard is copied into its row
//!   and multiplied there while in cache; the crate copies every shard in,
//!   then multiplies them all.
//! - **The locator once a loss pattern.** It is evaluated over all 65,536
//!   field elements; the codec calls this once a column block, and a
//!   decoder keeps the result for as long as the pattern holds.
//! - **No table on the stack.** The crate's decoder keeps the locator
//!   (128 KiB) on the stack, more than a musl thread has; here it is on the
//!   heap.
//!
//! Measured in Rust on AMD Zen 5 (one thread, 32 + 32 shards of 64 KiB, 16
//! data shards lost, odd and even in turn, best of 300; three rounds taking
//! turns, a busy spell of a shared machine), against the crate's decoder:
//!
//! | engine | crate's decoder | this, whole FFT | this |
//! | --- | ---: | ---: | ---: |
//! | crate's AVX2 | 1113-1157 us | 1098-1146 us | 910-983 us |
//! | ours, AVX-512 + GFNI | 579-686 us | 577-608 us | 560-578 us |
//!
//! The closing FFT is a smaller share on the AVX-512 engine, which does two
//! layers a pass: the layer done alone costs a pass of its own there.

use std::ops::Range;

use reed_solomon_simd::engine::{Engine, GF_MODULUS, GF_ORDER, GfElement, ShardsRefMut};

use crate::error::{Error, Result};

/// Where the decoder's rows are: the crate's layouts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Layout {
    /// Row of data shard 0.
    original: usize,
    /// Row of parity shard 0.
    recovery: usize,
    /// Rows in all, a power of two.
    rows: usize,
    /// Rows past this one are zero going into the transforms.
    end: usize,
    /// The high-rate form (parity rows first).
    high: bool,
}

impl Layout {
    /// The crate's choice for `k` data and `m` parity shards
    /// (`reed_solomon_simd::rate::DefaultRate`): the high rate when `k`
    /// rounds up to more than `m` does, or to the same and `k <= m`.
    fn new(k: usize, m: usize) -> Result<Layout> {
        if !reed_solomon_simd::ReedSolomonEncoder::supports(k, m) {
            return Err(Error::Codec { reason: format!("{k} data and {m} parity shards are not supported") });
        }
        let (kp, mp) = (k.next_power_of_two(), m.next_power_of_two());
        let high = kp > mp || (kp == mp && k <= m);
        Ok(if high {
            Layout { original: mp, recovery: 0, rows: (mp + k).next_power_of_two(), end: mp + k, high }
        } else {
            Layout { original: 0, recovery: kp, rows: (kp + m).next_power_of_two(), end: kp + m, high }
        })
    }
}

/// A decoder's engine and buffers, kept by a thread between calls.
pub(super) struct Decoder<E> {
    engine: E,
    /// The work rows, each `shard_bytes` rounded up to 64-byte chunks.
    work: Vec<[u8; 64]>,
    /// The evaluated error locator, one element a row.
    erasures: Box<[GfElement; GF_ORDER]>,
    /// What `erasures` was evaluated for: the layout and each row's
    /// receipt. `None` when it holds nothing valid.
    located: Option<(Layout, Vec<bool>)>,
    /// Which rows were received, for this call.
    received: Vec<bool>,
}

impl<E: Engine> Decoder<E> {
    /// The engine, for tests of the steps done through it.
    #[cfg(test)]
    pub(super) fn engine(&self) -> &E {
        &self.engine
    }

    pub(super) fn new(engine: E) -> Self {
        let erasures: Box<[GfElement; GF_ORDER]> =
            vec![0; GF_ORDER].into_boxed_slice().try_into().expect("a slice of GF_ORDER elements");
        Decoder { engine, work: Vec::new(), erasures, located: None, received: Vec::new() }
    }

    /// Restores columns `r` of the data shards `lost` (ascending, each
    /// missing from `shards`) into `outs`, from columns `r` of the first
    /// `k` shards at hand: the data shards received and as many parity
    /// shards as data shards were lost (any `k` determine the rest; each
    /// one more would cost a copy and a multiply).
    ///
    /// `r` is non-empty and even; `shards` holds `k` data then the parity
    /// shards, at least `k` of them present.
    #[inline(always)]
    pub(super) fn restore(
        &mut self,
        k: usize,
        shards: &[Option<&[u8]>],
        lost: &[usize],
        r: Range<usize>,
        outs: &mut [&mut [u8]],
    ) -> Result<()> {
        if lost.is_empty() {
            return Ok(());
        }
        let m = shards.len() - k;
        let layout = Layout::new(k, m)?;
        let bytes = r.len();
        if bytes == 0 || bytes % 2 == 1 {
            return Err(Error::Codec { reason: format!("a column range of {bytes} bytes") });
        }
        let len = bytes.div_ceil(64);
        self.received.clear();
        self.received.resize(layout.rows, false);
        let mut wanted = lost.len();
        for (i, s) in shards.iter().enumerate() {
            if s.is_none() {
                continue;
            }
            if i < k {
                self.received[layout.original + i] = true;
            } else if wanted > 0 {
                wanted -= 1;
                self.received[layout.recovery + i - k] = true;
            }
        }
        if wanted > 0 {
            return Err(Error::Codec { reason: format!("{wanted} shards short of the {k} needed") });
        }
        self.locate(layout, k, m);

        // Every row: a received shard times its locator value, else zero.
        self.work.resize(layout.rows * len, [0; 64]);
        for (row, chunks) in self.work.chunks_exact_mut(len).enumerate() {
            let shard = if !self.received[row] {
                None
            } else if row >= layout.original && row < layout.original + k {
                shards[row - layout.original]
            } else {
                shards[k + row - layout.recovery]
            };
            match shard {
                Some(s) => {
                    insert(chunks, &s[r.clone()]);
                    self.engine.mul(chunks, self.erasures[row]);
                }
                None => chunks.fill([0; 64]),
            }
        }

        let rows = layout.rows;
        self.engine.ifft(&mut ShardsRefMut::new(rows, len, &mut self.work), 0, rows, layout.end, 0);
        derivative(&mut self.work, rows, len);
        // `lost` is ascending: its rows lie within its first and last.
        let want = layout.original + lost[0]..layout.original + lost[lost.len() - 1] + 1;
        fft_of(&self.engine, &mut self.work, len, rows, layout.end, want);

        for (o, &i) in outs.iter_mut().zip(lost) {
            let row = layout.original + i;
            let chunks = &mut self.work[row * len..(row + 1) * len];
            self.engine.mul(chunks, GF_MODULUS - self.erasures[row]);
            extract(chunks, o);
        }
        Ok(())
    }

    /// Fills `erasures` with the error locator of this call's receipt,
    /// unless it already holds it.
    fn locate(&mut self, layout: Layout, k: usize, m: usize) {
        if self.located.as_ref().is_some_and(|(l, got)| *l == layout && *got == self.received) {
            return;
        }
        self.located = None;
        let e = &mut *self.erasures;
        e.fill(0);
        // The crate's marks: each shard not at hand, and the rows between
        // the last parity row and the next power of two (high rate) or
        // every row past the parity (low rate).
        let (data, parity) = (layout.original..layout.original + k, layout.recovery..layout.recovery + m);
        for row in data.chain(parity.clone()) {
            e[row] = GfElement::from(!self.received[row]);
        }
        if layout.high {
            e[parity.end..layout.original].fill(1);
            E::eval_poly(e, layout.end);
        } else {
            e[parity.end..].fill(1);
            E::eval_poly(e, GF_ORDER);
        }
        self.located = Some((layout, self.received.clone()));
    }
}

/// A shard's columns as the crate lays them in 64-byte chunks: whole
/// chunks as they are; a last, partial chunk (`n` bytes) with its first
/// `n / 2` bytes at 0 and the rest at 32 (the low and high bytes of its
/// 16-bit symbols apart, as in every chunk).
fn insert(chunks: &mut [[u8; 64]], s: &[u8]) {
    let whole = s.len() / 64;
    let (body, tail) = s.split_at(whole * 64);
    chunks[..whole].as_flattened_mut().copy_from_slice(body);
    if !tail.is_empty() {
        let (lo, hi) = tail.split_at(tail.len() / 2);
        let last = &mut chunks[whole];
        *last = [0; 64];
        last[..lo.len()].copy_from_slice(lo);
        last[32..32 + hi.len()].copy_from_slice(hi);
    }
}

/// The inverse of [`insert`], into `out`.
fn extract(chunks: &[[u8; 64]], out: &mut [u8]) {
    let whole = out.len() / 64;
    let (body, tail) = out.split_at_mut(whole * 64);
    body.copy_from_slice(chunks[..whole].as_flattened());
    if !tail.is_empty() {
        let half = tail.len() / 2;
        let last = &chunks[whole];
        tail[..half].copy_from_slice(&last[..half]);
        tail[half..].copy_from_slice(&last[32..32 + half]);
    }
}

/// The crate's formal derivative of the `rows` work rows (`len` chunks
/// each): for each row `i` from 1, with `w` its lowest set bit, rows
/// `i - w .. i` ^= rows `i .. i + w`, in that order. Each step is one run
/// of XORs over adjacent rows.
#[inline(always)]
fn derivative(work: &mut [[u8; 64]], rows: usize, len: usize) {
    for i in 1..rows {
        let w = 1 << i.trailing_zeros();
        let (head, tail) = work.split_at_mut(i * len);
        xor(&mut head[(i - w) * len..], &tail[..w * len]);
    }
}

/// `dst ^= src`, chunk by chunk.
#[inline(always)]
fn xor(dst: &mut [[u8; 64]], src: &[[u8; 64]]) {
    for (d, s) in dst.iter_mut().zip(src) {
        for (d, s) in d.iter_mut().zip(s) {
            *d ^= s;
        }
    }
}

/// The crate's closing `fft(work, 0, rows, end, 0)`, but only as far as the
/// rows in `want` need: while they all lie in one half of the block, its
/// first layer runs ([`layer`]) and the other half is dropped.
#[inline(always)]
fn fft_of<E: Engine>(engine: &E, work: &mut [[u8; 64]], len: usize, rows: usize, end: usize, want: Range<usize>) {
    let (mut pos, mut size, mut truncated, mut skew) = (0, rows, end, 0);
    while size > 2 {
        let half = size / 2;
        let upper = want.start >= pos + half;
        if !upper && want.end > pos + half {
            break;
        }
        layer(engine, &mut work[pos * len..(pos + size) * len], half * len, skew + half - 1);
        if upper {
            pos += half;
            skew += half;
            truncated -= half;
        }
        size = half;
        truncated = truncated.min(size);
    }
    engine.fft(&mut ShardsRefMut::new(rows, len, work), pos, size, truncated, skew);
}

/// One FFT layer over `block`: each chunk of its first half paired with the
/// chunk `half` chunks on, multiplied by skew factor `skew`. The engine
/// does it as an FFT of size two over the block viewed as two shards of
/// `half` chunks, whose one layer uses factor `skew` (its skew delta).
#[inline(always)]
fn layer<E: Engine>(engine: &E, block: &mut [[u8; 64]], half: usize, skew: usize) {
    engine.fft(&mut ShardsRefMut::new(2, half, block), 0, 2, 2, skew);
}

/// For tests (`codec`'s, which run it on every engine this CPU runs): the
/// pruned FFT gives the whole FFT's rows wherever they are wanted, for
/// every block size, every truncation that keeps the wanted rows, and
/// wanted ranges inside one half, one quarter, or across the middle.
#[cfg(test)]
pub(super) fn check_pruned_fft<E: Engine>(engine: &E, name: &str) {
    let len = 3;
    for rows in [2, 4, 8, 16, 64] {
        for end in [rows / 2 + 1, rows] {
            let wants = [0..1, rows - 1..rows, rows / 2..rows, 0..rows / 2, rows / 4..rows / 2 + 1, 1..end];
            for want in wants.into_iter().filter(|w| !w.is_empty() && w.end <= end) {
                let input: Vec<[u8; 64]> = (0..rows * len)
                    .map(|c| std::array::from_fn(|b| ((c * 131 + b * 29 + rows + end) % 251) as u8))
                    .collect();
                let (mut full, mut pruned) = (input.clone(), input);
                engine.fft(&mut ShardsRefMut::new(rows, len, &mut full), 0, rows, end, 0);
                fft_of(engine, &mut pruned, len, rows, end, want.clone());
                let rows_of = |w: &[[u8; 64]]| w[want.start * len..want.end * len].to_vec();
                assert!(rows_of(&full) == rows_of(&pruned), "{name} rows={rows} end={end} want={want:?}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use reed_solomon_simd::engine::NoSimd;

    use super::*;
    use crate::parallel::Threads;

    fn bytes(n: usize, seed: usize) -> Vec<u8> {
        (0..n).map(|j| ((seed * 131 + j * 29 + (j >> 7)) % 251) as u8).collect()
    }

    /// The crate's decoder, as the reference: the shards it restores.
    fn crates_restore(k: usize, shards: &[Option<Vec<u8>>]) -> Vec<(usize, Vec<u8>)> {
        let len = shards.iter().flatten().next().unwrap().len();
        let mut dec = reed_solomon_simd::ReedSolomonDecoder::new(k, shards.len() - k, len).unwrap();
        for (i, s) in shards.iter().enumerate() {
            if let Some(s) = s {
                if i < k {
                    dec.add_original_shard(i, s).unwrap();
                } else {
                    dec.add_recovery_shard(i - k, s).unwrap();
                }
            }
        }
        let mut got: Vec<(usize, Vec<u8>)> =
            dec.decode().unwrap().restored_original_iter().map(|(i, s)| (i, s.to_vec())).collect();
        got.sort();
        got
    }

    /// One decoder, kept across calls as the codec keeps it, restores what
    /// the crate's decoder restores: both rates, partial last chunks, rows
    /// wide enough to be spaced apart, losses in one part of the data rows
    /// (where the FFT is pruned) or across them, and a loss pattern, then
    /// another, then the first again (the remembered locator).
    #[test]
    fn a_kept_decoder_restores_what_the_crates_restores() {
        let mut dec = Decoder::new(NoSimd::new());
        for (k, m) in [(1, 1), (3, 5), (5, 3), (16, 48), (48, 16), (32, 32), (33, 31), (200, 10)] {
            for len in [2, 130, 64 * 40 + 6] {
                let data: Vec<Vec<u8>> = (0..k).map(|i| bytes(len, i)).collect();
                let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
                let parity = crate::rs::encode(&refs, m, Threads::SERIAL).unwrap();
                let losses: [Vec<usize>; 5] = [
                    vec![0],
                    vec![k - 1],
                    (0..k.min(m)).step_by(2).collect(),
                    (k - k.min(m).div_ceil(2)..k).collect(),
                    vec![0],
                ];
                for lost in losses {
                    let shards: Vec<Option<Vec<u8>>> = (0..k + m)
                        .map(|i| match i {
                            i if i < k => (!lost.contains(&i)).then(|| data[i].clone()),
                            i => Some(parity[i - k].clone()),
                        })
                        .collect();
                    let views: Vec<Option<&[u8]>> = shards.iter().map(|s| s.as_deref()).collect();
                    let mut outs = vec![vec![0u8; len]; lost.len()];
                    let mut o: Vec<&mut [u8]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
                    dec.restore(k, &views, &lost, 0..len, &mut o).unwrap();
                    let want = crates_restore(k, &shards);
                    let got: Vec<(usize, Vec<u8>)> = lost.iter().copied().zip(outs).collect();
                    assert!(got == want, "k={k} m={m} len={len} lost={lost:?}");
                    for (i, s) in &got {
                        assert!(*s == data[*i], "k={k} m={m} len={len} shard {i}");
                    }
                }
            }
        }
    }

    /// Too few shards is an error, not a wrong answer.
    #[test]
    fn too_few_shards_is_an_error() {
        let mut dec = Decoder::new(NoSimd::new());
        let a = [1u8; 64];
        let shards = [None, None, Some(&a[..]), None];
        let mut outs = [vec![0u8; 64], vec![0u8; 64]];
        let mut o: Vec<&mut [u8]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
        let err = dec.restore(2, &shards, &[0, 1], 0..64, &mut o).unwrap_err().to_string();
        assert!(err.contains("1 shards short of the 2 needed"), "{err}");
    }

    /// musl's default thread stack (128 KiB): the crate's own decoder keeps
    /// a 128 KiB table on the stack and overflowed it; this one keeps the
    /// table on the heap.
    #[test]
    fn reconstructs_on_a_thread_with_a_small_stack() {
        let data: Vec<Vec<u8>> = (0..32u8).map(|i| vec![i.wrapping_mul(37); 64 * 1024]).collect();
        let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        let parity = crate::rs::encode(&refs, 32, Threads::SERIAL).unwrap();
        let shards: Vec<Option<&[u8]>> = (0..64)
            .map(|i| if i < 32 { (i % 2 == 1).then(|| refs[i]) } else { Some(parity[i - 32].as_slice()) })
            .collect();
        for threads in [Threads::SERIAL, Threads::Auto] {
            let got = std::thread::scope(|scope| {
                std::thread::Builder::new()
                    .stack_size(128 * 1024)
                    .spawn_scoped(scope, || crate::rs::reconstruct(32, &shards, threads))
                    .unwrap()
                    .join()
                    .unwrap()
            });
            for (i, shard) in got.unwrap() {
                assert_eq!(shard, data[i], "shard {i} with {threads:?}");
            }
        }
    }
}
