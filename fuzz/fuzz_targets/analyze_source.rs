//! libFuzzer entry for [`animica_fuzz::analyze_source`] (see fuzz/README.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| animica_fuzz::analyze_source(data));
