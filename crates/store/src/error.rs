use std::path::PathBuf;

/// What went wrong reading or writing Certgate's local state.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No per-user data directory could be found (no HOME, APPDATA…) and CERTGATE_HOME is unset.
    #[error(
        "cannot find a data directory for Certgate: {reason}; set CERTGATE_HOME to a writable folder"
    )]
    NoDataDir { reason: &'static str },
    /// CERTGATE_HOME was set but is not usable.
    #[error(
        "CERTGATE_HOME={path:?} is not usable: {reason}; point it at an absolute, writable folder"
    )]
    BadOverride { path: PathBuf, reason: &'static str },
    #[error("cannot create the data directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// The database was written by a newer Certgate; it is left untouched.
    #[error(
        "{component} data in {path} is at schema version {found}, newer than this Certgate knows ({known}); update Certgate — the database was left untouched"
    )]
    FutureVersion {
        path: PathBuf,
        component: String,
        found: i64,
        known: i64,
    },
    /// A migration failed; its transaction was rolled back, so nothing half-applied remains.
    #[error("migration {component} v{version} ({name}) failed and was rolled back: {source}")]
    Migration {
        component: String,
        version: i64,
        name: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
