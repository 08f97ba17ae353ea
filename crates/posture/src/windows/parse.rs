//! Pure parsers for Windows command output. Each is tested against captured outputs in
//! `testdata/windows/` (first line of each file says where it came from).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::fact::{Fact, FactState};
use crate::report::{
    AutoUpdates, DiskEncryption, EncryptionStatus, FirewallProfile, Management, ManagementKind,
    Tpm, Volume, VolumeRole,
};

/// Meaning of the shell property `System.Volume.BitLockerProtection` (readable without
/// admin). 1 on, 2 off, 3 encrypting, 4 decrypting, 5 suspended, 6 on and locked,
/// 8 waiting for activation (encrypted with a clear key: device encryption not yet turned
/// on). 5 and 8 leave the key unprotected, so they are not encrypted for our purpose; values
/// outside this list are unknown.
pub fn bitlocker_protection(value: i64) -> (FactState, &'static str) {
    match value {
        1 => (FactState::Ok, "BitLocker on"),
        6 => (FactState::Ok, "BitLocker on (locked)"),
        3 => (FactState::Converting, "BitLocker encrypting"),
        2 => (FactState::Fail, "BitLocker off"),
        4 => (FactState::Fail, "BitLocker decrypting"),
        5 => (FactState::Fail, "BitLocker suspended (key stored in clear)"),
        8 => (
            FactState::Fail,
            "BitLocker waiting for activation (key stored in clear)",
        ),
        _ => (
            FactState::Unknown,
            "BitLocker protection value not documented",
        ),
    }
}

/// Parses one `ExtendedProperty('System.Volume.BitLockerProtection')` output (`1\r\n`);
/// an empty output means the property is absent (no BitLocker support).
pub fn parse_bitlocker_value(text: &str) -> Option<i64> {
    text.trim().parse().ok()
}

/// Parses the runner's per-drive lines `C:=1`.
pub fn parse_bitlocker_drives(text: &str) -> Vec<(String, Option<i64>)> {
    text.lines()
        .filter_map(|l| {
            let (drive, v) = l.trim().split_once('=')?;
            Some((drive.trim().to_owned(), parse_bitlocker_value(v)))
        })
        .collect()
}

/// WMI `Win32_EncryptableVolume` (admin only): `ProtectionStatus` 0 unprotected,
/// 1 protected, 2 unknown; `ConversionStatus` 2 = encryption in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptableVolume {
    pub drive: String,
    pub protection: Option<i64>,
    pub conversion: Option<i64>,
}

impl EncryptableVolume {
    /// The fact state for this volume.
    pub fn state(&self) -> FactState {
        match (self.protection, self.conversion) {
            (Some(1), _) => FactState::Ok,
            (_, Some(2)) => FactState::Converting,
            (Some(0), _) => FactState::Fail,
            _ => FactState::Unknown,
        }
    }
}

/// Parses `Get-CimInstance … Win32_EncryptableVolume | Select DriveLetter,ProtectionStatus,
/// ConversionStatus | ConvertTo-Json` (an object for one volume, an array for several).
pub fn parse_encryptable_volumes(json: &str) -> Option<Vec<EncryptableVolume>> {
    let v: Value = serde_json::from_str(json.trim()).ok()?;
    Some(
        as_items(&v)
            .iter()
            .map(|o| EncryptableVolume {
                drive: o
                    .get("DriveLetter")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                protection: o.get("ProtectionStatus").and_then(Value::as_i64),
                conversion: o.get("ConversionStatus").and_then(Value::as_i64),
            })
            .collect(),
    )
}

/// ConvertTo-Json gives an object for one item and an array for several.
fn as_items(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![v],
        _ => Vec::new(),
    }
}

/// `GpoBoolean` as ConvertTo-Json writes it (0 False, 1 True, 2 NotConfigured) or as a
/// string when projected (`"True"`).
fn gpo_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        },
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// `Action` (0 NotConfigured, 2 Allow, 4 Block) or its name.
fn action(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => match n.as_i64()? {
            0 => Some("NotConfigured".into()),
            2 => Some("Allow".into()),
            4 => Some("Block".into()),
            _ => None,
        },
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// Parses `Get-NetFirewallProfile | Select Name,Enabled,DefaultInboundAction | ConvertTo-Json`.
pub fn parse_firewall_profiles(json: &str) -> Option<Vec<FirewallProfile>> {
    let v: Value = serde_json::from_str(json.trim()).ok()?;
    let profiles: Vec<FirewallProfile> = as_items(&v)
        .iter()
        .filter_map(|o| {
            Some(FirewallProfile {
                name: o.get("Name")?.as_str()?.to_owned(),
                enabled: o.get("Enabled").and_then(gpo_bool),
                default_inbound: o.get("DefaultInboundAction").and_then(action),
            })
        })
        .collect();
    (!profiles.is_empty()).then_some(profiles)
}

/// Firewall state from profiles: every profile must be enabled (a laptop moves between
/// networks, so an off Public profile matters even on a domain network).
pub fn firewall_state(profiles: &[FirewallProfile]) -> FactState {
    if profiles.iter().any(|p| p.enabled == Some(false)) {
        FactState::Fail
    } else if profiles.iter().all(|p| p.enabled == Some(true)) && !profiles.is_empty() {
        FactState::Ok
    } else {
        FactState::Unknown
    }
}

/// The device state block of `dsregcmd /status`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dsreg {
    pub azure_ad_joined: Option<bool>,
    pub enterprise_joined: Option<bool>,
    pub domain_joined: Option<bool>,
    pub domain_name: Option<String>,
    pub workplace_joined: Option<bool>,
}

impl Dsreg {
    /// Entra (Azure AD) join beats a plain domain join.
    pub fn kind(&self) -> ManagementKind {
        if self.azure_ad_joined == Some(true) {
            ManagementKind::EntraIntune
        } else if self.domain_joined == Some(true) || self.enterprise_joined == Some(true) {
            ManagementKind::Domain
        } else {
            ManagementKind::None
        }
    }
}

/// Parses `dsregcmd /status` (`Key : VALUE` lines inside boxed sections).
pub fn parse_dsregcmd(text: &str) -> Option<Dsreg> {
    let mut d = Dsreg::default();
    let mut any = false;
    for line in text.lines() {
        let Some((k, v)) = line.split_once(" : ") else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        let yes = || Some(v.eq_ignore_ascii_case("YES"));
        match k {
            "AzureAdJoined" => d.azure_ad_joined = yes(),
            "EnterpriseJoined" => d.enterprise_joined = yes(),
            "DomainJoined" => d.domain_joined = yes(),
            "DomainName" => d.domain_name = Some(v.to_owned()),
            "WorkplaceJoined" => d.workplace_joined = yes(),
            _ => continue,
        }
        any = true;
    }
    any.then_some(d)
}

/// A `REG_DWORD` value from `reg query KEY /v NAME` (`    NAME    REG_DWORD    0x384`).
pub fn parse_reg_dword(text: &str, name: &str) -> Option<u32> {
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        match f.as_slice() {
            [n, "REG_DWORD", v] if n.eq_ignore_ascii_case(name) => {
                u32::from_str_radix(v.trim_start_matches("0x"), 16).ok()
            }
            _ => None,
        }
    })
}

/// A `REG_SZ` value from `reg query KEY /v NAME` (`    NAME    REG_SZ    text with spaces`).
pub fn parse_reg_sz(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let t = l.trim_start();
        let rest = t.strip_prefix(name)?;
        let rest = rest.trim_start().strip_prefix("REG_SZ")?;
        Some(rest.trim().to_owned())
    })
}

/// `reg query` said the key or value does not exist.
pub fn reg_missing(text: &str) -> bool {
    text.contains("unable to find the specified registry key or value")
}

/// Disk encryption from the shell property (no admin), falling back to WMI
/// `Win32_EncryptableVolume` (admin) for every drive the shell could not answer for: Home
/// editions and some shells leave the property empty. `wmi` is only called when needed.
pub fn disk_encryption_fact(
    shell: Result<&str, &str>,
    wmi: &dyn Fn() -> Result<String, String>,
    at: DateTime<Utc>,
) -> Fact<DiskEncryption> {
    let mut evidence = Vec::new();
    let drives = match shell {
        Ok(out) => parse_bitlocker_drives(out),
        Err(e) => {
            evidence.push(format!("shell BitLocker property: {e}"));
            Vec::new()
        }
    };
    let mut method = "shell:System.Volume.BitLockerProtection".to_owned();
    let mut wmi_volumes: Option<Vec<EncryptableVolume>> = None;
    if drives.is_empty() || drives.iter().any(|(_, v)| v.is_none()) {
        match wmi() {
            Ok(out) => match parse_encryptable_volumes(&out) {
                Some(v) => {
                    method.push_str("+wmi:Win32_EncryptableVolume");
                    evidence.push(format!(
                        "shell property unavailable for some drives; WMI Win32_EncryptableVolume listed {} volume(s)",
                        v.len()
                    ));
                    wmi_volumes = Some(v);
                }
                None => evidence.push("WMI Win32_EncryptableVolume: output not understood".into()),
            },
            Err(e) => evidence.push(format!(
                "WMI Win32_EncryptableVolume fallback: {e} (needs an administrator)"
            )),
        }
    }
    let mut volumes = Vec::new();
    let mut names: Vec<String> = drives.iter().map(|(d, _)| d.clone()).collect();
    if let Some(w) = &wmi_volumes {
        for v in w {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(&v.drive)) && !v.drive.is_empty() {
                names.push(v.drive.clone());
            }
        }
    }
    for drive in names {
        let shell_value = drives
            .iter()
            .find(|(d, _)| *d == drive)
            .and_then(|(_, v)| *v);
        let (state, words) = match shell_value {
            Some(v) => {
                let (s, w) = bitlocker_protection(v);
                (s, format!("{w} (shell value {v})"))
            }
            None => match wmi_volumes
                .as_ref()
                .and_then(|w| w.iter().find(|x| x.drive.eq_ignore_ascii_case(&drive)))
            {
                Some(x) => (
                    x.state(),
                    format!(
                        "WMI ProtectionStatus {:?}, ConversionStatus {:?}",
                        x.protection, x.conversion
                    ),
                ),
                None => (
                    FactState::Unknown,
                    "no BitLocker property and no WMI answer".into(),
                ),
            },
        };
        evidence.push(format!("{drive} {words}"));
        volumes.push(Volume {
            role: if drive.eq_ignore_ascii_case("C:") {
                VolumeRole::Root
            } else {
                VolumeRole::Data
            },
            mount_point: drive.clone(),
            device: drive,
            state,
            percent: None,
        });
    }
    let states: Vec<FactState> = volumes.iter().map(|v| v.state).collect();
    let (state, status) = if states.is_empty() {
        (FactState::Unknown, EncryptionStatus::Unknown)
    } else if states.iter().all(|s| *s == FactState::Ok) {
        (FactState::Ok, EncryptionStatus::Full)
    } else if states.contains(&FactState::Fail) {
        let any_ok = states.contains(&FactState::Ok);
        (
            FactState::Fail,
            if any_ok {
                EncryptionStatus::Partial
            } else {
                EncryptionStatus::Disabled
            },
        )
    } else if states.contains(&FactState::Converting) {
        (FactState::Converting, EncryptionStatus::InProgress)
    } else {
        (FactState::Unknown, EncryptionStatus::Unknown)
    };
    Fact::new(state, Some(DiskEncryption { status, volumes }), method, at).with_all(evidence)
}

/// `Get-Tpm` (Format-List `Name : Value` lines).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TpmStatus {
    pub present: Option<bool>,
    pub ready: Option<bool>,
    pub enabled: Option<bool>,
    pub manufacturer: Option<String>,
    /// "2.0", "1.2", or `None` when not said.
    pub version: Option<String>,
}

/// Parses `Get-Tpm`; `None` when it printed no property list (not elevated, error record).
pub fn parse_get_tpm(text: &str) -> Option<TpmStatus> {
    let mut t = TpmStatus::default();
    let mut any = false;
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        let b = || match v {
            "True" => Some(true),
            "False" => Some(false),
            _ => None,
        };
        match k {
            "TpmPresent" => t.present = b(),
            "TpmReady" => t.ready = b(),
            "TpmEnabled" => t.enabled = b(),
            "ManufacturerIdTxt" if !v.is_empty() => t.manufacturer = Some(v.to_owned()),
            // TPM 1.2 chips answer "Not Supported for TPM 1.2" here.
            "ManufacturerVersionFull20" if v.contains("1.2") => t.version = Some("1.2".into()),
            "ManufacturerVersionFull20" if !v.is_empty() => t.version = Some("2.0".into()),
            _ => continue,
        }
        any = true;
    }
    (any && t.present.is_some()).then_some(t)
}

/// The TPM fact from `Get-Tpm` output (or why it could not run).
pub fn tpm_fact(out: Result<&str, &str>, at: DateTime<Utc>) -> Fact<Tpm> {
    const METHOD: &str = "powershell:Get-Tpm";
    let text = match out {
        Ok(t) => t,
        Err(e) => return Fact::unknown(METHOD, e.to_owned(), at),
    };
    let Some(t) = parse_get_tpm(text) else {
        let why = if text.contains("Access denied") || text.contains("UnauthorizedAccess") {
            "Get-Tpm needs an administrator; not elevated".to_owned()
        } else {
            "Get-Tpm output not understood".to_owned()
        };
        return Fact::unknown(METHOD, why, at);
    };
    let present = t.present == Some(true);
    let state = if present && t.enabled != Some(false) {
        FactState::Ok
    } else {
        FactState::Fail
    };
    Fact::new(
        state,
        Some(Tpm {
            present,
            version: t.version.clone(),
        }),
        METHOD,
        at,
    )
    .with(format!(
        "TpmPresent {:?}, TpmEnabled {:?}, TpmReady {:?}, manufacturer {}",
        t.present,
        t.enabled,
        t.ready,
        t.manufacturer.as_deref().unwrap_or("not reported")
    ))
}

/// Automatic updates from the Windows Update policy key
/// (`HKLM\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU`). No policy means Windows'
/// default: updates download and install automatically.
pub fn auto_updates_fact(reg: Result<&str, &str>, at: DateTime<Utc>) -> Fact<AutoUpdates> {
    const METHOD: &str = "registry:WindowsUpdate\\AU";
    let text = match reg {
        Ok(t) => t,
        Err(e) => return Fact::unknown(METHOD, e.to_owned(), at),
    };
    let value = |enabled: bool| {
        Some(AutoUpdates {
            enabled: Some(enabled),
            mechanism: Some("windows-update".into()),
        })
    };
    if reg_missing(text) {
        return Fact::new(FactState::Ok, value(true), METHOD, at)
            .with("no Windows Update policy: Windows' default automatic updates apply");
    }
    let no_auto = parse_reg_dword(text, "NoAutoUpdate");
    let options = parse_reg_dword(text, "AUOptions");
    if no_auto == Some(1) {
        return Fact::new(FactState::Fail, value(false), METHOD, at)
            .with("NoAutoUpdate = 1: automatic updates disabled by policy");
    }
    match options {
        // 3 download and notify, 4 download and schedule, 7 download and notify restart:
        // updates arrive without the user asking.
        Some(o @ (3 | 4 | 7)) => Fact::new(FactState::Ok, value(true), METHOD, at)
            .with(format!("AUOptions = {o}: updates download automatically")),
        Some(2) => Fact::new(FactState::Fail, value(false), METHOD, at)
            .with("AUOptions = 2: only notifies; the user must start every download"),
        Some(5) => Fact::new(FactState::Unknown, None, METHOD, at)
            .with("AUOptions = 5: the local administrator chooses; not enforced"),
        Some(o) => Fact::new(FactState::Unknown, None, METHOD, at)
            .with(format!("AUOptions = {o}: not a documented value")),
        None => Fact::new(FactState::Ok, value(true), METHOD, at)
            .with("policy key present without AUOptions: Windows' default automatic updates apply"),
    }
}

/// One MDM enrolment under `HKLM\SOFTWARE\Microsoft\Enrollments\{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MdmEnrollment {
    pub id: String,
    pub provider: Option<String>,
    pub state: Option<u32>,
    pub kind: Option<u32>,
    pub upn: Option<String>,
}

impl MdmEnrollment {
    /// An enrolment with a management server that completed (`EnrollmentState` 1).
    pub fn active(&self) -> bool {
        self.state == Some(1) && self.provider.as_deref().is_some_and(|p| !p.is_empty())
    }
}

/// Parses `reg query HKLM\SOFTWARE\Microsoft\Enrollments /s`: one entry per direct subkey.
pub fn parse_enrollments(text: &str) -> Vec<MdmEnrollment> {
    const ROOT: &str = "\\SOFTWARE\\Microsoft\\Enrollments\\";
    let mut out: Vec<MdmEnrollment> = Vec::new();
    let mut current: Option<usize> = None;
    for line in text.lines() {
        if line.starts_with("HKEY_") {
            current = line.find(ROOT).and_then(|i| {
                let rest = &line[i + ROOT.len()..];
                (!rest.contains('\\')).then(|| {
                    out.push(MdmEnrollment {
                        id: rest.trim().to_owned(),
                        ..MdmEnrollment::default()
                    });
                    out.len() - 1
                })
            });
            continue;
        }
        let Some(e) = current.and_then(|i| out.get_mut(i)) else {
            continue;
        };
        let name = line.split_whitespace().next().unwrap_or_default();
        match name {
            "EnrollmentState" => e.state = parse_reg_dword(line, name),
            "EnrollmentType" => e.kind = parse_reg_dword(line, name),
            "ProviderID" => e.provider = parse_reg_sz(line, name),
            "UPN" => e.upn = parse_reg_sz(line, name),
            _ => {}
        }
    }
    out
}

/// Management from `dsregcmd /status` and the MDM enrolment keys: an active MDM enrolment
/// (Intune's provider is `MS DM Server`) wins; a join without MDM still counts as managed.
pub fn managed_fact(
    dsreg: Result<&str, &str>,
    enrollments: Result<&str, &str>,
    at: DateTime<Utc>,
) -> Fact<Management> {
    const METHOD: &str = "command:dsregcmd+registry:Enrollments";
    let mut evidence = Vec::new();
    let joined = match dsreg {
        Ok(t) => match parse_dsregcmd(t) {
            Some(d) => {
                evidence.push(format!(
                    "dsregcmd: AzureAdJoined {:?}, DomainJoined {:?}",
                    d.azure_ad_joined, d.domain_joined
                ));
                Some(d)
            }
            None => {
                evidence.push("dsregcmd: output not understood".into());
                None
            }
        },
        Err(e) => {
            evidence.push(format!("dsregcmd: {e}"));
            None
        }
    };
    let mdm = match enrollments {
        Ok(t) if reg_missing(t) => Some(Vec::new()),
        Ok(t) => Some(parse_enrollments(t)),
        Err(e) => {
            evidence.push(format!("Enrollments registry: {e}"));
            None
        }
    };
    let active: Vec<&MdmEnrollment> = mdm
        .as_ref()
        .map(|m| m.iter().filter(|e| e.active()).collect())
        .unwrap_or_default();
    for e in &active {
        evidence.push(format!(
            "MDM enrolment {} with {} (EnrollmentType {:?})",
            e.id,
            e.provider.as_deref().unwrap_or_default(),
            e.kind
        ));
    }
    if let Some(e) = active.first() {
        let kind = if e.provider.as_deref() == Some("MS DM Server") {
            ManagementKind::EntraIntune
        } else {
            ManagementKind::Mdm
        };
        let markers = active.iter().filter_map(|e| e.provider.clone()).collect();
        return Fact::new(
            FactState::Ok,
            Some(Management { kind, markers }),
            METHOD,
            at,
        )
        .with_all(evidence);
    }
    if mdm.is_some() {
        evidence.push("no active MDM enrolment (no EnrollmentState 1 with a ProviderID)".into());
    }
    match (joined, mdm) {
        (Some(d), _) if d.kind() != ManagementKind::None => Fact::new(
            FactState::Ok,
            Some(Management {
                kind: d.kind(),
                markers: d.domain_name.into_iter().collect(),
            }),
            METHOD,
            at,
        )
        .with_all(evidence),
        (Some(_), Some(_)) => Fact::new(
            FactState::Fail,
            Some(Management {
                kind: ManagementKind::None,
                markers: Vec::new(),
            }),
            METHOD,
            at,
        )
        .with_all(evidence),
        _ => Fact::new(FactState::Unknown, None, METHOD, at).with_all(evidence),
    }
}

#[cfg(test)]
mod tests;
