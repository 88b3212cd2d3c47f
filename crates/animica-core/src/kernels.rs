//! The one seam for CPU features, modelled on BLAKE3's `platform.rs`: what
//! the CPU offers is detected once per process; a [`Backend`] is a level of
//! kernels, the best one the CPU runs unless `ANIMICA_BACKEND` asks for a
//! lower one; every dispatch asks a backend whether a [`Feature`] may be
//! used, so tests and benches can run each backend in one process.
//! [`crate::selection`] reports what a process uses.

use std::sync::OnceLock;

/// The environment variable that caps the process's backend (`portable`,
/// `avx2`, `avx512`, `neon`), so the lower paths can be run and measured on
/// a CPU that has the higher ones. Read once per process; a backend this
/// CPU cannot run gives the best one below it.
pub const BACKEND_VAR: &str = "ANIMICA_BACKEND";

/// A level of kernels. Outputs never depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// None of our kernels, and the dependencies' portable code where they
    /// let us choose: SHA-256 one message at a time (the sha2 crate still
    /// uses SHA-NI or the ARMv8 SHA-2 instructions by itself), Keccak
    /// unrolled in Rust, reed-solomon-simd's `NoSimd` engine. It is
    /// also what an x86_64 CPU without AVX2 (before 2013) runs, so there
    /// Reed-Solomon is scalar where the crate's own choice would be SSSE3.
    Portable,
    /// x86_64 with AVX2: SHA-256 batches four messages at a time on SHA-NI
    /// (when the CPU has it), Keccak in assembly on BMI1 and BMI2,
    /// reed-solomon-simd's AVX2 engine.
    Avx2,
    /// `Avx2` plus AVX-512F, BW and VL (every CPU with BW has VL): our
    /// AVX-512 Reed-Solomon engine (its
    /// multiplies on GFNI where the CPU has it); SHA-256
    /// batches sixteen at a time and Keccak on AVX-512 where timed faster
    /// (once per process) than the AVX2-level kernels.
    Avx512,
    /// aarch64: Keccak on the ARMv8.2 SHA3 instructions (when the CPU has
    /// them), reed-solomon-simd's NEON engine.
    Neon,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a kernel needs from the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// AVX2 (x86_64).
    Avx2,
    /// AVX-512F and AVX-512BW (x86_64).
    Avx512,
    /// SHA-NI and SSE4.1 (x86_64).
    ShaNi,
    /// GFNI (x86_64), used with AVX-512: only the `Avx512` backend has it.
    Gfni,
    /// BMI1 and BMI2 (x86_64; every CPU with AVX2 has both).
    Bmi2,
    /// NEON (aarch64: always there).
    Neon,
    /// The ARMv8.2 SHA3 instructions (aarch64).
    Sha3,
    /// The ARMv8 SHA-2 instructions (aarch64). Reported only: the sha2
    /// crate detects and uses them by itself.
    ArmSha2,
}

/// The CPU's features, detected once.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    avx2: bool,
    avx512: bool,
    shani: bool,
    gfni: bool,
    bmi2: bool,
    neon: bool,
    sha3: bool,
    arm_sha2: bool,
}

fn cpu() -> &'static Cpu {
    static CPU: OnceLock<Cpu> = OnceLock::new();
    CPU.get_or_init(|| {
        #[allow(unused_mut)]
        let mut c = Cpu::default();
        #[cfg(target_arch = "x86_64")]
        {
            c.avx2 = is_x86_feature_detected!("avx2");
            c.avx512 = is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vl");
            c.shani = is_x86_feature_detected!("sha") && is_x86_feature_detected!("sse4.1");
            c.gfni = is_x86_feature_detected!("gfni");
            c.bmi2 = is_x86_feature_detected!("bmi1") && is_x86_feature_detected!("bmi2");
        }
        #[cfg(target_arch = "aarch64")]
        {
            c.neon = std::arch::is_aarch64_feature_detected!("neon");
            c.sha3 = std::arch::is_aarch64_feature_detected!("sha3");
            c.arm_sha2 = std::arch::is_aarch64_feature_detected!("sha2");
        }
        c
    })
}

impl Backend {
    /// Every backend, best first within each architecture.
    pub const ALL: [Backend; 4] = [Backend::Avx512, Backend::Avx2, Backend::Neon, Backend::Portable];

    /// The name `ANIMICA_BACKEND` and `build_info()` use.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Portable => "portable",
            Backend::Avx2 => "avx2",
            Backend::Avx512 => "avx512",
            Backend::Neon => "neon",
        }
    }

    /// The backend called `name`, if any.
    pub fn from_name(name: &str) -> Option<Backend> {
        Backend::ALL.into_iter().find(|b| b.name() == name.trim().to_ascii_lowercase())
    }

    /// Whether this build for this architecture has the backend's kernels
    /// at all (AVX2 and AVX-512 on x86_64, NEON on aarch64).
    pub fn exists_here(self) -> bool {
        match self {
            Backend::Portable => true,
            Backend::Avx2 | Backend::Avx512 => cfg!(target_arch = "x86_64"),
            Backend::Neon => cfg!(target_arch = "aarch64"),
        }
    }

    /// Whether this CPU can run the backend.
    pub fn runs_here(self) -> bool {
        let c = cpu();
        match self {
            Backend::Portable => true,
            Backend::Avx2 => c.avx2,
            Backend::Avx512 => c.avx2 && c.avx512,
            Backend::Neon => c.neon,
        }
    }

    /// Every backend this CPU runs, best first.
    pub fn available() -> Vec<Backend> {
        Backend::ALL.into_iter().filter(|b| b.runs_here()).collect()
    }

    /// The backend of this process: the best this CPU runs, capped by
    /// [`BACKEND_VAR`] (an unknown name is ignored).
    pub fn get() -> Backend {
        static BACKEND: OnceLock<Backend> = OnceLock::new();
        *BACKEND.get_or_init(|| {
            let available = Backend::available();
            let asked = std::env::var(BACKEND_VAR).ok().and_then(|v| Backend::from_name(&v));
            let at_most = |b: Backend| match asked {
                None => true,
                Some(a) => Backend::ALL.iter().position(|&x| x == b) >= Backend::ALL.iter().position(|&x| x == a),
            };
            available.into_iter().find(|&b| at_most(b)).unwrap_or(Backend::Portable)
        })
    }

    /// Whether a kernel of this backend that needs `feature` may run: the
    /// backend includes it and the CPU has it.
    pub fn has(self, feature: Feature) -> bool {
        let c = cpu();
        let x86 = matches!(self, Backend::Avx2 | Backend::Avx512) && self.runs_here();
        match feature {
            Feature::Avx2 => x86,
            Feature::Avx512 => self == Backend::Avx512 && x86,
            Feature::ShaNi => x86 && c.shani,
            Feature::Gfni => self == Backend::Avx512 && x86 && c.gfni,
            Feature::Bmi2 => x86 && c.bmi2,
            Feature::Neon => self == Backend::Neon && c.neon,
            Feature::Sha3 => self == Backend::Neon && c.sha3,
            Feature::ArmSha2 => c.arm_sha2,
        }
    }
}

/// Whether the process's backend allows `feature` (see [`Backend::has`]).
/// Every dispatch outside tests and benches goes through here.
pub fn has(feature: Feature) -> bool {
    Backend::get().has(feature)
}

/// Whether `candidate` runs at least `percent`% faster than `incumbent`,
/// timed alternately, best of five each. For a choice between two kernels
/// the CPU both runs where no CPUID bit says which is faster (the width of
/// its AVX-512 units); made once per process, as Linux picks its RAID-6
/// code. A tie keeps the incumbent, so noise can only cost the margin.
#[cfg(all(target_arch = "x86_64", any(feature = "simd", feature = "optimized-keccak")))]
pub(crate) fn timed_faster(mut candidate: impl FnMut(), mut incumbent: impl FnMut(), percent: u32) -> bool {
    use std::time::{Duration, Instant};
    let time = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        f();
        start.elapsed()
    };
    // A core may keep its wide vector units idle until it sees them used,
    // and run them slowly for tens of microseconds after: warm both up.
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_micros(200) {
        candidate();
        incumbent();
    }
    let (mut new, mut old) = (Duration::MAX, Duration::MAX);
    for _ in 0..5 {
        new = new.min(time(&mut candidate));
        old = old.min(time(&mut incumbent));
    }
    new.as_nanos() * 100 <= old.as_nanos() * u128::from(100 - percent.min(100))
}

/// For tests: runs `test` on every backend this CPU runs and says on the
/// real stderr (libtest captures only the print macros) which ran and
/// which of this architecture's could not; with `ANIMICA_REQUIRE_KERNELS=1`
/// (runners known to have every kernel) a missing one fails instead.
#[cfg(test)]
pub(crate) fn each_backend(name: &str, mut test: impl FnMut(Backend)) {
    let mut ran = Vec::new();
    for b in Backend::available() {
        test(b);
        ran.push(b.name());
    }
    let missing: Vec<&str> =
        Backend::ALL.into_iter().filter(|b| b.exists_here() && !b.runs_here()).map(Backend::name).collect();
    report_ran(name, &ran, &missing);
}

/// For tests: says on the real stderr which kernels (or engines) `name`
/// ran on and which of this build's it could not run because the CPU lacks
/// them; with `ANIMICA_REQUIRE_KERNELS=1` a missing one fails instead.
#[cfg(test)]
pub(crate) fn report_ran(name: &str, ran: &[&str], missing: &[&str]) {
    let mut msg = format!("{name}: ran on {}\n", ran.join(", "));
    if !missing.is_empty() {
        msg += &format!("NOT RUN in this process: {name} on {} (this CPU lacks it)\n", missing.join(", "));
        assert!(std::env::var_os("ANIMICA_REQUIRE_KERNELS").is_none(), "{msg}");
    }
    let _ = std::io::Write::write_all(&mut std::io::stderr(), msg.as_bytes());
}

/// For a test of one kernel: whether `backend` may use `feature` here.
/// When it may not because the CPU lacks it, the test says so on stderr
/// (failing under `ANIMICA_REQUIRE_KERNELS=1`).
#[cfg(all(
    test,
    any(
        all(target_arch = "x86_64", any(feature = "simd", feature = "optimized-keccak")),
        all(target_arch = "aarch64", feature = "optimized-keccak")
    )
))]
pub(crate) fn runnable(test: &str, backend: Backend, feature: Feature) -> bool {
    if backend.has(feature) {
        return true;
    }
    let msg = format!("NOT RUN in this process: {test} ({feature:?} on {} is unavailable)\n", backend.name());
    assert!(std::env::var_os("ANIMICA_REQUIRE_KERNELS").is_none(), "{msg}");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), msg.as_bytes());
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_the_process_backend_is_available() {
        for b in Backend::ALL {
            assert_eq!(Backend::from_name(b.name()), Some(b));
        }
        assert_eq!(Backend::from_name(" AVX2 "), Some(Backend::Avx2));
        assert_eq!(Backend::from_name("sse9"), None);
        assert!(Backend::get().runs_here());
        assert!(Backend::available().contains(&Backend::Portable));
    }

    #[test]
    fn portable_allows_no_kernel() {
        for f in
            [Feature::Avx2, Feature::Avx512, Feature::ShaNi, Feature::Gfni, Feature::Bmi2, Feature::Neon, Feature::Sha3]
        {
            assert!(!Backend::Portable.has(f), "{f:?}");
        }
        assert!(!Backend::Avx2.has(Feature::Avx512));
        assert!(!Backend::Avx2.has(Feature::Gfni));
    }
}
