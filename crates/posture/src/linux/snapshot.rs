//! `certgate posture snapshot OUT.tar`: the files the Linux checks read, and nothing else, so
//! support can run `certgate posture --sysroot DIR` on the unpacked tree and get the same
//! answers.
//!
//! How the archive is built:
//! - The check runs through [`RecordingFs`] with no subprocess and processes read from
//!   `/proc`, exactly as `--sysroot` will run it (and once more with this session's desktop,
//!   so that desktop's screen lock settings are captured too).
//! - Every recorded path is walked component by component; each symlink on the way is stored
//!   as a symlink (its target rewritten relative, inside the archive), then followed; a link
//!   to a file outside the roots (`/etc/os-release`) is stored as a copy of that file. A
//!   regular file at the end is stored with its bytes and modification time; a directory is
//!   stored with the names of its sub-directories and symlinks (not its other files), so a
//!   listing the checks make sees the same names.
//! - Archive names: `proc/`, `sys/`, `etc/`, `dev/`, `var/` and `home/` (the user's home),
//!   the layout [`SysRoot::under`] reads back. Anything outside those roots is left out.
//! - Processes: only those whose name the policy's EDR allowlist or MDM markers name, and of
//!   them only `comm`, `status`, the `exe` link, and `cmdline` cut to `argv[0]` (later
//!   arguments can carry passwords).
//!
//! Never captured (see [`secret_reason`]): password and group shadows, sudoers, SSH and GnuPG
//! directories, keyrings, TLS private keys and key files (`*.key`, `*.pem`, `*.p12`,
//! `*.keytab`), Wi-Fi and VPN connection files, systemd credentials, process environments and
//! memory, and any device node (so a LUKS header is never copied: a snapshot of a root
//! session therefore shows "cipher not verified" where the live check read the header).
//! Unreadable files are skipped and listed in the summary.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use crate::clock::Clock;
use crate::config::Marker;
use crate::error::{Error, Result};
use crate::linux::root::{RecordingFs, SysRoot};
use crate::linux::{LinuxCheck, RealFs, Session};
use crate::processes::{ProcfsProcesses, name_matches};
use crate::report::PostureReport;
use crate::runner::NoSubprocess;

/// Largest file stored; logs beyond this are not worth shipping (checks read 512 KiB tails).
const MAX_FILE: u64 = 32 * 1024 * 1024;

/// Symlink hops followed for one path before giving up (sysfs chains are 2–3 deep).
const MAX_HOPS: usize = 32;

/// One archive member.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Member {
    Dir,
    File { data: Vec<u8>, mtime: u64 },
    Link { target: PathBuf },
}

/// What a snapshot holds.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotSummary {
    /// The report the check produced while recording (what the unpacked tree reproduces).
    pub report: PostureReport,
    /// Regular files stored.
    pub files: usize,
    /// Symlinks stored.
    pub links: usize,
    /// Directories stored.
    pub dirs: usize,
    /// Archive names of every regular file stored, sorted.
    pub file_names: Vec<String>,
    /// Paths left out on purpose or because they could not be read, with why.
    pub skipped: Vec<(String, String)>,
}

/// Why a path must never be captured, or `None` when it may be. `rel` is the archive name
/// (`etc/shadow`, `home/.ssh/id_ed25519`).
pub fn secret_reason(rel: &Path) -> Option<&'static str> {
    let parts: Vec<String> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().to_ascii_lowercase()),
            _ => None,
        })
        .collect();
    let first = parts.first().map(String::as_str);
    let name = parts.last().map(String::as_str).unwrap_or_default();
    const SECRET_DIRS: &[&str] = &[
        ".ssh",
        "ssh",
        ".gnupg",
        "keyrings",
        ".password-store",
        "private",
        "system-connections",
        "credstore",
        "credstore.encrypted",
        "wpa_supplicant",
        ".aws",
        ".kube",
        ".docker",
    ];
    if parts
        .iter()
        .any(|d| SECRET_DIRS.contains(&d.as_str()) || d.starts_with("sudoers"))
    {
        return Some("inside a directory that holds keys or credentials");
    }
    const SECRET_NAMES: &[&str] = &[
        "shadow",
        "shadow-",
        "gshadow",
        "gshadow-",
        "sudoers",
        "opasswd",
        "krb5.keytab",
        ".netrc",
        ".pgpass",
        ".git-credentials",
    ];
    if SECRET_NAMES.contains(&name) || name.starts_with("sudoers") || name.starts_with("id_") {
        return Some("a password, sudo or identity file");
    }
    const SECRET_EXT: &[&str] = &[".key", ".pem", ".p12", ".pfx", ".keytab", ".gpg", ".kdbx"];
    if SECRET_EXT.iter().any(|e| name.ends_with(e)) {
        return Some("a key or certificate file");
    }
    if first == Some("proc")
        && matches!(
            name,
            "environ" | "mem" | "kcore" | "maps" | "smaps" | "pagemap" | "auxv"
        )
    {
        return Some("process memory or environment");
    }
    if first == Some("dev") {
        return Some("device contents (a disk's LUKS header stays on the device)");
    }
    None
}

/// Lexically resolves `.` and `..` (the parent of a path is already a real directory here,
/// because paths are walked component by component).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// `to` relative to the directory `from_dir` (both archive names).
fn relative(from_dir: &Path, to: &Path) -> PathBuf {
    let a: Vec<Component> = from_dir.components().collect();
    let b: Vec<Component> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for c in &b[common..] {
        out.push(c);
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

fn mtime_of(meta: &fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

struct Collector {
    /// (source root, archive prefix), longest source first.
    roots: Vec<(PathBuf, PathBuf)>,
    members: BTreeMap<PathBuf, Member>,
    skipped: BTreeMap<String, String>,
}

impl Collector {
    fn new(root: &SysRoot) -> Self {
        let mut roots: Vec<(PathBuf, PathBuf)> = [
            (Some(&root.proc), "proc"),
            (Some(&root.sys), "sys"),
            (Some(&root.etc), "etc"),
            (Some(&root.dev), "dev"),
            (Some(&root.var), "var"),
            (root.home.as_ref(), "home"),
        ]
        .into_iter()
        .filter_map(|(src, name)| {
            let src = src?;
            // Canonical too: a fixture under /tmp may be reached through a symlinked /tmp.
            let canon = fs::canonicalize(src).ok();
            Some(
                std::iter::once((normalize(src), PathBuf::from(name)))
                    .chain(canon.map(|c| (c, PathBuf::from(name)))),
            )
        })
        .flatten()
        .collect();
        roots.sort_by_key(|(src, _)| std::cmp::Reverse(src.components().count()));
        Self {
            roots,
            members: BTreeMap::new(),
            skipped: BTreeMap::new(),
        }
    }

    /// The root a source path is under: (root, archive name of the path).
    fn map(&self, src: &Path) -> Option<(PathBuf, PathBuf)> {
        self.roots.iter().find_map(|(root, prefix)| {
            src.strip_prefix(root)
                .ok()
                .map(|rest| (root.clone(), prefix.join(rest)))
        })
    }

    fn skip(&mut self, what: &Path, why: impl Into<String>) {
        self.skipped
            .entry(what.display().to_string())
            .or_insert_with(|| why.into());
    }

    fn add(&mut self, rel: PathBuf, m: Member) {
        // Parents first, as directories (a parent that is a symlink is never a parent here:
        // members sit at resolved paths).
        let mut parent = rel.parent();
        while let Some(p) = parent {
            if p.as_os_str().is_empty() {
                break;
            }
            self.members.entry(p.to_path_buf()).or_insert(Member::Dir);
            parent = p.parent();
        }
        match (&m, self.members.get(&rel)) {
            // A directory marker never replaces a real member.
            (Member::Dir, Some(_)) => {}
            _ => {
                self.members.insert(rel, m);
            }
        }
    }

    /// Walks `src` from its root, storing each symlink on the way. Returns the resolved real
    /// path and its archive name, or `None` when it does not exist or leaves the roots.
    fn resolve(&mut self, src: &Path, hops: &mut usize) -> Option<(PathBuf, PathBuf)> {
        let src = normalize(src);
        let Some((root, _)) = self.map(&src) else {
            self.skip(&src, "outside the roots a snapshot holds");
            return None;
        };
        let rest = src.strip_prefix(&root).ok()?.to_path_buf();
        let last = rest.components().count();
        let mut cur = root.clone();
        for (i, c) in rest.components().enumerate() {
            cur.push(c);
            let meta = fs::symlink_metadata(&cur).ok()?;
            if meta.file_type().is_symlink() {
                *hops += 1;
                if *hops > MAX_HOPS {
                    self.skip(&cur, "symlink chain too long");
                    return None;
                }
                let target = fs::read_link(&cur).ok()?;
                let parent = cur.parent().map(Path::to_path_buf).unwrap_or_default();
                let abs = normalize(&parent.join(&target));
                let (_, link_rel) = self.map(&cur)?;
                let Some((_, target_rel)) = self.map(&abs) else {
                    // A file link leaving the roots (/etc/os-release -> ../usr/lib/os-release)
                    // is stored as a copy of the file under the link's name.
                    let is_file = fs::metadata(&cur).is_ok_and(|m| m.is_file());
                    if i + 1 == last && is_file && secret_reason(&abs).is_none() {
                        return Some((cur, link_rel));
                    }
                    self.skip(&cur, "symlink points outside the snapshot roots");
                    return None;
                };
                let link_dir = link_rel.parent().map(Path::to_path_buf).unwrap_or_default();
                self.add(
                    link_rel,
                    Member::Link {
                        target: relative(&link_dir, &target_rel),
                    },
                );
                let (real, _) = self.resolve(&abs, hops)?;
                cur = real;
            }
        }
        let (_, rel) = self.map(&cur)?;
        Some((cur, rel))
    }

    /// Captures what a recorded path needs: its symlink chain and, at the end, the file's
    /// bytes or the directory's sub-directory and symlink names.
    fn capture(&mut self, recorded: &Path) {
        if let Some((_, rel)) = self.map(&normalize(recorded))
            && let Some(why) = secret_reason(&rel)
        {
            self.skip(&rel, why);
            return;
        }
        let mut hops = 0;
        let Some((real, rel)) = self.resolve(recorded, &mut hops) else {
            return;
        };
        if let Some(why) = secret_reason(&rel) {
            self.skip(&rel, why);
            return;
        }
        let Ok(meta) = fs::metadata(&real) else {
            return;
        };
        if meta.is_file() {
            if meta.len() > MAX_FILE {
                self.skip(&rel, "larger than 32 MiB");
                return;
            }
            match fs::read(&real) {
                Ok(data) => self.add(
                    rel,
                    Member::File {
                        data,
                        mtime: mtime_of(&meta),
                    },
                ),
                Err(e) => self.skip(&rel, format!("unreadable: {}", e.kind())),
            }
        } else if meta.is_dir() {
            self.add(rel.clone(), Member::Dir);
            self.list_dir(&real, &rel);
        } else {
            self.skip(&rel, "not a regular file (device node, socket or pipe)");
        }
    }

    fn list_dir(&mut self, real: &Path, rel: &Path) {
        let Ok(entries) = fs::read_dir(real) else {
            return;
        };
        for e in entries.filter_map(std::result::Result::ok) {
            let Ok(ft) = e.file_type() else { continue };
            let child_rel = rel.join(e.file_name());
            if secret_reason(&child_rel).is_some() {
                continue;
            }
            if ft.is_dir() {
                self.add(child_rel, Member::Dir);
            } else if ft.is_symlink() {
                let Ok(target) = fs::read_link(e.path()) else {
                    continue;
                };
                let abs = normalize(&real.join(&target));
                if let Some((_, target_rel)) = self.map(&abs) {
                    self.add(
                        child_rel,
                        Member::Link {
                            target: relative(rel, &target_rel),
                        },
                    );
                }
            }
        }
    }

    /// The processes the policy names, with only what `--sysroot` reads of them.
    fn capture_processes(&mut self, proc_dir: &Path, names: &[&crate::config::ProcessMatcher]) {
        if names.is_empty() {
            return;
        }
        let Ok(entries) = fs::read_dir(proc_dir) else {
            return;
        };
        for e in entries.filter_map(std::result::Result::ok) {
            let pid = e.file_name().to_string_lossy().into_owned();
            if !pid.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let dir = e.path();
            let Ok(comm) = fs::read_to_string(dir.join("comm")) else {
                continue;
            };
            if !names.iter().any(|m| name_matches(m, comm.trim())) {
                continue;
            }
            let Some((_, rel)) = self.map(&dir) else {
                continue;
            };
            for file in ["comm", "status"] {
                let p = dir.join(file);
                if let (Ok(data), Ok(meta)) = (fs::read(&p), fs::metadata(&p)) {
                    self.add(
                        rel.join(file),
                        Member::File {
                            data,
                            mtime: mtime_of(&meta),
                        },
                    );
                }
            }
            if let Ok(cmdline) = fs::read(dir.join("cmdline")) {
                // argv[0] only: later arguments can hold passwords and tokens.
                let mut argv0: Vec<u8> = cmdline.split(|b| *b == 0).next().unwrap_or(&[]).into();
                argv0.push(0);
                self.add(
                    rel.join("cmdline"),
                    Member::File {
                        data: argv0,
                        mtime: 0,
                    },
                );
            }
            if let Ok(target) = fs::read_link(dir.join("exe")) {
                // Kept verbatim: only ever read as a link, never followed.
                self.add(rel.join("exe"), Member::Link { target });
            }
        }
    }

    fn write(&self, out: &Path) -> Result<()> {
        let write_err = |source: std::io::Error| Error::SnapshotWrite {
            path: out.to_owned(),
            source,
        };
        let dir = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        // A temp file in the same folder, renamed at the end: never a half-written archive.
        let tmp = tempfile::NamedTempFile::new_in(&dir).map_err(write_err)?;
        let mut builder = tar::Builder::new(BufWriter::new(tmp.as_file()));
        builder.follow_symlinks(false);
        for (rel, m) in &self.members {
            let mut h = tar::Header::new_gnu();
            match m {
                Member::Dir => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_mode(0o755);
                    h.set_size(0);
                    h.set_mtime(0);
                    builder
                        .append_data(&mut h, rel, std::io::empty())
                        .map_err(write_err)?;
                }
                Member::File { data, mtime } => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_mode(0o644);
                    h.set_size(data.len() as u64);
                    h.set_mtime(*mtime);
                    builder
                        .append_data(&mut h, rel, data.as_slice())
                        .map_err(write_err)?;
                }
                Member::Link { target } => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_mode(0o777);
                    h.set_size(0);
                    h.set_mtime(0);
                    builder
                        .append_link(&mut h, rel, target)
                        .map_err(write_err)?;
                }
            }
        }
        let mut w = builder.into_inner().map_err(write_err)?;
        w.flush().map_err(write_err)?;
        drop(w);
        tmp.as_file().sync_all().map_err(write_err)?;
        tmp.persist(out).map_err(|e| write_err(e.error))?;
        Ok(())
    }
}

/// Runs the Linux checks of `check` (its roots, fs and config) through a [`RecordingFs`] with
/// no subprocess, and writes the files they read to the tar archive `out`.
pub fn snapshot(check: &LinuxCheck, out: &Path, clock: &dyn Clock) -> Result<SnapshotSummary> {
    let recorder = Arc::new(RecordingFs::new(RealFs));
    let mut recording = check.clone();
    recording.fs = recorder.clone();
    recording.runner = Arc::new(NoSubprocess);
    recording.processes = Arc::new(ProcfsProcesses {
        proc: check.root.proc.clone(),
    });
    recording.config.allow_subprocess = false;
    // Once with this session's desktop (so its settings files are captured), once without,
    // as `--sysroot` runs: the summary's report is what the unpacked tree reproduces.
    if recording.session != Session::default() {
        let _ = recording.run(clock);
    }
    recording.session = Session::default();
    let report = recording.run(clock);

    let mut c = Collector::new(&check.root);
    for p in recorder.paths() {
        c.capture(&p);
    }
    let mut names: Vec<&crate::config::ProcessMatcher> =
        check.config.edr_allowlist.iter().collect();
    names.extend(check.config.mdm_markers.iter().filter_map(|m| match m {
        Marker::Process(p) => Some(p),
        Marker::File(_) => None,
    }));
    c.capture_processes(&check.root.proc, &names);
    c.write(out)?;

    let count = |f: fn(&Member) -> bool| c.members.values().filter(|m| f(m)).count();
    Ok(SnapshotSummary {
        report,
        files: count(|m| matches!(m, Member::File { .. })),
        links: count(|m| matches!(m, Member::Link { .. })),
        dirs: count(|m| matches!(m, Member::Dir)),
        file_names: c
            .members
            .iter()
            .filter(|(_, m)| matches!(m, Member::File { .. }))
            .map(|(p, _)| p.display().to_string())
            .collect(),
        skipped: c.skipped.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_refused() {
        for p in [
            "etc/shadow",
            "etc/gshadow-",
            "etc/sudoers.d/admins",
            "etc/ssh/ssh_host_ed25519_key",
            "etc/ssl/private/server.key",
            "etc/NetworkManager/system-connections/home.nmconnection",
            "home/.ssh/config",
            "home/.local/share/keyrings/login.keyring",
            "home/.gnupg/pubring.kbx",
            "etc/krb5.keytab",
            "proc/123/environ",
            "dev/sda2",
            "etc/pki/tls/certs/server.pem",
        ] {
            assert!(
                secret_reason(Path::new(p)).is_some(),
                "{p} must never be captured"
            );
        }
    }

    #[test]
    fn what_the_checks_read_is_allowed() {
        for p in [
            "proc/self/mountinfo",
            "proc/swaps",
            "sys/devices/virtual/block/dm-0/dm/uuid",
            "etc/ufw/ufw.conf",
            "etc/os-release",
            "etc/apt/apt.conf.d/20auto-upgrades",
            "home/.config/kscreenlockerrc",
            "home/.config/dconf/user",
            "var/log/apt/history.log",
            "sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c",
        ] {
            assert_eq!(secret_reason(Path::new(p)), None, "{p} is needed");
        }
    }

    #[test]
    fn relative_links() {
        assert_eq!(
            relative(
                Path::new("sys/dev/block"),
                Path::new("sys/devices/virtual/block/dm-0")
            ),
            PathBuf::from("../../devices/virtual/block/dm-0")
        );
        assert_eq!(
            relative(Path::new("proc"), Path::new("proc/4242")),
            PathBuf::from("4242")
        );
        assert_eq!(
            normalize(Path::new("/sys/dev/block/../../devices/x")),
            PathBuf::from("/sys/devices/x")
        );
    }
}
