//! Any UTF-8 input: findings are in bounds, on char boundaries, sorted, non-overlapping, and
//! pseudonymize → restore returns the input.
#![no_main]

use std::sync::LazyLock;

use certgate_redact::{Action, Redactor, RedactorConfig, Vault};
use libfuzzer_sys::fuzz_target;

static R: LazyLock<Redactor> = LazyLock::new(|| {
    Redactor::new(RedactorConfig { block_types: vec![], default_action: Action::Pseudonymize, ..Default::default() })
        .expect("built-in rules compile")
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut vault = Vault::new();
    let out = R.apply(text, &mut vault);
    let mut last = 0;
    for f in &out.findings {
        assert!(f.start >= last && f.start < f.end && f.end <= text.len());
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        last = f.end;
    }
    if !text.contains('[') {
        assert_eq!(vault.restore(&out.text), text);
    }
});
