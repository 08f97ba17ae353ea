//! Windows runner: runs PowerShell and `dsregcmd` (each with a timeout) and hands their
//! output to the pure parsers in [`super::parse`]. Runs on Windows; test builds on every OS
//! compile it too, so it is type-checked where it cannot run.

use crate::clock::Clock;
use crate::config::PostureConfig;
use crate::fact::{Fact, FactState};
use crate::processes::{ProcessSource, SysinfoProcesses, check_edr};
use crate::report::{
    DeviceIdentity, Facts, Firewall, OsInfo, PostureReport, ScreenLock, SecureBoot,
};
use crate::runner::{CommandRunner, SystemRunner};
use crate::windows::parse::{
    auto_updates_fact, disk_encryption_fact, firewall_state, managed_fact, parse_firewall_profiles,
    parse_reg_dword, parse_reg_sz, reg_missing, tpm_fact,
};

/// Every fixed drive's shell BitLocker property (no admin needed), one `C:=1` line each.
const BITLOCKER_PS: &str = "$s = New-Object -ComObject Shell.Application; Get-CimInstance Win32_LogicalDisk -Filter 'DriveType=3' | ForEach-Object { \"$($_.DeviceID)=$($s.NameSpace($_.DeviceID + '\\').Self.ExtendedProperty('System.Volume.BitLockerProtection'))\" }";

/// WMI fallback (administrators only): every encryptable volume's protection and conversion.
const WMI_BITLOCKER_PS: &str = "Get-CimInstance -Namespace root\\cimv2\\Security\\MicrosoftVolumeEncryption -ClassName Win32_EncryptableVolume | Select-Object DriveLetter,ProtectionStatus,ConversionStatus | ConvertTo-Json";

/// Profiles with enum names as strings.
const FIREWALL_PS: &str = "Get-NetFirewallProfile | Select-Object Name,@{n='Enabled';e={\"$($_.Enabled)\"}},@{n='DefaultInboundAction';e={\"$($_.DefaultInboundAction)\"}} | ConvertTo-Json";

/// Runs every Windows probe.
pub fn check(config: PostureConfig, clock: &dyn Clock) -> PostureReport {
    let at = clock.now();
    let runner = SystemRunner;
    let timeout = config.command_timeout();
    let ps = |script: &str| -> Result<String, String> {
        runner
            .run(
                "powershell.exe",
                &["-NoProfile", "-NonInteractive", "-Command", script],
                timeout,
            )
            .map(|o| o.stdout)
            .map_err(|e| e.to_string())
    };
    let mut facts = Facts::unknown(at, "not collected on Windows");

    let shell = ps(BITLOCKER_PS);
    facts.disk_encryption = disk_encryption_fact(
        shell.as_deref().map_err(String::as_str),
        &|| ps(WMI_BITLOCKER_PS),
        at,
    );

    facts.firewall = match ps(FIREWALL_PS).map(|o| parse_firewall_profiles(&o)) {
        Ok(Some(profiles)) => {
            let state = firewall_state(&profiles);
            let ev = profiles
                .iter()
                .map(|p| format!("{}: enabled {:?}", p.name, p.enabled))
                .collect::<Vec<_>>();
            Fact::new(
                state,
                Some(Firewall {
                    enabled: Some(state == FactState::Ok),
                    profiles,
                }),
                "powershell:Get-NetFirewallProfile",
                at,
            )
            .with_all(ev)
        }
        Ok(None) => Fact::unknown(
            "powershell:Get-NetFirewallProfile",
            "output not understood",
            at,
        ),
        Err(e) => Fact::unknown("powershell:Get-NetFirewallProfile", e, at),
    };

    let reg = |args: &[&str]| -> Result<String, String> {
        // reg.exe prints "unable to find" on stderr with exit 1; parsers want both streams.
        runner
            .run("reg.exe", args, timeout)
            .map(|o| format!("{}{}", o.stdout, o.stderr))
            .map_err(|e| e.to_string())
    };
    let dsreg = runner
        .run("dsregcmd.exe", &["/status"], timeout)
        .map(|o| o.stdout)
        .map_err(|e| e.to_string());
    let enrollments = reg(&["query", "HKLM\\SOFTWARE\\Microsoft\\Enrollments", "/s"]);
    facts.managed = managed_fact(
        dsreg.as_deref().map_err(String::as_str),
        enrollments.as_deref().map_err(String::as_str),
        at,
    );

    // Both streams: not elevated, Get-Tpm writes its error record on stderr.
    let tpm = runner
        .run(
            "powershell.exe",
            &["-NoProfile", "-NonInteractive", "-Command", "Get-Tpm"],
            timeout,
        )
        .map(|o| format!("{}{}", o.stdout, o.stderr))
        .map_err(|e| e.to_string());
    facts.tpm = tpm_fact(tpm.as_deref().map_err(String::as_str), at);

    let au = reg(&[
        "query",
        "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU",
    ]);
    facts.auto_updates = auto_updates_fact(au.as_deref().map_err(String::as_str), at);

    let key = "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System";
    facts.screen_lock = match runner.run(
        "reg.exe",
        &["query", key, "/v", "InactivityTimeoutSecs"],
        timeout,
    ) {
        Ok(o) => match parse_reg_dword(&o.stdout, "InactivityTimeoutSecs") {
            Some(secs) => {
                let ok = secs > 0 && secs <= config.max_idle_seconds;
                Fact::new(
                    if ok { FactState::Ok } else { FactState::Fail },
                    Some(ScreenLock {
                        enabled: Some(secs > 0),
                        idle_seconds: Some(secs),
                        lock_delay_seconds: None,
                        admin_enforced: Some(true),
                        source: "windows-policy".into(),
                    }),
                    "registry:InactivityTimeoutSecs",
                    at,
                )
                .with(format!("InactivityTimeoutSecs = {secs}"))
            }
            None => Fact::unknown(
                "registry:InactivityTimeoutSecs",
                "no machine inactivity limit set by policy",
                at,
            ),
        },
        Err(e) => Fact::unknown("registry:InactivityTimeoutSecs", e.to_string(), at),
    };

    let sb_key = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecureBoot\\State";
    facts.secure_boot = match runner.run(
        "reg.exe",
        &["query", sb_key, "/v", "UEFISecureBootEnabled"],
        timeout,
    ) {
        Ok(o) if reg_missing(&format!("{}{}", o.stdout, o.stderr)) => Fact::new(
            FactState::Fail,
            Some(SecureBoot {
                enabled: Some(false),
                setup_mode: None,
            }),
            "registry:UEFISecureBootEnabled",
            at,
        )
        .with("no SecureBoot\\State key: legacy BIOS boot"),
        Ok(o) => match parse_reg_dword(&o.stdout, "UEFISecureBootEnabled") {
            Some(v) => Fact::new(
                if v == 1 {
                    FactState::Ok
                } else {
                    FactState::Fail
                },
                Some(SecureBoot {
                    enabled: Some(v == 1),
                    setup_mode: None,
                }),
                "registry:UEFISecureBootEnabled",
                at,
            )
            .with(format!("UEFISecureBootEnabled = {v}")),
            None => Fact::unknown(
                "registry:UEFISecureBootEnabled",
                "output not understood",
                at,
            ),
        },
        Err(e) => Fact::unknown("registry:UEFISecureBootEnabled", e.to_string(), at),
    };

    let crypto_key = "HKLM\\SOFTWARE\\Microsoft\\Cryptography";
    facts.identity = match runner.run(
        "reg.exe",
        &["query", crypto_key, "/v", "MachineGuid"],
        timeout,
    ) {
        Ok(o) => match parse_reg_sz(&o.stdout, "MachineGuid") {
            Some(guid) => {
                let serial = ps("(Get-CimInstance Win32_BIOS).SerialNumber")
                    .ok()
                    .and_then(|s| crate::identity::validate_serial(&s).ok());
                Fact::new(
                    FactState::Ok,
                    Some(DeviceIdentity {
                        machine_id_hash: Some(crate::identity::hash_machine_id(&config.identity_salt, &guid)),
                        serial,
                        key_store: None,
                    }),
                    "registry:MachineGuid",
                    at,
                )
                .with("MachineGuid hashed (raw id not reported); BIOS serial checked for placeholders")
            }
            None => Fact::unknown("registry:MachineGuid", "output not understood", at),
        },
        Err(e) => Fact::unknown("registry:MachineGuid", e.to_string(), at),
    };

    facts.os = match (
        sysinfo::System::long_os_version(),
        sysinfo::System::kernel_version(),
    ) {
        (Ok(name), kernel) => Fact::new(
            FactState::Ok,
            Some(OsInfo {
                family: "windows".into(),
                name: Some(name.clone()),
                version: sysinfo::System::os_version().ok(),
                kernel: kernel.ok(),
            }),
            "sysinfo",
            at,
        )
        .with(name),
        (Err(e), _) => Fact::unknown("sysinfo", e.to_string(), at),
    };

    let procs = SysinfoProcesses.processes();
    facts.edr = check_edr(&config.edr_allowlist, &procs, at);
    PostureReport::new("windows", facts, at)
}
