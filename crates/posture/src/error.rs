//! Errors of the posture engine.
//!
//! Collecting facts never fails as a whole: a probe that cannot decide reports `unknown` with
//! evidence. These errors are for the parts that must fail loudly: running a command (callers
//! turn that into evidence), building and verifying attestations.

use std::time::Duration;

/// What failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The program is not installed (or not on `PATH`).
    #[error("command `{program}` not found")]
    CommandNotFound { program: String },
    /// The program ran past its timeout and was killed.
    #[error("command `{program}` timed out after {timeout:?}")]
    CommandTimedOut { program: String, timeout: Duration },
    /// The program could not be started or waited for.
    #[error("command `{program}` could not run: {source}")]
    CommandSpawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    /// Subprocesses are disabled for this check (`--sysroot`, or configured off).
    #[error("command `{program}` skipped: subprocesses are disabled")]
    SubprocessDisabled { program: String },
    /// The report could not be turned into canonical JSON.
    #[error("cannot encode the attested payload: {0}")]
    Encode(#[source] serde_json::Error),
    /// The attestation is not shaped as expected (bad base64/hex, wrong key length...).
    #[error("malformed attestation: {reason}")]
    MalformedAttestation { reason: &'static str },
    /// The signature does not match the payload and key.
    #[error("attestation signature is invalid")]
    BadSignature,
    /// The nonce was not issued by this verifier, or was already used.
    #[error("attestation nonce was not issued or was already used")]
    UnknownNonce,
    /// The monotonic counter did not increase since the last accepted attestation.
    #[error("attestation counter {got} does not exceed the last accepted {last}")]
    CounterNotIncreased { last: u64, got: u64 },
    /// The report was collected too long ago.
    #[error("attested report is {age_secs} s old, more than the allowed {max_secs} s")]
    Stale { age_secs: i64, max_secs: i64 },
    /// The report claims to be collected in the future (beyond clock skew).
    #[error("attested report is dated {ahead_secs} s in the future")]
    FromFuture { ahead_secs: i64 },
    /// A snapshot folder to read instead of this machine does not exist.
    #[error("{path} is not a directory: give the folder a posture snapshot was unpacked into")]
    NoSnapshot { path: std::path::PathBuf },
    /// Snapshots hold Linux trees; other platforms cannot read them.
    #[error("reading a posture snapshot works on Linux only")]
    SnapshotUnsupported,
    /// A key given to sign or verify attestations is not in a supported format.
    #[error("the key is not {expected}")]
    KeyFormat { expected: &'static str },
    /// A posture snapshot archive could not be written (nothing is left half-written).
    #[error("cannot write the snapshot {path}: {source}")]
    SnapshotWrite {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An unknown fact name was given (CLI `--require`).
    #[error("unknown fact name `{name}`")]
    UnknownFactName { name: String },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
