//! Linux disk encryption on fake sysfs/procfs trees, one storage layout per test, each with
//! its expected answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use certgate_posture::config::PostureConfig;
use certgate_posture::fact::{Fact, FactState};
use certgate_posture::linux::RealFs;
use certgate_posture::linux::luks::build;
use certgate_posture::report::{DiskEncryption, EncryptionStatus, VolumeRole};
use certgate_posture::runner::{CannedReply, CannedRunner, NoSubprocess};
use support::{LUKS1, LUKS2, LVM, Tree, laptop};

#[track_caller]
fn expect(f: &Fact<DiskEncryption>, state: FactState, status: EncryptionStatus, evidence: &[&str]) {
    let all = f.evidence.join("\n");
    assert_eq!(f.state, state, "state; evidence:\n{all}");
    assert_eq!(
        f.value.as_ref().unwrap().status,
        status,
        "status; evidence:\n{all}"
    );
    for e in evidence {
        assert!(all.contains(e), "evidence should mention {e:?}:\n{all}");
    }
    assert!(!f.evidence.is_empty(), "a verdict always says why");
}

fn luks_root(t: &mut Tree, uuid: &str) {
    t.dm(0, uuid, "luks-root", &["sda2"])
        .mount("/", 253, 0, "ext4", "/dev/mapper/luks-root");
}

// 1
#[test]
fn luks2_root() {
    let mut t = laptop();
    luks_root(&mut t, LUKS2);
    let f = t.check();
    expect(
        &f,
        FactState::Ok,
        EncryptionStatus::Full,
        &[
            "/ is dm-0 (CRYPT-LUKS2-0f1e2d3c…) over sda2 → encrypted",
            "no swap in use",
        ],
    );
    assert!(
        !f.evidence.join("\n").contains("/boot/efi is"),
        "/boot/efi is never counted"
    );
    assert_eq!(f.value.unwrap().volumes.len(), 1);
}

// 2
#[test]
fn luks1_root() {
    let mut t = laptop();
    luks_root(&mut t, LUKS1);
    expect(
        &t.check(),
        FactState::Ok,
        EncryptionStatus::Full,
        &["CRYPT-LUKS1-a1b2c3d4…"],
    );
}

// 3
#[test]
fn plain_root() {
    let mut t = laptop();
    t.mount("/", 8, 2, "ext4", "/dev/sda2");
    expect(
        &t.check(),
        FactState::Fail,
        EncryptionStatus::Disabled,
        &["/ is sda2 (plain partition) → NOT encrypted"],
    );
}

// 4
#[test]
fn lvm_on_luks() {
    let mut t = laptop();
    t.dm(0, LUKS2, "luks-pv", &["sda2"])
        .dm(1, &format!("{LVM}root"), "vg-root", &["dm-0"])
        .dm(2, &format!("{LVM}swap"), "vg-swap", &["dm-0"])
        .mount("/", 253, 1, "ext4", "/dev/mapper/vg-root")
        .swap("/dev/dm-2", "partition");
    let f = t.check();
    expect(
        &f,
        FactState::Ok,
        EncryptionStatus::Full,
        &[
            "/ is dm-1 (LVM-Zx8Qa1Pq…) over dm-0 (CRYPT-LUKS2-0f1e2d3c…) over sda2",
            "swap /dev/dm-2 is dm-2",
        ],
    );
    let roles: Vec<VolumeRole> = f.value.unwrap().volumes.iter().map(|v| v.role).collect();
    assert_eq!(roles, vec![VolumeRole::Root, VolumeRole::Swap]);
}

// 5
#[test]
fn luks_on_lvm() {
    let mut t = laptop();
    t.dm(0, &format!("{LVM}lv"), "vg-lv", &["sda2"])
        .dm(1, LUKS2, "luks-lv", &["dm-0"])
        .mount("/", 253, 1, "ext4", "/dev/mapper/luks-lv");
    expect(
        &t.check(),
        FactState::Ok,
        EncryptionStatus::Full,
        &["/ is dm-1 (CRYPT-LUKS2-0f1e2d3c…) over dm-0"],
    );
}

// 6
#[test]
fn lvm_over_two_disks_one_plain() {
    let mut t = laptop();
    t.disk("sdb", 8, 16).part("sdb", "sdb1", 8, 17);
    t.dm(0, LUKS2, "luks-pv", &["sda2"])
        .dm(1, &format!("{LVM}root"), "vg-root", &["dm-0", "sdb1"])
        .mount("/", 253, 1, "ext4", "/dev/mapper/vg-root");
    expect(
        &t.check(),
        FactState::Fail,
        EncryptionStatus::Disabled,
        &[
            "[dm-0 (CRYPT-LUKS2-0f1e2d3c…) over sda2; sdb1 (plain partition)]",
            "NOT encrypted",
        ],
    );
}

// 7
#[test]
fn lvm_over_two_encrypted_disks() {
    let mut t = laptop();
    t.disk("sdb", 8, 16).part("sdb", "sdb1", 8, 17);
    t.dm(0, LUKS2, "luks-a", &["sda2"])
        .dm(
            3,
            "CRYPT-LUKS2-99999999999999999999999999999999-luks-b",
            "luks-b",
            &["sdb1"],
        )
        .dm(1, &format!("{LVM}root"), "vg-root", &["dm-0", "dm-3"])
        .mount("/", 253, 1, "ext4", "/dev/mapper/vg-root");
    expect(&t.check(), FactState::Ok, EncryptionStatus::Full, &[]);
}

// 8
#[test]
fn btrfs_raid_one_plain_member() {
    let mut t = laptop();
    t.disk("sdb", 8, 16).part("sdb", "sdb1", 8, 17);
    t.dm(0, LUKS2, "luks-a", &["sda2"])
        .btrfs("5b3a8c1e-0000-4000-8000-00000000abcd", &["dm-0", "sdb1"])
        .mount("/", 0, 33, "btrfs", "/dev/mapper/luks-a")
        .mount("/home", 0, 33, "btrfs", "/dev/mapper/luks-a");
    let f = t.check();
    expect(
        &f,
        FactState::Fail,
        EncryptionStatus::Disabled,
        &[
            "btrfs 5b3a8c1e… with 2 member(s)",
            "sdb1 (plain partition)",
            "/home is on the root volume",
        ],
    );
}

// 9
#[test]
fn btrfs_raid_all_members_encrypted() {
    let mut t = laptop();
    t.disk("sdb", 8, 16).part("sdb", "sdb1", 8, 17);
    t.dm(0, LUKS2, "luks-a", &["sda2"])
        .dm(
            1,
            "CRYPT-LUKS2-11111111111111111111111111111111-luks-b",
            "luks-b",
            &["sdb1"],
        )
        .btrfs("5b3a8c1e-0000-4000-8000-00000000abcd", &["dm-0", "dm-1"])
        .mount("/", 0, 33, "btrfs", "/dev/mapper/luks-b");
    expect(
        &t.check(),
        FactState::Ok,
        EncryptionStatus::Full,
        &["with 2 member(s)"],
    );
}

// 10
#[test]
fn btrfs_without_sysfs_members_is_unknown() {
    let mut t = laptop();
    t.dm(0, LUKS2, "luks-a", &["sda2"])
        .mount("/", 0, 33, "btrfs", "/dev/mapper/luks-a");
    expect(
        &t.check(),
        FactState::Unknown,
        EncryptionStatus::Unknown,
        &["members not listed"],
    );
}

fn zfs_root(t: &mut Tree) {
    t.mount("/", 0, 40, "zfs", "rpool/ROOT/ubuntu");
}

const ZFS_GET: &str = "zfs get -H -o value encryption,keystatus rpool/ROOT/ubuntu";
const ZPOOL_LIST: &str = "zpool list -v -H -P rpool";

// 11
#[test]
fn zfs_native_encryption() {
    let mut t = laptop();
    zfs_root(&mut t);
    let runner = CannedRunner::new().ok(ZFS_GET, "aes-256-gcm\navailable\n");
    let f = t.check_with(&RealFs, &runner, &PostureConfig::default());
    expect(
        &f,
        FactState::Ok,
        EncryptionStatus::Full,
        &["zfs dataset rpool/ROOT/ubuntu (native aes-256-gcm, key available)"],
    );
}

// 12
#[test]
fn zfs_plain_pool() {
    let mut t = laptop();
    zfs_root(&mut t);
    let runner = CannedRunner::new()
        .ok(ZFS_GET, "off\n-\n")
        .ok(ZPOOL_LIST, "rpool\t476G\t100G\t376G\t-\t-\t5%\t21%\t1.00x\tONLINE\t-\n\t/dev/sda2\t476G\t100G\t376G\t-\t-\t5%\t21.0%\t-\tONLINE\n");
    let f = t.check_with(&RealFs, &runner, &PostureConfig::default());
    expect(
        &f,
        FactState::Fail,
        EncryptionStatus::Disabled,
        &["encryption off) on pool rpool over sda2 (plain partition)"],
    );
}

// 13
#[test]
fn zfs_on_luks() {
    let mut t = laptop();
    t.dm(0, LUKS2, "luks-zfs", &["sda2"]);
    zfs_root(&mut t);
    let runner = CannedRunner::new()
        .ok(ZFS_GET, "off\n-\n")
        .ok(ZPOOL_LIST, "rpool\t476G\t100G\t376G\t-\t-\t5%\t21%\t1.00x\tONLINE\t-\n\t/dev/mapper/luks-zfs\t476G\t100G\t376G\t-\t-\t5%\t21.0%\t-\tONLINE\n");
    let f = t.check_with(&RealFs, &runner, &PostureConfig::default());
    expect(
        &f,
        FactState::Ok,
        EncryptionStatus::Full,
        &["over dm-0 (CRYPT-LUKS2-0f1e2d3c…) over sda2"],
    );
}

// 14
#[test]
fn zfs_without_subprocess_is_unknown() {
    let mut t = laptop();
    zfs_root(&mut t);
    expect(
        &t.check(),
        FactState::Unknown,
        EncryptionStatus::Unknown,
        &["subprocesses are disabled"],
    );
}

// 15
#[test]
fn zfs_hung_command_is_unknown() {
    let mut t = laptop();
    zfs_root(&mut t);
    let runner = CannedRunner::new().with(ZFS_GET, CannedReply::TimedOut);
    let f = t.check_with(&RealFs, &runner, &PostureConfig::default());
    expect(
        &f,
        FactState::Unknown,
        EncryptionStatus::Unknown,
        &["timed out"],
    );
}

// 16
#[test]
fn cipher_null_detected_when_header_readable() {
    let mut t = laptop();
    luks_root(&mut t, LUKS2);
    t.file("dev/sda2", build::luks2("cipher_null-ecb"));
    expect(
        &t.check(),
        FactState::Fail,
        EncryptionStatus::Disabled,
        &["cipher_null-ecb (no encryption)"],
    );
}

// 17
#[test]
fn cipher_null_luks1_detected() {
    let mut t = laptop();
    luks_root(&mut t, LUKS1);
    t.file("dev/sda2", build::luks1("cipher_null", "ecb"));
    expect(
        &t.check(),
        FactState::Fail,
        EncryptionStatus::Disabled,
        &["cipher_null-ecb"],
    );
}

// 18
#[test]
fn cipher_unverifiable_without_root_is_trusted_but_said() {
    // Without root the LUKS header cannot be read, so cipher_null cannot be excluded: the
    // honest answer is "encrypted per dm uuid, cipher not verified".
    let mut t = laptop();
    luks_root(&mut t, LUKS2);
    t.file("dev/sda2", build::luks2("cipher_null-ecb"));
    let dev = t.path().join("dev");
    let f = t.check_denied(std::slice::from_ref(&dev));
    expect(
        &f,
        FactState::Ok,
        EncryptionStatus::Full,
        &[
            "cipher not verified",
            "cipher_null cannot be excluded",
            "permission denied",
        ],
    );
    // A stricter policy makes the same machine unknown.
    let config = PostureConfig {
        require_cipher_verification: true,
        ..PostureConfig::default()
    };
    let fs = certgate_posture::linux::DenyFs {
        inner: RealFs,
        denied: vec![std::fs::canonicalize(dev).unwrap()],
    };
    let f = t.check_with(&fs, &NoSubprocess, &config);
    expect(
        &f,
        FactState::Unknown,
        EncryptionStatus::Unknown,
        &["cipher not verified"],
    );
}

// 19
#[test]
fn readable_header_names_real_cipher() {
    let mut t = laptop();
    luks_root(&mut t, LUKS2);
    t.file("dev/sda2", build::luks2("aes-xts-plain64"));
    let f = t.check();
    expect(
        &f,
        FactState::Ok,
        EncryptionStatus::Full,
        &["CRYPT-LUKS2-0f1e2d3c…) aes-xts-plain64 over sda2"],
    );
    assert!(!f.evidence.join("\n").contains("not verified"));
}

// 20
#[test]
fn dm_integrity_alone_is_not_encryption() {
    let mut t = laptop();
    t.dm(0, "CRYPT-INTEGRITY-data", "data", &["sda2"]).mount(
        "/",
        253,
        0,
        "ext4",
        "/dev/mapper/data",
    );
    expect(
        &t.check(),
        FactState::Fail,
        EncryptionStatus::Disabled,
        &["dm-0 (CRYPT-INTEGRITY-data) over sda2 (plain partition)"],
    );
}

// 21
#[test]
fn dm_verity_root_is_not_encryption() {
    let mut t = laptop();
    t.part("sda", "sda3", 8, 3);
    t.dm(
        0,
        "CRYPT-VERITY-5f2c0a9d1e4b4c7a8d3e2f1a0b9c8d7e-root",
        "root",
        &["sda2", "sda3"],
    )
    .mount("/", 253, 0, "erofs", "/dev/mapper/root");
    expect(
        &t.check(),
        FactState::Fail,
        EncryptionStatus::Disabled,
        &["CRYPT-VERITY-5f2c0a9d…"],
    );
}

// 22
#[test]
fn luks2_with_integrity_subdevice() {
    let mut t = laptop();
    t.dm(
        0,
        "CRYPT-SUBDEV-0f1e2d3c4b5a69788796a5b4c3d2e1f0-root_dif",
        "root_dif",
        &["sda2"],
    )
    .dm(1, LUKS2, "root", &["dm-0"])
    .mount("/", 253, 1, "ext4", "/dev/mapper/root");
    expect(
        &t.check(),
        FactState::Ok,
        EncryptionStatus::Full,
        &["over dm-0"],
    );
}

// 23
#[test]
fn decoy_encrypted_loop_does_not_count() {
    let mut t = laptop();
    t.mount("/", 8, 2, "ext4", "/dev/sda2")
        .loop_dev(0, "/vault.img")
        .dm(3, LUKS2, "vault", &["loop0"])
        .mount("/mnt/vault", 253, 3, "ext4", "/dev/mapper/vault");
    let f = t.check();
    expect(
        &f,
        FactState::Fail,
        EncryptionStatus::Disabled,
        &["/mnt/vault ignored", "loop image or removable media"],
    );
    assert_eq!(f.value.unwrap().volumes.len(), 1, "only / is judged");
}

// 24
#[test]
fn swap_on_loop_file_follows_backing_file() {
    let mut t = laptop();
    luks_root(&mut t, LUKS2);
    t.loop_dev(1, "/swap.img").swap("/dev/loop1", "partition");
    expect(
        &t.check(),
        FactState::Ok,
        EncryptionStatus::Full,
        &["loop1 (loop file /swap.img) on dm-0 (CRYPT-LUKS2"],
    );
}

// 25
#[test]
fn zram_swap_is_ignored() {
    let mut t = laptop();
    luks_root(&mut t, LUKS2);
    t.virt("zram0", 252, 0, &[]).swap("/dev/zram0", "partition");
    let f = t.check();
    expect(
        &f,
        FactState::Ok,
        EncryptionStatus::Full,
        &["zram0 (RAM-backed zram, not stored) → ignored"],
    );
    let v = f.value.unwrap();
    assert_eq!(v.volumes[1].state, FactState::NotApplicable);
}

// 26
#[test]
fn plain_swap_makes_it_partial() {
    let mut t = laptop();
    luks_root(&mut t, LUKS2);
    t.part("sda", "sda3", 8, 3).swap("/dev/sda3", "partition");
    expect(
        &t.check(),
        FactState::Fail,
        EncryptionStatus::Partial,
        &["swap /dev/sda3 is sda3 (plain partition) → NOT encrypted"],
    );
}

// 27
#[test]
fn random_key_encrypted_swap() {
    let mut t = laptop();
    luks_root(&mut t, LUKS2);
    t.part("sda", "sda3", 8, 3)
        .dm(1, "CRYPT-PLAIN-cryptswap", "cryptswap", &["sda3"])
        .swap("/dev/mapper/cryptswap", "partition");
    let f = t.check();
    expect(
        &f,
        FactState::Ok,
        EncryptionStatus::Full,
        &[
            "swap /dev/mapper/cryptswap is dm-1 (CRYPT-PLAIN-cryptswap) over sda3 → encrypted",
            "only visible to root",
        ],
    );
}

// 28
#[test]
fn swap_file_on_encrypted_root() {
    let mut t = laptop();
    luks_root(&mut t, LUKS2);
    t.swap("/swapfile", "file");
    expect(
        &t.check(),
        FactState::Ok,
        EncryptionStatus::Full,
        &["swap /swapfile is a swap file on dm-0"],
    );
}

// 29
#[test]
fn swap_by_uuid_symlink_resolves_through_dev() {
    let mut t = laptop();
    luks_root(&mut t, LUKS2);
    t.part("sda", "sda3", 8, 3)
        .dev_link("disk/by-uuid/1234-abcd", "../../sda3")
        .swap("/dev/disk/by-uuid/1234-abcd", "partition");
    expect(
        &t.check(),
        FactState::Fail,
        EncryptionStatus::Partial,
        &["sda3 (plain partition)"],
    );
}

// 30
#[test]
fn unreadable_dm_uuid_is_unknown() {
    let mut t = laptop();
    luks_root(&mut t, LUKS2);
    let deny = t.dev_dir("dm-0").join("dm");
    expect(
        &t.check_denied(&[deny]),
        FactState::Unknown,
        EncryptionStatus::Unknown,
        &["dm/uuid unreadable: permission denied"],
    );
}

// 31
#[test]
fn unreadable_mountinfo_is_unknown() {
    let mut t = laptop();
    luks_root(&mut t, LUKS2);
    let f = t.check_denied(&[t.path().join("proc/self/mountinfo")]);
    assert_eq!(f.state, FactState::Unknown);
    assert!(
        f.evidence[0].contains("mountinfo: permission denied"),
        "{:?}",
        f.evidence
    );
}

// 32
#[test]
fn unreadable_swaps_is_unknown() {
    let mut t = laptop();
    luks_root(&mut t, LUKS2);
    let f = t.check_denied(&[t.path().join("proc/swaps")]);
    expect(
        &f,
        FactState::Unknown,
        EncryptionStatus::Unknown,
        &["/proc/swaps: permission denied", "/ is dm-0"],
    );
}

// 33
#[test]
fn depth_bomb_cycle_is_unknown() {
    let mut t = laptop();
    t.dm(0, &format!("{LVM}a"), "a", &[])
        .dm(1, &format!("{LVM}b"), "b", &["dm-0"])
        .add_slave("dm-0", "dm-1");
    t.mount("/", 253, 1, "ext4", "/dev/mapper/b");
    expect(
        &t.check(),
        FactState::Unknown,
        EncryptionStatus::Unknown,
        &["cyclic; stopped"],
    );
}

// 34
#[test]
fn too_deep_chain_is_unknown() {
    let mut t = laptop();
    t.dm(0, LUKS2, "base", &["sda2"]);
    for n in 1..20 {
        let below = format!("dm-{}", n - 1);
        t.dm(n, &format!("{LVM}{n}"), &format!("l{n}"), &[below.as_str()]);
    }
    t.mount("/", 253, 19, "ext4", "/dev/mapper/l19");
    expect(
        &t.check(),
        FactState::Unknown,
        EncryptionStatus::Unknown,
        &["deeper than"],
    );
}

// 35
#[test]
fn nvme_partitions() {
    let mut t = Tree::new();
    t.disk("nvme0n1", 259, 0)
        .part("nvme0n1", "nvme0n1p1", 259, 1)
        .part("nvme0n1", "nvme0n1p2", 259, 2)
        .part("nvme0n1", "nvme0n1p3", 259, 3);
    t.mount("/boot/efi", 259, 1, "vfat", "/dev/nvme0n1p1")
        .mount("/boot", 259, 2, "ext4", "/dev/nvme0n1p2");
    t.dm(0, LUKS2, "nvme0n1p3_crypt", &["nvme0n1p3"]).mount(
        "/",
        253,
        0,
        "ext4",
        "/dev/mapper/nvme0n1p3_crypt",
    );
    expect(
        &t.check(),
        FactState::Ok,
        EncryptionStatus::Full,
        &["over nvme0n1p3"],
    );
}

// 36
#[test]
fn separate_plain_home_is_partial() {
    let mut t = laptop();
    luks_root(&mut t, LUKS2);
    t.disk("sdb", 8, 16)
        .part("sdb", "sdb1", 8, 17)
        .mount("/home", 8, 17, "ext4", "/dev/sdb1");
    let f = t.check();
    expect(
        &f,
        FactState::Fail,
        EncryptionStatus::Partial,
        &["/home is sdb1 (plain partition) → NOT encrypted"],
    );
    assert_eq!(f.value.unwrap().volumes[1].role, VolumeRole::Home);
}

// 37
#[test]
fn separate_encrypted_home() {
    let mut t = laptop();
    luks_root(&mut t, LUKS2);
    t.disk("sdb", 8, 16)
        .part("sdb", "sdb1", 8, 17)
        .dm(
            1,
            "CRYPT-LUKS2-22222222222222222222222222222222-home",
            "home",
            &["sdb1"],
        )
        .mount("/home", 253, 1, "ext4", "/dev/mapper/home");
    expect(
        &t.check(),
        FactState::Ok,
        EncryptionStatus::Full,
        &["/home is dm-1"],
    );
}

// 38
#[test]
fn removable_media_is_ignored() {
    let mut t = laptop();
    luks_root(&mut t, LUKS2);
    t.disk_removable("sdc", 8, 32, true)
        .part("sdc", "sdc1", 8, 33)
        .mount("/media/u/USB STICK", 8, 33, "vfat", "/dev/sdc1");
    expect(
        &t.check(),
        FactState::Ok,
        EncryptionStatus::Full,
        &["/media/u/USB STICK ignored"],
    );
}

// 39
#[test]
fn plain_data_disk_is_partial() {
    let mut t = laptop();
    luks_root(&mut t, LUKS2);
    t.disk("sdb", 8, 16)
        .part("sdb", "sdb1", 8, 17)
        .mount("/data", 8, 17, "ext4", "/dev/sdb1");
    expect(
        &t.check(),
        FactState::Fail,
        EncryptionStatus::Partial,
        &["/data is sdb1 (plain partition)"],
    );
}

// 40
#[test]
fn container_overlay_root_is_unknown() {
    let mut t = Tree::new();
    t.mount("/", 0, 52, "overlay", "overlay");
    expect(
        &t.check(),
        FactState::Unknown,
        EncryptionStatus::Unknown,
        &["overlay from overlay (no block device visible"],
    );
}

// 41
#[test]
fn dm_without_uuid_is_unknown() {
    let mut t = laptop();
    t.dm(0, "", "custom", &["sda2"])
        .mount("/", 253, 0, "ext4", "/dev/mapper/custom");
    expect(
        &t.check(),
        FactState::Unknown,
        EncryptionStatus::Unknown,
        &["device-mapper with no uuid"],
    );
}

// 42
#[test]
fn md_raid_over_two_luks_members() {
    let mut t = laptop();
    t.disk("sdb", 8, 16).part("sdb", "sdb1", 8, 17);
    t.dm(0, LUKS2, "a", &["sda2"]).dm(
        1,
        "CRYPT-LUKS2-33333333333333333333333333333333-b",
        "b",
        &["sdb1"],
    );
    t.virt("md0", 9, 0, &["dm-0", "dm-1"])
        .mount("/", 9, 0, "ext4", "/dev/md0");
    expect(
        &t.check(),
        FactState::Ok,
        EncryptionStatus::Full,
        &["md0 (RAID/cache) over ["],
    );
}

// 43
#[test]
fn md_raid_with_one_plain_member() {
    let mut t = laptop();
    t.disk("sdb", 8, 16).part("sdb", "sdb1", 8, 17);
    t.dm(0, LUKS2, "a", &["sda2"]);
    t.virt("md0", 9, 0, &["dm-0", "sdb1"])
        .mount("/", 9, 0, "ext4", "/dev/md0");
    expect(
        &t.check(),
        FactState::Fail,
        EncryptionStatus::Disabled,
        &["sdb1 (plain partition)"],
    );
}

// 44
#[test]
fn bitlocker_mapping_counts_as_encrypted() {
    let mut t = laptop();
    t.dm(0, "CRYPT-BITLK-6a2c1f0e-data", "bitlk", &["sda2"])
        .mount("/", 253, 0, "ntfs3", "/dev/mapper/bitlk");
    expect(
        &t.check(),
        FactState::Ok,
        EncryptionStatus::Full,
        &["CRYPT-BITLK-6a2c1f0e…"],
    );
}

// 45
#[test]
fn the_top_mount_on_root_wins() {
    let mut t = laptop();
    t.mount("/", 8, 2, "ext4", "/dev/sda2");
    luks_root(&mut t, LUKS2);
    let f = t.check();
    expect(&f, FactState::Ok, EncryptionStatus::Full, &["/ is dm-0"]);
}

// 46
#[test]
fn missing_root_mount_is_unknown() {
    let mut t = laptop();
    t.mount("/data", 8, 2, "ext4", "/dev/sda2");
    expect(
        &t.check(),
        FactState::Fail,
        EncryptionStatus::Disabled,
        &["/ not found in /proc/self/mountinfo"],
    );
    let t = Tree::new();
    expect(
        &t.check(),
        FactState::Unknown,
        EncryptionStatus::Unknown,
        &["/ not found"],
    );
}
