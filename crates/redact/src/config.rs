//! What the policy's DLP section tells the engine to do.

use serde::{Deserialize, Serialize};

use crate::finding::Action;

/// Finding classes a policy can block (`dlp.blockPatterns[].type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockType {
    /// API keys and access tokens.
    Secret,
    /// Passwords, private keys, credentials in URLs and connection strings.
    Credential,
}

/// How the redactor is configured. Built from the policy's `dlp` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct RedactorConfig {
    /// `dlp.piiRedaction`: run the PII detectors and apply `default_action` to their findings.
    /// Off means PII passes through untouched.
    pub pii_redaction: bool,
    /// `dlp.blockPatterns` types: a finding of a listed class blocks the whole request.
    pub block_types: Vec<BlockType>,
    /// Customer names, codenames, pricing words: matched case-insensitively on word boundaries.
    pub restricted_terms: Vec<String>,
    /// What happens to findings that do not block: pseudonymize (reversible) or redact (mask).
    pub default_action: Action,
}

impl Default for RedactorConfig {
    fn default() -> Self {
        // The seed policy's DLP section: PII pseudonymized, secrets and credentials blocked.
        Self {
            pii_redaction: true,
            block_types: vec![BlockType::Secret, BlockType::Credential],
            restricted_terms: Vec::new(),
            default_action: Action::Pseudonymize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_camel_case_and_rejects_unknown_fields() {
        let c: RedactorConfig = serde_json::from_str(
            r#"{"piiRedaction":false,"blockTypes":["secret"],"restrictedTerms":["Bluebird"],"defaultAction":"redact"}"#,
        )
        .unwrap();
        assert!(!c.pii_redaction);
        assert_eq!(c.block_types, vec![BlockType::Secret]);
        assert_eq!(c.default_action, Action::Redact);
        assert!(
            serde_json::from_str::<RedactorConfig>(r#"{"piiRedacton":true}"#).is_err(),
            "a typo in policy must not silently turn redaction off"
        );
        let d: RedactorConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(d, RedactorConfig::default());
    }
}
