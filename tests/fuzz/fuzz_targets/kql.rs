#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rmmc::fuzzing::kql(data));
