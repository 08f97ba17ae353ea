//! Properties over random inputs: the gate never turns an error into an allow, and the parser
//! never panics on any text.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use certgate_policy::{DeviceFacts, GateInput, RequestContext, UserContext, parse};
use proptest::prelude::*;
use serde_json::{Value, json};

const SEED: &str = include_str!("../../../examples/seed-policy.yaml");

/// Any JSON value of a small depth: the shapes a broken or hostile posture report could take.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        "[a-z]{0,6}".prop_map(Value::String),
        Just(json!("passed")),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("managed".to_owned()),
                    Just("diskEncryption".to_owned()),
                    Just("status".to_owned()),
                    "[a-z]{1,5}"
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn any_status() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("passed".to_owned()),
        Just("failed".to_owned()),
        Just("expired".to_owned()),
        "[a-z]{0,8}",
    ]
}

fn any_user() -> impl Strategy<Value = UserContext> {
    prop::collection::btree_map(
        prop_oneof![
            Just("AI_CONSUMER_EXTERNAL".to_owned()),
            Just("AI_BUILDER_EXTERNAL".to_owned()),
            "[A-Z_]{1,8}"
        ],
        (any_status(), prop::option::of(-1_000_000i64..1_000_000)),
        0..3,
    )
    .prop_map(|certs| {
        let certifications = certs
            .into_iter()
            .map(|(track, (status, offset))| {
                let expires = offset.map(|s| {
                    (chrono::DateTime::UNIX_EPOCH + chrono::Duration::seconds(1_780_000_000 + s))
                        .to_rfc3339()
                });
                (track, json!({"status": status, "expiresAt": expires}))
            })
            .collect::<serde_json::Map<_, _>>();
        serde_json::from_value(json!({ "certifications": certifications })).unwrap()
    })
}

/// The device facts the seed's rule needs, strictly `true`: anything else must deny.
fn device_is_compliant(device: &Value) -> bool {
    device.get("managed") == Some(&Value::Bool(true))
        && device.get("diskEncryption") == Some(&Value::Bool(true))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn an_error_never_becomes_an_allow(
        user in any_user(),
        device in prop_oneof![any_json(), any_json().prop_map(|v| json!({"managed": true, "diskEncryption": v}))],
        track in prop_oneof![Just("AI_CONSUMER_EXTERNAL"), Just("AI_BUILDER_EXTERNAL"), Just("OTHER")],
    ) {
        let policy = parse(SEED, "seed").unwrap();
        let now = chrono::DateTime::UNIX_EPOCH + chrono::Duration::seconds(1_780_000_000);
        let facts = DeviceFacts::from_json(&device);
        let request = RequestContext::default();
        let decision = policy.decide(GateInput { user: &user, device: &facts, track, request: &request, now });
        if decision.allowed {
            // Recompute the answer independently of the engine from the raw inputs.
            let claim = user.certifications.get(track);
            let passed = claim.is_some_and(|c| c.status == "passed" && c.expires_at.is_none_or(|at| at > now));
            prop_assert!(passed, "allowed without a live pass: {user:?}");
            prop_assert!(device_is_compliant(&device), "allowed on a non-compliant device: {device}");
            prop_assert!(decision.reasons.is_empty());
        } else {
            prop_assert!(!decision.reasons.is_empty(), "a denial always says why");
        }
        prop_assert_eq!(decision.allowed, policy.conditions_hold(GateInput { user: &user, device: &facts, track, request: &request, now }) && decision.reasons.is_empty());
    }

    #[test]
    fn the_parser_never_panics_on_mutated_policies(
        cut in 0..SEED.len(),
        insert in "[ -~\n\t]{0,12}",
    ) {
        let mut text = SEED.to_owned();
        let cut = (0..=cut).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        text.insert_str(cut, &insert);
        let _ = parse(&text, "mutated.yaml");
    }

    #[test]
    fn the_parser_never_panics_on_any_text(text in "\\PC{0,200}") {
        let _ = parse(&text, "random.yaml");
    }
}
