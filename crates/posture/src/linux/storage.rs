//! Linux disk encryption without root.
//!
//! Each volume that matters (`/`, a separate `/home`, every swap area, other persistent local
//! mounts) is followed from `/proc/self/mountinfo` through `/sys/dev/block/MAJ:MIN` and down
//! its `slaves/` chain. A `CRYPT-LUKS*` (or other dm-crypt) mapping encrypts everything below
//! it; LVM, multipath, md RAID, dm-verity and dm-integrity only pass data through, so every
//! device under them must be encrypted; a plain partition or disk anywhere makes the volume
//! plain; anything not recognised makes it unknown.
//!
//! The cipher of a dm-crypt mapping is in its device-mapper table (`dmsetup table`, root only)
//! and in the LUKS header on the device below (readable by root or the `disk` group). sysfs
//! does not show it. So a `cipher_null` LUKS volume can only be caught when that header is
//! readable; otherwise the volume counts as encrypted on the strength of its dm uuid and the
//! evidence says the cipher was not verified (or it is `unknown` when
//! [`PostureConfig::require_cipher_verification`] is set).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::config::PostureConfig;
use crate::fact::{Fact, FactState};
use crate::linux::luks::{is_null_cipher, luks_cipher};
use crate::linux::mounts::{MountEntry, mount_at, mount_containing, parse_mountinfo, parse_swaps};
use crate::linux::root::{Fs, SysRoot, io_words};
use crate::linux::zfs::{parse_zfs_get, parse_zpool_vdevs, pool_of};
use crate::report::{DiskEncryption, EncryptionStatus, Volume, VolumeRole};
use crate::runner::CommandRunner;

/// Deepest layer chain followed; real stacks are 2–4 deep, a cycle would never end.
pub const MAX_DEPTH: usize = 12;

/// Largest LUKS2 metadata area read; the format allows up to 4 MiB.
const LUKS2_MAX_HDR: usize = 4 * 1024 * 1024;

/// Reads the LUKS metadata and nothing past it: the LUKS1 header sits in the first 4 KiB
/// (key material starts at sector 8 or later); a LUKS2 primary header is `hdr_size` bytes
/// and its keyslot area begins after the secondary copy. So wrapped keys are never read.
fn read_luks_header(fs: &dyn Fs, node: &Path) -> std::io::Result<Vec<u8>> {
    let first = fs.read_head(node, 4096)?;
    let v2 = first.get(6..8) == Some(&[0, 2][..]);
    if !v2 {
        return Ok(first);
    }
    let size = first
        .get(8..16)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
        .clamp(4096, LUKS2_MAX_HDR);
    fs.read_head(node, size)
}

/// Verdict for one device chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Encrypted,
    Plain,
    Unknown,
    /// Not persistent storage (zram).
    Ignored,
}

/// Result of walking one device or mount.
#[derive(Debug, Clone)]
struct Walk {
    verdict: Verdict,
    /// "dm-1 (CRYPT-LUKS2-…) over sda3"
    desc: String,
    /// Extra evidence lines (cipher not verified...).
    notes: Vec<String>,
    /// Some layer is a loop device (a file on another filesystem).
    via_loop: bool,
    /// Some bottom device is removable media.
    removable: bool,
}

impl Walk {
    fn leaf(verdict: Verdict, desc: String) -> Self {
        Self {
            verdict,
            desc,
            notes: Vec::new(),
            via_loop: false,
            removable: false,
        }
    }
}

/// Combines the devices under a pass-through layer: one plain makes all plain, else one
/// unknown makes all unknown.
fn combine(children: &[Walk]) -> Verdict {
    let persistent: Vec<Verdict> = children
        .iter()
        .map(|c| c.verdict)
        .filter(|v| *v != Verdict::Ignored)
        .collect();
    if persistent.is_empty() {
        return if children.is_empty() {
            Verdict::Unknown
        } else {
            Verdict::Ignored
        };
    }
    if persistent.contains(&Verdict::Plain) {
        Verdict::Plain
    } else if persistent.contains(&Verdict::Unknown) {
        Verdict::Unknown
    } else {
        Verdict::Encrypted
    }
}

fn join_children(children: &[Walk]) -> String {
    match children {
        [one] => one.desc.clone(),
        many => format!(
            "[{}]",
            many.iter()
                .map(|c| c.desc.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

/// What a device-mapper uuid prefix means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DmKind {
    /// dm-crypt with a LUKS header we may read.
    Luks,
    /// dm-crypt without a readable header (plain, BitLocker, TrueCrypt, FileVault2).
    Crypt,
    /// Data passes through unchanged (LVM, multipath, partitions, verity, integrity).
    PassThrough,
    Unrecognised,
}

/// Classifies a dm uuid. cryptsetup names its mappings `CRYPT-<TYPE>-…`; the integrity
/// device under a LUKS2 `--integrity` volume is `CRYPT-SUBDEV-…`.
fn dm_kind(uuid: &str) -> DmKind {
    const LUKS: [&str; 2] = ["CRYPT-LUKS1-", "CRYPT-LUKS2-"];
    const CRYPT: [&str; 4] = [
        "CRYPT-PLAIN-",
        "CRYPT-BITLK-",
        "CRYPT-TCRYPT-",
        "CRYPT-FVAULT2-",
    ];
    const PASS: [&str; 6] = [
        "LVM-",
        "mpath-",
        "CRYPT-VERITY-",
        "CRYPT-INTEGRITY-",
        "CRYPT-SUBDEV-",
        "stratis-",
    ];
    if LUKS.iter().any(|p| uuid.starts_with(p)) {
        DmKind::Luks
    } else if CRYPT.iter().any(|p| uuid.starts_with(p)) {
        DmKind::Crypt
    } else if PASS.iter().any(|p| uuid.starts_with(p))
        // kpartx partitions of a multipath or dm device: part1-mpath-…
        || (uuid.starts_with("part") && uuid.contains('-'))
    {
        DmKind::PassThrough
    } else {
        DmKind::Unrecognised
    }
}

/// `CRYPT-LUKS2-1a2b3c4d5e6f…-name` → `CRYPT-LUKS2-1a2b3c4d…`; ids are not secrets but long.
fn short_uuid(uuid: &str) -> String {
    let (prefix, rest) = match uuid.strip_prefix("CRYPT-") {
        Some(r) => match r.split_once('-') {
            Some((kind, rest)) => (format!("CRYPT-{kind}-"), rest),
            None => (String::new(), uuid),
        },
        None => match uuid.split_once('-') {
            Some((kind, rest)) => (format!("{kind}-"), rest),
            None => (String::new(), uuid),
        },
    };
    // Short names (`cryptswap`) stay whole; long hex ids are cut.
    let cut: String = rest.chars().take(8).collect();
    if rest.chars().count() > 12 {
        format!("{prefix}{cut}…")
    } else {
        format!("{prefix}{rest}")
    }
}

/// Walks devices and mounts of one tree.
struct Walker<'a> {
    root: &'a SysRoot,
    fs: &'a dyn Fs,
    runner: &'a dyn CommandRunner,
    config: &'a PostureConfig,
    mounts: &'a [MountEntry],
}

fn name_of(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl Walker<'_> {
    fn read_trim(&self, p: &Path) -> std::io::Result<String> {
        self.fs.read_to_string(p).map(|s| s.trim().to_owned())
    }

    fn slaves(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let names = match self.fs.read_dir(&dir.join("slaves")) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        names
            .iter()
            .map(|n| self.fs.canonicalize(&dir.join("slaves").join(n)))
            .collect()
    }

    /// The sysfs directory of a block device named `name` (`sda3`, `dm-1`).
    fn block_dir(&self, name: &str) -> Option<PathBuf> {
        self.fs
            .canonicalize(&self.root.sys.join("class/block").join(name))
            .ok()
    }

    /// The sysfs directory for a `/dev/...` path.
    fn dev_path_dir(&self, path: &str) -> Option<PathBuf> {
        let rel = path.strip_prefix("/dev/")?;
        if let Some(dm_name) = rel.strip_prefix("mapper/") {
            return self.dm_by_name(dm_name);
        }
        if !rel.contains('/')
            && let Some(d) = self.block_dir(rel)
        {
            return Some(d);
        }
        // /dev/disk/by-uuid/…, /dev/vg/lv: symlinks in the dev tree to ../../dm-2.
        let target = self.fs.read_link(&self.root.dev.join(rel)).ok()?;
        let name = target.file_name()?.to_string_lossy().into_owned();
        self.block_dir(&name)
    }

    fn dm_by_name(&self, dm_name: &str) -> Option<PathBuf> {
        let class = self.root.sys.join("class/block");
        self.fs
            .read_dir(&class)
            .ok()?
            .into_iter()
            .filter(|n| n.starts_with("dm-"))
            .find(|n| {
                self.read_trim(&class.join(n).join("dm/name"))
                    .is_ok_and(|x| x == dm_name)
            })
            .and_then(|n| self.block_dir(&n))
    }

    fn is_removable(&self, dir: &Path) -> bool {
        let flag = |d: &Path| self.read_trim(&d.join("removable")).is_ok_and(|v| v == "1");
        if self.fs.exists(&dir.join("partition")) {
            dir.parent().is_some_and(flag)
        } else {
            flag(dir)
        }
    }

    /// Walks one block device directory and everything under it.
    fn walk_dev(&self, dir: &Path, depth: usize, seen: &mut Vec<PathBuf>) -> Walk {
        let name = name_of(dir);
        if depth > MAX_DEPTH || seen.iter().any(|s| s == dir) {
            return Walk::leaf(
                Verdict::Unknown,
                format!("{name} (layer chain deeper than {MAX_DEPTH} or cyclic; stopped)"),
            );
        }
        seen.push(dir.to_path_buf());
        let w = self.walk_dev_inner(dir, &name, depth, seen);
        seen.pop();
        w
    }

    fn walk_dev_inner(
        &self,
        dir: &Path,
        name: &str,
        depth: usize,
        seen: &mut Vec<PathBuf>,
    ) -> Walk {
        if name.starts_with("zram") {
            return Walk::leaf(
                Verdict::Ignored,
                format!("{name} (RAM-backed zram, not stored)"),
            );
        }
        if name.starts_with("loop") {
            return self.walk_loop(dir, name, depth, seen);
        }
        if name.starts_with("dm-") {
            let uuid = match self.read_trim(&dir.join("dm/uuid")) {
                Ok(u) => u,
                Err(e) => {
                    return Walk::leaf(
                        Verdict::Unknown,
                        format!("{name} (dm/uuid unreadable: {})", io_words(&e)),
                    );
                }
            };
            return match dm_kind(&uuid) {
                DmKind::Luks | DmKind::Crypt => self.walk_crypt(dir, name, &uuid),
                DmKind::PassThrough => {
                    self.pass_through(dir, &format!("{name} ({})", short_uuid(&uuid)), depth, seen)
                }
                DmKind::Unrecognised => Walk::leaf(
                    Verdict::Unknown,
                    if uuid.is_empty() {
                        format!(
                            "{name} (device-mapper with no uuid; target type not visible without root)"
                        )
                    } else {
                        format!("{name} (unrecognised dm uuid {})", short_uuid(&uuid))
                    },
                ),
            };
        }
        let slaves = match self.slaves(dir) {
            Ok(s) => s,
            Err(e) => {
                return Walk::leaf(
                    Verdict::Unknown,
                    format!("{name} (slaves unreadable: {})", io_words(&e)),
                );
            }
        };
        if name.starts_with("md") || name.starts_with("bcache") {
            return self.pass_through(dir, &format!("{name} (RAID/cache)"), depth, seen);
        }
        if !slaves.is_empty() {
            return Walk::leaf(
                Verdict::Unknown,
                format!(
                    "{name} (stacked over {} devices of an unrecognised kind)",
                    slaves.len()
                ),
            );
        }
        let what = if self.fs.exists(&dir.join("partition")) {
            "plain partition"
        } else {
            "plain disk"
        };
        let mut w = Walk::leaf(Verdict::Plain, format!("{name} ({what})"));
        w.removable = self.is_removable(dir);
        w
    }

    fn pass_through(&self, dir: &Path, label: &str, depth: usize, seen: &mut Vec<PathBuf>) -> Walk {
        let slaves = match self.slaves(dir) {
            Ok(s) => s,
            Err(e) => {
                return Walk::leaf(
                    Verdict::Unknown,
                    format!("{label} (slaves unreadable: {})", io_words(&e)),
                );
            }
        };
        if slaves.is_empty() {
            return Walk::leaf(Verdict::Unknown, format!("{label} over nothing visible"));
        }
        let children: Vec<Walk> = slaves
            .iter()
            .map(|s| self.walk_dev(s, depth + 1, seen))
            .collect();
        Walk {
            verdict: combine(&children),
            desc: format!("{label} over {}", join_children(&children)),
            notes: children.iter().flat_map(|c| c.notes.clone()).collect(),
            via_loop: children.iter().any(|c| c.via_loop),
            removable: children.iter().any(|c| c.removable),
        }
    }

    fn walk_crypt(&self, dir: &Path, name: &str, uuid: &str) -> Walk {
        let slave_names: Vec<String> = self
            .slaves(dir)
            .unwrap_or_default()
            .iter()
            .map(|p| name_of(p))
            .collect();
        let below = if slave_names.is_empty() {
            String::new()
        } else {
            format!(" over {}", slave_names.join(", "))
        };
        let label = format!("{name} ({})", short_uuid(uuid));
        let mut w = Walk::leaf(Verdict::Encrypted, format!("{label}{below}"));
        // Loop-backed crypt devices are files on another volume; record it for filtering.
        w.via_loop = slave_names.iter().any(|n| n.starts_with("loop"));
        if dm_kind(uuid) != DmKind::Luks {
            w.notes.push(format!(
                "{name}: dm-crypt mapping; its cipher is only visible to root (dmsetup table)"
            ));
            return self.unverified(w);
        }
        let Some(under) = slave_names.first() else {
            w.notes.push(format!(
                "{name}: LUKS device has no visible slave; cipher not verified"
            ));
            return self.unverified(w);
        };
        let node = self.root.dev.join(under);
        match read_luks_header(self.fs, &node) {
            Ok(head) => match luks_cipher(&head) {
                Some(c) if is_null_cipher(&c) => Walk {
                    verdict: Verdict::Plain,
                    desc: format!("{label} with {c} (no encryption){below}"),
                    ..w
                },
                Some(c) => Walk {
                    desc: format!("{label} {c}{below}"),
                    ..w
                },
                None => {
                    w.notes.push(format!(
                        "{name}: LUKS header on /dev/{under} not parsed; cipher not verified"
                    ));
                    self.unverified(w)
                }
            },
            Err(e) => {
                w.notes.push(format!(
                    "{name}: cipher not verified, LUKS header on /dev/{under}: {} (cipher_null cannot be excluded)",
                    io_words(&e)
                ));
                self.unverified(w)
            }
        }
    }

    fn unverified(&self, mut w: Walk) -> Walk {
        if self.config.require_cipher_verification {
            w.verdict = Verdict::Unknown;
        }
        w
    }

    fn walk_loop(&self, dir: &Path, name: &str, depth: usize, seen: &mut Vec<PathBuf>) -> Walk {
        let backing = match self.read_trim(&dir.join("loop/backing_file")) {
            Ok(b) => b,
            Err(e) => {
                let mut w = Walk::leaf(
                    Verdict::Unknown,
                    format!("{name} (loop, backing file unreadable: {})", io_words(&e)),
                );
                w.via_loop = true;
                return w;
            }
        };
        let backing = backing
            .strip_suffix(" (deleted)")
            .unwrap_or(&backing)
            .to_owned();
        let mut w = match mount_containing(self.mounts, &backing) {
            Some(m) => {
                let inner = self.walk_mount(m, depth + 1, seen);
                Walk {
                    desc: format!("{name} (loop file {backing}) on {}", inner.desc),
                    ..inner
                }
            }
            None => Walk::leaf(
                Verdict::Unknown,
                format!("{name} (loop file {backing} on no known mount)"),
            ),
        };
        w.via_loop = true;
        w
    }

    /// Walks what a mount sits on.
    fn walk_mount(&self, m: &MountEntry, depth: usize, seen: &mut Vec<PathBuf>) -> Walk {
        match m.fstype.as_str() {
            "btrfs" => return self.walk_btrfs(m, depth, seen),
            "zfs" => return self.walk_zfs(m, depth, seen),
            _ => {}
        }
        if m.major == 0 {
            return Walk::leaf(
                Verdict::Unknown,
                format!(
                    "{} from {} (no block device visible: container, network or virtual filesystem)",
                    m.fstype, m.source
                ),
            );
        }
        let link = self.root.sys.join("dev/block").join(m.dev_key());
        match self.fs.canonicalize(&link) {
            Ok(dir) => self.walk_dev(&dir, depth, seen),
            Err(e) => Walk::leaf(
                Verdict::Unknown,
                format!("block device {} ({})", m.dev_key(), io_words(&e)),
            ),
        }
    }

    fn walk_btrfs(&self, m: &MountEntry, depth: usize, seen: &mut Vec<PathBuf>) -> Walk {
        let src = self.dev_path_dir(&m.source).map(|d| name_of(&d));
        let base = self.root.sys.join("fs/btrfs");
        let fsids = self.fs.read_dir(&base).unwrap_or_default();
        for fsid in fsids.iter().filter(|f| f.contains('-')) {
            let devs = base.join(fsid).join("devices");
            let Ok(members) = self.fs.read_dir(&devs) else {
                continue;
            };
            if src.as_ref().is_some_and(|s| members.contains(s)) {
                let children: Vec<Walk> = members
                    .iter()
                    .map(|n| match self.fs.canonicalize(&devs.join(n)) {
                        Ok(d) => self.walk_dev(&d, depth + 1, seen),
                        Err(e) => Walk::leaf(Verdict::Unknown, format!("{n} ({})", io_words(&e))),
                    })
                    .collect();
                let short: String = fsid.chars().take(8).collect();
                return Walk {
                    verdict: combine(&children),
                    desc: format!(
                        "btrfs {short}… with {} member(s) over {}",
                        members.len(),
                        join_children(&children)
                    ),
                    notes: children.iter().flat_map(|c| c.notes.clone()).collect(),
                    via_loop: children.iter().any(|c| c.via_loop),
                    removable: children.iter().any(|c| c.removable),
                };
            }
        }
        Walk::leaf(
            Verdict::Unknown,
            format!(
                "btrfs from {} (members not listed under /sys/fs/btrfs; a multi-device filesystem cannot be judged by one member)",
                m.source
            ),
        )
    }

    fn walk_zfs(&self, m: &MountEntry, depth: usize, seen: &mut Vec<PathBuf>) -> Walk {
        let dataset = m.source.as_str();
        let timeout = self.config.command_timeout();
        let got = self.runner.run(
            "zfs",
            &["get", "-H", "-o", "value", "encryption,keystatus", dataset],
            timeout,
        );
        let enc = match got {
            Ok(out) if out.success() => parse_zfs_get(&out.stdout),
            Ok(_) => None,
            Err(e) => {
                return Walk::leaf(
                    Verdict::Unknown,
                    format!("zfs dataset {dataset} (native encryption needs `zfs get`: {e})"),
                );
            }
        };
        let Some(enc) = enc else {
            return Walk::leaf(
                Verdict::Unknown,
                format!("zfs dataset {dataset} (`zfs get` output not understood)"),
            );
        };
        if enc.is_encrypted() {
            return Walk::leaf(
                Verdict::Encrypted,
                format!(
                    "zfs dataset {dataset} (native {}, key {})",
                    enc.encryption, enc.keystatus
                ),
            );
        }
        // Not natively encrypted: the pool may still sit on dm-crypt.
        let pool = pool_of(dataset);
        let vdevs = match self
            .runner
            .run("zpool", &["list", "-v", "-H", "-P", pool], timeout)
        {
            Ok(out) if out.success() => parse_zpool_vdevs(&out.stdout),
            _ => Vec::new(),
        };
        if vdevs.is_empty() {
            return Walk::leaf(
                Verdict::Unknown,
                format!(
                    "zfs dataset {dataset} (encryption {}; pool {pool} vdevs not listed)",
                    enc.encryption
                ),
            );
        }
        let children: Vec<Walk> = vdevs
            .iter()
            .map(|p| match self.dev_path_dir(p) {
                Some(d) => self.walk_dev(&d, depth + 1, seen),
                None => Walk::leaf(Verdict::Unknown, format!("{p} (not found in sysfs)")),
            })
            .collect();
        Walk {
            verdict: combine(&children),
            desc: format!(
                "zfs dataset {dataset} (encryption {}) on pool {pool} over {}",
                enc.encryption,
                join_children(&children)
            ),
            notes: children.iter().flat_map(|c| c.notes.clone()).collect(),
            via_loop: false,
            removable: children.iter().any(|c| c.removable),
        }
    }
}

/// Volumes found so far, with their evidence.
#[derive(Default)]
struct Collected {
    volumes: Vec<Volume>,
    evidence: Vec<String>,
    seen_devs: Vec<String>,
}

impl Collected {
    fn add(&mut self, mp: &str, role: VolumeRole, w: Walk, key: Option<String>) {
        if let Some(k) = key {
            self.seen_devs.push(k);
        }
        let (state, word) = match w.verdict {
            Verdict::Encrypted => (FactState::Ok, "encrypted"),
            Verdict::Plain => (FactState::Fail, "NOT encrypted"),
            Verdict::Unknown => (FactState::Unknown, "undetermined"),
            Verdict::Ignored => (FactState::NotApplicable, "ignored"),
        };
        self.evidence.push(format!("{mp} is {} → {word}", w.desc));
        self.evidence.extend(w.notes.iter().cloned());
        let device = w.desc.split(' ').next().unwrap_or_default().to_owned();
        self.volumes.push(Volume {
            mount_point: mp.to_owned(),
            role,
            device,
            state,
            percent: None,
        });
    }
}

/// Mount points never counted: boot loaders must stay readable before unlock.
fn is_boot_mount(mp: &str) -> bool {
    ["/boot", "/efi"]
        .iter()
        .any(|b| mp == *b || mp.strip_prefix(b).is_some_and(|r| r.starts_with('/')))
}

/// Virtual trees that never hold user data, even when a block device is bind-mounted there.
fn is_system_tree(mp: &str) -> bool {
    ["/proc", "/sys", "/dev", "/run", "/snap"]
        .iter()
        .any(|b| mp == *b || mp.strip_prefix(b).is_some_and(|r| r.starts_with('/')))
}

/// Checks disk encryption of the volumes that matter.
pub fn check_disk_encryption(
    root: &SysRoot,
    fs: &dyn Fs,
    runner: &dyn CommandRunner,
    config: &PostureConfig,
    at: DateTime<Utc>,
) -> Fact<DiskEncryption> {
    const METHOD: &str = "sysfs:mountinfo+dev/block";
    let mountinfo = root.proc.join("self/mountinfo");
    let mounts = match fs.read_to_string(&mountinfo) {
        Ok(t) => parse_mountinfo(&t),
        Err(e) => {
            return Fact::unknown(
                METHOD,
                format!("/proc/self/mountinfo: {}", io_words(&e)),
                at,
            );
        }
    };
    let walker = Walker {
        root,
        fs,
        runner,
        config,
        mounts: &mounts,
    };
    let mut c = Collected::default();
    let key_of = |m: &MountEntry| {
        if m.major == 0 && m.fstype == "zfs" {
            format!("zfs:{}", m.source)
        } else {
            m.dev_key()
        }
    };

    match mount_at(&mounts, "/") {
        Some(m) => {
            let w = walker.walk_mount(m, 0, &mut Vec::new());
            c.add("/", VolumeRole::Root, w, Some(key_of(m)));
        }
        None => c
            .evidence
            .push("/ not found in /proc/self/mountinfo".to_owned()),
    }
    if let Some(m) = mount_at(&mounts, "/home") {
        if c.seen_devs.contains(&key_of(m)) {
            c.evidence.push("/home is on the root volume".to_owned());
        } else {
            let w = walker.walk_mount(m, 0, &mut Vec::new());
            c.add("/home", VolumeRole::Home, w, Some(key_of(m)));
        }
    }

    // Other persistent local mounts; removable media, loop images and boot partitions are
    // not where work data lives (and must not count as encryption either).
    let mut seen_other: Vec<String> = Vec::new();
    for m in &mounts {
        let block_backed = m.major != 0 || m.fstype == "btrfs" || m.fstype == "zfs";
        let key = key_of(m);
        if !block_backed
            || m.mount_point == "/"
            || m.mount_point == "/home"
            || is_boot_mount(&m.mount_point)
            || is_system_tree(&m.mount_point)
            || c.seen_devs.contains(&key)
            || seen_other.contains(&key)
        {
            continue;
        }
        seen_other.push(key.clone());
        let w = walker.walk_mount(m, 0, &mut Vec::new());
        if w.via_loop || w.removable {
            c.evidence.push(format!(
                "{} ignored: {} (loop image or removable media)",
                m.mount_point, w.desc
            ));
            continue;
        }
        if w.verdict == Verdict::Ignored {
            continue;
        }
        c.add(&m.mount_point, VolumeRole::Data, w, Some(key));
    }

    let mut swaps_unknown = false;
    match fs.read_to_string(&root.proc.join("swaps")) {
        Ok(text) => {
            let swaps = parse_swaps(&text);
            if swaps.is_empty() {
                c.evidence.push("no swap in use".to_owned());
            }
            for s in swaps {
                let w = if s.kind == "file" {
                    match mount_containing(&mounts, &s.path) {
                        Some(m) => {
                            let inner = walker.walk_mount(m, 0, &mut Vec::new());
                            Walk {
                                desc: format!("a swap file on {}", inner.desc),
                                ..inner
                            }
                        }
                        None => {
                            Walk::leaf(Verdict::Unknown, "a swap file on no known mount".into())
                        }
                    }
                } else {
                    match walker.dev_path_dir(&s.path) {
                        Some(d) => walker.walk_dev(&d, 0, &mut Vec::new()),
                        None => {
                            Walk::leaf(Verdict::Unknown, format!("{} (not found in sysfs)", s.path))
                        }
                    }
                };
                c.add(&format!("swap {}", s.path), VolumeRole::Swap, w, None);
            }
        }
        Err(e) => {
            swaps_unknown = true;
            c.evidence
                .push(format!("/proc/swaps: {}; swap not checked", io_words(&e)));
        }
    }

    let states: Vec<FactState> = c
        .volumes
        .iter()
        .map(|v| v.state)
        .filter(|s| *s != FactState::NotApplicable)
        .collect();
    let root_found = c.volumes.iter().any(|v| v.role == VolumeRole::Root);
    let any_plain = states.contains(&FactState::Fail);
    let any_enc = states.contains(&FactState::Ok);
    let any_unknown = states.contains(&FactState::Unknown) || swaps_unknown || !root_found;
    let (status, state) = if any_plain && any_enc {
        (EncryptionStatus::Partial, FactState::Fail)
    } else if any_plain {
        (EncryptionStatus::Disabled, FactState::Fail)
    } else if any_unknown || !any_enc {
        (EncryptionStatus::Unknown, FactState::Unknown)
    } else {
        (EncryptionStatus::Full, FactState::Ok)
    };
    Fact::new(
        state,
        Some(DiskEncryption {
            status,
            volumes: c.volumes,
        }),
        METHOD,
        at,
    )
    .with_all(c.evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dm_prefixes_classify() {
        assert_eq!(dm_kind("CRYPT-LUKS2-abc-root"), DmKind::Luks);
        assert_eq!(dm_kind("CRYPT-LUKS1-abc-root"), DmKind::Luks);
        assert_eq!(dm_kind("CRYPT-PLAIN-swap"), DmKind::Crypt);
        assert_eq!(dm_kind("CRYPT-BITLK-x"), DmKind::Crypt);
        assert_eq!(dm_kind("CRYPT-TCRYPT-x"), DmKind::Crypt);
        assert_eq!(dm_kind("CRYPT-VERITY-x"), DmKind::PassThrough);
        assert_eq!(dm_kind("CRYPT-INTEGRITY-x"), DmKind::PassThrough);
        assert_eq!(dm_kind("CRYPT-SUBDEV-x"), DmKind::PassThrough);
        assert_eq!(dm_kind("LVM-abcdef"), DmKind::PassThrough);
        assert_eq!(dm_kind("part1-mpath-3600"), DmKind::PassThrough);
        assert_eq!(dm_kind(""), DmKind::Unrecognised);
        assert_eq!(dm_kind("CRYPT-SOMETHING-NEW"), DmKind::Unrecognised);
    }

    #[test]
    fn uuids_are_shortened() {
        assert_eq!(
            short_uuid("CRYPT-LUKS2-0123456789abcdef0123456789abcdef-luks"),
            "CRYPT-LUKS2-01234567…"
        );
        assert_eq!(short_uuid("LVM-ABCDEFGHIJKLMNOP"), "LVM-ABCDEFGH…");
        assert_eq!(short_uuid("CRYPT-PLAIN-cryptswap"), "CRYPT-PLAIN-cryptswap");
        assert_eq!(short_uuid("CRYPT-PLAIN-swap"), "CRYPT-PLAIN-swap");
    }

    #[test]
    fn boot_mounts_are_recognised() {
        assert!(is_boot_mount("/boot"));
        assert!(is_boot_mount("/boot/efi"));
        assert!(is_boot_mount("/efi"));
        assert!(!is_boot_mount("/bootstrap"));
    }

    #[test]
    fn combine_rules() {
        let w = |v| Walk::leaf(v, String::new());
        assert_eq!(
            combine(&[w(Verdict::Encrypted), w(Verdict::Plain)]),
            Verdict::Plain
        );
        assert_eq!(
            combine(&[w(Verdict::Encrypted), w(Verdict::Unknown)]),
            Verdict::Unknown
        );
        assert_eq!(
            combine(&[w(Verdict::Plain), w(Verdict::Unknown)]),
            Verdict::Plain
        );
        assert_eq!(
            combine(&[w(Verdict::Encrypted), w(Verdict::Encrypted)]),
            Verdict::Encrypted
        );
        assert_eq!(combine(&[]), Verdict::Unknown);
    }
}
