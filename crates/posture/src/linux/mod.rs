//! Linux posture, without root, every filesystem root injectable.

pub mod firewall;
pub mod gvdb;
pub mod luks;
pub mod mounts;
pub mod root;
pub mod screenlock;
pub mod snapshot;
pub mod storage;
pub mod system;
pub mod zfs;

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::PostureConfig;
use crate::processes::{
    ProcessSource, ProcfsProcesses, SysinfoProcesses, check_edr, check_markers,
};
use crate::report::{Facts, PostureReport};
use crate::runner::{CommandRunner, NoSubprocess, SystemRunner};

pub use root::{DenyFs, Fs, RealFs, RecordingFs, SysRoot};
pub use screenlock::Session;

/// A fingerprint of what the Linux checks depend on that changes cheaply: the mount and
/// swap tables, and when firewall and screen lock settings were last written. Polled by
/// [`crate::watch::ChangeSignals`] to re-check early.
pub fn change_fingerprint(root: &SysRoot, fs: &dyn Fs) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for p in [root.proc.join("self/mountinfo"), root.proc.join("swaps")] {
        fs.read_to_string(&p).unwrap_or_default().hash(&mut h);
    }
    let mut watched = vec![
        root.etc.join("ufw/ufw.conf"),
        root.etc.join("dconf/db"),
        root.etc.join("systemd/system/multi-user.target.wants"),
    ];
    if let Some(home) = &root.home {
        watched.push(home.join(".config/kscreenlockerrc"));
        watched.push(home.join(".config/dconf/user"));
        watched.push(home.join(".config/sway/config"));
    }
    for p in watched {
        fs.modified(&p).ok().hash(&mut h);
    }
    h.finish()
}

/// A configured Linux check. Build with [`LinuxCheck::host`] or [`LinuxCheck::sysroot`] and
/// adjust the public fields (tests swap `fs`, `runner`, `processes`).
#[derive(Debug, Clone)]
pub struct LinuxCheck {
    pub root: SysRoot,
    pub fs: Arc<dyn Fs>,
    /// External commands; [`NoSubprocess`] keeps the main path subprocess-free.
    pub runner: Arc<dyn CommandRunner>,
    pub processes: Arc<dyn ProcessSource>,
    pub session: Session,
    pub config: PostureConfig,
}

impl LinuxCheck {
    /// The running machine. Subprocesses follow `config.allow_subprocess`.
    pub fn host(config: PostureConfig) -> Self {
        let runner: Arc<dyn CommandRunner> = if config.allow_subprocess {
            Arc::new(SystemRunner)
        } else {
            Arc::new(NoSubprocess)
        };
        Self {
            root: SysRoot::host(),
            fs: Arc::new(RealFs),
            runner,
            processes: Arc::new(SysinfoProcesses),
            session: Session::from_env(),
            config,
        }
    }

    /// A captured or fake tree under `dir`; never runs an external command.
    pub fn sysroot(dir: &std::path::Path, config: PostureConfig) -> Self {
        let root = SysRoot::under(dir);
        Self {
            processes: Arc::new(ProcfsProcesses {
                proc: root.proc.clone(),
            }),
            root,
            fs: Arc::new(RealFs),
            runner: Arc::new(NoSubprocess),
            session: Session::default(),
            config: PostureConfig {
                allow_subprocess: false,
                ..config
            },
        }
    }

    /// The change fingerprint of this check's tree (see [`change_fingerprint`]).
    pub fn fingerprint(&self) -> u64 {
        change_fingerprint(&self.root, self.fs.as_ref())
    }

    /// Runs every probe and builds the report.
    pub fn run(&self, clock: &dyn Clock) -> PostureReport {
        let at = clock.now();
        let fs = self.fs.as_ref();
        let runner = self.runner.as_ref();
        let timeout = self.config.command_timeout();
        let procs = self.processes.processes();
        let firewalld_running = procs
            .as_ref()
            .is_ok_and(|ps| ps.iter().any(|p| p.name == "firewalld"));
        let etc = self.root.etc.clone();
        // Marker paths are absolute on the device; map them under the injected root.
        let file_exists = |path: &str| {
            let p = std::path::Path::new(path);
            let under = match p.strip_prefix("/etc") {
                Ok(rest) => etc.join(rest),
                Err(_) => p.to_path_buf(),
            };
            fs.exists(&under)
        };
        let facts = Facts {
            disk_encryption: storage::check_disk_encryption(
                &self.root,
                fs,
                runner,
                &self.config,
                at,
            ),
            firewall: firewall::check_firewall(
                &self.root,
                fs,
                runner,
                timeout,
                firewalld_running,
                at,
            ),
            screen_lock: screenlock::check_screen_lock(
                &self.root,
                fs,
                runner,
                timeout,
                &self.session,
                self.config.max_idle_seconds,
                at,
            ),
            os: system::check_os(&self.root, fs, at),
            updates: system::check_updates(&self.root, fs, self.config.max_update_age_days, at),
            auto_updates: system::check_auto_updates(&self.root, fs, at),
            edr: check_edr(&self.config.edr_allowlist, &procs, at),
            managed: check_markers(&self.config.mdm_markers, &procs, &file_exists, at),
            secure_boot: system::check_secure_boot(&self.root, fs, at),
            tpm: system::check_tpm(&self.root, fs, at),
            identity: system::check_identity(&self.root, fs, &self.config.identity_salt, at),
        };
        PostureReport::new("linux", facts, at)
    }
}
