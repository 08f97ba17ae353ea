//! `certgate posture snapshot`: a snapshot of a fake machine, unpacked, gives the same facts,
//! holds only what the checks read, and never a secret.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;

use certgate_posture::FixedClock;
use certgate_posture::config::{Marker, PostureConfig, ProcessMatcher};
use certgate_posture::linux::LinuxCheck;
use certgate_posture::linux::snapshot::snapshot;
use support::{LUKS2, laptop};

fn machine() -> support::Tree {
    let mut t = laptop();
    t.dm(0, LUKS2, "luks-root", &["sda2"])
        .mount("/", 253, 0, "ext4", "/dev/mapper/luks-root");
    t.part("sda", "sda3", 8, 3)
        .dm(1, "CRYPT-PLAIN-cryptswap", "cryptswap", &["sda3"])
        .swap("/dev/dm-1", "partition");
    t.dev_link("disk/by-uuid/0f1e2d3c", "../../dm-0");
    t.file("etc/ufw/ufw.conf", "ENABLED=yes\n");
    t.file(
        "sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c",
        [6u8, 0, 0, 0, 1],
    );
    t.file("sys/class/tpm/tpm0/tpm_version_major", "2\n");
    t.file(
        "etc/os-release",
        "PRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\n",
    );
    t.file("proc/sys/kernel/osrelease", "6.8.0-48-generic\n");
    t.file("etc/machine-id", "4f1e2d3c4b5a69788796a5b4c3d2e1f0\n");
    t.file("sys/class/dmi/id/product_serial", "PF2ABCDE\n");
    t.file("var/log/apt/history.log", "\nStart-Date: 2027-01-10  09:00:00\nUpgrade: libssl3:amd64 (1, 2)\nEnd-Date: 2027-01-10  09:00:30\n");
    t.file(
        "etc/apt/apt.conf.d/20auto-upgrades",
        "APT::Periodic::Unattended-Upgrade \"1\";\n",
    );
    t.file("etc/mdm/enrolled", "tenant=example\n");
    t.file("proc/4242/comm", "falcon-sensor\n");
    t.file(
        "proc/4242/cmdline",
        b"/opt/CrowdStrike/falcon-sensor\0--token\0s3cr3t-token\0",
    );
    t.file(
        "proc/4242/status",
        "Name:\tfalcon-sensor\nUid:\t0\t0\t0\t0\n",
    );
    t.file("proc/4242/environ", "API_KEY=s3cr3t-token\0");
    std::os::unix::fs::symlink(
        "/opt/CrowdStrike/falcon-sensor",
        t.path().join("proc/4242/exe"),
    )
    .unwrap();
    t.file("proc/77/comm", "bash\n");
    t.file("proc/77/cmdline", b"bash\0");
    t.file(
        "home/.config/kscreenlockerrc",
        "[Daemon]\nAutolock=true\nTimeout=5\n",
    );
    // Present on the machine, never read by a check: must stay out of the snapshot.
    t.file("etc/shadow", "root:$y$j9T$secret:19000:0:99999:7:::\n");
    t.file(
        "home/.ssh/id_ed25519",
        "-----BEGIN OPENSSH PRIVATE KEY-----\n",
    );
    t.file("var/log/syslog", "unrelated\n");
    t.file("etc/hostname", "laptop\n");
    t
}

fn config(markers: Vec<Marker>) -> PostureConfig {
    PostureConfig {
        edr_allowlist: vec![ProcessMatcher {
            name: "falcon-sensor".into(),
            path_prefix: Some("/opt/CrowdStrike/".into()),
        }],
        mdm_markers: markers,
        ..PostureConfig::default()
    }
}

fn unpack(archive: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    tar::Archive::new(std::fs::File::open(archive).unwrap())
        .unpack(dir.path())
        .unwrap();
    dir
}

fn names(archive: &Path) -> Vec<String> {
    let mut a = tar::Archive::new(std::fs::File::open(archive).unwrap());
    a.entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect()
}

#[test]
fn unpacked_snapshot_gives_the_same_facts() {
    let t = machine();
    let clock = FixedClock(support::at());
    let config = config(vec![Marker::File("/etc/mdm/enrolled".into())]);
    let live = LinuxCheck::sysroot(t.path(), config.clone()).run(&clock);
    assert!(
        live.disk_encryption && live.managed && live.edr,
        "{live:#?}"
    );

    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("snap.tar");
    let summary = snapshot(
        &LinuxCheck::sysroot(t.path(), config.clone()),
        &archive,
        &clock,
    )
    .unwrap();
    assert_eq!(
        summary.report, live,
        "recording does not change the answers"
    );

    let unpacked = unpack(&archive);
    let replay = LinuxCheck::sysroot(unpacked.path(), config).run(&clock);
    assert_eq!(
        serde_json::to_value(&replay.facts).unwrap(),
        serde_json::to_value(&live.facts).unwrap(),
        "the unpacked snapshot must reproduce every fact"
    );

    let files = &summary.file_names;
    for needed in [
        "proc/self/mountinfo",
        "proc/swaps",
        "etc/ufw/ufw.conf",
        "etc/os-release",
        "sys/devices/virtual/block/dm-0/dm/uuid",
        "home/.config/kscreenlockerrc",
        "proc/4242/comm",
    ] {
        assert!(
            files.iter().any(|f| f == needed),
            "{needed} missing: {files:#?}"
        );
    }
    for never in [
        "etc/shadow",
        "home/.ssh/id_ed25519",
        "var/log/syslog",
        "etc/hostname",
        "proc/4242/environ",
        "proc/77/comm",
    ] {
        assert!(
            !names(&archive).iter().any(|f| f == never),
            "{never} was not read by a check (or is secret) and must not be in the snapshot"
        );
    }
    let cmdline = std::fs::read(unpacked.path().join("proc/4242/cmdline")).unwrap();
    assert_eq!(
        cmdline, b"/opt/CrowdStrike/falcon-sensor\0",
        "command lines are cut to argv[0]: later arguments can be secrets"
    );
}

#[test]
fn secrets_a_check_touches_are_refused_and_listed() {
    let t = machine();
    let clock = FixedClock(support::at());
    // A marker pointing at a secret file: the check asks whether it exists, the snapshot
    // must still not copy it.
    let config = config(vec![
        Marker::File("/etc/shadow".into()),
        Marker::File("/etc/ssh/ssh_host_ed25519_key".into()),
    ]);
    std::fs::create_dir_all(t.path().join("etc/ssh")).unwrap();
    std::fs::write(
        t.path().join("etc/ssh/ssh_host_ed25519_key"),
        "-----BEGIN OPENSSH PRIVATE KEY-----\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("snap.tar");
    let summary = snapshot(&LinuxCheck::sysroot(t.path(), config), &archive, &clock).unwrap();
    let all = names(&archive);
    assert!(
        !all.iter()
            .any(|n| n.contains("shadow") || n.contains("ssh")),
        "{all:#?}"
    );
    assert!(
        summary
            .skipped
            .iter()
            .any(|(p, why)| p == "etc/shadow" && why.contains("password")),
        "{:?}",
        summary.skipped
    );
    let bytes = std::fs::read(&archive).unwrap();
    assert!(
        !bytes.windows(6).any(|w| w == b"s3cr3t"),
        "no secret byte may reach the archive"
    );
}

#[test]
fn failed_write_leaves_nothing_behind() {
    let t = machine();
    let clock = FixedClock(support::at());
    let err = snapshot(
        &LinuxCheck::sysroot(t.path(), PostureConfig::default()),
        Path::new("/nonexistent-dir/snap.tar"),
        &clock,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent-dir/snap.tar"),
        "{err}"
    );
    assert!(!Path::new("/nonexistent-dir").exists());
}

#[test]
fn desktop_session_files_are_captured_and_the_summary_matches_the_replay() {
    let t = machine();
    let clock = FixedClock(support::at());
    let mut check = LinuxCheck::sysroot(t.path(), PostureConfig::default());
    check.session = certgate_posture::linux::Session {
        desktop: Some("KDE".into()),
        has_session_bus: false,
    };
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("snap.tar");
    let summary = snapshot(&check, &archive, &clock).unwrap();
    assert!(
        summary
            .file_names
            .iter()
            .any(|f| f == "home/.config/kscreenlockerrc"),
        "{:?}",
        summary.file_names
    );
    let unpacked = unpack(&archive);
    let replay = LinuxCheck::sysroot(unpacked.path(), PostureConfig::default()).run(&clock);
    assert_eq!(
        summary.report, replay,
        "the summary reports what the unpacked tree will say"
    );
}
