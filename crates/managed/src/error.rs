//! Everything that can go wrong: a managed configuration that does not hold, an enrolment link
//! that does not parse, an enrolment the managed configuration refuses, a key that is no key.
//!
//! None of these messages carries an enrolment code: codes are one-time secrets.

use std::fmt;

use serde::Serialize;

use crate::server::{ServerUrl, ServerUrlError};
use crate::source::ManagedSource;

/// A key or fingerprint could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Key(#[from] certgate_policy::Error),
    #[error("the key's PEM does not hold an Ed25519 SubjectPublicKeyInfo")]
    KeyEncoding,
    #[error("your settings in {} cannot be read ({reason}); the defaults are used until you change a setting, which rewrites the file", path.display())]
    UserSettings {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("cannot save your settings to {}: {source}", path.display())]
    SaveUserSettings {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One thing wrong in a managed configuration: where, which field, what, and the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The file (with `:line:column` when known) or the registry value the problem is in.
    pub place: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The setting's name as the org writes it (`proxyPort`), when the problem is about one.
    pub field: Option<String>,
    pub message: String,
    /// What IT should change.
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.place)?;
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        write!(f, "{} (fix: {})", self.message, self.fix)
    }
}

/// A managed configuration exists but does not hold. The app shows this text, starts, and
/// refuses to enrol: it never guesses what IT meant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
pub struct Invalid {
    /// Where the configuration was read from.
    #[serde(rename = "source")]
    pub origin: ManagedSource,
    pub problems: Vec<Problem>,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("managed configuration is invalid: ")?;
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        f.write_str(" — enrolment is refused until IT fixes it")
    }
}

/// Why an enrolment link was not accepted. Never quotes the code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is longer than {max} characters; ask IT for a new one")]
    TooLong { max: usize },
    #[error("not a Certgate enrolment link: it must start with certgate://enroll?")]
    NotEnrolment,
    #[error("the link has a #fragment, which enrolment links never have; ask IT for a new one")]
    Fragment,
    #[error("the link's {param} is not valid percent-encoded UTF-8")]
    Encoding { param: String },
    #[error("the link names {param} twice; ask IT for a new one")]
    Duplicate { param: &'static str },
    #[error("the link has an unknown parameter {param:?} (only server and code are allowed)")]
    Unknown { param: String },
    #[error("the link has no {param}; ask IT for a new one")]
    Missing { param: &'static str },
    #[error("the link's server is not usable: {0}")]
    Server(#[from] ServerUrlError),
    #[error("the link's code is not an enrolment code: {0}")]
    Code(CodeProblem),
}

/// What is wrong with an enrolment code, without repeating it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeProblem {
    #[error("it has {len} characters, fewer than {min}")]
    TooShort { len: usize, min: usize },
    #[error("it has {len} characters, more than {max}")]
    TooLong { len: usize, max: usize },
    #[error("it has a character other than A–Z, a–z, 0–9, - and _")]
    Charset,
}

/// Why enrolment is refused under the managed configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(
        "this enrolment is for {requested}, but your organisation's managed configuration ({origin}) allows enrolment only with {managed}; ask IT for a link to {managed}"
    )]
    OtherServer {
        requested: ServerUrl,
        managed: ServerUrl,
        origin: ManagedSource,
    },
    #[error(
        "the demo organisation is not available: this device is managed by your organisation ({origin})"
    )]
    DemoNotAllowed { origin: ManagedSource },
    #[error(
        "the server's org key {found} is not the key your organisation pinned ({expected}, set in {origin}); enrolment stopped — tell IT, the server may not be theirs"
    )]
    KeyMismatch {
        expected: String,
        found: String,
        origin: ManagedSource,
    },
    #[error("the server's org key is not an Ed25519 public key in PEM; enrolment stopped")]
    ServedKeyInvalid,
}
