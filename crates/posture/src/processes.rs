//! Running processes, matched against the policy's EDR allowlist and MDM markers.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::config::{Marker, ProcessMatcher};
use crate::fact::{Fact, FactState};
use crate::report::{Edr, Management, ManagementKind};

/// One running process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    pub name: String,
    /// Executable path; `None` when not readable (another user's process without root).
    pub exe: Option<PathBuf>,
    /// First command-line word (world-readable on Linux, but set by the process itself).
    pub argv0: Option<String>,
    /// Runs as root / uid 0 (`None` where not known, e.g. Windows).
    pub root_owned: Option<bool>,
}

/// Where a matched binary path came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathSource {
    /// No path was required.
    NotRequired,
    /// The `exe` link (unforgeable).
    Exe,
    /// `argv[0]` of a root-owned process: an unprivileged user cannot start a root process,
    /// so a fake one cannot pass; used when the `exe` link needs root to read.
    RootArgv0,
}

/// Lists running processes.
pub trait ProcessSource: Send + Sync + std::fmt::Debug {
    /// The processes, or why they could not be listed.
    fn processes(&self) -> Result<Vec<ProcessInfo>, String>;
}

/// The host's processes via sysinfo.
#[derive(Debug, Clone, Copy, Default)]
pub struct SysinfoProcesses;

impl ProcessSource for SysinfoProcesses {
    fn processes(&self) -> Result<Vec<ProcessInfo>, String> {
        use sysinfo::{ProcessRefreshKind, RefreshKind, System, UpdateKind};
        let kind = ProcessRefreshKind::nothing()
            .with_exe(UpdateKind::OnlyIfNotSet)
            .with_cmd(UpdateKind::OnlyIfNotSet)
            .with_user(UpdateKind::OnlyIfNotSet);
        let sys = System::new_with_specifics(RefreshKind::nothing().with_processes(kind))
            .map_err(|e| e.to_string())?;
        Ok(sys
            .processes()
            .values()
            .map(|p| ProcessInfo {
                name: p.name().to_string_lossy().into_owned(),
                exe: p.exe().map(Path::to_path_buf),
                argv0: p.cmd().first().map(|a| a.to_string_lossy().into_owned()),
                root_owned: root_owned(p),
            })
            .collect())
    }
}

#[cfg(unix)]
fn root_owned(p: &sysinfo::Process) -> Option<bool> {
    p.user_id().map(|u| **u == 0)
}

#[cfg(not(unix))]
fn root_owned(_p: &sysinfo::Process) -> Option<bool> {
    None
}

/// Processes read from a `/proc` tree (`--sysroot` snapshots and tests): `PID/comm` and the
/// `PID/exe` link.
#[derive(Debug, Clone)]
pub struct ProcfsProcesses {
    pub proc: PathBuf,
}

impl ProcessSource for ProcfsProcesses {
    fn processes(&self) -> Result<Vec<ProcessInfo>, String> {
        let entries = std::fs::read_dir(&self.proc).map_err(|e| e.to_string())?;
        Ok(entries
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .bytes()
                    .all(|b| b.is_ascii_digit())
            })
            .filter_map(|e| {
                let name = std::fs::read_to_string(e.path().join("comm")).ok()?;
                let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
                let argv0 = cmdline
                    .split(|b| *b == 0)
                    .next()
                    .filter(|a| !a.is_empty())
                    .map(|a| String::from_utf8_lossy(a).into_owned());
                let status = std::fs::read_to_string(e.path().join("status")).unwrap_or_default();
                let root_owned = status
                    .lines()
                    .find_map(|l| l.strip_prefix("Uid:"))
                    .and_then(|u| u.split_whitespace().next())
                    .map(|uid| uid == "0");
                Some(ProcessInfo {
                    name: name.trim().to_owned(),
                    exe: std::fs::read_link(e.path().join("exe")).ok(),
                    argv0,
                    root_owned,
                })
            })
            .collect())
    }
}

/// Whether `p` matches `m`, and how its path was verified. Name case-insensitively (the
/// kernel truncates `comm` to 15 bytes, so a long name also matches on its 15-byte prefix);
/// path by prefix of the `exe` link, or of `argv[0]` when the link is unreadable and the
/// process runs as root.
pub fn match_process(m: &ProcessMatcher, p: &ProcessInfo) -> Option<PathSource> {
    if !name_matches(m, &p.name) {
        return None;
    }
    let Some(prefix) = &m.path_prefix else {
        return Some(PathSource::NotRequired);
    };
    match (&p.exe, &p.argv0, p.root_owned) {
        (Some(exe), _, _) => exe
            .to_string_lossy()
            .starts_with(prefix.as_str())
            .then_some(PathSource::Exe),
        (None, Some(argv0), Some(true)) => argv0
            .starts_with(prefix.as_str())
            .then_some(PathSource::RootArgv0),
        _ => None,
    }
}

/// Whether a process named `name` (its `comm`) has the matcher's name: case-insensitively,
/// or on the 15-byte prefix the kernel truncates `comm` to.
pub fn name_matches(m: &ProcessMatcher, name: &str) -> bool {
    name.eq_ignore_ascii_case(&m.name)
        || (name.len() == 15
            && m.name.len() > 15
            && m.name.is_char_boundary(15)
            && name.eq_ignore_ascii_case(&m.name[..15]))
}

/// Whether `p` matches `m` (see [`match_process`]).
pub fn matches(m: &ProcessMatcher, p: &ProcessInfo) -> bool {
    match_process(m, p).is_some()
}

/// EDR from the allowlist.
pub fn check_edr(
    allowlist: &[ProcessMatcher],
    procs: &Result<Vec<ProcessInfo>, String>,
    at: DateTime<Utc>,
) -> Fact<Edr> {
    const METHOD: &str = "process-list";
    if allowlist.is_empty() {
        return Fact::new(FactState::NotApplicable, Some(Edr::default()), METHOD, at)
            .with("the policy names no EDR agent");
    }
    let procs = match procs {
        Ok(p) => p,
        Err(e) => return Fact::unknown(METHOD, format!("process list unavailable: {e}"), at),
    };
    let mut running: Vec<String> = Vec::new();
    let mut evidence = Vec::new();
    for m in allowlist {
        if let Some((p, how)) = procs
            .iter()
            .find_map(|p| match_process(m, p).map(|how| (p, how)))
        {
            running.push(m.name.clone());
            evidence.push(match how {
                PathSource::Exe => format!(
                    "{} running from {}",
                    m.name,
                    p.exe
                        .as_ref()
                        .map(|e| e.display().to_string())
                        .unwrap_or_default()
                ),
                PathSource::RootArgv0 => format!(
                    "{} running as root from {} (argv[0]; the exe link needs root to read)",
                    m.name,
                    p.argv0.as_deref().unwrap_or_default()
                ),
                PathSource::NotRequired => format!("{} running", m.name),
            });
        } else if m.path_prefix.is_some()
            && procs.iter().any(|p| p.name.eq_ignore_ascii_case(&m.name))
        {
            evidence.push(format!(
                "{} running but not from {} (or its path is unreadable)",
                m.name,
                m.path_prefix.as_deref().unwrap_or_default()
            ));
        }
    }
    let state = if running.is_empty() {
        evidence.push(format!(
            "none of {} allowed EDR agent(s) running among {} processes",
            allowlist.len(),
            procs.len()
        ));
        FactState::Fail
    } else {
        FactState::Ok
    };
    Fact::new(state, Some(Edr { running }), METHOD, at).with_all(evidence)
}

/// MDM agent markers (Linux has no OS-level enrolment).
pub fn check_markers(
    markers: &[Marker],
    procs: &Result<Vec<ProcessInfo>, String>,
    file_exists: &dyn Fn(&str) -> bool,
    at: DateTime<Utc>,
) -> Fact<Management> {
    const METHOD: &str = "markers";
    if markers.is_empty() {
        return Fact::new(
            FactState::Unknown,
            Some(Management {
                kind: ManagementKind::None,
                markers: Vec::new(),
            }),
            METHOD,
            at,
        )
        .with("no MDM markers configured; this OS has no built-in enrolment record to read");
    }
    let mut found = Vec::new();
    let mut evidence = Vec::new();
    for m in markers {
        match m {
            Marker::File(path) => {
                if file_exists(path) {
                    found.push(format!("file {path}"));
                }
            }
            Marker::Process(pm) => match procs {
                Ok(ps) => {
                    if ps.iter().any(|p| matches(pm, p)) {
                        found.push(format!("process {}", pm.name));
                    }
                }
                Err(e) => evidence.push(format!("process {} not checked: {e}", pm.name)),
            },
        }
    }
    let state = if !found.is_empty() {
        evidence.push(format!("MDM markers present: {}", found.join(", ")));
        FactState::Ok
    } else if evidence.is_empty() {
        evidence.push(format!("none of {} MDM marker(s) present", markers.len()));
        FactState::Fail
    } else {
        FactState::Unknown
    };
    let kind = if found.is_empty() {
        ManagementKind::None
    } else {
        ManagementKind::Agent
    };
    Fact::new(
        state,
        Some(Management {
            kind,
            markers: found,
        }),
        METHOD,
        at,
    )
    .with_all(evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn p(name: &str, exe: Option<&str>) -> ProcessInfo {
        ProcessInfo {
            name: name.into(),
            exe: exe.map(PathBuf::from),
            argv0: None,
            root_owned: None,
        }
    }

    fn argv(name: &str, argv0: &str, root: bool) -> ProcessInfo {
        ProcessInfo {
            name: name.into(),
            exe: None,
            argv0: Some(argv0.into()),
            root_owned: Some(root),
        }
    }

    #[test]
    fn edr_root_process_path_from_argv0_when_exe_unreadable() {
        let procs = Ok(vec![argv(
            "falcon-sensor",
            "/opt/CrowdStrike/falcon-sensor",
            true,
        )]);
        let f = check_edr(&[falcon()], &procs, at());
        assert_eq!(f.state, FactState::Ok, "{:?}", f.evidence);
        assert!(f.evidence[0].contains("argv[0]"));
        // The same claim from a user's own process proves nothing: argv[0] is forgeable.
        let procs = Ok(vec![argv(
            "falcon-sensor",
            "/opt/CrowdStrike/falcon-sensor",
            false,
        )]);
        assert_eq!(check_edr(&[falcon()], &procs, at()).state, FactState::Fail);
        // A readable exe link outranks argv[0].
        let mut fake = argv("falcon-sensor", "/opt/CrowdStrike/falcon-sensor", true);
        fake.exe = Some(PathBuf::from("/tmp/falcon-sensor"));
        assert_eq!(
            check_edr(&[falcon()], &Ok(vec![fake]), at()).state,
            FactState::Fail
        );
    }

    fn falcon() -> ProcessMatcher {
        ProcessMatcher {
            name: "falcon-sensor".into(),
            path_prefix: Some("/opt/CrowdStrike/".into()),
        }
    }

    #[test]
    fn edr_matches_name_and_path() {
        let procs = Ok(vec![
            p("bash", None),
            p("falcon-sensor", Some("/opt/CrowdStrike/falcon-sensor")),
        ]);
        let f = check_edr(&[falcon()], &procs, at());
        assert_eq!(f.state, FactState::Ok);
        assert_eq!(f.value.unwrap().running, vec!["falcon-sensor"]);
    }

    #[test]
    fn edr_renamed_copy_elsewhere_does_not_count() {
        let procs = Ok(vec![p("falcon-sensor", Some("/tmp/falcon-sensor"))]);
        let f = check_edr(&[falcon()], &procs, at());
        assert_eq!(
            f.state,
            FactState::Fail,
            "a binary outside the vendor path is refused"
        );
        assert!(f.evidence.iter().any(|e| e.contains("not from")));
    }

    #[test]
    fn edr_unreadable_path_does_not_count_when_path_required() {
        let procs = Ok(vec![p("falcon-sensor", None)]);
        assert_eq!(check_edr(&[falcon()], &procs, at()).state, FactState::Fail);
    }

    #[test]
    fn edr_truncated_comm_matches() {
        let m = ProcessMatcher {
            name: "mdatp_audisp_plugin".into(),
            path_prefix: None,
        };
        assert!(matches(&m, &p("mdatp_audisp_pl", None)));
        assert!(!matches(&m, &p("mdatp", None)));
    }

    #[test]
    fn edr_not_asked_is_na_and_unknown_list_is_unknown() {
        assert_eq!(
            check_edr(&[], &Ok(vec![]), at()).state,
            FactState::NotApplicable
        );
        assert_eq!(
            check_edr(&[falcon()], &Err("denied".into()), at()).state,
            FactState::Unknown
        );
    }

    #[test]
    fn markers_file_and_process() {
        let markers = vec![
            Marker::File("/etc/mdm/enrolled".into()),
            Marker::Process(ProcessMatcher {
                name: "intune-agent".into(),
                path_prefix: None,
            }),
        ];
        let procs = Ok(vec![p("intune-agent", None)]);
        let f = check_markers(&markers, &procs, &|_| false, at());
        assert_eq!(f.state, FactState::Ok);
        assert_eq!(f.value.unwrap().kind, ManagementKind::Agent);
        let f = check_markers(
            &markers,
            &Ok(vec![]),
            &|path| path == "/etc/mdm/enrolled",
            at(),
        );
        assert_eq!(f.state, FactState::Ok);
        let f = check_markers(&markers, &Ok(vec![]), &|_| false, at());
        assert_eq!(f.state, FactState::Fail);
        let f = check_markers(&[], &Ok(vec![]), &|_| true, at());
        assert_eq!(
            f.state,
            FactState::Unknown,
            "no markers configured cannot mean managed"
        );
    }
}
