//! Certgate's redaction engine.
//!
//! One pass finds PII (validated: checksums, registries, parsers), secrets and credentials
//! (provider token formats behind an Aho-Corasick keyword prefilter) and the policy's
//! restricted terms. Findings carry a type, detector id, byte span, confidence and action —
//! never the matched value. [`Redactor::apply`] rewrites the text: pseudonymized values get
//! conversation-stable placeholders (`[EMAIL_1]`) kept in a [`Vault`]; a [`Restorer`] turns
//! placeholders in a streamed answer back into the originals.
//!
//! ```
//! use certgate_redact::{Redactor, RedactorConfig, Vault};
//! let redactor = Redactor::new(RedactorConfig::default()).unwrap();
//! let mut vault = Vault::new();
//! let out = redactor.apply("Mail jane.roe@example.org please", &mut vault);
//! assert_eq!(out.text, "Mail [EMAIL_1] please");
//! assert_eq!(vault.restore("Sent to [EMAIL_1]."), "Sent to jane.roe@example.org.");
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod cli;
mod config;
mod detect;
mod error;
mod finding;
mod resolve;
mod restore;
mod vault;

pub use cli::{CliMode, CliSummary, run_cli};
pub use config::{BlockType, RedactorConfig};
pub use error::{Error, Result};
pub use finding::{Action, Finding, FindingType};
pub use restore::{MAX_PLACEHOLDER_LEN, Restorer};
pub use vault::Vault;

use detect::{Detectors, Enabled};

/// The result of [`Redactor::apply`].
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The rewritten text (placeholders and masks in place of findings).
    pub text: String,
    /// True when a finding's action is `block`: the request must not be sent.
    pub blocked: bool,
    /// What was found, with byte offsets into the input.
    pub findings: Vec<Finding>,
}

/// The compiled engine. Build once; share across threads (`Send + Sync`).
#[derive(Debug)]
pub struct Redactor {
    config: RedactorConfig,
    detectors: Detectors,
}

impl Redactor {
    /// Compiles every detector for this configuration.
    pub fn new(config: RedactorConfig) -> Result<Self> {
        let detectors = Detectors::new(&config.restricted_terms)?;
        // Counts only: restricted terms can themselves be confidential.
        tracing::debug!(
            secret_rules = detectors.secret_rule_count(),
            restricted_terms = config.restricted_terms.len(),
            pii = config.pii_redaction,
            "redactor compiled"
        );
        Ok(Self { config, detectors })
    }

    /// The configuration this redactor was built with.
    pub fn config(&self) -> &RedactorConfig {
        &self.config
    }

    /// How many secret and credential rules are compiled in.
    pub fn secret_rule_count(&self) -> usize {
        self.detectors.secret_rule_count()
    }

    /// Finds everything, resolves overlaps, assigns actions. Sorted by start, never overlapping.
    pub fn scan(&self, text: &str) -> Vec<Finding> {
        let cands = self.detectors.scan(
            text,
            Enabled {
                pii: self.config.pii_redaction,
            },
        );
        let found = resolve::cover_repeats(text, resolve::resolve(cands));
        found
            .into_iter()
            .map(|c| Finding {
                kind: c.kind,
                detector: c.detector,
                start: c.start,
                end: c.end,
                confidence: c.confidence,
                action: self.action_for(c.kind),
            })
            .collect()
    }

    fn action_for(&self, kind: FindingType) -> Action {
        let block = match kind {
            FindingType::Secret => self.config.block_types.contains(&BlockType::Secret),
            FindingType::Credential => self.config.block_types.contains(&BlockType::Credential),
            _ => false,
        };
        if block {
            Action::Block
        } else {
            self.config.default_action
        }
    }

    /// Scans and rewrites: pseudonymized spans become `[TYPE_N]` (recorded in `vault`),
    /// redacted and blocked spans become `[REDACTED_TYPE]`.
    pub fn apply(&self, text: &str, vault: &mut Vault) -> Outcome {
        let findings = self.scan(text);
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        let mut blocked = false;
        for f in &findings {
            out.push_str(&text[last..f.start]);
            let value = &text[f.start..f.end];
            match f.action {
                Action::Pseudonymize => out.push_str(vault.placeholder(f.kind, value)),
                Action::Redact | Action::Block => {
                    out.push_str("[REDACTED_");
                    out.push_str(f.kind.as_str());
                    out.push(']');
                }
            }
            blocked |= f.action == Action::Block;
            last = f.end;
        }
        out.push_str(&text[last..]);
        Outcome {
            text: out,
            blocked,
            findings,
        }
    }
}

#[cfg(test)]
mod tests;
