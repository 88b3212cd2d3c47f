//! libFuzzer entry for [`animica_fuzz::nmt_proofs`] (see fuzz/README.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| animica_fuzz::nmt_proofs(data));
