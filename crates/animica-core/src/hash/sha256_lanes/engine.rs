//! The lane engine both kernels share: which message each lane works on,
//! its next block (read in place or assembled with padding), and writing
//! each digest to its slot. Groups of messages of one shape (equal-sized
//! Merkle leaves, their parents, equal-sized batch items) run in lockstep,
//! every lane's block read from the same place; messages of mixed lengths
//! refill lanes as their messages end. Messages already padded, all of one
//! length, have their own loop (`run_padded`).

use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};

pub(super) use super::IV;
use super::{Digest, DigestSlot, Pieces, pad, padded_len};
use crate::short_copy::copy_short;

/// A kernel that compresses one block of each of `N` messages at a time.
pub(super) trait Lanes<const N: usize> {
    /// Every lane at the initial hash value.
    fn new() -> Self;
    /// Puts `lane` back at the initial hash value (a new message).
    fn start(&mut self, lane: usize);
    /// Compresses `blocks[l]` into lane `l`, for every lane.
    ///
    /// # Safety
    /// The CPU must have the kernel's instructions, and each pointer must
    /// point to 64 readable bytes.
    unsafe fn compress(&mut self, blocks: &[*const u8; N]);
    /// The digest `lane` holds (after its message's last block).
    fn digest(&self, lane: usize) -> Digest;

    /// Compresses every block of the first `count` messages of `group`,
    /// all of the shape `plan` was made for, into lanes `0..count` (from
    /// the initial hash value); the other lanes compress idle blocks.
    /// `ahead` (the next group's messages, of any shape) is only asked
    /// for, so that it is in cache when its turn comes.
    ///
    /// This one reads every block through a pointer, the blocks the plan
    /// assembles from buffers of its own; a kernel may load its blocks in
    /// its own way.
    ///
    /// # Safety
    /// The CPU must have the kernel's instructions, and every message of
    /// `group[..count]` the shape of `plan`.
    unsafe fn hash_group(&mut self, plan: &Plan, group: &[Pieces<'_>; N], count: usize, ahead: &[Pieces<'_>]) {
        for &a in ahead {
            prefetch_start(a);
        }
        let mut bufs = [[0u8; 64]; N];
        for run in &plan.runs {
            let mut at = [IDLE.as_ptr(); N];
            match run {
                &Run::InPlace { piece, off, blocks } => {
                    for b in 0..blocks {
                        for (a, p) in at.iter_mut().zip(&group[..count]) {
                            *a = p[piece][off + 64 * b..].as_ptr();
                            // SAFETY: prefetching is a hint; it never faults.
                            unsafe { _mm_prefetch::<_MM_HINT_T0>(a.wrapping_add(256).cast()) };
                        }
                        // SAFETY: the caller vouches for the CPU; every
                        // pointer is to 64 readable bytes (inside a piece,
                        // as the plan found, or IDLE).
                        unsafe { self.compress(&at) };
                    }
                }
                Run::Padding { template } => {
                    at[..count].fill(template.as_ptr());
                    // SAFETY: as above (the template, or IDLE).
                    unsafe { self.compress(&at) };
                }
                Run::Assembled { template, segments, used } => {
                    for ((a, buf), p) in at.iter_mut().zip(bufs.iter_mut()).zip(&group[..count]) {
                        *buf = *template;
                        for s in &segments[..*used] {
                            copy_short(&mut buf[s.to..s.to + s.len], &p[s.piece][s.from..s.from + s.len]);
                        }
                        *a = buf.as_ptr();
                    }
                    // SAFETY: as above (a lane's buffer, or IDLE); no
                    // buffer is written while the kernel reads it.
                    unsafe { self.compress(&at) };
                }
            }
        }
    }
}

/// The round constants.
pub(super) const K: [u32; 64] = [
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

/// A message in several pieces whose padded length is at most this many
/// bytes is assembled whole in its lane's buffer when the lane takes it, so
/// its blocks are then read in place: a Merkle parent (`0x01 || left ||
/// right`, 181 bytes for Celestia's nodes) is three short copies instead of
/// three blocks each pieced together from straddling parts.
const ASSEMBLED_MAX: usize = 256;

/// Writes the SHA-256 of message `i` to `out[i]` for every `i`, `N` at a
/// time on kernel `L`.
///
/// # Safety
/// The CPU must have the instructions `L` uses.
pub(super) unsafe fn run<'a, const N: usize, L: Lanes<N>, S: DigestSlot>(
    message: &impl Fn(usize) -> Pieces<'a>,
    out: &mut [S],
) {
    // SAFETY: forwarded from the caller.
    let done = unsafe { run_uniform::<N, L, S>(message, out) };
    let rest = |i| message(done + i);
    // SAFETY: forwarded from the caller.
    unsafe { run_ragged::<N, L, S>(&rest, &mut out[done..]) }
}

/// Whether a message's pieces have the lengths `lens`. (Compared one by
/// one: an array of the lengths built to compare with `==` was stored and
/// read back at once, and that store-forwarding stall was a quarter of
/// the lockstep loop's time.)
fn has_shape(pieces: &Pieces<'_>, lens: &[usize; 3]) -> bool {
    pieces.iter().zip(lens).all(|(p, &n)| p.len() == n)
}

/// Hashes messages `N` at a time in lockstep for as long as each group of
/// `N` is uniform (its messages' pieces of the same lengths, as the leaves
/// of a Merkle tree of equal-sized shares, its parents, or a batch of
/// equal-sized items are): then every lane's block `b` is read from the
/// same place, in place inside a piece or assembled over the block's
/// padding, as a [`Plan`] made once for the shape says, with no per-lane
/// cursor, refill or search. Returns how many messages it hashed (a whole
/// number of groups, or all); the rest, from the first group that is not
/// uniform, are left for [`run_ragged`].
///
/// # Safety
/// The CPU must have the instructions `L` uses.
unsafe fn run_uniform<'a, const N: usize, L: Lanes<N>, S: DigestSlot>(
    message: &impl Fn(usize) -> Pieces<'a>,
    out: &mut [S],
) -> usize {
    let mut plan: Option<Plan> = None;
    let mut first = 0;
    while first < out.len() {
        let count = (out.len() - first).min(N);
        let pieces: [Pieces<'a>; N] =
            std::array::from_fn(|l| if l < count { message(first + l) } else { [&[][..]; 3] });
        let lens = pieces[0].map(<[u8]>::len);
        if !pieces[1..count].iter().all(|p| has_shape(p, &lens)) {
            break;
        }
        // The next group's messages start in other allocations (leaves, a
        // batch's items): the kernel asks for them a group ahead. (NMT root
        // of 65,536 leaves of 512 bytes, one thread, AMD Zen 5: 14.0 ms
        // without, 11.0 ms with; 15.9 and 15.1 ms on four SHA-NI streams.)
        let next = first + count..out.len().min(first + count + N);
        let ahead: [Pieces<'a>; N] =
            std::array::from_fn(|l| if l < next.len() { message(next.start + l) } else { [&[][..]; 3] });
        let ahead = &ahead[..next.len()];
        if plan.as_ref().is_none_or(|p| p.lens != lens) {
            plan = Some(Plan::new(lens));
        }
        let plan = plan.as_ref().expect("made for this shape");
        let mut state = L::new();
        // SAFETY: the caller vouches for the CPU; every message of the
        // group has the plan's shape.
        unsafe { state.hash_group(plan, &pieces, count, ahead) };
        for (l, o) in out[first..first + count].iter_mut().enumerate() {
            *o.slot() = state.digest(l);
        }
        first += count;
    }
    first
}

/// Where the blocks of a message of one shape (its pieces' lengths) come
/// from, worked out once for every group of that shape: runs of blocks read
/// in place, and the few blocks that straddle pieces or hold padding.
pub(super) struct Plan {
    lens: [usize; 3],
    pub(super) runs: Vec<Run>,
}

pub(super) enum Run {
    /// `blocks` blocks wholly inside piece `piece`, from its byte `off`.
    InPlace { piece: usize, off: usize, blocks: usize },
    /// One block of padding only, the same for every lane.
    Padding { template: [u8; 64] },
    /// One block: `template` (its padding over zeros) with `used`
    /// segments of the message copied over it.
    Assembled { template: [u8; 64], segments: [Segment; 3], used: usize },
}

/// `len` bytes from `piece[from..]` to the block's byte `to`.
#[derive(Clone, Copy, Default)]
pub(super) struct Segment {
    pub(super) piece: usize,
    pub(super) from: usize,
    pub(super) to: usize,
    pub(super) len: usize,
}

impl Plan {
    fn new(lens: [usize; 3]) -> Plan {
        let len: usize = lens.iter().sum();
        let count = padded_len(len) / 64;
        let mut runs: Vec<Run> = Vec::new();
        for b in 0..count {
            let (lo, hi) = (64 * b, 64 * b + 64);
            let (mut segments, mut used, mut start) = ([Segment::default(); 3], 0, 0);
            for (piece, &n) in lens.iter().enumerate() {
                let (from, to) = (lo.max(start), hi.min(start + n));
                if from < to {
                    segments[used] = Segment { piece, from: from - start, to: from - lo, len: to - from };
                    used += 1;
                }
                start += n;
            }
            if used == 1 && segments[0].len == 64 {
                let Segment { piece, from: off, .. } = segments[0];
                match runs.last_mut() {
                    Some(Run::InPlace { piece: p, off: o, blocks }) if *p == piece && *o + 64 * *blocks == off => {
                        *blocks += 1;
                    }
                    _ => runs.push(Run::InPlace { piece, off, blocks: 1 }),
                }
                continue;
            }
            let mut template = [0u8; 64];
            if (lo..hi).contains(&len) {
                template[len - lo] = 0x80;
            }
            if b + 1 == count {
                template[56..].copy_from_slice(&((len as u64) << 3).to_be_bytes());
            }
            runs.push(if used == 0 { Run::Padding { template } } else { Run::Assembled { template, segments, used } });
        }
        Plan { lens, runs }
    }
}

/// Writes the SHA-256 of message `i` to `out[i]` for every `i`, `N` at a
/// time on kernel `L`, messages of any lengths: a lane that finishes its
/// message takes the next one.
///
/// # Safety
/// The CPU must have the instructions `L` uses.
unsafe fn run_ragged<'a, const N: usize, L: Lanes<N>, S: DigestSlot>(
    message: &impl Fn(usize) -> Pieces<'a>,
    out: &mut [S],
) {
    let mut state = L::new();
    let mut lanes: [Option<Cursor<'a>>; N] = [None; N];
    let mut bufs = [[0u8; ASSEMBLED_MAX]; N];
    let mut blocks = [IDLE.as_ptr(); N];
    let mut next = 0;
    let mut busy = 0;
    for (l, ((lane, buf), block)) in lanes.iter_mut().zip(&mut bufs).zip(&mut blocks).enumerate() {
        if next < out.len() {
            let c = lane.insert(Cursor::new(next, message(next), buf));
            *block = c.block(buf);
            state.start(l);
            next += 1;
            busy += 1;
        }
    }
    // One pass over the lanes per compression: each lane moves on, hands
    // over its digest and takes the next message when its message ends,
    // and names (and prefetches) its next block.
    while busy > 0 {
        // SAFETY: the caller vouches for the CPU; every pointer is to 64
        // readable bytes (a block inside a piece, a lane's buffer, or
        // IDLE), none written meanwhile.
        unsafe { state.compress(&blocks) };
        for (l, ((lane, buf), block)) in lanes.iter_mut().zip(&mut bufs).zip(&mut blocks).enumerate() {
            let Some(c) = lane else { continue };
            c.block += 1;
            // The common case first: a block read in place (a leaf's data).
            if c.block.wrapping_sub(c.in_place.0) < c.in_place.1 - c.in_place.0 {
                *block = c.base.wrapping_add(c.block * 64);
            } else {
                if c.block == c.blocks {
                    *out[c.index].slot() = state.digest(l);
                    if next == out.len() {
                        *lane = None;
                        *block = IDLE.as_ptr();
                        busy -= 1;
                        continue;
                    }
                    *c = Cursor::new(next, message(next), buf);
                    state.start(l);
                    next += 1;
                    if next + N <= out.len() {
                        prefetch_start(message(next + N - 1));
                    }
                }
                *block = c.block(buf);
            }
            // Long messages are read as N interleaved streams (sixteen are
            // more than the hardware prefetchers follow): ask for each
            // lane's next block while this one compresses.
            // SAFETY: prefetching is a hint; it never faults.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(block.wrapping_add(256).cast()) };
        }
    }
}

/// Writes the SHA-256 of each message of `padded` to `out`, `N` at a time
/// on kernel `L`: messages already padded to `blocks` blocks each and laid
/// end to end, so the lanes of a group start and end together and every
/// block is read in place, with none of [`run_ragged`]'s per-message cursor.
///
/// # Safety
/// The CPU must have the instructions `L` uses; `padded` must hold
/// `out.len() * blocks * 64` bytes.
pub(super) unsafe fn run_padded<const N: usize, L: Lanes<N>, S: DigestSlot>(
    padded: &[u8],
    blocks: usize,
    out: &mut [S],
) {
    let stride = blocks * 64;
    for (group, out) in padded.chunks(N * stride).zip(out.chunks_mut(N)) {
        let mut state = L::new();
        let mut at = [IDLE.as_ptr(); N];
        for (a, m) in at.iter_mut().zip(group.chunks_exact(stride)) {
            *a = m.as_ptr();
        }
        for b in 0..blocks {
            // SAFETY: the caller vouches for the CPU; lane `l < out.len()`
            // reads block `b` of its message (inside `group`), the idle
            // ones IDLE's 64 bytes.
            unsafe { state.compress(&at) };
            if b + 1 < blocks {
                for a in &mut at[..out.len()] {
                    *a = a.wrapping_add(64);
                }
            }
        }
        for (l, o) in out.iter_mut().enumerate() {
            *o.slot() = state.digest(l);
        }
    }
}

/// Writes block `block` of the message `pieces` (`len` bytes in all) to
/// `buf`, padding included: the parts of the pieces it covers, the 0x80
/// byte and the length where they fall in it, zeros elsewhere.
pub(super) fn assemble_block(pieces: &Pieces<'_>, len: usize, block: usize, buf: &mut [u8; 64]) {
    let (start, end) = (64 * block, 64 * block + 64);
    buf.fill(0);
    let mut off = 0;
    for p in pieces {
        let (lo, hi) = (start.max(off), end.min(off + p.len()));
        if lo < hi {
            copy_short(&mut buf[lo - start..hi - start], &p[lo - off..hi - off]);
        }
        off += p.len();
    }
    if (start..end).contains(&len) {
        buf[len - start] = 0x80;
    }
    if end == padded_len(len) {
        buf[56..].copy_from_slice(&((len as u64) << 3).to_be_bytes());
    }
}

/// Asks for the first bytes of each piece of a message a lane will take
/// about one message from now. Messages are separate allocations (Merkle
/// leaves, a batch's items), so nothing else would bring a message's start
/// into cache before its lane stalls on it. Measured on AMD Zen 5, an NMT
/// root over 65,536 leaves of 512 bytes (35 MB), one thread: sixteen lanes
/// 18.9 -> 14.2 ms, four SHA-NI streams 17.3 -> 17.2 ms (two threads: 10.0
/// -> 7.5 and 10.0 -> 9.3 ms). A look-ahead of two messages, or the whole
/// 542-byte leaf, measured slower.
fn prefetch_start(pieces: Pieces<'_>) {
    for p in pieces {
        for off in (0..p.len().min(PREFETCH_START)).step_by(64) {
            // SAFETY: prefetching is a hint; it never faults, and `off` is
            // inside the piece.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.as_ptr().wrapping_add(off).cast()) };
        }
    }
}

/// How much of each piece [`prefetch_start`] asks for: the lines before
/// the per-block prefetch (256 bytes ahead of the block being read) covers
/// the rest.
const PREFETCH_START: usize = 320;

/// Where one lane stands in its message.
#[derive(Clone, Copy)]
struct Cursor<'a> {
    index: usize,
    pieces: Pieces<'a>,
    len: usize,
    block: usize,
    blocks: usize,
    /// The whole padded message is in the lane's buffer.
    assembled: bool,
    /// Blocks `in_place.0..in_place.1` lie inside one piece, block `k` at
    /// `base + 64 * k` (a leaf's data: all but its first and last blocks),
    /// so they are read with no search through the pieces.
    in_place: (usize, usize),
    base: *const u8,
}

impl<'a> Cursor<'a> {
    /// The start of message `index`; a short message in more than one
    /// piece is assembled whole, padding included, in `buf`.
    fn new(index: usize, pieces: Pieces<'a>, buf: &mut [u8; ASSEMBLED_MAX]) -> Self {
        let len = pieces.iter().map(|p| p.len()).sum();
        let blocks = padded_len(len) / 64;
        let assembled = blocks * 64 <= ASSEMBLED_MAX && pieces.iter().filter(|p| !p.is_empty()).count() > 1;
        if assembled {
            let mut at = 0;
            for p in pieces {
                buf[at..at + p.len()].copy_from_slice(p);
                at += p.len();
            }
            pad(&mut buf[..blocks * 64], len);
        }
        let (mut in_place, mut base, mut off) = ((0, 0), std::ptr::null(), 0usize);
        for p in pieces {
            // The blocks wholly inside this piece: 64k >= off, 64k + 64 <= off + len.
            let (first, end) = (off.div_ceil(64), (off + p.len()) / 64);
            if end.saturating_sub(first) > in_place.1 - in_place.0 {
                in_place = (first, end);
                base = p.as_ptr().wrapping_sub(off);
            }
            off += p.len();
        }
        Cursor { index, pieces, len, block: 0, blocks, assembled, in_place, base }
    }

    /// The current 64-byte block: read in place when it lies inside one
    /// piece or the message was assembled, else assembled (with padding)
    /// in `buf`.
    #[inline(always)]
    fn block(&self, buf: &mut [u8; ASSEMBLED_MAX]) -> *const u8 {
        let start = self.block * 64;
        if self.assembled {
            buf[start..].as_ptr()
        } else if (self.in_place.0..self.in_place.1).contains(&self.block) {
            // `base` is the piece's start moved back by its offset in the
            // message, so this block lies inside the piece.
            self.base.wrapping_add(start)
        } else {
            self.straddling(buf)
        }
    }

    /// The current block, which straddles pieces or holds padding,
    /// assembled in `buf`.
    #[inline(never)]
    fn straddling(&self, buf: &mut [u8; ASSEMBLED_MAX]) -> *const u8 {
        let buf: &mut [u8; 64] = (&mut buf[..64]).try_into().expect("64 bytes");
        assemble_block(&self.pieces, self.len, self.block, buf);
        buf.as_ptr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_covers_every_block_once() {
        for lens in
            [[0, 0, 0], [1, 29, 512], [1, 180, 0], [0, 64, 0], [55, 0, 0], [56, 0, 0], [64, 64, 64], [3, 0, 700]]
        {
            let len: usize = lens.iter().sum();
            let blocks: usize = Plan::new(lens)
                .runs
                .iter()
                .map(|r| if let Run::InPlace { blocks, .. } = r { *blocks } else { 1 })
                .sum();
            assert_eq!(blocks, padded_len(len) / 64, "{lens:?}");
        }
    }
}
