//! What a detector reports: a typed span, never the matched value.

use serde::{Deserialize, Serialize};

/// The kind of sensitive data a finding covers. Serialised with exactly these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FindingType {
    /// E-mail address.
    Email,
    /// Telephone number, validated for at least one region.
    Phone,
    /// Payment card number (Luhn + IIN).
    CreditCard,
    /// International bank account number (length + mod-97).
    Iban,
    /// US social security number.
    UsSsn,
    /// IPv4 or IPv6 address.
    IpAddress,
    /// MAC address.
    MacAddress,
    /// Street address.
    StreetAddress,
    /// Person name.
    Person,
    /// Date of birth (a date near a birth context word).
    DateOfBirth,
    /// Government identifier (passport, licence, national id) near a context word.
    GovId,
    /// API key or access token.
    Secret,
    /// Password, private key or connection string with credentials.
    Credential,
    /// A term from the policy's restricted list.
    RestrictedTerm,
}

impl FindingType {
    /// The serialised name, also used as the placeholder stem (`[EMAIL_1]`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "EMAIL",
            Self::Phone => "PHONE",
            Self::CreditCard => "CREDIT_CARD",
            Self::Iban => "IBAN",
            Self::UsSsn => "US_SSN",
            Self::IpAddress => "IP_ADDRESS",
            Self::MacAddress => "MAC_ADDRESS",
            Self::StreetAddress => "STREET_ADDRESS",
            Self::Person => "PERSON",
            Self::DateOfBirth => "DATE_OF_BIRTH",
            Self::GovId => "GOV_ID",
            Self::Secret => "SECRET",
            Self::Credential => "CREDENTIAL",
            Self::RestrictedTerm => "RESTRICTED_TERM",
        }
    }

    /// Every type, in declaration order.
    pub const ALL: [FindingType; 14] = [
        Self::Email,
        Self::Phone,
        Self::CreditCard,
        Self::Iban,
        Self::UsSsn,
        Self::IpAddress,
        Self::MacAddress,
        Self::StreetAddress,
        Self::Person,
        Self::DateOfBirth,
        Self::GovId,
        Self::Secret,
        Self::Credential,
        Self::RestrictedTerm,
    ];

    /// Parses a serialised name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// How specific a type is when two findings cover the same span: higher wins ties.
    pub(crate) fn specificity(self) -> u8 {
        match self {
            Self::Secret | Self::Credential => 13,
            Self::CreditCard => 12,
            Self::Iban => 11,
            Self::UsSsn => 10,
            Self::Email => 9,
            Self::MacAddress => 8,
            Self::IpAddress => 7,
            Self::GovId => 6,
            Self::DateOfBirth => 5,
            Self::Phone => 4,
            Self::RestrictedTerm => 3,
            Self::StreetAddress => 2,
            Self::Person => 1,
        }
    }
}

impl std::fmt::Display for FindingType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens to a finding's span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Replace with a mask (`[REDACTED:EMAIL]`), not reversible.
    Redact,
    /// Replace with a conversation-stable placeholder (`[EMAIL_1]`), restored in answers.
    Pseudonymize,
    /// Block the whole request.
    Block,
}

/// One detected span. Holds offsets, never the matched value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// What was found.
    #[serde(rename = "type")]
    pub kind: FindingType,
    /// Which detector found it (stable id such as `email` or `github-pat`).
    pub detector: &'static str,
    /// UTF-8 byte offset of the first byte.
    pub start: usize,
    /// UTF-8 byte offset one past the last byte.
    pub end: usize,
    /// How sure the detector is, 0–1.
    pub confidence: f32,
    /// What the policy does with it.
    pub action: Action,
}

impl Finding {
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// True for an empty span (never produced by detectors).
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_serialise_exactly_as_the_issue_lists_them() {
        let names: Vec<String> = FindingType::ALL
            .iter()
            .map(|t| serde_json::to_string(t).unwrap())
            .collect();
        assert_eq!(
            names.join(","),
            "\"EMAIL\",\"PHONE\",\"CREDIT_CARD\",\"IBAN\",\"US_SSN\",\"IP_ADDRESS\",\"MAC_ADDRESS\",\
             \"STREET_ADDRESS\",\"PERSON\",\"DATE_OF_BIRTH\",\"GOV_ID\",\"SECRET\",\"CREDENTIAL\",\
             \"RESTRICTED_TERM\"",
            "the CLI contract names these types exactly"
        );
        for t in FindingType::ALL {
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                format!("\"{}\"", t.as_str())
            );
            assert_eq!(FindingType::from_name(t.as_str()), Some(t));
        }
    }

    #[test]
    fn finding_serialises_with_type_key_and_lowercase_action() {
        let f = Finding {
            kind: FindingType::Email,
            detector: "email",
            start: 3,
            end: 10,
            confidence: 0.9,
            action: Action::Pseudonymize,
        };
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v["type"], "EMAIL");
        assert_eq!(v["action"], "pseudonymize");
        assert_eq!(v["start"], 3);
        assert_eq!(
            v.as_object().unwrap().len(),
            6,
            "no other field, certainly no value"
        );
    }
}
