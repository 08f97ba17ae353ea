use super::*;
use crate::testdata::fixture;

#[test]
fn bitlocker_values_zero_to_nine() {
    let expect = [
        (0, FactState::Unknown),
        (1, FactState::Ok),
        (2, FactState::Fail),
        (3, FactState::Converting),
        (4, FactState::Fail),
        (5, FactState::Fail),
        (6, FactState::Ok),
        (7, FactState::Unknown),
        (8, FactState::Fail),
        (9, FactState::Unknown),
    ];
    for (v, state) in expect {
        assert_eq!(bitlocker_protection(v).0, state, "value {v}");
    }
    assert!(bitlocker_protection(5).1.contains("suspended"));
    assert!(bitlocker_protection(8).1.contains("waiting for activation"));
}

#[test]
fn bitlocker_shell_output() {
    assert_eq!(
        parse_bitlocker_value(&fixture("windows/bitlocker_c_on.txt")),
        Some(1)
    );
    assert_eq!(
        parse_bitlocker_value(""),
        None,
        "absent property is not a value"
    );
    assert_eq!(
        parse_bitlocker_drives("C:=1\r\nD:=5\r\nE:=\r\n"),
        vec![
            ("C:".to_owned(), Some(1)),
            ("D:".to_owned(), Some(5)),
            ("E:".to_owned(), None)
        ]
    );
}

#[test]
fn encryptable_volumes_fallback() {
    let v = parse_encryptable_volumes(&fixture("windows/encryptable_volumes.json")).unwrap();
    let states: Vec<FactState> = v.iter().map(EncryptableVolume::state).collect();
    assert_eq!(
        states,
        vec![FactState::Ok, FactState::Converting, FactState::Fail]
    );
    assert_eq!(parse_encryptable_volumes("Access denied"), None);
}

#[test]
fn firewall_profiles_raw_enums() {
    let p = parse_firewall_profiles(&fixture("windows/netfirewallprofile_raw.json")).unwrap();
    assert_eq!(p.len(), 3);
    assert_eq!(p[1].default_inbound.as_deref(), Some("Block"));
    assert_eq!(p[2].enabled, Some(false));
    assert_eq!(
        firewall_state(&p),
        FactState::Fail,
        "an off Public profile fails"
    );
}

#[test]
fn firewall_profiles_strings_and_single_object() {
    let p = parse_firewall_profiles(&fixture("windows/netfirewallprofile_strings.json")).unwrap();
    assert_eq!(firewall_state(&p), FactState::Ok);
    let p = parse_firewall_profiles(&fixture("windows/netfirewallprofile_single.json")).unwrap();
    assert_eq!(p.len(), 1, "one profile comes as an object");
    assert_eq!(p[0].name, "Public");
    assert_eq!(parse_firewall_profiles("[]"), None);
    assert_eq!(
        firewall_state(&[FirewallProfile {
            name: "Domain".into(),
            enabled: None,
            default_inbound: None
        }]),
        FactState::Unknown,
        "NotConfigured is not ok"
    );
}

#[test]
fn dsregcmd_join_states() {
    let d = parse_dsregcmd(&fixture("windows/dsregcmd_hybrid.txt")).unwrap();
    assert_eq!(d.azure_ad_joined, Some(true));
    assert_eq!(d.domain_name.as_deref(), Some("HYBRIDADFS"));
    assert_eq!(d.kind(), ManagementKind::EntraIntune);
    let d = parse_dsregcmd(&fixture("windows/dsregcmd_domain.txt")).unwrap();
    assert_eq!(d.kind(), ManagementKind::Domain);
    let d = parse_dsregcmd(&fixture("windows/dsregcmd_none.txt")).unwrap();
    assert_eq!(d.kind(), ManagementKind::None);
    assert_eq!(parse_dsregcmd("'dsregcmd' is not recognized"), None);
}

#[test]
fn inactivity_timeout_dword() {
    let t = fixture("windows/reg_inactivity_timeout.txt");
    assert_eq!(parse_reg_dword(&t, "InactivityTimeoutSecs"), Some(900));
    assert_eq!(parse_reg_dword(&t, "Other"), None);
    assert_eq!(
        parse_reg_dword(
            "ERROR: The system was unable to find the specified registry key or value.",
            "InactivityTimeoutSecs"
        ),
        None
    );
}

#[test]
fn secure_boot_registry() {
    let t = fixture("windows/reg_secureboot_on.txt");
    assert_eq!(parse_reg_dword(&t, "UEFISecureBootEnabled"), Some(1));
    let missing = fixture("windows/reg_missing.txt");
    assert!(reg_missing(&missing), "no SecureBoot key: legacy BIOS boot");
    assert!(!reg_missing(&t));
}

#[test]
fn machine_guid_reg_sz() {
    let t = fixture("windows/reg_machineguid.txt");
    assert_eq!(
        parse_reg_sz(&t, "MachineGuid").as_deref(),
        Some("12345678-1234-1234-1234-1234567890ab")
    );
    assert_eq!(
        parse_reg_sz(&t, "Machine"),
        None,
        "a prefix of the name does not match"
    );
}
