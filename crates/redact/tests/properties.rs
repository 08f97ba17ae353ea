//! Property tests: redaction never leaks a detected value, pseudonymization round-trips,
//! redaction is idempotent, and restoring is independent of how the answer is chunked.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::LazyLock;

use certgate_redact::{Action, Redactor, RedactorConfig, Vault};
use proptest::prelude::*;

/// Everything pseudonymized (nothing blocked), so round-trips can be checked for all types.
static PSEUDO: LazyLock<Redactor> = LazyLock::new(|| {
    Redactor::new(RedactorConfig {
        block_types: vec![],
        restricted_terms: vec!["Bluebird".into()],
        default_action: Action::Pseudonymize,
        ..RedactorConfig::default()
    })
    .unwrap()
});

fn pii_value() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            "[a-z]{2,8}",
            "[a-z]{2,8}",
            prop::sample::select(vec!["com", "org", "io", "de"])
        )
            .prop_map(|(a, b, t)| format!("{a}.{b}@{b}-mail.{t}")),
        prop::sample::select(vec![
            "4111 1111 1111 1111",
            "5500-0000-0000-0004",
            "378282246310005",
            "GB82 WEST 1234 5698 7654 32",
            "DE89370400440532013000",
            "523-11-8386",
            "+1 202-555-0173",
            "+44 20 7946 0958",
            "203.0.113.9",
            "2001:db8::8a2e:370:7334",
            "00:1A:2B:3C:4D:5E",
            "Bluebird",
        ])
        .prop_map(str::to_owned),
        (1u8..=254, 1u8..=254, 1u8..=254).prop_map(|(a, b, c)| format!("{a}.{b}.{c}.77")),
    ]
}

fn filler() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,9}",
        "[A-Z][a-z]{1,7}",
        "[0-9]{1,4}",
        "[a-zé→😀日本]{1,5}",
        prop::sample::select(vec![
            "the", "and", "port", "v1.2.3", "id", "ok", "{", "}", "\"", ":", "="
        ])
        .prop_map(str::to_owned),
    ]
}

fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![3 => filler(), 1 => pii_value()];
    let sep = prop::sample::select(vec![" ", ", ", "\n", " - ", "\t", ": "]);
    prop::collection::vec((piece, sep), 0..24)
        .prop_map(|v| v.into_iter().map(|(p, s)| p + s).collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn no_detected_value_survives(x in text()) {
        let out = PSEUDO.apply(&x, &mut Vault::new());
        for f in &out.findings {
            let v = &x[f.start..f.end];
            if v.len() >= 6 {
                prop_assert!(!out.text.contains(v), "{} value survived", f.kind);
            }
        }
    }

    #[test]
    fn restore_inverts_pseudonymize(x in text()) {
        let mut vault = Vault::new();
        let out = PSEUDO.apply(&x, &mut vault);
        prop_assert_eq!(vault.restore(&out.text), x);
    }

    #[test]
    fn arbitrary_text_round_trips(x in "[^\\[]{0,300}") {
        let mut vault = Vault::new();
        let out = PSEUDO.apply(&x, &mut vault);
        prop_assert_eq!(vault.restore(&out.text), x);
    }

    #[test]
    fn redacting_twice_changes_nothing_more(x in text()) {
        let mut vault = Vault::new();
        let once = PSEUDO.apply(&x, &mut vault);
        let twice = PSEUDO.apply(&once.text, &mut vault);
        prop_assert_eq!(&twice.text, &once.text);
        prop_assert!(twice.findings.is_empty(), "placeholders must not be detected again");
    }

    #[test]
    fn rechunking_restores_identically(x in text(), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..40)) {
        let mut vault = Vault::new();
        let answer = PSEUDO.apply(&x, &mut vault).text;
        let want = vault.restore(&answer);
        let bytes = answer.as_bytes();
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        points.push(0);
        points.push(bytes.len());
        points.sort_unstable();
        let mut r = vault.restorer();
        let mut got = String::new();
        for w in points.windows(2) {
            got.push_str(&r.push_bytes(&bytes[w[0]..w[1]]).unwrap());
        }
        got.push_str(&r.finish_bytes().unwrap());
        prop_assert_eq!(got, want);
    }
}
