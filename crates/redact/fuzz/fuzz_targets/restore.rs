//! Any byte stream, split anywhere: the streaming restorer matches the one-shot restore, and
//! invalid UTF-8 is an error rather than skipped.
#![no_main]

use certgate_redact::{FindingType, Vault};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<u8>, Vec<u8>)| {
    let (data, cuts) = input;
    let mut vault = Vault::new();
    vault.placeholder(FindingType::Email, "ann@example.org");
    vault.placeholder(FindingType::Phone, "+1 202 555 0173");
    let mut r = vault.restorer();
    let mut got = String::new();
    let mut pos = 0;
    let mut failed = false;
    for c in cuts.iter().map(|&c| usize::from(c)).chain([data.len()]) {
        let end = (pos + c).min(data.len());
        match r.push_bytes(&data[pos..end]) {
            Ok(s) => got.push_str(&s),
            Err(_) => {
                failed = true;
                break;
            }
        }
        pos = end;
    }
    match std::str::from_utf8(&data) {
        Ok(text) => {
            assert!(!failed, "valid UTF-8 must not fail");
            got.push_str(&r.finish_bytes().expect("complete input"));
            assert_eq!(got, vault.restore(text));
        }
        Err(_) => assert!(failed || r.finish_bytes().is_err(), "invalid UTF-8 must be an error"),
    }
});
