//! Pure parsers for macOS command output. Each is tested against captured outputs in
//! `testdata/macos/` (first line of each file says where it came from).

use chrono::{DateTime, Utc};

use crate::fact::{Fact, FactState};
use crate::report::{ManagementKind, SecureBoot, Tpm, Updates};

/// `fdesetup status`.
#[derive(Debug, Clone, PartialEq)]
pub enum FileVault {
    On,
    Off,
    /// `Encryption in progress: Percent completed = 42.0`
    Encrypting {
        percent: Option<f64>,
    },
    /// `Decryption in progress: …`: protection is going away.
    Decrypting {
        percent: Option<f64>,
    },
    /// `Deferred enablement appears to be active for user 'x'.`: turns on at next login.
    Deferred {
        user: Option<String>,
    },
    Unrecognised,
}

impl FileVault {
    /// The fact state: only fully on is ok.
    pub fn state(&self) -> FactState {
        match self {
            Self::On => FactState::Ok,
            Self::Encrypting { .. } => FactState::Converting,
            Self::Off | Self::Decrypting { .. } | Self::Deferred { .. } => FactState::Fail,
            Self::Unrecognised => FactState::Unknown,
        }
    }
}

fn percent_after(line: &str) -> Option<f64> {
    let v = line.rsplit('=').next()?.trim().trim_end_matches(['%', '.']);
    v.parse().ok()
}

/// Parses `fdesetup status`. Progress lines win over the "is On." line printed with them.
pub fn parse_fdesetup(text: &str) -> FileVault {
    let mut result = FileVault::Unrecognised;
    for line in text.lines().map(str::trim) {
        if line.starts_with("Encryption in progress") {
            return FileVault::Encrypting {
                percent: percent_after(line),
            };
        }
        if line.starts_with("Decryption in progress") {
            return FileVault::Decrypting {
                percent: percent_after(line),
            };
        }
        if line.starts_with("Deferred enablement appears to be active") {
            let user = line.split('\'').nth(1).map(str::to_owned);
            return FileVault::Deferred { user };
        }
        if line == "FileVault is On." {
            result = FileVault::On;
        } else if line == "FileVault is Off." {
            result = FileVault::Off;
        }
    }
    result
}

/// One volume from `diskutil info -plist`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DiskutilVolume {
    pub device: Option<String>,
    pub volume_name: Option<String>,
    pub mount_point: Option<String>,
    pub internal: Option<bool>,
    pub removable: Option<bool>,
    /// FileVault protects the volume (what counts; `Encryption` alone is true on Apple
    /// silicon and T2 Macs even with FileVault off, because the hardware always encrypts
    /// with a key that is not the user's).
    pub filevault: Option<bool>,
    pub encryption: Option<bool>,
    pub locked: Option<bool>,
}

/// Parses `diskutil info -plist <volume>`; `None` for non-plist or an error plist.
pub fn parse_diskutil_info(bytes: &[u8]) -> Option<DiskutilVolume> {
    let v: plist::Value = plist::from_bytes(bytes).ok()?;
    let d = v.as_dictionary()?;
    if d.get("Error").and_then(plist::Value::as_boolean) == Some(true) {
        return None;
    }
    let s = |k: &str| {
        d.get(k)
            .and_then(plist::Value::as_string)
            .map(str::to_owned)
    };
    let b = |k: &str| d.get(k).and_then(plist::Value::as_boolean);
    Some(DiskutilVolume {
        device: s("DeviceIdentifier"),
        volume_name: s("VolumeName"),
        mount_point: s("MountPoint"),
        internal: b("Internal"),
        removable: b("RemovableMediaOrExternalDevice").or(b("RemovableMedia")),
        filevault: b("FileVault"),
        encryption: b("Encryption"),
        locked: b("Locked"),
    })
}

/// One APFS volume from `diskutil apfs list -plist`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApfsVolume {
    pub device: String,
    pub name: String,
    pub roles: Vec<String>,
    pub filevault: bool,
    pub encryption: bool,
    /// Encryption or decryption is running on this volume.
    pub crypto_migration: bool,
}

/// Parses `diskutil apfs list -plist` into volumes.
pub fn parse_apfs_list(bytes: &[u8]) -> Option<Vec<ApfsVolume>> {
    let v: plist::Value = plist::from_bytes(bytes).ok()?;
    let containers = v.as_dictionary()?.get("Containers")?.as_array()?;
    let mut out = Vec::new();
    for c in containers {
        let Some(vols) = c
            .as_dictionary()
            .and_then(|d| d.get("Volumes"))
            .and_then(plist::Value::as_array)
        else {
            continue;
        };
        for vol in vols.iter().filter_map(plist::Value::as_dictionary) {
            let s = |k: &str| {
                vol.get(k)
                    .and_then(plist::Value::as_string)
                    .unwrap_or_default()
                    .to_owned()
            };
            let b = |k: &str| {
                vol.get(k)
                    .and_then(plist::Value::as_boolean)
                    .unwrap_or(false)
            };
            out.push(ApfsVolume {
                device: s("DeviceIdentifier"),
                name: s("Name"),
                roles: vol
                    .get("Roles")
                    .and_then(plist::Value::as_array)
                    .map(|r| {
                        r.iter()
                            .filter_map(|x| x.as_string().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
                filevault: b("FileVault"),
                encryption: b("Encryption"),
                crypto_migration: b("CryptoMigrationOn"),
            });
        }
    }
    Some(out)
}

/// The user-data volumes that must be FileVault-protected: role `Data`, or no role at all
/// (volumes a user created). System, Preboot, Recovery, VM, Update, xART, Hardware are
/// sealed or hold no user data.
pub fn user_data_volumes(vols: &[ApfsVolume]) -> Vec<&ApfsVolume> {
    vols.iter()
        .filter(|v| v.roles.is_empty() || v.roles.iter().any(|r| r == "Data"))
        .collect()
}

/// `socketfilterfw --getglobalstate`: 0 off, 1 on, 2 on and blocking all non-essential
/// (the wording of state 2 has no "enabled" in it, which older parsers missed).
pub fn parse_socketfilterfw(text: &str) -> Option<u8> {
    let line = text.lines().find(|l| l.contains("(State = "))?;
    let n = line.split("(State = ").nth(1)?.split(')').next()?.trim();
    n.parse().ok()
}

/// `profiles status -type enrollment`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Enrollment {
    pub via_dep: Option<bool>,
    pub mdm: Option<bool>,
    pub user_approved: bool,
    pub server: Option<String>,
}

impl Enrollment {
    /// The management kind: ADE (via DEP) beats user-approved; unapproved MDM is
    /// still MDM but cannot install kernel/system extension policies.
    pub fn kind(&self) -> ManagementKind {
        match (self.mdm, self.via_dep) {
            (Some(true), Some(true)) => ManagementKind::Ade,
            (Some(true), _) if self.user_approved => ManagementKind::UserApprovedMdm,
            (Some(true), _) => ManagementKind::Mdm,
            _ => ManagementKind::None,
        }
    }
}

/// Parses `profiles status -type enrollment`.
pub fn parse_profiles_enrollment(text: &str) -> Option<Enrollment> {
    let mut e = Enrollment::default();
    let mut any = false;
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Enrolled via DEP:") {
            e.via_dep = Some(v.trim().starts_with("Yes"));
            any = true;
        } else if let Some(v) = line.strip_prefix("MDM enrollment:") {
            let v = v.trim();
            e.mdm = Some(v.starts_with("Yes"));
            e.user_approved = v.contains("User Approved");
            any = true;
        } else if let Some(v) = line.strip_prefix("MDM server:") {
            e.server = Some(v.trim().to_owned());
        }
    }
    any.then_some(e)
}

/// `sysadminctl -screenLock status` (printed on stderr after a log prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScreenLockDelay {
    Immediate,
    Seconds(u32),
    Off,
}

/// Parses `sysadminctl -screenLock status`.
pub fn parse_sysadminctl_screenlock(text: &str) -> Option<ScreenLockDelay> {
    let lower = text.to_ascii_lowercase();
    if lower.contains("screenlock is off") {
        return Some(ScreenLockDelay::Off);
    }
    let rest = lower.split("screenlock delay is ").nth(1)?;
    let word = rest.split_whitespace().next()?;
    if word == "immediate" {
        return Some(ScreenLockDelay::Immediate);
    }
    // "-1 seconds" (and "-1.000000") means off on some releases.
    let n: f64 = word.parse().ok()?;
    if n < 0.0 {
        Some(ScreenLockDelay::Off)
    } else {
        // Delays are whole seconds in practice; fractions are dropped.
        Some(ScreenLockDelay::Seconds(
            n.trunc().clamp(0.0, f64::from(u32::MAX)) as u32,
        ))
    }
}

/// `softwareupdate --schedule`: "Automatic checking for updates is turned on".
pub fn parse_softwareupdate_schedule(text: &str) -> Option<bool> {
    let l = text.to_ascii_lowercase();
    if l.contains("turned on") {
        Some(true)
    } else if l.contains("turned off") {
        Some(false)
    } else {
        None
    }
}

/// A quoted string property from `ioreg -rd1 -c IOPlatformExpertDevice`
/// (`"IOPlatformUUID" = "0A1B…"`).
pub fn parse_ioreg_string(text: &str, key: &str) -> Option<String> {
    let needle = format!("\"{key}\" = \"");
    text.lines().find_map(|l| {
        let rest = l.split(needle.as_str()).nth(1)?;
        Some(rest.split('"').next()?.to_owned())
    })
}

/// Startup security level (Startup Security Utility / LocalPolicy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecureBootLevel {
    /// Only the current signed OS boots.
    Full,
    /// Any OS version Apple ever signed boots (also Apple silicon "reduced").
    Medium,
    /// No signature check ("No Security" / "permissive").
    Off,
}

/// `SecureBootLevel = …;` from `mdmclient QuerySecurityInfo`; `None` when the dictionary has
/// no such key (Intel Mac without T2: secure boot is not available).
pub fn parse_secure_boot_level(text: &str) -> Option<SecureBootLevel> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("SecureBootLevel"))?;
    let v = line
        .split_once('=')?
        .1
        .trim()
        .trim_end_matches(';')
        .trim()
        .trim_matches('"')
        .to_ascii_lowercase();
    match v.as_str() {
        "full" => Some(SecureBootLevel::Full),
        "medium" | "reduced" => Some(SecureBootLevel::Medium),
        "off" | "none" | "permissive" | "not supported" => Some(SecureBootLevel::Off),
        _ => None,
    }
}

/// The secure boot fact from `mdmclient QuerySecurityInfo` output (or why it could not run).
/// Only full security is ok: medium boots any OS version Apple ever signed, old and
/// vulnerable ones included.
pub fn secure_boot_fact(out: Result<&str, &str>, at: DateTime<Utc>) -> Fact<SecureBoot> {
    const METHOD: &str = "command:mdmclient QuerySecurityInfo";
    let text = match out {
        Ok(t) => t,
        Err(e) => return Fact::unknown(METHOD, e.to_owned(), at),
    };
    let on = |enabled: bool| SecureBoot {
        enabled: Some(enabled),
        setup_mode: None,
    };
    match parse_secure_boot_level(text) {
        Some(SecureBootLevel::Full) => {
            Fact::new(FactState::Ok, Some(on(true)), METHOD, at).with("SecureBootLevel = full")
        }
        Some(SecureBootLevel::Medium) => Fact::new(FactState::Fail, Some(on(true)), METHOD, at)
            .with("SecureBootLevel = medium: any OS version Apple ever signed may boot"),
        Some(SecureBootLevel::Off) => Fact::new(FactState::Fail, Some(on(false)), METHOD, at)
            .with("SecureBootLevel is off: no signature check at startup"),
        None if text.contains("SecurityInfo") => {
            Fact::new(FactState::Fail, Some(on(false)), METHOD, at)
                .with("no SecureBoot entry: an Intel Mac without a T2 chip has no secure boot")
        }
        None => Fact::unknown(METHOD, "output not understood", at),
    }
}

/// Where this Mac's Secure Enclave is (the TPM counterpart), from the CPU brand
/// (`sysctl -n machdep.cpu.brand_string`) and `system_profiler SPiBridgeDataType`.
/// `None`: an Intel Mac without T1/T2, which has none.
pub fn secure_enclave(cpu_brand: &str, ibridge: &str) -> Option<String> {
    let brand = cpu_brand.trim();
    if brand.starts_with("Apple ") {
        return Some(format!("{brand} (Secure Enclave in the SoC)"));
    }
    ibridge.lines().map(str::trim).find_map(|l| {
        let model = l.strip_prefix("Model Name:")?.trim();
        model
            .starts_with("Apple T")
            .then(|| format!("{model} (Secure Enclave)"))
    })
}

/// The TPM fact on a Mac: the Secure Enclave plays its part (hardware key storage,
/// secure boot root of trust).
pub fn enclave_fact(
    cpu_brand: Result<&str, &str>,
    ibridge: Result<&str, &str>,
    at: DateTime<Utc>,
) -> Fact<Tpm> {
    const METHOD: &str = "command:sysctl+system_profiler";
    let brand = match cpu_brand {
        Ok(b) => b,
        Err(e) => return Fact::unknown(METHOD, format!("sysctl: {e}"), at),
    };
    let bridge = ibridge.unwrap_or_default();
    match secure_enclave(brand, bridge) {
        Some(what) => Fact::new(
            FactState::Ok,
            Some(Tpm {
                present: true,
                version: Some("Secure Enclave".into()),
            }),
            METHOD,
            at,
        )
        .with(what),
        None if ibridge.is_err() => Fact::unknown(
            METHOD,
            format!(
                "{} with no T2 information (system_profiler failed)",
                brand.trim()
            ),
            at,
        ),
        None => Fact::new(
            FactState::Fail,
            Some(Tpm {
                present: false,
                version: None,
            }),
            METHOD,
            at,
        )
        .with(format!(
            "{}: Intel Mac without a T1/T2 chip, no Secure Enclave",
            brand.trim()
        )),
    }
}

/// One install from `/Library/Receipts/InstallHistory.plist`.
#[derive(Debug, Clone, PartialEq)]
pub struct Install {
    pub date: DateTime<Utc>,
    pub name: String,
    pub version: Option<String>,
    pub process: Option<String>,
}

/// Parses `InstallHistory.plist` (the dates are UTC plist dates, unlike the localised
/// `softwareupdate --history`).
pub fn parse_install_history(bytes: &[u8]) -> Option<Vec<Install>> {
    let v: plist::Value = plist::from_bytes(bytes).ok()?;
    Some(
        v.as_array()?
            .iter()
            .filter_map(plist::Value::as_dictionary)
            .filter_map(|d| {
                let date = d.get("date")?.as_date()?;
                let st: std::time::SystemTime = date.into();
                Some(Install {
                    date: st.into(),
                    name: d.get("displayName")?.as_string()?.to_owned(),
                    version: d
                        .get("displayVersion")
                        .and_then(plist::Value::as_string)
                        .map(str::to_owned),
                    process: d
                        .get("processName")
                        .and_then(plist::Value::as_string)
                        .map(str::to_owned),
                })
            })
            .collect(),
    )
}

/// An OS or security update, as opposed to an app or a security data file (XProtect, MRT,
/// Gatekeeper data update on their own schedule and say nothing about the OS).
pub fn is_os_update(i: &Install) -> bool {
    let n = i.name.to_ascii_lowercase();
    i.process.as_deref() == Some("softwareupdated")
        && (n.starts_with("macos")
            || n.starts_with("security update")
            || n.contains("rapid security response")
            || n.contains("background security"))
}

/// Days since the last OS or security update from the install history.
pub fn updates_fact(plist: Result<&[u8], &str>, max_days: u32, at: DateTime<Utc>) -> Fact<Updates> {
    const METHOD: &str = "file:/Library/Receipts/InstallHistory.plist";
    let bytes = match plist {
        Ok(b) => b,
        Err(e) => return Fact::unknown(METHOD, e.to_owned(), at),
    };
    let Some(installs) = parse_install_history(bytes) else {
        return Fact::unknown(METHOD, "not a readable install history plist", at);
    };
    let Some(last) = installs
        .iter()
        .filter(|i| is_os_update(i))
        .max_by_key(|i| i.date)
    else {
        return Fact::new(FactState::Unknown, Some(Updates::default()), METHOD, at)
            .with("no macOS update recorded by softwareupdated");
    };
    let days = u32::try_from((at - last.date).num_days().max(0)).unwrap_or(u32::MAX);
    let state = if days <= max_days {
        FactState::Ok
    } else {
        FactState::Fail
    };
    Fact::new(
        state,
        Some(Updates {
            days_since_last_update: Some(days),
            pending: None,
            pending_security: None,
        }),
        METHOD,
        at,
    )
    .with(format!(
        "last OS update {} {} on {}: {days} day(s) ago (limit {max_days})",
        last.name,
        last.version.as_deref().unwrap_or_default(),
        last.date.format("%Y-%m-%d")
    ))
}

#[cfg(test)]
mod tests;
