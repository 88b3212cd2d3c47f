//! The one seam for CPU features: what the CPU offers, detected once per
//! process, minus what `ANIMICA_DISABLE_KERNELS` turns off. Every kernel
//! dispatch asks [`has`]; [`crate::selection`] reports what was chosen.

/// The environment variable that turns kernels off (comma-separated:
/// `avx512`, `shani`, `bmi1`, `sha3`), so the fallback paths can be run and tested on a
/// CPU that has the fast ones. Read once per process.
pub const DISABLE_VAR: &str = "ANIMICA_DISABLE_KERNELS";

/// What each kernel's dispatch decides, worked out once per process (the
/// dispatch sits on hot paths such as one short Keccak-256).
struct Answers {
    avx512: bool,
    /// x86_64: SHA-NI (with SSE4.1), for our four-message SHA-256.
    shani: bool,
    bmi1: bool,
    /// aarch64: the ARMv8.2 SHA3 instructions (our Keccak dispatch).
    sha3: bool,
    /// aarch64: the ARMv8 SHA-2 instructions. Reported only: the sha2
    /// crate detects and uses them by itself (its `asm` feature).
    arm_sha2: bool,
}

fn answers() -> &'static Answers {
    static ANSWERS: std::sync::OnceLock<Answers> = std::sync::OnceLock::new();
    ANSWERS.get_or_init(|| {
        let off = std::env::var(DISABLE_VAR).unwrap_or_default().to_ascii_lowercase();
        let on = |kernel: &str| !off.split(',').any(|d| d.trim() == kernel);
        #[cfg(target_arch = "x86_64")]
        let (avx512, shani, bmi1) = (
            is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw"),
            is_x86_feature_detected!("sha") && is_x86_feature_detected!("sse4.1"),
            is_x86_feature_detected!("bmi1"),
        );
        #[cfg(not(target_arch = "x86_64"))]
        let (avx512, shani, bmi1) = (false, false, false);
        #[cfg(target_arch = "aarch64")]
        let (sha3, arm_sha2) =
            (std::arch::is_aarch64_feature_detected!("sha3"), std::arch::is_aarch64_feature_detected!("sha2"));
        #[cfg(not(target_arch = "aarch64"))]
        let (sha3, arm_sha2) = (false, false);
        Answers {
            avx512: avx512 && on("avx512"),
            shani: shani && on("shani"),
            bmi1: bmi1 && on("bmi1"),
            sha3: sha3 && on("sha3"),
            arm_sha2,
        }
    })
}

/// Whether the CPU offers what `kernel` needs and it is not disabled by
/// [`DISABLE_VAR`]: `avx512` (AVX-512F and BW), `shani` (SHA-NI and
/// SSE4.1) and `bmi1` (x86_64 only),
/// `sha3` (the ARMv8.2 SHA3 instructions; aarch64 only).
/// Every dispatch goes through here.
pub fn has(kernel: &str) -> bool {
    match kernel {
        "avx512" => answers().avx512,
        "shani" => answers().shani,
        "bmi1" => answers().bmi1,
        "sha3" => answers().sha3,
        // Reported only: the sha2 crate detects and uses them by itself.
        "arm_sha2" => answers().arm_sha2,
        _ => false,
    }
}

/// For a test of one kernel: whether it can run in this process. When it
/// cannot (the CPU lacks it, or [`DISABLE_VAR`] turned it off), the test
/// says so on the real stderr (libtest captures only the print macros), so
/// `cargo test`'s output shows what was not exercised; with
/// `ANIMICA_REQUIRE_KERNELS=1` it fails instead, for runners known to have
/// every kernel.
#[cfg(all(
    test,
    any(
        all(target_arch = "x86_64", any(feature = "simd", feature = "optimized-keccak")),
        all(target_arch = "aarch64", feature = "optimized-keccak")
    )
))]
pub(crate) fn runnable(test: &str, kernel: &str) -> bool {
    if has(kernel) {
        return true;
    }
    let msg = format!("NOT RUN in this process: {test} (the {kernel} kernel is unavailable or disabled)\n");
    assert!(std::env::var_os("ANIMICA_REQUIRE_KERNELS").is_none(), "{msg}");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), msg.as_bytes());
    false
}
