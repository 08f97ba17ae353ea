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
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
