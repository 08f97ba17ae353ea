use std::path::PathBuf;

use crate::diagnostic::Diagnostics;

/// Why a policy could not be loaded, signed or verified.
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
    #[error("{count} problem(s) in the policy:\n{0}", count = .0.len())]
    Invalid(Diagnostics),
    #[error(
        "{path} is not signed (no {sig} beside it); the org must sign it with `certgate policy sign`, or start Certgate in demo/dev mode to use an unsigned policy"
    )]
    Unsigned { path: PathBuf, sig: PathBuf },
    #[error(
        "the signature {path} does not match this file for the pinned org key {key_id}: the policy was altered or signed by another key; get the policy again from your organisation"
    )]
    BadSignature { path: PathBuf, key_id: String },
    #[error("{path} is not a signature file: expected one line of base64 (64 bytes)")]
    SignatureFormat { path: PathBuf },
    #[error("{path} is not {expected}")]
    KeyFormat {
        path: PathBuf,
        expected: &'static str,
    },
    #[error("the OS random source failed: {0}")]
    Random(String),
    #[error("the rule engine could not start: {0}")]
    Engine(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
