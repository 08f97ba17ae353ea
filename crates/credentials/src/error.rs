//! What went wrong with a device credential: a token, the keyring, the local mirror or the server.

/// Why a credential operation failed. No variant carries a key or a token.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The token is not three base64url parts of JSON.
    #[error("malformed token: {reason}")]
    Malformed { reason: &'static str },
    /// The header names an algorithm other than EdDSA; refused before any signature check.
    #[error("token algorithm {alg:?} is not allowed; only EdDSA is accepted")]
    AlgorithmNotAllowed { alg: String },
    /// The header's `typ` is not the one expected here (e.g. an exception token used as a
    /// certification).
    #[error("token type {found:?} where {expected:?} was expected")]
    WrongType {
        expected: &'static str,
        found: String,
    },
    #[error("token signature does not verify under the pinned issuer key {kid}")]
    BadSignature { kid: String },
    #[error("token issuer {found:?} is not the pinned issuer {expected:?}")]
    WrongIssuer { expected: String, found: String },
    #[error("token expired at {expired_at}")]
    Expired {
        expired_at: chrono::DateTime<chrono::Utc>,
    },
    /// `cnf.jkt` names another device key: a token copied from another device.
    #[error("token is bound to another device key")]
    WrongDevice,
    #[error("token {jti} has been revoked by the org")]
    Revoked { jti: String },
    /// The cached revocation list is older than the maximum age (or missing): a token cannot
    /// be shown unrevoked, so it is not accepted (fail closed).
    #[error(
        "revocation list is stale: run certgate sync (it was signed {}, the maximum age is {max_age_hours} h)",
        signed_at.map_or_else(|| "never".to_owned(), |t| t.to_rfc3339())
    )]
    RevocationListStale {
        signed_at: Option<chrono::DateTime<chrono::Utc>>,
        max_age_hours: i64,
    },
    /// A content bundle from the server was refused before installing; the installed one stays.
    #[error(
        "the content bundle from the server was refused ({what}): {reason}; the installed course is unchanged"
    )]
    Bundle { what: &'static str, reason: String },
    /// The bundle installed on this device no longer verifies (changed on disk).
    #[error("the installed content bundle does not verify: {reason}; run certgate sync")]
    InstalledBundle { reason: String },
    /// No persistent OS secret store could be reached; secrets are never kept elsewhere.
    #[error(
        "no persistent OS keyring is available ({reason}); Certgate keeps its device key and tokens only in the OS keyring (Keychain, Credential Manager, Secret Service) and will not fall back to memory or disk"
    )]
    KeyringUnavailable { reason: String },
    /// The keyring answered but refused the operation.
    #[error("the OS keyring refused to {action}: {reason}")]
    Keyring {
        action: &'static str,
        reason: String,
    },
    /// A keyring entry holds something that is not what Certgate stored.
    #[error("keyring entry {entry:?} is corrupt: {reason}")]
    CorruptSecret { entry: String, reason: &'static str },
    /// The policy the server sent does not verify under the pinned org key, or is invalid.
    #[error("the org policy from the server was refused: {0}")]
    Policy(#[source] Box<certgate_policy::Error>),
    /// The local outbox of statements could not be read or updated.
    #[error("the statement outbox failed: {reason}")]
    Outbox { reason: String },
    /// The proxy's audit records could not be read, or their upload cursor not moved.
    #[error("the proxy evidence outbox failed: {reason}")]
    EvidenceOutbox { reason: String },
    /// This device has not been enrolled with an org server yet.
    #[error("this device is not enrolled; run `certgate enroll --server URL --code CODE`")]
    NotEnrolled,
    #[error("cannot encode JSON: {0}")]
    Encode(#[source] serde_json::Error),
    #[error("the OS random source failed: {0}")]
    Random(String),
    #[error(transparent)]
    Store(#[from] certgate_store::Error),
    #[error("local database error: {0}")]
    Sql(#[from] certgate_store::rusqlite::Error),
    /// The server could not be reached (network, DNS, TLS, timeout).
    #[error("cannot reach the org server at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// The server answered with an error.
    #[error("the org server refused {what} ({status}): {message}")]
    Server {
        what: &'static str,
        status: u16,
        message: String,
    },
    /// The server answered with something that is not the documented shape.
    #[error("the org server sent an unexpected {what}: {reason}")]
    Protocol { what: &'static str, reason: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
