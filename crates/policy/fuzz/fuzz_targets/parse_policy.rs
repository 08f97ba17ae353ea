//! Any bytes as a policy file: parsing must return a value or diagnostics, never panic, hang or
//! blow up memory (YAML alias bombs included).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = certgate_policy::parse(text, "fuzz.yaml");
    }
});
