//! Builds fake sysfs/procfs trees for the Linux storage fixtures.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use certgate_posture::config::PostureConfig;
use certgate_posture::fact::Fact;
use certgate_posture::linux::storage::check_disk_encryption;
use certgate_posture::linux::{DenyFs, Fs, RealFs, SysRoot};
use certgate_posture::report::DiskEncryption;
use certgate_posture::runner::{CommandRunner, NoSubprocess};
use chrono::{DateTime, Utc};

/// A fake machine: `proc/`, `sys/`, `etc/`, `dev/`, `var/` under a temp dir.
pub struct Tree {
    dir: tempfile::TempDir,
    devs: HashMap<String, PathBuf>,
    mounts: Vec<String>,
    swaps: Vec<String>,
}

pub fn at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

impl Tree {
    pub fn new() -> Self {
        let t = Self {
            dir: tempfile::tempdir().unwrap(),
            devs: HashMap::new(),
            mounts: Vec::new(),
            swaps: Vec::new(),
        };
        for d in [
            "proc/self",
            "sys/dev/block",
            "sys/class/block",
            "etc",
            "dev",
            "var/log",
        ] {
            std::fs::create_dir_all(t.path().join(d)).unwrap();
        }
        t.flush();
        t
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn root(&self) -> SysRoot {
        SysRoot::under(self.path())
    }

    /// Writes a file (parents created).
    pub fn file(&mut self, rel: &str, contents: impl AsRef<[u8]>) -> &mut Self {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, contents).unwrap();
        self
    }

    fn add_dev(&mut self, name: &str, dir: PathBuf, major: u32, minor: u32) {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("dev"), format!("{major}:{minor}\n")).unwrap();
        let root = self.path().to_path_buf();
        symlink(&dir, root.join(format!("sys/dev/block/{major}:{minor}"))).unwrap();
        symlink(&dir, root.join(format!("sys/class/block/{name}"))).unwrap();
        self.devs.insert(name.to_owned(), dir);
    }

    fn link_slaves(&mut self, name: &str, slaves: &[&str]) {
        let dir = self.devs[name].clone();
        std::fs::create_dir_all(dir.join("slaves")).unwrap();
        for s in slaves {
            symlink(&self.devs[*s], dir.join("slaves").join(s)).unwrap();
        }
    }

    /// A whole disk (`sda`, `nvme0n1`).
    pub fn disk(&mut self, name: &str, major: u32, minor: u32) -> &mut Self {
        self.disk_removable(name, major, minor, false)
    }

    pub fn disk_removable(
        &mut self,
        name: &str,
        major: u32,
        minor: u32,
        removable: bool,
    ) -> &mut Self {
        let dir = self
            .path()
            .join(format!("sys/devices/pci0000:00/block/{name}"));
        self.add_dev(name, dir.clone(), major, minor);
        std::fs::create_dir_all(dir.join("slaves")).unwrap();
        std::fs::write(dir.join("removable"), if removable { "1\n" } else { "0\n" }).unwrap();
        self
    }

    /// A partition of `disk`.
    pub fn part(&mut self, disk: &str, name: &str, major: u32, minor: u32) -> &mut Self {
        let dir = self.devs[disk].join(name);
        self.add_dev(name, dir.clone(), major, minor);
        std::fs::write(dir.join("partition"), format!("{minor}\n")).unwrap();
        self
    }

    /// A device-mapper device over `slaves`.
    pub fn dm(&mut self, n: u32, uuid: &str, dm_name: &str, slaves: &[&str]) -> &mut Self {
        let name = format!("dm-{n}");
        let dir = self
            .path()
            .join(format!("sys/devices/virtual/block/{name}"));
        self.add_dev(&name, dir.clone(), 253, n);
        std::fs::create_dir_all(dir.join("dm")).unwrap();
        std::fs::write(dir.join("dm/uuid"), format!("{uuid}\n")).unwrap();
        std::fs::write(dir.join("dm/name"), format!("{dm_name}\n")).unwrap();
        std::fs::write(dir.join("removable"), "0\n").unwrap();
        self.link_slaves(&name, slaves);
        self
    }

    /// Links slaves after the fact (cycles).
    pub fn add_slave(&mut self, name: &str, slave: &str) -> &mut Self {
        let dir = self.devs[name].clone();
        symlink(&self.devs[slave], dir.join("slaves").join(slave)).unwrap();
        self
    }

    /// A virtual device (md RAID, zram) over `slaves`.
    pub fn virt(&mut self, name: &str, major: u32, minor: u32, slaves: &[&str]) -> &mut Self {
        let dir = self
            .path()
            .join(format!("sys/devices/virtual/block/{name}"));
        self.add_dev(name, dir.clone(), major, minor);
        self.link_slaves(name, slaves);
        self
    }

    /// A loop device backed by `file`.
    pub fn loop_dev(&mut self, n: u32, file: &str) -> &mut Self {
        let name = format!("loop{n}");
        self.virt(&name, 7, n, &[]);
        let dir = self.devs[&name].clone();
        std::fs::create_dir_all(dir.join("loop")).unwrap();
        std::fs::write(dir.join("loop/backing_file"), format!("{file}\n")).unwrap();
        self
    }

    /// A mountinfo line.
    pub fn mount(
        &mut self,
        mount_point: &str,
        major: u32,
        minor: u32,
        fstype: &str,
        source: &str,
    ) -> &mut Self {
        let id = 30 + self.mounts.len();
        self.mounts.push(format!(
            "{id} 1 {major}:{minor} / {} rw,relatime shared:{id} - {fstype} {source} rw",
            mount_point.replace(' ', "\\040")
        ));
        self.flush();
        self
    }

    /// A `/proc/swaps` line.
    pub fn swap(&mut self, path: &str, kind: &str) -> &mut Self {
        self.swaps
            .push(format!("{path}\t\t\t\t{kind}\t\t8388604\t\t0\t\t-2"));
        self.flush();
        self
    }

    /// `/sys/fs/btrfs/<fsid>/devices/<member>` links.
    pub fn btrfs(&mut self, fsid: &str, members: &[&str]) -> &mut Self {
        let devs = self.path().join(format!("sys/fs/btrfs/{fsid}/devices"));
        std::fs::create_dir_all(&devs).unwrap();
        std::fs::create_dir_all(self.path().join("sys/fs/btrfs/features")).unwrap();
        for m in members {
            symlink(&self.devs[*m], devs.join(m)).unwrap();
        }
        self
    }

    /// A `/dev/...` symlink to `../../dm-N`-style targets.
    pub fn dev_link(&mut self, rel: &str, target: &str) -> &mut Self {
        let p = self.path().join("dev").join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        symlink(target, p).unwrap();
        self
    }

    /// The sysfs dir of a device (to deny reads under it).
    pub fn dev_dir(&self, name: &str) -> PathBuf {
        self.devs[name].clone()
    }

    fn flush(&self) {
        let mut m = self.mounts.join("\n");
        m.push('\n');
        std::fs::write(self.path().join("proc/self/mountinfo"), m).unwrap();
        let mut s = String::from("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
        for l in &self.swaps {
            s.push_str(l);
            s.push('\n');
        }
        std::fs::write(self.path().join("proc/swaps"), s).unwrap();
    }

    /// Disk encryption with the real fs and no subprocess.
    pub fn check(&self) -> Fact<DiskEncryption> {
        self.check_with(&RealFs, &NoSubprocess, &PostureConfig::default())
    }

    pub fn check_with(
        &self,
        fs: &dyn Fs,
        runner: &dyn CommandRunner,
        config: &PostureConfig,
    ) -> Fact<DiskEncryption> {
        check_disk_encryption(&self.root(), fs, runner, config, at())
    }

    /// Disk encryption with reads under `denied` (relative paths or absolute dirs) refused.
    pub fn check_denied(&self, denied: &[PathBuf]) -> Fact<DiskEncryption> {
        let fs = DenyFs {
            inner: RealFs,
            denied: denied
                .iter()
                .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.clone()))
                .collect(),
        };
        self.check_with(&fs, &NoSubprocess, &PostureConfig::default())
    }
}

/// A typical laptop disk: sda with sda1 (/boot/efi, plain) and sda2.
pub fn laptop() -> Tree {
    let mut t = Tree::new();
    t.disk("sda", 8, 0)
        .part("sda", "sda1", 8, 1)
        .part("sda", "sda2", 8, 2);
    t.mount("/boot/efi", 8, 1, "vfat", "/dev/sda1");
    t
}

pub const LUKS2: &str = "CRYPT-LUKS2-0f1e2d3c4b5a69788796a5b4c3d2e1f0-luks-0f1e2d3c";
pub const LUKS1: &str = "CRYPT-LUKS1-a1b2c3d4e5f60718293a4b5c6d7e8f90-cryptroot";
pub const LVM: &str = "LVM-Zx8Qa1Pq2Rw3Es4Td5Yf6Ug7Ih8Oj9Kl0Mz1Nx2Bc3Vd4Fe5Gr6Ht7Yu8Ji9";
