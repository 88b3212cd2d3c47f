//! Copies of a few bytes, too short and too many for a call to `memmove`.

/// Copies `src` to `dst` (of equal lengths): up to 64 bytes with two
/// overlapping moves of a fixed width, inlined; longer ones by `memmove`.
/// The pieces of a Merkle leaf's first and last blocks (1 to 34 bytes) and
/// the namespaces written into every node (29 bytes for Celestia's) are
/// copied millions of times an NMT root, and the calls to `memmove` for
/// them were 9% of a profile of `nmt.root`. Copying 29 bytes took 3.1 ns
/// inline against 4.7-7.4 ns by `memmove`; from 64 bytes on glibc's
/// AVX-512 `memmove` is the faster (90 bytes: 8.4 against 9.7 ns inline).
#[inline(always)]
pub(crate) fn copy_short(dst: &mut [u8], src: &[u8]) {
    fn two<const W: usize>(dst: &mut [u8], src: &[u8]) {
        let n = src.len();
        let head: [u8; W] = src[..W].try_into().expect("n >= W");
        let tail: [u8; W] = src[n - W..].try_into().expect("n >= W");
        dst[..W].copy_from_slice(&head);
        dst[n - W..].copy_from_slice(&tail);
    }
    debug_assert_eq!(dst.len(), src.len());
    match src.len() {
        65.. => dst.copy_from_slice(src),
        32..=64 => two::<32>(dst, src),
        16..=31 => two::<16>(dst, src),
        8..=15 => two::<8>(dst, src),
        4..=7 => two::<4>(dst, src),
        0 => {}
        n => {
            // 1 to 3 bytes: first, last, and the middle one.
            dst[0] = src[0];
            dst[n / 2] = src[n / 2];
            dst[n - 1] = src[n - 1];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_copies_of_every_length_copy_exactly() {
        let src: Vec<u8> = (1..=80).collect();
        for n in 0..=80 {
            for at in [0, 80 - n] {
                let mut dst = [0u8; 80];
                copy_short(&mut dst[at..at + n], &src[..n]);
                let mut want = [0u8; 80];
                want[at..at + n].copy_from_slice(&src[..n]);
                assert_eq!(dst, want, "{n} bytes at {at}");
            }
        }
    }
}
