//! Human output for `certgate posture`: a table with ✔/✘/? and a fix hint per failing
//! required fact, and the exit code (0 all required ok, 1 one is not).

use std::fmt::Write as _;

use crate::fact::FactState;
use crate::report::{FactName, PostureReport};

/// What to do about a fact that is not ok, per platform.
pub fn fix_hint(name: FactName, platform: &str) -> &'static str {
    match (name, platform) {
        (FactName::DiskEncryption, "macos") => {
            "Turn on FileVault: System Settings › Privacy & Security › FileVault."
        }
        (FactName::DiskEncryption, "windows") => {
            "Turn on BitLocker for every fixed drive (Settings › Privacy & security › Device encryption), and resume it if suspended."
        }
        (FactName::DiskEncryption, _) => {
            "Every volume listed as NOT encrypted must be on LUKS: reinstall with full-disk encryption, or move /home and swap onto encrypted volumes."
        }
        (FactName::Firewall, "macos") => {
            "Turn on the firewall: System Settings › Network › Firewall."
        }
        (FactName::Firewall, "windows") => {
            "Turn on Windows Defender Firewall for the Domain, Private and Public profiles."
        }
        (FactName::Firewall, _) => {
            "Enable a firewall: `sudo ufw enable`, or enable firewalld / an nftables input policy of drop."
        }
        (FactName::ScreenLock, "macos") => {
            "Require a password immediately after sleep or screen saver; set the screen saver to start within 15 minutes."
        }
        (FactName::ScreenLock, "windows") => {
            "Set the screen to lock after at most 15 minutes of inactivity."
        }
        (FactName::ScreenLock, _) => {
            "Turn on automatic screen lock with an idle delay of at most 15 minutes in your desktop's privacy settings."
        }
        (FactName::Os, _) => "The OS could not be identified; run the check on the device itself.",
        (FactName::Updates, _) => {
            "Install pending updates now (Linux: `sudo apt update && sudo apt upgrade`)."
        }
        (FactName::AutoUpdates, "macos") => {
            "Turn on automatic updates: System Settings › General › Software Update › Automatic updates."
        }
        (FactName::AutoUpdates, "windows") => "Let Windows Update install updates automatically.",
        (FactName::AutoUpdates, _) => {
            "Install and enable unattended-upgrades (Debian/Ubuntu) or dnf-automatic (Fedora)."
        }
        (FactName::Edr, _) => {
            "Install and start one of the endpoint protection agents your organisation allows."
        }
        (FactName::Managed, _) => {
            "Enrol the device in your organisation's device management (MDM)."
        }
        (FactName::SecureBoot, _) => "Turn on Secure Boot in the firmware (UEFI) settings.",
        (FactName::Tpm, _) => "Enable the TPM in the firmware (UEFI) settings.",
        (FactName::Identity, _) => {
            "The device identity could not be read; make sure /etc/machine-id (or the OS equivalent) exists."
        }
    }
}

/// The table. Every fact is listed; the `required` ones that are not ok get a fix hint.
pub fn render_table(report: &PostureReport, required: &[FactName]) -> String {
    let mut out = String::new();
    let width = FactName::ALL
        .iter()
        .map(|n| n.as_str().len())
        .max()
        .unwrap_or(0);
    for name in FactName::ALL {
        let v = report.facts.view(name);
        let req = if required.contains(&name) { "*" } else { " " };
        let first = v.evidence.first().map(String::as_str).unwrap_or("");
        let _ = writeln!(
            out,
            "{} {req}{:<width$}  {:<10}  {first}",
            v.state.symbol(),
            name.as_str(),
            v.state.as_str(),
        );
        if required.contains(&name) && v.state != FactState::Ok {
            for more in v.evidence.iter().skip(1) {
                let _ = writeln!(out, "    {:<width$}              {more}", "");
            }
            let _ = writeln!(
                out,
                "    {:<width$}  fix: {}",
                "",
                fix_hint(name, &report.platform)
            );
        }
    }
    let failing = required
        .iter()
        .filter(|n| !report.facts.view(**n).state.is_ok())
        .count();
    let _ = writeln!(
        out,
        "{}",
        if failing == 0 {
            format!(
                "✔ all {} required fact(s) ok (* = required)",
                required.len()
            )
        } else {
            format!(
                "✘ {failing} of {} required fact(s) not ok (* = required; unknown never counts as ok)",
                required.len()
            )
        }
    );
    out
}

/// 0 when every required fact is ok, 1 otherwise (2, usage errors, belongs to the CLI).
pub fn exit_code(report: &PostureReport, required: &[FactName]) -> i32 {
    if report.all_ok(required) { 0 } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Facts;
    use crate::{Fact, FactState};
    use chrono::DateTime;

    fn report() -> PostureReport {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut f = Facts::unknown(at, "not collected");
        f.firewall = Fact::new(FactState::Ok, None, "test", at).with("ufw: ENABLED=yes");
        f.disk_encryption = Fact::new(FactState::Fail, None, "test", at)
            .with("/ is sda2 (plain partition) → NOT encrypted")
            .with("swap /dev/sda3 is sda3 (plain partition) → NOT encrypted");
        PostureReport::new("linux", f, at)
    }

    #[test]
    fn table_marks_and_hints() {
        let t = render_table(&report(), &[FactName::DiskEncryption, FactName::Firewall]);
        assert!(t.contains("✔ *firewall"), "{t}");
        assert!(t.contains("✘ *diskEncryption"), "{t}");
        assert!(t.contains("?  secureBoot"), "unknown shows ?: {t}");
        assert!(
            t.contains("fix: Every volume"),
            "failing required facts get a hint: {t}"
        );
        assert!(
            t.contains("swap /dev/sda3"),
            "all evidence for failing required facts: {t}"
        );
        assert!(
            !t.contains("fix: Turn on Secure Boot"),
            "no hint for facts not required: {t}"
        );
        assert!(t.contains("1 of 2 required"), "{t}");
    }

    #[test]
    fn exit_codes() {
        let r = report();
        assert_eq!(exit_code(&r, &[FactName::Firewall]), 0);
        assert_eq!(
            exit_code(&r, &[FactName::Firewall, FactName::DiskEncryption]),
            1
        );
        assert_eq!(exit_code(&r, &[FactName::Tpm]), 1, "unknown is not ok");
        assert_eq!(exit_code(&r, &[]), 0);
    }
}
