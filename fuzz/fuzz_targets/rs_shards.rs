//! libFuzzer entry for [`animica_fuzz::rs_shards`] (see fuzz/README.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| animica_fuzz::rs_shards(data));
