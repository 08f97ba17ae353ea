use super::*;
use chrono::DateTime;

fn at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn report(managed: FactState, disk: FactState) -> PostureReport {
    let mut f = Facts::unknown(at(), "not collected");
    f.managed = Fact::new(
        managed,
        Some(Management {
            kind: ManagementKind::Agent,
            markers: vec!["process intune-agent".into()],
        }),
        "markers",
        at(),
    )
    .with("marker");
    f.disk_encryption = Fact::new(
        disk,
        Some(DiskEncryption {
            status: EncryptionStatus::Full,
            volumes: vec![],
        }),
        "sysfs",
        at(),
    )
    .with("/ is dm-0");
    PostureReport::new("linux", f, at())
}

/// Evaluates the seed policy's `device.managed == true && device.diskEncryption == true`
/// on the JSON the policy engine receives.
fn seed_rule(device: &serde_json::Value) -> bool {
    device["managed"] == serde_json::Value::Bool(true)
        && device["diskEncryption"] == serde_json::Value::Bool(true)
}

#[test]
fn report_is_the_device_object() {
    let v = serde_json::to_value(report(FactState::Ok, FactState::Ok)).unwrap();
    assert!(seed_rule(&v), "{v}");
    assert_eq!(v["facts"]["diskEncryption"]["state"], "ok");
    assert_eq!(v["facts"]["diskEncryption"]["value"]["status"], "full");
    assert_eq!(v["facts"]["managed"]["value"]["kind"], "agent");
    assert!(v["facts"]["diskEncryption"]["collectedAt"].is_string());
    for key in [
        "managed",
        "diskEncryption",
        "firewall",
        "screenLock",
        "secureBoot",
        "tpm",
        "edr",
        "autoUpdates",
        "osUpToDate",
    ] {
        assert!(v[key].is_boolean(), "{key} must be a top-level boolean");
    }
}

#[test]
fn unknown_is_false_in_the_summary() {
    for s in [
        FactState::Unknown,
        FactState::Fail,
        FactState::Converting,
        FactState::NotApplicable,
    ] {
        let v = serde_json::to_value(report(FactState::Ok, s)).unwrap();
        assert_eq!(
            v["diskEncryption"], false,
            "{s:?} must not make diskEncryption true"
        );
        assert!(!seed_rule(&v));
    }
}

#[test]
fn report_round_trips() {
    let r = report(FactState::Ok, FactState::Converting);
    let back: PostureReport = serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
    assert_eq!(back, r);
}

#[test]
fn fact_names_parse() {
    assert_eq!(
        "diskEncryption".parse::<FactName>().unwrap(),
        FactName::DiskEncryption
    );
    assert_eq!(
        "SECUREBOOT".parse::<FactName>().unwrap(),
        FactName::SecureBoot
    );
    assert!("disk".parse::<FactName>().is_err());
    for n in FactName::ALL {
        assert_eq!(
            serde_json::to_value(n).unwrap(),
            n.as_str(),
            "serde and as_str agree"
        );
    }
}
