//! `certgate server`: run the org server, and the admin commands that talk to it (enrolment
//! codes, users, revocation, exception approval, evidence export).

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use certgate_credentials::client::Client;
use certgate_server::ServerConfig;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::exit::Code;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = false)]
pub struct ServerArgs {
    /// Server config file (TOML): listen, issuer, database, policy, issuerKey, adminToken…
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Server URL for admin commands (default: http://<listen> from the config).
    #[arg(long, global = true, value_name = "URL")]
    url: Option<String>,
    /// Print admin answers as JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Option<ServerCommand>,
}

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Make a one-time enrolment code binding a user to the next device that uses it.
    EnrollCode {
        #[arg(long)]
        user: String,
        /// contractor, partner_bpo or subcontractor.
        #[arg(long)]
        user_type: String,
        #[arg(long)]
        vendor_org: String,
        #[arg(long)]
        region: String,
        /// Lifetime in hours (default from the config, 72).
        #[arg(long)]
        ttl_hours: Option<u32>,
    },
    /// List users, their devices and certifications.
    Users,
    /// Revoke a user's certification of a track (tokens revoked, IdP group removed).
    Revoke {
        #[arg(long)]
        user: String,
        #[arg(long)]
        track: String,
        #[arg(long)]
        reason: String,
    },
    /// Approve an exception request in one of the policy's approver roles.
    Approve {
        id: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        approver: String,
    },
    /// A user's passed certifications as Open Badges 3.0 credentials (JSON, with VC-JWT).
    Badges { user: String },
    /// Evidence: completions, scores, tokens, revocations, exceptions, IdP changes.
    Export {
        /// RFC 3339 time, e.g. 2026-01-01T00:00:00Z.
        #[arg(long)]
        since: Option<String>,
        /// csv or jsonl.
        #[arg(long, default_value = "jsonl")]
        format: String,
    },
}

pub fn run(args: &ServerArgs) -> Result<Code> {
    let path = args
        .config
        .as_ref()
        .context("--config FILE is required (the server's TOML config)")?;
    let config = ServerConfig::load(path)?;
    let Some(command) = &args.command else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?
            .block_on(certgate_server::serve(&config))?;
        return Ok(Code::Ok);
    };
    let url = args
        .url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen));
    let client = Client::new(&url)?.with_admin(&config.admin_token);
    let answer: Value = match command {
        ServerCommand::EnrollCode {
            user,
            user_type,
            vendor_org,
            region,
            ttl_hours,
        } => {
            let body = json!({"userId": user, "userType": user_type, "vendorOrg": vendor_org,
                              "region": region, "ttlHours": ttl_hours});
            client
                .send("the enrolment code", &|| {
                    client.post("/v1/admin/enrolment-codes").json(&body)
                })?
                .json()?
        }
        ServerCommand::Users => client
            .send("the user list", &|| client.get("/v1/admin/users"))?
            .json()?,
        ServerCommand::Revoke {
            user,
            track,
            reason,
        } => {
            let body = json!({"userId": user, "track": track, "reason": reason});
            client
                .send("the revocation", &|| {
                    client.post("/v1/admin/revoke").json(&body)
                })?
                .json()?
        }
        ServerCommand::Approve { id, role, approver } => {
            let body = json!({"role": role, "approver": approver});
            let path = format!("/v1/admin/exceptions/{id}/approve");
            client
                .send("the approval", &|| client.post(&path).json(&body))?
                .json()?
        }
        ServerCommand::Badges { user } => {
            let path = format!("/v1/admin/badges/{}", encode(user));
            let badges: Value = client.send("the badges", &|| client.get(&path))?.json()?;
            println!("{}", serde_json::to_string_pretty(&badges)?);
            return Ok(Code::Ok);
        }
        ServerCommand::Export { since, format } => {
            let mut path = format!("/v1/admin/export?format={}", encode(format));
            if let Some(s) = since {
                path.push_str(&format!("&since={}", encode(s)));
            }
            let text = client.send("the export", &|| client.get(&path))?.text()?;
            print!("{text}");
            return Ok(Code::Ok);
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        print_human(command, &answer);
    }
    Ok(Code::Ok)
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass through).
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn print_human(command: &ServerCommand, answer: &Value) {
    match command {
        ServerCommand::EnrollCode { user, .. } => println!(
            "enrolment code for {user}: {}\nexpires {}\non the device: certgate enroll --server URL --code {}",
            answer["code"].as_str().unwrap_or("?"),
            answer["expiresAt"].as_str().unwrap_or("?"),
            answer["code"].as_str().unwrap_or("?"),
        ),
        ServerCommand::Users => {
            for u in answer.as_array().into_iter().flatten() {
                println!(
                    "{} ({}, {}, {}) devices: {}",
                    u["id"].as_str().unwrap_or("?"),
                    u["userType"].as_str().unwrap_or("?"),
                    u["vendorOrg"].as_str().unwrap_or("?"),
                    u["region"].as_str().unwrap_or("?"),
                    u["devices"]
                );
                for c in u["certifications"].as_array().into_iter().flatten() {
                    let state = c["endReason"].as_str().unwrap_or("live");
                    println!(
                        "    {:<24} {:>6.2}%  passed {}  expires {}  {state}",
                        c["track"].as_str().unwrap_or("?"),
                        c["scorePct"].as_f64().unwrap_or(0.0),
                        c["passedAt"].as_str().unwrap_or("?"),
                        c["expiresAt"].as_str().unwrap_or("?"),
                    );
                }
            }
        }
        ServerCommand::Revoke { user, track, .. } => {
            println!(
                "revoked {user}'s {track} certification; its tokens are on the revocation list"
            );
        }
        ServerCommand::Approve { id, .. } => {
            let missing: Vec<&str> = answer["missingRoles"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if missing.is_empty() {
                println!("exception {id} approved by every required role; token issued");
            } else {
                println!("exception {id}: still needs {}", missing.join(", "));
            }
        }
        ServerCommand::Export { .. } | ServerCommand::Badges { .. } => {}
    }
}
