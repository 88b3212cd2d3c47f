//! The bodies of the fuzz targets: what each checks on any input. The
//! libFuzzer binaries (`fuzz_targets/`, built by `cargo fuzz` with the
//! `libfuzzer` feature on nightly) call them; so does `tests/replay.rs`, on
//! the pinned stable toolchain, for every kept input (`corpus/` seeds and
//! `regressions/`, one file per bug found), so a fixed crash stays fixed.
//!
//! Each body builds structured input from the bytes (`arbitrary`): valid
//! trees, codes and archives that are then damaged, so the fuzzer reaches
//! the checks past the parsers instead of stopping at the first length
//! field. Properties that must hold panic when broken; libFuzzer reports
//! that as a crash.

#![allow(clippy::missing_panics_doc, reason = "panicking on a broken property is how a fuzz target reports it")]

mod analyze;
mod archive;
mod nmt;
mod rs;
mod spec;

pub use analyze::analyze_source;
pub use archive::unpack_archive;
pub use nmt::nmt_proofs;
pub use rs::rs_shards;
pub use spec::env_spec;

/// A target's body: any bytes in, a panic when a property breaks.
pub type Target = fn(&[u8]);

/// Every target, by the name of its directory under `corpus/` and
/// `regressions/` and of its binary.
pub const TARGETS: [(&str, Target); 5] = [
    ("nmt_proofs", nmt_proofs),
    ("rs_shards", rs_shards),
    ("unpack_archive", unpack_archive),
    ("env_spec", env_spec),
    ("analyze_source", analyze_source),
];
