//! Whole-report checks: the real machine, and a complete fake machine under `--sysroot`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use certgate_posture::config::{Marker, PostureConfig, ProcessMatcher};
use certgate_posture::linux::LinuxCheck;
use certgate_posture::report::FactName;
use certgate_posture::{FactState, FixedClock, SystemClock, exit_code, render_table};
use support::{LUKS2, laptop};

/// Runs the real check on this machine (no root-only tool needed) and demands a full
/// report: every fact has a state and says why.
#[cfg(target_os = "linux")]
#[test]
fn real_machine_produces_a_full_report() {
    let report = LinuxCheck::host(PostureConfig::default()).run(&SystemClock);
    let v = serde_json::to_value(&report).unwrap();
    let facts = v["facts"].as_object().unwrap();
    assert_eq!(facts.len(), FactName::ALL.len());
    for (name, fact) in facts {
        let state = fact["state"].as_str().unwrap();
        assert!(
            ["ok", "fail", "unknown", "n/a", "converting"].contains(&state),
            "{name}: {state}"
        );
        let ev = fact["evidence"].as_array().unwrap();
        assert!(
            !ev.is_empty() && ev.iter().all(|e| !e.as_str().unwrap().is_empty()),
            "{name} must say why: {fact}"
        );
        assert!(fact["collectedAt"].is_string());
    }
    for key in [
        "managed",
        "diskEncryption",
        "firewall",
        "screenLock",
        "secureBoot",
        "tpm",
        "edr",
        "autoUpdates",
    ] {
        assert!(v[key].is_boolean(), "{key}");
    }
    // Shown in CI logs: what this machine looks like.
    println!(
        "{}",
        render_table(&report, &[FactName::DiskEncryption, FactName::Managed])
    );
}

fn full_machine() -> support::Tree {
    let mut t = laptop();
    t.dm(0, LUKS2, "luks-root", &["sda2"])
        .mount("/", 253, 0, "ext4", "/dev/mapper/luks-root");
    t.part("sda", "sda3", 8, 3)
        .dm(1, "CRYPT-PLAIN-cryptswap", "cryptswap", &["sda3"])
        .swap("/dev/dm-1", "partition");
    t.file(
        "etc/ufw/ufw.conf",
        "# /etc/ufw/ufw.conf\nENABLED=yes\nLOGLEVEL=low\n",
    );
    let efi = "sys/firmware/efi/efivars";
    t.file(
        &format!("{efi}/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"),
        [6u8, 0, 0, 0, 1],
    );
    t.file(
        &format!("{efi}/SetupMode-8be4df61-93ca-11d2-aa0d-00e098032b8c"),
        [6u8, 0, 0, 0, 0],
    );
    t.file("sys/class/tpm/tpm0/tpm_version_major", "2\n");
    t.file(
        "etc/os-release",
        "PRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\n",
    );
    t.file("proc/sys/kernel/osrelease", "6.8.0-48-generic\n");
    t.file("etc/machine-id", "4f1e2d3c4b5a69788796a5b4c3d2e1f0\n");
    t.file(
        "sys/class/dmi/id/product_serial",
        "To Be Filled By O.E.M.\n",
    );
    t.file("var/log/apt/history.log", "\nStart-Date: 2027-01-10  09:00:00\nCommandline: /usr/bin/unattended-upgrade\nUpgrade: libssl3:amd64 (3.0.13-0ubuntu3.3, 3.0.13-0ubuntu3.4)\nEnd-Date: 2027-01-10  09:00:30\n");
    t.file(
        "etc/apt/apt.conf.d/20auto-upgrades",
        "APT::Periodic::Update-Package-Lists \"1\";\nAPT::Periodic::Unattended-Upgrade \"1\";\n",
    );
    t.file("etc/mdm/enrolled", "tenant=example\n");
    t.file("proc/4242/comm", "falcon-sensor\n");
    std::os::unix::fs::symlink(
        "/opt/CrowdStrike/falcon-sensor",
        t.path().join("proc/4242/exe"),
    )
    .unwrap();
    t.file(
        "home/.config/kscreenlockerrc",
        "[Daemon]\nAutolock=true\nTimeout=5\n",
    );
    t
}

fn config() -> PostureConfig {
    PostureConfig {
        edr_allowlist: vec![ProcessMatcher {
            name: "falcon-sensor".into(),
            path_prefix: Some("/opt/CrowdStrike/".into()),
        }],
        mdm_markers: vec![Marker::File("/etc/mdm/enrolled".into())],
        ..PostureConfig::default()
    }
}

#[test]
fn sysroot_machine_passes_the_seed_rule() {
    let t = full_machine();
    let clock = FixedClock(support::at());
    let report = LinuxCheck::sysroot(t.path(), config()).run(&clock);
    let device = serde_json::to_value(&report).unwrap();
    // The seed policy: device.managed == true && device.diskEncryption == true
    assert_eq!(device["managed"], true, "{}", device["facts"]["managed"]);
    assert_eq!(
        device["diskEncryption"], true,
        "{}",
        device["facts"]["diskEncryption"]
    );
    let f = &report.facts;
    assert_eq!(f.firewall.state, FactState::Ok, "{:?}", f.firewall.evidence);
    assert!(
        f.firewall
            .evidence
            .iter()
            .any(|e| e.contains("nft: skipped")),
        "sysroot runs no command: {:?}",
        f.firewall.evidence
    );
    assert_eq!(f.secure_boot.state, FactState::Ok);
    assert_eq!(
        f.tpm.value.as_ref().unwrap().version.as_deref(),
        Some("2.0")
    );
    assert_eq!(
        f.os.value.as_ref().unwrap().kernel.as_deref(),
        Some("6.8.0-48-generic")
    );
    assert_eq!(f.edr.state, FactState::Ok, "{:?}", f.edr.evidence);
    assert_eq!(
        f.screen_lock.state,
        FactState::Ok,
        "{:?}",
        f.screen_lock.evidence
    );
    assert_eq!(
        f.screen_lock.value.as_ref().unwrap().idle_seconds,
        Some(300)
    );
    assert_eq!(f.auto_updates.state, FactState::Ok);
    assert_eq!(f.updates.state, FactState::Ok, "{:?}", f.updates.evidence);
    assert_eq!(
        f.updates.value.as_ref().unwrap().days_since_last_update,
        Some(4),
        "2027-01-10 to the clock's 2027-01-15"
    );
    let id = f.identity.value.as_ref().unwrap();
    assert_eq!(id.serial, None, "OEM placeholder refused");
    assert!(
        f.identity
            .evidence
            .iter()
            .any(|e| e.contains("placeholder"))
    );
    assert!(
        !serde_json::to_string(&report)
            .unwrap()
            .contains("4f1e2d3c4b5a6978"),
        "raw machine id never reported"
    );
    let required = [
        FactName::DiskEncryption,
        FactName::Managed,
        FactName::Firewall,
    ];
    assert_eq!(exit_code(&report, &required), 0);
    assert!(render_table(&report, &required).contains("✔ all 3 required"));
}

#[test]
fn sysroot_machine_without_markers_fails_managed() {
    let t = full_machine();
    std::fs::remove_file(t.path().join("etc/mdm/enrolled")).unwrap();
    let report = LinuxCheck::sysroot(t.path(), config()).run(&FixedClock(support::at()));
    let device = serde_json::to_value(&report).unwrap();
    assert_eq!(device["managed"], false);
    assert_eq!(exit_code(&report, &[FactName::Managed]), 1);
}
