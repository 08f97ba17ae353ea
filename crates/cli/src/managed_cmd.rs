//! `certgate managed …`: what the organisation's device management pushed to this device, and
//! tools for IT preparing it (check a file before pushing it, a key's fingerprint, a link).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use certgate_managed::{
    Effective, EnrolmentLink, Managed, Origin, Setting, UserSettings, merge, read_file, read_linux,
    read_macos, read_platform,
};
use clap::Subcommand;
use serde_json::json;

use crate::exit::Code;

#[derive(Debug, Subcommand)]
pub enum ManagedCommand {
    /// The effective settings and where each comes from (the org's managed configuration, or
    /// the user). Exit 0, or 1 when the managed configuration is invalid.
    Show {
        /// Read the managed file under DIR instead of / (Linux: etc/certgate/managed.toml,
        /// macOS: Library/Managed Preferences/io.certgate.desktop.plist).
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Validate a managed configuration before pushing it: a .toml, a .plist (XML or binary)
    /// or a .reg export; without FILE, this device's. Exit 0 valid, 1 invalid (every problem
    /// with its place and fix), 2 usage (e.g. no such file).
    Check {
        file: Option<PathBuf>,
        #[arg(long, value_name = "DIR", conflicts_with = "file")]
        root: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// The fingerprint to pin as `orgKey` (sha256: of the raw Ed25519 key) of a public key PEM.
    Fingerprint {
        /// The org's public key, as `certgate policy keygen --public` wrote it.
        pubkey: PathBuf,
    },
    /// Make an enrolment link for the onboarding email from a server URL and a one-time code
    /// (`certgate server enroll-code` makes the code).
    Link {
        #[arg(long, value_name = "URL")]
        server: String,
        #[arg(long)]
        code: String,
    },
}

pub fn run(cmd: ManagedCommand) -> Result<Code> {
    let (code, out) = match cmd {
        ManagedCommand::Show { root, json } => show(&read_at(root.as_deref())?, json)?,
        ManagedCommand::Check { file, root, json } => match file {
            Some(file) => {
                let managed = read_file(&file);
                if let Managed::Absent { .. } = managed {
                    bail!("{}: no such file", file.display());
                }
                check(&managed, json)?
            }
            None => check(&read_at(root.as_deref())?, json)?,
        },
        ManagedCommand::Fingerprint { pubkey } => {
            let pem = std::fs::read_to_string(&pubkey)
                .with_context(|| format!("cannot read {}", pubkey.display()))?;
            let fp = certgate_managed::fingerprint_pem(&pem, &pubkey)?;
            (Code::Ok, format!("{fp}\n"))
        }
        ManagedCommand::Link { server, code } => {
            let link = EnrolmentLink::new(&server, &code)?;
            (Code::Ok, format!("{}\n", link.to_url()))
        }
    };
    print!("{out}");
    Ok(code)
}

/// This device's managed configuration, or the platform's file under `root`.
fn read_at(root: Option<&Path>) -> Result<Managed> {
    Ok(match root {
        None => read_platform(),
        Some(root) if cfg!(target_os = "macos") => read_macos(root),
        Some(_) if cfg!(windows) => {
            bail!("--root reads a file; on Windows the configuration is in the registry")
        }
        Some(root) => read_linux(root),
    })
}

fn show(managed: &Managed, json: bool) -> Result<(Code, String)> {
    let effective = merge(&UserSettings::default(), managed);
    let code = exit_code(managed);
    if json {
        let out = json!({"managed": managed, "effective": effective});
        return Ok((code, format!("{}\n", serde_json::to_string_pretty(&out)?)));
    }
    let mut out = headline(managed);
    if let Managed::Invalid(_) = managed {
        out.push_str("none of it is applied; the settings stay the user's:\n");
    }
    render(&mut out, &effective);
    Ok((code, out))
}

fn check(managed: &Managed, json: bool) -> Result<(Code, String)> {
    let code = exit_code(managed);
    if json {
        return Ok((
            code,
            format!("{}\n", serde_json::to_string_pretty(managed)?),
        ));
    }
    let mut out = headline(managed);
    if let Managed::Valid { .. } = managed {
        render(&mut out, &merge(&UserSettings::default(), managed));
    }
    Ok((code, out))
}

fn exit_code(managed: &Managed) -> Code {
    match managed {
        Managed::Invalid(_) => Code::Failed,
        _ => Code::Ok,
    }
}

fn headline(managed: &Managed) -> String {
    match managed {
        Managed::Absent { looked_at } => format!(
            "not managed: no managed configuration at {looked_at}; every setting is the user's\n"
        ),
        Managed::Valid { source, .. } => {
            format!("managed configuration: {source} (valid)\n")
        }
        Managed::Invalid(invalid) => {
            let mut out = format!(
                "managed configuration is invalid: {} problem(s) in {} — enrolment is refused until IT fixes it\n",
                invalid.problems.len(),
                invalid.origin
            );
            for p in &invalid.problems {
                let _ = writeln!(out, "  {p}");
            }
            out
        }
    }
}

fn render(out: &mut String, e: &Effective) {
    let rows: [(&str, String, &Origin, bool); 6] = [
        (
            "serverUrl",
            e.server_url.value.clone().unwrap_or_else(|| "-".into()),
            &e.server_url.origin,
            e.server_url.is_locked(),
        ),
        (
            "orgKey",
            e.org_key.value.clone().unwrap_or_else(|| "-".into()),
            &e.org_key.origin,
            e.org_key.is_locked(),
        ),
        (
            "enrolmentMode",
            e.enrolment_mode.value.as_str().to_owned(),
            &e.enrolment_mode.origin,
            e.enrolment_mode.is_locked(),
        ),
        row("proxyPort", &e.proxy_port),
        row("autostart", &e.autostart),
        row("usageTelemetry", &e.usage_telemetry),
    ];
    for (name, value, origin, locked) in rows {
        let from = match (origin, locked) {
            (Origin::Managed, _) | (_, true) => "managed (locked)",
            (Origin::User, _) => "user",
            (Origin::Default, _) => "not managed (default)",
        };
        let _ = writeln!(out, "  {name:<15} {value:<40} {from}");
    }
}

fn row<'a, T: ToString>(name: &'a str, s: &'a Setting<T>) -> (&'a str, String, &'a Origin, bool) {
    (name, s.value.to_string(), &s.origin, s.is_locked())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn managed_root(toml: &str) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join(certgate_managed::LINUX_PATH);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, toml).unwrap();
        root
    }

    #[test]
    fn show_says_where_each_value_came_from() {
        let root = managed_root("serverUrl = \"https://certgate.example.org\"\nproxyPort = 8800\n");
        let (code, out) = show(&read_linux(root.path()), false).unwrap();
        assert_eq!(code, Code::Ok);
        assert!(out.contains("(valid)"), "{out}");
        let port = out.lines().find(|l| l.contains("proxyPort")).unwrap();
        assert!(
            port.contains("8800") && port.contains("managed (locked)"),
            "{port}"
        );
        let auto = out.lines().find(|l| l.contains("autostart")).unwrap();
        assert!(auto.contains("true") && auto.contains("default"), "{auto}");
        let mode = out.lines().find(|l| l.contains("enrolmentMode")).unwrap();
        assert!(
            mode.contains("managed") && mode.contains("locked"),
            "{mode}"
        );
    }

    #[test]
    fn show_json_has_the_state_and_the_merge() {
        let root = managed_root("autostart = false\n");
        let (_, out) = show(&read_linux(root.path()), true).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["managed"]["state"], "valid");
        assert_eq!(v["effective"]["autostart"]["value"], false);
        assert_eq!(v["effective"]["autostart"]["origin"], "managed");
    }

    #[test]
    fn an_unmanaged_device_shows_exit_0() {
        let root = tempfile::tempdir().unwrap();
        let (code, out) = show(&read_linux(root.path()), false).unwrap();
        assert_eq!(code, Code::Ok);
        assert!(out.starts_with("not managed"), "{out}");
    }

    #[test]
    fn check_lists_every_problem_and_exits_1() {
        let root = managed_root("serverUrl = \"http://x.example\"\nproxyPort = 80\n");
        let (code, out) = check(&read_linux(root.path()), false).unwrap();
        assert_eq!(code, Code::Failed);
        assert!(out.contains("2 problem(s)"), "{out}");
        assert!(out.contains("managed.toml:1:13: serverUrl:"), "{out}");
        assert!(
            out.contains("managed.toml:2:13: proxyPort: 80 is not a port"),
            "{out}"
        );
        let (code, json) = check(&read_linux(root.path()), true).unwrap();
        assert_eq!(code, Code::Failed);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["problems"][1]["line"], 2);
    }

    #[test]
    fn a_missing_file_is_a_usage_error() {
        let err = run(ManagedCommand::Check {
            file: Some("/nonexistent/managed.toml".into()),
            root: None,
            json: false,
        })
        .unwrap_err();
        assert!(err.to_string().contains("no such file"));
    }

    #[test]
    fn a_link_for_a_plain_http_server_is_refused() {
        assert!(
            run(ManagedCommand::Link {
                server: "http://certgate.example.org".into(),
                code: "Xq3_9-abcdEFGHijklmn".into(),
            })
            .is_err()
        );
    }
}
