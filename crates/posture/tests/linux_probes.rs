//! Linux probes other than storage, on fake trees and canned command outputs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use certgate_posture::FactState;
use certgate_posture::config::PostureConfig;
use certgate_posture::linux::firewall::check_firewall;
use certgate_posture::linux::screenlock::{Session, check_screen_lock};
use certgate_posture::linux::system::{
    check_identity, check_secure_boot, check_tpm, check_updates,
};
use certgate_posture::linux::{LinuxCheck, RealFs, RecordingFs};
use certgate_posture::runner::{CannedReply, CannedRunner, CommandOutput, NoSubprocess};
use support::{LUKS2, Tree, at, laptop};

const T: Duration = Duration::from_secs(1);
const NFT: &str = "nft -j list ruleset";

#[test]
fn nft_permission_denied_without_frontend_is_unknown() {
    let t = Tree::new();
    let runner = CannedRunner::new().with(
        NFT,
        CannedReply::Output(CommandOutput {
            code: Some(1),
            stdout: String::new(),
            stderr: "Error: Could not process rule: Operation not permitted\n".into(),
        }),
    );
    let f = check_firewall(&t.root(), &RealFs, &runner, T, false, at());
    assert_eq!(f.state, FactState::Unknown);
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("Operation not permitted")),
        "{:?}",
        f.evidence
    );
}

#[test]
fn nft_ruleset_with_drop_policy_is_ok() {
    let t = Tree::new();
    let json = r#"{"nftables":[{"metainfo":{"json_schema_version":1}},{"chain":{"family":"inet","table":"filter","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}}]}"#;
    let runner = CannedRunner::new().ok(NFT, json);
    let f = check_firewall(&t.root(), &RealFs, &runner, T, false, at());
    assert_eq!(f.state, FactState::Ok);
    assert_eq!(f.method, "command:nft");
}

#[test]
fn hung_nft_is_not_ok_and_ufw_disabled_fails() {
    let mut t = Tree::new();
    t.file("etc/ufw/ufw.conf", "ENABLED=no\n");
    let runner = CannedRunner::new().with(NFT, CannedReply::TimedOut);
    let f = check_firewall(&t.root(), &RealFs, &runner, T, false, at());
    assert_eq!(f.state, FactState::Fail);
    assert!(
        f.evidence.iter().any(|e| e.contains("timed out")),
        "{:?}",
        f.evidence
    );
}

#[test]
fn iptables_save_decides_when_root_and_nft_is_missing() {
    let mut t = Tree::new();
    t.file("proc/self/status", "Name:\tcertgate\nUid:\t0\t0\t0\t0\n");
    let runner = CannedRunner::new().ok(
        "iptables-save",
        "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\nCOMMIT\n",
    );
    let f = check_firewall(&t.root(), &RealFs, &runner, T, false, at());
    assert_eq!(f.state, FactState::Ok, "{:?}", f.evidence);
    assert_eq!(f.method, "command:iptables-save");
    let open = CannedRunner::new().ok("iptables-save", "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n");
    let f = check_firewall(&t.root(), &RealFs, &open, T, false, at());
    assert_eq!(f.state, FactState::Fail, "{:?}", f.evidence);
    let hung = CannedRunner::new().with("iptables-save", CannedReply::TimedOut);
    let f = check_firewall(&t.root(), &RealFs, &hung, T, false, at());
    assert_eq!(
        f.state,
        FactState::Unknown,
        "a hung iptables-save is unknown"
    );
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("iptables-save") && e.contains("timed out"))
    );
}

#[test]
fn iptables_save_is_not_run_without_root() {
    let mut t = Tree::new();
    t.file(
        "proc/self/status",
        "Name:\tcertgate\nUid:\t1000\t1000\t1000\t1000\n",
    );
    // Would say "filtered" if it were (wrongly) run.
    let runner = CannedRunner::new().ok("iptables-save", "*filter\n:INPUT DROP [0:0]\nCOMMIT\n");
    let f = check_firewall(&t.root(), &RealFs, &runner, T, false, at());
    assert_eq!(f.state, FactState::Unknown, "{:?}", f.evidence);
    assert!(
        f.evidence.iter().any(|e| e.contains("needs root")),
        "{:?}",
        f.evidence
    );
    // --sysroot: nothing runs even when the snapshot was taken as root.
    t.file("proc/self/status", "Uid:\t0\t0\t0\t0\n");
    let f = check_firewall(&t.root(), &RealFs, &NoSubprocess, T, false, at());
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("iptables-save: skipped")),
        "{:?}",
        f.evidence
    );
}

#[test]
fn firewalld_running_is_ok() {
    let mut t = Tree::new();
    t.file(
        "etc/systemd/system/multi-user.target.wants/firewalld.service",
        "",
    );
    let f = check_firewall(&t.root(), &RealFs, &NoSubprocess, T, true, at());
    assert_eq!(f.state, FactState::Ok, "{:?}", f.evidence);
}

#[test]
fn gnome_gsettings_in_a_session() {
    let t = Tree::new();
    let runner = CannedRunner::new()
        .ok(
            "gsettings get org.gnome.desktop.screensaver lock-enabled",
            "true\n",
        )
        .ok(
            "gsettings get org.gnome.desktop.session idle-delay",
            "uint32 1800\n",
        )
        .ok(
            "gsettings get org.gnome.desktop.screensaver lock-delay",
            "uint32 0\n",
        );
    let session = Session {
        desktop: Some("ubuntu:GNOME".into()),
        has_session_bus: true,
    };
    let f = check_screen_lock(&t.root(), &RealFs, &runner, T, &session, 900, at());
    assert_eq!(
        f.state,
        FactState::Fail,
        "30 minutes idle exceeds 15: {:?}",
        f.evidence
    );
    assert_eq!(f.value.unwrap().idle_seconds, Some(1800));
}

#[test]
fn gnome_admin_keyfile_and_lock() {
    let mut t = Tree::new();
    t.file("etc/dconf/db/local.d/00-screensaver", "[org/gnome/desktop/session]\nidle-delay=uint32 300\n\n[org/gnome/desktop/screensaver]\nlock-enabled=true\nlock-delay=uint32 0\n");
    t.file(
        "etc/dconf/db/local.d/locks/screensaver",
        "/org/gnome/desktop/session/idle-delay\n/org/gnome/desktop/screensaver/lock-enabled\n",
    );
    t.file("etc/dconf/profile/user", "user-db:user\nsystem-db:local\n");
    let f = check_screen_lock(
        &t.root(),
        &RealFs,
        &NoSubprocess,
        T,
        &Session::default(),
        900,
        at(),
    );
    assert_eq!(f.state, FactState::Ok, "{:?}", f.evidence);
    assert_eq!(f.value.unwrap().admin_enforced, Some(true));
}

#[test]
fn gsettings_without_a_session_bus_is_not_run() {
    // Outside a session gsettings prints built-in defaults rather than the user's values,
    // so it is not asked; a GNOME session with nothing set anywhere has GNOME's defaults.
    let t = Tree::new();
    let runner = CannedRunner::new().ok(
        "gsettings get org.gnome.desktop.screensaver lock-enabled",
        "false\n",
    );
    let session = Session {
        desktop: Some("GNOME".into()),
        has_session_bus: false,
    };
    let f = check_screen_lock(&t.root(), &RealFs, &runner, T, &session, 900, at());
    assert!(
        !f.evidence.iter().any(|e| e.contains("gsettings")),
        "{:?}",
        f.evidence
    );
    assert!(
        f.evidence.iter().any(|e| e.contains("GNOME default")),
        "{:?}",
        f.evidence
    );
    let f = check_screen_lock(
        &t.root(),
        &RealFs,
        &runner,
        T,
        &Session::default(),
        900,
        at(),
    );
    assert_eq!(f.state, FactState::Unknown, "no desktop at all: unknown");
}

#[test]
fn kde_autolock_off_fails() {
    let mut t = Tree::new();
    t.file("home/.config/kscreenlockerrc", "[Daemon]\nAutolock=false\n");
    let f = check_screen_lock(
        &t.root(),
        &RealFs,
        &NoSubprocess,
        T,
        &Session::default(),
        900,
        at(),
    );
    assert_eq!(f.state, FactState::Fail);
}

#[test]
fn sway_swayidle_locks() {
    let mut t = Tree::new();
    t.file(
        "home/.config/sway/config",
        "exec swayidle -w \\\n  timeout 600 'swaylock -f' \\\n  before-sleep 'swaylock -f'\n",
    );
    let f = check_screen_lock(
        &t.root(),
        &RealFs,
        &NoSubprocess,
        T,
        &Session::default(),
        900,
        at(),
    );
    assert_eq!(f.state, FactState::Ok, "{:?}", f.evidence);
}

#[test]
fn secure_boot_states() {
    let mut t = Tree::new();
    let f = check_secure_boot(&t.root(), &RealFs, at());
    assert_eq!(f.state, FactState::Fail, "legacy BIOS");
    t.file(
        "sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c",
        [6u8, 0, 0, 0, 0],
    );
    assert_eq!(
        check_secure_boot(&t.root(), &RealFs, at()).state,
        FactState::Fail
    );
    t.file(
        "sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c",
        [6u8, 0, 0, 0, 1],
    );
    assert_eq!(
        check_secure_boot(&t.root(), &RealFs, at()).state,
        FactState::Ok
    );
    let deny = t.path().join("sys/firmware/efi/efivars");
    let fs = certgate_posture::linux::DenyFs {
        inner: RealFs,
        denied: vec![deny],
    };
    assert_eq!(
        check_secure_boot(&t.root(), &fs, at()).state,
        FactState::Unknown
    );
}

#[test]
fn tpm_versions() {
    let mut t = Tree::new();
    assert_eq!(check_tpm(&t.root(), &RealFs, at()).state, FactState::Fail);
    t.file("sys/class/tpm/tpm0/tpm_version_major", "1\n");
    let f = check_tpm(&t.root(), &RealFs, at());
    assert_eq!(f.state, FactState::Ok);
    assert_eq!(f.value.unwrap().version.as_deref(), Some("1.2"));
}

#[test]
fn identity_serial_and_unreadable() {
    let mut t = Tree::new();
    t.file("etc/machine-id", "0123456789abcdef0123456789abcdef\n");
    t.file("sys/class/dmi/id/product_serial", "PF2ABCDE\n");
    let f = check_identity(&t.root(), &RealFs, "salt", at());
    assert_eq!(
        f.value.as_ref().unwrap().serial.as_deref(),
        Some("PF2ABCDE")
    );
    let deny = t.path().join("sys/class/dmi");
    let fs = certgate_posture::linux::DenyFs {
        inner: RealFs,
        denied: vec![deny],
    };
    let f = check_identity(&t.root(), &fs, "salt", at());
    assert_eq!(
        f.state,
        FactState::Ok,
        "machine id alone identifies the device"
    );
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("product_serial: permission denied")),
        "{:?}",
        f.evidence
    );
}

#[test]
fn updates_unknown_without_logs() {
    let t = Tree::new();
    let f = check_updates(&t.root(), &RealFs, 30, at());
    assert_eq!(f.state, FactState::Unknown);
    assert!(!f.evidence.is_empty());
}

#[test]
fn recording_fs_lists_exactly_what_was_read() {
    let mut t = laptop();
    t.dm(0, LUKS2, "luks-root", &["sda2"])
        .mount("/", 253, 0, "ext4", "/dev/mapper/luks-root");
    t.file("etc/ufw/ufw.conf", "ENABLED=yes\n");
    let rec = Arc::new(RecordingFs::new(RealFs));
    let mut check = LinuxCheck::sysroot(t.path(), PostureConfig::default());
    check.fs = rec.clone();
    let report = check.run(&certgate_posture::FixedClock(at()));
    assert!(report.disk_encryption);
    let paths = rec.paths();
    let root = t.path();
    let has = |rel: &str| paths.iter().any(|p| p == &root.join(rel));
    assert!(
        has("proc/self/mountinfo")
            && has("proc/swaps")
            && has("sys/dev/block/253:0")
            && has("etc/ufw/ufw.conf"),
        "{paths:#?}"
    );
    assert!(
        paths
            .iter()
            .all(|p| p.starts_with(std::fs::canonicalize(root).unwrap()) || p.starts_with(root)),
        "nothing outside the tree"
    );
    assert!(
        !paths.iter().any(|p| p.ends_with("etc/shadow")),
        "only what checks read"
    );
}

#[test]
fn fingerprint_changes_with_the_mount_table() {
    let mut t = laptop();
    let check = LinuxCheck::sysroot(t.path(), PostureConfig::default());
    let before = check.fingerprint();
    assert_eq!(before, check.fingerprint(), "stable while nothing changes");
    t.disk("sdb", 8, 16)
        .part("sdb", "sdb1", 8, 17)
        .mount("/data", 8, 17, "ext4", "/dev/sdb1");
    assert_ne!(
        before,
        check.fingerprint(),
        "a new mount is a change signal"
    );
}

fn dconf_fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/linux/dconf")
            .join(name),
    )
    .unwrap()
}

#[test]
fn gnome_user_database_without_subprocess() {
    let mut t = Tree::new();
    t.file("home/.config/dconf/user", dconf_fixture("user"));
    let session = Session {
        desktop: Some("GNOME".into()),
        has_session_bus: false,
    };
    let f = check_screen_lock(&t.root(), &RealFs, &NoSubprocess, T, &session, 900, at());
    assert_eq!(
        f.state,
        FactState::Fail,
        "the user turned the lock off: {:?}",
        f.evidence
    );
    let v = f.value.unwrap();
    assert_eq!(
        (v.enabled, v.idle_seconds, v.lock_delay_seconds),
        (Some(false), Some(600), Some(30))
    );
    assert!(f.evidence.iter().any(|e| e.contains("user db")));
}

#[test]
fn gnome_locked_system_database_beats_the_user() {
    let mut t = Tree::new();
    t.file("home/.config/dconf/user", dconf_fixture("user"));
    t.file("etc/dconf/db/local", dconf_fixture("local"));
    t.file("etc/dconf/profile/user", "user-db:user\nsystem-db:local\n");
    let f = check_screen_lock(
        &t.root(),
        &RealFs,
        &NoSubprocess,
        T,
        &Session::default(),
        900,
        at(),
    );
    assert_eq!(f.state, FactState::Ok, "{:?}", f.evidence);
    let v = f.value.unwrap();
    assert_eq!(v.admin_enforced, Some(true));
    assert_eq!(
        v.idle_seconds,
        Some(300),
        "locked idle-delay wins over the user's 600"
    );
    assert_eq!(
        v.lock_delay_seconds,
        Some(30),
        "unlocked keys still come from the user"
    );
}

#[test]
fn system_database_not_in_the_profile_is_ignored() {
    let mut t = Tree::new();
    t.file("home/.config/dconf/user", dconf_fixture("user"));
    t.file("etc/dconf/db/local", dconf_fixture("local"));
    let f = check_screen_lock(
        &t.root(),
        &RealFs,
        &NoSubprocess,
        T,
        &Session::default(),
        900,
        at(),
    );
    assert_eq!(
        f.state,
        FactState::Fail,
        "without a profile dconf reads only the user db: {:?}",
        f.evidence
    );
}

#[test]
fn kde_session_with_a_gtk_dconf_database_reads_kde() {
    let mut t = Tree::new();
    t.file("home/.config/dconf/user", dconf_fixture("user"));
    t.file("home/.config/kscreenlockerrc", "[Daemon]\nTimeout=10\n");
    let session = Session {
        desktop: Some("KDE".into()),
        has_session_bus: true,
    };
    let f = check_screen_lock(&t.root(), &RealFs, &NoSubprocess, T, &session, 900, at());
    assert_eq!(f.value.as_ref().unwrap().source, "kde");
    assert_eq!(f.state, FactState::Ok, "{:?}", f.evidence);
}
