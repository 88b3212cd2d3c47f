//! libFuzzer entry for [`animica_fuzz::env_spec`] (see fuzz/README.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| animica_fuzz::env_spec(data));
