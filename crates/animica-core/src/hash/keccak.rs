//! Keccak-256 as Ethereum uses it (pad byte 0x01, not FIPS-202's 0x06),
//! on our own Keccak-f[1600].
//!
//! The permutation is written out lane by lane: theta, then rho and pi
//! together (`B[y][2x+3y] = rotl(A[x][y] ^ D[x], r[x][y])`), then chi and
//! iota, two rounds per loop iteration, all on locals. That Rust serves
//! CPUs without BMI1 and BMI2; where they are, `keccak_x86_64.rs` runs the
//! same round in assembly with a fixed register plan (chi's `!b & c` one
//! `andn`, rho one `rorx`), and where AVX-512 runs and was timed faster,
//! `keccak_avx512.rs` permutes instead. The choice is made once per
//! `update`.

use super::Digest;
use super::keccak_params::RATE;
#[cfg(feature = "optimized-keccak")]
use super::keccak_params::RC;
use crate::kernels::{Backend, Feature};

/// One round on lanes `a[x + 5y]`.
#[cfg(feature = "optimized-keccak")]
#[inline(always)]
fn round(a: &mut [u64; 25], rc: u64) {
    let c = [
        a[0] ^ a[5] ^ a[10] ^ a[15] ^ a[20],
        a[1] ^ a[6] ^ a[11] ^ a[16] ^ a[21],
        a[2] ^ a[7] ^ a[12] ^ a[17] ^ a[22],
        a[3] ^ a[8] ^ a[13] ^ a[18] ^ a[23],
        a[4] ^ a[9] ^ a[14] ^ a[19] ^ a[24],
    ];
    let d = [
        c[4] ^ c[1].rotate_left(1),
        c[0] ^ c[2].rotate_left(1),
        c[1] ^ c[3].rotate_left(1),
        c[2] ^ c[4].rotate_left(1),
        c[3] ^ c[0].rotate_left(1),
    ];
    let b = [
        a[0] ^ d[0],
        (a[6] ^ d[1]).rotate_left(44),
        (a[12] ^ d[2]).rotate_left(43),
        (a[18] ^ d[3]).rotate_left(21),
        (a[24] ^ d[4]).rotate_left(14),
        (a[3] ^ d[3]).rotate_left(28),
        (a[9] ^ d[4]).rotate_left(20),
        (a[10] ^ d[0]).rotate_left(3),
        (a[16] ^ d[1]).rotate_left(45),
        (a[22] ^ d[2]).rotate_left(61),
        (a[1] ^ d[1]).rotate_left(1),
        (a[7] ^ d[2]).rotate_left(6),
        (a[13] ^ d[3]).rotate_left(25),
        (a[19] ^ d[4]).rotate_left(8),
        (a[20] ^ d[0]).rotate_left(18),
        (a[4] ^ d[4]).rotate_left(27),
        (a[5] ^ d[0]).rotate_left(36),
        (a[11] ^ d[1]).rotate_left(10),
        (a[17] ^ d[2]).rotate_left(15),
        (a[23] ^ d[3]).rotate_left(56),
        (a[2] ^ d[2]).rotate_left(62),
        (a[8] ^ d[3]).rotate_left(55),
        (a[14] ^ d[4]).rotate_left(39),
        (a[15] ^ d[0]).rotate_left(41),
        (a[21] ^ d[1]).rotate_left(2),
    ];
    a[0] = b[0] ^ (!b[1] & b[2]);
    a[1] = b[1] ^ (!b[2] & b[3]);
    a[2] = b[2] ^ (!b[3] & b[4]);
    a[3] = b[3] ^ (!b[4] & b[0]);
    a[4] = b[4] ^ (!b[0] & b[1]);
    a[5] = b[5] ^ (!b[6] & b[7]);
    a[6] = b[6] ^ (!b[7] & b[8]);
    a[7] = b[7] ^ (!b[8] & b[9]);
    a[8] = b[8] ^ (!b[9] & b[5]);
    a[9] = b[9] ^ (!b[5] & b[6]);
    a[10] = b[10] ^ (!b[11] & b[12]);
    a[11] = b[11] ^ (!b[12] & b[13]);
    a[12] = b[12] ^ (!b[13] & b[14]);
    a[13] = b[13] ^ (!b[14] & b[10]);
    a[14] = b[14] ^ (!b[10] & b[11]);
    a[15] = b[15] ^ (!b[16] & b[17]);
    a[16] = b[16] ^ (!b[17] & b[18]);
    a[17] = b[17] ^ (!b[18] & b[19]);
    a[18] = b[18] ^ (!b[19] & b[15]);
    a[19] = b[19] ^ (!b[15] & b[16]);
    a[20] = b[20] ^ (!b[21] & b[22]);
    a[21] = b[21] ^ (!b[22] & b[23]);
    a[22] = b[22] ^ (!b[23] & b[24]);
    a[23] = b[23] ^ (!b[24] & b[20]);
    a[24] = b[24] ^ (!b[20] & b[21]);
    a[0] ^= rc;
}

/// Keccak-f[1600].
#[cfg(feature = "optimized-keccak")]
#[inline(always)]
fn permute(state: &mut [u64; 25]) {
    let mut a = *state;
    for rc in RC.chunks_exact(2) {
        round(&mut a, rc[0]);
        round(&mut a, rc[1]);
    }
    *state = a;
}

/// Keccak-f[1600], RustCrypto's (built without `optimized-keccak`).
#[cfg(not(feature = "optimized-keccak"))]
#[inline(always)]
fn permute(state: &mut [u64; 25]) {
    keccak::f1600(state);
}

/// XORs each `RATE`-byte block into the state and runs `permutation`
/// (generic so that each caller gets its own inlined copy).
#[inline(always)]
fn absorb_with(state: &mut [u64; 25], blocks: &[u8], permutation: impl Fn(&mut [u64; 25])) {
    for block in blocks.chunks_exact(RATE) {
        for (s, w) in state.iter_mut().zip(block.chunks_exact(8)) {
            *s ^= u64::from_le_bytes(w.try_into().expect("8-byte chunk"));
        }
        permutation(state);
    }
}

#[inline(always)]
fn absorb_body(state: &mut [u64; 25], blocks: &[u8]) {
    absorb_with(state, blocks, permute)
}

/// Absorbs with the assembly permutation (`keccak_x86_64.rs`).
///
/// # Safety
///
/// The CPU must have BMI1 and BMI2.
#[cfg(all(target_arch = "x86_64", feature = "optimized-keccak"))]
unsafe fn absorb_asm(state: &mut [u64; 25], blocks: &[u8]) {
    absorb_with(state, blocks, |s| {
        // SAFETY: the caller guarantees BMI1 and BMI2, all `permute` needs.
        unsafe { super::keccak_x86_64::permute(s) }
    })
}

/// Absorbs with the `keccak` crate's permutation, which on aarch64 (its
/// `asm` feature) runs the ARMv8.2 SHA3 instructions (EOR3, RAX1, XAR, BCAX),
/// made for this permutation, when the CPU has them. (Not yet benchmarked
/// against the unrolled code on real aarch64 hardware: none is available.)
#[cfg(all(target_arch = "aarch64", feature = "optimized-keccak"))]
fn absorb_armv8_sha3(state: &mut [u64; 25], blocks: &[u8]) {
    absorb_with(state, blocks, keccak::f1600)
}

/// Whether the AVX-512 permutation (one lane per register) beats the
/// assembly one on this CPU. Both run the same round; AVX-512's three-input
/// logic makes it about 90 instructions instead of 190, but each takes two
/// cycles on AMD Zen 5 against one for an integer instruction, and a third
/// of them (the 29 rotates) can issue on only two of its four vector pipes.
/// On Zen 5, 1 MiB in cache: 1.51-1.52 ms against 1.54-1.56 ms,
/// so the margin below keeps the assembly there (11 processes of 12 chose
/// it; the unrolled Rust it replaced took 1.83-1.85 ms and lost). No
/// CPUID bit tells how a CPU weighs these, so the first
/// hasher times both on eight blocks (about 0.2 ms with the warm-up, once
/// per process; `kernels::timed_faster`), and AVX-512 must win by 5%.
#[cfg(all(target_arch = "x86_64", feature = "optimized-keccak"))]
fn avx512_is_faster() -> bool {
    static FASTER: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FASTER.get_or_init(|| {
        if !Backend::Avx512.has(Feature::Avx512) || !Backend::Avx2.has(Feature::Bmi2) {
            return Backend::Avx512.has(Feature::Avx512);
        }
        let blocks = [0x5a_u8; 8 * RATE];
        let avx512 = || {
            let mut state = [0u64; 25];
            // SAFETY: this CPU has AVX-512F and VL (the Avx512 backend, checked above).
            unsafe { super::keccak_avx512::absorb(&mut state, &blocks) };
            std::hint::black_box(state);
        };
        let asm = || {
            let mut state = [0u64; 25];
            // SAFETY: this CPU has BMI1 and BMI2 (checked above).
            unsafe { absorb_asm(&mut state, &blocks) };
            std::hint::black_box(state);
        };
        crate::kernels::timed_faster(avx512, asm, 5)
    })
}

/// A Keccak-f[1600] implementation this build may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Permutation {
    /// Unrolled, baseline x86-64 / aarch64 (RustCrypto's without
    /// `optimized-keccak`).
    Portable,
    /// Assembly on BMI1 and BMI2 (x86_64).
    Asm,
    /// One lane per vector register (x86_64, AVX-512F and VL).
    Avx512,
    /// The `keccak` crate on the ARMv8.2 SHA3 instructions (aarch64).
    ArmSha3,
}

impl Permutation {
    const ALL: [Permutation; 4] = [Permutation::Avx512, Permutation::Asm, Permutation::ArmSha3, Permutation::Portable];

    fn name(self) -> &'static str {
        match self {
            Permutation::Portable if cfg!(feature = "optimized-keccak") => "unrolled",
            Permutation::Portable => "keccak crate",
            Permutation::Asm => "x86-64 assembly, BMI1 and BMI2",
            Permutation::Avx512 => "AVX-512, one lane per register",
            Permutation::ArmSha3 => "keccak crate, ARMv8 SHA3 instructions",
        }
    }

    /// Whether this build has it and this CPU runs it.
    fn runs_here(self) -> bool {
        let optimized = cfg!(feature = "optimized-keccak");
        match self {
            Permutation::Portable => true,
            Permutation::Asm => optimized && Backend::Avx2.has(Feature::Bmi2),
            Permutation::Avx512 => optimized && Backend::Avx512.has(Feature::Avx512),
            Permutation::ArmSha3 => optimized && Backend::Neon.has(Feature::Sha3),
        }
    }

    /// The one `backend` uses: AVX-512 where it has it and it was timed
    /// faster, else the assembly, else the ARMv8 SHA3 instructions, else
    /// portable.
    fn on(backend: Backend) -> Permutation {
        let optimized = cfg!(feature = "optimized-keccak");
        #[cfg(all(target_arch = "x86_64", feature = "optimized-keccak"))]
        if backend.has(Feature::Avx512) && avx512_is_faster() {
            return Permutation::Avx512;
        }
        if optimized && backend.has(Feature::Bmi2) {
            Permutation::Asm
        } else if optimized && backend.has(Feature::Sha3) {
            Permutation::ArmSha3
        } else {
            Permutation::Portable
        }
    }

    /// Absorbs whole `RATE`-byte blocks (a trailing partial block is
    /// ignored). Only for a permutation that [`runs_here`](Self::runs_here).
    fn absorb(self, state: &mut [u64; 25], blocks: &[u8]) {
        if blocks.len() < RATE {
            // Nothing to absorb: skip loading the state into registers.
            return;
        }
        match self {
            #[cfg(all(target_arch = "x86_64", feature = "optimized-keccak"))]
            // SAFETY: chosen only where the CPU has AVX-512F and VL (`runs_here`).
            Permutation::Avx512 => unsafe { super::keccak_avx512::absorb(state, blocks) },
            #[cfg(all(target_arch = "x86_64", feature = "optimized-keccak"))]
            // SAFETY: chosen only where the CPU has BMI1 and BMI2 (`runs_here`).
            Permutation::Asm => unsafe { absorb_asm(state, blocks) },
            #[cfg(all(target_arch = "aarch64", feature = "optimized-keccak"))]
            Permutation::ArmSha3 => absorb_armv8_sha3(state, blocks),
            _ => absorb_body(state, blocks),
        }
    }
}

/// What `backend` absorbs with, for `build_info()`; where AVX-512 and BMI2
/// both run, which was timed faster.
pub(crate) fn kernel_name(backend: Backend) -> &'static str {
    let p = Permutation::on(backend);
    let timed = cfg!(feature = "optimized-keccak") && backend.has(Feature::Avx512) && backend.has(Feature::Bmi2);
    match (p, timed) {
        (Permutation::Avx512, _) => "AVX-512, one lane per register (timed faster than the assembly here)",
        (Permutation::Asm, true) => "x86-64 assembly, BMI1 and BMI2 (timed no slower than AVX-512 here)",
        (p, _) => p.name(),
    }
}

/// The Keccak-f[1600] implementations this CPU runs, by name, each of
/// which [`keccak256_with`] runs by itself (benches compare them where the
/// dispatch picks one).
pub fn keccak256_kernels() -> Vec<&'static str> {
    Permutation::ALL.into_iter().filter(|p| p.runs_here()).map(Permutation::name).collect()
}

/// Keccak-256 of `data` on the implementation called `name` (one of
/// [`keccak256_kernels`]); `None` for one this CPU or build does not run.
pub fn keccak256_with(name: &str, data: &[u8]) -> Option<Digest> {
    let permutation = Permutation::ALL.into_iter().find(|p| p.name() == name && p.runs_here())?;
    let mut h = Keccak256 { state: [0; 25], buf: [0; RATE], buffered: 0, permutation };
    h.update(data);
    Some(h.finalize())
}

/// An incremental Keccak-256.
#[derive(Clone)]
pub struct Keccak256 {
    state: [u64; 25],
    buf: [u8; RATE],
    buffered: usize,
    permutation: Permutation,
}

impl std::fmt::Debug for Keccak256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keccak256").finish_non_exhaustive()
    }
}

impl Default for Keccak256 {
    fn default() -> Self {
        Self::new()
    }
}

impl Keccak256 {
    /// The empty state, on the process's backend.
    pub fn new() -> Self {
        Self::on(Backend::get())
    }

    /// The empty state, on `backend` (one this CPU runs: tests, benches).
    pub fn on(backend: Backend) -> Self {
        Keccak256 { state: [0; 25], buf: [0; RATE], buffered: 0, permutation: Permutation::on(backend) }
    }

    /// Absorbs `data`.
    pub fn update(&mut self, mut data: &[u8]) {
        if self.buffered > 0 {
            let take = (RATE - self.buffered).min(data.len());
            self.buf[self.buffered..self.buffered + take].copy_from_slice(&data[..take]);
            self.buffered += take;
            data = &data[take..];
            if self.buffered < RATE {
                return;
            }
            let buf = self.buf;
            self.permutation.absorb(&mut self.state, &buf);
            self.buffered = 0;
        }
        let whole = data.len() - data.len() % RATE;
        self.permutation.absorb(&mut self.state, &data[..whole]);
        let rest = &data[whole..];
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buffered = rest.len();
    }

    /// The digest of everything absorbed so far (the state is unchanged).
    pub fn finalize(&self) -> Digest {
        let mut block = [0u8; RATE];
        block[..self.buffered].copy_from_slice(&self.buf[..self.buffered]);
        block[self.buffered] ^= 0x01;
        block[RATE - 1] ^= 0x80;
        let mut state = self.state;
        self.permutation.absorb(&mut state, &block);
        let mut out = [0u8; 32];
        for (o, s) in out.chunks_exact_mut(8).zip(state) {
            o.copy_from_slice(&s.to_le_bytes());
        }
        out
    }
}

/// Keccak-256 of `data`.
pub fn keccak256(data: &[u8]) -> Digest {
    keccak256_on(Backend::get(), data)
}

/// Keccak-256 of `data` on `backend` (one this CPU runs: tests, benches).
pub fn keccak256_on(backend: Backend, data: &[u8]) -> Digest {
    let mut h = Keccak256::on(backend);
    h.update(data);
    h.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha3::Digest as _;

    #[test]
    fn matches_the_sha3_crate_at_every_length_and_split_on_every_backend() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        crate::kernels::each_backend("keccak256", |backend| {
            for len in 0..data.len() {
                let want: Digest = sha3::Keccak256::digest(&data[..len]).into();
                assert_eq!(keccak256_on(backend, &data[..len]), want, "{backend:?}: length {len}");
                let cut = (len * 13) % (len + 1);
                let mut h = Keccak256::on(backend);
                h.update(&data[..cut]);
                h.update(&data[cut..len]);
                assert_eq!(h.finalize(), want, "{backend:?}: length {len} split at {cut}");
            }
        });
        assert_eq!(keccak256(b"abc"), keccak256_on(Backend::Portable, b"abc"));
    }

    /// The assembly permutation against RustCrypto's on states that set
    /// each lane's bits in turn (every rotation and chi input shows), then
    /// absorbing against the unrolled Rust from a state that is not zero.
    #[cfg(all(target_arch = "x86_64", feature = "optimized-keccak"))]
    #[test]
    fn assembly_matches_the_keccak_crate_and_the_unrolled_rust() {
        use crate::kernels::{Backend, Feature, runnable};
        if !runnable("keccak assembly vs keccak crate and unrolled Rust", Backend::Avx2, Feature::Bmi2) {
            return;
        }
        for lane in 0..25 {
            for bits in [1u64, 1 << 63, 0x8000_0000_0000_0001, !0, 0x0123_4567_89ab_cdef] {
                let mut want = [0u64; 25];
                want[lane] = bits;
                let mut got = want;
                keccak::f1600(&mut want);
                // SAFETY: `runnable` checked that this CPU has BMI1 and BMI2.
                unsafe { super::super::keccak_x86_64::permute(&mut got) };
                assert_eq!(got, want, "lane {lane} = {bits:#x}");
            }
        }
        let data: Vec<u8> = (0..RATE * 40 + 50).map(|i| (i * 131 + 7) as u8).collect();
        let mut a = [0x9e37_79b9_7f4a_7c15u64; 25];
        let mut b = a;
        for chunk in data.chunks(RATE * 3 + 50) {
            absorb_body(&mut a, chunk);
            // SAFETY: as above.
            unsafe { absorb_asm(&mut b, chunk) };
            assert_eq!(a, b);
        }
    }

    /// Every implementation this CPU runs, by its public entry, against the
    /// sha3 crate; the others are refused.
    #[test]
    fn each_listed_kernel_matches_the_sha3_crate() {
        let data: Vec<u8> = (0..700u32).map(|i| (i * 11 + 5) as u8).collect();
        let listed = keccak256_kernels();
        for p in Permutation::ALL {
            let got = keccak256_with(p.name(), &data);
            assert_eq!(got.is_some(), listed.contains(&p.name()), "{p:?}");
            if let Some(got) = got {
                let want: Digest = sha3::Keccak256::digest(&data).into();
                assert_eq!(got, want, "{p:?}");
            }
        }
        eprintln!("keccak kernels run here: {listed:?}");
        assert!(keccak256_with("no such kernel", b"").is_none());
    }

    /// The AVX-512 permutation itself, whichever the dispatch picked here.
    #[cfg(all(target_arch = "x86_64", feature = "optimized-keccak"))]
    #[test]
    fn unrolled_and_avx512_agree() {
        use crate::kernels::{Backend, Feature, runnable};
        if !runnable("keccak unrolled vs AVX-512", Backend::Avx512, Feature::Avx512) {
            return;
        }
        // Three blocks at a time, from a state that is not all zero, with a
        // trailing partial block the absorb must leave alone.
        let data: Vec<u8> = (0..RATE * 9 + 50).map(|i| (i * 131 + 7) as u8).collect();
        let mut a = [0u64; 25];
        let mut b = [0u64; 25];
        for chunk in data.chunks(RATE * 3 + 50) {
            absorb_body(&mut a, chunk);
            // SAFETY: `runnable` checked that this CPU has AVX-512F.
            unsafe { super::super::keccak_avx512::absorb(&mut b, chunk) };
            assert_eq!(a, b);
        }
        eprintln!("keccak: AVX-512 chosen by timing here: {}", avx512_is_faster());
    }

    #[cfg(all(target_arch = "aarch64", feature = "optimized-keccak"))]
    #[test]
    fn unrolled_and_armv8_sha3_agree() {
        use crate::kernels::{Backend, Feature, runnable};
        if !runnable("keccak unrolled vs ARMv8 SHA3", Backend::Neon, Feature::Sha3) {
            return;
        }
        let blocks: Vec<u8> = (0..RATE * 3).map(|i| (i * 31) as u8).collect();
        let mut a = [0u64; 25];
        absorb_body(&mut a, &blocks);
        let mut b = [0u64; 25];
        absorb_armv8_sha3(&mut b, &blocks);
        assert_eq!(a, b);
    }
}
