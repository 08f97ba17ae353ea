//! What can fail while running the device side.

use std::path::PathBuf;

/// Engine errors are boxed: they are large, and this one travels through async tasks.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Policy(Box<certgate_policy::Error>),
    #[error(transparent)]
    Store(Box<certgate_store::Error>),
    #[error(transparent)]
    Credentials(Box<certgate_credentials::Error>),
    #[error(transparent)]
    Training(Box<certgate_training::Error>),
    #[error(transparent)]
    Proxy(Box<certgate_proxy::Error>),
    #[error(transparent)]
    Server(Box<certgate_server::Error>),
    #[error(transparent)]
    Refused(#[from] certgate_managed::Refused),
    #[error(transparent)]
    ServerUrl(#[from] certgate_managed::ServerUrlError),
    #[error("{what} from the server could not be read: {reason}")]
    Protocol { what: &'static str, reason: String },
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

macro_rules! boxed_from {
    ($($variant:ident: $ty:ty),* $(,)?) => {$(
        impl From<$ty> for Error {
            fn from(e: $ty) -> Self {
                Self::$variant(Box::new(e))
            }
        }
    )*};
}

boxed_from!(
    Policy: certgate_policy::Error,
    Store: certgate_store::Error,
    Credentials: certgate_credentials::Error,
    Training: certgate_training::Error,
    Proxy: certgate_proxy::Error,
    Server: certgate_server::Error,
);
