//! Loading, validation and decisions on the seed policy and on broken variants of it.

use super::*;
use chrono::TimeZone;

const SEED: &str = include_str!("../../../examples/seed-policy.yaml");
const MANY_ERRORS: &str = include_str!("../../../examples/bad-policies/many-errors.yaml");

fn seed() -> LoadedPolicy {
    parse(SEED, "seed-policy.yaml").expect("the seed policy is valid")
}

fn diagnostics_of(text: &str) -> Diagnostics {
    match parse(text, "p.yaml") {
        Err(Error::Invalid(d)) => d,
        Ok(_) => panic!("expected the policy to be refused"),
        Err(other) => panic!("expected diagnostics, got {other}"),
    }
}

fn has(d: &Diagnostics, path: &str, needle: &str) -> bool {
    d.iter()
        .any(|x| x.path == path && x.message.contains(needle))
}

#[test]
fn seed_policy_loads_every_section() {
    let p = seed().policy;
    assert_eq!(p.policy_id, "extworkforce-ai-cert-gate-v1");
    assert_eq!(
        p.scope.populations,
        ["contractor", "partner_bpo", "subcontractor"]
    );
    assert_eq!(p.scope.tools.copilots.len(), 3);
    assert_eq!(
        p.scope.tools.automation_endpoints[2].to_string(),
        "microtool:policy-lookup"
    );
    let builder = p.track("AI_BUILDER_EXTERNAL").unwrap();
    assert_eq!(
        (builder.quiz.min_score_pct, builder.quiz.attempts_allowed),
        (92.0, 1)
    );
    assert_eq!(builder.recertify_days, 90);
    assert_eq!(
        p.access_gating.identity_provider.groups_by_track["AI_CONSUMER_EXTERNAL"],
        "OKTA-GRP-AI-EXT-CONSUMER"
    );
    assert_eq!(
        p.access_gating.approvals.exception_path.max_duration_days,
        7
    );
    assert_eq!(p.model_and_data_controls.dlp.block_patterns.len(), 2);
    assert_eq!(
        p.model_and_data_controls
            .retrieval_scopes
            .for_track("AI_BUILDER_EXTERNAL")
            .len(),
        3
    );
    assert_eq!(
        p.model_and_data_controls
            .retrieval_scopes
            .for_track("OTHER"),
        ["kb_public"]
    );
    assert_eq!(
        p.quality_and_safety.disallowed_actions,
        ["issue_refund", "modify_contract_terms"]
    );
    assert_eq!(p.logging_and_evidence.prompt_logging.fields.len(), 8);
    assert_eq!(
        p.logging_and_evidence.export.table,
        "GRC.AI_EXTWORKFORCE_USAGE_LOG"
    );
    assert_eq!(
        p.slo_targets
            .access_provisioning
            .p95_hours_from_cert_to_access,
        4.0
    );
    assert_eq!(p.monitoring.alerts[1].threshold.count, 25);
    assert_eq!(
        p.device_posture,
        model::DevicePosture::default(),
        "absent extension → defaults"
    );
}

#[test]
fn demo_policy_verifies_with_the_demo_key_and_is_marked_demo() {
    let demo = demo::load().unwrap();
    assert_eq!(demo.trust, Trust::Demo);
    assert_eq!(demo.summary().trust, "demo");
    assert_eq!(
        demo.policy
            .model_and_data_controls
            .dlp
            .restricted_terms
            .len(),
        2
    );
}

#[test]
fn every_mistake_is_reported_at_once_with_place_and_fix() {
    let d = diagnostics_of(MANY_ERRORS);
    let expect = [
        ("scope.regionAllowed", "unknown key"),
        ("scope.regionsAllowed", "missing required field"),
        (
            "trainingRequirements.certificationTracks[0].quiz.attemptsAllowed",
            "expected a whole number",
        ),
        (
            "trainingRequirements.certificationTracks[1].quiz.minScorePct",
            "outside 0–100",
        ),
        (
            "accessGating.identityProvider.groupMapping.certifiedAuditorGroup",
            "names no certification track",
        ),
        ("accessGating.conditions[1].rule", "does not compile"),
        (
            "modelAndDataControls.retrievalScopes.perTrack.AI_BUILDR_EXTERNAL",
            "not a certification track",
        ),
        (
            "qualityAndSafety.confidenceThresholds.requireHumanApprovalBelow",
            "above allowAutoDraftAbove",
        ),
        ("loggingAndEvidence.retentionDays", "at least 1"),
        ("monitoring.alerts[0].threshold", "cannot read threshold"),
    ];
    for (path, needle) in expect {
        assert!(
            has(&d, path, needle),
            "missing `{needle}` at {path} in:\n{d}"
        );
    }
    let typo = d.iter().find(|x| x.path == "scope.regionAllowed").unwrap();
    assert_eq!(typo.fix.as_deref(), Some("did you mean `regionsAllowed`?"));
    assert_eq!(
        (typo.line, typo.column),
        (12, 3),
        "points at the key in the file"
    );
    let bad_track = d
        .iter()
        .find(|x| x.path.ends_with("perTrack.AI_BUILDR_EXTERNAL"))
        .unwrap();
    assert_eq!(
        bad_track.fix.as_deref(),
        Some("did you mean `AI_BUILDER_EXTERNAL`?")
    );
    assert!(
        d.iter().all(|x| x.line > 0 && x.fix.is_some()),
        "every error has a place and a fix:\n{d}"
    );
}

#[test]
fn range_and_shape_checks() {
    let cases = [
        (
            SEED.replace("minScorePct: 85", "minScorePct: -1"),
            "trainingRequirements.certificationTracks[0].quiz.minScorePct",
            "outside",
        ),
        (
            SEED.replace("allowAutoDraftAbove: 0.78", "allowAutoDraftAbove: 1.5"),
            "qualityAndSafety.confidenceThresholds.allowAutoDraftAbove",
            "outside 0–1",
        ),
        (
            SEED.replace(
                "regionsAllowed:\n    - us-east-1\n    - eu-west-1",
                "regionsAllowed: []",
            ),
            "scope.regionsAllowed",
            "must not be empty",
        ),
        (
            SEED.replace(
                "- us-east-1\n    - eu-west-1",
                "- us-east-1\n    - us-east-1",
            ),
            "scope.regionsAllowed[1]",
            "listed twice",
        ),
        (
            SEED.replace("type: okta", "type: okat"),
            "accessGating.identityProvider.type",
            "unknown value `okat`",
        ),
        (
            SEED.replace("- type: secret", "- type: secrets"),
            "modelAndDataControls.dlp.blockPatterns[0].type",
            "unknown value",
        ),
        (
            SEED.replace("      - vendorOrg\n", "      - vendor\n"),
            "loggingAndEvidence.promptLogging.fields[3]",
            "unknown value",
        ),
        (
            SEED.replace("enabled: true", "enabled: yes please"),
            "loggingAndEvidence.promptLogging.enabled",
            "expected true or false",
        ),
        (
            SEED.replace("- slack_app: support-copilot", "- support-copilot"),
            "scope.tools.copilots[0]",
            "one-entry map",
        ),
        (
            SEED.replace("rule: \"device.managed", "rule: \"devices.managed"),
            "accessGating.conditions[1].rule",
            "unknown variable `devices`",
        ),
    ];
    for (text, path, needle) in cases {
        let d = diagnostics_of(&text);
        assert!(
            has(&d, path, needle),
            "expected `{needle}` at {path}, got:\n{d}"
        );
    }
}

#[test]
fn yaml_syntax_errors_and_odd_documents_are_diagnosed() {
    let d = diagnostics_of("policyId: [unclosed\n");
    assert!(d.iter().next().unwrap().message.contains("not valid YAML"));
    let d = diagnostics_of("");
    assert!(d.iter().next().unwrap().message.contains("empty"));
    let d = diagnostics_of("a: 1\n---\nb: 2\n");
    assert!(
        d.iter()
            .next()
            .unwrap()
            .message
            .contains("more than one YAML document")
    );
    let d = diagnostics_of("- just\n- a list\n");
    assert!(d.iter().next().unwrap().message.contains("expected a map"));
    let dup = SEED.replace(
        "policyId: extworkforce-ai-cert-gate-v1\n",
        "policyId: a\npolicyId: b\n",
    );
    assert!(
        diagnostics_of(&dup)
            .iter()
            .next()
            .unwrap()
            .message
            .contains("duplicated key")
    );
}

#[test]
fn alias_bombs_are_refused_not_expanded() {
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
            p = if i == 1 {
                String::new()
            } else {
                (i - 1).to_string()
            }
        ));
    }
    let d = diagnostics_of(&bomb);
    assert!(!d.is_empty());
}

fn at(y: i32, m: u32, d: u32) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

fn user(json: serde_json::Value) -> UserContext {
    serde_json::from_value(json).unwrap()
}

fn decide(
    policy: &LoadedPolicy,
    user: &UserContext,
    device: serde_json::Value,
    track: &str,
    request: RequestContext,
) -> Decision {
    policy.decide(GateInput {
        user,
        device: &DeviceFacts::from_json(&device),
        track,
        request: &request,
        now: at(2026, 6, 1),
    })
}

fn good_device() -> serde_json::Value {
    serde_json::json!({"managed": true, "diskEncryption": true})
}

#[test]
fn the_seed_rules_allow_a_passed_user_on_a_compliant_device() {
    let p = seed();
    let u = user(serde_json::json!({
        "certifications": {"AI_CONSUMER_EXTERNAL": {"status": "passed", "expiresAt": "2026-09-01T00:00:00Z"}}
    }));
    let d = decide(
        &p,
        &u,
        good_device(),
        "AI_CONSUMER_EXTERNAL",
        RequestContext::default(),
    );
    assert!(d.allowed, "{d:?}");
    assert!(d.reasons.is_empty());
    assert_eq!(
        d.skipped.len(),
        3,
        "population, region and tool were not asked about"
    );
}

#[test]
fn a_user_who_did_not_pass_is_denied_with_the_modules_to_do() {
    let p = seed();
    let failed = user(serde_json::json!({
        "certifications": {"AI_CONSUMER_EXTERNAL": {"status": "failed", "modules": ["GOV-101-data-handling"]}}
    }));
    let d = decide(
        &p,
        &failed,
        good_device(),
        "AI_CONSUMER_EXTERNAL",
        RequestContext::default(),
    );
    assert!(!d.allowed);
    let r = &d.reasons[0];
    assert_eq!(r.check, "condition:requireCertification");
    assert!(r.message.contains("'failed'"), "{r:?}");
    let fix = r.fix.as_deref().unwrap();
    assert!(
        fix.contains("GOV-102-citations-and-review") && !fix.contains("GOV-101"),
        "{fix}"
    );

    let none = user(serde_json::json!({"certifications": {}}));
    let d = decide(
        &p,
        &none,
        good_device(),
        "AI_BUILDER_EXTERNAL",
        RequestContext::default(),
    );
    assert!(!d.allowed, "contains() on a missing track denies");
}

#[test]
fn an_expired_certification_stops_gating() {
    let p = seed();
    let u = user(serde_json::json!({
        "certifications": {"AI_CONSUMER_EXTERNAL": {"status": "passed", "expiresAt": "2026-05-31T00:00:00Z"}}
    }));
    let d = decide(
        &p,
        &u,
        good_device(),
        "AI_CONSUMER_EXTERNAL",
        RequestContext::default(),
    );
    assert!(!d.allowed);
    assert!(
        d.reasons
            .iter()
            .any(|r| r.check == "certification" && r.message.contains("expired"))
    );
    assert!(
        d.reasons.iter().any(|r| r.message.contains("'expired'")),
        "rules see the expired status"
    );
}

#[test]
fn every_reason_is_given_in_words() {
    let p = seed();
    let u = user(serde_json::json!({
        "userType": "employee",
        "certifications": {"AI_CONSUMER_EXTERNAL": {"status": "passed"}}
    }));
    let request = RequestContext {
        tool_surface: Some("personal-chatbot".into()),
        region: Some("ap-south-1".into()),
        model: None,
    };
    let d = decide(
        &p,
        &u,
        serde_json::json!({"managed": true, "diskEncryption": false}),
        "AI_CONSUMER_EXTERNAL",
        request,
    );
    let messages: Vec<&str> = d.reasons.iter().map(|r| r.message.as_str()).collect();
    assert!(
        messages.contains(&"region ap-south-1 not allowed"),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("device.diskEncryption is false")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("user type employee")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("personal-chatbot")),
        "{messages:?}"
    );
    let disk = d
        .reasons
        .iter()
        .find(|r| r.message.contains("diskEncryption"))
        .unwrap();
    assert!(disk.fix.as_deref().unwrap().contains("encryption"));
}

#[test]
fn tools_match_by_name_or_kind_and_name() {
    let p = seed();
    let u =
        user(serde_json::json!({"certifications": {"AI_CONSUMER_EXTERNAL": {"status": "passed"}}}));
    for surface in [
        "agent-assist",
        "zendesk_panel:agent-assist",
        "workflow:macro-suggest",
    ] {
        let req = RequestContext {
            tool_surface: Some(surface.into()),
            ..Default::default()
        };
        assert!(
            decide(&p, &u, good_device(), "AI_CONSUMER_EXTERNAL", req).allowed,
            "{surface}"
        );
    }
    let req = RequestContext {
        tool_surface: Some("slack_app:agent-assist".into()),
        ..Default::default()
    };
    assert!(
        !decide(&p, &u, good_device(), "AI_CONSUMER_EXTERNAL", req).allowed,
        "kind must match too"
    );
}

#[test]
fn unknown_track_denies() {
    let p = seed();
    let u = user(serde_json::json!({"certifications": {}}));
    let d = decide(&p, &u, good_device(), "NOPE", RequestContext::default());
    assert!(!d.allowed);
    assert_eq!(d.reasons[0].check, "track");
}

#[test]
fn signed_load_refuses_unsigned_and_altered_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.yaml");
    std::fs::write(&path, SEED).unwrap();
    let key = SecretKey::generate().unwrap();
    let public = key.public_key();
    assert!(matches!(
        load(&path, TrustMode::Pinned(&public)),
        Err(Error::Unsigned { .. })
    ));
    std::fs::write(signing::signature_path(&path), key.sign(SEED.as_bytes())).unwrap();
    let ok = load(&path, TrustMode::Pinned(&public)).unwrap();
    assert_eq!(
        ok.trust,
        Trust::Signed {
            key_id: public.key_id()
        }
    );
    std::fs::write(&path, SEED.replace("minScorePct: 85", "minScorePct: 5")).unwrap();
    let err = load(&path, TrustMode::Pinned(&public)).unwrap_err();
    assert!(matches!(err, Error::BadSignature { .. }), "{err}");
    assert!(
        err.to_string().contains("altered"),
        "the message says why: {err}"
    );
    assert!(matches!(
        load(&path, TrustMode::Demo),
        Err(Error::Unsigned { .. } | Error::BadSignature { .. })
    ));
    assert_eq!(
        load(&path, TrustMode::DevUnsigned).unwrap().trust,
        Trust::UnsignedDev
    );
}

#[test]
fn required_device_facts_come_from_the_rules() {
    assert_eq!(
        seed().required_device_facts(),
        ["managed", "diskEncryption"]
    );
    let other = SEED.replace(
        "device.managed == true && device.diskEncryption == true",
        "device.firewall && mydevice.tpm == true && device.firewall",
    );
    let err = parse(&other, "p.yaml").unwrap_err();
    assert!(
        err.to_string().contains("unknown variable `mydevice`"),
        "{err}"
    );
}

#[test]
fn text_from_a_server_is_a_demo_when_signed_with_the_published_demo_key() {
    let demo_key = demo::public_key().unwrap();
    let loaded = load_signed_text(demo::POLICY, demo::SIGNATURE, "served", &demo_key).unwrap();
    assert_eq!(loaded.trust, Trust::Demo);

    let org_key = signing::SecretKey::generate().unwrap();
    let signature = org_key.sign(demo::POLICY.as_bytes());
    let loaded =
        load_signed_text(demo::POLICY, &signature, "served", &org_key.public_key()).unwrap();
    assert!(matches!(loaded.trust, Trust::Signed { .. }));
    assert!(load_signed_text(demo::POLICY, &signature, "served", &demo_key).is_err());
}
