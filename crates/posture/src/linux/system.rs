//! Linux platform facts read from files: secure boot, TPM, OS, updates, identity.

use std::time::SystemTime;

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::fact::{Fact, FactState};
use crate::identity::{hash_machine_id, validate_serial};
use crate::linux::root::{Fs, SysRoot, io_words};
use crate::report::{AutoUpdates, DeviceIdentity, OsInfo, SecureBoot, Tpm, Updates};

/// EFI global variable GUID.
const EFI_GLOBAL: &str = "8be4df61-93ca-11d2-aa0d-00e098032b8c";

/// An efivarfs file: 4 attribute bytes, then the data; boolean variables hold one byte.
pub fn parse_efi_bool(bytes: &[u8]) -> Option<bool> {
    match bytes.get(4)? {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    }
}

/// Secure boot from efivars.
pub fn check_secure_boot(root: &SysRoot, fs: &dyn Fs, at: DateTime<Utc>) -> Fact<SecureBoot> {
    const METHOD: &str = "efivars";
    let efi = root.sys.join("firmware/efi");
    if !fs.exists(&efi) {
        return Fact::new(FactState::Fail, Some(SecureBoot { enabled: Some(false), setup_mode: None }), METHOD, at)
            .with("no /sys/firmware/efi: booted in legacy BIOS mode (or a VM without UEFI), secure boot impossible");
    }
    let var = |name: &str| fs.read_head(&efi.join(format!("efivars/{name}-{EFI_GLOBAL}")), 16);
    match var("SecureBoot") {
        Ok(b) => match parse_efi_bool(&b) {
            Some(on) => {
                let setup = var("SetupMode").ok().and_then(|b| parse_efi_bool(&b));
                let state = if on { FactState::Ok } else { FactState::Fail };
                Fact::new(
                    state,
                    Some(SecureBoot {
                        enabled: Some(on),
                        setup_mode: setup,
                    }),
                    METHOD,
                    at,
                )
                .with(format!(
                    "SecureBoot efivar = {}{}",
                    u8::from(on),
                    setup
                        .map(|s| format!(", SetupMode = {}", u8::from(s)))
                        .unwrap_or_default()
                ))
            }
            None => Fact::unknown(
                METHOD,
                format!(
                    "SecureBoot efivar has an unexpected value ({} bytes)",
                    b.len()
                ),
                at,
            ),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Fact::new(
            FactState::Fail,
            Some(SecureBoot {
                enabled: Some(false),
                setup_mode: None,
            }),
            METHOD,
            at,
        )
        .with("UEFI without a SecureBoot variable: firmware does not support secure boot"),
        Err(e) => Fact::unknown(METHOD, format!("SecureBoot efivar: {}", io_words(&e)), at),
    }
}

/// TPM from `/sys/class/tpm`.
pub fn check_tpm(root: &SysRoot, fs: &dyn Fs, at: DateTime<Utc>) -> Fact<Tpm> {
    const METHOD: &str = "sysfs:class/tpm";
    let dir = root.sys.join("class/tpm/tpm0");
    if !fs.exists(&dir) {
        return Fact::new(
            FactState::Fail,
            Some(Tpm {
                present: false,
                version: None,
            }),
            METHOD,
            at,
        )
        .with("no /sys/class/tpm/tpm0: no TPM, disabled in firmware, or driver not loaded");
    }
    let version = match fs
        .read_to_string(&dir.join("tpm_version_major"))
        .map(|s| s.trim().to_owned())
    {
        Ok(v) if v == "2" => Some("2.0".to_owned()),
        Ok(v) if v == "1" => Some("1.2".to_owned()),
        Ok(v) => Some(v),
        Err(_) => None,
    };
    Fact::new(
        FactState::Ok,
        Some(Tpm {
            present: true,
            version: version.clone(),
        }),
        METHOD,
        at,
    )
    .with(format!(
        "tpm0 present, version {}",
        version.as_deref().unwrap_or("not reported (older kernel)")
    ))
}

/// `KEY="value"` lines of os-release.
pub fn os_release_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let v = l.strip_prefix(key)?.strip_prefix('=')?;
        Some(v.trim().trim_matches('"').trim_matches('\'').to_owned())
    })
}

/// OS name, version and kernel.
pub fn check_os(root: &SysRoot, fs: &dyn Fs, at: DateTime<Utc>) -> Fact<OsInfo> {
    const METHOD: &str = "file:os-release";
    let mut evidence = Vec::new();
    let mut os = OsInfo {
        family: "linux".into(),
        ..OsInfo::default()
    };
    let rel = fs
        .read_to_string(&root.etc.join("os-release"))
        .or_else(|_| fs.read_to_string(&root.etc.join("../usr/lib/os-release")));
    match rel {
        Ok(t) => {
            os.name = os_release_value(&t, "NAME");
            os.version = os_release_value(&t, "VERSION_ID");
            evidence.push(format!(
                "os-release: {}",
                os_release_value(&t, "PRETTY_NAME").unwrap_or_else(|| "no PRETTY_NAME".into())
            ));
        }
        Err(e) => evidence.push(format!("os-release: {}", io_words(&e))),
    }
    match fs.read_to_string(&root.proc.join("sys/kernel/osrelease")) {
        Ok(k) => {
            os.kernel = Some(k.trim().to_owned());
            evidence.push(format!("kernel {}", k.trim()));
        }
        Err(e) => evidence.push(format!("kernel release: {}", io_words(&e))),
    }
    let state = if os.name.is_some() && os.kernel.is_some() {
        FactState::Ok
    } else {
        FactState::Unknown
    };
    Fact::new(state, Some(os), METHOD, at).with_all(evidence)
}

/// Latest date of an upgrade in apt's `history.log` (`Start-Date:` of an entry with `Upgrade:`).
pub fn last_apt_upgrade(history: &str) -> Option<NaiveDateTime> {
    let mut current: Option<NaiveDateTime> = None;
    let mut best: Option<NaiveDateTime> = None;
    for line in history.lines() {
        if let Some(d) = line.strip_prefix("Start-Date:") {
            let d = d.split_whitespace().collect::<Vec<_>>().join(" ");
            current = NaiveDateTime::parse_from_str(&d, "%Y-%m-%d %H:%M:%S").ok();
        } else if line.starts_with("Upgrade:")
            && let Some(c) = current
        {
            best = best.max(Some(c));
        }
    }
    best
}

/// Latest date of an `upgrade` line in `dpkg.log` (`2026-11-20 10:01:02 upgrade pkg ...`).
pub fn last_dpkg_upgrade(log: &str) -> Option<NaiveDateTime> {
    log.lines()
        .filter(|l| l.split_whitespace().nth(2) == Some("upgrade"))
        .filter_map(|l| NaiveDateTime::parse_from_str(l.get(..19)?, "%Y-%m-%d %H:%M:%S").ok())
        .max()
}

/// `N updates can be applied immediately.` / `M of these updates are standard security
/// updates.` from Ubuntu's update-notifier.
pub fn parse_updates_available(text: &str) -> (Option<u32>, Option<u32>) {
    let mut pending = None;
    let mut security = None;
    for l in text.lines().map(str::trim) {
        let first = l
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u32>().ok());
        if l.contains("can be applied immediately") || l.contains("packages can be updated") {
            pending = first;
        } else if l.contains("security update") {
            security = first;
        }
    }
    (pending, security)
}

/// Days since the last package upgrade, pending updates.
pub fn check_updates(
    root: &SysRoot,
    fs: &dyn Fs,
    max_days: u32,
    at: DateTime<Utc>,
) -> Fact<Updates> {
    const METHOD: &str = "file:package-logs";
    // Logs can be megabytes; the newest entries are at the end.
    const TAIL: u64 = 512 * 1024;
    let mut evidence = Vec::new();
    let mut last: Option<NaiveDateTime> = None;
    for name in [
        "apt/history.log",
        "dpkg.log",
        "apt/history.log.1",
        "dpkg.log.1",
    ] {
        let p = root.var.join("log").join(name);
        match fs.read_tail(&p, TAIL) {
            Ok(t) => {
                let found = if name.starts_with("apt") {
                    last_apt_upgrade(&t)
                } else {
                    last_dpkg_upgrade(&t)
                };
                if let Some(f) = found {
                    evidence.push(format!("/var/log/{name}: last upgrade {f}"));
                    last = last.max(Some(f));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => evidence.push(format!("/var/log/{name}: {}", io_words(&e))),
        }
        if last.is_some() && name.ends_with(".log") && name.starts_with("dpkg") {
            break;
        }
    }
    let (pending, pending_security) = fs
        .read_to_string(&root.var.join("lib/update-notifier/updates-available"))
        .map(|t| parse_updates_available(&t))
        .unwrap_or((None, None));
    if let Some(p) = pending {
        evidence.push(format!(
            "update-notifier: {p} pending{}",
            pending_security
                .map(|s| format!(", {s} security"))
                .unwrap_or_default()
        ));
    }
    if last.is_none()
        && let Some(d) = fs
            .modified(&root.var.join("log/dpkg.log"))
            .ok()
            .and_then(|m| age_days(m, at))
    {
        evidence.push(format!(
            "dpkg.log last written {d} day(s) ago (any package change, not proof of an update)"
        ));
    }
    let days = last.map(|l| (at.naive_utc() - l).num_days().max(0));
    let days_u32 = days.and_then(|d| u32::try_from(d).ok());
    let state = match days_u32 {
        Some(d) if d <= max_days => FactState::Ok,
        Some(_) => FactState::Fail,
        None => {
            evidence.push(
                "no readable apt/dpkg upgrade record; days since the last update unknown (security origin is not recorded in these logs)"
                    .into(),
            );
            FactState::Unknown
        }
    };
    if let Some(d) = days_u32 {
        evidence.push(format!(
            "{d} day(s) since the last package upgrade (limit {max_days})"
        ));
    }
    Fact::new(
        state,
        Some(Updates {
            days_since_last_update: days_u32,
            pending,
            pending_security,
        }),
        METHOD,
        at,
    )
    .with_all(evidence)
}

/// `APT::Periodic::Unattended-Upgrade "1";` across apt.conf.d files (last one wins).
pub fn apt_unattended(texts: &[String]) -> Option<bool> {
    let mut v = None;
    for t in texts {
        for l in t.lines().map(str::trim).filter(|l| !l.starts_with("//")) {
            if let Some(rest) = l.strip_prefix("APT::Periodic::Unattended-Upgrade") {
                let val = rest.trim().trim_end_matches(';').trim().trim_matches('"');
                v = Some(val != "0" && !val.is_empty());
            }
        }
    }
    v
}

/// Automatic updates (unattended-upgrades, dnf-automatic).
pub fn check_auto_updates(root: &SysRoot, fs: &dyn Fs, at: DateTime<Utc>) -> Fact<AutoUpdates> {
    const METHOD: &str = "file:package-config";
    let confd = root.etc.join("apt/apt.conf.d");
    if let Ok(names) = fs.read_dir(&confd) {
        let texts: Vec<String> = names
            .iter()
            .filter_map(|n| fs.read_to_string(&confd.join(n)).ok())
            .collect();
        let on = apt_unattended(&texts);
        let state = if on == Some(true) {
            FactState::Ok
        } else {
            FactState::Fail
        };
        return Fact::new(
            state,
            Some(AutoUpdates {
                enabled: Some(on == Some(true)),
                mechanism: Some("unattended-upgrades".into()),
            }),
            METHOD,
            at,
        )
        .with(match on {
            Some(true) => "APT::Periodic::Unattended-Upgrade is on",
            Some(false) => "APT::Periodic::Unattended-Upgrade is \"0\"",
            None => "apt present, APT::Periodic::Unattended-Upgrade not set",
        });
    }
    let timers = root.etc.join("systemd/system/timers.target.wants");
    let dnf = [
        "dnf-automatic.timer",
        "dnf-automatic-install.timer",
        "dnf5-automatic.timer",
    ]
    .into_iter()
    .find(|t| fs.exists(&timers.join(t)));
    if let Some(t) = dnf {
        return Fact::new(
            FactState::Ok,
            Some(AutoUpdates {
                enabled: Some(true),
                mechanism: Some("dnf-automatic".into()),
            }),
            METHOD,
            at,
        )
        .with(format!("{t} enabled"));
    }
    Fact::new(FactState::Unknown, Some(AutoUpdates::default()), METHOD, at)
        .with("neither apt nor an enabled dnf-automatic timer found")
}

/// Machine id (hashed) and DMI serial.
pub fn check_identity(
    root: &SysRoot,
    fs: &dyn Fs,
    salt: &str,
    at: DateTime<Utc>,
) -> Fact<DeviceIdentity> {
    const METHOD: &str = "file:machine-id+dmi";
    let mut evidence = Vec::new();
    let mut id = DeviceIdentity::default();
    match fs.read_to_string(&root.etc.join("machine-id")) {
        Ok(m) if m.trim().len() >= 16 => {
            id.machine_id_hash = Some(hash_machine_id(salt, &m));
            evidence.push("machine-id read and hashed (raw id not reported)".into());
        }
        Ok(_) => evidence.push("/etc/machine-id is empty (first boot or image template)".into()),
        Err(e) => evidence.push(format!("/etc/machine-id: {}", io_words(&e))),
    }
    match fs.read_to_string(&root.sys.join("class/dmi/id/product_serial")) {
        Ok(s) => match validate_serial(&s) {
            Ok(v) => {
                id.serial = Some(v);
                evidence.push("DMI product_serial read".into());
            }
            Err(why) => evidence.push(format!("DMI product_serial refused: {why}")),
        },
        Err(e) => evidence.push(format!("DMI product_serial: {}", io_words(&e))),
    }
    let state = if id.machine_id_hash.is_some() {
        FactState::Ok
    } else {
        FactState::Unknown
    };
    Fact::new(state, Some(id), METHOD, at).with_all(evidence)
}

/// Whole days since a file changed, for evidence.
pub fn age_days(modified: SystemTime, at: DateTime<Utc>) -> Option<i64> {
    let m: DateTime<Utc> = modified.into();
    Some((at - m).num_days())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn efi_bool_skips_attributes() {
        assert_eq!(parse_efi_bool(&[6, 0, 0, 0, 1]), Some(true));
        assert_eq!(parse_efi_bool(&[6, 0, 0, 0, 0]), Some(false));
        assert_eq!(parse_efi_bool(&[6, 0, 0, 0]), None);
        assert_eq!(parse_efi_bool(&[6, 0, 0, 0, 7]), None);
    }

    #[test]
    fn os_release() {
        let t = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n";
        assert_eq!(
            os_release_value(t, "NAME").as_deref(),
            Some("Debian GNU/Linux")
        );
        assert_eq!(os_release_value(t, "VERSION_ID").as_deref(), Some("12"));
        assert_eq!(
            os_release_value(t, "VERSION"),
            None,
            "prefix of another key does not match"
        );
    }

    #[test]
    fn apt_history_last_upgrade() {
        let t = "\nStart-Date: 2026-11-01  10:00:00\nCommandline: apt install x\nInstall: x:amd64 (1)\nEnd-Date: 2026-11-01  10:00:05\n\nStart-Date: 2026-10-20  09:00:00\nUpgrade: libc6:amd64 (2.36-9, 2.36-9+deb12u1)\nEnd-Date: 2026-10-20  09:01:00\n";
        let d = last_apt_upgrade(t).unwrap();
        assert_eq!(
            d.to_string(),
            "2026-10-20 09:00:00",
            "installs are not upgrades"
        );
    }

    #[test]
    fn dpkg_last_upgrade() {
        let t = "2026-11-20 10:01:02 startup archives unpack\n2026-11-20 10:01:03 upgrade libssl3:amd64 3.0.1 3.0.2\n2026-11-21 08:00:00 install foo:amd64 <none> 1\n";
        assert_eq!(
            last_dpkg_upgrade(t).unwrap().to_string(),
            "2026-11-20 10:01:03"
        );
    }

    #[test]
    fn update_notifier() {
        let t = "\n12 updates can be applied immediately.\n5 of these updates are standard security updates.\nTo see these additional updates run: apt list --upgradable\n";
        assert_eq!(parse_updates_available(t), (Some(12), Some(5)));
    }

    #[test]
    fn unattended_upgrades() {
        let a = vec!["APT::Periodic::Update-Package-Lists \"1\";\nAPT::Periodic::Unattended-Upgrade \"1\";\n".to_owned()];
        assert_eq!(apt_unattended(&a), Some(true));
        let b = vec![
            a[0].clone(),
            "APT::Periodic::Unattended-Upgrade \"0\";".to_owned(),
        ];
        assert_eq!(
            apt_unattended(&b),
            Some(false),
            "later files override earlier ones"
        );
        assert_eq!(
            apt_unattended(&["// APT::Periodic::Unattended-Upgrade \"1\";".to_owned()]),
            None
        );
    }
}
