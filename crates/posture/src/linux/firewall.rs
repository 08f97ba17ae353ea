//! Linux firewall: the kernel ruleset via `nft -j list ruleset` when allowed (root), and the
//! frontends' own configuration (ufw, firewalld, nftables.service) readable without root.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::Error;
use crate::fact::{Fact, FactState};
use crate::linux::root::{Fs, SysRoot, io_words};
use crate::report::{Firewall, FirewallProfile};
use crate::runner::CommandRunner;

/// What an nftables ruleset does to inbound traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NftSummary {
    /// Chains hooked on `input`.
    pub input_chains: usize,
    /// An input chain drops by default, or has a drop/reject rule.
    pub filters_inbound: bool,
    /// Total rules.
    pub rules: usize,
}

/// Parses `nft -j list ruleset`. `None` when it is not nftables JSON.
pub fn parse_nft_json(text: &str) -> Option<NftSummary> {
    let v: Value = serde_json::from_str(text).ok()?;
    let items = v.get("nftables")?.as_array()?;
    let mut input_chains: Vec<(String, String, String)> = Vec::new();
    let mut filters_inbound = false;
    for item in items {
        if let Some(chain) = item.get("chain")
            && chain.get("hook").and_then(Value::as_str) == Some("input")
        {
            let key = chain_key(chain);
            if chain.get("policy").and_then(Value::as_str) == Some("drop") {
                filters_inbound = true;
            }
            input_chains.push(key);
        }
    }
    let mut rules = 0;
    for item in items {
        if let Some(rule) = item.get("rule") {
            rules += 1;
            let key = chain_key(rule);
            let in_input = input_chains.contains(&key);
            let drops = rule.get("expr").and_then(Value::as_array).is_some_and(|e| {
                e.iter()
                    .any(|x| x.get("drop").is_some() || x.get("reject").is_some())
            });
            if in_input && drops {
                filters_inbound = true;
            }
        }
    }
    Some(NftSummary {
        input_chains: input_chains.len(),
        filters_inbound,
        rules,
    })
}

fn chain_key(v: &Value) -> (String, String, String) {
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    // A chain object names itself `name`; a rule names its chain `chain`.
    let name = if v.get("chain").and_then(Value::as_str).is_some() {
        s("chain")
    } else {
        s("name")
    };
    (s("family"), s("table"), name)
}

/// What `iptables-save` says about inbound traffic (the `filter` table's INPUT chain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IptablesSummary {
    /// `:INPUT DROP [0:0]`-style default policy.
    pub input_policy: Option<String>,
    /// INPUT drops by default, or has a DROP/REJECT rule (directly or in a chain it jumps to).
    pub filters_inbound: bool,
    /// `-A` rules in the filter table.
    pub rules: usize,
}

/// Parses `iptables-save` output. `None` when there is no `*filter` table (no rules loaded,
/// or not iptables-save output).
pub fn parse_iptables_save(text: &str) -> Option<IptablesSummary> {
    let mut in_filter = false;
    let mut seen_filter = false;
    let mut policy = None;
    let mut rules = 0;
    // chain -> (has drop/reject, chains it jumps to)
    let mut chains: std::collections::BTreeMap<String, (bool, Vec<String>)> =
        std::collections::BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if let Some(table) = line.strip_prefix('*') {
            in_filter = table == "filter";
            seen_filter |= in_filter;
            continue;
        }
        if !in_filter {
            continue;
        }
        if line == "COMMIT" {
            in_filter = false;
        } else if let Some(rest) = line.strip_prefix(":INPUT ") {
            policy = rest.split_whitespace().next().map(str::to_owned);
        } else if let Some(rest) = line.strip_prefix("-A ") {
            rules += 1;
            let mut words = rest.split_whitespace();
            let chain = words.next().unwrap_or_default().to_owned();
            let words: Vec<&str> = words.collect();
            let target = words
                .windows(2)
                .find(|w| w[0] == "-j" || w[0] == "--jump")
                .map(|w| w[1]);
            let entry = chains.entry(chain).or_default();
            match target {
                Some("DROP" | "REJECT") => entry.0 = true,
                Some(t) if t != "ACCEPT" && t != "RETURN" && t != "LOG" => {
                    entry.1.push(t.to_owned());
                }
                _ => {}
            }
        }
    }
    if !seen_filter {
        return None;
    }
    // Follow jumps from INPUT (ufw-before-input, f2b-sshd...), cycles stopped.
    let mut stack = vec!["INPUT".to_owned()];
    let mut visited: Vec<String> = Vec::new();
    let mut drops = false;
    while let Some(c) = stack.pop() {
        if visited.contains(&c) {
            continue;
        }
        if let Some((d, jumps)) = chains.get(&c) {
            drops |= *d;
            stack.extend(jumps.iter().cloned());
        }
        visited.push(c);
    }
    let policy_drops = matches!(policy.as_deref(), Some("DROP" | "REJECT"));
    Some(IptablesSummary {
        input_policy: policy,
        filters_inbound: policy_drops || drops,
        rules,
    })
}

/// The effective user id from `/proc/self/status` (`Uid: real effective saved fs`).
fn effective_uid(root: &SysRoot, fs: &dyn Fs) -> Option<u32> {
    let status = fs.read_to_string(&root.proc.join("self/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// `ENABLED=yes` in `/etc/ufw/ufw.conf`.
pub fn parse_ufw_conf(text: &str) -> Option<bool> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("ENABLED="))
        .next_back()
        .map(|v| {
            v.trim_matches(|c| c == '"' || c == '\'')
                .eq_ignore_ascii_case("yes")
        })
}

/// Checks the firewall.
pub fn check_firewall(
    root: &SysRoot,
    fs: &dyn Fs,
    runner: &dyn CommandRunner,
    timeout: std::time::Duration,
    firewalld_running: bool,
    at: DateTime<Utc>,
) -> Fact<Firewall> {
    let mut evidence = Vec::new();
    let mut profiles = Vec::new();
    let mut on = false;
    let mut explicitly_off = false;
    let mut method = "file";

    match runner.run("nft", &["-j", "list", "ruleset"], timeout) {
        Ok(out) if out.success() => match parse_nft_json(&out.stdout) {
            Some(s) => {
                method = "command:nft";
                evidence.push(format!(
                    "nft: {} input chain(s), {} rule(s), inbound {}",
                    s.input_chains,
                    s.rules,
                    if s.filters_inbound {
                        "filtered"
                    } else {
                        "accepted by default"
                    }
                ));
                profiles.push(FirewallProfile {
                    name: "nftables".into(),
                    enabled: Some(s.filters_inbound),
                    default_inbound: None,
                });
                on |= s.filters_inbound;
                explicitly_off |= !s.filters_inbound;
            }
            None => evidence.push("nft: output not understood".into()),
        },
        Ok(out) => {
            let why = out
                .stderr
                .lines()
                .next()
                .unwrap_or("failed")
                .trim()
                .to_owned();
            evidence.push(format!("nft: {why} (kernel ruleset needs root)"));
        }
        Err(Error::SubprocessDisabled { .. }) => {
            evidence.push("nft: skipped, subprocesses disabled".into());
        }
        Err(e) => evidence.push(format!("nft: {e}")),
    }

    // iptables-save reads the kernel tables (root only); nftables already covers rules made
    // through iptables-nft, so it is only asked when nft gave no answer.
    if method != "command:nft" {
        match effective_uid(root, fs) {
            Some(0) => match runner.run("iptables-save", &[], timeout) {
                Ok(out) if out.success() => match parse_iptables_save(&out.stdout) {
                    Some(s) => {
                        method = "command:iptables-save";
                        evidence.push(format!(
                            "iptables-save: INPUT policy {}, {} filter rule(s), inbound {}",
                            s.input_policy.as_deref().unwrap_or("not set"),
                            s.rules,
                            if s.filters_inbound {
                                "filtered"
                            } else {
                                "accepted by default"
                            }
                        ));
                        profiles.push(FirewallProfile {
                            name: "iptables".into(),
                            enabled: Some(s.filters_inbound),
                            default_inbound: s.input_policy.clone(),
                        });
                        on |= s.filters_inbound;
                        explicitly_off |= !s.filters_inbound;
                    }
                    None => evidence.push("iptables-save: no filter table loaded".into()),
                },
                Ok(out) => evidence.push(format!(
                    "iptables-save: {}",
                    out.stderr.lines().next().unwrap_or("failed").trim()
                )),
                Err(Error::SubprocessDisabled { .. }) => {
                    evidence.push("iptables-save: skipped, subprocesses disabled".into());
                }
                Err(e) => evidence.push(format!("iptables-save: {e}")),
            },
            Some(_) => {
                evidence.push("iptables-save: not run, reading the kernel tables needs root".into())
            }
            None => evidence.push("iptables-save: not run, user id unknown".into()),
        }
    }

    let ufw = root.etc.join("ufw/ufw.conf");
    match fs.read_to_string(&ufw) {
        Ok(t) => match parse_ufw_conf(&t) {
            Some(en) => {
                evidence.push(format!("ufw: ENABLED={}", if en { "yes" } else { "no" }));
                profiles.push(FirewallProfile {
                    name: "ufw".into(),
                    enabled: Some(en),
                    default_inbound: None,
                });
                on |= en;
                explicitly_off |= !en;
            }
            None => evidence.push("ufw: ufw.conf has no ENABLED line".into()),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => evidence.push(format!("ufw: {}", io_words(&e))),
    }

    let wants = root.etc.join("systemd/system/multi-user.target.wants");
    let firewalld_enabled = fs.exists(&wants.join("firewalld.service"));
    if firewalld_enabled || firewalld_running {
        evidence.push(format!(
            "firewalld: {}{}",
            if firewalld_enabled {
                "enabled at boot"
            } else {
                "not enabled at boot"
            },
            if firewalld_running {
                ", running"
            } else {
                ", not running"
            }
        ));
        profiles.push(FirewallProfile {
            name: "firewalld".into(),
            enabled: Some(firewalld_running),
            default_inbound: None,
        });
        on |= firewalld_running;
    }

    if fs.exists(&wants.join("nftables.service")) {
        let conf = fs
            .read_to_string(&root.etc.join("nftables.conf"))
            .unwrap_or_default();
        let filters = conf.contains("hook input") && conf.contains("policy drop");
        evidence.push(format!(
            "nftables.service enabled; /etc/nftables.conf {}",
            if filters {
                "drops inbound by default"
            } else {
                "has no input drop policy"
            }
        ));
        on |= filters;
    }

    let state = if on {
        FactState::Ok
    } else if explicitly_off {
        FactState::Fail
    } else {
        evidence
            .push("no firewall frontend configured and the kernel ruleset was not readable".into());
        FactState::Unknown
    };
    let enabled = match state {
        FactState::Ok => Some(true),
        FactState::Fail => Some(false),
        _ => None,
    };
    Fact::new(state, Some(Firewall { enabled, profiles }), method, at).with_all(evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shape from `nft -j list ruleset` (libnftables-json(5)): metainfo, table, chain, rule.
    const DROP_POLICY: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "filter", "handle": 1}}, {"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 4, "expr": [{"match": {"op": "==", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}}]}"#;

    const ACCEPT_ALL: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "filter", "handle": 1}}, {"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}]}"#;

    const REJECT_RULE: &str = r#"{"nftables": [{"metainfo": {"json_schema_version": 1}}, {"chain": {"family": "ip", "table": "t", "name": "in", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}, {"rule": {"family": "ip", "table": "t", "chain": "in", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"reject": null}]}}]}"#;

    #[test]
    fn nft_drop_policy_filters() {
        let s = parse_nft_json(DROP_POLICY).unwrap();
        assert!(s.filters_inbound);
        assert_eq!(s.input_chains, 1);
        assert_eq!(s.rules, 1);
    }

    #[test]
    fn nft_accept_all_does_not_filter() {
        assert!(!parse_nft_json(ACCEPT_ALL).unwrap().filters_inbound);
        assert!(
            !parse_nft_json(r#"{"nftables":[{"metainfo":{}}]}"#)
                .unwrap()
                .filters_inbound
        );
    }

    #[test]
    fn nft_reject_rule_in_input_filters() {
        assert!(parse_nft_json(REJECT_RULE).unwrap().filters_inbound);
    }

    #[test]
    fn nft_garbage_is_none() {
        assert_eq!(parse_nft_json("Error: Operation not permitted"), None);
    }

    /// `iptables-save` of a ufw host (chain names and layout as ufw writes them).
    const UFW_SAVE: &str =
        "# Generated by iptables-save v1.8.9 (nf_tables) on Fri Nov 27 10:00:00 2026
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:ufw-before-input - [0:0]
-A INPUT -j ufw-before-input
-A ufw-before-input -i lo -j ACCEPT
-A ufw-before-input -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
# Completed on Fri Nov 27 10:00:00 2026
";

    const OPEN_SAVE: &str = "*nat
:PREROUTING ACCEPT [0:0]
-A PREROUTING -p tcp --dport 80 -j DROP
COMMIT
*filter
:INPUT ACCEPT [120:9000]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [99:8000]
-A INPUT -i lo -j ACCEPT
COMMIT
";

    const JUMP_TO_DROP: &str = "*filter
:INPUT ACCEPT [0:0]
:f2b-sshd - [0:0]
-A INPUT -p tcp -m multiport --dports 22 -j f2b-sshd
-A f2b-sshd -s 203.0.113.9/32 -j REJECT --reject-with icmp-port-unreachable
-A f2b-sshd -j RETURN
COMMIT
";

    #[test]
    fn iptables_save_policies() {
        let s = parse_iptables_save(UFW_SAVE).unwrap();
        assert!(s.filters_inbound);
        assert_eq!(s.input_policy.as_deref(), Some("DROP"));
        assert_eq!(s.rules, 3);
        let open = parse_iptables_save(OPEN_SAVE).unwrap();
        assert!(
            !open.filters_inbound,
            "a DROP in the nat table is not an inbound filter"
        );
        assert!(parse_iptables_save(JUMP_TO_DROP).unwrap().filters_inbound);
        assert_eq!(parse_iptables_save(""), None);
        assert_eq!(
            parse_iptables_save(
                "iptables-save v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)"
            ),
            None
        );
    }

    #[test]
    fn ufw_conf() {
        assert_eq!(
            parse_ufw_conf("# comment\nENABLED=yes\nLOGLEVEL=low\n"),
            Some(true)
        );
        assert_eq!(parse_ufw_conf("ENABLED=no\n"), Some(false));
        assert_eq!(parse_ufw_conf("#ENABLED=yes\n"), None);
    }
}
