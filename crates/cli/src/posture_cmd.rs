//! `certgate posture`: check this device (or a captured snapshot) against what the policy's
//! rules require.

use std::path::PathBuf;

use anyhow::Result;
use certgate_policy::LoadedPolicy;
use certgate_posture::{FactName, PostureConfig, SystemClock};
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

pub fn run(args: &PostureArgs) -> Result<Code> {
    let policy: LoadedPolicy = match &args.policy {
        Some(path) => certgate_policy::load_unsigned(path)?,
        None => certgate_policy::demo::load()?,
    };
    let config = PostureConfig::from_policy(&policy.policy.device_posture);
    let report = certgate_posture::check(args.sysroot.as_deref(), config, &SystemClock)?;

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
