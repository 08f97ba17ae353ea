//! The posture report: the `device` object policy rules see.
//!
//! Top-level booleans (`managed`, `diskEncryption`, ...) are true only when the matching fact
//! is ok; the detailed facts sit beside them under `facts`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::fact::{Fact, FactState};

/// Overall disk encryption verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EncryptionStatus {
    /// Every persistent volume checked is encrypted.
    Full,
    /// Some volumes are encrypted, some are not.
    Partial,
    /// Encryption is being applied.
    InProgress,
    /// No checked volume is encrypted.
    Disabled,
    /// Could not be decided.
    Unknown,
}

/// Why a volume is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum VolumeRole {
    /// The root / system volume.
    Root,
    /// A separate home volume.
    Home,
    /// A swap area.
    Swap,
    /// Any other persistent local volume.
    Data,
}

/// One volume's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// Mount point, swap path, or OS volume name (`C:`).
    pub mount_point: String,
    /// Why it is checked.
    pub role: VolumeRole,
    /// Device description (`dm-1`, `disk3s5`).
    pub device: String,
    /// `ok` encrypted, `fail` plain, `unknown`, `converting`, `n/a` ignored (RAM-backed).
    pub state: FactState,
    /// Percent done while converting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
}

/// Disk encryption, per volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiskEncryption {
    pub status: EncryptionStatus,
    pub volumes: Vec<Volume>,
}

/// One firewall profile (Windows domain/private/public) or backend (Linux nft/ufw).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FirewallProfile {
    pub name: String,
    pub enabled: Option<bool>,
    /// Default inbound action where known (`Block`, `drop`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_inbound: Option<String>,
}

/// Firewall state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Firewall {
    pub enabled: Option<bool>,
    pub profiles: Vec<FirewallProfile>,
}

/// Screen lock settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScreenLock {
    pub enabled: Option<bool>,
    /// Seconds of inactivity before the screen saver / blanking starts (0 = never).
    pub idle_seconds: Option<u32>,
    /// Extra seconds after idle before the lock engages.
    pub lock_delay_seconds: Option<u32>,
    /// Whether an administrator policy pins the setting.
    pub admin_enforced: Option<bool>,
    /// Which desktop or OS component the values came from.
    pub source: String,
}

/// Operating system identity.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OsInfo {
    pub family: String,
    pub name: Option<String>,
    pub version: Option<String>,
    pub kernel: Option<String>,
}

/// Update freshness.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Updates {
    pub days_since_last_update: Option<u32>,
    pub pending: Option<u32>,
    pub pending_security: Option<u32>,
}

/// Automatic updates.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoUpdates {
    pub enabled: Option<bool>,
    pub mechanism: Option<String>,
}

/// EDR / antivirus agents found running.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Edr {
    pub running: Vec<String>,
}

/// How the device is managed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ManagementKind {
    /// Apple Automated Device Enrollment.
    Ade,
    /// Apple user-approved MDM.
    UserApprovedMdm,
    /// Microsoft Entra joined / Intune.
    EntraIntune,
    /// Active Directory domain joined.
    Domain,
    /// Enrolled in an MDM without user approval (macOS legacy enrolment).
    Mdm,
    /// A policy-defined MDM agent marker (process or file) was found.
    Agent,
    /// Not managed.
    None,
}

/// Management / MDM enrolment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Management {
    pub kind: ManagementKind,
    pub markers: Vec<String>,
}

/// Secure boot.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecureBoot {
    pub enabled: Option<bool>,
    pub setup_mode: Option<bool>,
}

/// TPM.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tpm {
    pub present: bool,
    pub version: Option<String>,
}

/// Device identity. The machine id is only ever reported hashed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceIdentity {
    /// SHA-256 of a product salt and the machine id, hex.
    pub machine_id_hash: Option<String>,
    /// Hardware serial, `None` when unreadable or an OEM placeholder.
    pub serial: Option<String>,
    /// Which key store holds the device key, once enrolment sets it.
    pub key_store: Option<String>,
}

/// All detailed facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Facts {
    pub disk_encryption: Fact<DiskEncryption>,
    pub firewall: Fact<Firewall>,
    pub screen_lock: Fact<ScreenLock>,
    pub os: Fact<OsInfo>,
    pub updates: Fact<Updates>,
    pub auto_updates: Fact<AutoUpdates>,
    pub edr: Fact<Edr>,
    pub managed: Fact<Management>,
    pub secure_boot: Fact<SecureBoot>,
    pub tpm: Fact<Tpm>,
    pub identity: Fact<DeviceIdentity>,
}

/// Names of the facts a policy can require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FactName {
    DiskEncryption,
    Firewall,
    ScreenLock,
    Os,
    Updates,
    AutoUpdates,
    Edr,
    Managed,
    SecureBoot,
    Tpm,
    Identity,
}

impl FactName {
    /// Every fact, in table order.
    pub const ALL: [FactName; 11] = [
        Self::DiskEncryption,
        Self::Firewall,
        Self::ScreenLock,
        Self::Os,
        Self::Updates,
        Self::AutoUpdates,
        Self::Edr,
        Self::Managed,
        Self::SecureBoot,
        Self::Tpm,
        Self::Identity,
    ];

    /// The camelCase name used in the report and policy rules.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DiskEncryption => "diskEncryption",
            Self::Firewall => "firewall",
            Self::ScreenLock => "screenLock",
            Self::Os => "os",
            Self::Updates => "updates",
            Self::AutoUpdates => "autoUpdates",
            Self::Edr => "edr",
            Self::Managed => "managed",
            Self::SecureBoot => "secureBoot",
            Self::Tpm => "tpm",
            Self::Identity => "identity",
        }
    }
}

impl std::str::FromStr for FactName {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Self> {
        Self::ALL
            .into_iter()
            .find(|n| n.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| crate::Error::UnknownFactName { name: s.to_owned() })
    }
}

/// A fact's state and evidence, without its value type.
#[derive(Debug, Clone, Copy)]
pub struct FactView<'a> {
    pub name: FactName,
    pub state: FactState,
    pub method: &'a str,
    pub evidence: &'a [String],
}

impl Facts {
    /// Every fact unknown with the same evidence (a platform the engine cannot read).
    pub fn unknown(at: DateTime<Utc>, why: &str) -> Self {
        Self {
            disk_encryption: Fact::unknown("none", why, at),
            firewall: Fact::unknown("none", why, at),
            screen_lock: Fact::unknown("none", why, at),
            os: Fact::unknown("none", why, at),
            updates: Fact::unknown("none", why, at),
            auto_updates: Fact::unknown("none", why, at),
            edr: Fact::unknown("none", why, at),
            managed: Fact::unknown("none", why, at),
            secure_boot: Fact::unknown("none", why, at),
            tpm: Fact::unknown("none", why, at),
            identity: Fact::unknown("none", why, at),
        }
    }

    /// State and evidence of one fact by name.
    pub fn view(&self, name: FactName) -> FactView<'_> {
        fn v<T>(name: FactName, f: &Fact<T>) -> FactView<'_> {
            FactView {
                name,
                state: f.state,
                method: &f.method,
                evidence: &f.evidence,
            }
        }
        match name {
            FactName::DiskEncryption => v(name, &self.disk_encryption),
            FactName::Firewall => v(name, &self.firewall),
            FactName::ScreenLock => v(name, &self.screen_lock),
            FactName::Os => v(name, &self.os),
            FactName::Updates => v(name, &self.updates),
            FactName::AutoUpdates => v(name, &self.auto_updates),
            FactName::Edr => v(name, &self.edr),
            FactName::Managed => v(name, &self.managed),
            FactName::SecureBoot => v(name, &self.secure_boot),
            FactName::Tpm => v(name, &self.tpm),
            FactName::Identity => v(name, &self.identity),
        }
    }
}

/// The `device` object: summary booleans beside the detailed facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostureReport {
    pub managed: bool,
    pub disk_encryption: bool,
    pub firewall: bool,
    pub screen_lock: bool,
    pub secure_boot: bool,
    pub tpm: bool,
    pub edr: bool,
    pub auto_updates: bool,
    pub os_up_to_date: bool,
    /// `linux`, `macos` or `windows`.
    pub platform: String,
    pub collected_at: DateTime<Utc>,
    pub facts: Facts,
}

impl PostureReport {
    /// Builds the report; every boolean is true only when its fact is ok.
    pub fn new(platform: impl Into<String>, facts: Facts, collected_at: DateTime<Utc>) -> Self {
        Self {
            managed: facts.managed.is_ok(),
            disk_encryption: facts.disk_encryption.is_ok(),
            firewall: facts.firewall.is_ok(),
            screen_lock: facts.screen_lock.is_ok(),
            secure_boot: facts.secure_boot.is_ok(),
            tpm: facts.tpm.is_ok(),
            edr: facts.edr.is_ok(),
            auto_updates: facts.auto_updates.is_ok(),
            os_up_to_date: facts.updates.is_ok(),
            platform: platform.into(),
            collected_at,
            facts,
        }
    }

    /// True when every named fact is ok.
    pub fn all_ok(&self, required: &[FactName]) -> bool {
        required.iter().all(|n| self.facts.view(*n).state.is_ok())
    }
}

#[cfg(test)]
mod tests;
