//! Pure parsers for Windows command output. Each is tested against captured outputs in
//! `testdata/windows/` (first line of each file says where it came from).

use serde_json::Value;

use crate::fact::FactState;
use crate::report::{FirewallProfile, ManagementKind};

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

#[cfg(test)]
mod tests;
