//! The org policy that drives Certgate: the `extworkforce-ai-cert-gate-v1` YAML format, parsed
//! and validated with every problem reported at once, its CEL access conditions compiled at
//! load, its Ed25519 signature checked, and the single access decision built on it.
//!
//! ```no_run
//! # fn main() -> certgate_policy::Result<()> {
//! use certgate_policy::{TrustMode, load};
//! let key = certgate_policy::demo::public_key()?;
//! let policy = load("policy.yaml".as_ref(), TrustMode::Pinned(&key))?;
//! println!("{}", policy.summary().policy_id);
//! # Ok(()) }
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod clock;
mod decision;
mod decode;
pub mod demo;
mod diagnostic;
mod error;
pub mod model;
mod rules;
pub mod signing;
mod summary;
pub mod threshold;
mod validate;
pub mod yaml;

use std::path::Path;

pub use decision::{
    CertificationClaim, Decision, DeviceFacts, GateInput, Reason, RequestContext, UserContext,
};
pub use diagnostic::{Diagnostic, Diagnostics};
pub use error::{Error, Result};
pub use model::Policy;
pub use rules::VARIABLES as RULE_VARIABLES;
pub use signing::{PublicKey, SecretKey};
pub use summary::{ConditionSummary, PolicySummary, TrackSummary};

use rules::Compiled;

/// How far a loaded policy is trusted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trust {
    /// Signed by the pinned org key.
    Signed { key_id: String },
    /// Signed by the published demo key: fine for trying Certgate, never for real access.
    Demo,
    /// Not checked at all: authoring tools and explicit dev mode only.
    UnsignedDev,
}

impl Trust {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Signed { .. } => "signed",
            Self::Demo => "demo",
            Self::UnsignedDev => "unsigned-dev",
        }
    }
}

/// Which signature the loader insists on.
#[derive(Debug, Clone, Copy)]
pub enum TrustMode<'k> {
    /// The policy must carry a valid signature by this org key.
    Pinned(&'k PublicKey),
    /// Demo mode: the policy must be signed by the demo key.
    Demo,
    /// Explicit dev mode: no signature needed (logged loudly by callers).
    DevUnsigned,
}

/// A validated policy with its conditions compiled.
#[derive(Debug)]
pub struct LoadedPolicy {
    pub policy: Policy,
    pub trust: Trust,
    /// SHA-256 of the exact file bytes.
    pub sha256: String,
    /// Where it came from (a path, or `<embedded demo>`).
    pub source: String,
    compiled: Compiled,
}

/// Parses, validates and compiles policy text. `file` names it in diagnostics. The result is
/// marked [`Trust::UnsignedDev`]: use [`load`] for anything that gates access.
pub fn parse(text: &str, file: &str) -> Result<LoadedPolicy> {
    build(text, file, Trust::UnsignedDev)
}

fn build(text: &str, file: &str, trust: Trust) -> Result<LoadedPolicy> {
    let env = rules::environment().map_err(Error::Engine)?;
    let (policy, cx) = decode::decode_text(text, file, env);
    let (diagnostics, state) = cx.finish();
    let (env, rules) = (state.env, state.rules);
    match policy {
        Some(policy) if diagnostics.is_empty() => Ok(LoadedPolicy {
            policy,
            trust,
            sha256: signing::sha256_hex(text.as_bytes()),
            source: file.to_owned(),
            compiled: Compiled::new(env, rules),
        }),
        _ => Err(Error::Invalid(diagnostics)),
    }
}

impl LoadedPolicy {
    /// The `device.*` facts the conditions read (`device.diskEncryption` → `diskEncryption`),
    /// in first-use order: what a posture check must prove for this policy.
    pub fn required_device_facts(&self) -> Vec<String> {
        let mut facts: Vec<String> = Vec::new();
        for condition in &self.policy.access_gating.conditions {
            for (i, _) in condition.rule.match_indices("device.") {
                let preceded_by_ident = condition.rule[..i]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
                if preceded_by_ident {
                    continue;
                }
                let name: String = condition.rule[i + "device.".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && !facts.contains(&name) {
                    facts.push(name);
                }
            }
        }
        facts
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })
}

/// Reads a policy without checking any signature: for authoring tools (`check`, `explain`).
pub fn load_unsigned(path: &Path) -> Result<LoadedPolicy> {
    parse(&read(path)?, &path.display().to_string())
}

/// Loads a policy the way the app, proxy and server do: the signature beside it
/// (`<file>.sig`) must verify under `mode` before the content is even parsed.
pub fn load(path: &Path, mode: TrustMode<'_>) -> Result<LoadedPolicy> {
    let text = read(path)?;
    let file = path.display().to_string();
    let sig_path = signing::signature_path(path);
    let trust = match mode {
        TrustMode::DevUnsigned => return build(&text, &file, Trust::UnsignedDev),
        TrustMode::Pinned(key) => {
            verify_beside(&text, path, &sig_path, key)?;
            Trust::Signed {
                key_id: key.key_id(),
            }
        }
        TrustMode::Demo => {
            verify_beside(&text, path, &sig_path, &demo::public_key()?)?;
            Trust::Demo
        }
    };
    build(&text, &file, trust)
}

/// Verifies policy text against a signature text already in memory (e.g. fetched from the
/// org server), then loads it.
pub fn load_signed_text(
    text: &str,
    signature: &str,
    source: &str,
    key: &PublicKey,
) -> Result<LoadedPolicy> {
    key.verify(text.as_bytes(), signature, Path::new(source))?;
    // The demo key is published: a server that signs with it runs a demo, whatever it says.
    let trust = if key.key_id() == demo::public_key()?.key_id() {
        Trust::Demo
    } else {
        Trust::Signed {
            key_id: key.key_id(),
        }
    };
    build(text, source, trust)
}

fn verify_beside(text: &str, path: &Path, sig_path: &Path, key: &PublicKey) -> Result<()> {
    let signature = match std::fs::read_to_string(sig_path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::Unsigned {
                path: path.to_owned(),
                sig: sig_path.to_owned(),
            });
        }
        Err(source) => {
            return Err(Error::Read {
                path: sig_path.to_owned(),
                source,
            });
        }
    };
    key.verify(text.as_bytes(), &signature, sig_path)
}

#[cfg(test)]
mod tests;
