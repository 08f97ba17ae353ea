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

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

#[test]
fn bitlocker_wmi_fallback_only_when_the_shell_cannot_answer() {
    use std::cell::Cell;
    let calls = Cell::new(0);
    let wmi = || {
        calls.set(calls.get() + 1);
        Ok(fixture("windows/encryptable_volumes.json"))
    };
    // The shell answers: WMI is never asked.
    let on = fixture("windows/bitlocker_c_on.txt");
    let f = disk_encryption_fact(Ok(&format!("C:={}", on.trim())), &wmi, now());
    assert_eq!(f.state, FactState::Ok);
    assert_eq!(
        calls.get(),
        0,
        "no WMI call when the shell property is there"
    );
    // Empty property: WMI is called and decides each drive.
    let f = disk_encryption_fact(
        Ok(&fixture("windows/bitlocker_no_property.txt")),
        &wmi,
        now(),
    );
    assert_eq!(calls.get(), 1, "WMI fallback must run");
    let vols = &f.value.as_ref().unwrap().volumes;
    let state_of = |d: &str| vols.iter().find(|v| v.mount_point == d).unwrap().state;
    assert_eq!(state_of("C:"), FactState::Ok, "{:?}", f.evidence);
    assert_eq!(state_of("D:"), FactState::Converting);
    assert_eq!(state_of("E:"), FactState::Fail, "WMI lists E: too");
    assert_eq!(f.state, FactState::Fail);
    assert!(f.method.contains("wmi"));
    // PowerShell itself failed: WMI is still tried.
    let f = disk_encryption_fact(
        Err("command `powershell.exe` timed out after 2s"),
        &wmi,
        now(),
    );
    assert_eq!(calls.get(), 2);
    assert_eq!(f.value.unwrap().volumes.len(), 3);
    // Neither answers (not elevated): unknown, with both reasons.
    let denied = || Err("Access denied".to_owned());
    let f = disk_encryption_fact(
        Ok(&fixture("windows/bitlocker_no_property.txt")),
        &denied,
        now(),
    );
    assert_eq!(f.state, FactState::Unknown);
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("needs an administrator")),
        "{:?}",
        f.evidence
    );
}

#[test]
fn get_tpm_states() {
    let ready = parse_get_tpm(&fixture("windows/get_tpm_ready.txt")).unwrap();
    assert_eq!(ready.present, Some(true));
    assert_eq!(ready.manufacturer.as_deref(), Some("INTC"));
    assert_eq!(ready.version.as_deref(), Some("2.0"));
    let f = tpm_fact(Ok(&fixture("windows/get_tpm_ready.txt")), now());
    assert_eq!(f.state, FactState::Ok);
    let f = tpm_fact(Ok(&fixture("windows/get_tpm_absent.txt")), now());
    assert_eq!(f.state, FactState::Fail);
    assert!(!f.value.unwrap().present);
    let f = tpm_fact(Ok(&fixture("windows/get_tpm_denied.txt")), now());
    assert_eq!(
        f.state,
        FactState::Unknown,
        "not elevated is unknown, never absent"
    );
    assert!(f.evidence[0].contains("administrator"));
    assert_eq!(tpm_fact(Err("timed out"), now()).state, FactState::Unknown);
}

#[test]
fn automatic_updates_policy() {
    let f = auto_updates_fact(Ok(&fixture("windows/reg_missing.txt")), now());
    assert_eq!(
        f.state,
        FactState::Ok,
        "no policy: Windows default is automatic"
    );
    let f = auto_updates_fact(Ok(&fixture("windows/reg_au_disabled.txt")), now());
    assert_eq!(f.state, FactState::Fail);
    assert!(f.evidence[0].contains("NoAutoUpdate"));
    let f = auto_updates_fact(Ok(&fixture("windows/reg_au_notify.txt")), now());
    assert_eq!(f.state, FactState::Fail, "notify-only is not automatic");
    let f = auto_updates_fact(Ok(&fixture("windows/reg_au_auto.txt")), now());
    assert_eq!(f.state, FactState::Ok);
    assert_eq!(
        auto_updates_fact(Err("timed out"), now()).state,
        FactState::Unknown
    );
}

#[test]
fn mdm_enrollment_keys() {
    let e = parse_enrollments(&fixture("windows/reg_enrollments_intune.txt"));
    assert_eq!(
        e.len(),
        3,
        "Context, the all-F placeholder and one enrolment: {e:?}"
    );
    let active: Vec<_> = e.iter().filter(|x| x.active()).collect();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].provider.as_deref(), Some("MS DM Server"));
    assert_eq!(active[0].kind, Some(6));
    assert!(
        parse_enrollments(&fixture("windows/reg_enrollments_none.txt"))
            .iter()
            .all(|x| !x.active())
    );

    let none = fixture("windows/dsregcmd_none.txt");
    let f = managed_fact(
        Ok(&none),
        Ok(&fixture("windows/reg_enrollments_intune.txt")),
        now(),
    );
    assert_eq!(
        f.state,
        FactState::Ok,
        "MDM enrolment without a join is managed"
    );
    assert_eq!(f.value.unwrap().kind, ManagementKind::EntraIntune);
    let f = managed_fact(
        Ok(&none),
        Ok(&fixture("windows/reg_enrollments_none.txt")),
        now(),
    );
    assert_eq!(f.state, FactState::Fail);
    let domain = fixture("windows/dsregcmd_domain.txt");
    let f = managed_fact(
        Ok(&domain),
        Ok(&fixture("windows/reg_enrollments_none.txt")),
        now(),
    );
    assert_eq!(f.state, FactState::Ok);
    assert_eq!(f.value.unwrap().kind, ManagementKind::Domain);
    let f = managed_fact(Err("timed out"), Err("timed out"), now());
    assert_eq!(f.state, FactState::Unknown);
}
