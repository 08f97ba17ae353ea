use std::path::PathBuf;

use certgate_policy::Diagnostics;

/// Why a bundle could not be loaded, signed or recorded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{count} problem(s) in the content bundle:\n{0}", count = .0.len())]
    Invalid(Diagnostics),
    #[error(
        "the content bundle {dir} is not signed (no MANIFEST and MANIFEST.sig); the org must sign it with `certgate content sign`, or use demo/dev mode"
    )]
    Unsigned { dir: PathBuf },
    #[error("the bundle's MANIFEST.sig does not verify: {0}")]
    Signature(#[source] certgate_policy::Error),
    #[error(
        "the content bundle was altered after signing: {file} {reason}; get the bundle again from your organisation"
    )]
    Tampered { file: String, reason: &'static str },
    #[error("MANIFEST line {line} is not `<sha256>  <path>`")]
    ManifestFormat { line: usize },
    #[error("{0}")]
    Policy(#[from] certgate_policy::Error),
    #[error("{0}")]
    Store(#[from] certgate_store::Error),
    #[error("the OS random source failed: {0}")]
    Random(String),
    #[error("a stored record is unreadable: {0}")]
    Corrupt(String),
    #[error("the track {0} is not in this bundle")]
    UnknownTrack(String),
    #[error("{0}")]
    Grade(#[from] GradeError),
    #[error("{0}")]
    Blocked(#[from] crate::status::Blocked),
    #[error("type your full name to sign (at least 2 letters)")]
    NameRequired,
}

impl From<certgate_store::rusqlite::Error> for Error {
    fn from(e: certgate_store::rusqlite::Error) -> Self {
        Self::Store(certgate_store::Error::Sql(e))
    }
}

/// Why an attempt could not be graded against a bank.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GradeError {
    #[error("the attempt answers question {0}, which its plan did not draw")]
    NotInPlan(String),
    #[error("the attempt's plan names question {0}, which the bank does not hold")]
    UnknownQuestion(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
