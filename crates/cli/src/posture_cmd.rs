//! `certgate posture`: check this device (or a captured snapshot) against what the policy's
//! rules require.

use std::path::PathBuf;

use anyhow::{Result, bail};
use certgate_policy::LoadedPolicy;
use certgate_policy::model::DevicePosture;
use certgate_posture::{FactName, Marker, PostureConfig, ProcessMatcher, SystemClock};
use clap::Args;

use crate::exit::Code;

#[derive(Debug, Args)]
pub struct PostureArgs {
    /// Print the report as JSON: exactly the `device` object policy rules see.
    #[arg(long)]
    json: bool,
    /// Read proc/, sys/, etc/ and dev/ under DIR instead of / and run no external command
    /// (diagnose a captured snapshot; Linux only).
    #[arg(long, value_name = "DIR")]
    sysroot: Option<PathBuf>,
    /// The policy whose rules say which facts are required (unsigned is fine here);
    /// default: the embedded demo policy.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
}

/// The posture engine's settings from the policy's `devicePosture` section.
fn config_from(settings: &DevicePosture) -> PostureConfig {
    let matcher = |process: &String, prefix: &Option<String>| ProcessMatcher {
        name: process.clone(),
        path_prefix: prefix.clone(),
    };
    PostureConfig {
        edr_allowlist: settings
            .edr_allowlist
            .iter()
            .filter_map(|m| m.process.as_ref().map(|p| matcher(p, &m.path_prefix)))
            .collect(),
        mdm_markers: settings
            .mdm_markers
            .iter()
            .flat_map(|m| {
                let process = m
                    .process
                    .as_ref()
                    .map(|p| Marker::Process(matcher(p, &m.path_prefix)));
                let file = m.file.clone().map(Marker::File);
                process.into_iter().chain(file)
            })
            .collect(),
        ..PostureConfig::default()
    }
}

pub fn run(args: &PostureArgs) -> Result<Code> {
    let policy: LoadedPolicy = match &args.policy {
        Some(path) => certgate_policy::load_unsigned(path)?,
        None => certgate_policy::demo::load()?,
    };
    let config = config_from(&policy.policy.device_posture);
    let report = match &args.sysroot {
        #[cfg(target_os = "linux")]
        Some(dir) => {
            if !dir.is_dir() {
                bail!("--sysroot {} is not a directory", dir.display());
            }
            certgate_posture::linux::LinuxCheck::sysroot(dir, config).run(&SystemClock)
        }
        #[cfg(not(target_os = "linux"))]
        Some(_) => bail!("--sysroot reads Linux snapshots and works on Linux only"),
        None => certgate_posture::check_host(config, &SystemClock),
    };

    let mut required = Vec::new();
    let mut uncollected = Vec::new();
    for name in policy.required_device_facts() {
        match name.parse::<FactName>() {
            Ok(fact) => required.push(fact),
            Err(_) => uncollected.push(name),
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", certgate_posture::render_table(&report, &required));
        for name in &uncollected {
            println!("✘ the policy reads device.{name}, which Certgate does not collect");
        }
    }
    let all_ok = certgate_posture::exit_code(&report, &required) == 0 && uncollected.is_empty();
    Ok(if all_ok { Code::Ok } else { Code::Failed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use certgate_policy::model::ProcessMarker;

    #[test]
    fn policy_markers_become_posture_matchers() {
        let settings = DevicePosture {
            edr_allowlist: vec![ProcessMarker {
                process: Some("falcon-sensor".into()),
                path_prefix: Some("/opt/CrowdStrike/".into()),
                file: None,
            }],
            mdm_markers: vec![
                ProcessMarker {
                    process: None,
                    path_prefix: None,
                    file: Some("/etc/intune/agent.conf".into()),
                },
                ProcessMarker {
                    process: Some("intune-agent".into()),
                    path_prefix: None,
                    file: None,
                },
            ],
            ..DevicePosture::default()
        };
        let config = config_from(&settings);
        assert_eq!(config.edr_allowlist[0].name, "falcon-sensor");
        assert_eq!(
            config.edr_allowlist[0].path_prefix.as_deref(),
            Some("/opt/CrowdStrike/")
        );
        assert_eq!(config.mdm_markers.len(), 2);
        assert!(matches!(&config.mdm_markers[0], Marker::File(f) if f == "/etc/intune/agent.conf"));
    }
}
