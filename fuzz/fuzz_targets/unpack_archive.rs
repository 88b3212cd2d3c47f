//! libFuzzer entry for [`animica_fuzz::unpack_archive`] (see fuzz/README.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| animica_fuzz::unpack_archive(data));
