//! macOS runner: runs the commands (each with a timeout) and hands their output to the pure
//! parsers in [`super::parse`]. Runs on macOS; test builds on every OS compile it too, so it
//! is type-checked where it cannot run.

use crate::clock::Clock;
use crate::config::PostureConfig;
use crate::fact::{Fact, FactState};
use crate::macos::parse::{
    FileVault, ScreenLockDelay, enclave_fact, parse_apfs_list, parse_fdesetup, parse_ioreg_string,
    parse_profiles_enrollment, parse_socketfilterfw, parse_softwareupdate_schedule,
    parse_sysadminctl_screenlock, secure_boot_fact, updates_fact, user_data_volumes,
};
use crate::processes::{ProcessSource, SysinfoProcesses, check_edr};
use crate::report::{
    AutoUpdates, DeviceIdentity, DiskEncryption, EncryptionStatus, Facts, Firewall,
    FirewallProfile, Management, OsInfo, PostureReport, ScreenLock, Volume, VolumeRole,
};
use crate::runner::{CommandRunner, SystemRunner};

/// Runs every macOS probe.
pub fn check(config: PostureConfig, clock: &dyn Clock) -> PostureReport {
    let at = clock.now();
    let runner = SystemRunner;
    let timeout = config.command_timeout();
    let run = |program: &str, args: &[&str]| -> Result<String, String> {
        match runner.run(program, args, timeout) {
            Ok(o) => Ok(format!("{}{}", o.stdout, o.stderr)),
            Err(e) => Err(e.to_string()),
        }
    };
    let mut facts = Facts::unknown(at, "not collected on macOS");

    facts.disk_encryption = match run("/usr/bin/fdesetup", &["status"]) {
        Ok(out) => {
            let fv = parse_fdesetup(&out);
            let mut state = fv.state();
            let mut volumes = vec![Volume {
                mount_point: "/".into(),
                role: VolumeRole::Root,
                device: "FileVault".into(),
                state,
                percent: match fv {
                    FileVault::Encrypting { percent } => percent,
                    _ => None,
                },
            }];
            let mut evidence = vec![format!(
                "fdesetup status: {}",
                out.lines().next().unwrap_or("").trim()
            )];
            if let Ok(plist) = run("/usr/sbin/diskutil", &["apfs", "list", "-plist"]) {
                for v in parse_apfs_list(plist.as_bytes()).unwrap_or_default().iter() {
                    if !user_data_volumes(std::slice::from_ref(v)).is_empty() {
                        let s = if v.crypto_migration {
                            FactState::Converting
                        } else if v.filevault {
                            FactState::Ok
                        } else {
                            FactState::Fail
                        };
                        evidence.push(format!(
                            "{} ({}): FileVault {}",
                            v.name, v.device, v.filevault
                        ));
                        if s != FactState::Ok && state == FactState::Ok {
                            state = s;
                        }
                        volumes.push(Volume {
                            mount_point: v.name.clone(),
                            role: VolumeRole::Data,
                            device: v.device.clone(),
                            state: s,
                            percent: None,
                        });
                    }
                }
            }
            let status = match state {
                FactState::Ok => EncryptionStatus::Full,
                FactState::Converting => EncryptionStatus::InProgress,
                FactState::Fail if volumes.iter().any(|v| v.state == FactState::Ok) => {
                    EncryptionStatus::Partial
                }
                FactState::Fail => EncryptionStatus::Disabled,
                _ => EncryptionStatus::Unknown,
            };
            Fact::new(
                state,
                Some(DiskEncryption { status, volumes }),
                "command:fdesetup+diskutil",
                at,
            )
            .with_all(evidence)
        }
        Err(e) => Fact::unknown("command:fdesetup", e, at),
    };

    facts.firewall = match run(
        "/usr/libexec/ApplicationFirewall/socketfilterfw",
        &["--getglobalstate"],
    ) {
        Ok(out) => match parse_socketfilterfw(&out) {
            Some(n) => {
                let on = n >= 1;
                Fact::new(
                    if on { FactState::Ok } else { FactState::Fail },
                    Some(Firewall {
                        enabled: Some(on),
                        profiles: vec![FirewallProfile {
                            name: "application".into(),
                            enabled: Some(on),
                            default_inbound: None,
                        }],
                    }),
                    "command:socketfilterfw",
                    at,
                )
                .with(format!("socketfilterfw: State = {n}"))
            }
            None => Fact::unknown(
                "command:socketfilterfw",
                format!("output not understood: {}", out.trim()),
                at,
            ),
        },
        Err(e) => Fact::unknown("command:socketfilterfw", e, at),
    };

    facts.managed = match run("/usr/bin/profiles", &["status", "-type", "enrollment"]) {
        Ok(out) => match parse_profiles_enrollment(&out) {
            Some(e) => {
                let kind = e.kind();
                let ok = kind != crate::report::ManagementKind::None;
                Fact::new(
                    if ok { FactState::Ok } else { FactState::Fail },
                    Some(Management {
                        kind,
                        markers: e.server.into_iter().collect(),
                    }),
                    "command:profiles",
                    at,
                )
                .with(out.trim().replace('\n', "; "))
            }
            None => Fact::unknown("command:profiles", "output not understood", at),
        },
        Err(e) => Fact::unknown("command:profiles", e, at),
    };

    facts.screen_lock = match run("/usr/sbin/sysadminctl", &["-screenLock", "status"]) {
        Ok(out) => {
            let idle = run(
                "/usr/bin/defaults",
                &["-currentHost", "read", "com.apple.screensaver", "idleTime"],
            )
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
            match parse_sysadminctl_screenlock(&out) {
                Some(d) => {
                    let (enabled, delay) = match d {
                        ScreenLockDelay::Off => (false, None),
                        ScreenLockDelay::Immediate => (true, Some(0)),
                        ScreenLockDelay::Seconds(s) => (true, Some(s)),
                    };
                    let idle_ok = idle.is_some_and(|i| i > 0 && i <= config.max_idle_seconds);
                    let state = if !enabled {
                        FactState::Fail
                    } else if idle_ok {
                        FactState::Ok
                    } else if idle.is_none() {
                        FactState::Unknown
                    } else {
                        FactState::Fail
                    };
                    Fact::new(
                        state,
                        Some(ScreenLock {
                            enabled: Some(enabled),
                            idle_seconds: idle,
                            lock_delay_seconds: delay,
                            admin_enforced: None,
                            source: "macos".into(),
                        }),
                        "command:sysadminctl+defaults",
                        at,
                    )
                    .with(format!("sysadminctl: {d:?}; screensaver idleTime {idle:?}"))
                }
                None => Fact::unknown("command:sysadminctl", "output not understood", at),
            }
        }
        Err(e) => Fact::unknown("command:sysadminctl", e, at),
    };

    facts.auto_updates = match run("/usr/sbin/softwareupdate", &["--schedule"]) {
        Ok(out) => match parse_softwareupdate_schedule(&out) {
            Some(on) => Fact::new(
                if on { FactState::Ok } else { FactState::Fail },
                Some(AutoUpdates {
                    enabled: Some(on),
                    mechanism: Some("softwareupdate".into()),
                }),
                "command:softwareupdate",
                at,
            )
            .with(out.trim().to_owned()),
            None => Fact::unknown("command:softwareupdate", "output not understood", at),
        },
        Err(e) => Fact::unknown("command:softwareupdate", e, at),
    };

    facts.os = match run("/usr/bin/sw_vers", &["-productVersion"]) {
        Ok(v) => Fact::new(
            FactState::Ok,
            Some(OsInfo {
                family: "macos".into(),
                name: Some("macOS".into()),
                version: Some(v.trim().to_owned()),
                kernel: run("/usr/bin/uname", &["-r"])
                    .ok()
                    .map(|k| k.trim().to_owned()),
            }),
            "command:sw_vers",
            at,
        )
        .with(format!("macOS {}", v.trim())),
        Err(e) => Fact::unknown("command:sw_vers", e, at),
    };

    facts.identity = match run("/usr/sbin/ioreg", &["-rd1", "-c", "IOPlatformExpertDevice"]) {
        Ok(out) => {
            let uuid = parse_ioreg_string(&out, "IOPlatformUUID");
            let serial = parse_ioreg_string(&out, "IOPlatformSerialNumber")
                .and_then(|s| crate::identity::validate_serial(&s).ok());
            let id = DeviceIdentity {
                machine_id_hash: uuid
                    .as_deref()
                    .map(|u| crate::identity::hash_machine_id(&config.identity_salt, u)),
                serial,
                key_store: None,
            };
            let state = if id.machine_id_hash.is_some() {
                FactState::Ok
            } else {
                FactState::Unknown
            };
            Fact::new(state, Some(id), "command:ioreg", at).with(
                "IOPlatformUUID hashed (raw id not reported); serial checked for placeholders",
            )
        }
        Err(e) => Fact::unknown("command:ioreg", e, at),
    };

    let security_info = run("/usr/libexec/mdmclient", &["QuerySecurityInfo"]);
    facts.secure_boot = secure_boot_fact(security_info.as_deref().map_err(String::as_str), at);

    let brand = run("/usr/sbin/sysctl", &["-n", "machdep.cpu.brand_string"]);
    // Apple silicon answers from the brand alone; only Intel Macs need the T2 probe.
    let ibridge = match &brand {
        Ok(b) if b.trim().starts_with("Apple ") => Ok(String::new()),
        _ => run("/usr/sbin/system_profiler", &["SPiBridgeDataType"]),
    };
    facts.tpm = enclave_fact(
        brand.as_deref().map_err(String::as_str),
        ibridge.as_deref().map_err(String::as_str),
        at,
    );

    // A file, not a command: `softwareupdate --history` prints localised dates.
    let history = std::fs::read("/Library/Receipts/InstallHistory.plist")
        .map_err(|e| format!("InstallHistory.plist: {e}"));
    facts.updates = updates_fact(
        history.as_deref().map_err(String::as_str),
        config.max_update_age_days,
        at,
    );

    let procs = SysinfoProcesses.processes();
    facts.edr = check_edr(&config.edr_allowlist, &procs, at);
    PostureReport::new("macos", facts, at)
}
