//! The acknowledgement: the user reads the one-page "Allowed / Not allowed" and signs it with
//! their typed full name. A signature covers one exact version of the page (its hash), so a new
//! version needs a new signature.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::AckPage;

/// One signature of one version of the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Acknowledgement {
    /// Client-made UUID.
    pub id: String,
    /// The page's id (`ACK-allowed-not-allowed`).
    pub ack_id: String,
    pub version: String,
    /// SHA-256 of the page file signed.
    pub content_sha256: String,
    /// As typed, trimmed.
    pub full_name: String,
    pub signed_at: DateTime<Utc>,
}

impl Acknowledgement {
    /// Whether this signature covers exactly `page`.
    pub fn covers(&self, page: &AckPage) -> bool {
        self.ack_id == page.id && self.version == page.version && self.content_sha256 == page.sha256
    }
}

/// Signs `page` as `full_name` at `at`. The name must hold at least two letters.
pub fn sign(page: &AckPage, full_name: &str, at: DateTime<Utc>) -> Result<Acknowledgement> {
    let full_name = full_name.split_whitespace().collect::<Vec<_>>().join(" ");
    if full_name.chars().filter(|c| c.is_alphabetic()).count() < 2 {
        return Err(Error::NameRequired);
    }
    Ok(Acknowledgement {
        id: crate::ids::uuid_v4()?,
        ack_id: page.id.clone(),
        version: page.version.clone(),
        content_sha256: page.sha256.clone(),
        full_name,
        signed_at: at,
    })
}

/// Whether the user must (re)sign: never signed, or signed another version of the page.
pub fn needs_signature(page: &AckPage, latest: Option<&Acknowledgement>) -> bool {
    !latest.is_some_and(|a| a.covers(page))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(version: &str, body: &str) -> AckPage {
        AckPage {
            id: "ACK".into(),
            title: "t".into(),
            version: version.into(),
            body: body.into(),
            sha256: certgate_policy::signing::sha256_hex(format!("{version}{body}").as_bytes()),
            file: "acknowledgement.md".into(),
        }
    }

    #[test]
    fn a_new_version_of_the_page_needs_a_new_signature() {
        let v1 = page("1.0.0", "rules");
        let at = DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        assert!(needs_signature(&v1, None));
        let signed = sign(&v1, "  Dana   Whitfield ", at).unwrap();
        assert_eq!(signed.full_name, "Dana Whitfield");
        assert!(!needs_signature(&v1, Some(&signed)));
        assert!(needs_signature(&page("1.1.0", "rules"), Some(&signed)));
        assert!(
            needs_signature(&page("1.0.0", "rules, edited"), Some(&signed)),
            "same version number, different text: the hash catches it"
        );
        assert!(matches!(sign(&v1, " x ", at), Err(Error::NameRequired)));
        assert!(matches!(sign(&v1, "1234", at), Err(Error::NameRequired)));
    }
}
