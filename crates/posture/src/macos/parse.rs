//! Pure parsers for macOS command output. Each is tested against captured outputs in
//! `testdata/macos/` (first line of each file says where it came from).

use crate::fact::FactState;
use crate::report::ManagementKind;

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

#[cfg(test)]
mod tests;
