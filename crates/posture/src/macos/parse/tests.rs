use super::*;
use crate::testdata::fixture;

#[test]
fn fdesetup_on_off() {
    assert_eq!(
        parse_fdesetup(&fixture("macos/fdesetup_on.txt")),
        FileVault::On
    );
    assert_eq!(
        parse_fdesetup(&fixture("macos/fdesetup_off.txt")),
        FileVault::Off
    );
    assert_eq!(FileVault::On.state(), FactState::Ok);
    assert_eq!(FileVault::Off.state(), FactState::Fail);
}

#[test]
fn fdesetup_in_progress_is_converting_not_ok() {
    let fv = parse_fdesetup(&fixture("macos/fdesetup_encrypting.txt"));
    assert_eq!(
        fv,
        FileVault::Encrypting {
            percent: Some(42.0)
        },
        "progress beats the 'is On.' line"
    );
    assert_eq!(fv.state(), FactState::Converting);
}

#[test]
fn fdesetup_decrypting_and_deferred_fail() {
    let fv = parse_fdesetup(&fixture("macos/fdesetup_decrypting.txt"));
    assert_eq!(
        fv,
        FileVault::Decrypting {
            percent: Some(40.0)
        }
    );
    assert_eq!(
        fv.state(),
        FactState::Fail,
        "decryption in progress must not pass as On"
    );
    let fv = parse_fdesetup(&fixture("macos/fdesetup_deferred.txt"));
    assert_eq!(
        fv,
        FileVault::Deferred {
            user: Some("jdoe".into())
        }
    );
    assert_eq!(fv.state(), FactState::Fail);
}

#[test]
fn fdesetup_unrecognised_is_unknown() {
    let fv = parse_fdesetup("Error: unable to get status\n");
    assert_eq!(fv.state(), FactState::Unknown);
}

#[test]
fn diskutil_info_root_volume() {
    let v = parse_diskutil_info(fixture("macos/diskutil_info_root.plist").as_bytes()).unwrap();
    assert_eq!(v.mount_point.as_deref(), Some("/"));
    assert_eq!(v.filevault, Some(true));
    assert_eq!(v.internal, Some(true));
    assert_eq!(v.removable, Some(false));
    assert_eq!(v.device.as_deref(), Some("disk1s5s1"));
}

#[test]
fn diskutil_info_external_and_error() {
    let v =
        parse_diskutil_info(fixture("macos/diskutil_info_external_hfs.plist").as_bytes()).unwrap();
    assert_eq!(v.filevault, None, "HFS+ volumes have no FileVault key");
    assert_eq!(v.removable, Some(true), "external USB counts as removable");
    assert_eq!(
        parse_diskutil_info(fixture("macos/diskutil_info_error.plist").as_bytes()),
        None
    );
    assert_eq!(parse_diskutil_info(b"not a plist"), None);
}

#[test]
fn apfs_list_user_data_volumes() {
    let vols = parse_apfs_list(fixture("macos/diskutil_apfs_list.plist").as_bytes()).unwrap();
    assert_eq!(vols.len(), 13);
    let data = user_data_volumes(&vols);
    let names: Vec<&str> = data.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["Data", "Nix Store"],
        "Data role plus role-less user volumes"
    );
    assert!(data.iter().all(|v| v.filevault));
    let preboot = vols.iter().find(|v| v.name == "Preboot").unwrap();
    assert!(!preboot.filevault && !preboot.encryption);
}

#[test]
fn socketfilterfw_states() {
    assert_eq!(
        parse_socketfilterfw(&fixture("macos/socketfilterfw_enabled.txt")),
        Some(1)
    );
    assert_eq!(
        parse_socketfilterfw(&fixture("macos/socketfilterfw_disabled.txt")),
        Some(0)
    );
    assert_eq!(
        parse_socketfilterfw(&fixture("macos/socketfilterfw_kolide.txt")),
        Some(2)
    );
    assert_eq!(
        parse_socketfilterfw(&fixture("macos/socketfilterfw_macos15_state2.txt")),
        Some(2),
        "macOS 15 state-2 wording has no 'enabled' and must still parse"
    );
    assert_eq!(parse_socketfilterfw("garbage"), None);
}

#[test]
fn profiles_enrollment_kinds() {
    let e = parse_profiles_enrollment(&fixture("macos/profiles_user_approved.txt")).unwrap();
    assert_eq!(e.kind(), ManagementKind::UserApprovedMdm);
    assert_eq!(
        e.server.as_deref(),
        Some("https://test.example.com/mdm/apple/mdm")
    );
    let e = parse_profiles_enrollment(&fixture("macos/profiles_ade.txt")).unwrap();
    assert_eq!(e.kind(), ManagementKind::Ade);
    let e = parse_profiles_enrollment(&fixture("macos/profiles_none.txt")).unwrap();
    assert_eq!(e.kind(), ManagementKind::None);
    let e = parse_profiles_enrollment("MDM enrollment: Yes\n").unwrap();
    assert_eq!(e.kind(), ManagementKind::Mdm);
    assert_eq!(parse_profiles_enrollment("profiles: error\n"), None);
}

#[test]
fn sysadminctl_screenlock() {
    assert_eq!(
        parse_sysadminctl_screenlock(&fixture("macos/sysadminctl_immediate.txt")),
        Some(ScreenLockDelay::Immediate)
    );
    assert_eq!(
        parse_sysadminctl_screenlock(&fixture("macos/sysadminctl_5s.txt")),
        Some(ScreenLockDelay::Seconds(5))
    );
    assert_eq!(
        parse_sysadminctl_screenlock(&fixture("macos/sysadminctl_off.txt")),
        Some(ScreenLockDelay::Off)
    );
    assert_eq!(
        parse_sysadminctl_screenlock("screenLock delay is -1 seconds"),
        Some(ScreenLockDelay::Off)
    );
    assert_eq!(parse_sysadminctl_screenlock("nothing"), None);
}

#[test]
fn softwareupdate_schedule() {
    assert_eq!(
        parse_softwareupdate_schedule(&fixture("macos/softwareupdate_on.txt")),
        Some(true)
    );
    assert_eq!(
        parse_softwareupdate_schedule("Automatic checking for updates is turned off"),
        Some(false)
    );
    assert_eq!(parse_softwareupdate_schedule(""), None);
}

#[test]
fn ioreg_platform_properties() {
    let t = fixture("macos/ioreg_platform.txt");
    assert_eq!(
        parse_ioreg_string(&t, "IOPlatformSerialNumber").as_deref(),
        Some("C07JKA31DWYL")
    );
    assert_eq!(
        parse_ioreg_string(&t, "IOPlatformUUID").as_deref(),
        Some("0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9")
    );
    assert_eq!(parse_ioreg_string(&t, "Missing"), None);
}

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().into()
}

#[test]
fn secure_boot_levels() {
    let now = at("2024-12-01T00:00:00Z");
    let full = fixture("macos/mdmclient_securityinfo_full.txt");
    assert_eq!(parse_secure_boot_level(&full), Some(SecureBootLevel::Full));
    assert_eq!(secure_boot_fact(Ok(&full), now).state, FactState::Ok);
    let medium = fixture("macos/mdmclient_securityinfo_medium.txt");
    assert_eq!(
        parse_secure_boot_level(&medium),
        Some(SecureBootLevel::Medium)
    );
    let f = secure_boot_fact(Ok(&medium), now);
    assert_eq!(f.state, FactState::Fail, "medium security is not ok");
    assert!(f.evidence[0].contains("medium"));
    let intel = fixture("macos/mdmclient_securityinfo_intel.txt");
    assert_eq!(parse_secure_boot_level(&intel), None);
    let f = secure_boot_fact(Ok(&intel), now);
    assert_eq!(f.state, FactState::Fail);
    assert_eq!(f.value.unwrap().enabled, Some(false));
    let hung = secure_boot_fact(Err("command `mdmclient` timed out after 2s"), now);
    assert_eq!(hung.state, FactState::Unknown, "a hung command is unknown");
    assert_eq!(
        secure_boot_fact(Ok("garbage"), now).state,
        FactState::Unknown
    );
}

#[test]
fn secure_enclave_on_apple_silicon_and_t2() {
    let now = at("2024-12-01T00:00:00Z");
    let m1 = fixture("macos/sysctl_brand_m1.txt");
    let t2 = fixture("macos/ibridge_t2.txt");
    let intel = fixture("macos/sysctl_brand_intel.txt");
    assert!(secure_enclave(&m1, "").unwrap().contains("Apple M1"));
    assert!(
        secure_enclave(&intel, &t2)
            .unwrap()
            .contains("Apple T2 chip")
    );
    assert_eq!(secure_enclave(&intel, "Controller:\n"), None);
    let f = enclave_fact(Ok(&intel), Ok(&t2), now);
    assert_eq!(f.state, FactState::Ok);
    assert!(f.value.unwrap().present);
    let f = enclave_fact(Ok(&intel), Ok(""), now);
    assert_eq!(f.state, FactState::Fail, "Intel without T2 has no enclave");
    let f = enclave_fact(Ok(&intel), Err("timed out"), now);
    assert_eq!(
        f.state,
        FactState::Unknown,
        "cannot tell without the T2 probe"
    );
}

#[test]
fn update_age_from_install_history() {
    let bytes = fixture("macos/install_history.plist");
    let installs = parse_install_history(bytes.as_bytes()).unwrap();
    assert_eq!(installs.len(), 4);
    let f = updates_fact(Ok(bytes.as_bytes()), 30, at("2024-12-01T00:00:00Z"));
    assert_eq!(f.state, FactState::Ok, "{:?}", f.evidence);
    assert_eq!(
        f.value.as_ref().unwrap().days_since_last_update,
        Some(25),
        "15.1 on 2024-11-05; XProtect data and App Store apps are not OS updates"
    );
    assert!(f.evidence[0].contains("macOS Sequoia 15.1"));
    let late = updates_fact(Ok(bytes.as_bytes()), 30, at("2025-02-01T00:00:00Z"));
    assert_eq!(late.state, FactState::Fail);
    assert_eq!(
        updates_fact(Ok(b"not a plist"), 30, at("2024-12-01T00:00:00Z")).state,
        FactState::Unknown
    );
}
