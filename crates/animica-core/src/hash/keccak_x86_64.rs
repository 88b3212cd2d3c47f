//! Keccak-f[1600] in x86-64 assembly, on BMI1's `andn` and BMI2's `rorx`.
//!
//! Why assembly: the permutation needs 25 lanes, 5 column parities and 5
//! theta values live at once, and x86-64 has 16 general registers. Written
//! as Rust (`keccak.rs`), the compiler keeps the lanes in registers and
//! spills whichever it must, differently with each change around it: a
//! round compiled with BMI2, one round per loop, came to 194 instructions,
//! 86 of them stack loads and stores, and the same round two or four to a
//! loop ran 8-15% slower than one to a loop.
//!
//! Here the plan is fixed. The state lives in memory, in two copies that
//! rounds alternate between (the caller's and one on the stack); registers
//! hold only what a round works on:
//!
//! - `rax rbx rcx rdx rbp`: first the five column parities, each two
//!   chains (a load and one or two XORs with a memory operand) joined by
//!   one more XOR, so three XORs deep; then, plane by plane, the five lanes `b = rotl(lane ^ D, r)` that chi
//!   combines (rho and pi are which lane is loaded and how far it turns);
//! - `r8`-`r12`: the parities' second chains, then theta's
//!   `D[x] = C[x-1] ^ rotl(C[x+1], 1)`, one `rorx` and one XOR each;
//! - `r13`: chi's `b[k] ^ (!b[k+1] & b[k+2])`, one `andn` and one XOR, then
//!   stored to the other copy;
//! - `r14`, `r15`: the end and the current place in the round constants.
//!
//! `rorx` and `andn` write a third register, so no lane is copied before it
//! is changed: a round is 190 instructions (50 loads, 25 stores), the same
//! in every build. Rounds go in pairs (caller's copy to the stack's and
//! back), so the 24th leaves the state where it began.
//!
//! Tried and not kept: carrying the next round's parities through chi (no
//! registers are left for them, so D went to memory: 5% slower) and the
//! parities as single chains of four XORs (1-2% slower).
//!
//! On AMD Zen 5 capped to AVX2, 1 MiB in cache (fastest of 100): 1.54-1.56
//! ms against 1.83-1.85 ms for the unrolled Rust, and 1.51-1.52 ms for the
//! AVX-512 permutation. 64 MiB through Python, in quiet moments: 101-106
//! ms against 125-131 ms for pycryptodome 4.4.0's C (1.20-1.25x), where the
//! unrolled Rust took 122-127 ms (1.01-1.02x); while the VM's neighbour
//! was busy, 1.15-1.31x.

use super::keccak_params::RC;

/// Keccak-f[1600] on `state`.
///
/// # Safety
///
/// The CPU must have BMI1 and BMI2.
#[inline]
pub(super) unsafe fn permute(state: &mut [u64; 25]) {
    // SAFETY: `f1600` reads and writes the 25 lanes its first argument
    // points at, reads the 24 round constants its second points at, and
    // uses 248 bytes of stack (the registers it saves, the second copy);
    // it restores every register the sysv64 ABI asks a callee to keep. Its instructions
    // beyond x86-64's baseline are BMI1's and BMI2's, which the caller
    // guarantees.
    unsafe { f1600(state.as_mut_ptr(), RC.as_ptr()) }
}

/// The permutation, called with the sysv64 convention on every x86-64
/// target (Windows too): `lanes` in `rdi`, `rc` in `rsi`.
#[unsafe(naked)]
unsafe extern "sysv64" fn f1600(lanes: *mut u64, rc: *const u64) {
    std::arch::naked_asm!(
        // C[x] (rax, rbx, rcx, rdx, rbp): the parity of column x at \src,
        // as (row 0 ^ row 1 ^ row 4) ^ (row 2 ^ row 3), the second part in
        // r8-r12 (free until theta), so each chain is three XORs, not four.
        ".macro ANIMICA_KECCAK_PARITY src",
        "mov rax, [\\src + 0]",
        "xor rax, [\\src + 40]",
        "mov r8, [\\src + 80]",
        "xor r8, [\\src + 120]",
        "xor rax, [\\src + 160]",
        "xor rax, r8",
        "mov rbx, [\\src + 8]",
        "xor rbx, [\\src + 48]",
        "mov r9, [\\src + 88]",
        "xor r9, [\\src + 128]",
        "xor rbx, [\\src + 168]",
        "xor rbx, r9",
        "mov rcx, [\\src + 16]",
        "xor rcx, [\\src + 56]",
        "mov r10, [\\src + 96]",
        "xor r10, [\\src + 136]",
        "xor rcx, [\\src + 176]",
        "xor rcx, r10",
        "mov rdx, [\\src + 24]",
        "xor rdx, [\\src + 64]",
        "mov r11, [\\src + 104]",
        "xor r11, [\\src + 144]",
        "xor rdx, [\\src + 184]",
        "xor rdx, r11",
        "mov rbp, [\\src + 32]",
        "xor rbp, [\\src + 72]",
        "mov r12, [\\src + 112]",
        "xor r12, [\\src + 152]",
        "xor rbp, [\\src + 192]",
        "xor rbp, r12",
        ".endm",
        // \b = rotl(lane \i of \src ^ \d, \r): theta's XOR, then rho.
        ".macro ANIMICA_KECCAK_LANE b, src, i, d, r",
        "mov \\b, [\\src + 8 * \\i]",
        "xor \\b, \\d",
        ".if \\r",
        "rorx \\b, \\b, 64 - \\r",
        ".endif",
        ".endm",
        // Lane \k of \dst = \b0 ^ (!\b1 & \b2): chi.
        ".macro ANIMICA_KECCAK_CHI dst, k, b0, b1, b2",
        "andn r13, \\b1, \\b2",
        "xor r13, \\b0",
        "mov [\\dst + 8 * \\k], r13",
        ".endm",
        // One round from \src to \dst; \rc is the offset of its constant.
        ".macro ANIMICA_KECCAK_ROUND src, dst, rc",
        "ANIMICA_KECCAK_PARITY \\src",
        "rorx r8, rbx, 63",
        "xor r8, rbp",
        "rorx r9, rcx, 63",
        "xor r9, rax",
        "rorx r10, rdx, 63",
        "xor r10, rbx",
        "rorx r11, rbp, 63",
        "xor r11, rcx",
        "rorx r12, rax, 63",
        "xor r12, rdx",
        // Plane 0, with iota on its first lane.
        "ANIMICA_KECCAK_LANE rax, \\src, 0, r8, 0",
        "ANIMICA_KECCAK_LANE rbx, \\src, 6, r9, 44",
        "ANIMICA_KECCAK_LANE rcx, \\src, 12, r10, 43",
        "ANIMICA_KECCAK_LANE rdx, \\src, 18, r11, 21",
        "ANIMICA_KECCAK_LANE rbp, \\src, 24, r12, 14",
        "andn r13, rbx, rcx",
        "xor r13, rax",
        "xor r13, [r15 + \\rc]",
        "mov [\\dst + 0], r13",
        "ANIMICA_KECCAK_CHI \\dst, 1, rbx, rcx, rdx",
        "ANIMICA_KECCAK_CHI \\dst, 2, rcx, rdx, rbp",
        "ANIMICA_KECCAK_CHI \\dst, 3, rdx, rbp, rax",
        "ANIMICA_KECCAK_CHI \\dst, 4, rbp, rax, rbx",
        // Plane 1.
        "ANIMICA_KECCAK_LANE rax, \\src, 3, r11, 28",
        "ANIMICA_KECCAK_LANE rbx, \\src, 9, r12, 20",
        "ANIMICA_KECCAK_LANE rcx, \\src, 10, r8, 3",
        "ANIMICA_KECCAK_LANE rdx, \\src, 16, r9, 45",
        "ANIMICA_KECCAK_LANE rbp, \\src, 22, r10, 61",
        "ANIMICA_KECCAK_CHI \\dst, 5, rax, rbx, rcx",
        "ANIMICA_KECCAK_CHI \\dst, 6, rbx, rcx, rdx",
        "ANIMICA_KECCAK_CHI \\dst, 7, rcx, rdx, rbp",
        "ANIMICA_KECCAK_CHI \\dst, 8, rdx, rbp, rax",
        "ANIMICA_KECCAK_CHI \\dst, 9, rbp, rax, rbx",
        // Plane 2.
        "ANIMICA_KECCAK_LANE rax, \\src, 1, r9, 1",
        "ANIMICA_KECCAK_LANE rbx, \\src, 7, r10, 6",
        "ANIMICA_KECCAK_LANE rcx, \\src, 13, r11, 25",
        "ANIMICA_KECCAK_LANE rdx, \\src, 19, r12, 8",
        "ANIMICA_KECCAK_LANE rbp, \\src, 20, r8, 18",
        "ANIMICA_KECCAK_CHI \\dst, 10, rax, rbx, rcx",
        "ANIMICA_KECCAK_CHI \\dst, 11, rbx, rcx, rdx",
        "ANIMICA_KECCAK_CHI \\dst, 12, rcx, rdx, rbp",
        "ANIMICA_KECCAK_CHI \\dst, 13, rdx, rbp, rax",
        "ANIMICA_KECCAK_CHI \\dst, 14, rbp, rax, rbx",
        // Plane 3.
        "ANIMICA_KECCAK_LANE rax, \\src, 4, r12, 27",
        "ANIMICA_KECCAK_LANE rbx, \\src, 5, r8, 36",
        "ANIMICA_KECCAK_LANE rcx, \\src, 11, r9, 10",
        "ANIMICA_KECCAK_LANE rdx, \\src, 17, r10, 15",
        "ANIMICA_KECCAK_LANE rbp, \\src, 23, r11, 56",
        "ANIMICA_KECCAK_CHI \\dst, 15, rax, rbx, rcx",
        "ANIMICA_KECCAK_CHI \\dst, 16, rbx, rcx, rdx",
        "ANIMICA_KECCAK_CHI \\dst, 17, rcx, rdx, rbp",
        "ANIMICA_KECCAK_CHI \\dst, 18, rdx, rbp, rax",
        "ANIMICA_KECCAK_CHI \\dst, 19, rbp, rax, rbx",
        // Plane 4.
        "ANIMICA_KECCAK_LANE rax, \\src, 2, r10, 62",
        "ANIMICA_KECCAK_LANE rbx, \\src, 8, r11, 55",
        "ANIMICA_KECCAK_LANE rcx, \\src, 14, r12, 39",
        "ANIMICA_KECCAK_LANE rdx, \\src, 15, r8, 41",
        "ANIMICA_KECCAK_LANE rbp, \\src, 21, r9, 2",
        "ANIMICA_KECCAK_CHI \\dst, 20, rax, rbx, rcx",
        "ANIMICA_KECCAK_CHI \\dst, 21, rbx, rcx, rdx",
        "ANIMICA_KECCAK_CHI \\dst, 22, rcx, rdx, rbp",
        "ANIMICA_KECCAK_CHI \\dst, 23, rdx, rbp, rax",
        "ANIMICA_KECCAK_CHI \\dst, 24, rbp, rax, rbx",
        ".endm",
        "push rbx",
        "push rbp",
        "push r12",
        "push r13",
        "push r14",
        "push r15",
        "sub rsp, 200",
        "mov r15, rsi",
        "lea r14, [rsi + 8 * 24]",
        "mov rsi, rsp",
        ".p2align 5",
        "2:",
        "ANIMICA_KECCAK_ROUND rdi, rsi, 0",
        "ANIMICA_KECCAK_ROUND rsi, rdi, 8",
        "add r15, 16",
        "cmp r15, r14",
        "jne 2b",
        "add rsp, 200",
        "pop r15",
        "pop r14",
        "pop r13",
        "pop r12",
        "pop rbp",
        "pop rbx",
        "ret",
        ".purgem ANIMICA_KECCAK_ROUND",
        ".purgem ANIMICA_KECCAK_CHI",
        ".purgem ANIMICA_KECCAK_LANE",
        ".purgem ANIMICA_KECCAK_PARITY",
    );
}
