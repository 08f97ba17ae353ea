//! What can fail while running the device side.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Policy(#[from] certgate_policy::Error),
    #[error(transparent)]
    Store(#[from] certgate_store::Error),
    #[error(transparent)]
    Credentials(#[from] certgate_credentials::Error),
    #[error(transparent)]
    Training(#[from] certgate_training::Error),
    #[error(transparent)]
    Proxy(#[from] certgate_proxy::Error),
    #[error(transparent)]
    Server(#[from] certgate_server::Error),
    #[error("the device facts are not valid JSON: {0}")]
    Facts(#[from] serde_json::Error),
    #[error("no randomness from the OS: {0}")]
    Random(String),
    #[error("the demo {what} failed: {reason}")]
    Demo { what: &'static str, reason: String },
    #[error("{what} stopped before it finished")]
    Stopped { what: &'static str },
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
